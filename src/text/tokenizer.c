/*
 * tokenizer.c - building a tokenizer from a vocabulary (fr_tokenizer_create)
 * and the accessors of include/frugal/tokenizer.h.
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
#include "text/utf8.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS (1u << 24)
#define MAX_MERGES (1u << 24)

void fr_tokenizer_desc_init(fr_tokenizer_desc *d)
{
    memset(d, 0, sizeof *d);
    d->bos = d->eos = d->eot = d->eom = d->unk = d->sep = d->pad = d->mask = FR_TOKEN_DEFAULT;
    d->add_bos = d->add_eos = d->add_space_prefix = d->remove_extra_whitespaces = -1;
}

const char *fr_tokenizer_supported_models(void)
{
    return "llama|gpt2";
}

const char *fr_tokenizer_supported_pre(void)
{
    return fr_pretok_names();
}

bool fr_tok_reserve(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 4096;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return false;
        c *= 2;
    }
    void *q = realloc(*p, c);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

bool fr_ids_push(fr_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *ids->v)
            return false;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v)
            return false;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return true;
}

void fr_tok_scratch_free(fr_tok_scratch *s)
{
    free(s->sym);
    free(s->heap);
    free(s->buf);
    fr_spans_free(&s->words);
    fr_spans_free(&s->tmp);
    fr_strmap_free(&s->cache);
    free(s->cache_off);
    free(s->cache_n);
    free(s->cache_ids.v);
    memset(s, 0, sizeof *s);
}

#define CACHE_WORD_MAX 48
#define CACHE_ENTRIES_MAX (1u << 18)

int fr_tok_cache_get(fr_tok_scratch *s, const char *w, uint32_t wl, fr_ids *out)
{
    if (wl > CACHE_WORD_MAX || !s->cache.slots)
        return 0;
    int32_t c = fr_strmap_get(&s->cache, w, wl);
    if (c < 0)
        return 0;
    for (uint32_t k = 0; k < s->cache_n[c]; k++)
        if (!fr_ids_push(out, s->cache_ids.v[s->cache_off[c] + k]))
            return -1;
    return 1;
}

bool fr_tok_cache_put(fr_tok_scratch *s, const char *w, uint32_t wl, const fr_ids *out, size_t from)
{
    if (wl > CACHE_WORD_MAX || s->cache.n >= CACHE_ENTRIES_MAX)
        return true;
    if (!s->cache.slots && !fr_strmap_init(&s->cache, 1024))
        return false;
    uint32_t e = s->cache.n;
    if (e >= s->cache_cap) {
        size_t cap = s->cache_cap ? s->cache_cap * 2 : 1024;
        uint32_t *o = realloc(s->cache_off, cap * sizeof *o);
        if (!o)
            return false;
        s->cache_off = o;
        uint32_t *c = realloc(s->cache_n, cap * sizeof *c);
        if (!c)
            return false;
        s->cache_n = c;
        s->cache_cap = cap;
    }
    s->cache_off[e] = (uint32_t)s->cache_ids.n;
    s->cache_n[e] = (uint32_t)(out->n - from);
    for (size_t k = from; k < out->n; k++)
        if (!fr_ids_push(&s->cache_ids, out->v[k]))
            return false;
    return fr_strmap_put(&s->cache, w, wl, (int32_t)e, NULL) >= 0;
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

static size_t desc_len(const char *const *s, const uint32_t *lens, uint32_t i)
{
    return lens ? lens[i] : (s[i] ? strlen(s[i]) : 0);
}

/* ---- accessors ------------------------------------------------------------ */

uint32_t fr_tokenizer_n_tokens(const fr_tokenizer *t)
{
    return t->n_tokens;
}
const char *fr_tokenizer_model(const fr_tokenizer *t)
{
    return t->model;
}
const char *fr_tokenizer_pre(const fr_tokenizer *t)
{
    return t->pre;
}
const char *fr_tokenizer_warning(const fr_tokenizer *t)
{
    return t->warning[0] ? t->warning : NULL;
}
int32_t fr_tokenizer_bos(const fr_tokenizer *t)
{
    return t->bos;
}
int32_t fr_tokenizer_eos(const fr_tokenizer *t)
{
    return t->eos;
}
int32_t fr_tokenizer_eot(const fr_tokenizer *t)
{
    return t->eot;
}
int32_t fr_tokenizer_eom(const fr_tokenizer *t)
{
    return t->eom;
}
int32_t fr_tokenizer_unk(const fr_tokenizer *t)
{
    return t->unk;
}
int32_t fr_tokenizer_sep(const fr_tokenizer *t)
{
    return t->sep;
}
int32_t fr_tokenizer_pad(const fr_tokenizer *t)
{
    return t->pad;
}
int32_t fr_tokenizer_nl(const fr_tokenizer *t)
{
    return t->nl;
}
bool fr_tokenizer_add_bos(const fr_tokenizer *t)
{
    return t->add_bos;
}
bool fr_tokenizer_add_eos(const fr_tokenizer *t)
{
    return t->add_eos;
}

