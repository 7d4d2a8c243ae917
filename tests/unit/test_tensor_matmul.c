/*
 * The matrix-product kernels of every path against the generic kernels,
 * and the generic kernels against an exact (double) product.
 *
 * - Activation quantizers of every path give the generic bytes, and the
 *   generic ones follow the documented scheme (checked here with a naive
 *   double implementation).
 * - Canonical unpacking of every quantized type reconstructs exactly the
 *   values the (llama.cpp-exact) dequantizer gives.
 * - Generic products are within the activation-rounding bound of the exact
 *   product on the dequantized weights: |y - y*| <= sum_i |w_i| |x_i - x^_i|
 *   (each activation moves by at most half a quantization step) plus float
 *   accumulation slack; float types within float slack.
 * - Every other path agrees with the generic one within float slack (their
 *   integer sums are exact, only the float order differs), for every type,
 *   row lengths of 1..4097 blocks, odd row counts and 1..33 tokens.
 * - Within a path, results are bit-identical for 1, 2 and 3 threads and for
 *   a token decoded alone or inside a batch.
 * - Grouped products (fr_matmul_multi: parts of mixed types and lengths in
 *   one run) give exactly the separate products.
 * - SwiGLU of every path is within a few ulp of libm's expf formula (the
 *   generic one is exactly it), over the range where e^x is a normal float,
 *   at the clamps and for every tail length.
 */
#include "test.h"

#include <frugal/tensor.h>

#include "tensor/kernels/kernels.h"
#include "tensor/matmul.h"
#include "tensor/pack.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Roughly normal, with occasional outliers as real activations have. */
static float nrand(void)
{
    double s = urand() + urand() + urand() + urand() - 2.0;
    if (urand() < 0.01)
        s *= 8;
    return (float)s;
}

static const fr_type all_types[] = {
    FR_TYPE_F32,  FR_TYPE_F16,  FR_TYPE_BF16, FR_TYPE_Q8_0, FR_TYPE_Q4_0,
    FR_TYPE_Q4_1, FR_TYPE_Q5_0, FR_TYPE_Q5_1, FR_TYPE_Q2_K, FR_TYPE_Q3_K,
    FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K, FR_TYPE_MXFP4,
};
#define N_TYPES ((int)(sizeof all_types / sizeof all_types[0]))

static bool sanitized(void) { return getenv("FR_SANITIZED") != NULL; }

/* ---- activation quantizers --------------------------------------------- */

/* Naive version of the documented scheme, in double where it does not
 * change the result: d = amax/127 (float), q = round-half-even(x * (1/d)). */
