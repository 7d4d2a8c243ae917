/*
 * generic_quant_k.c - reference quantizers for the K types (Q2_K..Q6_K).
 *
 * A super-block of 256 values is cut into sub-blocks (16 or 32 values), each
 * with its own small-integer scale (and, for Q2_K/Q4_K/Q5_K, min), which are
 * themselves scaled by one or two fp16 numbers per super-block. We quantize
 * in three steps, all minimising plain squared error (the quantity our tests
 * and perplexity care about):
 *
 *   1. per sub-block, a least-squares fit of a float scale (and min): try a
 *      spread of candidate scales, assign each value its nearest level,
 *      solve the 1- or 2-parameter linear least-squares problem for those
 *      levels, keep the best, then polish it with a few assign/refit rounds;
 *   2. quantize the sub-block scales and mins to their 4/6/8-bit integers
 *      against a super-block scale chosen from the largest of them;
 *   3. with the integer scales fixed, try each one +-1 (and each min +-1),
 *      re-assign the levels under the decoder's exact float arithmetic, and
 *      keep the combination with the least error.
 *
 * The format is llama.cpp's; the algorithm is our own, so the bytes differ
 * from llama.cpp's K-quants (which nobody needs to match: any decoder reads
 * them). Rejected: importance-weighted fits (there is no importance matrix
 * here, and weights that favour large values trade away plain RMS error);
 * an exhaustive search over all integer scales (10x slower for ~1% error).
 *
 * Robustness: accumulations are in double, every division is guarded, and
 * super-block scales are clamped to the finite fp16 range, so zeros,
 * constants, subnormals and huge finite values all decode finite.
 */
#include "tensor/kernels/bytes.h"
#include "tensor/kernels/generic.h"
#include "tensor/kernels/layout.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define FP16_MAX 65504.0f

/* Candidate scales tried per sub-block, and assign/refit polishing rounds. */
#define FIT_STEPS 10
#define FIT_ROUNDS 3

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Nearest integer to v clamped to [lo, hi]; NaN and huge values are safe. */
static inline int nearest_clamp(double v, int lo, int hi)
{
    if (!(v > (double)lo))
        return lo;
    if (v >= (double)hi)
        return hi;
    return (int)floor(v + 0.5);
}

/* The fp16 that will be stored for a non-negative super-block scale, and its
 * value as the decoder will see it. */
static uint16_t store_half(float v, float *decoded)
{
    if (!(v < FP16_MAX))
        v = FP16_MAX;
    uint16_t h = fr_fp32_to_fp16(v);
    *decoded = fr_fp16_to_fp32(h);
    return h;
}

/* ---- step 1: float fits for one sub-block ------------------------------ */

/* Both fits first divide the sub-block by its largest magnitude, so that the
 * sums below neither overflow (values near FLT_MAX) nor underflow
 * (subnormals); the fitted scale and min are multiplied back at the end.
 * Each candidate costs one pass: assign levels, accumulate the sums, solve
 * the least-squares problem for those levels and get its error in closed
 * form from the same sums. */

#define SUB_MAX 32 /* longest sub-block */

/* Largest |x|, and x / it into xn (as float: values now in [-1, 1]). */
static double normalise(const float *x, int n, float *xn)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s = fmax(s, fabs((double)x[i]));
    for (int i = 0; i < n; i++)
        xn[i] = s > 0 ? (float)((double)x[i] / s) : 0.0f;
    return s;
}

/* Level of v in 0..nmax, nearest (v >= 0 here except for rounding dust). */
static inline int level_pos(float v, int nmax)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= (float)nmax)
        return nmax;
    return (int)(v + 0.5f);
}

/* Fits x[i] ~ a * L[i] + b with L[i] in 0..nmax, a >= 0, b <= 0 (the format
 * subtracts a non-negative min). Returns a and m = -b. */
