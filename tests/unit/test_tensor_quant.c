/* Quantizers.
 *
 * Byte-exact against llama.cpp (independent source: ../shared/quant):
 *  - Q8_0 and Q4_0 of quantize_input.f32 must equal q8_0/q4_0.quantized.bin
 *    (edge blocks, fp16-subnormal scales, the FMA-sensitive block);
 *  - Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, F16 and BF16 of the F16 original rows
 *    (f16.f32) must equal the bytes llama-quantize wrote into <type>.gguf
 *    (the README says re-running llama.cpp's quantizer reproduces them).
 * Accuracy (our own K-quant algorithm, so no bytes to match): relative RMS
 * error on normal and heavy-tailed data within bounds derived from the
 * README's accuracy table, and never worse than the byte-exact legacy type
 * of similar size on the same data; re-quantizing llama.cpp's decoded K
 * values; edge blocks that must decode finite; NaN/Inf refused. */
#include "test.h"

#include <frugal/tensor.h>
#include <stdint.h>

/* ---- helpers ----------------------------------------------------------- */

static void *read_all(const char *rel, long *size)
{
    char path[512];
    fr_test_shared(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)*size + 1);
    if (p && fread(p, 1, (size_t)*size, f) != (size_t)*size) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unif(rng *r) /* (0, 1) */
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(rng *r)
{
    return sqrt(-2 * log(rng_unif(r))) * cos(6.283185307179586 * rng_unif(r));
}

/* Student-t with df degrees of freedom: normal / sqrt(chi2(df) / df). */
static double rng_student(rng *r, int df)
{
    double c = 0;
    for (int i = 0; i < df; i++) {
        double z = rng_normal(r);
        c += z * z;
    }
    return rng_normal(r) / sqrt(c / df);
}

/* Quantize n values to t and back; NULL-safe returns NaN on error. */
static float *roundtrip(fr_type t, const float *x, int64_t n, uint8_t **bytes_out)
{
    uint64_t nb = fr_type_row_bytes(t, n);
    uint8_t *q = malloc(nb ? nb : 1);
    float *y = malloc((size_t)n * sizeof *y);
    fr_err err;
    if (fr_quantize(t, x, q, n, &err) || fr_dequantize(t, q, y, n, &err)) {
        fprintf(stderr, "%s: %s\n", fr_type_name(t), err.msg);
        free(y);
        y = NULL;
    }
    if (bytes_out)
        *bytes_out = q;
    else
        free(q);
    return y;
}

