/*
 * avx2_x8k.c - AVX2 products of the K types (Q2_K .. Q6_K) repacked in the
 * x8 layouts (pack.h, pack.c), with Q8K activations.
 *
 * As avx2_x8.c: 32-bit lane r is row r of an 8-row group, a 32-byte load
 * of quants holds 4 bytes of each row, the activation bytes they multiply
 * are broadcast, and vpmaddubsw pair sums stay in int16 over a whole
 * scale group before one vpmaddwd multiplies them by the group's scale
 * (the scale of row r in both halves of lane r) and widens them:
 *   Q4_K  unsigned 4-bit quants, groups of 32 (8 loads: sum <= 30480)
 *   Q5_K  unsigned 5-bit, groups of 32 in two halves of 4 loads (<= 31496)
 *   Q2_K  unsigned 2-bit, groups of 16 (4 loads)
 *   Q3_K  signed q - 4 (|w| <= 4, vpsignb puts the sign on the
 *         activation), groups of 16
 *   Q6_K  signed q - 32 (|w| <= 32: 4 loads <= 4 * 2 * 32 * 127 = 32512),
 *         groups of 16
 * so the offsets of Q3_K and Q6_K need no correction, and the mins of
 * Q2_K, Q4_K and Q5_K come from the activation sums per 16 values (bsums):
 * one vpmaddwd of (min of group g, min of g) by (bsum 2g, bsum 2g+1), per
 * group of 32 (Q2_K: (min g, min g+1) by (bsum g, bsum g+1)).
 *
 * Per row and token the float step is, super-block after super-block,
 *   acc = fmadd(float(isum), d_w * d_a, acc)
 *   acc = fnmadd(float(msum), dmin_w * d_a, acc)     (types with mins)
 * whatever the tile, so decode and prefill give bit-identical results.
 *
 * Tiles: one-token decode 1 group (8 rows) x 1 token; batches 1 group x
 * 4 tokens.
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)

FR_AI int fr_xk_bs(const int T) { return fr_k_bs(T); }

FR_AI __m256i fr_xk_bcast(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

FR_AI __m256i fr_xk_ld(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Int16 pairs (v, v) in lane r from byte b (0..3) of lane r of x,
 * zero-extended. */
FR_AI __m256i fr_xk_pair_u(__m256i x, const int b)
{
    const __m256i m = _mm256_setr_epi8(
        (char)b, -128, (char)b, -128, (char)(4 + b), -128, (char)(4 + b), -128, (char)(8 + b), -128,
        (char)(8 + b), -128, (char)(12 + b), -128, (char)(12 + b), -128, (char)b, -128, (char)b, -128,
        (char)(4 + b), -128, (char)(4 + b), -128, (char)(8 + b), -128, (char)(8 + b), -128,
        (char)(12 + b), -128, (char)(12 + b), -128);
    return _mm256_shuffle_epi8(x, m);
}

/* The same from 16 bytes laid out [group A: rows 0..7][group B: rows 0..7]
 * and broadcast to both 128-bit halves: group sel (0 = A) of row r. */
FR_AI __m256i fr_xk_rows_u(__m256i bc, const int sel)
{
    const int o = 8 * sel;
#define FR_B2_(i) (char)(o + (i)), -128, (char)(o + (i)), -128
    const __m256i m = _mm256_setr_epi8(FR_B2_(0), FR_B2_(1), FR_B2_(2), FR_B2_(3), FR_B2_(4),
                                       FR_B2_(5), FR_B2_(6), FR_B2_(7));
#undef FR_B2_
    return _mm256_shuffle_epi8(bc, m);
}

/* Signed version: the byte in all four bytes of the lane, then an
 * arithmetic shift of each int16 by 8. */
