/*
 * avx512_float.c - AVX-512 products of F32, F16 and BF16 weights with float
 * activations.
 *
 * Tiles of 4 weight rows x up to 4 tokens keep 16 vector accumulators (16
 * lanes each) in registers: each weight vector loaded (and converted from
 * half / bfloat16) is used for 4 tokens, each activation vector for 4 rows.
 * A row's tail (n_in not a multiple of 16) uses masked loads, so nothing is
 * read past a row. Half weights are widened with vcvtph2ps (exact), bfloat16
 * by a 16-bit shift (exact); activations stay float. Rejected: vdpbf16ps on
 * BF16 weights, which would round the activations to bfloat16 (8 bits of
 * mantissa, less than the 8-bit integer quantization of the other types).
 */
#include "tensor/kernels/avx512_util.h"

#if defined(__x86_64__)

enum { FR_F_F32, FR_F_F16, FR_F_BF16 };

FR_AI __m512 fr_fload(const int T, const uint8_t *row, int64_t k, __mmask16 m, const int full)
{
    if (T == FR_F_F32)
        return full ? _mm512_loadu_ps(row + 4 * k) : _mm512_maskz_loadu_ps(m, row + 4 * k);
    __m256i h = full ? _mm256_loadu_si256((const __m256i *)(row + 2 * k))
                     : _mm256_maskz_loadu_epi16(m, row + 2 * k);
    if (T == FR_F_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

FR_AI void fr_ftile(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                    const int RM, const int RN)
{
    const uint8_t *w[4];
    const float *x[4];
    __m512 acc[4][4];
    fr_tile_rows(a, r, r1, RM, w);
    FR_UNROLL
    for (int j = 0; j < RN; j++)
        x[j] = a->x + fr_min64(t + j, a->n_tok - 1) * a->ldx;
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm512_setzero_ps();
    int64_t n = a->n_in, k = 0;
    const int es = T == FR_F_F32 ? 4 : 2; /* bytes per value */
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = fr_pf_lim(a, r1);
    for (; k + 16 <= n; k += 16) {
        __m512 wv[4];
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            if (T != FR_F_F32) /* F32 streams fine with hardware prefetch */
                fr_pf(w[i] + k * es + pf, lim, 16 * es);
            wv[i] = fr_fload(T, w[i], k, 0xffff, 1);
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m512 xv = _mm512_loadu_ps(x[j] + k);
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    if (k < n) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        __m512 wv[4];
        FR_UNROLL
        for (int i = 0; i < RM; i++)
            wv[i] = fr_fload(T, w[i], k, m, 0);
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x[j] + k);
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
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

FR_AI void fr_fgemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    for (int64_t r = r0; r < r1; r += 4) {
#define FR_TILE_(t, rn) fr_ftile(a, r, r1, t, T, 4, rn)
        FR_FOR_TOKEN_TILES(a->n_tok, FR_TILE_);
#undef FR_TILE_
    }
}

void fr_gemm_f32_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    (void)scratch;
    fr_fgemm(a, r0, r1, FR_F_F32);
}

void fr_gemm_f16_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    (void)scratch;
    fr_fgemm(a, r0, r1, FR_F_F16);
}

void fr_gemm_bf16_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    (void)scratch;
    fr_fgemm(a, r0, r1, FR_F_BF16);
}
#endif