bool fr_tokenizer_is_eog(const fr_tokenizer *t, int32_t id)
{
    uint32_t lo = 0, hi = t->n_eog;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->eog[mid] == id)
            return true;
        if (t->eog[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool fr_tokenizer_is_control(const fr_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens &&
           (t->attr[id] & (FR_ATTR_CONTROL | FR_ATTR_UNKNOWN));
}

const char *fr_tokenizer_token_text(const fr_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->text_len[id];
    return t->texts + t->text_off[id];
}

float fr_tokenizer_token_score(const fr_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens ? t->scores[id] : 0.0f;
}

fr_token_type fr_tokenizer_token_type(const fr_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens ? (fr_token_type)t->type[id] : FR_TOKEN_UNDEFINED;
}

int32_t fr_tokenizer_find(const fr_tokenizer *t, const char *text, size_t len)
{
    int32_t id = fr_strmap_get(&t->text_map, text, len);
    return id >= 0 ? id : FR_TOKEN_NONE;
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
        size_t len = desc_len(d->tokens, d->token_lens, i);
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
        size_t len = desc_len(d->tokens, d->token_lens, i);
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

/* Decodes byte-level text into raw bytes (out has len bytes of room);
 * returns the raw length or -1 if a character is outside the alphabet. */
static long bytelevel_decode(const char *s, size_t len, char *out)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        int k = fr_utf8_check_one(u + i, len - i);
        if (k <= 0)
            return -1;
        size_t j = i;
        uint32_t cp = fr_utf8_decode(u, len, &j);
        int b = fr_bytelevel_byte(cp);
        if (b < 0)
            return -1;
        out[o++] = (char)b;
        i += (size_t)k;
    }
    return (long)o;
}

static fr_status build_bpe(fr_tokenizer *t, const fr_tokenizer_desc *d, fr_err *err)
{
    uint32_t n = t->n_tokens;
    if (d->n_merges > MAX_MERGES)
        return fr_err_set(err, FR_E_FORMAT, "%u merges is more than the %u supported", d->n_merges,
                          MAX_MERGES);
    if (d->n_merges && !d->merges)
        return fr_err_set(err, FR_E_INVALID, "n_merges is %u but no merges were given",
                          d->n_merges);
    if (!fr_strmap_init(&t->raw_map, n + d->n_merges / 4) ||
        !fr_pairmap_init(&t->merges, d->n_merges))
        return fr_err_set(err, FR_E_NOMEM, "out of memory for %u merges", d->n_merges);
    char *buf = malloc((size_t)t->max_token_len + 1);
    /* ent_of[id]: the raw_map entry holding id's string (not every token
     * decodes, so entry numbers and ids differ) */
    uint32_t *ent_of = malloc(((size_t)n + 2 * (size_t)d->n_merges) * sizeof *ent_of);
    if (!buf || !ent_of) {
        free(buf);
        free(ent_of);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    fr_status st = FR_OK;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        const char *s = fr_tok_text(t, (int32_t)i, &len);
        long r = bytelevel_decode(s, len, buf);
        ent_of[i] = UINT32_MAX;
        if (r < 0)
            continue;
        int put = fr_strmap_put(&t->raw_map, buf, (size_t)r, (int32_t)i, NULL);
        if (put < 0)
            goto nomem;
        ent_of[i] = t->raw_map.n - 1; /* decoding is injective: always a new entry */
    }
    /* Merges: pass 1 gives every part an id (parts that are not tokens get
     * ids >= n), pass 2 records (left, right) -> rank, id of the result. */
    size_t mmax = 0;
    for (uint32_t m = 0; m < d->n_merges; m++) {
        size_t len = desc_len(d->merges, d->merge_lens, m);
        if (len > mmax)
            mmax = len;
    }
    char *mb = malloc(2 * mmax + 2);
    int32_t *parts = malloc(2 * (size_t)(d->n_merges ? d->n_merges : 1) * sizeof *parts);
    if (!mb || !parts) {
        free(mb);
        free(parts);
        goto nomem;
    }
    int32_t next_id = (int32_t)n;
    for (uint32_t m = 0; m < d->n_merges; m++) {
        parts[2 * m] = parts[2 * m + 1] = -1;
        const char *s = d->merges[m];
        size_t len = desc_len(d->merges, d->merge_lens, m);
        if (!s || len < 3)
            continue;
        const char *sp = memchr(s + 1, ' ', len - 1); /* llama.cpp: first space at index >= 1 */
        if (!sp)
            continue;
        size_t ll = (size_t)(sp - s);
        long a = bytelevel_decode(s, ll, mb);
        long b = a < 0 ? -1 : bytelevel_decode(sp + 1, len - ll - 1, mb + a);
        if (a <= 0 || b <= 0)
            continue; /* a part outside the alphabet can never match a symbol */
        for (int k = 0; k < 2; k++) {
            const char *ps = k ? mb + a : mb;
            size_t pl = (size_t)(k ? b : a);
            int32_t old = -1;
            int r = fr_strmap_put(&t->raw_map, ps, pl, next_id, &old);
            if (r < 0) {
                free(mb);
                free(parts);
                goto nomem;
            }
            if (r)
                ent_of[next_id] = t->raw_map.n - 1;
            parts[2 * m + k] = r ? next_id++ : old;
        }
    }
    for (uint32_t m = 0; m < d->n_merges; m++) {
        int32_t l = parts[2 * m], r = parts[2 * m + 1];
        if (l < 0 || r < 0)
            continue;
        uint32_t ll, rl;
        const char *ls = fr_strmap_key(&t->raw_map, ent_of[l], &ll);
        const char *rs = fr_strmap_key(&t->raw_map, ent_of[r], &rl);
        memcpy(mb, ls, ll);
        memcpy(mb + ll, rs, rl);
        int32_t res = fr_strmap_get(&t->raw_map, mb, ll + rl);
        if (fr_pairmap_put(&t->merges, l, r, (int32_t)m, res) < 0) {
            free(mb);
            free(parts);
            goto nomem;
        }
    }
    free(mb);
    free(parts);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_sym[b] = fr_strmap_get(&t->raw_map, &c, 1);
    }
    free(buf);
    free(ent_of);
    return st;
nomem:
    free(buf);
    free(ent_of);
    return fr_err_set(err, FR_E_NOMEM, "out of memory building the merge table");
}