FR_AI __m256i fr_xk_rows_s(__m256i bc, const int sel)
{
    const int o = 8 * sel;
#define FR_B4_(i) (char)(o + (i)), (char)(o + (i)), (char)(o + (i)), (char)(o + (i))
    const __m256i m = _mm256_setr_epi8(FR_B4_(0), FR_B4_(1), FR_B4_(2), FR_B4_(3), FR_B4_(4),
                                       FR_B4_(5), FR_B4_(6), FR_B4_(7));
#undef FR_B4_
    return _mm256_srai_epi16(_mm256_shuffle_epi8(bc, m), 8);
}

FR_AI __m256i fr_xk_pair_s(__m256i x, const int b)
{
    const __m256i m = _mm256_setr_epi8(
        (char)b, (char)b, (char)b, (char)b, (char)(4 + b), (char)(4 + b), (char)(4 + b), (char)(4 + b),
        (char)(8 + b), (char)(8 + b), (char)(8 + b), (char)(8 + b), (char)(12 + b), (char)(12 + b),
        (char)(12 + b), (char)(12 + b), (char)b, (char)b, (char)b, (char)b, (char)(4 + b),
        (char)(4 + b), (char)(4 + b), (char)(4 + b), (char)(8 + b), (char)(8 + b), (char)(8 + b),
        (char)(8 + b), (char)(12 + b), (char)(12 + b), (char)(12 + b), (char)(12 + b));
    return _mm256_srai_epi16(_mm256_shuffle_epi8(x, m), 8);
}

FR_AI __m256i fr_xk_bc16(const uint8_t *p)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
}

/* Q4_K / Q5_K scales and mins of the 8 rows (12 bytes each as 3 words,
 * layout.h): per lane, bytes 0-3 = groups 0-3 and 4-7. */
typedef struct fr_xk_sm {
    __m256i sc_lo, sc_hi, mn_lo, mn_hi;
} fr_xk_sm;

FR_AI void fr_xk_scales45(const uint8_t *p, fr_xk_sm *o)
{
    const __m256i m6 = _mm256_set1_epi8(0x3f), m4 = _mm256_set1_epi8(0x0f),
                  m2 = _mm256_set1_epi8(0x03);
    __m256i w0 = fr_xk_ld(p), w1 = fr_xk_ld(p + 32), w2 = fr_xk_ld(p + 64);
    o->sc_lo = _mm256_and_si256(w0, m6);
    o->mn_lo = _mm256_and_si256(w1, m6);
    o->sc_hi = _mm256_or_si256(_mm256_and_si256(w2, m4),
                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(w0, 6), m2), 4));
    o->mn_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w2, 4), m4),
                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(w1, 6), m2), 4));
}

/* Q3_K's 16 scales (biased by 32) of the 8 rows: s[q] lane r bytes 0-3 =
 * groups 4q .. 4q+3, unbiased (signed). */
FR_AI void fr_xk_scales3(const uint8_t *p, __m256i s[4])
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03),
                  b32 = _mm256_set1_epi8(32);
    __m256i w0 = fr_xk_ld(p), w1 = fr_xk_ld(p + 32), w2 = fr_xk_ld(p + 64);
    __m256i h0 = _mm256_slli_epi32(_mm256_and_si256(w2, m2), 4);
    __m256i h1 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(w2, 2), m2), 4);
    __m256i h2 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(w2, 4), m2), 4);
    __m256i h3 = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(w2, 6), m2), 4);
    s[0] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(w0, m4), h0), b32);
    s[1] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(w1, m4), h1), b32);
    s[2] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w0, 4), m4), h2), b32);
    s[3] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w1, 4), m4), h3), b32);
}

/* Byte offsets of the fields in an 8-block (pack.c). */
enum {
    FR_XK4_SC = 32, FR_XK4_QS = 128,
    FR_XK5_SC = 32, FR_XK5_QH = 128, FR_XK5_QS = 384,
    FR_XK6_SC = 16, FR_XK6_QL = 144, FR_XK6_QH = 1168,
    FR_XK3_SC = 16, FR_XK3_QS = 112, FR_XK3_HM = 624,
    FR_XK2_SC = 32, FR_XK2_QS = 160,
};

