/*
 * bpe.c - byte-level BPE ("gpt2"), as llama.cpp's llm_tokenizer_bpe does it.
 *
 * A fragment of input is first made valid UTF-8 (utf8.h) and cut into words
 * by the pre-tokenizer. Inside a word every byte starts as one symbol; the
 * adjacent pair with the lowest merge rank (ties: leftmost) is merged, its
 * neighbours are offered as new pairs, until no pair has a rank. Each final
 * symbol is its token, or, if the merged string is not a token, one token
 * per byte. Vocabularies marked ignore_merges (Llama 3) take a word that is
 * itself a token as is.
 *
 * llama.cpp works on the byte-level *encoded* text (each byte replaced by a
 * printable stand-in character) and looks merges up by string pair. We
 * decode the vocabulary once at load instead (raw_map) and give every
 * symbol the id of its string, so a merge lookup is one probe of an integer
 * pair map; the merge order and the results are the same. Within one call,
 * the ids of short words are remembered (text repeats its words), which
 * changes nothing but the speed.
 */
#include "text/tok_internal.h"
#include "text/utf8.h"

#include <string.h>

typedef struct bpe_sym {
    int32_t prev, next;
    uint32_t off, n; /* n = 0: merged into its left neighbour */
    int32_t id;      /* id of the symbol's string in raw_map, -1 if none */
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank;
    int32_t left, right;
    uint32_t size;
    int32_t result;
} bpe_pair;

static inline bool bpe_before(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct bpe_heap {
    bpe_pair *v;
    size_t n;
} bpe_heap;

static void heap_push(bpe_heap *h, bpe_pair p)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!bpe_before(&p, &h->v[up]))
            break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
}

static bpe_pair heap_pop(bpe_heap *h)
{
    bpe_pair top = h->v[0];
    bpe_pair last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && bpe_before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!bpe_before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n)
        h->v[i] = last;
    return top;
}

static void try_pair(const fr_tokenizer *t, const bpe_sym *sym, bpe_heap *h, int32_t left,
                     int32_t right)
{
    if (left < 0 || right < 0 || sym[left].id < 0 || sym[right].id < 0)
        return;
    int32_t result;
    int32_t rank = fr_pairmap_get(&t->merges, sym[left].id, sym[right].id, &result);
    if (rank < 0)
        return;
    bpe_pair p = {rank, left, right, sym[left].n + sym[right].n, result};
    heap_push(h, p);
}

static bool emit_bytes(const fr_tokenizer *t, const char *w, uint32_t n, fr_ids *out)
{
    for (uint32_t j = 0; j < n; j++) {
        int32_t id = t->byte_sym[(uint8_t)w[j]];
        if (id >= 0 && (uint32_t)id < t->n_tokens && !fr_ids_push(out, id))
            return false;
    }
    return true;
}

static fr_status bpe_word(const fr_tokenizer *t, const char *w, uint32_t len, fr_ids *out,
                          fr_tok_scratch *s, fr_err *err)
{
    if (t->ignore_merges) {
        int32_t id = fr_strmap_get(&t->raw_map, w, len);
        if (id >= 0 && (uint32_t)id < t->n_tokens)
            return fr_ids_push(out, id) ? FR_OK
                                        : fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory");
    }
    if (!fr_tok_reserve(&s->sym, &s->sym_cap, (size_t)len * sizeof(bpe_sym)) ||
        !fr_tok_reserve(&s->heap, &s->heap_cap, 3 * (size_t)len * sizeof(bpe_pair)))
        return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory for a word of %u bytes", len);
    bpe_sym *sym = s->sym;
    bpe_heap h = {s->heap, 0};
    for (uint32_t i = 0; i < len; i++) {
        sym[i].prev = (int32_t)i - 1;
        sym[i].next = i + 1 == len ? -1 : (int32_t)i + 1;
        sym[i].off = i;
        sym[i].n = 1;
        sym[i].id = t->byte_sym[(uint8_t)w[i]];
    }
    for (uint32_t i = 1; i < len; i++)
        try_pair(t, sym, &h, (int32_t)i - 1, (int32_t)i);
    while (h.n) {
        bpe_pair p = heap_pop(&h);
        bpe_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size)
            continue; /* stale: a side was merged elsewhere meanwhile */
        l->n += r->n;
        l->id = p.result;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = p.left;
        try_pair(t, sym, &h, l->prev, p.left);
        try_pair(t, sym, &h, p.left, l->next);
    }
    for (int32_t i = 0; i != -1; i = sym[i].next) {
        bool ok = (sym[i].id >= 0 && (uint32_t)sym[i].id < t->n_tokens)
                      ? fr_ids_push(out, sym[i].id)
                      : emit_bytes(t, w + sym[i].off, sym[i].n, out);
        if (!ok)
            return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory for the token list");
    }
    return FR_OK;
}

fr_status fr_bpe_encode(const fr_tokenizer *t, const char *text, size_t len, fr_ids *out,
                        fr_tok_scratch *s, fr_err *err)
{
    if (len == 0)
        return FR_OK;
    size_t need;
    if (__builtin_mul_overflow(len, (size_t)3, &need) ||
        !fr_tok_reserve((void **)&s->buf, &s->buf_cap, need))
        return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
    size_t n = fr_utf8_sanitize(text, len, s->buf);
    fr_status st = fr_pretok_split(&t->pretok, s->buf, n, &s->words, &s->tmp, err);
    if (st)
        return st;
    for (size_t i = 0; i < s->words.n; i++) {
        const char *w = s->buf + s->words.v[i].off;
        uint32_t wl = s->words.v[i].len;
        int hit = fr_tok_cache_get(s, w, wl, out);
        if (hit < 0)
            return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory");
        if (hit)
            continue;
        size_t before = out->n;
        st = bpe_word(t, w, wl, out, s, err);
        if (st)
            return st;
        if (!fr_tok_cache_put(s, w, wl, out, before))
            return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory");
    }
    return FR_OK;
}
