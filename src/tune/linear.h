/*
 * linear.h - linear layers for training: a frozen base weight in its stored
 * (usually quantized) type, plus an optional LoRA pair.
 *
 *   y = x W^T (+ bias) + scale * (x A^T) B^T
 *
 * with W [n_out][n_in] (GGUF [n_in, n_out]), A [r][n_in], B [n_out][r]
 * (llama.cpp's lora_a [n_in, r] and lora_b [r, n_out]), scale = alpha / r.
 *
 * The base is never dequantized as a whole: the forward product goes
 * through fr_matmul (the inference kernels, which quantize activations to
 * 8 bits per block for quantized weights, as llama.cpp does), and the input
 * gradient dX = dY W
 * dequantizes tiles of rows, each thread its own column slice, so the extra
 * memory is FR_TILE_FLOATS floats per thread.
 */
#ifndef FR_TUNE_LINEAR_H
#define FR_TUNE_LINEAR_H

#include <frugal/base.h>

#include "tensor/matmul.h"
#include "tensor/threadpool.h"

/* Tiles of the base weight dequantized for dX = dY W: FR_TILE_ROWS rows by
 * FR_TILE_COLS columns (rounded up to the type's block), one per thread. */
#define FR_TILE_ROWS 256
#define FR_TILE_COLS 512
#define FR_TILE_FLOATS (FR_TILE_ROWS * FR_TILE_COLS)
/* Products below this many multiply-adds run on the calling thread: waking
 * the workers costs more than they save (results do not depend on it). */
#define FR_PAR_MIN_MACS (1 << 18)

/* Thread pool and per-thread scratch shared by every product of a run. */
typedef struct fr_tune_exec {
    fr_pool *pool;
    fr_pool *solo;         /* a pool of one (the caller) for products too small to share */
    int nth;
    fr_matmul_scratch mm;  /* fr_matmul on pool */
    fr_matmul_scratch mm1; /* fr_matmul on solo */
    /* Forward products with the base in float (fr_matmul_ref) instead of
     * the fast kernels, which quantize activations to 8 bits as llama.cpp
     * does. Gradient checks use it; training uses the fast kernels, so the
     * adapter learns under the arithmetic it will be served with. */
    bool exact;
    float **tile;         /* [nth][FR_TILE_FLOATS] */
    int64_t tile_floats;
} fr_tune_exec;

/* max_n_in: the longest weight row (max of n_embd, n_ff, q_dim); max_tok:
 * the most rows a product will have (larger products work, in pieces). */
fr_status fr_tune_exec_init(fr_tune_exec *e, int n_threads, int64_t max_n_in, int64_t max_tok,
                            fr_err *err);
void fr_tune_exec_free(fr_tune_exec *e);
/* e->pool, or e->solo when a job of this many multiply-adds is too small. */
fr_pool *fr_tune_pool_for(fr_tune_exec *e, int64_t macs);

/* y [n][n_out] = x [n][n_in] W^T (+ bias, may be NULL). */
void fr_base_forward(fr_tune_exec *e, const fr_weight *w, const float *bias, const float *x,
                     int64_t n, float *y);
/* dx [n][n_in] += dy [n][n_out] W. */
void fr_base_backward(fr_tune_exec *e, const fr_weight *w, const float *dy, int64_t n, float *dx);

typedef struct fr_lora_ref {
    const float *A;  /* [r][n_in] */
    const float *B;  /* [n_out][r] */
    float *dA, *dB;  /* same shapes; gradients are added */
    int64_t n_in, n_out;
    int64_t r;
    float scale;     /* alpha / r */
} fr_lora_ref;

/* y [n][n_out] += scale * (x A^T) B^T; u [n][r] = x A^T is kept for backward. */
void fr_lora_forward(fr_tune_exec *e, const fr_lora_ref *p, const float *x, int64_t n, float *y,
                     float *u);
/* u [n][r] = x A^T only (recomputation, when y itself is not needed). */
void fr_lora_project(fr_tune_exec *e, const fr_lora_ref *p, const float *x, int64_t n, float *u);
/* dB += scale * dy^T u; du = scale * dy B; dA += du^T x; dx (may be NULL)
 * += du A. du is scratch of n * r floats. */
void fr_lora_backward(fr_tune_exec *e, const fr_lora_ref *p, const float *x, const float *u,
                      const float *dy, int64_t n, float *dx, float *du);

#endif
