/*
 * avx512_gemm.c - the nn and tn float products of gemm.h with AVX-512F
 * (16 lanes, fused multiply-add), chosen at run time when the CPU has it
 * (this file is compiled with -mavx512f; nothing here runs otherwise).
 *
 * Every element is s = fma(a_k, b_k, s) for k = 0..K-1 from 0, then
 * alpha * s (+ C), exactly as in the AVX2 kernels, so the two paths give
 * the same bits; only the width of the register tiles differs.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "tensor/kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline void fr_fin16(float *c, __m512 s, __m512 alpha, bool acc)
{
    __m512 r = _mm512_mul_ps(s, alpha);
    if (acc)
        r = _mm512_add_ps(_mm512_loadu_ps(c), r);
    _mm512_storeu_ps(c, r);
}

static void fr_axpy_panel_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                 int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb,
                                 bool acc, float *C, int64_t ldc)
{
    const __m512 va = _mm512_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *a0 = A + i * sa_i, *a1 = a0 + sa_i, *a2 = a1 + sa_i, *a3 = a2 + sa_i;
        int64_t j = 0;
        for (; j + 32 <= N; j += 32) {
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
            __m512 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int64_t k = 0; k < K; k++) {
                const float *b = B + k * ldb + j;
                __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
                int64_t o = k * sa_k;
                __m512 x = _mm512_set1_ps(a0[o]);
                c00 = _mm512_fmadd_ps(x, b0, c00);
                c01 = _mm512_fmadd_ps(x, b1, c01);
                x = _mm512_set1_ps(a1[o]);
                c10 = _mm512_fmadd_ps(x, b0, c10);
                c11 = _mm512_fmadd_ps(x, b1, c11);
                x = _mm512_set1_ps(a2[o]);
                c20 = _mm512_fmadd_ps(x, b0, c20);
                c21 = _mm512_fmadd_ps(x, b1, c21);
                x = _mm512_set1_ps(a3[o]);
                c30 = _mm512_fmadd_ps(x, b0, c30);
                c31 = _mm512_fmadd_ps(x, b1, c31);
            }
            float *c = C + i * ldc + j;
            fr_fin16(c, c00, va, acc);
            fr_fin16(c + 16, c01, va, acc);
            fr_fin16(c + ldc, c10, va, acc);
            fr_fin16(c + ldc + 16, c11, va, acc);
            fr_fin16(c + 2 * ldc, c20, va, acc);
            fr_fin16(c + 2 * ldc + 16, c21, va, acc);
            fr_fin16(c + 3 * ldc, c30, va, acc);
            fr_fin16(c + 3 * ldc + 16, c31, va, acc);
        }
        if (j < N) /* the last < 32 columns: AVX2 tiles and edges, same arithmetic */
            fr_gemm_axpy_avx2(4, N - j, K, alpha, a0, sa_i, sa_k, B + j, ldb, acc,
                              C + i * ldc + j, ldc);
    }
    if (i < M)
        fr_gemm_axpy_avx2(M - i, N, K, alpha, A + i * sa_i, sa_i, sa_k, B, ldb, acc, C + i * ldc,
                          ldc);
}

static void fr_axpy_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                           float *C, int64_t ldc)
{
    const int64_t P = 64;
    for (int64_t j0 = 0; j0 < N; j0 += P) {
        int64_t w = N - j0 < P ? N - j0 : P;
        fr_axpy_panel_avx512(M, w, K, alpha, A, sa_i, sa_k, B + j0, ldb, acc, C + j0, ldc);
    }
}

void fr_gemm_nn_block_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                             int64_t ldc)
{
    fr_axpy_avx512(M, N, K, alpha, A, lda, 1, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                             int64_t ldc)
{
    fr_axpy_avx512(M, N, K, alpha, A, 1, lda, B, ldb, acc, C, ldc);
}

#else /* not x86-64: never called (no avx512 kernel set off x86-64) */

void fr_gemm_nn_block_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                             int64_t ldc)
{
    fr_gemm_nn_block_generic(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                             int64_t ldc)
{
    fr_gemm_tn_block_generic(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}
#endif
