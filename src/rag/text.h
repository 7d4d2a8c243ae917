/*
 * text.h - the word-level view of text that retrieval and grounding share:
 * UTF-8 checking and repair, binary detection, a tokenizer, the stopword
 * list, a light stemmer, and a document-frequency table.
 *
 * Invariants: every function takes (pointer, length) and never reads past
 * it; nothing here allocates except fr_utf8_repair and the vocab table.
 * Matching is on "terms": ASCII-lowercased, lightly stemmed words. Both the
 * question/answer side and the passage side go through the same function,
 * so the stemmer only has to be consistent, not linguistically right
 * (rejected: Porter - longer, and its over-stemming merges words that the
 * groundedness check must keep apart, such as "university"/"universal").
 * Non-ASCII letters are kept byte for byte (no Unicode case folding: that
 * needs tables we do not ship; accented words still match themselves).
 */
#ifndef FR_RAG_TEXT_H
#define FR_RAG_TEXT_H

#include "base/buf.h"

#include <frugal/base.h>

/* ---- UTF-8 -------------------------------------------------------------- */

/* True when s[0..n) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF).
 * On false, *bad_off (if not NULL) is the offset of the first bad byte. */
bool fr_utf8_valid(const char *s, size_t n, size_t *bad_off);
/* Appends s with every invalid sequence replaced by U+FFFD; returns the
 * number of replacements (or SIZE_MAX when out fails). */
size_t fr_utf8_repair(const char *s, size_t n, fr_buf *out);
/* Length of the valid UTF-8 sequence starting at s[0..n), 0 when invalid. */
size_t fr_utf8_seq_len(const char *s, size_t n);

/* True for data that is not text: a NUL byte, or more than 10% control
 * bytes (other than tab, newline, CR, form feed, ESC) in the first 64 KiB. */
bool fr_looks_binary(const char *s, size_t n);

/* ---- tokens ------------------------------------------------------------- */

enum {
    FR_TOK_WORD = 1,   /* letters and/or digits */
    FR_TOK_SYMBOL = 2, /* one of % $ € £ ¥ (units the fact check cares about) */
};

enum {
    FR_TF_DIGIT = 1u << 0, /* contains a digit */
    FR_TF_ALPHA = 1u << 1, /* contains a letter (ASCII or non-ASCII) */
    FR_TF_UPPER = 1u << 2, /* starts with an ASCII capital */
    FR_TF_CAPS = 1u << 3,  /* two or more letters, all ASCII capitals */
    FR_TF_SENT0 = 1u << 4, /* first word of its sentence (set by callers) */
};

typedef struct fr_token {
    size_t off, len; /* bytes in the source text */
    int kind;        /* FR_TOK_* */
    unsigned flags;  /* FR_TF_* */
} fr_token;

/* Finds the next token at or after *pos in s[0..n); advances *pos past it.
 * Words are runs of ASCII letters/digits and non-ASCII letters; a '.' or ','
 * between two digits stays inside ("1,299.00"), an apostrophe between
 * letters splits ("Arthur's" -> "Arthur", "s"). Unicode punctuation
 * (U+2000..U+206F, U+00A0..U+00BF, U+3000..U+303F) separates. Returns false
 * at the end. */
bool fr_next_token(const char *s, size_t n, size_t *pos, fr_token *t);

/* A code-like token ("SKU-4821X", "A7/B", "ERR_42"): a maximal run of ASCII
 * letters/digits joined by - _ / . with at least one digit, at least one
 * letter or joiner, and 3..64 bytes. Scans from *pos like fr_next_token. */
bool fr_next_code(const char *s, size_t n, size_t *pos, fr_token *t);

#define FR_TERM_MAX 64
/* Writes the term of word s[0..n) into out (NUL-terminated, at most
 * FR_TERM_MAX-1 bytes): ASCII lowercase; numbers lose thousands commas and
 * trailing ".0"/".00"; words are lightly stemmed. Returns its length (0 for
 * tokens too long to be a term). */
size_t fr_term(const char *s, size_t n, char *out);

/* True for English function words ("the", "which", "was", ...). t is a term
 * (lowercase, stemmed or not). */
bool fr_is_stopword(const char *t, size_t n);

/* True when t[0..n) is one of list[0..count), which is sorted in strcmp
 * order (a binary search). */
bool fr_in_sorted(const char *const *list, size_t count, const char *t, size_t n);

/* True for a unit word that follows a number ("kg", "day", "usd", ...). */
bool fr_is_unit(const char *t, size_t n);

/* ---- sentences ---------------------------------------------------------- */

/* Finds the end of the sentence that starts at off: returns the offset one
 * past its terminal punctuation (and closing quotes/brackets), a blank line,
 * or n. Decimal points, initials ("J. Smith") and common abbreviations do not
 * end a sentence. */
size_t fr_sentence_end(const char *s, size_t n, size_t off);

/* ---- document frequencies ----------------------------------------------- */

/* A term -> document-frequency table, filled from texts (each text one
 * document). Owned by caller; free with fr_vocab_free. */
typedef struct fr_vocab fr_vocab;
fr_vocab *fr_vocab_create(void);
void fr_vocab_free(fr_vocab *v);
/* Counts each distinct term of text once. False on out of memory. */
bool fr_vocab_add_doc(fr_vocab *v, const char *text, size_t n);
/* Starts a new document; fr_vocab_add then counts terms into it. */
void fr_vocab_begin_doc(fr_vocab *v);
/* Adds one term (any bytes) to the current document. */
bool fr_vocab_add(fr_vocab *v, const char *term, size_t n);
uint64_t fr_vocab_df(const fr_vocab *v, const char *term, size_t n);
uint64_t fr_vocab_docs(const fr_vocab *v);
size_t fr_vocab_terms(const fr_vocab *v);

/* BM25-style inverse document frequency, always > 0:
 * log(1 + (N - df + 0.5) / (df + 0.5)). */
double fr_idf(uint64_t df, uint64_t n_docs);

#endif
