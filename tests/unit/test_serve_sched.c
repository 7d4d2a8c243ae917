/*
 * test_serve_sched.c - the server's slot scheduler on a random-weight model
 * with a byte vocabulary.
 *
 * The oracle is fr_generate on a context of its own (one sequence, no
 * batching): every job run through the scheduler - several at once from
 * several threads, over fewer slots than jobs - must produce the same text,
 * token count and finish reason. Also: prefix reuse (cached tokens),
 * cancellation frees the slot, a full queue answers 503, draining ends
 * running jobs with 503 and refuses new ones. Grounded jobs (constrained
 * decoding for POST /v1/ask) running beside ordinary ones must produce what
 * `frugal ask`'s own loop (fr_rag_model_generate, one sequence) produces,
 * and text the citation grammar accepts. Runs under ThreadSanitizer
 * (`make test-tsan`).
 *
 * `test_serve_sched --write-model PATH` only writes the test model (the CLI
 * server tests use it as their random-weight model).
 */
#include "test.h"

#include "serve/sched.h"

#include "rag/ask_model.h"
#include "text/chat_tokens.h"

#include <frugal/chat.h>
#include <frugal/generate.h>
#include <frugal/synth.h>

#include <pthread.h>
#include <unistd.h>

static fr_synth_spec model_spec(void)
{
    fr_synth_spec s = {0};
    s.arch = "llama";
    s.n_vocab = 512;
    s.n_embd = 64;
    s.n_layer = 2;
    s.n_ff = 128;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ctx = 1024;
    s.wtype = FR_TYPE_F32;
    s.embd_type = FR_TYPE_COUNT_;
    s.rope_base = 10000.0f;
    s.seed = 42;
    s.byte_vocab = true;
    return s;
}

static fr_model *model;
static fr_tokenizer *tok;

typedef struct tcase {
    const char *prompt;
    int32_t max_tokens;
    float temperature;
    uint64_t seed;
    const char *stop;
    bool logprobs;
    /* reference */
    char *ref_text;
    size_t ref_len;
    uint32_t ref_gen;
    fr_finish ref_finish;
    int32_t ref_stop_index;
    /* through the scheduler */
    srv_result res;
    bool submitted;
} tcase;

#define TC(p, m, t, sd, st, lp)                                                              \
    {.prompt = (p), .max_tokens = (m), .temperature = (t), .seed = (sd), .stop = (st), .logprobs = (lp)}

static void gen_params(const tcase *c, fr_gen_params *gp, const char **stops)
{
    fr_gen_params_default(gp);
    gp->max_tokens = c->max_tokens;
    gp->sampling.temperature = c->temperature;
    gp->sampling.seed = c->seed;
    gp->sampling.logprobs = c->logprobs;
    gp->sampling.top_logprobs = c->logprobs ? 3 : 0;
    if (c->stop) {
        stops[0] = c->stop;
        gp->stop = stops;
        gp->n_stop = 1;
    }
}

static void tokenize(const char *text, int32_t **ids, size_t *n)
{
    fr_encode_opts eo = {-1, 0, true};
    fr_err e;
    CHECK(fr_tokenize(tok, text, strlen(text), &eo, ids, n, &e) == FR_OK);
}

typedef struct ref_out {
    fr_buf text;
} ref_out;

static bool ref_emit(void *user, const fr_gen_event *ev)
{
    ref_out *o = user;
    fr_buf_append(&o->text, ev->text, ev->len);
    return true;
}

static void reference(tcase *c)
{
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 2;
    fr_context *ctx;
    fr_err e;
    CHECK(fr_context_create(model, &cp, &ctx, &e) == FR_OK);
    int32_t *ids;
    size_t n;
    tokenize(c->prompt, &ids, &n);
    fr_gen_params gp;
    const char *stops[1];
    gen_params(c, &gp, stops);
    ref_out o = {FR_BUF_INIT};
    fr_gen_stats st;
    CHECK(fr_generate(ctx, 0, tok, ids, n, &gp, ref_emit, &o, &st, &e) == FR_OK);
    c->ref_len = o.text.len;
    c->ref_text = fr_buf_take(&o.text);
    c->ref_gen = st.n_generated;
    c->ref_stop_index = st.stop_index;
    c->ref_finish = st.finish == FR_FINISH_CONTEXT ? FR_FINISH_LENGTH : st.finish;
    free(ids);
    fr_context_free(ctx);
}

