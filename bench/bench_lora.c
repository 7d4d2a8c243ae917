/* bench_lora - what a LoRA adapter costs at run time and to merge.
 *
 * On a random-weight model with a known model's shapes (default
 * qwen2.5-0.5b:q8_0, cached by fr_synth_cached like `frugal bench`), with a
 * random rank-R adapter on all seven projections of every layer: prefill
 * (pp, one batch of N tokens) and decode (tg, one token per step) speed
 * without and with the adapter, perplexity-chunk throughput, and the time
 * to merge the adapter into an F16 copy. Prints the machine, threads,
 * commit and input; never fails on a number.
 *
 *   ./build/bench_lora [PRESET:TYPE] [THREADS] [RANK] [N_PROMPT] [N_GEN]
 */
#include <frugal/base.h>
#include <frugal/gguf.h>
#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/perplexity.h>
#include <frugal/synth.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "tensor/cpu.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes a random adapter of rank r on every projection of m. */
static fr_status write_adapter(const fr_model *m, uint32_t r, const char *path, fr_err *e)
{
    static const char *const sfx[7] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                       "ffn_gate", "ffn_up", "ffn_down"};
    const fr_hparams *hp = fr_model_hparams(m);
    size_t n = (size_t)hp->n_layer * 7;
    fr_lora_tensor *t = calloc(n, sizeof *t);
    char (*names)[64] = calloc(n, 64);
    uint64_t s = 99;
    for (uint32_t l = 0, k = 0; l < hp->n_layer; l++) {
        for (int j = 0; j < 7; j++, k++) {
            snprintf(names[k], 64, "blk.%u.%s.weight", l, sfx[j]);
            const fr_gguf_tensor *w = fr_gguf_find_tensor(fr_model_gguf(m), names[k]);
            float *a = malloc(sizeof(float) * r * (size_t)w->ne[0]);
            float *b = malloc(sizeof(float) * r * (size_t)w->ne[1]);
            for (int64_t i = 0; i < (int64_t)r * w->ne[0]; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                a[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.1f;
            }
            for (int64_t i = 0; i < (int64_t)r * w->ne[1]; i++)
                b[i] = 0.001f * (float)((i % 7) - 3);
            t[k] = (fr_lora_tensor){names[k], w->ne[0], w->ne[1], r, a, b};
        }
    }
    fr_lora_write_params wp = {m, NULL, (float)(2 * r), FR_TYPE_F32, NULL, 0};
    fr_status st = fr_lora_write(path, &wp, t, n, e);
    for (size_t k = 0; k < n; k++) {
        free((void *)t[k].a);
        free((void *)t[k].b);
    }
    free(t);
    free(names);
    return st;
}

typedef struct speeds {
    double pp, tg, ppl;
} speeds;

