/*
 * cpu_ops.c - the CPU backend of the operation boundary (model/ops.h): a
 * thread pool, the kernel set of src/tensor (chosen once: FRUGAL_ISA or the
 * best this CPU has) and the KV cache.
 *
 * Products and attention run on the pool; the row operations (norms, rope,
 * adds) are cheap next to them and run on the calling thread. Arithmetic
 * mirrors llama2.c's reference run.c (left-to-right float sums, the same
 * rope angle formula, two-pass softmax over a score row), so greedy tokens
 * agree with its recorded outputs; the row operations of attention and the
 * GLU come from the kernel set, exactly run.c's on the generic path.
 *
 * KV cache: every sequence has its own contiguous cache of n_ctx positions
 * per layer; K and V rows are [n_head_kv * head_dim] of kv_type.
 */
#include "model/ops.h"
#include "model/lora_impl.h"
#include "tensor/kernels/kernels.h"

#include <frugal/tensor.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct fr_be {
    fr_pool *pool;
    fr_matmul_scratch mm; /* kernel path + buffers for every fr_matmul */
    uint32_t n_layer, n_ctx, n_seq, n_head, n_head_kv, head_dim;
    fr_type kv_type;
    size_t kv_row; /* values per cached K or V row: n_head_kv * head_dim */
    void *kcache;  /* [n_seq][n_layer][n_ctx][kv_row] of kv_type */
    void *vcache;
    float **att_scratch; /* per thread: [n_ctx] scores */
    int n_att;
    float **bufs; /* what alloc handed out */
    size_t n_bufs;
};

static size_t fr_kv_elem(fr_type t)
{
    return t == FR_TYPE_F16 ? 2 : 4;
}

static void cpu_free(fr_be *be)
{
    if (!be)
        return;
    for (int i = 0; be->att_scratch && i < be->n_att; i++)
        free(be->att_scratch[i]);
    free(be->att_scratch);
    for (size_t i = 0; i < be->n_bufs; i++)
        free(be->bufs[i]);
    free(be->bufs);
    fr_matmul_scratch_free(&be->mm);
    fr_pool_free(be->pool);
    free(be->kcache);
    free(be->vcache);
    free(be);
}

static fr_status cpu_create(const fr_be_params *p, fr_be **out, fr_err *err)
{
    *out = NULL;
    const fr_hparams *hp = p->hp;
    fr_be *be = calloc(1, sizeof *be);
    if (!be)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    be->n_layer = hp->n_layer;
    be->n_ctx = p->n_ctx;
    be->n_seq = p->n_seq;
    be->n_head = hp->n_head;
    be->n_head_kv = hp->n_head_kv;
    be->head_dim = hp->head_dim;
    be->kv_type = p->kv_type;
    be->kv_row = (size_t)hp->n_head_kv * hp->head_dim;
    fr_status st = fr_pool_create((int)p->n_threads, &be->pool, err);
    if (st) {
        free(be);
        return st;
    }
    int nth = (int)p->n_threads;
    /* Matmul scratch: rows up to the longest input of any product, batches
     * of n_batch tokens (the path is chosen here: FRUGAL_ISA or the best). */
    st = fr_matmul_scratch_init(&be->mm, nth, p->max_n_in, (int64_t)p->n_batch, err);
    if (st) {
        cpu_free(be);
        return st;
    }
    size_t kv_bytes =
        (size_t)p->n_seq * hp->n_layer * p->n_ctx * be->kv_row * fr_kv_elem(p->kv_type);
    be->kcache = calloc(1, kv_bytes ? kv_bytes : 1);
    be->vcache = calloc(1, kv_bytes ? kv_bytes : 1);
    be->n_att = nth;
    be->att_scratch = calloc((size_t)nth, sizeof(float *));
    bool ok = be->kcache && be->vcache && be->att_scratch;
    for (int i = 0; ok && i < nth; i++) {
        be->att_scratch[i] = malloc((size_t)p->n_ctx * sizeof(float));
        ok = be->att_scratch[i] != NULL;
    }
    if (!ok) {
        cpu_free(be);
        return fr_err_set(err, FR_E_NOMEM,
                          "out of memory allocating a context (KV cache %.1f MiB for n_ctx %u x "
                          "%u sequences); try a smaller --ctx",
                          2.0 * (double)kv_bytes / 1048576.0, p->n_ctx, p->n_seq);
    }
    *out = be;
    return FR_OK;
}

static float *cpu_alloc(fr_be *be, size_t n)
{
    float **list = realloc(be->bufs, (be->n_bufs + 1) * sizeof *list);
    if (!list)
        return NULL;
    be->bufs = list;
    float *b = malloc((n ? n : 1) * sizeof(float));
    if (b)
        be->bufs[be->n_bufs++] = b;
    return b;
}