static srv_job *make_job(const tcase *c)
{
    srv_job *j = srv_job_create();
    int32_t *ids;
    size_t n;
    tokenize(c->prompt, &ids, &n);
    fr_gen_params gp;
    const char *stops[1];
    gen_params(c, &gp, stops);
    srv_error e = {0};
    bool ok = srv_job_setup(j, tok, fr_tokenizer_n_tokens(tok), ids, n, &gp, NULL, &e);
    CHECK_MSG(ok, "setup: %s", e.message);
    free(ids);
    return j;
}

/* Client threads only submit and collect: the CHECK counters are not
 * thread-safe, so jobs are made (and results checked) in the main thread. */
typedef struct client {
    srv_sched *s;
    tcase *c;
    srv_job *j;
} client;

static void *client_main(void *arg)
{
    client *cl = arg;
    srv_job *j = cl->j;
    srv_error e = {0};
    /* a full queue is retried: this test is about equal output */
    while (!srv_sched_submit(cl->s, j, &e))
        usleep(1000);
    cl->c->submitted = true;
    while (!cl->c->res.done)
        srv_sched_collect(cl->s, j, &cl->c->res, 0.05);
    return NULL;
}

static srv_sched *make_sched(uint32_t n_seq, uint32_t max_queue, uint32_t n_batch,
                             fr_context **ctx_out)
{
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 256;
    cp.n_seq = n_seq;
    cp.n_threads = 2;
    fr_err e;
    CHECK(fr_context_create(model, &cp, ctx_out, &e) == FR_OK);
    srv_sched_params sp = {*ctx_out, tok, NULL, max_queue, n_batch, 0};
    srv_sched *s = NULL;
    CHECK(srv_sched_create(&sp, &s, &e) == FR_OK);
    return s;
}

