/*
 * generic_mm.c - the portable reference matrix products (kernels.h): the
 * activation quantizers, the canonical weight unpackers, the canonical dot
 * products, and the generic kernel set built from them.
 *
 * Written to be obviously right, not fast: every weight row is unpacked
 * value by value through the layout getters (layout.h) that the
 * dequantizers use, then multiplied with each token in plain loops with
 * exact integer sums per block. The SIMD sets are tested against these
 * functions, and these against the float reference fr_matmul_ref with a
 * bound derived from the activation rounding.
 */
#include "tensor/kernels/bytes.h"
#include "tensor/kernels/generic.h"
#include "tensor/kernels/kernels.h"
#include "tensor/kernels/layout.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- activation quantizers --------------------------------------------- */

/* One block of len values: returns d and writes q; a block holding a NaN or
 * infinity gets d = NaN and zero quants, so the products it feeds come out
 * NaN instead of silently wrong. */
static float fr_q8_block(const float *x, int len, int8_t *q)
{
    float amax = 0.0f;
    bool bad = false;
    for (int j = 0; j < len; j++) {
        float v = fabsf(x[j]);
        if (!(v <= FLT_MAX))
            bad = true;
        else if (v > amax)
            amax = v;
    }
    if (bad) {
        memset(q, 0, (size_t)len);
        return NAN;
    }
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < len; j++)
        q[j] = (int8_t)lrintf(x[j] * id); /* nearest even, |x * id| <= 127 */
    return d;
}

void fr_quant_q8b_generic(const float *x, int64_t n, int8_t *qs, float *d, float *s)
{
    for (int64_t b = 0; b < n / FR_QA_BLK; b++) {
        int8_t *q = qs + b * FR_QA_BLK;
        d[b] = fr_q8_block(x + b * FR_QA_BLK, FR_QA_BLK, q);
        int sum = 0;
        for (int j = 0; j < FR_QA_BLK; j++)
            sum += q[j];
        s[b] = d[b] * (float)sum;
    }
}

void fr_quant_q8k_generic(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums)
{
    for (int64_t b = 0; b < n / FR_QK_BLK; b++) {
        int8_t *q = qs + b * FR_QK_BLK;
        d[b] = fr_q8_block(x + b * FR_QK_BLK, FR_QK_BLK, q);
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += q[16 * g + j];
            bsums[b * 16 + g] = (int16_t)sum;
        }
    }
}

/* ---- canonical unpacking ----------------------------------------------- */

static inline int fr_nib(const uint8_t *qs, int j)
{
    return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);
}

