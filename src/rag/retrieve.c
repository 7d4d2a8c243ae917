/*
 * retrieve.c - question -> passages, and the retrieval gate.
 *
 * Query rewriting: FTS5 ANDs the words of a query, so a natural question
 * matches almost nothing; and FTS5 has syntax (NEAR, *, ^, column filters,
 * parentheses) that a user question must never trigger. So the question is
 * reduced to its content terms by our own tokenizer, and each term is
 * written as an FTS5 string ("term"), whose content is always literal, and
 * the strings are joined with OR. The tokenizer only emits letters, digits
 * and digit-internal '.' or ',', so no term can contain a quote; the
 * quoting still doubles any '"' as defence in depth.
 *
 * Fusion: reciprocal rank (1 / (60 + rank)) over the BM25 list and the
 * trigram list; ranks, not scores, because BM25 scores of the two indexes
 * are on unrelated scales. The two lists come from the store (kb.h): FTS5
 * in SQLite, full-text search and pg_trgm in PostgreSQL; everything else
 * here is the same for both. A retrieval reads one snapshot of the store,
 * so a document re-indexed meanwhile is seen whole, old or new.
 *
 * The gate: a question's rare terms carry its meaning ("Aurora X2",
 * "lace plant"). If no top passage contains enough of the question's IDF
 * mass, or the rarest question term is in none of them, the model would have
 * to answer from its own memory, so the pipeline abstains before asking.
 */
#include "rag/kb.h"
#include "rag/text.h"

#include "base/buf.h"
#include "base/clock.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FR_Q_TERMS_MAX 64
#define FR_RRF_K 60.0

typedef struct qterm {
    char word[FR_TERM_MAX]; /* lowercase surface form */
    char term[FR_TERM_MAX]; /* stemmed */
    double idf;
} qterm;

/* Content terms of a question, deduplicated by term. */
static size_t question_terms(const char *q, qterm *out, size_t max)
{
    size_t n = 0, pos = 0, len = strlen(q);
    fr_token t;
    bool after_how = false;
    while (n < max && fr_next_token(q, len, &pos, &t)) {
        if (t.kind != FR_TOK_WORD || t.len >= FR_TERM_MAX)
            continue;
        qterm *e = &out[n];
        for (size_t i = 0; i < t.len; i++) {
            char c = q[t.off + i];
            e->word[i] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
        }
        e->word[t.len] = '\0';
        /* "how long/much/many/often/far": phrasing, not content */
        bool phrasing = after_how && (strcmp(e->word, "long") == 0 || strcmp(e->word, "much") == 0 ||
                                      strcmp(e->word, "many") == 0 || strcmp(e->word, "often") == 0 ||
                                      strcmp(e->word, "far") == 0);
        after_how = strcmp(e->word, "how") == 0;
        size_t tl = fr_term(q + t.off, t.len, e->term);
        if (tl == 0 || phrasing || fr_is_stopword(e->word, t.len) || fr_is_stopword(e->term, tl))
            continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(out[k].term, e->term) == 0;
        if (!dup)
            n++;
    }
    return n;
}

static void fts_quote(fr_buf *b, const char *s, size_t n)
{
    fr_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fr_buf_putc(b, '"');
        fr_buf_putc(b, s[i]);
    }
    fr_buf_putc(b, '"');
}

/* "w1" OR "w2" ...: the FTS5 expression for a list of terms. */
static char *or_query(const char *const *w, size_t n)
{
    fr_buf b = FR_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            fr_buf_puts(&b, " OR ");
        fts_quote(&b, w[i], strlen(w[i]));
    }
    return fr_buf_take(&b);
}

char *fr_rag_fts_query(const char *question)
{
    qterm *t = malloc(FR_Q_TERMS_MAX * sizeof *t);
    const char **w = malloc(FR_Q_TERMS_MAX * sizeof *w);
    char *s = NULL;
    if (t && w) {
        size_t n = question_terms(question ? question : "", t, FR_Q_TERMS_MAX);
        for (size_t i = 0; i < n; i++)
            w[i] = t[i].word;
        s = or_query(w, n);
    }
    free(t);
    free(w);
    return s;
}

/* The code-like terms of a question (at most max), each NUL-terminated in
 * out[i] (FR_TERM_MAX bytes: fr_next_code stops at 64). */
static size_t question_codes(const char *q, char (*out)[FR_TERM_MAX + 1], size_t max)
{
    size_t pos = 0, len = q ? strlen(q) : 0, n = 0;
    fr_token t;
    while (n < max && fr_next_code(q, len, &pos, &t)) {
        size_t l = t.len < FR_TERM_MAX ? t.len : FR_TERM_MAX;
        memcpy(out[n], q + t.off, l);
        out[n][l] = '\0';
        n++;
    }
    return n;
}

