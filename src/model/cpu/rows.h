/*
 * rows.h - the row operations of a decoder layer as <op>_forward /
 * <op>_backward pairs (the llm.c way), on float32 rows: the one definition
 * of RMSNorm, rope and the gated activations that the inference backend
 * (cpu_ops.c) and LoRA training (src/tune) both call.
 *
 * Conventions:
 *  - activations are row-major [n][d]: n tokens (rows), d values each;
 *  - a backward ADDS its input gradients into dx (callers zero them first),
 *    so that a tensor used twice (the residual stream) gathers both;
 *  - arithmetic is llama2.c's run.c where it has one (left-to-right float
 *    sums, 1/sqrtf, the rope angle formula), so greedy tokens agree with
 *    its recorded outputs;
 *  - single-threaded over the rows given; callers split rows over threads.
 */
#ifndef FR_MODEL_CPU_ROWS_H
#define FR_MODEL_CPU_ROWS_H

#include <frugal/model.h>

#include "model/arch/arch.h"
#include "tensor/kernels/kernels.h"

/* ---- RMSNorm: y = w * x / sqrt(mean(x^2) + eps) -------------------------- */

/* rstd[t] = 1 / sqrt(mean(x[t]^2) + eps) is saved for backward (may be
 * NULL). y may be x. */
void fr_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int64_t n, int64_t d,
                        float eps);
/* dx += dL/dx; dw (may be NULL) += dL/dw. rstd from the forward. */
void fr_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         const float *rstd, int64_t n, int64_t d);

/* ---- rope ---------------------------------------------------------------- */

/* Angle table for n positions: cs[t][2i], cs[t][2i+1] = mscale * cos, mscale
 * * sin of pos[t] * freq[i], i < n_freq (freq from fr_rope_freqs). */
void fr_rope_table(float *cs, const float *freq, uint32_t n_freq, float mscale, const int32_t *pos,
                   int64_t n);
/* Rotates, in place, the first 2 n_freq dims of each of n_heads head vectors
 * of length hd in every row of x [n][n_heads*hd] by row t's angles. normal:
 * pairs (2i, 2i+1); neox: (i, i + n_freq). */
void fr_rope_forward(float *x, const float *cs, int64_t n, uint32_t n_heads, uint32_t hd,
                     uint32_t n_freq, fr_rope_style style);
/* The transpose of the rotation (in place): the gradient of forward (equal
 * to the inverse when mscale is 1). */
void fr_rope_backward(float *dx, const float *cs, int64_t n, uint32_t n_heads, uint32_t hd,
                      uint32_t n_freq, fr_rope_style style);

/* ---- gated activations: out = act(g) * u --------------------------------- */

/* g = act(g) * u in place (SiLU through the kernel set ks, its reference in
 * the generic set; the others in plain C). */
void fr_glu_forward(const fr_kernel_set *ks, float *g, const float *u, int64_t n, fr_ffn_act act);
/* dg += dout * d(out)/dg, du += dout * d(out)/du, g and u the forward's
 * inputs. */
void fr_glu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                     int64_t n, fr_ffn_act act);

/* ---- mixture-of-experts routing -------------------------------------------- */

/* For each of n rows of router logits [n][n_exp]: the k largest (largest
 * first, the lower index on ties) into sel [n][k] and their weights into w
 * [n][k]. Both gatings give the softmax of the chosen logits (Qwen3's
 * softmax over all experts renormalized over the chosen is the same
 * numbers), so the backward is the softmax's over the chosen. */
void fr_moe_route(const float *logits, int64_t n, uint32_t n_exp, uint32_t k,
                  fr_moe_gating gating, int32_t *sel, float *w);
/* dlogits [n][n_exp] = the gradient through the chosen weights: for row t,
 * dlogits[sel] = w (dw - sum_j w_j dw_j), 0 elsewhere. */
void fr_moe_route_backward(float *dlogits, const float *dw, const int32_t *sel, const float *w,
                           int64_t n, uint32_t n_exp, uint32_t k);

/* ---- residual: y = a + b -------------------------------------------------- */

void fr_residual_forward(float *y, const float *a, const float *b, int64_t n);
/* da += dy; db += dy (either may be NULL). */
void fr_residual_backward(float *da, float *db, const float *dy, int64_t n);

#endif
