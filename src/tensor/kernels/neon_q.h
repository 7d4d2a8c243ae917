/*
 * neon_q.h - the quantized products of the ARM sets, written once and
 * compiled twice (internal; included by neon_q.c for plain NEON and by
 * neon_dot_q.c with FR_NQ_SDOT for the dot-product extension) plus the row
 * unpacking that neon_i8mm_q.c shares.
 *
 * A weight row is unpacked into the canonical integer form (kernels.h:
 * int8 quants, per-block scales) in this thread's scratch - the quants with
 * NEON for Q4_0, Q8_0, MXFP4, Q4_K, Q5_K and Q6_K, through the generic unpacker for
 * Q4_1, Q5_0, Q5_1, Q2_K and Q3_K - and then
 * multiplied with every token: per 32-block (or 16-group of a super-block)
 * an exact integer dot (SMULL/SADALP, or SDOT), then the float steps of
 * fr_dot32_canon / fr_dotk_canon in the same order. The integer sums are
 * exact and the float operations the reference's, so these products give
 * the generic set's results bit for bit (and are tested to rounding, like
 * every set).
 *
 * Define before including: FR_NQ_SDOT (0 or 1) and FR_NQ_NAME(x) (the
 * suffixed function name).
 */
#ifndef FR_TENSOR_KERNELS_NEON_Q_H
#define FR_TENSOR_KERNELS_NEON_Q_H

#include <arm_neon.h>
#include <frugal/tensor.h>
#include <string.h>

#include "tensor/kernels/bytes.h"
#include "tensor/kernels/generic.h"
#include "tensor/kernels/neon_util.h"

static inline size_t fr_nq_al64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Scratch of one unpacked row, 32-family: q[n], d[nb], m[nb]. */
typedef struct fr_nq_row32 {
    int8_t *q;
    float *d, *m;
} fr_nq_row32;

/* ... K-family: q[n], sc[nb*16], mn[nb*16], d[nb], dmin[nb]. */
typedef struct fr_nq_rowk {
    int8_t *q;
    int16_t *sc, *mn;
    float *d, *dmin;
} fr_nq_rowk;

/* Bytes of one unpacked row (either family), 64-aligned. */
static inline size_t fr_nq_row_bytes(int64_t n)
{
    return fr_nq_al64((size_t)n) + fr_nq_al64((size_t)(n / 32) * 8 + (size_t)(n / 256) * 8 + 64);
}

static inline fr_nq_row32 fr_nq_row32_at(void *scratch, int64_t n, int k)
{
    uint8_t *p = (uint8_t *)scratch + (size_t)k * fr_nq_row_bytes(n);
    fr_nq_row32 r;
    r.q = (int8_t *)p;
    r.d = (float *)(p + fr_nq_al64((size_t)n));
    r.m = r.d + n / 32;
    return r;
}

static inline fr_nq_rowk fr_nq_rowk_at(void *scratch, int64_t n, int k)
{
    uint8_t *p = (uint8_t *)scratch + (size_t)k * fr_nq_row_bytes(n);
    int64_t nb = n / 256;
    fr_nq_rowk r;
    r.q = (int8_t *)p;
    r.sc = (int16_t *)(p + fr_nq_al64((size_t)n));
    r.mn = r.sc + nb * 16;
    r.d = (float *)(r.mn + nb * 16);
    r.dmin = r.d + nb;
    return r;
}

/* Unpacks a 32-family row: NEON for Q4_0, Q8_0 and MXFP4, else the
 * generic way. */
static inline void fr_nq_unpack32(fr_type t, const uint8_t *b, int64_t n, fr_nq_row32 r)
{
    int64_t nb = n / 32;
    if (t == FR_TYPE_Q4_0) {
        const uint8x16_t lo = vdupq_n_u8(15);
        const int8x16_t eight = vdupq_n_s8(8);
        for (int64_t i = 0; i < nb; i++, b += 18) {
            r.d[i] = fr_fp16_to_fp32(fr_rd16(b));
            r.m[i] = 0.0f;
            uint8x16_t v = vld1q_u8(b + 2);
            vst1q_s8(r.q + 32 * i, vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, lo)), eight));
            vst1q_s8(r.q + 32 * i + 16, vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight));
        }
    } else if (t == FR_TYPE_MXFP4) { /* e, qs[16]: levels[q] * 2^(e - 128), a table lookup */
        const int8x16_t levels = vld1q_s8(fr_mxfp4_levels);
        const uint8x16_t lo = vdupq_n_u8(15);
        for (int64_t i = 0; i < nb; i++, b += 17) {
            r.d[i] = fr_e8m0_half(b[0]);
            r.m[i] = 0.0f;
            uint8x16_t v = vld1q_u8(b + 1);
            vst1q_s8(r.q + 32 * i, vqtbl1q_s8(levels, vandq_u8(v, lo)));
            vst1q_s8(r.q + 32 * i + 16, vqtbl1q_s8(levels, vshrq_n_u8(v, 4)));
        }
    } else if (t == FR_TYPE_Q8_0) {
        for (int64_t i = 0; i < nb; i++, b += 34) {
            r.d[i] = fr_fp16_to_fp32(fr_rd16(b));
            r.m[i] = 0.0f;
            memcpy(r.q + 32 * i, b + 2, 32);
        }
    } else {
        fr_unpack32(t, b, n, r.q, r.d, r.m);
    }
}

