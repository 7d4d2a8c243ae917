/*
 * bench_rag.c - grounding quality and retrieval figures on ../shared/data.
 *
 *   bench_rag [--data DIR] [--pg postgresql://...] [halueval] [wice] [pubmedqa]
 *             (default: all three)
 *
 * halueval  checker on HaluEval QA: knowledge vs right (supported) and
 *           hallucinated (unsupported) answer.
 * wice      checker on WiCE dev, oracle evidence: supported vs
 *           partially_supported + not_supported.
 *   Both report AUROC and balanced accuracy of the frugal verdict and of the
 *   plain content-word-overlap baseline. Records are split by index: even =
 *   tune (the threshold that maximises balanced accuracy there), odd = test
 *   (where the reported balanced accuracy is measured); also the balanced
 *   accuracy at the verdict's own threshold. The verdict's weights were
 *   TRAINED ON THESE TWO SETS (tools/train_verifier.c), so these figures
 *   are in-sample: the honest ones are train_verifier's cross-validation
 *   (`make train-verifier`, and the "verifier" section of make bench). IDF
 *   comes from the dataset's own evidence texts (each knowledge / evidence
 *   sentence is one document), as a knowledge base's index would give it.
 * pubmedqa  index every abstract (CONTEXTS), ask each of the 1,000
 *           questions: recall@1/5/10 of its own abstract, queries/s, and the
 *           gate's pass rate; then, with the question's own abstract removed
 *           (a savepoint, rolled back after each question), the share of
 *           questions where the gate abstains. Then the whole ask pipeline
 *           (gate, then the verdict) with a stand-in for the model that
 *           answers with the reference conclusion (LONG_ANSWER, which is
 *           not part of CONTEXTS): answered / abstained with the own
 *           abstract indexed and removed. With --pg URI the retrieval runs
 *           again on a PostgreSQL knowledge base (all in one transaction,
 *           rolled back) and prints the recall differences.
 *
 * Never fails on a number; prints "skipped" and exits 0 when data is
 * missing. BENCH_SWEEP=1 adds balanced accuracy per threshold; BENCH_DUMP=1
 * writes every scored claim to stderr (for error analysis).
 */
#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "rag/eval.h"
#include "rag/kb.h"
#include "rag/text.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef fr_scored scored;

static int cmp_s(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x < y ? -1 : x > y;
}

static double auroc(const scored *v, size_t n, int split) { return fr_eval_auroc(v, n, split); }

static double bal_acc(const scored *v, size_t n, int split, double thr)
{
    return fr_eval_balanced_accuracy(v, n, split, thr);
}

/* Threshold with the best balanced accuracy on split (midpoints). */
static double best_thr(const scored *in, size_t n, int split)
{
    scored *v = malloc(n * sizeof *v);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i].split == split)
            v[m++] = in[i];
    qsort(v, m, sizeof *v, cmp_s);
    double best = 0.5, ba = -1;
    for (size_t i = 0; i + 1 <= m; i++) {
        double t = i == 0 ? v[0].s : (v[i - 1].s + v[i].s) / 2;
        if (i > 0 && v[i - 1].s == v[i].s)
            continue;
        double b = bal_acc(in, n, split, t);
        if (b > ba) {
            ba = b;
            best = t;
        }
    }
    free(v);
    return best;
}

static void report(const char *name, const scored *v, size_t n, double def)
{
    double thr = best_thr(v, n, 0);
    printf("  %-22s AUROC all %.4f  test %.4f | threshold %.3f (tuned on even records): "
           "balanced acc test %.4f, all %.4f",
           name, auroc(v, n, -1), auroc(v, n, 1), thr, bal_acc(v, n, 1, thr), bal_acc(v, n, -1, thr));
    if (def > 0)
        printf(" | at the default %.3f: all %.4f", def, bal_acc(v, n, -1, def));
    printf("\n");
}

static void sweep(const char *name, const scored *v, size_t n)
{
    if (!getenv("BENCH_SWEEP"))
        return;
    printf("  %-22s balanced acc (all) by threshold:", name);
    for (double t = 0.3; t < 1.0; t += 0.05)
        printf(" %.2f:%.3f", t, bal_acc(v, n, -1, t));
    printf("\n");
}

