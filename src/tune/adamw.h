/*
 * adamw.h - AdamW (decoupled weight decay), the learning-rate schedule and
 * global gradient-norm clipping, over one flat parameter vector.
 *
 * Update for step t (1-based), as in PyTorch's AdamW:
 *   p -= lr * wd * p
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * Moments are float; the bias corrections are computed in double. The loop
 * is sequential, so the result is the same on every run.
 */
#ifndef FR_TUNE_ADAMW_H
#define FR_TUNE_ADAMW_H

#include <frugal/tune.h>

typedef struct fr_adamw {
    int64_t n;
    float *m; /* [n] first moment */
    float *v; /* [n] second moment */
    uint64_t t; /* updates applied */
} fr_adamw;

fr_status fr_adamw_init(fr_adamw *o, int64_t n, fr_err *err);
void fr_adamw_free(fr_adamw *o);
void fr_adamw_update(fr_adamw *o, float *param, const float *grad, const fr_tune_params *p,
                     double lr);

/* Learning rate for the step with 0-based index step. */
double fr_lr_at(const fr_tune_params *p, uint64_t step);

/* sqrt(sum g^2), summed in double in order. */
double fr_grad_norm(const float *g, int64_t n);
/* g *= s */
void fr_grad_scale(float *g, int64_t n, float s);

#endif
