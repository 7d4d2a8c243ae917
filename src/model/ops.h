/*
 * ops.h - the operation boundary between the forward pass and the place
 * its operations run.
 *
 * The forward pass (forward.c, blocks.c) never touches activation memory
 * itself: it holds buffers the backend allocated and asks the backend's
 * operation table to fill them. The CPU implements the table today
 * (cpu/cpu_ops.c: the thread pool, the SIMD kernels of src/tensor, the KV
 * cache); a CUDA or Metal backend is a new folder that implements the same
 * table, not a new forward pass.
 *
 * Contract of every operation:
 *   - buffers (float *) come from the backend's alloc; weights (fr_weight,
 *     float tensors) are the model's, bound at load; small per-batch tables
 *     (positions, sequences, token ids) are host arrays;
 *   - operations are issued in order and each sees the results of the ones
 *     before it (the CPU runs them synchronously);
 *   - nothing allocates: every buffer is sized when the context is created,
 *     so the per-token path is allocation-free;
 *   - results do not depend on the number of threads.
 */
#ifndef FR_MODEL_OPS_H
#define FR_MODEL_OPS_H

#include <frugal/model.h>

#include "model/arch/arch.h"
#include "model/lora_impl.h"
#include "tensor/matmul.h"

typedef struct fr_be fr_be; /* a backend instance, owned by one context */

/* What a backend instance needs to know when it is created. */
typedef struct fr_be_params {
    const fr_hparams *hp;
    uint32_t n_ctx, n_seq, n_batch, n_threads;
    fr_type kv_type;  /* F32 or F16 */
    int64_t max_n_in; /* longest row of any product */
    const uint32_t *kv_len; /* [n_layer] positions layer l's cache holds per
                               sequence: n_ctx, or fewer on a sliding-window
                               layer, a ring (position p at slot p % kv_len[l];
                               the caller sees that a batch's writes never
                               overwrite a key its window still reads) */
} fr_be_params;

/* Attention of a batch of query rows over the cache of one layer. */
typedef struct fr_attn_args {
    uint32_t layer;
    uint32_t n_tok;
    const int32_t *seq; /* [n_tok] sequence of each token (host) */
    const int32_t *pos; /* [n_tok] its position in that sequence (host) */
    const float *q;     /* [n_tok][n_head * head_dim], roped */
    float *out;         /* [n_tok][n_head * head_dim] */
    float kq_div;       /* q.k is divided by this (sqrt(head_dim) unless the arch
                           scales q itself) */
    uint32_t window;    /* > 0: a query at position p sees keys at p - window < p' <= p */
    const float *sinks; /* [n_head] logits that join each head's softmax without a
                           value (gpt-oss), or NULL */
} fr_attn_args;

typedef struct fr_ops {
    const char *name;
    fr_status (*create)(const fr_be_params *p, fr_be **out, fr_err *err);
    void (*free)(fr_be *be);
    /* A buffer of n floats that lives as long as the backend (NULL: out of
     * memory). Freed with the backend. */
    float *(*alloc)(fr_be *be, size_t n);
    uint32_t (*n_threads)(const fr_be *be);
    fr_pool *(*pool)(fr_be *be); /* the CPU's thread pool (LoRA runs on it) */

    /* y[t][o] (rows ldy apart) = sum_i W[o][i] x[t][i], t < n */
    void (*matmul)(fr_be *be, const fr_weight *w, const float *x, int64_t n, float *y, int64_t ldy);
    /* several products of the same x (fr_matmul_multi's contract) */
    void (*matmul_multi)(fr_be *be, const fr_mm_part *parts, int n_parts, const float *x,
                         int64_t n);
    /* y[t][o] += lora(x[t])[row0 + o], o < n_rows (< 0: all), of every
     * active adapter of (layer, kind) */
    void (*lora)(fr_be *be, const fr_lora_set *s, uint32_t layer, fr_lora_kind kind, int64_t row0,
                 int64_t n_rows, const float *x, int64_t n, float *y, int64_t ldy);
    /* y[t] = row ids[t] of w, as floats */
    void (*get_rows)(fr_be *be, const fr_weight *w, const int32_t *ids, int64_t n, float *y);
    /* y[r] = w * x[r] / sqrt(mean(x[r]^2) + eps), rows of d values (y may be x) */
    void (*rmsnorm)(fr_be *be, float *y, const float *x, const float *w, int64_t rows, int64_t d,
                    float eps);
    /* y[i] += x[i], i < n */
    void (*add)(fr_be *be, float *y, const float *x, int64_t n);
    /* y[r][i] += b[i], rows of d values */
    void (*add_rows)(fr_be *be, float *y, const float *b, int64_t rows, int64_t d);
    /* y[i] *= s, i < n */
    void (*scale)(fr_be *be, float *y, float s, int64_t n);
    /* y[i] = c tanh(y[i] / c) */
    void (*softcap)(fr_be *be, float *y, float c, int64_t n);
    /* cs[t][2i], cs[t][2i+1] = mscale cos, mscale sin of pos[t] * freq[i],
     * i < n_freq (freq: host array) */
    void (*rope_angles)(fr_be *be, float *cs, const float *freq, uint32_t n_freq, float mscale,
                        const int32_t *pos, int64_t n);
    /* rotates the first 2 n_freq values of each of n_heads heads (head_dim
     * apart) of every row t of x by the angles cs[t] */
    void (*rope)(fr_be *be, float *x, int64_t rows, uint32_t n_heads, uint32_t head_dim,
                 const float *cs, uint32_t n_freq, fr_rope_style style);
    /* g[i] = act(g[i]) * u[i] */
    void (*glu)(fr_be *be, float *g, const float *u, int64_t n, fr_ffn_act act);
    /* appends row t of k and v (n_head_kv * head_dim each) to layer's cache
     * of sequence seq[t] at position pos[t] (its slot in a ring) */
    void (*kv_store)(fr_be *be, uint32_t layer, const int32_t *seq, const int32_t *pos,
                     const float *k, const float *v, int64_t n);
    void (*attention)(fr_be *be, const fr_attn_args *a);
    /* Mixture of experts: for each of n rows of router logits [n][n_exp],
     * the k chosen experts (sel, host [n][k]) and their weights (w, host
     * [n][k]) by the gating function */
    void (*moe_route)(fr_be *be, const float *logits, int64_t n, uint32_t n_exp, uint32_t k,
                      fr_moe_gating gating, int32_t *sel, float *w);
    /* dst[i] = src[rows[i]], rows of d values, i < n */
    void (*gather)(fr_be *be, float *dst, const float *src, const int32_t *rows, int64_t n,
                   int64_t d);
    /* dst[rows[i]] += w[i] * src[i], rows of d values, i < n */
    void (*scatter_add)(fr_be *be, float *dst, const float *src, const int32_t *rows,
                        const float *w, int64_t n, int64_t d);
    /* y[i] = 0, i < n */
    void (*zero)(fr_be *be, float *y, int64_t n);
} fr_ops;

/* The CPU backend (cpu/cpu_ops.c). */
extern const fr_ops fr_ops_cpu;

#endif
