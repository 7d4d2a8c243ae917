/*
 * matmul.h - products of a stored weight matrix with float activations.
 *
 * A weight is a row-major matrix of n_out rows, each n_in values long, in its
 * stored GGUF type (the mmap'd bytes, never converted in place). For
 * activations X (n_tok rows of n_in floats) the product is
 *     Y[t][o] = sum_i W[o][i] * X[t][i]
 * i.e. y = W x for every token, as every linear layer of a transformer needs.
 *
 * This is the reference path: each weight row is dequantized once into a
 * per-thread buffer and reused for every token of the batch, and dot
 * products accumulate left to right in float, so results do not depend on
 * the thread count. Faster kernels are checked against it.
 */
#ifndef FR_TENSOR_MATMUL_H
#define FR_TENSOR_MATMUL_H

#include <frugal/types.h>
#include "tensor/threadpool.h"

typedef struct fr_weight {
    fr_type type;
    const void *data; /* n_out rows of row_bytes each */
    int64_t n_in;     /* values per row (ne0) */
    int64_t n_out;    /* rows (ne1) */
    size_t row_bytes;
} fr_weight;

/* Per-thread scratch the products need: nth buffers of at least
 * fr_matmul_scratch_floats(max n_in) floats each. */
typedef struct fr_matmul_scratch {
    float **per_thread;
    int n_threads;
    int64_t floats; /* size of each buffer */
} fr_matmul_scratch;

static inline int64_t fr_matmul_scratch_floats(int64_t max_n_in) { return max_n_in; }

/* Y (n_tok rows, row stride ldy >= n_out) = X (n_tok rows, stride n_in) * W^T. */
void fr_matmul(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
               int64_t ldy, const fr_matmul_scratch *s);

/* Dequantizes row r of w into out (n_in floats). */
void fr_weight_row(const fr_weight *w, int64_t r, float *out);

/* Left-to-right float dot product (the reference accumulation order). */
static inline float fr_dot_f32(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

#endif