FR_AI void fr_xk_tile(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                      const int RG, const int RN)
{
    const int bs8 = 8 * fr_xk_bs(T);
    const size_t gbytes = 8 * a->row_bytes;
    const int64_t last_g = (r1 - 1) / 8;
    const uint8_t *w[2];
    const int8_t *aq[4];
    const float *ad[4];
    const int16_t *ab[4];
    __m256 acc[2][4];
    FR_UNROLL
    for (int i = 0; i < RG; i++)
        w[i] = a->w + (size_t)fr_min64(r / 8 + i, last_g) * gbytes;
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        int64_t tj = fr_min64(t + j, a->n_tok - 1);
        aq[j] = a->qa.qs + tj * a->qa.qs_ld;
        ad[j] = a->qa.d + tj * a->qa.blk_ld;
        ab[j] = a->qa.bsums + tj * a->qa.blk_ld * 16;
    }
    FR_UNROLL
    for (int i = 0; i < RG; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(0x03);
    const __m256i b4 = _mm256_set1_epi8(0x10), b45 = _mm256_set1_epi8(0x30);
    const size_t pf = fr_pf_dist((size_t)RG * gbytes);
    int64_t pf_rows = a->pf_r1 > r1 ? a->pf_r1 : r1;
    const uint8_t *lim = a->w + (size_t)((pf_rows + 7) / 8) * gbytes;
    const int64_t nb = a->n_in / FR_QK_BLK;
    for (int64_t b = 0; b < nb; b++) {
        __m256i isum[2][4], msum[2][4];
        const uint8_t *p[2];
        FR_UNROLL
        for (int i = 0; i < RG; i++) {
            p[i] = w[i] + b * bs8;
            fr_pf(p[i] + pf, lim, bs8);
            FR_UNROLL
            for (int j = 0; j < RN; j++)
                isum[i][j] = msum[i][j] = _mm256_setzero_si256();
        }
        const int8_t *x[4];
        const int16_t *bsm[4];
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            x[j] = aq[j] + b * FR_QK_BLK;
            bsm[j] = ab[j] + b * 16;
        }
        if (T == FR_K4 || T == FR_K5) {
            fr_xk_sm sm[2];
            FR_UNROLL
            for (int i = 0; i < RG; i++)
                fr_xk_scales45(p[i] + FR_XK4_SC, &sm[i]);
            FR_UNROLL
            for (int c = 0; c < 4; c++) {
                /* groups 2c (low nibbles) and 2c+1 (high nibbles) */
                __m256i sl[2][4], sh[2][4], sl2[2][4], sh2[2][4];
                FR_UNROLL
                for (int i = 0; i < RG; i++)
                    FR_UNROLL
                    for (int j = 0; j < RN; j++)
                        sl[i][j] = sh[i][j] = sl2[i][j] = sh2[i][j] = _mm256_setzero_si256();
                FR_UNROLL
                for (int k = 0; k < 8; k++) {
                    __m256i lo[2], hi[2];
                    FR_UNROLL
                    for (int i = 0; i < RG; i++) {
                        __m256i q = fr_xk_ld(p[i] + (T == FR_K4 ? FR_XK4_QS : FR_XK5_QS) +
                                             32 * (8 * c + k));
                        lo[i] = _mm256_and_si256(q, m4);
                        hi[i] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                        if (T == FR_K5) {
                            __m256i h = fr_xk_ld(p[i] + FR_XK5_QH + 32 * k);
                            lo[i] = _mm256_or_si256(lo[i], _mm256_and_si256(fr_sh16(h, 4 - 2 * c), b4));
                            hi[i] = _mm256_or_si256(hi[i], _mm256_and_si256(fr_sh16(h, 3 - 2 * c), b4));
                        }
                    }
                    FR_UNROLL
                    for (int j = 0; j < RN; j++) {
                        __m256i al = fr_xk_bcast(x[j] + 64 * c + 4 * k);
                        __m256i ah = fr_xk_bcast(x[j] + 64 * c + 32 + 4 * k);
                        FR_UNROLL
                        for (int i = 0; i < RG; i++) {
                            if (T == FR_K5 && k >= 4) {
                                sl2[i][j] = _mm256_add_epi16(sl2[i][j], _mm256_maddubs_epi16(lo[i], al));
                                sh2[i][j] = _mm256_add_epi16(sh2[i][j], _mm256_maddubs_epi16(hi[i], ah));
                            } else {
                                sl[i][j] = _mm256_add_epi16(sl[i][j], _mm256_maddubs_epi16(lo[i], al));
                                sh[i][j] = _mm256_add_epi16(sh[i][j], _mm256_maddubs_epi16(hi[i], ah));
                            }
                        }
                    }
                }
                FR_UNROLL
                for (int i = 0; i < RG; i++) {
                    __m256i sv = c < 2 ? sm[i].sc_lo : sm[i].sc_hi;
                    __m256i mv = c < 2 ? sm[i].mn_lo : sm[i].mn_hi;
                    __m256i sc0 = fr_xk_pair_u(sv, (2 * c) & 3), sc1 = fr_xk_pair_u(sv, (2 * c + 1) & 3);
                    __m256i mn0 = fr_xk_pair_u(mv, (2 * c) & 3), mn1 = fr_xk_pair_u(mv, (2 * c + 1) & 3);
                    FR_UNROLL
                    for (int j = 0; j < RN; j++) {
                        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(sl[i][j], sc0),
                                                     _mm256_madd_epi16(sh[i][j], sc1));
                        if (T == FR_K5)
                            s = _mm256_add_epi32(s, _mm256_add_epi32(_mm256_madd_epi16(sl2[i][j], sc0),
                                                                     _mm256_madd_epi16(sh2[i][j], sc1)));
                        isum[i][j] = _mm256_add_epi32(isum[i][j], s);
                        /* mins: (mn, mn) x (bsum 4c, 4c+1), (bsum 4c+2, 4c+3) */
                        __m256i m = _mm256_add_epi32(
                            _mm256_madd_epi16(mn0, fr_xk_bcast((const int8_t *)(bsm[j] + 4 * c))),
                            _mm256_madd_epi16(mn1, fr_xk_bcast((const int8_t *)(bsm[j] + 4 * c + 2))));
                        msum[i][j] = _mm256_add_epi32(msum[i][j], m);
                    }
                }
            }
        } else if (T == FR_K6) {
            /* Unsigned quants q (0..63) by signed activations, then
             * 32 * sum(scale * bsum) off isum: the same integer as the
             * signed (q - 32) products, without vpabsb / vpsignb on every
             * load. Pair sums of q * a fit int16 for two loads
             * (2 * 2 * 63 * 128 = 32256), so each 2 loads are widened. */
            FR_UNROLL
            for (int h = 0; h < 2; h++) {
                FR_UNROLL
                for (int pp = 0; pp < 2; pp++) {
                    FR_UNROLL
                    for (int half = 0; half < 2; half++) {
                        /* groups 8h + 2pp + half (low nibbles, k = pp) and
                         * 8h + 2(pp + 2) + half (high nibbles, k = pp + 2) */
                        const int g0 = 8 * h + 2 * pp + half, g1 = 8 * h + 2 * (pp + 2) + half;
                        __m256i sc0[2], sc1[2];
                        FR_UNROLL
                        for (int i = 0; i < RG; i++) {
                            /* 16 bytes hold groups (g & ~1, g | 1) of the 8 rows */
                            sc0[i] = fr_xk_rows_s(fr_xk_bc16(p[i] + FR_XK6_SC + 8 * (g0 & ~1)), g0 & 1);
                            sc1[i] = fr_xk_rows_s(fr_xk_bc16(p[i] + FR_XK6_SC + 8 * (g1 & ~1)), g1 & 1);
                        }
                        FR_UNROLL
                        for (int two = 0; two < 2; two++) {
                            __m256i s0[2][4], s1[2][4];
                            FR_UNROLL
                            for (int i = 0; i < RG; i++)
                                FR_UNROLL
                                for (int j = 0; j < RN; j++)
                                    s0[i][j] = s1[i][j] = _mm256_setzero_si256();
                            FR_UNROLL
                            for (int qq = 4 * half + 2 * two; qq < 4 * half + 2 * two + 2; qq++) {
                                __m256i q0[2], q1[2];
                                FR_UNROLL
                                for (int i = 0; i < RG; i++) {
                                    __m256i l = fr_xk_ld(p[i] + FR_XK6_QL + 32 * (16 * h + 8 * pp + qq));
                                    __m256i hb = fr_xk_ld(p[i] + FR_XK6_QH + 32 * (8 * h + qq));
                                    q0[i] = _mm256_or_si256(_mm256_and_si256(l, m4),
                                                            _mm256_and_si256(fr_sh16(hb, 4 - 2 * pp), b45));
                                    q1[i] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), m4),
                                                            _mm256_and_si256(fr_sh16(hb, -2 * pp), b45));
                                }
                                FR_UNROLL
                                for (int j = 0; j < RN; j++) {
                                    __m256i v0 = fr_xk_bcast(x[j] + 128 * h + 32 * pp + 4 * qq);
                                    __m256i v1 = fr_xk_bcast(x[j] + 128 * h + 32 * (pp + 2) + 4 * qq);
                                    FR_UNROLL
                                    for (int i = 0; i < RG; i++) {
                                        s0[i][j] = _mm256_add_epi16(s0[i][j], _mm256_maddubs_epi16(q0[i], v0));
                                        s1[i][j] = _mm256_add_epi16(s1[i][j], _mm256_maddubs_epi16(q1[i], v1));
                                    }
                                }
                            }
                            FR_UNROLL
                            for (int i = 0; i < RG; i++)
                                FR_UNROLL
                                for (int j = 0; j < RN; j++)
                                    isum[i][j] = _mm256_add_epi32(
                                        isum[i][j], _mm256_add_epi32(_mm256_madd_epi16(s0[i][j], sc0[i]),
                                                                     _mm256_madd_epi16(s1[i][j], sc1[i])));
                        }
                    }
                }
            }
            /* the offset: per lane r, (scale 2m, scale 2m+1) of row r by
             * (bsum 2m, bsum 2m+1), summed over the 8 pairs, times 32 */
            const __m256i pairs = _mm256_setr_epi8(
                -128, 0, -128, 8, -128, 1, -128, 9, -128, 2, -128, 10, -128, 3, -128, 11, -128, 4, -128,
                12, -128, 5, -128, 13, -128, 6, -128, 14, -128, 7, -128, 15);
            FR_UNROLL
            for (int m = 0; m < 8; m++)
                FR_UNROLL
                for (int i = 0; i < RG; i++) {
                    __m256i sp = _mm256_srai_epi16(
                        _mm256_shuffle_epi8(fr_xk_bc16(p[i] + FR_XK6_SC + 16 * m), pairs), 8);
                    FR_UNROLL
                    for (int j = 0; j < RN; j++)
                        msum[i][j] = _mm256_add_epi32(
                            msum[i][j], _mm256_madd_epi16(sp, fr_xk_bcast((const int8_t *)(bsm[j] + 2 * m))));
                }
            FR_UNROLL
            for (int i = 0; i < RG; i++)
                FR_UNROLL
                for (int j = 0; j < RN; j++)
                    isum[i][j] = _mm256_sub_epi32(isum[i][j], _mm256_slli_epi32(msum[i][j], 5));
        } else if (T == FR_K3) {
            __m256i s3[2][4];
            FR_UNROLL
            for (int i = 0; i < RG; i++)
                fr_xk_scales3(p[i] + FR_XK3_SC, s3[i]);
            FR_UNROLL
            for (int h = 0; h < 2; h++) {
                FR_UNROLL
                for (int k = 0; k < 4; k++) {
                    FR_UNROLL
                    for (int half = 0; half < 2; half++) {
                        __m256i sg[2][4];
                        FR_UNROLL
                        for (int i = 0; i < RG; i++)
                            FR_UNROLL
                            for (int j = 0; j < RN; j++)
                                sg[i][j] = _mm256_setzero_si256();
                        FR_UNROLL
                        for (int qq = 4 * half; qq < 4 * half + 4; qq++) {
                            __m256i wq[2], aw[2];
                            FR_UNROLL
                            for (int i = 0; i < RG; i++) {
                                __m256i l = fr_xk_ld(p[i] + FR_XK3_QS + 32 * (8 * h + qq));
                                __m256i hm = fr_xk_ld(p[i] + FR_XK3_HM + 32 * qq);
                                __m256i lo = _mm256_and_si256(fr_sh16(l, -2 * k), m3);
                                __m256i hb = _mm256_and_si256(fr_sh16(hm, 2 - (4 * h + k)),
                                                              _mm256_set1_epi8(0x04));
                                wq[i] = _mm256_sub_epi8(_mm256_or_si256(lo, hb), _mm256_set1_epi8(4));
                                aw[i] = _mm256_abs_epi8(wq[i]);
                            }
                            FR_UNROLL
                            for (int j = 0; j < RN; j++) {
                                __m256i v = fr_xk_bcast(x[j] + 128 * h + 32 * k + 4 * qq);
                                FR_UNROLL
                                for (int i = 0; i < RG; i++)
                                    sg[i][j] = _mm256_add_epi16(
                                        sg[i][j], _mm256_maddubs_epi16(aw[i], _mm256_sign_epi8(v, wq[i])));
                            }
                        }
                        const int g = 8 * h + 2 * k + half;
                        FR_UNROLL
                        for (int i = 0; i < RG; i++) {
                            __m256i sc = fr_xk_pair_s(s3[i][g / 4], g % 4);
                            FR_UNROLL
                            for (int j = 0; j < RN; j++)
                                isum[i][j] = _mm256_add_epi32(isum[i][j], _mm256_madd_epi16(sg[i][j], sc));
                        }
                    }
                }
            }
        } else { /* FR_K2 */
            FR_UNROLL
            for (int h = 0; h < 2; h++) {
                FR_UNROLL
                for (int k = 0; k < 4; k++) {
                    __m256i sg[2][2][4];
                    FR_UNROLL
                    for (int i = 0; i < RG; i++)
                        FR_UNROLL
                        for (int j = 0; j < RN; j++)
                            sg[0][i][j] = sg[1][i][j] = _mm256_setzero_si256();
                    FR_UNROLL
                    for (int qq = 0; qq < 8; qq++) {
                        __m256i wq[2];
                        FR_UNROLL
                        for (int i = 0; i < RG; i++)
                            wq[i] = _mm256_and_si256(
                                fr_sh16(fr_xk_ld(p[i] + FR_XK2_QS + 32 * (8 * h + qq)), -2 * k), m3);
                        FR_UNROLL
                        for (int j = 0; j < RN; j++) {
                            __m256i v = fr_xk_bcast(x[j] + 128 * h + 32 * k + 4 * qq);
                            FR_UNROLL
                            for (int i = 0; i < RG; i++)
                                sg[qq / 4][i][j] =
                                    _mm256_add_epi16(sg[qq / 4][i][j], _mm256_maddubs_epi16(wq[i], v));
                        }
                    }
                    const int g = 8 * h + 2 * k; /* groups g, g + 1 */
                    FR_UNROLL
                    for (int i = 0; i < RG; i++) {
                        __m256i bc = fr_xk_bc16(p[i] + FR_XK2_SC + 8 * g);
                        __m256i v0 = fr_xk_rows_u(bc, 0), v1 = fr_xk_rows_u(bc, 1);
                        __m256i sc0 = _mm256_and_si256(v0, _mm256_set1_epi16(0x0f));
                        __m256i sc1 = _mm256_and_si256(v1, _mm256_set1_epi16(0x0f));
                        /* (min g, min g+1) per lane */
                        __m256i mn = _mm256_or_si256(_mm256_srli_epi32(_mm256_slli_epi32(v0, 16), 20),
                                                     _mm256_slli_epi32(_mm256_srli_epi32(v1, 20), 16));
                        FR_UNROLL
                        for (int j = 0; j < RN; j++) {
                            isum[i][j] = _mm256_add_epi32(
                                isum[i][j], _mm256_add_epi32(_mm256_madd_epi16(sg[0][i][j], sc0),
                                                             _mm256_madd_epi16(sg[1][i][j], sc1)));
                            msum[i][j] = _mm256_add_epi32(
                                msum[i][j],
                                _mm256_madd_epi16(mn, fr_xk_bcast((const int8_t *)(bsm[j] + g))));
                        }
                    }
                }
            }
        }
        FR_UNROLL
        for (int i = 0; i < RG; i++) {
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p[i]));
            __m256 mw = _mm256_setzero_ps();
            if (fr_k_hasmin(T))
                mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p[i] + 16)));
            FR_UNROLL
            for (int j = 0; j < RN; j++) {
                __m256 da = _mm256_broadcast_ss(ad[j] + b);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][j]), _mm256_mul_ps(dw, da),
                                            acc[i][j]);
                if (fr_k_hasmin(T))
                    acc[i][j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum[i][j]), _mm256_mul_ps(mw, da),
                                                 acc[i][j]);
            }
        }
    }
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        if (t + j >= a->n_tok)
            break;
        float *y = a->y + (t + j) * a->ldy;
        FR_UNROLL
        for (int i = 0; i < RG; i++) {
            int64_t row = r + 8 * i;
            if (row >= r1)
                continue;
            if (row + 8 <= r1) {
                _mm256_storeu_ps(y + row, acc[i][j]);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, acc[i][j]);
                for (int k = 0; k < 8 && row + k < r1; k++)
                    y[row + k] = tmp[k];
            }
        }
    }
}

