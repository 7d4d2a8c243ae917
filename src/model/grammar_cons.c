/*
 * grammar_cons.c - a grammar as a constraint on tokens (frugal/grammar.h):
 * the vocabulary trie and the masks.
 *
 * The vocabulary trie holds every token's bytes (control tokens, whose text
 * is empty, are left out: the constraint never allows them). Nodes are in
 * depth-first order, so a node's subtree is the index range [i, end[i]):
 * the mask walks the nodes once, feeding each node's byte to the state of
 * its parent, and skips a whole subtree as soon as its prefix is refused.
 * A grammar that expects `"name"` touches a few hundred nodes; one that
 * expects free string content touches most of them, which is why masks are
 * cached by state: inside a string the state after each token is the same
 * (interned stacks make it the same ids), so the walk runs once per
 * distinct state, not once per token.
 *
 * allows(t) feeds one token's bytes; accept(t) does the same and keeps the
 * result. End-of-generation tokens are allowed when the state is complete.
 * The node table of the matcher is compacted between tokens when it has
 * grown large (the cache, keyed by node ids, is emptied then).
 */
#include "model/grammar_match.h"

#include <frugal/tokenizer.h>

#include <stdlib.h>
#include <string.h>

#define GC_CACHE_SLOTS 32
#define GC_COMPACT_NODES (1u << 20)

/* ---- the vocabulary trie ---------------------------------------------------------------- */

struct fr_grammar_vocab {
    const fr_tokenizer *tok;
    uint32_t n_vocab;
    uint32_t n_nodes;   /* node 0 is the root (the empty prefix) */
    uint8_t *byte;      /* (n_nodes) the byte that leads to the node */
    uint32_t *end;      /* (n_nodes) one past the last node of its subtree */
    uint32_t *tok_off;  /* (n_nodes + 1) tokens ending at node i: ids[tok_off[i] .. tok_off[i+1]) */
    int32_t *ids;       /* (n_ids) token ids, sorted by their bytes */
    uint32_t n_ids;
    uint32_t max_len;   /* longest token, in bytes */
    uint64_t *eog;      /* (FR_MASK_WORDS(n_vocab)) end-of-generation tokens */
    uint64_t *special;  /* (FR_MASK_WORDS(n_vocab)) control tokens read by their text */
};

/* The bytes the constraint reads for token id: its piece, or the text of a
 * special token named in the vocab's specials. */
static const char *vocab_piece(const fr_grammar_vocab *v, int32_t id, size_t *len)
{
    const char *p = fr_token_piece(v->tok, id, 0, len);
    if (p && *len)
        return p;
    if ((uint32_t)id < v->n_vocab && v->special && (v->special[id >> 6] >> (id & 63) & 1))
        return fr_token_piece(v->tok, id, FR_DECODE_SPECIAL, len);
    *len = 0;
    return p;
}

