/*
 * text.c - UTF-8, tokens, terms, stopwords, sentences, document frequencies
 * (see text.h).
 *
 * The tokenizer is a hand-written byte scanner rather than a PCRE2 pattern:
 * it runs over every byte of every indexed document and every passage the
 * checker reads, and a scanner that decodes each UTF-8 sequence once is both
 * faster and easier to bound than a regex with Unicode classes.
 */
#include "rag/text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 -------------------------------------------------------------- */

size_t fr_utf8_seq_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Code point of a valid sequence of length len. */
static unsigned fr_utf8_cp(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0];
    unsigned cp = s[0] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < len; i++)
        cp = (cp << 6) | (s[i] & 0x3F);
    return cp;
}

bool fr_utf8_valid(const char *s, size_t n, size_t *bad_off)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = fr_utf8_seq_len(s + i, n - i);
        if (l == 0) {
            if (bad_off)
                *bad_off = i;
            return false;
        }
        i += l;
    }
    return true;
}

size_t fr_utf8_repair(const char *s, size_t n, fr_buf *out)
{
    size_t fixes = 0, i = 0, run = 0;
    while (i < n) {
        size_t l = (unsigned char)s[i] < 0x80 ? 1 : fr_utf8_seq_len(s + i, n - i);
        if (l) {
            i += l;
            run += l;
            continue;
        }
        fr_buf_append(out, s + i - run, run);
        fr_buf_append(out, "\xEF\xBF\xBD", 3);
        run = 0;
        fixes++;
        i++;
    }
    fr_buf_append(out, s + n - run, run);
    return fr_buf_ok(out) ? fixes : SIZE_MAX;
}

bool fr_looks_binary(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t lim = n < 65536 ? n : 65536, ctrl = 0;
    for (size_t i = 0; i < lim; i++) {
        unsigned c = s[i];
        if (c == 0)
            return true;
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B) ||
            c == 0x7F)
            ctrl++;
    }
    return lim > 0 && ctrl * 10 > lim;
}

/* ---- tokens ------------------------------------------------------------- */

static bool fr_is_digit(unsigned c) { return c >= '0' && c <= '9'; }
static bool fr_is_alpha(unsigned c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool fr_is_alnum(unsigned c) { return fr_is_digit(c) || fr_is_alpha(c); }

/* Unicode code points we treat as separators: Latin-1 punctuation/symbols,
 * general punctuation, CJK punctuation, the BOM and replacement char. */
static bool fr_cp_is_sep(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||
           (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2190 && cp <= 0x2BFF) ||
           (cp >= 0x3000 && cp <= 0x303F) || cp == 0xFEFF || cp == 0xFFFD;
}

/* Symbol at s[0..n): its byte length, or 0. */
static size_t fr_symbol_len(const unsigned char *s, size_t n)
{
    if (s[0] == '%' || s[0] == '$')
        return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0xA3 || s[1] == 0xA5)) /* £ ¥ */
        return 2;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x82 && s[2] == 0xAC) /* € */
        return 3;
    return 0;
}

/* Length of a word character at s[0..n) (0 when it is not one). */
static size_t fr_word_char(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return fr_is_alnum(s[0]) ? 1 : 0;
    size_t l = fr_utf8_seq_len((const char *)s, n);
    if (l == 0 || fr_cp_is_sep(fr_utf8_cp(s, l)))
        return 0;
    return l;
}

bool fr_next_token(const char *str, size_t n, size_t *pos, fr_token *t)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = *pos;
    while (i < n) {
        size_t sl = fr_symbol_len(s + i, n - i);
        if (sl) {
            t->off = i;
            t->len = sl;
            t->kind = FR_TOK_SYMBOL;
            t->flags = 0;
            *pos = i + sl;
            return true;
        }
        size_t wl = fr_word_char(s + i, n - i);
        if (wl)
            break;
        if (s[i] < 0x80) {
            i++;
        } else {
            size_t l = fr_utf8_seq_len(str + i, n - i);
            i += l ? l : 1;
        }
    }
    if (i >= n) {
        *pos = n;
        return false;
    }
    size_t start = i;
    unsigned flags = 0, letters = 0, caps = 0;
    if (s[i] >= 'A' && s[i] <= 'Z')
        flags |= FR_TF_UPPER;
    while (i < n) {
        size_t wl = fr_word_char(s + i, n - i);
        if (wl == 0) {
            /* "1,299.00": keep a separator between two digits */
            if ((s[i] == '.' || s[i] == ',') && i > start && fr_is_digit(s[i - 1]) &&
                i + 1 < n && fr_is_digit(s[i + 1])) {
                i++;
                continue;
            }
            break;
        }
        if (wl == 1 && fr_is_digit(s[i])) {
            flags |= FR_TF_DIGIT;
        } else {
            flags |= FR_TF_ALPHA;
            letters++;
            if (s[i] >= 'A' && s[i] <= 'Z')
                caps++;
        }
        i += wl;
    }
    if (letters >= 2 && caps == letters)
        flags |= FR_TF_CAPS;
    t->off = start;
    t->len = i - start;
    t->kind = FR_TOK_WORD;
    t->flags = flags;
    *pos = i;
    return true;
}

