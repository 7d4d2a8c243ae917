/* Tests for src/model/sampler.c.
 *
 * Expected values come from hand computation on small logit vectors and
 * from a deliberately naive reference written here (full sort, softmax in
 * double, the llama.cpp rules applied one after the other), never from the
 * sampler itself. Statistical checks use fixed seeds, so they are
 * deterministic; their tolerances are several standard deviations wide so
 * that a correct sampler passes with any seed. */
#include "test.h"

#include <frugal/sampler.h>

#include <malloc.h>
#include <stdint.h>

static bool sanitized(void) { return getenv("FR_SANITIZED") != NULL; }

static fr_sampler *make(const fr_sampler_params *p, int32_t n_vocab)
{
    fr_sampler *s = NULL;
    fr_err err = {0};
    fr_status st = fr_sampler_create(p, n_vocab, &s, &err);
    CHECK_MSG(st == FR_OK, "create: %s", err.msg);
    return s;
}

/* Only the step under test switched on. */
static fr_sampler_params plain(void)
{
    fr_sampler_params p;
    fr_sampler_params_default(&p);
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

static int32_t sample(fr_sampler *s, const float *logits)
{
    fr_sample out;
    fr_err err = {0};
    fr_status st = fr_sampler_sample(s, logits, &out, &err);
    CHECK_MSG(st == FR_OK, "sample: %s", err.msg);
    return st == FR_OK ? out.token : -1;
}

/* ---- greedy ---------------------------------------------------------------- */

static void test_greedy(void)
{
    static const float l[6] = {0.1f, 2.5f, -1.0f, 2.5f, 2.4f, 0.0f};
    fr_sampler_params p = plain();
    p.temperature = 0.0f;
    fr_sampler *s = make(&p, 6);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(sample(s, l), 1); /* tie 1/3: lower id */
    fr_sampler_free(s);

    /* top-k 1 is greedy whatever the temperature; so is a negative one. */
    p = plain();
    p.top_k = 1;
    p.temperature = 5.0f;
    s = make(&p, 6);
    for (int i = 0; i < 20; i++)
        CHECK_EQ_INT(sample(s, l), 1);
    fr_sampler_free(s);
    p = plain();
    p.temperature = -1.0f;
    s = make(&p, 6);
    CHECK_EQ_INT(sample(s, l), 1);
    fr_sampler_free(s);

    /* Greedy on random logits: the naive argmax. */
    p = plain();
    p.temperature = 0.0f;
    s = make(&p, 1000);
    float big[1000];
    uint32_t x = 12345;
    for (int r = 0; r < 20; r++) {
        int32_t want = 0;
        for (int i = 0; i < 1000; i++) {
            x = x * 1664525u + 1013904223u;
            big[i] = (float)(x >> 8) / (float)(1u << 24) * 20.0f - 10.0f;
            if (big[i] > big[want])
                want = i;
        }
        CHECK_EQ_INT(sample(s, big), want);
    }
    fr_sampler_free(s);
}

/* ---- the empirical distribution matches the softmax --------------------- */

/* Draws n tokens and compares frequencies with want[] (sum 1): chi-square
 * below the 0.1% critical value for the degrees of freedom, and every
 * frequency within 5 standard deviations. Tokens with want 0 must never
 * appear. */
static void check_freq(fr_sampler *s, const float *l, int nv, const double *want, int n,
                       const char *what)
{
    int count[64] = {0};
    for (int i = 0; i < n; i++) {
        int32_t t = sample(s, l);
        if (t >= 0 && t < nv)
            count[t]++;
    }
    double chi2 = 0.0;
    int df = -1;
    for (int t = 0; t < nv; t++) {
        if (want[t] == 0.0) {
            CHECK_MSG(count[t] == 0, "%s: token %d drawn %d times, should be excluded", what, t,
                      count[t]);
            continue;
        }
        double e = want[t] * n;
        chi2 += (count[t] - e) * (count[t] - e) / e;
        df++;
        double sd = sqrt(n * want[t] * (1.0 - want[t]));
        CHECK_MSG(fabs(count[t] - e) <= 5.0 * sd + 1.0, "%s: token %d drawn %d times, expected %.1f",
                  what, t, count[t], e);
    }
    /* 0.1% critical values of chi-square for df = 1..9 */
    static const double crit[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88};
    if (df >= 1 && df <= 9)
        CHECK_MSG(chi2 < crit[df], "%s: chi-square %.2f with %d degrees of freedom", what, chi2, df);
}

static void softmax_ref(const float *l, int n, double t, double *p)
{
    double m = -INFINITY, z = 0.0;
    for (int i = 0; i < n; i++)
        if (l[i] > m)
            m = l[i];
    for (int i = 0; i < n; i++)
        z += exp((l[i] - m) / t);
    for (int i = 0; i < n; i++)
        p[i] = exp((l[i] - m) / t) / z;
}

static void test_distribution(void)
{
    int n = sanitized() ? 20000 : 200000;
    static const float l[8] = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f, -2.0f, 0.7f};
    double want[8];

    fr_sampler_params p = plain();
    p.seed = 42;
    fr_sampler *s = make(&p, 8);
    softmax_ref(l, 8, 1.0, want);
    check_freq(s, l, 8, want, n, "T=1");
    fr_sampler_free(s);

    p.temperature = 0.6f;
    p.seed = 7;
    s = make(&p, 8);
    softmax_ref(l, 8, 0.6, want);
    check_freq(s, l, 8, want, n, "T=0.6");
    fr_sampler_free(s);

    /* top-k 3 at T=1.7: softmax(l/T) over the three largest only. */
    p.temperature = 1.7f;
    p.top_k = 3;
    p.seed = 99;
    s = make(&p, 8);
    float l3[8];
    for (int i = 0; i < 8; i++)
        l3[i] = (i == 3 || i == 5 || i == 0) ? l[i] : -INFINITY;
    softmax_ref(l3, 8, 1.7, want);
    check_freq(s, l, 8, want, n, "top-k 3");
    fr_sampler_free(s);

    /* top-p 0.75 + min-p on five(): {0.5, 0.2, 0.15} renormalised, drawn in
     * the sorted order top-p leaves. */
    static const double pr[5] = {0.15, 0.5, 0.05, 0.2, 0.1};
    float l5[5];
    for (int i = 0; i < 5; i++)
        l5[i] = (float)log(pr[i]);
    p = plain();
    p.top_p = 0.75f;
    p.min_p = 0.01f;
    p.seed = 2024;
    s = make(&p, 5);
    double want5[5] = {0.15 / 0.85, 0.5 / 0.85, 0.0, 0.2 / 0.85, 0.0};
    check_freq(s, l5, 5, want5, n, "top-p 0.75");
    fr_sampler_free(s);
}

