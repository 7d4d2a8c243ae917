/*
 * ground.c - the groundedness verdict: does a set of passages support a
 * sentence, an answer, a claim? (formula in frugal/rag.h)
 *
 * A sentence is split into sub-claims (claims.c); each is scored against
 * the passages (evidence.c computes its features) by the learned verifier
 * (verifier.c: logistic regression trained by tools/train_verifier.c on
 * WiCE and HaluEval, threshold chosen on held-out folds); the sentence is
 * as strong as its weakest sub-claim, times the model's own probability
 * for the tokens it did not copy from the passages when the caller has
 * them (lp_term^lp_weight: no public data pairs claims with a model's
 * token probabilities, so that factor is not learned). An answer is as
 * strong as its weakest sentence.
 *
 * Answer parsing: sentences end at a terminator (fr_sentence_end) or after
 * a citation group that is followed by a new sentence; citation marks
 * "[n]" directly after a sentence belong to it. Citation marks are skipped
 * by the scorer so that "[2]" never counts as the number 2.
 *
 * Rejected: an NLI model (a second network, breaks "offline, small, C");
 * hand-set weights (what this replaced: they ranked claims well but their
 * threshold was poorly calibrated, balanced accuracy 0.62 on a held-out
 * WiCE split).
 */
#include "rag/ground.h"

#include "rag/text.h"
#include "rag/verifier.h"

#include <frugal/rag.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fr_ground_units(const fr_evidence *ev, const char *s, size_t n, fr_rag_idf_fn idf, void *idf_user,
                       fr_subclaim *subs, fr_unit_score *units, char *text, size_t text_cap)
{
    size_t k = fr_split_claim(s, n, subs);
    if (k == 0) {
        memset(&subs[0], 0, sizeof subs[0]);
        subs[0].kind = FR_SUB_MAIN;
        subs[0].n_parts = 1;
        subs[0].len[0] = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
        k = 1;
    }
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        const char *t = "";
        size_t tl = 0;
        if (used < text_cap) {
            tl = fr_subclaim_text(s, &subs[i], text + used, text_cap - used);
            t = text + used;
            used += tl + 1;
        }
        fr_evidence_score(ev, t, tl, idf, idf_user, (int)k, &units[i]);
    }
    /* the whole sentence's figures, for every sub-claim */
    fr_unit_score whole;
    if (k == 1)
        whole = units[0];
    else
        fr_evidence_score(ev, s, n, idf, idf_user, 1, &whole);
    for (size_t i = 0; i < k; i++) {
        units[i].f[FR_F_SENT_SUPPORT] = whole.f[FR_F_SUPPORT];
        units[i].f[FR_F_SENT_WINDOW] = whole.f[FR_F_WINDOW];
        units[i].f[FR_F_SENT_MISSING_RUN] = whole.f[FR_F_MISSING_RUN];
        units[i].f[FR_F_SENT_PAIRS] = whole.f[FR_F_PAIRS];
    }
    return k;
}

/* exp(mean logprob) of the tokens of s that the model did not copy: a
 * token is copied when all its content words occur in the passages. */
static double lp_term(const fr_evidence *ev, const char *s, size_t n, const fr_rag_token_lp *lps,
                      size_t n_lps)
{
    double sum = 0;
    size_t cnt = 0;
    char term[FR_TERM_MAX];
    for (size_t i = 0; i < n_lps; i++) {
        const fr_rag_token_lp *lp = &lps[i];
        if ((size_t)lp->off >= n || lp->len == 0 || (size_t)lp->len > n - lp->off)
            continue;
        size_t pos = 0;
        bool copied = true;
        fr_token t;
        const char *ts = s + lp->off;
        while (fr_next_token(ts, lp->len, &pos, &t)) {
            if (t.kind != FR_TOK_WORD)
                continue;
            size_t tl = fr_term(ts + t.off, t.len, term);
            if (tl && !fr_is_stopword(term, tl) && !fr_evidence_has_term(ev, term, tl))
                copied = false;
        }
        if (!copied && isfinite(lp->logprob)) {
            sum += lp->logprob > 0 ? 0 : lp->logprob;
            cnt++;
        }
    }
    return cnt ? exp(sum / (double)cnt) : 1.0;
}

