/*
 * neon_gemm.c - the float products of training (the sgemm entries of
 * kernels.h; tune/gemm.h has the threaded wrappers and the contract) with
 * Advanced SIMD fused multiply-add, for the three ARM sets (neon_util.h).
 * Plain armv8-a: every aarch64 CPU has FMLA on 4 float lanes.
 *
 * The structure and the invariant of avx2_gemm.c on 4-lane vectors: every
 * element of C is computed by the same operations wherever it falls (a
 * register tile, a narrower tile or a scalar edge). For nn / tn an element
 * is s = fma(a_k, b_k, s) for k = 0..K-1 from 0, then alpha * s (+ C);
 * edges use fmaf, which rounds like an FMLA lane. For nt the sum is split
 * into 4 lanes by k mod 4 (FMLA), reduced as (l0 + l2) + (l1 + l3) (FADDP
 * twice), then the k tail is added with fmaf. Results differ from the
 * portable path in the last bits (fused rounding), not between tiles,
 * thread counts or runs.
 *
 * nn / tn tiles are 4 rows x 16 columns (16 accumulators of the 32 vector
 * registers; a 4 x 4 tile for the last columns), over column panels of 64
 * that keep B's panel in cache; nt tiles are 2 rows x 4 columns of dot
 * products, as on x86.
 */
#include "tensor/kernels/neon_util.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>

static inline void fr_fin4(float *c, float32x4_t s, float alpha, bool acc)
{
    float32x4_t r = vmulq_n_f32(s, alpha);
    if (acc)
        r = vaddq_f32(vld1q_f32(c), r);
    vst1q_f32(c, r);
}

static inline void fr_fin1(float *c, float s, float alpha, bool acc)
{
    float r = s * alpha;
    *c = acc ? *c + r : r;
}

/* C[i..i+4)[j..j+16): 16 accumulators, named so that -O2 keeps them in
 * registers (the x86 files do the same). */
static inline void fr_ng_tile4x16(int64_t K, float alpha, const float *A, int64_t sa_i,
                                  int64_t sa_k, const float *B, int64_t ldb, bool acc, float *C,
                                  int64_t ldc)
{
    const float *a0 = A, *a1 = a0 + sa_i, *a2 = a1 + sa_i, *a3 = a2 + sa_i;
    float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
    float32x4_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * ldb;
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        float32x4_t b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
        int64_t o = k * sa_k;
        float x = a0[o];
        c00 = vfmaq_n_f32(c00, b0, x), c01 = vfmaq_n_f32(c01, b1, x);
        c02 = vfmaq_n_f32(c02, b2, x), c03 = vfmaq_n_f32(c03, b3, x);
        x = a1[o];
        c10 = vfmaq_n_f32(c10, b0, x), c11 = vfmaq_n_f32(c11, b1, x);
        c12 = vfmaq_n_f32(c12, b2, x), c13 = vfmaq_n_f32(c13, b3, x);
        x = a2[o];
        c20 = vfmaq_n_f32(c20, b0, x), c21 = vfmaq_n_f32(c21, b1, x);
        c22 = vfmaq_n_f32(c22, b2, x), c23 = vfmaq_n_f32(c23, b3, x);
        x = a3[o];
        c30 = vfmaq_n_f32(c30, b0, x), c31 = vfmaq_n_f32(c31, b1, x);
        c32 = vfmaq_n_f32(c32, b2, x), c33 = vfmaq_n_f32(c33, b3, x);
    }
    fr_fin4(C, c00, alpha, acc), fr_fin4(C + 4, c01, alpha, acc);
    fr_fin4(C + 8, c02, alpha, acc), fr_fin4(C + 12, c03, alpha, acc);
    C += ldc;
    fr_fin4(C, c10, alpha, acc), fr_fin4(C + 4, c11, alpha, acc);
    fr_fin4(C + 8, c12, alpha, acc), fr_fin4(C + 12, c13, alpha, acc);
    C += ldc;
    fr_fin4(C, c20, alpha, acc), fr_fin4(C + 4, c21, alpha, acc);
    fr_fin4(C + 8, c22, alpha, acc), fr_fin4(C + 12, c23, alpha, acc);
    C += ldc;
    fr_fin4(C, c30, alpha, acc), fr_fin4(C + 4, c31, alpha, acc);
    fr_fin4(C + 8, c32, alpha, acc), fr_fin4(C + 12, c33, alpha, acc);
}

/* C[i..i+4)[j..j+4): the column edge of the 16-wide tiles. */
static inline void fr_ng_tile4x4(int64_t K, float alpha, const float *A, int64_t sa_i, int64_t sa_k,
                                 const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    const float *a0 = A, *a1 = a0 + sa_i, *a2 = a1 + sa_i, *a3 = a2 + sa_i;
    float32x4_t c0 = vdupq_n_f32(0.0f), c1 = c0, c2 = c0, c3 = c0;
    for (int64_t k = 0; k < K; k++) {
        float32x4_t b0 = vld1q_f32(B + k * ldb);
        int64_t o = k * sa_k;
        c0 = vfmaq_n_f32(c0, b0, a0[o]);
        c1 = vfmaq_n_f32(c1, b0, a1[o]);
        c2 = vfmaq_n_f32(c2, b0, a2[o]);
        c3 = vfmaq_n_f32(c3, b0, a3[o]);
    }
    fr_fin4(C, c0, alpha, acc);
    fr_fin4(C + ldc, c1, alpha, acc);
    fr_fin4(C + 2 * ldc, c2, alpha, acc);
    fr_fin4(C + 3 * ldc, c3, alpha, acc);
}

