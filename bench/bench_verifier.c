/*
 * bench_verifier.c - how long the groundedness verdict takes per claim,
 * on one core.
 *
 *   bench_verifier [--data DIR] [--src DIR] [--reps N]
 *
 * 1. The target case: a claim of 30 words against 2 KB of evidence (the
 *    first 2,048 bytes of the test corpus, tests/data/rag, cut at a space),
 *    as `frugal check` scores it: IDF from the evidence's sentences, the
 *    evidence indexed, the claim split into sentences and sub-claims, each
 *    scored by the built-in verifier (whose weights are parsed at each
 *    call). Median and best of N calls.
 * 2. Every WiCE dev claim against its own evidence (about 1.5 KB, median
 *    21 words): mean, median, 95th percentile and worst.
 * Never fails on a number; prints "skipped" for missing data.
 */
#include "base/clock.h"
#include "base/file.h"
#include "rag/text.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double vocab_idf(void *user, const char *word, const char *term)
{
    (void)word;
    const fr_vocab *v = user;
    return fr_idf(fr_vocab_df(v, term, strlen(term)), fr_vocab_docs(v));
}

/* One check as `frugal check` does it; returns seconds. */
static double time_check(const char *claim, const char *ev, size_t evl, double *score)
{
    double t0 = fr_cpu_time_s();
    fr_vocab *idf = fr_vocab_create();
    for (size_t off = 0; off < evl;) {
        size_t e = fr_sentence_end(ev, evl, off);
        if (e <= off)
            break;
        fr_vocab_add_doc(idf, ev + off, e - off);
        off = e;
    }
    fr_rag_check_opts o = {0};
    o.idf = vocab_idf;
    o.idf_user = idf;
    fr_rag_checked *r = NULL;
    *score = -1;
    if (fr_rag_check_answer(claim, strlen(claim), &ev, &evl, 1, FR_RAG_CITES_IGNORED, &o, &r, NULL) == FR_OK) {
        *score = r->score;
        fr_rag_checked_free(r);
    }
    fr_vocab_free(idf);
    return fr_cpu_time_s() - t0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t words(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ')
            p++;
        if (*p)
            n++;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data", *src = ".";
    int reps = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--src") == 0 && i + 1 < argc)
            src = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
    }
    if (reps < 1)
        reps = 1;
    printf("bench_verifier: frugal %s (commit %s), 1 thread, CPU time per claim\n\n", fr_version(), fr_commit());

    /* 1. 30 words against 2 KB */
    static const char *const files[] = {"products.md", "warranty.txt", "returns-policy.html", "support.json"};
    char ev[2049];
    size_t evl = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files && evl < 2048; f++) {
        char path[4096], *d = NULL;
        size_t n = 0;
        snprintf(path, sizeof path, "%s/tests/data/rag/%s", src, files[f]);
        if (fr_read_file(path, 1 << 20, &d, &n, NULL) != FR_OK)
            continue;
        size_t take = n < 2048 - evl ? n : 2048 - evl;
        memcpy(ev + evl, d, take);
        evl += take;
        free(d);
    }
    while (evl > 0 && evl == 2048 && ev[evl - 1] != ' ')
        evl--;
    ev[evl] = '\0';
    const char *claim = "The Aurora X2 thermometer costs $149.00, ships with a calibration certificate and "
                        "was launched on March 4, 2021, while the Borealis battery lasts 18 months in normal everyday laboratory use.";
    if (evl < 1024) {
        printf("30-word claim vs 2 KB: skipped (tests/data/rag not found under %s)\n", src);
    } else {
        double *t = malloc((size_t)reps * sizeof *t), score = 0;
        for (int r = 0; r < reps; r++)
            t[r] = time_check(claim, ev, evl, &score);
        qsort(t, (size_t)reps, sizeof *t, cmp_d);
        printf("| case | claims | median ms | best ms | score |\n|---|---|---|---|---|\n");
        printf("| %zu-word claim vs %zu bytes of evidence | %d (repeated) | %.3f | %.3f | %.3f |\n", words(claim), evl,
               reps, 1e3 * t[reps / 2], 1e3 * t[0], score);
        free(t);
    }

    /* 2. WiCE dev */
    char path[4096], *d = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/wice_oracle_claim_dev.jsonl", data);
    if (fr_read_file(path, 64u << 20, &d, &n, NULL) != FR_OK) {
        printf("\nWiCE dev: skipped (%s missing)\n", path);
        return 0;
    }
    double *t = NULL, sum = 0, evsum = 0, wsum = 0;
    size_t m = 0, cap = 0;
    for (char *line = d; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        json_t *j = json_loadb(line, len, 0, NULL);
        const char *c = json_string_value(json_object_get(j, "claim"));
        json_t *e = json_object_get(j, "evidence"), *x;
        size_t k;
        if (c && json_is_array(e)) {
            char *buf = NULL;
            size_t bl = 0;
            FILE *mem = open_memstream(&buf, &bl);
            json_array_foreach(e, k, x) if (json_is_string(x)) fprintf(mem, "%s%s", k ? "\n\n" : "", json_string_value(x));
            fclose(mem);
            double score;
            if (m == cap) {
                cap = cap ? 2 * cap : 1024;
                t = realloc(t, cap * sizeof *t);
            }
            t[m] = time_check(c, buf, bl, &score);
            sum += t[m++];
            evsum += (double)bl;
            wsum += (double)words(c);
            free(buf);
        }
        json_decref(j);
        line = nl ? nl + 1 : NULL;
    }
    free(d);
    if (m) {
        qsort(t, m, sizeof *t, cmp_d);
        printf("| WiCE dev, each claim vs its evidence (mean %.0f words vs %.0f bytes) | %zu | %.3f (mean %.3f, "
               "p95 %.3f, worst %.3f) | %.3f | |\n",
               wsum / (double)m, evsum / (double)m, m, 1e3 * t[m / 2], 1e3 * sum / (double)m,
               1e3 * t[(size_t)(0.95 * (double)(m - 1))], 1e3 * t[m - 1], 1e3 * t[0]);
    }
    free(t);
    printf("\nTarget: at most 20 ms per 30-word claim against 2 KB of evidence on one core.\n");
    return 0;
}
