/* bench_tune - LoRA fine-tuning: the PubMedQA domain-adaptation run on
 * stories260K (held-out perplexity before/after, training tokens/s, peak
 * RSS, the loss curve) and training speed and memory for rank 16, ctx 256
 * on a Qwen2.5-0.5B-shaped Q4_0 base (random weights, generated once into
 * the synthetic-model cache). Each part runs in its own process so its peak
 * RSS is its own. Prints markdown; never fails on a number.
 *
 *   ./build/bench_tune [--shared DIR] [--threads N] [--steps N] [--qwen-steps N]
 *                      [--part stories|qwen|all] [--quick]
 *
 * Held-out perplexity is measured two ways: the trainer's own mean
 * cross-entropy on held-out abstracts (cut into training windows), and
 * llama.cpp's perplexity method (frugal/perplexity.h: chunks of 128 tokens,
 * second half scored) with the saved adapter applied by the LoRA runtime,
 * paired against the base on the same chunks.
 */
#include <frugal/base.h>
#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/perplexity.h>
#include <frugal/synth.h>
#include <frugal/tokenizer.h>
#include <frugal/tune.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "tune/dataset.h"
#include "tensor/cpu.h"

typedef struct bench_opts {
    const char *shared;
    int threads;
    long steps, qwen_steps;
    const char *part;
    bool quick;
} bench_opts;

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- part 1: stories260K on PubMedQA ------------------------------------------ */

typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static void tb_add(text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Every 10th abstract (by PubMed id) is held out. Train: JSONL text records;
 * held: the same as JSONL (trainer eval) and as plain text (perplexity). */
static int load_pubmed(const char *path, text_buf *train, text_buf *held_jsonl,
                       text_buf *held_txt, int *n_train, int *n_held)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "bench_tune: %s: %s\n", path, je.text);
        return 1;
    }
    size_t n = json_object_size(root), i = 0;
    const char **keys = malloc(n * sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(char *), cmp_str);
    *n_train = *n_held = 0;
    for (i = 0; i < n; i++) {
        json_t *ctx = json_object_get(json_object_get(root, keys[i]), "CONTEXTS");
        text_buf a = {0};
        for (size_t j = 0; j < json_array_size(ctx); j++) {
            if (j)
                tb_add(&a, " ", 1);
            tb_add(&a, json_string_value(json_array_get(ctx, j)),
                   json_string_length(json_array_get(ctx, j)));
        }
        json_t *rec = json_pack("{s:s}", "text", a.p ? a.p : "");
        char *line = json_dumps(rec, JSON_COMPACT);
        bool held = i % 10 == 9;
        tb_add(held ? held_jsonl : train, line, strlen(line));
        tb_add(held ? held_jsonl : train, "\n", 1);
        if (held) {
            tb_add(held_txt, a.p ? a.p : "", a.len);
            tb_add(held_txt, "\n\n", 2);
            (*n_held)++;
        } else {
            (*n_train)++;
        }
        free(line);
        json_decref(rec);
        free(a.p);
    }
    free(keys);
    json_decref(root);
    return 0;
}

