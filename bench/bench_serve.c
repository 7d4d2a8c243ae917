/* bench_serve: aggregate decode throughput of the server's scheduler
 * (continuous batching: one forward pass per step for all active slots) at
 * 1, 2, 4 and 8 parallel streams, on a random-weight model with the shapes
 * of Qwen2.5-0.5B (Q8_0 by default). HTTP is left out on purpose: this
 * measures what batching buys, not socket overhead.
 *
 * The model is generated once and cached where `frugal bench --synthetic`
 * keeps it (fr_synth_cached: ~/.cache/frugal/synthetic/qwen2.5-0.5b-TYPE.gguf).
 * Each stream gets its own prompt (no prefix reuse), greedy sampling over
 * the full vocabulary, end-of-generation ignored. Decode throughput =
 * tokens sampled after each stream's first / (last stream's end - first
 * stream's first token). Prints a markdown table; never fails on a number.
 *
 * Usage: bench_serve [--model FILE] [--type q8_0|q4_0|f16] [--streams 1,2,4,8]
 *                    [--tokens N] [--prompt N] [--threads N] [--json] */
#include "serve/sched.h"

#include <frugal/synth.h>

#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tensor/cpu.h"

static void progress(void *user, int stage, uint64_t done, uint64_t total)
{
    double *last = user;
    double now = fr_now_s();
    if (now - *last >= 5 || done == total) {
        fprintf(stderr, "bench_serve: %s the model: %.0f%%\n", stage ? "quantizing" : "writing",
                total ? 100.0 * (double)done / (double)total : 100.0);
        *last = now;
    }
}

typedef struct run_result {
    double tok_s;       /* aggregate decode tokens per second */
    double step_ms;     /* mean time per batched step during decode */
    double prefill_s;   /* submit -> last stream's first token */
} run_result;

