/*
 * grammar_match.c - a compiled grammar run over bytes (see grammar_match.h
 * for the state), and fr_grammar_match, the whole-string check.
 *
 * One byte at a time: a byte that starts or continues a multi-byte UTF-8
 * character only narrows the range of code points the character can still
 * become (the stacks stay, but at least one of their top classes must meet
 * that range); the byte that completes a character advances every stack
 * whose top class holds it. Advancing moves past the character and
 * expands: the end of an alternative pops to the position below, a rule
 * reference pushes each of the rule's alternatives (a reference that ends
 * its alternative pops first, so repetitions written as right recursion do
 * not grow the stack), until every stack's top is a character class again.
 * Expansion is iterative with an explicit work list and a step budget, so
 * no grammar can recurse the C stack deep or run without end (left
 * recursion was refused by the parser; the budget bounds pathological
 * ambiguity).
 */
#include "model/grammar_match.h"

#include <stdlib.h>
#include <string.h>

struct gr_matcher {
    const fr_grammar *g;
    uint32_t *pos, *parent; /* (n_nodes) */
    uint32_t n_nodes, cap_nodes;
    uint64_t *slots;        /* intern table: key (pos << 32 | parent) + 1 in the high..., see probe */
    uint32_t *slot_node;
    uint32_t mask;          /* slots - 1 */
    uint32_t *seen;         /* (cap_nodes) state-building stamps, for de-duplicating tops */
    uint32_t stamp;
    uint64_t *work;         /* expansion work list: pos << 32 | parent */
    uint32_t n_work, cap_work;
    const char *error;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static bool intern_grow(gr_matcher *m)
{
    uint32_t ns = (m->mask + 1) * 2;
    uint64_t *sl = malloc((size_t)ns * sizeof *sl);
    uint32_t *sn = malloc((size_t)ns * sizeof *sn);
    if (!sl || !sn) {
        free(sl);
        free(sn);
        return false;
    }
    memset(sl, 0xff, (size_t)ns * sizeof *sl);
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (m->slots[i] == UINT64_MAX)
            continue;
        uint32_t j = (uint32_t)mix(m->slots[i]) & (ns - 1);
        while (sl[j] != UINT64_MAX)
            j = (j + 1) & (ns - 1);
        sl[j] = m->slots[i];
        sn[j] = m->slot_node[i];
    }
    free(m->slots);
    free(m->slot_node);
    m->slots = sl;
    m->slot_node = sn;
    m->mask = ns - 1;
    return true;
}

/* The node (pos, parent), created on first use; GR_NIL when out of memory
 * or past GR_MAX_NODES. */
static uint32_t intern(gr_matcher *m, uint32_t pos, uint32_t parent)
{
    uint64_t key = (uint64_t)pos << 32 | parent;
    uint32_t j = (uint32_t)mix(key) & m->mask;
    while (m->slots[j] != UINT64_MAX) {
        if (m->slots[j] == key)
            return m->slot_node[j];
        j = (j + 1) & m->mask;
    }
    if (m->n_nodes >= GR_MAX_NODES) {
        m->error = "the grammar's stacks grew past 16M nodes (nesting too deep or too ambiguous)";
        return GR_NIL;
    }
    if (m->n_nodes == m->cap_nodes) {
        uint32_t nc = m->cap_nodes * 2;
        uint32_t *np = realloc(m->pos, (size_t)nc * sizeof *np);
        if (np)
            m->pos = np;
        uint32_t *nq = np ? realloc(m->parent, (size_t)nc * sizeof *nq) : NULL;
        if (nq)
            m->parent = nq;
        uint32_t *ns = nq ? realloc(m->seen, (size_t)nc * sizeof *ns) : NULL;
        if (!ns) {
            m->error = "out of memory";
            return GR_NIL;
        }
        memset(ns + m->cap_nodes, 0, (size_t)(nc - m->cap_nodes) * sizeof *ns);
        m->seen = ns;
        m->cap_nodes = nc;
    }
    uint32_t id = m->n_nodes++;
    m->pos[id] = pos;
    m->parent[id] = parent;
    m->slots[j] = key;
    m->slot_node[j] = id;
    if (2 * (uint64_t)m->n_nodes > m->mask && !intern_grow(m)) {
        m->error = "out of memory";
        return GR_NIL;
    }
    return id;
}

gr_matcher *gr_matcher_create(const fr_grammar *g)
{
    gr_matcher *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->g = g;
    m->cap_nodes = 1024;
    m->mask = 4095;
    m->pos = malloc(m->cap_nodes * sizeof *m->pos);
    m->parent = malloc(m->cap_nodes * sizeof *m->parent);
    m->seen = calloc(m->cap_nodes, sizeof *m->seen);
    m->slots = malloc(((size_t)m->mask + 1) * sizeof *m->slots);
    m->slot_node = malloc(((size_t)m->mask + 1) * sizeof *m->slot_node);
    if (!m->pos || !m->parent || !m->seen || !m->slots || !m->slot_node) {
        gr_matcher_free(m);
        return NULL;
    }
    memset(m->slots, 0xff, ((size_t)m->mask + 1) * sizeof *m->slots);
    return m;
}

