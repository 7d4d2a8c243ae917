/*
 * avx512_qk.c - AVX-512 VNNI products of the K types (Q2_K, Q3_K, Q4_K,
 * Q5_K, Q6_K) with Q8K activations.
 *
 * Per super-block of 256 values, each weight row is first decoded into four
 * zmm of 64 unsigned quants (value order) and, per 16-value group, an int16
 * scale (and min), all kept in a small stack area. Then per token and chunk
 * of 64 values: vpmaddubsw multiplies quants with activations into 32 int16
 * pair sums (no saturation: quants are at most 63, activations at most 127
 * in magnitude), vpdpwssd multiplies those by the group scales and adds
 * them into 16 int32 lanes. The whole super-block thus stays in integers;
 * offsets (Q3_K q - 4, Q6_K q - 32) are subtracted there too, as
 * off * sum(scale * group sum of activations), from the activation block
 * sums (bsums). One float step per super-block and token then applies
 * d_w * d_a, and the mins of Q2_K/Q4_K/Q5_K subtract
 * dmin_w * d_a * sum(min * group sum).
 *
 * Tiles: 4 weight rows x up to 4 tokens; the decoded rows (2 KiB) stay in
 * L1 while every token of the tile reads them.
 */
#include "tensor/kernels/avx512_util.h"

#if defined(__x86_64__)

enum { FR_K2, FR_K3, FR_K4, FR_K5, FR_K6 };

FR_AI int fr_k_bs(const int T)
{
    return T == FR_K2 ? 84 : T == FR_K3 ? 110 : T == FR_K4 ? 144 : T == FR_K5 ? 176 : 210;
}

FR_AI int fr_k_offshift(const int T) { return T == FR_K3 ? 2 : T == FR_K6 ? 5 : 0; }
FR_AI int fr_k_hasoff(const int T) { return T == FR_K3 || T == FR_K6; }
FR_AI int fr_k_hasmin(const int T) { return T == FR_K2 || T == FR_K4 || T == FR_K5; }

/* x shifted left by s bits per 16-bit lane (right for s < 0). */
FR_AI __m256i fr_sh16(__m256i x, const int s)
{
    if (s > 0)
        return _mm256_slli_epi16(x, s);
    if (s < 0)
        return _mm256_srli_epi16(x, -s);
    return x;
}

