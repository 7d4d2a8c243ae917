/*
 * claims.h - splitting one claim sentence into the sub-claims it asserts.
 *
 * "Arnold is the publisher of Media Play News, one of five Hollywood trades
 * and the only one dedicated to home entertainment" asserts three things;
 * a source that supports two of them does not support the claim. The
 * verdict scores each sub-claim on its own and the claim is supported only
 * when every sub-claim is (see ground.c).
 *
 * A sub-claim is a list of byte ranges of the sentence (no copy): its own
 * words, preceded by the words it leans on - the sentence's subject for a
 * coordinated verb phrase ("... and was raised in Lyon" -> "He" + "was
 * raised in Lyon"), the noun phrase before the comma for a relative clause
 * or an apposition ("Media Play News" + "one of five Hollywood trades"),
 * the words before a list for each list item ("played for" + "Chelsea").
 * The rules read only words and punctuation (no part-of-speech model):
 * commas, semicolons, dashes and parentheses, the conjunctions and, but,
 * while, whereas, although, relative pronouns, participles, a short list of
 * auxiliary and common irregular verbs, and "-ed" forms. They decide
 * boundaries only; scoring is lexical, so a sub-claim with a slightly wrong
 * head still carries the words that decide it.
 */
#ifndef FR_RAG_CLAIMS_H
#define FR_RAG_CLAIMS_H

#include <stddef.h>
#include <stdint.h>

#define FR_SUBCLAIM_PARTS 3
#define FR_SUBCLAIMS_MAX 8

typedef enum fr_subclaim_kind {
    FR_SUB_MAIN,       /* the main clause (or the whole sentence) */
    FR_SUB_CLAUSE,     /* a coordinated clause with its own subject */
    FR_SUB_VERB,       /* a coordinated verb phrase: the subject is prepended */
    FR_SUB_RELATIVE,   /* ", which/who/where ...": the noun phrase before is prepended */
    FR_SUB_APPOSITION, /* ", a/the/one of ...": the noun phrase before is prepended */
    FR_SUB_LIST_ITEM,  /* one item of "A, B and C": the words before the list are prepended */
} fr_subclaim_kind;

typedef struct fr_subclaim {
    uint32_t off[FR_SUBCLAIM_PARTS], len[FR_SUBCLAIM_PARTS]; /* bytes of the sentence */
    int n_parts;        /* the last part is the sub-claim's own words */
    fr_subclaim_kind kind;
} fr_subclaim;

/* Splits s[0..n) into at most FR_SUBCLAIMS_MAX sub-claims, in sentence
 * order; returns how many (0 only when s has no word). A sentence that
 * asserts one thing comes back whole as one FR_SUB_MAIN. */
size_t fr_split_claim(const char *s, size_t n, fr_subclaim *out);

/* Writes the sub-claim's text (its parts joined by one space) into out,
 * at most cap - 1 bytes, NUL-terminated; returns its length. */
size_t fr_subclaim_text(const char *s, const fr_subclaim *c, char *out, size_t cap);

const char *fr_subclaim_kind_str(fr_subclaim_kind k);

#endif
