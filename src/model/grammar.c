/*
 * grammar.c - GBNF text -> the compiled grammar of grammar_impl.h.
 *
 * A recursive-descent parser over hostile text: every loop advances, every
 * count is capped (text size, nesting of parentheses, repetition bounds,
 * elements after expansion), every error names origin:line:column and what
 * was expected. Written from the format's description (llama.cpp's
 * grammars/README.md), not from its code.
 *
 * Rewrites, so the matcher only sees characters and rule references:
 *   "abc"        three one-character classes in sequence
 *   ( ... )      a new rule (named after the rule it appears in: root_3)
 *   X{m,n}       X m times, then n-m nested optionals:  o1 ::= X o2 | ""
 *                (nested, not X? X? X?, so a state never holds n-m stacks
 *                that all expect X)
 *   X{m,}        X m times, then s ::= X s | ""
 * where a multi-element X (a literal) is first wrapped in a rule of its own.
 *
 * After parsing: every referenced rule must be defined, `root` must exist,
 * and no rule may reach itself before reading a character (left recursion
 * would make the matcher expand forever); the check computes which rules
 * can match the empty string, then walks the "can start with" edges.
 *
 * Character classes are stored normalised (sorted, merged, negation
 * applied) and de-duplicated, so a grammar with thousands of literal
 * characters holds one class per distinct character.
 */
#include "model/grammar_impl.h"

#include "text/strmap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PB_MAX_DEPTH 256   /* nested parentheses */
#define PB_MAX_RULES (1u << 20)

typedef struct pb_seq {
    gr_elem *e;
    uint32_t n, cap;
} pb_seq;

typedef struct pb_rule {
    pb_seq *alts;
    uint32_t n_alts, cap;
    bool defined;
    uint32_t name_ent;          /* its entry in pb.names */
    size_t ref_off;             /* where it was first referenced (for "not defined") */
} pb_rule;

typedef struct pb {
    const char *src, *end, *p;
    const char *origin;
    fr_err *err;
    bool failed;
    fr_status status;
    int depth;
    pb_rule *rules;
    uint32_t n_rules, cap_rules;
    fr_strmap names;      /* rule name -> index */
    fr_strmap class_keys; /* normalised ranges (bytes) -> class index */
    uint32_t *ranges;     /* lo, hi pairs */
    uint32_t n_ranges, cap_ranges;
    gr_class *classes;
    uint32_t n_classes, cap_classes;
    uint64_t n_elems;     /* elements so far, for the cap */
    uint32_t *tmp;        /* scratch for building a class */
    uint32_t n_tmp, cap_tmp;
} pb;

/* ---- errors ----------------------------------------------------------------- */

static void where(const pb *b, const char *at, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (const char *q = b->src; q < at && q < b->end; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static bool fail_at(pb *b, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail_at(pb *b, const char *at, const char *fmt, ...)
{
    if (b->failed)
        return false;
    b->failed = true;
    b->status = FR_E_FORMAT;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned line, col;
    where(b, at, &line, &col);
    fr_err_set(b->err, FR_E_FORMAT, "%s:%u:%u: %s", b->origin, line, col, msg);
    return false;
}

static bool nomem(pb *b)
{
    if (!b->failed) {
        b->failed = true;
        b->status = FR_E_NOMEM;
        fr_err_set(b->err, FR_E_NOMEM, "%s: out of memory parsing the grammar", b->origin);
    }
    return false;
}

/* What is at `at`, for messages: a quoted character or "end of input". */
static void what_at(const pb *b, const char *at, char *buf, size_t n)
{
    if (at >= b->end)
        snprintf(buf, n, "the end of the grammar");
    else if (*at == '\n')
        snprintf(buf, n, "a newline");
    else if ((unsigned char)*at < 0x20 || (unsigned char)*at >= 0x7f)
        snprintf(buf, n, "byte 0x%02x", (unsigned char)*at);
    else
        snprintf(buf, n, "'%c'", *at);
}

/* ---- growth helpers ------------------------------------------------------------ */

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint32_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > UINT32_MAX / 2)
            return false;
        nc *= 2;
    }
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return false;
    *p = np;
    *cap = nc;
    return true;
}

