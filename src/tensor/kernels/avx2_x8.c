/*
 * avx2_x8.c - AVX2 products of the 32-value block types (Q4_0, Q4_1, Q5_0,
 * Q5_1, Q8_0) repacked in the x8 layouts (pack.h, pack.c), with Q8B
 * activations.
 *
 * 32-bit lane r of every vector is row r of an 8-row group. One 32-byte
 * load of weight quants holds 4 bytes of each row; the 4 activation bytes
 * they multiply are broadcast to every lane (vpbroadcastd from memory, a
 * load-port operation), vpmaddubsw makes the pair sums of each row, and
 * the pair sums of a whole block stay in int16 until one vpmaddwd widens
 * them (4-bit quants: 8 vectors of |pair| <= 2 * 15 * 127, sum <= 30480;
 * 5-bit: two halves of 4, each <= 4 * 2 * 31 * 127 = 31496; Q8_0 widens
 * each vector: 2 * 128 * 127). So a block of 8 rows costs 8 vpmaddubsw and
 * 1 vpmaddwd (Q8_0: 8 and 8) where the row-major kernels (avx2_q32.c) need
 * 2 and 2 per row: on a CPU with one vector multiplier (AMD Zen 1-3) the
 * x8 products do about half the multiplier work per weight.
 *
 * Offsets and mins go to the float step, once per block, row group and
 * token: Q4_0 and Q5_0 keep unsigned quants and subtract off * s (s = the
 * activation block's d * sum of quants) from d_a * isum; Q4_1 and Q5_1 add
 * m * s. Per row and token the float operations are, block after block,
 *   f = fmsub(float(isum), d_a, off * s)   (Q8_0, Q4_1, Q5_1: float(isum) * d_a)
 *   acc = fmadd(d_w, f, acc)               (Q4_1, Q5_1: then acc = fmadd(m_w, s, acc))
 * whatever the tile, so decode and prefill give bit-identical results.
 *
 * Tiles: one-token decode 2 groups (16 rows) x 1 token; batches 1 group x
 * 4 tokens, so that the int16 and float accumulators (RG * RN each), the
 * quants of one load and the broadcast stay within 16 ymm registers.
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)

enum { FR_X40, FR_X41, FR_X50, FR_X51, FR_X80 };

FR_AI int fr_x_bs(const int T) /* bytes of one row's block */
{
    return T == FR_X40 ? 18 : T == FR_X41 ? 20 : T == FR_X50 ? 22 : T == FR_X51 ? 24 : 34;
}
FR_AI int fr_x_off(const int T) { return T == FR_X40 ? 8 : T == FR_X50 ? 16 : 0; }
FR_AI int fr_x_min(const int T) { return T == FR_X41 || T == FR_X51; }
FR_AI int fr_x_five(const int T) { return T == FR_X50 || T == FR_X51; }
/* offset of the quants in an 8-block: scales (16 or 32), then qh (32) */
FR_AI int fr_x_qs(const int T)
{
    return (fr_x_min(T) ? 32 : 16) + (fr_x_five(T) ? 32 : 0);
}

FR_AI __m256i fr_bcast32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Stores the 8 rows of acc (rows row .. row+7, those below r1) of one token. */
FR_AI void fr_x8_store(float *y, int64_t row, int64_t r1, __m256 acc)
{
    if (row + 8 <= r1) {
        _mm256_storeu_ps(y + row, acc);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, acc);
    for (int i = 0; i < 8 && row + i < r1; i++)
        y[row + i] = tmp[i];
}