bool fr_unpack32(fr_type t, const void *row, int64_t n, int8_t *q, float *d, float *m)
{
    const uint8_t *b = row;
    int64_t nb = n / FR_QK;
    for (int64_t i = 0; i < nb; i++) {
        int8_t *qb = q + i * FR_QK;
        switch (t) {
        case FR_TYPE_Q4_0: /* 18 bytes: d, qs[16]; (q - 8) * d */
            d[i] = fr_fp16_to_fp32(fr_rd16(b));
            m[i] = 0.0f;
            for (int j = 0; j < FR_QK; j++)
                qb[j] = (int8_t)(fr_nib(b + 2, j) - 8);
            b += 18;
            break;
        case FR_TYPE_Q4_1: /* 20 bytes: d, m, qs[16]; q * d + m */
            d[i] = fr_fp16_to_fp32(fr_rd16(b));
            m[i] = fr_fp16_to_fp32(fr_rd16(b + 2));
            for (int j = 0; j < FR_QK; j++)
                qb[j] = (int8_t)fr_nib(b + 4, j);
            b += 20;
            break;
        case FR_TYPE_Q5_0: { /* 22 bytes: d, qh, qs[16]; (q - 16) * d */
            d[i] = fr_fp16_to_fp32(fr_rd16(b));
            m[i] = 0.0f;
            uint32_t qh = fr_rd32(b + 2);
            for (int j = 0; j < FR_QK; j++)
                qb[j] = (int8_t)((fr_nib(b + 6, j) | (int)(((qh >> j) & 1u) << 4)) - 16);
            b += 22;
            break;
        }
        case FR_TYPE_Q5_1: { /* 24 bytes: d, m, qh, qs[16]; q * d + m */
            d[i] = fr_fp16_to_fp32(fr_rd16(b));
            m[i] = fr_fp16_to_fp32(fr_rd16(b + 2));
            uint32_t qh = fr_rd32(b + 4);
            for (int j = 0; j < FR_QK; j++)
                qb[j] = (int8_t)(fr_nib(b + 8, j) | (int)(((qh >> j) & 1u) << 4));
            b += 24;
            break;
        }
        case FR_TYPE_Q8_0: /* 34 bytes: d, qs[32] int8 */
            d[i] = fr_fp16_to_fp32(fr_rd16(b));
            m[i] = 0.0f;
            memcpy(qb, b + 2, FR_QK);
            b += 34;
            break;
        case FR_TYPE_MXFP4: /* 17 bytes: e, qs[16]; levels[q] * 2^(e - 128) */
            d[i] = fr_e8m0_half(b[0]);
            m[i] = 0.0f;
            for (int j = 0; j < FR_QK; j++)
                qb[j] = fr_mxfp4_levels[fr_nib(b + 1, j)];
            b += 17;
            break;
        default:
            return false;
        }
    }
    return true;
}

bool fr_unpackk_scales(fr_type t, const uint8_t *b, int16_t *sc, int16_t *mn, float *d,
                       float *dmin)
{
    switch (t) {
    case FR_TYPE_Q2_K: /* scales[16] @0, qs[64] @16, d @80, dmin @82 */
        *d = fr_fp16_to_fp32(fr_rd16(b + 80));
        *dmin = fr_fp16_to_fp32(fr_rd16(b + 82));
        for (int j = 0; j < 16; j++) {
            sc[j] = (int16_t)(b[j] & 15);
            mn[j] = (int16_t)(b[j] >> 4);
        }
        return true;
    case FR_TYPE_Q3_K: /* hmask[32] @0, qs[64] @32, scales[12] @96, d @108 */
        *d = fr_fp16_to_fp32(fr_rd16(b + 108));
        *dmin = 0.0f;
        for (int j = 0; j < 16; j++) {
            sc[j] = (int16_t)(fr_q3k_get_scale(b + 96, j) - 32);
            mn[j] = 0;
        }
        return true;
    case FR_TYPE_Q4_K: /* d @0, dmin @2, scales[12] @4, qs[128] @16 */
    case FR_TYPE_Q5_K: /* d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48 */
        *d = fr_fp16_to_fp32(fr_rd16(b));
        *dmin = fr_fp16_to_fp32(fr_rd16(b + 2));
        for (int j = 0; j < 8; j++) {
            int s, m;
            fr_k_get_scale_min(b + 4, j, &s, &m);
            sc[2 * j] = sc[2 * j + 1] = (int16_t)s;
            mn[2 * j] = mn[2 * j + 1] = (int16_t)m;
        }
        return true;
    case FR_TYPE_Q6_K: /* ql[128] @0, qh[64] @128, scales[16] int8 @192, d @208 */
        *d = fr_fp16_to_fp32(fr_rd16(b + 208));
        *dmin = 0.0f;
        for (int j = 0; j < 16; j++) {
            sc[j] = (int16_t)(int8_t)b[192 + j];
            mn[j] = 0;
        }
        return true;
    default:
        return false;
    }
}

