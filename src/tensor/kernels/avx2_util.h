/*
 * avx2_util.h - the function list of the avx2*.c kernel files (internal;
 * include only from files compiled with the AVX2 flags).
 */
#ifndef FR_TENSOR_KERNELS_AVX2_UTIL_H
#define FR_TENSOR_KERNELS_AVX2_UTIL_H

#include "tensor/kernels/simd_common.h"

void fr_quant_q8b_avx2(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void fr_quant_q8k_avx2(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums);
uint64_t fr_read_sum_avx2(const void *buf, size_t bytes);
void fr_gemm_f32_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_f16_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_bf16_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_0_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_1_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_0_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_1_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q8_0_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q2_k_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q3_k_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_k_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_k_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q6_k_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
/* products of x8-packed weights (pack.h) */
void fr_gemm_q4_0_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_1_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_0_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_1_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q8_0_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q2_k_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q3_k_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_k_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_k_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q6_k_x8_avx2(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);

#endif