FR_AI __m512i fr_cat(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* One decoded super-block of one row. */
typedef struct fr_kdec {
    __m512i q[4];   /* unsigned quants, 64 per chunk, value order */
    __m512i scc[4]; /* int16 group scale per pair of values of each chunk */
    __m256i sc16;   /* int16 scale of each 16-value group */
    __m256i mn16;   /* int16 min of each group (min types) */
    float d, dmin;
} fr_kdec;

FR_AI void fr_k_dec(const int T, const uint8_t *p, fr_kdec *o)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m2 = _mm256_set1_epi8(0x03);
    if (T == FR_K4 || T == FR_K5) {
        o->d = fr_h2f(fr_u16(p));
        o->dmin = fr_h2f(fr_u16(p + 2));
        /* 8 (scale, min) pairs of 6 bits in 12 bytes (layout.h) */
        uint32_t w0 = fr_u32(p + 4), w1 = fr_u32(p + 8), w2 = fr_u32(p + 12);
        uint32_t sc_lo = w0 & 0x3f3f3f3fu;
        uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
        uint32_t mn_lo = w1 & 0x3f3f3f3fu;
        uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
        __m256i s = _mm256_cvtepu8_epi16(
            _mm_set_epi32((int)mn_hi, (int)mn_lo, (int)sc_hi, (int)sc_lo));
        const __m256i isc = _mm256_set_epi16(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
        const __m256i imn = _mm256_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9,
                                             9, 8, 8);
        o->sc16 = _mm256_permutexvar_epi16(isc, s);
        o->mn16 = _mm256_permutexvar_epi16(imn, s);
        const uint8_t *qs = p + (T == FR_K4 ? 16 : 48);
        __m256i qh = T == FR_K5 ? _mm256_loadu_si256((const __m256i *)(p + 16)) : m4;
        FR_UNROLL
        for (int c = 0; c < 4; c++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(x, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
            if (T == FR_K5) {
                /* fifth bit of value 64c + l: bit 2c (low half) / 2c + 1
                 * (high half) of qh[l], moved to bit 4 */
                const __m256i b4 = _mm256_set1_epi8(0x10);
                lo = _mm256_or_si256(lo, _mm256_and_si256(fr_sh16(qh, 4 - 2 * c), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(fr_sh16(qh, 3 - 2 * c), b4));
            }
            o->q[c] = fr_cat(lo, hi);
        }
    } else if (T == FR_K6) {
        o->d = fr_h2f(fr_u16(p + 208));
        o->dmin = 0.0f;
        o->sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 192)));
        o->mn16 = _mm256_setzero_si256();
        const __m256i b45 = _mm256_set1_epi8(0x30);
        FR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(p + 64 * h));
            __m256i b = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
            /* values 0-31, 32-63 of this half: low nibbles of a, b; high bits
             * 0-1, 2-3 of hb. Values 64-127: high nibbles, high bits 4-7. */
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(a, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(hb, 4), b45));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(b, m4),
                                         _mm256_and_si256(_mm256_slli_epi16(hb, 2), b45));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4),
                                         _mm256_and_si256(hb, b45));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(hb, 2), b45));
            o->q[2 * h] = fr_cat(q0, q1);
            o->q[2 * h + 1] = fr_cat(q2, q3);
        }
    } else if (T == FR_K2) {
        o->d = fr_h2f(fr_u16(p + 80));
        o->dmin = fr_h2f(fr_u16(p + 82));
        __m128i s = _mm_loadu_si128((const __m128i *)p);
        o->sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(0x0f)));
        o->mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0f)));
        FR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * h));
            FR_UNROLL
            for (int k = 0; k < 2; k++) {
                __m256i lo = _mm256_and_si256(fr_sh16(x, -4 * k), m2);
                __m256i hi = _mm256_and_si256(fr_sh16(x, -4 * k - 2), m2);
                o->q[2 * h + k] = fr_cat(lo, hi);
            }
        }
    } else { /* FR_K3 */
        o->d = fr_h2f(fr_u16(p + 108));
        o->dmin = 0.0f;
        o->mn16 = _mm256_setzero_si256();
        /* 16 scales of 6 bits, biased by 32 (layout.h) */
        uint64_t lo8 = fr_u64(p + 96);
        uint32_t hi4 = fr_u32(p + 104);
        uint64_t h01 = (uint64_t)(hi4 & 0x03030303u) | ((uint64_t)((hi4 >> 2) & 0x03030303u) << 32);
        uint64_t h23 = (uint64_t)((hi4 >> 4) & 0x03030303u) |
                       ((uint64_t)((hi4 >> 6) & 0x03030303u) << 32);
        uint64_t s0 = (lo8 & 0x0f0f0f0f0f0f0f0full) | (h01 << 4);
        uint64_t s1 = ((lo8 >> 4) & 0x0f0f0f0f0f0f0f0full) | (h23 << 4);
        __m128i s = _mm_sub_epi8(_mm_set_epi64x((long long)s1, (long long)s0), _mm_set1_epi8(32));
        o->sc16 = _mm256_cvtepi8_epi16(s);
        __m256i hm = _mm256_loadu_si256((const __m256i *)p);
        const __m256i b2 = _mm256_set1_epi8(0x04);
        FR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(p + 32 + 32 * h));
            FR_UNROLL
            for (int k = 0; k < 2; k++) {
                const int c = 2 * h + k;
                __m256i lo = _mm256_and_si256(fr_sh16(x, -4 * k), m2);
                __m256i hi = _mm256_and_si256(fr_sh16(x, -4 * k - 2), m2);
                lo = _mm256_or_si256(lo, _mm256_and_si256(fr_sh16(hm, 2 - 2 * c), b2));
                hi = _mm256_or_si256(hi, _mm256_and_si256(fr_sh16(hm, 1 - 2 * c), b2));
                o->q[c] = fr_cat(lo, hi);
            }
        }
    }
    /* scale of int16 lane L of chunk c: group 4c + L / 8 */
    FR_UNROLL
    for (int c = 0; c < 4; c++) {
        const __m512i idx = _mm512_set_epi64(
            0x0003000300030003ll * 1 + 0x0004000400040004ll * c,
            0x0003000300030003ll * 1 + 0x0004000400040004ll * c,
            0x0002000200020002ll + 0x0004000400040004ll * c,
            0x0002000200020002ll + 0x0004000400040004ll * c,
            0x0001000100010001ll + 0x0004000400040004ll * c,
            0x0001000100010001ll + 0x0004000400040004ll * c,
            0x0000000000000000ll + 0x0004000400040004ll * c,
            0x0000000000000000ll + 0x0004000400040004ll * c);
        o->scc[c] = _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(o->sc16));
    }
}