/* llama.cpp-method perplexity of text, base vs adapter, paired. */
static int paired_ppl(fr_model *m, const fr_tokenizer *tok, const char *text, size_t len,
                      const char *adapter, int threads, uint32_t n_ctx, fr_ppl_pair_stats *out)
{
    fr_err e;
    int32_t *ids = NULL;
    size_t n = 0;
    fr_encode_opts eo = FR_ENCODE_DEFAULTS;
    if (fr_tokenize(tok, text, len, &eo, &ids, &n, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        return 1;
    }
    fr_lora *a = NULL;
    fr_context *c = NULL;
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = (uint32_t)threads;
    if (fr_lora_load(adapter, m, &a, &e) || fr_context_create(m, &cp, &c, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        free(ids);
        fr_lora_free(a);
        return 1;
    }
    uint32_t per = fr_ppl_scored_per_chunk(n_ctx);
    double *nb = malloc(per * sizeof(double)), *nt = malloc(per * sizeof(double));
    fr_ppl_pair pair;
    memset(&pair, 0, sizeof pair);
    int32_t bos = fr_tokenizer_add_bos(tok) ? fr_tokenizer_bos(tok) : -1;
    int rc = 0;
    for (size_t ch = 0; (ch + 1) * n_ctx <= n && !rc; ch++) {
        fr_context_clear_lora(c);
        if (fr_ppl_chunk(c, ids + ch * n_ctx, n_ctx, bos, nb, &e) ||
            fr_context_set_lora(c, &a, NULL, 1, &e) ||
            fr_ppl_chunk(c, ids + ch * n_ctx, n_ctx, bos, nt, &e)) {
            fprintf(stderr, "bench_tune: %s\n", e.msg);
            rc = 1;
            break;
        }
        fr_ppl_pair_add(&pair, nb, nt, per);
    }
    fr_ppl_pair_stats_get(&pair, out);
    printf("- perplexity (llama.cpp method, ctx %u, %llu chunks, %llu scored tokens): base "
           "%.2f ± %.2f → tuned %.2f ± %.2f; Δ log-PPL %.3f ± %.3f (paired per token), ± %.3f "
           "(per chunk)\n",
           n_ctx, (unsigned long long)pair.n_chunks, (unsigned long long)pair.count,
           out->ppl_base, out->ppl_base_err, out->ppl_tuned, out->ppl_tuned_err, out->delta,
           out->delta_se, out->delta_se_chunks);
    free(nb);
    free(nt);
    free(ids);
    fr_context_free(c);
    fr_lora_free(a);
    return rc;
}

static int part_stories(const bench_opts *o)
{
    char mpath[1024], dpath[1024];
    snprintf(mpath, sizeof mpath, "%s/models/stories260K.gguf", o->shared);
    snprintf(dpath, sizeof dpath, "%s/data/pubmedqa_ori_pqal.json", o->shared);
    fr_err e;
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    if (fr_model_load(mpath, &m, &e) || fr_tokenizer_load(mpath, &tok, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        return 1;
    }
    text_buf tr = {0}, hj = {0}, ht = {0};
    int n_train, n_held;
    if (load_pubmed(dpath, &tr, &hj, &ht, &n_train, &n_held))
        return 1;
    fr_tune_params p = fr_tune_default_params();
    p.rank = 16;
    p.alpha = 32;
    p.n_ctx = 128;
    p.batch = 8;
    p.lr = 3e-3;
    p.warmup = 20;
    p.total_steps = (uint64_t)o->steps;
    p.n_threads = (uint32_t)o->threads;
    fr_dataset_opts dopt = {FR_DATA_TEXT, p.n_ctx, NULL, false};
    fr_dataset *train = NULL, *held = NULL;
    fr_tuner *t = NULL;
    if (fr_dataset_load_memory(tr.p, tr.len, "train.jsonl", tok, &dopt, &train, &e) ||
        fr_dataset_load_memory(hj.p, hj.len, "held.jsonl", tok, &dopt, &held, &e) ||
        fr_tuner_create(m, &p, &t, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        return 1;
    }
    fr_dataset_stats ts;
    fr_dataset_get_stats(train, &ts);
    printf("## stories260K on PubMedQA abstracts\n\n");
    printf("Input: %s (TinyStories, 260K parameters, F32) tuned on %d PubMedQA abstracts "
           "(%llu tokens in %zu windows of %u), %d held out (every 10th by PubMed id). LoRA rank "
           "%u, alpha %g, all targets (%lld parameters); batch %u, lr %g cosine with %u warm-up "
           "steps, %llu steps (%.2f epochs), %d threads.\n\n",
           mpath, n_train, (unsigned long long)ts.n_tokens, ts.n_samples, p.n_ctx, n_held,
           p.rank, (double)p.alpha, (long long)fr_tuner_n_params(t), p.batch, p.lr, p.warmup,
           (unsigned long long)p.total_steps,
           (double)(p.total_steps * p.batch) / (double)fr_dataset_count(train), o->threads);
    fflush(stdout);
    double before, after;
    uint64_t n_held_tok;
    fr_tuner_eval(t, held, &before, &n_held_tok, &e);
    double t0 = fr_now_s(), ema = 0, first = 0;
    uint64_t tokens = 0;
    uint64_t marks[6] = {1, p.total_steps / 10, p.total_steps / 4, p.total_steps / 2,
                         3 * p.total_steps / 4, p.total_steps};
    printf("| step | loss (mean of the last 10 steps) | lr |\n|---:|---:|---:|\n");
    double win[10] = {0};
    for (uint64_t s = 0; s < p.total_steps; s++) {
        fr_tune_step_info info;
        if (fr_tuner_step(t, train, &info, &e)) {
            fprintf(stderr, "bench_tune: %s\n", e.msg);
            return 1;
        }
        tokens += info.n_tokens;
        win[s % 10] = info.loss;
        if (s == 0)
            first = info.loss;
        int nw = s + 1 < 10 ? (int)s + 1 : 10;
        ema = 0;
        for (int i = 0; i < nw; i++)
            ema += win[i];
        ema /= nw;
        for (int i = 0; i < 6; i++)
            if (info.step == marks[i] && (i == 0 || marks[i] != marks[i - 1]))
                printf("| %llu | %.3f | %.2e |\n", (unsigned long long)info.step, ema, info.lr);
    }
    double secs = fr_now_s() - t0;
    fr_tuner_eval(t, held, &after, NULL, &e);
    printf("\n- training: %llu tokens in %.1f s = **%.0f tokens/s** (%d threads); loss %.3f → "
           "%.3f; peak RSS %.1f MiB\n",
           (unsigned long long)tokens, secs, (double)tokens / secs, o->threads, first, ema,
           peak_rss_mib());
    printf("- held-out mean cross-entropy (%llu tokens in training windows): %.4f → %.4f, "
           "perplexity **%.2f → %.2f**\n",
           (unsigned long long)n_held_tok, before, after, exp(before), exp(after));
    char apath[] = "/tmp/bench_tune_XXXXXX";
    int fd = mkstemp(apath);
    if (fd >= 0)
        close(fd);
    int rc = 0;
    if (fr_tuner_save_adapter(t, apath, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        rc = 1;
    } else {
        fr_ppl_pair_stats ps;
        size_t len = o->quick && ht.len > 40000 ? 40000 : ht.len;
        rc = paired_ppl(m, tok, ht.p, len, apath, o->threads, 128, &ps);
    }
    unlink(apath);
    printf("\n");
    fr_tuner_free(t);
    fr_dataset_free(train);
    fr_dataset_free(held);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    free(tr.p), free(hj.p), free(ht.p);
    return rc;
}

/* ---- part 2: Qwen2.5-0.5B shape, Q4_0 --------------------------------------------- */

static void gen_progress(void *user, int stage, uint64_t done, uint64_t total)
{
    (void)user;
    static int last = -1;
    int pct = total ? (int)(100 * done / total) : 0;
    if (pct / 10 != last) {
        fprintf(stderr, "bench_tune: generating the qwen2.5-0.5b:q4_0 model: %s %d%%\n",
                stage ? "quantizing" : "writing", pct);
        last = pct / 10;
    }
}

static int part_qwen(const bench_opts *o)
{
    fr_err e;
    char *path = NULL;
    if (fr_synth_cached("qwen2.5-0.5b:q4_0", NULL, o->threads, gen_progress, NULL, &path, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        return 1;
    }
    fr_model *m = NULL;
    if (fr_model_load(path, &m, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        return 1;
    }
    const fr_hparams *hp = fr_model_hparams(m);
    fr_tune_params p = fr_tune_default_params();
    p.rank = 16;
    p.alpha = 32;
    p.n_ctx = 256;
    p.batch = 1;
    p.total_steps = (uint64_t)o->qwen_steps;
    p.n_threads = (uint32_t)o->threads;
    /* random token windows: speed does not depend on the text */
    fr_dataset *d = fr_dataset_new(p.n_ctx);
    uint64_t s = 1;
    int32_t toks[257];
    uint8_t mask[257];
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 257; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            toks[j] = (int32_t)((s >> 33) % hp->n_vocab);
            mask[j] = j > 0;
        }
        fr_dataset_add(d, toks, mask, 257, (size_t)i + 1, &e);
    }
    fr_tune_mem mem;
    fr_tuner *t = NULL;
    if (fr_tune_estimate(m, &p, &mem, &e) || fr_tuner_create(m, &p, &t, &e)) {
        fprintf(stderr, "bench_tune: %s\n", e.msg);
        return 1;
    }
    printf("## Qwen2.5-0.5B shape, Q4_0 base, LoRA rank 16, ctx 256\n\n");
    printf("Input: %s (random weights with Qwen2.5-0.5B's shapes: %u layers, n_embd %u, n_ff "
           "%u, vocab %u; %.0f MiB), all targets (%lld trainable parameters), batch 1, %ld "
           "steps, %d threads.\n\n",
           path, hp->n_layer, hp->n_embd, hp->n_ff, hp->n_vocab,
           (double)fr_model_weight_bytes(m) / 1048576.0, (long long)mem.n_params, o->qwen_steps,
           o->threads);
    printf("- memory estimate: %.0f MiB (base %.0f mapped, adapter %.1f, optimizer %.1f, "
           "activations %.1f, logits %.1f)\n",
           (double)mem.total / 1048576.0, (double)mem.base / 1048576.0,
           (double)mem.adapter / 1048576.0, (double)mem.optimizer / 1048576.0,
           (double)mem.activations / 1048576.0, (double)mem.logits / 1048576.0);
    fflush(stdout);
    double total = 0, rest = 0;
    uint64_t tok = 0, tok_rest = 0;
    printf("- steps:");
    for (long i = 0; i < o->qwen_steps; i++) {
        fr_tune_step_info info;
        double t0 = fr_now_s();
        if (fr_tuner_step(t, d, &info, &e)) {
            fprintf(stderr, "bench_tune: %s\n", e.msg);
            return 1;
        }
        double dt = fr_now_s() - t0;
        printf(" %.1f s%s", dt, i + 1 < o->qwen_steps ? "," : "\n");
        fflush(stdout);
        total += dt;
        tok += info.n_tokens;
        if (i > 0) {
            rest += dt;
            tok_rest += info.n_tokens;
        }
    }
    printf("- training: **%.1f tokens/s** (%.1f after the first step); peak RSS **%.0f MiB**\n\n",
           (double)tok / total, rest > 0 ? (double)tok_rest / rest : (double)tok / total,
           peak_rss_mib());
    fr_tuner_free(t);
    fr_dataset_free(d);
    fr_model_free(m);
    free(path);
    return 0;
}

static int run_part(int (*fn)(const bench_opts *), const bench_opts *o)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = fn(o);
        fflush(stdout);
        _exit(rc);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
    bench_opts o = {getenv("FR_SHARED") ? getenv("FR_SHARED") : "../shared", 0, 300, 3, "all",
                    false};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--shared") == 0 && i + 1 < argc)
            o.shared = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            o.threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            o.steps = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--qwen-steps") == 0 && i + 1 < argc)
            o.qwen_steps = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--part") == 0 && i + 1 < argc)
            o.part = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0)
            o.quick = true;
        else {
            fprintf(stderr,
                    "usage: bench_tune [--shared DIR] [--threads N] [--steps N] [--qwen-steps N] "
                    "[--part stories|qwen|all] [--quick]\n");
            return 2;
        }
    }
    if (o.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)n : 1;
    }
    if (o.quick) {
        o.steps = o.steps > 100 ? 100 : o.steps;
        o.qwen_steps = o.qwen_steps > 2 ? 2 : o.qwen_steps;
    }
    if (o.steps < 1)
        o.steps = 1;
    if (o.qwen_steps < 1)
        o.qwen_steps = 1;
    struct utsname u;
    uname(&u);
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    printf("bench_tune: frugal %s (commit %s)\n\n", fr_version(), fr_commit());
    printf("Machine: %s %s, %s, %ld CPUs; threads: %d\n\n", u.sysname, u.machine, cpu,
           sysconf(_SC_NPROCESSORS_ONLN), o.threads);
    int rc = 0;
    if (strcmp(o.part, "all") == 0 || strcmp(o.part, "stories") == 0)
        rc |= run_part(part_stories, &o);
    if (strcmp(o.part, "all") == 0 || strcmp(o.part, "qwen") == 0)
        rc |= run_part(part_qwen, &o);
    return rc;
}
