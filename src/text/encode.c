/*
 * encode.c - fr_tokenize: cutting special-token text out of the input,
 * running the model's algorithm on the text between, adding BOS/EOS.
 *
 * Special tokens are cut out with llama.cpp's rule (tokenizer_st_partition):
 * token by token in priority order (longest text first, then lower id),
 * every leftmost non-overlapping occurrence that lies wholly in text no
 * earlier token took. USER_DEFINED tokens are always cut out; CONTROL and
 * UNKNOWN ones only with parse_special. RSTRIP tokens (Phi-3) also take the
 * ASCII whitespace after them.
 *
 * llama.cpp rescans a list of fragments once per special token, which costs
 * (special tokens) x (input) and more: 2400 special tokens over 1 MB of their
 * own text took seconds. Here: one pass notes which byte pairs occur, so a
 * token with a pair that does not occur is skipped at once; the rest go by
 * length. A length with few candidates is searched with memmem; one with
 * many (all the [PAD123] or <|reserved_special_token_N|> of a vocabulary) is
 * found in one rolling-hash pass, and its occurrences are then taken in
 * priority order. A bitmap of taken bytes answers "does this occurrence lie
 * in untaken text?", which is exactly llama.cpp's "is it inside one remaining
 * fragment". Linear in the input times the number of distinct lengths.
 *
 * The SentencePiece text of each fragment gets the space prefix (after a
 * special token or at the start) and ' ' -> U+2581.
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

/* One special-token occurrence: bytes [pos, pos + len of token id). */
typedef struct occ {
    uint32_t pos;
    int32_t id;
} occ;

typedef struct part {
    const fr_tokenizer *t;
    const char *text;
    size_t len;
    uint64_t *taken; /* bit per input byte */
    occ *occ;        /* taken occurrences, in taking order */
    size_t n_occ, cap_occ;
} part;

static inline bool bit(const part *p, size_t i)
{
    return (p->taken[i >> 6] >> (i & 63)) & 1;
}

static inline void set_bit(part *p, size_t i)
{
    p->taken[i >> 6] |= 1ull << (i & 63);
}

static bool is_free(const part *p, size_t pos, size_t n)
{
    for (size_t i = pos; i < pos + n; i++)
        if (bit(p, i))
            return false;
    return true;
}

/* Takes [pos, pos+n) for id (and the whitespace after it for RSTRIP). */
static bool take(part *p, size_t pos, size_t n, int32_t id)
{
    if (p->n_occ == p->cap_occ) {
        size_t cap = p->cap_occ ? p->cap_occ * 2 : 64;
        occ *v = realloc(p->occ, cap * sizeof *v);
        if (!v)
            return false;
        p->occ = v;
        p->cap_occ = cap;
    }
    p->occ[p->n_occ].pos = (uint32_t)pos;
    p->occ[p->n_occ].id = id;
    p->n_occ++;
    for (size_t i = pos; i < pos + n; i++)
        set_bit(p, i);
    if (p->t->attr[id] & FR_ATTR_RSTRIP)
        for (size_t i = pos + n; i < p->len && !bit(p, i) && is_c_space(p->text[i]); i++)
            set_bit(p, i);
    return true;
}

static bool search_one(part *p, int32_t id)
{
    uint32_t n;
    const char *s = fr_tok_text(p->t, id, &n);
    size_t pos = 0;
    while (pos + n <= p->len) {
        const char *m = memmem(p->text + pos, p->len - pos, s, n);
        if (!m)
            break;
        size_t at = (size_t)(m - p->text);
        if (is_free(p, at, n)) {
            if (!take(p, at, n, id))
                return false;
            pos = at + n;
        } else {
            pos = at + 1;
        }
    }
    return true;
}

#define HASH_BASE 0x100000001b3ull

/* All tokens of group g[0..k) (same length n, priority order) at once. */
static bool search_group(part *p, const int32_t *g, size_t k, uint32_t n)
{
    if (n > p->len)
        return true;
    size_t slots = 16;
    while (slots < 2 * k)
        slots *= 2;
    uint64_t *hk = malloc(slots * sizeof *hk);
    int32_t *hv = malloc(slots * sizeof *hv);
    uint32_t *cnt = calloc(k + 1, sizeof *cnt);
    occ *found = NULL, *sorted = NULL;
    size_t nf = 0, cap = 0;
    bool ok = false;
    if (!hk || !hv || !cnt)
        goto done;
    for (size_t i = 0; i < slots; i++)
        hv[i] = -1;
    uint64_t top = 1; /* HASH_BASE^(n-1) */
    for (uint32_t i = 1; i < n; i++)
        top *= HASH_BASE;
    for (size_t r = 0; r < k; r++) {
        uint32_t l;
        const uint8_t *s = (const uint8_t *)fr_tok_text(p->t, g[r], &l);
        uint64_t h = 0;
        for (uint32_t i = 0; i < n; i++)
            h = h * HASH_BASE + s[i];
        size_t i = (size_t)(h ^ (h >> 29)) & (slots - 1);
        while (hv[i] >= 0)
            i = (i + 1) & (slots - 1);
        hk[i] = h;
        hv[i] = (int32_t)r; /* rank within the group */
    }
    const uint8_t *u = (const uint8_t *)p->text;
    uint64_t h = 0;
    for (uint32_t i = 0; i < n; i++)
        h = h * HASH_BASE + u[i];
    for (size_t pos = 0;; pos++) {
        for (size_t i = (size_t)(h ^ (h >> 29)) & (slots - 1); hv[i] >= 0;
             i = (i + 1) & (slots - 1)) {
            uint32_t l;
            if (hk[i] != h || memcmp(fr_tok_text(p->t, g[hv[i]], &l), p->text + pos, n) != 0)
                continue;
            if (nf == cap) {
                cap = cap ? cap * 2 : 256;
                occ *v = realloc(found, cap * sizeof *v);
                if (!v)
                    goto done;
                found = v;
            }
            found[nf].pos = (uint32_t)pos;
            found[nf++].id = hv[i];
            cnt[hv[i]]++;
            break; /* texts differ: one token per position */
        }
        if (pos + n >= p->len)
            break;
        h = (h - u[pos] * top) * HASH_BASE + u[pos + n];
    }
    /* Occurrences by rank, positions ascending within a rank (counting sort). */
    if (nf && !(sorted = malloc(nf * sizeof *sorted)))
        goto done;
    uint32_t acc = 0;
    for (size_t r = 0; r < k; r++) {
        uint32_t c = cnt[r];
        cnt[r] = acc;
        acc += c;
    }
    for (size_t i = 0; i < nf; i++)
        sorted[cnt[found[i].id]++] = found[i];
    for (size_t i = 0; i < nf; i++) {
        int32_t id = g[sorted[i].id];
        if (is_free(p, sorted[i].pos, n) && !take(p, sorted[i].pos, n, id))
            goto done;
    }
    ok = true;
done:
    free(hk);
    free(hv);
    free(cnt);
    free(found);
    free(sorted);
    return ok;
}

