/*
 * generic_dequant.c - reference dequantizers: stored blocks -> float32.
 *
 * Bit-exact with llama.cpp: in every format the products (d x sub-block
 * scale x quant, dmin x min) are exact in float32, and the single rounding is
 * the final addition of the offset, done here exactly as ggml does it
 * (x = (d*s)*q - dmin*m). The expected values in ../shared/quant pin this.
 *
 * Byte offsets inside each block are spelled out as constants next to the
 * decoder; value-to-bit placement of the K types is in layout.h.
 */
#include "tensor/kernels/bytes.h"
#include "tensor/kernels/generic.h"
#include "tensor/kernels/layout.h"

#include <string.h>

void fr_dequant_f32_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = fr_rd32(p + 4 * i);
        memcpy(&dst[i], &u, sizeof u);
    }
}

void fr_dequant_f16_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = fr_fp16_to_fp32(fr_rd16(p + 2 * i));
}

void fr_dequant_bf16_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = fr_bf16_to_fp32(fr_rd16(p + 2 * i));
}

/* ---- 32-value blocks. Nibbles: value j (j < 16) is the low nibble of
 * qs[j], value j + 16 the high nibble. Q5 types add a 32-bit little-endian
 * qh whose bit j is the fifth bit of value j. */

static inline int nib(const uint8_t *qs, int j)
{
    return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);
}

/* Q4_0, 18 bytes: d f16 @0, qs[16] @2. x = (q - 8) * d */
void fr_dequant_q4_0_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 18) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        for (int j = 0; j < FR_QK; j++)
            dst[i * FR_QK + j] = (float)(nib(b + 2, j) - 8) * d;
    }
}

/* MXFP4, 17 bytes: e (E8M0) @0, qs[16] @1 (nibbles as Q4_0). The nibble
 * is an E2M1 number: sign, 2 exponent bits, 1 mantissa bit, i.e. 0, 0.5,
 * 1, 1.5, 2, 3, 4, 6 and their negatives; ggml stores them doubled as
 * integers and halves the scale instead: x = levels[q] * 2^(e - 128). */
const int8_t fr_mxfp4_levels[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

float fr_e8m0_half(uint8_t e)
{
    /* 2^(e - 128): for e < 2 a denormal (0x00200000 << e), otherwise the
     * normal float with exponent field e - 1 */
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void fr_dequant_mxfp4_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 17) {
        float d = fr_e8m0_half(b[0]);
        for (int j = 0; j < FR_QK; j++)
            dst[i * FR_QK + j] = (float)fr_mxfp4_levels[nib(b + 1, j)] * d;
    }
}

/* Q4_1, 20 bytes: d f16 @0, m f16 @2, qs[16] @4. x = q * d + m */
void fr_dequant_q4_1_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 20) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        float m = fr_fp16_to_fp32(fr_rd16(b + 2));
        for (int j = 0; j < FR_QK; j++)
            dst[i * FR_QK + j] = (float)nib(b + 4, j) * d + m;
    }
}

/* Q5_0, 22 bytes: d f16 @0, qh u32 @2, qs[16] @6. x = (q - 16) * d */
void fr_dequant_q5_0_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 22) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        uint32_t qh = fr_rd32(b + 2);
        for (int j = 0; j < FR_QK; j++) {
            int q = nib(b + 6, j) | (int)(((qh >> j) & 1u) << 4);
            dst[i * FR_QK + j] = (float)(q - 16) * d;
        }
    }
}

/* Q5_1, 24 bytes: d f16 @0, m f16 @2, qh u32 @4, qs[16] @8. x = q * d + m */
void fr_dequant_q5_1_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 24) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        float m = fr_fp16_to_fp32(fr_rd16(b + 2));
        uint32_t qh = fr_rd32(b + 4);
        for (int j = 0; j < FR_QK; j++) {
            int q = nib(b + 8, j) | (int)(((qh >> j) & 1u) << 4);
            dst[i * FR_QK + j] = (float)q * d + m;
        }
    }
}

