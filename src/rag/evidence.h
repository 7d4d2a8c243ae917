/*
 * evidence.h - the evidence side of the groundedness verdict: passages
 * indexed once, and the features of one sub-claim against them.
 *
 * The features are the verdict's only input, at run time (ground.c) and
 * when the verifier is trained (tools/train_verifier.c): one definition,
 * so that the weights in data/verifier.json always mean what they were
 * trained to mean. The names in fr_feature_names are written into the
 * weights file and checked when it is read.
 */
#ifndef FR_RAG_EVIDENCE_H
#define FR_RAG_EVIDENCE_H

#include <frugal/rag.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Passages indexed for scoring many sub-claims: their terms, surface words,
 * number+unit facts, nearby term pairs, and their sentences. Owned by
 * caller: fr_evidence_free. */
typedef struct fr_evidence fr_evidence;

/* Indexes passages[0..np) (borrowed; they must outlive the index). NULL on
 * out of memory. */
fr_evidence *fr_evidence_create(const char *const *passages, const size_t *plens, size_t np);
void fr_evidence_free(fr_evidence *ev);
/* True when the term (fr_term form) occurs in the passages. */
bool fr_evidence_has_term(const fr_evidence *ev, const char *term, size_t n);

enum {
    FR_F_SUPPORT,        /* IDF-weighted share of content terms found (other form: half) */
    FR_F_SUPPORT_EXACT,  /* IDF-weighted share found in the same surface form */
    FR_F_SUPPORT_PLAIN,  /* unweighted share of content terms found */
    FR_F_SUPPORT_PREFIX, /* IDF-weighted share found, a word of 5+ letters also by its first 5 */
    FR_F_SUPPORT_SOFT,   /* IDF-weighted, a missing word credited with its best trigram similarity
                            (>= 0.5) to an evidence word */
    FR_F_MISSING_VERB_W, /* weight share of missing words that look like verbs or adverbs */
    FR_F_MISSING_NOUN_W, /* weight share of the other missing words (not numbers or names) */
    FR_F_WINDOW,         /* weight found in the best window of two sentences / all weight */
    FR_F_WINDOW1,        /* the same for the best single sentence */
    FR_F_WINDOW3,        /* the same for the best window of three sentences */
    FR_F_LOCALITY,       /* weight in the best two-sentence window / weight found */
    FR_F_MISSING_TOP,    /* the heaviest missing term's share of the weight */
    FR_F_MISSING_RUN,    /* the longest run of consecutive missing content words / content words */
    FR_F_MISSING_RUN_W,  /* that run's share of the weight */
    FR_F_TERMS,          /* log(1 + distinct content terms) */
    FR_F_MISSING,        /* log(1 + content terms not found) */
    FR_F_IDF_MEAN,       /* mean IDF weight of the content terms / 10 */
    FR_F_NUMBERS_MISSING,/* numbers (with their unit) not found, at most 3 */
    FR_F_NAMES_MISSING,  /* capitalised names not found, at most 3 */
    FR_F_FACTS,          /* share of numbers and names found (1 when none) */
    FR_F_PAIRS,          /* share of neighbouring content-term pairs found near each other, in order */
    FR_F_NEGATION,       /* 1 when the sub-claim and its best window disagree on a negation */
    FR_F_SPAN_POS,       /* where the best window starts: 0 first sentence .. 1 last */
    FR_F_EVIDENCE,       /* log(1 + words of evidence) / 10 */
    FR_F_SUBCLAIMS,      /* log(sub-claims of the sentence) */
    /* the whole sentence's figures, the same for each of its sub-claims */
    FR_F_SENT_SUPPORT,
    FR_F_SENT_WINDOW,
    FR_F_SENT_MISSING_RUN,
    FR_F_SENT_PAIRS,
    FR_F_COUNT
};

extern const char *const fr_feature_names[FR_F_COUNT];

/* What scoring one sub-claim produced besides its features. */
typedef struct fr_unit_score {
    double f[FR_F_COUNT];
    int n_facts, n_facts_missing;
    char missing[64]; /* first missing fact, else the heaviest missing word ("" when none) */
    double support;   /* = f[FR_F_SUPPORT] */
    int passage;      /* best evidence window: 0-based passage, -1 when nothing matched */
    uint32_t span_off, span_len; /* its bytes in that passage */
} fr_unit_score;

/* Scores text[0..n) (a sub-claim, citation marks skipped) against ev.
 * idf/idf_user as in fr_rag_check_opts (NULL: every word weighs 1);
 * n_subclaims is the number of sub-claims of its sentence. */
void fr_evidence_score(const fr_evidence *ev, const char *text, size_t n, fr_rag_idf_fn idf,
                       void *idf_user, int n_subclaims, fr_unit_score *out);

#endif