static uint32_t cpu_n_threads(const fr_be *be)
{
    return (uint32_t)fr_pool_size(be->pool);
}
static fr_pool *cpu_pool(fr_be *be)
{
    return be->pool;
}

static void cpu_matmul(fr_be *be, const fr_weight *w, const float *x, int64_t n, float *y,
                       int64_t ldy)
{
    fr_matmul(be->pool, w, x, n, y, ldy, &be->mm);
}

static void cpu_matmul_multi(fr_be *be, const fr_mm_part *parts, int n_parts, const float *x,
                             int64_t n)
{
    fr_matmul_multi(be->pool, parts, n_parts, x, n, &be->mm);
}

static void cpu_lora(fr_be *be, const fr_lora_set *s, uint32_t layer, fr_lora_kind kind,
                     const float *x, int64_t n, float *y, int64_t ldy)
{
    fr_lora_apply(s, be->pool, layer, kind, x, n, y, ldy);
}

static void cpu_get_rows(fr_be *be, const fr_weight *w, const int32_t *ids, int64_t n, float *y)
{
    (void)be;
    for (int64_t t = 0; t < n; t++)
        fr_weight_row(w, ids[t], y + t * w->n_in);
}

static void cpu_rmsnorm(fr_be *be, float *y, const float *x, const float *w, int64_t rows,
                        int64_t d, float eps)
{
    (void)be;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        float ss = 0.0f;
        for (int64_t j = 0; j < d; j++)
            ss += xr[j] * xr[j];
        ss /= (float)d;
        ss += eps;
        ss = 1.0f / sqrtf(ss);
        for (int64_t j = 0; j < d; j++)
            yr[j] = w[j] * (ss * xr[j]);
    }
}

