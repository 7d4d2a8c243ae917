/*
 * encode.c - fr_tokenize: cutting special-token text out of the input,
 * running the model's algorithm on the text between, adding BOS/EOS.
 *
 * Special tokens are cut out as llama.cpp's tokenizer_st_partition does:
 * token by token, longest text first, every occurrence in every remaining
 * text fragment, left to right. USER_DEFINED tokens are always cut out;
 * CONTROL and UNKNOWN ones only with parse_special. LSTRIP/RSTRIP tokens
 * also eat the ASCII whitespace before/after them.
 *
 * Cost: one pass to note which byte pairs occur in the input; a special
 * token with a pair that does not occur is skipped at once, the others cost
 * a memmem over the remaining text fragments each. The SentencePiece text of each fragment gets the
 * space prefix (after a special token or at the start) and ' ' -> U+2581.
 */
#include "text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct frag {
    int32_t token; /* -1: text [off, off+len) */
    uint32_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static bool frags_push(frags *f, int32_t token, size_t off, size_t len)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        frag *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return false;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n].token = token;
    f->v[f->n].off = (uint32_t)off;
    f->v[f->n].len = (uint32_t)len;
    f->n++;
    return true;
}

static bool is_c_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Splits every text fragment of *cur around occurrences of token id; the
 * result goes to *next (then swapped in). */
static bool partition_one(const fr_tokenizer *t, int32_t id, const char *text, frags *cur,
                          frags *next)
{
    uint32_t slen;
    const char *s = fr_tok_text(t, id, &slen);
    uint16_t attr = t->attr[id];
    next->n = 0;
    for (size_t i = 0; i < cur->n; i++) {
        frag f = cur->v[i];
        if (f.token >= 0 || f.len < slen) {
            if (!frags_push(next, f.token, f.off, f.len))
                return false;
            continue;
        }
        size_t base = f.off, blen = f.len;
        for (;;) {
            const char *m = memmem(text + base, blen, s, slen);
            if (!m) {
                if (blen && !frags_push(next, -1, base, blen))
                    return false;
                break;
            }
            size_t at = (size_t)(m - text);
            size_t left = at - base;
            if (attr & FR_ATTR_LSTRIP)
                while (left > 0 && is_c_space(text[base + left - 1]))
                    left--;
            if (left && !frags_push(next, -1, base, left))
                return false;
            if (!frags_push(next, id, 0, 0))
                return false;
            size_t roff = at + slen, rlen = base + blen - roff;
            if (attr & FR_ATTR_RSTRIP)
                while (rlen > 0 && is_c_space(text[roff])) {
                    roff++;
                    rlen--;
                }
            base = roff;
            blen = rlen;
            if (blen == 0)
                break;
        }
    }
    frags tmp = *cur;
    *cur = *next;
    *next = tmp;
    return true;
}

