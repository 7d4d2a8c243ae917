/*
 * ops_attn.c - causal grouped-query attention over one sequence, forward and
 * backward (see ops.h).
 *
 * Forward follows forward.c exactly (score = q.k left to right, divided by
 * sqrtf(hd); two-pass softmax; out accumulated over positions in order).
 *
 * Backward recomputes each query's probability row instead of keeping the
 * n x n matrices of every head from the forward: the recomputation costs one
 * more q.k pass, while keeping them would cost n_head * n^2 floats per layer
 * (512 MiB at 32 heads and 2048 tokens). With P the row, dP_j = dout.v_j and
 * D = sum_j P_j dP_j = dout.out (the forward's output), the softmax gradient
 * is dS_j = P_j (dP_j - D); then dq += dS_j k_j / sqrt(hd),
 * dk_j += dS_j q / sqrt(hd), dv_j += P_j dout.
 *
 * Work is split by kv head: a call owns the dk/dv rows of its kv heads and
 * the dq rows of their query heads, so concurrent calls never write the same
 * value and the order of accumulation is fixed.
 */
#include "tune/ops.h"

#include <math.h>
#include <string.h>

/* Probabilities of query row q against keys 0..i of kv head column kc. */
static void fr_attn_probs(float *att, const float *q, const float *k, int64_t i, int64_t kv_row,
                          uint32_t hd, float scale)
{
    for (int64_t p = 0; p <= i; p++) {
        const float *kp = k + p * kv_row;
        float score = 0.0f;
        for (uint32_t d = 0; d < hd; d++)
            score += q[d] * kp[d];
        att[p] = score / scale;
    }
    float mx = att[0];
    for (int64_t p = 1; p <= i; p++)
        if (att[p] > mx)
            mx = att[p];
    float sum = 0.0f;
    for (int64_t p = 0; p <= i; p++) {
        att[p] = expf(att[p] - mx);
        sum += att[p];
    }
    for (int64_t p = 0; p <= i; p++)
        att[p] /= sum;
}

void fr_attention_forward(float *out, const float *q, const float *k, const float *v,
                          const fr_attn_shape *s, uint32_t kv0, uint32_t kv1, float *att)
{
    uint32_t hd = s->hd, grp = s->n_head / s->n_head_kv;
    int64_t q_row = (int64_t)s->n_head * hd, kv_row = (int64_t)s->n_head_kv * hd;
    float scale = sqrtf((float)hd);
    for (uint32_t kvh = kv0; kvh < kv1; kvh++)
        for (uint32_t h = kvh * grp; h < (kvh + 1) * grp; h++)
            for (int64_t i = 0; i < s->n; i++) {
                const float *qi = q + i * q_row + (int64_t)h * hd;
                const float *kc = k + (int64_t)kvh * hd, *vc = v + (int64_t)kvh * hd;
                float *o = out + i * q_row + (int64_t)h * hd;
                fr_attn_probs(att, qi, kc, i, kv_row, hd, scale);
                memset(o, 0, hd * sizeof(float));
                for (int64_t p = 0; p <= i; p++) {
                    const float *vp = vc + p * kv_row;
                    float a = att[p];
                    for (uint32_t d = 0; d < hd; d++)
                        o[d] += a * vp[d];
                }
            }
}

void fr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *q, const float *k, const float *v, const fr_attn_shape *s,
                           uint32_t kv0, uint32_t kv1, float *att)
{
    uint32_t hd = s->hd, grp = s->n_head / s->n_head_kv;
    int64_t q_row = (int64_t)s->n_head * hd, kv_row = (int64_t)s->n_head_kv * hd;
    float scale = sqrtf((float)hd);
    for (uint32_t kvh = kv0; kvh < kv1; kvh++)
        for (uint32_t h = kvh * grp; h < (kvh + 1) * grp; h++)
            for (int64_t i = 0; i < s->n; i++) {
                int64_t qo = i * q_row + (int64_t)h * hd;
                const float *qi = q + qo, *doi = dout + qo, *oi = out + qo;
                float *dqi = dq + qo;
                fr_attn_probs(att, qi, k + (int64_t)kvh * hd, i, kv_row, hd, scale);
                double D = 0.0;
                for (uint32_t d = 0; d < hd; d++)
                    D += (double)doi[d] * (double)oi[d];
                for (int64_t p = 0; p <= i; p++) {
                    int64_t ko = p * kv_row + (int64_t)kvh * hd;
                    const float *vp = v + ko, *kp = k + ko;
                    float *dkp = dk + ko, *dvp = dv + ko;
                    float dP = 0.0f;
                    for (uint32_t d = 0; d < hd; d++)
                        dP += doi[d] * vp[d];
                    float P = att[p];
                    float dS = (float)((double)P * ((double)dP - D)) / scale;
                    for (uint32_t d = 0; d < hd; d++) {
                        dvp[d] += P * doi[d];
                        dqi[d] += dS * kp[d];
                        dkp[d] += dS * qi[d];
                    }
                }
            }
}