static int cmp_piece_v(const void *a, const void *b, void *u)
{
    const fr_grammar_vocab *v = u;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    size_t lx, ly;
    const char *px = vocab_piece(v, x, &lx), *py = vocab_piece(v, y, &ly);
    size_t n = lx < ly ? lx : ly;
    int c = n ? memcmp(px, py, n) : 0;
    if (c)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

fr_status fr_grammar_vocab_create(const fr_tokenizer *tok, uint32_t n_vocab,
                                  const char *const *specials, size_t n_specials,
                                  fr_grammar_vocab **out, fr_err *err)
{
    *out = NULL;
    fr_grammar_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    v->tok = tok;
    v->n_vocab = n_vocab;
    uint32_t nt = fr_tokenizer_n_tokens(tok);
    if (nt > n_vocab)
        nt = n_vocab;
    v->ids = malloc(((size_t)nt + 1) * sizeof *v->ids);
    v->eog = calloc(FR_MASK_WORDS(n_vocab) + 1, sizeof *v->eog);
    uint64_t total = 1;
    if (!v->ids || !v->eog)
        goto nomem;
    v->special = calloc(FR_MASK_WORDS(n_vocab) + 1, sizeof *v->special);
    if (!v->special)
        goto nomem;
    for (uint32_t i = 0; i < nt && n_specials; i++) {
        size_t len;
        const char *p = fr_token_piece(tok, (int32_t)i, FR_DECODE_SPECIAL, &len);
        if (!p || fr_tokenizer_is_eog(tok, (int32_t)i))
            continue;
        for (size_t k = 0; k < n_specials; k++)
            if (strlen(specials[k]) == len && memcmp(specials[k], p, len) == 0)
                v->special[i >> 6] |= (uint64_t)1 << (i & 63);
    }
    for (uint32_t i = 0; i < nt; i++) {
        if (fr_tokenizer_is_eog(tok, (int32_t)i))
            v->eog[i >> 6] |= (uint64_t)1 << (i & 63);
        size_t len;
        const char *p = vocab_piece(v, (int32_t)i, &len);
        if (!p || !len)
            continue;
        v->ids[v->n_ids++] = (int32_t)i;
        total += len;
        if (len > v->max_len)
            v->max_len = (uint32_t)len;
    }
    qsort_r(v->ids, v->n_ids, sizeof *v->ids, cmp_piece_v, v);
    /* at most one node per byte of every token, plus the root */
    if (total > UINT32_MAX - 1)
        goto nomem;
    v->byte = malloc((size_t)total);
    v->end = malloc((size_t)total * sizeof *v->end);
    v->tok_off = malloc(((size_t)total + 1) * sizeof *v->tok_off);
    uint32_t *path = malloc(((size_t)v->max_len + 1) * sizeof *path);
    if (!v->byte || !v->end || !v->tok_off || !path) {
        free(path);
        goto nomem;
    }
    /* build in depth-first order from the sorted pieces: path[d] is the node
     * at depth d on the current branch */
    v->n_nodes = 1;
    v->byte[0] = 0;
    v->tok_off[0] = 0;
    path[0] = 0;
    uint32_t depth = 0;
    const char *prev = "";
    size_t prev_len = 0;
    for (uint32_t k = 0; k < v->n_ids; k++) {
        size_t len;
        const char *p = vocab_piece(v, v->ids[k], &len);
        size_t common = 0;
        while (common < len && common < prev_len && common < depth && p[common] == prev[common])
            common++;
        while (depth > common) { /* close the nodes below the common prefix */
            v->end[path[depth]] = v->n_nodes;
            depth--;
        }
        while (depth < len) {
            uint32_t id = v->n_nodes++;
            v->byte[id] = (uint8_t)p[depth];
            v->tok_off[id] = k;
            path[++depth] = id;
        }
        /* token k ends at path[depth]; tok_off of the next node is k + 1 then */
        prev = p;
        prev_len = len;
    }
    while (depth > 0) {
        v->end[path[depth]] = v->n_nodes;
        depth--;
    }
    v->end[0] = v->n_nodes;
    free(path);
    /* tokens ending at node i are ids[tok_off[i] .. tok_off[i+1]): a node is created by the
     * first token through it, a token that ends there sorts before longer ones sharing its
     * bytes, and every token other than a duplicate creates at least one node */
    v->tok_off[v->n_nodes] = v->n_ids;
    *out = v;
    return FR_OK;
nomem:
    fr_grammar_vocab_free(v);
    return fr_err_set(err, FR_E_NOMEM, "out of memory indexing a vocabulary of %u tokens",
                      n_vocab);
}

void fr_grammar_vocab_free(fr_grammar_vocab *v)
{
    if (!v)
        return;
    free(v->byte);
    free(v->end);
    free(v->tok_off);
    free(v->ids);
    free(v->eog);
    free(v->special);
    free(v);
}

/* ---- the constraint ----------------------------------------------------------------------- */

typedef struct gc_slot {
    uint64_t hash;
    uint32_t *key;   /* tops, then accept/need/cp words */
    uint32_t n_key;
    uint64_t *bits;  /* (FR_MASK_WORDS(n_vocab)) */
    uint64_t used;   /* last use, for eviction */
} gc_slot;

typedef struct gcons {
    fr_grammar *g;             /* owned */
    const fr_grammar_vocab *v;
    gr_matcher *m;
    gr_state cur;
    gr_state *depth;           /* (max_len + 2) scratch states for the walk */
    uint32_t n_depth;
    gc_slot cache[GC_CACHE_SLOTS];
    uint64_t clock;
    uint32_t *key;             /* scratch for the current state's key */
    uint32_t key_cap;
} gcons;

static bool is_eog(const fr_grammar_vocab *v, int32_t t)
{
    return (uint32_t)t < v->n_vocab && (v->eog[t >> 6] >> (t & 63) & 1);
}

/* Feeds bytes p[0..n) from `from` into a scratch chain; the result is in
 * c->depth[n] (or from itself when n == 0). 1 alive, 0 refused, -1 error. */
static int feed_bytes(gcons *c, const gr_state *from, const char *p, size_t n,
                      const gr_state **res)
{
    const gr_state *s = from;
    for (size_t i = 0; i < n; i++) {
        gr_state *o = &c->depth[(i & 1) + 1];
        int r = gr_feed(c->m, s, (uint8_t)p[i], o);
        if (r <= 0)
            return r;
        s = o;
    }
    *res = s;
    return 1;
}

static bool gc_allows(void *self, int32_t t)
{
    gcons *c = self;
    if (is_eog(c->v, t))
        return gr_complete(&c->cur);
    size_t len;
    const char *p = vocab_piece(c->v, t, &len);
    if (!p || !len)
        return false;
    const gr_state *res;
    return feed_bytes(c, &c->cur, p, len, &res) > 0;
}

static uint64_t hash_words(const uint32_t *w, uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

/* The current state as words (sorted tops, then the partial character). */
static bool state_key(gcons *c, uint32_t *n_out)
{
    uint32_t n = c->cur.n + 4;
    if (n > c->key_cap) {
        uint32_t *k = realloc(c->key, (size_t)n * sizeof *k);
        if (!k)
            return false;
        c->key = k;
        c->key_cap = n;
    }
    memcpy(c->key, c->cur.tops, c->cur.n * sizeof *c->key);
    /* insertion sort: states hold few stacks */
    for (uint32_t i = 1; i < c->cur.n; i++) {
        uint32_t x = c->key[i], j = i;
        while (j && c->key[j - 1] > x) {
            c->key[j] = c->key[j - 1];
            j--;
        }
        c->key[j] = x;
    }
    c->key[c->cur.n] = (uint32_t)c->cur.accept | (uint32_t)c->cur.need << 8 |
                       (uint32_t)c->cur.nbytes << 16;
    c->key[c->cur.n + 1] = c->cur.cp;
    c->key[c->cur.n + 2] = c->cur.lo;
    c->key[c->cur.n + 3] = c->cur.hi;
    *n_out = n;
    return true;
}

/* Walks the trie from the current state, setting the bits of allowed. */
static int walk(gcons *c, uint64_t *allowed)
{
    const fr_grammar_vocab *v = c->v;
    uint32_t *ends = malloc(((size_t)v->max_len + 2) * sizeof *ends);
    if (!ends)
        return -1;
    if (!gr_state_copy(&c->depth[0], &c->cur)) {
        free(ends);
        return -1;
    }
    uint32_t d = 0;
    ends[0] = v->n_nodes;
    int rc = 1;
    for (uint32_t i = 1; i < v->n_nodes;) {
        while (i >= ends[d])
            d--;
        int r = gr_feed(c->m, &c->depth[d], v->byte[i], &c->depth[d + 1]);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0) {
            i = v->end[i];
            continue;
        }
        for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++) {
            uint32_t t = (uint32_t)v->ids[k]; /* the tokens whose bytes end here */
            allowed[t >> 6] |= (uint64_t)1 << (t & 63);
        }
        if (v->end[i] > i + 1) {
            d++;
            ends[d] = v->end[i];
        }
        i++;
    }
    free(ends);
    return rc;
}

