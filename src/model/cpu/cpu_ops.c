/*
 * cpu_ops.c - the CPU backend of the operation boundary (model/ops.h): a
 * thread pool, the kernel set of src/tensor (chosen once: FRUGAL_ISA or the
 * best this CPU has) and the KV cache.
 *
 * Products and attention run on the pool; the row operations (norms, rope,
 * adds) are cheap next to them and run on the calling thread. Arithmetic
 * mirrors llama2.c's reference run.c (left-to-right float sums, the same
 * rope angle formula, two-pass softmax over a score row), so greedy tokens
 * agree with its recorded outputs; attention (tensor/attn.h: row by row on
 * the generic path, exactly run.c's order; tiled with an online softmax on
 * the SIMD paths) and the GLU come from the kernel set.
 *
 * KV cache: every sequence has its own contiguous cache, layer after layer,
 * of kv_len[l] positions each: n_ctx, or on a sliding-window layer a ring
 * of its last positions (position p at slot p % kv_len[l]; ops.h); K and V
 * rows are [n_head_kv * head_dim] of kv_type.
 */
#include "model/cpu/rows.h"
#include "model/lora_impl.h"
#include "model/ops.h"
#include "tensor/attn.h"
#include "tensor/kernels/kernels.h"

#include <frugal/tensor.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_be {
    fr_pool *pool;
    fr_matmul_scratch mm; /* kernel path + buffers for every fr_matmul */
    uint32_t n_layer, n_ctx, n_seq, n_head, n_head_kv, head_dim;
    fr_type kv_type;
    size_t kv_row; /* values per cached K or V row: n_head_kv * head_dim */
    uint32_t *kv_len; /* [n_layer] positions each layer's cache holds */
    size_t *kv_off;   /* [n_layer] its first slot in a sequence's cache */
    size_t seq_slots; /* slots per sequence: the sum of kv_len */
    void *kcache;  /* [n_seq][seq_slots][kv_row] of kv_type */
    void *vcache;
    float **att_scratch; /* per thread: fr_attn_scratch_bytes (tensor/attn.h) */
    uint32_t *attn_blocks; /* [n_batch + 1] attention's token blocks */
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
    free(be->attn_blocks);
    for (size_t i = 0; i < be->n_bufs; i++)
        free(be->bufs[i]);
    free(be->bufs);
    fr_matmul_scratch_free(&be->mm);
    fr_pool_free(be->pool);
    free(be->kcache);
    free(be->vcache);
    free(be->kv_len);
    free(be->kv_off);
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
    be->kv_len = malloc(hp->n_layer * sizeof *be->kv_len);
    be->kv_off = malloc(hp->n_layer * sizeof *be->kv_off);
    if (!be->kv_len || !be->kv_off) {
        cpu_free(be);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        be->kv_len[l] = p->kv_len && p->kv_len[l] < p->n_ctx ? p->kv_len[l] : p->n_ctx;
        be->kv_off[l] = be->seq_slots;
        be->seq_slots += be->kv_len[l];
    }
    size_t kv_bytes = (size_t)p->n_seq * be->seq_slots * be->kv_row * fr_kv_elem(p->kv_type);
    be->kcache = calloc(1, kv_bytes ? kv_bytes : 1);
    be->vcache = calloc(1, kv_bytes ? kv_bytes : 1);
    be->n_att = nth;
    be->att_scratch = calloc((size_t)nth, sizeof(float *));
    be->attn_blocks = malloc(((size_t)p->n_batch + 1) * sizeof(uint32_t));
    bool ok = be->kcache && be->vcache && be->att_scratch && be->attn_blocks;
    size_t ab = (fr_attn_scratch_bytes(p->n_ctx, hp->head_dim) + 63) & ~(size_t)63;
    for (int i = 0; ok && i < nth; i++) {
        void *b = NULL;
        ok = posix_memalign(&b, 64, ab) == 0;
        be->att_scratch[i] = b;
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
                     int64_t row0, int64_t n_rows, const float *x, int64_t n, float *y, int64_t ldy)
{
    fr_lora_apply(s, be->pool, layer, kind, row0, n_rows, x, n, y, ldy);
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
    fr_rmsnorm_forward(y, NULL, x, w, rows, d, eps);
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

static void cpu_scale(fr_be *be, float *y, float s, int64_t n)
{
    (void)be;
    for (int64_t i = 0; i < n; i++)
        y[i] *= s;
}

static void cpu_softcap(fr_be *be, float *y, float c, int64_t n)
{
    (void)be;
    for (int64_t i = 0; i < n; i++)
        y[i] = c * tanhf(y[i] * (1.0f / c));
}

static void cpu_rope_angles(fr_be *be, float *cs, const float *freq, uint32_t n_freq, float mscale,
                            const int32_t *pos, int64_t n)
{
    (void)be;
    fr_rope_table(cs, freq, n_freq, mscale, pos, n);
}

static void cpu_rope(fr_be *be, float *x, int64_t rows, uint32_t n_heads, uint32_t head_dim,
                     const float *cs, uint32_t n_freq, fr_rope_style style)
{
    (void)be;
    fr_rope_forward(x, cs, rows, n_heads, head_dim, n_freq, style);
}

static void cpu_glu(fr_be *be, float *g, const float *u, int64_t n, fr_ffn_act act)
{
    fr_glu_forward(be->mm.ks, g, u, n, act);
}

/* ---- KV cache and attention ---------------------------------------------- */

static inline size_t fr_kv_index(const fr_be *be, uint32_t s, uint32_t l, uint32_t p)
{
    return ((size_t)s * be->seq_slots + be->kv_off[l] + p % be->kv_len[l]) * be->kv_row;
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

/* tensor/attn.h: row by row on the generic path (run.c's order), tiled
 * with an online softmax on the SIMD paths; both take the sliding window,
 * the sinks and a window layer's ring */
static void cpu_attention(fr_be *be, const fr_attn_args *a)
{
    size_t base = fr_kv_index(be, 0, a->layer, 0) * fr_kv_elem(be->kv_type);
    fr_attn_desc d = {
        .q = a->q,
        .out = a->out,
        .n_tok = a->n_tok,
        .pos = a->pos,
        .seq = a->seq,
        .k = (const char *)be->kcache + base,
        .v = (const char *)be->vcache + base,
        .seq_ld = be->seq_slots * be->kv_row,
        .kv_ld = be->kv_row,
        .kv_type = be->kv_type,
        .n_head = be->n_head,
        .n_head_kv = be->n_head_kv,
        .head_dim = be->head_dim,
        .kq_div = a->kq_div,
        .blocks = be->attn_blocks,
        .window = a->window,
        .sinks = a->sinks,
        .ring = be->kv_len[a->layer] < be->n_ctx ? be->kv_len[a->layer] : 0,
    };
    fr_attention(be->pool, be->mm.ks, &d, (void *const *)be->att_scratch);
}

/* ---- mixture of experts ---------------------------------------------------- */

static void cpu_moe_route(fr_be *be, const float *logits, int64_t n, uint32_t n_exp, uint32_t k,
                          fr_moe_gating gating, int32_t *sel, float *w)
{
    (void)be;
    fr_moe_route(logits, n, n_exp, k, gating, sel, w);
}

static void cpu_gather(fr_be *be, float *dst, const float *src, const int32_t *rows, int64_t n,
                       int64_t d)
{
    (void)be;
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + i * d, src + (int64_t)rows[i] * d, (size_t)d * sizeof(float));
}

static void cpu_scatter_add(fr_be *be, float *dst, const float *src, const int32_t *rows,
                            const float *w, int64_t n, int64_t d)
{
    (void)be;
    for (int64_t i = 0; i < n; i++) {
        float *y = dst + (int64_t)rows[i] * d;
        const float *x = src + i * d;
        for (int64_t j = 0; j < d; j++)
            y[j] += w[i] * x[j];
    }
}

static void cpu_zero(fr_be *be, float *y, int64_t n)
{
    (void)be;
    memset(y, 0, (size_t)n * sizeof(float));
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
    .scale = cpu_scale,
    .softcap = cpu_softcap,
    .rope_angles = cpu_rope_angles,
    .rope = cpu_rope,
    .glu = cpu_glu,
    .kv_store = cpu_kv_store,
    .attention = cpu_attention,
    .moe_route = cpu_moe_route,
    .gather = cpu_gather,
    .scatter_add = cpu_scatter_add,
    .zero = cpu_zero,
};
