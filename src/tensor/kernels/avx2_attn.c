/*
 * avx2_attn.c - row operations of the forward pass with AVX2 + FMA + F16C:
 * attention dot / axpy (8 lanes, two accumulators for the dot - head sizes
 * are 64-128 - scalar tails), SwiGLU with a vector e^x, and the tiled
 * attention unit (attn.h).
 */
#include "tensor/kernels/kernels.h"

#if defined(__x86_64__)
#include <frugal/tensor.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tensor/attn.h"

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

/* ---- tiled attention (attn.h) ---------------------------------------------
 *
 * One unit: M = n_tok * grp query rows against the positions of one kv
 * head from the block of the first that any row's window reaches (0
 * without a window) to the last row's, FR_ATTN_BLOCK positions at a time
 * (blocks start at multiples of FR_ATTN_BLOCK). Per block the keys are
 * converted to float and transposed (kt[d][k], 8 x 8 transposes) and the
 * values converted (vb[k][d]; F32 values are read in place unless the
 * cache is a window layer's ring), once for all rows. Per row, on the blocks that hold some of its positions: the scores
 * of the block (q[d] broadcast times a row of kt: 8 keys per FMA, no
 * horizontal sums), masked outside the row's positions (before its window,
 * past its own), then the running maximum, sum and output are updated
 * (online softmax: a new maximum rescales the sum and output by
 * e^(old - new)), and the block's probabilities times the values are added
 * to the output. At the end each output row is divided by its sum (with
 * the head's sink logit in it, attn.h fr_attn_finish). A row reads the
 * same blocks and adds nothing for positions outside its own, so its
 * result does not depend on the other rows of its unit (a token decoded
 * alone gets the bits it gets in a prompt). */

#define FR_UNROLL8 _Pragma("GCC unroll 8")

static inline void fr_tr8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

static inline __m256 fr_ld8(const void *base, size_t idx, bool f16)
{
    if (f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + idx)));
    return _mm256_loadu_ps((const float *)base + idx);
}

/* lanes lo <= idx < hi */
static inline __m256 fr_keep8(__m256i idx, __m256i lo, __m256i hi)
{
    return _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(lo, idx)),
                            _mm256_castsi256_ps(_mm256_cmpgt_epi32(hi, idx)));
}

static inline float fr_hmax256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* kt[d][0..7] = the 8 keys kr[i] (NULL: zeros; full: none is NULL),
 * transposed 8 x 8; f16 a constant where it is called */
static inline __attribute__((always_inline)) void fr_keys_tr(float *kt, const uint8_t *const kr[8],
                                                           bool full, int hd, bool f16)
{
    enum { B = FR_ATTN_BLOCK };
    for (int d0 = 0; d0 < hd; d0 += 8) {
        __m256 r[8];
        if (full) {
            for (int i = 0; i < 8; i++)
                r[i] = fr_ld8(kr[i], (size_t)d0, f16);
        } else {
            for (int i = 0; i < 8; i++)
                r[i] = kr[i] ? fr_ld8(kr[i], (size_t)d0, f16) : _mm256_setzero_ps();
        }
        fr_tr8(r);
        for (int i = 0; i < 8; i++)
            _mm256_store_ps(kt + (size_t)(d0 + i) * B, r[i]);
    }
}