/* True when every U+2581 inside every token follows only U+2581s. */
static bool spm_words_independent(const fr_tokenizer *t)
{
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        uint32_t len;
        const char *s = fr_tok_text(t, (int32_t)i, &len);
        const char *p = s;
        while ((p = memmem(p, len - (size_t)(p - s), "\xe2\x96\x81", 3))) {
            size_t k = (size_t)(p - s);
            for (size_t j = 0; j < k; j += 3)
                if (k % 3 || memcmp(s + j, "\xe2\x96\x81", 3) != 0)
                    return false;
            p += 3;
            if ((size_t)(p - s) >= len)
                break;
        }
    }
    return true;
}

static void build_spm_bytes(fr_tokenizer *t)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        int32_t id = fr_strmap_get(&t->text_map, name, 6);
        if (id < 0) {
            char c = (char)b;
            id = fr_strmap_get(&t->text_map, &c, 1);
        }
        /* llama.cpp throws here; we fall back to unk, else drop the byte. */
        t->byte_tok[b] = id >= 0 ? id : t->unk;
    }
}

/* Tokens llama.cpp recognises by text as end of turn / end of generation. */
static const char *const k_eot_names[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81"
    "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>",
    "<end_of_utterance>",
};
static const char *const k_eog_names[] = {
    "<|eot_id|>",    "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",        "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>",   "_<EOT>",     "<|end_of_text|>", "<end_of_utterance>",
};