static void test_equal_to_generate(void)
{
    tcase cases[] = {
        TC("Once upon a time", 40, 0.0f, 0, NULL, false),
        TC("the quick brown fox", 30, 0.0f, 0, NULL, true),
        TC("hello hello hello", 50, 0.9f, 7, NULL, false),
        TC("a b c d e f g h i j k l m n o p q r s t u v w x y z", 25, 1.0f, 1, NULL, true),
        TC("zz", 60, 0.7f, 5, "e", false),
        TC("Once upon a time", 40, 0.0f, 0, NULL, false), /* same prompt: prefix reuse */
        TC("x", 1, 0.0f, 0, NULL, false),
    };
    size_t nc = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < nc; i++)
        reference(&cases[i]);
    /* 3 slots, 7 concurrent clients, small batches so prefill is chunked */
    fr_context *ctx;
    srv_sched *s = make_sched(3, 16, 8, &ctx);
    pthread_t th[16];
    client cl[16];
    for (size_t i = 0; i < nc; i++) {
        cl[i] = (client){s, &cases[i], make_job(&cases[i])};
        CHECK(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0);
    }
    for (size_t i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
        srv_job_free(cl[i].j);
    }
    for (size_t i = 0; i < nc; i++) {
        tcase *c = &cases[i];
        CHECK_MSG(c->res.err.status == 0, "case %zu: error %s", i, c->res.err.message);
        CHECK_MSG(c->res.text.len == c->ref_len &&
                      memcmp(c->res.text.data ? c->res.text.data : "", c->ref_text, c->ref_len) == 0,
                  "case %zu: text differs:\n  got  '%.*s'\n  want '%s'", i, (int)c->res.text.len,
                  c->res.text.data ? c->res.text.data : "", c->ref_text);
        CHECK_MSG(c->res.n_generated == c->ref_gen, "case %zu: %u tokens, want %u", i,
                  c->res.n_generated, c->ref_gen);
        CHECK_MSG(c->res.finish == c->ref_finish, "case %zu: finish %s, want %s", i,
                  fr_finish_name(c->res.finish), fr_finish_name(c->ref_finish));
        /* pieces cover the text exactly, in order */
        size_t off = 0;
        for (size_t k = 0; k < c->res.n_pieces; k++) {
            CHECK(c->res.pieces[k].text_off == off);
            off += c->res.pieces[k].text_len;
        }
        CHECK(off == c->res.text.len);
        if (c->logprobs) {
            CHECK_MSG(c->res.n_samples > 0 || c->ref_gen <= 1, "case %zu: gen %u finish %s", i, c->ref_gen, fr_finish_name(c->ref_finish));
            for (size_t k = 0; k < c->res.n_samples; k++) {
                CHECK(c->res.samples[k].logprob <= 0);
                CHECK_EQ_INT(c->res.samples[k].n_top, 3);
            }
        } else {
            CHECK_EQ_INT(c->res.n_samples, 0);
        }
    }
    for (size_t i = 0; i < nc; i++)
        fprintf(stderr, "case %zu: %u tokens, %s, %zu bytes\n", i, cases[i].ref_gen, fr_finish_name(cases[i].ref_finish), cases[i].ref_len);
    CHECK_EQ_INT(cases[4].ref_finish, FR_FINISH_STOP);
    CHECK_EQ_INT(cases[4].ref_stop_index, 0);
    srv_sched_stats st;
    srv_sched_stats_get(s, &st);
    CHECK_EQ_INT(st.active, 0);
    CHECK_EQ_INT(st.queued, 0);
    CHECK_EQ_INT(st.slots, 3);
    uint64_t gen = 0;
    for (size_t i = 0; i < nc; i++)
        gen += cases[i].ref_gen;
    CHECK_EQ_INT(st.generated_tokens, gen);
    CHECK_STR(st.energy_source, "none");
    srv_sched_free(s);
    fr_context_free(ctx);
    for (size_t i = 0; i < nc; i++) {
        free(cases[i].ref_text);
        srv_result_clear(&cases[i].res);
    }
}

static void run_to_end(srv_sched *s, srv_job *j, srv_result *r)
{
    srv_error e = {0};
    CHECK_MSG(srv_sched_submit(s, j, &e), "%s", e.message);
    while (!r->done)
        srv_sched_collect(s, j, r, 0.05);
}

static void test_prefix_reuse(void)
{
    fr_context *ctx;
    srv_sched *s = make_sched(2, 4, 512, &ctx);
    tcase c = TC("Once upon a time there was a dragon", 8, 0.0f, 0, NULL, false);
    int32_t *ids;
    size_t n;
    tokenize(c.prompt, &ids, &n);
    srv_result r1 = {0}, r2 = {0};
    srv_job *j1 = make_job(&c), *j2 = make_job(&c);
    run_to_end(s, j1, &r1);
    CHECK_EQ_INT(r1.n_cached, 0);
    CHECK_EQ_INT(r1.n_prompt, n);
    run_to_end(s, j2, &r2);
    /* everything but the last prompt token comes from the cache */
    CHECK_EQ_INT(r2.n_cached, n - 1);
    CHECK(r1.text.len == r2.text.len && memcmp(r1.text.data, r2.text.data, r1.text.len) == 0);
    /* a prompt that does not fit a slot is refused, not run */
    {
        int32_t *big = calloc(300, sizeof *big);
        for (int k = 0; k < 300; k++)
            big[k] = 300 + k % 100;
        srv_job *jb = srv_job_create();
        fr_gen_params gp;
        fr_gen_params_default(&gp);
        srv_error be = {0};
        CHECK(srv_job_setup(jb, tok, fr_tokenizer_n_tokens(tok), big, 300, &gp, NULL, &be));
        srv_result br = {0};
        run_to_end(s, jb, &br);
        CHECK_EQ_INT(br.err.status, 400);
        CHECK_STR(br.err.code, "context_length_exceeded");
        srv_job_free(jb);
        srv_result_clear(&br);
        free(big);
    }
    srv_job_free(j1);
    srv_job_free(j2);
    srv_result_clear(&r1);
    srv_result_clear(&r2);
    free(ids);
    srv_sched_free(s);
    fr_context_free(ctx);
}