/* Scores sentence s[0..n) against ev into out; when subs is not NULL, also
 * fills subs[0..*n_subs) (texts as offsets into *texts, fixed up by the
 * caller). False on out of memory. */
static bool score_sentence(const fr_evidence *ev, const char *s, size_t n, const fr_rag_check_opts *o,
                           const fr_rag_verifier *v, double thr, fr_rag_sentence *out,
                           fr_rag_subclaim *subs, size_t *text_off, size_t *n_subs, fr_buf *texts)
{
    fr_subclaim sc[FR_SUBCLAIMS_MAX];
    fr_unit_score us[FR_SUBCLAIMS_MAX];
    size_t cap = FR_GROUND_TEXT_CAP(n);
    char *text = malloc(cap);
    if (!text)
        return false;
    size_t k = fr_ground_units(ev, s, n, o ? o->idf : NULL, o ? o->idf_user : NULL, sc, us, text, cap);
    memset(out, 0, sizeof *out);
    out->len = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
    out->prob = 1.0;
    size_t worst = 0, toff = 0;
    for (size_t i = 0; i < k; i++) {
        double p = fr_verifier_score(v, us[i].f, thr);
        size_t tl = strlen(text + toff);
        if (p < out->prob || i == 0) {
            out->prob = p;
            worst = i;
        }
        if (subs) {
            fr_rag_subclaim *d = &subs[i];
            memset(d, 0, sizeof *d);
            text_off[i] = texts->len;
            fr_buf_append(texts, text + toff, tl + 1);
            d->kind = fr_subclaim_kind_str(sc[i].kind);
            d->prob = p;
            d->supported = p >= thr;
            d->support = us[i].support;
            d->n_facts = us[i].n_facts;
            d->n_facts_missing = us[i].n_facts_missing;
            memcpy(d->missing, us[i].missing, sizeof d->missing);
            d->passage = us[i].passage;
            d->span_off = us[i].span_off;
            d->span_len = us[i].span_len;
        }
        toff += tl + 1;
    }
    free(text);
    if (n_subs)
        *n_subs = k;
    out->support = us[worst].support;
    out->n_facts = us[worst].n_facts;
    out->n_facts_missing = us[worst].n_facts_missing;
    memcpy(out->missing, us[worst].missing, sizeof out->missing);
    out->lp_term = 1.0;
    if (o && o->lps && o->n_lps && o->lp_weight > 0)
        out->lp_term = lp_term(ev, s, n, o->lps, o->n_lps);
    double score = out->prob;
    if (o && o->lp_weight > 0)
        score *= pow(out->lp_term, o->lp_weight);
    out->score = score < 0 ? 0 : score > 1 ? 1 : score;
    return !texts || fr_buf_ok(texts);
}

/* The verifier to use: opts' own, or the built-in one (*owned, to free). */
static fr_status verifier_of(const fr_rag_check_opts *o, const fr_rag_verifier **v, fr_rag_verifier **owned,
                             fr_err *err)
{
    *owned = NULL;
    if (o && o->verifier) {
        *v = o->verifier;
        return FR_OK;
    }
    fr_status st = fr_rag_verifier_builtin(owned, err);
    *v = *owned;
    return st;
}

double fr_rag_check_threshold(const fr_rag_check_opts *o)
{
    if (o && o->threshold > 0)
        return o->threshold;
    const fr_rag_verifier *v;
    fr_rag_verifier *owned;
    if (verifier_of(o, &v, &owned, NULL))
        return NAN;
    double t = fr_rag_verifier_threshold(v);
    fr_rag_verifier_free(owned);
    return t;
}

