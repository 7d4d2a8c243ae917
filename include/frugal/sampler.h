/*
 * frugal/sampler.h - choosing the next token from the model's logits.
 *
 * One fr_sampler per generation stream (a `frugal run`, a chat session, a
 * server slot). It owns its random state (xoshiro256**, seeded from
 * params.seed through splitmix64) and its penalty history, so two samplers
 * never interfere and the same seed, logits and history give the same
 * tokens on every machine. All memory is allocated by fr_sampler_create;
 * sampling never allocates.
 *
 * The order of operations is llama.cpp's default sampler chain (its
 * common_params_sampling: penalties, [dry, top-n-sigma], top-k, [typical],
 * top-p, min-p, [xtc], temperature, then a draw; bracketed ones are not
 * implemented here), with the logit bias first as llama.cpp adds it:
 *
 *   1. logit bias       logit[t] += bias[t]   (-INFINITY bans t)
 *   2. penalties        for each token t seen c > 0 times among the last
 *                       penalty_last_n accepted tokens:
 *                         logit <= 0 ? logit *= repeat_penalty : logit /= repeat_penalty
 *                         logit -= c * frequency_penalty + presence_penalty
 *                       (repetition as in llama.cpp / CTRL; frequency and
 *                       presence as in the OpenAI API, over the same window)
 *   3. greedy           temperature <= 0 (or top_k == 1): the largest logit,
 *                       lowest token id on ties; no random number is drawn
 *   4. top-k            keep the k largest logits (k <= 0 or >= n_vocab: all)
 *   5. top-p            p_i = softmax over the top-k set; sorted by logit
 *                       descending (ties: lower id first), keep the shortest
 *                       prefix whose cumulative p_i >= top_p (top_p >= 1: all)
 *   6. min-p            keep tokens with p_i >= min_p * p_max, i.e.
 *                       logit_i >= logit_max + log(min_p) (min_p <= 0: all)
 *   7. temperature      p_i = softmax(logit_i / temperature) over what is kept
 *   8. draw             one uniform double in [0, 1) against the cumulative
 *                       p_i of the kept tokens, in a deterministic order
 *                       (the sorted order of step 5 when top-p is active;
 *                       without top-p nothing is sorted, so that sampling
 *                       from a whole 256k vocabulary stays O(n_vocab))
 *
 * Log-probabilities (for OpenAI's logprobs / top_logprobs) come from the
 * FULL softmax of the model's raw logits - before bias, penalties,
 * truncation and temperature - as llama.cpp's server reports them by
 * default. So the chosen token's logprob is finite even when sampling was
 * greedy, and top_logprobs may list tokens that sampling could not pick.
 *
 * Threads: a sampler is used by one thread at a time.
 */
#ifndef FRUGAL_SAMPLER_H
#define FRUGAL_SAMPLER_H

#include <frugal/base.h>
#include <frugal/constraint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_SAMPLER_MAX_TOP_LOGPROBS 20  /* OpenAI's limit for top_logprobs */
#define FR_SAMPLER_MAX_LAST_N (1 << 20) /* cap on penalty_last_n */
#define FR_SAMPLER_MAX_VOCAB (1 << 24)  /* cap on n_vocab */

typedef struct fr_logit_bias {
    int32_t token;
    float bias; /* added to the logit; -INFINITY bans the token */
} fr_logit_bias;

typedef struct fr_sampler_params {
    float temperature;       /* <= 0: greedy. Default 0.8 */
    int32_t top_k;           /* <= 0: off. Default 40 */
    float top_p;             /* >= 1: off. Default 0.95 */
    float min_p;             /* <= 0: off. Default 0.05 */
    float repeat_penalty;    /* 1: off. Default 1.0 (> 0 required) */
    float frequency_penalty; /* 0: off. Default 0 */
    float presence_penalty;  /* 0: off. Default 0 */
    int32_t penalty_last_n;  /* window of accepted tokens the penalties look at;
                                0: penalties off. Default 64 */
    uint64_t seed;           /* same seed + same inputs = same tokens. Default 0 */
    /* Optional logit bias, copied at create (later entries for the same
     * token add up). */
    const fr_logit_bias *logit_bias;
    int32_t n_logit_bias;
    /* Log-probabilities to report in fr_sample: logprobs fills .logprob,
     * top_logprobs (0..FR_SAMPLER_MAX_TOP_LOGPROBS) fills .top. Both cost a
     * pass over the vocabulary with exp(); off by default. */
    bool logprobs;
    int32_t top_logprobs;
} fr_sampler_params;

