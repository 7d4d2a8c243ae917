/*
 * tmodel.h - the training forward and backward of the whole decoder, with
 * layer-wise activation checkpointing.
 *
 * Forward keeps only each layer's input (the residual stream, (n_layer + 1)
 * x rows x n_embd floats). Backward walks the layers from the top,
 * recomputes one layer's forward from its saved input into a single set of
 * layer buffers, and backpropagates through it. Memory is therefore
 * checkpoints + one layer's intermediates + one chunk of logits, whatever
 * the depth; the price is one extra forward of the layers.
 *
 * The output head and cross-entropy run on chunks of logit_rows rows, and
 * only on rows that are in the loss (a masked chat prompt costs no head
 * products).
 */
#ifndef FR_TUNE_TMODEL_H
#define FR_TUNE_TMODEL_H

#include <frugal/model.h>

#include "tune/linear.h"
#include "tune/tlora.h"

/* A micro-batch: n_seq sequences stacked row by row. */
typedef struct fr_tbatch {
    int64_t n;              /* rows (tokens) in all sequences */
    uint32_t n_seq;
    const int32_t *tok;     /* [n] input token of each row */
    const int32_t *tgt;     /* [n] token to predict after it, or -1 (not in the loss) */
    const int32_t *pos;     /* [n] position within its sequence */
    const int64_t *seq_off; /* [n_seq + 1] first row of each sequence; seq_off[n_seq] = n */
} fr_tbatch;

typedef struct fr_tmodel fr_tmodel;

/* Buffers for up to max_rows rows with sequences of at most max_seq rows.
 * m, lora and ex are borrowed. logit_rows 0 = auto. */
fr_status fr_tmodel_create(const fr_model *m, fr_tlora *lora, fr_tune_exec *ex,
                           int64_t max_rows, int64_t max_seq, int64_t logit_rows,
                           fr_tmodel **out, fr_err *err);
void fr_tmodel_free(fr_tmodel *tm);

/* Bytes fr_tmodel_create allocates: activations (checkpoints, layer
 * intermediates and gradients) and logits (one chunk), and the rows of
 * logits per chunk that auto picks. */
void fr_tmodel_bytes(const fr_model *m, uint32_t rank, int64_t max_rows, int64_t max_seq,
                     int64_t logit_rows, int nth, uint64_t *activations, uint64_t *logits,
                     int64_t *chunk_rows);

/* Forward over b; with grad, backward too, adding d(scale * sum of losses)
 * / d(A, B) into lora->grad. *loss_sum = sum of cross-entropy over the rows
 * in the loss (double), *n_loss = their count. cancel (may be NULL) is
 * polled between layers: FR_E_CANCELLED (gradients partly added). */
fr_status fr_tmodel_run(fr_tmodel *tm, const fr_tbatch *b, bool grad, float scale,
                        double *loss_sum, int64_t *n_loss, bool (*cancel)(void *), void *user,
                        fr_err *err);

/* Logits of every row of b into out [n][n_vocab] (tests). */
void fr_tmodel_logits(fr_tmodel *tm, const fr_tbatch *b, float *out);

#endif