static double vocab_idf(void *user, const char *word, const char *term)
{
    (void)word;
    const fr_vocab *v = user;
    return fr_idf(fr_vocab_df(v, term, strlen(term)), fr_vocab_docs(v));
}

typedef struct cfg {
    bool no_idf;
} cfg;

/* Scores claim against passages with the verdict (min over its sentences
 * and sub-claims) and the baseline. */
static void score_pair(const char *claim, const char *const *p, const size_t *pl, size_t np,
                       fr_vocab *idf, const cfg *c, double *ours, double *base)
{
    fr_rag_check_opts o = {0};
    o.idf = c->no_idf ? NULL : vocab_idf;
    o.idf_user = idf;
    fr_rag_checked *r = NULL;
    *ours = 0;
    if (fr_rag_check_answer(claim, strlen(claim), p, pl, np, FR_RAG_CITES_IGNORED, &o, &r, NULL) == FR_OK) {
        *ours = r->n ? r->score : 0;
        fr_rag_checked_free(r);
    }
    *base = fr_rag_overlap_score(claim, strlen(claim), p, pl, np);
}

static int bench_halueval(const char *dir, const cfg *c)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/halueval_qa_one-turn.json", dir);
    char *data = NULL;
    size_t n = 0;
    fr_err err;
    if (fr_read_file(path, 64u << 20, &data, &n, &err)) {
        printf("halueval: skipped (%s)\n", err.msg);
        return 0;
    }
    json_t **recs = NULL;
    size_t nr = 0, cap = 0;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_t *j = json_loadb(line, len, 0, NULL);
        if (j) {
            if (nr == cap) {
                cap = cap ? cap * 2 : 512;
                recs = realloc(recs, cap * sizeof *recs);
            }
            recs[nr++] = j;
        }
        line = nl ? nl + 1 : NULL;
    }
    fr_vocab *idf = fr_vocab_create();
    for (size_t i = 0; i < nr; i++) {
        const char *k = json_string_value(json_object_get(recs[i], "knowledge"));
        if (k)
            fr_vocab_add_doc(idf, k, strlen(k));
    }
    scored *ours = calloc(2 * nr, sizeof *ours), *base = calloc(2 * nr, sizeof *base);
    size_t m = 0;
    double t0 = fr_now_s();
    for (size_t i = 0; i < nr; i++) {
        const char *k = json_string_value(json_object_get(recs[i], "knowledge"));
        const char *ra = json_string_value(json_object_get(recs[i], "right_answer"));
        const char *ha = json_string_value(json_object_get(recs[i], "hallucinated_answer"));
        if (!k || !ra || !ha)
            continue;
        size_t kl = strlen(k);
        const char *p[1] = {k};
        for (int y = 1; y >= 0; y--) {
            score_pair(y ? ra : ha, p, &kl, 1, idf, c, &ours[m].s, &base[m].s);
            if (getenv("BENCH_DUMP"))
                fprintf(stderr, "H\t%d\t%.3f\t%.3f\t%s\n", y, ours[m].s, base[m].s, y ? ra : ha);
            ours[m].y = base[m].y = y;
            ours[m].split = base[m].split = (int)(i % 2);
            m++;
        }
    }
    double dt = fr_now_s() - t0;
    printf("halueval_qa_one-turn.json: %zu records, %zu answers scored (%.0f claims/s)\n", nr, m,
           (double)m / dt);
    report("frugal verdict", ours, m, fr_rag_check_threshold(NULL));
    sweep("frugal verdict", ours, m);
    report("content-word overlap", base, m, 0);
    for (size_t i = 0; i < nr; i++)
        json_decref(recs[i]);
    free(recs);
    free(ours);
    free(base);
    fr_vocab_free(idf);
    free(data);
    return 0;
}

