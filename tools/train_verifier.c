/*
 * train_verifier.c - trains the groundedness verdict's weights
 * (`make train-verifier`) and measures them by cross-validation.
 *
 *   train_verifier [--data DIR] [--out FILE | --report-only | --check FILE] [--folds 5]
 *                  [--seed N] [--lambda 10] [--halu-weight 0.1] [--fact-gate 0.1]
 *                  [--features a,b,...] [--thr-on wice|halueval|both]
 *                  [--whole] [--diag]
 *
 * --check FILE trains, writes nothing, and fails unless FILE holds the same
 * weights (tests/cli/verifier.sh: the shipped file matches the code).
 * --whole scores each sentence as one unit (no sub-claims) and --diag
 * prints each feature's AUROC alone: for measuring what they add.
 * TRAIN_DUMP=1 writes each claim's held-out score and text to stderr.
 *
 * Data (DIR, default ../shared/data; never copied into the repository):
 *   wice_oracle_claim_dev.jsonl  claim + evidence sentences; "supported" is
 *                                positive, partially/not supported negative
 *   halueval_qa_one-turn.json    knowledge + right (positive) and
 *                                hallucinated (negative) answer
 * Each claim is split into sentences and sub-claims and scored with the
 * library's own code (fr_ground_units: the features the verdict computes
 * at run time, one definition). IDF comes from each dataset's own evidence
 * (every evidence sentence / knowledge text one document), as a knowledge
 * base's index would give it. Evidence is one passage: WiCE's sentences
 * joined by blank lines, HaluEval's knowledge as it is.
 *
 * The model: logistic regression, L2-penalised (lambda), fitted by Newton's
 * method on standardised features, each example weighted so that both
 * classes within each dataset weigh the same, and HaluEval a tenth of WiCE
 * (--halu-weight: HaluEval's short answers are separated by almost any of
 * the features, AUROC 0.98 at any weight, while weighing it as much as WiCE
 * cost 0.07 WiCE AUROC in the cross-validation). A claim is
 * supported only if all its sub-claims are, so its probability is the
 * minimum over its sub-claims; training follows that (multiple-instance
 * learning by hard EM): each claim is represented by its weakest sub-claim
 * under the current model, the model is refitted on those, four rounds.
 *
 * Evaluation: 5 folds, grouped (WiCE lists each claim three times with
 * different evidence, HaluEval pairs two answers with one knowledge text:
 * all records of a claim or knowledge text stay in one fold), assigned by a
 * seeded shuffle. For each outer fold, the threshold is chosen by an inner
 * 5-fold cross-validation on the four training folds (the threshold that
 * maximises balanced accuracy on the inner held-out predictions), the
 * model is trained on the four folds and measured on the fifth: AUROC and
 * balanced accuracy at that threshold. The shipped weights are trained on
 * everything; their threshold is the best one on the 5-fold held-out
 * predictions. Nothing is tuned on a test split (none is read).
 *
 * Output: a report on stdout and (unless --report-only) the weights file,
 * written atomically, with the report's figures in "training".
 */
#include "base/file.h"
#include "rag/eval.h"
#include "rag/ground.h"
#include "rag/text.h"
#include "rag/verifier.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NF FR_F_COUNT

enum { DS_WICE, DS_HALU, DS_N };
static const char *const ds_name[DS_N] = {"wice", "halueval"};

typedef struct example {
    char *claim;
    int ds, y, group;
    size_t u0, nu; /* its units: feats[u0 .. u0+nu) */
} example;

typedef struct dataset {
    example *ex;
    size_t n, cap;
    double *feats; /* NF per unit */
    size_t nu, capu;
    int n_groups;
    size_t n_records[DS_N];
} dataset;

typedef struct opts {
    double lambda;
    int use[NF], n_use; /* feature indexes in the model */
    int thr_on;         /* -1 both datasets' mean, else one dataset */
    int folds;
    unsigned long seed;
    double halu_weight; /* HaluEval's weight relative to WiCE's */
} opts;

/* ---- data ---------------------------------------------------------------- */

static double vocab_idf(void *user, const char *word, const char *term)
{
    (void)word;
    const fr_vocab *v = user;
    return fr_idf(fr_vocab_df(v, term, strlen(term)), fr_vocab_docs(v));
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "train_verifier: out of memory\n");
        exit(1);
    }
    return q;
}

static bool g_whole;         /* --whole: no sub-claims (for measuring what they add) */
static double g_gate = 0.1;  /* --fact-gate: see verifier.c */

