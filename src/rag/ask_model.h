/*
 * ask_model.h - the language-model step of `frugal ask` (and POST /v1/ask):
 * greedy decoding constrained by the citation grammar.
 */
#ifndef FR_RAG_ASK_MODEL_H
#define FR_RAG_ASK_MODEL_H

#include <frugal/chat.h>
#include <frugal/energy.h>
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

/* An fr_rag_generate_fn; user is an fr_rag_model. At every step the
 * highest-logit token whose text keeps the answer a valid prefix of the
 * grammar is taken (end-of-generation only once the answer is complete), so
 * the output always parses: sentences each followed by [n] citations with n
 * in range, or NOT_FOUND. */
fr_status fr_rag_model_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                                fr_err *err);

#endif