/* ---- truncation sets ---------------------------------------------------------- */

/* Token -> probability at T=1: id 0..4 carry 0.15, 0.5, 0.05, 0.2, 0.1. */
static void five(float *l)
{
    static const double pr[5] = {0.15, 0.5, 0.05, 0.2, 0.1};
    for (int i = 0; i < 5; i++)
        l[i] = (float)log(pr[i]);
}

/* Checks that the kept set is exactly ids (in most-probable-first order)
 * with probabilities proportional to the T=1 probabilities. */
static void expect_set(const fr_sampler_params *p, const int32_t *ids, int n, const char *what)
{
    static const double pr[5] = {0.15, 0.5, 0.05, 0.2, 0.1};
    float l[5];
    five(l);
    fr_sampler *s = make(p, 5);
    if (!s)
        return;
    fr_token_prob d[5];
    int32_t nd = -1;
    fr_err err = {0};
    CHECK_MSG(fr_sampler_dist(s, l, d, 5, &nd, &err) == FR_OK, "%s: %s", what, err.msg);
    CHECK_MSG(nd == n, "%s: kept %d tokens, expected %d", what, nd, n);
    double z = 0.0;
    for (int i = 0; i < n; i++)
        z += pr[ids[i]];
    for (int i = 0; i < n && i < nd; i++) {
        CHECK_MSG(d[i].token == ids[i], "%s: position %d is token %d, expected %d", what, i,
                  d[i].token, ids[i]);
        CHECK_NEAR(d[i].p, pr[ids[i]] / z, 1e-6);
    }
    fr_sampler_free(s);
}

