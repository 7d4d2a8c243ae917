/*
 * avx2_gemm.c - the float products of gemm.h with AVX2 + FMA (8 lanes,
 * fused multiply-add), chosen at run time when the CPU has them (this file
 * is compiled with -mavx2 -mfma; nothing here runs otherwise).
 *
 * Same structure and the same invariant as the portable kernels in
 * generic_gemm.c: every element of C is computed by the same operations wherever
 * it falls. For nn/tn an element is s = fma(a_k, b_k, s) for k = 0..K-1
 * from 0, then alpha * s (+ C); edges use fmaf, which rounds like a vector
 * lane. For nt the sum is split into 8 lanes by k mod 8, reduced in one
 * fixed order, then the k tail is added with fmaf. Results differ from the
 * portable path in the last bits (fused rounding) but not between thread
 * counts or runs.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "tensor/kernels/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

static inline void fr_fin8(float *c, __m256 s, __m256 alpha, bool acc)
{
    __m256 r = _mm256_mul_ps(s, alpha);
    if (acc)
        r = _mm256_add_ps(_mm256_loadu_ps(c), r);
    _mm256_storeu_ps(c, r);
}

static inline void fr_fin1(float *c, float s, float alpha, bool acc)
{
    float r = s * alpha;
    *c = acc ? *c + r : r;
}

static void fr_axpy_panel_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                               int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                               float *C, int64_t ldc)
{
    const __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *a0 = A + i * sa_i, *a1 = a0 + sa_i, *a2 = a1 + sa_i, *a3 = a2 + sa_i;
        int64_t j = 0;
        for (; j + 16 <= N; j += 16) {
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
            __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int64_t k = 0; k < K; k++) {
                const float *b = B + k * ldb + j;
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                int64_t o = k * sa_k;
                __m256 x = _mm256_broadcast_ss(a0 + o);
                c00 = _mm256_fmadd_ps(x, b0, c00);
                c01 = _mm256_fmadd_ps(x, b1, c01);
                x = _mm256_broadcast_ss(a1 + o);
                c10 = _mm256_fmadd_ps(x, b0, c10);
                c11 = _mm256_fmadd_ps(x, b1, c11);
                x = _mm256_broadcast_ss(a2 + o);
                c20 = _mm256_fmadd_ps(x, b0, c20);
                c21 = _mm256_fmadd_ps(x, b1, c21);
                x = _mm256_broadcast_ss(a3 + o);
                c30 = _mm256_fmadd_ps(x, b0, c30);
                c31 = _mm256_fmadd_ps(x, b1, c31);
            }
            float *c = C + i * ldc + j;
            fr_fin8(c, c00, va, acc);
            fr_fin8(c + 8, c01, va, acc);
            fr_fin8(c + ldc, c10, va, acc);
            fr_fin8(c + ldc + 8, c11, va, acc);
            fr_fin8(c + 2 * ldc, c20, va, acc);
            fr_fin8(c + 2 * ldc + 8, c21, va, acc);
            fr_fin8(c + 3 * ldc, c30, va, acc);
            fr_fin8(c + 3 * ldc + 8, c31, va, acc);
        }
        for (; j + 8 <= N; j += 8) {
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (int64_t k = 0; k < K; k++) {
                __m256 b0 = _mm256_loadu_ps(B + k * ldb + j);
                int64_t o = k * sa_k;
                c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a0 + o), b0, c0);
                c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a1 + o), b0, c1);
                c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a2 + o), b0, c2);
                c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a3 + o), b0, c3);
            }
            float *c = C + i * ldc + j;
            fr_fin8(c, c0, va, acc);
            fr_fin8(c + ldc, c1, va, acc);
            fr_fin8(c + 2 * ldc, c2, va, acc);
            fr_fin8(c + 3 * ldc, c3, va, acc);
        }
        for (; j < N; j++)
            for (int r = 0; r < 4; r++) {
                const float *ar = A + (i + r) * sa_i;
                float s = 0.0f;
                for (int64_t k = 0; k < K; k++)
                    s = fmaf(ar[k * sa_k], B[k * ldb + j], s);
                fr_fin1(C + (i + r) * ldc + j, s, alpha, acc);
            }
    }
    for (; i < M; i++) {
        const float *ar = A + i * sa_i;
        int64_t j = 0;
        for (; j + 8 <= N; j += 8) {
            __m256 s = _mm256_setzero_ps();
            for (int64_t k = 0; k < K; k++)
                s = _mm256_fmadd_ps(_mm256_broadcast_ss(ar + k * sa_k),
                                    _mm256_loadu_ps(B + k * ldb + j), s);
            fr_fin8(C + i * ldc + j, s, va, acc);
        }
        for (; j < N; j++) {
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s = fmaf(ar[k * sa_k], B[k * ldb + j], s);
            fr_fin1(C + i * ldc + j, s, alpha, acc);
        }
    }
}

void fr_gemm_axpy_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                       float *C, int64_t ldc)
{
    const int64_t P = 64;
    for (int64_t j0 = 0; j0 < N; j0 += P) {
        int64_t w = N - j0 < P ? N - j0 : P;
        fr_axpy_panel_avx2(M, w, K, alpha, A, sa_i, sa_k, B + j0, ldb, acc, C + j0, ldc);
    }
}

void fr_gemm_nn_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_gemm_axpy_avx2(M, N, K, alpha, A, lda, 1, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_gemm_axpy_avx2(M, N, K, alpha, A, 1, lda, B, ldb, acc, C, ldc);
}

/* (l0+l4 + l2+l6) + (l1+l5 + l3+l7), always in this order. */
static inline float fr_hsum8(__m256 v)
{
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(u) + _mm_cvtss_f32(_mm_shuffle_ps(u, u, 1));
}

