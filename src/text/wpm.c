/*
 * wpm.c - WordPiece (tokenizer.ggml.model = "bert"), as llama.cpp splits
 * text for BERT-style embedding models.
 *
 * The GGUF vocabulary stores word-initial pieces with a U+2581 prefix and
 * continuation pieces bare (the converter drops BERT's "##"), so a word is
 * matched as "\u2581" + word, greedily, longest piece first; when some
 * position matches nothing the whole word becomes [UNK].
 *
 * Before that, the text is split into words the way llama.cpp's WPM
 * session does: each code point is replaced by the first code point of its
 * canonical decomposition (so accents drop: "Führer" -> "fuhrer"), white
 * space ends a word, NUL, U+FFFD and control/format code points vanish,
 * punctuation, ASCII symbols and CJK ideographs become words of their own,
 * and everything is lower-cased (simple case mapping).
 *
 * The Unicode data (decomposition, general category, White_Space, lower
 * case) comes from ICU rather than tables of our own; ICU's version of
 * Unicode may differ from llama.cpp's tables for code points assigned
 * recently. Rejected: full NFD + dropping combining marks (what BERT's
 * Python tokenizer does): a lone combining mark in the input stays in
 * llama.cpp's words, and so it does here.
 */
#include "text/tok_internal.h"
#include "text/utf8.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <stdlib.h>

/* The CJK ideograph blocks BERT splits into single characters (the ranges
 * llama.cpp and Hugging Face's tokenizers use, including their 0x2B920
 * lower bound for extension E). */
static bool is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_control(int8_t cat)
{
    return cat == U_CONTROL_CHAR || cat == U_FORMAT_CHAR || cat == U_PRIVATE_USE_CHAR ||
           cat == U_SURROGATE;
}

static bool is_symbol(int8_t cat)
{
    return cat == U_MATH_SYMBOL || cat == U_CURRENCY_SYMBOL || cat == U_MODIFIER_SYMBOL ||
           cat == U_OTHER_SYMBOL;
}

/* First code point of c's canonical decomposition (c itself if none). */
static uint32_t base_of(const UNormalizer2 *nfd, uint32_t c)
{
    if (c < 0xC0) /* nothing below U+00C0 decomposes: skip ICU for ASCII text */
        return c;
    UChar d[32];
    UErrorCode e = U_ZERO_ERROR;
    int32_t n = unorm2_getDecomposition(nfd, (UChar32)c, d, 32, &e);
    if (U_FAILURE(e) || n <= 0)
        return c;
    UChar32 b;
    int32_t i = 0;
    U16_NEXT(d, i, n, b);
    return b >= 0 ? (uint32_t)b : c;
}

/* Greedy longest-first match of one word (with its U+2581 prefix). */
static bool wordpiece(const fr_tokenizer *t, const char *w, size_t n, fr_ids *out)
{
    size_t start = out->n;
    for (size_t i = 0; i < n;) {
        size_t j = n - i > (size_t)t->max_token_len + 1 ? i + t->max_token_len + 1 : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = fr_strmap_get(&t->text_map, w + i, j - i)) >= 0)
                break;
        if (id < 0) {
            out->n = start; /* a word that does not split is one [UNK] */
            break;
        }
        if (!fr_ids_push(out, id))
            return false;
        i = j;
    }
    if (out->n == start && t->unk >= 0)
        return fr_ids_push(out, t->unk);
    return true;
}

fr_status fr_wpm_encode(const fr_tokenizer *t, const char *text, size_t len, fr_ids *out,
                        fr_tok_scratch *s, fr_err *err)
{
    UErrorCode ue = U_ZERO_ERROR;
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&ue);
    if (U_FAILURE(ue) || !nfd)
        return fr_err_set(err, FR_E_IO, "tokenize: ICU's Unicode data could not be loaded (%s)",
                          u_errorName(ue));
    /* A word is at most the whole text, 4 bytes per code point after lower
     * casing (no code point's lower case is longer than that), plus the prefix. */
    if (len > (SIZE_MAX - 8) / 4)
        return fr_err_set(err, FR_E_RANGE, "tokenize: text too long");
    if (!fr_tok_reserve((void **)&s->buf, &s->buf_cap, len * 4 + 8))
        return fr_err_set(err, FR_E_NOMEM, "tokenize: out of memory for %zu bytes of text", len);
    char *w = s->buf;
    static const char mark[3] = {'\xe2', '\x96', '\x81'};
    memcpy(w, mark, 3);
    size_t wl = 3;
    const uint8_t *u = (const uint8_t *)text;
#define FLUSH()                                                                                  \
    do {                                                                                         \
        if (wl > 3 && !wordpiece(t, w, wl, out))                                                 \
            goto nomem;                                                                          \
        wl = 3;                                                                                  \
    } while (0)
    for (size_t i = 0; i < len;) {
        uint32_t c = base_of(nfd, fr_utf8_decode(u, len, &i));
        if (u_isUWhiteSpace((UChar32)c)) {
            FLUSH();
            continue;
        }
        int8_t cat = u_charType((UChar32)c);
        if (c == 0 || c == 0xFFFD || is_control(cat))
            continue;
        uint32_t lc = (uint32_t)u_tolower((UChar32)c);
        if (lc > 0x10FFFF || (lc >= 0xD800 && lc <= 0xDFFF))
            lc = c;
        bool alone = u_ispunct((UChar32)c) || (c < 0x7F && is_symbol(cat)) || is_cjk(c);
        if (alone)
            FLUSH();
        wl += fr_utf8_encode(lc, w + wl);
        if (alone)
            FLUSH();
    }
    FLUSH();
#undef FLUSH
    return FR_OK;
nomem:
    return fr_err_set(err, FR_E_NOMEM, "tokenize: out of memory for %zu bytes of text", len);
}
