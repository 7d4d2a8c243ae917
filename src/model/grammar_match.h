/*
 * grammar_match.h - running a compiled grammar over bytes (grammar_match.c):
 * the matching state and the operations the whole-string check
 * (fr_grammar_match) and the token constraint (grammar_cons.c) share.
 * Internal to src/model.
 *
 * Stacks are persistent linked lists of element positions whose nodes are
 * interned (hash-consed) in the matcher: node = (position, parent node), so
 * equal stacks are one node id, a state is a set of node ids (the stacks'
 * tops), and states compare and hash cheaply. Nodes are never changed, so
 * expanding a rule never copies a stack. The node table only grows; the
 * constraint compacts it between tokens (gr_compact) when it gets large.
 */
#ifndef FR_MODEL_GRAMMAR_MATCH_H
#define FR_MODEL_GRAMMAR_MATCH_H

#include "model/grammar_impl.h"

#include <frugal/base.h>

#define GR_NIL UINT32_MAX
#define GR_MAX_TOPS 4096         /* stacks alive at once */
#define GR_MAX_NODES (1u << 24)  /* interned stack nodes */
#define GR_EXPAND_BUDGET 50000   /* expansion steps for one character */

typedef struct gr_matcher gr_matcher;

typedef struct gr_state {
    uint32_t *tops;  /* (n) node ids of the stacks' tops, each a GR_CHAR position */
    uint32_t n, cap;
    bool accept;     /* some stack ran empty: the text so far is a whole sentence */
    uint8_t need;    /* continuation bytes still missing from the current character */
    uint8_t nbytes;  /* its length in bytes */
    uint32_t cp;     /* its bits so far */
    uint32_t lo, hi; /* the code points it can still become */
} gr_state;

gr_matcher *gr_matcher_create(const fr_grammar *g);
void gr_matcher_free(gr_matcher *m);
/* Non-NULL after a feed returned -1: why (a limit). */
const char *gr_matcher_error(const gr_matcher *m);

void gr_state_free(gr_state *s);
bool gr_state_copy(gr_state *dst, const gr_state *src);

/* The state before any input. false when out of memory or over a limit. */
bool gr_start(gr_matcher *m, gr_state *out);
/* out = in after one more byte: 1 alive, 0 the byte cannot come next, -1 a
 * limit was hit or memory ran out (gr_matcher_error says which). out must
 * not be in. */
int gr_feed(gr_matcher *m, const gr_state *in, uint8_t byte, gr_state *out);

static inline bool gr_alive(const gr_state *s) { return s->n > 0 || (s->accept && !s->need); }
static inline bool gr_complete(const gr_state *s) { return s->accept && !s->need; }

/* Interned nodes so far. */
uint32_t gr_nodes(const gr_matcher *m);
/* Rebuilds the node table holding only the stacks of *s (whose tops are
 * renumbered in place). Node ids of any other state become meaningless. */
bool gr_compact(gr_matcher *m, gr_state *s);

#endif