/* Scores claim against one passage and appends it as an example. */
static void add_example(dataset *d, int ds, int y, int group, const char *claim, const char *passage,
                        fr_vocab *idf)
{
    size_t pl = strlen(passage), n = strlen(claim);
    fr_evidence *ev = fr_evidence_create(&passage, &pl, 1);
    char *text = malloc(FR_GROUND_TEXT_CAP(n));
    if (!ev || !text) {
        fprintf(stderr, "train_verifier: out of memory\n");
        exit(1);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 1024;
        d->ex = xrealloc(d->ex, d->cap * sizeof *d->ex);
    }
    example *e = &d->ex[d->n++];
    *e = (example){strdup(claim), ds, y, group, d->nu, 0};
    /* sentences as fr_rag_check_answer splits a claim (citations ignored) */
    for (size_t i = 0; i < n;) {
        while (i < n && (claim[i] == ' ' || claim[i] == '\n' || claim[i] == '\t' || claim[i] == '\r'))
            i++;
        if (i >= n)
            break;
        size_t end = fr_ground_sentence_end(claim, n, i);
        if (end <= i)
            end = n;
        fr_subclaim sc[FR_SUBCLAIMS_MAX];
        fr_unit_score us[FR_SUBCLAIMS_MAX];
        size_t k;
        if (g_whole) {
            fr_evidence_score(ev, claim + i, end - i, vocab_idf, idf, 1, &us[0]);
            us[0].f[FR_F_SENT_SUPPORT] = us[0].f[FR_F_SUPPORT];
            us[0].f[FR_F_SENT_WINDOW] = us[0].f[FR_F_WINDOW];
            us[0].f[FR_F_SENT_MISSING_RUN] = us[0].f[FR_F_MISSING_RUN];
            us[0].f[FR_F_SENT_PAIRS] = us[0].f[FR_F_PAIRS];
            k = 1;
        } else {
            k = fr_ground_units(ev, claim + i, end - i, vocab_idf, idf, sc, us, text, FR_GROUND_TEXT_CAP(n));
        }
        for (size_t u = 0; u < k; u++) {
            if (d->nu == d->capu) {
                d->capu = d->capu ? 2 * d->capu : 4096;
                d->feats = xrealloc(d->feats, d->capu * NF * sizeof *d->feats);
            }
            memcpy(d->feats + d->nu * NF, us[u].f, NF * sizeof(double));
            d->nu++;
            e->nu++;
        }
        i = end;
    }
    free(text);
    fr_evidence_free(ev);
}

static char *read_text(const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *data = NULL;
    size_t n = 0;
    fr_err err;
    if (fr_read_file(path, 256u << 20, &data, &n, &err)) {
        fprintf(stderr, "train_verifier: %s\n", err.msg);
        exit(1);
    }
    return data;
}

/* Calls fn on each JSON object line of data. */
static void each_line(char *data, void (*fn)(json_t *, void *), void *user)
{
    for (char *line = data; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_t *j = json_loadb(line, len, 0, NULL);
        if (json_is_object(j))
            fn(j, user);
        json_decref(j);
        line = nl ? nl + 1 : NULL;
    }
}

typedef struct load_ctx {
    dataset *d;
    fr_vocab *idf;
    int pass; /* 0: count IDF, 1: score */
    json_t *groups; /* claim text -> group id */
} load_ctx;

static void wice_line(json_t *j, void *user)
{
    load_ctx *c = user;
    const char *label = json_string_value(json_object_get(j, "label"));
    const char *claim = json_string_value(json_object_get(j, "claim"));
    json_t *ev = json_object_get(j, "evidence"), *e;
    size_t k;
    if (!label || !claim || !json_is_array(ev))
        return;
    if (c->pass == 0) {
        json_array_foreach(ev, k, e) if (json_is_string(e))
            fr_vocab_add_doc(c->idf, json_string_value(e), json_string_length(e));
        return;
    }
    size_t len = 0;
    json_array_foreach(ev, k, e) len += json_is_string(e) ? json_string_length(e) + 2 : 0;
    char *p = malloc(len + 1), *q = p;
    json_array_foreach(ev, k, e) if (json_is_string(e))
    {
        if (q > p) {
            memcpy(q, "\n\n", 2);
            q += 2;
        }
        memcpy(q, json_string_value(e), json_string_length(e));
        q += json_string_length(e);
    }
    *q = '\0';
    json_t *g = json_object_get(c->groups, claim);
    int gid;
    if (g) {
        gid = (int)json_integer_value(g);
    } else {
        gid = c->d->n_groups++;
        json_object_set_new(c->groups, claim, json_integer(gid));
    }
    add_example(c->d, DS_WICE, strcmp(label, "supported") == 0, gid, claim, p, c->idf);
    c->d->n_records[DS_WICE]++;
    free(p);
}

static void halu_line(json_t *j, void *user)
{
    load_ctx *c = user;
    const char *k = json_string_value(json_object_get(j, "knowledge"));
    const char *ra = json_string_value(json_object_get(j, "right_answer"));
    const char *ha = json_string_value(json_object_get(j, "hallucinated_answer"));
    if (!k || !ra || !ha)
        return;
    if (c->pass == 0) {
        fr_vocab_add_doc(c->idf, k, strlen(k));
        return;
    }
    int gid = c->d->n_groups++;
    add_example(c->d, DS_HALU, 1, gid, ra, k, c->idf);
    add_example(c->d, DS_HALU, 0, gid, ha, k, c->idf);
    c->d->n_records[DS_HALU]++;
}

