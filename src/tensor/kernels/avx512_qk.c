/*
 * avx512_qk.c - AVX-512 VNNI products of the K types (Q2_K, Q3_K, Q4_K,
 * Q5_K, Q6_K) with Q8K activations.
 *
 * Per super-block of 256 values, each weight row is first decoded into four
 * zmm of 64 unsigned quants (value order) and, per 16-value group, an int16
 * scale (and min), all kept in a small stack area. Then per token and chunk
 * of 64 values: vpmaddubsw multiplies quants with activations into 32 int16
 * pair sums (no saturation: quants are at most 63, activations at most 127
 * in magnitude), vpdpwssd multiplies those by the group scales and adds
 * them into 16 int32 lanes. The whole super-block thus stays in integers;
 * offsets (Q3_K q - 4, Q6_K q - 32) are subtracted there too, as
 * off * sum(scale * group sum of activations), from the activation block
 * sums (bsums). One float step per super-block and token then applies
 * d_w * d_a, and the mins of Q2_K/Q4_K/Q5_K subtract
 * dmin_w * d_a * sum(min * group sum).
 *
 * Tiles: 4 weight rows x up to 4 tokens; the decoded rows (2 KiB) stay in
 * L1 while every token of the tile reads them. One token decodes and uses
 * each row's super-block in registers instead (fr_k_tile1: the tile's
 * decoded struct spilled, and Q4_K decode ran at 22 GB/s on a core that
 * reads 35).
 */
#include "tensor/kernels/avx512_util.h"

#if defined(__x86_64__)

FR_AI __m512i fr_cat(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* One decoded super-block of one row, in zmm form. */
typedef struct fr_kdec {
    __m512i q[4];   /* unsigned quants, 64 per chunk, value order */
    __m512i scc[4]; /* int16 group scale per pair of values of each chunk */
    __m256i sc16;   /* int16 scale of each 16-value group */
    __m256i mn16;   /* int16 min of each group (min types) */
    float d, dmin;
} fr_kdec;

FR_AI void fr_k_dec(const int T, const uint8_t *p, fr_kdec *o)
{
    fr_k256 k;
    fr_k_dec256(T, p, &k);
    o->d = k.d;
    o->dmin = k.dmin;
    o->sc16 = _mm256_cvtepi8_epi16(k.sc8);
    o->mn16 = _mm256_cvtepi8_epi16(k.mn8);
    FR_UNROLL
    for (int c = 0; c < 4; c++) {
        o->q[c] = fr_cat(k.q[2 * c], k.q[2 * c + 1]);
        /* int16 lane L of chunk c covers values 64c + 2L, +1: group 4c + L/8 */
        const int64_t g = 0x0001000100010001ll;
        const __m512i idx = _mm512_set_epi64((4 * c + 3) * g, (4 * c + 3) * g, (4 * c + 2) * g,
                                             (4 * c + 2) * g, (4 * c + 1) * g, (4 * c + 1) * g,
                                             (4 * c) * g, (4 * c) * g);
        o->scc[c] = _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(o->sc16));
    }
}

/* panel: NULL to decode the rows here, or RM (= 4) decoded rows per
 * super-block, packed by fr_k_pack. */
FR_AI void fr_k_tile(const fr_mm_args *a, const fr_kdec *panel, int64_t r, int64_t r1, int64_t t,
                     const int T, const int RM, const int RN)
{
    const int bs = fr_k_bs(T);
    const uint8_t *w[4];
    const int8_t *aq[4];
    const float *ad[4];
    const int16_t *ab[4];
    __m512 acc[4][4];
    fr_kdec dec[4];
    fr_tile_rows(a, r, r1, RM, w);
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        int64_t tj = fr_min64(t + j, a->n_tok - 1);
        aq[j] = a->qa.qs + tj * a->qa.qs_ld;
        ad[j] = a->qa.d + tj * a->qa.blk_ld;
        ab[j] = a->qa.bsums + tj * a->qa.blk_ld * 16;
    }
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm512_setzero_ps();
    int64_t nb = a->n_in / FR_QK_BLK;
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = fr_pf_lim(a, r1);
    for (int64_t b = 0; b < nb; b++) {
        const fr_kdec *dp = dec;
        if (panel) {
            dp = panel + b * RM;
        } else {
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                fr_pf(w[i] + b * bs + pf, lim, bs);
                fr_k_dec(T, w[i] + b * bs, &dec[i]);
            }
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            const int8_t *x = aq[j] + b * FR_QK_BLK;
            __m512i iacc[4];
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                iacc[i] = _mm512_setzero_si512();
            FR_UNROLL
            for (int c = 0; c < 4; c++) {
                __m512i av = _mm512_loadu_si512((const void *)(x + 64 * c));
                FR_UNROLL
                for (int i = 0; i < RM; i++)
                    iacc[i] = _mm512_dpwssd_epi32(iacc[i], _mm512_maddubs_epi16(dp[i].q[c], av),
                                                  dp[i].scc[c]);
            }
            __m256i bsum = _mm256_loadu_si256((const __m256i *)(ab[j] + 16 * b));
            float da = ad[j][b];
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                __m512i is = iacc[i];
                if (fr_k_hasoff(T)) {
                    __m256i o = _mm256_slli_epi32(_mm256_madd_epi16(dp[i].sc16, bsum),
                                                  fr_k_offshift(T));
                    is = _mm512_sub_epi32(is, _mm512_zextsi256_si512(o));
                }
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(dp[i].d * da),
                                            acc[i][j]);
                if (fr_k_hasmin(T)) {
                    __m256i m = _mm256_madd_epi16(dp[i].mn16, bsum);
                    acc[i][j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(m)),
                                                 _mm512_set1_ps(dp[i].dmin * da), acc[i][j]);
                }
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

