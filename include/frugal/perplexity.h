/*
 * frugal/perplexity.h - perplexity exactly as llama.cpp's perplexity tool
 * computes it, so numbers compare with llama.cpp's:
 *
 *   - the whole text is tokenized once, with BOS if the vocabulary adds it;
 *   - it is cut into n_chunk = n_tokens / n_ctx chunks of n_ctx tokens (the
 *     tail is dropped; at least 2 * n_ctx tokens are needed);
 *   - each chunk is evaluated from an empty cache with its first token
 *     replaced by BOS (when the vocabulary adds BOS);
 *   - only the second half is scored: with first = n_ctx / 2, the logits at
 *     positions first .. n_ctx - 2 predict tokens first + 1 .. n_ctx - 1,
 *     n_ctx - 1 - first tokens per chunk;
 *   - per token, nll = log(sum_i exp(l_i - max)) - (l_tok - max), with the
 *     exponentials in float summed in double (llama.cpp's log_softmax);
 *   - PPL = exp(mean nll); its uncertainty is llama.cpp's
 *     sqrt((mean(nll^2) - mean(nll)^2) / (count - 1)) * PPL.
 *
 * The paired comparison (`perplexity --compare`) scores two configurations
 * of one model (without and with adapters) on the same tokens: the mean of
 * d = nll_tuned - nll_base is the change in log-PPL, with its standard error
 * sqrt((mean(d^2) - mean(d)^2) / (count - 1)) (the per-token formula
 * llama.cpp's KL-divergence statistics use for ln(PPL(Q)/PPL(base))), and a
 * more conservative one from the spread of the per-chunk means, since
 * neighbouring tokens are not independent.
 */
#ifndef FRUGAL_PERPLEXITY_H
#define FRUGAL_PERPLEXITY_H

#include <frugal/base.h>
#include <frugal/model.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tokens scored per chunk of n_ctx tokens: n_ctx - 1 - n_ctx / 2. */
FR_API uint32_t fr_ppl_scored_per_chunk(uint32_t n_ctx);

/* Evaluates one chunk tokens[0..n) (n >= 4, n <= the context's n_ctx) in
 * sequence 0 of c, from an empty cache, in one decode call (which the
 * context cuts into n_batch pieces), with tokens[0] replaced by bos when
 * bos >= 0. Writes fr_ppl_scored_per_chunk(n) values to nll. Sequence 0 is
 * left holding the chunk. */
FR_API fr_status fr_ppl_chunk(fr_context *c, const int32_t *tokens, uint32_t n, int32_t bos,
                              double *nll, fr_err *err);

/* Running sums of one configuration's per-token nll. */
typedef struct fr_ppl_acc {
    double nll, nll2;
    uint64_t count;
} fr_ppl_acc;

FR_API void fr_ppl_acc_add(fr_ppl_acc *a, const double *nll, size_t n);
FR_API double fr_ppl_acc_ppl(const fr_ppl_acc *a);   /* exp(mean nll); NAN when empty */
/* llama.cpp's "+/-": NAN when count < 2 or the variance is not positive. */
FR_API double fr_ppl_acc_err(const fr_ppl_acc *a);

/* Paired sums for tuned - base on the same tokens. */
typedef struct fr_ppl_pair {
    fr_ppl_acc base, tuned;
    double d, d2;          /* sums of d and d^2 over tokens */
    uint64_t count;
    double cd, cd2;        /* sums of per-chunk mean d and its square */
    uint64_t n_chunks;
} fr_ppl_pair;

/* Adds one chunk's n scored tokens of both configurations. */
FR_API void fr_ppl_pair_add(fr_ppl_pair *p, const double *nll_base, const double *nll_tuned,
                            size_t n);

typedef struct fr_ppl_pair_stats {
    double ppl_base, ppl_base_err, ppl_tuned, ppl_tuned_err;
    double ratio;          /* ppl_tuned / ppl_base */
    double delta;          /* mean d = log(ppl_tuned) - log(ppl_base) */
    double delta_se;       /* per-token paired standard error (NAN if undefined) */
    double delta_se_chunks; /* from per-chunk means (NAN with fewer than 2 chunks) */
} fr_ppl_pair_stats;

FR_API void fr_ppl_pair_stats_get(const fr_ppl_pair *p, fr_ppl_pair_stats *out);

#ifdef __cplusplus
}
#endif
#endif
