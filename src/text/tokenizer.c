/*
 * tokenizer.c - building a tokenizer from a vocabulary (fr_tokenizer_create):
 * copying the tokens, the per-model defaults, then the model's tables
 * (merges.c, spm.c), the special tokens (specials.c) and the pieces
 * (decode.c).
 *
 * Loading follows llama.cpp's llama_vocab::load where it decides behaviour:
 * per-model defaults (special ids, add_bos, the space prefix), ids out of
 * range falling back to the default, tokens recognised by text as end of
 * generation (and forced to CONTROL), CONTROL tokens named "unused" marked
 * unused, the Phi-3 rule that special tokens eat the spaces after them.
 * Where llama.cpp's choice depends on hash-map iteration order (which of
 * several end-of-turn tokens becomes "the" EOT), we take the first in a
 * fixed list.
 *
 * Everything is copied: the caller's arrays can go away after create.
 */
#include "text/tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS (1u << 24)

void fr_tokenizer_desc_init(fr_tokenizer_desc *d)
{
    memset(d, 0, sizeof *d);
    d->bos = d->eos = d->eot = d->eom = d->unk = d->sep = d->pad = d->mask = FR_TOKEN_DEFAULT;
    d->add_bos = d->add_eos = d->add_space_prefix = d->remove_extra_whitespaces = -1;
}

/* Printable, bounded rendering of token text for error messages. */
static const char *esc(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    buf[o] = 0;
    return buf;
}

void fr_tokenizer_free(fr_tokenizer *t)
{
    if (!t)
        return;
    free(t->texts);
    free(t->text_off);
    free(t->text_len);
    free(t->scores);
    free(t->attr);
    free(t->type);
    fr_strmap_free(&t->text_map);
    fr_pretok_release(&t->pretok);
    fr_strmap_free(&t->raw_map);
    fr_pairmap_free(&t->merges);
    free(t->pieces);
    free(t->piece_off);
    free(t->piece_len);
    free(t->special);
    free(t->eog);
    free(t);
}

/* ---- building ------------------------------------------------------------- */

static uint16_t attr_of_type(int32_t type)
{
    switch (type) {
    case FR_TOKEN_UNKNOWN: return FR_ATTR_UNKNOWN;
    case FR_TOKEN_UNUSED: return FR_ATTR_UNUSED;
    case FR_TOKEN_NORMAL: return FR_ATTR_NORMAL;
    case FR_TOKEN_CONTROL: return FR_ATTR_CONTROL;
    case FR_TOKEN_USER_DEFINED: return FR_ATTR_USER_DEFINED;
    case FR_TOKEN_BYTE: return FR_ATTR_BYTE;
    default: return 0; /* undefined */
    }
}

