/*
 * cmd_perplexity.c - `frugal perplexity`: how well a model (with or without
 * LoRA adapters) predicts a text, by llama.cpp's method, so the numbers
 * compare with llama-perplexity's (see frugal/perplexity.h).
 *
 * stdout carries the results in llama.cpp's format: the running PPL after
 * each chunk ("[1]12.3456,[2]...") and "Final estimate: PPL = X +/- Y";
 * progress (with the running PPL) and speed go to stderr. The running list
 * is printed at the end rather than as chunks finish, so it never tears the
 * progress bar on a terminal.
 *
 * --compare scores every chunk twice, without and with the adapters, and
 * reports both, their ratio and the paired change in log-PPL with its
 * standard error: the number that says whether fine-tuning helped, with
 * the noise of the text itself taken out.
 */
#include "llm.h"
#include "ppl.h"

#include "base/clock.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int ppl_compare(cli_llm *L, const cli_ppl_text *t, fr_ppl_pair *pair, double *running)
{
    double *nb = malloc((size_t)t->n_scored * sizeof *nb);
    double *nt = malloc((size_t)t->n_scored * sizeof *nt);
    if (!nb || !nt) {
        free(nb);
        free(nt);
        cli_error("out of memory");
        return FR_EXIT_RUNTIME;
    }
    cli_progress *bar = cli_progress_start("perplexity", 2ull * t->n_chunks * t->n_ctx, "tok");
    fr_err e;
    fr_status st = FR_OK;
    for (uint32_t i = 0; i < t->n_chunks; i++) {
        fr_context_clear_lora(L->ctx);
        st = cli_ppl_score(L->ctx, t, i, nb, &e);
        if (!st)
            st = fr_context_set_lora(L->ctx, L->lora, L->lora_scale, (size_t)L->n_lora, &e);
        if (!st)
            st = cli_ppl_score(L->ctx, t, i, nt, &e);
        if (st)
            break;
        fr_ppl_pair_add(pair, nb, nt, t->n_scored);
        running[i] = fr_ppl_acc_ppl(&pair->tuned);
        char note[96];
        snprintf(note, sizeof note, "PPL %.4f base %.4f", running[i], fr_ppl_acc_ppl(&pair->base));
        cli_progress_note(bar, note);
        cli_progress_update(bar, 2ull * (i + 1) * t->n_ctx);
    }
    cli_progress_finish(bar, st == FR_OK);
    free(nb);
    free(nt);
    return st ? cli_fail(&e) : FR_EXIT_OK;
}

static void print_final(const fr_ppl_acc *acc)
{
    double ppl = fr_ppl_acc_ppl(acc), err = fr_ppl_acc_err(acc);
    if (isfinite(err))
        printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, err);
    else
        printf("Final estimate: PPL = %.4f (no uncertainty: the scored tokens' log-probabilities "
               "do not vary)\n", ppl);
}