static double rel_rms(const float *a, const float *b, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        e += d * d;
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

static double rel_err(fr_type t, const float *x, int64_t n)
{
    float *y = roundtrip(t, x, n, NULL);
    double r = y ? rel_rms(y, x, n) : INFINITY;
    free(y);
    return r;
}

/* ---- byte-exact tests -------------------------------------------------- */

static void test_quantize_vectors(void)
{
    long n_in = 0, n8 = 0, n4 = 0;
    float *in = read_all("quant/quantize_input.f32", &n_in);
    uint8_t *want8 = read_all("quant/q8_0.quantized.bin", &n8);
    uint8_t *want4 = read_all("quant/q4_0.quantized.bin", &n4);
    CHECK(in && want8 && want4 && n_in == 8192 && n8 == 2176 && n4 == 1152);
    if (!in || !want8 || !want4 || n_in != 8192 || n8 != 2176 || n4 != 1152)
        goto out;
    uint8_t got8[2176], got4[1152];
    fr_err err;
    CHECK_EQ_INT(fr_quantize(FR_TYPE_Q8_0, in, got8, 2048, &err), FR_OK);
    CHECK_EQ_INT(fr_quantize(FR_TYPE_Q4_0, in, got4, 2048, &err), FR_OK);
    int bad8 = 0, bad4 = 0;
    for (int i = 0; i < 2176; i++)
        if (got8[i] != want8[i] && bad8++ < 5)
            fprintf(stderr, "q8_0 byte %d (row %d block %d): %02x want %02x\n", i, i / 34 / 8,
                    i / 34 % 8, got8[i], want8[i]);
    for (int i = 0; i < 1152; i++)
        if (got4[i] != want4[i] && bad4++ < 5)
            fprintf(stderr, "q4_0 byte %d (row %d block %d): %02x want %02x\n", i, i / 18 / 8,
                    i / 18 % 8, got4[i], want4[i]);
    CHECK_EQ_INT(bad8, 0);
    CHECK_EQ_INT(bad4, 0);
    /* The FMA-sensitive byte the README singles out. */
    CHECK_EQ_INT(got4[1077], 0x8b);
    /* Row by row, and block by block, give the same bytes. */
    for (int b = 0; b < 64; b++)
        fr_quantize(FR_TYPE_Q4_0, in + 32 * b, got4 + 18 * b, 32, &err);
    CHECK(memcmp(got4, want4, 1152) == 0);
out:
    free(in);
    free(want8);
    free(want4);
}

/* The F16 source rows of w (896 x 8) and w2 (4864 x 4) re-quantized with our
 * reference quantizers must give llama-quantize's bytes. */
static void test_requantize_llama_files(void)
{
    static const struct {
        const char *file;
        fr_type t;
        long off_w, bytes_w, off_w2, bytes_w2;
        double readme_rel_rms;
    } v[] = {
        {"quant/q4_0.gguf", FR_TYPE_Q4_0, 448, 4032, 4480, 10944, 0.0862},
        {"quant/q4_1.gguf", FR_TYPE_Q4_1, 448, 4480, 4928, 12160, 0.0779},
        {"quant/q5_0.gguf", FR_TYPE_Q5_0, 448, 4928, 5376, 13376, 0.0432},
        {"quant/q5_1.gguf", FR_TYPE_Q5_1, 448, 5376, 5824, 14592, 0.0378},
        {"quant/q8_0.gguf", FR_TYPE_Q8_0, 448, 7616, 8064, 20672, 0.0054},
        {"quant/f16.gguf", FR_TYPE_F16, 384, 14336, 14720, 38912, 0.0},
        {"quant/bf16.gguf", FR_TYPE_BF16, 448, 14336, 14784, 38912, 0.0017},
    };
    long nsrc = 0;
    float *src = read_all("quant/f16.f32", &nsrc);
    CHECK(src && nsrc == 4 * 26624);
    if (!src || nsrc != 4 * 26624) {
        free(src);
        return;
    }
    const int64_t nw = 896 * 8, nw2 = 4864 * 4;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        long gs = 0;
        uint8_t *g = read_all(v[i].file, &gs);
        if (!g || v[i].off_w2 + v[i].bytes_w2 > gs) {
            CHECK(0);
            free(g);
            continue;
        }
        uint8_t *q = malloc((size_t)v[i].bytes_w2);
        fr_err err;
        CHECK_EQ_INT(fr_quantize(v[i].t, src, q, nw, &err), FR_OK);
        CHECK_MSG(memcmp(q, g + v[i].off_w, (size_t)v[i].bytes_w) == 0, "%s tensor w", v[i].file);
        CHECK_EQ_INT(fr_quantize(v[i].t, src + nw, q, nw2, &err), FR_OK);
        CHECK_MSG(memcmp(q, g + v[i].off_w2, (size_t)v[i].bytes_w2) == 0, "%s tensor w2",
                  v[i].file);
        /* and close to the README's accuracy figure (within 1%: the README
         * does not say exactly which values it averaged over, and over just
         * these rows we get e.g. 0.0860 for its 0.0862) */
        double r = rel_err(v[i].t, src, nw + nw2);
        CHECK_MSG(fabs(r - v[i].readme_rel_rms) <= 0.01 * v[i].readme_rel_rms + 5e-5,
                  "%s rel rms %.5f, README %.4f", v[i].file, r, v[i].readme_rel_rms);
        free(q);
        free(g);
    }
    free(src);
}

/* ---- accuracy of our K quantizers --------------------------------------- */

/* README accuracy table (llama.cpp's quantizer on synthetic normal-ish
 * weights). Our bound on normal data: 1.3x these. */
static const struct {
    fr_type t;
    double readme;
} k_readme[] = {
    {FR_TYPE_Q2_K, 0.2971}, {FR_TYPE_Q3_K, 0.1509}, {FR_TYPE_Q4_K, 0.0716},
    {FR_TYPE_Q5_K, 0.0363}, {FR_TYPE_Q6_K, 0.0178},
};