static void test_truncation(void)
{
    fr_sampler_params p = plain();
    static const int32_t all[5] = {1, 3, 0, 4, 2};

    expect_set(&p, all, 5, "no truncation");
    p.top_p = 0.45f; /* 0.5 >= 0.45 */
    expect_set(&p, all, 1, "top-p 0.45");
    p.top_p = 0.75f; /* 0.5, 0.7, 0.85 */
    expect_set(&p, all, 3, "top-p 0.75");
    p.top_p = 0.86f; /* ..., 0.95 */
    expect_set(&p, all, 4, "top-p 0.86");
    p.top_p = 0.0f;
    expect_set(&p, all, 1, "top-p 0");

    p = plain();
    p.min_p = 0.35f; /* p >= 0.175: 0.5, 0.2 */
    expect_set(&p, all, 2, "min-p 0.35");
    p.min_p = 0.25f; /* p >= 0.125: 0.5, 0.2, 0.15 */
    expect_set(&p, all, 3, "min-p 0.25");
    p.min_p = 1.0f;
    expect_set(&p, all, 1, "min-p 1");

    p = plain();
    p.top_k = 2;
    expect_set(&p, all, 2, "top-k 2");
    /* top-p normalises over the top-k set: {0.5, 0.2, 0.15} -> 0.588, 0.824 */
    p.top_k = 3;
    p.top_p = 0.8f;
    expect_set(&p, all, 2, "top-k 3 then top-p 0.8");
    p.top_k = 0; /* over all five: 0.5, 0.7, 0.85 */
    expect_set(&p, all, 3, "top-p 0.8 alone");
    /* The shorter of the top-p and min-p prefixes. */
    p.top_p = 0.9f;
    p.min_p = 0.25f;
    expect_set(&p, all, 3, "top-p 0.9 + min-p 0.25");
    p.top_p = 0.6f;
    expect_set(&p, all, 2, "top-p 0.6 + min-p 0.25");

    /* Temperature is applied after truncation: same set, sharper p. */
    p = plain();
    p.top_k = 2;
    p.temperature = 0.5f;
    float l[5];
    five(l);
    fr_sampler *s = make(&p, 5);
    fr_token_prob d[5];
    int32_t nd;
    CHECK(fr_sampler_dist(s, l, d, 5, &nd, NULL) == FR_OK);
    CHECK_EQ_INT(nd, 2);
    /* (0.5^2, 0.2^2) normalised */
    CHECK_NEAR(d[0].p, 0.25 / 0.29, 1e-6);
    CHECK_NEAR(d[1].p, 0.04 / 0.29, 1e-6);
    CHECK_NEAR(d[0].logit, log(0.5), 1e-6); /* logit reported before temperature */
    fr_sampler_free(s);
}

/* Naive reference for the kept set on a large vocabulary. */
static const float *g_ref_logits;
static int cmp_best(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    float lx = g_ref_logits[x], ly = g_ref_logits[y];
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return x < y ? -1 : 1;
}

static int naive_keep(const float *l, int n, int top_k, double top_p, double min_p, int32_t *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    g_ref_logits = l;
    qsort(order, (size_t)n, sizeof *order, cmp_best);
    int k = (top_k > 0 && top_k < n) ? top_k : n;
    double m = l[order[0]], z = 0.0;
    for (int i = 0; i < k; i++)
        z += exp(l[order[i]] - m);
    int kp = k;
    if (top_p < 1.0) {
        double cum = 0.0;
        for (int i = 0; i < k; i++) {
            cum += exp(l[order[i]] - m) / z;
            if (cum >= top_p) {
                kp = i + 1;
                break;
            }
        }
    }
    int km = k;
    if (min_p > 0.0) {
        km = 0;
        float thr = (float)m + logf((float)min_p);
        while (km < k && l[order[km]] >= thr)
            km++;
    }
    return kp < km ? kp : km;
}

