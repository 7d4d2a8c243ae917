/*
 * avx2_attn.c - row operations of the forward pass with AVX2 + FMA + F16C:
 * attention dot / axpy (8 lanes, two accumulators for the dot - head sizes
 * are 64-128 - scalar tails) and SwiGLU with a vector e^x.
 */
#include "tensor/kernels/kernels.h"

#if defined(__x86_64__)
#include <frugal/tensor.h>
#include <immintrin.h>
#include <string.h>

/* e^x, within 2 ulp (range reduction by ln 2 in two parts and a degree-7
 * polynomial, Cephes' expf); x is clamped to [-87.3, 88] so that 2^n stays
 * a normal float: e^x for x < -87.3 comes out as e^-87.3 (1e-38) rather
 * than a denormal or 0, and never inf. */
static inline __m256 fr_exp256(__m256 x)
{
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    e = _mm256_slli_epi32(e, 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

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

/* g = silu(g) * u = g * u / (1 + e^-g); tails through a masked-off copy */
void fr_swiglu_avx2(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 e = fr_exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        __m256 y = _mm256_div_ps(_mm256_mul_ps(x, _mm256_loadu_ps(u + i)), _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, y);
    }
    if (i < n) {
        float xb[8] = {0}, ub[8] = {0};
        memcpy(xb, g + i, (size_t)(n - i) * sizeof(float));
        memcpy(ub, u + i, (size_t)(n - i) * sizeof(float));
        __m256 x = _mm256_loadu_ps(xb);
        __m256 e = fr_exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        __m256 y = _mm256_div_ps(_mm256_mul_ps(x, _mm256_loadu_ps(ub)), _mm256_add_ps(one, e));
        _mm256_storeu_ps(xb, y);
        memcpy(g + i, xb, (size_t)(n - i) * sizeof(float));
    }
}
#endif
