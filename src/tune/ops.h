/*
 * ops.h - the training-only operations as explicit <op>_forward /
 * <op>_backward pairs (the llm.c way), on float32 rows: the embedding
 * lookup, attention over whole sequences, cross-entropy. RMSNorm, rope and
 * the gated activations are the inference engine's own (model/cpu/rows.h,
 * included here), so each exists once.
 *
 * Conventions:
 *  - activations are row-major [n][d]: n tokens (rows), d values each;
 *  - a backward ADDS its input gradients into dx (callers zero them first),
 *    so that a tensor used twice (the residual stream) gathers both;
 *  - forward arithmetic follows the inference engine (the same functions,
 *    and the same float order in attention up to its blocked matrix
 *    products), so the training forward reproduces inference logits to
 *    float rounding;
 *  - ops are single-threaded over the rows they are given; the model driver
 *    splits rows (or heads) across the thread pool.
 *
 * The linear layers (frozen base weight + LoRA) are in linear.h, because
 * they need the thread pool and per-tile dequantization.
 */
#ifndef FR_TUNE_OPS_H
#define FR_TUNE_OPS_H

#include <frugal/model.h>

#include "model/cpu/rows.h"
#include "tensor/matmul.h"

/* ---- embedding ----------------------------------------------------------- */

/* x[t] = row tok[t] of the (stored, possibly quantized) table emb. */
void fr_embed_forward(float *x, const fr_weight *emb, const int32_t *tok, int64_t n);
/* demb[tok[t]] += dx[t]; demb is [n_vocab][d]. The base is frozen, so
 * training stops the chain at x; this completes the pair for tests. */
void fr_embed_backward(float *demb, const float *dx, const int32_t *tok, int64_t n, int64_t d);

/* ---- causal grouped-query attention over one sequence --------------------- */

/* Query rows per block; scratch holds two blocks of scores. */
#define FR_ATTN_BLOCK 64
static inline int64_t fr_attn_scratch_floats(int64_t n) { return 2 * FR_ATTN_BLOCK * n; }

typedef struct fr_attn_shape {
    int64_t n;      /* tokens in the sequence */
    uint32_t n_head, n_head_kv, hd;
    float scale;        /* q.k multiplier; 0: 1 / sqrt(hd) */
    uint32_t window;    /* > 0: query i sees keys i - window < j <= i */
    const float *sinks; /* [n_head] sink logits (gpt-oss) or NULL */
} fr_attn_shape;

/* out[i, head h] = sum_{j<=i} softmax_j(q_i.k_j / sqrt(hd)) v_j (window,
 * sinks and scale as the shape says), with kv head
 * h / (n_head / n_head_kv). q, out: [n][n_head*hd]; k, v: [n][n_head_kv*hd].
 * Only kv heads [kv0, kv1) (and their query heads) are computed, so callers
 * can split work by kv head. scratch: fr_attn_scratch_floats(n) floats. */
void fr_attention_forward(float *out, const float *q, const float *k, const float *v,
                          const fr_attn_shape *s, uint32_t kv0, uint32_t kv1, float *scratch);
/* Adds dq, dk, dv for kv heads [kv0, kv1) given dout. Probabilities are
 * recomputed (nothing n^2 is kept between forward and backward); out is the
 * forward's output (for sum_j P_ij dP_ij = dout_i . out_i). scratch:
 * fr_attn_scratch_floats(n) floats. */
void fr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *q, const float *k, const float *v, const fr_attn_shape *s,
                           uint32_t kv0, uint32_t kv1, float *scratch);

/* ---- cross-entropy -------------------------------------------------------- */

/* loss[t] = logsumexp(logits[t]) - logits[t][tgt[t]] for tgt[t] >= 0, 0 for
 * tgt[t] < 0 (masked). Sums are taken in double. */
void fr_xent_forward(float *loss, const float *logits, const int32_t *tgt, int64_t n, int64_t V);
/* dlogits[t] = scale * (softmax(logits[t]) - onehot(tgt[t])); rows with
 * tgt < 0 get 0. With softcap c > 0 the logits are c tanh(z / c) and the
 * gradient is taken for z. dlogits may alias logits. (Overwrites: logits are
 * a leaf.) */
void fr_xent_backward(float *dlogits, const float *logits, const int32_t *tgt, float scale,
                      float softcap, int64_t n, int64_t V);
/* x = c tanh(x / c) (gemma's final logit softcapping), in place. */
void fr_softcap_forward(float *x, float c, int64_t n);

#endif
