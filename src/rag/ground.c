/*
 * ground.c - the groundedness checker: how well do passages support a
 * sentence? (formula in frugal/rag.h, fr_rag_score_sentence)
 *
 * Three signals, each cheap and explainable:
 *  1. IDF-weighted support: a sentence that shares "the", "was", "first"
 *     with the passages but not "Mumbai" is unsupported; weighting by IDF
 *     makes the rare words decide.
 *  2. The fact check: numbers (with the unit or currency next to them),
 *     and capitalised names must each appear in a cited passage. These are
 *     what a hallucination swaps ("30 days" -> "60 days", "$49" -> "$59")
 *     while every other word still matches, so they are a hard gate rather
 *     than one more weighted word.
 *  3. The model's own probabilities for tokens it did not copy from the
 *     passages, when the caller has them: an unsure invention scores lower.
 * Rejected: an NLI model (needs a second network, breaks "offline, small,
 * C"); n-gram overlap (measured no better than unigram IDF support on the
 * benchmark sets and brittle to paraphrase).
 *
 * Answer parsing: sentences end at a terminator (fr_sentence_end) or after
 * a citation group that is followed by a new sentence; citation marks
 * "[n]" directly after a sentence belong to it. Citation marks are skipped
 * by the scorer so that "[2]" never counts as the number 2.
 */
#include "rag/text.h"

#include <frugal/rag.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FR_SENT_TOKENS_MAX 4096

static const char *const fr_months[] = {"january", "february", "march",     "april",
                                        "may",     "june",     "july",      "august",
                                        "september", "october", "november", "december"};

