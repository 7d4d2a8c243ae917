/*
 * generic_quant.c - reference quantizers for the plain types and the
 * 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
 *
 * These reproduce llama.cpp's reference quantizer (the one llama-quantize
 * uses without an importance matrix) byte for byte, so a model quantized by
 * frugal is the same file llama.cpp would write. What pins the bytes (see
 * ../shared/quant/README.md): the scale is computed in float32 from the
 * block's extreme value, its inverse from that float32 value (not from the
 * rounded fp16 that is stored), and x*id and the following + 8.5 (or + 0.5,
 * + 16.5) are two separately rounded operations (the build uses
 * -ffp-contract=off; no fmaf here) before truncation toward zero.
 *
 * One deliberate difference: when the scale is too large for fp16 (block
 * values beyond ~65504 times the number of levels), llama.cpp stores an
 * infinite scale and the block decodes to Inf/NaN; we store the largest
 * finite half instead and clamp, so the block decodes finite. No real weight
 * comes near this.
 *
 * Rejected: rounding with lrintf/roundf in the 4/5-bit types. llama.cpp
 * truncates (x + 8.5), which differs from round-half-away at exact halves of
 * negative numbers, and we must give the same bytes.
 */
#include "tensor/kernels/bytes.h"
#include "tensor/kernels/generic.h"

#include <math.h>
#include <string.h>

#define FP16_MAX 65504.0f
/* Half of the way from 65504 to 65536: scales at or above round to Inf. */
#define FP16_INF_EDGE 65520.0f

/* Keeps a block scale (or Q4_1/Q5_1 minimum) storable as a finite half;
 * returns it unchanged in every case llama.cpp handles (|d| < 65520). */
static inline float finite_half(float d)
{
    if (fabsf(d) >= FP16_INF_EDGE)
        return copysignf(FP16_MAX, d);
    return d;
}

/* Truncation toward zero of v into [0, hi], without the undefined behaviour
 * of converting an out-of-range float: for in-range v this is exactly C's
 * (int) cast, which is what llama.cpp uses. */
static inline int trunc_clamp(float v, int hi)
{
    if (!(v > 0.0f)) /* also catches NaN */
        return 0;
    if (v >= (float)hi)
        return hi;
    return (int)v;
}

void fr_quant_f32_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        fr_wr32(p + 4 * i, u);
    }
}

void fr_quant_f16_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++)
        fr_wr16(p + 2 * i, fr_fp32_to_fp16(src[i]));
}

void fr_quant_bf16_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++)
        fr_wr16(p + 2 * i, fr_fp32_to_bf16(src[i]));
}

/* The signed value of largest magnitude in x[0..n) (the first on ties). */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* Nibble j of a 32-value block: j < 16 low nibble of qs[j], else high
 * nibble of qs[j - 16]. qs must start zeroed. */
static inline void put_nib(uint8_t *qs, int j, int q)
{
    if (j < 16)
        qs[j] |= (uint8_t)(q & 15);
    else
        qs[j - 16] |= (uint8_t)((q & 15) << 4);
}

/* Q4_0: d = m / -8 where m is the signed absmax, so m maps to level 0 and
 * the other sign gets 8 levels; q = min(15, trunc(x/d + 8.5)). */
void fr_quant_q4_0_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 18) {
        const float *x = src + i * FR_QK;
        float d = finite_half(signed_absmax(x, FR_QK) / -8.0f);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        fr_wr16(b, fr_fp32_to_fp16(d));
        memset(b + 2, 0, 16);
        for (int j = 0; j < FR_QK; j++) {
            float t = x[j] * id;
            put_nib(b + 2, j, trunc_clamp(t + 8.5f, 15));
        }
    }
}

