/*
 * avx2_q32.c - AVX2 products of the 32-value block types (Q4_0, Q4_1, Q5_0,
 * Q5_1, Q8_0, MXFP4) with Q8B activations.
 *
 * One ymm holds a block's 32 quants. vpmaddubsw multiplies unsigned weight
 * quants with signed activation quants into 16 int16 pair sums (at most
 * 2 * 31 * 127, no saturation), the offset of Q4_0 / Q5_0 is removed there
 * as off * (pair sums of the activations, one vpmaddubsw per token), and
 * vpmaddwd with ones widens to 8 int32 lanes. Q8_0's quants are signed, so
 * it uses |w| and sign(a, w) instead (|w| <= 127: again no saturation).
 * MXFP4's nibbles become its signed levels (-12..12, doubled E2M1) by one
 * vpshufb on a table and then take Q8_0's path; its E8M0 scale is a power
 * of two built from the exponent bits.
 * The float step multiplies by d_w * d_a (and adds m * d_a * sum(a) for the
 * types with a min) per block, as in avx512_q32.c.
 *
 * Tiles: one-token decode uses 4 rows x 1 token; batches use 2 rows x 4
 * tokens (16 ymm registers do not hold more accumulators alongside the
 * decoded weights).
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)

enum { FR_Q40, FR_Q41, FR_Q50, FR_Q51, FR_Q80, FR_QMX };

FR_AI int fr_q_bs(const int T)
{
    return T == FR_Q40   ? 18
           : T == FR_Q41 ? 20
           : T == FR_Q50 ? 22
           : T == FR_Q51 ? 24
           : T == FR_QMX ? 17
                         : 34;
}

FR_AI int fr_q_off(const int T) { return T == FR_Q40 ? 8 : T == FR_Q50 ? 16 : 0; }
FR_AI int fr_q_min(const int T) { return T == FR_Q41 || T == FR_Q51; }
FR_AI int fr_q_qs(const int T)
{
    return T == FR_Q40 ? 2 : T == FR_Q41 ? 4 : T == FR_Q50 ? 6 : T == FR_QMX ? 1 : 8;
}
/* signed quants: Q8_0 and MXFP4's levels */
FR_AI int fr_q_signed(const int T) { return T == FR_Q80 || T == FR_QMX; }

/* MXFP4's scale, 2^(e - 128) (generic_dequant.c fr_e8m0_half) */
FR_AI float fr_e8m0_half_y(uint8_t e)
{
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* 32 bits -> 32 bytes of 0x10 where the bit is set. */
FR_AI __m256i fr_bits_to_16(uint32_t bits)
{
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll,
                                             0x0101010101010101ll, 0x0000000000000000ll);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* Block at p: quants in value order (unsigned; Q8_0 signed), scale, min. */
FR_AI __m256i fr_q_dec_y(const int T, const uint8_t *p, __m256 *dw, __m256 *mw)
{
    if (T == FR_QMX) {
        const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8,
                                             -12, 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6,
                                             -8, -12);
        *dw = _mm256_set1_ps(fr_e8m0_half_y(p[0]));
        __m128i x = _mm_loadu_si128((const __m128i *)(p + 1));
        __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x),
                                     _mm256_set1_epi8(0x0f));
        return _mm256_shuffle_epi8(lut, q);
    }
    *dw = _mm256_set1_ps(fr_h2f(fr_u16(p)));
    if (fr_q_min(T))
        *mw = _mm256_set1_ps(fr_h2f(fr_u16(p + 2)));
    if (T == FR_Q80)
        return _mm256_loadu_si256((const __m256i *)(p + 2));
    __m128i x = _mm_loadu_si128((const __m128i *)(p + fr_q_qs(T)));
    __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0f));
    if (T == FR_Q50 || T == FR_Q51)
        q = _mm256_or_si256(q, fr_bits_to_16(fr_u32(p + (T == FR_Q50 ? 2 : 4))));
    return q;
}

