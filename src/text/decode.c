/*
 * decode.c - token ids back to text: the piece cache, fr_detokenize and the
 * streaming decoder.
 *
 * A piece is what llama.cpp's token_to_piece gives with special = true,
 * computed once at load: CONTROL/UNKNOWN/USER_DEFINED tokens are their text;
 * NORMAL tokens are their text with U+2581 -> ' ' (SentencePiece) or
 * decoded from the byte-level alphabet (BPE); BYTE tokens (<0xNN>) are that
 * byte; UNUSED/undefined tokens are empty. One difference: a NORMAL BPE
 * token holding a character outside the byte-level alphabet keeps that
 * character as UTF-8 (llama.cpp writes "[UNK_BYTE_0x...]").
 *
 * The streaming decoder keeps at most 3 bytes back: the start of a UTF-8
 * character whose other bytes have not arrived. A byte that cannot start or
 * continue a valid character comes out as U+FFFD right away; an
 * unfinished character at the end of the stream becomes one U+FFFD.
 */
#include "text/tok_internal.h"
#include "text/utf8.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes the piece of token id at out (room: 3 * text length + 1); returns its length. */
static size_t make_piece(const fr_tokenizer *t, int32_t id, char *out)
{
    uint32_t len;
    const char *s = fr_tok_text(t, id, &len);
    uint16_t a = t->attr[id];
    if (a & (FR_ATTR_UNKNOWN | FR_ATTR_CONTROL | FR_ATTR_USER_DEFINED)) {
        memcpy(out, s, len);
        return len;
    }
    if (a & FR_ATTR_NORMAL) {
        size_t o = 0;
        if (t->kind == FR_TOK_SPM || t->kind == FR_TOK_WPM) {
            for (uint32_t i = 0; i < len;) {
                if (i + 3 <= len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                    out[o++] = ' ';
                    i += 3;
                } else {
                    out[o++] = s[i++];
                }
            }
            return o;
        }
        const uint8_t *u = (const uint8_t *)s;
        for (size_t i = 0; i < len;) {
            int k = fr_utf8_check_one(u + i, len - i);
            if (k <= 0) { /* not UTF-8 at all: keep the byte */
                out[o++] = s[i++];
                continue;
            }
            size_t j = i;
            int b = fr_bytelevel_byte(fr_utf8_decode(u, len, &j));
            if (b >= 0) {
                out[o++] = (char)b;
            } else {
                memcpy(out + o, s + i, (size_t)k);
                o += (size_t)k;
            }
            i += (size_t)k;
        }
        return o;
    }
    if (a & FR_ATTR_BYTE) {
        if (len >= 5 && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
            out[0] = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            return 1;
        }
        memcpy(out, s, len);
        return len;
    }
    return 0;
}

fr_status fr_tok_build_pieces(fr_tokenizer *t, fr_err *err)
{
    size_t total = 0;
    for (uint32_t i = 0; i < t->n_tokens; i++)
        total += t->text_len[i]; /* a piece is never longer than its text */
    t->pieces = malloc(total + 4 * (size_t)t->max_token_len + 4);
    t->piece_off = malloc((size_t)t->n_tokens * sizeof *t->piece_off);
    t->piece_len = malloc((size_t)t->n_tokens * sizeof *t->piece_len);
    if (!t->pieces || !t->piece_off || !t->piece_len)
        return fr_err_set(err, FR_E_NOMEM, "out of memory for the piece cache");
    size_t off = 0;
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        size_t n = make_piece(t, (int32_t)i, t->pieces + off);
        t->piece_off[i] = (uint32_t)off;
        t->piece_len[i] = (uint32_t)n;
        off += n;
    }
    return FR_OK;
}

const char *fr_token_piece(const fr_tokenizer *t, int32_t id, unsigned flags, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) {
        *len = 0;
        return NULL;
    }
    if (!(flags & FR_DECODE_SPECIAL) && (t->attr[id] & (FR_ATTR_UNKNOWN | FR_ATTR_CONTROL))) {
        *len = 0;
        return t->pieces;
    }
    *len = t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

/* llama.cpp's clean_up_tokenization_spaces, in place; returns the new length. */
static size_t clean_spaces(char *s, size_t n)
{
    size_t total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) { /* " ?", " !", " .", " ," */
        char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
            total--;
        s[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) { /* " ' " -> "'" */
        char x = s[i];
        if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
            total--;
            s[++i] = '\0';
        }
        s[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) { /* " 's", " 'm", " 're", " 've" */
        char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = s[i + 1];
            if (x1 == 's' || x1 == 'm')
                total--;
            else if (i + 2 < n &&
                     ((x1 == 'r' && s[i + 2] == 'e') || (x1 == 'v' && s[i + 2] == 'e')))
                total--;
        }
        s[total++] = x;
    }
    return total;
}

