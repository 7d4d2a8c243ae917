/*
 * cmd_bench.c - `frugal bench`: prefill and decode speed, the memory traffic
 * behind decode, peak RSS, and the energy and money per token.
 *
 * Method (as llama-bench): a warm-up run, then r timed runs per test on an
 * empty context; pp<N> decodes N random prompt tokens as one batch, tg<N>
 * decodes N tokens one at a time (no sampling: the model's forward pass is
 * what is measured). Tokens are random ids, which cost the same as real
 * text. tg<N>@d<D> decodes after D prompt tokens already in the cache
 * (llama-bench -d D): the prompt is decoded once, untimed, and each run
 * truncates the cache back to it. Each test reads the energy meter before
 * and after every timed run; J/token is the energy counted divided by the
 * tokens of the run.
 *
 * --write-f16 writes a synthetic preset as an F16 file (with the real
 * tokenizer named by --vocab) for other engines' quantizers and benchmarks
 * (scripts/bench.sh: llama-quantize makes the files all engines read).
 *
 * Decode reads every weight once per token (token_embd only one row unless
 * it is also the output head; of a mixture of experts only the experts a
 * token uses: fr_model_decode_bytes), so bytes/token x tok/s is the
 * achieved read bandwidth, the number that bounds decode on a CPU.
 */
#include "llm.h"

#include <frugal/cost.h>
#include <frugal/energy.h>
#include <frugal/hardware.h>
#include <frugal/quant.h>
#include <frugal/synth.h>

#include "base/clock.h"
#include "tensor/cpu.h"
#include "tensor/membw.h"
#include "tensor/threadpool.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#define BENCH_MAX_THREADS 16
#define BENCH_MAX_SIZES 8

typedef struct bench_result {
    const char *kind; /* "pp" or "tg" */
    int n_tokens;
    int depth; /* tokens already in the cache (tg only) */
    int threads;
    double read_gbs;  /* the machine's read bandwidth at this thread count */
    double mean, sd;  /* tok/s */
    double j_tok[3];  /* low, central, high J/token (central = mean over runs) */
    bool has_energy;
} bench_result;

typedef struct bench_opts {
    long n_gen, reps;
    const char *prompts, *depths;
    const char *threads;
    double price_kwh, hw_price, hw_years, grid, battery_wh;
    const char *hardware;
    bool json, no_idle;
} bench_opts;

static uint64_t bench_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void bench_synth_progress(void *user, int stage, uint64_t done, uint64_t total)
{
    cli_progress **p = user;
    static const char *labels[] = {"writing random weights", "quantizing"};
    if (!*p)
        *p = cli_progress_start(labels[stage], total, "B");
    cli_progress_update(*p, done);
    if (done >= total) {
        cli_progress_finish(*p, true);
        *p = NULL;
    }
}

static void bench_write_progress(void *user, uint64_t done, uint64_t total)
{
    bench_synth_progress(user, 0, done, total);
}

static void bench_list(void)
{
    size_t n;
    const fr_synth_preset *p = fr_synth_presets(&n);
    printf("%-16s %-18s %10s  %s\n", "preset", "shapes of", "params", "layers x dim, heads/kv, ffn, vocab");
    for (size_t i = 0; i < n; i++) {
        const fr_synth_spec *s = &p[i].spec;
        printf("%-16s %-18s %9.2fB  %u x %u, %u/%u, %u, %u%s\n", p[i].name, p[i].model,
               (double)fr_synth_n_params(s) / 1e9, s->n_layer, s->n_embd, s->n_head,
               s->n_head_kv, s->n_ff, s->n_vocab, s->tied ? ", tied" : "");
    }
    printf("\nuse: frugal bench --synthetic PRESET[:TYPE], TYPE one of f16, bf16, q8_0 (default),\n"
           "q4_0, q4_1, q5_0, q5_1, q4_k, q4_k_m, q5_k, q5_k_m, q6_k\n");
}

/* One test: warm-up, then reps timed runs. */
/* Peak RSS in KiB (VmHWM), which rss_hwm_reset lowers to the current RSS:
 * the 1 GiB buffer of the bandwidth measurement must not count as the
 * model's memory. Falls back to getrusage's peak (which cannot be reset)
 * where /proc is missing. */
