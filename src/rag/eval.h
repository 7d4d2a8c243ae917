/*
 * eval.h - how a groundedness score is measured against labels: AUROC and
 * balanced accuracy, one definition for the training program
 * (tools/train_verifier.c) and the benchmarks (bench/bench_rag.c).
 */
#ifndef FR_RAG_EVAL_H
#define FR_RAG_EVAL_H

#include <stddef.h>

typedef struct fr_scored {
    double s;  /* the score */
    int y;     /* 1: supported (positive), 0: not */
    int split; /* a caller's subset label (folds, tune/test) */
} fr_scored;

/* AUROC of the records of v[0..n) in split (-1: all) by the rank-sum
 * (Mann-Whitney) formula, ties averaged; NAN without both classes. */
double fr_eval_auroc(const fr_scored *v, size_t n, int split);

/* Balanced accuracy (mean of the true positive and true negative rates)
 * when s >= thr is called supported; NAN without both classes. */
double fr_eval_balanced_accuracy(const fr_scored *v, size_t n, int split, double thr);

#endif
