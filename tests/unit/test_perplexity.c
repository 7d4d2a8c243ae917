/*
 * Perplexity against a deliberately naive reference written here: every
 * chunk fed one token at a time through fr_context_decode (BOS replacing
 * the chunk's first token), softmax in double precision, the mean negative
 * log-likelihood of the second half of each chunk, PPL = exp(mean) and
 * llama.cpp's uncertainty from a two-pass variance. The statistics are also
 * checked on values worked out by hand.
 *
 * Run with arguments, `test_perplexity MODEL TEXT CTX [CHUNKS [LORA[:S]]]`,
 * it prints the naive result for that input, so tests/cli/perplexity.sh can
 * check the command's output against it.
 */
#include "test.h"

#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/perplexity.h>
#include <frugal/synth.h>
#include <frugal/tokenizer.h>
#include <unistd.h>

typedef struct naive_result {
    double ppl, err, mean_nll;
    size_t count;
} naive_result;

/* The naive method over tokens[0 .. n_chunks * n_ctx). */
static int naive_ppl(fr_model *m, fr_lora *ad, float scale, const int32_t *tokens,
                     uint32_t n_chunks, uint32_t n_ctx, int32_t bos, naive_result *out)
{
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = 1;
    fr_context *c = NULL;
    fr_err e;
    if (fr_context_create(m, &cp, &c, &e) != FR_OK) {
        fprintf(stderr, "context: %s\n", e.msg);
        return 1;
    }
    if (ad && fr_context_set_lora(c, &ad, &scale, 1, &e) != FR_OK) {
        fprintf(stderr, "lora: %s\n", e.msg);
        fr_context_free(c);
        return 1;
    }
    uint32_t V = fr_model_hparams(m)->n_vocab;
    size_t cap = (size_t)n_chunks * n_ctx, count = 0;
    double *all = malloc(cap * sizeof *all);
    for (uint32_t k = 0; k < n_chunks; k++) {
        const int32_t *chunk = tokens + (size_t)k * n_ctx;
        fr_context_seq_truncate(c, 0, 0);
        for (uint32_t i = 0; i + 1 < n_ctx; i++) {
            int32_t tok = (i == 0 && bos >= 0) ? bos : chunk[i];
            fr_batch b = {1, &tok, NULL, NULL};
            if (fr_context_decode(c, &b, &e) != FR_OK) {
                fprintf(stderr, "decode: %s\n", e.msg);
                free(all);
                fr_context_free(c);
                return 1;
            }
            if (i < n_ctx / 2)
                continue;
            const float *lg = fr_context_logits(c, 0);
            double mx = -INFINITY, z = 0;
            for (uint32_t v = 0; v < V; v++)
                if (lg[v] > mx)
                    mx = lg[v];
            for (uint32_t v = 0; v < V; v++)
                z += exp((double)lg[v] - mx);
            double p = exp((double)lg[chunk[i + 1]] - mx) / z;
            all[count++] = -log(p);
        }
    }
    double s = 0, ss = 0;
    for (size_t i = 0; i < count; i++)
        s += all[i];
    double mean = s / (double)count;
    for (size_t i = 0; i < count; i++)
        ss += (all[i] - mean) * (all[i] - mean);
    out->mean_nll = mean;
    out->ppl = exp(mean);
    out->err = sqrt(ss / (double)count / (double)(count - 1)) * out->ppl;
    out->count = count;
    free(all);
    fr_context_free(c);
    return 0;
}

/* The library's result for the same input. */
static fr_status lib_ppl(fr_model *m, const int32_t *tokens, uint32_t n_chunks, uint32_t n_ctx,
                         int32_t bos, uint32_t n_batch, int threads, fr_ppl_acc *acc)
{
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_threads = (uint32_t)threads;
    fr_context *c = NULL;
    fr_err e;
    fr_status st = fr_context_create(m, &cp, &c, &e);
    if (st)
        return st;
    uint32_t ns = fr_ppl_scored_per_chunk(n_ctx);
    double *nll = malloc(ns * sizeof *nll);
    memset(acc, 0, sizeof *acc);
    for (uint32_t k = 0; k < n_chunks && !st; k++) {
        st = fr_ppl_chunk(c, tokens + (size_t)k * n_ctx, n_ctx, bos, nll, &e);
        if (!st)
            fr_ppl_acc_add(acc, nll, ns);
    }
    if (st)
        fprintf(stderr, "chunk: %s\n", e.msg);
    free(nll);
    fr_context_free(c);
    return st;
}