static void test_cancel_and_queue(void)
{
    fr_context *ctx;
    srv_sched *s = make_sched(1, 1, 512, &ctx);
    /* a job that would run to the end of the context */
    tcase lc = TC("The", -1, 0.8f, 1, NULL, false);
    srv_job *long_job = make_job(&lc);
    long_job->ignore_eog = true;
    srv_error e = {0};
    CHECK(srv_sched_submit(s, long_job, &e));
    srv_result lr = {0};
    while (lr.n_pieces < 3 && !lr.done)
        srv_sched_collect(s, long_job, &lr, 0.05);
    CHECK(!lr.done);
    /* the slot is busy: one job may wait, the next is refused */
    tcase sc = TC("Hi", 4, 0.0f, 0, NULL, false);
    srv_job *q1 = make_job(&sc), *q2 = make_job(&sc);
    CHECK(srv_sched_submit(s, q1, &e));
    memset(&e, 0, sizeof e);
    CHECK(!srv_sched_submit(s, q2, &e));
    CHECK_EQ_INT(e.status, 503);
    CHECK_STR(e.code, "overloaded");
    srv_sched_stats st;
    srv_sched_stats_get(s, &st);
    CHECK_EQ_INT(st.active, 1);
    CHECK_EQ_INT(st.queued, 1);
    /* cancelling the long job frees the slot for the queued one */
    srv_sched_cancel(s, long_job);
    srv_sched_collect(s, long_job, &lr, 0);
    CHECK(lr.done);
    CHECK_EQ_INT(lr.finish, FR_FINISH_CANCELLED);
    CHECK_EQ_INT(lr.err.status, 0);
    srv_result qr = {0};
    while (!qr.done)
        srv_sched_collect(s, q1, &qr, 0.05);
    CHECK_EQ_INT(qr.err.status, 0);
    CHECK_EQ_INT(qr.finish, FR_FINISH_LENGTH);
    CHECK_EQ_INT(qr.n_generated, 4);
    /* cancelling a queued job ends it at once */
    srv_job *l2 = make_job(&lc), *q3 = make_job(&sc);
    l2->ignore_eog = true;
    CHECK(srv_sched_submit(s, l2, &e));
    CHECK(srv_sched_submit(s, q3, &e));
    srv_sched_cancel(s, q3);
    srv_result q3r = {0};
    srv_sched_collect(s, q3, &q3r, 0);
    CHECK(q3r.done);
    CHECK_EQ_INT(q3r.n_generated, 0);
    /* draining ends the running job with 503 and refuses new ones */
    srv_sched_drain(s, 0.1);
    srv_result l2r = {0};
    while (!l2r.done)
        srv_sched_collect(s, l2, &l2r, 0.05);
    CHECK_EQ_INT(l2r.err.status, 503);
    CHECK_STR(l2r.err.code, "shutting_down");
    memset(&e, 0, sizeof e);
    CHECK(!srv_sched_submit(s, q2, &e));
    CHECK_EQ_INT(e.status, 503);
    srv_job_free(long_job);
    srv_job_free(q1);
    srv_job_free(q2);
    srv_job_free(l2);
    srv_job_free(q3);
    srv_result_clear(&lr);
    srv_result_clear(&qr);
    srv_result_clear(&q3r);
    srv_result_clear(&l2r);
    srv_sched_free(s);
    fr_context_free(ctx);
}

static void test_setup_errors(void)
{
    srv_job *j = srv_job_create();
    fr_gen_params gp;
    fr_gen_params_default(&gp);
    gp.sampling.repeat_penalty = 0; /* must be > 0 */
    int32_t t = 5;
    srv_error e = {0};
    CHECK(!srv_job_setup(j, tok, fr_tokenizer_n_tokens(tok), &t, 1, &gp, NULL, &e));
    CHECK_EQ_INT(e.status, 400);
    srv_job_free(j);
    j = srv_job_create();
    memset(&e, 0, sizeof e);
    CHECK(!srv_job_setup(j, tok, fr_tokenizer_n_tokens(tok), &t, 0, &gp, NULL, &e));
    CHECK_EQ_INT(e.status, 400);
    srv_job_free(j);
}