/* Month number ("3") for a month name or its 3-letter abbreviation. */
static int month_of(const char *w, size_t n)
{
    if (n < 3)
        return 0;
    for (int m = 0; m < 12; m++) {
        size_t ml = strlen(fr_months[m]);
        if ((n == ml || n == 3 || (n == 4 && m == 8)) && n <= ml &&
            strncasecmp(w, fr_months[m], n) == 0)
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

/* Tokens of s[0..n) without citation marks. Returns the count (capped). */
static size_t tokens_of(const char *s, size_t n, fr_token *out, size_t max)
{
    size_t pos = 0, k = 0;
    fr_token t;
    while (k < max && fr_next_token(s, n, &pos, &t))
        if (!is_cite_mark(s, n, &t))
            out[k++] = t;
    return k;
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

typedef struct evidence {
    fr_vocab *terms; /* stemmed terms of the passages (+ month numbers) */
    fr_vocab *words; /* lowercase surface words of the passages */
    fr_vocab *facts; /* "number|unit" pairs */
} evidence;

static bool evidence_add(evidence *ev, const char *s, size_t n, fr_token *tk)
{
    size_t nt = tokens_of(s, n, tk, FR_SENT_TOKENS_MAX);
    /* long passages: go on past the token buffer in windows */
    size_t base = 0;
    for (;;) {
        char term[FR_TERM_MAX], fact[2 * FR_TERM_MAX];
        for (size_t i = 0; i < nt; i++) {
            if (tk[i].kind != FR_TOK_WORD)
                continue;
            size_t tl = fr_term(s + base + tk[i].off, tk[i].len, term);
            if (tl && !fr_vocab_add(ev->terms, term, tl))
                return false;
            if (tk[i].len < FR_TERM_MAX) {
                char w[FR_TERM_MAX];
                for (size_t k = 0; k < tk[i].len; k++) {
                    char ch = s[base + tk[i].off + k];
                    w[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch | 0x20) : ch;
                }
                if (!fr_vocab_add(ev->words, w, tk[i].len))
                    return false;
            }
            int m = month_of(s + base + tk[i].off, tk[i].len);
            if (m) {
                char num[4];
                int l = snprintf(num, sizeof num, "%d", m);
                if (!fr_vocab_add(ev->terms, num, (size_t)l))
                    return false;
            }
            if ((tk[i].flags & FR_TF_DIGIT) && tl) {
                const char *u = attached_unit(s + base, tk, nt, i);
                if (u) {
                    int l = snprintf(fact, sizeof fact, "%s|%s", term, u);
                    if (!fr_vocab_add(ev->facts, fact, (size_t)l))
                        return false;
                }
            }
        }
        if (nt < FR_SENT_TOKENS_MAX)
            break;
        size_t next = base + tk[nt - 1].off + tk[nt - 1].len;
        if (next >= n)
            break;
        base = next;
        nt = tokens_of(s + base, n - base, tk, FR_SENT_TOKENS_MAX);
    }
    return true;
}

#define FR_CLAIM_TERMS_MAX 256

typedef struct claim_term {
    char term[FR_TERM_MAX];
    double w;      /* idf * match credit */
    bool num;      /* a number (a fact that needs context) */
    bool anchored; /* num: seen in a window with another word of the claim */
} claim_term;

/*
 * Locality: the largest share of the found weight that one window of two
 * consecutive evidence sentences holds. A hallucination that stitches true
 * words from unrelated sentences ("Stanford University is located in
 * Chestnut Hill", both names present but never together) has its support
 * spread thin; a supported claim usually has it together. Returns the
 * weight held by the best window. Also marks a number "anchored" when a
 * window holds it together with another word of the claim: "up to 80
 * sensors" is not supported by "-80 degrees" in an unrelated sentence.
 * And records each passage's best window (for passage p < n_span) in
 * span_off/span_len: the span a reader is shown as the one that supports
 * the claim.
 */
static double locality(const char *const *passages, const size_t *plens, size_t np,
                       claim_term *ct, size_t nct, uint32_t *span_off, uint32_t *span_len,
                       size_t n_span)
{
    bool cur[FR_CLAIM_TERMS_MAX], prev[FR_CLAIM_TERMS_MAX];
    double best = 0;
    char term[FR_TERM_MAX];
    for (size_t p = 0; p < np; p++) {
        const char *s = passages[p];
        size_t n = plens[p];
        if (!s)
            continue;
        memset(cur, 0, nct * sizeof *cur);
        memset(prev, 0, nct * sizeof *prev);
        size_t pos = 0, last_end = 0, last_len = 0;
        size_t cur_start = 0, prev_start = 0; /* first byte of each window sentence */
        double pbest = 0;                     /* this passage's best window */
        bool last_upper = false;
        fr_token t;
        for (;;) {
            bool more = fr_next_token(s, n, &pos, &t);
            bool boundary = !more;
            if (more && last_end > 0) {
                bool stop = false, ws = false;
                for (size_t k = last_end; k < t.off; k++) {
                    stop |= s[k] == '.' || s[k] == '!' || s[k] == '?';
                    ws |= s[k] == ' ' || s[k] == '\n';
                }
                boundary = stop && (ws || (t.flags & FR_TF_UPPER)) &&
                           !(last_len == 1 && last_upper);
            }
            if (boundary) {
                double wc = 0, wp = 0;
                for (size_t i = 0; i < nct; i++) {
                    wc += cur[i] ? ct[i].w : 0;
                    wp += (cur[i] || prev[i]) ? ct[i].w : 0;
                }
                best = wc > best ? wc : best;
                best = wp > best ? wp : best;
                /* the span: this passage's best window; the one sentence
                 * when the previous one adds nothing */
                double wb = wp > wc ? wp : wc;
                if (wb > pbest && p < n_span) {
                    pbest = wb;
                    size_t a = wp > wc ? prev_start : cur_start, b = last_end;
                    while (b < n && (s[b] == '.' || s[b] == '!' || s[b] == '?'))
                        b++;
                    span_off[p] = (uint32_t)(a > UINT32_MAX ? UINT32_MAX : a);
                    span_len[p] = (uint32_t)(b - a > UINT32_MAX ? UINT32_MAX : b - a);
                }
                prev_start = cur_start;
                bool words = false;
                for (size_t i = 0; i < nct && !words; i++)
                    words = !ct[i].num && (cur[i] || prev[i]);
                for (size_t i = 0; i < nct && words; i++)
                    if (ct[i].num && (cur[i] || prev[i]))
                        ct[i].anchored = true;
                memcpy(prev, cur, nct * sizeof *cur);
                memset(cur, 0, nct * sizeof *cur);
            }
            if (!more)
                break;
            if (boundary || last_end == 0)
                cur_start = t.off;
            last_end = t.off + t.len;
            last_len = t.len;
            last_upper = (t.flags & FR_TF_UPPER) != 0;
            if (t.kind != FR_TOK_WORD)
                continue;
            size_t tl = fr_term(s + t.off, t.len, term);
            if (!tl)
                continue;
            for (size_t i = 0; i < nct; i++)
                if (!cur[i] && strcmp(ct[i].term, term) == 0)
                    cur[i] = true;
        }
    }
    return best;
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

void fr_rag_score_sentence(const char *s, size_t n, const char *const *passages,
                           const size_t *plens, size_t n_passages, const fr_rag_check_opts *o,
                           fr_rag_sentence *out)
{
    memset(out, 0, sizeof *out);
    out->len = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
    out->lp_term = 1.0;
    double fact_w = o && o->fact_weight > 0 ? o->fact_weight : 0.5;
    evidence ev = {fr_vocab_create(), fr_vocab_create(), fr_vocab_create()};
    claim_term *ct = NULL;
    size_t nct = 0;
    fr_token *tk = malloc(FR_SENT_TOKENS_MAX * sizeof *tk);
    double stem_credit = o && o->stem_credit > 0 ? o->stem_credit : 0.5;
    if (!ev.terms || !ev.words || !ev.facts || !tk)
        goto done; /* out of memory: score 0, never "supported" */
    fr_vocab_begin_doc(ev.words);
    fr_vocab_begin_doc(ev.terms);
    fr_vocab_begin_doc(ev.facts);
    for (size_t p = 0; p < n_passages; p++)
        if (passages[p] && !evidence_add(&ev, passages[p], plens[p], tk))
            goto done;
    size_t nt = tokens_of(s, n, tk, FR_SENT_TOKENS_MAX);
    double w_all = 0, w_found = 0;
    char term[FR_TERM_MAX], word[FR_TERM_MAX], fact[2 * FR_TERM_MAX];
    /* distinct content terms: remember the ones already weighed */
    fr_vocab *seen = fr_vocab_create();
    ct = malloc(FR_CLAIM_TERMS_MAX * sizeof *ct);
    if (!seen || !ct) {
        fr_vocab_free(seen);
        goto done;
    }
    fr_vocab_begin_doc(seen);
    bool first_word = true;
    for (size_t i = 0; i < nt; i++) {
        const fr_token *t = &tk[i];
        if (t->kind != FR_TOK_WORD)
            continue;
        bool sent0 = first_word;
        first_word = false;
        size_t tl = fr_term(s + t->off, t->len, term);
        if (tl == 0)
            continue;
        for (size_t k = 0; k < t->len; k++) {
            char c = s[t->off + k];
            word[k] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
        }
        word[t->len] = '\0';
        bool stop = fr_is_stopword(word, t->len) || fr_is_stopword(term, tl);
        bool present = fr_vocab_df(ev.terms, term, tl) > 0;
        if ((t->flags & FR_TF_DIGIT) && !present) {
            char z[FR_TERM_MAX];
            memcpy(z, term, tl + 1);
            size_t zl = strip_zeros(z, tl);
            present = fr_vocab_df(ev.terms, z, zl) > 0;
        }
        /* facts */
        bool is_fact = false, fact_ok = true;
        if (t->flags & FR_TF_DIGIT) {
            is_fact = true;
            fact_ok = present;
            const char *u = attached_unit(s, tk, nt, i);
            if (fact_ok && u) {
                int l = snprintf(fact, sizeof fact, "%s|%s", term, u);
                fact_ok = fr_vocab_df(ev.facts, fact, (size_t)l) > 0;
            }
        } else if (!stop && (((t->flags & FR_TF_UPPER) && !sent0) || (t->flags & FR_TF_CAPS))) {
            is_fact = true;
            fact_ok = present;
        }
        if (is_fact) {
            out->n_facts++;
            if (!fact_ok) {
                out->n_facts_missing++;
                /* name the number with its unit: "18 weeks", "$159.00" */
                size_t a0 = t->off, a1 = t->off + t->len;
                if ((t->flags & FR_TF_DIGIT) && attached_unit(s, tk, nt, i)) {
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
        if (stop || fr_vocab_df(seen, term, tl) > 0)
            continue;
        if (!fr_vocab_add(seen, term, tl))
            break;
        double w = o && o->idf ? o->idf(o->idf_user, word, term) : 1.0;
        if (!(w > 0))
            w = 0;
        w_all += w;
        double credit = 0;
        if (present)
            credit = (t->flags & FR_TF_DIGIT) || fr_vocab_df(ev.words, word, t->len) > 0
                         ? 1.0
                         : stem_credit;
        w_found += w * credit;
        if (nct < FR_CLAIM_TERMS_MAX && credit > 0) {
            memcpy(ct[nct].term, term, tl + 1);
            ct[nct].w = w * credit;
            ct[nct].num = (t->flags & FR_TF_DIGIT) != 0;
            ct[nct].anchored = false;
            nct++;
        }
        else if (!out->missing[0] && !is_fact)
            snprintf(out->missing, sizeof out->missing, "%s", word);
    }
    fr_vocab_free(seen);
    out->support = w_all > 0 ? w_found / w_all : 1.0;
    double loc_exp = o && o->locality != 0 ? o->locality : 0.5;
    double ratio = 1.0;
    if (nct > 0) {
        double held = locality(passages, plens, n_passages, ct, nct, out->span_off,
                               out->span_len, sizeof out->span_off / sizeof out->span_off[0]);
        if (loc_exp > 0 && w_found > 0 && nct > 1)
            ratio = held / w_found;
        /* Numbers not anchored (ct[i].anchored false) are NOT failed here:
         * on WiCE that cost 0.03 AUROC (claims cite years and counts from
         * a different evidence sentence than their words); kept as data
         * for callers that want it later. */
    }

    /* the model's probability of what it did not copy */
    if (o && o->lps && o->n_lps && o->lp_weight > 0) {
        double sum = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < o->n_lps; i++) {
            const fr_rag_token_lp *lp = &o->lps[i];
            if ((size_t)lp->off >= n || lp->len == 0 || (size_t)lp->len > n - lp->off)
                continue;
            size_t pos = 0, copied = 1;
            fr_token t;
            const char *ts = s + lp->off;
            while (fr_next_token(ts, lp->len, &pos, &t)) {
                if (t.kind != FR_TOK_WORD)
                    continue;
                size_t tl = fr_term(ts + t.off, t.len, term);
                if (tl && !fr_is_stopword(term, tl) && fr_vocab_df(ev.terms, term, tl) == 0)
                    copied = 0;
            }
            if (!copied && isfinite(lp->logprob)) {
                sum += lp->logprob > 0 ? 0 : lp->logprob;
                cnt++;
            }
        }
        if (cnt)
            out->lp_term = exp(sum / (double)cnt);
    }
    double facts = out->n_facts ? (double)(out->n_facts - out->n_facts_missing) / out->n_facts : 1;
    double score = out->support;
    if (out->n_facts_missing)
        score *= fact_w * facts;
    if (ratio < 1.0)
        score *= pow(ratio > 0 ? ratio : 0, loc_exp);
    if (o && o->lp_weight > 0)
        score *= pow(out->lp_term, o->lp_weight);
    out->score = score < 0 ? 0 : score > 1 ? 1 : score;
done:
    free(ct);
    free(tk);
    fr_vocab_free(ev.terms);
    fr_vocab_free(ev.words);
    fr_vocab_free(ev.facts);
}

double fr_rag_overlap_score(const char *s, size_t n, const char *const *passages,
                            const size_t *plens, size_t n_passages)
{
    /* surface words, lowercased, no stemming: the plain baseline */
    fr_vocab *pw = fr_vocab_create(), *seen = fr_vocab_create();
    double score = 0;
    if (!pw || !seen)
        goto done;
    fr_vocab_begin_doc(pw);
    fr_vocab_begin_doc(seen);
    char w[FR_TERM_MAX];
    for (size_t p = 0; p < n_passages; p++) {
        size_t pos = 0;
        fr_token t;
        while (fr_next_token(passages[p], plens[p], &pos, &t)) {
            if (t.kind != FR_TOK_WORD || t.len >= FR_TERM_MAX)
                continue;
            for (size_t k = 0; k < t.len; k++) {
                char c = passages[p][t.off + k];
                w[k] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
            }
            if (!fr_vocab_add(pw, w, t.len))
                goto done;
        }
    }
    size_t pos = 0, total = 0, hit = 0;
    fr_token t;
    while (fr_next_token(s, n, &pos, &t)) {
        if (t.kind != FR_TOK_WORD || t.len >= FR_TERM_MAX)
            continue;
        for (size_t k = 0; k < t.len; k++) {
            char c = s[t.off + k];
            w[k] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
        }
        if (fr_is_stopword(w, t.len) || fr_vocab_df(seen, w, t.len))
            continue;
        if (!fr_vocab_add(seen, w, t.len))
            goto done;
        total++;
        hit += fr_vocab_df(pw, w, t.len) > 0;
    }
    score = total ? (double)hit / (double)total : 1.0;
done:
    fr_vocab_free(pw);
    fr_vocab_free(seen);
    return score;
}

/* ---- answers ------------------------------------------------------------- */

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Parses "[n]" at s[i..n); returns its end and the number, or 0. */
static size_t cite_at(const char *s, size_t n, size_t i, int *num)
{
    if (i >= n || s[i] != '[')
        return 0;
    size_t k = i + 1;
    long v = 0;
    while (k < n && s[k] >= '0' && s[k] <= '9' && k - i <= 4) {
        v = v * 10 + (s[k] - '0');
        k++;
    }
    if (k == i + 1 || k >= n || s[k] != ']')
        return 0;
    *num = (int)v;
    return k + 1;
}

/* End of the sentence starting at i (see the file comment). */
static size_t answer_sentence_end(const char *s, size_t n, size_t i)
{
    size_t e = fr_sentence_end(s, n, i);
    /* "A [1] B [2]": a citation group followed by a new sentence ends it */
    for (size_t k = i; k < e; k++) {
        int num;
        size_t c = cite_at(s, n, k, &num);
        if (!c)
            continue;
        while (c < e) {
            size_t w = c;
            while (w < e && is_ws(s[w]))
                w++;
            size_t c2 = cite_at(s, n, w, &num);
            if (!c2)
                break;
            c = c2;
        }
        size_t w = c;
        while (w < e && is_ws(s[w]))
            w++;
        if (w < e && w > c && s[w] != '.' && s[w] != '!' && s[w] != '?' && s[w] != '[') {
            e = c;
            break;
        }
        k = c - 1;
    }
    /* citations after the terminator belong to this sentence */
    for (;;) {
        size_t w = e;
        while (w < n && is_ws(s[w]))
            w++;
        int num;
        size_t c = cite_at(s, n, w, &num);
        if (!c)
            break;
        e = c;
        if (e < n && (s[e] == '.' || s[e] == '!' || s[e] == '?'))
            e++;
    }
    return e;
}

void fr_rag_checked_free(fr_rag_checked *c)
{
    if (!c)
        return;
    free(c->sentences);
    free(c);
}

fr_status fr_rag_check_answer(const char *answer, size_t len, const char *const *passages,
                              const size_t *plens, size_t n_passages, fr_rag_cites mode,
                              const fr_rag_check_opts *opts, fr_rag_checked **out, fr_err *err)
{
    *out = NULL;
    fr_rag_checked *c = calloc(1, sizeof *c);
    if (!c)
        return fr_err_set(err, FR_E_NOMEM, "out of memory checking an answer");
    double thr = opts && opts->threshold > 0 ? opts->threshold : FR_RAG_DEFAULT_THRESHOLD;
    size_t a = 0, b = len;
    while (a < b && is_ws(answer[a]))
        a++;
    while (b > a && is_ws(answer[b - 1]))
        b--;
    if (b - a == strlen(FR_RAG_NOT_FOUND) && memcmp(answer + a, FR_RAG_NOT_FOUND, b - a) == 0) {
        c->not_found = true;
        c->abstain = true;
        *out = c;
        return FR_OK;
    }
    size_t cap = 0;
    const char **sel = malloc((n_passages ? n_passages : 1) * sizeof *sel);
    size_t *sell = malloc((n_passages ? n_passages : 1) * sizeof *sell);
    fr_rag_token_lp *lps = opts && opts->n_lps ? malloc(opts->n_lps * sizeof *lps) : NULL;
    if (!sel || !sell || (opts && opts->n_lps && !lps))
        goto nomem;
    size_t i = a;
    double min = 1.0;
    while (i < b) {
        while (i < b && is_ws(answer[i]))
            i++;
        if (i >= b)
            break;
        size_t e = answer_sentence_end(answer, b, i);
        if (e <= i)
            e = b;
        if (c->n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            fr_rag_sentence *ns = realloc(c->sentences, nc * sizeof *ns);
            if (!ns)
                goto nomem;
            c->sentences = ns;
            cap = nc;
        }
        /* citations in the span */
        int cites[8], nci = 0;
        bool bad = false;
        for (size_t k = i; k < e; k++) {
            int num;
            size_t ce = cite_at(answer, e, k, &num);
            if (!ce)
                continue;
            if (num < 1 || (size_t)num > n_passages)
                bad = true;
            else if (nci < 8) {
                bool dup = false;
                for (int q = 0; q < nci; q++)
                    dup |= cites[q] == num;
                if (!dup)
                    cites[nci++] = num;
            }
            k = ce - 1;
        }
        c->bad_citation |= bad;
        if (mode == FR_RAG_CITES_IGNORED) {
            bad = false;
            nci = 0;
        }
        size_t ns = 0;
        if (nci) {
            for (int q = 0; q < nci; q++) {
                sel[ns] = passages[cites[q] - 1];
                sell[ns++] = plens[cites[q] - 1];
            }
        } else if (mode != FR_RAG_CITES_REQUIRED) {
            for (size_t q = 0; q < n_passages; q++) {
                sel[ns] = passages[q];
                sell[ns++] = plens[q];
            }
        }
        fr_rag_check_opts so = {0};
        if (opts)
            so = *opts;
        size_t nl = 0;
        for (size_t q = 0; lps && q < opts->n_lps; q++) {
            const fr_rag_token_lp *lp = &opts->lps[q];
            if (lp->off >= i && (size_t)lp->off + lp->len <= e) {
                lps[nl] = *lp;
                lps[nl++].off = (uint32_t)(lp->off - i);
            }
        }
        so.lps = lps;
        so.n_lps = nl;
        fr_rag_sentence *sc = &c->sentences[c->n++];
        fr_rag_score_sentence(answer + i, e - i, sel, sell, ns, &so, sc);
        sc->off = (uint32_t)i;
        sc->len = (uint32_t)(e - i);
        memcpy(sc->cites, cites, sizeof cites);
        sc->n_cites = mode == FR_RAG_CITES_IGNORED ? 0 : nci;
        if (ns == 0 || bad) {
            sc->score = 0;
            snprintf(sc->missing, sizeof sc->missing, "%s",
                     bad ? "(citation out of range)" : "(no citation)");
        }
        if (sc->score < min)
            min = sc->score;
        i = e;
    }
    free(sel);
    free(sell);
    free(lps);
    c->score = c->n ? min : 0;
    c->abstain = c->n == 0 || c->score < thr;
    *out = c;
    return FR_OK;
nomem:
    free(sel);
    free(sell);
    free(lps);
    fr_rag_checked_free(c);
    return fr_err_set(err, FR_E_NOMEM, "out of memory checking an answer");
}
