/* Tests for src/tensor/fp16.c: IEEE half and bfloat16 conversions.
 *
 * Oracles: hand-computed values, and a deliberately naive reference written
 * here that rounds by comparing distances (in double) to the two nearest
 * representable values, ties to the even encoding - nothing shared with the
 * bit-twiddling code under test. Every one of the 65536 half and bfloat16
 * encodings is round-tripped, and float -> half / bfloat16 is checked on a
 * sweep of float bit patterns plus every midpoint between neighbouring
 * halves and the floats just beside it. */
#include "test.h"

#include <frugal/tensor.h>
#include <stdint.h>

static float f_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t u_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Value of each finite non-negative half, by its own formula. */
static double half_val[0x7c01];

static void build_half_table(void)
{
    for (uint32_t h = 0; h < 0x7c00; h++) {
        uint32_t e = h >> 10, m = h & 0x3ff;
        half_val[h] = e ? ldexp(1.0 + m / 1024.0, (int)e - 15) : ldexp(m, -24);
    }
    half_val[0x7c00] = 65536.0; /* where rounding to infinity is decided */
}

/* Naive round-to-nearest-even float -> half. */
static uint16_t ref_to_half(float f)
{
    uint16_t sign = (u_of(f) >> 31) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (isnan(f))
        return 0xffff; /* marker: caller checks NaN separately */
    if (isinf(f) || a >= 65536.0)
        return sign | 0x7c00;
    /* largest h with half_val[h] <= a */
    uint32_t lo = 0, hi = 0x7c00;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (half_val[mid] <= a)
            lo = mid;
        else
            hi = mid;
    }
    if (half_val[lo] == a)
        return sign | (uint16_t)lo;
    double dlo = a - half_val[lo], dhi = half_val[lo + 1] - a;
    uint32_t r = dlo < dhi ? lo : dhi < dlo ? lo + 1 : ((lo & 1) ? lo + 1 : lo);
    return sign | (uint16_t)r;
}

/* Naive round-to-nearest-even float -> bfloat16 (finite f). */
static uint16_t ref_to_bf16(float f)
{
    uint32_t u = u_of(f);
    uint16_t lo = (uint16_t)(u >> 16);
    double v = fabs((double)f);
    double vlo = fabs((double)f_of((uint32_t)lo << 16));
    uint16_t hi = (uint16_t)(lo + 1);
    double vhi =
        ((hi & 0x7f80) == 0x7f80) ? ldexp(1.0, 128) : fabs((double)f_of((uint32_t)hi << 16));
    double dlo = v - vlo, dhi = vhi - v;
    if (dlo < dhi)
        return lo;
    if (dhi < dlo)
        return hi;
    return (lo & 1) ? hi : lo;
}

static void test_spot(void)
{
    CHECK_EQ_INT(fr_fp32_to_fp16(1.0f), 0x3c00);
    CHECK_EQ_INT(fr_fp32_to_fp16(-2.0f), 0xc000);
    CHECK_EQ_INT(fr_fp32_to_fp16(0.1f), 0x2e66);
    CHECK_EQ_INT(fr_fp32_to_fp16(1.0f / 3.0f), 0x3555);
    CHECK_EQ_INT(fr_fp32_to_fp16(65504.0f), 0x7bff);
    CHECK_EQ_INT(fr_fp32_to_fp16(65519.0f), 0x7bff);
    CHECK_EQ_INT(fr_fp32_to_fp16(65520.0f), 0x7c00); /* tie, odd 0x7bff -> Inf */
    CHECK_EQ_INT(fr_fp32_to_fp16(1e10f), 0x7c00);
    CHECK_EQ_INT(fr_fp32_to_fp16(-INFINITY), 0xfc00);
    CHECK_EQ_INT(fr_fp32_to_fp16(-0.0f), 0x8000);
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(1, -14)), 0x0400);        /* smallest normal */
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(1, -24)), 0x0001);        /* smallest subnormal */
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(1, -25)), 0x0000);        /* tie -> even 0 */
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(3, -26)), 0x0001);        /* 0.75 ulp -> 1 */
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(3, -25)), 0x0002);        /* 1.5 ulp tie -> even 2 */
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(5, -25)), 0x0002);        /* 2.5 ulp tie -> even 2 */
    CHECK_EQ_INT(fr_fp32_to_fp16(ldexpf(2047, -25)), 0x0400);     /* rounds up into normals */
    CHECK_EQ_INT(fr_fp32_to_fp16(1.0f + ldexpf(1, -11)), 0x3c00); /* tie -> even */
    CHECK_EQ_INT(fr_fp32_to_fp16(1.0f + ldexpf(3, -11)), 0x3c02); /* tie -> even */
    CHECK_EQ_INT(fr_fp32_to_fp16(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3c01);
    CHECK_EQ_INT(fr_fp32_to_fp16(2047.5f), 0x6800);                   /* 2048 (even) */
    CHECK_EQ_INT(fr_fp32_to_fp16(NAN) & 0x7e00, 0x7e00);              /* quiet NaN */
    CHECK_EQ_INT(fr_fp32_to_fp16(f_of(0x7f800001)) & 0x7e00, 0x7e00); /* sNaN -> quiet */
    CHECK_EQ_INT(fr_fp32_to_fp16(f_of(0xffc00000)), 0xfe00);

    CHECK(fr_fp16_to_fp32(0x3c00) == 1.0f);
    CHECK(fr_fp16_to_fp32(0x3555) == 0.333251953125f);
    CHECK(fr_fp16_to_fp32(0x0001) == 5.9604644775390625e-08f);
    CHECK(fr_fp16_to_fp32(0x03ff) == 6.097555160522461e-05f);
    CHECK(fr_fp16_to_fp32(0x7bff) == 65504.0f);
    CHECK(fr_fp16_to_fp32(0xfc00) == -INFINITY);
    CHECK(u_of(fr_fp16_to_fp32(0x8000)) == 0x80000000u);
    CHECK(isnan(fr_fp16_to_fp32(0x7e00)));

    CHECK_EQ_INT(fr_fp32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(fr_fp32_to_bf16(3.14159265f), 0x4049);
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x3f808000)), 0x3f80); /* tie -> even */
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x3f818000)), 0x3f82); /* tie -> even */
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x3f808001)), 0x3f81);
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x7f7fffff)), 0x7f80); /* FLT_MAX -> Inf */
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x00000001)), 0x0000); /* tiny subnormal */
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x00018000)), 0x0002); /* subnormal tie -> even */
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x7fc00000)), 0x7fc0);
    CHECK_EQ_INT(fr_fp32_to_bf16(f_of(0x7f800001)), 0x7fc0); /* sNaN -> quiet */
    CHECK_EQ_INT(fr_fp32_to_bf16(-INFINITY), 0xff80);
    CHECK(fr_bf16_to_fp32(0x4049) == 3.140625f);
    CHECK(fr_bf16_to_fp32(0xbf80) == -1.0f);
}