static bool fr_is_joiner(unsigned c) { return c == '-' || c == '_' || c == '/' || c == '.'; }

bool fr_next_code(const char *str, size_t n, size_t *pos, fr_token *t)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = *pos;
    while (i < n) {
        while (i < n && !fr_is_alnum(s[i]))
            i++;
        if (i >= n)
            break;
        /* a code must not start in the middle of a longer word */
        size_t start = i;
        bool digit = false, alpha = false, dash = false;
        while (i < n) {
            if (fr_is_alnum(s[i])) {
                digit |= fr_is_digit(s[i]);
                alpha |= fr_is_alpha(s[i]);
                i++;
            } else if (fr_is_joiner(s[i]) && i + 1 < n && fr_is_alnum(s[i + 1])) {
                dash |= s[i] == '-' || s[i] == '_';
                i++;
            } else {
                break;
            }
        }
        /* a non-ASCII letter glued to the run makes it a word, not a code */
        if (i < n && s[i] >= 0x80 && fr_word_char(s + i, n - i)) {
            while (i < n && (s[i] >= 0x80 || fr_is_alnum(s[i])))
                i++;
            continue;
        }
        size_t len = i - start;
        if (digit && (alpha || dash) && len >= 4 && len <= 64) {
            t->off = start;
            t->len = len;
            t->kind = FR_TOK_WORD;
            t->flags = FR_TF_DIGIT | (alpha ? FR_TF_ALPHA : 0);
            *pos = i;
            return true;
        }
    }
    *pos = n;
    return false;
}

/* ---- terms -------------------------------------------------------------- */

static bool fr_ends(const char *w, size_t n, const char *suf)
{
    size_t l = strlen(suf);
    return n >= l && memcmp(w + n - l, suf, l) == 0;
}

static bool fr_has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("aeiouy", w[i]) || (unsigned char)w[i] >= 0x80)
            return true;
    return false;
}

/* Light suffix stripping on a lowercase word of length *n (see text.h for
 * why it is deliberately weak). */
static void fr_stem(char *w, size_t *np)
{
    size_t n = *np;
    if (n <= 3)
        return;
    if (fr_ends(w, n, "ies") && n > 4) {
        n -= 3;
        w[n++] = 'y';
    } else if (fr_ends(w, n, "ied") && n > 4) {
        n -= 3;
        w[n++] = 'y';
    } else if (fr_ends(w, n, "sses")) {
        n -= 2;
    } else if (fr_ends(w, n, "xes") || fr_ends(w, n, "zes") || fr_ends(w, n, "ches") ||
               fr_ends(w, n, "shes")) {
        n -= 2;
    } else if (w[n - 1] == 's' && !fr_ends(w, n, "ss") && !fr_ends(w, n, "us") &&
               !fr_ends(w, n, "is")) {
        n -= 1;
    }
    bool cut = false;
    if (fr_ends(w, n, "ing") && n >= 6 && fr_has_vowel(w, n - 3)) {
        n -= 3;
        cut = true;
    } else if (fr_ends(w, n, "ed") && n >= 5 && !fr_ends(w, n, "eed") && fr_has_vowel(w, n - 2)) {
        n -= 2;
        cut = true;
    } else if (fr_ends(w, n, "ly") && n >= 6) {
        n -= 2;
    }
    if (cut && n >= 3 && w[n - 1] == w[n - 2] && !strchr("aeioulsz", w[n - 1]))
        n--; /* stopped -> stop, running -> run */
    if (n >= 4 && w[n - 1] == 'e')
        n--; /* state, stated, stating -> stat */
    *np = n;
}