static void load(dataset *d, const char *dir)
{
    static const char *const files[DS_N] = {"wice_oracle_claim_dev.jsonl", "halueval_qa_one-turn.json"};
    void (*fns[DS_N])(json_t *, void *) = {wice_line, halu_line};
    for (int ds = 0; ds < DS_N; ds++) {
        char *data = read_text(dir, files[ds]);
        load_ctx c = {d, fr_vocab_create(), 0, json_object()};
        each_line(data, fns[ds], &c); /* pass 0: document frequencies */
        c.pass = 1;
        each_line(data, fns[ds], &c);
        fr_vocab_free(c.idf);
        json_decref(c.groups);
        free(data);
    }
}

/* ---- metrics ------------------------------------------------------------- */

typedef fr_scored scored;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double auroc(scored *v, size_t m) { return fr_eval_auroc(v, m, -1); }
static double bal_acc(const scored *v, size_t m, double thr) { return fr_eval_balanced_accuracy(v, m, -1, thr); }

/* The threshold (a midpoint between neighbouring probabilities) with the
 * best balanced accuracy, a claim being supported when its probability
 * reaches it and nothing vetoes it: on one dataset, or the mean over both
 * (ds = -1). */
static double best_threshold(const example *ex, const double *prob, const double *veto, const size_t *idx,
                             size_t n, int ds)
{
    scored *v[DS_N];
    size_t m[DS_N] = {0};
    double *cand = malloc((n + 1) * sizeof *cand);
    for (int d = 0; d < DS_N; d++)
        v[d] = malloc((n + 1) * sizeof *v[d]);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        const example *e = &ex[idx[i]];
        /* a vetoed claim is never supported: score it below every threshold */
        double s = isinf(veto[idx[i]]) ? prob[idx[i]] : -1.0;
        v[e->ds][m[e->ds]++] = (scored){.s = s, .y = e->y, .split = 0};
        if ((ds < 0 || e->ds == ds) && s >= 0)
            cand[nc++] = s;
    }
    qsort(cand, nc, sizeof *cand, cmp_double);
    double best = 0.5, ba = -1;
    for (size_t i = 1; i < nc; i++) {
        if (cand[i] == cand[i - 1])
            continue;
        double t = (cand[i - 1] + cand[i]) / 2, b = 0;
        int k = 0;
        for (int d = 0; d < DS_N; d++) {
            if ((ds >= 0 && d != ds) || m[d] == 0)
                continue;
            b += bal_acc(v[d], m[d], t);
            k++;
        }
        b /= k ? k : 1;
        if (b > ba) {
            ba = b;
            best = t;
        }
    }
    for (int d = 0; d < DS_N; d++)
        free(v[d]);
    free(cand);
    return best;
}

/* ---- the model ----------------------------------------------------------- */

typedef struct model {
    int nf;
    int idx[NF];
    double mean[NF], scale[NF], w[NF], bias;
} model;

/* The library's verifier for model m: predictions go through the same
 * code (fr_verifier_prob, with the fact gate) as at run time. */
static fr_rag_verifier *verifier_of(const model *m, double thr)
{
    fr_rag_verifier *v = fr_verifier_make(m->nf, m->idx, m->mean, m->scale, m->w, m->bias, thr, g_gate);
    if (!v) {
        fprintf(stderr, "train_verifier: out of memory\n");
        exit(1);
    }
    return v;
}

/* Solves a x = b (n x n, row-major; destroyed) by Gaussian elimination with
 * partial pivoting. */
static void solve(double *a, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
                p = r;
        for (int k = 0; k < n; k++) {
            double t = a[c * n + k];
            a[c * n + k] = a[p * n + k];
            a[p * n + k] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        if (fabs(a[c * n + c]) < 1e-12)
            a[c * n + c] = 1e-12;
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++)
            b[c] -= a[c * n + k] * b[k];
        b[c] /= a[c * n + c];
    }
}

/* Weighted L2-penalised logistic regression on rows x (m->nf standardised
 * values each), Newton's method. */
static void fit_lr(model *m, const double *x, const int *y, const double *c, size_t n, double lambda)
{
    int d = m->nf + 1; /* + bias, last */
    double *h = malloc((size_t)d * d * sizeof *h), *g = malloc((size_t)d * sizeof *g);
    double *w = calloc((size_t)d, sizeof *w);
    for (int it = 0; it < 25; it++) {
        memset(h, 0, (size_t)d * d * sizeof *h);
        memset(g, 0, (size_t)d * sizeof *g);
        for (size_t i = 0; i < n; i++) {
            const double *r = x + i * m->nf;
            double z = w[d - 1];
            for (int k = 0; k < m->nf; k++)
                z += w[k] * r[k];
            double p = 1.0 / (1.0 + exp(-(z > 40 ? 40 : z < -40 ? -40 : z)));
            double gi = c[i] * (p - y[i]), hi = c[i] * p * (1 - p);
            for (int a = 0; a < d; a++) {
                double ra = a < m->nf ? r[a] : 1.0;
                g[a] += gi * ra;
                for (int b = 0; b <= a; b++)
                    h[a * d + b] += hi * ra * (b < m->nf ? r[b] : 1.0);
            }
        }
        for (int a = 0; a < d; a++)
            for (int b = 0; b < a; b++)
                h[b * d + a] = h[a * d + b];
        for (int k = 0; k < m->nf; k++) {
            h[k * d + k] += lambda;
            g[k] += lambda * w[k];
        }
        solve(h, g, d);
        double step = 0;
        for (int k = 0; k < d; k++) {
            w[k] -= g[k];
            step = fmax(step, fabs(g[k]));
        }
        if (step < 1e-9)
            break;
    }
    for (int k = 0; k < m->nf; k++)
        m->w[k] = w[k];
    m->bias = w[d - 1];
    free(h);
    free(g);
    free(w);
}