FR_AI void fr_xk_gemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    if (a->n_tok == 1) {
        /* one row group: two overflow the 16 registers (measured on Zen 1:
         * Q6_K decode 1.5x, Q5_K 1.3x, Q4_K 1.08x faster than two) */
        for (int64_t r = r0; r < r1; r += 8)
            fr_xk_tile(a, r, r1, 0, T, 1, 1);
        return;
    }
    /* Tokens in blocks whose activations stay in the second-level cache
     * while every row group of the piece passes over them (the piece's
     * weights stay there too). */
    int64_t tb = fr_x8_token_block(a->n_in);
    for (int64_t t0 = 0; t0 < a->n_tok; t0 += tb) {
        int64_t nt = fr_min64(tb, a->n_tok - t0);
        for (int64_t r = r0; r < r1; r += 8) {
#define FR_TILE_(t, rn) fr_xk_tile(a, r, r1, t0 + (t), T, 1, rn)
            FR_FOR_TOKEN_TILES(nt, FR_TILE_);
#undef FR_TILE_
        }
    }
}

#define FR_XK_ENTRY(name, T)                                                                \
    void fr_gemm_##name##_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                       \
        (void)scratch;                                                                      \
        fr_xk_gemm(a, r0, r1, T);                                                           \
    }

FR_XK_ENTRY(q2_k, FR_K2)
FR_XK_ENTRY(q3_k, FR_K3)
FR_XK_ENTRY(q4_k, FR_K4)
FR_XK_ENTRY(q5_k, FR_K5)
FR_XK_ENTRY(q6_k, FR_K6)
#endif
