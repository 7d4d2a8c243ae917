/*
 * avx512_act.c - AVX-512 activation quantizers (Q8B, Q8K) and the memory
 * read loop.
 *
 * The quantizers give exactly the generic bytes (kernels.h): the block
 * maximum is exact in any order, d = amax / 127 and 1 / d are single IEEE
 * operations, and vcvtps2dq rounds to nearest even like lrintf. A block
 * holding NaN or infinity gets d = NaN and zero quants, as in generic.
 */
#include "tensor/kernels/avx512_util.h"

#if defined(__x86_64__)
#include <float.h>
#include <math.h>

/* Quantizes 16k values (k = 2 or 16) of one block; returns d and writes q;
 * isum16[g] = sum of quants g*16 .. g*16+15. */
FR_AI float fr_q8_block512(const float *x, int nv, int8_t *q, int32_t *isum16)
{
    __m512 amax = _mm512_setzero_ps();
    __mmask16 bad = 0;
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    for (int i = 0; i < nv; i += 16) {
        __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + i));
        bad |= _mm512_cmp_ps_mask(a, big, _CMP_NLE_UQ);
        amax = _mm512_max_ps(amax, a);
    }
    if (bad) {
        memset(q, 0, (size_t)nv);
        for (int g = 0; g < nv / 16; g++)
            isum16[g] = 0;
        return NAN;
    }
    float m = _mm512_reduce_max_ps(amax);
    float d = m / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    for (int i = 0; i < nv; i += 16) {
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vid));
        _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtsepi32_epi8(v));
        isum16[i / 16] = _mm512_reduce_add_epi32(v);
    }
    return d;
}

void fr_quant_q8b_avx512(const float *x, int64_t n, int8_t *qs, float *d, float *s)
{
    for (int64_t b = 0; b < n / FR_QA_BLK; b++) {
        int32_t is[2];
        d[b] = fr_q8_block512(x + b * FR_QA_BLK, FR_QA_BLK, qs + b * FR_QA_BLK, is);
        s[b] = d[b] * (float)(is[0] + is[1]);
    }
}

void fr_quant_q8k_avx512(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums)
{
    for (int64_t b = 0; b < n / FR_QK_BLK; b++) {
        int32_t is[16];
        d[b] = fr_q8_block512(x + b * FR_QK_BLK, FR_QK_BLK, qs + b * FR_QK_BLK, is);
        for (int g = 0; g < 16; g++)
            bsums[b * 16 + g] = (int16_t)is[g];
    }
}

uint64_t fr_read_sum_avx512(const void *buf, size_t bytes)
{
    const uint8_t *p = buf;
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 256 <= bytes; i += 256) {
        s0 = _mm512_add_epi64(s0, _mm512_loadu_si512((const void *)(p + i)));
        s1 = _mm512_add_epi64(s1, _mm512_loadu_si512((const void *)(p + i + 64)));
        s2 = _mm512_add_epi64(s2, _mm512_loadu_si512((const void *)(p + i + 128)));
        s3 = _mm512_add_epi64(s3, _mm512_loadu_si512((const void *)(p + i + 192)));
    }
    s0 = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
    /* not _mm512_reduce_add_epi64: GCC writes it as signed C additions, which
     * overflow (undefined; UBSan stops the test) on a buffer of random bytes */
    uint64_t lanes[8], sum = 0;
    _mm512_storeu_si512((void *)lanes, s0);
    for (int k = 0; k < 8; k++)
        sum += lanes[k];
    return sum;
}
#endif
