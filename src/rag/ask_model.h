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

/*
 * One step of that decoding, for engines that own the forward pass (the
 * server's scheduler runs it per slot between batched steps). A picker
 * holds the scratch for the rare full ordering of the vocabulary (allocated
 * on first need). Owned by caller: fr_rag_picker_free (NULL is a no-op).
 */
typedef struct fr_rag_picker fr_rag_picker;

fr_rag_picker *fr_rag_picker_create(const fr_tokenizer *tok, uint32_t n_vocab);
void fr_rag_picker_free(fr_rag_picker *p);

typedef enum fr_rag_pick_result {
    FR_RAG_PICK_NONE = 0, /* no token keeps the answer valid: stop here */
    FR_RAG_PICK_TOKEN,    /* *id taken, *s advanced past its text */
    FR_RAG_PICK_END,      /* end of generation: the answer is complete */
    FR_RAG_PICK_NOMEM     /* the full ordering could not be allocated */
} fr_rag_pick_result;

/* Picks the highest-logit token whose text keeps s a valid prefix (an
 * end-of-generation token only when s is complete). *logprob gets the
 * chosen token's log-probability under the unconstrained softmax of
 * logits[0..n_vocab). */
fr_rag_pick_result fr_rag_pick(fr_rag_picker *p, const float *logits, fr_rag_cite_state *s,
                               int32_t *id, float *logprob);

#endif
