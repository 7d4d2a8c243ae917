/*
 * json_schema_scalar.c - JSON Schema scalars -> GBNF rule bodies (see
 * json_schema.c for the whole): integers in a range (digit patterns per
 * length, the classic range-to-regular-expression split), numbers with a
 * sign bound, strings with lengths, a pattern (an ECMAScript regular
 * expression subset) or a format.
 *
 * A pattern matches the decoded string while the grammar writes its JSON
 * form, so literal characters that JSON escapes are written escaped, and
 * classes and `.` are narrowed to characters that need no escape (never a
 * quote, a backslash or a control character). Not anchored at an end, a
 * pattern may have any characters there, as ECMAScript's search allows.
 */
#include "model/json_schema_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- integers in a range ---- */

static void digits_of(unsigned long long v, char *d, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        d[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void same_len(fr_buf *b, const char *a, const char *z, int n);

/* The alternatives of same_len(a, z, n), each with the digit d in front. */
static void prefixed(fr_buf *b, char d, const char *a, const char *z, int n)
{
    fr_buf inner = FR_BUF_INIT;
    same_len(&inner, a, z, n);
    const char *p = inner.data ? inner.data : "";
    while (*p) {
        const char *bar = strstr(p, " |");
        if (!bar)
            break;
        fr_buf_printf(b, " \"%c\" %.*s |", d, (int)(bar - p), p);
        p = bar + 2;
    }
    fr_buf_free(&inner);
}

/* Alternatives for the digit strings of length n between a and b
 * (inclusive, leading zeros allowed), each ending in " |". */
static void same_len(fr_buf *b, const char *a, const char *z, int n)
{
    if (n == 0) {
        fr_buf_puts(b, "\"\" |");
        return;
    }
    if (a[0] == z[0]) {
        /* common first digit: prefix every alternative of the rest */
        prefixed(b, a[0], a + 1, z + 1, n - 1);
        return;
    }
    bool a_rest_zero = true, z_rest_nine = true;
    for (int i = 1; i < n; i++) {
        a_rest_zero &= a[i] == '0';
        z_rest_nine &= z[i] == '9';
    }
    char lo = a[0], hi = z[0];
    if (!a_rest_zero) {
        char nines[JS_INT_DIGITS + 1];
        memset(nines, '9', (size_t)n);
        prefixed(b, a[0], a + 1, nines + 1, n - 1);
        lo++;
    }
    char top = z_rest_nine ? hi : (char)(hi - 1);
    if (lo <= top) {
        fr_buf_printf(b, " [%c-%c]", lo, top);
        if (n > 1)
            fr_buf_printf(b, " [0-9]{%d}", n - 1);
        fr_buf_puts(b, " |");
    }
    if (!z_rest_nine) {
        char zeros[JS_INT_DIGITS + 1];
        memset(zeros, '0', (size_t)n);
        prefixed(b, z[0], zeros + 1, z + 1, n - 1);
    }
}

static int n_digits(unsigned long long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Alternatives for the decimal forms (no leading zeros) of lo..hi. */
static void uint_range(fr_buf *b, unsigned long long lo, unsigned long long hi)
{
    for (int d = n_digits(lo); d <= n_digits(hi); d++) {
        unsigned long long dmin = 1, dmax;
        for (int i = 1; i < d; i++)
            dmin *= 10;
        dmax = dmin * 10 - 1;
        if (d == 1)
            dmin = 0;
        unsigned long long a = lo > dmin ? lo : dmin, z = hi < dmax ? hi : dmax;
        if (a > z)
            continue;
        char da[JS_INT_DIGITS + 1], dz[JS_INT_DIGITS + 1];
        digits_of(a, da, d);
        digits_of(z, dz, d);
        same_len(b, da, dz, d);
    }
}

bool js_gen_integer(js *j, json_t *s, fr_buf *b)
{
    const unsigned long long LIM = 9999999999999999ull; /* 16 digits */
    double lo = -(double)LIM, hi = (double)LIM;
    bool has_lo = false, has_hi = false;
    static const char *const keys[4] = {"minimum", "exclusiveMinimum", "maximum",
                                        "exclusiveMaximum"};
    for (int k = 0; k < 4; k++) {
        json_t *v = json_object_get(s, keys[k]);
        if (!v)
            continue;
        if (!json_is_number(v))
            return js_fail(j, "\"%s\" must be a number", keys[k]);
        double x = json_number_value(v);
        if (k == 0 && ceil(x) > lo)
            lo = ceil(x), has_lo = true;
        if (k == 1 && floor(x) + 1 > lo)
            lo = floor(x) + 1, has_lo = true;
        if (k == 2 && floor(x) < hi)
            hi = floor(x), has_hi = true;
        if (k == 3 && ceil(x) - 1 < hi)
            hi = ceil(x) - 1, has_hi = true;
    }
    if (!has_lo && !has_hi) {
        fr_buf_puts(b, js_prim(j, P_INT));
        return true;
    }
    if (lo < -(double)LIM)
        lo = -(double)LIM;
    if (hi > (double)LIM)
        hi = (double)LIM;
    if (lo > hi)
        return js_fail(j, "no integer of at most %d digits lies within the bounds",
                       JS_INT_DIGITS);
    fr_buf alts = FR_BUF_INIT;
    if (hi >= 0)
        uint_range(&alts, lo > 0 ? (unsigned long long)lo : 0, (unsigned long long)hi);
    if (lo < 0) {
        /* -x for x in [max(1, -hi), -lo] */
        fr_buf neg = FR_BUF_INIT;
        uint_range(&neg, hi < 0 ? (unsigned long long)-hi : 1, (unsigned long long)-lo);
        const char *p = neg.data ? neg.data : "";
        while (*p) {
            const char *bar = strstr(p, " |");
            if (!bar)
                break;
            fr_buf_printf(&alts, " \"-\"%.*s |", (int)(bar - p), p);
            p = bar + 2;
        }
        fr_buf_free(&neg);
    }
    if (!fr_buf_ok(&alts) || alts.len < 2) {
        fr_buf_free(&alts);
        return js_fail(j, "out of memory");
    }
    fr_buf_puts(b, "(");
    fr_buf_append(b, alts.data, alts.len - 2); /* drop the last " |" */
    fr_buf_puts(b, " )");
    fr_buf_free(&alts);
    return true;
}

bool js_gen_number(js *j, json_t *s, fr_buf *b)
{
    json_t *mn = json_object_get(s, "minimum"), *xmn = json_object_get(s, "exclusiveMinimum"),
           *mx = json_object_get(s, "maximum"), *xmx = json_object_get(s, "exclusiveMaximum");
    if (!mn && !xmn && !mx && !xmx) {
        fr_buf_puts(b, js_prim(j, P_NUMBER));
        return true;
    }
    /* only the sign bounds: >= 0, > 0, <= 0, < 0 */
    bool zero = (!mn || (json_is_number(mn) && json_number_value(mn) == 0)) &&
                (!xmn || (json_is_number(xmn) && json_number_value(xmn) == 0)) &&
                (!mx || (json_is_number(mx) && json_number_value(mx) == 0)) &&
                (!xmx || (json_is_number(xmx) && json_number_value(xmx) == 0));
    bool low = mn || xmn, high = mx || xmx;
    if (!zero || (low && high))
        return js_fail(j, "bounds on a \"number\" are only supported as a sign (minimum 0, "
                       "exclusiveMinimum 0, maximum 0 or exclusiveMaximum 0); use \"integer\" "
                       "for other ranges");
    const char *exp = "([eE] [-+]? [0-9]{1,2})?";
    const char *nonneg = "([0] | [1-9] [0-9]{0,15}) (\".\" [0-9]{1,16})?";
    const char *pos = "([1-9] [0-9]{0,15} (\".\" [0-9]{1,16})? | \"0.\" [0-9]{0,15} [1-9])";
    bool strict = xmn || xmx;
    fr_buf_printf(b, "(%s%s %s)", high ? "\"-\" " : "", strict ? pos : nonneg, exp);
    if (high && !strict)
        fr_buf_puts(b, " | \"0\""); /* unreachable form kept simple: <= 0 includes zero */
    return true;
}

/* ---- strings ---- */

/* Regular expression (the ECMAScript subset of frugal/grammar.h) -> GBNF. */
typedef struct rx {
    js *j;
    const char *p, *end;
    int depth;
} rx;

static bool rx_alt(rx *r, fr_buf *b, bool *nullable);

static bool rx_class_escape(rx *r, char e, fr_buf *b, bool in_class)
{
    /* inside a class, the caller wraps: emit the ranges only */
    const char *digits = "0-9", *word = "a-zA-Z0-9_", *space = " ";
    switch (e) {
    case 'd': fr_buf_puts(b, in_class ? digits : "[0-9]"); return true;
    case 'w': fr_buf_puts(b, in_class ? word : "[a-zA-Z0-9_]"); return true;
    case 's': fr_buf_puts(b, in_class ? space : "[ ]"); return true;
    case 'D': case 'W': case 'S':
        if (in_class)
            return js_fail(r->j, "\"pattern\": \\%c inside a class is not supported", e);
        fr_buf_printf(b, "[^%s\"\\\\\\x7F\\x00-\\x1F]",
                      e == 'D' ? digits : e == 'W' ? word : " ");
        return true;
    default: return false;
    }
}

/* One literal character c of the pattern as JSON string content. */
static void rx_put_char(fr_buf *b, unsigned c)
{
    if (c == '"')
        fr_buf_puts(b, "\"\\\\\\\"\"");      /* JSON \" */
    else if (c == '\\')
        fr_buf_puts(b, "\"\\\\\\\\\"");      /* JSON \\ */
    else if (c == '\n')
        fr_buf_puts(b, "\"\\\\n\"");
    else if (c == '\t')
        fr_buf_puts(b, "\"\\\\t\"");
    else if (c == '\r')
        fr_buf_puts(b, "\"\\\\r\"");
    else if (c < 0x20 || c == 0x7f)
        fr_buf_printf(b, "\"\\\\u%04X\"", c);
    else {
        char s[1] = {(char)c};
        js_put_literal(b, s, 1);
    }
}

/* A class character as GBNF class text; quotes, backslashes and controls
 * are left out (they would need escapes inside a JSON string). */
/* One UTF-8 character of the pattern at r->p. */
static bool rx_cp(rx *r, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)r->p;
    size_t avail = (size_t)(r->end - r->p);
    unsigned char c = u[0];
    size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!n || n > avail)
        return js_fail(r->j, "\"pattern\": invalid UTF-8");
    uint32_t v = n == 1 ? c : c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return js_fail(r->j, "\"pattern\": invalid UTF-8");
        v = v << 6 | (u[i] & 0x3F);
    }
    r->p += n;
    *cp = v;
    return true;
}