static int32_t find_cstr(const fr_tokenizer *t, const char *s)
{
    return fr_strmap_get(&t->text_map, s, strlen(s));
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static fr_status build_specials(fr_tokenizer *t, const char *name, fr_err *err)
{
    uint32_t n = t->n_tokens;
    if (t->eot == FR_TOKEN_NONE) {
        for (size_t i = 0; i < sizeof k_eot_names / sizeof *k_eot_names; i++) {
            int32_t id = find_cstr(t, k_eot_names[i]);
            if (id >= 0) {
                t->eot = id;
                break;
            }
        }
    }
    if (t->eom == FR_TOKEN_NONE)
        t->eom = find_cstr(t, "<|eom_id|>");
    if (t->eot >= 0)
        t->attr[t->eot] |= FR_ATTR_CONTROL;
    if (t->eom >= 0)
        t->attr[t->eom] |= FR_ATTR_CONTROL;

    /* CONTROL tokens whose text says "unused" are unused. */
    for (uint32_t i = 0; i < n; i++) {
        if (!(t->attr[i] & FR_ATTR_CONTROL))
            continue;
        uint32_t len;
        const char *s = fr_tok_text(t, (int32_t)i, &len);
        if (memmem(s, len, "unused", 6))
            t->attr[i] |= FR_ATTR_UNUSED;
    }

    size_t ne = sizeof k_eog_names / sizeof *k_eog_names + 3;
    t->eog = malloc(ne * sizeof *t->eog);
    if (!t->eog)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof k_eog_names / sizeof *k_eog_names; i++) {
        int32_t id = find_cstr(t, k_eog_names[i]);
        if (id >= 0) {
            t->eog[t->n_eog++] = id;
            t->attr[id] |= FR_ATTR_CONTROL;
        }
    }
    int32_t extra[3] = {t->eos, t->eot, t->eom};
    for (int i = 0; i < 3; i++)
        if (extra[i] >= 0)
            t->eog[t->n_eog++] = extra[i];
    qsort(t->eog, t->n_eog, sizeof *t->eog, cmp_i32);
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->n_eog; i++)
        if (k == 0 || t->eog[k - 1] != t->eog[i])
            t->eog[k++] = t->eog[i];
    t->n_eog = k;

    /* Special tokens, longest text first (ties: lower id first). */
    uint32_t ns = 0;
    for (uint32_t i = 0; i < n; i++)
        if (t->attr[i] & (FR_ATTR_CONTROL | FR_ATTR_USER_DEFINED | FR_ATTR_UNKNOWN))
            ns++;
    t->special = malloc((ns ? ns : 1) * sizeof *t->special);
    if (!t->special)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        if (t->attr[i] & (FR_ATTR_CONTROL | FR_ATTR_USER_DEFINED | FR_ATTR_UNKNOWN))
            t->special[t->n_special++] = (int32_t)i;
    /* insertion-stable order by length: a counting pass keeps it O(n + max_len) */
    {
        uint32_t maxl = 0;
        for (uint32_t i = 0; i < ns; i++)
            if (t->text_len[t->special[i]] > maxl)
                maxl = t->text_len[t->special[i]];
        uint32_t *cnt = calloc((size_t)maxl + 2, sizeof *cnt);
        int32_t *sorted = malloc((ns ? ns : 1) * sizeof *sorted);
        if (!cnt || !sorted) {
            free(cnt);
            free(sorted);
            return fr_err_set(err, FR_E_NOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < ns; i++)
            cnt[maxl - t->text_len[t->special[i]]]++;
        uint32_t acc = 0;
        for (uint32_t l = 0; l <= maxl; l++) {
            uint32_t c = cnt[l];
            cnt[l] = acc;
            acc += c;
        }
        for (uint32_t i = 0; i < ns; i++)
            sorted[cnt[maxl - t->text_len[t->special[i]]]++] = t->special[i];
        free(cnt);
        free(t->special);
        t->special = sorted;
    }

    /* Phi-3: special tokens strip the spaces that follow them (llama.cpp keys
     * this on general.name). */
    if (name) {
        char low[128];
        size_t l = strnlen(name, sizeof low - 1);
        for (size_t i = 0; i < l; i++)
            low[i] = (char)tolower((unsigned char)name[i]);
        low[l] = 0;
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (uint32_t i = 0; i < t->n_special; i++)
                t->attr[t->special[i]] |= FR_ATTR_RSTRIP;
            int32_t id = find_cstr(t, "</s>");
            if (id >= 0)
                t->attr[id] |= FR_ATTR_RSTRIP;
            const char *keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (int i = 0; i < 3; i++) {
                id = find_cstr(t, keep[i]);
                if (id >= 0)
                    t->attr[id] &= (uint16_t)~FR_ATTR_RSTRIP;
            }
        }
    }
    return FR_OK;
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
    } else {
        char b[64];
        st = fr_err_set(err, FR_E_UNSUPPORTED,
                        "unknown tokenizer model '%s' (tokenizer.ggml.model); frugal supports: %s",
                        esc(d->model, strlen(d->model), b, sizeof b), "llama, gpt2");
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
    int32_t bos, eos, unk;
    if (t->kind == FR_TOK_SPM) {
        bos = 1, eos = 2, unk = 0;
        t->add_space_prefix = true;
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
    t->sep = resolve_id(FR_TOKEN_NONE, d->sep, n);
    t->pad = resolve_id(FR_TOKEN_NONE, d->pad, n);
    t->mask = resolve_id(FR_TOKEN_NONE, d->mask, n);
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
        build_spm_bytes(t);
        t->spm_by_word = spm_words_independent(t);
    } else {
        if ((st = build_bpe(t, d, err)))
            goto fail;
        if ((st = fr_pretok_compile(pre, &t->pretok, err)))
            goto fail;
    }
    if ((st = build_specials(t, d->name, err)))
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