static void test_large_vocab(void)
{
    int nv = sanitized() ? 32000 : 151936;
    float *l = malloc((size_t)nv * sizeof *l);
    int32_t *order = malloc((size_t)nv * sizeof *order);
    fr_token_prob *d = malloc((size_t)nv * sizeof *d);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < nv; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* A peaked distribution with repeated values (ties exercise the id order). */
        double u = (double)(x >> 11) * 0x1.0p-53;
        l[i] = (float)(floor(u * u * u * 4000.0) / 200.0);
    }
    struct {
        int top_k;
        float top_p, min_p;
    } cases[] = {{0, 0.95f, 0.0f}, {40, 0.95f, 0.05f}, {0, 0.5f, 0.0f},  {0, 0.999f, 0.0f},
                 {0, 1.0f, 0.01f}, {1000, 0.9f, 0.0f}, {0, 0.9f, 0.02f}, {7, 1.0f, 0.0f}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fr_sampler_params p = plain();
        p.top_k = cases[c].top_k;
        p.top_p = cases[c].top_p;
        p.min_p = cases[c].min_p;
        fr_sampler *s = make(&p, nv);
        int32_t nd = -1;
        CHECK(fr_sampler_dist(s, l, d, nv, &nd, NULL) == FR_OK);
        int want = naive_keep(l, nv, p.top_k, p.top_p, p.min_p, order);
        CHECK_MSG(nd == want, "case %zu: kept %d, naive reference keeps %d", c, nd, want);
        int bad = 0;
        for (int i = 0; i < nd && i < want; i++)
            bad += d[i].token != order[i];
        CHECK_MSG(bad == 0, "case %zu: %d tokens differ from the reference order", c, bad);
        /* Sampling only ever returns kept tokens. */
        for (int r = 0; r < 50; r++) {
            int32_t t = sample(s, l);
            bool kept = false;
            for (int i = 0; i < want && !kept; i++)
                kept = order[i] == t;
            CHECK_MSG(kept, "case %zu: sampled token %d outside the kept set", c, t);
        }
        fr_sampler_free(s);
    }
    free(l);
    free(order);
    free(d);
}

/* ---- penalties ------------------------------------------------------------------ */