typedef struct rx_set {
    uint32_t r[2 * 64]; /* lo, hi pairs */
    int n;
} rx_set;

static bool set_add(rx *r, rx_set *s, uint32_t lo, uint32_t hi)
{
    if (s->n >= 64)
        return js_fail(r->j, "\"pattern\": a class with more than 64 ranges");
    s->r[2 * s->n] = lo;
    s->r[2 * s->n + 1] = hi;
    s->n++;
    return true;
}

/* One class member at r->p: a character (escapes decoded) or, for \d \w
 * \s, its ranges (then *single is false). */
static bool class_atom(rx *r, rx_set *s, uint32_t *cp, bool *single)
{
    *single = true;
    if (*r->p != '\\')
        return rx_cp(r, cp);
    r->p++;
    if (r->p >= r->end)
        return js_fail(r->j, "\"pattern\": unfinished escape");
    char e = *r->p++;
    *single = false;
    switch (e) {
    case 'd': return set_add(r, s, '0', '9');
    case 'w':
        return set_add(r, s, 'a', 'z') && set_add(r, s, 'A', 'Z') && set_add(r, s, '0', '9') &&
               set_add(r, s, '_', '_');
    case 's': return set_add(r, s, ' ', ' ') && set_add(r, s, 0x09, 0x0D);
    case 'D': case 'W': case 'S':
        return js_fail(r->j, "\"pattern\": \\%c inside a class is not supported", e);
    case 'n': *cp = '\n'; break;
    case 't': *cp = '\t'; break;
    case 'r': *cp = '\r'; break;
    case 'f': *cp = '\f'; break;
    case 'v': *cp = '\v'; break;
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
            return js_fail(r->j, "\"pattern\": the escape \\%c is not supported in a class", e);
        *cp = (uint32_t)(unsigned char)e;
    }
    *single = true;
    return true;
}