static bool seq_push(pb *b, pb_seq *s, gr_elem e)
{
    if (++b->n_elems > FR_GRAMMAR_MAX_ELEMS)
        return fail_at(b, b->p, "the grammar expands to more than %u elements (repetitions are "
                       "expanded: lower their bounds)", FR_GRAMMAR_MAX_ELEMS);
    if (!grow((void **)&s->e, &s->cap, s->n + 1, sizeof *s->e))
        return nomem(b);
    s->e[s->n++] = e;
    return true;
}

static bool seq_append(pb *b, pb_seq *dst, const pb_seq *src)
{
    for (uint32_t i = 0; i < src->n; i++)
        if (!seq_push(b, dst, src->e[i]))
            return false;
    return true;
}

/* ---- rules --------------------------------------------------------------------------- */

static int64_t new_rule(pb *b)
{
    if (b->n_rules >= PB_MAX_RULES) {
        fail_at(b, b->p, "more than %u rules", PB_MAX_RULES);
        return -1;
    }
    if (!grow((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules)) {
        nomem(b);
        return -1;
    }
    memset(&b->rules[b->n_rules], 0, sizeof *b->rules);
    return b->n_rules++;
}

/* The index of rule `name`, created (undefined) on first use. */
static int64_t rule_named(pb *b, const char *name, size_t len, const char *at)
{
    int32_t id = fr_strmap_get(&b->names, name, len);
    if (id >= 0)
        return id;
    int64_t r = new_rule(b);
    if (r < 0)
        return -1;
    int32_t old;
    if (fr_strmap_put(&b->names, name, len, (int32_t)r, &old) < 0) {
        nomem(b);
        return -1;
    }
    b->rules[r].name_ent = b->names.n - 1;
    b->rules[r].ref_off = (size_t)(at - b->src);
    return r;
}

/* A synthetic rule "<parent>_<n>" (names only matter for messages). */
static int64_t synthetic_rule(pb *b, uint32_t parent)
{
    char name[96];
    uint32_t plen;
    const char *pn = fr_strmap_key(&b->names, b->rules[parent].name_ent, &plen);
    int64_t r = new_rule(b);
    if (r < 0)
        return -1;
    int w = snprintf(name, sizeof name, "%.*s_%u", (int)(plen > 64 ? 64 : plen), pn, (unsigned)r);
    int32_t old;
    if (w < 0 || fr_strmap_put(&b->names, name, (size_t)w, (int32_t)r, &old) < 0) {
        nomem(b);
        return -1;
    }
    b->rules[r].name_ent = b->names.n - 1;
    b->rules[r].defined = true;
    return r;
}

static pb_seq *rule_add_alt(pb *b, uint32_t r);

/* An alternative that matches the empty string. */
static bool add_empty_alt(pb *b, uint32_t r)
{
    pb_seq *s = rule_add_alt(b, r);
    return s && seq_push(b, s, (gr_elem){GR_END, 0});
}

static pb_seq *rule_add_alt(pb *b, uint32_t r)
{
    pb_rule *ru = &b->rules[r];
    if (!grow((void **)&ru->alts, &ru->cap, ru->n_alts + 1, sizeof *ru->alts)) {
        nomem(b);
        return NULL;
    }
    pb_seq *s = &ru->alts[ru->n_alts++];
    memset(s, 0, sizeof *s);
    return s;
}

/* ---- classes --------------------------------------------------------------------- */

static int cmp_u32pair(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Normalises the ranges in b->tmp (pairs), negates when asked, and returns
 * the class index (an existing one when the same set was seen before). */
static int64_t make_class(pb *b, bool negate)
{
    uint32_t n = b->n_tmp / 2;
    if (!grow((void **)&b->tmp, &b->cap_tmp, 2, sizeof *b->tmp))
        return nomem(b), -1; /* an empty class ("[]") still needs a key buffer */
    if (n > 1)
        qsort(b->tmp, n, 2 * sizeof *b->tmp, cmp_u32pair);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t lo = b->tmp[2 * i], hi = b->tmp[2 * i + 1];
        if (k && lo <= b->tmp[2 * (k - 1) + 1] + 1) {
            if (hi > b->tmp[2 * (k - 1) + 1])
                b->tmp[2 * (k - 1) + 1] = hi;
        } else {
            b->tmp[2 * k] = lo;
            b->tmp[2 * k + 1] = hi;
            k++;
        }
    }
    if (negate) {
        /* complement over [0, GR_MAX_CODEPOINT]: at most k + 1 ranges */
        if (!grow((void **)&b->tmp, &b->cap_tmp, 2 * k + 2, sizeof *b->tmp))
            return nomem(b), -1;
        uint32_t *neg = malloc((2 * (size_t)k + 2) * sizeof *neg);
        if (!neg)
            return nomem(b), -1;
        uint32_t m = 0, next = 0;
        for (uint32_t i = 0; i < k; i++) {
            if (b->tmp[2 * i] > next) {
                neg[2 * m] = next;
                neg[2 * m + 1] = b->tmp[2 * i] - 1;
                m++;
            }
            next = b->tmp[2 * i + 1] + 1;
        }
        if (next <= GR_MAX_CODEPOINT) {
            neg[2 * m] = next;
            neg[2 * m + 1] = GR_MAX_CODEPOINT;
            m++;
        }
        memcpy(b->tmp, neg, 2 * (size_t)m * sizeof *neg);
        free(neg);
        k = m;
    }
    b->n_tmp = 2 * k;
    int32_t id = fr_strmap_get(&b->class_keys, (const char *)b->tmp, (size_t)k * 8);
    if (id >= 0)
        return id;
    if (!grow((void **)&b->classes, &b->cap_classes, b->n_classes + 1, sizeof *b->classes) ||
        !grow((void **)&b->ranges, &b->cap_ranges, 2 * (b->n_ranges + k) + 2, sizeof *b->ranges))
        return nomem(b), -1;
    gr_class *c = &b->classes[b->n_classes];
    memset(c, 0, sizeof *c);
    c->off = b->n_ranges;
    c->n = k;
    memcpy(b->ranges + 2 * (size_t)b->n_ranges, b->tmp, 2 * (size_t)k * sizeof *b->tmp);
    b->n_ranges += k;
    for (uint32_t i = 0; i < k; i++)
        for (uint32_t cp = b->tmp[2 * i]; cp <= b->tmp[2 * i + 1] && cp < 128; cp++)
            c->ascii[cp >> 6] |= (uint64_t)1 << (cp & 63);
    int32_t old;
    if (fr_strmap_put(&b->class_keys, (const char *)b->tmp, (size_t)k * 8, (int32_t)b->n_classes,
                      &old) < 0)
        return nomem(b), -1;
    return b->n_classes++;
}

static bool tmp_range(pb *b, uint32_t lo, uint32_t hi)
{
    if (!grow((void **)&b->tmp, &b->cap_tmp, b->n_tmp + 2, sizeof *b->tmp))
        return nomem(b);
    b->tmp[b->n_tmp++] = lo;
    b->tmp[b->n_tmp++] = hi;
    return true;
}

static bool push_char(pb *b, pb_seq *s, uint32_t cp)
{
    b->n_tmp = 0;
    if (!tmp_range(b, cp, cp))
        return false;
    int64_t c = make_class(b, false);
    return c >= 0 && seq_push(b, s, (gr_elem){GR_CHAR, (uint32_t)c});
}

/* ---- lexical ------------------------------------------------------------------------- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Skips spaces, tabs, comments, and (when nl) newlines. */
static void skip_space(pb *b, bool nl)
{
    while (b->p < b->end) {
        char c = *b->p;
        if (c == ' ' || c == '\t' || c == '\r') {
            b->p++;
        } else if (c == '#') {
            while (b->p < b->end && *b->p != '\n')
                b->p++;
        } else if (c == '\n' && nl) {
            b->p++;
        } else {
            break;
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One UTF-8 character of grammar text at b->p; false (with an error) when
 * the bytes are not valid UTF-8. */
static bool utf8_char(pb *b, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)b->p;
    size_t avail = (size_t)(b->end - b->p);
    unsigned char c = s[0];
    uint32_t v;
    size_t n;
    if (c < 0x80) {
        *cp = c;
        b->p++;
        return true;
    } else if (c >= 0xC2 && c <= 0xDF) {
        v = c & 0x1F;
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        v = c & 0x0F;
        n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        v = c & 0x07;
        n = 4;
    } else {
        return fail_at(b, b->p, "invalid UTF-8 (byte 0x%02x)", c);
    }
    if (avail < n)
        return fail_at(b, b->p, "invalid UTF-8 (truncated character)");
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return fail_at(b, b->p, "invalid UTF-8 (byte 0x%02x)", s[i]);
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > GR_MAX_CODEPOINT || (v >= 0xD800 && v <= 0xDFFF))
        return fail_at(b, b->p, "invalid UTF-8 (overlong or out-of-range character)");
    *cp = v;
    b->p += n;
    return true;
}

/* One character of a literal or class, escapes decoded. */
static bool parse_char(pb *b, uint32_t *cp)
{
    if (b->p >= b->end)
        return fail_at(b, b->p, "unexpected end of the grammar inside a literal or class");
    if (*b->p != '\\')
        return utf8_char(b, cp);
    const char *at = b->p;
    if (b->end - b->p < 2)
        return fail_at(b, at, "unfinished escape at the end of the grammar");
    char e = b->p[1];
    b->p += 2;
    int digits = 0;
    switch (e) {
    case 'n': *cp = '\n'; return true;
    case 'r': *cp = '\r'; return true;
    case 't': *cp = '\t'; return true;
    case '\\': case '"': case '\'': case '[': case ']': case '-': case '/':
        *cp = (uint32_t)(unsigned char)e;
        return true;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default:
        return fail_at(b, at, "unknown escape '\\%c' (known: \\n \\r \\t \\\\ \\\" \\' \\[ \\] "
                       "\\- \\/ \\xHH \\uHHHH \\UHHHHHHHH)", e >= 0x20 && e < 0x7f ? e : '?');
    }
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        int h = b->p < b->end ? hexval(*b->p) : -1;
        if (h < 0)
            return fail_at(b, at, "'\\%c' needs %d hexadecimal digits", e, digits);
        v = v * 16 + (uint32_t)h;
        b->p++;
    }
    if (v > GR_MAX_CODEPOINT || (v >= 0xD800 && v <= 0xDFFF))
        return fail_at(b, at, "escape '\\%c' names U+%X, which is not a character", e, v);
    *cp = v;
    return true;
}

static bool parse_uint(pb *b, uint32_t *out)
{
    const char *at = b->p;
    uint64_t v = 0;
    if (b->p >= b->end || *b->p < '0' || *b->p > '9')
        return fail_at(b, at, "expected a number in the repetition bounds");
    while (b->p < b->end && *b->p >= '0' && *b->p <= '9') {
        v = v * 10 + (uint64_t)(*b->p - '0');
        if (v > FR_GRAMMAR_MAX_REPEAT)
            return fail_at(b, at, "repetition bound above %d", FR_GRAMMAR_MAX_REPEAT);
        b->p++;
    }
    *out = (uint32_t)v;
    return true;
}

/* ---- items, sequences, alternatives ---------------------------------------------- */

static bool parse_alternates(pb *b, uint32_t rule, bool nested);

/* Applies {min,max} (max UINT32_MAX: unbounded) to the item in it[0..),
 * appending the result to s. */
static bool repeat(pb *b, uint32_t rule, pb_seq *s, const pb_seq *item, uint32_t min,
                   uint32_t max)
{
    gr_elem x;
    if (item->n == 1) {
        x = item->e[0];
    } else {
        /* wrap a multi-element item (a literal) in a rule of its own */
        int64_t w = synthetic_rule(b, rule);
        pb_seq *a = w < 0 ? NULL : rule_add_alt(b, (uint32_t)w);
        if (!a || !seq_append(b, a, item) || !seq_push(b, a, (gr_elem){GR_END, 0}))
            return false;
        x = (gr_elem){GR_REF, (uint32_t)w};
    }
    for (uint32_t i = 0; i < min; i++)
        if (!seq_push(b, s, x))
            return false;
    if (max == UINT32_MAX) {
        /* s ::= x s | "" */
        int64_t st = synthetic_rule(b, rule);
        pb_seq *a = st < 0 ? NULL : rule_add_alt(b, (uint32_t)st);
        if (!a || !seq_push(b, a, x) || !seq_push(b, a, (gr_elem){GR_REF, (uint32_t)st}) ||
            !seq_push(b, a, (gr_elem){GR_END, 0}) || !add_empty_alt(b, (uint32_t)st))
            return false;
        return seq_push(b, s, (gr_elem){GR_REF, (uint32_t)st});
    }
    /* o_k ::= x o_{k-1} | "", built from the innermost out */
    int64_t inner = -1;
    for (uint32_t k = min; k < max; k++) {
        int64_t o = synthetic_rule(b, rule);
        pb_seq *a = o < 0 ? NULL : rule_add_alt(b, (uint32_t)o);
        if (!a || !seq_push(b, a, x))
            return false;
        if (inner >= 0 && !seq_push(b, a, (gr_elem){GR_REF, (uint32_t)inner}))
            return false;
        if (!seq_push(b, a, (gr_elem){GR_END, 0}) || !add_empty_alt(b, (uint32_t)o))
            return false;
        inner = o;
    }
    if (inner >= 0)
        return seq_push(b, s, (gr_elem){GR_REF, (uint32_t)inner});
    return true;
}

/* One item and its repetition suffix, appended to s. */
static bool parse_item(pb *b, uint32_t rule, pb_seq *s)
{
    pb_seq item = {0};
    const char *at = b->p;
    char c = *b->p;
    bool ok = true;
    if (c == '"') {
        b->p++;
        while (ok && b->p < b->end && *b->p != '"') {
            if (*b->p == '\n') {
                ok = fail_at(b, b->p, "newline inside a literal (write \\n)");
                break;
            }
            uint32_t cp;
            ok = parse_char(b, &cp) && push_char(b, &item, cp);
        }
        if (ok && b->p >= b->end)
            ok = fail_at(b, at, "literal not closed with '\"'");
        if (ok)
            b->p++;
    } else if (c == '[') {
        b->p++;
        bool neg = b->p < b->end && *b->p == '^';
        if (neg)
            b->p++;
        b->n_tmp = 0;
        while (ok && b->p < b->end && *b->p != ']') {
            uint32_t lo, hi;
            ok = parse_char(b, &lo);
            hi = lo;
            if (ok && b->end - b->p >= 2 && b->p[0] == '-' && b->p[1] != ']') {
                b->p++;
                const char *rat = b->p;
                ok = parse_char(b, &hi);
                if (ok && hi < lo)
                    ok = fail_at(b, rat, "class range ends (U+%04X) before it starts (U+%04X)",
                                 hi, lo);
            }
            if (ok)
                ok = tmp_range(b, lo, hi);
        }
        if (ok && b->p >= b->end)
            ok = fail_at(b, at, "character class not closed with ']'");
        if (ok) {
            b->p++;
            int64_t cl = make_class(b, neg);
            ok = cl >= 0 && seq_push(b, &item, (gr_elem){GR_CHAR, (uint32_t)cl});
        }
    } else if (c == '.') {
        b->p++;
        b->n_tmp = 0;
        int64_t cl = tmp_range(b, 0, GR_MAX_CODEPOINT) ? make_class(b, false) : -1;
        ok = cl >= 0 && seq_push(b, &item, (gr_elem){GR_CHAR, (uint32_t)cl});
    } else if (c == '(') {
        b->p++;
        if (++b->depth > PB_MAX_DEPTH) {
            ok = fail_at(b, at, "parentheses nested deeper than %d", PB_MAX_DEPTH);
        } else {
            int64_t g = synthetic_rule(b, rule);
            ok = g >= 0 && parse_alternates(b, (uint32_t)g, true);
            if (ok) {
                skip_space(b, true);
                if (b->p >= b->end || *b->p != ')') {
                    char w[32];
                    unsigned gl, gc;
                    what_at(b, b->p, w, sizeof w);
                    where(b, at, &gl, &gc);
                    ok = fail_at(b, b->p, "expected ')' to close the group opened at %u:%u, "
                                 "found %s", gl, gc, w);
                } else {
                    b->p++;
                    ok = seq_push(b, &item, (gr_elem){GR_REF, (uint32_t)g});
                }
            }
            b->depth--;
        }
    } else if (is_name_char(c)) {
        const char *n0 = b->p;
        while (b->p < b->end && is_name_char(*b->p))
            b->p++;
        int64_t r = rule_named(b, n0, (size_t)(b->p - n0), n0);
        ok = r >= 0 && seq_push(b, &item, (gr_elem){GR_REF, (uint32_t)r});
    } else {
        char w[32];
        what_at(b, b->p, w, sizeof w);
        ok = fail_at(b, b->p, "expected a literal, a class, '.', a rule name or '(', found %s", w);
    }
    if (!ok) {
        free(item.e);
        return false;
    }
    /* repetition (spaces may come before the operator) */
    skip_space(b, b->depth > 0);
    uint32_t min = 1, max = 1;
    if (b->p < b->end) {
        c = *b->p;
        if (c == '*' || c == '+' || c == '?') {
            b->p++;
            min = c == '+' ? 1 : 0;
            max = c == '?' ? 1 : UINT32_MAX;
        } else if (c == '{') {
            const char *rat = b->p++;
            skip_space(b, false);
            ok = parse_uint(b, &min);
            skip_space(b, false);
            max = min;
            if (ok && b->p < b->end && *b->p == ',') {
                b->p++;
                skip_space(b, false);
                max = UINT32_MAX;
                if (b->p < b->end && *b->p >= '0' && *b->p <= '9')
                    ok = parse_uint(b, &max);
                skip_space(b, false);
            }
            if (ok && (b->p >= b->end || *b->p != '}'))
                ok = fail_at(b, b->p, "expected '}' to close the repetition");
            if (ok)
                b->p++;
            if (ok && max < min)
                ok = fail_at(b, rat, "repetition {%u,%u}: the maximum is below the minimum", min,
                             max);
        }
    }
    if (ok) {
        if (min == 1 && max == 1)
            ok = seq_append(b, s, &item);
        else if (item.n == 0)
            ok = true; /* "" repeated is still "" */
        else
            ok = repeat(b, rule, s, &item, min, max);
    }
    free(item.e);
    return ok;
}

/* A sequence up to '|', ')', a newline (outside groups) or the end. */
static bool parse_sequence(pb *b, uint32_t rule, pb_seq *s, bool nested)
{
    for (;;) {
        skip_space(b, nested);
        if (b->p >= b->end || *b->p == '|' || *b->p == ')' || *b->p == '\n')
            break;
        if (!parse_item(b, rule, s))
            return false;
    }
    return seq_push(b, s, (gr_elem){GR_END, 0});
}

static bool parse_alternates(pb *b, uint32_t rule, bool nested)
{
    for (;;) {
        pb_seq *s = rule_add_alt(b, rule);
        if (!s || !parse_sequence(b, rule, s, nested))
            return false;
        if (b->p < b->end && *b->p == '|') {
            b->p++;
            skip_space(b, true); /* a newline after | continues the rule */
            continue;
        }
        return true;
    }
}

static bool parse_rule(pb *b)
{
    const char *at = b->p;
    while (b->p < b->end && is_name_char(*b->p))
        b->p++;
    if (b->p == at) {
        char w[32];
        what_at(b, at, w, sizeof w);
        return fail_at(b, at, "expected a rule name, found %s", w);
    }
    size_t nlen = (size_t)(b->p - at);
    int64_t r = rule_named(b, at, nlen, at);
    if (r < 0)
        return false;
    if (b->rules[r].defined)
        return fail_at(b, at, "rule '%.*s' is defined twice", (int)(nlen > 64 ? 64 : nlen), at);
    b->rules[r].defined = true;
    skip_space(b, false);
    if (b->end - b->p < 3 || memcmp(b->p, "::=", 3) != 0) {
        char w[32];
        what_at(b, b->p, w, sizeof w);
        return fail_at(b, b->p, "expected '::=' after rule name '%.*s', found %s",
                       (int)(nlen > 64 ? 64 : nlen), at, w);
    }
    b->p += 3;
    skip_space(b, false);
    if (!parse_alternates(b, (uint32_t)r, false))
        return false;
    if (b->p < b->end && *b->p == ')')
        return fail_at(b, b->p, "')' without a matching '('");
    if (b->p < b->end && *b->p == '\n')
        b->p++;
    return true;
}

/* ---- checks and flattening -------------------------------------------------------- */

static void free_rules(pb *b)
{
    for (uint32_t r = 0; r < b->n_rules; r++) {
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++)
            free(b->rules[r].alts[a].e);
        free(b->rules[r].alts);
    }
    free(b->rules);
    b->rules = NULL;
}