static fr_status gc_mask(void *self, uint64_t *allowed, fr_err *err)
{
    gcons *c = self;
    const fr_grammar_vocab *v = c->v;
    size_t nw = FR_MASK_WORDS(v->n_vocab);
    uint32_t nk = 0;
    bool keyed = state_key(c, &nk);
    uint64_t h = keyed ? hash_words(c->key, nk) : 0;
    c->clock++;
    if (keyed)
        for (int s = 0; s < GC_CACHE_SLOTS; s++) {
            gc_slot *sl = &c->cache[s];
            if (sl->bits && sl->hash == h && sl->n_key == nk &&
                memcmp(sl->key, c->key, nk * sizeof *c->key) == 0) {
                memcpy(allowed, sl->bits, nw * sizeof *allowed);
                sl->used = c->clock;
                return FR_OK;
            }
        }
    if (walk(c, allowed) < 0)
        return fr_err_set(err, FR_E_RANGE, "grammar: %s",
                          gr_matcher_error(c->m) ? gr_matcher_error(c->m) : "out of memory");
    if (gr_complete(&c->cur))
        for (size_t w = 0; w < nw; w++)
            allowed[w] |= v->eog[w];
    if (!keyed)
        return FR_OK;
    /* keep it: an empty slot or the least recently used one */
    gc_slot *best = &c->cache[0];
    for (int s = 0; s < GC_CACHE_SLOTS; s++) {
        if (!c->cache[s].bits) {
            best = &c->cache[s];
            break;
        }
        if (c->cache[s].used < best->used)
            best = &c->cache[s];
    }
    if (!best->bits && !(best->bits = malloc(nw * sizeof *best->bits)))
        return FR_OK;
    uint32_t *k = realloc(best->key, (size_t)nk * sizeof *k);
    if (!k)
        return FR_OK;
    best->key = k;
    memcpy(best->key, c->key, nk * sizeof *c->key);
    best->n_key = nk;
    best->hash = h;
    best->used = c->clock;
    memcpy(best->bits, allowed, nw * sizeof *allowed);
    return FR_OK;
}

