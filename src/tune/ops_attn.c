/*
 * ops_attn.c - causal grouped-query attention over one sequence, forward and
 * backward (see ops.h).
 *
 * Queries are taken in blocks of FR_ATTN_BLOCK rows; for a block ending at
 * row i1 only keys 0..i1-1 take part, so the work is about half of the full
 * square. Within a block the products are matrix products (gemm.h kernels,
 * vectorized): S = Q K^T / sqrt(hd), P = causal softmax of S by rows
 * (two-pass, max taken out), O = P V.
 *
 * Backward recomputes each block's P instead of keeping the n x n matrices
 * of every head from the forward: the recomputation costs one more Q K^T,
 * while keeping them would cost n_head * n^2 floats per layer (512 MiB at
 * 32 heads and 2048 tokens). With dP = dO V^T and D_i = dO_i . O_i (the
 * forward's output; = sum_j P_ij dP_ij), the softmax gradient is
 * dS = P (dP - D) / sqrt(hd); then dQ += dS K, dK += dS^T Q, dV += P^T dO.
 *
 * Work is split by kv head: a call owns the dK/dV rows of its kv heads and
 * the dQ rows of their query heads, so concurrent calls never write the same
 * value and the order of accumulation is fixed.
 *
 * The training forward therefore agrees with the inference engine's
 * attention (a dot product per key, left to right) to float rounding, not
 * bit for bit. Rejected: keeping the per-key loop (3x slower at ctx 256 on
 * a Qwen2.5-0.5B shape, where attention was 30% of a training step).
 */
#include "tune/ops.h"

#include <math.h>
#include <string.h>

#include "tune/gemm.h"

/* Softmax of rows [i0, i0 + m) of S (row r holds keys 0..i0+r; with a
 * window only the last `window` of them; the rest is set to 0), in place; a
 * head's sink logit joins each row's maximum and sum. S has row stride ld. */
static void fr_causal_softmax(float *S, int64_t ld, int64_t i0, int64_t m, uint32_t window,
                              const float *sink)
{
    for (int64_t r = 0; r < m; r++) {
        float *s = S + r * ld;
        int64_t last = i0 + r; /* inclusive */
        int64_t first = window && last >= (int64_t)window ? last - (int64_t)window + 1 : 0;
        float mx = s[first];
        for (int64_t p = first + 1; p <= last; p++)
            if (s[p] > mx)
                mx = s[p];
        if (sink && *sink > mx)
            mx = *sink;
        float sum = 0.0f;
        for (int64_t p = first; p <= last; p++) {
            s[p] = expf(s[p] - mx);
            sum += s[p];
        }
        if (sink)
            sum += expf(*sink - mx);
        float inv = 1.0f / sum;
        for (int64_t p = first; p <= last; p++)
            s[p] *= inv;
        for (int64_t p = 0; p < first; p++)
            s[p] = 0.0f;
        for (int64_t p = last + 1; p < i0 + m; p++)
            s[p] = 0.0f;
    }
}

static float fr_attn_scale(const fr_attn_shape *s)
{
    return s->scale > 0 ? s->scale : 1.0f / sqrtf((float)s->hd);
}

/* P for query rows [i0, i1) of head h against keys [0, i1), into P (row
 * stride i1). */
static void fr_attn_block_probs(float *P, const float *q, const float *k, int64_t i0, int64_t i1,
                                uint32_t h, uint32_t kvh, const fr_attn_shape *s)
{
    uint32_t hd = s->hd;
    int64_t q_row = (int64_t)s->n_head * hd, kv_row = (int64_t)s->n_head_kv * hd;
    fr_gemm_nt_block(i1 - i0, i1, hd, fr_attn_scale(s), q + i0 * q_row + (int64_t)h * hd, q_row,
                     k + (int64_t)kvh * hd, kv_row, false, P, i1);
    fr_causal_softmax(P, i1, i0, i1 - i0, s->window, s->sinks ? &s->sinks[h] : NULL);
}

void fr_attention_forward(float *out, const float *q, const float *k, const float *v,
                          const fr_attn_shape *s, uint32_t kv0, uint32_t kv1, float *scratch)
{
    uint32_t hd = s->hd, grp = s->n_head / s->n_head_kv;
    int64_t q_row = (int64_t)s->n_head * hd, kv_row = (int64_t)s->n_head_kv * hd;
    for (uint32_t kvh = kv0; kvh < kv1; kvh++)
        for (uint32_t h = kvh * grp; h < (kvh + 1) * grp; h++)
            for (int64_t i0 = 0; i0 < s->n; i0 += FR_ATTN_BLOCK) {
                int64_t i1 = i0 + FR_ATTN_BLOCK < s->n ? i0 + FR_ATTN_BLOCK : s->n;
                fr_attn_block_probs(scratch, q, k, i0, i1, h, kvh, s);
                fr_gemm_nn_block(i1 - i0, hd, i1, 1.0f, scratch, i1, v + (int64_t)kvh * hd,
                                 kv_row, false, out + i0 * q_row + (int64_t)h * hd, q_row);
            }
}

void fr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *q, const float *k, const float *v, const fr_attn_shape *s,
                           uint32_t kv0, uint32_t kv1, float *scratch)
{
    uint32_t hd = s->hd, grp = s->n_head / s->n_head_kv;
    int64_t q_row = (int64_t)s->n_head * hd, kv_row = (int64_t)s->n_head_kv * hd;
    float rscale = fr_attn_scale(s);
    float *P = scratch, *dS = scratch + FR_ATTN_BLOCK * s->n;
    for (uint32_t kvh = kv0; kvh < kv1; kvh++)
        for (uint32_t h = kvh * grp; h < (kvh + 1) * grp; h++)
            for (int64_t i0 = 0; i0 < s->n; i0 += FR_ATTN_BLOCK) {
                int64_t i1 = i0 + FR_ATTN_BLOCK < s->n ? i0 + FR_ATTN_BLOCK : s->n, m = i1 - i0;
                int64_t qo = i0 * q_row + (int64_t)h * hd, ko = (int64_t)kvh * hd;
                fr_attn_block_probs(P, q, k, i0, i1, h, kvh, s);
                /* dP = dO V^T */
                fr_gemm_nt_block(m, i1, hd, 1.0f, dout + qo, q_row, v + ko, kv_row, false, dS, i1);
                for (int64_t r = 0; r < m; r++) {
                    const float *dor = dout + qo + r * q_row, *orow = out + qo + r * q_row;
                    double D = 0.0;
                    for (uint32_t d = 0; d < hd; d++)
                        D += (double)dor[d] * (double)orow[d];
                    float *dsr = dS + r * i1;
                    const float *pr = P + r * i1;
                    for (int64_t p = 0; p < i1; p++)
                        dsr[p] = (float)((double)pr[p] * ((double)dsr[p] - D)) * rscale;
                }
                /* dQ += dS K; dK += dS^T Q; dV += P^T dO */
                fr_gemm_nn_block(m, hd, i1, 1.0f, dS, i1, k + ko, kv_row, true, dq + qo, q_row);
                fr_gemm_tn_block(i1, hd, m, 1.0f, dS, i1, q + qo, q_row, true, dk + ko, kv_row);
                fr_gemm_tn_block(i1, hd, m, 1.0f, P, i1, dout + qo, q_row, true, dv + ko, kv_row);
            }
}