void fr_attn_tile_avx2(const fr_attn_unit *u, void *scratch)
{
    enum { B = FR_ATTN_BLOCK, MR = FR_ATTN_MAX_ROWS };
    const int hd = u->hd, M = u->n_tok * u->grp;
    float *kt = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [hd][B] */
    float *vb = kt + (size_t)hd * B;                                  /* [B][hd] */
    float *S = vb + (size_t)B * hd;                                    /* [MR][B] */
    float *O = S + (size_t)MR * B;                                     /* [MR][hd] */
    float *mx = O + (size_t)MR * hd, *ls = mx + MR;
    /* positions maxlim and from the first block any row's window reaches */
    int32_t maxlim = 0, minfirst = INT32_MAX;
    for (int t = 0; t < u->n_tok; t++) {
        maxlim = u->lim[t] > maxlim ? u->lim[t] : maxlim;
        int32_t f = fr_attn_p0(u->lim[t], u->window);
        minfirst = f < minfirst ? f : minfirst;
    }
    memset(O, 0, (size_t)M * hd * sizeof(float));
    for (int m = 0; m < M; m++) {
        mx[m] = -INFINITY;
        ls[m] = 0.0f;
    }
    const __m256 vscale = _mm256_set1_ps(u->scale);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int32_t kb = minfirst / B * B; kb <= maxlim; kb += B) {
        int nk = maxlim + 1 - kb < B ? maxlim + 1 - kb : B;
        /* positions kb + k0 .. kb + nk - 1 of the block are read (before
         * minfirst no row's window reaches), each at its slot */
        int k0 = minfirst > kb ? minfirst - kb : 0;
        size_t esz = u->f16 ? 2 : 4;
        /* keys, transposed 8 x 8 (positions outside k0 .. nk - 1: zeros) */
        for (int c0 = 0; c0 < B; c0 += 8) {
            const uint8_t *kr[8];
            for (int i = 0; i < 8; i++)
                kr[i] = c0 + i >= k0 && c0 + i < nk
                            ? (const uint8_t *)u->k + fr_attn_slot(u, kb + c0 + i) * u->kv_ld * esz
                            : NULL;
            bool full = c0 >= k0 && c0 + 8 <= nk;
            if (u->f16)
                fr_keys_tr(kt + c0, kr, full, hd, true);
            else
                fr_keys_tr(kt + c0, kr, full, hd, false);
        }
        /* values: F32 ones of a plain cache in place, the others converted
         * (or copied out of the ring) to vb */
        const float *vrow = NULL;
        size_t vld = (size_t)hd;
        if (u->f16 || u->ring) {
            for (int k = k0; k < nk; k++) {
                size_t sl = fr_attn_slot(u, kb + k);
                for (int d0 = 0; d0 < hd; d0 += 8)
                    _mm256_store_ps(vb + (size_t)k * hd + d0,
                                    fr_ld8(u->v, sl * u->kv_ld + (size_t)d0, u->f16));
            }
            vrow = vb;
        } else {
            vrow = (const float *)u->v + (size_t)kb * u->kv_ld;
            vld = u->kv_ld;
        }
        for (int m = 0; m < M; m++) {
            int t = m / u->grp;
            /* the row's positions in this block: lo .. hi - 1 */
            int32_t lo = fr_attn_p0(u->lim[t], u->window) - kb, hi = u->lim[t] - kb + 1;
            lo = lo > 0 ? lo : 0;
            hi = hi < nk ? hi : nk;
            if (hi <= lo)
                continue;
            const float *q = u->q + t * u->q_ld + (size_t)(m % u->grp) * hd;
            __m256 s[B / 8];
            FR_UNROLL8
            for (int c = 0; c < B / 8; c++)
                s[c] = _mm256_setzero_ps();
            for (int d = 0; d < hd; d++) {
                __m256 qd = _mm256_broadcast_ss(q + d);
                const float *kr = kt + (size_t)d * B;
                FR_UNROLL8
                for (int c = 0; c < B / 8; c++)
                    s[c] = _mm256_fmadd_ps(qd, _mm256_load_ps(kr + 8 * c), s[c]);
            }
            /* scale, mask outside the row's positions, block maximum */
            __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
            __m256 bm = ninf;
            FR_UNROLL8
            for (int c = 0; c < B / 8; c++) {
                __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * c));
                __m256 keep = fr_keep8(idx, vlo, vhi);
                s[c] = _mm256_blendv_ps(ninf, _mm256_mul_ps(s[c], vscale), keep);
                bm = _mm256_max_ps(bm, s[c]);
            }
            float newm = fr_hmax256(bm);
            if (mx[m] > newm)
                newm = mx[m];
            float corr = mx[m] == -INFINITY ? 0.0f : expf(mx[m] - newm);
            __m256 vm = _mm256_set1_ps(newm), sum = _mm256_setzero_ps();
            float *prow = S + (size_t)m * B;
            FR_UNROLL8
            for (int c = 0; c < B / 8; c++) {
                __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * c));
                __m256 p = _mm256_and_ps(fr_exp256(_mm256_sub_ps(s[c], vm)), fr_keep8(idx, vlo, vhi));
                sum = _mm256_add_ps(sum, p);
                _mm256_store_ps(prow + 8 * c, p);
            }
            ls[m] = ls[m] * corr + fr_hsum256(sum);
            mx[m] = newm;
            float *o = O + (size_t)m * hd;
            __m256 vc = _mm256_set1_ps(corr);
            for (int d0 = 0; d0 < hd; d0 += 64) {
                int nd = hd - d0 < 64 ? (hd - d0) / 8 : 8;
                if (nd == 8) {
                    /* a whole 64 dims: eight accumulators in registers */
                    __m256 acc[8];
                    FR_UNROLL8
                    for (int i = 0; i < 8; i++)
                        acc[i] = _mm256_mul_ps(_mm256_loadu_ps(o + d0 + 8 * i), vc);
                    for (int k = lo; k < hi; k++) {
                        __m256 p = _mm256_broadcast_ss(prow + k);
                        const float *vr = vrow + (size_t)k * vld + d0;
                        FR_UNROLL8
                        for (int i = 0; i < 8; i++)
                            acc[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(vr + 8 * i), acc[i]);
                    }
                    FR_UNROLL8
                    for (int i = 0; i < 8; i++)
                        _mm256_storeu_ps(o + d0 + 8 * i, acc[i]);
                    continue;
                }
                for (int i = 0; i < nd; i++) {
                    __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(o + d0 + 8 * i), vc);
                    for (int k = lo; k < hi; k++)
                        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(prow + k),
                                              _mm256_loadu_ps(vrow + (size_t)k * vld + d0 + 8 * i), acc);
                    _mm256_storeu_ps(o + d0 + 8 * i, acc);
                }
            }
        }
    }
    for (int m = 0; m < M; m++) {
        float *out = u->out + (m / u->grp) * u->q_ld + (size_t)(m % u->grp) * hd;
        __m256 inv = _mm256_set1_ps(fr_attn_finish(u, m % u->grp, mx[m], ls[m]));
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(O + (size_t)m * hd + d), inv));
    }
}
#endif