static void cache_clear(gcons *c)
{
    for (int s = 0; s < GC_CACHE_SLOTS; s++) {
        free(c->cache[s].bits);
        free(c->cache[s].key);
    }
    memset(c->cache, 0, sizeof c->cache);
}

static fr_status gc_accept(void *self, int32_t t, fr_err *err)
{
    gcons *c = self;
    if (is_eog(c->v, t))
        return FR_OK;
    size_t len;
    const char *p = vocab_piece(c->v, t, &len);
    const gr_state *res = NULL;
    int r = p && len ? feed_bytes(c, &c->cur, p, len, &res) : 0;
    if (r < 0)
        return fr_err_set(err, FR_E_RANGE, "grammar: %s",
                          gr_matcher_error(c->m) ? gr_matcher_error(c->m) : "out of memory");
    if (r == 0)
        return fr_err_set(err, FR_E_INTERNAL, "grammar: token %d does not continue the output", t);
    if (!gr_state_copy(&c->cur, res))
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    if (gr_nodes(c->m) > GC_COMPACT_NODES) {
        cache_clear(c);
        if (!gr_compact(c->m, &c->cur))
            return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    return FR_OK;
}

static bool gc_complete(void *self)
{
    gcons *c = self;
    return gr_complete(&c->cur);
}

static void gc_free(void *self)
{
    gcons *c = self;
    if (!c)
        return;
    cache_clear(c);
    for (uint32_t i = 0; i < c->n_depth; i++)
        gr_state_free(&c->depth[i]);
    free(c->depth);
    free(c->key);
    gr_state_free(&c->cur);
    gr_matcher_free(c->m);
    fr_grammar_free(c->g);
    free(c);
}

static const fr_constraint_ops gc_ops = {"grammar", gc_allows, gc_mask, gc_accept, gc_complete,
                                         gc_free};

fr_status fr_grammar_constraint(fr_grammar *g, const fr_grammar_vocab *v, fr_constraint **out,
                                fr_err *err)
{
    *out = NULL;
    gcons *c = calloc(1, sizeof *c);
    if (!c) {
        fr_grammar_free(g);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    c->g = g;
    c->v = v;
    c->n_depth = v->max_len + 2 > 3 ? v->max_len + 2 : 3;
    c->m = gr_matcher_create(g);
    c->depth = calloc(c->n_depth, sizeof *c->depth);
    if (!c->m || !c->depth || !gr_start(c->m, &c->cur)) {
        const char *why = c->m && gr_matcher_error(c->m) ? gr_matcher_error(c->m) : "out of memory";
        fr_status st = fr_err_set(err, FR_E_RANGE, "grammar: %s", why);
        gc_free(c);
        return st;
    }
    return fr_constraint_create(&gc_ops, c, out, err);
}