/* Q4_1: 16 levels from the block minimum to its maximum. */
void fr_quant_q4_1_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 20) {
        const float *x = src + i * FR_QK;
        float mn, mx;
        min_max(x, FR_QK, &mn, &mx);
        mn = finite_half(mn);
        float d = finite_half((mx - mn) / 15.0f);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        fr_wr16(b, fr_fp32_to_fp16(d));
        fr_wr16(b + 2, fr_fp32_to_fp16(mn));
        memset(b + 4, 0, 16);
        for (int j = 0; j < FR_QK; j++) {
            float t = (x[j] - mn) * id;
            put_nib(b + 4, j, trunc_clamp(t + 0.5f, 15));
        }
    }
}

/* MXFP4 (llama.cpp's quantize_row_mxfp4_ref): the scale exponent is
 * floor(log2(absmax)) - 2 (so the largest value lands near level 4..6 of
 * E2M1's 6), e = that + 127 as E8M0 (0 for an all-zero block), and each
 * value takes the nearest level (the first on ties, in the table's order). */
static int fr_mxfp4_best(float x, float d)
{
    int best = 0;
    float err = fabsf((float)fr_mxfp4_levels[0] * d - x);
    for (int i = 1; i < 16; i++) {
        float e = fabsf((float)fr_mxfp4_levels[i] * d - x);
        if (e < err) {
            best = i;
            err = e;
        }
    }
    return best;
}

void fr_quant_mxfp4_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 17) {
        const float *x = src + i * FR_QK;
        float amax = 0.0f;
        for (int j = 0; j < FR_QK; j++)
            if (amax < fabsf(x[j]))
                amax = fabsf(x[j]);
        uint8_t e = amax > 0.0f ? (uint8_t)(floorf(log2f(amax)) - 2 + 127) : 0;
        float d = fr_e8m0_half(e);
        b[0] = e;
        for (int j = 0; j < FR_QK / 2; j++)
            b[1 + j] = (uint8_t)(fr_mxfp4_best(x[j], d) | fr_mxfp4_best(x[j + FR_QK / 2], d) << 4);
    }
}

/* Q5_0: as Q4_0 with 32 levels (d = m / -16, + 16.5). */
void fr_quant_q5_0_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 22) {
        const float *x = src + i * FR_QK;
        float d = finite_half(signed_absmax(x, FR_QK) / -16.0f);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        fr_wr16(b, fr_fp32_to_fp16(d));
        memset(b + 6, 0, 16);
        for (int j = 0; j < FR_QK; j++) {
            float t = x[j] * id;
            int q = trunc_clamp(t + 16.5f, 31);
            put_nib(b + 6, j, q);
            qh |= (uint32_t)(q >> 4) << j;
        }
        fr_wr32(b + 2, qh);
    }
}

/* Q5_1: as Q4_1 with 32 levels. */
void fr_quant_q5_1_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 24) {
        const float *x = src + i * FR_QK;
        float mn, mx;
        min_max(x, FR_QK, &mn, &mx);
        mn = finite_half(mn);
        float d = finite_half((mx - mn) / 31.0f);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        fr_wr16(b, fr_fp32_to_fp16(d));
        fr_wr16(b + 2, fr_fp32_to_fp16(mn));
        memset(b + 8, 0, 16);
        for (int j = 0; j < FR_QK; j++) {
            float t = (x[j] - mn) * id;
            int q = trunc_clamp(t + 0.5f, 31);
            put_nib(b + 8, j, q);
            qh |= (uint32_t)(q >> 4) << j;
        }
        fr_wr32(b + 4, qh);
    }
}

/* Q8_0: d = absmax / 127, q = round-half-away(x / d). */
void fr_quant_q8_0_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 34) {
        const float *x = src + i * FR_QK;
        float amax = 0.0f;
        for (int j = 0; j < FR_QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = finite_half(amax / 127.0f);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        fr_wr16(b, fr_fp32_to_fp16(d));
        for (int j = 0; j < FR_QK; j++) {
            float q = roundf(x[j] * id);
            if (q > 127.0f)
                q = 127.0f;
            if (q < -127.0f)
                q = -127.0f;
            b[2 + j] = (uint8_t)(int8_t)q;
        }
    }
}