static int run(srv_sched *s, fr_context *ctx, const fr_tokenizer *tok, uint32_t n_vocab, int streams,
               int n_tokens, int n_prompt, uint32_t salt, run_result *out)
{
    srv_job *jobs[64];
    srv_result res[64];
    memset(res, 0, sizeof res);
    int32_t *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    if (!prompt)
        return 1;
    srv_sched_stats st0, st1;
    srv_sched_stats_get(s, &st0);
    for (int i = 0; i < streams; i++) {
        uint32_t x = salt * 2654435761u + (uint32_t)i * 40503u + 1;
        for (int k = 0; k < n_prompt; k++) {
            x = x * 1103515245u + 12345u;
            prompt[k] = 259 + (int32_t)((x >> 8) % (n_vocab - 259));
        }
        fr_gen_params gp;
        fr_gen_params_default(&gp);
        gp.max_tokens = n_tokens;
        gp.ignore_eog = true;
        gp.sampling.temperature = 0;
        jobs[i] = srv_job_create();
        srv_error e = {0};
        if (!jobs[i] || !srv_job_setup(jobs[i], tok, n_vocab, prompt, (size_t)n_prompt, &gp, NULL, &e)) {
            fprintf(stderr, "bench_serve: job: %s\n", e.message);
            return 1;
        }
    }
    free(prompt);
    double t0 = fr_now_s();
    for (int i = 0; i < streams; i++) {
        srv_error e = {0};
        if (!srv_sched_submit(s, jobs[i], &e)) {
            fprintf(stderr, "bench_serve: submit: %s\n", e.message);
            return 1;
        }
    }
    for (int i = 0; i < streams; i++)
        while (!res[i].done)
            srv_sched_collect(s, jobs[i], &res[i], 1.0);
    (void)ctx;
    srv_sched_stats_get(s, &st1);
    double first_min = 1e30, first_max = 0, end_max = 0;
    uint64_t decode_tokens = 0;
    for (int i = 0; i < streams; i++) {
        if (res[i].err.status) {
            fprintf(stderr, "bench_serve: stream %d: %s\n", i, res[i].err.message);
            return 1;
        }
        if (res[i].first_token_s < first_min)
            first_min = res[i].first_token_s;
        if (res[i].first_token_s > first_max)
            first_max = res[i].first_token_s;
        if (res[i].total_s > end_max)
            end_max = res[i].total_s;
        decode_tokens += res[i].n_generated ? res[i].n_generated - 1 : 0;
        srv_job_free(jobs[i]);
        srv_result_clear(&res[i]);
    }
    double dt = end_max - first_min;
    out->tok_s = dt > 0 ? (double)decode_tokens / dt : 0;
    uint64_t steps = st1.steps - st0.steps;
    out->step_ms = steps > 1 ? 1000.0 * dt / (double)(steps - 1) : 0;
    out->prefill_s = first_max;
    (void)t0;
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *type_name = "q8_0", *streams_arg = "1,2,4,8";
    long n_tokens = 64, n_prompt = 16, threads = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: bench_serve [--model FILE] [--type q8_0|q4_0|q4_k_m] [--streams 1,2,4,8] "
                            "[--tokens N] [--prompt N] [--threads N] [--json]\n");
            return 2;
        }
        i++;
        errno = 0;
        if (strcmp(a, "--model") == 0)
            model_path = v;
        else if (strcmp(a, "--type") == 0)
            type_name = v;
        else if (strcmp(a, "--streams") == 0)
            streams_arg = v;
        else if (strcmp(a, "--tokens") == 0 && (n_tokens = strtol(v, &end, 10), !*end && n_tokens > 1 && n_tokens < 4096))
            ;
        else if (strcmp(a, "--prompt") == 0 && (n_prompt = strtol(v, &end, 10), !*end && n_prompt > 0 && n_prompt < 2048))
            ;
        else if (strcmp(a, "--threads") == 0 && (threads = strtol(v, &end, 10), !*end && threads >= 0 && threads <= 1024))
            ;
        else {
            fprintf(stderr, "bench_serve: bad option %s %s\n", a, v);
            return 2;
        }
    }
    int streams[16], ns = 0, max_streams = 1;
    for (const char *p = streams_arg; *p && ns < 16;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 64) {
            fprintf(stderr, "bench_serve: --streams wants numbers 1..64 separated by commas\n");
            return 2;
        }
        streams[ns++] = (int)x;
        if (x > max_streams)
            max_streams = (int)x;
        p = *end == ',' ? end + 1 : end;
    }
    char path[1200];
    fr_err e;
    if (model_path) {
        snprintf(path, sizeof path, "%s", model_path);
    } else {
        char spec[64], *cached = NULL;
        snprintf(spec, sizeof spec, "qwen2.5-0.5b:%s", type_name);
        double last = 0;
        if (fr_synth_cached(spec, NULL, (int)threads, progress, &last, &cached, &e) != FR_OK) {
            fprintf(stderr, "bench_serve: %s\n", e.msg);
            return 1;
        }
        snprintf(path, sizeof path, "%s", cached);
        free(cached);
    }
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    fr_context *ctx = NULL;
    srv_sched *s = NULL;
    if (fr_model_load(path, &m, &e) != FR_OK || fr_tokenizer_from_gguf(fr_model_gguf(m), &tok, &e) != FR_OK) {
        fprintf(stderr, "bench_serve: %s\n", e.msg);
        return 1;
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = (uint32_t)(n_prompt + n_tokens + 8);
    cp.n_seq = (uint32_t)max_streams;
    cp.n_threads = (uint32_t)threads;
    if (fr_context_create(m, &cp, &ctx, &e) != FR_OK) {
        fprintf(stderr, "bench_serve: %s\n", e.msg);
        return 1;
    }
    srv_sched_params sp = {ctx, tok, NULL, 64, 512, 0};
    if (srv_sched_create(&sp, &s, &e) != FR_OK) {
        fprintf(stderr, "bench_serve: %s\n", e.msg);
        return 1;
    }
    uint32_t n_vocab = fr_model_hparams(m)->n_vocab;
    if (fr_tokenizer_n_tokens(tok) < n_vocab)
        n_vocab = fr_tokenizer_n_tokens(tok);
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    const fr_hparams *hp = fr_model_hparams(m);
    if (!json) {
        printf("# bench_serve\n\nmachine: %s, %ld online CPUs, %u threads, frugal %s (%s)\n", cpu,
               sysconf(_SC_NPROCESSORS_ONLN), fr_context_n_threads(ctx), fr_version(), fr_commit());
        printf("model: %s (%s, %.0fM params, %.0f MiB of weights)\n", path, hp->arch,
               (double)fr_model_n_params(m) / 1e6, (double)fr_model_weight_bytes(m) / 1048576.0);
        printf("each stream: %ld prompt tokens, %ld generated (greedy, full vocabulary)\n\n", n_prompt, n_tokens);
        printf("| streams | decode tok/s (all streams) | tok/s per stream | x one stream | ms per step | prefill s |\n");
        printf("|---:|---:|---:|---:|---:|---:|\n");
    }
    /* warm-up: fault in the weights */
    run_result r0;
    if (run(s, ctx, tok, n_vocab, 1, 4, 4, 999, &r0))
        return 1;
    double one = 0;
    if (json)
        printf("{\"bench\":\"serve\",\"machine\":\"%s\",\"threads\":%u,\"commit\":\"%s\",\"model\":\"%s\","
               "\"tokens\":%ld,\"prompt\":%ld,\"runs\":[", cpu, fr_context_n_threads(ctx), fr_commit(), path,
               n_tokens, n_prompt);
    for (int i = 0; i < ns; i++) {
        run_result r;
        if (run(s, ctx, tok, n_vocab, streams[i], (int)n_tokens, (int)n_prompt, (uint32_t)i + 1, &r))
            return 1;
        if (streams[i] == 1 || one == 0)
            one = r.tok_s / streams[i];
        double x = one > 0 ? r.tok_s / one : 0;
        if (json)
            printf("%s{\"streams\":%d,\"tok_s\":%.2f,\"per_stream\":%.2f,\"speedup\":%.2f,\"step_ms\":%.2f}",
                   i ? "," : "", streams[i], r.tok_s, r.tok_s / streams[i], x, r.step_ms);
        else
            printf("| %d | %.1f | %.1f | %.2f | %.1f | %.2f |\n", streams[i], r.tok_s, r.tok_s / streams[i], x,
                   r.step_ms, r.prefill_s);
        fflush(stdout);
    }
    if (json)
        printf("]}\n");
    srv_sched_free(s);
    fr_context_free(ctx);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    return 0;
}