/* One token: each row's super-block is decoded and used at once (no
 * decoded tile kept live: 4 rows of it would need every zmm register),
 * with the same integer and float operations per (row, token) as
 * fr_k_tile, so results are bit-identical to the batch paths. The weights
 * pf bytes ahead are prefetched unconditionally (prefetches never fault;
 * past the end of a thread's stream they cost at most pf bytes). */
FR_AI void fr_k_tile1(const uint8_t *w0, size_t rb, int n, const int8_t *aq, const float *ad,
                      const int16_t *ab, int64_t nb, float *y, const int T, const int RM)
{
    const int bs = fr_k_bs(T);
    const uint8_t *w[4];
    __m512 acc[4];
    FR_UNROLL
    for (int i = 0; i < RM; i++) {
        w[i] = w0 + (size_t)(i < n ? i : n - 1) * rb;
        acc[i] = _mm512_setzero_ps();
    }
    const size_t pf = fr_pf_dist((size_t)RM * rb);
    for (int64_t b = 0; b < nb; b++) {
        __m512i av[4];
        FR_UNROLL
        for (int c = 0; c < 4; c++)
            av[c] = _mm512_loadu_si512((const void *)(aq + b * FR_QK_BLK + 64 * c));
        const __m256i bsum = _mm256_loadu_si256((const __m256i *)(ab + 16 * b));
        const float da = ad[b];
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            const uint8_t *p = w[i] + b * bs;
            FR_UNROLL
            for (int k = 0; k < bs; k += 64)
                _mm_prefetch((const char *)(p + pf + k), _MM_HINT_T0);
            fr_k256 kd;
            fr_k_dec256(T, p, &kd);
            const __m256i sc16 = _mm256_cvtepi8_epi16(kd.sc8);
            __m512i is = _mm512_setzero_si512();
            FR_UNROLL
            for (int c = 0; c < 4; c++) {
                const int64_t g = 0x0001000100010001ll;
                const __m512i idx = _mm512_set_epi64(
                    (4 * c + 3) * g, (4 * c + 3) * g, (4 * c + 2) * g, (4 * c + 2) * g,
                    (4 * c + 1) * g, (4 * c + 1) * g, (4 * c) * g, (4 * c) * g);
                __m512i scc = _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(sc16));
                __m512i q = fr_cat(kd.q[2 * c], kd.q[2 * c + 1]);
                is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(q, av[c]), scc);
            }
            if (fr_k_hasoff(T)) {
                __m256i o = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsum), fr_k_offshift(T));
                is = _mm512_sub_epi32(is, _mm512_zextsi256_si512(o));
            }
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(kd.d * da), acc[i]);
            if (fr_k_hasmin(T)) {
                __m256i m = _mm256_madd_epi16(_mm256_cvtepi8_epi16(kd.mn8), bsum);
                acc[i] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(m)),
                                          _mm512_set1_ps(kd.dmin * da), acc[i]);
            }
        }
    }
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        if (i < n)
            y[i] = fr_z_hsum(acc[i]);
}

/* Batches: each tile of 4 rows is decoded once into the thread's scratch
 * and read by every token tile (the per-token operations are unchanged, so
 * results are bit-identical to the one-token path). */
#define FR_KP_MIN_TOK 6
_Static_assert(4 * sizeof(fr_kdec) <= 16 * FR_QK_BLK, "panel fits fr_kernel_scratch_bytes");

FR_AI void fr_k_gemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T, void *scratch)
{
    const int bs = fr_k_bs(T);
    int64_t nb = a->n_in / FR_QK_BLK;
    if (a->n_tok == 1) {
        for (int64_t r = r0; r < r1; r += 4)
            fr_k_tile1(a->w + (size_t)r * a->row_bytes, a->row_bytes, (int)fr_min64(4, r1 - r),
                       a->qa.qs, a->qa.d, a->qa.bsums, nb, a->y + r, T, 4);
        return;
    }
    fr_kdec *panel = a->n_tok >= FR_KP_MIN_TOK ? scratch : NULL;
    for (int64_t r = r0; r < r1; r += 4) {
        if (panel) {
            for (int64_t b = 0; b < nb; b++)
                for (int i = 0; i < 4; i++)
                    fr_k_dec(T, a->w + (size_t)fr_min64(r + i, r1 - 1) * a->row_bytes + b * bs,
                             &panel[b * 4 + i]);
        }
#define FR_TILE_(t, rn) fr_k_tile(a, panel, r, r1, t, T, 4, rn)
        FR_FOR_TOKEN_TILES(a->n_tok, FR_TILE_);
#undef FR_TILE_
    }
}

#define FR_K_ENTRY(name, T)                                                              \
    void fr_gemm_##name##_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                    \
        fr_k_gemm(a, r0, r1, T, scratch);                                                \
    }

FR_K_ENTRY(q2_k, FR_K2)
FR_K_ENTRY(q3_k, FR_K3)
FR_K_ENTRY(q4_k, FR_K4)
FR_K_ENTRY(q5_k, FR_K5)
FR_K_ENTRY(q6_k, FR_K6)
#endif
