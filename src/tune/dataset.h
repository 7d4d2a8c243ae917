/*
 * dataset.h - the inside of fr_dataset: all samples' tokens and masks in
 * two flat arrays, and a table of samples pointing into them.
 *
 * Invariants: every sample has 2 <= n <= n_ctx + 1 tokens and at least one
 * loss token; mask[off] (the first token's) is 0; record is 1-based.
 */
#ifndef FR_TUNE_DATASET_H
#define FR_TUNE_DATASET_H

#include <frugal/tune.h>

typedef struct fr_sample {
    size_t off;    /* into tok/mask */
    uint32_t n;    /* tokens */
    size_t record; /* 1-based line (or 1 for a text file) */
} fr_sample;

struct fr_dataset {
    fr_dataset_stats st;
    uint32_t n_ctx;
    int32_t *tok;  /* [n_tok] */
    uint8_t *mask; /* [n_tok] */
    size_t n_tok, cap_tok;
    fr_sample *s;  /* [n_s] */
    size_t n_s, cap_s;
};

fr_dataset *fr_dataset_new(uint32_t n_ctx);
/* Appends one sample (tokens and mask copied). Samples with fewer than 2
 * tokens or no loss token are counted as skipped, not added. */
fr_status fr_dataset_add(fr_dataset *d, const int32_t *tok, const uint8_t *mask, uint32_t n,
                         size_t record, fr_err *err);

#endif
