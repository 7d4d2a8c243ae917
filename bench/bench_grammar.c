/* bench_grammar: decode speed with and without a JSON Schema constraint, on
 * a random-weight model with the exact shape of Qwen2.5-0.5B (151936-token
 * vocabulary) and Qwen2's real tokenizer (../shared/vocab), so the
 * constraint walks a real 151k-token vocabulary. Runs are interleaved
 * (plain, constrained, plain, ...) so machine noise hits both alike; the
 * constraint's own time is measured around its calls, per generated token.
 * The schema is an array of at least 200 person objects, so that every run
 * generates all its tokens. Times are CPU times (this process; the
 * constraint's on the calling thread), so a busy shared machine slows both
 * alike; tok/s is wall-clock, for reference. Prints a markdown table; never
 * fails on a number.
 *
 * Usage: bench_grammar [--model FILE] [--vocab FILE] [-n TOKENS] [-t THREADS] [-r REPS] */
#include <frugal/generate.h>
#include <frugal/grammar.h>
#include <frugal/synth.h>

#include "base/clock.h"
#include "tensor/cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char SCHEMA[] =
    "{\"type\": \"array\", \"minItems\": 200, \"items\": {\"type\": \"object\", "
    "\"properties\": {\"name\": {\"type\": \"string\", \"maxLength\": 24}, "
    "\"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 120}, "
    "\"email\": {\"type\": \"string\", \"maxLength\": 40}, "
    "\"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"admin\", \"user\", \"guest\"]}, "
    "\"maxItems\": 3}, \"active\": {\"type\": \"boolean\"}}, "
    "\"required\": [\"name\", \"age\", \"email\", \"tags\", \"active\"], "
    "\"additionalProperties\": false}}";

/* A constraint that times the one it wraps. */
typedef struct timed {
    fr_constraint *in;
    double s;
    long allows, masks, accepts;
} timed;

static bool t_allows(void *u, int32_t t)
{
    timed *x = u;
    double t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    bool r = fr_constraint_allows(x->in, t);
    x->s += cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    x->allows++;
    return r;
}

static fr_status t_mask(void *u, uint64_t *m, fr_err *e)
{
    timed *x = u;
    double t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    fr_status r = fr_constraint_mask(x->in, m, e);
    x->s += cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    x->masks++;
    return r;
}

static fr_status t_accept(void *u, int32_t t, fr_err *e)
{
    timed *x = u;
    double t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    fr_status r = fr_constraint_accept(x->in, t, e);
    x->s += cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    x->accepts++;
    return r;
}

static bool t_complete(void *u) { return fr_constraint_complete(((timed *)u)->in); }

static const fr_constraint_ops timed_ops = {"timed", t_allows, t_mask, t_accept, t_complete, NULL};

typedef struct text {
    char *s;
    size_t n, cap;
} text;

