/*
 * frugal/generate.h - the generation loop shared by run, chat, serve and ask.
 *
 * fr_generate feeds a prompt to one sequence of a context (reusing the
 * longest prefix already in that sequence's cache), then samples tokens one
 * at a time until max_tokens, max_bytes, an end-of-generation token, a stop
 * string, the end of what a constraint allows, a full context or
 * cancellation by the callback. Text reaches the callback as it becomes
 * final: whole UTF-8 characters only, and never a part of what could still
 * become a stop string.
 *
 * The per-token work (sample under the constraint, end-of-generation check,
 * advance the constraint, streaming decoder, stop strings, limits) is an
 * fr_gen_stream. fr_generate runs one stream on one sequence; the server's
 * scheduler runs one per slot between its batched forward passes, so both
 * make the same tokens and text from the same logits.
 */
#ifndef FRUGAL_GENERATE_H
#define FRUGAL_GENERATE_H

#include <frugal/constraint.h>
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
    fr_constraint *constraint;   /* borrowed, may be NULL: only tokens it allows are
                                    chosen, and it is advanced past each one (its state
                                    is used up: one constraint per generation) */
    size_t max_bytes;            /* stop ("length") once the text has this many bytes;
                                    0: no limit */
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

/* ---- one stream ------------------------------------------------------------ */

typedef struct fr_gen_stream fr_gen_stream;

/* A stream for a vocabulary of n_vocab tokens (the logits' length): the
 * sampler (from p->sampling), the decoder (p->decode_flags), the stop
 * matcher (p->stop) and the limits; p->constraint is borrowed and must
 * outlive the stream. Errors: invalid sampling parameters or stop strings.
 * *out is owned by the caller: fr_gen_stream_free (NULL is a no-op). */
FR_API fr_status fr_gen_stream_create(const fr_tokenizer *tok, uint32_t n_vocab,
                                      const fr_gen_params *p, fr_gen_stream **out, fr_err *err);
FR_API void fr_gen_stream_free(fr_gen_stream *g);

/* The prompt's tokens, for the repetition penalties' history. */
FR_API void fr_gen_stream_prompt(fr_gen_stream *g, const int32_t *ids, size_t n);

/* What one call produced. Text pointers are valid until the next call. */
typedef struct fr_gen_step {
    int32_t token;        /* the token chosen, or -1 (none: a limit was reached first,
                             or the constraint allows nothing) */
    fr_sample sample;     /* its log-probabilities (when asked for); valid when token >= 0 */
    const char *text;     /* text that became final with this token; may be empty */
    size_t len;
    const char *tail;     /* when the stream ends: text held back until now (for a
                             possible stop string or an unfinished character) */
    size_t tail_len;
    fr_finish finish;     /* FR_FINISH_NONE: feed `token` to the model and call again */
    int32_t stop_index;   /* which stop string ended it, or -1 */
} fr_gen_step;

/* Chooses the next token from logits[0..n_vocab) and runs it through the
 * text path. An end-of-generation token ends the stream with its token set
 * and empty text. FR_OK with out->finish set when the stream ended. */
FR_API fr_status fr_gen_stream_next(fr_gen_stream *g, const float *logits, fr_gen_step *out,
                                    fr_err *err);
/* Ends the stream for a reason found outside it (the context is full, the
 * caller cancelled): out->tail gets what was held back, out->token is -1. */
FR_API void fr_gen_stream_end(fr_gen_stream *g, fr_finish why, fr_gen_step *out);
/* Tokens chosen so far (an end-of-generation one included). */
FR_API uint32_t fr_gen_stream_n_generated(const fr_gen_stream *g);

/* ---- the whole loop on one sequence ------------------------------------------ */

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