static void fit_asym(const float *x, int n, int nmax, float *scale, float *min)
{
    float xn[SUB_MAX];
    double s = normalise(x, n, xn);
    float lo = xn[0], hi = xn[0];
    double sx = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, xn[i]);
        hi = fmaxf(hi, xn[i]);
        sx += xn[i];
        sxx += (double)xn[i] * xn[i];
    }
    if (lo > 0)
        lo = 0;
    *scale = 0.0f;
    *min = (float)(-lo * s);
    if (!(hi > lo))
        return; /* constant block (or all zero): the min alone reproduces it */

    double best_err = DBL_MAX, best_a = (hi - lo) / nmax, best_b = lo;
    for (int k = -FIT_STEPS; k <= FIT_STEPS + FIT_ROUNDS; k++) {
        float ia, b;
        if (k <= FIT_STEPS) {
            /* candidate: the range spans nmax + k/FIT_STEPS levels */
            ia = (float)((nmax + (double)k / FIT_STEPS) / ((double)hi - lo));
            b = lo;
        } else {
            /* polishing round: re-assign levels under the best fit so far */
            ia = (float)(1.0 / best_a);
            b = (float)best_b;
        }
        double sl = 0, sll = 0, slx = 0;
        for (int i = 0; i < n; i++) {
            int l = level_pos((xn[i] - b) * ia, nmax);
            sl += l;
            sll += (double)l * l;
            slx += (double)l * xn[i];
        }
        double det = n * sll - sl * sl;
        if (!(det > 0))
            continue; /* every value got the same level */
        double na = (n * slx - sl * sx) / det;
        double nb = (sll * sx - sl * slx) / det;
        if (nb > 0) { /* the min must be >= 0: refit the scale alone */
            nb = 0;
            na = slx / sll;
        }
        if (!(na > 0))
            continue;
        /* sum (na*l + nb - x)^2, expanded */
        double err =
            na * na * sll + 2 * na * nb * sl + n * nb * nb - 2 * na * slx - 2 * nb * sx + sxx;
        if (err < best_err) {
            best_err = err;
            best_a = na;
            best_b = nb;
        }
    }
    *scale = (float)(best_a * s);
    *min = (float)(-best_b * s);
}

/* Fits x[i] ~ a * L[i] with L[i] in -nmax..nmax-1 (a of either sign: the
 * value of largest magnitude may take the extra negative level). */
static float fit_sym(const float *x, int n, int nmax)
{
    float xn[SUB_MAX];
    double s = normalise(x, n, xn);
    if (s == 0)
        return 0.0f;
    float m = 0;
    double sxx = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(xn[i]) > fabsf(m))
            m = xn[i];
        sxx += (double)xn[i] * xn[i];
    }
    double best_err = DBL_MAX, best_a = m / -nmax;
    /* candidates: m lands on level -t or +t, t from nmax/2 to nmax + 1/2 */
    for (int k = 0; k < 2 * (FIT_STEPS + 1) + FIT_ROUNDS; k++) {
        float ia;
        if (k <= 2 * FIT_STEPS + 1) {
            double t = 0.5 * nmax + (0.5 * nmax + 0.5) * (k / 2) / FIT_STEPS;
            ia = (float)(t / (k % 2 ? m : -m));
        } else {
            ia = (float)(1.0 / best_a);
        }
        double sll = 0, slx = 0;
        for (int i = 0; i < n; i++) {
            float v = xn[i] * ia;
            int l = v <= (float)-nmax ? -nmax : v >= (float)(nmax - 1) ? nmax - 1 : (int)lrintf(v);
            sll += (double)l * l;
            slx += (double)l * xn[i];
        }
        if (!(sll > 0) || slx == 0)
            continue;
        double err = sxx - slx * slx / sll; /* at the optimum a = slx / sll */
        if (err < best_err) {
            best_err = err;
            best_a = slx / sll;
        }
    }
    return (float)(best_a * s);
}

/* ---- steps 2 and 3: one super-block ------------------------------------ */

/* Asymmetric types: value = (d*ls)*L - (dmin*lm), ls/lm in 0..smax. */
typedef struct asym_block {
    uint16_t d, dmin;       /* stored fp16 */
    uint8_t ls[16], lm[16]; /* per sub-block (nsub of them) */
    uint8_t L[FR_QK_K];     /* levels 0..nmax */
} asym_block;