void gr_matcher_free(gr_matcher *m)
{
    if (!m)
        return;
    free(m->pos);
    free(m->parent);
    free(m->seen);
    free(m->slots);
    free(m->slot_node);
    free(m->work);
    free(m);
}

const char *gr_matcher_error(const gr_matcher *m) { return m->error; }

uint32_t gr_nodes(const gr_matcher *m) { return m->n_nodes; }

void gr_state_free(gr_state *s)
{
    free(s->tops);
    memset(s, 0, sizeof *s);
}

static bool state_reserve(gr_state *s, uint32_t n)
{
    if (n <= s->cap)
        return true;
    uint32_t nc = s->cap ? s->cap : 16;
    while (nc < n)
        nc *= 2;
    uint32_t *t = realloc(s->tops, (size_t)nc * sizeof *t);
    if (!t)
        return false;
    s->tops = t;
    s->cap = nc;
    return true;
}

bool gr_state_copy(gr_state *dst, const gr_state *src)
{
    if (!state_reserve(dst, src->n))
        return false;
    if (src->n)
        memcpy(dst->tops, src->tops, src->n * sizeof *src->tops);
    dst->n = src->n;
    dst->accept = src->accept;
    dst->need = src->need;
    dst->nbytes = src->nbytes;
    dst->cp = src->cp;
    dst->lo = src->lo;
    dst->hi = src->hi;
    return true;
}

/* ---- expansion ----------------------------------------------------------------------- */

static bool work_push(gr_matcher *m, uint32_t pos, uint32_t parent)
{
    if (m->n_work == m->cap_work) {
        uint32_t nc = m->cap_work ? m->cap_work * 2 : 64;
        uint64_t *nw = realloc(m->work, (size_t)nc * sizeof *nw);
        if (!nw)
            return false;
        m->work = nw;
        m->cap_work = nc;
    }
    m->work[m->n_work++] = (uint64_t)pos << 32 | parent;
    return true;
}

/* Adds to out every stack that (pos, parent) expands to. -1 on a limit. */
static int expand(gr_matcher *m, uint32_t pos, uint32_t parent, gr_state *out)
{
    const fr_grammar *g = m->g;
    uint32_t budget = GR_EXPAND_BUDGET;
    m->n_work = 0;
    if (!work_push(m, pos, parent))
        return m->error = "out of memory", -1;
    while (m->n_work) {
        uint64_t w = m->work[--m->n_work];
        pos = (uint32_t)(w >> 32);
        parent = (uint32_t)w;
        for (;;) {
            if (!budget--) {
                m->error = "the grammar is too ambiguous: one character expands to more than "
                           "50000 alternatives";
                return -1;
            }
            gr_elem e = g->elems[pos];
            if (e.kind == GR_END) {
                if (parent == GR_NIL) {
                    out->accept = true;
                    break;
                }
                pos = m->pos[parent];
                parent = m->parent[parent];
                continue;
            }
            if (e.kind == GR_CHAR) {
                uint32_t id = intern(m, pos, parent);
                if (id == GR_NIL)
                    return -1;
                if (m->seen[id] != m->stamp) {
                    m->seen[id] = m->stamp;
                    if (out->n >= GR_MAX_TOPS) {
                        m->error = "the grammar is too ambiguous: more than 4096 ways to read "
                                   "the text so far";
                        return -1;
                    }
                    if (!state_reserve(out, out->n + 1))
                        return m->error = "out of memory", -1;
                    out->tops[out->n++] = id;
                }
                break;
            }
            /* a rule reference: where to return, then each alternative */
            uint32_t ret = parent;
            if (g->elems[pos + 1].kind != GR_END && (ret = intern(m, pos + 1, parent)) == GR_NIL)
                return -1;
            uint32_t a0 = g->rule_alt[e.arg], a1 = g->rule_alt[e.arg + 1];
            for (uint32_t a = a1; a-- > a0 + 1;)
                if (!work_push(m, g->alts[a], ret))
                    return m->error = "out of memory", -1;
            pos = g->alts[a0];
            parent = ret;
        }
    }
    return 1;
}

static void begin(gr_matcher *m, gr_state *out)
{
    out->n = 0;
    out->accept = false;
    out->need = 0;
    out->nbytes = 0;
    out->cp = out->lo = out->hi = 0;
    if (++m->stamp == 0) { /* wrapped: clear the stamps */
        memset(m->seen, 0, (size_t)m->cap_nodes * sizeof *m->seen);
        m->stamp = 1;
    }
}

bool gr_start(gr_matcher *m, gr_state *out)
{
    const fr_grammar *g = m->g;
    begin(m, out);
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++)
        if (expand(m, g->alts[a], GR_NIL, out) < 0)
            return false;
    return true;
}