/* Unpacks a K-family row: the scales the generic way (fr_unpackk_scales),
 * the quants of Q4_K, Q5_K and Q6_K with NEON (layouts in layout.h), the
 * rest through the generic unpacker. */
static inline void fr_nq_unpackk(fr_type t, const uint8_t *b, int64_t n, fr_nq_rowk r)
{
    if (t != FR_TYPE_Q4_K && t != FR_TYPE_Q5_K && t != FR_TYPE_Q6_K) {
        fr_unpackk(t, b, n, r.q, r.sc, r.mn, r.d, r.dmin);
        return;
    }
    const uint8x16_t m4 = vdupq_n_u8(15), m2 = vdupq_n_u8(3), b1 = vdupq_n_u8(1);
    size_t bytes = (size_t)fr_type_row_bytes(t, 256);
    for (int64_t i = 0; i < n / 256; i++, b += bytes) {
        fr_unpackk_scales(t, b, r.sc + 16 * i, r.mn + 16 * i, r.d + i, r.dmin + i);
        uint8_t *q = (uint8_t *)r.q + 256 * i;
        if (t == FR_TYPE_Q6_K) { /* ql[128] @0, qh[64] @128; q - 32 */
            const int8x16_t off = vdupq_n_s8(32);
            for (int h = 0; h < 2; h++)
                for (int l = 0; l < 32; l += 16) {
                    uint8x16_t ql0 = vld1q_u8(b + 64 * h + l), ql1 = vld1q_u8(b + 64 * h + 32 + l);
                    uint8x16_t qh = vld1q_u8(b + 128 + 32 * h + l);
                    uint8x16_t v[4] = {
                        vorrq_u8(vandq_u8(ql0, m4), vshlq_n_u8(vandq_u8(qh, m2), 4)),
                        vorrq_u8(vandq_u8(ql1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), m2), 4)),
                        vorrq_u8(vshrq_n_u8(ql0, 4),
                                 vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), m2), 4)),
                        vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
                    };
                    for (int k = 0; k < 4; k++)
                        vst1q_s8((int8_t *)q + 128 * h + 32 * k + l,
                                 vsubq_s8(vreinterpretq_s8_u8(v[k]), off));
                }
            continue;
        }
        /* Q4_K: qs[128] @16; Q5_K: qh[32] @16, qs[128] @48 (+16 per high bit) */
        const uint8_t *qs = b + (t == FR_TYPE_Q4_K ? 16 : 48);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l += 16) {
                uint8x16_t v = vld1q_u8(qs + 32 * c + l);
                uint8x16_t lo = vandq_u8(v, m4), hi = vshrq_n_u8(v, 4);
                if (t == FR_TYPE_Q5_K) {
                    uint8x16_t qh = vld1q_u8(b + 16 + l);
                    /* value 64c + w: bit 2c (w < 32) or 2c + 1 of qh[w % 32] */
                    uint8x16_t h0 = vandq_u8(vshlq_u8(qh, vdupq_n_s8((int8_t)(-2 * c))), b1);
                    uint8x16_t h1 = vandq_u8(vshlq_u8(qh, vdupq_n_s8((int8_t)(-2 * c - 1))), b1);
                    lo = vorrq_u8(lo, vshlq_n_u8(h0, 4));
                    hi = vorrq_u8(hi, vshlq_n_u8(h1, 4));
                }
                vst1q_u8(q + 64 * c + l, lo);
                vst1q_u8(q + 64 * c + 32 + l, hi);
            }
    }
}

#endif /* FR_TENSOR_KERNELS_NEON_Q_H */

/* ---- the products, once per FR_NQ_SDOT ------------------------------------ */
#if defined(FR_NQ_NAME)

