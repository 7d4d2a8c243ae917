/*
 * gemm.h - float32 matrix products for training (all row-major).
 *
 * Three shapes cover every product backpropagation needs:
 *   nt:  C[M][N] (+)= alpha * A[M][K] * B[N][K]^T   (activations x weights^T)
 *   nn:  C[M][N] (+)= alpha * A[M][K] * B[K][N]     (input gradients dY * W)
 *   tn:  C[M][N] (+)= alpha * A[K][M]^T * B[K][N]   (weight gradients dY^T * X)
 * acc = false overwrites C, acc = true adds to it.
 *
 * Every element of C is produced by exactly one thread with a fixed order of
 * accumulation that does not depend on the thread count, so a training run
 * is reproducible bit for bit on any machine with the same build. The
 * kernels use GCC vector extensions (4-float lanes, lowered to SSE2 on
 * baseline x86-64 and NEON on ARM) and small register tiles; nothing is
 * reassociated behind the programmer's back (-ffp-contract=off).
 *
 * Rejected: calling OpenBLAS for these. Its sgemm is several times faster
 * on large F32 products, but the library is not linked by our build and
 * the training products here are either small (LoRA ranks 4..64, which BLAS
 * does not speed up) or fused with per-tile dequantization of the frozen
 * base (see linear.c), where our kernel runs on a tile already in cache.
 * See the note in linear.c for the measurement.
 */
#ifndef FR_TUNE_GEMM_H
#define FR_TUNE_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/threadpool.h"

/* pool may be NULL (run on the caller). */
void fr_gemm_nt(fr_pool *pool, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);
void fr_gemm_nn(fr_pool *pool, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);
void fr_gemm_tn(fr_pool *pool, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);

/* Single-threaded kernels on a sub-block (callers that split work
 * themselves, e.g. by column slices of a dequantized tile). */
void fr_gemm_nn_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);
void fr_gemm_nt_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);
void fr_gemm_tn_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, bool acc, float *C, int64_t ldc);

#endif
