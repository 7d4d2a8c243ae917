/*
 * verifier.h - the learned verdict's model, inside the library (the public
 * half, loading and freeing weights, is in frugal/rag.h).
 */
#ifndef FR_RAG_VERIFIER_H
#define FR_RAG_VERIFIER_H

#include <frugal/rag.h>

/* The model's probability that a sub-claim with features f[FR_F_COUNT] is
 * supported, and its logit. */
double fr_verifier_prob(const fr_rag_verifier *v, const double *f);
double fr_verifier_z(const fr_rag_verifier *v, const double *f);
/* True when a number or name of the sub-claim is missing from the
 * evidence: the sub-claim cannot be supported. */
bool fr_verifier_veto(const double *f);
/* The sub-claim's score under a threshold: the probability, or for a
 * vetoed sub-claim min(p, threshold) * fact_gate (always below it). */
double fr_verifier_score(const fr_rag_verifier *v, const double *f, double threshold);
/* A verifier from its parts (the training program's, after a fit): nf
 * weights on features idx[]; NULL on a bad nf or out of memory. Owned by
 * caller: fr_rag_verifier_free. */
fr_rag_verifier *fr_verifier_make(int nf, const int *idx, const double *mean, const double *scale,
                                  const double *w, double bias, double threshold, double fact_gate);

#endif