static bool collect(void *user, const fr_gen_event *ev)
{
    text *t = user;
    if (t->n + ev->len + 1 > t->cap) {
        size_t nc = (t->cap + ev->len) * 2 + 256;
        char *ns = realloc(t->s, nc);
        if (!ns)
            return false;
        t->s = ns;
        t->cap = nc;
    }
    memcpy(t->s + t->n, ev->text, ev->len);
    t->n += ev->len;
    t->s[t->n] = '\0';
    return true;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *vocab = NULL;
    long n_tok = 128, threads = 1, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc)
            vocab = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n_tok = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            reps = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_grammar [--model FILE] [--vocab FILE] [-n TOKENS] "
                            "[-t THREADS] [-r REPS]\n");
            return 2;
        }
    }
    char vpath[1024];
    if (!vocab) {
        const char *sh = getenv("FR_SHARED") ? getenv("FR_SHARED") : "../shared";
        snprintf(vpath, sizeof vpath, "%s/vocab/ggml-vocab-qwen2.gguf", sh);
        vocab = vpath;
    }
    fr_err e;
    char *cached = NULL;
    if (!model) {
        if (fr_synth_cached("qwen2.5-0.5b:q4_0", NULL, 2, NULL, NULL, &cached, &e) != FR_OK) {
            fprintf(stderr, "bench_grammar: %s\n", e.msg);
            return 1;
        }
        model = cached;
    }
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    fr_context *ctx = NULL;
    fr_grammar_vocab *gv = NULL;
    if (fr_model_load(model, &m, &e) || fr_tokenizer_load(vocab, &tok, &e)) {
        fprintf(stderr, "bench_grammar: %s\n", e.msg);
        return 1;
    }
    uint32_t V = fr_model_hparams(m)->n_vocab;
    if (fr_tokenizer_n_tokens(tok) != V)
        fprintf(stderr, "bench_grammar: note: the vocabulary has %u tokens, the model %u\n",
                fr_tokenizer_n_tokens(tok), V);
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 1024;
    cp.n_threads = (uint32_t)threads;
    double t0 = fr_now_s();
    if (fr_context_create(m, &cp, &ctx, &e) ||
        fr_grammar_vocab_create(tok, V, NULL, 0, &gv, &e)) {
        fprintf(stderr, "bench_grammar: %s\n", e.msg);
        return 1;
    }
    double trie_s = fr_now_s() - t0;
    (void)trie_s;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    static const char prompt[] = "A list of the users, as JSON:\n";
    fr_encode_opts eo = {0, 0, false};
    if (fr_tokenize(tok, prompt, sizeof prompt - 1, &eo, &ids, &n_ids, &e)) {
        fprintf(stderr, "bench_grammar: %s\n", e.msg);
        return 1;
    }
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    printf("# bench_grammar\n\nmachine: %s, %ld thread(s), frugal %s (%s); model %s (random "
           "weights), vocabulary %s (%u tokens); %ld generated tokens per run, %ld runs each, "
           "interleaved; sampling T 0.8, top-k 40, top-p 0.95, min-p 0.05, seed = run\n\n",
           cpu, threads, fr_version(), fr_commit(), model, vocab, fr_tokenizer_n_tokens(tok),
           n_tok, reps);
    double plain_tps = 0, cons_tps = 0, cons_time = 0, plain_cpu = 0, cons_cpu = 0;
    long cons_tokens = 0, plain_tokens = 0, masks = 0, allows = 0;
    bool valid = true;
    size_t out_bytes = 0;
    for (long r = 0; r < reps; r++) {
        for (int mode = 0; mode < 2; mode++) {
            fr_gen_params gp;
            fr_gen_params_default(&gp);
            gp.max_tokens = (int32_t)n_tok;
            gp.sampling.seed = (uint64_t)r + 1;
            gp.ignore_eog = mode == 0;
            timed tw = {0};
            fr_constraint *wrap = NULL;
            fr_grammar *g = NULL;
            if (mode == 1) {
                if (fr_grammar_from_json_schema(SCHEMA, sizeof SCHEMA - 1, "bench", &g, &e) ||
                    fr_grammar_constraint(g, gv, &tw.in, &e) ||
                    fr_constraint_create(&timed_ops, &tw, &wrap, &e)) {
                    fprintf(stderr, "bench_grammar: %s\n", e.msg);
                    return 1;
                }
                gp.constraint = wrap;
            }
            fr_context_seq_truncate(ctx, 0, 0);
            text out = {0};
            fr_gen_stats gs;
            double c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
            if (fr_generate(ctx, 0, tok, ids, n_ids, &gp, collect, &out, &gs, &e)) {
                fprintf(stderr, "bench_grammar: %s\n", e.msg);
                return 1;
            }
            double cpu = cpu_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
            double tps = gs.t_decode_s > 0 ? gs.n_generated / gs.t_decode_s : 0;
            if (mode == 0) {
                plain_tps += tps;
                plain_cpu += cpu;
                plain_tokens += gs.n_generated;
            } else {
                cons_tps += tps;
                cons_cpu += cpu;
                cons_time += tw.s;
                cons_tokens += gs.n_generated;
                masks += tw.masks;
                allows += tw.allows;
                fr_grammar *chk = NULL;
                if (fr_grammar_from_json_schema(SCHEMA, sizeof SCHEMA - 1, "bench", &chk, &e) ==
                    FR_OK) {
                    valid &= fr_grammar_match(chk, out.s ? out.s : "", out.n) >= 0;
                    fr_grammar_free(chk);
                }
                out_bytes += out.n;
                if (r == 0)
                    fprintf(stderr, "bench_grammar: constrained output: %.200s\n",
                            out.s ? out.s : "");
            }
            fr_constraint_free(wrap);
            fr_constraint_free(tw.in);
            free(out.s);
        }
    }
    plain_tps /= (double)reps;
    cons_tps /= (double)reps;
    /* CPU ms per generated token; the prompt's prefill is in both and is small */
    double plain_ms = plain_tokens ? 1e3 * plain_cpu / (double)plain_tokens : 0;
    double cons_ms = cons_tokens ? 1e3 * cons_cpu / (double)cons_tokens : 0;
    double per_tok_ms = cons_tokens ? 1e3 * cons_time / (double)cons_tokens : 0;
    printf("| decode | tok/s (wall) | CPU ms/token | of which the constraint | constraint / plain "
           "step | masks / token | output |\n|---|---:|---:|---:|---:|---:|---|\n");
    printf("| plain | %.1f | %.2f | | | | |\n", plain_tps, plain_ms);
    printf("| JSON Schema | %.1f | %.2f | %.3f | %.1f%% | %.2f | %s, %zu bytes |\n", cons_tps,
           cons_ms, per_tok_ms, plain_ms > 0 ? 100.0 * per_tok_ms / plain_ms : 0.0,
           cons_tokens ? (double)masks / (double)cons_tokens : 0.0,
           valid ? "valid prefix" : "INVALID", out_bytes / (size_t)(reps ? reps : 1));
    printf("\nThe vocabulary trie for %u tokens is built once per model (%.0f ms here); "
           "`allows` calls per token: %.2f.\n", fr_tokenizer_n_tokens(tok), trie_s * 1e3,
           cons_tokens ? (double)allows / (double)cons_tokens : 0.0);
    free(ids);
    free(cached);
    fr_grammar_vocab_free(gv);
    fr_context_free(ctx);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    return 0;
}