FR_AI void fr_x8_tile(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                      const int RG, const int RN)
{
    const int bs8 = 8 * fr_x_bs(T), off = fr_x_off(T);
    const size_t gbytes = 8 * a->row_bytes;
    const int64_t last_g = (r1 - 1) / 8;
    const uint8_t *w[2];
    const int8_t *aq[4];
    const float *ad[4], *as[4];
    __m256 acc[2][4];
    FR_UNROLL
    for (int i = 0; i < RG; i++) {
        int64_t g = fr_min64(r / 8 + i, last_g);
        w[i] = a->w + (size_t)g * gbytes;
    }
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        int64_t tj = fr_min64(t + j, a->n_tok - 1);
        aq[j] = a->qa.qs + tj * a->qa.qs_ld;
        ad[j] = a->qa.d + tj * a->qa.blk_ld;
        as[j] = a->qa.s + tj * a->qa.blk_ld;
    }
    FR_UNROLL
    for (int i = 0; i < RG; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t pf = fr_pf_dist((size_t)RG * gbytes);
    int64_t pf_rows = a->pf_r1 > r1 ? a->pf_r1 : r1;
    const uint8_t *lim = a->w + (size_t)((pf_rows + 7) / 8) * gbytes;
    const int64_t nb = a->n_in / FR_QA_BLK;
    for (int64_t b = 0; b < nb; b++) {
        __m256i isum[2][4];
        FR_UNROLL
        for (int i = 0; i < RG; i++) {
            fr_pf(w[i] + b * bs8 + pf, lim, bs8);
            FR_UNROLL
            for (int j = 0; j < RN; j++)
                isum[i][j] = _mm256_setzero_si256();
        }
        if (T == FR_X80) {
            FR_UNROLL
            for (int k = 0; k < 8; k++) {
                __m256i x[2], ax[2];
                FR_UNROLL
                for (int i = 0; i < RG; i++) {
                    x[i] = _mm256_loadu_si256((const __m256i *)(w[i] + b * bs8 + 16 + 32 * k));
                    ax[i] = _mm256_abs_epi8(x[i]);
                }
                FR_UNROLL
                for (int j = 0; j < RN; j++) {
                    __m256i av = fr_bcast32(aq[j] + b * FR_QA_BLK + 4 * k);
                    FR_UNROLL
                    for (int i = 0; i < RG; i++)
                        isum[i][j] = _mm256_add_epi32(
                            isum[i][j],
                            _mm256_madd_epi16(_mm256_maddubs_epi16(ax[i], _mm256_sign_epi8(av, x[i])),
                                              ones));
                }
            }
        } else {
            __m256i half[2][4]; /* 5-bit types: the first half's sums, widened */
            __m256i hb[2];
            FR_UNROLL
            for (int i = 0; i < RG; i++)
                if (fr_x_five(T))
                    hb[i] = _mm256_loadu_si256((const __m256i *)(w[i] + b * bs8 + fr_x_qs(T) - 32));
            FR_UNROLL
            for (int k = 0; k < 4; k++) {
                __m256i lo[2], hi[2];
                FR_UNROLL
                for (int i = 0; i < RG; i++) {
                    __m256i x =
                        _mm256_loadu_si256((const __m256i *)(w[i] + b * bs8 + fr_x_qs(T) + 32 * k));
                    lo[i] = _mm256_and_si256(x, m4);
                    hi[i] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
                    if (fr_x_five(T)) {
                        /* fifth bits: bit k (low nibbles) and bit k + 4 (high) */
                        lo[i] = _mm256_or_si256(lo[i], _mm256_and_si256(fr_sh16(hb[i], 4 - k), b4));
                        hi[i] = _mm256_or_si256(hi[i], _mm256_and_si256(fr_sh16(hb[i], -k), b4));
                    }
                }
                FR_UNROLL
                for (int j = 0; j < RN; j++) {
                    const int8_t *ab = aq[j] + b * FR_QA_BLK;
                    __m256i al = fr_bcast32(ab + 4 * k), ah = fr_bcast32(ab + 16 + 4 * k);
                    FR_UNROLL
                    for (int i = 0; i < RG; i++) {
                        isum[i][j] = _mm256_add_epi16(isum[i][j], _mm256_maddubs_epi16(lo[i], al));
                        isum[i][j] = _mm256_add_epi16(isum[i][j], _mm256_maddubs_epi16(hi[i], ah));
                    }
                }
                if (fr_x_five(T) && k == 1) {
                    FR_UNROLL
                    for (int i = 0; i < RG; i++)
                        FR_UNROLL
                        for (int j = 0; j < RN; j++) {
                            half[i][j] = _mm256_madd_epi16(isum[i][j], ones);
                            isum[i][j] = _mm256_setzero_si256();
                        }
                }
            }
            FR_UNROLL
            for (int i = 0; i < RG; i++)
                FR_UNROLL
                for (int j = 0; j < RN; j++) {
                    isum[i][j] = _mm256_madd_epi16(isum[i][j], ones);
                    if (fr_x_five(T))
                        isum[i][j] = _mm256_add_epi32(half[i][j], isum[i][j]);
                }
        }
        FR_UNROLL
        for (int i = 0; i < RG; i++) {
            const uint8_t *p = w[i] + b * bs8;
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
            __m256 mw = _mm256_setzero_ps();
            if (fr_x_min(T))
                mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
            FR_UNROLL
            for (int j = 0; j < RN; j++) {
                __m256 da = _mm256_broadcast_ss(ad[j] + b);
                __m256 fi = _mm256_cvtepi32_ps(isum[i][j]);
                __m256 f;
                if (off)
                    f = _mm256_fmsub_ps(fi, da,
                                        _mm256_set1_ps((float)off * as[j][b]));
                else
                    f = _mm256_mul_ps(fi, da);
                acc[i][j] = _mm256_fmadd_ps(dw, f, acc[i][j]);
                if (fr_x_min(T))
                    acc[i][j] = _mm256_fmadd_ps(mw, _mm256_broadcast_ss(as[j] + b), acc[i][j]);
            }
        }
    }
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        if (t + j >= a->n_tok)
            break;
        FR_UNROLL
        for (int i = 0; i < RG; i++)
            if (r + 8 * i < r1)
                fr_x8_store(a->y + (t + j) * a->ldy, r + 8 * i, r1, acc[i][j]);
    }
}

