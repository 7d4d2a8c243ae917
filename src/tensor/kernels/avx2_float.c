/*
 * avx2_float.c - AVX2 products of F32, F16 and BF16 weights with float
 * activations.
 *
 * With 16 ymm registers, prefill tiles are 3 weight rows x 4 tokens (12
 * accumulators, 8 lanes each) and one-token decode tiles 4 rows x 1 token;
 * both run the same per-element operations (see simd_common.h). Half
 * weights are widened with vcvtph2ps, bfloat16 by a 16-bit shift (both
 * exact); a row's tail is read with masked loads.
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)

enum { FR_F_F32, FR_F_F16, FR_F_BF16 };

/* Lane mask for the first n (0..8) of 8 lanes. */
FR_AI __m256i fr_ymask(int64_t n)
{
    const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), iota);
}

FR_AI __m256 fr_fload_y(const int T, const uint8_t *row, int64_t k, int64_t left)
{
    if (T == FR_F_F32) {
        if (left >= 8)
            return _mm256_loadu_ps((const float *)(row + 4 * k));
        return _mm256_maskload_ps((const float *)(row + 4 * k), fr_ymask(left));
    }
    __m128i h;
    if (left >= 8) {
        h = _mm_loadu_si128((const __m128i *)(row + 2 * k));
    } else {
        uint16_t tmp[8] = {0};
        memcpy(tmp, row + 2 * k, (size_t)left * 2);
        h = _mm_loadu_si128((const __m128i *)tmp);
    }
    if (T == FR_F_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

FR_AI void fr_ftile_y(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                      const int RM, const int RN)
{
    const uint8_t *w[4];
    const float *x[4];
    __m256 acc[4][4];
    fr_tile_rows(a, r, r1, RM, w);
    FR_UNROLL
    for (int j = 0; j < RN; j++)
        x[j] = a->x + fr_min64(t + j, a->n_tok - 1) * a->ldx;
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    int64_t n = a->n_in, k = 0;
    const int es = T == FR_F_F32 ? 4 : 2;
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = fr_pf_lim(a, r1);
    for (; k + 8 <= n; k += 8) {
        __m256 wv[4];
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            if (T != FR_F_F32)
                fr_pf(w[i] + k * es + pf, lim, 8 * es);
            wv[i] = fr_fload_y(T, w[i], k, 8);
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m256 xv = _mm256_loadu_ps(x[j] + k);
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    if (k < n) {
        __m256 wv[4];
        FR_UNROLL
        for (int i = 0; i < RM; i++)
            wv[i] = fr_fload_y(T, w[i], k, n - k);
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m256 xv = _mm256_maskload_ps(x[j] + k, fr_ymask(n - k));
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
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

FR_AI void fr_fgemm_y(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    if (a->n_tok == 1) {
        for (int64_t r = r0; r < r1; r += 4)
            fr_ftile_y(a, r, r1, 0, T, 4, 1);
        return;
    }
    for (int64_t r = r0; r < r1; r += 3) {
#define FR_TILE_(t, rn) fr_ftile_y(a, r, r1, t, T, 3, rn)
        FR_FOR_TOKEN_TILES(a->n_tok, FR_TILE_);
#undef FR_TILE_
    }
}

void fr_gemm_f32_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    (void)scratch;
    fr_fgemm_y(a, r0, r1, FR_F_F32);
}

void fr_gemm_f16_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    (void)scratch;
    fr_fgemm_y(a, r0, r1, FR_F_F16);
}

void fr_gemm_bf16_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    (void)scratch;
    fr_fgemm_y(a, r0, r1, FR_F_BF16);
}
#endif