/* Sum of 16 products q[i] * a[i] (|q| <= 128, |a| <= 127: each pair of
 * products fits int16, SADALP widens). */
static inline int32x4_t FR_NQ_NAME(fr_nq_dot16)(int32x4_t acc, int8x16_t q, int8x16_t a)
{
#if FR_NQ_SDOT
    return vdotq_s32(acc, q, a);
#else
    int16x8_t p = vmull_s8(vget_low_s8(q), vget_low_s8(a));
    p = vmlal_high_s8(p, q, a);
    return vpadalq_s16(acc, p);
#endif
}

void FR_NQ_NAME(fr_gemm_q32)(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    int64_t n = a->n_in, nb = n / 32;
    fr_nq_row32 w = fr_nq_row32_at(scratch, n, 0);
    for (int64_t r = r0; r < r1; r++) {
        fr_nq_unpack32(a->type, a->w + (size_t)r * a->row_bytes, n, w);
        for (int64_t t = 0; t < a->n_tok; t++) {
            const int8_t *aq = a->qa.qs + t * a->qa.qs_ld;
            const float *ad = a->qa.d + t * a->qa.blk_ld, *as = a->qa.s + t * a->qa.blk_ld;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int32x4_t s = vdupq_n_s32(0);
                s = FR_NQ_NAME(fr_nq_dot16)(s, vld1q_s8(w.q + 32 * b), vld1q_s8(aq + 32 * b));
                s = FR_NQ_NAME(fr_nq_dot16)(s, vld1q_s8(w.q + 32 * b + 16),
                                            vld1q_s8(aq + 32 * b + 16));
                acc += (w.d[b] * ad[b]) * (float)vaddvq_s32(s);
                acc += w.m[b] * as[b];
            }
            a->y[t * a->ldy + r] = acc;
        }
    }
}

void FR_NQ_NAME(fr_gemm_qk)(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    int64_t n = a->n_in, nb = n / 256;
    fr_nq_rowk w = fr_nq_rowk_at(scratch, n, 0);
    for (int64_t r = r0; r < r1; r++) {
        fr_nq_unpackk(a->type, a->w + (size_t)r * a->row_bytes, n, w);
        for (int64_t t = 0; t < a->n_tok; t++) {
            const int8_t *aq = a->qa.qs + t * a->qa.qs_ld;
            const float *ad = a->qa.d + t * a->qa.blk_ld;
            const int16_t *bs = a->qa.bsums + t * a->qa.blk_ld * 16;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                /* per 16-group sums, 4 groups per vector of sums */
                int32x4_t isum = vdupq_n_s32(0);
                for (int g = 0; g < 16; g += 4) {
                    const int8_t *qg = w.q + 256 * b + 16 * g, *ag = aq + 256 * b + 16 * g;
                    int32x4_t z = vdupq_n_s32(0);
                    int32x4_t s0 = FR_NQ_NAME(fr_nq_dot16)(z, vld1q_s8(qg), vld1q_s8(ag));
                    int32x4_t s1 = FR_NQ_NAME(fr_nq_dot16)(z, vld1q_s8(qg + 16), vld1q_s8(ag + 16));
                    int32x4_t s2 = FR_NQ_NAME(fr_nq_dot16)(z, vld1q_s8(qg + 32), vld1q_s8(ag + 32));
                    int32x4_t s3 = FR_NQ_NAME(fr_nq_dot16)(z, vld1q_s8(qg + 48), vld1q_s8(ag + 48));
                    int32x4_t s = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
                    isum = vmlaq_s32(isum, s, vmovl_s16(vld1_s16(w.sc + 16 * b + g)));
                }
                int32x4_t msum = vmull_s16(vld1_s16(w.mn + 16 * b), vld1_s16(bs + 16 * b));
                msum = vmlal_s16(msum, vld1_s16(w.mn + 16 * b + 4), vld1_s16(bs + 16 * b + 4));
                msum = vmlal_s16(msum, vld1_s16(w.mn + 16 * b + 8), vld1_s16(bs + 16 * b + 8));
                msum = vmlal_s16(msum, vld1_s16(w.mn + 16 * b + 12), vld1_s16(bs + 16 * b + 12));
                acc += (w.d[b] * ad[b]) * (float)vaddvq_s32(isum);
                acc -= (w.dmin[b] * ad[b]) * (float)vaddvq_s32(msum);
            }
            a->y[t * a->ldy + r] = acc;
        }
    }
}

#endif /* FR_NQ_NAME */
