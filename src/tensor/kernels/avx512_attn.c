/*
 * avx512_attn.c - row operations of the forward pass with AVX-512: 16
 * lanes, masked tails (no scalar loop), F16 keys/values converted with
 * vcvtph2ps; SwiGLU with a vector e^x (as avx2_attn.c's, 2^n by vscalefps).
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

/* e^x within 2 ulp, x clamped to [-87.3, 88] (see avx2_attn.c). */
static inline __m512 fr_exp512(__m512 x)
{
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(y, n);
}

void fr_swiglu_avx512(float *g, const float *u, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = fr_tail_mask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = fr_exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
        __m512 xu = _mm512_mul_ps(x, _mm512_maskz_loadu_ps(m, u + i));
        __m512 y = _mm512_div_ps(xu, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(g + i, m, y);
    }
}
#endif