/* One-token decode: rows r .. r+15 (two groups), written out without
 * arrays so that both groups' accumulators stay in registers. Same float
 * operations per row as fr_x8_tile. */
FR_AI void fr_x8_dec(const fr_mm_args *a, int64_t r, int64_t r1, const int T)
{
    const int bs8 = 8 * fr_x_bs(T), off = fr_x_off(T), qs = fr_x_qs(T);
    const size_t gbytes = 8 * a->row_bytes;
    const int64_t last_g = (r1 - 1) / 8;
    const uint8_t *w0 = a->w + (size_t)fr_min64(r / 8, last_g) * gbytes;
    const uint8_t *w1 = a->w + (size_t)fr_min64(r / 8 + 1, last_g) * gbytes;
    const int8_t *aq = a->qa.qs;
    const float *ad = a->qa.d, *as = a->qa.s;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 voff = _mm256_set1_ps((float)off);
    const size_t pf = fr_pf_dist(2 * gbytes);
    int64_t pf_rows = a->pf_r1 > r1 ? a->pf_r1 : r1;
    const uint8_t *lim = a->w + (size_t)((pf_rows + 7) / 8) * gbytes;
    const int64_t nb = a->n_in / FR_QA_BLK;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p0 = w0 + b * bs8, *p1 = w1 + b * bs8;
        const int8_t *ab = aq + b * FR_QA_BLK;
        fr_pf(p0 + pf, lim, bs8);
        fr_pf(p1 + pf, lim, bs8);
        __m256i s0, s1;
        if (T == FR_X80) {
            s0 = s1 = _mm256_setzero_si256();
            FR_UNROLL
            for (int k = 0; k < 8; k++) {
                __m256i av = fr_bcast32(ab + 4 * k);
                __m256i x0 = _mm256_loadu_si256((const __m256i *)(p0 + 16 + 32 * k));
                __m256i x1 = _mm256_loadu_si256((const __m256i *)(p1 + 16 + 32 * k));
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                              _mm256_abs_epi8(x0), _mm256_sign_epi8(av, x0)), ones));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                              _mm256_abs_epi8(x1), _mm256_sign_epi8(av, x1)), ones));
            }
        } else {
            __m256i h0 = _mm256_setzero_si256(), h1 = _mm256_setzero_si256();
            __m256i hb0 = h0, hb1 = h1;
            if (fr_x_five(T)) {
                hb0 = _mm256_loadu_si256((const __m256i *)(p0 + qs - 32));
                hb1 = _mm256_loadu_si256((const __m256i *)(p1 + qs - 32));
            }
            s0 = s1 = _mm256_setzero_si256();
            FR_UNROLL
            for (int k = 0; k < 4; k++) {
                __m256i al = fr_bcast32(ab + 4 * k), ah = fr_bcast32(ab + 16 + 4 * k);
                __m256i x0 = _mm256_loadu_si256((const __m256i *)(p0 + qs + 32 * k));
                __m256i x1 = _mm256_loadu_si256((const __m256i *)(p1 + qs + 32 * k));
                __m256i l0 = _mm256_and_si256(x0, m4), u0 = _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4);
                __m256i l1 = _mm256_and_si256(x1, m4), u1 = _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4);
                if (fr_x_five(T)) {
                    l0 = _mm256_or_si256(l0, _mm256_and_si256(fr_sh16(hb0, 4 - k), b4));
                    u0 = _mm256_or_si256(u0, _mm256_and_si256(fr_sh16(hb0, -k), b4));
                    l1 = _mm256_or_si256(l1, _mm256_and_si256(fr_sh16(hb1, 4 - k), b4));
                    u1 = _mm256_or_si256(u1, _mm256_and_si256(fr_sh16(hb1, -k), b4));
                }
                s0 = _mm256_add_epi16(s0, _mm256_add_epi16(_mm256_maddubs_epi16(l0, al),
                                                           _mm256_maddubs_epi16(u0, ah)));
                s1 = _mm256_add_epi16(s1, _mm256_add_epi16(_mm256_maddubs_epi16(l1, al),
                                                           _mm256_maddubs_epi16(u1, ah)));
                if (fr_x_five(T) && k == 1) {
                    h0 = _mm256_madd_epi16(s0, ones);
                    h1 = _mm256_madd_epi16(s1, ones);
                    s0 = s1 = _mm256_setzero_si256();
                }
            }
            s0 = _mm256_madd_epi16(s0, ones);
            s1 = _mm256_madd_epi16(s1, ones);
            if (fr_x_five(T)) {
                s0 = _mm256_add_epi32(h0, s0);
                s1 = _mm256_add_epi32(h1, s1);
            }
        }
        __m256 da = _mm256_broadcast_ss(ad + b);
        __m256 f0, f1;
        if (off) {
            __m256 so = _mm256_mul_ps(voff, _mm256_broadcast_ss(as + b));
            f0 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(s0), da, so);
            f1 = _mm256_fmsub_ps(_mm256_cvtepi32_ps(s1), da, so);
        } else {
            f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s0), da);
            f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s1), da);
        }
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p0)), f0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p1)), f1, acc1);
        if (fr_x_min(T)) {
            __m256 sv = _mm256_broadcast_ss(as + b);
            acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p0 + 16))), sv, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p1 + 16))), sv, acc1);
        }
    }
    fr_x8_store(a->y, r, r1, acc0);
    if (r + 8 < r1)
        fr_x8_store(a->y, r + 8, r1, acc1);
}

