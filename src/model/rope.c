/*
 * rope.c - rope's per-pair frequencies and magnitude, for every variant
 * the supported architectures use (the one definition: inference and
 * training both build their angle tables from it).
 *
 * Pair i of n_rot rotated dimensions turns by pos * freq[i], and cos and
 * sin are multiplied by mscale (rows.h fr_rope_table), with
 *   base_i  = 1 / base^(2i / n_rot)
 *   plain / linear (freq_scale s = 1 / factor), divided by a factor tensor
 *     f_i when the model has one (Llama 3.1's rope_freqs, LongRoPE's long
 *     or short factors):   freq[i] = base_i * s / f_i
 *   YaRN: the interpolated and the original frequency mixed by a ramp over
 *     the pairs between the correction dimensions (llama.cpp's
 *     ggml_rope_yarn_corr_dims, beta_fast 32, beta_slow 1):
 *       r_i = 1 - clamp((i - low) / max(0.001, high - low), 0, 1)
 *       freq[i] = (base_i / f_i) (s (1 - r_i) + r_i)
 *     and mscale = 1 + 0.1 ln(1 / s) (times rope.scaling.attn_factor).
 * Long or short LongRoPE factors are chosen as llama.cpp chooses them: long
 * when the context per sequence exceeds the original context length.
 * Sliding-window layers have their own base and scale (gemma3: 10000, 1).
 *
 * The plain formula is llama2.c's (1 / powf(base, 2i / n_rot)), so its
 * checkpoints reproduce exactly; llama.cpp accumulates base^(-2/n_rot) by
 * repeated products, which differs in the last bits.
 */
#include "model/model_impl.h"

#include <math.h>

static float fr_yarn_corr_dim(uint32_t n_dims, uint32_t n_ctx_orig, float n_rot, float base)
{
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

void fr_rope_freqs(const fr_model *m, bool swa, uint32_t n_ctx, float *freq, float *mscale)
{
    const fr_hparams *hp = &m->hp;
    float base = swa ? hp->rope_base_swa : hp->rope_base;
    float fs = swa ? hp->rope_freq_scale_swa : hp->rope_freq_scale;
    const float *ff = m->rope_freqs;
    if (!ff && m->rope_long && n_ctx > hp->n_ctx_orig)
        ff = m->rope_long;
    else if (!ff)
        ff = m->rope_short;
    uint32_t half = hp->n_rot / 2;
    bool yarn = hp->rope_scaling == FR_ROPE_SCALING_YARN;
    float low = 0, high = 0;
    if (yarn) {
        low = floorf(fr_yarn_corr_dim(hp->n_rot, hp->n_ctx_orig, 32.0f, base));
        high = ceilf(fr_yarn_corr_dim(hp->n_rot, hp->n_ctx_orig, 1.0f, base));
        low = low > 0 ? low : 0;
        high = high < (float)(hp->n_rot - 1) ? high : (float)(hp->n_rot - 1);
    }
    for (uint32_t i = 0; i < half; i++) {
        float f = 1.0f / powf(base, (float)(2 * i) / (float)hp->n_rot);
        if (!yarn) {
            f *= fs;
            if (ff)
                f /= ff[i];
        } else {
            if (ff)
                f /= ff[i];
            float y = ((float)i - low) / fmaxf(0.001f, high - low);
            float ramp = 1.0f - fminf(1.0f, fmaxf(0.0f, y));
            f = fs * f * (1.0f - ramp) + f * ramp;
        }
        freq[i] = f;
    }
    float ms = 1.0f;
    if (yarn && fs < 1.0f) {
        /* llama.cpp: cparams.yarn_attn_factor = get_mscale(1/s) / (1 + 0.1
         * ln(1/s)), then rope_yarn multiplies by 1 + 0.1 ln(1/s) again */
        float factor = 1.0f / fs;
        ms = (0.1f * logf(factor) + 1.0f) * (1.0f / (1.0f + 0.1f * logf(factor)));
        ms *= hp->rope_attn_factor;
        ms *= 1.0f + 0.1f * logf(1.0f / fs);
    } else {
        ms = hp->rope_attn_factor;
    }
    *mscale = ms;
}