/* llama.cpp's defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * no penalties, window 64), seed 0. */
FR_API void fr_sampler_params_default(fr_sampler_params *p);

typedef struct fr_token_logprob {
    int32_t token;
    float logprob;
} fr_token_logprob;

typedef struct fr_sample {
    int32_t token;
    float logprob;  /* log p(token), full raw softmax; 0 unless params.logprobs */
    int32_t n_top;  /* entries in top (min(top_logprobs, n_vocab)) */
    fr_token_logprob top[FR_SAMPLER_MAX_TOP_LOGPROBS]; /* most likely first; ties: lower id */
} fr_sample;

typedef struct fr_sampler fr_sampler;

/* Validates params (message names the field and its allowed range) and
 * allocates everything sampling will need for a vocabulary of n_vocab
 * tokens. *out is owned by the caller: fr_sampler_free. */
FR_API fr_status fr_sampler_create(const fr_sampler_params *p, int32_t n_vocab, fr_sampler **out,
                                   fr_err *err);
FR_API void fr_sampler_free(fr_sampler *s);

/* Chooses the next token from logits[0..n_vocab) (borrowed, not modified)
 * and records it in the penalty history (as fr_sampler_accept does).
 * FR_E_INVALID when a logit is NaN or +inf (the message names the token),
 * FR_E_RANGE when every token is banned (-inf). */
FR_API fr_status fr_sampler_sample(fr_sampler *s, const float *logits, fr_sample *out,
                                   fr_err *err);

/* As fr_sampler_sample, choosing only a token the constraint allows (c NULL:
 * no constraint). The token chosen as usual is checked first. When c
 * refuses it: greedy tries the next 64 candidates in order; sampling draws
 * again among the candidates that survived truncation (when they are at
 * most 64, as with top-k) weighted as before, keeping those c allows. Only
 * when none of those is allowed does c's mask run over the whole
 * vocabulary; it bans every refused token and the choice is made again
 * from what is left (truncation then applies to the allowed tokens, as in
 * llama.cpp's grammar sampling). Greedy is therefore exactly the best
 * allowed token; sampling draws from the likely tokens that are allowed.
 * out->token is -1 (FR_OK) when c allows no token at all. Log-probabilities are those of the raw logits,
 * as for fr_sampler_sample. c is not advanced: the caller accepts the
 * token into it. */
FR_API fr_status fr_sampler_sample_constrained(fr_sampler *s, const float *logits,
                                               fr_constraint *c, fr_sample *out, fr_err *err);

/* Adds a token to the penalty history without sampling (the prompt's
 * tokens, or a token forced by the caller). Out-of-range ids are ignored. */
FR_API void fr_sampler_accept(fr_sampler *s, int32_t token);

/* Forgets the penalty history and restarts the random sequence from seed
 * (pass params.seed to replay the same sequence). */
FR_API void fr_sampler_reset(fr_sampler *s, uint64_t seed);

/* The distribution step 8 draws from, for inspection and tests: the kept
 * tokens, most probable first (ties: lower id first), with their logit
 * after steps 1-2 (before temperature) and their probability after step 7. Writes up to cap
 * entries to out and their number to *n_out (the number kept, which may
 * exceed cap). Does not change the history or the random state. Greedy
 * reports the one token with p = 1. */
typedef struct fr_token_prob {
    int32_t token;
    float logit;
    float p;
} fr_token_prob;

FR_API fr_status fr_sampler_dist(fr_sampler *s, const float *logits, fr_token_prob *out,
                                 int32_t cap, int32_t *n_out, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