/* Q8_0, 34 bytes: d f16 @0, qs[32] int8 @2. x = q * d */
void fr_dequant_q8_0_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK; i++, b += 34) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        for (int j = 0; j < FR_QK; j++)
            dst[i * FR_QK + j] = (float)(int8_t)b[2 + j] * d;
    }
}

/* ---- 256-value super-blocks ------------------------------------------- */

/* Q2_K, 84 bytes: scales[16] @0 (low nibble scale, high nibble min, per 16
 * values), qs[64] @16, d f16 @80, dmin f16 @82. */
void fr_dequant_q2_k_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 84) {
        float d = fr_fp16_to_fp32(fr_rd16(b + 80));
        float dmin = fr_fp16_to_fp32(fr_rd16(b + 82));
        for (int v = 0; v < FR_QK_K; v++) {
            uint8_t sc = b[v / 16];
            float dl = d * (float)(sc & 15);
            float ml = dmin * (float)(sc >> 4);
            dst[i * FR_QK_K + v] = dl * (float)fr_k_get2(b + 16, v) - ml;
        }
    }
}

/* Q3_K, 110 bytes: hmask[32] @0, qs[64] @32, scales[12] @96 (16 6-bit
 * scales, biased by 32, per 16 values), d f16 @108. The 3-bit quant is
 * low2 + 4*hbit, centred by -4. */
void fr_dequant_q3_k_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 110) {
        float d = fr_fp16_to_fp32(fr_rd16(b + 108));
        for (int v = 0; v < FR_QK_K; v++) {
            float dl = d * (float)(fr_q3k_get_scale(b + 96, v / 16) - 32);
            int q = fr_k_get2(b + 32, v) + 4 * fr_k_get1(b, v) - 4;
            dst[i * FR_QK_K + v] = dl * (float)q;
        }
    }
}

/* Q4_K, 144 bytes: d f16 @0, dmin f16 @2, scales[12] @4 (8 scale/min pairs
 * per 32 values), qs[128] @16. */
void fr_dequant_q4_k_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 144) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        float dmin = fr_fp16_to_fp32(fr_rd16(b + 2));
        for (int v = 0; v < FR_QK_K; v++) {
            int s, m;
            fr_k_get_scale_min(b + 4, v / 32, &s, &m);
            float dl = d * (float)s;
            float ml = dmin * (float)m;
            dst[i * FR_QK_K + v] = dl * (float)fr_k_get4(b + 16, v) - ml;
        }
    }
}

/* Q5_K, 176 bytes: d f16 @0, dmin f16 @2, scales[12] @4, qh[32] @16,
 * qs[128] @48. */
void fr_dequant_q5_k_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 176) {
        float d = fr_fp16_to_fp32(fr_rd16(b));
        float dmin = fr_fp16_to_fp32(fr_rd16(b + 2));
        for (int v = 0; v < FR_QK_K; v++) {
            int s, m;
            fr_k_get_scale_min(b + 4, v / 32, &s, &m);
            float dl = d * (float)s;
            float ml = dmin * (float)m;
            int q = fr_k_get4(b + 48, v) + 16 * fr_k_get1(b + 16, v);
            dst[i * FR_QK_K + v] = dl * (float)q - ml;
        }
    }
}

/* Q6_K, 210 bytes: ql[128] @0, qh[64] @128, scales[16] int8 @192 (per 16
 * values), d f16 @208. */
void fr_dequant_q6_k_ref(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 210) {
        float d = fr_fp16_to_fp32(fr_rd16(b + 208));
        for (int v = 0; v < FR_QK_K; v++) {
            float dl = d * (float)(int8_t)b[192 + v / 16];
            dst[i * FR_QK_K + v] = dl * (float)(fr_q6k_get(b, b + 128, v) - 32);
        }
    }
}