FR_AI void fr_q_tile_y(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                       const int RM, const int RN)
{
    const int bs = fr_q_bs(T), off = fr_q_off(T), hasmin = fr_q_min(T);
    const uint8_t *w[4];
    const int8_t *aq[4];
    const float *ad[4], *as[4];
    __m256 acc[4][4];
    fr_tile_rows(a, r, r1, RM, w);
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        int64_t tj = fr_min64(t + j, a->n_tok - 1);
        aq[j] = a->qa.qs + tj * a->qa.qs_ld;
        ad[j] = a->qa.d + tj * a->qa.blk_ld;
        as[j] = a->qa.s + tj * a->qa.blk_ld;
    }
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    const __m256i voff = _mm256_set1_epi8((char)off);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 eighth = _mm256_set1_ps(0.125f);
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = fr_pf_lim(a, r1);
    int64_t nb = a->n_in / FR_QA_BLK;
    for (int64_t b = 0; b < nb; b++) {
        __m256i wq[4], wabs[4];
        __m256 dw[4], mw[4];
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            fr_pf(w[i] + b * bs + pf, lim, bs);
            wq[i] = fr_q_dec_y(T, w[i] + b * bs, &dw[i], &mw[i]);
            if (fr_q_signed(T))
                wabs[i] = _mm256_abs_epi8(wq[i]);
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m256i av = _mm256_loadu_si256((const __m256i *)(aq[j] + b * FR_QA_BLK));
            __m256 da = _mm256_broadcast_ss(ad[j] + b);
            __m256i off16 = _mm256_setzero_si256();
            if (off)
                off16 = _mm256_maddubs_epi16(voff, av);
            __m256 sv = _mm256_setzero_ps();
            if (hasmin)
                sv = _mm256_mul_ps(_mm256_broadcast_ss(as[j] + b), eighth);
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                __m256i p16;
                if (fr_q_signed(T))
                    p16 = _mm256_maddubs_epi16(wabs[i], _mm256_sign_epi8(av, wq[i]));
                else
                    p16 = _mm256_maddubs_epi16(wq[i], av);
                if (off)
                    p16 = _mm256_sub_epi16(p16, off16);
                __m256i is = _mm256_madd_epi16(p16, ones);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw[i], da),
                                            acc[i][j]);
                if (hasmin)
                    acc[i][j] = _mm256_fmadd_ps(mw[i], sv, acc[i][j]);
            }
        }
    }
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        if (t + j >= a->n_tok)
            break;
        FR_UNROLL
        for (int i = 0; i < RM; i++)
            if (r + i < r1)
                a->y[(t + j) * a->ldy + r + i] = fr_y_hsum(acc[i][j]);
    }
}

FR_AI void fr_q_gemm_y(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    if (a->n_tok == 1) {
        for (int64_t r = r0; r < r1; r += 4)
            fr_q_tile_y(a, r, r1, 0, T, 4, 1);
        return;
    }
    for (int64_t r = r0; r < r1; r += 2) {
#define FR_TILE_(t, rn) fr_q_tile_y(a, r, r1, t, T, 2, rn)
        FR_FOR_TOKEN_TILES(a->n_tok, FR_TILE_);
#undef FR_TILE_
    }
}

#define FR_Q_ENTRY(name, T)                                                            \
    void fr_gemm_##name##_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                  \
        (void)scratch;                                                                 \
        fr_q_gemm_y(a, r0, r1, T);                                                     \
    }

FR_Q_ENTRY(q4_0, FR_Q40)
FR_Q_ENTRY(q4_1, FR_Q41)
FR_Q_ENTRY(q5_0, FR_Q50)
FR_Q_ENTRY(q5_1, FR_Q51)
FR_Q_ENTRY(q8_0, FR_Q80)
FR_Q_ENTRY(mxfp4, FR_QMX)
#endif
