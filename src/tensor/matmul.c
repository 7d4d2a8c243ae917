/*
 * matmul.c - the weight x activation products (see matmul.h): scratch,
 * activation quantization, and the split of output rows over threads.
 *
 * Rows are handed out in chunks from an atomic counter rather than as one
 * fixed slice per thread: on a shared or hybrid machine one slow core would
 * otherwise hold every product up. A chunk is a multiple of 16 rows (whole
 * register tiles) and there are several per thread. Each chunk runs its
 * rows against every token, so a weight row read from memory is used for the
 * whole batch while it is in cache (the kernels tile further inside).
 *
 * Activations are quantized once per product (per chunk of max_tok tokens)
 * into the shared scratch, by all threads when the batch is large, then the
 * pool runs the product: two pool runs per product, whose cost (a few
 * microseconds) is small next to either step. Both are dynamic jobs
 * (fr_pool_run_dynamic): a worker the OS has descheduled is not waited for.
 */
#include "tensor/matmul.h"

#include <assert.h>
#include <frugal/tensor.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/kernels/kernels.h"

static inline size_t fr_al64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Layout of the quantized activations of n_tok rows of n_in values. */
typedef struct fr_qa_layout {
    int64_t qs_ld, blk_ld, qsi_ld;
    size_t qs_off, d_off, s_off, qsi_off, bytes;
} fr_qa_layout;

static fr_qa_layout fr_qa_plan(fr_act_kind k, int64_t n_in, int64_t n_tok)
{
    fr_qa_layout l;
    l.qs_ld = (int64_t)fr_al64((size_t)n_in);
    int64_t nb = k == FR_ACT_Q8K ? n_in / FR_QK_BLK : n_in / FR_QA_BLK;
    l.blk_ld = (nb + 15) & ~(int64_t)15;
    l.qsi_ld = k == FR_ACT_Q8B ? l.blk_ld * FR_QA_BLK : 0;
    size_t s_per_row = k == FR_ACT_Q8K ? (size_t)l.blk_ld * 16 * sizeof(int16_t)
                                       : (size_t)l.blk_ld * sizeof(float);
    l.qs_off = 0;
    l.d_off = fr_al64((size_t)n_tok * (size_t)l.qs_ld);
    l.s_off = l.d_off + fr_al64((size_t)n_tok * (size_t)l.blk_ld * sizeof(float));
    l.qsi_off = l.s_off + fr_al64((size_t)n_tok * s_per_row);
    l.bytes = l.qsi_off + fr_al64((size_t)n_tok * (size_t)l.qsi_ld);
    return l;
}

static void *fr_alloc64(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    return p;
}

void fr_matmul_scratch_free(fr_matmul_scratch *s)
{
    if (!s)
        return;
    if (s->per_thread) {
        for (int i = 0; i < s->n_threads; i++)
            free(s->per_thread[i]);
        free(s->per_thread);
    }
    free(s->qa);
    s->per_thread = NULL;
    s->qa = NULL;
    s->n_threads = 0;
    s->qa_bytes = 0;
}

fr_status fr_matmul_scratch_init(fr_matmul_scratch *s, int n_threads, int64_t max_n_in,
                                 int64_t max_tok, fr_err *err)
{
    memset(s, 0, sizeof *s);
    fr_isa isa;
    fr_status st = fr_isa_select(&isa, err);
    if (st)
        return st;
    if (n_threads < 1 || max_n_in < 1 || max_tok < 1)
        return fr_err_set(err, FR_E_INVALID, "matmul scratch: bad sizes (threads %d, n_in %lld, "
                          "tokens %lld)", n_threads, (long long)max_n_in, (long long)max_tok);
    s->ks = fr_kernel_set_get(isa);
    s->max_n_in = (max_n_in + 255) & ~(int64_t)255;
    s->max_tok = max_tok;
    s->per_thread = calloc((size_t)n_threads, sizeof *s->per_thread);
    if (!s->per_thread)
        goto nomem;
    s->n_threads = n_threads;
    for (int i = 0; i < n_threads; i++) {
        s->per_thread[i] = fr_alloc64(fr_kernel_scratch_bytes(s->max_n_in));
        if (!s->per_thread[i])
            goto nomem;
    }
    fr_qa_layout lb = fr_qa_plan(FR_ACT_Q8B, s->max_n_in, max_tok);
    fr_qa_layout lk = fr_qa_plan(FR_ACT_Q8K, s->max_n_in, max_tok);
    s->qa_bytes = lb.bytes > lk.bytes ? lb.bytes : lk.bytes;
    s->qa = fr_alloc64(s->qa_bytes);
    if (!s->qa)
        goto nomem;
    return FR_OK;
nomem:
    fr_matmul_scratch_free(s);
    return fr_err_set(err, FR_E_NOMEM, "out of memory for matmul scratch (%d threads, rows of "
                      "%lld values, %lld tokens)", n_threads, (long long)max_n_in,
                      (long long)max_tok);
}

