/*
 * merges.c - the byte-level BPE tables, built once per tokenizer.
 *
 * llama.cpp keys its merges by pairs of byte-level-encoded strings. We
 * decode every token text from the byte-level alphabet to the raw bytes it
 * stands for (raw_map: raw bytes -> id; a token with a character outside
 * the alphabet, e.g. a user-defined token with a plain space, has no raw
 * form and cannot come out of merging, as in llama.cpp) and give every merge
 * part an id, so that the merge table is (left id, right id) -> rank and the
 * id of the merged string. A part that is not a token gets an id past the
 * vocabulary; a merged string that is neither gets -1 and cannot merge again.
 * "left right" is split at the first space after the first byte, as
 * llama.cpp does; when a pair repeats, the first (lowest) rank wins.
 */
#include "text/tok_internal.h"
#include "text/utf8.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MERGES (1u << 24)

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

fr_status fr_bpe_build(fr_tokenizer *t, const fr_tokenizer_desc *d, fr_err *err)
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
        size_t len = fr_desc_len(d->merges, d->merge_lens, m);
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
        size_t len = fr_desc_len(d->merges, d->merge_lens, m);
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