char *fr_rag_code_query(const char *question)
{
    char(*c)[FR_TERM_MAX + 1] = malloc(FR_Q_TERMS_MAX * sizeof *c);
    const char **w = malloc(FR_Q_TERMS_MAX * sizeof *w);
    char *s = NULL;
    if (c && w) {
        size_t n = question_codes(question, c, FR_Q_TERMS_MAX);
        for (size_t i = 0; i < n; i++)
            w[i] = c[i];
        s = or_query(w, n);
    }
    free(c);
    free(w);
    return s;
}

typedef struct fused {
    int64_t id;
    int r1, r2;
    double score;
} fused;

static int cmp_fused(const void *a, const void *b)
{
    const fused *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Marks which question terms occur in text. */
static void terms_in(const char *text, const qterm *q, size_t nq, bool *found)
{
    memset(found, 0, nq * sizeof *found);
    size_t pos = 0, len = strlen(text);
    fr_token t;
    char term[FR_TERM_MAX];
    while (fr_next_token(text, len, &pos, &t)) {
        if (t.kind != FR_TOK_WORD)
            continue;
        size_t tl = fr_term(text + t.off, t.len, term);
        if (tl == 0)
            continue;
        for (size_t i = 0; i < nq; i++)
            if (!found[i] && strcmp(q[i].term, term) == 0)
                found[i] = true;
    }
}

void fr_kb_hits_free(fr_kb_hits *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].path);
        free(h->v[i].title);
        free(h->v[i].heading);
        free(h->v[i].text);
    }
    free(h->v);
    free(h->fts_query);
    free(h->tri_query);
    free(h->missing);
    free(h->gate_reason);
    free(h);
}