size_t fr_term(const char *s, size_t n, char *out)
{
    if (n == 0 || n >= FR_TERM_MAX)
        return 0;
    size_t k = 0;
    bool digit = false, alpha = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ',' && i > 0 && i + 1 < n && fr_is_digit((unsigned char)s[i - 1]))
            continue; /* thousands separator */
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c | 0x20);
        digit |= fr_is_digit(c);
        alpha |= c >= 0x80 || fr_is_alpha(c);
        out[k++] = (char)c;
    }
    if (digit && !alpha) {
        /* 49.00 -> 49, 2.50 -> 2.5 */
        char *dot = memchr(out, '.', k);
        if (dot) {
            while (k > 0 && out[k - 1] == '0')
                k--;
            if (k > 0 && out[k - 1] == '.')
                k--;
        }
    } else if (!digit) {
        fr_stem(out, &k);
    }
    out[k] = '\0';
    return k;
}

/* Sorted (strcmp order) so lookups are a binary search. */
static const char *const fr_stopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and",
    "any", "are", "as", "at", "be", "became", "because", "become", "been", "before", "being",
    "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing",
    "done", "down", "during", "each", "either", "else", "ever", "every", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him",
    "himself", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its", "itself",
    "just", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "neither",
    "no", "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our",
    "ours", "ourselves", "out", "over", "own", "per", "same", "shall", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "thus", "to", "too", "under",
    "until", "up", "upon", "us", "very", "via", "was", "we", "were", "what", "when", "where",
    "whether", "which", "while", "who", "whom", "whose", "why", "will", "with", "within",
    "without", "would", "yes", "yet", "you", "your", "yours", "yourself", "yourselves",
};

static int fr_cmp_word(const char *t, size_t n, const char *w)
{
    size_t wl = strlen(w);
    int c = memcmp(t, w, n < wl ? n : wl);
    if (c)
        return c;
    return n < wl ? -1 : n > wl ? 1 : 0;
}

bool fr_in_sorted(const char *const *list, size_t count, const char *t, size_t n)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = fr_cmp_word(t, n, list[mid]);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

bool fr_is_stopword(const char *t, size_t n)
{
    if (n == 1 && fr_is_alpha((unsigned char)t[0]))
        return true; /* "s" of "Arthur's", initials */
    return fr_in_sorted(fr_stopwords, sizeof fr_stopwords / sizeof *fr_stopwords, t, n);
}

/* Terms (after fr_term, so stemmed and lowercase), sorted. */
static const char *const fr_units[] = {
    "$", "%", "byte", "c", "cent", "cm", "day", "dollar", "eur", "euro", "f", "g", "gb", "gbp",
    "ghz", "hour", "hr", "hz", "inch", "kb", "kg", "khz", "km", "kwh", "l", "lb", "liter",
    "litr", "m", "mb", "mg", "mhz", "min", "minut", "ml", "mm", "month", "ms", "mw", "ounc",
    "oz", "percent", "pound", "second", "tb", "tonn", "usd", "v", "w", "watt", "week", "year",
    "yr", "\xC2\xA3", "\xC2\xA5", "\xE2\x82\xAC",
};

bool fr_is_unit(const char *t, size_t n)
{
    return fr_in_sorted(fr_units, sizeof fr_units / sizeof *fr_units, t, n);
}

/* ---- sentences ---------------------------------------------------------- */

static const char *const fr_abbrevs[] = {
    "al", "approx", "co", "corp", "dept", "dr", "e.g", "eg", "est", "fig", "i.e", "ie", "inc",
    "jr", "ltd", "mr", "mrs", "ms", "no", "nos", "prof", "sr", "st", "vol", "vs",
};

static bool fr_is_space(unsigned c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

size_t fr_sentence_end(const char *str, size_t n, size_t off)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = off; i < n; i++) {
        unsigned c = s[i];
        if (c == '\n') {
            /* a blank line ends a sentence */
            size_t j = i + 1;
            while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
                j++;
            if (j < n && s[j] == '\n')
                return i + 1;
            continue;
        }
        if (c != '.' && c != '!' && c != '?')
            continue;
        size_t e = i + 1;
        while (e < n && (s[e] == '.' || s[e] == '!' || s[e] == '?'))
            e++;
        while (e < n && (s[e] == '"' || s[e] == '\'' || s[e] == ')' || s[e] == ']'))
            e++;
        if (e + 3 <= n && s[e] == 0xE2 && s[e + 1] == 0x80 && (s[e + 2] == 0x9D || s[e + 2] == 0x99))
            e += 3; /* closing curly quote */
        if (e >= n)
            return n;
        if (!fr_is_space(s[e]))
            continue; /* 3.5, e.g., example.com */
        if (c == '.') {
            /* the word before the dot: an initial or an abbreviation? */
            size_t w = i;
            while (w > off && (fr_is_alnum(s[w - 1]) || s[w - 1] == '.'))
                w--;
            size_t wl = i - w;
            if (wl == 1 && s[w] >= 'A' && s[w] <= 'Z')
                continue;
            if (wl > 0 && wl < 8) {
                char low[8];
                for (size_t k = 0; k < wl; k++)
                    low[k] = (char)(s[w + k] | ((s[w + k] >= 'A' && s[w + k] <= 'Z') ? 0x20 : 0));
                if (fr_in_sorted(fr_abbrevs, sizeof fr_abbrevs / sizeof *fr_abbrevs, low, wl))
                    continue;
            }
            /* "approx. five": a lowercase word after the dot continues */
            size_t j = e;
            while (j < n && fr_is_space(s[j]))
                j++;
            if (j < n && s[j] >= 'a' && s[j] <= 'z')
                continue;
        }
        return e;
    }
    return n;
}