static void naive_q8(const float *x, int len, int8_t *q, float *d)
{
    float amax = 0;
    for (int j = 0; j < len; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    *d = amax / 127.0f;
    float id = *d != 0 ? 1.0f / *d : 0.0f;
    for (int j = 0; j < len; j++) {
        float v = x[j] * id;
        double r = nearbyint((double)v);
        q[j] = (int8_t)r;
    }
}

/* Exact ties: max 127 makes d = 1 and x / d = k + 1/2 exactly; every path
 * rounds half to even, as the naive scheme does. (A SIMD attention sum
 * landing exactly on -73.5 where the portable one gives -73.49998 is how
 * the qwen3moe exactness case once failed on ARM: rounding, not a kernel
 * fault; test_model_forward.c's ref_ties.) */
static void check_quant_ties(const fr_kernel_set *ks)
{
    float xt[256];
    int8_t qt[256];
    float dt[8], st[8];
    int16_t bt[16];
    for (int i = 0; i < 256; i++)
        xt[i] = (float)(i % 254 - 127) + (i % 254 == 0 ? 0.0f : i % 2 ? 0.5f : -0.5f);
    xt[0] = 127.0f; /* d = 1 in every block of 32 and of 256 */
    for (int b = 1; b < 8; b++)
        xt[32 * b] = -127.0f;
    ks->quant_q8b(xt, 256, qt, dt, st);
    bool ties_ok = true;
    for (int i = 0; i < 256; i++)
        ties_ok &= dt[i / 32] == 1.0f && qt[i] == (int8_t)nearbyint((double)xt[i]);
    ks->quant_q8k(xt, 256, qt, dt, bt);
    for (int i = 0; i < 256; i++)
        ties_ok &= dt[0] == 1.0f && qt[i] == (int8_t)nearbyint((double)xt[i]);
    CHECK_MSG(ties_ok, "%s: quantizing exact half steps is not round-half-even", ks->name);
}

static void test_act_quant(void)
{
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = nrand();
    for (int i = 256; i < 512; i++) /* a zero super-block */
        x[i] = 0.0f;
    for (int i = 512; i < 544; i++) /* tiny values */
        x[i] *= 1e-30f;
    x[600] = 1e30f; /* a huge one */
    int8_t qs[N], q2[N], qn[N];
    float d[N / 32], s[N / 32], d2[N / 32], s2[N / 32];
    int16_t bs[N / 16], bs2[N / 16];

    /* generic Q8B against the naive scheme */
    fr_quant_q8b_generic(x, N, qs, d, s);
    bool ok = true;
    for (int b = 0; b < N / 32 && ok; b++) {
        float dn;
        naive_q8(x + 32 * b, 32, qn + 32 * b, &dn);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            ok &= qn[32 * b + j] == qs[32 * b + j];
            ok &= qs[32 * b + j] >= -127;
            sum += qs[32 * b + j];
        }
        ok &= dn == d[b] && s[b] == d[b] * (float)sum;
        if (!ok)
            fprintf(stderr, "q8b block %d differs from the naive scheme\n", b);
    }
    CHECK(ok);
    fr_quant_q8k_generic(x, N, qs, d, bs);
    ok = true;
    for (int b = 0; b < N / 256 && ok; b++) {
        float dn;
        naive_q8(x + 256 * b, 256, qn + 256 * b, &dn);
        ok &= dn == d[b];
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) {
                ok &= qn[256 * b + 16 * g + j] == qs[256 * b + 16 * g + j];
                sum += qs[256 * b + 16 * g + j];
            }
            ok &= bs[16 * b + g] == sum;
        }
    }
    CHECK_MSG(ok, "q8k differs from the naive scheme");

    for (int isa = 0; isa < FR_ISA_COUNT_; isa++)
        if (fr_kernel_set_get((fr_isa)isa))
            check_quant_ties(fr_kernel_set_get((fr_isa)isa));

    /* every path gives the generic bytes */
    for (int isa = 1; isa < FR_ISA_COUNT_; isa++) {
        const fr_kernel_set *ks = fr_kernel_set_get((fr_isa)isa);
        if (!ks)
            continue;
        fr_quant_q8b_generic(x, N, qs, d, s);
        ks->quant_q8b(x, N, q2, d2, s2);
        CHECK_MSG(memcmp(qs, q2, N) == 0 && memcmp(d, d2, sizeof d) == 0 &&
                      memcmp(s, s2, sizeof s) == 0,
                  "%s q8b differs from generic", ks->name);
        fr_quant_q8k_generic(x, N, qs, d, bs);
        ks->quant_q8k(x, N, q2, d2, bs2);
        CHECK_MSG(memcmp(qs, q2, N) == 0 && memcmp(d, d2, N / 256 * sizeof(float)) == 0 &&
                      memcmp(bs, bs2, sizeof bs) == 0,
                  "%s q8k differs from generic", ks->name);
        /* a block with a NaN: d NaN, quants zero, in every path */
        float xn[256];
        memcpy(xn, x, sizeof xn);
        xn[40] = NAN;
        ks->quant_q8b(xn, 256, q2, d2, s2);
        CHECK(isnan(d2[1]) && !isnan(d2[0]));
        CHECK(q2[32] == 0 && q2[63] == 0);
        ks->quant_q8k(xn, 256, q2, d2, bs2);
        CHECK(isnan(d2[0]) && q2[0] == 0 && bs2[0] == 0);
    }
    free(x);
}

/* ---- canonical unpacking --------------------------------------------------- */

