/*
 * avx512_q32.c - AVX-512 VNNI products of the 32-value block types (Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0) with Q8B activations.
 *
 * The cost of these types is the float step: every block has its own
 * weight scale and activation scale, so a naive kernel converts, scales and
 * accumulates in float once per block for every (row, token) - as many
 * multiply-unit operations as the integer dot products themselves. Here the
 * integer sums of 16 consecutive blocks are brought into the 16 lanes of one
 * vector (lane k = block k of the group, exact int32), and one float step
 * per 16 blocks applies all their scales at once:
 *     acc = fma(float(isum16), dw16 * da16, acc)        (+ fma(m16, s16, acc))
 * Both paths below end in exactly that step with exactly those integers, so
 * a token gets bit-identical results alone or in a batch.
 *
 * One token (decode): per pair of blocks, vpdpbusd multiplies 64 unsigned
 * weight quants with 64 activation quants into 16 lanes (8 per block),
 * starting from -off * (activation sums) so that the offset of Q4_0 (8),
 * Q5_0 (16) and Q8_0 (128, after flipping its sign bit) is removed exactly;
 * a shuffle/add tree then folds the 8 pairs of a group into one lane per
 * block. The weight scales of a group are picked out of its bytes.
 *
 * Batches: each tile of 4 rows is first packed into the thread's scratch,
 * per group of 16 blocks: the signed quants (q - off) transposed so that
 * each 64-byte vector holds 4 bytes of each of the 16 blocks (vector m =
 * bytes 4m..4m+3 of every block), the lanes -128 * (sum of each block's
 * quants), and the scales. The activations were rearranged the same way
 * (fr_interleave_q8b_avx512, as unsigned a + 128) when they were quantized.
 * Eight vpdpbusd per (row, token) then leave block k's exact
 * sum((q - off) * a) in lane k: sum (a + 128)(q - off) - 128 sum (q - off).
 * Tiles are 4 rows x 3 tokens (12 integer and 12 float accumulators).
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

/* Quants of block p (and the next when two) as 64 unsigned bytes in value
 * order (q, or q + 128 for Q8_0); upper 32 bytes zero when !two. */
FR_AI __m512i fr_q_dec(const int T, const uint8_t *p, const int two)
{
    const uint8_t *p1 = p + fr_q_bs(T);
    if (T == FR_Q80) {
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        __m256i lo = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)), flip);
        if (!two)
            return _mm512_zextsi256_si512(lo);
        __m256i hi = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p1 + 2)), flip);
        return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    const int qo = fr_q_qs(T);
    /* [qs0, qs0, qs1, qs1] per 128-bit lane, then low / high nibbles */
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

/* Half-precision field at byte off (0: scale, 2: min) of blocks b0 ..
 * b0 + 15 of row (zero past block nb), as 16 floats. The 16 halves lie at
 * a fixed stride in the bytes of the group: load those bytes as zmm (never
 * past the row) and pick the 16-bit words with a chain of vpermt2w, one per
 * extra zmm - cheaper than a 16-way gather here (measured: decode ~10%
 * faster). */
