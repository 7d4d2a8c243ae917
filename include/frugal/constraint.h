/*
 * frugal/constraint.h - constrained decoding: the hook the generation loop
 * calls so that the output stays inside a language (a GBNF grammar, a JSON
 * Schema, a tool call, the citation format of `frugal ask`).
 *
 * A constraint is an object with a state (what was generated so far) and
 * four operations the loop calls around each sampled token:
 *
 *   allows(t)   may token t come next?  (one candidate; cheap)
 *   mask(bits)  every token that may come next, as a bitset; may cost a
 *               pass over the vocabulary, so the sampler asks for it only
 *               when the candidates it tried first were refused
 *   accept(t)   advance the state past t (which allows() accepted)
 *   complete()  the output so far is a whole sentence of the language
 *
 * The rule every implementation follows for special tokens: an
 * end-of-generation token is allowed exactly when complete() is true; a
 * token whose text is empty (control tokens) is never allowed. So a
 * constrained stream ends with an end-of-generation token once its output
 * is complete, or stops (nothing allowed) when it cannot continue.
 *
 * The constraint sees each token's raw bytes (fr_token_piece with flags 0:
 * SentencePiece's leading space included), which is what the model wrote;
 * a decoder that later drops that leading space only removes whitespace in
 * front of a complete output.
 *
 * Threads: a constraint is used by one thread at a time.
 */
#ifndef FRUGAL_CONSTRAINT_H
#define FRUGAL_CONSTRAINT_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_constraint fr_constraint;

/* Bitset over token ids: token t is bit (t % 64) of word t / 64. */
#define FR_MASK_WORDS(n_vocab) (((size_t)(n_vocab) + 63) / 64)

typedef struct fr_constraint_ops {
    const char *name;                                   /* "grammar", "citations", ... */
    bool (*allows)(void *self, int32_t token);
    /* Sets the bit of every allowed token in allowed[FR_MASK_WORDS(n_vocab)],
     * which the caller has zeroed. */
    fr_status (*mask)(void *self, uint64_t *allowed, fr_err *err);
    fr_status (*accept)(void *self, int32_t token, fr_err *err);
    bool (*complete)(void *self);
    void (*free)(void *self); /* releases self; may be NULL */
} fr_constraint_ops;

/* Wraps an implementation: ops is borrowed (normally a static table); self
 * is owned from here on (ops->free releases it, also when this call fails).
 * *out is owned by the caller: fr_constraint_free (NULL is a no-op). */
FR_API fr_status fr_constraint_create(const fr_constraint_ops *ops, void *self,
                                      fr_constraint **out, fr_err *err);
FR_API void fr_constraint_free(fr_constraint *c);

FR_API const char *fr_constraint_name(const fr_constraint *c);
FR_API bool fr_constraint_allows(fr_constraint *c, int32_t token);
FR_API fr_status fr_constraint_mask(fr_constraint *c, uint64_t *allowed, fr_err *err);
FR_API fr_status fr_constraint_accept(fr_constraint *c, int32_t token, fr_err *err);
FR_API bool fr_constraint_complete(fr_constraint *c);

#ifdef __cplusplus
}
#endif
#endif