static void test_unpack(void)
{
    enum { N = 1024 };
    float x[N], deq[N], rec[N];
    for (int i = 0; i < N; i++)
        x[i] = nrand();
    uint8_t buf[N * 2];
    int8_t q[N];
    float d[N / 32], m[N / 32], dk[N / 256], dmk[N / 256];
    int16_t sc[N / 16], mn[N / 16];
    for (int ti = 0; ti < N_TYPES; ti++) {
        fr_type t = all_types[ti];
        if (!fr_type_get(t)->quantized)
            continue;
        fr_err e;
        CHECK(fr_quantize(t, x, buf, N, &e) == FR_OK);
        CHECK(fr_dequantize(t, buf, deq, N, &e) == FR_OK);
        if (fr_type_get(t)->block_size == 32) {
            CHECK(fr_unpack32(t, buf, N, q, d, m));
            CHECK(!fr_unpackk(t, buf, N, q, sc, mn, dk, dmk));
            for (int i = 0; i < N; i++)
                rec[i] = (float)q[i] * d[i / 32] + m[i / 32];
        } else {
            CHECK(fr_unpackk(t, buf, N, q, sc, mn, dk, dmk));
            CHECK(!fr_unpack32(t, buf, N, q, d, m));
            for (int i = 0; i < N; i++) {
                float dl = dk[i / 256] * (float)sc[i / 16];
                float ml = dmk[i / 256] * (float)mn[i / 16];
                rec[i] = dl * (float)q[i] - ml;
            }
        }
        int bad = -1; /* == rather than memcmp: q * d + 0 turns -0 into +0 */
        for (int i = 0; i < N && bad < 0; i++)
            if (rec[i] != deq[i])
                bad = i;
        CHECK_MSG(bad < 0, "%s: unpacked value %d is %g, dequantize gives %g", fr_type_name(t), bad,
                  bad < 0 ? 0.0 : rec[bad], bad < 0 ? 0.0 : deq[bad]);
    }
}

/* ---- products -------------------------------------------------------------- */

typedef struct problem {
    fr_type type;
    int64_t n_in, n_out, n_tok;
    uint8_t *w;      /* stored weights */
    float *wf;       /* dequantized [n_out][n_in] */
    float *x;        /* [n_tok][n_in] */
    double *exact;   /* [n_tok][n_out] sum w*x in double */
    double *absdot;  /* [n_tok][n_out] sum |w|*|x| */
    double *qbound;  /* [n_tok][n_out] sum |w| * half step of x's block */
    fr_weight wt;
} problem;

static void problem_make(problem *p, fr_type t, int64_t n_in, int64_t n_out, int64_t n_tok)
{
    p->type = t;
    p->n_in = n_in;
    p->n_out = n_out;
    p->n_tok = n_tok;
    size_t rb = (size_t)fr_type_row_bytes(t, n_in);
    p->w = malloc(rb * (size_t)n_out);
    p->wf = malloc(sizeof(float) * (size_t)(n_in * n_out));
    p->x = malloc(sizeof(float) * (size_t)(n_in * n_tok));
    float *row = malloc(sizeof(float) * (size_t)n_in);
    fr_err e;
    for (int64_t r = 0; r < n_out; r++) {
        float scale = (float)(0.5 + urand());
        for (int64_t i = 0; i < n_in; i++)
            row[i] = nrand() * scale;
        CHECK(fr_quantize(t, row, p->w + rb * (size_t)r, n_in, &e) == FR_OK);
        CHECK(fr_dequantize(t, p->w + rb * (size_t)r, p->wf + r * n_in, n_in, &e) == FR_OK);
    }
    for (int64_t i = 0; i < n_in * n_tok; i++)
        p->x[i] = nrand();
    int blk = 0;
    if (fr_type_get(t)->quantized)
        blk = fr_type_get(t)->block_size == 256 ? 256 : 32;
    p->exact = malloc(sizeof(double) * (size_t)(n_tok * n_out));
    p->absdot = malloc(sizeof(double) * (size_t)(n_tok * n_out));
    p->qbound = malloc(sizeof(double) * (size_t)(n_tok * n_out));
    double *half = malloc(sizeof(double) * (size_t)n_in);
    for (int64_t tk = 0; tk < n_tok; tk++) {
        const float *xt = p->x + tk * n_in;
        for (int64_t i = 0; i < n_in; i++)
            half[i] = 0;
        for (int64_t b0 = 0; blk && b0 < n_in; b0 += blk) {
            double amax = 0;
            for (int64_t i = b0; i < b0 + blk; i++)
                amax = fabs(xt[i]) > amax ? fabs(xt[i]) : amax;
            for (int64_t i = b0; i < b0 + blk; i++)
                half[i] = amax / 127.0 * 0.5 * (1 + 1e-5);
        }
        for (int64_t r = 0; r < n_out; r++) {
            const float *wr = p->wf + r * n_in;
            double s = 0, a = 0, qb = 0;
            for (int64_t i = 0; i < n_in; i++) {
                s += (double)wr[i] * xt[i];
                a += fabs((double)wr[i] * xt[i]);
                qb += fabs((double)wr[i]) * half[i];
            }
            p->exact[tk * n_out + r] = s;
            p->absdot[tk * n_out + r] = a;
            p->qbound[tk * n_out + r] = qb;
        }
    }
    free(half);
    free(row);
    p->wt = (fr_weight){0}; /* no packed copy until a case makes one */
    p->wt.type = t;
    p->wt.data = p->w;
    p->wt.n_in = n_in;
    p->wt.n_out = n_out;
    p->wt.row_bytes = rb;
}