/* out = every stack of in whose top holds cp, moved past it. */
static int advance(gr_matcher *m, const gr_state *in, uint32_t cp, gr_state *out)
{
    const fr_grammar *g = m->g;
    begin(m, out);
    for (uint32_t i = 0; i < in->n; i++) {
        uint32_t id = in->tops[i];
        uint32_t pos = m->pos[id];
        if (!gr_class_has(g, &g->classes[g->elems[pos].arg], cp))
            continue;
        if (expand(m, pos + 1, m->parent[id], out) < 0)
            return -1;
    }
    return gr_alive(out) ? 1 : 0;
}

/* Can some stack's top class hold a code point in [lo, hi]? */
static bool meets(const gr_matcher *m, const gr_state *s, uint32_t lo, uint32_t hi)
{
    const fr_grammar *g = m->g;
    for (uint32_t i = 0; i < s->n; i++)
        if (gr_class_meets(g, &g->classes[g->elems[m->pos[s->tops[i]]].arg], lo, hi))
            return true;
    return false;
}

/* A character not finished yet (nbytes long, need bytes to come): out
 * keeps in's stacks and the new partial state, alive when some top can
 * still hold one of the code points it can become. */
static int partial(gr_matcher *m, const gr_state *in, uint32_t cp, uint8_t need, uint8_t nbytes,
                   gr_state *out)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t shift = 6u * need;
    uint32_t lo = cp << shift, hi = lo | ((1u << shift) - 1);
    if (lo < min_cp[nbytes])
        lo = min_cp[nbytes];
    if (hi > GR_MAX_CODEPOINT)
        hi = GR_MAX_CODEPOINT;
    if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF) || !meets(m, in, lo, hi))
        return 0;
    if (!gr_state_copy(out, in))
        return m->error = "out of memory", -1;
    out->accept = false;
    out->need = need;
    out->nbytes = nbytes;
    out->cp = cp;
    out->lo = lo;
    out->hi = hi;
    return 1;
}

int gr_feed(gr_matcher *m, const gr_state *in, uint8_t c, gr_state *out)
{
    if (!in->need) {
        if (c < 0x80)
            return advance(m, in, c, out);
        if (c >= 0xC2 && c <= 0xDF)
            return partial(m, in, c & 0x1Fu, 1, 2, out);
        if (c >= 0xE0 && c <= 0xEF)
            return partial(m, in, c & 0x0Fu, 2, 3, out);
        if (c >= 0xF0 && c <= 0xF4)
            return partial(m, in, c & 0x07u, 3, 4, out);
        return 0; /* a continuation byte or an invalid lead */
    }
    if ((c & 0xC0) != 0x80)
        return 0;
    uint32_t cp = in->cp << 6 | (c & 0x3Fu);
    uint8_t need = (uint8_t)(in->need - 1);
    if (need)
        return partial(m, in, cp, need, in->nbytes, out);
    /* complete: reject overlong forms, surrogates and values past U+10FFFF */
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[in->nbytes] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > GR_MAX_CODEPOINT)
        return 0;
    return advance(m, in, cp, out);
}

/* ---- compaction -------------------------------------------------------------------- */

bool gr_compact(gr_matcher *m, gr_state *s)
{
    /* copy the live chains out, reset the table, intern them again */
    uint32_t total = 0;
    for (uint32_t i = 0; i < s->n; i++)
        for (uint32_t id = s->tops[i]; id != GR_NIL; id = m->parent[id])
            total++;
    uint32_t *chain = malloc(((size_t)total + 1) * sizeof *chain);
    uint32_t *len = malloc(((size_t)s->n + 1) * sizeof *len);
    if (!chain || !len) {
        free(chain);
        free(len);
        return false;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t start = k;
        for (uint32_t id = s->tops[i]; id != GR_NIL; id = m->parent[id])
            chain[k++] = m->pos[id];
        len[i] = k - start;
    }
    m->n_nodes = 0;
    memset(m->slots, 0xff, ((size_t)m->mask + 1) * sizeof *m->slots);
    k = 0;
    bool ok = true;
    for (uint32_t i = 0; i < s->n && ok; i++) {
        uint32_t parent = GR_NIL;
        for (uint32_t j = len[i]; j-- > 0;) /* bottom first */
            if ((parent = intern(m, chain[k + j], parent)) == GR_NIL)
                ok = false;
        s->tops[i] = parent;
        k += len[i];
    }
    free(chain);
    free(len);
    return ok;
}

/* ---- the whole-string check -------------------------------------------------------------- */

int fr_grammar_match(const fr_grammar *g, const char *text, size_t len)
{
    gr_matcher *m = gr_matcher_create(g);
    gr_state a = {0}, b = {0};
    int r = -1;
    if (!m || !gr_start(m, &a))
        goto done;
    for (size_t i = 0; i < len; i++) {
        if (gr_feed(m, &a, (uint8_t)text[i], &b) <= 0)
            goto done;
        gr_state t = a;
        a = b;
        b = t;
    }
    r = gr_complete(&a) ? 1 : 0;
done:
    gr_state_free(&a);
    gr_state_free(&b);
    gr_matcher_free(m);
    return r;
}
