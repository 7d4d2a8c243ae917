/*
 * generic_gemm.c - the portable float32 products of training (the sgemm
 * entries of kernels.h, generic path; tune/gemm.h has the threaded
 * wrappers and the contract).
 *
 * Invariant that makes results independent of tiling and threads: each
 * element of C is computed by the same sequence of float operations wherever
 * it falls (inside a register tile or in an edge loop). For nn and tn an
 * element is sum_k a_k * b_k accumulated left to right, then scaled by
 * alpha, then added to C; for nt the sum is split into 4 lanes by k mod 4,
 * the lanes are combined as (l0 + l1) + (l2 + l3), then the k tail is added
 * left to right. Edge loops call the same helpers as the tiles. GCC vector
 * extensions (4-float lanes) lower to SSE2 on baseline x86-64 and NEON on
 * ARM.
 */
#include "tensor/kernels/kernels.h"

#include <string.h>

typedef float fr_v4 __attribute__((vector_size(16)));

static inline fr_v4 fr_v4_load(const float *p)
{
    fr_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void fr_v4_store(float *p, fr_v4 v)
{
    memcpy(p, &v, sizeof v);
}

static inline fr_v4 fr_v4_splat(float x)
{
    return (fr_v4){x, x, x, x};
}

/* C row segment (4 values) from an accumulated sum. */
static inline void fr_v4_finish(float *c, fr_v4 s, float alpha, bool acc)
{
    fr_v4 r = s * fr_v4_splat(alpha);
    if (acc)
        r = fr_v4_load(c) + r;
    fr_v4_store(c, r);
}

static inline void fr_scalar_finish(float *c, float s, float alpha, bool acc)
{
    float r = s * alpha;
    *c = acc ? *c + r : r;
}

/* ---- nn / tn: C[i][j] = sum_k a(i,k) B[k][j] ----------------------------- */

/* a(i, k) = A[i*sa_i + k*sa_k]: nn has (lda, 1), tn has (1, lda). */
static void fr_gemm_axpy_panel(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                               int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                               float *C, int64_t ldc)
{
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *a0 = A + i * sa_i, *a1 = a0 + sa_i, *a2 = a1 + sa_i, *a3 = a2 + sa_i;
        int64_t j = 0;
        for (; j + 8 <= N; j += 8) {
            fr_v4 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
            fr_v4 c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
            for (int64_t k = 0; k < K; k++) {
                const float *b = B + k * ldb + j;
                fr_v4 b0 = fr_v4_load(b), b1 = fr_v4_load(b + 4);
                int64_t o = k * sa_k;
                fr_v4 x0 = fr_v4_splat(a0[o]), x1 = fr_v4_splat(a1[o]);
                fr_v4 x2 = fr_v4_splat(a2[o]), x3 = fr_v4_splat(a3[o]);
                c00 += x0 * b0;
                c01 += x0 * b1;
                c10 += x1 * b0;
                c11 += x1 * b1;
                c20 += x2 * b0;
                c21 += x2 * b1;
                c30 += x3 * b0;
                c31 += x3 * b1;
            }
            float *c = C + i * ldc + j;
            fr_v4_finish(c, c00, alpha, acc);
            fr_v4_finish(c + 4, c01, alpha, acc);
            fr_v4_finish(c + ldc, c10, alpha, acc);
            fr_v4_finish(c + ldc + 4, c11, alpha, acc);
            fr_v4_finish(c + 2 * ldc, c20, alpha, acc);
            fr_v4_finish(c + 2 * ldc + 4, c21, alpha, acc);
            fr_v4_finish(c + 3 * ldc, c30, alpha, acc);
            fr_v4_finish(c + 3 * ldc + 4, c31, alpha, acc);
        }
        for (; j < N; j++) {
            for (int r = 0; r < 4; r++) {
                const float *ar = A + (i + r) * sa_i;
                float s = 0.0f;
                for (int64_t k = 0; k < K; k++)
                    s += ar[k * sa_k] * B[k * ldb + j];
                fr_scalar_finish(C + (i + r) * ldc + j, s, alpha, acc);
            }
        }
    }
    for (; i < M; i++) {
        const float *ar = A + i * sa_i;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            fr_v4 s = {0};
            for (int64_t k = 0; k < K; k++)
                s += fr_v4_splat(ar[k * sa_k]) * fr_v4_load(B + k * ldb + j);
            fr_v4_finish(C + i * ldc + j, s, alpha, acc);
        }
        for (; j < N; j++) {
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s += ar[k * sa_k] * B[k * ldb + j];
            fr_scalar_finish(C + i * ldc + j, s, alpha, acc);
        }
    }
}

