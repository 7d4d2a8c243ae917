/*
 * ground.h - the groundedness verdict's building blocks inside the library,
 * shared by ground.c and the verifier's training program
 * (tools/train_verifier.c), so that training sees exactly the sub-claims
 * and features that the verdict scores at run time.
 */
#ifndef FR_RAG_GROUND_H
#define FR_RAG_GROUND_H

#include "rag/claims.h"
#include "rag/evidence.h"

/* Splits sentence s[0..n) into sub-claims and scores each against ev:
 * fills subs[] and units[] (FR_SUBCLAIMS_MAX each) and returns how many
 * (1 for a sentence without words: one empty unit). text receives the
 * sub-claims' texts, NUL-separated, in order (FR_GROUND_TEXT_CAP(n) bytes
 * is always enough; a shorter buffer truncates them). */
#define FR_GROUND_TEXT_CAP(n) (FR_SUBCLAIMS_MAX * ((n) + 4))
size_t fr_ground_units(const fr_evidence *ev, const char *s, size_t n, fr_rag_idf_fn idf, void *idf_user,
                       fr_subclaim *subs, fr_unit_score *units, char *text, size_t text_cap);

/* The sentences of a claim or an answer, as fr_rag_check_answer splits it:
 * the end of the sentence that starts at i (citation groups "[1][2]" stay
 * with the sentence before them). */
size_t fr_ground_sentence_end(const char *s, size_t n, size_t i);

#endif
