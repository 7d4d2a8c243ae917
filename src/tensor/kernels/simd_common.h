/*
 * simd_common.h - helpers shared by the x86 SIMD kernel files (internal;
 * include only from avx2*.c / avx512*.c, which are compiled with at least
 * AVX2, FMA, F16C and BMI2).
 *
 * The kernels are written once as always-inline functions of compile-time
 * tile sizes (RM weight rows x RN tokens) and weight type; FR_UNROLL makes
 * the compiler unroll the fixed-count loops so that arrays of accumulators
 * live in registers. Each output element is computed by the same sequence of
 * operations whatever the tile it falls in (rows and tokens past the end are
 * clamped to the last one and not stored), which is what makes results
 * independent of batch size and thread count.
 *
 * Also here: the 256-bit decoders of the K-type super-blocks (used by both
 * paths: AVX-512 joins two of their halves per zmm), so each layout's bit
 * juggling is written once.
 */
#ifndef FR_TENSOR_KERNELS_SIMD_COMMON_H
#define FR_TENSOR_KERNELS_SIMD_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "tensor/kernels/kernels.h"

#define FR_AI static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 16")

/* Runs TILE(t, RN) over n_tok tokens: tiles of 4 tokens, then one tile of
 * the 3, 2 or 1 left. Each RN is a compile-time constant, so every call is
 * its own unrolled instance of the tile function. TILE is a function-like
 * macro the caller defines (and undefines) around the use. */
#define FR_FOR_TOKEN_TILES(n_tok, TILE)                                                      \
    do {                                                                                     \
        int64_t t_ = 0;                                                                      \
        for (; t_ + 4 <= (n_tok); t_ += 4)                                                   \
            TILE(t_, 4);                                                                     \
        switch ((n_tok) - t_) {                                                              \
        case 3: TILE(t_, 3); break;                                                          \
        case 2: TILE(t_, 2); break;                                                          \
        case 1: TILE(t_, 1); break;                                                          \
        default: break;                                                                      \
        }                                                                                    \
    } while (0)

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

FR_AI float fr_h2f(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h)));
}

FR_AI int64_t fr_min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The RM weight rows of a tile starting at row r; rows at or past r1 repeat
 * the last one (computed, never stored), so every tile has the same shape. */
FR_AI void fr_tile_rows(const fr_mm_args *a, int64_t r, int64_t r1, const int RM,
                        const uint8_t *w[])
{
    FR_UNROLL
    for (int i = 0; i < RM; i++)
        w[i] = a->w + (size_t)fr_min64(r + i, r1 - 1) * a->row_bytes;
}

