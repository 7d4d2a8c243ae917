/*
 * ask_model.h - the language-model step of `frugal ask` (and POST /v1/ask):
 * greedy decoding constrained by the citation grammar.
 */
#ifndef FR_RAG_ASK_MODEL_H
#define FR_RAG_ASK_MODEL_H

#include <frugal/chat.h>
#include <frugal/constraint.h>
#include <frugal/energy.h>
#include <frugal/generate.h>
#include <frugal/model.h>
#include <frugal/rag.h>
#include <frugal/tokenizer.h>

typedef struct fr_rag_model {
    fr_context *ctx;              /* sequence `seq` is used (and overwritten) */
    uint32_t seq;
    const fr_tokenizer *tok;
    const fr_chat_template *tmpl;
    fr_meter *meter;              /* optional: energy of the generation */
} fr_rag_model;

/* An fr_rag_generate_fn; user is an fr_rag_model. fr_generate with the
 * citation constraint: at every step the highest-logit token whose text
 * keeps the answer a valid prefix of the grammar is taken (end-of-generation
 * only once the answer is complete), so the output always parses: sentences
 * each followed by [n] citations with n in range, or NOT_FOUND. */
fr_status fr_rag_model_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                                fr_err *err);

/*
 * The citation format as a constraint (frugal/constraint.h): a token is
 * allowed when its bytes keep the answer a valid prefix of the grammar
 * (fr_rag_cite_feed), an end-of-generation token only when the answer is
 * complete. init is the grammar's initial state (fr_rag_cite_init with the
 * passage count). *out is owned by the caller: fr_constraint_free.
 */
fr_status fr_rag_cite_constraint(const fr_tokenizer *tok, uint32_t n_vocab,
                                 const fr_rag_cite_state *init, fr_constraint **out, fr_err *err);

/* The generation parameters of a grounded answer, as `frugal ask` and the
 * server use them: greedy, each token's log-probability under the
 * unconstrained softmax (the checker weighs sentences by them), the tokens'
 * raw bytes as text (FR_DECODE_BYTES, prefix space kept), constraint c
 * (borrowed), at most max_bytes of text and max_tokens tokens (-1: no
 * limit). */
void fr_rag_gen_params(fr_gen_params *gp, fr_constraint *c, size_t max_bytes, int32_t max_tokens);

#endif
