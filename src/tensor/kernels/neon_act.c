/*
 * neon_act.c - Advanced SIMD activation quantizers (Q8B, Q8K), attention
 * rows (dot / axpy over F32 and F16 cache entries) and SwiGLU with a vector
 * e^x, for the three ARM sets (neon_util.h).
 *
 * The quantizers give the generic bytes (kernels.h): exact block maximum,
 * d = amax / 127 and 1 / d as single IEEE operations, FCVTNS rounding to
 * nearest even like lrintf; a block holding NaN or infinity gets d = NaN
 * and zero quants. e^x is the same Cephes polynomial as the x86 sets.
 */
#include "tensor/kernels/neon_util.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <float.h>
#include <frugal/tensor.h>
#include <math.h>
#include <string.h>

/* Quantizes nv values (a multiple of 16); returns d; isum16[g] = sum of
 * quants 16g .. 16g+15. */
static inline float fr_q8_block_n(const float *x, int nv, int8_t *q, int32_t *isum16)
{
    const float32x4_t big = vdupq_n_f32(FLT_MAX);
    float32x4_t amax = vdupq_n_f32(0.0f);
    uint32x4_t ok = vdupq_n_u32(~0u);
    for (int i = 0; i < nv; i += 4) {
        float32x4_t a = vabsq_f32(vld1q_f32(x + i));
        ok = vandq_u32(ok, vcleq_f32(a, big)); /* false for NaN and inf */
        amax = vmaxq_f32(amax, a);
    }
    if (vminvq_u32(ok) == 0) {
        memset(q, 0, (size_t)nv);
        for (int g = 0; g < nv / 16; g++)
            isum16[g] = 0;
        return NAN;
    }
    float d = vmaxvq_f32(amax) / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < nv; i += 16) {
        int32x4_t v0 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i), id));
        int32x4_t v1 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 4), id));
        int32x4_t v2 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 8), id));
        int32x4_t v3 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 12), id));
        int16x8_t h0 = vcombine_s16(vmovn_s32(v0), vmovn_s32(v1));
        int16x8_t h1 = vcombine_s16(vmovn_s32(v2), vmovn_s32(v3));
        vst1q_s8(q + i, vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
        isum16[i / 16] = vaddvq_s32(vaddq_s32(vaddq_s32(v0, v1), vaddq_s32(v2, v3)));
    }
    return d;
}

void fr_quant_q8b_neon(const float *x, int64_t n, int8_t *qs, float *d, float *s)
{
    for (int64_t b = 0; b < n / FR_QA_BLK; b++) {
        int32_t is[2];
        d[b] = fr_q8_block_n(x + b * FR_QA_BLK, FR_QA_BLK, qs + b * FR_QA_BLK, is);
        s[b] = d[b] * (float)(is[0] + is[1]);
    }
}

void fr_quant_q8k_neon(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums)
{
    for (int64_t b = 0; b < n / FR_QK_BLK; b++) {
        int32_t is[16];
        d[b] = fr_q8_block_n(x + b * FR_QK_BLK, FR_QK_BLK, qs + b * FR_QK_BLK, is);
        for (int g = 0; g < 16; g++)
            bsums[b * 16 + g] = (int16_t)is[g];
    }
}

/* ---- attention rows --------------------------------------------------- */

static inline float32x4_t fr_ld_f16x4(const uint16_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

float fr_dot_f32_neon(const float *q, const float *k, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), vld1q_f32(k + i));
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), vld1q_f32(k + i + 4));
        a2 = vfmaq_f32(a2, vld1q_f32(q + i + 8), vld1q_f32(k + i + 8));
        a3 = vfmaq_f32(a3, vld1q_f32(q + i + 12), vld1q_f32(k + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), vld1q_f32(k + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    for (; i < n; i++)
        s += q[i] * k[i];
    return s;
}

float fr_dot_f16_neon(const float *q, const uint16_t *k, int64_t n)
{
    float32x4_t a0 = vdupq_n_f32(0), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), fr_ld_f16x4(k + i));
        a1 = vfmaq_f32(a1, vld1q_f32(q + i + 4), fr_ld_f16x4(k + i + 4));
    }
    for (; i + 4 <= n; i += 4)
        a0 = vfmaq_f32(a0, vld1q_f32(q + i), fr_ld_f16x4(k + i));
    float s = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++)
        s += q[i] * fr_fp16_to_fp32(k[i]);
    return s;
}

void fr_axpy_f32_neon(float *y, float a, const float *v, int64_t n)
{
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, vld1q_f32(v + i)));
    for (; i < n; i++)
        y[i] += a * v[i];
}

void fr_axpy_f16_neon(float *y, float a, const uint16_t *v, int64_t n)
{
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, fr_ld_f16x4(v + i)));
    for (; i < n; i++)
        y[i] += a * fr_fp16_to_fp32(v[i]);
}

/* ---- SwiGLU ------------------------------------------------------------ */

/* e^x within 2 ulp: Cephes' expf as in avx2_attn.c (range reduction by
 * ln 2 in two parts, degree-7 polynomial), x clamped to [-87.3, 88]. */
static inline float32x4_t fr_exp_f32x4(float32x4_t x)
{
    x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(88.0f)), vdupq_n_f32(-87.3f));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    float32x4_t y = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(y, vreinterpretq_f32_s32(e));
}

static inline float32x4_t fr_swiglu_f32x4(float32x4_t x, float32x4_t u)
{
    float32x4_t e = fr_exp_f32x4(vnegq_f32(x));
    return vdivq_f32(vmulq_f32(x, u), vaddq_f32(vdupq_n_f32(1.0f), e));
}

void fr_swiglu_neon(float *g, const float *u, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(g + i, fr_swiglu_f32x4(vld1q_f32(g + i), vld1q_f32(u + i)));
    if (i < n) { /* the tail through a zero-padded copy */
        float xb[4] = {0}, ub[4] = {0};
        memcpy(xb, g + i, (size_t)(n - i) * sizeof(float));
        memcpy(ub, u + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(xb, fr_swiglu_f32x4(vld1q_f32(xb), vld1q_f32(ub)));
        memcpy(g + i, xb, (size_t)(n - i) * sizeof(float));
    }
}
#endif
