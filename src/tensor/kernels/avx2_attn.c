/*
 * avx2_attn.c - attention row operations with AVX2 + FMA + F16C: 8 lanes,
 * two accumulators for the dot (head sizes are 64-128), scalar tails.
 */
#include "tensor/kernels/kernels.h"

#if defined(__x86_64__)
#include <frugal/tensor.h>
#include <immintrin.h>

static inline float fr_hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

float fr_dot_f32_avx2(const float *q, const float *k, int64_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_loadu_ps(k + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), a0);
    float s = fr_hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += q[i] * k[i];
    return s;
}

float fr_dot_f16_avx2(const float *q, const uint16_t *k, int64_t n)
{
    __m256 a0 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i)));
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), kv, a0);
    }
    float s = fr_hsum256(a0);
    for (; i < n; i++)
        s += q[i] * fr_fp16_to_fp32(k[i]);
    return s;
}

void fr_axpy_f32_avx2(float *y, float a, const float *v, int64_t n)
{
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(v + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * v[i];
}

void fr_axpy_f16_avx2(float *y, float a, const uint16_t *v, int64_t n)
{
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, vv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] += a * fr_fp16_to_fp32(v[i]);
}
#endif