/* ---- document frequencies ----------------------------------------------- */

typedef struct fr_vocab_entry {
    char *key; /* owned, NUL-terminated; NULL = empty slot */
    uint32_t len;
    uint64_t df;
    uint64_t last_doc; /* 1-based doc that last counted this term */
} fr_vocab_entry;

struct fr_vocab {
    fr_vocab_entry *slots;
    size_t cap, used; /* cap is a power of two */
    uint64_t docs;
};

static uint64_t fr_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

fr_vocab *fr_vocab_create(void)
{
    fr_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->cap = 1024;
    v->slots = calloc(v->cap, sizeof *v->slots);
    if (!v->slots) {
        free(v);
        return NULL;
    }
    return v;
}

void fr_vocab_free(fr_vocab *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->cap; i++)
        free(v->slots[i].key);
    free(v->slots);
    free(v);
}

static fr_vocab_entry *fr_vocab_find(const fr_vocab *v, const char *t, size_t n)
{
    size_t i = fr_hash(t, n) & (v->cap - 1);
    for (;;) {
        fr_vocab_entry *e = &v->slots[i];
        if (!e->key || (e->len == n && memcmp(e->key, t, n) == 0))
            return e;
        i = (i + 1) & (v->cap - 1);
    }
}

static bool fr_vocab_grow(fr_vocab *v)
{
    size_t nc = v->cap * 2;
    fr_vocab_entry *ns = calloc(nc, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < v->cap; i++) {
        fr_vocab_entry *e = &v->slots[i];
        if (!e->key)
            continue;
        size_t j = fr_hash(e->key, e->len) & (nc - 1);
        while (ns[j].key)
            j = (j + 1) & (nc - 1);
        ns[j] = *e;
    }
    free(v->slots);
    v->slots = ns;
    v->cap = nc;
    return true;
}

void fr_vocab_begin_doc(fr_vocab *v) { v->docs++; }

bool fr_vocab_add(fr_vocab *v, const char *term, size_t tl)
{
    if (tl == 0 || tl > UINT32_MAX)
        return true;
    if ((v->used + 1) * 2 > v->cap && !fr_vocab_grow(v))
        return false;
    fr_vocab_entry *e = fr_vocab_find(v, term, tl);
    if (!e->key) {
        e->key = malloc(tl + 1);
        if (!e->key)
            return false;
        memcpy(e->key, term, tl);
        e->key[tl] = '\0';
        e->len = (uint32_t)tl;
        v->used++;
    }
    if (e->last_doc != v->docs) {
        e->last_doc = v->docs;
        e->df++;
    }
    return true;
}

bool fr_vocab_add_doc(fr_vocab *v, const char *text, size_t n)
{
    fr_vocab_begin_doc(v);
    size_t pos = 0;
    fr_token t;
    char term[FR_TERM_MAX];
    while (fr_next_token(text, n, &pos, &t)) {
        size_t tl = t.kind == FR_TOK_SYMBOL ? 0 : fr_term(text + t.off, t.len, term);
        if (tl && !fr_vocab_add(v, term, tl))
            return false;
    }
    return true;
}

uint64_t fr_vocab_df(const fr_vocab *v, const char *term, size_t n)
{
    const fr_vocab_entry *e = fr_vocab_find(v, term, n);
    return e->key ? e->df : 0;
}

uint64_t fr_vocab_docs(const fr_vocab *v) { return v->docs; }
size_t fr_vocab_terms(const fr_vocab *v) { return v->used; }

double fr_idf(uint64_t df, uint64_t n_docs)
{
    if (df > n_docs)
        df = n_docs;
    return log(1.0 + ((double)(n_docs - df) + 0.5) / ((double)df + 0.5));
}
