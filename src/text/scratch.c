/*
 * scratch.c - the memory one encode call reuses: growable buffers, the id
 * list, and the per-call word cache (word -> ids; text repeats its words, so
 * a 1 MB English text merges each distinct word once). The cache is bounded
 * (short words, a fixed number of entries) so hostile input cannot grow it
 * past a few MB.
 */
#include "text/tok_internal.h"

#include <stdlib.h>
#include <string.h>

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
