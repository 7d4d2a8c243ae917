/*
 * ppl.c - loading a text for perplexity and scoring its chunks (see ppl.h).
 */
#include "ppl.h"

#include "base/clock.h"
#include "base/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PPL_TEXT_CAP ((size_t)256 << 20)

int cli_ppl_text_load(const fr_tokenizer *tok, const char *path, uint32_t n_ctx, long max_chunks,
                      cli_ppl_text *out)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    fr_err e;
    if (fr_read_file(path, PPL_TEXT_CAP, &text, &len, &e) != FR_OK)
        return cli_fail(&e);
    if (fr_tokenizer_add_eos(tok))
        cli_warn("the vocabulary adds EOS to every text; perplexity leaves it out, as llama.cpp "
                 "requires");
    /* BOS as the vocabulary says, no EOS, no special-token parsing:
     * llama.cpp's common_tokenize(ctx, text, add_special = true) */
    fr_encode_opts eo = {-1, 0, false};
    fr_status st = fr_tokenize(tok, text, len, &eo, &out->tokens, &out->n_tokens, &e);
    free(text);
    if (st) {
        fr_err_prefix(&e, "%s", path);
        return cli_fail(&e);
    }
    if (out->n_tokens < 2 * (size_t)n_ctx) {
        cli_error("%s tokenizes to only %zu tokens; perplexity with a context of %u needs at "
                  "least %zu (2 x the context): give a longer text or a smaller -c", path,
                  out->n_tokens, n_ctx, 2 * (size_t)n_ctx);
        cli_ppl_text_free(out);
        return FR_EXIT_RUNTIME;
    }
    out->n_ctx = n_ctx;
    size_t n_chunks = out->n_tokens / n_ctx;
    if (max_chunks > 0 && (size_t)max_chunks < n_chunks)
        n_chunks = (size_t)max_chunks;
    out->n_chunks = (uint32_t)n_chunks;
    out->n_scored = fr_ppl_scored_per_chunk(n_ctx);
    out->bos = fr_tokenizer_add_bos(tok) ? fr_tokenizer_bos(tok) : -1;
    return FR_EXIT_OK;
}

void cli_ppl_text_free(cli_ppl_text *t)
{
    free(t->tokens);
    memset(t, 0, sizeof *t);
}

fr_status cli_ppl_score(fr_context *c, const cli_ppl_text *t, uint32_t i, double *nll,
                        fr_err *err)
{
    return fr_ppl_chunk(c, t->tokens + (size_t)i * t->n_ctx, t->n_ctx, t->bos, nll, err);
}

int cli_ppl_run(fr_context *c, const cli_ppl_text *t, const char *label, fr_ppl_acc *acc,
                double *running)
{
    double *nll = malloc((size_t)t->n_scored * sizeof *nll);
    if (!nll) {
        cli_error("out of memory");
        return FR_EXIT_RUNTIME;
    }
    cli_progress *bar = cli_progress_start(label, (uint64_t)t->n_chunks * t->n_ctx, "tok");
    fr_err e;
    fr_status st = FR_OK;
    for (uint32_t i = 0; i < t->n_chunks && !st; i++) {
        st = cli_ppl_score(c, t, i, nll, &e);
        if (st)
            break;
        fr_ppl_acc_add(acc, nll, t->n_scored);
        double ppl = fr_ppl_acc_ppl(acc);
        if (running)
            running[i] = ppl;
        char note[64];
        snprintf(note, sizeof note, "PPL %.4f", ppl);
        cli_progress_note(bar, note);
        cli_progress_update(bar, (uint64_t)(i + 1) * t->n_ctx);
    }
    cli_progress_finish(bar, st == FR_OK);
    free(nll);
    return st ? cli_fail(&e) : FR_EXIT_OK;
}

void cli_ppl_print_running(const double *running, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        printf("[%u]%.4f,", i + 1, running[i]);
    printf("\n");
}
