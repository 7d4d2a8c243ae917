/*
 * neon_util.h - the function list of the neon*.c kernel files (internal),
 * the three ARM kernel sets (kernels.h) that neon_table.c assembles:
 *   neon     plain Advanced SIMD (armv8-a): every file's baseline code
 *   dotprod  the quantized products with SDOT (neon_dot_q.c, armv8.2-a)
 *   i8mm     the batched quantized products with SMMLA (neon_i8mm_q.c,
 *            armv8.6-a), SDOT for one token
 * The float products, activation quantizers, attention rows, SwiGLU and the
 * training products do not use either extension and are shared by the
 * three sets (neon_float.c, neon_act.c, neon_gemm.c).
 */
#ifndef FR_TENSOR_KERNELS_NEON_UTIL_H
#define FR_TENSOR_KERNELS_NEON_UTIL_H

#include "tensor/kernels/kernels.h"

#if defined(__aarch64__)
void fr_quant_q8b_neon(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void fr_quant_q8k_neon(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums);
void fr_gemm_f32_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_f16_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_bf16_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
float fr_dot_f32_neon(const float *q, const float *k, int64_t n);
float fr_dot_f16_neon(const float *q, const uint16_t *k, int64_t n);
void fr_axpy_f32_neon(float *y, float a, const float *v, int64_t n);
void fr_axpy_f16_neon(float *y, float a, const uint16_t *v, int64_t n);
void fr_swiglu_neon(float *g, const float *u, int64_t n);
/* training products (neon_gemm.c: FMLA) */
void fr_gemm_nn_block_neon(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc);
void fr_gemm_nt_block_neon(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc);
void fr_gemm_tn_block_neon(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc);
/* quantized products: plain NEON, SDOT, SMMLA */
void fr_gemm_q32_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_qk_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q32_dotprod(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_qk_dotprod(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q32_i8mm(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_qk_i8mm(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
#endif

#endif