static const char *rule_name(const pb *b, uint32_t r, uint32_t *len)
{
    return fr_strmap_key(&b->names, b->rules[r].name_ent, len);
}

/* Left recursion: nullable rules first (fixed point), then a depth-first
 * walk over "r can start with q" edges looking for a cycle. */
static bool check_left_recursion(pb *b)
{
    uint32_t n = b->n_rules;
    bool *nullable = calloc(n ? n : 1, sizeof *nullable);
    uint8_t *mark = calloc(n ? n : 1, 1);
    uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
    uint32_t *edge = malloc((n ? n : 1) * sizeof *edge); /* per stacked rule: next alt*2^16+elem */
    uint32_t *ealt = malloc((n ? n : 1) * sizeof *ealt);
    bool ok = true;
    if (!nullable || !mark || !stack || !edge || !ealt) {
        ok = nomem(b);
        goto done;
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t r = 0; r < n; r++) {
            if (nullable[r])
                continue;
            for (uint32_t a = 0; a < b->rules[r].n_alts && !nullable[r]; a++) {
                const pb_seq *s = &b->rules[r].alts[a];
                bool all = true;
                for (uint32_t i = 0; i < s->n && s->e[i].kind != GR_END; i++)
                    if (s->e[i].kind == GR_CHAR || !nullable[s->e[i].arg]) {
                        all = false;
                        break;
                    }
                if (all)
                    nullable[r] = changed = true;
            }
        }
    }
    /* iterative DFS; mark 1 = on the stack, 2 = done */
    for (uint32_t start = 0; start < n && ok; start++) {
        if (mark[start])
            continue;
        uint32_t sp = 0;
        stack[sp] = start;
        ealt[sp] = 0;
        edge[sp] = 0;
        mark[start] = 1;
        sp++;
        while (sp && ok) {
            uint32_t r = stack[sp - 1];
            const pb_rule *ru = &b->rules[r];
            int64_t next = -1;
            while (ealt[sp - 1] < ru->n_alts && next < 0) {
                const pb_seq *s = &ru->alts[ealt[sp - 1]];
                uint32_t i = edge[sp - 1];
                /* the i-th element is reachable at the start when all before it are nullable */
                bool reach = true;
                for (uint32_t k = 0; k < i; k++)
                    if (s->e[k].kind != GR_REF || !nullable[s->e[k].arg])
                        reach = false;
                if (!reach || i >= s->n || s->e[i].kind != GR_REF) {
                    ealt[sp - 1]++;
                    edge[sp - 1] = 0;
                    continue;
                }
                edge[sp - 1]++;
                next = s->e[i].arg;
            }
            if (next < 0) {
                mark[r] = 2;
                sp--;
                continue;
            }
            if (mark[next] == 1) {
                uint32_t l1, l2;
                const char *n1 = rule_name(b, (uint32_t)next, &l1), *n2 = rule_name(b, r, &l2);
                ok = fail_at(b, b->src, "rule '%.*s' is left-recursive: it can reach itself (via "
                             "'%.*s') before reading a character, which would never end; "
                             "rewrite it as a repetition (or the repeated part may be empty)",
                             (int)(l1 > 64 ? 64 : l1), n1, (int)(l2 > 64 ? 64 : l2), n2);
            } else if (!mark[next]) {
                mark[next] = 1;
                stack[sp] = (uint32_t)next;
                ealt[sp] = 0;
                edge[sp] = 0;
                sp++;
            }
        }
    }
