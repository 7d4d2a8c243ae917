/*
 * grammar_impl.h - the compiled form of a GBNF grammar, shared by the
 * parser (grammar.c), the matcher (grammar_match.c) and the token-level
 * constraint (grammar_cons.c). Internal to src/model.
 *
 * A grammar is a set of rules; a rule is a list of alternatives; an
 * alternative is a sequence of elements stored contiguously in `elems` and
 * ended by a GR_END element. An element is a character class (GR_CHAR:
 * one code point out of a set of ranges) or a reference to a rule (GR_REF).
 * Repetitions, groups and literals were rewritten into these by the parser,
 * so the matcher only knows three kinds of element.
 *
 * Matching state (grammar_match.c): a set of stacks of element positions.
 * The top of a stack is always a GR_CHAR element (the next character that
 * stack expects); the positions below are where to continue when the rule
 * above ends. A stack that runs empty means the whole input is a sentence
 * of the grammar.
 */
#ifndef FR_MODEL_GRAMMAR_IMPL_H
#define FR_MODEL_GRAMMAR_IMPL_H

#include <frugal/grammar.h>

#include <stdint.h>

#define GR_MAX_CODEPOINT 0x10FFFFu

enum { GR_END = 0, GR_CHAR = 1, GR_REF = 2 };

typedef struct gr_elem {
    uint32_t kind : 2;
    uint32_t arg : 30; /* GR_CHAR: class index; GR_REF: rule index */
} gr_elem;

typedef struct gr_class {
    uint32_t off, n;   /* ranges[2*off .. 2*(off+n)): lo, hi pairs, sorted, disjoint */
    uint64_t ascii[2]; /* which code points below 128 match */
} gr_class;            /* (negated classes are stored as their complement) */

struct fr_grammar {
    gr_elem *elems;      /* (n_elems) every alternative, each ended by GR_END */
    uint32_t n_elems;
    uint32_t *alts;      /* (n_alts) first element of each alternative, by rule */
    uint32_t *rule_alt;  /* (n_rules + 1) rule r's alternatives: alts[rule_alt[r] .. rule_alt[r+1]) */
    uint32_t n_rules, n_alts, root;
    gr_class *classes;   /* (n_classes) */
    uint32_t n_classes;
    uint32_t *ranges;    /* (2 * n_ranges) */
    uint32_t n_ranges;
    char **names;        /* (n_rules) rule names, for messages */
};

/* Does class c contain code point cp? */
static inline int gr_class_has(const fr_grammar *g, const gr_class *c, uint32_t cp)
{
    if (cp < 128)
        return (int)(c->ascii[cp >> 6] >> (cp & 63) & 1);
    const uint32_t *r = g->ranges + 2 * (size_t)c->off;
    uint32_t lo = 0, hi = c->n; /* binary search over sorted ranges */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cp < r[2 * mid])
            hi = mid;
        else if (cp > r[2 * mid + 1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* Does class c contain some code point in [lo, hi]? (a character whose
 * first bytes are known) */
static inline int gr_class_meets(const fr_grammar *g, const gr_class *c, uint32_t lo, uint32_t hi)
{
    const uint32_t *r = g->ranges + 2 * (size_t)c->off;
    for (uint32_t i = 0; i < c->n; i++)
        if (r[2 * i] <= hi && r[2 * i + 1] >= lo)
            return 1;
    return 0;
}

#endif