static int measure(fr_context *c, uint32_t V, int n_prompt, int n_gen, speeds *out)
{
    fr_err e;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)n_prompt);
    for (int i = 0; i < n_prompt; i++)
        toks[i] = (int32_t)((i * 7919u + 13u) % V);
    fr_context_seq_truncate(c, 0, 0);
    fr_batch b = {(uint32_t)n_prompt, toks, NULL, NULL};
    double t0 = now();
    if (fr_context_decode(c, &b, &e) != FR_OK) {
        fprintf(stderr, "decode: %s\n", e.msg);
        free(toks);
        return 1;
    }
    out->pp = n_prompt / (now() - t0);
    t0 = now();
    for (int i = 0; i < n_gen; i++) {
        int32_t tk = (int32_t)((i * 31u + 5u) % V);
        fr_batch one = {1, &tk, NULL, NULL};
        if (fr_context_decode(c, &one, &e) != FR_OK) {
            fprintf(stderr, "decode: %s\n", e.msg);
            free(toks);
            return 1;
        }
    }
    out->tg = n_gen / (now() - t0);
    double *nll = malloc(sizeof(double) * (size_t)n_prompt);
    t0 = now();
    if (fr_ppl_chunk(c, toks, (uint32_t)n_prompt, 1, nll, &e) != FR_OK)
        fprintf(stderr, "ppl: %s\n", e.msg);
    out->ppl = n_prompt / (now() - t0);
    free(nll);
    free(toks);
    return 0;
}

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "qwen2.5-0.5b:q8_0";
    int threads = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1;
    uint32_t rank = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 16;
    int n_prompt = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 128;
    int n_gen = argc > 5 ? (int)strtol(argv[5], NULL, 10) : 32;
    if (threads < 1 || rank < 1 || n_prompt < 4 || n_gen < 1) {
        fprintf(stderr, "usage: bench_lora [PRESET:TYPE] [THREADS] [RANK] [N_PROMPT] [N_GEN]\n");
        return 2;
    }
    struct utsname u;
    uname(&u);
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    printf("bench_lora: frugal %s (commit %s)\n", fr_version(), fr_commit());
    printf("machine: %s %s, %s; threads: %d\n", u.sysname, u.machine, cpu, threads);
    printf("input: synthetic %s, random rank-%u adapter on attn_q/k/v/output and ffn_gate/up/down "
           "of every layer; pp%d, tg%d\n\n", spec, rank, n_prompt, n_gen);
    fflush(stdout);

    fr_err e;
    char *path = NULL;
    if (fr_synth_cached(spec, NULL, threads, NULL, NULL, &path, &e) != FR_OK) {
        fprintf(stderr, "bench_lora: %s\n", e.msg);
        return 1;
    }
    fr_model *m = NULL;
    fr_lora *a = NULL;
    fr_context *c = NULL;
    char dir[] = "/tmp/bench_lora-XXXXXX", ap[64], mp[64];
    int rc = 1;
    if (!mkdtemp(dir) || fr_model_load(path, &m, &e) != FR_OK)
        goto out;
    snprintf(ap, sizeof ap, "%s/a.gguf", dir);
    snprintf(mp, sizeof mp, "%s/merged.gguf", dir);
    if (write_adapter(m, rank, ap, &e) != FR_OK || fr_lora_load(ap, m, &a, &e) != FR_OK)
        goto out;
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = (uint32_t)(n_prompt + n_gen + 8);
    cp.n_batch = (uint32_t)n_prompt;
    cp.n_threads = (uint32_t)threads;
    if (fr_context_create(m, &cp, &c, &e) != FR_OK)
        goto out;
    uint32_t V = fr_model_hparams(m)->n_vocab;
    speeds base, with;
    measure(c, V, n_prompt, n_gen, &base); /* warm-up */
    if (measure(c, V, n_prompt, n_gen, &base))
        goto out;
    if (fr_context_set_lora(c, &a, NULL, 1, &e) != FR_OK || measure(c, V, n_prompt, n_gen, &with))
        goto out;
    printf("adapter: %zu tensors, %.2f M parameters (%.2f%% of the model)\n\n",
           fr_lora_n_pairs(a), (double)fr_lora_n_params(a) / 1e6,
           100.0 * (double)fr_lora_n_params(a) / (double)fr_model_n_params(m));
    printf("| test | base tok/s | with adapter tok/s | cost |\n|---|---|---|---|\n");
    printf("| pp%d | %.1f | %.1f | %+.1f%% |\n", n_prompt, base.pp, with.pp,
           100.0 * (base.pp / with.pp - 1));
    printf("| tg%d | %.2f | %.2f | %+.1f%% |\n", n_gen, base.tg, with.tg,
           100.0 * (base.tg / with.tg - 1));
    printf("| perplexity chunk of %d | %.1f | %.1f | %+.1f%% |\n", n_prompt, base.ppl, with.ppl,
           100.0 * (base.ppl / with.ppl - 1));
    fr_lora_merge_params mpp = {&a, NULL, 1, FR_LORA_OUT_TYPE, FR_TYPE_F16, threads, NULL, NULL};
    fr_lora_merge_stats ms;
    double t0 = now();
    if (fr_lora_merge(m, mp, NULL, 0, &mpp, &ms, &e) != FR_OK)
        goto out;
    printf("\nmerge to f16: %lld tensors in %.2f s (%.1f MB written)\n", (long long)ms.n_merged,
           now() - t0, (double)ms.bytes_out / 1e6);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_lora: %s\n", e.msg);
    fr_context_free(c);
    fr_lora_free(a);
    fr_model_free(m);
    unlink(ap);
    unlink(mp);
    rmdir(dir);
    free(path);
    return rc;
}