done:
    free(nullable);
    free(mark);
    free(stack);
    free(edge);
    free(ealt);
    return ok;
}

static fr_status finish(pb *b, fr_grammar **out)
{
    int32_t root = fr_strmap_get(&b->names, "root", 4);
    if (root < 0 || !b->rules[root].defined) {
        fail_at(b, b->src, "the grammar has no 'root' rule (it says where the output starts)");
        return b->status;
    }
    for (uint32_t r = 0; r < b->n_rules; r++)
        if (!b->rules[r].defined) {
            uint32_t len;
            const char *nm = rule_name(b, r, &len);
            fail_at(b, b->src + b->rules[r].ref_off, "rule '%.*s' is used but not defined",
                    (int)(len > 64 ? 64 : len), nm);
            return FR_E_FORMAT;
        }
    if (!check_left_recursion(b))
        return b->status;
    fr_grammar *g = calloc(1, sizeof *g);
    if (!g)
        return nomem(b), FR_E_NOMEM;
    uint64_t ne = 0, na = 0;
    for (uint32_t r = 0; r < b->n_rules; r++) {
        na += b->rules[r].n_alts;
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++)
            ne += b->rules[r].alts[a].n;
    }
    g->elems = malloc((size_t)(ne ? ne : 1) * sizeof *g->elems);
    g->alts = malloc((size_t)(na ? na : 1) * sizeof *g->alts);
    g->rule_alt = malloc(((size_t)b->n_rules + 1) * sizeof *g->rule_alt);
    g->names = calloc(b->n_rules ? b->n_rules : 1, sizeof *g->names);
    if (!g->elems || !g->alts || !g->rule_alt || !g->names) {
        fr_grammar_free(g);
        return nomem(b), FR_E_NOMEM;
    }
    g->n_rules = b->n_rules;
    g->root = (uint32_t)root;
    uint32_t ei = 0, ai = 0;
    for (uint32_t r = 0; r < b->n_rules; r++) {
        g->rule_alt[r] = ai;
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++) {
            g->alts[ai++] = ei;
            memcpy(g->elems + ei, b->rules[r].alts[a].e, b->rules[r].alts[a].n * sizeof *g->elems);
            ei += b->rules[r].alts[a].n;
        }
    }
    g->rule_alt[b->n_rules] = ai;
    g->n_elems = ei;
    g->n_alts = ai;
    for (uint32_t i = 0; i < b->names.n; i++) {
        uint32_t len;
        const char *k = fr_strmap_key(&b->names, i, &len);
        int32_t r = b->names.ent[i].val;
        g->names[r] = malloc(len + 1);
        if (!g->names[r]) {
            fr_grammar_free(g);
            return nomem(b), FR_E_NOMEM;
        }
        memcpy(g->names[r], k, len);
        g->names[r][len] = '\0';
    }
    g->classes = b->classes;
    g->n_classes = b->n_classes;
    g->ranges = b->ranges;
    g->n_ranges = b->n_ranges;
    b->classes = NULL;
    b->ranges = NULL;
    *out = g;
    return FR_OK;
}