static void test_hand_stats(void)
{
    CHECK_EQ_INT(fr_ppl_scored_per_chunk(512), 255);
    CHECK_EQ_INT(fr_ppl_scored_per_chunk(7), 3); /* first = 3: positions 3,4,5 */
    fr_ppl_acc a = {0, 0, 0};
    double v[4] = {1, 2, 3, 4};
    fr_ppl_acc_add(&a, v, 4);
    /* mean 2.5, mean of squares 7.5, variance 1.25: sqrt(1.25 / 3) * e^2.5 */
    CHECK_NEAR(fr_ppl_acc_ppl(&a), 12.182493960703473, 1e-12);
    CHECK_NEAR(fr_ppl_acc_err(&a), 0.6454972243679028 * 12.182493960703473, 1e-9);
    fr_ppl_acc one = {0, 0, 0};
    fr_ppl_acc_add(&one, v, 1);
    CHECK(isnan(fr_ppl_acc_err(&one)));
    fr_ppl_acc flat = {0, 0, 0};
    double f[3] = {2, 2, 2};
    fr_ppl_acc_add(&flat, f, 3);
    CHECK(isnan(fr_ppl_acc_err(&flat)));

    fr_ppl_pair p;
    memset(&p, 0, sizeof p);
    double b1[2] = {1, 1}, t1[2] = {0.5, 1}, b2[2] = {1, 1}, t2[2] = {0.5, 1};
    fr_ppl_pair_add(&p, b1, t1, 2);
    fr_ppl_pair_add(&p, b2, t2, 2);
    fr_ppl_pair_stats s;
    fr_ppl_pair_stats_get(&p, &s);
    CHECK_NEAR(s.ppl_base, exp(1.0), 1e-12);
    CHECK_NEAR(s.ppl_tuned, exp(0.75), 1e-12);
    CHECK_NEAR(s.ratio, exp(-0.25), 1e-12);
    CHECK_NEAR(s.delta, -0.25, 1e-12);
    /* d = {-0.5, 0, -0.5, 0}: variance 0.0625, se sqrt(0.0625 / 3) */
    CHECK_NEAR(s.delta_se, 0.14433756729740643, 1e-12);
    /* both chunks have mean -0.25: no spread between chunks */
    CHECK_NEAR(s.delta_se_chunks, 0.0, 1e-12);
}

static void compare(fr_model *m, const int32_t *tokens, size_t n_tokens, uint32_t n_ctx,
                    int32_t bos, const char *what)
{
    uint32_t n_chunks = (uint32_t)(n_tokens / n_ctx);
    naive_result r;
    if (naive_ppl(m, NULL, 1.0f, tokens, n_chunks, n_ctx, bos, &r)) {
        CHECK_MSG(false, "%s: naive reference failed", what);
        return;
    }
    /* one pass per chunk, a chunk cut into batches, and several threads
     * must all agree with the naive result */
    uint32_t batches[3] = {n_ctx, 5, n_ctx};
    int threads[3] = {1, 1, 3};
    for (int k = 0; k < 3; k++) {
        fr_ppl_acc a;
        fr_status st = lib_ppl(m, tokens, n_chunks, n_ctx, bos, batches[k], threads[k], &a);
        CHECK_MSG(st == FR_OK, "%s: library perplexity failed", what);
        if (st)
            continue;
        CHECK_EQ_INT(a.count, r.count);
        double p = fr_ppl_acc_ppl(&a), er = fr_ppl_acc_err(&a);
        CHECK_MSG(fabs(p - r.ppl) <= 1e-5 * r.ppl, "%s (batch %u, %d threads): PPL %.9g vs "
                  "naive %.9g", what, batches[k], threads[k], p, r.ppl);
        CHECK_MSG(fabs(er - r.err) <= 1e-4 * r.err, "%s: +/- %.9g vs naive %.9g", what, er,
                  r.err);
    }
}

