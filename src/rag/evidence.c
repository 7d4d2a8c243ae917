/*
 * evidence.c - passages indexed once; the features of a sub-claim against
 * them (see evidence.h).
 *
 * The index is a few sets of 64-bit hashes (terms, surface words,
 * "number|unit" facts, ordered pairs of content terms at most two content
 * words apart) and, per sentence, the sequence of its content-term hashes.
 * Scoring a sub-claim looks each of its terms up once, then walks the
 * sentences with a bit mask of the sub-claim's terms per sentence (at most
 * 64 terms take part in windows; a 30-word claim has about 15), so the
 * best window of one or two sentences costs one pass over the evidence.
 * A 64-bit hash collision between two different terms would count one as
 * the other: at 2^-64 per pair, ignored.
 *
 * Why these signals (each is a feature; the learned weights decide how
 * much each counts):
 *  - IDF-weighted support: a sentence that shares "the", "was", "first"
 *    with the passages but not "Mumbai" is unsupported; IDF makes the rare
 *    words decide.
 *  - Numbers (with the unit next to them) and capitalised names must each
 *    appear: they are what a hallucination swaps ("30 days" -> "60 days")
 *    while every other word still matches.
 *  - The best window: support stitched together from unrelated sentences
 *    ("Stanford University is located in Chestnut Hill", both names present
 *    but never together) is weaker than support found in one place.
 *  - Term pairs in order and negation: "A beat B" vs "B beat A", "was" vs
 *    "was not", which bags of words cannot see.
 */
#include "rag/evidence.h"

#include "rag/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EV_SENT_TOKENS 1024 /* a "sentence" longer than this is cut into windows */
#define UNIT_TOKENS 1024
#define UNIT_TERMS 64 /* terms that take part in windows */
#define PREFIX_LEN 5  /* "nominated" ~ "nomination" */

const char *const fr_feature_names[FR_F_COUNT] = {
    "support",     "support_exact",   "support_plain", "support_prefix",  "support_soft",
    "missing_verb_w", "missing_noun_w", "window",
    "window1",     "window3",         "locality",      "missing_top",     "missing_run",
    "missing_run_w", "terms",         "missing",       "idf_mean",        "numbers_missing",
    "names_missing", "facts",         "pairs",         "negation",        "span_pos",
    "evidence",    "subclaims",       "sent_support",  "sent_window",     "sent_missing_run",
    "sent_pairs",
};

/* ---- a set of 64-bit hashes -------------------------------------------- */

typedef struct hset {
    uint64_t *k; /* 0 = empty slot */
    size_t cap, used;
} hset;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x ? x : 1;
}

/* FNV-1a of a kind byte and s[0..n). */
static uint64_t hash_of(char kind, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (unsigned char)kind) * 1099511628211ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return mix64(h);
}

static uint64_t pair_of(uint64_t a, uint64_t b) { return mix64(a * 31 + (b ^ 0x9e3779b97f4a7c15ull)); }

/* Adds k; *fresh (may be NULL) tells whether it was new. False on out of
 * memory. */
static bool hset_put(hset *s, uint64_t k, bool *fresh)
{
    if (2 * (s->used + 1) > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        uint64_t *nk = calloc(nc, sizeof *nk);
        if (!nk)
            return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->k[i])
                continue;
            size_t j = s->k[i] & (nc - 1);
            while (nk[j])
                j = (j + 1) & (nc - 1);
            nk[j] = s->k[i];
        }
        free(s->k);
        s->k = nk;
        s->cap = nc;
    }
    size_t j = k & (s->cap - 1);
    if (fresh)
        *fresh = false;
    while (s->k[j]) {
        if (s->k[j] == k)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    s->k[j] = k;
    s->used++;
    if (fresh)
        *fresh = true;
    return true;
}

static bool hset_add(hset *s, uint64_t k) { return hset_put(s, k, NULL); }