static fr_status copy_tokens(fr_tokenizer *t, const fr_tokenizer_desc *d, fr_err *err)
{
    uint32_t n = d->n_tokens;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!d->tokens[i] && (!d->token_lens || d->token_lens[i]))
            return fr_err_set(err, FR_E_INVALID, "token %u has no text", i);
        size_t len = fr_desc_len(d->tokens, d->token_lens, i);
        if (len > UINT32_MAX / 2)
            return fr_err_set(err, FR_E_FORMAT, "token %u: text of %zu bytes is too long", i, len);
        total += len ? len : 24; /* room for "[EMPTY_<id>]" */
        if (total > UINT32_MAX)
            return fr_err_set(err, FR_E_FORMAT, "vocabulary texts exceed 4 GiB in total");
    }
    t->texts = malloc(total ? total : 1);
    t->text_off = malloc((size_t)n * sizeof *t->text_off);
    t->text_len = malloc((size_t)n * sizeof *t->text_len);
    t->scores = malloc((size_t)n * sizeof *t->scores);
    t->attr = malloc((size_t)n * sizeof *t->attr);
    t->type = malloc((size_t)n * sizeof *t->type);
    if (!t->texts || !t->text_off || !t->text_len || !t->scores || !t->attr || !t->type ||
        !fr_strmap_init(&t->text_map, n))
        return fr_err_set(err, FR_E_NOMEM, "out of memory for a vocabulary of %u tokens", n);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = fr_desc_len(d->tokens, d->token_lens, i);
        char *dst = t->texts + off;
        if (len) {
            memcpy(dst, d->tokens[i], len);
        } else { /* as llama.cpp: an empty token gets a unique placeholder text */
            len = (size_t)snprintf(dst, 24, "[EMPTY_%u]", i);
        }
        t->text_off[i] = (uint32_t)off;
        t->text_len[i] = (uint32_t)len;
        off += len;
        if (len > t->max_token_len)
            t->max_token_len = (uint32_t)len;
        int32_t old = -1;
        int r = fr_strmap_put(&t->text_map, dst, len, (int32_t)i, &old);
        if (r < 0)
            return fr_err_set(err, FR_E_NOMEM, "out of memory for a vocabulary of %u tokens", n);
        if (r == 0) {
            char b[128];
            return fr_err_set(err, FR_E_FORMAT,
                              "duplicate token in vocabulary: '%s' has ids %d and %u; the "
                              "vocabulary is corrupt (re-convert the model)",
                              esc(dst, len, b, sizeof b), old, i);
        }
        t->scores[i] = d->scores ? d->scores[i] : 0.0f;
        int32_t ty = d->token_types ? d->token_types[i] : FR_TOKEN_NORMAL;
        t->type[i] = (uint8_t)(ty >= 0 && ty <= 6 ? ty : 0);
        t->attr[i] = attr_of_type(ty);
    }
    return FR_OK;
}

static int32_t resolve_id(int32_t def, int32_t given, uint32_t n)
{
    if (def >= 0 && (uint32_t)def >= n)
        def = FR_TOKEN_NONE;
    if (given == FR_TOKEN_DEFAULT)
        return def;
    if (given == FR_TOKEN_NONE)
        return FR_TOKEN_NONE;
    if (given >= 0 && (uint32_t)given < n)
        return given;
    return def; /* out of range: llama.cpp keeps the default */
}