static void test_penalties(void)
{
    static const float l[5] = {2.0f, -1.0f, 0.5f, 0.0f, 3.0f};
    fr_sampler_params p = plain();
    p.repeat_penalty = 1.5f;
    p.frequency_penalty = 0.25f;
    p.presence_penalty = 0.5f;
    fr_sampler *s = make(&p, 5);
    fr_sampler_accept(s, 0);
    fr_sampler_accept(s, 1);
    fr_sampler_accept(s, 0);
    fr_sampler_accept(s, 3);
    fr_sampler_accept(s, 99); /* out of range: ignored */
    fr_sampler_accept(s, -1);
    fr_token_prob d[5];
    int32_t nd;
    CHECK(fr_sampler_dist(s, l, d, 5, &nd, NULL) == FR_OK);
    CHECK_EQ_INT(nd, 5);
    double want[5] = {
        2.0 / 1.5 - 2 * 0.25 - 0.5, /* seen twice, positive: divided */
        -1.0 * 1.5 - 0.25 - 0.5,    /* seen once, negative: multiplied */
        0.5,                        /* not seen */
        0.0 * 1.5 - 0.25 - 0.5,     /* zero counts as non-positive */
        3.0,
    };
    for (int i = 0; i < nd; i++)
        CHECK_NEAR(d[i].logit, want[d[i].token], 1e-6);
    /* dist does not change the history: same answer twice. */
    fr_token_prob d2[5];
    CHECK(fr_sampler_dist(s, l, d2, 5, &nd, NULL) == FR_OK);
    CHECK(memcmp(d, d2, sizeof d) == 0);
    fr_sampler_free(s);

    /* The window: only the last 2 accepted tokens (0 and 3) count. */
    p.penalty_last_n = 2;
    s = make(&p, 5);
    fr_sampler_accept(s, 0);
    fr_sampler_accept(s, 1);
    fr_sampler_accept(s, 0);
    fr_sampler_accept(s, 3);
    CHECK(fr_sampler_dist(s, l, d, 5, &nd, NULL) == FR_OK);
    double want2[5] = {2.0 / 1.5 - 0.25 - 0.5, -1.0, 0.5, -0.75, 3.0};
    for (int i = 0; i < nd; i++)
        CHECK_NEAR(d[i].logit, want2[d[i].token], 1e-6);
    /* reset forgets the history */
    fr_sampler_reset(s, 0);
    CHECK(fr_sampler_dist(s, l, d, 5, &nd, NULL) == FR_OK);
    for (int i = 0; i < nd; i++)
        CHECK_NEAR(d[i].logit, l[d[i].token], 0.0);
    fr_sampler_free(s);

    /* penalty_last_n 0 switches every penalty off. */
    p.penalty_last_n = 0;
    s = make(&p, 5);
    fr_sampler_accept(s, 0);
    CHECK(fr_sampler_dist(s, l, d, 5, &nd, NULL) == FR_OK);
    for (int i = 0; i < nd; i++)
        CHECK_NEAR(d[i].logit, l[d[i].token], 0.0);
    fr_sampler_free(s);

    /* Sampling records its own choice: greedy with a presence penalty over
     * a one-token window alternates between two close tokens. */
    static const float two[2] = {1.0f, 0.9f};
    p = plain();
    p.temperature = 0.0f;
    p.presence_penalty = 0.5f;
    p.penalty_last_n = 1;
    s = make(&p, 2);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(sample(s, two), i % 2);
    fr_sampler_free(s);

    /* Logit bias: added first; -inf bans. */
    fr_logit_bias bias[3] = {{4, -INFINITY}, {2, 1.0f}, {2, 1.0f}};
    p = plain();
    p.logit_bias = bias;
    p.n_logit_bias = 3;
    s = make(&p, 5);
    bias[1].bias = 100.0f; /* copied at create: this has no effect */
    CHECK(fr_sampler_dist(s, l, d, 5, &nd, NULL) == FR_OK);
    CHECK_EQ_INT(nd, 4);
    for (int i = 0; i < nd; i++) {
        CHECK(d[i].token != 4);
        if (d[i].token == 2)
            CHECK_NEAR(d[i].logit, 2.5, 1e-6);
    }
    for (int i = 0; i < 200; i++)
        CHECK(sample(s, l) != 4);
    fr_sampler_free(s);
}

/* ---- seeds ---------------------------------------------------------------------- */

static void draw(fr_sampler *s, int32_t *seq, int n)
{
    static const float flat[16] = {0};
    for (int i = 0; i < n; i++)
        seq[i] = sample(s, flat);
}

static void test_seeds(void)
{
    fr_sampler_params p = plain();
    p.seed = 1234;
    int32_t a[100], b[100], c[100], r[100];
    fr_sampler *s1 = make(&p, 16), *s2 = make(&p, 16);
    draw(s1, a, 100);
    draw(s2, b, 100);
    CHECK(memcmp(a, b, sizeof a) == 0);
    fr_sampler_reset(s1, 1234); /* replays */
    draw(s1, r, 100);
    CHECK(memcmp(a, r, sizeof a) == 0);
    fr_sampler_free(s1);
    fr_sampler_free(s2);
    p.seed = 1235;
    fr_sampler *s3 = make(&p, 16);
    draw(s3, c, 100);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += a[i] == c[i];
    CHECK_MSG(same < 30, "seeds 1234 and 1235 agree on %d of 100 draws", same);
    /* Every token of a flat distribution turns up. */
    int seen[16] = {0};
    for (int i = 0; i < 100; i++)
        seen[c[i]]++;
    for (int t = 0; t < 16; t++)
        CHECK_MSG(seen[t] > 0, "token %d never drawn from a flat distribution", t);
    fr_sampler_free(s3);
}

/* ---- logprobs ----------------------------------------------------------------------- */