/* Levels and squared error of one sub-block under the decoder's arithmetic. */
static double asym_assign(const float *x, int n, int nmax, float dl, float ml, uint8_t *L)
{
    double err = 0, idl = dl > 0 ? 1.0 / dl : 0;
    for (int i = 0; i < n; i++) {
        int l = dl > 0 ? nearest_clamp(((double)x[i] + ml) * idl, 0, nmax) : 0;
        double e = (double)(dl * (float)l - ml) - x[i];
        err += e * e;
        if (L)
            L[i] = (uint8_t)l;
    }
    return err;
}

static void quant_asym(const float *x, int sublen, int nmax, int smax, asym_block *o)
{
    int nsub = FR_QK_K / sublen;
    float sc[16], mn[16], max_sc = 0, max_mn = 0;
    for (int j = 0; j < nsub; j++) {
        fit_asym(x + j * sublen, sublen, nmax, &sc[j], &mn[j]);
        max_sc = fmaxf(max_sc, sc[j]);
        max_mn = fmaxf(max_mn, mn[j]);
    }
    float d, dmin;
    o->d = store_half(max_sc / smax, &d);
    o->dmin = store_half(max_mn / smax, &dmin);
    for (int j = 0; j < nsub; j++) {
        const float *xs = x + j * sublen;
        int ls0 = d > 0 ? nearest_clamp(sc[j] / d, 0, smax) : 0;
        int lm0 = dmin > 0 ? nearest_clamp(mn[j] / dmin, 0, smax) : 0;
        double best = DBL_MAX;
        int bls = ls0, blm = lm0;
        for (int ls = clampi(ls0 - 1, 0, smax); ls <= clampi(ls0 + 1, 0, smax); ls++) {
            for (int lm = clampi(lm0 - 1, 0, smax); lm <= clampi(lm0 + 1, 0, smax); lm++) {
                double e = asym_assign(xs, sublen, nmax, d * (float)ls, dmin * (float)lm, NULL);
                if (e < best) {
                    best = e;
                    bls = ls;
                    blm = lm;
                }
            }
        }
        o->ls[j] = (uint8_t)bls;
        o->lm[j] = (uint8_t)blm;
        asym_assign(xs, sublen, nmax, d * (float)bls, dmin * (float)blm, o->L + j * sublen);
    }
}

/* Symmetric types: value = (d*ls)*L, ls in -sneg..sneg-1, L in -nmax..nmax-1. */
typedef struct sym_block {
    uint16_t d;
    int8_t ls[16];
    int8_t L[FR_QK_K];
} sym_block;

static double sym_assign(const float *x, int n, int nmax, float dl, int8_t *L)
{
    double err = 0, idl = dl != 0 ? 1.0 / dl : 0;
    for (int i = 0; i < n; i++) {
        int l = dl != 0 ? nearest_clamp((double)x[i] * idl, -nmax, nmax - 1) : 0;
        double e = (double)(dl * (float)l) - x[i];
        err += e * e;
        if (L)
            L[i] = (int8_t)l;
    }
    return err;
}

static void quant_sym(const float *x, int nmax, int sneg, sym_block *o)
{
    const int sublen = 16, nsub = FR_QK_K / 16;
    float sc[16], amax = 0, m = 0;
    for (int j = 0; j < nsub; j++) {
        sc[j] = fit_sym(x + j * sublen, sublen, nmax);
        if (fabsf(sc[j]) > amax) {
            amax = fabsf(sc[j]);
            m = sc[j];
        }
    }
    /* The largest scale takes level -sneg, as in the block types. The sign
     * is carried by d; store_half works on magnitudes. */
    float dabs;
    uint16_t h = store_half(amax / sneg, &dabs);
    float d = m > 0 ? -dabs : dabs;
    o->d = m > 0 ? (uint16_t)(h | 0x8000u) : h;
    for (int j = 0; j < nsub; j++) {
        const float *xs = x + j * sublen;
        int l0 = d != 0 ? nearest_clamp(sc[j] / d, -sneg, sneg - 1) : 0;
        double best = DBL_MAX;
        int bl = l0;
        for (int l = clampi(l0 - 1, -sneg, sneg - 1); l <= clampi(l0 + 1, -sneg, sneg - 1); l++) {
            double e = sym_assign(xs, sublen, nmax, d * (float)l, NULL);
            if (e < best) {
                best = e;
                bl = l;
            }
        }
        o->ls[j] = (int8_t)bl;
        sym_assign(xs, sublen, nmax, d * (float)bl, o->L + j * sublen);
    }
}

