/*
 * eval.c - AUROC and balanced accuracy (see eval.h).
 */
#include "rag/eval.h"

#include <math.h>
#include <stdlib.h>

static int cmp_s(const void *a, const void *b)
{
    double x = ((const fr_scored *)a)->s, y = ((const fr_scored *)b)->s;
    return x < y ? -1 : x > y;
}

double fr_eval_auroc(const fr_scored *in, size_t n, int split)
{
    fr_scored *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NAN;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (split < 0 || in[i].split == split)
            v[m++] = in[i];
    qsort(v, m, sizeof *v, cmp_s);
    double rank_sum = 0;
    size_t pos = 0, neg = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j].s == v[i].s)
            j++;
        double r = (double)(i + j + 1) / 2.0; /* average 1-based rank */
        for (size_t k = i; k < j; k++)
            if (v[k].y)
                rank_sum += r;
        i = j;
    }
    for (size_t i = 0; i < m; i++)
        v[i].y ? pos++ : neg++;
    free(v);
    if (!pos || !neg)
        return NAN;
    return (rank_sum - (double)pos * (double)(pos + 1) / 2.0) / ((double)pos * (double)neg);
}

double fr_eval_balanced_accuracy(const fr_scored *v, size_t n, int split, double thr)
{
    size_t tp = 0, p = 0, tn = 0, q = 0;
    for (size_t i = 0; i < n; i++) {
        if (split >= 0 && v[i].split != split)
            continue;
        if (v[i].y) {
            p++;
            tp += v[i].s >= thr;
        } else {
            q++;
            tn += v[i].s < thr;
        }
    }
    return p && q ? 0.5 * ((double)tp / (double)p + (double)tn / (double)q) : NAN;
}