static void problem_free(problem *p)
{
    free(p->w), free(p->wf), free(p->x), free(p->exact), free(p->absdot), free(p->qbound);
}

static fr_pool *pools[4];
static fr_matmul_scratch scratch;

/* y = the product on path isa with nth threads for tokens [t0, t0 + nt). */
static void run(const problem *p, fr_isa isa, int nth, int64_t t0, int64_t nt, float *y)
{
    fr_err e;
    CHECK(fr_matmul_scratch_set_isa(&scratch, isa, &e) == FR_OK);
    fr_matmul(pools[nth], &p->wt, p->x + t0 * p->n_in, nt, y, p->n_out, &scratch);
}

static void check_case(fr_type t, int64_t n_in, int64_t n_out, int64_t n_tok)
{
    problem p;
    problem_make(&p, t, n_in, n_out, n_tok);
    size_t ny = (size_t)(n_tok * n_out);
    float *yg = malloc(ny * sizeof(float)), *y = malloc(ny * sizeof(float));
    float *y2 = malloc(ny * sizeof(float));
    char what[96];
    snprintf(what, sizeof what, "%s n_in %lld n_out %lld n_tok %lld", fr_type_name(t),
             (long long)n_in, (long long)n_out, (long long)n_tok);

    /* generic against the exact product */
    run(&p, FR_ISA_GENERIC, 1, 0, n_tok, yg);
    double worst = 0;
    for (size_t i = 0; i < ny; i++) {
        double bound = p.qbound[i] + 1e-4 * p.absdot[i] + 1e-30;
        double r = fabs(yg[i] - p.exact[i]) / bound;
        worst = r > worst ? r : worst;
    }
    CHECK_MSG(worst <= 1.0, "%s generic: error %.3g x its bound", what, worst);

    /* float reference too (same operations as generic for F32/F16/BF16) */
    fr_matmul_ref(pools[2], &p.wt, p.x, n_tok, y, n_out, &scratch);
    if (!fr_type_get(t)->quantized)
        CHECK_MSG(memcmp(y, yg, ny * sizeof(float)) == 0, "%s: generic != fr_matmul_ref", what);

    for (int v = 0; v < 2 * FR_ISA_COUNT_; v++) {
        int isa = v / 2;
        bool packed = v % 2;
        if (!fr_kernel_set_get((fr_isa)isa) || (packed && !fr_pack_has((fr_isa)isa, t)))
            continue;
        char in[32];
        snprintf(in, sizeof in, "%s%s", fr_isa_name((fr_isa)isa), packed ? " x8" : "");
        fr_packed *pk = NULL;
        fr_err e;
        if (packed) {
            CHECK(fr_weight_pack(&p.wt, (fr_isa)isa, &pk, &e) == FR_OK && pk);
            CHECK(p.wt.packed == pk && pk->bytes >= (size_t)n_out * p.wt.row_bytes);
        }
        run(&p, (fr_isa)isa, 1, 0, n_tok, y);
        double w2 = 0;
        for (size_t i = 0; i < ny; i++) {
            double r = fabs((double)y[i] - yg[i]) / (2e-6 * p.absdot[i] + 1e-30);
            w2 = r > w2 ? r : w2;
        }
        CHECK_MSG(w2 <= 1.0, "%s %s vs generic: error %.3g x the float slack", what, in, w2);
        /* thread counts: bit-identical */
        for (int nth = 2; nth <= 3; nth++) {
            run(&p, (fr_isa)isa, nth, 0, n_tok, y2);
            CHECK_MSG(memcmp(y, y2, ny * sizeof(float)) == 0, "%s %s: %d threads differ", what,
                      in, nth);
        }
        /* sub-batches, including one token alone: bit-identical rows */
        static const int64_t subs[] = {1, 2, 3, 7, 16};
        for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
            int64_t nt = subs[k], t0 = n_tok - nt;
            if (t0 < 0)
                continue;
            run(&p, (fr_isa)isa, 2, t0, nt, y2);
            CHECK_MSG(memcmp(y + t0 * n_out, y2, (size_t)(nt * n_out) * sizeof(float)) == 0,
                      "%s %s: %lld tokens alone differ from the batch", what, in, (long long)nt);
        }
        if (packed) {
            /* another path ignores the packed copy and reads the rows */
            int other = isa == FR_ISA_GENERIC ? FR_ISA_AVX2 : FR_ISA_GENERIC;
            if (fr_kernel_set_get((fr_isa)other) && !fr_pack_has((fr_isa)other, t)) {
                float *y3 = malloc(ny * sizeof(float));
                run(&p, (fr_isa)other, 1, 0, n_tok, y2);
                p.wt.packed = NULL;
                run(&p, (fr_isa)other, 1, 0, n_tok, y3);
                CHECK_MSG(memcmp(y2, y3, ny * sizeof(float)) == 0,
                          "%s: %s reads a copy packed for %s", what, fr_isa_name((fr_isa)other), in);
                free(y3);
            }
            p.wt.packed = NULL;
            fr_packed_free(pk);
        }
    }
    free(yg), free(y), free(y2);
    problem_free(&p);
}