/* One element: the fma chain of a tile's lane. */
static inline float fr_ng_dot1(int64_t K, const float *a, int64_t sa_k, const float *b, int64_t ldb)
{
    float s = 0.0f;
    for (int64_t k = 0; k < K; k++)
        s = fmaf(a[k * sa_k], b[k * ldb], s);
    return s;
}

static void fr_ng_axpy_panel(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                             float *C, int64_t ldc)
{
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
        const float *a = A + i * sa_i;
        float *c = C + i * ldc;
        int64_t j = 0;
        for (; j + 16 <= N; j += 16)
            fr_ng_tile4x16(K, alpha, a, sa_i, sa_k, B + j, ldb, acc, c + j, ldc);
        for (; j + 4 <= N; j += 4)
            fr_ng_tile4x4(K, alpha, a, sa_i, sa_k, B + j, ldb, acc, c + j, ldc);
        for (; j < N; j++)
            for (int r = 0; r < 4; r++)
                fr_fin1(c + r * ldc + j, fr_ng_dot1(K, a + r * sa_i, sa_k, B + j, ldb), alpha, acc);
    }
    for (; i < M; i++) {
        const float *ar = A + i * sa_i;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            float32x4_t s = vdupq_n_f32(0.0f);
            for (int64_t k = 0; k < K; k++)
                s = vfmaq_n_f32(s, vld1q_f32(B + k * ldb + j), ar[k * sa_k]);
            fr_fin4(C + i * ldc + j, s, alpha, acc);
        }
        for (; j < N; j++)
            fr_fin1(C + i * ldc + j, fr_ng_dot1(K, ar, sa_k, B + j, ldb), alpha, acc);
    }
}

static void fr_ng_axpy(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t sa_i,
                       int64_t sa_k, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    const int64_t P = 64;
    for (int64_t j0 = 0; j0 < N; j0 += P) {
        int64_t w = N - j0 < P ? N - j0 : P;
        fr_ng_axpy_panel(M, w, K, alpha, A, sa_i, sa_k, B + j0, ldb, acc, C + j0, ldc);
    }
}

void fr_gemm_nn_block_neon(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_ng_axpy(M, N, K, alpha, A, lda, 1, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block_neon(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc)
{
    fr_ng_axpy(M, N, K, alpha, A, 1, lda, B, ldb, acc, C, ldc);
}

/* (l0 + l2) + (l1 + l3): pairwise adds, always in this order. */
static inline float fr_ng_hsum(float32x4_t v)
{
    float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
}

static inline float fr_ng_dot(const float *a, const float *b, int64_t K)
{
    float32x4_t s = vdupq_n_f32(0.0f);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4)
        s = vfmaq_f32(s, vld1q_f32(a + k), vld1q_f32(b + k));
    float r = fr_ng_hsum(s);
    for (; k < K; k++)
        r = fmaf(a[k], b[k], r);
    return r;
}

void fr_gemm_nt_block_neon(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
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
            float32x4_t s00 = vdupq_n_f32(0.0f), s01 = s00, s02 = s00, s03 = s00;
            float32x4_t s10 = s00, s11 = s00, s12 = s00, s13 = s00;
            for (int64_t k = 0; k < K4; k += 4) {
                float32x4_t x0 = vld1q_f32(a0 + k), x1 = vld1q_f32(a1 + k);
                float32x4_t y = vld1q_f32(b0 + k);
                s00 = vfmaq_f32(s00, x0, y), s10 = vfmaq_f32(s10, x1, y);
                y = vld1q_f32(b1 + k);
                s01 = vfmaq_f32(s01, x0, y), s11 = vfmaq_f32(s11, x1, y);
                y = vld1q_f32(b2 + k);
                s02 = vfmaq_f32(s02, x0, y), s12 = vfmaq_f32(s12, x1, y);
                y = vld1q_f32(b3 + k);
                s03 = vfmaq_f32(s03, x0, y), s13 = vfmaq_f32(s13, x1, y);
            }
            float32x4_t s[2][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}};
            const float *ar[2] = {a0, a1};
            const float *br[4] = {b0, b1, b2, b3};
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 4; q++) {
                    float v = fr_ng_hsum(s[r][q]);
                    for (int64_t k = K4; k < K; k++)
                        v = fmaf(ar[r][k], br[q][k], v);
                    fr_fin1(C + (i + r) * ldc + j + q, v, alpha, acc);
                }
        }
        for (; j < N; j++) {
            fr_fin1(C + i * ldc + j, fr_ng_dot(a0, B + j * ldb, K), alpha, acc);
            fr_fin1(C + (i + 1) * ldc + j, fr_ng_dot(a1, B + j * ldb, K), alpha, acc);
        }
    }
    for (; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            fr_fin1(C + i * ldc + j, fr_ng_dot(A + i * lda, B + j * ldb, K), alpha, acc);
}
#endif
