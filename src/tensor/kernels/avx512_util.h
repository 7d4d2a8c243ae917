/*
 * avx512_util.h - helpers and function list of the avx512*.c kernel files
 * (internal; include only from files compiled with the AVX-512 flags).
 */
#ifndef FR_TENSOR_KERNELS_AVX512_UTIL_H
#define FR_TENSOR_KERNELS_AVX512_UTIL_H

#include "tensor/kernels/simd_common.h"

/* Horizontal sum in a fixed order. */
FR_AI float fr_z_hsum(__m512 v)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

/* The functions of the avx512 set (avx512_*.c), for avx512_table.c. */
void fr_quant_q8b_avx512(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void fr_quant_q8k_avx512(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums);
uint64_t fr_read_sum_avx512(const void *buf, size_t bytes);
void fr_interleave_q8b_avx512(const int8_t *qs, int64_t nb, uint8_t *qsi);
void fr_gemm_f32_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_f16_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_bf16_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_0_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_1_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_0_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_1_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q8_0_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q2_k_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q3_k_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q4_k_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q5_k_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q6_k_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);

#endif