static void test_k_accuracy(void)
{
    const int64_t n = 256 * 256;
    float *normal = malloc(n * sizeof *normal);
    float *heavy = malloc(n * sizeof *heavy);
    float *outl = malloc(n * sizeof *outl);
    rng r = {42};
    for (int64_t i = 0; i < n; i++) {
        normal[i] = (float)(0.02 * rng_normal(&r));
        heavy[i] = (float)(0.02 * rng_student(&r, 3));
        /* normal with one value in ~500 blown up 30x (outlier features) */
        outl[i] = (float)(0.02 * rng_normal(&r) * (rng_next(&r) % 500 == 0 ? 30 : 1));
    }
    const char *names[3] = {"normal", "student-t(3)", "outliers"};
    float *data[3] = {normal, heavy, outl};
    for (int d = 0; d < 3; d++) {
        double q40 = rel_err(FR_TYPE_Q4_0, data[d], n);
        double q41 = rel_err(FR_TYPE_Q4_1, data[d], n);
        double q50 = rel_err(FR_TYPE_Q5_0, data[d], n);
        double q51 = rel_err(FR_TYPE_Q5_1, data[d], n);
        double q80 = rel_err(FR_TYPE_Q8_0, data[d], n);
        double k[5];
        for (int i = 0; i < 5; i++)
            k[i] = rel_err(k_readme[i].t, data[d], n);
        fprintf(stderr,
                "%-13s rel RMS: q4_0 %.4f q4_1 %.4f q5_0 %.4f q5_1 %.4f q8_0 %.4f | "
                "q2_K %.4f q3_K %.4f q4_K %.4f q5_K %.4f q6_K %.4f\n",
                names[d], q40, q41, q50, q51, q80, k[0], k[1], k[2], k[3], k[4]);
        if (d == 0) {
            for (int i = 0; i < 5; i++)
                CHECK_MSG(k[i] <= 1.3 * k_readme[i].readme, "%s on normal data: %.4f > 1.3 x %.4f",
                          fr_type_name(k_readme[i].t), k[i], k_readme[i].readme);
        }
        /* On any data, heavy tails included: each K type stands against the
         * byte-exact legacy type of about its size as in llama.cpp's table
         * (README: Q2_K/Q4_0 = 3.45, Q3_K/Q4_0 = 1.75, Q4_K/Q4_1 = 0.919,
         * Q5_K/Q5_1 = 0.960, Q6_K/Q5_1 = 0.471), within 1.3x of that ratio. */
        static const double ratio[5] = {0.2971 / 0.0862, 0.1509 / 0.0862, 0.0716 / 0.0779,
                                        0.0363 / 0.0378, 0.0178 / 0.0378};
        const double legacy[5] = {q40, q40, q41, q51, q51};
        for (int i = 0; i < 5; i++)
            CHECK_MSG(k[i] <= 1.3 * ratio[i] * legacy[i],
                      "%s: %s %.4f vs legacy %.4f (ratio %.3f, llama.cpp's %.3f)", names[d],
                      fr_type_name(k_readme[i].t), k[i], legacy[i], k[i] / legacy[i], ratio[i]);
        /* and the types are ordered by bits */
        CHECK(k[0] > k[1] && k[1] > k[2] && k[2] > k[3] && k[3] > k[4] && k[4] > q80);
        CHECK(q50 < q40 && q51 < q41 && q80 < q51);
    }
    free(normal);
    free(heavy);
    free(outl);
}

/* llama.cpp's decoded K values lie exactly on a K grid; re-quantizing them
 * must lose much less than quantizing the originals did. */
static void test_requantize_decoded(void)
{
    static const struct {
        const char *file;
        fr_type t;
        double readme;
    } v[] = {
        {"quant/q2_k.f32", FR_TYPE_Q2_K, 0.2971}, {"quant/q3_k.f32", FR_TYPE_Q3_K, 0.1509},
        {"quant/q4_k.f32", FR_TYPE_Q4_K, 0.0716}, {"quant/q5_k.f32", FR_TYPE_Q5_K, 0.0363},
        {"quant/q6_k.f32", FR_TYPE_Q6_K, 0.0178},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        long sz = 0;
        float *x = read_all(v[i].file, &sz);
        if (!x) {
            CHECK(0);
            continue;
        }
        int64_t n = sz / 4;
        double r = rel_err(v[i].t, x, n);
        fprintf(stderr, "re-quantize %s: rel RMS %.5f (README first pass %.4f)\n", v[i].file, r,
                v[i].readme);
        CHECK_MSG(r <= 0.25 * v[i].readme, "%s: %.5f", v[i].file, r);
        free(x);
    }
}