/* Trains on examples idx[0..n): standardisation over their units, then
 * hard-EM rounds on each example's weakest unit. */
static void train(model *m, const dataset *d, const size_t *idx, size_t n, const opts *o)
{
    m->nf = o->n_use;
    memcpy(m->idx, o->use, sizeof o->use);
    double cnt = 0;
    for (int k = 0; k < m->nf; k++)
        m->mean[k] = m->scale[k] = 0;
    for (size_t i = 0; i < n; i++) {
        const example *e = &d->ex[idx[i]];
        for (size_t u = e->u0; u < e->u0 + e->nu; u++) {
            for (int k = 0; k < m->nf; k++) {
                double v = d->feats[u * NF + m->idx[k]];
                m->mean[k] += v;
                m->scale[k] += v * v;
            }
            cnt++;
        }
    }
    for (int k = 0; k < m->nf; k++) {
        m->mean[k] /= cnt;
        double var = m->scale[k] / cnt - m->mean[k] * m->mean[k];
        m->scale[k] = var > 1e-12 ? sqrt(var) : 1.0;
    }
    /* weights: each dataset, and each class within it, weighs the same */
    double cls[DS_N][2] = {{0}};
    for (size_t i = 0; i < n; i++)
        cls[d->ex[idx[i]].ds][d->ex[idx[i]].y] += 1;
    int present = 0;
    for (int s = 0; s < DS_N; s++)
        present += cls[s][0] + cls[s][1] > 0;
    double *x = malloc(n * (size_t)m->nf * sizeof *x), *c = malloc(n * sizeof *c);
    int *y = malloc(n * sizeof *y);
    size_t *rep = malloc(n * sizeof *rep);
    for (size_t i = 0; i < n; i++) {
        const example *e = &d->ex[idx[i]];
        c[i] = (double)n / (2.0 * present * cls[e->ds][e->y]) * (e->ds == DS_HALU ? o->halu_weight : 1.0);
        y[i] = e->y;
        /* first round: the unit with the least support in one window */
        rep[i] = e->u0;
        for (size_t u = e->u0; u < e->u0 + e->nu; u++)
            if (d->feats[u * NF + FR_F_WINDOW] < d->feats[rep[i] * NF + FR_F_WINDOW])
                rep[i] = u;
    }
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < m->nf; k++)
                x[i * m->nf + k] = (d->feats[rep[i] * NF + m->idx[k]] - m->mean[k]) / m->scale[k];
        fit_lr(m, x, y, c, n, o->lambda);
        fr_rag_verifier *v = verifier_of(m, 0.5);
        for (size_t i = 0; i < n; i++) {
            const example *e = &d->ex[idx[i]];
            double best = INFINITY;
            for (size_t u = e->u0; u < e->u0 + e->nu; u++) {
                double z = fr_verifier_z(v, d->feats + u * NF);
                if (z < best) {
                    best = z;
                    rep[i] = u;
                }
            }
        }
        fr_rag_verifier_free(v);
    }
    free(x);
    free(c);
    free(y);
    free(rep);
}

/* A claim's prediction: the lowest probability of its units, and the
 * lowest among its vetoed units (INFINITY when none is vetoed). */
static double predict(const fr_rag_verifier *v, const dataset *d, const example *e, double *veto)
{
    double p = e->nu ? 1.0 : 0.0;
    *veto = INFINITY;
    for (size_t u = e->u0; u < e->u0 + e->nu; u++) {
        const double *f = d->feats + u * NF;
        double q = fr_verifier_prob(v, f);
        p = fmin(p, q);
        if (fr_verifier_veto(f))
            *veto = fmin(*veto, q);
    }
    return p;
}

/* The claim's score under threshold t, as fr_rag_check_answer computes it:
 * the minimum of its sub-claims' fr_verifier_score. */
static double claim_score(double p, double veto, double t)
{
    return isinf(veto) ? p : fmin(p, fmin(veto, t) * g_gate);
}

/* ---- cross-validation ---------------------------------------------------- */

/* Out-of-fold probabilities for examples idx[0..n) with k grouped folds
 * (fold of group g: gfold[g]); prob is indexed by example. */