static void test_products(void)
{
    static const int64_t blocks[] = {1, 31, 32, 33, 255, 256, 257, 4097};
    static const int64_t kblocks[] = {1, 3, 31, 32, 33};
    bool small = sanitized();
    for (int ti = 0; ti < N_TYPES; ti++) {
        fr_type t = all_types[ti];
        int64_t bs = fr_type_get(t)->block_size;
        const int64_t *bl = bs == 256 ? kblocks : blocks;
        size_t nbl = bs == 256 ? sizeof kblocks / sizeof kblocks[0] : sizeof blocks / sizeof blocks[0];
        for (size_t k = 0; k < nbl; k++) {
            int64_t n_in = bl[k] * (bs == 256 ? 256 : 32);
            if (bs == 1 && bl[k] != 4097)
                n_in = bl[k] * (k % 2 ? 1 : 32); /* float types: odd lengths too */
            int64_t work = n_in;
            int64_t n_out = work <= 1024 ? 37 : work <= 9000 ? 9 : 3;
            int64_t n_tok = work <= 9000 ? 33 : 7;
            if (small && work > 9000)
                continue;
            if (small) {
                n_out = n_out > 9 ? 9 : n_out;
                n_tok = n_tok > 7 ? 7 : n_tok;
            }
            check_case(t, n_in, n_out, n_tok);
        }
    }
}

/* Parts of mixed types (both activation kinds and float), row counts that
 * are not multiples of the 16-row units, against one product at a time. */
static void test_multi(void)
{
    static const fr_type types[][3] = {
        {FR_TYPE_Q4_0, FR_TYPE_Q6_K, FR_TYPE_F16},
        {FR_TYPE_Q4_K, FR_TYPE_Q4_K, FR_TYPE_Q6_K},
        {FR_TYPE_Q8_0, FR_TYPE_Q5_0, FR_TYPE_Q8_0},
    };
    static const int64_t outs[3] = {70, 17, 33};
    const int64_t n_in = 512;
    for (size_t c = 0; c < sizeof types / sizeof types[0]; c++) {
        for (int64_t n_tok = 1; n_tok <= 9; n_tok += 8) {
            problem p[3];
            for (int k = 0; k < 3; k++)
                problem_make(&p[k], types[c][k], n_in, outs[k], n_tok);
            for (int k = 1; k < 3; k++) /* the same activations */
                memcpy(p[k].x, p[0].x, sizeof(float) * (size_t)(n_in * n_tok));
            for (int isa = 0; isa < FR_ISA_COUNT_; isa++) {
                fr_err e;
                if (!fr_kernel_set_get((fr_isa)isa))
                    continue;
                CHECK(fr_matmul_scratch_set_isa(&scratch, (fr_isa)isa, &e) == FR_OK);
                float *sep[3], *grp[3];
                fr_mm_part parts[3];
                for (int k = 0; k < 3; k++) {
                    size_t ny = (size_t)(n_tok * outs[k]);
                    sep[k] = malloc(ny * sizeof(float));
                    grp[k] = malloc(ny * sizeof(float));
                    fr_matmul(pools[1], &p[k].wt, p[0].x, n_tok, sep[k], outs[k], &scratch);
                    parts[k] = (fr_mm_part){&p[k].wt, grp[k], outs[k]};
                }
                for (int nth = 1; nth <= 3; nth++) {
                    for (int k = 0; k < 3; k++)
                        memset(grp[k], 0xff, (size_t)(n_tok * outs[k]) * sizeof(float));
                    fr_matmul_multi(pools[nth], parts, 3, p[0].x, n_tok, &scratch);
                    for (int k = 0; k < 3; k++) {
                        size_t nb = (size_t)(n_tok * outs[k]) * sizeof(float);
                        CHECK_MSG(memcmp(sep[k], grp[k], nb) == 0,
                                  "%s: grouped part %d (%s) differs from its own product, "
                                  "%d threads, %lld tokens", fr_isa_name((fr_isa)isa), k,
                                  fr_type_name(types[c][k]), nth, (long long)n_tok);
                    }
                }
                for (int k = 0; k < 3; k++)
                    free(sep[k]), free(grp[k]);
            }
            for (int k = 0; k < 3; k++)
                problem_free(&p[k]);
        }
    }
}