static bool hset_has(const hset *s, uint64_t k)
{
    if (!s->cap)
        return false;
    size_t j = k & (s->cap - 1);
    while (s->k[j]) {
        if (s->k[j] == k)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

/* ---- words ------------------------------------------------------------- */

static const char *const ev_months[] = {"january", "february", "march",     "april",
                                        "may",     "june",     "july",      "august",
                                        "september", "october", "november", "december"};

/* Month number for a month name or its 3-letter abbreviation ("Sept" too). */
static int month_of(const char *w, size_t n)
{
    if (n < 3)
        return 0;
    for (int m = 0; m < 12; m++) {
        size_t ml = strlen(ev_months[m]);
        if ((n == ml || n == 3 || (n == 4 && m == 8)) && n <= ml && strncasecmp(w, ev_months[m], n) == 0)
            return m + 1;
    }
    return 0;
}

/* Canonical unit of a token (a symbol or a unit word), or NULL. */
static const char *unit_of(const char *s, const fr_token *t)
{
    char term[FR_TERM_MAX];
    size_t n;
    if (t->kind == FR_TOK_SYMBOL) {
        if (t->len >= FR_TERM_MAX)
            return NULL;
        memcpy(term, s + t->off, t->len);
        n = t->len;
        term[n] = '\0';
    } else {
        if (t->flags & FR_TF_DIGIT)
            return NULL;
        n = fr_term(s + t->off, t->len, term);
    }
    if (n == 0 || !fr_is_unit(term, n))
        return NULL;
    static const char *const map[][2] = {
        {"$", "usd"},   {"dollar", "usd"}, {"\xE2\x82\xAC", "eur"}, {"euro", "eur"},
        {"\xC2\xA3", "gbp"}, {"pound", "gbp"}, {"\xC2\xA5", "jpy"}, {"percent", "%"},
        {"hr", "hour"}, {"yr", "year"},    {"min", "minut"},       {"liter", "l"},
        {"litr", "l"},  {"cent", "cent"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(term, map[i][0]) == 0)
            return map[i][1];
    static const char *const units[] = {"%",   "byte", "c",   "cm",    "day",   "eur",  "f",
                                        "g",   "gb",   "gbp", "ghz",   "hour",  "hz",   "inch",
                                        "kb",  "kg",   "khz", "km",    "kwh",   "l",    "lb",
                                        "m",   "mb",   "mg",  "mhz",   "minut", "ml",   "mm",
                                        "month", "ms", "mw",  "ounc",  "oz",    "second", "tb",
                                        "tonn", "usd", "v",   "w",     "watt",  "week", "year"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(term, units[i]) == 0)
            return units[i];
    return NULL;
}

/* True when t is the number inside a citation mark "[12]". */
static bool is_cite_mark(const char *s, size_t n, const fr_token *t)
{
    return (t->flags & FR_TF_DIGIT) && !(t->flags & FR_TF_ALPHA) && t->off > 0 &&
           s[t->off - 1] == '[' && t->off + t->len < n && s[t->off + t->len] == ']';
}

/* The unit attached to number token i: the next token within 2 bytes, or a
 * currency symbol right before it. */
static const char *attached_unit(const char *s, const fr_token *tk, size_t nt, size_t i)
{
    if (i + 1 < nt && tk[i + 1].off - (tk[i].off + tk[i].len) <= 2) {
        const char *u = unit_of(s, &tk[i + 1]);
        if (u)
            return u;
    }
    if (i > 0 && tk[i - 1].kind == FR_TOK_SYMBOL && tk[i].off - (tk[i - 1].off + tk[i - 1].len) <= 1) {
        const char *u = unit_of(s, &tk[i - 1]);
        if (u && strcmp(u, "%") != 0)
            return u;
    }
    return NULL;
}

/* Strips leading zeros of a plain number term ("03" -> "3"). */
static size_t strip_zeros(char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return n;
    size_t z = 0;
    while (z + 1 < n && t[z] == '0')
        z++;
    memmove(t, t + z, n - z + 1);
    return n - z;
}

static const char *const ev_negations[] = {"cannot", "neither", "never", "no", "nobody", "none",
                                           "nor",    "not",     "nothing", "without"};

/* True when word token t is a negation: a cue word, or the "t" of "n't". */
static bool is_negation(const char *s, const fr_token *t, const char *low)
{
    if (t->len == 1 && low[0] == 't' && t->off >= 2) {
        const char *q = s + t->off;
        if (q[-1] == '\'' && q[-2] == 'n')
            return true;
        if (t->off >= 4 && (unsigned char)q[-1] == 0x99 && (unsigned char)q[-2] == 0x80 &&
            (unsigned char)q[-3] == 0xE2 && q[-4] == 'n')
            return true;
        return false;
    }
    for (size_t i = 0; i < sizeof ev_negations / sizeof *ev_negations; i++)
        if (strcmp(low, ev_negations[i]) == 0)
            return true;
    return false;
}

/* Lowercase copy of a word token (out has FR_TERM_MAX bytes); its length,
 * 0 when too long. */
static size_t lower_of(const char *s, const fr_token *t, char *out)
{
    if (t->len >= FR_TERM_MAX)
        return 0;
    for (size_t k = 0; k < t->len; k++) {
        char c = s[t->off + k];
        out[k] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    out[t->len] = '\0';
    return t->len;
}

/* ---- the index --------------------------------------------------------- */

typedef struct ev_sent {
    uint32_t passage;
    size_t off, len; /* bytes of the passage */
    size_t t0, t1;   /* content-term hashes th[t0..t1) */
    bool neg;
} ev_sent;

struct fr_evidence {
    hset terms, words, facts, pairs, prefixes;
    uint64_t *th; /* content-term hashes, sentence after sentence */
    size_t nth, cap_th;
    ev_sent *sents;
    size_t ns, cap_s;
    size_t n_words;
    char *pool;      /* distinct content words of 4+ bytes, lowercase, NUL-separated */
    size_t pool_len, pool_cap;
    fr_token *tk; /* scratch: EV_SENT_TOKENS */
};

void fr_evidence_free(fr_evidence *ev)
{
    if (!ev)
        return;
    free(ev->terms.k);
    free(ev->words.k);
    free(ev->facts.k);
    free(ev->pairs.k);
    free(ev->prefixes.k);
    free(ev->th);
    free(ev->sents);
    free(ev->pool);
    free(ev->tk);
    free(ev);
}

static bool push_th(fr_evidence *ev, uint64_t h)
{
    if (ev->nth == ev->cap_th) {
        size_t nc = ev->cap_th ? ev->cap_th * 2 : 512;
        uint64_t *n = realloc(ev->th, nc * sizeof *n);
        if (!n)
            return false;
        ev->th = n;
        ev->cap_th = nc;
    }
    ev->th[ev->nth++] = h;
    return true;
}

static bool pool_add(fr_evidence *ev, const char *w, size_t n)
{
    if (ev->pool_len + n + 1 > ev->pool_cap) {
        size_t nc = ev->pool_cap ? ev->pool_cap * 2 : 4096;
        while (nc < ev->pool_len + n + 1)
            nc *= 2;
        char *p = realloc(ev->pool, nc);
        if (!p)
            return false;
        ev->pool = p;
        ev->pool_cap = nc;
    }
    memcpy(ev->pool + ev->pool_len, w, n);
    ev->pool[ev->pool_len + n] = '\0';
    ev->pool_len += n + 1;
    return true;
}

/* Indexes the tokens tk[0..nt) of one sentence s (bytes of the passage p). */
static bool add_sentence(fr_evidence *ev, uint32_t p, const char *s, size_t off, size_t len,
                         const fr_token *tk, size_t nt)
{
    if (ev->ns == ev->cap_s) {
        size_t nc = ev->cap_s ? ev->cap_s * 2 : 64;
        ev_sent *n = realloc(ev->sents, nc * sizeof *n);
        if (!n)
            return false;
        ev->sents = n;
        ev->cap_s = nc;
    }
    /* the span is the sentence without the blanks around it */
    (void)len;
    size_t a = nt ? tk[0].off : off, b = off + len;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\n' || s[b - 1] == '\t' || s[b - 1] == '\r'))
        b--;
    ev_sent *st = &ev->sents[ev->ns];
    *st = (ev_sent){p, a, b - a, ev->nth, ev->nth, false};
    char term[FR_TERM_MAX], low[FR_TERM_MAX], fact[2 * FR_TERM_MAX];
    for (size_t i = 0; i < nt; i++) {
        if (tk[i].kind != FR_TOK_WORD)
            continue;
        ev->n_words++;
        size_t ll = lower_of(s, &tk[i], low);
        size_t tl = fr_term(s + tk[i].off, tk[i].len, term);
        if (!tl || !ll)
            continue;
        uint64_t th = hash_of('t', term, tl);
        bool fresh;
        if (!hset_add(&ev->terms, th) || !hset_put(&ev->words, hash_of('w', low, ll), &fresh) ||
            (ll >= PREFIX_LEN && !hset_add(&ev->prefixes, hash_of('p', low, PREFIX_LEN))))
            return false;
        st->neg |= is_negation(s, &tk[i], low);
        int m = month_of(low, ll);
        if (m) {
            char num[4];
            int l = snprintf(num, sizeof num, "%d", m);
            if (!hset_add(&ev->terms, hash_of('t', num, (size_t)l)))
                return false;
        }
        if (tk[i].flags & FR_TF_DIGIT) {
            const char *u = attached_unit(s, tk, nt, i);
            if (u) {
                int l = snprintf(fact, sizeof fact, "%s|%s", term, u);
                if (!hset_add(&ev->facts, hash_of('f', fact, (size_t)l)))
                    return false;
            }
        }
        if (fr_is_stopword(low, ll) || fr_is_stopword(term, tl))
            continue;
        if (fresh && ll >= 4 && !(tk[i].flags & FR_TF_DIGIT) && !pool_add(ev, low, ll))
            return false;
        /* ordered pairs with the two content terms before this one */
        for (size_t d = 1; d <= 2 && st->t0 + d <= ev->nth; d++)
            if (!hset_add(&ev->pairs, pair_of(ev->th[ev->nth - d], th)))
                return false;
        if (!push_th(ev, th))
            return false;
    }
    st->t1 = ev->nth;
    ev->ns++;
    return true;
}

fr_evidence *fr_evidence_create(const char *const *passages, const size_t *plens, size_t np)
{
    fr_evidence *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->tk = malloc(EV_SENT_TOKENS * sizeof *ev->tk)))
        goto fail;
    for (size_t p = 0; p < np; p++) {
        const char *s = passages[p];
        size_t n = plens[p], off = 0;
        if (!s)
            continue;
        while (off < n) {
            size_t e = fr_sentence_end(s, n, off);
            if (e <= off)
                e = n;
            /* tokens of [off, e), in windows of EV_SENT_TOKENS */
            size_t pos = off, start = off;
            for (;;) {
                size_t nt = 0;
                fr_token t;
                while (nt < EV_SENT_TOKENS && pos < e && fr_next_token(s, e, &pos, &t))
                    ev->tk[nt++] = t;
                if (nt == 0)
                    break;
                size_t end = nt == EV_SENT_TOKENS ? ev->tk[nt - 1].off + ev->tk[nt - 1].len : e;
                if (!add_sentence(ev, (uint32_t)p, s, start, end - start, ev->tk, nt))
                    goto fail;
                if (nt < EV_SENT_TOKENS)
                    break;
                start = pos = end;
            }
            off = e;
        }
    }
    return ev;
fail:
    fr_evidence_free(ev);
    return NULL;
}

bool fr_evidence_has_term(const fr_evidence *ev, const char *term, size_t n)
{
    return hset_has(&ev->terms, hash_of('t', term, n));
}

/* Dice coefficient of the character trigrams of a and b (with a boundary
 * mark at each end): "founded"/"founder" 0.67, "election"/"elected" 0.62. */
static double trigram_dice(const char *a, size_t na, const char *b, size_t nb)
{
    char pa[FR_TERM_MAX + 2], pb[FR_TERM_MAX + 2];
    if (na >= FR_TERM_MAX || nb >= FR_TERM_MAX)
        return 0;
    pa[0] = pb[0] = '^';
    memcpy(pa + 1, a, na);
    memcpy(pb + 1, b, nb);
    pa[na + 1] = pb[nb + 1] = '$';
    size_t ta = na, tb = nb; /* trigrams: (n + 2) - 2 */
    bool used[FR_TERM_MAX];
    memset(used, 0, sizeof used);
    size_t common = 0;
    for (size_t i = 0; i < ta; i++)
        for (size_t j = 0; j < tb; j++)
            if (!used[j] && memcmp(pa + i, pb + j, 3) == 0) {
                used[j] = true;
                common++;
                break;
            }
    return 2.0 * (double)common / (double)(ta + tb);
}

/* The best trigram similarity of word w to a content word of the evidence. */
static double soft_match(const fr_evidence *ev, const char *w, size_t n)
{
    double best = 0;
    if (n < 4)
        return 0;
    for (size_t off = 0; off < ev->pool_len;) {
        const char *e = ev->pool + off;
        size_t el = strlen(e);
        off += el + 1;
        if (el + 4 < n || n + 4 < el || e[0] != w[0])
            continue;
        double d = trigram_dice(w, n, e, el);
        if (d > best)
            best = d;
    }
    return best;
}

/* ---- one sub-claim ----------------------------------------------------- */

typedef struct unit_term {
    uint64_t h;
    double w; /* idf * credit */
} unit_term;

void fr_evidence_score(const fr_evidence *ev, const char *s, size_t n, fr_rag_idf_fn idf,
                       void *idf_user, int n_subclaims, fr_unit_score *out)
{
    memset(out, 0, sizeof *out);
    out->passage = -1;
    fr_token tk[UNIT_TOKENS];
    size_t nt = 0, pos = 0;
    fr_token t;
    while (nt < UNIT_TOKENS && fr_next_token(s, n, &pos, &t))
        if (!is_cite_mark(s, n, &t))
            tk[nt++] = t;

    unit_term ut[UNIT_TERMS];
    size_t nut = 0;
    uint64_t seen[UNIT_TOKENS], seq[UNIT_TOKENS]; /* distinct terms; content terms in order */
    double seen_w[UNIT_TOKENS];
    bool seen_found[UNIT_TOKENS];
    size_t nseen = 0, nseq = 0, run = 0, run_max = 0;
    double w_soft = 0, w_miss_verb = 0, w_miss_noun = 0;
    double w_all = 0, w_found = 0, w_exact = 0, w_prefix = 0, w_top_missing = 0, run_w = 0, run_w_max = 0;
    int n_terms = 0, n_found = 0, nums_missing = 0, names_missing = 0;
    bool neg = false, first_word = true;
    char term[FR_TERM_MAX], low[FR_TERM_MAX], fact[2 * FR_TERM_MAX], top_word[FR_TERM_MAX] = "";
    for (size_t i = 0; i < nt; i++) {
        if (tk[i].kind != FR_TOK_WORD)
            continue;
        bool sent0 = first_word;
        first_word = false;
        size_t ll = lower_of(s, &tk[i], low);
        size_t tl = fr_term(s + tk[i].off, tk[i].len, term);
        if (!tl || !ll)
            continue;
        neg |= is_negation(s, &tk[i], low);
        bool digit = (tk[i].flags & FR_TF_DIGIT) != 0;
        uint64_t th = hash_of('t', term, tl);
        bool present = hset_has(&ev->terms, th);
        if (digit && !present) {
            char z[FR_TERM_MAX];
            memcpy(z, term, tl + 1);
            size_t zl = strip_zeros(z, tl);
            present = hset_has(&ev->terms, hash_of('t', z, zl));
        }
        bool stop = fr_is_stopword(low, ll) || fr_is_stopword(term, tl);
        /* facts: numbers (with their unit) and names */
        bool is_fact = false, fact_ok = true;
        if (digit) {
            is_fact = true;
            fact_ok = present;
            const char *u = attached_unit(s, tk, nt, i);
            if (fact_ok && u) {
                int l = snprintf(fact, sizeof fact, "%s|%s", term, u);
                fact_ok = hset_has(&ev->facts, hash_of('f', fact, (size_t)l));
            }
        } else if (!stop && (((tk[i].flags & FR_TF_UPPER) && !sent0) || (tk[i].flags & FR_TF_CAPS))) {
            is_fact = true;
            fact_ok = present;
        }
        if (is_fact) {
            out->n_facts++;
            if (!fact_ok) {
                out->n_facts_missing++;
                digit ? nums_missing++ : names_missing++;
                /* name the number with its unit: "18 weeks", "$159.00" */
                size_t a0 = tk[i].off, a1 = tk[i].off + tk[i].len;
                if (digit && attached_unit(s, tk, nt, i)) {
                    if (i + 1 < nt && unit_of(s, &tk[i + 1]) && tk[i + 1].off - a1 <= 2)
                        a1 = tk[i + 1].off + tk[i + 1].len;
                    else if (i > 0 && tk[i - 1].kind == FR_TOK_SYMBOL)
                        a0 = tk[i - 1].off;
                }
                if (!out->missing[0])
                    snprintf(out->missing, sizeof out->missing, "%.*s",
                             (int)(a1 - a0 < 60 ? a1 - a0 : 60), s + a0);
            }
        }
        if (stop)
            continue;
        size_t k = 0;
        while (k < nseen && seen[k] != th)
            k++;
        if (k == nseen) {
            double w = idf ? idf(idf_user, low, term) : 1.0;
            if (!(w > 0) || !isfinite(w))
                w = 0;
            bool exact = present && (digit || hset_has(&ev->words, hash_of('w', low, ll)));
            bool prefix = present || (!digit && ll >= PREFIX_LEN &&
                                      hset_has(&ev->prefixes, hash_of('p', low, PREFIX_LEN)));
            double credit = present ? (exact ? 1.0 : 0.5) : 0.0;
            if (!present) {
                double sm = digit ? 0 : soft_match(ev, low, ll);
                w_soft += sm >= 0.5 ? w * sm : 0;
                bool name = ((tk[i].flags & FR_TF_UPPER) && !sent0) || (tk[i].flags & FR_TF_CAPS);
                bool verbish = ll >= 4 && (strcmp(low + ll - 2, "ed") == 0 || strcmp(low + ll - 3, "ing") == 0 ||
                                           strcmp(low + ll - 2, "ly") == 0);
                if (!digit && !name && verbish)
                    w_miss_verb += w;
                else if (!digit && !name)
                    w_miss_noun += w;
            } else {
                w_soft += w;
            }
            w_all += w;
            w_found += w * credit;
            w_exact += exact ? w : 0;
            w_prefix += prefix ? w : 0;
            n_terms++;
            n_found += present;
            if (!present && w > w_top_missing) {
                w_top_missing = w;
                snprintf(top_word, sizeof top_word, "%s", low);
            }
            if (credit > 0 && nut < UNIT_TERMS)
                ut[nut++] = (unit_term){th, w * credit};
            seen[nseen] = th;
            seen_w[nseen] = w;
            seen_found[nseen] = present;
            nseen++;
        }
        seq[nseq++] = th;
        /* runs of consecutive missing content words */
        if (seen_found[k]) {
            run = 0;
            run_w = 0;
        } else {
            run++;
            run_w += seen_w[k];
            if (run > run_max)
                run_max = run;
            if (run_w > run_w_max)
                run_w_max = run_w;
        }
    }
    if (!out->missing[0] && top_word[0])
        snprintf(out->missing, sizeof out->missing, "%s", top_word);

    /* the best window of one or two consecutive sentences of a passage */
    double best1 = 0, best2 = 0, best3 = 0;
    size_t bs = 0, be = 0;
    bool found_window = false;
    uint64_t prev = 0, prev2 = 0;
    for (size_t si = 0; si < ev->ns && nut > 0; si++) {
        const ev_sent *st = &ev->sents[si];
        uint64_t mask = 0;
        for (size_t j = st->t0; j < st->t1; j++)
            for (size_t k = 0; k < nut; k++)
                if (ev->th[j] == ut[k].h)
                    mask |= 1ull << k;
        if (si == 0 || ev->sents[si - 1].passage != st->passage)
            prev = prev2 = 0;
        double w1 = 0, w2 = 0, w3 = 0;
        for (size_t k = 0; k < nut; k++) {
            w1 += (mask >> k & 1) ? ut[k].w : 0;
            w2 += ((mask | prev) >> k & 1) ? ut[k].w : 0;
            w3 += ((mask | prev | prev2) >> k & 1) ? ut[k].w : 0;
        }
        if (w1 > best1)
            best1 = w1;
        if (w3 > best3)
            best3 = w3;
        if (w1 > best2 || (!found_window && w1 > 0)) {
            best2 = w1;
            bs = be = si;
            found_window = true;
        }
        if (prev && w2 > best2) {
            best2 = w2;
            bs = si - 1;
            be = si;
        }
        prev2 = prev;
        prev = mask;
    }
    /* ordered pairs of neighbouring content terms */
    int pairs = 0, pairs_found = 0;
    for (size_t k = 1; k < nseq; k++) {
        if (seq[k] == seq[k - 1])
            continue;
        pairs++;
        pairs_found += hset_has(&ev->pairs, pair_of(seq[k - 1], seq[k]));
    }

    double *f = out->f;
    f[FR_F_SUPPORT] = w_all > 0 ? w_found / w_all : 1.0;
    f[FR_F_SUPPORT_EXACT] = w_all > 0 ? w_exact / w_all : 1.0;
    f[FR_F_SUPPORT_PLAIN] = n_terms ? (double)n_found / n_terms : 1.0;
    f[FR_F_SUPPORT_PREFIX] = w_all > 0 ? w_prefix / w_all : 1.0;
    f[FR_F_SUPPORT_SOFT] = w_all > 0 ? w_soft / w_all : 1.0;
    f[FR_F_MISSING_VERB_W] = w_all > 0 ? w_miss_verb / w_all : 0.0;
    f[FR_F_MISSING_NOUN_W] = w_all > 0 ? w_miss_noun / w_all : 0.0;
    f[FR_F_WINDOW] = w_all > 0 ? best2 / w_all : 1.0;
    f[FR_F_WINDOW1] = w_all > 0 ? best1 / w_all : 1.0;
    f[FR_F_WINDOW3] = w_all > 0 ? best3 / w_all : 1.0;
    f[FR_F_LOCALITY] = w_found > 0 ? best2 / w_found : 1.0;
    f[FR_F_MISSING_TOP] = w_all > 0 ? w_top_missing / w_all : 0.0;
    f[FR_F_MISSING_RUN] = nseq ? (double)run_max / (double)nseq : 0.0;
    f[FR_F_MISSING_RUN_W] = w_all > 0 ? fmin(1.0, run_w_max / w_all) : 0.0;
    f[FR_F_TERMS] = log1p(n_terms);
    f[FR_F_MISSING] = log1p(n_terms - n_found);
    f[FR_F_IDF_MEAN] = n_terms ? w_all / n_terms / 10.0 : 0.0;
    f[FR_F_NUMBERS_MISSING] = nums_missing < 3 ? nums_missing : 3;
    f[FR_F_NAMES_MISSING] = names_missing < 3 ? names_missing : 3;
    f[FR_F_FACTS] = out->n_facts ? (double)(out->n_facts - out->n_facts_missing) / out->n_facts : 1.0;
    f[FR_F_PAIRS] = pairs ? (double)pairs_found / pairs : f[FR_F_SUPPORT_PLAIN];
    bool wneg = found_window && (ev->sents[bs].neg || ev->sents[be].neg);
    f[FR_F_NEGATION] = found_window && neg != wneg ? 1.0 : 0.0;
    f[FR_F_SPAN_POS] = found_window && ev->ns > 1 ? (double)bs / (double)(ev->ns - 1) : 0.0;
    f[FR_F_EVIDENCE] = log1p((double)ev->n_words) / 10.0;
    f[FR_F_SUBCLAIMS] = log(n_subclaims > 1 ? n_subclaims : 1);
    out->support = f[FR_F_SUPPORT];
    if (found_window) {
        out->passage = (int)ev->sents[bs].passage;
        out->span_off = (uint32_t)ev->sents[bs].off;
        size_t end = ev->sents[be].off + ev->sents[be].len;
        out->span_len = (uint32_t)(end - ev->sents[bs].off);
    }
}