fr_status fr_tokenize(const fr_tokenizer *t, const char *text, size_t len,
                      const fr_encode_opts *opts, int32_t **ids_out, size_t *n_out, fr_err *err)
{
    static const fr_encode_opts defaults = FR_ENCODE_DEFAULTS;
    if (!opts)
        opts = &defaults;
    *ids_out = NULL;
    *n_out = 0;
    if (len > FR_TOKENIZE_MAX_BYTES)
        return fr_err_set(err, FR_E_RANGE,
                          "tokenize: the text is %zu bytes; at most %zu bytes are tokenized at once "
                          "(split it)",
                          len, FR_TOKENIZE_MAX_BYTES);
    if (!text && len)
        return fr_err_set(err, FR_E_INVALID, "tokenize: text is NULL");
    bool add_bos = opts->add_bos < 0 ? t->add_bos : opts->add_bos != 0;
    bool add_eos = opts->add_eos < 0 ? t->add_eos : opts->add_eos != 0;
    if (add_bos && t->bos < 0)
        return fr_err_set(err, FR_E_INVALID, "tokenize: a BOS token was requested but this "
                                             "vocabulary has none");
    if (add_eos && t->eos < 0)
        return fr_err_set(err, FR_E_INVALID, "tokenize: an EOS token was requested but this "
                                             "vocabulary has none");

    fr_status st = FR_OK;
    fr_ids ids = {0};
    frags cur = {0}, next = {0};
    fr_tok_scratch s = {0};
    char *esc = NULL;
    size_t esc_cap = 0;

    if (len && !frags_push(&cur, -1, 0, len))
        goto nomem;
    if (t->n_special && len) {
        /* Which byte pairs occur in the text: a token with a pair that does
         * not occur cannot occur either (one pass, then O(1) per token pair). */
        uint64_t *pairs = calloc(65536 / 64, sizeof *pairs);
        if (!pairs)
            goto nomem;
        for (size_t i = 0; i + 1 < len; i++) {
            unsigned v = (unsigned)(uint8_t)text[i] << 8 | (uint8_t)text[i + 1];
            pairs[v >> 6] |= 1ull << (v & 63);
        }
        bool ok = true;
        for (uint32_t k = 0; k < t->n_special && cur.n && ok; k++) {
            int32_t id = t->special[k];
            if (!opts->parse_special && (t->attr[id] & (FR_ATTR_CONTROL | FR_ATTR_UNKNOWN)))
                continue;
            uint32_t slen;
            const char *sp = fr_tok_text(t, id, &slen);
            if (slen > len)
                continue;
            bool maybe = true;
            for (uint32_t j = 0; j + 1 < slen && maybe; j++) {
                unsigned v = (unsigned)(uint8_t)sp[j] << 8 | (uint8_t)sp[j + 1];
                maybe = (pairs[v >> 6] >> (v & 63)) & 1;
            }
            if (maybe && slen == 1)
                maybe = memchr(text, sp[0], len) != NULL;
            if (maybe)
                ok = partition_one(t, id, text, &cur, &next);
        }
        free(pairs);
        if (!ok)
            goto nomem;
    }

    if (add_bos && !fr_ids_push(&ids, t->bos))
        goto nomem;
    bool prev_special = true; /* SentencePiece: prefix a space at the start and after specials */
    for (size_t i = 0; i < cur.n; i++) {
        frag f = cur.v[i];
        if (f.token >= 0) {
            if (!fr_ids_push(&ids, f.token))
                goto nomem;
            prev_special = true;
            continue;
        }
        const char *p = text + f.off;
        if (t->kind == FR_TOK_BPE) {
            st = fr_bpe_encode(t, p, f.len, &ids, &s, err);
        } else {
            /* ' ' -> U+2581 (3 bytes), plus the prefix */
            size_t need = (size_t)f.len * 3 + 3, o = 0;
            if (!fr_tok_reserve((void **)&esc, &esc_cap, need))
                goto nomem;
            if (t->add_space_prefix && prev_special) {
                memcpy(esc, "\xe2\x96\x81", 3);
                o = 3;
            }
            for (uint32_t j = 0; j < f.len; j++) {
                if (p[j] == ' ') {
                    memcpy(esc + o, "\xe2\x96\x81", 3);
                    o += 3;
                } else {
                    esc[o++] = p[j];
                }
            }
            st = fr_spm_encode(t, esc, o, &ids, &s, err);
        }
        if (st)
            goto done;
        prev_special = false;
    }
    if (add_eos && !fr_ids_push(&ids, t->eos))
        goto nomem;
    if (!ids.v && !(ids.v = malloc(sizeof *ids.v)))
        goto nomem;
    *ids_out = ids.v;
    *n_out = ids.n;
    ids.v = NULL;
    goto done;
nomem:
    st = fr_err_set(err, FR_E_NOMEM, "tokenize: out of memory for %zu bytes of text", len);
done:
    free(ids.v);
    free(cur.v);
    free(next.v);
    free(esc);
    fr_tok_scratch_free(&s);
    return st;
}