/* ---- SwiGLU ----------------------------------------------------------------- */

/* Within 4 ulp of the reference; e^-x is clamped at e^87.3, so for
 * x < -87 only the size of a result below 1e-36 |x u| changes. */
static bool close_enough(float out, float ref, float x, float u)
{
    double tol = 4 * 6e-8 * fabs(ref) + (x < -87.0f ? 1e-36 * fabs(u * x) : 0);
    return fabs((double)out - ref) <= tol;
}

static void test_swiglu(void)
{
    enum { N = 4864 + 37 };
    static const float edge[] = {0.0f,  -0.0f, 1e-30f, -1e-30f, 1.0f,   -1.0f,  20.0f,  -20.0f,
                                 87.0f, -87.0f, 87.5f, -87.5f,  88.0f,  -88.0f, 89.0f,  -89.0f,
                                 100.0f, -100.0f, 1e30f, -1e30f, 0.5f, -0.5f, 10.0f, -10.0f};
    const int n_edge = (int)(sizeof edge / sizeof edge[0]);
    float *g = malloc(N * sizeof *g), *u = malloc(N * sizeof *u);
    float *ref = malloc(N * sizeof *ref), *out = malloc(N * sizeof *out);
    for (int i = 0; i < N; i++) {
        g[i] = i < n_edge ? edge[i] : nrand() * 4.0f;
        u[i] = i < n_edge ? 1.0f : nrand();
    }
    /* generic is libm's formula itself */
    for (int i = 0; i < N; i++)
        ref[i] = g[i] * (1.0f / (1.0f + expf(-g[i]))) * u[i];
    memcpy(out, g, N * sizeof *out);
    fr_swiglu_generic(out, u, N);
    CHECK(memcmp(out, ref, N * sizeof *out) == 0);
    for (int isa = 1; isa < FR_ISA_COUNT_; isa++) {
        const fr_kernel_set *ks = fr_kernel_set_get((fr_isa)isa);
        if (!ks)
            continue;
        int bad = -1;
        for (int n = 1; n <= 40 && bad < 0; n++) { /* every tail, and nothing past n written */
            memcpy(out, g, N * sizeof *out);
            ks->swiglu(out, u, n);
            for (int i = 0; i < 48 && bad < 0; i++) {
                bool ok = i < n ? close_enough(out[i], ref[i], g[i], u[i])
                                : memcmp(&out[i], &g[i], sizeof(float)) == 0;
                if (!ok)
                    bad = i;
            }
        }
        memcpy(out, g, N * sizeof *out);
        ks->swiglu(out, u, N);
        for (int i = 0; i < N && bad < 0; i++)
            if (!close_enough(out[i], ref[i], g[i], u[i]))
                bad = i;
        CHECK_MSG(bad < 0, "%s swiglu(%g) * %g = %.9g, libm formula %.9g", ks->name,
                  bad < 0 ? 0.0 : g[bad], bad < 0 ? 0.0 : u[bad], bad < 0 ? 0.0 : out[bad],
                  bad < 0 ? 0.0 : ref[bad]);
    }
    free(g), free(u), free(ref), free(out);
}