bool fr_unpackk(fr_type t, const void *row, int64_t n, int8_t *q, int16_t *sc, int16_t *mn,
                float *d, float *dmin)
{
    const uint8_t *b = row;
    int64_t nb = n / FR_QK_K;
    size_t bytes = (size_t)fr_type_row_bytes(t, FR_QK_K);
    for (int64_t i = 0; i < nb; i++, b += bytes) {
        int8_t *qb = q + i * FR_QK_K;
        if (!fr_unpackk_scales(t, b, sc + i * 16, mn + i * 16, d + i, dmin + i))
            return false;
        switch (t) {
        case FR_TYPE_Q2_K:
            for (int v = 0; v < FR_QK_K; v++)
                qb[v] = (int8_t)fr_k_get2(b + 16, v);
            break;
        case FR_TYPE_Q3_K:
            for (int v = 0; v < FR_QK_K; v++)
                qb[v] = (int8_t)(fr_k_get2(b + 32, v) + 4 * fr_k_get1(b, v) - 4);
            break;
        case FR_TYPE_Q4_K:
            for (int v = 0; v < FR_QK_K; v++)
                qb[v] = (int8_t)fr_k_get4(b + 16, v);
            break;
        case FR_TYPE_Q5_K:
            for (int v = 0; v < FR_QK_K; v++)
                qb[v] = (int8_t)(fr_k_get4(b + 48, v) + 16 * fr_k_get1(b + 16, v));
            break;
        default: /* Q6_K */
            for (int v = 0; v < FR_QK_K; v++)
                qb[v] = (int8_t)(fr_q6k_get(b, b + 128, v) - 32);
            break;
        }
    }
    return true;
}

/* ---- canonical dot products ---------------------------------------------- */

float fr_dot32_canon(const int8_t *q, const float *d, const float *m, const int8_t *aq,
                     const float *ad, const float *as, int64_t nb)
{
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int j = 0; j < FR_QA_BLK; j++)
            isum += (int32_t)q[b * FR_QA_BLK + j] * aq[b * FR_QA_BLK + j];
        acc += (d[b] * ad[b]) * (float)isum;
        acc += m[b] * as[b];
    }
    return acc;
}

float fr_dotk_canon(const int8_t *q, const int16_t *sc, const int16_t *mn, const float *d,
                    const float *dmin, const int8_t *aq, const float *ad, const int16_t *bsums,
                    int64_t nb)
{
    float acc = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int j = 0; j < 16; j++) {
                int64_t i = b * FR_QK_BLK + g * 16 + j;
                s += (int32_t)q[i] * aq[i];
            }
            isum += sc[b * 16 + g] * s;
            msum += mn[b * 16 + g] * bsums[b * 16 + g];
        }
        acc += (d[b] * ad[b]) * (float)isum;
        acc -= (dmin[b] * ad[b]) * (float)msum;
    }
    return acc;
}

/* ---- generic products ---------------------------------------------------- */

static inline size_t fr_al64(size_t n) { return (n + 63) & ~(size_t)63; }

static float fr_dot_f32_ltr(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void fr_gemm_float_rows(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch,
                               fr_dequant_fn conv)
{
    float *buf = scratch;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = a->w + (size_t)r * a->row_bytes;
        const float *wr;
        if (conv) {
            conv(row, buf, a->n_in);
            wr = buf;
        } else {
            wr = (const float *)row; /* GGUF data is 32-byte aligned, rows 4n bytes */
        }
        for (int64_t t = 0; t < a->n_tok; t++)
            a->y[t * a->ldy + r] = fr_dot_f32_ltr(wr, a->x + t * a->ldx, a->n_in);
    }
}

void fr_gemm_f32_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    fr_gemm_float_rows(a, r0, r1, scratch, NULL);
}

void fr_gemm_f16_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    fr_gemm_float_rows(a, r0, r1, scratch, fr_dequant_f16_ref);
}

void fr_gemm_bf16_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    fr_gemm_float_rows(a, r0, r1, scratch, fr_dequant_bf16_ref);
}