/* Horizontal sum of 8 floats in a fixed order. */
FR_AI float fr_y_hsum(__m256 a)
{
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

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

/* End of the bytes a kernel computing rows up to r1 may prefetch. */
FR_AI const uint8_t *fr_pf_lim(const fr_mm_args *a, int64_t r1)
{
    return a->w + (size_t)(a->pf_r1 > r1 ? a->pf_r1 : r1) * a->row_bytes;
}

/* Prefetches len bytes at p (one line per 64 bytes), none at or past lim. */
FR_AI void fr_pf(const uint8_t *p, const uint8_t *lim, const int len)
{
    for (int k = 0; k < len; k += 64)
        if (p + k < lim)
            _mm_prefetch((const char *)(p + k), _MM_HINT_T0);
}

/* Tokens per block of a batch product on repacked weights: about 256 KiB
 * of 8-bit activations (half a Zen 1 L2, a quarter of most others), a
 * multiple of the 4-token tile. */
FR_AI int64_t fr_x8_token_block(int64_t n_in)
{
    int64_t tb = ((int64_t)262144 / (n_in > 0 ? n_in : 1)) & ~(int64_t)3;
    return tb < 16 ? 16 : tb > 512 ? 512 : tb;
}

/* x shifted left by s bits per 16-bit lane (right for s < 0). */
FR_AI __m256i fr_sh16(__m256i x, const int s)
{
    if (s > 0)
        return _mm256_slli_epi16(x, s);
    if (s < 0)
        return _mm256_srli_epi16(x, -s);
    return x;
}

/* ---- K-type super-blocks, decoded per 32 values ------------------------ */

enum { FR_K2, FR_K3, FR_K4, FR_K5, FR_K6 };

FR_AI int fr_k_bs(const int T)
{
    return T == FR_K2 ? 84 : T == FR_K3 ? 110 : T == FR_K4 ? 144 : T == FR_K5 ? 176 : 210;
}

/* log2 of the offset subtracted from the unsigned quants (Q3_K 4, Q6_K 32). */
FR_AI int fr_k_offshift(const int T) { return T == FR_K3 ? 2 : T == FR_K6 ? 5 : 0; }
FR_AI int fr_k_hasoff(const int T) { return T == FR_K3 || T == FR_K6; }
FR_AI int fr_k_hasmin(const int T) { return T == FR_K2 || T == FR_K4 || T == FR_K5; }

/* One super-block: q[c] = unsigned quants of values 32c .. 32c+31 (value
 * order), sc8 / mn8 = int8 scale / min of each 16-value group (mins zero
 * for Q3_K, Q6_K; Q3_K scales unbiased), d and dmin. Layouts: layout.h. */
typedef struct fr_k256 {
    __m256i q[8];
    __m128i sc8, mn8;
    float d, dmin;
} fr_k256;

FR_AI void fr_k_dec256(const int T, const uint8_t *p, fr_k256 *o)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m2 = _mm256_set1_epi8(0x03);
    if (T == FR_K4 || T == FR_K5) {
        o->d = fr_h2f(fr_u16(p));
        o->dmin = fr_h2f(fr_u16(p + 2));
        /* 8 (scale, min) pairs of 6 bits in 12 bytes: pairs 0-3 in the low
         * 6 bits of bytes 0-3 / 4-7; pairs 4-7 from the nibbles of bytes
         * 8-11 plus the top 2 bits of bytes 0-3 / 4-7. */
        uint32_t w0 = fr_u32(p + 4), w1 = fr_u32(p + 8), w2 = fr_u32(p + 12);
        uint32_t sc_lo = w0 & 0x3f3f3f3fu;
        uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
        uint32_t mn_lo = w1 & 0x3f3f3f3fu;
        uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
        __m128i s = _mm_set_epi32((int)mn_hi, (int)mn_lo, (int)sc_hi, (int)sc_lo);
        o->sc8 = _mm_unpacklo_epi8(s, s); /* one scale per 32 -> per 16 */
        o->mn8 = _mm_unpackhi_epi8(s, s);
        const uint8_t *qs = p + (T == FR_K4 ? 16 : 48);
        __m256i qh = T == FR_K5 ? _mm256_loadu_si256((const __m256i *)(p + 16)) : m4;
        FR_UNROLL
        for (int c = 0; c < 4; c++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(x, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
            if (T == FR_K5) {
                /* fifth bit of value 64c + l: bit 2c (low nibbles) or 2c + 1
                 * (high nibbles) of qh[l], moved to bit 4 */
                const __m256i b4 = _mm256_set1_epi8(0x10);
                lo = _mm256_or_si256(lo, _mm256_and_si256(fr_sh16(qh, 4 - 2 * c), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(fr_sh16(qh, 3 - 2 * c), b4));
            }
            o->q[2 * c] = lo;
            o->q[2 * c + 1] = hi;
        }
    } else if (T == FR_K6) {
        o->d = fr_h2f(fr_u16(p + 208));
        o->dmin = 0.0f;
        o->sc8 = _mm_loadu_si128((const __m128i *)(p + 192));
        o->mn8 = _mm_setzero_si128();
        const __m256i b45 = _mm256_set1_epi8(0x30);
        FR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(p + 64 * h));
            __m256i b = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
            /* values 0-31, 32-63 of this half: low nibbles of a, b with
             * high bits 0-1, 2-3 of hb; values 64-127: high nibbles, bits
             * 4-5, 6-7 (each moved to bits 4-5) */
            o->q[4 * h] = _mm256_or_si256(_mm256_and_si256(a, m4),
                                          _mm256_and_si256(_mm256_slli_epi16(hb, 4), b45));
            o->q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(b, m4),
                                              _mm256_and_si256(_mm256_slli_epi16(hb, 2), b45));
            o->q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4),
                                              _mm256_and_si256(hb, b45));
            o->q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4),
                                              _mm256_and_si256(_mm256_srli_epi16(hb, 2), b45));
        }
    } else if (T == FR_K2) {
        o->d = fr_h2f(fr_u16(p + 80));
        o->dmin = fr_h2f(fr_u16(p + 82));
        __m128i s = _mm_loadu_si128((const __m128i *)p);
        o->sc8 = _mm_and_si128(s, _mm_set1_epi8(0x0f));
        o->mn8 = _mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0f));
        FR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(p + 16 + 32 * h));
            FR_UNROLL
            for (int k = 0; k < 4; k++)
                o->q[4 * h + k] = _mm256_and_si256(fr_sh16(x, -2 * k), m2);
        }
    } else { /* FR_K3 */
        o->d = fr_h2f(fr_u16(p + 108));
        o->dmin = 0.0f;
        o->mn8 = _mm_setzero_si128();
        /* 16 scales of 6 bits biased by 32: low 4 bits in the nibbles of
         * bytes 0-7, top 2 bits in bytes 8-11 (group j: byte 8 + j % 4,
         * bits 2 (j / 4)) */
        uint64_t lo8 = fr_u64(p + 96);
        uint32_t hi4 = fr_u32(p + 104);
        uint64_t h01 =
            (uint64_t)(hi4 & 0x03030303u) | ((uint64_t)((hi4 >> 2) & 0x03030303u) << 32);
        uint64_t h23 =
            (uint64_t)((hi4 >> 4) & 0x03030303u) | ((uint64_t)((hi4 >> 6) & 0x03030303u) << 32);
        uint64_t s0 = (lo8 & 0x0f0f0f0f0f0f0f0full) | (h01 << 4);
        uint64_t s1 = ((lo8 >> 4) & 0x0f0f0f0f0f0f0f0full) | (h23 << 4);
        o->sc8 = _mm_sub_epi8(_mm_set_epi64x((long long)s1, (long long)s0), _mm_set1_epi8(32));
        __m256i hm = _mm256_loadu_si256((const __m256i *)p);
        const __m256i b2 = _mm256_set1_epi8(0x04);
        FR_UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(p + 32 + 32 * h));
            FR_UNROLL
            for (int k = 0; k < 4; k++) {
                const int c = 4 * h + k;
                /* low 2 bits: bits 2k of x; third bit: bit c of hmask */
                __m256i lo = _mm256_and_si256(fr_sh16(x, -2 * k), m2);
                o->q[c] = _mm256_or_si256(lo, _mm256_and_si256(fr_sh16(hm, 2 - c), b2));
            }
        }
    }
}

#endif
