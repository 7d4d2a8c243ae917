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
 * are on unrelated scales.
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

char *fr_rag_fts_query(const char *question)
{
    qterm *t = malloc(FR_Q_TERMS_MAX * sizeof *t);
    if (!t)
        return NULL;
    size_t n = question_terms(question ? question : "", t, FR_Q_TERMS_MAX);
    fr_buf b = FR_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            fr_buf_puts(&b, " OR ");
        fts_quote(&b, t[i].word, strlen(t[i].word));
    }
    free(t);
    return fr_buf_take(&b);
}

char *fr_rag_code_query(const char *question)
{
    fr_buf b = FR_BUF_INIT;
    size_t pos = 0, len = question ? strlen(question) : 0, n = 0;
    fr_token t;
    while (n < FR_Q_TERMS_MAX && fr_next_code(question, len, &pos, &t)) {
        if (n++)
            fr_buf_puts(&b, " OR ");
        fts_quote(&b, question + t.off, t.len);
    }
    return fr_buf_take(&b);
}

/* Runs a ranked MATCH; ids[0..*n) best first. */
static fr_status ranked(fr_kb *kb, const char *sql, const char *query, int depth, int64_t *ids,
                        int *n, fr_err *err)
{
    *n = 0;
    if (!query || !query[0])
        return FR_OK;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &s, NULL) != SQLITE_OK)
        return fr_kb_sql_err(kb, err, "prepare retrieval");
    sqlite3_bind_text(s, 1, query, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, depth);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < depth)
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    fr_status st = FR_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = fr_err_set(err, FR_E_INTERNAL, "%s: retrieval query failed (%s) for MATCH %s",
                        kb->path, sqlite3_errmsg(kb->db), query);
    sqlite3_finalize(s);
    return st;
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

static char *col_dup(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? strdup(t) : NULL;
}

static fr_status fetch(fr_kb *kb, fr_kb_passage *p, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(kb->db,
                           "SELECT c.text, c.heading, c.page, c.byte_off, c.byte_len, d.path,"
                           " d.title FROM chunks c JOIN documents d ON d.id = c.doc_id"
                           " WHERE c.id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return fr_kb_sql_err(kb, err, "fetch passage");
    sqlite3_bind_int64(s, 1, p->chunk_id);
    fr_status st = FR_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        p->text = col_dup(s, 0);
        p->heading = col_dup(s, 1);
        p->page = sqlite3_column_int(s, 2);
        p->byte_off = (uint64_t)sqlite3_column_int64(s, 3);
        p->byte_len = (uint64_t)sqlite3_column_int64(s, 4);
        p->path = col_dup(s, 5);
        p->title = col_dup(s, 6);
        if (!p->text || !p->path)
            st = fr_err_set(err, FR_E_NOMEM, "out of memory fetching a passage");
    } else {
        st = fr_kb_sql_err(kb, err, "fetch passage");
    }
    sqlite3_finalize(s);
    return st;
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
    fr_kb_hits *h = calloc(1, sizeof *h);
    qterm *q = malloc(FR_Q_TERMS_MAX * sizeof *q);
    int64_t *l1 = malloc((size_t)depth * sizeof *l1), *l2 = malloc((size_t)depth * sizeof *l2);
    fused *f = malloc((size_t)depth * 2 * sizeof *f);
    bool *found = malloc(FR_Q_TERMS_MAX * sizeof *found);
    bool *any = malloc(FR_Q_TERMS_MAX * sizeof *any);
    if (!h || !q || !l1 || !l2 || !f || !found || !any) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
        goto done;
    }
    if (!question)
        question = "";
    h->fts_query = fr_rag_fts_query(question);
    h->tri_query = fr_rag_code_query(question);
    if (!h->fts_query || !h->tri_query) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
        goto done;
    }
    int n1 = 0, n2 = 0;
    st = ranked(kb,
                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1"
                " ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?2",
                h->fts_query, depth, l1, &n1, err);
    if (st == FR_OK)
        st = ranked(kb,
                    "SELECT rowid FROM chunks_tri WHERE chunks_tri MATCH ?1"
                    " ORDER BY bm25(chunks_tri) LIMIT ?2",
                    h->tri_query, depth, l2, &n2, err);
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
        if ((st = fetch(kb, p, err)))
            goto done;
    }

    /* ---- the gate ---- */
    size_t nq = question_terms(question, q, FR_Q_TERMS_MAX);
    double total = 0;
    for (size_t i = 0; i < nq; i++) {
        uint64_t df = 0, nc = 0;
        if ((st = fr_kb_df(kb, q[i].word, &df, &nc, err)))
            goto done;
        q[i].idf = fr_idf(df, nc);
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
    free(q);
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