/* Column panels of 64 keep the panel of B (K x 64 floats) in cache while
 * every row block of A passes over it. Panel edges are multiples of 8, so
 * an element falls in the same kind of tile (8-wide, 4-wide or scalar
 * edge) as without panels only when N is a multiple of 8 -- but every
 * path computes an element the same way, so this does not matter. */
static void fr_gemm_axpy_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                               int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                               float *C, int64_t ldc)
{
    const int64_t P = 64;
    for (int64_t j0 = 0; j0 < N; j0 += P) {
        int64_t w = N - j0 < P ? N - j0 : P;
        fr_gemm_axpy_panel(M, w, K, alpha, A, sa_i, sa_k, B + j0, ldb, acc, C + j0, ldc);
    }
}

void fr_gemm_nn_block_generic(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                              int64_t ldc)
{
    fr_gemm_axpy_block(M, N, K, alpha, A, lda, 1, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block_generic(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                              int64_t ldc)
{
    fr_gemm_axpy_block(M, N, K, alpha, A, 1, lda, B, ldb, acc, C, ldc);
}

/* ---- nt: C[i][j] = dot(A[i], B[j]) -------------------------------------- */

static inline float fr_lanes_sum(fr_v4 s)
{
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static inline float fr_dot_lanes(const float *a, const float *b, int64_t K)
{
    fr_v4 s = {0};
    int64_t k = 0;
    for (; k + 4 <= K; k += 4)
        s += fr_v4_load(a + k) * fr_v4_load(b + k);
    float r = fr_lanes_sum(s);
    for (; k < K; k++)
        r += a[k] * b[k];
    return r;
}

void fr_gemm_nt_block_generic(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                              int64_t ldc)
{
    int64_t K4 = K & ~(int64_t)3;
    int64_t i = 0;
    for (; i + 2 <= M; i += 2) {
        const float *a0 = A + i * lda, *a1 = a0 + lda;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            const float *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            fr_v4 s00 = {0}, s01 = {0}, s02 = {0}, s03 = {0};
            fr_v4 s10 = {0}, s11 = {0}, s12 = {0}, s13 = {0};
            for (int64_t k = 0; k < K4; k += 4) {
                fr_v4 x0 = fr_v4_load(a0 + k), x1 = fr_v4_load(a1 + k);
                fr_v4 y = fr_v4_load(b0 + k);
                s00 += x0 * y;
                s10 += x1 * y;
                y = fr_v4_load(b1 + k);
                s01 += x0 * y;
                s11 += x1 * y;
                y = fr_v4_load(b2 + k);
                s02 += x0 * y;
                s12 += x1 * y;
                y = fr_v4_load(b3 + k);
                s03 += x0 * y;
                s13 += x1 * y;
            }
            fr_v4 s[2][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}};
            const float *ar[2] = {a0, a1};
            const float *br[4] = {b0, b1, b2, b3};
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 4; q++) {
                    float v = fr_lanes_sum(s[r][q]);
                    for (int64_t k = K4; k < K; k++)
                        v += ar[r][k] * br[q][k];
                    fr_scalar_finish(C + (i + r) * ldc + j + q, v, alpha, acc);
                }
        }
        for (; j < N; j++) {
            fr_scalar_finish(C + i * ldc + j, fr_dot_lanes(a0, B + j * ldb, K), alpha, acc);
            fr_scalar_finish(C + (i + 1) * ldc + j, fr_dot_lanes(a1, B + j * ldb, K), alpha, acc);
        }
    }
    for (; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            fr_scalar_finish(C + i * ldc + j, fr_dot_lanes(A + i * lda, B + j * ldb, K), alpha,
                             acc);
}