/* ---- edge blocks ------------------------------------------------------- */

static const fr_type all_q[] = {FR_TYPE_F16,  FR_TYPE_BF16, FR_TYPE_Q8_0, FR_TYPE_Q4_0,
                                FR_TYPE_Q4_1, FR_TYPE_Q5_0, FR_TYPE_Q5_1, FR_TYPE_Q2_K,
                                FR_TYPE_Q3_K, FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K};
#define N_ALL_Q (sizeof all_q / sizeof all_q[0])

static void test_edges(void)
{
    enum { N = 256 };
    static float x[N];
    const char *name = "";
    rng r = {7};
    for (int c = 0; c < 12; c++) {
        double tol = 0; /* max abs error allowed relative to max |x|; 0: exact */
        for (int i = 0; i < N; i++) {
            switch (c) {
            case 0:
                name = "zeros";
                x[i] = 0;
                break;
            case 1:
                name = "-0";
                x[i] = -0.0f;
                break;
            case 2:
                name = "constant 1";
                x[i] = 1.0f;
                tol = 0.01;
                break;
            case 3:
                name = "constant -3";
                x[i] = -3.0f;
                tol = 0.01;
                break;
            case 4:
                name = "one outlier";
                x[i] = i == 77 ? 100.0f : 0.001f * (float)rng_normal(&r);
                tol = 0.01;
                break;
            case 5:
                name = "subnormal";
                x[i] = 1e-40f * (float)(i % 7 - 3);
                tol = -1;
                break;
            case 6:
                name = "tiny";
                x[i] = 1e-8f * (float)rng_normal(&r);
                tol = -1;
                break;
            case 7:
                name = "huge 6e4";
                x[i] = 60000.0f * (float)sin(i);
                tol = -1;
                break;
            case 8:
                name = "huge 1e7";
                x[i] = 1e7f * (float)cos(i);
                tol = -1;
                break;
            case 9:
                name = "huge 3e38";
                x[i] = (i % 2 ? 3e38f : -3e38f);
                tol = -1;
                break;
            case 10:
                name = "positive ramp";
                x[i] = 1.0f + (float)i;
                tol = 0.2;
                break;
            case 11:
                name = "negative ramp";
                x[i] = -1.0f - (float)i;
                tol = 0.2;
                break;
            }
        }
        double amax = 0;
        for (int i = 0; i < N; i++)
            amax = fmax(amax, fabs(x[i]));
        for (size_t k = 0; k < N_ALL_Q; k++) {
            fr_type t = all_q[k];
            /* F16 cannot hold 3e38 or 1e7 exactly, by design (Inf / rounding) */
            if ((t == FR_TYPE_F16) && (c == 8 || c == 9))
                continue;
            float *y = roundtrip(t, x, N, NULL);
            if (!y) {
                CHECK_MSG(0, "%s %s failed", fr_type_name(t), name);
                continue;
            }
            int nonfinite = 0;
            double maxerr = 0;
            for (int i = 0; i < N; i++) {
                if (!isfinite(y[i]))
                    nonfinite++;
                maxerr = fmax(maxerr, fabs((double)y[i] - x[i]));
            }
            CHECK_MSG(nonfinite == 0, "%s %s: %d non-finite", fr_type_name(t), name, nonfinite);
            if (tol == 0)
                CHECK_MSG(maxerr == 0, "%s %s: max err %g", fr_type_name(t), name, maxerr);
            else if (tol > 0)
                CHECK_MSG(maxerr <= tol * amax, "%s %s: max err %g (amax %g)", fr_type_name(t),
                          name, maxerr, amax);
            free(y);
        }
    }
}