static void test_half_exhaustive(void)
{
    int bad_rt = 0, bad_val = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = fr_fp16_to_fp32((uint16_t)h);
        uint16_t back = fr_fp32_to_fp16(f);
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            /* NaN stays NaN, sign kept, quiet bit set, payload kept otherwise */
            if (!isnan(f) || back != (uint16_t)(h | 0x200))
                bad_rt++;
            continue;
        }
        if (back != h)
            bad_rt++;
        /* the value itself against the formula */
        uint32_t a = h & 0x7fff;
        double want = a == 0x7c00 ? INFINITY : half_val[a];
        if (h & 0x8000)
            want = -want;
        if ((double)f != want)
            bad_val++;
    }
    CHECK_EQ_INT(bad_rt, 0);
    CHECK_EQ_INT(bad_val, 0);
}

static void test_half_rounding(void)
{
    int bad = 0, n = 0;
    /* every midpoint between neighbouring halves, and the floats beside it */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double mid = (half_val[h] + half_val[h + 1]) / 2; /* exact in float */
        float m = (float)mid;
        float cases[5] = {m, nextafterf(m, 0), nextafterf(m, INFINITY), (float)half_val[h],
                          nextafterf((float)half_val[h], INFINITY)};
        for (int k = 0; k < 5; k++) {
            for (int s = 0; s < 2; s++) {
                float f = s ? -cases[k] : cases[k];
                n++;
                if (fr_fp32_to_fp16(f) != ref_to_half(f)) {
                    if (bad++ < 5)
                        fprintf(stderr, "fp16(%a) = %04x, want %04x\n", (double)f,
                                fr_fp32_to_fp16(f), ref_to_half(f));
                }
            }
        }
    }
    /* a sweep over all float bit patterns (stride coprime with 2^32) */
    for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
        float f = f_of((uint32_t)u);
        if (isnan(f))
            continue;
        n++;
        if (fr_fp32_to_fp16(f) != ref_to_half(f)) {
            if (bad++ < 10)
                fprintf(stderr, "fp16(%a) = %04x, want %04x\n", (double)f, fr_fp32_to_fp16(f),
                        ref_to_half(f));
        }
    }
    CHECK_MSG(bad == 0, "%d of %d conversions differ from the reference", bad, n);
}

static void test_bf16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = fr_bf16_to_fp32((uint16_t)h);
        if (u_of(f) != h << 16)
            bad++;
        bool is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        uint16_t back = fr_fp32_to_bf16(f);
        if (is_nan ? back != (uint16_t)(h | 0x40) : back != h)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
        float f = f_of((uint32_t)u);
        if (isnan(f) || isinf(f))
            continue;
        /* around each value, the tie and its neighbours too */
        uint32_t t = ((uint32_t)u & 0xffff0000u) | 0x8000u;
        float cases[4] = {f, f_of(t), f_of(t - 1), f_of(t + 1)};
        for (int k = 0; k < 4; k++)
            if (!isnan(cases[k]) && !isinf(cases[k]) &&
                fr_fp32_to_bf16(cases[k]) != ref_to_bf16(cases[k]))
                if (bad++ < 10)
                    fprintf(stderr, "bf16(%a) = %04x, want %04x\n", (double)cases[k],
                            fr_fp32_to_bf16(cases[k]), ref_to_bf16(cases[k]));
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    build_half_table();
    test_spot();
    test_half_exhaustive();
    test_half_rounding();
    test_bf16();
    TEST_END();
}