fr_status fr_grammar_parse(const char *text, size_t len, const char *origin, fr_grammar **out,
                           fr_err *err)
{
    *out = NULL;
    if (!origin)
        origin = "grammar";
    if (!text && len)
        return fr_err_set(err, FR_E_INVALID, "fr_grammar_parse: text is NULL");
    if (len > FR_GRAMMAR_MAX_BYTES)
        return fr_err_set(err, FR_E_RANGE, "%s: the grammar has %zu bytes, more than the %zu "
                          "allowed", origin, len, FR_GRAMMAR_MAX_BYTES);
    pb b = {0};
    b.src = b.p = text ? text : "";
    b.end = b.src + len;
    b.origin = origin;
    b.err = err;
    fr_status st = FR_OK;
    if (!fr_strmap_init(&b.names, 64) || !fr_strmap_init(&b.class_keys, 64)) {
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
        goto done;
    }
    for (;;) {
        skip_space(&b, true);
        if (b.p >= b.end)
            break;
        if (!parse_rule(&b))
            break;
    }
    if (b.failed) {
        st = b.status;
        goto done;
    }
    st = finish(&b, out);
done:
    if (st == FR_OK && b.failed)
        st = b.status;
    free_rules(&b);
    fr_strmap_free(&b.names);
    fr_strmap_free(&b.class_keys);
    free(b.ranges);
    free(b.classes);
    free(b.tmp);
    return st;
}

void fr_grammar_free(fr_grammar *g)
{
    if (!g)
        return;
    if (g->names)
        for (uint32_t r = 0; r < g->n_rules; r++)
            free(g->names[r]);
    free(g->names);
    free(g->elems);
    free(g->alts);
    free(g->rule_alt);
    free(g->classes);
    free(g->ranges);
    free(g);
}