static inline float fr_dot8(const float *a, const float *b, int64_t K)
{
    __m256 s = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8)
        s = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s);
    float r = fr_hsum8(s);
    for (; k < K; k++)
        r = fmaf(a[k], b[k], r);
    return r;
}

void fr_gemm_nt_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    int64_t K8 = K & ~(int64_t)7;
    int64_t i = 0;
    for (; i + 2 <= M; i += 2) {
        const float *a0 = A + i * lda, *a1 = a0 + lda;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            const float *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
            __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
            for (int64_t k = 0; k < K8; k += 8) {
                __m256 x0 = _mm256_loadu_ps(a0 + k), x1 = _mm256_loadu_ps(a1 + k);
                __m256 y = _mm256_loadu_ps(b0 + k);
                s00 = _mm256_fmadd_ps(x0, y, s00);
                s10 = _mm256_fmadd_ps(x1, y, s10);
                y = _mm256_loadu_ps(b1 + k);
                s01 = _mm256_fmadd_ps(x0, y, s01);
                s11 = _mm256_fmadd_ps(x1, y, s11);
                y = _mm256_loadu_ps(b2 + k);
                s02 = _mm256_fmadd_ps(x0, y, s02);
                s12 = _mm256_fmadd_ps(x1, y, s12);
                y = _mm256_loadu_ps(b3 + k);
                s03 = _mm256_fmadd_ps(x0, y, s03);
                s13 = _mm256_fmadd_ps(x1, y, s13);
            }
            __m256 s[2][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}};
            const float *ar[2] = {a0, a1};
            const float *br[4] = {b0, b1, b2, b3};
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 4; q++) {
                    float v = fr_hsum8(s[r][q]);
                    for (int64_t k = K8; k < K; k++)
                        v = fmaf(ar[r][k], br[q][k], v);
                    fr_fin1(C + (i + r) * ldc + j + q, v, alpha, acc);
                }
        }
        for (; j < N; j++) {
            fr_fin1(C + i * ldc + j, fr_dot8(a0, B + j * ldb, K), alpha, acc);
            fr_fin1(C + (i + 1) * ldc + j, fr_dot8(a1, B + j * ldb, K), alpha, acc);
        }
    }
    for (; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            fr_fin1(C + i * ldc + j, fr_dot8(A + i * lda, B + j * ldb, K), alpha, acc);
}

#else /* not x86: never called (no avx2 kernel set), defined so the library links */

void fr_gemm_axpy_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                       float *C, int64_t ldc)
{
    (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)sa_i, (void)sa_k, (void)B, (void)ldb;
    (void)acc, (void)C, (void)ldc;
}

void fr_gemm_nn_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_gemm_nn_block_generic(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_gemm_tn_block_generic(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_nt_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_gemm_nt_block_generic(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}
#endif
