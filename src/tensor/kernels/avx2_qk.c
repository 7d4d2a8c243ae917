/*
 * avx2_qk.c - AVX2 products of the K types (Q2_K .. Q6_K) with Q8K
 * activations.
 *
 * As avx512_qk.c, per 32 values instead of 64: each row's super-block is
 * decoded once (simd_common.h) into 8 ymm of unsigned quants and 8 vectors
 * of int16 group scales (kept in a small stack area), then per token
 * vpmaddubsw (quant x activation pair sums, no saturation) and vpmaddwd
 * (times the group scale, widened to int32) accumulate the super-block in
 * integers; offsets and mins come from the activation group sums; one
 * float step per super-block and token.
 *
 * Tiles: one-token decode 4 rows x 1 token; batches 2 rows x 4 tokens.
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)

typedef struct fr_kdec_y {
    __m256i q[8];   /* unsigned quants of values 32c .. 32c+31 */
    __m256i scc[8]; /* int16 group scale per pair of values of chunk c */
    __m256i sc16;   /* int16 scale of each 16-value group */
    __m256i mn16;   /* int16 min of each group */
    float d, dmin;
} fr_kdec_y;

FR_AI void fr_k_dec_y(const int T, const uint8_t *p, fr_kdec_y *o)
{
    fr_k256 k;
    fr_k_dec256(T, p, &k);
    o->d = k.d;
    o->dmin = k.dmin;
    o->sc16 = _mm256_cvtepi8_epi16(k.sc8);
    o->mn16 = _mm256_cvtepi8_epi16(k.mn8);
    FR_UNROLL
    for (int c = 0; c < 8; c++) {
        o->q[c] = k.q[c];
        /* chunk c = groups 2c (int16 lanes 0-7) and 2c + 1 (lanes 8-15) */
        const __m128i idx = _mm_set_epi64x((long long)(0x0101010101010101ull * (uint64_t)(2 * c + 1)),
                                           (long long)(0x0101010101010101ull * (uint64_t)(2 * c)));
        o->scc[c] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(k.sc8, idx));
    }
}

FR_AI void fr_k_tile_y(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                       const int RM, const int RN)
{
    const int bs = fr_k_bs(T);
    const uint8_t *w[4];
    const int8_t *aq[4];
    const float *ad[4];
    const int16_t *ab[4];
    __m256 acc[4][4];
    fr_kdec_y dec[4];
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
            acc[i][j] = _mm256_setzero_ps();
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = fr_pf_lim(a, r1);
    int64_t nb = a->n_in / FR_QK_BLK;
    for (int64_t b = 0; b < nb; b++) {
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            fr_pf(w[i] + b * bs + pf, lim, bs);
            fr_k_dec_y(T, w[i] + b * bs, &dec[i]);
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            const int8_t *x = aq[j] + b * FR_QK_BLK;
            __m256i iacc[4];
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                iacc[i] = _mm256_setzero_si256();
            FR_UNROLL
            for (int c = 0; c < 8; c++) {
                __m256i av = _mm256_loadu_si256((const __m256i *)(x + 32 * c));
                FR_UNROLL
                for (int i = 0; i < RM; i++)
                    iacc[i] = _mm256_add_epi32(
                        iacc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(dec[i].q[c], av),
                                                   dec[i].scc[c]));
            }
            __m256i bsum = _mm256_loadu_si256((const __m256i *)(ab[j] + 16 * b));
            float da = ad[j][b];
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                __m256i is = iacc[i];
                if (fr_k_hasoff(T))
                    is = _mm256_sub_epi32(is, _mm256_slli_epi32(_mm256_madd_epi16(dec[i].sc16, bsum),
                                                                fr_k_offshift(T)));
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dec[i].d * da),
                                            acc[i][j]);
                if (fr_k_hasmin(T)) {
                    __m256i m = _mm256_madd_epi16(dec[i].mn16, bsum);
                    acc[i][j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m),
                                                 _mm256_set1_ps(dec[i].dmin * da), acc[i][j]);
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
                a->y[(t + j) * a->ldy + r + i] = fr_y_hsum(acc[i][j]);
    }
}

FR_AI void fr_k_gemm_y(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    if (a->n_tok == 1) {
        for (int64_t r = r0; r < r1; r += 4)
            fr_k_tile_y(a, r, r1, 0, T, 4, 1);
        return;
    }
    for (int64_t r = r0; r < r1; r += 2) {
#define FR_TILE_(t, rn) fr_k_tile_y(a, r, r1, t, T, 2, rn)
        FR_FOR_TOKEN_TILES(a->n_tok, FR_TILE_);
#undef FR_TILE_
    }
}

#define FR_K_ENTRY(name, T)                                                            \
    void fr_gemm_##name##_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                  \
        (void)scratch;                                                                 \
        fr_k_gemm_y(a, r0, r1, T);                                                     \
    }

FR_K_ENTRY(q2_k, FR_K2)
FR_K_ENTRY(q3_k, FR_K3)
FR_K_ENTRY(q4_k, FR_K4)
FR_K_ENTRY(q5_k, FR_K5)
FR_K_ENTRY(q6_k, FR_K6)
#endif