fr_status fr_tokenizer_create(const fr_tokenizer_desc *d, fr_tokenizer **out, fr_err *err)
{
    *out = NULL;
    if (!d || !d->model)
        return fr_err_set(err, FR_E_INVALID,
                          "tokenizer: no tokenizer model given (tokenizer.ggml.model)");
    fr_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory");
    fr_status st = FR_OK;
    const fr_pretok_def *pre = NULL;
    if (strcmp(d->model, "llama") == 0) {
        t->kind = FR_TOK_SPM;
    } else if (strcmp(d->model, "gpt2") == 0) {
        t->kind = FR_TOK_BPE;
    } else if (strcmp(d->model, "bert") == 0) {
        t->kind = FR_TOK_WPM;
    } else {
        char b[64];
        st = fr_err_set(err, FR_E_UNSUPPORTED,
                        "unknown tokenizer model '%s' (tokenizer.ggml.model); frugal supports: %s",
                        esc(d->model, strlen(d->model), b, sizeof b), "llama, gpt2, bert");
        goto fail;
    }
    snprintf(t->model, sizeof t->model, "%s", d->model);
    if (t->kind == FR_TOK_BPE) {
        const char *p = d->pre && d->pre[0] ? d->pre : "default";
        pre = fr_pretok_find(p);
        if (!pre) {
            char b[64];
            st = fr_err_set(err, FR_E_UNSUPPORTED,
                            "unknown pre-tokenizer '%s' (tokenizer.ggml.pre); frugal supports: %s",
                            esc(p, strlen(p), b, sizeof b), fr_pretok_names());
            goto fail;
        }
        if (!d->pre || !d->pre[0])
            snprintf(t->warning, sizeof t->warning,
                     "the vocabulary names no pre-tokenizer (tokenizer.ggml.pre); using 'default', "
                     "which may split text differently from the model's training - re-convert the "
                     "model");
        snprintf(t->pre, sizeof t->pre, "%s", p);
    } else {
        /* SentencePiece and WordPiece have no pre-tokenizer choice (a BERT
         * vocabulary's .pre, e.g. bert-bge, names the model, not a split). */
        snprintf(t->pre, sizeof t->pre, "default");
    }
    if (d->n_tokens == 0 || !d->tokens) {
        st = fr_err_set(err, FR_E_FORMAT, "the vocabulary has no tokens (tokenizer.ggml.tokens)");
        goto fail;
    }
    if (d->n_tokens > MAX_TOKENS) {
        st =
            fr_err_set(err, FR_E_FORMAT, "the vocabulary has %u tokens, more than the %u supported",
                       d->n_tokens, MAX_TOKENS);
        goto fail;
    }
    t->n_tokens = d->n_tokens;
    if ((st = copy_tokens(t, d, err)))
        goto fail;

    /* Per-model defaults, then what the vocabulary says. */
    int32_t bos, eos, unk, sep = FR_TOKEN_NONE, pad = FR_TOKEN_NONE, mask = FR_TOKEN_NONE;
    if (t->kind == FR_TOK_SPM) {
        bos = 1, eos = 2, unk = 0;
        t->add_space_prefix = true;
        t->add_bos = true;
    } else if (t->kind == FR_TOK_WPM) {
        /* BERT's ids: [CLS] opens (as BOS), [SEP] closes a sequence */
        bos = 101, eos = FR_TOKEN_NONE, unk = 100, sep = 102, pad = 0, mask = 103;
        t->add_bos = true;
    } else {
        bos = pre->no_bos ? FR_TOKEN_NONE : 11, eos = 11, unk = FR_TOKEN_NONE;
        t->add_bos = pre->add_bos;
        t->ignore_merges = pre->ignore_merges;
        t->clean_spaces = pre->clean_spaces;
    }
    uint32_t n = t->n_tokens;
    t->bos = resolve_id(bos, d->bos, n);
    t->eos = resolve_id(eos, d->eos, n);
    t->unk = resolve_id(unk, d->unk, n);
    t->eot = resolve_id(FR_TOKEN_NONE, d->eot, n);
    t->eom = resolve_id(FR_TOKEN_NONE, d->eom, n);
    t->sep = resolve_id(sep, d->sep, n);
    t->pad = resolve_id(pad, d->pad, n);
    t->mask = resolve_id(mask, d->mask, n);
    if (d->add_space_prefix >= 0)
        t->add_space_prefix = d->add_space_prefix;
    if (d->remove_extra_whitespaces >= 0)
        t->remove_extra_whitespaces = d->remove_extra_whitespaces;
    if (d->add_bos >= 0)
        t->add_bos = d->add_bos;
    if (d->add_eos >= 0)
        t->add_eos = d->add_eos;
    if (t->add_bos && t->bos < 0) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "tokenizer.ggml.add_bos_token is true, but "
                        "tokenizer.ggml.bos_token_id is not set");
        goto fail;
    }
    if (t->add_eos && t->eos < 0) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "tokenizer.ggml.add_eos_token is true, but "
                        "tokenizer.ggml.eos_token_id is not set");
        goto fail;
    }

    if (t->kind == FR_TOK_SPM) {
        fr_spm_build(t);
    } else if (t->kind == FR_TOK_WPM) {
        /* nothing beyond the text map */
    } else {
        if ((st = fr_bpe_build(t, d, err)))
            goto fail;
        if ((st = fr_pretok_compile(pre, &t->pretok, err)))
            goto fail;
    }
    if ((st = fr_tok_build_specials(t, d->name, err)))
        goto fail;
    if ((st = fr_tok_build_pieces(t, err)))
        goto fail;

    /* The newline token: <0x0A> for SentencePiece, else what "\n" encodes to. */
    t->nl = t->pad;
    if (t->kind == FR_TOK_SPM) {
        if (t->byte_tok['\n'] >= 0 && t->byte_tok['\n'] != t->unk)
            t->nl = t->byte_tok['\n'];
    } else {
        fr_encode_opts o = {0, 0, false};
        int32_t *ids = NULL;
        size_t nid = 0;
        if (fr_tokenize(t, "\n", 1, &o, &ids, &nid, NULL) == FR_OK && nid > 0)
            t->nl = ids[0];
        free(ids);
    }
    *out = t;
    return FR_OK;
fail:
    fr_tokenizer_free(t);
    return st;
}
