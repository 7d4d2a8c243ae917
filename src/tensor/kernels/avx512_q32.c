/*
 * avx512_q32.c - AVX-512 VNNI products of the 32-value block types (Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0) with Q8B activations.
 *
 * One zmm holds two weight blocks (64 quants, in value order) as unsigned
 * bytes; vpdpbusd multiplies them with 64 activation quants and sums groups
 * of four into 16 int32 lanes, 8 per block. Offsets are folded into the
 * integer sum: a type whose value is (q - off) * d starts the sum at
 * -off * (sum of 4 activations per lane), itself one vpdpbusd, so the
 * integer result is exactly sum((q - off) * a) per block. Q8_0's signed
 * quants become unsigned by flipping the top bit (q + 128), with off = 128.
 * The per-block float scale d_w * d_a then multiplies each lane (lanes 0-7
 * by block 0's, 8-15 by block 1's) into float accumulators; types with a
 * min add m * (d_a * sum a) spread over the block's 8 lanes.
 *
 * Tiles: 4 weight rows x up to 4 tokens (16 accumulators). Each pair of
 * weight blocks is decoded once per tile and used for every token of it.
 * An odd last block is decoded alone with zero upper lanes (activation rows
 * are zero padded, see kernels.h).
 */
#include "tensor/kernels/avx512_util.h"

#if defined(__x86_64__)


enum { FR_Q40, FR_Q41, FR_Q50, FR_Q51, FR_Q80 };

FR_AI int fr_q_bs(const int T)
{
    return T == FR_Q40 ? 18 : T == FR_Q41 ? 20 : T == FR_Q50 ? 22 : T == FR_Q51 ? 24 : 34;
}

FR_AI int fr_q_off(const int T) { return T == FR_Q40 ? 8 : T == FR_Q50 ? 16 : T == FR_Q80 ? 128 : 0; }

FR_AI int fr_q_min(const int T) { return T == FR_Q41 || T == FR_Q51; }

/* Byte offset of the 16 nibble bytes (4/5-bit types) in a block. */
FR_AI int fr_q_qs(const int T) { return T == FR_Q40 ? 2 : T == FR_Q41 ? 4 : T == FR_Q50 ? 6 : 8; }

/* Quants of block p (and p + block size when two) as 64 (32) unsigned
 * bytes in value order; *dw = per-lane scale, *mw = per-lane min. */
FR_AI __m512i fr_q_dec(const int T, const uint8_t *p, const int two, __m512 *dw, __m512 *mw)
{
    const uint8_t *p1 = p + fr_q_bs(T);
    *dw = fr_z_expand2_h(fr_u16(p), two ? fr_u16(p1) : 0);
    if (fr_q_min(T))
        *mw = fr_z_expand2_h(fr_u16(p + 2), two ? fr_u16(p1 + 2) : 0);
    if (T == FR_Q80) {
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        __m256i lo = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)), flip);
        if (!two)
            return _mm512_zextsi256_si512(lo);
        __m256i hi = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p1 + 2)), flip);
        return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    const int qo = fr_q_qs(T);
    /* [qs0, qs0, qs1, qs1] per 128-bit lane, then nibbles: low, high. */
    __m256i b0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + qo)));
    __m512i z;
    if (two)
        z = _mm512_inserti64x4(_mm512_castsi256_si512(b0),
                               _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p1 + qo))),
                               1);
    else
        z = _mm512_zextsi256_si512(b0);
    const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    __m512i q = _mm512_and_si512(_mm512_srlv_epi64(z, sh), _mm512_set1_epi8(0x0f));
    if (T == FR_Q50 || T == FR_Q51) {
        const int ho = T == FR_Q50 ? 2 : 4;
        uint64_t hm = (uint64_t)fr_u32(p + ho);
        if (two)
            hm |= (uint64_t)fr_u32(p1 + ho) << 32;
        q = _mm512_mask_add_epi8(q, (__mmask64)hm, q, _mm512_set1_epi8(16));
    }
    return q;
}

FR_AI void fr_q_tile(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                     const int RM, const int RN)
{
    const int bs = fr_q_bs(T), off = fr_q_off(T), hasmin = fr_q_min(T);
    const uint8_t *w[4];
    const int8_t *aq[4];
    const float *ad[4], *as[4];
    __m512 acc[4][4];
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        w[i] = a->w + (size_t)fr_min64(r + i, r1 - 1) * a->row_bytes;
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
            acc[i][j] = _mm512_setzero_ps();
    const __m512i voff = _mm512_set1_epi8((char)off);
    const __m512 eighth = _mm512_set1_ps(0.125f);
    int64_t nb = a->n_in / FR_QA_BLK;
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = a->w + (size_t)r1 * a->row_bytes;
    for (int64_t b = 0; b < nb; b += 2) {
        const int two = b + 1 < nb;
        __m512i wq[4];
        __m512 dw[4], mw[4];
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            fr_pf(w[i] + b * bs + pf, lim, 2 * bs);
            if (two)
                wq[i] = fr_q_dec(T, w[i] + b * bs, 1, &dw[i], &mw[i]);
            else
                wq[i] = fr_q_dec(T, w[i] + b * bs, 0, &dw[i], &mw[i]);
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m512i av = _mm512_loadu_si512((const void *)(aq[j] + b * FR_QA_BLK));
            __m512 da = fr_z_expand2(ad[j] + b);
            __m512i init = _mm512_setzero_si512();
            if (off)
                init = _mm512_sub_epi32(init, _mm512_dpbusd_epi32(init, voff, av));
            __m512 sv = _mm512_setzero_ps();
            if (hasmin)
                sv = _mm512_mul_ps(fr_z_expand2(as[j] + b), eighth);
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                __m512i is = _mm512_dpbusd_epi32(init, wq[i], av);
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw[i], da),
                                            acc[i][j]);
                if (hasmin)
                    acc[i][j] = _mm512_fmadd_ps(mw[i], sv, acc[i][j]);
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
                a->y[(t + j) * a->ldy + r + i] = fr_z_hsum(acc[i][j]);
    }
}

FR_AI void fr_q_gemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    for (int64_t r = r0; r < r1; r += 4) {
        int64_t t = 0;
        for (; t + 4 <= a->n_tok; t += 4)
            fr_q_tile(a, r, r1, t, T, 4, 4);
        switch (a->n_tok - t) {
        case 3:
            fr_q_tile(a, r, r1, t, T, 4, 3);
            break;
        case 2:
            fr_q_tile(a, r, r1, t, T, 4, 2);
            break;
        case 1:
            fr_q_tile(a, r, r1, t, T, 4, 1);
            break;
        default:
            break;
        }
    }
}

#define FR_Q_ENTRY(name, T)                                                              \
    void fr_gemm_##name##_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                    \
        (void)scratch;                                                                   \
        fr_q_gemm(a, r0, r1, T);                                                         \
    }

FR_Q_ENTRY(q4_0, FR_Q40)
FR_Q_ENTRY(q4_1, FR_Q41)
FR_Q_ENTRY(q5_0, FR_Q50)
FR_Q_ENTRY(q5_1, FR_Q51)
FR_Q_ENTRY(q8_0, FR_Q80)
#endif
