/*
 * ground_json.h - the JSON of a checked sentence's sub-claims (shared by
 * the check and ask commands and the server; see ground_json.c).
 */
#ifndef FR_RAG_GROUND_JSON_H
#define FR_RAG_GROUND_JSON_H

#include <frugal/rag.h>
#include <jansson.h>

/* A JSON string of t[0..n) (new reference), invalid UTF-8 (a model's
 * output) replaced by U+FFFD. */
json_t *fr_rag_json_text(const char *t, size_t n);

/* The sub-claims of c->sentences[sentence] as a JSON array (new
 * reference); ptext/plen[0..np) are the passages c was checked against. */
json_t *fr_ground_subclaims_json(const fr_rag_checked *c, size_t sentence, const char *const *ptext,
                                 const size_t *plen, size_t np);

#endif
