/*
 * pretok.h - byte-level BPE pre-tokenizers: the rules that cut text into
 * words before BPE merges run inside each word, one set per
 * tokenizer.ggml.pre value, each a list of PCRE2 expressions.
 *
 * The expressions are applied in order, each one to every piece the previous
 * ones produced; within a piece, both the matches and the text between
 * matches become pieces (llama.cpp's unicode_regex_split). Pieces are handed
 * to PCRE2 as separate subjects, so anchors and look-arounds stop at piece
 * boundaries, as they do in llama.cpp.
 */
#ifndef FR_TEXT_PRETOK_H
#define FR_TEXT_PRETOK_H

#include <frugal/base.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define FR_PRETOK_MAX_RE 6

typedef struct fr_pretok_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    const char *re[FR_PRETOK_MAX_RE];
    bool ignore_merges; /* a word that is itself a token skips the merges */
    bool add_bos;       /* default for add_bos_token */
    bool clean_spaces;  /* clean_up_tokenization_spaces on decode */
    bool no_bos;        /* the vocabulary has no BOS token by default */
} fr_pretok_def;

/* The definition for name, or NULL. */
const fr_pretok_def *fr_pretok_find(const char *name);
/* Every supported name, '|'-separated (static storage). */
const char *fr_pretok_names(void);

/* Compiled expressions of one definition (immutable, shareable). */
typedef struct fr_pretok {
    const fr_pretok_def *def;
    pcre2_code *re[FR_PRETOK_MAX_RE];
    bool jit[FR_PRETOK_MAX_RE];
    int n;
} fr_pretok;

fr_status fr_pretok_compile(const fr_pretok_def *def, fr_pretok *out, fr_err *err);
void fr_pretok_release(fr_pretok *p);

/* A piece of the text: bytes [off, off+len). */
typedef struct fr_span {
    uint32_t off, len;
} fr_span;

/* Growable span list owned by a caller (reused across calls). */
typedef struct fr_spans {
    fr_span *v;
    size_t n, cap;
} fr_spans;

void fr_spans_free(fr_spans *s);

/* Splits text[0..len) (valid UTF-8, len < 2^32) into words: *out receives
 * the spans in order; tmp is scratch. */
fr_status fr_pretok_split(const fr_pretok *p, const char *text, size_t len, fr_spans *out,
                          fr_spans *tmp, fr_err *err);

#endif