static void set_reason(fr_kb_hits *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(fr_kb_hits *h, const char *fmt, ...)
{
    fr_buf b = FR_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    fr_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(h->gate_reason);
    h->gate_reason = fr_buf_take(&b);
}

fr_status fr_kb_retrieve(fr_kb *kb, const char *question, const fr_kb_retrieve_opts *opts,
                         fr_kb_hits **out, fr_err *err)
{
    *out = NULL;
    int k = opts && opts->k > 0 ? opts->k : 5;
    if (k > 100)
        k = 100;
    int depth = opts && opts->depth > 0 ? opts->depth : (4 * k > 50 ? 4 * k : 50);
    if (depth > 1000)
        depth = 1000;
    if (depth < k)
        depth = k;
    double gate_min = opts && opts->gate_min != 0 ? opts->gate_min : 0.5;
    bool gate_off = gate_min < 0;
    double rare = opts && opts->rare_idf > 0 ? opts->rare_idf : 0.35;
    int gate_top = opts && opts->gate_top > 0 ? opts->gate_top : (k < 3 ? k : 3);

    fr_status st = FR_OK;
    bool reading = false;
    fr_kb_hits *h = calloc(1, sizeof *h);
    qterm *q = malloc(FR_Q_TERMS_MAX * sizeof *q);
    char(*codes)[FR_TERM_MAX + 1] = malloc(FR_Q_TERMS_MAX * sizeof *codes);
    const char **words = malloc(FR_Q_TERMS_MAX * sizeof *words);
    const char **code_ptrs = malloc(FR_Q_TERMS_MAX * sizeof *code_ptrs);
    int64_t *l1 = malloc((size_t)depth * sizeof *l1), *l2 = malloc((size_t)depth * sizeof *l2);
    fused *f = malloc((size_t)depth * 2 * sizeof *f);
    bool *found = malloc(FR_Q_TERMS_MAX * sizeof *found);
    bool *any = malloc(FR_Q_TERMS_MAX * sizeof *any);
    if (!h || !q || !codes || !words || !code_ptrs || !l1 || !l2 || !f || !found || !any) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
        goto done;
    }
    if (!question)
        question = "";
    size_t nq = question_terms(question, q, FR_Q_TERMS_MAX);
    size_t nc = question_codes(question, codes, FR_Q_TERMS_MAX);
    for (size_t i = 0; i < nq; i++)
        words[i] = q[i].word;
    for (size_t i = 0; i < nc; i++)
        code_ptrs[i] = codes[i];
    h->fts_query = or_query(words, nq);
    h->tri_query = or_query(code_ptrs, nc);
    if (!h->fts_query || !h->tri_query) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
        goto done;
    }
    const fr_kb_query kq = {words, nq, code_ptrs, nc, h->fts_query, h->tri_query};
    if ((st = fr_kb_tx_run(kb, FR_KB_TX_READ, err)))
        goto done;
    reading = true;
    int n1 = 0, n2 = 0;
    st = kb->ops->rank(kb, FR_KB_RANK_WORDS, &kq, depth, l1, &n1, err);
    if (st == FR_OK)
        st = kb->ops->rank(kb, FR_KB_RANK_CODES, &kq, depth, l2, &n2, err);
    if (st)
        goto done;
    int nf = 0;
    for (int i = 0; i < n1; i++)
        f[nf++] = (fused){l1[i], i + 1, 0, 1.0 / (FR_RRF_K + i + 1)};
    for (int i = 0; i < n2; i++) {
        int j = 0;
        while (j < nf && f[j].id != l2[i])
            j++;
        if (j == nf)
            f[nf++] = (fused){l2[i], 0, 0, 0.0};
        f[j].r2 = i + 1;
        f[j].score += 1.0 / (FR_RRF_K + i + 1);
    }
    qsort(f, (size_t)nf, sizeof *f, cmp_fused);
    size_t take = (size_t)(nf < k ? nf : k);
    if (take) {
        h->v = calloc(take, sizeof *h->v);
        if (!h->v) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
            goto done;
        }
    }
    for (size_t i = 0; i < take; i++) {
        fr_kb_passage *p = &h->v[i];
        p->chunk_id = f[i].id;
        p->score = f[i].score;
        p->bm25_rank = f[i].r1;
        p->tri_rank = f[i].r2;
        h->n++;
    }
    if (take && (st = kb->ops->fetch(kb, h->v, take, err)))
        goto done;

    /* ---- the gate ---- */
    double total = 0;
    uint64_t dfs[FR_Q_TERMS_MAX], n_chunks = 0;
    if (nq && (st = fr_kb_df_many(kb, words, nq, dfs, &n_chunks, err)))
        goto done;
    for (size_t i = 0; i < nq; i++) {
        q[i].idf = fr_idf(dfs[i], n_chunks);
        total += q[i].idf;
    }
    if (nq == 0 || total <= 0) {
        h->gate_pass = false;
        set_reason(h, "the question has no content words to look up");
        goto done;
    }
    if (h->n == 0) {
        h->gate_pass = false;
        set_reason(h, "no passage contains any of the question's terms");
        goto done;
    }
    memset(any, 0, nq * sizeof *any);
    for (size_t p = 0; p < h->n; p++) {
        terms_in(h->v[p].text, q, nq, found);
        double cov = 0;
        for (size_t i = 0; i < nq; i++)
            if (found[i]) {
                cov += q[i].idf;
                if ((int)p < gate_top)
                    any[i] = true;
            }
        h->v[p].coverage = cov / total;
        if ((int)p < gate_top && h->v[p].coverage > h->coverage)
            h->coverage = h->v[p].coverage;
    }
    size_t worst = SIZE_MAX;
    for (size_t i = 0; i < nq; i++)
        if (!any[i] && (worst == SIZE_MAX || q[i].idf > q[worst].idf))
            worst = i;
    double worst_share = worst == SIZE_MAX ? 0 : q[worst].idf / total;
    h->missing_share = worst_share;
    if (worst != SIZE_MAX)
        h->missing = strdup(q[worst].word);
    if (gate_off) {
        h->gate_pass = true;
        set_reason(h, "gate disabled (best passage covers %.0f%%)", 100 * h->coverage);
    } else if (h->coverage < gate_min) {
        h->gate_pass = false;
        set_reason(h, "the best passage covers %.0f%% of the question's weight (gate %.0f%%)",
                   100 * h->coverage, 100 * gate_min);
    } else if (worst != SIZE_MAX && worst_share >= rare) {
        h->gate_pass = false;
        set_reason(h, "\"%s\" (%.0f%% of the question's weight) is in none of the top %d passages",
                   q[worst].word, 100 * worst_share, gate_top);
    } else {
        h->gate_pass = true;
        set_reason(h, "the best passage covers %.0f%% of the question's weight", 100 * h->coverage);
    }
done:
    if (reading) {
        fr_status e2 = fr_kb_tx_run(kb, FR_KB_TX_READ_END, st ? NULL : err);
        if (st == FR_OK)
            st = e2;
    }
    free(q);
    free(codes);
    free(words);
    free(code_ptrs);
    free(l1);
    free(l2);
    free(f);
    free(found);
    free(any);
    if (st) {
        fr_kb_hits_free(h);
        return st;
    }
    if (!h->gate_reason) {
        fr_kb_hits_free(h);
        return fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
    }
    *out = h;
    return FR_OK;
}