static long rss_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    long kb = -1;
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "VmHWM:", 6) == 0) {
                char *end;
                kb = strtol(line + 6, &end, 10);
                if (end == line + 6)
                    kb = -1;
                break;
            }
        fclose(f);
    }
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

static void rss_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f); /* 5: reset the peak resident set size (Linux >= 4.0) */
        fclose(f);
    }
}

/* Decodes depth random tokens into the empty cache of sequence 0 (the
 * prompt a tg@d test decodes after). */
static fr_status bench_fill(fr_context *ctx, uint32_t n_vocab, int depth, uint64_t *seed,
                            fr_err *e)
{
    fr_context_seq_truncate(ctx, 0, 0);
    if (depth == 0)
        return FR_OK;
    int32_t *toks = malloc((size_t)depth * sizeof *toks);
    if (!toks)
        return fr_err_set(e, FR_E_NOMEM, "out of memory");
    for (int i = 0; i < depth; i++)
        toks[i] = (int32_t)(bench_rng(seed) % n_vocab);
    fr_batch bt = {(uint32_t)depth, toks, NULL, NULL};
    fr_status st = fr_context_decode(ctx, &bt, e);
    free(toks);
    return st;
}

static int bench_test(fr_context *ctx, fr_meter *meter, uint32_t n_vocab, bool prefill, int n,
                      int depth, int reps, uint64_t *seed, bench_result *r)
{
    int32_t *toks = malloc((size_t)n * sizeof *toks);
    double *speeds = malloc((size_t)reps * sizeof *speeds);
    if (!toks || !speeds) {
        free(toks);
        free(speeds);
        cli_error("out of memory");
        return FR_EXIT_RUNTIME;
    }
    fr_err e;
    double jl = 0, jc = 0, jh = 0;
    r->has_energy = meter != NULL;
    if (bench_fill(ctx, n_vocab, depth, seed, &e) != FR_OK) {
        free(toks);
        free(speeds);
        return cli_fail(&e);
    }
    for (int rep = -1; rep < reps; rep++) {
        for (int i = 0; i < n; i++)
            toks[i] = (int32_t)(bench_rng(seed) % n_vocab);
        /* back to depth; refilled (untimed) when a sliding window's ring
         * no longer holds the window there (n > the batch) */
        if (fr_context_seq_truncate(ctx, 0, (uint32_t)depth) < (uint32_t)depth &&
            bench_fill(ctx, n_vocab, depth, seed, &e) != FR_OK) {
            free(toks);
            free(speeds);
            return cli_fail(&e);
        }
        fr_meter_reading a, b;
        if (meter && fr_meter_read(meter, &a, &e) != FR_OK)
            r->has_energy = false;
        double t0 = fr_now_s();
        fr_status st = FR_OK;
        if (prefill) {
            fr_batch bt = {(uint32_t)n, toks, NULL, NULL};
            st = fr_context_decode(ctx, &bt, &e);
        } else {
            for (int i = 0; i < n && st == FR_OK; i++) {
                fr_batch bt = {1, &toks[i], NULL, NULL};
                st = fr_context_decode(ctx, &bt, &e);
            }
        }
        double dt = fr_now_s() - t0;
        if (st != FR_OK) {
            free(toks);
            free(speeds);
            return cli_fail(&e);
        }
        if (rep < 0)
            continue; /* warm-up */
        speeds[rep] = n / dt;
        if (r->has_energy && fr_meter_read(meter, &b, &e) == FR_OK) {
            fr_energy_interval iv;
            fr_meter_interval(meter, &a, &b, &iv);
            jl += iv.gross_j.low / n;
            jc += iv.gross_j.central / n;
            jh += iv.gross_j.high / n;
        } else {
            r->has_energy = false;
        }
    }
    double mean = 0, var = 0;
    for (int i = 0; i < reps; i++)
        mean += speeds[i];
    mean /= reps;
    for (int i = 0; i < reps; i++)
        var += (speeds[i] - mean) * (speeds[i] - mean);
    r->mean = mean;
    r->sd = reps > 1 ? sqrt(var / (reps - 1)) : 0;
    r->j_tok[0] = jl / reps;
    r->j_tok[1] = jc / reps;
    r->j_tok[2] = jh / reps;
    free(toks);
    free(speeds);
    return FR_EXIT_OK;
}

