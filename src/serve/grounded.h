/*
 * grounded.h - the groundedness check of a chat answer on client-supplied
 * documents (the "grounding" object; the endpoints are in grounded.c).
 */
#ifndef FR_SERVE_GROUNDED_H
#define FR_SERVE_GROUNDED_H

#include "serve/error.h"
#include "serve/request.h"

#include <frugal/rag.h>
#include <jansson.h>

/* Scores answer (the constrained decoder's text) against docs[0..n_docs)
 * as `frugal ask` scores against retrieved passages: each sentence against
 * the passages it cites, IDF over the documents, the tokens' log-
 * probabilities lps (may be NULL) weighted as frugal ask weighs them; the
 * threshold is min_support (<= 0: the verifier's). Returns the
 * "grounding" object (new reference) and sets *shown to answer, or to the
 * abstain text when the answer is NOT_FOUND or scores below the threshold.
 * NULL with e filled (500) on failure. */
json_t *srv_grounding_check(const srv_document *docs, size_t n_docs, const char *answer,
                            const fr_rag_token_lp *lps, size_t n_lps, double min_support,
                            const char **shown, srv_error *e);

#endif