FR_AI __m512 fr_q_halves16(const int T, const uint8_t *row, int64_t b0, int64_t nb, const int off)
{
    const int bs = fr_q_bs(T), hw = bs / 2; /* block stride in 16-bit words */
    const int nz = (15 * bs + off + 2 + 63) / 64;
    const uint8_t *p = row + b0 * bs;
    int64_t left = (nb - b0) * bs; /* bytes of this row from p on */
    __m512i z[9];
    if (left >= 64 * nz) {
        FR_UNROLL
        for (int s = 0; s < nz; s++)
            z[s] = _mm512_loadu_si512((const void *)(p + 64 * s));
    } else {
        FR_UNROLL
        for (int s = 0; s < nz; s++) {
            int64_t rem = left - 64 * s;
            __mmask64 m = rem >= 64 ? ~(__mmask64)0 : rem <= 0 ? 0 : (((__mmask64)1 << rem) - 1);
            z[s] = _mm512_maskz_loadu_epi8(m, (const void *)(p + 64 * s));
        }
    }
    /* word of block k: w_k = k * hw + off / 2, in zmm w_k / 32 */
    __m512i r = z[0];
    FR_UNROLL
    for (int s = 1; s < nz; s++) {
        int16_t idx[32];
        for (int k = 0; k < 32; k++) {
            int wk = k < 16 ? k * hw + off / 2 : 0;
            if (s == 1)
                idx[k] = (int16_t)(k < 16 && wk < 64 ? wk : k);
            else
                idx[k] = (int16_t)(k < 16 && wk / 32 == s ? 32 + wk - 32 * s : k);
        }
        r = _mm512_permutex2var_epi16(r, _mm512_loadu_si512((const void *)idx), z[s]);
    }
    if (nz == 1) {
        int16_t idx[32];
        for (int k = 0; k < 32; k++)
            idx[k] = (int16_t)(k < 16 ? k * hw + off / 2 : k);
        r = _mm512_permutexvar_epi16(_mm512_loadu_si512((const void *)idx), r);
    }
    __m256i h = _mm512_castsi512_si256(r);
    int64_t nv = nb - b0;
    if (nv < 16) /* blocks past the row end read zeros or neighbours: clear */
        h = _mm256_maskz_mov_epi16((__mmask16)((1u << nv) - 1), h);
    return _mm512_cvtph_ps(h);
}

/* ---- the common float step ---------------------------------------------- */

FR_AI __m512 fr_q_step(const int T, __m512 acc, __m512i isum, __m512 dw, __m512 da, __m512 mw,
                       __m512 sa)
{
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, da), acc);
    if (fr_q_min(T))
        acc = _mm512_fmadd_ps(mw, sa, acc);
    return acc;
}

/* ---- one token --------------------------------------------------------------
 * Tree: pairs (2k, 2k+1) -> U_k with 128-bit quarters = blocks 4k .. 4k+3
 * (4 partial lanes each); U_0, U_1 -> X_0 and U_2, U_3 -> X_1 (2 partial
 * lanes per block); X_0, X_1 -> Y with lane 4q + s = block 4s + q. */

FR_AI __m512i fr_tree1(__m512i a, __m512i b)
{
    return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

FR_AI __m512i fr_tree2(__m512i a, __m512i b)
{
    return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}

FR_AI __m512i fr_tree3(__m512i a, __m512i b)
{
    __m512i y = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    /* lane k <- lane 4 (k % 4) + k / 4: block order */
    const __m512i idx = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return _mm512_permutexvar_epi32(idx, y);
}

/* One group of 16 blocks (full: all 16 present) of RM rows for one token
 * (activation quants aq of the group's first block): returns each row's
 * exact per-block sums, lane = block. The weights pf bytes ahead are
 * prefetched unconditionally: prefetches never fault, and past the end of
 * the thread's stream they cost at most pf bytes of reading per stream. */
FR_AI void fr_q_group1(const int8_t *aq, const uint8_t *const *w, int64_t b0, int64_t nb,
                       const int RM, const int T, const int full, const size_t pf,
                       __m512i isum[4])
{
    const int bs = fr_q_bs(T), off = fr_q_off(T);
    const int np = full ? 8 : (int)(fr_min64(16, nb - b0) + 1) / 2;
    const __m512i voff = _mm512_set1_epi8((char)off);
    __m512i e[4], u[4][4], x0[4];
    FR_UNROLL
    for (int k = 0; k < 8; k++) {
        __m512i is[4];
        if (full || k < np) {
            const int64_t b = b0 + 2 * k;
            const int two = full || b + 1 < nb;
            __m512i av = _mm512_loadu_si512((const void *)(aq + 2 * k * FR_QA_BLK));
            __m512i init = _mm512_setzero_si512();
            if (off)
                init = _mm512_sub_epi32(init, _mm512_dpbusd_epi32(init, voff, av));
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                const uint8_t *p = w[i] + b * bs;
                _mm_prefetch((const char *)(p + pf), _MM_HINT_T0);
                if (2 * bs > 64)
                    _mm_prefetch((const char *)(p + pf + 64), _MM_HINT_T0);
                __m512i wq = full || two ? fr_q_dec(T, p, 1) : fr_q_dec(T, p, 0);
                is[i] = _mm512_dpbusd_epi32(init, wq, av);
            }
        } else {
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                is[i] = _mm512_setzero_si512();
        }
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            if (k % 2 == 0)
                e[i] = is[i];
            else
                u[i][k / 2] = fr_tree1(e[i], is[i]);
            if (k == 3)
                x0[i] = fr_tree2(u[i][0], u[i][1]);
        }
    }
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        isum[i] = fr_tree3(x0[i], fr_tree2(u[i][2], u[i][3]));
}

