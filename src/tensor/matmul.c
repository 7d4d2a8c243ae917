/*
 * matmul.c - the weight x activation products (see matmul.h): scratch,
 * activation quantization, and the split of output rows over threads.
 *
 * Rows are split in units of 16 (whole register tiles), one contiguous
 * range of units per thread with stealing (rowsplit.h): on a shared or
 * hybrid machine one slow core would otherwise hold every product up, and
 * each thread still reads one ascending stream. A thread takes its range in
 * pieces of about FR_PIECE_BYTES of weights and tells the kernel how far
 * its stream goes, so the software prefetch runs on across pieces; where a
 * stream starts (a thread's first piece, a part, a stolen range) its first
 * bytes are requested at once (fr_ramp). Each piece runs its rows against
 * every token, so a weight row read from memory is used for the whole batch
 * while it is in cache (the kernels tile further inside).
 *
 * The parts of a grouped product (a layer's Q, K and V; gate and up) share
 * one quantization of the activations and one pool run, their units laid
 * end to end: a decode step has 5 products per layer, not 7 (measured, 2
 * threads, qwen2.5-0.5b Q4_0: the small K and V products each cost a whole
 * synchronisation and a prefetch ramp of their own).
 *
 * Activations are quantized once per product (per chunk of max_tok tokens)
 * into the shared scratch, by all threads when the batch is large, then the
 * pool runs the product. Both are dynamic jobs (fr_pool_run_dynamic): a
 * worker the OS has descheduled is not waited for.
 *
 * Rejected: pairing gate and up row by row so that SwiGLU runs on each
 * piece on its thread - the two interleaved weight streams made one-thread
 * decode 4% slower than the two products end to end followed by a vector
 * SwiGLU on the caller (kernels.h), which costs ~1 us per layer.
 */
#include "tensor/matmul.h"

#include <assert.h>
#include <frugal/tensor.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/kernels/kernels.h"
#include "tensor/pack.h"
#include "tensor/rowsplit.h"

static inline int64_t fr_min(int64_t a, int64_t b) { return a < b ? a : b; }

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
    free(s->qak);
    free(s->split);
    s->per_thread = NULL;
    s->qa = NULL;
    s->qak = NULL;
    s->split = NULL;
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
    s->qa_bytes = lb.bytes;
    s->qak_bytes = lk.bytes;
    s->qa = fr_alloc64(s->qa_bytes);
    s->qak = fr_alloc64(s->qak_bytes);
    s->split = fr_alloc64((size_t)n_threads * sizeof *s->split);
    if (!s->qa || !s->qak || !s->split)
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

#define FR_UNIT_ROWS 16          /* rows per work unit: whole register tiles */
#define FR_PIECE_BYTES 65536     /* weight bytes a thread takes at a time */
#define FR_RAMP_BYTES 16384      /* prefetched at once where a stream starts */

typedef struct fr_gemm_job {
    const fr_mm_args *a; /* [n_parts] */
    fr_gemm_fn gemm[FR_MM_MAX_PARTS];
    int n_parts;
    int64_t u_end[FR_MM_MAX_PARTS]; /* units of parts 0..p (rows in order) */
    const fr_matmul_scratch *s;
    int64_t want;
} fr_gemm_job;

/* Where a stream of rows starts, its first bytes are requested at once
 * rather than at demand-miss speed until the kernel's prefetch distance is
 * covered. */
static void fr_ramp(const fr_mm_args *a, int64_t r0, int64_t r1)
{
    const char *p = (const char *)a->w + (size_t)r0 * a->row_bytes;
    size_t len = (size_t)(r1 - r0) * a->row_bytes;
    if (len > FR_RAMP_BYTES)
        len = FR_RAMP_BYTES;
    for (size_t o = 0; o < len; o += 64)
        __builtin_prefetch(p + o, 0, 3);
}

/* Rows [r0, r1) of part p; prefetching may run on to row plim. */
static void fr_gemm_rows(const fr_gemm_job *j, int p, int64_t r0, int64_t r1, int64_t plim,
                         bool fresh, void *scratch)
{
    fr_mm_args a = j->a[p];
    a.pf_r1 = plim;
    if (fresh)
        fr_ramp(&a, r0, plim);
    j->gemm[p](&a, r0, r1, scratch);
}

static void fr_gemm_worker(void *arg, int ith, int nth)
{
    const fr_gemm_job *j = arg;
    void *scratch = j->s->per_thread[ith];
    int64_t lo, hi, lim, prev = -1;
    while (fr_rowsplit_next(j->s->split, nth, ith, j->want, &lo, &hi, &lim)) {
        bool fresh = lo != prev; /* else the previous piece prefetched this one */
        prev = hi;
        int64_t u = lo;
        for (int p = 0; p < j->n_parts && u < hi; p++) {
            int64_t ub = p ? j->u_end[p - 1] : 0, ue = j->u_end[p];
            if (u >= ue)
                continue;
            int64_t uh = fr_min(hi, ue), n_out = j->a[p].n_out;
            fr_gemm_rows(j, p, (u - ub) * FR_UNIT_ROWS, fr_min((uh - ub) * FR_UNIT_ROWS, n_out),
                         fr_min((fr_min(lim, ue) - ub) * FR_UNIT_ROWS, n_out), fresh || u != lo,
                         scratch);
            u = uh;
        }
    }
}

