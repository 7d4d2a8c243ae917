/*
 * avx2_act.c - AVX2 activation quantizers (Q8B, Q8K) and the memory read
 * loop.
 *
 * Same bytes as the generic quantizers (kernels.h): exact block maximum,
 * d = amax / 127 and 1 / d as single IEEE operations, vcvtps2dq rounding to
 * nearest even like lrintf; a block holding NaN or infinity gets d = NaN
 * and zero quants.
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)
#include <float.h>
#include <math.h>

/* Quantizes nv values (a multiple of 16); returns d; isum16[g] = sum of
 * quants 16g .. 16g+15. */
FR_AI float fr_q8_block_y(const float *x, int nv, int8_t *q, int32_t *isum16)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 big = _mm256_set1_ps(FLT_MAX);
    __m256 amax = _mm256_setzero_ps();
    int bad = 0;
    for (int i = 0; i < nv; i += 8) {
        __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
        bad |= _mm256_movemask_ps(_mm256_cmp_ps(a, big, _CMP_NLE_UQ));
        amax = _mm256_max_ps(amax, a);
    }
    if (bad) {
        memset(q, 0, (size_t)nv);
        for (int g = 0; g < nv / 16; g++)
            isum16[g] = 0;
        return NAN;
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float d = _mm_cvtss_f32(m) / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    for (int i = 0; i < nv; i += 16) {
        __m256i v0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vid));
        __m256i v1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vid));
        /* packs works per 128-bit lane: restore value order, then narrow */
        __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xd8);
        __m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
        _mm_storeu_si128((__m128i *)(q + i), p8);
        __m256i s = _mm256_add_epi32(v0, v1);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        isum16[i / 16] = _mm_cvtsi128_si32(s4);
    }
    return d;
}

void fr_quant_q8b_avx2(const float *x, int64_t n, int8_t *qs, float *d, float *s)
{
    for (int64_t b = 0; b < n / FR_QA_BLK; b++) {
        int32_t is[2];
        d[b] = fr_q8_block_y(x + b * FR_QA_BLK, FR_QA_BLK, qs + b * FR_QA_BLK, is);
        s[b] = d[b] * (float)(is[0] + is[1]);
    }
}

void fr_quant_q8k_avx2(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums)
{
    for (int64_t b = 0; b < n / FR_QK_BLK; b++) {
        int32_t is[16];
        d[b] = fr_q8_block_y(x + b * FR_QK_BLK, FR_QK_BLK, qs + b * FR_QK_BLK, is);
        for (int g = 0; g < 16; g++)
            bsums[b * 16 + g] = (int16_t)is[g];
    }
}

uint64_t fr_read_sum_avx2(const void *buf, size_t bytes)
{
    const uint8_t *p = buf;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 128 <= bytes; i += 128) {
        s0 = _mm256_add_epi64(s0, _mm256_loadu_si256((const __m256i *)(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        s2 = _mm256_add_epi64(s2, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
        s3 = _mm256_add_epi64(s3, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t l[4];
    _mm256_storeu_si256((__m256i *)l, s0);
    return l[0] + l[1] + l[2] + l[3];
}
#endif
