/*
 * ops.h - the operations of a llama-style decoder as explicit
 * <op>_forward / <op>_backward pairs (the llm.c way), on float32 rows.
 *
 * Conventions:
 *  - activations are row-major [n][d]: n tokens (rows), d values each;
 *  - a backward ADDS its input gradients into dx (callers zero them first),
 *    so that a tensor used twice (the residual stream) gathers both;
 *  - forward arithmetic follows src/model/forward.c (same formulas; the
 *    same float order everywhere but attention, which uses blocked matrix
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

#include "tensor/matmul.h"

/* ---- embedding ----------------------------------------------------------- */

/* x[t] = row tok[t] of the (stored, possibly quantized) table emb. */
void fr_embed_forward(float *x, const fr_weight *emb, const int32_t *tok, int64_t n);
/* demb[tok[t]] += dx[t]; demb is [n_vocab][d]. The base is frozen, so
 * training stops the chain at x; this completes the pair for tests. */
void fr_embed_backward(float *demb, const float *dx, const int32_t *tok, int64_t n, int64_t d);

/* ---- RMSNorm: y = w * x / sqrt(mean(x^2) + eps) -------------------------- */

/* rstd[t] = 1 / sqrt(mean(x[t]^2) + eps) is saved for backward (may be NULL). */
void fr_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int64_t n,
                        int64_t d, float eps);
/* dx += dL/dx; dw (may be NULL) += dL/dw. rstd from the forward. */
void fr_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         const float *rstd, int64_t n, int64_t d);

/* ---- RoPE ---------------------------------------------------------------- */

/* Angle table for n positions: cs, sn are [n][n_rot/2]. */
void fr_rope_table(float *cs, float *sn, const int32_t *pos, int64_t n, const fr_hparams *hp,
                   const float *freq_factors);
/* Rotates, in place, the first n_rot dims of each of n_heads head vectors of
 * length hd in every row of x [n][n_heads*hd]. */
void fr_rope_forward(float *x, const float *cs, const float *sn, int64_t n, uint32_t n_heads,
                     uint32_t hd, uint32_t n_rot, fr_rope_style style);
/* The rotation is orthogonal: the gradient is rotated back (in place). */
void fr_rope_backward(float *dx, const float *cs, const float *sn, int64_t n, uint32_t n_heads,
                      uint32_t hd, uint32_t n_rot, fr_rope_style style);

/* ---- causal grouped-query attention over one sequence --------------------- */

/* Query rows per block; scratch holds two blocks of scores. */
#define FR_ATTN_BLOCK 64
static inline int64_t fr_attn_scratch_floats(int64_t n) { return 2 * FR_ATTN_BLOCK * n; }

typedef struct fr_attn_shape {
    int64_t n;      /* tokens in the sequence */
    uint32_t n_head, n_head_kv, hd;
} fr_attn_shape;

/* out[i, head h] = sum_{j<=i} softmax_j(q_i.k_j / sqrt(hd)) v_j, with kv head
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

/* ---- SwiGLU: out = silu(g) * u ------------------------------------------- */

void fr_swiglu_forward(float *out, const float *g, const float *u, int64_t n);
void fr_swiglu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                        int64_t n);

/* ---- residual: y = a + b -------------------------------------------------- */

void fr_residual_forward(float *y, const float *a, const float *b, int64_t n);
/* da += dy; db += dy (either may be NULL). */
void fr_residual_backward(float *da, float *db, const float *dy, int64_t n);

/* ---- cross-entropy -------------------------------------------------------- */

/* loss[t] = logsumexp(logits[t]) - logits[t][tgt[t]] for tgt[t] >= 0, 0 for
 * tgt[t] < 0 (masked). Sums are taken in double. */
void fr_xent_forward(float *loss, const float *logits, const int32_t *tgt, int64_t n, int64_t V);
/* dlogits[t] = scale * (softmax(logits[t]) - onehot(tgt[t])); rows with
 * tgt < 0 get 0. dlogits may alias logits. (Overwrites: logits are a leaf.) */
void fr_xent_backward(float *dlogits, const float *logits, const int32_t *tgt, float scale,
                      int64_t n, int64_t V);

#endif