void fr_gemm_q32_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    int64_t n = a->n_in, nb = n / FR_QA_BLK;
    int8_t *q = scratch;
    float *d = (float *)((uint8_t *)scratch + fr_al64((size_t)n));
    float *m = d + nb;
    for (int64_t r = r0; r < r1; r++) {
        fr_unpack32(a->type, a->w + (size_t)r * a->row_bytes, n, q, d, m);
        for (int64_t t = 0; t < a->n_tok; t++) {
            const int8_t *aq = a->qa.qs + t * a->qa.qs_ld;
            const float *ad = a->qa.d + t * a->qa.blk_ld, *as = a->qa.s + t * a->qa.blk_ld;
            a->y[t * a->ldy + r] = fr_dot32_canon(q, d, m, aq, ad, as, nb);
        }
    }
}

void fr_gemm_qk_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    int64_t n = a->n_in, nb = n / FR_QK_BLK;
    int8_t *q = scratch;
    int16_t *sc = (int16_t *)((uint8_t *)scratch + fr_al64((size_t)n));
    int16_t *mn = sc + nb * 16;
    float *d = (float *)(mn + nb * 16);
    float *dmin = d + nb;
    for (int64_t r = r0; r < r1; r++) {
        fr_unpackk(a->type, a->w + (size_t)r * a->row_bytes, n, q, sc, mn, d, dmin);
        for (int64_t t = 0; t < a->n_tok; t++) {
            const int8_t *aq = a->qa.qs + t * a->qa.qs_ld;
            const float *ad = a->qa.d + t * a->qa.blk_ld;
            const int16_t *bs = a->qa.bsums + t * a->qa.blk_ld * 16;
            a->y[t * a->ldy + r] = fr_dotk_canon(q, sc, mn, d, dmin, aq, ad, bs, nb);
        }
    }
}

uint64_t fr_read_sum_generic(const void *buf, size_t bytes)
{
    const uint64_t *p = buf;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < bytes / 8; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

const fr_kernel_set fr_kernels_generic = {
    .isa = FR_ISA_GENERIC,
    .name = "generic",
    .mm =
        {
            [FR_TYPE_F32] = {FR_ACT_F32, fr_gemm_f32_generic},
            [FR_TYPE_F16] = {FR_ACT_F32, fr_gemm_f16_generic},
            [FR_TYPE_BF16] = {FR_ACT_F32, fr_gemm_bf16_generic},
            [FR_TYPE_Q4_0] = {FR_ACT_Q8B, fr_gemm_q32_generic},
            [FR_TYPE_Q4_1] = {FR_ACT_Q8B, fr_gemm_q32_generic},
            [FR_TYPE_Q5_0] = {FR_ACT_Q8B, fr_gemm_q32_generic},
            [FR_TYPE_Q5_1] = {FR_ACT_Q8B, fr_gemm_q32_generic},
            [FR_TYPE_Q8_0] = {FR_ACT_Q8B, fr_gemm_q32_generic},
            [FR_TYPE_MXFP4] = {FR_ACT_Q8B, fr_gemm_q32_generic},
            [FR_TYPE_Q2_K] = {FR_ACT_Q8K, fr_gemm_qk_generic},
            [FR_TYPE_Q3_K] = {FR_ACT_Q8K, fr_gemm_qk_generic},
            [FR_TYPE_Q4_K] = {FR_ACT_Q8K, fr_gemm_qk_generic},
            [FR_TYPE_Q5_K] = {FR_ACT_Q8K, fr_gemm_qk_generic},
            [FR_TYPE_Q6_K] = {FR_ACT_Q8K, fr_gemm_qk_generic},
        },
    .quant_q8b = fr_quant_q8b_generic,
    .quant_q8k = fr_quant_q8k_generic,
    .read_sum = fr_read_sum_generic,
    .dot_f32 = fr_dot_f32_generic,
    .dot_f16 = fr_dot_f16_generic,
    .axpy_f32 = fr_axpy_f32_generic,
    .axpy_f16 = fr_axpy_f16_generic,
    .swiglu = fr_swiglu_generic,
    .sgemm_nn = fr_gemm_nn_block_generic,
    .sgemm_nt = fr_gemm_nt_block_generic,
    .sgemm_tn = fr_gemm_tn_block_generic,
};
