/*
 * spm.c - SentencePiece-style ("llama") merging, as llama.cpp's
 * llm_tokenizer_spm does it.
 *
 * The text (spaces already written as U+2581) starts as one symbol per
 * UTF-8 character (the length announced by the lead byte, cut short at the
 * end of the text, so invalid bytes are symbols too). Every adjacent pair
 * whose concatenation is a token goes into a max-heap by that token's score
 * (ties: leftmost first). Popping a pair merges it unless one side was
 * already merged away or grew (then the pair is stale: sizes no longer add
 * up); the new symbol's neighbours are offered as pairs. At the end each
 * symbol is its token, or, when it is not in the vocabulary, its bytes as
 * byte-fallback tokens (<0xNN>, else the one-byte token, else unk).
 *
 * Cost: at most n-1 merges, each pushing two pairs: O(n log n). When no
 * token has U+2581 after anything but U+2581 (true of SentencePiece
 * vocabularies, checked at load), no merge can cross the first U+2581 of a
 * space run, so each word is merged with its own small heap: same result,
 * but the heap stays in cache (a 1 MB text is ~5x faster), and a word seen
 * before in the same call is not merged again.
 */
#include "text/tok_internal.h"
#include "text/utf8.h"

#include <string.h>

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t off, n; /* n = 0: merged into its left neighbour */
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

/* a comes out of the heap before b */
static inline bool spm_before(const spm_pair *a, const spm_pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct spm_heap {
    spm_pair *v;
    size_t n, cap;
} spm_heap;

static void heap_push(spm_heap *h, spm_pair p)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!spm_before(&p, &h->v[up]))
            break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
}

static spm_pair heap_pop(spm_heap *h)
{
    spm_pair top = h->v[0];
    spm_pair last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && spm_before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!spm_before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n)
        h->v[i] = last;
    return top;
}

static void try_pair(const fr_tokenizer *t, const char *text, const spm_sym *sym, spm_heap *h,
                     int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    uint32_t size = sym[left].n + sym[right].n;
    int32_t id = fr_strmap_get(&t->text_map, text + sym[left].off, size);
    if (id < 0)
        return;
    spm_pair p = {t->scores[id], left, right, size};
    heap_push(h, p);
}

static inline bool is_space(const char *text, const spm_sym *s)
{
    return s->n == 3 && memcmp(text + s->off, "\xe2\x96\x81", 3) == 0;
}

fr_status fr_spm_encode(const fr_tokenizer *t, const char *text, size_t len, fr_ids *out,
                        fr_tok_scratch *s, fr_err *err)
{
    if (len == 0)
        return FR_OK;
    /* Symbols: at most one per byte. Pairs: n-1 at the start plus two per
     * merge (at most n-1 merges), so 3n bounds the heap. */
    if (!fr_tok_reserve(&s->sym, &s->sym_cap, len * sizeof(spm_sym)) ||
        !fr_tok_reserve(&s->heap, &s->heap_cap, 3 * len * sizeof(spm_pair)))
        return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
    spm_sym *sym = s->sym;
    spm_heap h = {s->heap, 0, 3 * len};

    int32_t n = 0;
    for (size_t off = 0; off < len; n++) {
        size_t cl = fr_utf8_len_min((uint8_t)text[off], len - off);
        sym[n].off = (uint32_t)off;
        sym[n].n = (uint32_t)cl;
        sym[n].prev = n - 1;
        off += cl;
        sym[n].next = off == len ? -1 : n + 1;
    }
    for (int32_t a = 0; a < n;) {
        /* [a, b): the next word, or the whole text */
        int32_t b = n;
        if (t->spm_by_word) {
            for (b = a + 1; b < n; b++)
                if (is_space(text, &sym[b]) && !is_space(text, &sym[b - 1]))
                    break;
        }
        const char *wtext = text + sym[a].off;
        uint32_t wlen = sym[b - 1].off + sym[b - 1].n - sym[a].off;
        int hit = t->spm_by_word ? fr_tok_cache_get(s, wtext, wlen, out) : 0;
        if (hit < 0)
            goto nomem;
        if (hit) {
            a = b;
            continue;
        }
        size_t before = out->n;
        sym[a].prev = -1;
        sym[b - 1].next = -1;
        h.n = 0;
        for (int32_t i = a + 1; i < b; i++)
            try_pair(t, text, sym, &h, i - 1, i);
        while (h.n) {
            spm_pair p = heap_pop(&h);
            spm_sym *l = &sym[p.left], *r = &sym[p.right];
            if (l->n == 0 || r->n == 0 || l->n + r->n != p.size)
                continue; /* stale */
            l->n += r->n;
            r->n = 0;
            l->next = r->next;
            if (r->next >= 0)
                sym[r->next].prev = p.left;
            try_pair(t, text, sym, &h, l->prev, p.left);
            try_pair(t, text, sym, &h, p.left, l->next);
        }
        for (int32_t i = a; i != -1; i = sym[i].next) {
            int32_t id = fr_strmap_get(&t->text_map, text + sym[i].off, sym[i].n);
            if (id >= 0) {
                if (!fr_ids_push(out, id))
                    goto nomem;
                continue;
            }
            for (uint32_t j = 0; j < sym[i].n; j++) {
                int32_t bt = t->byte_tok[(uint8_t)text[sym[i].off + j]];
                if (bt >= 0 && !fr_ids_push(out, bt))
                    goto nomem;
            }
        }
        if (t->spm_by_word && !fr_tok_cache_put(s, wtext, wlen, out, before))
            goto nomem;
        a = b;
    }
    return FR_OK;
nomem:
    return fr_err_set(err, FR_E_NOMEM, "tokenizer: out of memory for the token list");
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

/* The byte-fallback table, and whether words can be merged one by one. */
void fr_spm_build(fr_tokenizer *t)
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
    t->spm_by_word = spm_words_independent(t);
}
