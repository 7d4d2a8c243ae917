/*
 * layout.h - where each value's bits live inside a K-quant super-block
 * (internal). One getter per field, and the matching setter, so that the
 * dequantizers and the quantizers describe the same layout once.
 *
 * Layouts are fixed by ggml (ggml-common.h, block_q2_K .. block_q6_K): a
 * super-block holds 256 values; v below is a value's index in it (0..255).
 * Setters OR bits in, so the destination must start zeroed.
 *
 *   Q2_K  scales[16] qs[64] d dmin       x = d*(sc&15)*q - dmin*(sc>>4), q 0..3
 *   Q3_K  hmask[32] qs[64] scales[12] d  x = d*(s-32)*(q-4), q 0..7, s 0..63
 *   Q4_K  d dmin scales[12] qs[128]      x = d*s*q - dmin*m, q 0..15
 *   Q5_K  d dmin scales[12] qh[32] qs[128]  same with q 0..31
 *   Q6_K  ql[128] qh[64] scales[16] d    x = d*sc*(q-32), q 0..63, sc int8
 */
#ifndef FR_TENSOR_KERNELS_LAYOUT_H
#define FR_TENSOR_KERNELS_LAYOUT_H

#include <stdint.h>

/* ---- 2-bit planes (Q2_K quants, low bits of Q3_K) ------------------------
 * Each 128-value half uses 32 bytes; in half h, value 32*j + m (j 0..3,
 * m 0..31) sits in byte 32*h + m at bits 2j, 2j+1. */
static inline int fr_k_get2(const uint8_t *qs, int v)
{
    int h = v / 128, w = v % 128;
    return (qs[32 * h + w % 32] >> (2 * (w / 32))) & 3;
}

static inline void fr_k_set2(uint8_t *qs, int v, int q)
{
    int h = v / 128, w = v % 128;
    qs[32 * h + w % 32] |= (uint8_t)((q & 3) << (2 * (w / 32)));
}

/* ---- one extra bit per value (Q3_K hmask, Q5_K qh): 32 bytes; value v is
 * byte v % 32, bit v / 32. */
static inline int fr_k_get1(const uint8_t *bits, int v)
{
    return (bits[v % 32] >> (v / 32)) & 1;
}

static inline void fr_k_set1(uint8_t *bits, int v, int b)
{
    bits[v % 32] |= (uint8_t)((b & 1) << (v / 32));
}

/* ---- 4-bit planes (Q4_K, low bits of Q5_K) --------------------------------
 * Each 64 values use 32 bytes: value 64*c + w sits in byte 32*c + w % 32,
 * low nibble for w < 32, high nibble otherwise. */
static inline int fr_k_get4(const uint8_t *qs, int v)
{
    int c = v / 64, w = v % 64;
    uint8_t b = qs[32 * c + w % 32];
    return w < 32 ? (b & 15) : (b >> 4);
}

static inline void fr_k_set4(uint8_t *qs, int v, int q)
{
    int c = v / 64, w = v % 64;
    qs[32 * c + w % 32] |= (uint8_t)((q & 15) << (w < 32 ? 0 : 4));
}

/* ---- Q6_K: 4 low bits in ql[128], 2 high bits in qh[64] ------------------
 * In half h (128 values), value 32*k + l (k 0..3, l 0..31): low nibble in
 * ql[64*h + 32*(k & 1) + l] (low nibble for k < 2, high for k >= 2); high
 * bits in qh[32*h + l] at bits 2k, 2k+1. */
static inline int fr_q6k_get(const uint8_t *ql, const uint8_t *qh, int v)
{
    int h = v / 128, k = (v % 128) / 32, l = v % 32;
    uint8_t lo = ql[64 * h + 32 * (k & 1) + l];
    int low = k < 2 ? (lo & 15) : (lo >> 4);
    int high = (qh[32 * h + l] >> (2 * k)) & 3;
    return low | (high << 4);
}

static inline void fr_q6k_set(uint8_t *ql, uint8_t *qh, int v, int q)
{
    int h = v / 128, k = (v % 128) / 32, l = v % 32;
    ql[64 * h + 32 * (k & 1) + l] |= (uint8_t)((q & 15) << (k < 2 ? 0 : 4));
    qh[32 * h + l] |= (uint8_t)(((q >> 4) & 3) << (2 * k));
}

/* ---- Q4_K/Q5_K: 8 (scale, min) pairs of 6 bits in 12 bytes ---------------
 * Pairs 0-3: scale in the low 6 bits of byte j, min in the low 6 bits of
 * byte j+4. Pairs 4-7: low 4 bits of scale and min in the low and high
 * nibble of byte j+4; their top 2 bits in the top 2 bits of bytes j-4
 * (scale) and j (min). */
static inline void fr_k_get_scale_min(const uint8_t *s, int j, int *scale, int *min)
{
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

static inline void fr_k_set_scale_min(uint8_t *s, int j, int scale, int min)
{
    if (j < 4) {
        s[j] |= (uint8_t)(scale & 63);
        s[j + 4] |= (uint8_t)(min & 63);
    } else {
        s[j + 4] |= (uint8_t)((scale & 15) | ((min & 15) << 4));
        s[j - 4] |= (uint8_t)((scale >> 4) << 6);
        s[j] |= (uint8_t)((min >> 4) << 6);
    }
}

/* ---- Q3_K: 16 scales of 6 bits (stored biased by 32) in 12 bytes ---------
 * Low 4 bits of scale j: low nibble of byte j for j < 8, high nibble of
 * byte j-8 otherwise. Top 2 bits: byte 8 + j % 4, bits 2*(j/4), 2*(j/4)+1. */
static inline int fr_q3k_get_scale(const uint8_t *s, int j)
{
    int low = j < 8 ? (s[j] & 15) : (s[j - 8] >> 4);
    int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return low | (high << 4);
}

static inline void fr_q3k_set_scale(uint8_t *s, int j, int biased)
{
    if (j < 8)
        s[j] |= (uint8_t)(biased & 15);
    else
        s[j - 8] |= (uint8_t)((biased & 15) << 4);
    s[8 + j % 4] |= (uint8_t)(((biased >> 4) & 3) << (2 * (j / 4)));
}

#endif
