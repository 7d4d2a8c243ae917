/*
 * ops_rope.c - rotary position embedding, forward and backward.
 *
 * Both styles: "normal" rotates adjacent pairs (x[2i], x[2i+1]) (llama
 * GGUFs), "neox" rotates halves (x[i], x[i + n_rot/2]) (qwen2, qwen3). The
 * angle of pair i at position p is p * base^(-2i/n_rot) * freq_scale /
 * freq_factor[i], computed with forward.c's float formula so the training
 * forward matches inference. The table is built once per batch and shared
 * by every layer (angles do not depend on the layer).
 *
 * The rotation is orthogonal, so the backward is the rotation by -angle.
 */
#include "tune/ops.h"

#include <math.h>

void fr_rope_table(float *cs, float *sn, const int32_t *pos, int64_t n, const fr_hparams *hp,
                   const float *freq_factors)
{
    uint32_t half = hp->n_rot / 2;
    for (int64_t t = 0; t < n; t++)
        for (uint32_t i = 0; i < half; i++) {
            float freq = 1.0f / powf(hp->rope_base, (float)(2 * i) / (float)hp->n_rot);
            freq *= hp->rope_freq_scale;
            if (freq_factors)
                freq /= freq_factors[i];
            float val = (float)pos[t] * freq;
            cs[t * half + i] = cosf(val);
            sn[t * half + i] = sinf(val);
        }
}

static void fr_rope_rotate(float *x, const float *cs, const float *sn, int64_t n,
                           uint32_t n_heads, uint32_t hd, uint32_t n_rot, fr_rope_style style,
                           float sign)
{
    uint32_t half = n_rot / 2;
    for (int64_t t = 0; t < n; t++) {
        const float *c = cs + t * half, *s = sn + t * half;
        for (uint32_t h = 0; h < n_heads; h++) {
            float *v = x + (t * n_heads + h) * (int64_t)hd;
            for (uint32_t i = 0; i < half; i++) {
                uint32_t a = style == FR_ROPE_NEOX ? i : 2 * i;
                uint32_t b = style == FR_ROPE_NEOX ? i + half : 2 * i + 1;
                float fcr = c[i], fci = sign * s[i];
                float v0 = v[a], v1 = v[b];
                v[a] = v0 * fcr - v1 * fci;
                v[b] = v0 * fci + v1 * fcr;
            }
        }
    }
}

void fr_rope_forward(float *x, const float *cs, const float *sn, int64_t n, uint32_t n_heads,
                     uint32_t hd, uint32_t n_rot, fr_rope_style style)
{
    fr_rope_rotate(x, cs, sn, n, n_heads, hd, n_rot, style, 1.0f);
}

void fr_rope_backward(float *dx, const float *cs, const float *sn, int64_t n, uint32_t n_heads,
                      uint32_t hd, uint32_t n_rot, fr_rope_style style)
{
    fr_rope_rotate(dx, cs, sn, n, n_heads, hd, n_rot, style, -1.0f);
}