/* Rows w0 .. w0 + (n - 1) rb (n <= RM; missing rows repeat the last one
 * and are not stored) times one token: y[i] for i < n. */
FR_AI void fr_q_tile1(const uint8_t *w0, size_t rb, int n, const int8_t *aq, const float *ad,
                      const float *as, int64_t nb, float *y, const int T, const int RM)
{
    const uint8_t *w[4];
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        w[i] = w0 + (size_t)(i < n ? i : n - 1) * rb;
    __m512 acc[4];
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        acc[i] = _mm512_setzero_ps();
    /* Q8_0 reads fastest about 8 KiB ahead rather than fr_pf_dist's 16 KiB
     * (measured: 2048-wide decode ~8% faster: one tile ahead, not two) */
    const size_t tb = (size_t)RM * rb;
    const size_t pf = T == FR_Q80 ? tb * ((8192 + tb - 1) / tb) : fr_pf_dist(tb);
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        __m512i isum[4];
        if (nb - b0 >= 16)
            fr_q_group1(aq + b0 * FR_QA_BLK, w, b0, nb, RM, T, 1, pf, isum);
        else
            fr_q_group1(aq + b0 * FR_QA_BLK, w, b0, nb, RM, T, 0, pf, isum);
        __m512 da = _mm512_loadu_ps(ad + b0);
        __m512 sa = fr_q_min(T) ? _mm512_loadu_ps(as + b0) : _mm512_setzero_ps();
        /* the scales after the quants: the group's bytes are in L1 by now */
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            __m512 dw = fr_q_halves16(T, w[i], b0, nb, 0);
            __m512 mw = fr_q_min(T) ? fr_q_halves16(T, w[i], b0, nb, 2) : _mm512_setzero_ps();
            acc[i] = fr_q_step(T, acc[i], isum[i], dw, da, mw, sa);
        }
    }
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        if (i < n)
            y[i] = fr_z_hsum(acc[i]);
}

/* ---- batches: packed, transposed panels ------------------------------------ */

/* 16 blocks x 8 dwords, given as 8 vectors of two blocks each (n[p] =
 * blocks 2p, 2p+1 in value order), to 8 vectors of one dword per block
 * (out[m] lane k = dword m of block k). Three rounds of vpermt2d. */