/* ---- packing into ggml's layouts (layout.h) ---------------------------- */

/* Q2_K, 84 bytes: scales[16] @0, qs[64] @16, d @80, dmin @82. */
void fr_quant_q2_k_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    asym_block o;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 84) {
        quant_asym(src + i * FR_QK_K, 16, 3, 15, &o);
        memset(b, 0, 84);
        for (int j = 0; j < 16; j++)
            b[j] = (uint8_t)(o.ls[j] | (o.lm[j] << 4));
        for (int v = 0; v < FR_QK_K; v++)
            fr_k_set2(b + 16, v, o.L[v]);
        fr_wr16(b + 80, o.d);
        fr_wr16(b + 82, o.dmin);
    }
}

/* Q3_K, 110 bytes: hmask[32] @0, qs[64] @32, scales[12] @96, d @108. */
void fr_quant_q3_k_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    sym_block o;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 110) {
        quant_sym(src + i * FR_QK_K, 4, 32, &o);
        memset(b, 0, 110);
        for (int j = 0; j < 16; j++)
            fr_q3k_set_scale(b + 96, j, o.ls[j] + 32);
        for (int v = 0; v < FR_QK_K; v++) {
            int q = o.L[v] + 4; /* 0..7 */
            fr_k_set2(b + 32, v, q & 3);
            fr_k_set1(b, v, q >> 2);
        }
        fr_wr16(b + 108, o.d);
    }
}

/* Q4_K, 144 bytes: d @0, dmin @2, scales[12] @4, qs[128] @16. */
void fr_quant_q4_k_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    asym_block o;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 144) {
        quant_asym(src + i * FR_QK_K, 32, 15, 63, &o);
        memset(b, 0, 144);
        fr_wr16(b, o.d);
        fr_wr16(b + 2, o.dmin);
        for (int j = 0; j < 8; j++)
            fr_k_set_scale_min(b + 4, j, o.ls[j], o.lm[j]);
        for (int v = 0; v < FR_QK_K; v++)
            fr_k_set4(b + 16, v, o.L[v]);
    }
}

/* Q5_K, 176 bytes: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48. */
void fr_quant_q5_k_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    asym_block o;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 176) {
        quant_asym(src + i * FR_QK_K, 32, 31, 63, &o);
        memset(b, 0, 176);
        fr_wr16(b, o.d);
        fr_wr16(b + 2, o.dmin);
        for (int j = 0; j < 8; j++)
            fr_k_set_scale_min(b + 4, j, o.ls[j], o.lm[j]);
        for (int v = 0; v < FR_QK_K; v++) {
            fr_k_set4(b + 48, v, o.L[v] & 15);
            fr_k_set1(b + 16, v, o.L[v] >> 4);
        }
    }
}

/* Q6_K, 210 bytes: ql[128] @0, qh[64] @128, scales[16] @192, d @208. */
void fr_quant_q6_k_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    sym_block o;
    for (int64_t i = 0; i < n / FR_QK_K; i++, b += 210) {
        quant_sym(src + i * FR_QK_K, 32, 128, &o);
        memset(b, 0, 210);
        for (int v = 0; v < FR_QK_K; v++)
            fr_q6k_set(b, b + 128, v, o.L[v] + 32);
        for (int j = 0; j < 16; j++)
            b[192 + j] = (uint8_t)o.ls[j];
        fr_wr16(b + 208, o.d);
    }
}