static void test_logprobs(void)
{
    static const float l[6] = {1.0f, 3.0f, 3.0f, -INFINITY, 0.5f, 2.0f};
    double m = 3.0, z = 0.0;
    for (int i = 0; i < 6; i++)
        z += exp(l[i] - m);
    double lse = m + log(z);

    fr_sampler_params p = plain();
    p.temperature = 0.0f;
    p.logprobs = true;
    p.top_logprobs = 4;
    p.repeat_penalty = 2.0f; /* logprobs ignore penalties ... */
    fr_logit_bias bias = {5, 10.0f}; /* ... and the bias */
    p.logit_bias = &bias;
    p.n_logit_bias = 1;
    fr_sampler *s = make(&p, 6);
    fr_sample out;
    CHECK(fr_sampler_sample(s, l, &out, NULL) == FR_OK);
    CHECK_EQ_INT(out.token, 5); /* the bias made 5 the greedy choice */
    CHECK_NEAR(out.logprob, 2.0 - lse, 1e-6);
    CHECK_EQ_INT(out.n_top, 4);
    static const int32_t order[4] = {1, 2, 5, 0};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(out.top[i].token, order[i]);
        CHECK_NEAR(out.top[i].logprob, l[order[i]] - lse, 1e-6);
    }
    fr_sampler_free(s);

    /* More requested than the vocabulary has; -inf has logprob -inf. */
    p = plain();
    p.top_logprobs = 20;
    s = make(&p, 6);
    CHECK(fr_sampler_sample(s, l, &out, NULL) == FR_OK);
    CHECK_EQ_INT(out.n_top, 6);
    CHECK_EQ_INT(out.top[5].token, 3);
    CHECK(out.top[5].logprob == -INFINITY);
    CHECK(out.logprob == 0.0f); /* not requested */
    fr_sampler_free(s);
}

/* ---- errors and the allocation-free promise ------------------------------------- */

static void test_errors(void)
{
    fr_sampler *s = NULL;
    fr_err err = {0};
    fr_sampler_params p = plain();
    CHECK(fr_sampler_create(&p, 0, &s, &err) == FR_E_INVALID && s == NULL);
    CHECK(strstr(err.msg, "n_vocab"));
    p.top_p = 1.5f;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "top_p"));
    p = plain();
    p.min_p = -0.1f;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "min_p"));
    p = plain();
    p.temperature = NAN;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "temperature"));
    p = plain();
    p.repeat_penalty = 0.0f;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "repeat_penalty"));
    p = plain();
    p.penalty_last_n = -1;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "penalty_last_n"));
    p = plain();
    p.top_logprobs = 21;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "top_logprobs"));
    p = plain();
    fr_logit_bias b = {10, 1.0f};
    p.logit_bias = &b;
    p.n_logit_bias = 1;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID && strstr(err.msg, "token 10"));
    p.n_logit_bias = 1;
    p.logit_bias = NULL;
    CHECK(fr_sampler_create(&p, 10, &s, &err) == FR_E_INVALID);
    CHECK(fr_sampler_create(NULL, 10, &s, &err) == FR_E_INVALID);

    p = plain();
    s = make(&p, 4);
    float l[4] = {0.0f, NAN, 1.0f, 2.0f};
    fr_sample out;
    CHECK(fr_sampler_sample(s, l, &out, &err) == FR_E_INVALID && strstr(err.msg, "token 1"));
    l[1] = INFINITY;
    CHECK(fr_sampler_sample(s, l, &out, &err) == FR_E_INVALID && strstr(err.msg, "+inf"));
    float banned[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    CHECK(fr_sampler_sample(s, banned, &out, &err) == FR_E_RANGE && strstr(err.msg, "banned"));
    int32_t nd;
    CHECK(fr_sampler_dist(s, banned, NULL, 0, &nd, &err) == FR_E_RANGE);
    CHECK(fr_sampler_sample(s, NULL, &out, &err) == FR_E_INVALID);
    fr_sampler_free(s);
    p.temperature = 0.0f;
    s = make(&p, 4);
    CHECK(fr_sampler_sample(s, banned, &out, &err) == FR_E_RANGE);
    fr_sampler_free(s);
    fr_sampler_free(NULL);
    fr_sampler_accept(NULL, 1);
    fr_sampler_reset(NULL, 1);
}

