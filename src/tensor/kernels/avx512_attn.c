/*
 * avx512_attn.c - attention row operations with AVX-512: 16 lanes, masked
 * tails (no scalar loop), F16 keys/values converted with vcvtph2ps.
 */
#include "tensor/kernels/kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline __mmask16 fr_tail_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

float fr_dot_f32_avx512(const float *q, const float *k, int64_t n)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_loadu_ps(k + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), _mm512_loadu_ps(k + i + 16), a1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = fr_tail_mask(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, k + i), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

float fr_dot_f16_avx512(const float *q, const uint16_t *k, int64_t n)
{
    __m512 a0 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = fr_tail_mask(n - i);
        __m512 kv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k + i));
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), kv, a0);
    }
    return _mm512_reduce_add_ps(a0);
}

void fr_axpy_f32_avx512(float *y, float a, const float *v, int64_t n)
{
    __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = fr_tail_mask(n - i);
        __m512 r = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, v + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

void fr_axpy_f16_avx512(float *y, float a, const uint16_t *v, int64_t n)
{
    __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = fr_tail_mask(n - i);
        __m512 vv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, v + i));
        __m512 r = _mm512_fmadd_ps(av, vv, _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}
#endif