/* The quantized activations of kind k for nt tokens, in its buffer. */
static fr_qact fr_qact_view(const fr_matmul_scratch *s, fr_act_kind k, int64_t n_in, int64_t nt,
                            bool interleave)
{
    fr_qa_layout l = fr_qa_plan(k, n_in, nt);
    uint8_t *base = k == FR_ACT_Q8K ? s->qak : s->qa;
    fr_qact q = {0};
    q.qs = (int8_t *)(base + l.qs_off);
    q.d = (float *)(base + l.d_off);
    q.s = (float *)(base + l.s_off);
    q.bsums = (int16_t *)(base + l.s_off);
    q.qs_ld = l.qs_ld;
    q.blk_ld = l.blk_ld;
    if (interleave) {
        q.qsi = base + l.qsi_off;
        q.qsi_ld = l.qsi_ld;
    }
    return q;
}

void fr_matmul_multi(fr_pool *pool, const fr_mm_part *parts, int n_parts, const float *x,
                     int64_t n_tok, const fr_matmul_scratch *s)
{
    assert(n_parts >= 1 && n_parts <= FR_MM_MAX_PARTS);
    assert(fr_pool_size(pool) <= s->n_threads);
    int64_t n_in = parts[0].w->n_in;
    const fr_kernel_set *ks[FR_MM_MAX_PARTS];
    bool x8[FR_MM_MAX_PARTS];
    fr_act_kind act[FR_MM_MAX_PARTS];
    bool need[4] = {false, false, false, false};
    size_t unit_bytes = 0;
    fr_gemm_job j = {0};
    j.n_parts = n_parts;
    j.s = s;
    int64_t units = 0;
    for (int p = 0; p < n_parts; p++) {
        const fr_weight *w = parts[p].w;
        /* scratch is sized for max_n_in: a longer row would overrun it */
        assert(w->n_in == n_in && n_in <= s->max_n_in);
        ks[p] = s->ks;
        x8[p] = w->packed && w->packed->isa == s->ks->isa &&
                s->ks->mm_x8[w->type].act != FR_ACT_NONE;
        if (!x8[p] && ks[p]->mm[w->type].act == FR_ACT_NONE)
            ks[p] = &fr_kernels_generic;
        const fr_mm_kernel *k = x8[p] ? &ks[p]->mm_x8[w->type] : &ks[p]->mm[w->type];
        j.gemm[p] = k->gemm;
        act[p] = k->act;
        need[k->act] = true;
        int64_t u = (w->n_out + FR_UNIT_ROWS - 1) / FR_UNIT_ROWS;
        units += u;
        j.u_end[p] = units;
        size_t ub = (size_t)FR_UNIT_ROWS * w->row_bytes;
        unit_bytes = ub > unit_bytes ? ub : unit_bytes;
    }
    j.want = (int64_t)(FR_PIECE_BYTES / (unit_bytes ? unit_bytes : 1));
    int nth = fr_pool_size(pool);
    for (int64_t t0 = 0; t0 < n_tok; t0 += s->max_tok) {
        int64_t nt = n_tok - t0 < s->max_tok ? n_tok - t0 : s->max_tok;
        const float *xt = x + t0 * n_in;
        fr_qact qa[4] = {{0}};
        for (int k = FR_ACT_Q8B; k <= FR_ACT_Q8K; k++) {
            if (!need[k])
                continue;
            bool il = k == FR_ACT_Q8B && s->ks->interleave_q8b && nt >= 2;
            qa[k] = fr_qact_view(s, (fr_act_kind)k, n_in, nt, il);
            fr_quant_job qj = {s->ks, (fr_act_kind)k, xt, n_in, nt, &qa[k], 0};
            atomic_init(&qj.next, 0);
            if (nth > 1 && nt >= 2 * nth && nt * n_in >= 16384)
                fr_pool_run_dynamic(pool, fr_quant_worker, &qj);
            else
                fr_quant_rows(&qj, 0, nt);
        }
        fr_mm_args a[FR_MM_MAX_PARTS];
        for (int p = 0; p < n_parts; p++) {
            const fr_weight *w = parts[p].w;
            fr_mm_args ap = {
                .type = w->type,
                .w = x8[p] ? w->packed->data + w->packed_off : w->data,
                .row_bytes = w->row_bytes,
                .n_in = n_in,
                .n_out = w->n_out,
                .n_tok = nt,
                .x = xt,
                .ldx = n_in,
                .qa = qa[act[p]],
                .y = parts[p].y + t0 * parts[p].ldy,
                .ldy = parts[p].ldy,
            };
            a[p] = ap;
        }
        j.a = a;
        fr_rowsplit_init(s->split, nth, units);
        fr_pool_run_dynamic(pool, fr_gemm_worker, &j);
    }
}

void fr_matmul(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
               int64_t ldy, const fr_matmul_scratch *s)
{
    fr_mm_part part = {w, y, ldy};
    fr_matmul_multi(pool, &part, 1, x, n_tok, s);
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