static void test_no_alloc(void)
{
    if (sanitized())
        return; /* ASan's allocator does not report through mallinfo2 */
    int nv = 50000;
    float *l = malloc((size_t)nv * sizeof *l);
    for (int i = 0; i < nv; i++)
        l[i] = (float)((i * 7919) % 1000) / 100.0f;
    fr_sampler_params p;
    fr_sampler_params_default(&p);
    p.repeat_penalty = 1.1f;
    p.top_logprobs = 5;
    p.logprobs = true;
    fr_sampler *s = make(&p, nv);
    fr_sample out;
    CHECK(fr_sampler_sample(s, l, &out, NULL) == FR_OK); /* warm up */
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 50; i++)
        CHECK(fr_sampler_sample(s, l, &out, NULL) == FR_OK);
    struct mallinfo2 after = mallinfo2();
    CHECK_MSG(before.uordblks == after.uordblks && before.hblkhd == after.hblkhd,
              "heap in use changed from %zu to %zu bytes while sampling", before.uordblks,
              after.uordblks);
    fr_sampler_free(s);
    free(l);
}

/* A toy constraint: token t is allowed when bit t of `ok` is set; counts
 * the calls so the tests see which path the sampler took. */
typedef struct toy_cons {
    uint64_t ok[4]; /* up to 256 tokens */
    int32_t n_vocab;
    int n_allows, n_mask;
} toy_cons;

static bool toy_allows(void *self, int32_t t)
{
    toy_cons *c = self;
    c->n_allows++;
    return t >= 0 && t < c->n_vocab && (c->ok[t >> 6] >> (t & 63) & 1);
}

static fr_status toy_mask(void *self, uint64_t *allowed, fr_err *err)
{
    (void)err;
    toy_cons *c = self;
    c->n_mask++;
    for (int32_t t = 0; t < c->n_vocab; t++)
        if (c->ok[t >> 6] >> (t & 63) & 1)
            allowed[t >> 6] |= (uint64_t)1 << (t & 63);
    return FR_OK;
}

static fr_status toy_accept(void *self, int32_t t, fr_err *err)
{
    (void)self;
    (void)t;
    (void)err;
    return FR_OK;
}

static bool toy_complete(void *self)
{
    (void)self;
    return false;
}

static const fr_constraint_ops toy_ops = {"toy", toy_allows, toy_mask, toy_accept, toy_complete,
                                          NULL};

static void toy_allow(toy_cons *c, int32_t t) { c->ok[t >> 6] |= (uint64_t)1 << (t & 63); }