fr_status fr_matmul_scratch_set_isa(fr_matmul_scratch *s, fr_isa isa, fr_err *err)
{
    const fr_kernel_set *ks = fr_kernel_set_get(isa);
    if (!ks)
        return fr_err_set(err, FR_E_UNSUPPORTED, "this CPU cannot run the %s kernels",
                          fr_isa_name(isa));
    s->ks = ks;
    return FR_OK;
}

fr_isa fr_matmul_scratch_isa(const fr_matmul_scratch *s) { return s->ks->isa; }

void fr_weight_row(const fr_weight *w, int64_t r, float *out)
{
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    if (w->type == FR_TYPE_F32) {
        memcpy(out, row, (size_t)w->n_in * sizeof(float));
        return;
    }
    /* Types were validated when the model was bound, so this cannot fail. */
    (void)fr_dequantize(w->type, row, out, w->n_in, NULL);
}

/* ---- activation quantization ------------------------------------------- */

typedef struct fr_quant_job {
    const fr_kernel_set *ks;
    fr_act_kind kind;
    const float *x;
    int64_t n_in, n_tok;
    const fr_qact *qa;
    atomic_llong next; /* next token row to quantize */
} fr_quant_job;

static void fr_quant_rows(const fr_quant_job *j, int64_t t0, int64_t t1)
{
    const fr_qact *qa = j->qa;
    int64_t nb = j->kind == FR_ACT_Q8K ? j->n_in / FR_QK_BLK : j->n_in / FR_QA_BLK;
    for (int64_t t = t0; t < t1; t++) {
        int8_t *qs = qa->qs + t * qa->qs_ld;
        float *d = qa->d + t * qa->blk_ld;
        const float *x = j->x + t * j->n_in;
        if (j->kind == FR_ACT_Q8K) {
            int16_t *bs = qa->bsums + t * qa->blk_ld * 16;
            j->ks->quant_q8k(x, j->n_in, qs, d, bs);
            memset(bs + nb * 16, 0, (size_t)(qa->blk_ld - nb) * 16 * sizeof(int16_t));
        } else {
            float *s = qa->s + t * qa->blk_ld;
            j->ks->quant_q8b(x, j->n_in, qs, d, s);
            for (int64_t b = nb; b < qa->blk_ld; b++)
                s[b] = 0.0f;
        }
        memset(qs + j->n_in, 0, (size_t)(qa->qs_ld - j->n_in));
        for (int64_t b = nb; b < qa->blk_ld; b++)
            d[b] = 0.0f;
        if (qa->qsi)
            j->ks->interleave_q8b(qs, nb, qa->qsi + t * qa->qsi_ld);
    }
}

static void fr_quant_worker(void *arg, int ith, int nth)
{
    fr_quant_job *j = arg;
    (void)ith;
    (void)nth;
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&j->next, 4, memory_order_relaxed);
        if (t >= j->n_tok)
            break;
        fr_quant_rows(j, t, t + 4 < j->n_tok ? t + 4 : j->n_tok);
    }
}

/* ---- the product --------------------------------------------------------- */

typedef struct fr_gemm_job {
    fr_gemm_fn gemm;
    const fr_mm_args *a;
    const fr_matmul_scratch *s;
    int64_t chunk;
    atomic_llong next;
} fr_gemm_job;

static void fr_gemm_worker(void *arg, int ith, int nth)
{
    fr_gemm_job *j = arg;
    (void)nth;
    int64_t n_out = j->a->n_out;
    for (;;) {
        int64_t r0 = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed);
        if (r0 >= n_out)
            break;
        int64_t r1 = r0 + j->chunk < n_out ? r0 + j->chunk : n_out;
        j->gemm(j->a, r0, r1, j->s->per_thread[ith]);
    }
}