int cmd_perplexity(int argc, char **argv)
{
    cli_model_opts mo = {0};
    const char *text_path = NULL;
    long max_chunks = 0;
    bool json = false, compare = false;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(&mo),
        {"--file", "-f", CLI_STR, &text_path, "TEXT", "the text to score (plain UTF-8)", 0, 0, NULL},
        {"--chunks", NULL, CLI_INT, &max_chunks, "N", "score at most N chunks (default: all)", 1, 1 << 30, NULL},
        {"--compare", NULL, CLI_FLAG, &compare, NULL, "score without and with the --lora adapters on the same chunks", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "print one JSON record", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal perplexity -m MODEL.gguf -f TEXT [--lora A[:S]] [-c 512] [--chunks N] [--compare]",
        "Perplexity of a model on a text by llama.cpp's method: chunks of -c tokens (default\n"
        "512), BOS at each chunk start, only the second half of each chunk scored. With\n"
        "--compare and --lora, scores the base model and the adapted one on the same chunks\n"
        "and reports the paired change in log-PPL with its standard error.",
        opts, 0, 0};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!text_path) {
        cli_error("perplexity: give the text with -f TEXT");
        return FR_EXIT_USAGE;
    }
    if (compare && mo.lora.n == 0) {
        cli_error("perplexity: --compare compares the model with and without its adapters; give "
                  "at least one --lora ADAPTER");
        return FR_EXIT_USAGE;
    }
    if (mo.ctx == 0)
        mo.ctx = 512;
    if (mo.ctx < 4) {
        cli_error("perplexity: -c %ld is too small; a chunk needs at least 4 tokens", mo.ctx);
        return FR_EXIT_USAGE;
    }
    if (mo.batch == 0)
        mo.batch = mo.ctx; /* one forward pass per chunk */
    cli_llm L;
    if ((rc = cli_llm_open(&mo, 1, false, &L)))
        return rc;
    const char *model_path = mo.model ? mo.model : getenv("FRUGAL_MODEL");
    cli_llm_describe(&L, model_path);
    uint32_t n_ctx = fr_context_n_ctx(L.ctx);
    if (n_ctx > fr_model_hparams(L.model)->n_ctx_train)
        cli_warn("-c %u is longer than the %u tokens the model was trained on", n_ctx,
                 fr_model_hparams(L.model)->n_ctx_train);
    cli_ppl_text t;
    if ((rc = cli_ppl_text_load(L.tok, text_path, n_ctx, max_chunks, &t))) {
        cli_llm_close(&L);
        return rc;
    }
    fprintf(stderr, "perplexity: %zu tokens; %u chunks of %u tokens, %u scored per chunk%s\n",
            t.n_tokens, t.n_chunks, n_ctx, t.n_scored, compare ? ", each scored twice" : "");
    double *running = calloc(t.n_chunks, sizeof *running);
    fr_ppl_pair pair;
    memset(&pair, 0, sizeof pair);
    double t0 = fr_now_s();
    if (!running) {
        cli_error("out of memory");
        rc = FR_EXIT_RUNTIME;
    } else if (compare) {
        rc = ppl_compare(&L, &t, &pair, running);
    } else {
        rc = cli_ppl_run(L.ctx, &t, "perplexity", &pair.tuned, running);
    }
    double secs = fr_now_s() - t0;
    if (rc)
        goto out;
    uint64_t evaluated = (uint64_t)t.n_chunks * n_ctx * (compare ? 2 : 1);
    double tps = secs > 0 ? (double)evaluated / secs : 0;
    uint32_t nt = fr_context_n_threads(L.ctx);
    fprintf(stderr, "perplexity: %llu tokens evaluated in %.2f s (%.1f tok/s, %u thread%s)\n",
            (unsigned long long)evaluated, secs, tps, nt, nt == 1 ? "" : "s");
    fr_ppl_pair_stats ps;
    fr_ppl_pair_stats_get(&pair, &ps);
    const fr_ppl_acc *acc = &pair.tuned;
    if (json) {
        json_t *ads = json_array();
        for (int i = 0; i < L.n_lora; i++) {
            const fr_lora *a = L.lora[i];
            json_array_append_new(
                ads, json_pack("{s:s, s:f, s:f, s:i, s:f}", "path", fr_lora_path(a), "scale",
                               (double)L.lora_scale[i], "alpha", (double)fr_lora_alpha(a), "rank",
                               (int)fr_lora_rank(a), "effective_scale",
                               (double)fr_lora_effective_scale(fr_lora_alpha(a), fr_lora_rank(a),
                                                               L.lora_scale[i])));
        }
        json_t *chunks = json_array();
        for (uint32_t i = 0; i < t.n_chunks; i++)
            json_array_append_new(chunks, json_real(running[i]));
        json_t *j = json_pack("{s:s, s:o, s:s, s:I, s:i, s:i, s:I, s:o, s:o, s:o, s:o, s:f, s:f}",
                              "model", model_path, "adapters", ads, "text", text_path,
                              "n_tokens", (json_int_t)t.n_tokens, "n_ctx", (int)n_ctx,
                              "n_chunks", (int)t.n_chunks, "scored_tokens",
                              (json_int_t)acc->count, "chunks", chunks, "ppl",
                              num_or_null(fr_ppl_acc_ppl(acc)), "ppl_err",
                              num_or_null(fr_ppl_acc_err(acc)), "mean_nll",
                              num_or_null(acc->count ? acc->nll / (double)acc->count : NAN),
                              "seconds", secs, "tokens_per_s", tps);
        if (j && compare)
            json_object_set_new(
                j, "compare",
                json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "base_ppl",
                          num_or_null(ps.ppl_base), "base_ppl_err", num_or_null(ps.ppl_base_err),
                          "tuned_ppl", num_or_null(ps.ppl_tuned), "tuned_ppl_err",
                          num_or_null(ps.ppl_tuned_err), "ratio", num_or_null(ps.ratio),
                          "delta_log_ppl", num_or_null(ps.delta), "delta_log_ppl_se",
                          num_or_null(ps.delta_se), "delta_log_ppl_se_chunks",
                          num_or_null(ps.delta_se_chunks)));
        if (!j) {
            cli_error("could not build the JSON record");
            rc = FR_EXIT_RUNTIME;
            goto out;
        }
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        cli_ppl_print_running(running, t.n_chunks);
        print_final(acc);
        if (compare) {
            printf("base (no adapter): PPL = %.4f +/- %.5f\n", ps.ppl_base, ps.ppl_base_err);
            printf("ratio PPL(adapter) / PPL(base) = %.4f\n", ps.ratio);
            printf("mean change in log-PPL (adapter - base) = %+.5f +/- %.5f (paired over %llu "
                   "tokens)", ps.delta, ps.delta_se, (unsigned long long)pair.count);
            if (isfinite(ps.delta_se_chunks))
                printf("; +/- %.5f between %u chunks", ps.delta_se_chunks, t.n_chunks);
            printf("\n");
            double z = ps.delta_se > 0 ? ps.delta / ps.delta_se : 0;
            printf("%s\n", z < -2   ? "the adapter lowers perplexity on this text"
                           : z > 2  ? "the adapter raises perplexity on this text"
                                    : "no clear change (within 2 standard errors)");
        }
    }
    fflush(stdout);
out:
    free(running);
    cli_ppl_text_free(&t);
    cli_llm_close(&L);
    return rc;
}