static int bench_wice(const char *dir, const cfg *c)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/wice_oracle_claim_dev.jsonl", dir);
    char *data = NULL;
    size_t n = 0;
    fr_err err;
    if (fr_read_file(path, 64u << 20, &data, &n, &err)) {
        printf("wice: skipped (%s)\n", err.msg);
        return 0;
    }
    json_t **recs = NULL;
    size_t nr = 0, cap = 0;
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_t *j = json_loadb(line, len, 0, NULL);
        if (j) {
            if (nr == cap) {
                cap = cap ? cap * 2 : 512;
                recs = realloc(recs, cap * sizeof *recs);
            }
            recs[nr++] = j;
        }
        line = nl ? nl + 1 : NULL;
    }
    fr_vocab *idf = fr_vocab_create();
    for (size_t i = 0; i < nr; i++) {
        json_t *ev = json_object_get(recs[i], "evidence"), *e;
        size_t k;
        json_array_foreach(ev, k, e) if (json_is_string(e))
            fr_vocab_add_doc(idf, json_string_value(e), json_string_length(e));
    }
    scored *ours = calloc(nr, sizeof *ours), *base = calloc(nr, sizeof *base);
    size_t m = 0, counts[3] = {0};
    double t0 = fr_now_s();
    for (size_t i = 0; i < nr; i++) {
        const char *label = json_string_value(json_object_get(recs[i], "label"));
        const char *claim = json_string_value(json_object_get(recs[i], "claim"));
        json_t *ev = json_object_get(recs[i], "evidence");
        if (!label || !claim || !json_is_array(ev))
            continue;
        size_t np = json_array_size(ev);
        /* one passage: the evidence sentences joined by blank lines, as
         * train_verifier reads them */
        fr_buf eb = FR_BUF_INIT;
        for (size_t k = 0; k < np; k++) {
            json_t *e = json_array_get(ev, k);
            if (json_is_string(e)) {
                if (eb.len)
                    fr_buf_puts(&eb, "\n\n");
                fr_buf_append(&eb, json_string_value(e), json_string_length(e));
            }
        }
        const char *p[1] = {eb.data ? eb.data : ""};
        size_t pl[1] = {eb.len}, q = 1;
        int y = strcmp(label, "supported") == 0;
        counts[y ? 0 : strcmp(label, "partially_supported") == 0 ? 1 : 2]++;
        score_pair(claim, p, pl, q, idf, c, &ours[m].s, &base[m].s);
        if (getenv("BENCH_DUMP"))
            fprintf(stderr, "W\t%d\t%.3f\t%.3f\t%s\n", y, ours[m].s, base[m].s, claim);
        ours[m].y = base[m].y = y;
        ours[m].split = base[m].split = (int)(i % 2);
        m++;
        fr_buf_free(&eb);
    }
    double dt = fr_now_s() - t0;
    printf("wice_oracle_claim_dev.jsonl: %zu claims (%zu supported, %zu partially, %zu not; "
           "%.0f claims/s)\n",
           m, counts[0], counts[1], counts[2], (double)m / dt);
    report("frugal verdict", ours, m, fr_rag_check_threshold(NULL));
    sweep("frugal verdict", ours, m);
    report("content-word overlap", base, m, 0);
    for (size_t i = 0; i < nr; i++)
        json_decref(recs[i]);
    free(recs);
    free(ours);
    free(base);
    fr_vocab_free(idf);
    free(data);
    return 0;
}

/* A stand-in for the model: answers with the question's reference
 * conclusion (PubMedQA's LONG_ANSWER), each sentence citing the first three
 * passages, so that what is measured is the pipeline's decision (the gate,
 * then the verdict on the cited passages), not a model's skill. */
static fr_status longanswer_gen(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res, fr_err *err)
{
    (void)err;
    const char *la = user;
    size_t n = strlen(la);
    fr_buf b = FR_BUF_INIT;
    char cites[32];
    int k = req->n_passages < 3 ? req->n_passages : 3;
    int cl = 0;
    for (int c = 1; c <= k; c++)
        cl += snprintf(cites + cl, sizeof cites - (size_t)cl, "[%d]", c);
    for (size_t off = 0; off < n;) {
        size_t e = fr_sentence_end(la, n, off);
        if (e <= off)
            e = n;
        size_t a = off;
        while (a < e && (la[a] == ' ' || la[a] == '\n'))
            a++;
        if (a < e) {
            if (b.len)
                fr_buf_putc(&b, ' ');
            for (size_t q = a; q < e; q++)
                fr_buf_putc(&b, la[q] == '[' ? '(' : la[q] == ']' ? ')' : la[q] == '\n' ? ' ' : la[q]);
            while (b.len && b.data[b.len - 1] == ' ')
                b.len--;
            if (b.len && !strchr(".!?", b.data[b.len - 1]))
                fr_buf_putc(&b, '.');
            fr_buf_printf(&b, " %s", cites);
        }
        off = e;
    }
    if (!b.len)
        fr_buf_puts(&b, FR_RAG_NOT_FOUND);
    res->text = fr_buf_take(&b);
    res->n_tokens = 0;
    return res->text ? FR_OK : FR_E_NOMEM;
}