static void cross_predict(const dataset *d, const size_t *idx, size_t n, const int *gfold, int k,
                          const opts *o, double *prob, double *veto)
{
    size_t *tr = malloc(n * sizeof *tr);
    for (int f = 0; f < k; f++) {
        size_t nt = 0;
        for (size_t i = 0; i < n; i++)
            if (gfold[d->ex[idx[i]].group] != f)
                tr[nt++] = idx[i];
        if (nt == n)
            continue;
        model m;
        train(&m, d, tr, nt, o);
        fr_rag_verifier *v = verifier_of(&m, 0.5);
        for (size_t i = 0; i < n; i++)
            if (gfold[d->ex[idx[i]].group] == f)
                prob[idx[i]] = predict(v, d, &d->ex[idx[i]], &veto[idx[i]]);
        fr_rag_verifier_free(v);
    }
    free(tr);
}

static unsigned long rnd(unsigned long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Groups shuffled with the seed, then dealt to k folds in turn (within
 * each dataset, so every fold holds a fifth of each). */
static void assign_folds(const dataset *d, int k, unsigned long seed, int *gfold)
{
    int *gds = malloc((size_t)d->n_groups * sizeof *gds), *order = malloc((size_t)d->n_groups * sizeof *order);
    for (size_t i = 0; i < d->n; i++)
        gds[d->ex[i].group] = d->ex[i].ds;
    for (int g = 0; g < d->n_groups; g++)
        order[g] = g;
    unsigned long s = seed ? seed : 1;
    for (int g = d->n_groups - 1; g > 0; g--) {
        int j = (int)(rnd(&s) % (unsigned long)(g + 1)), t = order[g];
        order[g] = order[j];
        order[j] = t;
    }
    int next[DS_N] = {0};
    for (int i = 0; i < d->n_groups; i++) {
        int g = order[i];
        gfold[g] = next[gds[g]]++ % k;
    }
    free(gds);
    free(order);
}

typedef struct fold_result {
    size_t n[DS_N];
    double auroc[DS_N], bacc[DS_N], thr;
} fold_result;

static void metrics(const dataset *d, const size_t *idx, size_t n, const double *prob, const double *veto,
                    double thr, size_t *cnt, double *au, double *ba)
{
    scored *v = malloc((n + 1) * sizeof *v);
    for (int s = 0; s < DS_N; s++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (d->ex[idx[i]].ds == s)
                v[m++] = (scored){.s = veto ? claim_score(prob[idx[i]], veto[idx[i]], thr) : prob[idx[i]],
                                  .y = d->ex[idx[i]].y, .split = 0};
        cnt[s] = m;
        ba[s] = bal_acc(v, m, thr);
        au[s] = auroc(v, m);
    }
    free(v);
}

/* ---- output -------------------------------------------------------------- */

static json_t *jnum(double v) { return isfinite(v) ? json_real(round(v * 1e4) / 1e4) : json_null(); }

/* 0 when the weights file at path holds model m and threshold thr (to 1e-6):
 * the shipped file is what this code trains. */
static int check_weights(const char *path, const model *m, double thr)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "train_verifier: %s: %s\n", path, je.text);
        return 1;
    }
    int bad = 0;
    json_t *fs = json_object_get(j, "features");
    if ((int)json_array_size(fs) != m->nf)
        bad++;
    for (int k = 0; k < m->nf && !bad; k++) {
        const char *f = json_string_value(json_array_get(fs, (size_t)k));
        bad += !f || strcmp(f, fr_feature_names[m->idx[k]]) != 0;
        const char *keys[] = {"mean", "scale", "weights"};
        const double vals[] = {m->mean[k], m->scale[k], m->w[k]};
        for (int q = 0; q < 3; q++)
            bad += fabs(json_number_value(json_array_get(json_object_get(j, keys[q]), (size_t)k)) - vals[q]) >
                   1e-6 * (1 + fabs(vals[q]));
    }
    bad += fabs(json_number_value(json_object_get(j, "bias")) - m->bias) > 1e-6 * (1 + fabs(m->bias));
    bad += fabs(json_number_value(json_object_get(j, "threshold")) - thr) > 1e-6;
    bad += fabs(json_number_value(json_object_get(j, "fact_gate")) - g_gate) > 1e-9;
    json_decref(j);
    if (bad)
        fprintf(stderr, "train_verifier: %s is not what this code trains from this data: run `make "
                        "train-verifier` and commit the file\n", path);
    else
        printf("\n  %s matches the weights trained here\n", path);
    return bad ? 1 : 0;
}