static const char k_text[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park with her friends. One day, she saw a big red ball under a tree. She ran to the ball "
    "and kicked it very hard. The ball flew over the fence and into the garden of an old man. "
    "Lily was sad, but the old man smiled and gave the ball back. They became good friends and "
    "played together every day. ";

static void test_stories(void)
{
    char path[512];
    fr_test_shared("models/stories260K.gguf", path, sizeof path);
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    fr_err e;
    CHECK(fr_model_load(path, &m, &e) == FR_OK);
    CHECK(m && fr_tokenizer_from_gguf(fr_model_gguf(m), &tok, &e) == FR_OK);
    if (!m || !tok) {
        fr_model_free(m);
        return;
    }
    size_t reps = 4, len = strlen(k_text);
    char *text = malloc(len * reps + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(text + i * len, k_text, len);
    text[len * reps] = '\0';
    int32_t *ids = NULL;
    size_t n = 0;
    fr_encode_opts eo = {1, 0, false};
    CHECK(fr_tokenize(tok, text, len * reps, &eo, &ids, &n, &e) == FR_OK);
    CHECK(n > 200 && ids[0] == 1);
    compare(m, ids, n, 64, 1, "stories260K ctx 64");
    compare(m, ids, n, 33, 1, "stories260K ctx 33 (odd)");
    /* errors: a chunk longer than the context, or too short */
    fr_context *c = NULL;
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 1;
    double nll[64];
    if (fr_context_create(m, &cp, &c, &e) == FR_OK) {
        CHECK(fr_ppl_chunk(c, ids, 32, 1, nll, &e) == FR_E_INVALID);
        CHECK(fr_ppl_chunk(c, ids, 3, 1, nll, &e) == FR_E_INVALID);
        int32_t bad[8] = {1, 2, 3, 100000, 5, 6, 7, 8};
        CHECK(fr_ppl_chunk(c, bad, 8, 1, nll, &e) == FR_E_INVALID);
    }
    fr_context_free(c);
    free(ids);
    free(text);
    fr_tokenizer_free(tok);
    fr_model_free(m);
}

static void test_random_model(void)
{
    char dir[256], path[320];
    fr_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/q.gguf", dir);
    fr_synth_spec s = {0};
    s.arch = "qwen2";
    s.n_vocab = 300;
    s.n_embd = 64;
    s.n_layer = 2;
    s.n_ff = 96;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ctx = 128;
    s.wtype = FR_TYPE_Q8_0;
    s.embd_type = FR_TYPE_COUNT_;
    s.qkv_bias = true;
    s.seed = 5;
    fr_err e;
    fr_model *m = NULL;
    CHECK(fr_synth_write(&s, path, NULL, NULL, &e) == FR_OK);
    CHECK(fr_model_load(path, &m, &e) == FR_OK);
    if (m) {
        int32_t toks[200];
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < 200; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            toks[i] = (int32_t)(x % 300);
        }
        compare(m, toks, 200, 40, -1, "random qwen2 q8_0, no BOS");
        compare(m, toks, 200, 50, 7, "random qwen2 q8_0, BOS 7");
    }
    fr_model_free(m);
    unlink(path);
    rmdir(dir);
}

/* test_perplexity MODEL TEXT CTX [CHUNKS [LORA[:S]]]: the naive result. */
static int reference_tool(int argc, char **argv)
{
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    fr_lora *ad = NULL;
    fr_err e;
    if (fr_model_load(argv[1], &m, &e) || fr_tokenizer_from_gguf(fr_model_gguf(m), &tok, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    float scale = 1.0f;
    if (argc > 5) {
        char p[1024];
        snprintf(p, sizeof p, "%s", argv[5]);
        char *colon = strrchr(p, ':');
        if (colon) {
            *colon = '\0';
            scale = strtof(colon + 1, NULL);
        }
        if (fr_lora_load(p, m, &ad, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f)
        return 1;
    char *text = malloc(1 << 24);
    size_t len = fread(text, 1, (1 << 24) - 1, f);
    fclose(f);
    int32_t *ids = NULL;
    size_t n = 0;
    fr_encode_opts eo = {-1, 0, false};
    if (fr_tokenize(tok, text, len, &eo, &ids, &n, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    uint32_t n_ctx = (uint32_t)strtoul(argv[3], NULL, 10);
    uint32_t n_chunks = (uint32_t)(n / n_ctx);
    if (argc > 4 && strtoul(argv[4], NULL, 10) > 0 && strtoul(argv[4], NULL, 10) < n_chunks)
        n_chunks = (uint32_t)strtoul(argv[4], NULL, 10);
    int32_t bos = fr_tokenizer_add_bos(tok) ? fr_tokenizer_bos(tok) : -1;
    naive_result r;
    int rc = naive_ppl(m, ad, scale, ids, n_chunks, n_ctx, bos, &r);
    if (!rc)
        printf("%.10f %.10f %zu\n", r.ppl, r.err, r.count);
    free(ids);
    free(text);
    fr_lora_free(ad);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 4)
        return reference_tool(argc, argv);
    test_hand_stats();
    test_random_model();
    test_stories();
    TEST_END();
}