/* ask on every question with the stand-in generator, with each question's
 * own abstract in the index and removed from it. */
static void ask_standin(fr_kb *kb, char **qs, char **las, char **names, size_t nq, double gate_min, double rare)
{
    size_t out[2][5] = {{0}};
    fr_rag_ask_opts o = {0};
    o.retrieve.gate_min = gate_min;
    o.retrieve.rare_idf = rare;
    o.generate = longanswer_gen;
    fr_err err;
    double t0 = fr_now_s();
    for (int removed = 0; removed < 2; removed++) {
        fr_kb_tx_run(kb, FR_KB_TX_BEGIN, NULL);
        for (size_t i = 0; i < nq; i++) {
            if (removed && (fr_kb_tx_run(kb, FR_KB_TX_SAVEPOINT, &err) || fr_kb_remove(kb, names[i], &err))) {
                fr_kb_tx_run(kb, FR_KB_TX_ROLLBACK_TO, NULL);
                continue;
            }
            o.gen_user = las[i];
            fr_rag_result *r = NULL;
            if (fr_rag_ask(kb, qs[i], &o, &r, &err) == FR_OK) {
                out[removed][r->outcome]++;
                fr_rag_result_free(r);
            }
            if (removed)
                fr_kb_tx_run(kb, FR_KB_TX_ROLLBACK_TO, NULL);
        }
        fr_kb_tx_run(kb, FR_KB_TX_ROLLBACK, NULL);
    }
    printf("  ask with a stand-in for the model that answers with the reference conclusion (LONG_ANSWER), "
           "citing passages [1]-[3] (%.1f s):\n",
           fr_now_s() - t0);
    printf("    | own abstract | answered | abstained: retrieval gate | abstained: verdict |\n"
           "    |---|---|---|---|\n");
    for (int removed = 0; removed < 2; removed++)
        printf("    | %s | %.3f | %.3f | %.3f |\n", removed ? "removed" : "indexed",
               (double)out[removed][FR_RAG_ANSWERED] / nq, (double)out[removed][FR_RAG_ABSTAIN_GATE] / nq,
               (double)out[removed][FR_RAG_ABSTAIN_SUPPORT] / nq);
}

typedef struct recall {
    bool ok;
    double r1, r5, r10, qps;
} recall;

/* pg: a postgresql:// URI to measure instead of a temporary SQLite file;
 * everything is written in one transaction that is rolled back at the end,
 * so the database is left as it was (but for frugal's empty schema). */