FR_AI void fr_transpose_16x8(const __m512i n[8], __m512i out[8])
{
    /* round 1: s[q][e] = dwords 4e..4e+3 of blocks 4q..4q+3, lane 4r + c */
    const __m512i i1[2] = {
        _mm512_set_epi32(27, 26, 25, 24, 19, 18, 17, 16, 11, 10, 9, 8, 3, 2, 1, 0),
        _mm512_set_epi32(31, 30, 29, 28, 23, 22, 21, 20, 15, 14, 13, 12, 7, 6, 5, 4)};
    /* round 2: t[h8][e][f] = dwords 4e+2f, +1 of blocks 8h8..8h8+7, lane 8h + r */
    const __m512i i2[2] = {
        _mm512_set_epi32(29, 25, 21, 17, 13, 9, 5, 1, 28, 24, 20, 16, 12, 8, 4, 0),
        _mm512_set_epi32(31, 27, 23, 19, 15, 11, 7, 3, 30, 26, 22, 18, 14, 10, 6, 2)};
    /* round 3: out[4e+2f+h] = dword of blocks 0-7 then 8-15 */
    const __m512i i3[2] = {
        _mm512_set_epi32(23, 22, 21, 20, 19, 18, 17, 16, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set_epi32(31, 30, 29, 28, 27, 26, 25, 24, 15, 14, 13, 12, 11, 10, 9, 8)};
    __m512i s[4][2], t[2][2][2];
    FR_UNROLL
    for (int q = 0; q < 4; q++)
        FR_UNROLL
        for (int e = 0; e < 2; e++)
            s[q][e] = _mm512_permutex2var_epi32(n[2 * q], i1[e], n[2 * q + 1]);
    FR_UNROLL
    for (int h8 = 0; h8 < 2; h8++)
        FR_UNROLL
        for (int e = 0; e < 2; e++)
            FR_UNROLL
            for (int f = 0; f < 2; f++)
                t[h8][e][f] = _mm512_permutex2var_epi32(s[2 * h8][e], i2[f], s[2 * h8 + 1][e]);
    FR_UNROLL
    for (int e = 0; e < 2; e++)
        FR_UNROLL
        for (int f = 0; f < 2; f++)
            FR_UNROLL
            for (int h = 0; h < 2; h++)
                out[4 * e + 2 * f + h] = _mm512_permutex2var_epi32(t[0][e][f], i3[h], t[1][e][f]);
}

void fr_interleave_q8b_avx512(const int8_t *qs, int64_t nb, uint8_t *qsi)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        const int np = (int)(fr_min64(16, nb - b0) + 1) / 2;
        __m512i n[8], o[8];
        FR_UNROLL
        for (int k = 0; k < 8; k++)
            n[k] = k < np ? _mm512_loadu_si512((const void *)(qs + (b0 + 2 * k) * FR_QA_BLK))
                          : _mm512_setzero_si512();
        fr_transpose_16x8(n, o);
        FR_UNROLL
        for (int m = 0; m < 8; m++)
            _mm512_storeu_si512((void *)(qsi + b0 * FR_QA_BLK + 64 * m), _mm512_xor_si512(o[m], flip));
    }
}

/* Panel bytes per row and group: 8 x 64 quants, init lanes, scales, mins. */
FR_AI int fr_qp_bytes(const int T) { return fr_q_min(T) ? 704 : 640; }

#define FR_QP_RN 3
#define FR_QP_ACT_BYTES (384 * 1024) /* activation bytes per token chunk */
/* Rows per one-token tile. Q5_0 decodes with fewer live registers at 3
 * rows (measured: 8-15% faster than 4 at every shape); Q8_0 rows shorter
 * than 2048 values prefer 2 (896-wide: ~8% faster), longer ones 4 (2048-wide
 * is ~10% slower at 2 or 3). Results do not depend on it: each row sums its
 * own groups in the same order. */
FR_AI int fr_q1_rm(const int T, int64_t nb)
{
    return T == FR_Q50 ? 3 : T == FR_Q80 && nb < 64 ? 2 : 4;
}