fr_status fr_detokenize(const fr_tokenizer *t, const int32_t *ids, size_t n_ids, unsigned flags,
                        char **text, size_t *len, fr_err *err)
{
    *text = NULL;
    *len = 0;
    bool remove_space = t->add_space_prefix && !(flags & FR_DECODE_KEEP_PREFIX_SPACE);
    if ((flags & FR_DECODE_REMOVE_SPECIAL) && t->add_bos && n_ids && ids[0] == t->bos) {
        remove_space = false; /* as llama.cpp */
        ids++;
        n_ids--;
    }
    if ((flags & FR_DECODE_REMOVE_SPECIAL) && t->add_eos && n_ids && ids[n_ids - 1] == t->eos)
        n_ids--;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->n_tokens)
            return fr_err_set(err, FR_E_RANGE,
                              "detokenize: token id %d at position %zu is out of "
                              "range (vocabulary of %u tokens)",
                              ids[i], i, t->n_tokens);
        total += t->piece_len[ids[i]];
    }
    char *out = malloc(total + 1);
    if (!out)
        return fr_err_set(err, FR_E_NOMEM, "detokenize: out of memory for %zu bytes", total);
    size_t o = 0;
    for (size_t i = 0; i < n_ids; i++) {
        size_t pl;
        const char *p = fr_token_piece(t, ids[i], flags, &pl);
        if (remove_space && pl && p[0] == ' ') {
            p++;
            pl--;
        }
        remove_space = false;
        memcpy(out + o, p, pl);
        o += pl;
    }
    if ((flags & FR_DECODE_CLEAN_SPACES) && t->clean_spaces)
        o = clean_spaces(out, o);
    out[o] = 0;
    *text = out;
    *len = o;
    return FR_OK;
}

/* ---- streaming ------------------------------------------------------------ */

struct fr_decoder {
    const fr_tokenizer *t;
    unsigned flags;
    bool first;
    uint8_t hold[4];
    size_t n_hold;
    char *out;
    size_t cap;
};

fr_status fr_decoder_create(const fr_tokenizer *t, unsigned flags, fr_decoder **out, fr_err *err)
{
    fr_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return fr_err_set(err, FR_E_NOMEM, "decoder: out of memory");
    d->t = t;
    d->flags = flags;
    d->first = true;
    *out = d;
    return FR_OK;
}

void fr_decoder_reset(fr_decoder *d)
{
    d->first = true;
    d->n_hold = 0;
}

void fr_decoder_free(fr_decoder *d)
{
    if (!d)
        return;
    free(d->out);
    free(d);
}

static const char k_repl[3] = {(char)0xef, (char)0xbf, (char)0xbd};

fr_status fr_decoder_push(fr_decoder *d, int32_t id, const char **text, size_t *len, fr_err *err)
{
    *text = "";
    *len = 0;
    const fr_tokenizer *t = d->t;
    if (id < 0 || (uint32_t)id >= t->n_tokens)
        return fr_err_set(err, FR_E_RANGE,
                          "decoder: token id %d is out of range (vocabulary of "
                          "%u tokens)",
                          id, t->n_tokens);
    size_t pl;
    const char *p = fr_token_piece(t, id, d->flags, &pl);
    if (d->first) {
        bool strip = t->add_space_prefix && !(d->flags & FR_DECODE_KEEP_PREFIX_SPACE);
        if ((d->flags & FR_DECODE_REMOVE_SPECIAL) && t->add_bos && id == t->bos) {
            d->first = false; /* as llama.cpp: the BOS is dropped, the next space kept */
            return FR_OK;
        }
        if (strip && pl && p[0] == ' ') {
            p++;
            pl--;
        }
        d->first = false;
    }
    if (d->flags & FR_DECODE_BYTES) {
        *text = p;
        *len = pl;
        return FR_OK;
    }
    /* Worst case: each held or new byte becomes U+FFFD (3 bytes). */
    size_t need = 3 * (pl + d->n_hold) + 1;
    if (!fr_tok_reserve((void **)&d->out, &d->cap, need))
        return fr_err_set(err, FR_E_NOMEM, "decoder: out of memory");
    /* Work on hold + piece as one byte sequence. */
    size_t o = 0, i = 0, n = d->n_hold + pl;
    uint8_t small[4];
    memcpy(small, d->hold, d->n_hold);
    size_t nh = d->n_hold;
#define AT(k) ((k) < nh ? small[k] : (uint8_t)p[(k)-nh])
    while (i < n) {
        uint8_t c[4];
        size_t avail = n - i < 4 ? n - i : 4;
        for (size_t k = 0; k < avail; k++)
            c[k] = AT(i + k);
        int r = fr_utf8_check_one(c, avail);
        if (r > 0) {
            memcpy(d->out + o, c, (size_t)r);
            o += (size_t)r;
            i += (size_t)r;
        } else if (r < 0) {
            break; /* incomplete at the end: hold it back */
        } else {
            memcpy(d->out + o, k_repl, 3);
            o += 3;
            i++;
        }
    }
    d->n_hold = n - i;
    for (size_t k = 0; k < d->n_hold; k++)
        d->hold[k] = AT(i + k);
#undef AT
    *text = d->out;
    *len = o;
    return FR_OK;
}

void fr_decoder_flush(fr_decoder *d, const char **text, size_t *len)
{
    /* What is held is the start of one character that never completed. */
    *text = d->n_hold ? k_repl : "";
    *len = d->n_hold ? sizeof k_repl : 0;
    fr_decoder_reset(d);
}