/* The grounded prompt as fr_rag_model_generate tokenizes it. */
static void grounded_prompt(const fr_chat_template *tmpl, const char *sys, const char *user,
                            int32_t **ids, size_t *n)
{
    fr_chat_msg msgs[2] = {{FR_CHAT_SYSTEM, sys, strlen(sys)}, {FR_CHAT_USER, user, strlen(user)}};
    fr_err e;
    CHECK(fr_chat_tokenize(tmpl, tok, msgs, 2, true, ids, n, &e) == FR_OK);
}

static void test_grounded(void)
{
    fr_chat_template *tmpl = NULL;
    fr_err e;
    CHECK(fr_chat_template_from_name("chatml", &tmpl, &e) == FR_OK);
    if (!tmpl)
        return;
    uint32_t V = fr_model_hparams(model)->n_vocab;
    static const char *const users[] = {
        "Passages:\n[1] Lily went to the park.\n[2] Tom stayed home.\nQuestion: where did Lily go?",
        "Passages:\n[1] The warranty lasts two years.\nQuestion: how long is the warranty?",
    };
    const char *sys = "Use only the passages; cite [n] after every sentence, or answer NOT_FOUND.";
    enum { NG = 2 };
    int ks[NG] = {2, 1};
    size_t max_bytes[NG] = {90, 60};
    /* the reference: frugal ask's loop on a context of its own */
    char *ref_text[NG];
    fr_rag_token_lp *ref_lps[NG];
    size_t ref_nlps[NG];
    for (int g = 0; g < NG; g++) {
        fr_context_params cp = fr_context_default_params();
        cp.n_ctx = 256;
        cp.n_threads = 2;
        fr_context *ctx;
        CHECK(fr_context_create(model, &cp, &ctx, &e) == FR_OK);
        fr_rag_model rm = {ctx, 0, tok, tmpl, NULL};
        fr_rag_gen_request rq = {0};
        rq.system = sys;
        rq.user = users[g];
        rq.n_passages = ks[g];
        fr_rag_cite_init(&rq.constraint, ks[g]);
        rq.max_bytes = max_bytes[g];
        fr_rag_gen_result rr;
        CHECK_MSG(fr_rag_model_generate(&rm, &rq, &rr, &e) == FR_OK, "%s", e.msg);
        ref_text[g] = rr.text;
        ref_lps[g] = rr.lps;
        ref_nlps[g] = rr.n_lps;
        fr_context_free(ctx);
    }
    /* two grounded jobs and two ordinary ones over two slots, small batches */
    fr_context *ctx;
    srv_sched *s = make_sched(2, 8, 16, &ctx);
    tcase plain[2] = {TC("Once upon a time", 30, 0.0f, 0, NULL, false),
                      TC("the quick brown fox", 20, 0.8f, 3, NULL, false)};
    for (int i = 0; i < 2; i++)
        reference(&plain[i]);
    srv_job *gj[NG];
    srv_result gr[NG];
    memset(gr, 0, sizeof gr);
    client cl[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        cl[i] = (client){s, &plain[i], make_job(&plain[i])};
        CHECK(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0);
    }
    for (int g = 0; g < NG; g++) {
        int32_t *ids;
        size_t n;
        grounded_prompt(tmpl, sys, users[g], &ids, &n);
        fr_rag_cite_state cs;
        fr_rag_cite_init(&cs, ks[g]);
        srv_error se = {0};
        gj[g] = srv_job_create();
        fr_constraint *cons = NULL;
        CHECK(fr_rag_cite_constraint(tok, V, &cs, &cons, &e) == FR_OK);
        fr_gen_params gp;
        fr_rag_gen_params(&gp, cons, max_bytes[g], -1);
        CHECK_MSG(srv_job_setup(gj[g], tok, V, ids, n, &gp, cons, &se), "%s", se.message);
        free(ids);
        while (!srv_sched_submit(s, gj[g], &se))
            usleep(1000);
    }
    for (int g = 0; g < NG; g++)
        while (!gr[g].done)
            srv_sched_collect(s, gj[g], &gr[g], 0.05);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        srv_job_free(cl[i].j);
        CHECK_MSG(plain[i].res.text.len == plain[i].ref_len &&
                      memcmp(plain[i].res.text.data ? plain[i].res.text.data : "", plain[i].ref_text,
                             plain[i].ref_len) == 0,
                  "plain job %d beside grounded ones: text differs", i);
        free(plain[i].ref_text);
        srv_result_clear(&plain[i].res);
    }
    for (int g = 0; g < NG; g++) {
        srv_result *r = &gr[g];
        const char *txt = r->text.data ? r->text.data : "";
        CHECK_MSG(r->err.status == 0, "grounded %d: %s", g, r->err.message);
        CHECK_MSG(r->text.len == strlen(ref_text[g]) && memcmp(txt, ref_text[g], r->text.len) == 0,
                  "grounded %d differs from frugal ask's loop:\n  got  '%.*s'\n  want '%s'", g,
                  (int)r->text.len, txt, ref_text[g]);
        CHECK_MSG(fr_rag_cite_check(txt, r->text.len, ks[g]) >= 0, "grounded %d: invalid: %.*s", g,
                  (int)r->text.len, txt);
        CHECK(r->text.len > 0);
        CHECK_EQ_INT(r->n_generated, (int)ref_nlps[g]);
        CHECK_EQ_INT(r->n_pieces, ref_nlps[g]);
        CHECK_EQ_INT(r->n_samples, ref_nlps[g]);
        for (size_t k = 0; k < r->n_pieces && k < ref_nlps[g]; k++) {
            const srv_piece *p = &r->pieces[k];
            CHECK(p->text_off == ref_lps[g][k].off && p->text_len == ref_lps[g][k].len);
            CHECK(p->sample >= 0);
            if (p->sample >= 0)
                CHECK_NEAR(r->samples[p->sample].logprob, ref_lps[g][k].logprob, 1e-3);
        }
        /* "length" only at the byte limit, "context" at a full context (256 here) */
        bool limit = r->text.len >= max_bytes[g];
        bool full = !limit && r->n_prompt + r->n_generated + 1 >= 256;
        CHECK(r->finish == (limit ? FR_FINISH_LENGTH : full ? FR_FINISH_CONTEXT : FR_FINISH_STOP));
        fprintf(stderr, "grounded %d: %u tokens, %s: %.*s\n", g, r->n_generated,
                fr_finish_name(r->finish), (int)r->text.len, txt);
        srv_job_free(gj[g]);
        srv_result_clear(r);
        free(ref_text[g]);
        free(ref_lps[g]);
    }
    srv_sched_free(s);
    fr_context_free(ctx);
    fr_chat_template_free(tmpl);
}

int main(int argc, char **argv)
{
    fr_synth_spec spec = model_spec();
    fr_err e;
    if (argc == 3 && strcmp(argv[1], "--write-model") == 0) {
        if (fr_synth_write(&spec, argv[2], NULL, NULL, &e) != FR_OK) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        return 0;
    }
    char dir[256], path[512];
    snprintf(path, sizeof path, "%s/serve_sched.gguf", fr_test_tmpdir(dir, sizeof dir));
    CHECK(fr_synth_write(&spec, path, NULL, NULL, &e) == FR_OK);
    CHECK(fr_model_load(path, &model, &e) == FR_OK);
    CHECK(fr_tokenizer_from_gguf(fr_model_gguf(model), &tok, &e) == FR_OK);
    if (!model || !tok)
        TEST_END();
    test_setup_errors();
    test_equal_to_generate();
    test_prefix_reuse();
    test_cancel_and_queue();
    test_grounded();
    fr_tokenizer_free(tok);
    fr_model_free(model);
    remove(path);
    rmdir(dir);
    TEST_END();
}