FR_AI void fr_q_pack(const fr_mm_args *a, int64_t r, int64_t r1, const int T, uint8_t *panel)
{
    const int bs = fr_q_bs(T), pb = fr_qp_bytes(T);
    const __m512i voff = _mm512_set1_epi8((char)fr_q_off(T));
    const __m512i v128 = _mm512_set1_epi8((char)0x80);
    const uint8_t *w[4];
    fr_tile_rows(a, r, r1, 4, w);
    const size_t pf = fr_pf_dist(4 * a->row_bytes);
    const uint8_t *lim = fr_pf_lim(a, r1);
    int64_t nb = a->n_in / FR_QA_BLK;
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        const int nv = (int)fr_min64(16, nb - b0), np = (nv + 1) / 2;
        uint8_t *pg = panel + (b0 / 16) * 4 * pb;
        FR_UNROLL
        for (int i = 0; i < 4; i++) {
            __m512i n[8], o[8];
            FR_UNROLL
            for (int k = 0; k < 8; k++) {
                const int64_t b = b0 + 2 * k;
                if (k < np) {
                    fr_pf(w[i] + b * bs + pf, lim, 2 * bs);
                    const int two = b + 1 < nb;
                    __m512i q = two ? fr_q_dec(T, w[i] + b * bs, 1) : fr_q_dec(T, w[i] + b * bs, 0);
                    q = _mm512_sub_epi8(q, voff);
                    n[k] = two ? q : _mm512_maskz_mov_epi8((__mmask64)0xffffffffull, q);
                } else {
                    n[k] = _mm512_setzero_si512();
                }
            }
            fr_transpose_16x8(n, o);
            uint8_t *pr = pg + i * pb;
            __m512i sum = _mm512_setzero_si512();
            FR_UNROLL
            for (int m = 0; m < 8; m++) {
                _mm512_storeu_si512((void *)(pr + 64 * m), o[m]);
                sum = _mm512_dpbusd_epi32(sum, v128, o[m]);
            }
            _mm512_storeu_si512((void *)(pr + 512), _mm512_sub_epi32(_mm512_setzero_si512(), sum));
            _mm512_storeu_ps((void *)(pr + 576), fr_q_halves16(T, w[i], b0, nb, 0));
            if (fr_q_min(T))
                _mm512_storeu_ps((void *)(pr + 640), fr_q_halves16(T, w[i], b0, nb, 2));
        }
    }
}

FR_AI void fr_qp_tile(const fr_mm_args *a, const uint8_t *panel, int64_t r, int64_t r1, int64_t t,
                      const int T, const int RN)
{
    const int pb = fr_qp_bytes(T);
    const uint8_t *ai[FR_QP_RN];
    const float *ad[FR_QP_RN], *as[FR_QP_RN];
    __m512 acc[4][FR_QP_RN];
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        int64_t tj = fr_min64(t + j, a->n_tok - 1);
        ai[j] = a->qa.qsi + tj * a->qa.qsi_ld;
        ad[j] = a->qa.d + tj * a->qa.blk_ld;
        as[j] = a->qa.s + tj * a->qa.blk_ld;
    }
    FR_UNROLL
    for (int i = 0; i < 4; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm512_setzero_ps();
    int64_t nb = a->n_in / FR_QA_BLK;
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        const uint8_t *pg = panel + (b0 / 16) * 4 * pb;
        __m512i is[4][FR_QP_RN];
        FR_UNROLL
        for (int i = 0; i < 4; i++) {
            __m512i init = _mm512_loadu_si512((const void *)(pg + i * pb + 512));
            FR_UNROLL
            for (int j = 0; j < RN; j++)
                is[i][j] = init;
        }
        FR_UNROLL
        for (int m = 0; m < 8; m++) {
            __m512i av[FR_QP_RN];
            FR_UNROLL
            for (int j = 0; j < RN; j++)
                av[j] = _mm512_loadu_si512((const void *)(ai[j] + b0 * FR_QA_BLK + 64 * m));
            FR_UNROLL
            for (int i = 0; i < 4; i++) {
                __m512i wv = _mm512_loadu_si512((const void *)(pg + i * pb + 64 * m));
                FR_UNROLL
                for (int j = 0; j < RN; j++)
                    is[i][j] = _mm512_dpbusd_epi32(is[i][j], av[j], wv);
            }
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m512 da = _mm512_loadu_ps(ad[j] + b0);
            __m512 sa = fr_q_min(T) ? _mm512_loadu_ps(as[j] + b0) : _mm512_setzero_ps();
            FR_UNROLL
            for (int i = 0; i < 4; i++) {
                const uint8_t *pr = pg + i * pb;
                __m512 mw = fr_q_min(T) ? _mm512_loadu_ps((const void *)(pr + 640)) : _mm512_setzero_ps();
                acc[i][j] = fr_q_step(T, acc[i][j], is[i][j], _mm512_loadu_ps((const void *)(pr + 576)),
                                      da, mw, sa);
            }
        }
    }
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        if (t + j >= a->n_tok)
            break;
        FR_UNROLL
        for (int i = 0; i < 4; i++)
            if (r + i < r1)
                a->y[(t + j) * a->ldy + r + i] = fr_z_hsum(acc[i][j]);
    }
}