static int64_t fr_row_chunk(int64_t n_out, int nth)
{
    if (nth <= 1)
        return n_out;
    int64_t c = n_out / ((int64_t)nth * 8);
    c = (c + 15) & ~(int64_t)15;
    return c < 16 ? 16 : c;
}

void fr_matmul(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
               int64_t ldy, const fr_matmul_scratch *s)
{
    /* scratch is sized for max_n_in: a longer row would overrun it */
    assert(w->n_in <= s->max_n_in && fr_pool_size(pool) <= s->n_threads);
    const fr_kernel_set *ks = s->ks;
    const fr_mm_kernel *k = &ks->mm[w->type];
    if (k->act == FR_ACT_NONE) {
        ks = &fr_kernels_generic;
        k = &ks->mm[w->type];
    }
    int nth = fr_pool_size(pool);
    for (int64_t t0 = 0; t0 < n_tok; t0 += s->max_tok) {
        int64_t nt = n_tok - t0 < s->max_tok ? n_tok - t0 : s->max_tok;
        fr_mm_args a = {
            .type = w->type,
            .w = w->data,
            .row_bytes = w->row_bytes,
            .n_in = w->n_in,
            .n_out = w->n_out,
            .n_tok = nt,
            .x = x + t0 * w->n_in,
            .ldx = w->n_in,
            .y = y + t0 * ldy,
            .ldy = ldy,
        };
        if (k->act == FR_ACT_Q8B || k->act == FR_ACT_Q8K) {
            fr_qa_layout l = fr_qa_plan(k->act, w->n_in, nt);
            a.qa.qs = (int8_t *)(s->qa + l.qs_off);
            a.qa.d = (float *)(s->qa + l.d_off);
            a.qa.s = (float *)(s->qa + l.s_off);
            a.qa.bsums = (int16_t *)(s->qa + l.s_off);
            a.qa.qs_ld = l.qs_ld;
            a.qa.blk_ld = l.blk_ld;
            a.qa.qsi = NULL;
            if (k->act == FR_ACT_Q8B && ks->interleave_q8b && nt >= 2) {
                a.qa.qsi = s->qa + l.qsi_off;
                a.qa.qsi_ld = l.qsi_ld;
            }
            fr_quant_job qj = {ks, k->act, a.x, w->n_in, nt, &a.qa, 0};
            atomic_init(&qj.next, 0);
            if (nth > 1 && nt >= 2 * nth && nt * w->n_in >= 16384)
                fr_pool_run_dynamic(pool, fr_quant_worker, &qj);
            else
                fr_quant_rows(&qj, 0, nt);
        }
        fr_gemm_job j = {k->gemm, &a, s, fr_row_chunk(w->n_out, nth), 0};
        atomic_init(&j.next, 0);
        fr_pool_run_dynamic(pool, fr_gemm_worker, &j);
    }
}

/* ---- the float reference ------------------------------------------------- */

typedef struct fr_ref_job {
    const fr_weight *w;
    const float *x;
    int64_t n_tok;
    float *y;
    int64_t ldy;
    const fr_matmul_scratch *s;
} fr_ref_job;

static void fr_ref_worker(void *arg, int ith, int nth)
{
    const fr_ref_job *j = arg;
    const fr_weight *w = j->w;
    int64_t lo, hi;
    fr_split_range(w->n_out, ith, nth, &lo, &hi);
    float *buf = (float *)j->s->per_thread[ith];
    for (int64_t r = lo; r < hi; r++) {
        const float *row;
        if (w->type == FR_TYPE_F32) {
            row = (const float *)((const uint8_t *)w->data + (size_t)r * w->row_bytes);
        } else {
            fr_weight_row(w, r, buf);
            row = buf;
        }
        for (int64_t t = 0; t < j->n_tok; t++)
            j->y[t * j->ldy + r] = fr_dot_f32(row, j->x + t * w->n_in, w->n_in);
    }
}

void fr_matmul_ref(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
                   int64_t ldy, const fr_matmul_scratch *s)
{
    assert(w->n_in <= s->max_n_in && fr_pool_size(pool) <= s->n_threads);
    fr_ref_job j = {w, x, n_tok, y, ldy, s};
    fr_pool_run(pool, fr_ref_worker, &j);
}