static int cmp_range(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void put_cp(fr_buf *b, uint32_t c)
{
    if (c < 0x80)
        fr_buf_printf(b, "\\x%02X", c);
    else if (c < 0x10000)
        fr_buf_printf(b, "\\u%04X", c);
    else
        fr_buf_printf(b, "\\U%08X", c);
}

/* A class as the code points it holds, minus what a JSON string cannot
 * hold raw (quote, backslash, control characters; surrogates are not
 * characters), written out as a GBNF class of escaped ranges. */
static bool rx_class(rx *r, fr_buf *b)
{
    bool neg = r->p < r->end && *r->p == '^';
    if (neg)
        r->p++;
    rx_set s = {{0}, 0};
    while (r->p < r->end && *r->p != ']') {
        uint32_t lo = 0, hi;
        bool single;
        if (!class_atom(r, &s, &lo, &single))
            return false;
        if (!single)
            continue;
        hi = lo;
        if (r->end - r->p >= 2 && r->p[0] == '-' && r->p[1] != ']') {
            r->p++;
            if (!class_atom(r, &s, &hi, &single))
                return false;
            if (!single)
                return js_fail(r->j, "\"pattern\": a class range ends in a class escape");
            if (hi < lo)
                return js_fail(r->j, "\"pattern\": class range out of order");
        }
        if (!set_add(r, &s, lo, hi))
            return false;
    }
    if (r->p >= r->end)
        return js_fail(r->j, "\"pattern\": class not closed with ']'");
    r->p++;
    /* negated: what is left of everything once the class is taken out */
    if (neg) {
        qsort(s.r, (size_t)s.n, 2 * sizeof *s.r, cmp_range);
        rx_set c = {{0}, 0};
        uint32_t next = 0;
        for (int i = 0; i < s.n; i++) {
            if (s.r[2 * i] > next && !set_add(r, &c, next, s.r[2 * i] - 1))
                return false;
            if (s.r[2 * i + 1] + 1 > next)
                next = s.r[2 * i + 1] + 1;
        }
        if (next <= 0x10FFFF && !set_add(r, &c, next, 0x10FFFF))
            return false;
        s = c;
    }
    /* minus the characters that need escapes in JSON, and surrogates */
    static const uint32_t cut[][2] = {{0x00, 0x1F}, {0x22, 0x22}, {0x5C, 0x5C}, {0x7F, 0x7F},
                                      {0xD800, 0xDFFF}};
    fr_buf_putc(b, '[');
    bool any = false;
    for (int i = 0; i < s.n; i++) {
        uint32_t lo = s.r[2 * i], hi = s.r[2 * i + 1];
        /* walk the piece from lo to hi, skipping the cut ranges */
        while (lo <= hi) {
            uint32_t end = hi;
            bool skip = false;
            for (size_t k = 0; k < sizeof cut / sizeof *cut; k++) {
                if (lo >= cut[k][0] && lo <= cut[k][1]) {
                    lo = cut[k][1] + 1;
                    skip = true;
                    break;
                }
                if (cut[k][0] > lo && cut[k][0] - 1 < end)
                    end = cut[k][0] - 1;
            }
            if (skip)
                continue;
            put_cp(b, lo);
            if (end > lo) {
                fr_buf_putc(b, '-');
                put_cp(b, end);
            }
            any = true;
            if (end == UINT32_MAX)
                break;
            lo = end + 1;
        }
    }
    fr_buf_putc(b, ']');
    if (!any)
        return js_fail(r->j, "\"pattern\": a class that matches no character a JSON string "
                       "holds without escapes");
    return true;
}

/* A quantifier after an atom (nullable: the atom can match ""), if any;
 * *nullable becomes whether atom + quantifier can match "". Repeating
 * without bound something that can be empty would make a left-recursive
 * grammar: refused. */
static bool rx_quant(rx *r, fr_buf *b, bool *nullable)
{
    if (r->p >= r->end)
        return true;
    char c = *r->p;
    long long m = 1, n = 1;
    if (c == '*' || c == '+' || c == '?') {
        m = c == '+' ? 1 : 0;
        n = c == '?' ? 1 : -1;
        if (n < 0 && *nullable)
            return js_fail(r->j, "\"pattern\": repeating without bound a part that can match "
                           "the empty string (like (a*)+) is not supported");
        fr_buf_putc(b, c);
        r->p++;
    } else if (c == '{') {
        const char *q = r->p + 1;
        m = 0;
        n = -1;
        if (q >= r->end || *q < '0' || *q > '9')
            return js_fail(r->j, "\"pattern\": a '{' that is not a quantifier (write \\{)");
        while (q < r->end && *q >= '0' && *q <= '9' && m <= JS_MAX_ITEMS_BOUND)
            m = m * 10 + (*q++ - '0');
        if (q < r->end && *q == ',') {
            q++;
            if (q < r->end && *q >= '0' && *q <= '9') {
                n = 0;
                while (q < r->end && *q >= '0' && *q <= '9' && n <= JS_MAX_ITEMS_BOUND)
                    n = n * 10 + (*q++ - '0');
            }
        } else {
            n = m;
        }
        if (q >= r->end || *q != '}' || m > JS_MAX_ITEMS_BOUND || n > JS_MAX_ITEMS_BOUND ||
            (n >= 0 && n < m))
            return js_fail(r->j, "\"pattern\": bad or too large {m,n} quantifier");
        if (n < 0 && *nullable)
            return js_fail(r->j, "\"pattern\": repeating without bound a part that can match "
                           "the empty string (like (a*)+) is not supported");
        r->p = q + 1;
        js_put_repeat(b, m, n);
    } else {
        return true;
    }
    if (m == 0)
        *nullable = true;
    if (r->p < r->end && *r->p == '?')
        r->p++; /* lazy: the same set of strings */
    return true;
}

/* A sequence; *nullable: every atom in it can match "". */
static bool rx_seq(rx *r, fr_buf *b, bool *nullable)
{
    *nullable = true;
    while (r->p < r->end && *r->p != '|' && *r->p != ')') {
        unsigned char c = (unsigned char)*r->p;
        bool atom_nullable = false;
        fr_buf_putc(b, ' ');
        if (c == '(') {
            r->p++;
            if (r->p < r->end && *r->p == '?') {
                if (r->end - r->p >= 2 && r->p[1] == ':')
                    r->p += 2;
                else
                    return js_fail(r->j, "\"pattern\": lookarounds and named groups are not "
                                   "supported");
            }
            if (++r->depth > 64)
                return js_fail(r->j, "\"pattern\": groups nested too deep");
            fr_buf_putc(b, '(');
            if (!rx_alt(r, b, &atom_nullable))
                return false;
            if (r->p >= r->end || *r->p != ')')
                return js_fail(r->j, "\"pattern\": '(' not closed");
            r->p++;
            r->depth--;
            fr_buf_putc(b, ')');
        } else if (c == '[') {
            r->p++;
            if (!rx_class(r, b))
                return false;
        } else if (c == '.') {
            r->p++;
            fr_buf_puts(b, "[^\"\\\\\\x7F\\x00-\\x1F\\u2028\\u2029]");
        } else if (c == '\\') {
            r->p++;
            if (r->p >= r->end)
                return js_fail(r->j, "\"pattern\": unfinished escape");
            char e = *r->p++;
            if (rx_class_escape(r, e, b, false))
                ;
            else if (r->j->failed)
                return false;
            else if (e == 'n')
                rx_put_char(b, '\n');
            else if (e == 't')
                rx_put_char(b, '\t');
            else if (e == 'r')
                rx_put_char(b, '\r');
            else if ((e >= '0' && e <= '9') || e == 'b' || e == 'B' || e == 'p' || e == 'P' ||
                     e == 'u' || e == 'x' || e == 'k' || e == 'c')
                return js_fail(r->j, "\"pattern\": the escape \\%c is not supported", e);
            else
                rx_put_char(b, (unsigned char)e);
        } else if (c == '^' || c == '$') {
            return js_fail(r->j, "\"pattern\": anchors are only supported at the very start "
                           "(^) and end ($) of the pattern");
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            return js_fail(r->j, "\"pattern\": a quantifier with nothing to repeat");
        } else {
            /* one UTF-8 character as a literal */
            size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if ((size_t)(r->end - r->p) < n)
                return js_fail(r->j, "\"pattern\": invalid UTF-8");
            if (n == 1)
                rx_put_char(b, c);
            else
                js_put_literal(b, r->p, n);
            r->p += n;
        }
        if (!rx_quant(r, b, &atom_nullable))
            return false;
        *nullable = *nullable && atom_nullable;
    }
    return true;
}

/* Alternatives; *nullable: one of them can match "". */
static bool rx_alt(rx *r, fr_buf *b, bool *nullable)
{
    *nullable = false;
    for (;;) {
        bool sn;
        fr_buf_puts(b, " (");
        if (!rx_seq(r, b, &sn))
            return false;
        *nullable = *nullable || sn;
        fr_buf_puts(b, " \"\" )"); /* an empty branch stays valid GBNF */
        if (r->p < r->end && *r->p == '|') {
            r->p++;
            fr_buf_puts(b, " |");
            continue;
        }
        return true;
    }
}

static bool gen_pattern(js *j, const char *pat, size_t len, fr_buf *b)
{
    rx r = {j, pat, pat + len, 0};
    bool start = len && pat[0] == '^';
    bool end = len > 1 && pat[len - 1] == '$' && pat[len - 2] != '\\';
    if (start)
        r.p++;
    if (end)
        r.end--;
    fr_buf_puts(b, "\"\\\"\"");
    if (!start)
        fr_buf_printf(b, " %s*", js_prim(j, P_CHAR));
    fr_buf_puts(b, " (");
    bool nullable;
    if (!rx_alt(&r, b, &nullable))
        return false;
    if (r.p != r.end)
        return js_fail(j, "\"pattern\": unbalanced ')'");
    fr_buf_puts(b, " )");
    if (!end)
        fr_buf_printf(b, " %s*", js_prim(j, P_CHAR));
    fr_buf_puts(b, " \"\\\"\"");
    return true;
}

static bool gen_format(js *j, const char *f, fr_buf *b)
{
    static const char date[] =
        "[0-9]{4} \"-\" ((\"0\" [13578] | \"1\" [02]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" "
        "[01]) | (\"0\" [469] | \"11\") \"-\" (\"0\" [1-9] | [12] [0-9] | \"30\") | \"02\" \"-\" "
        "(\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8]))";
    static const char time_[] =
        "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? \"Z\"";
    if (strcmp(f, "date") == 0)
        fr_buf_printf(b, "\"\\\"\" %s \"\\\"\"", date);
    else if (strcmp(f, "time") == 0)
        fr_buf_printf(b, "\"\\\"\" %s \"\\\"\"", time_);
    else if (strcmp(f, "date-time") == 0)
        fr_buf_printf(b, "\"\\\"\" %s \"T\" %s \"\\\"\"", date, time_);
    else if (strcmp(f, "uuid") == 0)
        fr_buf_puts(b, "\"\\\"\" [0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" "
                       "[0-9a-f]{4} \"-\" [0-9a-f]{12} \"\\\"\"");
    else
        return js_fail(j, "\"format\": \"%.40s\" is not supported (supported: date, time, "
                       "date-time, uuid)", f);
    return true;
}

bool js_gen_string(js *j, json_t *s, fr_buf *b)
{
    long long mn = 0, mx = -1;
    if (!js_get_count(j, s, "minLength", &mn) || !js_get_count(j, s, "maxLength", &mx))
        return false;
    json_t *pat = json_object_get(s, "pattern"), *fmt = json_object_get(s, "format");
    if (mx >= 0 && mx < mn)
        return js_fail(j, "\"maxLength\" is below \"minLength\"");
    bool lens = json_object_get(s, "minLength") || json_object_get(s, "maxLength");
    if ((pat && (fmt || lens)) || (fmt && lens))
        return js_fail(j, "\"pattern\", \"format\" and lengths cannot be combined here; use one");
    if (pat) {
        if (!json_is_string(pat))
            return js_fail(j, "\"pattern\" must be a string");
        return gen_pattern(j, json_string_value(pat), json_string_length(pat), b);
    }
    if (fmt) {
        if (!json_is_string(fmt))
            return js_fail(j, "\"format\" must be a string");
        return gen_format(j, json_string_value(fmt), b);
    }
    if (!lens) {
        fr_buf_puts(b, js_prim(j, P_STRING));
        return true;
    }
    fr_buf_printf(b, "\"\\\"\" %s", js_prim(j, P_CHAR));
    js_put_repeat(b, mn, mx);
    fr_buf_puts(b, " \"\\\"\"");
    return true;
}