static void test_errors(void)
{
    float x[256] = {0};
    uint8_t q[512];
    fr_err err;
    x[100] = NAN;
    for (size_t k = 0; k < N_ALL_Q; k++) {
        fr_type t = all_q[k];
        fr_status st = fr_quantize(t, x, q, 256, &err);
        if (t == FR_TYPE_F16 || t == FR_TYPE_BF16) {
            CHECK_EQ_INT(st, FR_OK); /* representable: passed through */
        } else {
            CHECK_EQ_INT(st, FR_E_INVALID);
            CHECK(strstr(err.msg, "value 100 is NaN") != NULL);
        }
    }
    x[100] = -INFINITY;
    CHECK_EQ_INT(fr_quantize(FR_TYPE_Q4_K, x, q, 256, &err), FR_E_INVALID);
    CHECK(strstr(err.msg, "Inf") != NULL);
    x[100] = 0;
    CHECK_EQ_INT(fr_quantize(FR_TYPE_Q4_K, x, q, 255, &err), FR_E_INVALID);
    CHECK_EQ_INT(fr_quantize(FR_TYPE_Q4_K, x, q, 32, &err), FR_E_INVALID);
    CHECK(strstr(err.msg, "256") != NULL);
    CHECK_EQ_INT(fr_quantize(FR_TYPE_Q8_1, x, q, 32, &err), FR_E_UNSUPPORTED);
    CHECK_EQ_INT(fr_quantize((fr_type)23, x, q, 256, &err), FR_E_UNSUPPORTED);
    CHECK(!fr_can_quantize(FR_TYPE_Q8_K) && !fr_can_quantize((fr_type)23));
    CHECK(!fr_can_quantize((fr_type)1000));
    for (size_t k = 0; k < N_ALL_Q; k++)
        CHECK(fr_can_quantize(all_q[k]));
    CHECK(fr_can_quantize(FR_TYPE_F32));
    /* F32 "quantization" is a copy */
    float a[3] = {1.5f, -0.0f, 3e38f}, b[3];
    CHECK_EQ_INT(fr_quantize(FR_TYPE_F32, a, b, 3, &err), FR_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

/* Relative error does not depend on the overall scale while the scales stay
 * well inside the fp16 range (they are stored as fp16). */
static void test_scale_invariance(void)
{
    enum { N = 1024 };
    static float x[N], xs[N];
    rng r = {3};
    for (int i = 0; i < N; i++)
        x[i] = (float)rng_student(&r, 5);
    const float scales[3] = {60000.0f / 8, 0.01f, 1e-3f};
    for (size_t k = 0; k < N_ALL_Q; k++) {
        double base = rel_err(all_q[k], x, N);
        for (int s = 0; s < 3; s++) {
            for (int i = 0; i < N; i++)
                xs[i] = x[i] * scales[s];
            double e = rel_err(all_q[k], xs, N);
            CHECK_MSG(e <= 1.05 * base + 1e-4, "%s at scale %g: %.5f vs %.5f at scale 1",
                      fr_type_name(all_q[k]), (double)scales[s], e, base);
        }
    }
}

/* Quantization is deterministic and blocks are independent: quantizing a
 * long row equals quantizing its blocks one at a time. */
static void test_block_independence(void)
{
    enum { N = 1024 };
    static float x[N];
    static uint8_t a[N * 4], b[N * 4];
    rng r = {99};
    for (int i = 0; i < N; i++)
        x[i] = (float)rng_student(&r, 4);
    fr_err err;
    for (size_t k = 0; k < N_ALL_Q; k++) {
        fr_type t = all_q[k];
        const fr_type_info *ti = fr_type_get(t);
        uint64_t rb = fr_type_row_bytes(t, N);
        fr_quantize(t, x, a, N, &err);
        for (int i = 0; i < N; i += (int)ti->block_size)
            fr_quantize(t, x + i, b + (uint64_t)i / ti->block_size * ti->type_size, ti->block_size,
                        &err);
        CHECK_MSG(memcmp(a, b, rb) == 0, "%s", ti->name);
    }
}

int main(void)
{
    test_errors();
    test_quantize_vectors();
    test_requantize_llama_files();
    test_edges();
    test_block_independence();
    test_scale_invariance();
    test_k_accuracy();
    test_requantize_decoded();
    TEST_END();
}