static void test_isa_errors(void)
{
    fr_isa isa;
    CHECK(fr_isa_parse("avx2", &isa) && isa == FR_ISA_AVX2);
    CHECK(fr_isa_parse("generic", &isa) && isa == FR_ISA_GENERIC);
    CHECK(!fr_isa_parse("sse", &isa));
    CHECK(fr_isa_parse("neon", &isa) && isa == FR_ISA_NEON);
    CHECK(fr_isa_parse("dotprod", &isa) && isa == FR_ISA_DOTPROD);
    CHECK(fr_isa_parse("i8mm", &isa) && isa == FR_ISA_I8MM);
    /* each architecture's paths exist only on it; plain NEON on every aarch64 */
#if defined(__aarch64__)
    CHECK(fr_isa_available(FR_ISA_NEON));
    CHECK(!fr_isa_available(FR_ISA_AVX2));
#elif defined(__x86_64__)
    CHECK(!fr_isa_available(FR_ISA_NEON) && !fr_isa_available(FR_ISA_I8MM));
#endif
    /* ARM core names by MIDR implementer / part (Arm's TRMs: Cortex-A76 is
     * 0x41 / 0xd0b, Neoverse N1 0x41 / 0xd0c, Cortex-A53 0x41 / 0xd03) */
    char core[64];
    CHECK(fr_cpu_arm_part_name(0x41, 0xd0b, core, sizeof core));
    CHECK_STR(core, "ARM Cortex-A76");
    CHECK(fr_cpu_arm_part_name(0x41, 0xd0c, core, sizeof core));
    CHECK_STR(core, "ARM Neoverse N1");
    CHECK(fr_cpu_arm_part_name(0x41, 0xd03, core, sizeof core));
    CHECK_STR(core, "ARM Cortex-A53");
    CHECK(!fr_cpu_arm_part_name(0x99, 0x123, core, sizeof core));
    CHECK_STR(core, "ARM implementer 0x99 part 0x123");
    CHECK(fr_isa_available(FR_ISA_GENERIC));
    CHECK(fr_kernel_set_get(FR_ISA_GENERIC) == &fr_kernels_generic);
    CHECK(fr_isa_available(fr_isa_best()));
    fr_err e;
    for (int i = 0; i < FR_ISA_COUNT_; i++) {
        if (fr_isa_available((fr_isa)i))
            continue;
        CHECK(fr_kernel_set_get((fr_isa)i) == NULL);
        CHECK(fr_matmul_scratch_set_isa(&scratch, (fr_isa)i, &e) == FR_E_UNSUPPORTED);
    }
    /* every set has its own product for every weight type (a missing one
     * would fall back to the generic kernel unseen: MXFP4 on the ARM sets
     * once did), and every row operation */
    for (int i = 0; i < FR_ISA_COUNT_; i++) {
        const fr_kernel_set *ks = fr_kernel_set_get((fr_isa)i);
        for (int ti = 0; ks && ti < N_TYPES; ti++)
            CHECK_MSG(ks->mm[all_types[ti]].act != FR_ACT_NONE && ks->mm[all_types[ti]].gemm,
                      "%s has no %s product", ks->name, fr_type_name(all_types[ti]));
        CHECK(!ks || (ks->quant_q8b && ks->quant_q8k && ks->dot_f32 && ks->dot_f16 &&
                      ks->axpy_f32 && ks->axpy_f16 && ks->swiglu && ks->read_sum &&
                      ks->sgemm_nn && ks->sgemm_nt && ks->sgemm_tn));
    }
    char feats[256];
    fr_cpu_describe(feats, sizeof feats);
    fprintf(stderr, "cpu: %s; best path %s\n", feats, fr_isa_name(fr_isa_best()));
}

int main(void)
{
    fr_err e;
    for (int n = 1; n <= 3; n++)
        CHECK(fr_pool_create(n, &pools[n], &e) == FR_OK);
    CHECK(fr_matmul_scratch_init(&scratch, 3, 4097 * 32, 64, &e) == FR_OK);
    test_isa_errors();
    test_act_quant();
    test_unpack();
    test_products();
    test_multi();
    test_swiglu();
    fr_matmul_scratch_free(&scratch);
    fr_matmul_scratch_free(&scratch);
    for (int n = 1; n <= 3; n++)
        fr_pool_free(pools[n]);
    TEST_END();
}