static recall bench_pubmedqa(const char *dir, double gate_min, double rare, const char *pg)
{
    recall res = {false, 0, 0, 0, 0};
    char path[8192];
    snprintf(path, sizeof path, "%s/pubmedqa_ori_pqal.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        printf("pubmedqa: skipped (%s: %s)\n", path, je.text);
        return res;
    }
    char dbp[] = "/tmp/frugal-bench-rag-XXXXXX";
    if (!pg) {
        int fd = mkstemp(dbp);
        if (fd >= 0)
            close(fd);
        if (!pg)
        unlink(dbp);
    }
    fr_err err;
    fr_kb *kb = NULL;
    if (fr_kb_open(pg ? pg : dbp, true, &kb, &err)) {
        printf("pubmedqa: skipped (%s)\n", err.msg);
        json_decref(root);
        return res;
    }
    fr_kb_stats st0;
    if (fr_kb_stats_get(kb, &st0, &err) || st0.documents > 0) {
        printf("pubmedqa: skipped (%s: %s)\n", fr_kb_name(kb),
               st0.documents ? "needs an empty knowledge base" : err.msg);
        fr_kb_free(kb);
        json_decref(root);
        return res;
    }
    printf("store: %s (%s)\n", fr_kb_kind(kb), pg ? fr_kb_name(kb) : "temporary file");
    size_t nq = json_object_size(root);
    char **names = calloc(nq, sizeof *names), **qs = calloc(nq, sizeof *qs), **las = calloc(nq, sizeof *las);
    const char *key;
    json_t *rec;
    size_t i = 0;
    double t0 = fr_now_s();
    fr_kb_tx_run(kb, FR_KB_TX_BEGIN, NULL);
    json_object_foreach(root, key, rec)
    {
        json_t *ctx = json_object_get(rec, "CONTEXTS"), *c;
        size_t k;
        fr_buf b = FR_BUF_INIT;
        json_array_foreach(ctx, k, c)
        {
            if (k)
                fr_buf_puts(&b, "\n\n");
            fr_buf_puts(&b, json_string_value(c) ? json_string_value(c) : "");
        }
        char name[64];
        snprintf(name, sizeof name, "pubmed/%s.txt", key);
        if (fr_kb_add_text(kb, name, "txt", b.data ? b.data : "", b.len, NULL, NULL, &err))
            printf("  add %s: %s\n", name, err.msg);
        names[i] = strdup(name);
        qs[i] = strdup(json_string_value(json_object_get(rec, "QUESTION")) ? json_string_value(json_object_get(rec, "QUESTION")) : "");
        const char *la = json_string_value(json_object_get(rec, "LONG_ANSWER"));
        las[i] = strdup(la ? la : "");
        i++;
        fr_buf_free(&b);
    }
    if (!pg)
        fr_kb_tx_run(kb, FR_KB_TX_COMMIT, NULL);
    double t_index = fr_now_s() - t0;
    fr_kb_stats st;
    fr_kb_stats_get(kb, &st, &err);
    printf("pubmedqa_ori_pqal.json: %zu abstracts indexed in %.2f s: %llu chunks, %llu terms, "
           "db %.1f MiB\n",
           nq, t_index, (unsigned long long)st.chunks, (unsigned long long)st.terms,
           (double)st.db_bytes / (1 << 20));
    fr_kb_retrieve_opts ro = {0};
    ro.k = 10;
    ro.gate_min = gate_min;
    ro.rare_idf = rare;
    size_t r1 = 0, r5 = 0, r10 = 0, pass = 0;
    double *cov_in = calloc(nq, sizeof *cov_in), *sh_in = calloc(nq, sizeof *sh_in);
    double *cov_out = calloc(nq, sizeof *cov_out), *sh_out = calloc(nq, sizeof *sh_out);
    t0 = fr_now_s();
    for (i = 0; i < nq; i++) {
        fr_kb_hits *h = NULL;
        if (fr_kb_retrieve(kb, qs[i], &ro, &h, &err)) {
            printf("  retrieve: %s\n", err.msg);
            continue;
        }
        for (size_t r = 0; r < h->n; r++) {
            if (strcmp(h->v[r].path, names[i]) == 0) {
                r1 += r < 1;
                r5 += r < 5;
                r10 += r < 10;
                break;
            }
        }
        pass += h->gate_pass;
        cov_in[i] = h->n ? h->coverage : -1;
        sh_in[i] = h->missing_share;
        fr_kb_hits_free(h);
    }
    double dt = fr_now_s() - t0;
    printf("  retrieval (k=10, BM25 + trigram, RRF): recall@1 %.3f  @5 %.3f  @10 %.3f  "
           "%.0f queries/s (1 thread, includes the gate)\n",
           (double)r1 / nq, (double)r5 / nq, (double)r10 / nq, (double)nq / dt);
    printf("  gate (coverage >= %.2f, rare-term share < %.2f) with the own abstract present: "
           "passes %.3f (false abstention %.3f)\n",
           gate_min, rare, (double)pass / nq, 1 - (double)pass / nq);
    res = (recall){true, (double)r1 / nq, (double)r5 / nq, (double)r10 / nq, (double)nq / dt};
    size_t abstain = 0;
    t0 = fr_now_s();
    if (!pg)
        fr_kb_tx_run(kb, FR_KB_TX_BEGIN, NULL);
    for (i = 0; i < nq; i++) {
        if (fr_kb_tx_run(kb, FR_KB_TX_SAVEPOINT, &err) || fr_kb_remove(kb, names[i], &err)) {
            printf("  remove: %s\n", err.msg);
            fr_kb_tx_run(kb, FR_KB_TX_ROLLBACK_TO, NULL);
            continue;
        }
        fr_kb_hits *h = NULL;
        if (fr_kb_retrieve(kb, qs[i], &ro, &h, &err) == FR_OK) {
            abstain += !h->gate_pass;
            cov_out[i] = h->n ? h->coverage : -1;
            sh_out[i] = h->missing_share;
            fr_kb_hits_free(h);
        }
        fr_kb_tx_run(kb, FR_KB_TX_ROLLBACK_TO, NULL);
    }
    printf("  abstention with the own abstract removed: %.3f of questions abstain at the gate "
           "(%.1f s)\n",
           (double)abstain / nq, fr_now_s() - t0);
    fr_kb_tx_run(kb, FR_KB_TX_ROLLBACK, NULL);
    printf("  gate operating points (pass rate with the own abstract / abstain rate without it):\n");
    static const double gates[] = {0.3, 0.4, 0.5, 0.6, 0.7}, rares[] = {0.25, 0.35, 0.5, 1.01};
    for (size_t a = 0; a < sizeof gates / sizeof *gates; a++) {
        printf("    coverage >= %.2f:", gates[a]);
        for (size_t b = 0; b < sizeof rares / sizeof *rares; b++) {
            size_t pi = 0, ao = 0;
            for (i = 0; i < nq; i++) {
                pi += cov_in[i] >= gates[a] && sh_in[i] < rares[b];
                ao += !(cov_out[i] >= gates[a] && sh_out[i] < rares[b]);
            }
            printf("  rare<%.2f %.3f/%.3f", rares[b] > 1 ? 1.0 : rares[b], (double)pi / nq,
                   (double)ao / nq);
        }
        printf("\n");
    }
    free(cov_in);
    free(sh_in);
    free(cov_out);
    free(sh_out);
    if (!pg) /* with pg the ROLLBACK above took the whole index back */
        ask_standin(kb, qs, las, names, nq, gate_min, rare);
    for (i = 0; i < nq; i++) {
        free(names[i]);
        free(qs[i]);
        free(las[i]);
    }
    free(names);
    free(qs);
    free(las);
    fr_kb_free(kb);
    unlink(dbp);
    json_decref(root);
    return res;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("FR_SHARED") ? NULL : "../shared/data";
    char dbuf[4096];
    if (!dir) {
        snprintf(dbuf, sizeof dbuf, "%s/data", getenv("FR_SHARED"));
        dir = dbuf;
    }
    bool hv = false, wi = false, pm = false;
    cfg c = {false};
    double gate = 0.5, rare = 0.35;
    const char *pg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--gate") == 0 && i + 1 < argc)
            gate = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--rare") == 0 && i + 1 < argc)
            rare = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--no-idf") == 0)
            c.no_idf = true;
        else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc)
            pg = argv[++i];
        else if (strcmp(argv[i], "halueval") == 0)
            hv = true;
        else if (strcmp(argv[i], "wice") == 0)
            wi = true;
        else if (strcmp(argv[i], "pubmedqa") == 0)
            pm = true;
    }
    if (!hv && !wi && !pm)
        hv = wi = pm = true;
    char host[256] = "?";
    gethostname(host, sizeof host);
    printf("bench_rag: frugal %s (commit %s), host %s, 1 thread, data %s\n", fr_version(),
           fr_commit(), host, dir);
    if (hv)
        bench_halueval(dir, &c);
    if (wi)
        bench_wice(dir, &c);
    if (pm) {
        recall a = bench_pubmedqa(dir, gate, rare, NULL), b = {false, 0, 0, 0, 0};
        if (pg)
            b = bench_pubmedqa(dir, gate, rare, pg);
        if (a.ok && b.ok)
            printf("PostgreSQL - SQLite on the same documents: recall@1 %+.3f  @5 %+.3f  "
                   "@10 %+.3f; queries/s %.2fx\n",
                   b.r1 - a.r1, b.r5 - a.r5, b.r10 - a.r10, a.qps > 0 ? b.qps / a.qps : 0);
    }
    return 0;
}
