/*
 * tok_internal.h - the tokenizer object shared by the modules of src/text:
 * tokenizer.c (building it), encode.c (special-token splitting, BOS/EOS),
 * spm.c, bpe.c and wpm.c (the three algorithms), decode.c (pieces, detokenize,
 * streaming), tok_gguf.c and llama2c.c (loaders).
 *
 * Invariants once fr_tokenizer_create returns: every array has n_tokens
 * entries; every special id is FR_TOKEN_NONE or < n_tokens; text_map holds
 * every token's stored text; for gpt2, raw_map maps the byte string a token
 * stands for (its text decoded from the byte-level alphabet) to its id, and
 * merge parts that are not tokens get ids >= n_tokens.
 */
#ifndef FR_TEXT_TOK_INTERNAL_H
#define FR_TEXT_TOK_INTERNAL_H

#include <frugal/tokenizer.h>

#include "text/pretok.h"
#include "text/strmap.h"

#include <string.h>

typedef enum fr_tok_kind { FR_TOK_SPM = 1, FR_TOK_BPE = 2, FR_TOK_WPM = 3 } fr_tok_kind;

/* Token attributes as llama.cpp keeps them (a token may gain CONTROL or
 * UNUSED after loading; RSTRIP tokens eat the spaces after them). */
enum {
    FR_ATTR_UNKNOWN = 1u << 0,
    FR_ATTR_UNUSED = 1u << 1,
    FR_ATTR_NORMAL = 1u << 2,
    FR_ATTR_CONTROL = 1u << 3,
    FR_ATTR_USER_DEFINED = 1u << 4,
    FR_ATTR_BYTE = 1u << 5,
    FR_ATTR_RSTRIP = 1u << 8
};

struct fr_tokenizer {
    fr_tok_kind kind;
    char model[16];
    char pre[32];
    char warning[256];

    uint32_t n_tokens;
    char *texts;        /* stored token texts, back to back */
    uint32_t *text_off; /* (n_tokens) */
    uint32_t *text_len; /* (n_tokens) */
    float *scores;      /* (n_tokens) */
    uint16_t *attr;     /* (n_tokens) FR_ATTR_* */
    uint8_t *type;      /* (n_tokens) fr_token_type as given */
    fr_strmap text_map; /* stored text -> id */
    uint32_t max_token_len;

    /* SentencePiece: token for each byte when a piece is not in the vocabulary. */
    int32_t byte_tok[256];
    /* SentencePiece: no token has U+2581 after anything but U+2581, so no
     * merge crosses the start of a word and words can be merged one by one. */
    bool spm_by_word;

    /* Byte-level BPE. */
    fr_pretok pretok;
    fr_strmap raw_map;     /* raw bytes -> id (tokens, then merge-only parts) */
    fr_pairmap merges;     /* (left id, right id) -> rank, merged id (-1: not a known string) */
    int32_t byte_sym[256]; /* id of each single byte in raw_map (-1 if none) */

    /* Pieces (decoded text) of every token, as rendered with special = true. */
    char *pieces;
    uint32_t *piece_off; /* (n_tokens) */
    uint32_t *piece_len; /* (n_tokens) */

    int32_t bos, eos, eot, eom, unk, sep, pad, mask, nl;
    bool add_bos, add_eos, add_space_prefix, remove_extra_whitespaces;
    bool ignore_merges, clean_spaces;

    /* CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first: the
     * order in which their text is cut out of the input. */
    int32_t *special;
    uint32_t n_special;
    int32_t *eog; /* sorted */
    uint32_t n_eog;
};

static inline const char *fr_tok_text(const fr_tokenizer *t, int32_t id, uint32_t *len)
{
    *len = t->text_len[id];
    return t->texts + t->text_off[id];
}

/* Growable id list. */
typedef struct fr_ids {
    int32_t *v;
    size_t n, cap;
} fr_ids;

bool fr_ids_push(fr_ids *ids, int32_t id);

/* Scratch memory reused across the words of one encode call. */
typedef struct fr_tok_scratch {
    void *sym;
    size_t sym_cap; /* bytes */
    void *heap;
    size_t heap_cap; /* bytes */
    char *buf;
    size_t buf_cap;
    fr_spans words, tmp;
    /* BPE word cache for one call: word -> its ids (words repeat a lot). */
    fr_strmap cache;
    uint32_t *cache_off, *cache_n; /* per cache entry: run in cache_ids */
    size_t cache_cap;
    fr_ids cache_ids;
} fr_tok_scratch;

void fr_tok_scratch_free(fr_tok_scratch *s);
/* Ensures *p holds at least need bytes. */
bool fr_tok_reserve(void **p, size_t *cap, size_t need);

/* The per-call word cache: 1 and the ids appended to out when w is
 * cached, 0 when not, -1 when out of memory. put records out[from..n) as
 * the ids of w (words longer than a few dozen bytes are not cached); false
 * when out of memory. */
int fr_tok_cache_get(fr_tok_scratch *s, const char *w, uint32_t wl, fr_ids *out);
bool fr_tok_cache_put(fr_tok_scratch *s, const char *w, uint32_t wl, const fr_ids *out,
                      size_t from);

/* SentencePiece merge of text (already escaped: ' ' -> U+2581). */
fr_status fr_spm_encode(const fr_tokenizer *t, const char *text, size_t len, fr_ids *out,
                        fr_tok_scratch *s, fr_err *err);
/* WordPiece of one raw text fragment (word splitting included). */
fr_status fr_wpm_encode(const fr_tokenizer *t, const char *text, size_t len, fr_ids *out,
                        fr_tok_scratch *s, fr_err *err);
/* Byte-level BPE of one raw text fragment (pre-tokenizer included). */
fr_status fr_bpe_encode(const fr_tokenizer *t, const char *text, size_t len, fr_ids *out,
                        fr_tok_scratch *s, fr_err *err);

/* Length of string i of a fr_tokenizer_desc array. */
static inline size_t fr_desc_len(const char *const *s, const uint32_t *lens, uint32_t i)
{
    return lens ? lens[i] : (s[i] ? strlen(s[i]) : 0);
}

/* Builders called by fr_tokenizer_create, in this order. */
void fr_spm_build(fr_tokenizer *t);                                               /* spm.c */
fr_status fr_bpe_build(fr_tokenizer *t, const fr_tokenizer_desc *d, fr_err *err); /* merges.c */
fr_status fr_tok_build_specials(fr_tokenizer *t, const char *name, fr_err *err);  /* specials.c */
/* Builds the piece cache (decode.c). */
fr_status fr_tok_build_pieces(fr_tokenizer *t, fr_err *err);

#endif