static void cpu_add(fr_be *be, float *y, const float *x, int64_t n)
{
    (void)be;
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

static void cpu_add_rows(fr_be *be, float *y, const float *b, int64_t rows, int64_t d)
{
    (void)be;
    for (int64_t t = 0; t < rows; t++)
        for (int64_t i = 0; i < d; i++)
            y[t * d + i] += b[i];
}

static void cpu_rope_angles(fr_be *be, float *cs, const float *freq, uint32_t n_freq,
                            const int32_t *pos, int64_t n)
{
    (void)be;
    for (int64_t t = 0; t < n; t++) {
        float *c = cs + (size_t)t * 2 * n_freq;
        for (uint32_t i = 0; i < n_freq; i++) {
            float val = (float)pos[t] * freq[i];
            c[2 * i] = cosf(val);
            c[2 * i + 1] = sinf(val);
        }
    }
}

static void cpu_rope(fr_be *be, float *x, int64_t rows, uint32_t n_heads, uint32_t head_dim,
                     const float *cs, uint32_t n_freq, fr_rope_style style)
{
    (void)be;
    for (int64_t t = 0; t < rows; t++) {
        const float *c = cs + (size_t)t * 2 * n_freq;
        for (uint32_t h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            for (uint32_t i = 0; i < n_freq; i++) {
                float fcr = c[2 * i], fci = c[2 * i + 1];
                uint32_t a = style == FR_ROPE_NEOX ? i : 2 * i;
                uint32_t b = style == FR_ROPE_NEOX ? i + n_freq : 2 * i + 1;
                float v0 = v[a], v1 = v[b];
                v[a] = v0 * fcr - v1 * fci;
                v[b] = v0 * fci + v1 * fcr;
            }
        }
    }
}

static void cpu_glu(fr_be *be, float *g, const float *u, int64_t n, fr_ffn_act act)
{
    switch (act) {
    case FR_FFN_SILU: be->mm.ks->swiglu(g, u, n); break;
    }
}

/* ---- KV cache and attention ---------------------------------------------- */

static inline size_t fr_kv_index(const fr_be *be, uint32_t s, uint32_t l, uint32_t p)
{
    return (((size_t)s * be->n_layer + l) * be->n_ctx + p) * be->kv_row;
}

static void fr_kv_put(const fr_be *be, void *cache, size_t idx, const float *src)
{
    if (be->kv_type == FR_TYPE_F32) {
        memcpy((float *)cache + idx, src, be->kv_row * sizeof(float));
    } else {
        uint16_t *d = (uint16_t *)cache + idx;
        for (size_t i = 0; i < be->kv_row; i++)
            d[i] = fr_fp32_to_fp16(src[i]);
    }
}

static void cpu_kv_store(fr_be *be, uint32_t layer, const int32_t *seq, const int32_t *pos,
                         const float *k, const float *v, int64_t n)
{
    for (int64_t t = 0; t < n; t++) {
        size_t idx = fr_kv_index(be, (uint32_t)seq[t], layer, (uint32_t)pos[t]);
        fr_kv_put(be, be->kcache, idx, k + (size_t)t * be->kv_row);
        fr_kv_put(be, be->vcache, idx, v + (size_t)t * be->kv_row);
    }
}

typedef struct fr_attn_job {
    fr_be *be;
    const fr_attn_args *a;
    atomic_int next; /* next (token, head) unit to take */
} fr_attn_job;

/* Units are (token, query head) pairs handed out one at a time, so a
 * descheduled worker costs only the unit it holds. Consecutive units share a
 * KV head (grouped-query attention), which keeps its keys in cache. Per
 * unit: scores of the query against every cached key of its sequence up to
 * its position, a two-pass softmax over that row (in the thread's scratch),
 * then the weighted sum of the values. The row operations come from the
 * kernel set: left to right in the generic path (llama2.c's order), in SIMD
 * lanes otherwise. */
static void fr_attn_worker(void *arg, int ith, int nth)
{
    (void)nth;
    fr_attn_job *j = arg;
    fr_be *be = j->be;
    const fr_attn_args *a = j->a;
    const fr_kernel_set *ks = be->mm.ks;
    uint32_t hd = be->head_dim, n_head = be->n_head, grp = be->n_head / be->n_head_kv;
    size_t q_dim = (size_t)n_head * hd;
    float *att = be->att_scratch[ith];
    float scale = a->kq_div;
    bool f32 = be->kv_type == FR_TYPE_F32;
    int64_t n_units = (int64_t)a->n_tok * n_head;
    for (;;) {
        int64_t w = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (w >= n_units)
            break;
        uint32_t t = (uint32_t)(w / n_head), h = (uint32_t)(w % n_head);
        uint32_t kvh = h / grp, s = (uint32_t)a->seq[t];
        int32_t pos = a->pos[t];
        const float *q = a->q + (size_t)t * q_dim + (size_t)h * hd;
        float *out = a->out + (size_t)t * q_dim + (size_t)h * hd;
        size_t base = fr_kv_index(be, s, a->layer, 0) + (size_t)kvh * hd;
        if (f32) {
            const float *k = (const float *)be->kcache + base;
            for (int32_t p = 0; p <= pos; p++, k += be->kv_row)
                att[p] = ks->dot_f32(q, k, hd) / scale;
        } else {
            const uint16_t *k = (const uint16_t *)be->kcache + base;
            for (int32_t p = 0; p <= pos; p++, k += be->kv_row)
                att[p] = ks->dot_f16(q, k, hd) / scale;
        }
        float mx = att[0];
        for (int32_t p = 1; p <= pos; p++)
            if (att[p] > mx)
                mx = att[p];
        float sum = 0.0f;
        for (int32_t p = 0; p <= pos; p++) {
            att[p] = expf(att[p] - mx);
            sum += att[p];
        }
        for (int32_t p = 0; p <= pos; p++)
            att[p] /= sum;
        memset(out, 0, hd * sizeof(float));
        if (f32) {
            const float *v = (const float *)be->vcache + base;
            for (int32_t p = 0; p <= pos; p++, v += be->kv_row)
                ks->axpy_f32(out, att[p], v, hd);
        } else {
            const uint16_t *v = (const uint16_t *)be->vcache + base;
            for (int32_t p = 0; p <= pos; p++, v += be->kv_row)
                ks->axpy_f16(out, att[p], v, hd);
        }
    }
}

static void cpu_attention(fr_be *be, const fr_attn_args *a)
{
    fr_attn_job j = {be, a, 0};
    atomic_init(&j.next, 0);
    fr_pool_run_dynamic(be->pool, fr_attn_worker, &j);
}

const fr_ops fr_ops_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .free = cpu_free,
    .alloc = cpu_alloc,
    .n_threads = cpu_n_threads,
    .pool = cpu_pool,
    .matmul = cpu_matmul,
    .matmul_multi = cpu_matmul_multi,
    .lora = cpu_lora,
    .get_rows = cpu_get_rows,
    .rmsnorm = cpu_rmsnorm,
    .add = cpu_add,
    .add_rows = cpu_add_rows,
    .rope_angles = cpu_rope_angles,
    .rope = cpu_rope,
    .glu = cpu_glu,
    .kv_store = cpu_kv_store,
    .attention = cpu_attention,
};