static int cmp_occ(const void *a, const void *b)
{
    uint32_t x = ((const occ *)a)->pos, y = ((const occ *)b)->pos;
    return (x > y) - (x < y);
}

/* Cuts the special tokens out of text; *out gets the fragments in order. */
static bool partition(const fr_tokenizer *t, const char *text, size_t len, bool parse_special,
                      frags *out)
{
    out->n = 0;
    if (!len)
        return true;
    part p = {t, text, len, NULL, NULL, 0, 0};
    uint64_t *pairs = calloc(65536 / 64, sizeof *pairs);
    int32_t *cand = malloc((t->n_special ? t->n_special : 1) * sizeof *cand);
    bool ok = false;
    if (!pairs || !cand)
        goto done;
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned v = (unsigned)(uint8_t)text[i] << 8 | (uint8_t)text[i + 1];
        pairs[v >> 6] |= 1ull << (v & 63);
    }
    size_t nc = 0;
    for (uint32_t k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        if (!parse_special && (t->attr[id] & (FR_ATTR_CONTROL | FR_ATTR_UNKNOWN)))
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
            cand[nc++] = id;
    }
    if (nc) {
        if (!(p.taken = calloc((len + 63) / 64, sizeof *p.taken)))
            goto done;
        for (size_t i = 0; i < nc;) { /* cand is in priority order: by length, then id */
            size_t j = i + 1;
            while (j < nc && t->text_len[cand[j]] == t->text_len[cand[i]])
                j++;
            if (j - i <= 8) {
                for (size_t k = i; k < j; k++)
                    if (!search_one(&p, cand[k]))
                        goto done;
            } else if (!search_group(&p, cand + i, j - i, t->text_len[cand[i]])) {
                goto done;
            }
            i = j;
        }
    }
    /* Fragments: untaken runs are text; occurrences are tokens; the rest
     * (RSTRIP whitespace) is dropped. */
    if (p.n_occ)
        qsort(p.occ, p.n_occ, sizeof *p.occ, cmp_occ);
    size_t cur = 0;
    for (size_t k = 0; k <= p.n_occ; k++) {
        size_t end = k < p.n_occ ? p.occ[k].pos : len;
        while (cur < end) {
            if (p.taken && bit(&p, cur)) {
                cur++;
                continue;
            }
            size_t s = cur;
            while (cur < end && !(p.taken && bit(&p, cur)))
                cur++;
            if (!frags_push(out, -1, s, cur - s))
                goto done;
        }
        if (k < p.n_occ) {
            if (!frags_push(out, p.occ[k].id, 0, 0))
                goto done;
            cur = end + t->text_len[p.occ[k].id];
        }
    }
    ok = true;
done:
    free(pairs);
    free(cand);
    free(p.taken);
    free(p.occ);
    return ok;
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
        return fr_err_set(
            err, FR_E_RANGE,
            "tokenize: the text is %zu bytes; at most %zu bytes are tokenized at once "
            "(split it)",
            len, FR_TOKENIZE_MAX_BYTES);
    if (!text && len)
        return fr_err_set(err, FR_E_INVALID, "tokenize: text is NULL");
    bool add_bos = opts->add_bos < 0 ? t->add_bos : opts->add_bos != 0;
    bool add_eos = opts->add_eos < 0 ? t->add_eos : opts->add_eos != 0;
    if (add_bos && t->bos < 0)
        return fr_err_set(err, FR_E_INVALID,
                          "tokenize: a BOS token was requested but this "
                          "vocabulary has none");
    if (add_eos && t->eos < 0)
        return fr_err_set(err, FR_E_INVALID,
                          "tokenize: an EOS token was requested but this "
                          "vocabulary has none");

    fr_status st = FR_OK;
    fr_ids ids = {0};
    frags cur = {0};
    fr_tok_scratch s = {0};
    char *esc = NULL;
    size_t esc_cap = 0;

    if (!partition(t, text, len, opts->parse_special, &cur))
        goto nomem;

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
        } else if (t->kind == FR_TOK_WPM) {
            st = fr_wpm_encode(t, p, f.len, &ids, &s, err);
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
    /* BERT: the special tokens around a sequence are [CLS] ... [SEP] */
    if (add_bos && t->kind == FR_TOK_WPM && t->sep >= 0 && !fr_ids_push(&ids, t->sep))
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
    free(esc);
    fr_tok_scratch_free(&s);
    return st;
}