/* A comma-separated list of at most cap integers in [lo, hi]. */
static int bench_parse_list(const char *s, const char *opt, const char *example, long lo,
                            long hi, int cap, int *out, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < lo || v > hi || *n >= cap || (*end && *end != ',') ||
            (*end == ',' && !end[1])) {
            cli_error("bench: %s wants %s (at most %d values in [%ld, %ld]; got '%s')", opt,
                      example, cap, lo, hi, s);
            return FR_EXIT_USAGE;
        }
        out[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) {
        cli_error("bench: %s wants %s (got '%s')", opt, example, s);
        return FR_EXIT_USAGE;
    }
    return 0;
}

static int bench_parse_threads(const char *s, int *out, int *n)
{
    if (!s) {
        *n = 1;
        out[0] = fr_cpu_count();
        return 0;
    }
    return bench_parse_list(s, "-t", "thread counts like 2 or 1,2,4", 1, 1024, BENCH_MAX_THREADS,
                            out, n);
}

/* --synthetic PRESET --write-f16 PATH [--vocab V]: the preset's random
 * weights as F16 (norms F32), for other engines' quantizers. */
static int bench_write_f16(const char *preset, const char *path, const char *vocab)
{
    char name[64];
    size_t nl = strcspn(preset, ":");
    if (nl >= sizeof name) {
        cli_error("bench: unknown synthetic preset '%s'", preset);
        return FR_EXIT_USAGE;
    }
    memcpy(name, preset, nl);
    name[nl] = '\0';
    if (preset[nl] && strcmp(preset + nl + 1, "f16") != 0) {
        cli_error("bench: --write-f16 writes F16 weights; drop ':%s' from --synthetic",
                  preset + nl + 1);
        return FR_EXIT_USAGE;
    }
    const fr_synth_preset *pr = fr_synth_preset_find(name);
    if (!pr) {
        cli_error("bench: unknown synthetic preset '%s' (see `frugal bench --synthetic list`)",
                  name);
        return FR_EXIT_USAGE;
    }
    fr_synth_spec s = pr->spec;
    s.wtype = FR_TYPE_F16;
    s.embd_type = FR_TYPE_COUNT_;
    s.byte_vocab = vocab == NULL;
    s.vocab_from = vocab;
    cli_progress *prog = NULL;
    fr_err e;
    fr_status st = fr_synth_write(&s, path, bench_write_progress, &prog, &e);
    cli_progress_finish(prog, st == FR_OK);
    if (st)
        return cli_fail(&e);
    printf("%s\n", path);
    return FR_EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    cli_model_opts mo = {0};
    bench_opts o = {64, 3, "128", "0", NULL, 0, 0, 0, 0, 0, NULL, false, false};
    const char *synthetic = NULL, *write_f16 = NULL, *vocab = NULL;
    const cli_opt opts[] = {
        {"--model", "-m", CLI_STR, &mo.model, "FILE", "GGUF model to measure", 0, 0, NULL},
        {"--synthetic", NULL, CLI_STR, &synthetic, "PRESET[:TYPE]", "random weights with a known model's shapes ('list' to see them)", 0, 0, NULL},
        {"--n-prompt", "-p", CLI_STR, &o.prompts, "N[,N...]", "prompt tokens for the prefill tests (default 128; 0 = skip)", 0, 0, NULL},
        {"--n-gen", "-n", CLI_INT, &o.n_gen, "N", "tokens for the decode test (default 64; 0 = skip)", 0, 1 << 20, NULL},
        {"--depth", "-d", CLI_STR, &o.depths, "D[,D...]", "decode after D prompt tokens in the cache (default 0)", 0, 0, NULL},
        {"--threads", "-t", CLI_STR, &o.threads, "N[,N...]", "thread counts to test (default: all CPUs)", 0, 0, NULL},
        {"--repetitions", "-r", CLI_INT, &o.reps, "N", "timed runs per test (default 3)", 1, 1000, NULL},
        {"--kv-type", NULL, CLI_CHOICE, &mo.kv_type, NULL, "KV cache type (default f16)", 0, 0, "f32|f16"},
        CLI_LORA_OPT(&mo),
        {"--price-kwh", NULL, CLI_DOUBLE, &o.price_kwh, "USD", "electricity price (default 0.16)", 0, 100, NULL},
        {"--hw-price", NULL, CLI_DOUBLE, &o.hw_price, "USD", "machine price, amortised into $/Mtok", 0, 1e9, NULL},
        {"--hw-years", NULL, CLI_DOUBLE, &o.hw_years, "Y", "amortisation period (default 4)", 0, 100, NULL},
        {"--grid-g-per-kwh", NULL, CLI_DOUBLE, &o.grid, "G", "grid CO2 intensity (default 475, world average)", 0, 5000, NULL},
        {"--battery-wh", NULL, CLI_DOUBLE, &o.battery_wh, "WH", "battery for the % per 1,000 tokens (default 15, a phone)", 0, 1e6, NULL},
        {"--hardware", NULL, CLI_STR, &o.hardware, "ID", "catalog entry whose watts/core the estimate uses (default x86-core)", 0, 0, NULL},
        {"--no-idle", NULL, CLI_FLAG, &o.no_idle, NULL, "skip the idle-power baseline", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &o.json, NULL, "one JSON document (schema frugal-bench-1)", 0, 0, NULL},
        {"--write-f16", NULL, CLI_STR, &write_f16, "PATH", "with --synthetic: write the F16 model to PATH and stop", 0, 0, NULL},
        {"--vocab", NULL, CLI_STR, &vocab, "VOCAB.gguf", "with --write-f16: copy this file's tokenizer (default: a byte vocabulary)", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal bench (-m MODEL.gguf | --synthetic PRESET[:TYPE]) [-p 128,512] [-n 64] [-d 0,2048] [-t 1,2] [-r 3] [--json]\n"
        "       frugal bench --synthetic PRESET --write-f16 PATH [--vocab VOCAB.gguf]",
        "Measures prefill (pp) and decode (tg) speed, the weight bytes each decoded token\n"
        "reads and the bandwidth that makes, peak RSS, and energy per token with its cost\n"
        "(the meter's source is named; without RAPL/NVML/battery it is an estimate from CPU\n"
        "time). --synthetic measures random weights with the exact shapes of a well-known\n"
        "model, without downloading it.",
        opts, 0, 0};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (synthetic && strcmp(synthetic, "list") == 0) {
        bench_list();
        return FR_EXIT_OK;
    }
    if (!mo.model == !synthetic) {
        cli_error("bench: give exactly one of -m MODEL or --synthetic PRESET[:TYPE]");
        return FR_EXIT_USAGE;
    }
    if ((write_f16 || vocab) && !synthetic) {
        cli_error("bench: --write-f16 and --vocab go with --synthetic PRESET");
        return FR_EXIT_USAGE;
    }
    if (vocab && !write_f16) {
        cli_error("bench: --vocab goes with --write-f16");
        return FR_EXIT_USAGE;
    }
    if (write_f16)
        return bench_write_f16(synthetic, write_f16, vocab);
    int prompts[BENCH_MAX_SIZES], n_prompts, depths[BENCH_MAX_SIZES], n_depths;
    if ((rc = bench_parse_list(o.prompts, "-p", "prompt sizes like 128 or 128,512", 0, 1 << 20,
                               BENCH_MAX_SIZES, prompts, &n_prompts)) ||
        (rc = bench_parse_list(o.depths, "-d", "cache depths like 0 or 0,2048", 0, 1 << 20,
                               BENCH_MAX_SIZES, depths, &n_depths)))
        return rc;
    int max_prompt = 0, max_depth = 0;
    for (int i = 0; i < n_prompts; i++)
        max_prompt = prompts[i] > max_prompt ? prompts[i] : max_prompt;
    for (int i = 0; i < n_depths; i++)
        max_depth = depths[i] > max_depth ? depths[i] : max_depth;
    if (max_prompt == 0 && o.n_gen == 0) {
        cli_error("bench: nothing to measure (-p 0 and -n 0)");
        return FR_EXIT_USAGE;
    }
    int threads[BENCH_MAX_THREADS], n_threads;
    if ((rc = bench_parse_threads(o.threads, threads, &n_threads)))
        return rc;
    fr_err e;
    char *synth_path = NULL;
    if (synthetic) {
        cli_progress *prog = NULL;
        fr_status sst = fr_synth_cached(synthetic, NULL, threads[n_threads - 1],
                                        bench_synth_progress, &prog, &synth_path, &e);
        cli_progress_finish(prog, sst == FR_OK); /* NULL when the bar already ended */
        if (sst != FR_OK)
            return cli_fail(&e);
        mo.model = synth_path;
    }
    /* energy meter: CPU sources only (RAPL, battery, estimate) */
    fr_catalog *cat = NULL;
    fr_meter *meter = NULL;
    {
        fr_catalog_env ce;
        fr_catalog_paths paths;
        fr_catalog_paths_from_env(&ce, &paths);
        fr_meter_config mc;
        fr_meter_config_init(&mc);
        mc.sources = FR_METER_RAPL | FR_METER_BATTERY | FR_METER_ESTIMATE;
        if (fr_catalog_load(&paths, &cat, &e) != FR_OK ||
            fr_meter_config_cpu(&mc, cat, o.hardware, &e) != FR_OK ||
            fr_meter_create(&mc, &meter, &e) != FR_OK) {
            cli_warn("no energy figures: %s", e.msg);
            meter = NULL;
        }
    }
    double idle_w = -1;
    if (meter && fr_meter_source_of(meter) != FR_METER_ESTIMATE && !o.no_idle) {
        if (fr_meter_measure_idle(meter, 2.0, &idle_w, &e) != FR_OK)
            idle_w = -1;
    }

    bench_result results[2 * BENCH_MAX_SIZES * BENCH_MAX_THREADS];
    int n_results = 0;
    cli_llm L = {0};
    uint64_t seed = 12345;
    long peak_rss_kb = 0;
    rss_hwm_reset(); /* generating a synthetic model is not the model's memory */
    for (int ti = 0; ti < n_threads; ti++) {
        mo.threads = threads[ti];
        long need = o.n_gen ? max_depth + o.n_gen : 0;
        mo.ctx = (max_prompt > need ? max_prompt : need) + 16;
        mo.batch = 512; /* longer prompts run in batches, as llama-bench's ubatch */
        if ((rc = cli_llm_open(&mo, 1, false, &L)))
            goto out;
        uint32_t V = fr_model_hparams(L.model)->n_vocab;
        /* The read bandwidth at this thread count, measured before and after
         * the runs; the higher counts. On shared virtual machines the host
         * moves our threads between cores (siblings or not), and one
         * measurement alone has put decode above 100% of it. */
        double read_gbs = 0;
        fr_pool *bp = NULL;
        if (o.n_gen) {
            if (fr_pool_create(threads[ti], &bp, &e) != FR_OK ||
                fr_membw_read(bp, 0, 3, &read_gbs, &e) != FR_OK) {
                cli_warn("memory bandwidth not measured: %s", e.msg);
                read_gbs = 0;
                fr_pool_free(bp);
                bp = NULL;
            }
            rss_hwm_reset();
        }
        int first = n_results;
        for (int pi = 0; pi < n_prompts; pi++) {
            if (!prompts[pi])
                continue;
            bench_result *r = &results[n_results++];
            r->kind = "pp";
            r->n_tokens = prompts[pi];
            r->depth = 0;
            r->threads = threads[ti];
            if ((rc = bench_test(L.ctx, meter, V, true, prompts[pi], 0, (int)o.reps, &seed, r))) {
                fr_pool_free(bp);
                goto out;
            }
        }
        for (int di = 0; o.n_gen && di < n_depths; di++) {
            bench_result *r = &results[n_results++];
            r->kind = "tg";
            r->n_tokens = (int)o.n_gen;
            r->depth = depths[di];
            r->threads = threads[ti];
            if ((rc = bench_test(L.ctx, meter, V, false, (int)o.n_gen, depths[di], (int)o.reps,
                                 &seed, r))) {
                fr_pool_free(bp);
                goto out;
            }
        }
        long hwm = rss_hwm_kb();
        if (hwm > peak_rss_kb)
            peak_rss_kb = hwm;
        if (bp) {
            double again = 0;
            if (fr_membw_read(bp, 0, 3, &again, &e) == FR_OK && again > read_gbs)
                read_gbs = again;
            fr_pool_free(bp);
            rss_hwm_reset();
        }
        for (int k = first; k < n_results; k++)
            results[k].read_gbs = read_gbs;
        if (ti + 1 < n_threads)
            cli_llm_close(&L);
    }

    /* ---- report ---- */
    {
        const fr_hparams *hp = fr_model_hparams(L.model);
        uint64_t bpt = fr_model_decode_bytes(L.model);
        char cpu[256], wsz[32], bps[32];
        fr_cpu_model_name(cpu, sizeof cpu);
        cli_human_bytes(fr_model_weight_bytes(L.model), wsz, sizeof wsz);
        cli_human_bytes(bpt, bps, sizeof bps);
        fr_gguf_str nm = {NULL, 0};
        fr_gguf_get_str(fr_model_gguf(L.model), "general.name", &nm, NULL);
        uint32_t ft = 0;
        fr_gguf_get_u32(fr_model_gguf(L.model), "general.file_type", &ft, NULL);
        const char *quant = fr_ftype_short_name(ft);
        const char *label = synthetic ? synthetic : mo.model;
        /* best decode and prefill for the summary */
        double best_pp = 0, best_tg = 0;
        const bench_result *rpp = NULL, *rtg = NULL;
        for (int i = 0; i < n_results; i++) {
            if (results[i].kind[0] == 'p' && results[i].mean > best_pp)
                best_pp = results[i].mean, rpp = &results[i];
            if (results[i].kind[0] == 't' && results[i].depth == 0 && results[i].mean > best_tg)
                best_tg = results[i].mean, rtg = &results[i];
        }
        fr_token_costs costs;
        bool have_costs = false;
        if (rtg && rtg->has_energy && rtg->j_tok[0] > 0) {
            fr_token_cost_in ci = {{rtg->j_tok[0], rtg->j_tok[1], rtg->j_tok[2]}, rtg->mean,
                                   o.price_kwh, o.grid, o.battery_wh, o.hw_price, o.hw_years};
            have_costs = fr_token_costs_compute(&ci, &costs, &e) == FR_OK;
        }
        const char *src = meter ? fr_meter_source_name(fr_meter_source_of(meter)) : "none";
        fr_isa isa = FR_ISA_GENERIC;
        (void)fr_isa_select(&isa, NULL);
        const fr_cpu_features *cf = fr_cpu_get();
        /* K and V of every layer of the (last) context: n_ctx positions, a
         * ring on sliding-window layers */
        uint64_t kv_bytes = fr_context_kv_bytes(L.ctx);
        if (o.json) {
            fr_bench_summary bs = {0};
            bs.params = (double)fr_model_n_params(L.model);
            snprintf(bs.quant, sizeof bs.quant, "%s", quant);
            snprintf(bs.model_name, sizeof bs.model_name, "%s", label);
            snprintf(bs.hardware_id, sizeof bs.hardware_id, "%s", o.hardware ? o.hardware : "x86-core");
            bs.threads = rtg ? rtg->threads : rpp ? rpp->threads : 0;
            snprintf(bs.meter_source, sizeof bs.meter_source, "%s", strcmp(src, "none") ? src : "estimate");
            snprintf(bs.meter_label, sizeof bs.meter_label, "%s", meter ? fr_meter_label(meter) : "no meter");
            bs.idle_w = idle_w;
            bs.prefill_tok_s = best_pp > 0 ? best_pp : 0;
            bs.decode_tok_s = best_tg > 0 ? best_tg : 0;
            if (rpp && rpp->has_energy)
                bs.j_per_token_prefill = (fr_range){rpp->j_tok[0], rpp->j_tok[1], rpp->j_tok[2]};
            if (rtg && rtg->has_energy)
                bs.j_per_token_decode = (fr_range){rtg->j_tok[0], rtg->j_tok[1], rtg->j_tok[2]};
            char *sj = fr_bench_summary_json(&bs);
            json_t *root = sj ? json_loads(sj, 0, NULL) : json_object();
            free(sj);
            if (!root)
                root = json_object();
            json_object_set_new(root, "schema", json_string("frugal-bench-1"));
            json_t *model = json_object_get(root, "model");
            if (!model) {
                model = json_object();
                json_object_set_new(root, "model", model);
            }
            json_object_set_new(model, "path", json_string(mo.model));
            json_object_set_new(model, "arch", json_string(hp->arch));
            json_object_set_new(model, "weight_bytes", json_integer((json_int_t)fr_model_weight_bytes(L.model)));
            json_object_set_new(model, "synthetic", json_boolean(synthetic != NULL));
            json_t *mach = json_object_get(root, "machine");
            if (!mach) {
                mach = json_object();
                json_object_set_new(root, "machine", mach);
            }
            json_object_set_new(mach, "cpu", json_string(cpu));
            json_object_set_new(mach, "cpus", json_integer(fr_cpu_count()));
            json_object_set_new(mach, "isa", json_string(fr_isa_name(isa)));
            json_object_set_new(mach, "cpu_vendor", json_string(cf->vendor));
            json_object_set_new(mach, "cpu_family", json_integer(cf->family));
            json_object_set_new(mach, "cpu_model", json_integer(cf->model));
            json_object_set_new(mach, "cpu_stepping", json_integer(cf->stepping));
            json_object_set_new(root, "frugal", json_pack("{s:s, s:s}", "version", fr_version(), "commit", fr_commit()));
            json_object_set_new(root, "decode_bytes_per_token", json_integer((json_int_t)bpt));
            json_object_set_new(root, "decode_gb_s", json_real(best_tg * (double)bpt / 1e9));
            json_object_set_new(root, "peak_rss_bytes", json_integer((json_int_t)peak_rss_kb * 1024));
            json_object_set_new(root, "n_ctx", json_integer(fr_context_n_ctx(L.ctx)));
            json_object_set_new(root, "kv_type", json_string(mo.kv_type ? mo.kv_type : "f16"));
            json_object_set_new(root, "kv_cache_bytes", json_integer((json_int_t)kv_bytes));
            json_t *tests = json_array();
            for (int i = 0; i < n_results; i++) {
                const bench_result *r = &results[i];
                json_t *t = json_pack("{s:s, s:i, s:i, s:i, s:f, s:f}", "test", r->kind, "n_tokens",
                                      r->n_tokens, "depth", r->depth, "threads", r->threads,
                                      "tok_s", r->mean, "tok_s_sd", r->sd);
                if (r->kind[0] == 't' && r->depth == 0) {
                    double gbs = r->mean * (double)bpt / 1e9;
                    json_object_set_new(t, "gb_s", json_real(gbs));
                    if (r->read_gbs > 0) {
                        json_object_set_new(t, "read_gb_s", json_real(r->read_gbs));
                        json_object_set_new(t, "bandwidth_share", json_real(gbs / r->read_gbs));
                    }
                }
                if (r->has_energy)
                    json_object_set_new(t, "j_per_token", json_pack("{s:f, s:f, s:f}", "low",
                                        r->j_tok[0], "central", r->j_tok[1], "high", r->j_tok[2]));
                json_array_append_new(tests, t);
            }
            json_object_set_new(root, "tests", tests);
            if (have_costs)
                json_object_set_new(root, "decode_costs", json_pack(
                    "{s:[f,f,f], s:[f,f,f], s:[f,f,f], s:[f,f,f]}",
                    "wh_per_1k", costs.wh_per_1k.low, costs.wh_per_1k.central, costs.wh_per_1k.high,
                    "usd_per_mtok", costs.usd_per_mtok.low, costs.usd_per_mtok.central, costs.usd_per_mtok.high,
                    "g_co2_per_1k", costs.g_co2_per_1k.low, costs.g_co2_per_1k.central, costs.g_co2_per_1k.high,
                    "battery_pct_per_1k", costs.battery_pct_per_1k.low, costs.battery_pct_per_1k.central,
                    costs.battery_pct_per_1k.high));
            json_dumpf(root, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(root);
        } else {
            printf("model:   %s (%s, %.*s, %.1fM params, %s, %s)%s\n", label, hp->arch,
                   (int)(nm.len > 40 ? 40 : nm.len), nm.len ? nm.ptr : "", (double)fr_model_n_params(L.model) / 1e6,
                   wsz, quant, synthetic ? " [random weights]" : "");
            printf("machine: %s (%s family %u model %u stepping %u), %d CPUs, kernels %s; "
                   "frugal %s (commit %s)\n", cpu, cf->vendor[0] ? cf->vendor : "unknown vendor",
                   cf->family, cf->model, cf->stepping, fr_cpu_count(), fr_isa_name(isa),
                   fr_version(), fr_commit());
            printf("energy:  %s%s\n\n", meter ? fr_meter_label(meter) : "no meter",
                   idle_w >= 0 ? "" : "");
            printf("| test         | threads | tok/s               | J/token (%s)             |\n", src);
            printf("|--------------|---------|---------------------|---------------------------------|\n");
            for (int i = 0; i < n_results; i++) {
                const bench_result *r = &results[i];
                char tn[40], jt[64] = "n/a";
                if (r->depth)
                    snprintf(tn, sizeof tn, "%s%d@d%d", r->kind, r->n_tokens, r->depth);
                else
                    snprintf(tn, sizeof tn, "%s%d", r->kind, r->n_tokens);
                if (r->has_energy)
                    snprintf(jt, sizeof jt, "%.3g (%.3g-%.3g)", r->j_tok[1], r->j_tok[0], r->j_tok[2]);
                printf("| %-12s | %7d | %9.2f +- %-7.2f | %-31s |\n", tn, r->threads, r->mean, r->sd, jt);
            }
            printf("\ndecode reads %s of weights per token\n", bps);
            for (int i = 0; i < n_results; i++) {
                const bench_result *r = &results[i];
                if (r->kind[0] != 't' || r->depth)
                    continue;
                double gbs = r->mean * (double)bpt / 1e9;
                printf("  %d thread%s: %.2f GB/s", r->threads, r->threads == 1 ? "" : "s", gbs);
                /* weights that fit in the last-level cache are not read from
                 * RAM at all: a share of the RAM speed (116%) means nothing */
                long llc = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
                llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
                bool cached = (llc > 0 && (double)bpt <= (double)llc) ||
                              (r->read_gbs > 0 && gbs > r->read_gbs);
                if (cached)
                    printf(": the weights fit in the CPU's caches, so decode reads them from "
                           "cache, not RAM");
                if (cached && r->read_gbs > 0)
                    printf(" (RAM reads %.1f GB/s here)", r->read_gbs);
                else if (r->read_gbs > 0)
                    printf(" = %.0f%% of the %.1f GB/s this machine reads", 100 * gbs / r->read_gbs,
                           r->read_gbs);
                printf("\n");
            }
            printf("peak RSS: %.1f MiB\n", (double)peak_rss_kb / 1024.0);
            printf("KV cache: %.1f MiB at context %u%s\n", (double)kv_bytes / 1048576.0,
                   fr_context_n_ctx(L.ctx), hp->n_swa ? " (window layers: a ring)" : "");
            if (have_costs)
                printf("decode cost (%s): %.3g Wh/1k tokens, $%.3g/Mtok, %.3g gCO2/1k tokens, "
                       "%.3g%% of a %.0f Wh battery per 1k tokens\n", src,
                       costs.wh_per_1k.central, costs.usd_per_mtok.central,
                       costs.g_co2_per_1k.central, costs.battery_pct_per_1k.central,
                       o.battery_wh > 0 ? o.battery_wh : FR_DEFAULT_BATTERY_WH);
        }
    }
    rc = FR_EXIT_OK;
out:
    cli_llm_close(&L);
    fr_meter_free(meter);
    fr_catalog_free(cat);
    free(synth_path);
    return rc;
}