static int write_weights(const char *path, const model *m, double thr, json_t *training)
{
    json_t *root = json_object(), *fs = json_array(), *mean = json_array(), *scale = json_array(),
           *w = json_array();
    for (int k = 0; k < m->nf; k++) {
        json_array_append_new(fs, json_string(fr_feature_names[m->idx[k]]));
        json_array_append_new(mean, json_real(m->mean[k]));
        json_array_append_new(scale, json_real(m->scale[k]));
        json_array_append_new(w, json_real(m->w[k]));
    }
    json_object_set_new(root, "format", json_string("frugal-verifier"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "model", json_string("logistic"));
    json_object_set_new(root, "features", fs);
    json_object_set_new(root, "mean", mean);
    json_object_set_new(root, "scale", scale);
    json_object_set_new(root, "weights", w);
    json_object_set_new(root, "bias", json_real(m->bias));
    json_object_set_new(root, "threshold", json_real(thr));
    json_object_set_new(root, "fact_gate", json_real(g_gate));
    json_object_set_new(root, "training", training);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!text)
        return 1;
    fr_err err;
    fr_atomic_file *f = NULL;
    size_t len = strlen(text);
    int rc = 0;
    if (fr_atomic_open(path, NULL, 0, &f, &err)) {
        rc = 1;
    } else if (fr_atomic_write(f, text, len, &err) || fr_atomic_write(f, "\n", 1, &err)) {
        fr_atomic_abort(f);
        rc = 1;
    } else if (fr_atomic_commit(f, &err)) { /* frees f */
        rc = 1;
    }
    if (rc)
        fprintf(stderr, "train_verifier: %s\n", err.msg);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = "../shared/data", *out = "data/verifier.json", *feats = NULL;
    bool report_only = false, diag = false;
    const char *check = NULL;
    opts o = {10.0, {0}, 0, DS_WICE, 5, 20240521ul, 0.1};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--report-only") == 0)
            report_only = true;
        else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc) {
            check = argv[++i];
            report_only = true;
        }
        else if (strcmp(argv[i], "--fact-gate") == 0 && i + 1 < argc)
            g_gate = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--whole") == 0)
            g_whole = true;
        else if (strcmp(argv[i], "--diag") == 0)
            diag = true;
        else if (strcmp(argv[i], "--folds") == 0 && i + 1 < argc)
            o.folds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            o.seed = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--halu-weight") == 0 && i + 1 < argc)
            o.halu_weight = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--lambda") == 0 && i + 1 < argc)
            o.lambda = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--features") == 0 && i + 1 < argc)
            feats = argv[++i];
        else if (strcmp(argv[i], "--thr-on") == 0 && i + 1 < argc) {
            i++;
            o.thr_on = strcmp(argv[i], "both") == 0 ? -1 : strcmp(argv[i], "halueval") == 0 ? DS_HALU : DS_WICE;
        } else {
            fprintf(stderr, "usage: train_verifier [--data DIR] [--out FILE | --report-only | --check FILE] [--folds K] "
                            "[--seed N] [--lambda L] [--halu-weight W] [--fact-gate G] [--features a,b,...] "
                            "[--thr-on wice|halueval|both] [--whole] [--diag]\n");
            return 2;
        }
    }
    if (o.folds < 2 || o.folds > 20) {
        fprintf(stderr, "train_verifier: --folds must be 2..20\n");
        return 2;
    }
    /* features: all that are not excluded by default, or the list given */
    static const int defaults_off[] = {FR_F_EVIDENCE};
    for (int k = 0; k < NF; k++) {
        bool on = true;
        if (feats) {
            char pat[80];
            snprintf(pat, sizeof pat, ",%s,", fr_feature_names[k]);
            char *list = malloc(strlen(feats) + 3);
            sprintf(list, ",%s,", feats);
            on = strstr(list, pat) != NULL;
            free(list);
        } else {
            for (size_t j = 0; j < sizeof defaults_off / sizeof *defaults_off; j++)
                on &= defaults_off[j] != k;
        }
        if (on)
            o.use[o.n_use++] = k;
    }
    if (o.n_use == 0) {
        fprintf(stderr, "train_verifier: no known feature in --features\n");
        return 2;
    }

    dataset d = {0};
    load(&d, dir);
    size_t units = d.nu;
    int wice_claims = 0;
    {
        int *seen = calloc((size_t)d.n_groups, sizeof *seen);
        for (size_t i = 0; i < d.n; i++)
            if (d.ex[i].ds == DS_WICE && !seen[d.ex[i].group]++)
                wice_claims++;
        free(seen);
    }
    printf("train_verifier: frugal %s (commit %s); data %s\n", fr_version(), fr_commit(), dir);
    printf("  wice: %zu records (%d claims), halueval: %zu records (%zu answers); %zu sub-claims\n",
           d.n_records[DS_WICE], wice_claims, d.n_records[DS_HALU], 2 * d.n_records[DS_HALU], units);
    printf("  features (%d):", o.n_use);
    for (int k = 0; k < o.n_use; k++)
        printf(" %s", fr_feature_names[o.use[k]]);
    printf("\n  lambda %g, %d grouped folds, seed %lu, threshold chosen on %s\n", o.lambda, o.folds, o.seed,
           o.thr_on < 0 ? "both datasets" : ds_name[o.thr_on]);

    if (diag) {
        /* each feature alone: AUROC of its minimum over a claim's units */
        scored *v = malloc(d.n * sizeof *v);
        printf("  feature alone (min over sub-claims): AUROC wice, halueval\n");
        for (int k = 0; k < NF; k++) {
            printf("    %-16s", fr_feature_names[k]);
            for (int s = 0; s < DS_N; s++) {
                size_t m = 0;
                for (size_t i = 0; i < d.n; i++) {
                    if (d.ex[i].ds != s)
                        continue;
                    double mn = INFINITY;
                    for (size_t u = d.ex[i].u0; u < d.ex[i].u0 + d.ex[i].nu; u++)
                        mn = fmin(mn, d.feats[u * NF + k]);
                    v[m++] = (scored){.s = mn, .y = d.ex[i].y, .split = 0};
                }
                printf(" %.3f", auroc(v, m));
            }
            printf("\n");
        }
        free(v);
    }
    size_t *all = malloc(d.n * sizeof *all), *tr = malloc(d.n * sizeof *tr), *te = malloc(d.n * sizeof *te);
    for (size_t i = 0; i < d.n; i++)
        all[i] = i;
    int *gfold = malloc((size_t)d.n_groups * sizeof *gfold), *ifold = malloc((size_t)d.n_groups * sizeof *ifold);
    assign_folds(&d, o.folds, o.seed, gfold);
    double *prob = calloc(d.n, sizeof *prob), *oof = calloc(d.n, sizeof *oof);
    double *veto = calloc(d.n, sizeof *veto), *oof_veto = calloc(d.n, sizeof *oof_veto);
    double *oof_score = calloc(d.n, sizeof *oof_score); /* under each fold's threshold */
    fold_result *fr = calloc((size_t)o.folds, sizeof *fr);
    json_t *jfolds = json_array();
    printf("\n  outer fold | threshold (inner CV) | wice n  AUROC  bal.acc | halueval n  AUROC  bal.acc\n");
    for (int f = 0; f < o.folds; f++) {
        size_t nt = 0, ne = 0;
        for (size_t i = 0; i < d.n; i++)
            if (gfold[d.ex[i].group] == f)
                te[ne++] = i;
            else
                tr[nt++] = i;
        /* threshold from an inner cross-validation on the training folds */
        for (int g = 0; g < d.n_groups; g++)
            ifold[g] = -1;
        assign_folds(&d, o.folds, o.seed + 1000u + (unsigned long)f, ifold);
        cross_predict(&d, tr, nt, ifold, o.folds, &o, prob, veto);
        fr[f].thr = best_threshold(d.ex, prob, veto, tr, nt, o.thr_on);
        model m;
        train(&m, &d, tr, nt, &o);
        fr_rag_verifier *v = verifier_of(&m, 0.5);
        for (size_t i = 0; i < ne; i++)
            oof[te[i]] = predict(v, &d, &d.ex[te[i]], &oof_veto[te[i]]);
        fr_rag_verifier_free(v);
        metrics(&d, te, ne, oof, oof_veto, fr[f].thr, fr[f].n, fr[f].auroc, fr[f].bacc);
        for (size_t i = 0; i < ne; i++)
            oof_score[te[i]] = claim_score(oof[te[i]], oof_veto[te[i]], fr[f].thr);
        printf("  %10d | %20.3f | %6zu %6.3f %8.3f | %10zu %6.3f %8.3f\n", f + 1, fr[f].thr, fr[f].n[DS_WICE],
               fr[f].auroc[DS_WICE], fr[f].bacc[DS_WICE], fr[f].n[DS_HALU], fr[f].auroc[DS_HALU],
               fr[f].bacc[DS_HALU]);
        json_t *jf = json_object();
        json_object_set_new(jf, "threshold", jnum(fr[f].thr));
        for (int s = 0; s < DS_N; s++) {
            json_t *js = json_object();
            json_object_set_new(js, "n", json_integer((json_int_t)fr[f].n[s]));
            json_object_set_new(js, "auroc", jnum(fr[f].auroc[s]));
            json_object_set_new(js, "balanced_accuracy", jnum(fr[f].bacc[s]));
            json_object_set_new(jf, ds_name[s], js);
        }
        json_array_append_new(jfolds, jf);
    }
    if (getenv("TRAIN_DUMP"))
        for (size_t i = 0; i < d.n; i++) {
            const example *e = &d.ex[i];
            fprintf(stderr, "%s\t%d\t%.3f", ds_name[e->ds], e->y, oof_score[i]);
            for (size_t u = e->u0; u < e->u0 + e->nu; u++)
                fprintf(stderr, "\t[sup %.2f win %.2f pairs %.2f]", d.feats[u * NF + FR_F_SUPPORT],
                        d.feats[u * NF + FR_F_WINDOW], d.feats[u * NF + FR_F_PAIRS]);
            fprintf(stderr, "\t%s\n", e->claim);
        }
    double mean_au[DS_N] = {0}, mean_ba[DS_N] = {0}, sd_ba[DS_N] = {0};
    for (int s = 0; s < DS_N; s++) {
        for (int f = 0; f < o.folds; f++) {
            mean_au[s] += fr[f].auroc[s] / o.folds;
            mean_ba[s] += fr[f].bacc[s] / o.folds;
        }
        for (int f = 0; f < o.folds; f++)
            sd_ba[s] += (fr[f].bacc[s] - mean_ba[s]) * (fr[f].bacc[s] - mean_ba[s]) / (o.folds - 1);
        sd_ba[s] = sqrt(sd_ba[s]);
    }
    size_t cnt[DS_N];
    double pooled_au[DS_N], pooled_ba_dummy[DS_N];
    metrics(&d, all, d.n, oof_score, NULL, 0.5, cnt, pooled_au, pooled_ba_dummy);
    printf("  mean over folds: wice AUROC %.3f, balanced accuracy %.3f (sd %.3f); halueval AUROC %.3f, "
           "balanced accuracy %.3f (sd %.3f)\n",
           mean_au[DS_WICE], mean_ba[DS_WICE], sd_ba[DS_WICE], mean_au[DS_HALU], mean_ba[DS_HALU],
           sd_ba[DS_HALU]);
    printf("  pooled held-out AUROC: wice %.3f, halueval %.3f\n", pooled_au[DS_WICE], pooled_au[DS_HALU]);

    /* the shipped model: all data; threshold from 5-fold held-out predictions */
    cross_predict(&d, all, d.n, gfold, o.folds, &o, prob, veto);
    double thr = best_threshold(d.ex, prob, veto, all, d.n, o.thr_on);
    double au[DS_N], ba[DS_N];
    metrics(&d, all, d.n, prob, veto, thr, cnt, au, ba);
    model m;
    train(&m, &d, all, d.n, &o);
    printf("\n  shipped model: trained on all %zu examples; threshold %.4f (best balanced accuracy on the "
           "%d-fold held-out predictions: wice %.3f, halueval %.3f)\n",
           d.n, thr, o.folds, ba[DS_WICE], ba[DS_HALU]);
    for (int k = 0; k < m.nf; k++)
        printf("    %-16s weight %+.3f (mean %.3f, scale %.3f)\n", fr_feature_names[m.idx[k]], m.w[k], m.mean[k],
               m.scale[k]);
    printf("    %-16s %+.3f\n", "bias", m.bias);

    int rc = check ? check_weights(check, &m, thr) : 0;
    if (!report_only) {
        json_t *t = json_object(), *data = json_array(), *cv = json_object();
        json_t *dw = json_object(), *dh = json_object();
        json_object_set_new(dw, "file", json_string("wice_oracle_claim_dev.jsonl"));
        json_object_set_new(dw, "records", json_integer((json_int_t)d.n_records[DS_WICE]));
        json_object_set_new(dw, "positive", json_string("supported (partially_supported and not_supported negative)"));
        json_object_set_new(dw, "licence", json_string("WiCE: annotations ODC-BY 1.0, text CC BY-SA (Wikipedia) and Common Crawl terms"));
        json_object_set_new(dh, "file", json_string("halueval_qa_one-turn.json"));
        json_object_set_new(dh, "records", json_integer((json_int_t)d.n_records[DS_HALU]));
        json_object_set_new(dh, "positive", json_string("right_answer (hallucinated_answer negative)"));
        json_object_set_new(dh, "licence", json_string("HaluEval: MIT"));
        json_array_append_new(data, dw);
        json_array_append_new(data, dh);
        json_object_set_new(t, "program", json_string("tools/train_verifier.c (make train-verifier)"));
        json_object_set_new(t, "commit", json_string(fr_commit()));
        json_object_set_new(t, "data", data);
        json_object_set_new(t, "lambda", json_real(o.lambda));
        json_object_set_new(t, "seed", json_integer((json_int_t)o.seed));
        json_object_set_new(t, "threshold_chosen_on", json_string(o.thr_on < 0 ? "both" : ds_name[o.thr_on]));
        json_object_set_new(cv, "method", json_string("5-fold grouped (all records of a claim / knowledge text in one fold); threshold per outer fold from an inner 5-fold CV on its training folds"));
        json_object_set_new(cv, "folds", jfolds);
        jfolds = NULL;
        json_t *mw = json_object(), *mh = json_object();
        json_object_set_new(mw, "auroc_mean", jnum(mean_au[DS_WICE]));
        json_object_set_new(mw, "auroc_pooled", jnum(pooled_au[DS_WICE]));
        json_object_set_new(mw, "balanced_accuracy_mean", jnum(mean_ba[DS_WICE]));
        json_object_set_new(mh, "auroc_mean", jnum(mean_au[DS_HALU]));
        json_object_set_new(mh, "auroc_pooled", jnum(pooled_au[DS_HALU]));
        json_object_set_new(mh, "balanced_accuracy_mean", jnum(mean_ba[DS_HALU]));
        json_object_set_new(cv, "wice", mw);
        json_object_set_new(cv, "halueval", mh);
        json_object_set_new(t, "cross_validation", cv);
        rc = write_weights(out, &m, thr, t);
        if (!rc)
            printf("\n  wrote %s\n", out);
    }
    json_decref(jfolds);
    free(fr);
    free(prob);
    free(oof);
    free(veto);
    free(oof_veto);
    free(oof_score);
    free(gfold);
    free(ifold);
    free(all);
    free(tr);
    free(te);
    for (size_t i = 0; i < d.n; i++)
        free(d.ex[i].claim);
    free(d.ex);
    free(d.feats);
    return rc;
}