fr_status fr_rag_score_sentence(const char *s, size_t n, const char *const *passages, const size_t *plens,
                                size_t n_passages, const fr_rag_check_opts *o, fr_rag_sentence *out,
                                fr_err *err)
{
    memset(out, 0, sizeof *out);
    const fr_rag_verifier *v;
    fr_rag_verifier *owned;
    fr_status st = verifier_of(o, &v, &owned, err);
    if (st)
        return st;
    double thr = o && o->threshold > 0 ? o->threshold : fr_rag_verifier_threshold(v);
    fr_evidence *ev = fr_evidence_create(passages, plens, n_passages);
    if (!ev || !score_sentence(ev, s, n, o, v, thr, out, NULL, NULL, NULL, NULL))
        st = fr_err_set(err, FR_E_NOMEM, "out of memory scoring a sentence");
    fr_evidence_free(ev);
    fr_rag_verifier_free(owned);
    return st;
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
size_t fr_ground_sentence_end(const char *s, size_t n, size_t i)
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
    free(c->subs);
    free(c->text_);
    free(c);
}

bool fr_rag_sentence_span(const fr_rag_checked *c, size_t sentence, size_t p, uint32_t *off, uint32_t *len)
{
    *off = *len = 0;
    if (!c || sentence >= c->n)
        return false;
    const fr_rag_sentence *s = &c->sentences[sentence];
    const fr_rag_subclaim *best = NULL;
    for (size_t q = s->first_sub; q < s->first_sub + s->n_subs && q < c->n_subs; q++) {
        const fr_rag_subclaim *u = &c->subs[q];
        if (u->passage >= 0 && (size_t)u->passage == p && u->span_len && (!best || u->prob > best->prob))
            best = u;
    }
    if (!best)
        return false;
    *off = best->span_off;
    *len = best->span_len;
    return true;
}

/* The evidence of the passages a sentence cites, rebuilt only when the
 * cited set changes from one sentence to the next. */
typedef struct ev_cache {
    fr_evidence *ev;
    size_t key[8], n;
} ev_cache;

static const fr_evidence *ev_cited(ev_cache *c, const size_t *idx, size_t n, const char *const *passages,
                                   const size_t *plens)
{
    if (c->ev && c->n == n && memcmp(c->key, idx, n * sizeof *idx) == 0)
        return c->ev;
    fr_evidence_free(c->ev);
    const char *p[8];
    size_t pl[8];
    for (size_t i = 0; i < n; i++) {
        p[i] = passages[idx[i]];
        pl[i] = plens[idx[i]];
    }
    c->ev = fr_evidence_create(p, pl, n);
    c->n = n;
    memcpy(c->key, idx, n * sizeof *idx);
    return c->ev;
}