_Static_assert(704 * 4 <= 16 * 16 * FR_QA_BLK, "panel fits fr_kernel_scratch_bytes");

FR_AI void fr_q_gemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T, void *scratch)
{
    if (a->n_tok == 1 || !a->qa.qsi) {
        /* one token (or no rearranged activations: decode each token) */
        const int64_t nb = a->n_in / FR_QA_BLK;
        for (int64_t t = 0; t < a->n_tok; t++) {
            const int8_t *aq = a->qa.qs + t * a->qa.qs_ld;
            const float *ad = a->qa.d + t * a->qa.blk_ld, *as = a->qa.s + t * a->qa.blk_ld;
            float *y = a->y + t * a->ldy;
            const int rm = fr_q1_rm(T, nb);
            for (int64_t r = r0; r < r1; r += rm) {
                const uint8_t *w = a->w + (size_t)r * a->row_bytes;
                const int n = (int)fr_min64(rm, r1 - r);
                if (rm == 2)
                    fr_q_tile1(w, a->row_bytes, n, aq, ad, as, nb, y + r, T, 2);
                else if (rm == 3)
                    fr_q_tile1(w, a->row_bytes, n, aq, ad, as, nb, y + r, T, 3);
                else
                    fr_q_tile1(w, a->row_bytes, n, aq, ad, as, nb, y + r, T, 4);
            }
        }
        return;
    }
    /* Tokens in chunks whose activations stay in L2 while every row tile
     * of the range reads them (each row tile is packed once per chunk). */
    uint8_t *panel = scratch;
    int64_t tc = FR_QP_ACT_BYTES / (a->qa.qsi_ld + 64);
    tc = tc < FR_QP_RN ? FR_QP_RN : tc - tc % FR_QP_RN;
    for (int64_t t0 = 0; t0 < a->n_tok; t0 += tc) {
        int64_t t1 = fr_min64(a->n_tok, t0 + tc);
        for (int64_t r = r0; r < r1; r += 4) {
            fr_q_pack(a, r, r1, T, panel);
            int64_t t = t0;
            for (; t + FR_QP_RN <= t1; t += FR_QP_RN)
                fr_qp_tile(a, panel, r, r1, t, T, FR_QP_RN);
            switch (t1 - t) {
            case 2:
                fr_qp_tile(a, panel, r, r1, t, T, 2);
                break;
            case 1:
                fr_qp_tile(a, panel, r, r1, t, T, 1);
                break;
            default:
                break;
            }
        }
    }
}

#define FR_Q_ENTRY(name, T)                                                              \
    void fr_gemm_##name##_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                    \
        fr_q_gemm(a, r0, r1, T, scratch);                                                \
    }

FR_Q_ENTRY(q4_0, FR_Q40)
FR_Q_ENTRY(q4_1, FR_Q41)
FR_Q_ENTRY(q5_0, FR_Q50)
FR_Q_ENTRY(q5_1, FR_Q51)
FR_Q_ENTRY(q8_0, FR_Q80)
#endif
