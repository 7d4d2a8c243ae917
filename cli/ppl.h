/*
 * ppl.h - what `frugal perplexity` and `frugal merge --verify` share: a
 * text tokenized and cut into chunks the way llama.cpp's perplexity tool
 * does (see frugal/perplexity.h), and a loop that scores the chunks with a
 * progress bar.
 */
#ifndef FR_CLI_PPL_H
#define FR_CLI_PPL_H

#include "cli.h"

#include <frugal/perplexity.h>
#include <frugal/tokenizer.h>

typedef struct cli_ppl_text {
    int32_t *tokens;   /* the whole text, BOS first when the vocabulary adds it */
    size_t n_tokens;
    uint32_t n_ctx;
    uint32_t n_chunks; /* chunks that will be scored */
    uint32_t n_scored; /* scored tokens per chunk */
    int32_t bos;       /* replaces each chunk's first token; -1: none */
} cli_ppl_text;

/* Reads and tokenizes path, checks there are at least 2 * n_ctx tokens, and
 * keeps at most max_chunks chunks (0: all). Prints errors; returns an exit
 * code. */
int cli_ppl_text_load(const fr_tokenizer *tok, const char *path, uint32_t n_ctx, long max_chunks,
                      cli_ppl_text *out);
void cli_ppl_text_free(cli_ppl_text *t);

/* Scores chunk i of t with c into nll (t->n_scored values). */
fr_status cli_ppl_score(fr_context *c, const cli_ppl_text *t, uint32_t i, double *nll,
                        fr_err *err);

/* Scores every chunk with c into acc, keeping the running PPL after each
 * chunk in running[] (n_chunks values, may be NULL), with a progress bar
 * titled label. Prints errors; returns an exit code. */
int cli_ppl_run(fr_context *c, const cli_ppl_text *t, const char *label, fr_ppl_acc *acc,
                double *running);

/* "[1]12.3456,[2]11.0034," as llama.cpp prints the running values, then a
 * newline. */
void cli_ppl_print_running(const double *running, uint32_t n);

#endif
