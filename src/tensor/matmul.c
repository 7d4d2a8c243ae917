/*
 * matmul.c - the reference weight x activation product (see matmul.h).
 *
 * Work is split by output rows so each thread streams its own slice of the
 * weights once, whatever the batch size.
 */
#include "tensor/matmul.h"

#include <frugal/tensor.h>
#include <string.h>

void fr_weight_row(const fr_weight *w, int64_t r, float *out)
{
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    if (w->type == FR_TYPE_F32) {
        memcpy(out, row, (size_t)w->n_in * sizeof(float));
        return;
    }
    /* Types were validated when the model was bound, so this cannot fail. */
    (void)fr_dequantize(w->type, row, out, w->n_in, NULL);
}

typedef struct fr_matmul_job {
    const fr_weight *w;
    const float *x;
    int64_t n_tok;
    float *y;
    int64_t ldy;
    const fr_matmul_scratch *s;
} fr_matmul_job;

static void fr_matmul_worker(void *arg, int ith, int nth)
{
    const fr_matmul_job *j = arg;
    const fr_weight *w = j->w;
    int64_t lo, hi;
    fr_split_range(w->n_out, ith, nth, &lo, &hi);
    float *buf = j->s->per_thread[ith];
    for (int64_t r = lo; r < hi; r++) {
        const float *row;
        if (w->type == FR_TYPE_F32) {
            row = (const float *)((const uint8_t *)w->data + (size_t)r * w->row_bytes);
        } else {
            fr_weight_row(w, r, buf);
            row = buf;
        }
        for (int64_t t = 0; t < j->n_tok; t++)
            j->y[t * j->ldy + r] = fr_dot_f32(row, j->x + t * w->n_in, w->n_in);
    }
}

void fr_matmul(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
               int64_t ldy, const fr_matmul_scratch *s)
{
    fr_matmul_job j = {w, x, n_tok, y, ldy, s};
    fr_pool_run(pool, fr_matmul_worker, &j);
}