FR_AI void fr_k_tile(const fr_mm_args *a, int64_t r, int64_t r1, int64_t t, const int T,
                     const int RM, const int RN)
{
    const int bs = fr_k_bs(T);
    const uint8_t *w[4];
    const int8_t *aq[4];
    const float *ad[4];
    const int16_t *ab[4];
    __m512 acc[4][4];
    fr_kdec dec[4];
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        w[i] = a->w + (size_t)fr_min64(r + i, r1 - 1) * a->row_bytes;
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        int64_t tj = fr_min64(t + j, a->n_tok - 1);
        aq[j] = a->qa.qs + tj * a->qa.qs_ld;
        ad[j] = a->qa.d + tj * a->qa.blk_ld;
        ab[j] = a->qa.bsums + tj * a->qa.blk_ld * 16;
    }
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        FR_UNROLL
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm512_setzero_ps();
    int64_t nb = a->n_in / FR_QK_BLK;
    const size_t pf = fr_pf_dist((size_t)RM * a->row_bytes);
    const uint8_t *lim = a->w + (size_t)r1 * a->row_bytes;
    for (int64_t b = 0; b < nb; b++) {
        FR_UNROLL
        for (int i = 0; i < RM; i++) {
            fr_pf(w[i] + b * bs + pf, lim, bs);
            fr_k_dec(T, w[i] + b * bs, &dec[i]);
        }
        FR_UNROLL
        for (int j = 0; j < RN; j++) {
            const int8_t *x = aq[j] + b * FR_QK_BLK;
            __m512i iacc[4];
            FR_UNROLL
            for (int i = 0; i < RM; i++)
                iacc[i] = _mm512_setzero_si512();
            FR_UNROLL
            for (int c = 0; c < 4; c++) {
                __m512i av = _mm512_loadu_si512((const void *)(x + 64 * c));
                FR_UNROLL
                for (int i = 0; i < RM; i++)
                    iacc[i] = _mm512_dpwssd_epi32(iacc[i], _mm512_maddubs_epi16(dec[i].q[c], av),
                                                  dec[i].scc[c]);
            }
            __m256i bsum = _mm256_loadu_si256((const __m256i *)(ab[j] + 16 * b));
            float da = ad[j][b];
            FR_UNROLL
            for (int i = 0; i < RM; i++) {
                __m512i is = iacc[i];
                if (fr_k_hasoff(T)) {
                    __m256i o = _mm256_slli_epi32(_mm256_madd_epi16(dec[i].sc16, bsum),
                                                  fr_k_offshift(T));
                    is = _mm512_sub_epi32(is, _mm512_zextsi256_si512(o));
                }
                acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(dec[i].d * da),
                                            acc[i][j]);
                if (fr_k_hasmin(T)) {
                    __m256i m = _mm256_madd_epi16(dec[i].mn16, bsum);
                    acc[i][j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(m)),
                                                 _mm512_set1_ps(dec[i].dmin * da), acc[i][j]);
                }
            }
        }
    }
    FR_UNROLL
    for (int j = 0; j < RN; j++) {
        if (t + j >= a->n_tok)
            break;
        FR_UNROLL
        for (int i = 0; i < RM; i++)
            if (r + i < r1)
                a->y[(t + j) * a->ldy + r + i] = fr_z_hsum(acc[i][j]);
    }
}

FR_AI void fr_k_gemm(const fr_mm_args *a, int64_t r0, int64_t r1, const int T)
{
    for (int64_t r = r0; r < r1; r += 4) {
        int64_t t = 0;
        for (; t + 4 <= a->n_tok; t += 4)
            fr_k_tile(a, r, r1, t, T, 4, 4);
        switch (a->n_tok - t) {
        case 3:
            fr_k_tile(a, r, r1, t, T, 4, 3);
            break;
        case 2:
            fr_k_tile(a, r, r1, t, T, 4, 2);
            break;
        case 1:
            fr_k_tile(a, r, r1, t, T, 4, 1);
            break;
        default:
            break;
        }
    }
}

#define FR_K_ENTRY(name, T)                                                              \
    void fr_gemm_##name##_avx512(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch) \
    {                                                                                    \
        (void)scratch;                                                                   \
        fr_k_gemm(a, r0, r1, T);                                                         \
    }

FR_K_ENTRY(q2_k, FR_K2)
FR_K_ENTRY(q3_k, FR_K3)
FR_K_ENTRY(q4_k, FR_K4)
FR_K_ENTRY(q5_k, FR_K5)
FR_K_ENTRY(q6_k, FR_K6)
#endif