FR_AI void fr_x8_gemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    if (a->n_tok == 1) {
        for (int64_t r = r0; r < r1; r += 16)
            fr_x8_dec(a, r, r1, T);
        return;
    }
    /* Tokens in blocks whose activations stay in the second-level cache
     * while every row group of the piece passes over them (the piece's
     * weights stay there too). */
    int64_t tb = fr_x8_token_block(a->n_in);
    for (int64_t t0 = 0; t0 < a->n_tok; t0 += tb) {
        int64_t nt = fr_min64(tb, a->n_tok - t0);
        for (int64_t r = r0; r < r1; r += 8) {
#define FR_TILE_(t, rn) fr_x8_tile(a, r, r1, t0 + (t), T, 1, rn)
            FR_FOR_TOKEN_TILES(nt, FR_TILE_);
#undef FR_TILE_
        }
    }
}

#define FR_X8_ENTRY(name, T)                                                                \
    void fr_gemm_##name##_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                       \
        (void)scratch;                                                                      \
        fr_x8_gemm(a, r0, r1, T);                                                           \
    }

FR_X8_ENTRY(q4_0, FR_X40)
FR_X8_ENTRY(q4_1, FR_X41)
FR_X8_ENTRY(q5_0, FR_X50)
FR_X8_ENTRY(q5_1, FR_X51)
FR_X8_ENTRY(q8_0, FR_X80)
#endif
