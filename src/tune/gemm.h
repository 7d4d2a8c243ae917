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
 * Paths: the kernel table of src/tensor (kernels.h sgemm_nn / nt / tn),
 * chosen as every kernel is (cpu.h: FRUGAL_ISA or the best path): the
 * portable one in tensor/kernels/generic_gemm.c (GCC vector extensions, 4
 * lanes, multiply then add), AVX2 + FMA in avx2_gemm.c, and AVX-512 for
 * nn/tn in avx512_gemm.c (the same arithmetic per element as AVX2, wider
 * tiles). All are deterministic; the portable path differs from the FMA
 * ones in the last bits.
 *
 * Rejected: OpenBLAS. Measured here (one core, shapes of the training
 * products): its sgemm runs at 75-120 GFLOP/s, the portable kernels at
 * 30-50 and the AVX2 ones at about 2x those; BLAS is not linked by our
 * build, its results depend on its own threading and kernel choice, and
 * most products here are either small (LoRA ranks) or fused with the
 * per-tile dequantization of the base, where our kernel runs on a tile
 * already in cache.
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
