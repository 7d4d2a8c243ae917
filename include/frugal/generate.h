/*
 * frugal/generate.h - the generation loop shared by run, chat, serve and ask.
 *
 * fr_generate feeds a prompt to one sequence of a context (reusing the
 * longest prefix already in that sequence's cache), then samples tokens one
 * at a time until max_tokens, an end-of-generation token, a stop string, a
 * full context or cancellation by the callback. Text reaches the callback as
 * it becomes final: whole UTF-8 characters only, and never a part of what
 * could still become a stop string.
 */
#ifndef FRUGAL_GENERATE_H
#define FRUGAL_GENERATE_H

#include <frugal/model.h>
#include <frugal/sampler.h>
#include <frugal/tokenizer.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_finish {
    FR_FINISH_NONE = 0,
    FR_FINISH_STOP,      /* end-of-generation token or stop string */
    FR_FINISH_LENGTH,    /* max_tokens reached */
    FR_FINISH_CONTEXT,   /* the context is full */
    FR_FINISH_CANCELLED  /* the callback asked to stop */
} fr_finish;

FR_API const char *fr_finish_name(fr_finish f); /* "stop", "length", "context", "cancelled" */

typedef struct fr_gen_params {
    int32_t max_tokens;          /* new tokens at most; < 0: until the context is full */
    fr_sampler_params sampling;
    const char *const *stop;     /* stop strings (not included in the output) */
    size_t n_stop;
    bool ignore_eog;             /* keep going past end-of-generation tokens */
    unsigned decode_flags;       /* fr_detokenize flags for the output text */
} fr_gen_params;

FR_API void fr_gen_params_default(fr_gen_params *p);

typedef struct fr_gen_event {
    int32_t token;            /* the token just sampled; -1: no token, text held back
                                 for stop strings and released at the end */
    const fr_sample *sample;  /* its log-probabilities (when asked for) */
    const char *text;         /* text that became final with this token; may be empty */
    size_t len;
} fr_gen_event;

/* Return false to stop generating (finish = cancelled). */
typedef bool (*fr_gen_emit_fn)(void *user, const fr_gen_event *ev);

typedef struct fr_gen_stats {
    uint32_t n_prompt;     /* prompt tokens */
    uint32_t n_cached;     /* of which reused from the cache */
    uint32_t n_generated;  /* sampled tokens (including a final end-of-generation one) */
    double t_prefill_s;    /* prompt processing */
    double t_decode_s;     /* sampling loop */
    fr_finish finish;
    int32_t stop_index;    /* which stop string ended it, or -1 */
} fr_gen_stats;

/* emit may be NULL. The sampler is created from params->sampling for this
 * call. Errors: the prompt does not fit the context (FR_E_RANGE, naming both
 * numbers), invalid sampling parameters, a model failure. */
FR_API fr_status fr_generate(fr_context *c, uint32_t seq, const fr_tokenizer *tok,
                             const int32_t *prompt, size_t n_prompt, const fr_gen_params *params,
                             fr_gen_emit_fn emit, void *user, fr_gen_stats *stats, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