static void test_constrained(void)
{
    enum { NV = 200 };
    float l[NV];
    for (int i = 0; i < NV; i++)
        l[i] = (float)(i % 97) / 10.0f; /* best: 96 (9.6), then 193 (9.6 - tie, higher id), 95 */
    toy_cons tc = {{0}, NV, 0, 0};
    fr_constraint *c = NULL;
    fr_err e;
    CHECK(fr_constraint_create(&toy_ops, &tc, &c, &e) == FR_OK);
    fr_sampler_params p = plain();
    p.temperature = 0.0f;
    p.logprobs = true;
    fr_sampler *s = make(&p, NV);
    fr_sample out;
    /* the best token allowed: taken with one question, no mask */
    toy_allow(&tc, 96);
    toy_allow(&tc, 3);
    CHECK(fr_sampler_sample_constrained(s, l, c, &out, &e) == FR_OK);
    CHECK_EQ_INT(out.token, 96);
    CHECK_EQ_INT(tc.n_mask, 0);
    CHECK_EQ_INT(tc.n_allows, 1);
    /* refused: greedy walks down the candidates (96, 193, 95, 192, 94 ...) */
    memset(tc.ok, 0, sizeof tc.ok);
    toy_allow(&tc, 94);
    toy_allow(&tc, 3);
    tc.n_allows = 0;
    CHECK(fr_sampler_sample_constrained(s, l, c, &out, &e) == FR_OK);
    CHECK_EQ_INT(out.token, 94);
    CHECK_EQ_INT(tc.n_mask, 0);
    CHECK_EQ_INT(tc.n_allows, 5);
    /* its log-probability is that of the unconstrained softmax */
    double z = 0;
    for (int i = 0; i < NV; i++)
        z += exp((double)l[i] - 9.6);
    CHECK_NEAR(out.logprob, (double)l[94] - 9.6 - log(z), 1e-5);
    /* nothing in the best 64: the mask decides (token 3, logit 0.3) */
    memset(tc.ok, 0, sizeof tc.ok);
    toy_allow(&tc, 3);
    CHECK(fr_sampler_sample_constrained(s, l, c, &out, &e) == FR_OK);
    CHECK_EQ_INT(out.token, 3);
    CHECK_EQ_INT(tc.n_mask, 1);
    /* nothing allowed at all: token -1, not an error */
    memset(tc.ok, 0, sizeof tc.ok);
    CHECK(fr_sampler_sample_constrained(s, l, c, &out, &e) == FR_OK);
    CHECK_EQ_INT(out.token, -1);
    fr_sampler_free(s);

    /* sampling: only allowed tokens, in proportion to their probability
     * (three tokens allowed, no truncation: p ~ exp(logit)) */
    p = plain();
    p.seed = 7;
    s = make(&p, NV);
    memset(tc.ok, 0, sizeof tc.ok);
    int32_t al[3] = {10, 60, 150}; /* logits 1.0, 6.0, 5.3 */
    for (int k = 0; k < 3; k++)
        toy_allow(&tc, al[k]);
    int counts[3] = {0, 0, 0};
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        CHECK(fr_sampler_sample_constrained(s, l, c, &out, &e) == FR_OK);
        int k = out.token == al[0] ? 0 : out.token == al[1] ? 1 : out.token == al[2] ? 2 : -1;
        CHECK_MSG(k >= 0, "token %d is not allowed", out.token);
        if (k >= 0)
            counts[k]++;
    }
    double w[3], tw = 0;
    for (int k = 0; k < 3; k++)
        tw += (w[k] = exp((double)l[al[k]]));
    for (int k = 0; k < 3; k++) {
        double pk = w[k] / tw, sd = sqrt(N * pk * (1 - pk));
        CHECK_MSG(fabs(counts[k] - N * pk) <= 5 * sd + 1, "token %d: %d of %d, want %.0f", al[k],
                  counts[k], N, N * pk);
    }
    fr_sampler_free(s);

    /* with top-k, a refused draw is drawn again among the kept candidates that are
     * allowed, in proportion to their probability, with no mask (top 5 here: 96, 193,
     * 95, 192, 94; 193 and 94 allowed, logits 9.6 and 9.4) */
    p = plain();
    p.top_k = 5;
    p.seed = 11;
    s = make(&p, NV);
    memset(tc.ok, 0, sizeof tc.ok);
    toy_allow(&tc, 193);
    toy_allow(&tc, 94);
    tc.n_mask = 0;
    int c193 = 0, c94 = 0;
    for (int i = 0; i < N; i++) {
        CHECK(fr_sampler_sample_constrained(s, l, c, &out, &e) == FR_OK);
        c193 += out.token == 193;
        c94 += out.token == 94;
    }
    CHECK_EQ_INT(c193 + c94, N);
    CHECK_EQ_INT(tc.n_mask, 0);
    double p193 = 1.0 / (1.0 + exp(-0.2)), sd = sqrt(N * p193 * (1 - p193));
    CHECK_MSG(fabs(c193 - N * p193) <= 5 * sd, "193 drawn %d of %d, want %.0f", c193, N, N * p193);
    fr_sampler_free(s);
    fr_constraint_free(c);
}

int main(void)
{
    test_greedy();
    test_distribution();
    test_truncation();
    test_large_vocab();
    test_penalties();
    test_seeds();
    test_logprobs();
    test_errors();
    test_no_alloc();
    test_constrained();
    TEST_END();
}