fr_status fr_rag_check_answer(const char *answer, size_t len, const char *const *passages,
                              const size_t *plens, size_t n_passages, fr_rag_cites mode,
                              const fr_rag_check_opts *opts, fr_rag_checked **out, fr_err *err)
{
    *out = NULL;
    const fr_rag_verifier *v;
    fr_rag_verifier *owned;
    fr_status st = verifier_of(opts, &v, &owned, err);
    if (st)
        return st;
    fr_rag_checked *c = calloc(1, sizeof *c);
    fr_evidence *all = NULL;
    ev_cache cache = {NULL, {0}, 0};
    fr_buf texts = FR_BUF_INIT;
    size_t *text_off = NULL, cap_subs = 0;
    fr_rag_token_lp *lps = NULL;
    if (!c)
        goto nomem;
    double thr = opts && opts->threshold > 0 ? opts->threshold : fr_rag_verifier_threshold(v);
    c->threshold = thr;
    size_t a = 0, b = len;
    while (a < b && is_ws(answer[a]))
        a++;
    while (b > a && is_ws(answer[b - 1]))
        b--;
    if (b - a == strlen(FR_RAG_NOT_FOUND) && memcmp(answer + a, FR_RAG_NOT_FOUND, b - a) == 0) {
        c->not_found = true;
        c->abstain = true;
        goto ok;
    }
    size_t cap = 0;
    lps = opts && opts->n_lps ? malloc(opts->n_lps * sizeof *lps) : NULL;
    if (opts && opts->n_lps && !lps)
        goto nomem;
    size_t i = a;
    double min = 1.0;
    while (i < b) {
        while (i < b && is_ws(answer[i]))
            i++;
        if (i >= b)
            break;
        size_t e = fr_ground_sentence_end(answer, b, i);
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
        if (c->n_subs + FR_SUBCLAIMS_MAX > cap_subs) {
            size_t nc = cap_subs ? cap_subs * 2 : 4 * FR_SUBCLAIMS_MAX;
            fr_rag_subclaim *ns = realloc(c->subs, nc * sizeof *ns);
            size_t *no = ns ? realloc(text_off, nc * sizeof *no) : NULL;
            if (ns)
                c->subs = ns;
            if (!no)
                goto nomem;
            text_off = no;
            cap_subs = nc;
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
        /* the evidence: the cited passages, or all of them */
        const fr_evidence *ev = NULL;
        bool none = false;
        if (nci) {
            size_t idx[8];
            for (int q = 0; q < nci; q++)
                idx[q] = (size_t)cites[q] - 1;
            if (!(ev = ev_cited(&cache, idx, (size_t)nci, passages, plens)))
                goto nomem;
        } else if (mode != FR_RAG_CITES_REQUIRED) {
            if (!all && !(all = fr_evidence_create(passages, plens, n_passages)))
                goto nomem;
            ev = all;
        } else {
            none = true;
            if (!all && !(all = fr_evidence_create(NULL, NULL, 0)))
                goto nomem;
            ev = all; /* scored against nothing, then set to 0 below */
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
        fr_rag_sentence *sc = &c->sentences[c->n];
        size_t ns = 0;
        if (!score_sentence(ev, answer + i, e - i, &so, v, thr, sc, c->subs + c->n_subs,
                            text_off + c->n_subs, &ns, &texts))
            goto nomem;
        for (size_t q = 0; q < ns; q++) {
            fr_rag_subclaim *u = &c->subs[c->n_subs + q];
            u->sentence = c->n;
            if (nci && u->passage >= 0 && u->passage < nci)
                u->passage = cites[u->passage] - 1; /* index among all passages */
        }
        sc->first_sub = c->n_subs;
        sc->n_subs = ns;
        c->n_subs += ns;
        c->n++;
        sc->off = (uint32_t)i;
        sc->len = (uint32_t)(e - i);
        memcpy(sc->cites, cites, sizeof cites);
        sc->n_cites = mode == FR_RAG_CITES_IGNORED ? 0 : nci;
        if (none || bad || (!nci && n_passages == 0)) {
            sc->score = sc->prob = 0;
            for (size_t q = sc->first_sub; q < sc->first_sub + sc->n_subs; q++) {
                c->subs[q].prob = 0;
                c->subs[q].supported = false;
            }
            snprintf(sc->missing, sizeof sc->missing, "%s",
                     bad ? "(citation out of range)" : "(no citation)");
        }
        if (sc->score < min)
            min = sc->score;
        i = e;
    }
    c->score = c->n ? min : 0;
    c->abstain = c->n == 0 || c->score < thr;
    c->text_ = fr_buf_take(&texts);
    if (!c->text_)
        goto nomem;
    for (size_t q = 0; q < c->n_subs; q++)
        c->subs[q].text = c->text_ + text_off[q];
ok:
    free(lps);
    free(text_off);
    fr_evidence_free(all);
    fr_evidence_free(cache.ev);
    fr_rag_verifier_free(owned);
    *out = c;
    return FR_OK;
nomem:
    free(lps);
    free(text_off);
    fr_buf_free(&texts);
    fr_evidence_free(all);
    fr_evidence_free(cache.ev);
    fr_rag_verifier_free(owned);
    fr_rag_checked_free(c);
    return fr_err_set(err, FR_E_NOMEM, "out of memory checking an answer");
}
