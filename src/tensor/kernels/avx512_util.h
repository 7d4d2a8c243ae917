/*
 * avx512_util.h - helpers shared by the avx512*.c kernel files (internal;
 * include only from files compiled with the AVX-512 flags).
 *
 * The kernels are written once as always-inline functions of compile-time
 * tile sizes (RM weight rows x RN tokens) and weight type; FR_UNROLL makes
 * the compiler unroll the fixed-count loops so that arrays of accumulators
 * live in registers. Each output element is computed by the same sequence of
 * operations whatever the tile it falls in (rows and tokens past the end are
 * clamped to the last one and not stored), which is what makes results
 * independent of batch size and thread count.
 */
#ifndef FR_TENSOR_KERNELS_AVX512_UTIL_H
#define FR_TENSOR_KERNELS_AVX512_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kernels/kernels.h"

#define FR_AI static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 16")

FR_AI uint16_t fr_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

FR_AI uint32_t fr_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

FR_AI uint64_t fr_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* {f[0] x 8, f[1] x 8} */
FR_AI __m512 fr_z_expand2(const float *f)
{
    const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m128 v = _mm_castpd_ps(_mm_load_sd((const double *)f));
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

/* {half(h0) x 8, half(h1) x 8} */
FR_AI __m512 fr_z_expand2_h(uint16_t h0, uint16_t h1)
{
    const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m128 v = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)h0 | ((uint32_t)h1 << 16))));
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v));
}

FR_AI float fr_h2f(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h)));
}

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

/* Software prefetch of the weight stream. A tile's rows are consecutive in
 * memory, so fetching "the same offset, some whole tiles ahead" streams the
 * next tiles' bytes at the rate the current tile consumes its own; hardware
 * prefetchers alone do not keep enough misses in flight for the several
 * interleaved row streams of a tile (measured: Q4_0 decode 10 GB/s without,
 * 30+ GB/s with, on a core that reads 37 GB/s). FR_PF_MIN: bytes ahead,
 * enough to cover memory latency at full bandwidth. */
#define FR_PF_MIN 16384

FR_AI size_t fr_pf_dist(size_t tile_bytes)
{
    return tile_bytes * ((FR_PF_MIN + tile_bytes - 1) / tile_bytes);
}

/* Prefetches len bytes at p (one line per 64 bytes), none at or past lim. */
FR_AI void fr_pf(const uint8_t *p, const uint8_t *lim, const int len)
{
    for (int k = 0; k < len; k += 64)
        if (p + k < lim)
            _mm_prefetch((const char *)(p + k), _MM_HINT_T0);
}

FR_AI int64_t fr_min64(int64_t a, int64_t b) { return a < b ? a : b; }

#endif
