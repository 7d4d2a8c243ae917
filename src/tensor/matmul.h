/*
 * matmul.h - products of a stored weight matrix with float activations.
 *
 * A weight is a row-major matrix of n_out rows, each n_in values long, in its
 * stored GGUF type (the mmap'd bytes, never converted in place). For
 * activations X (n_tok rows of n_in floats) the product is
 *     Y[t][o] = sum_i W[o][i] * X[t][i]
 * i.e. y = W x for every token, as every linear layer of a transformer needs.
 *
 * fr_matmul runs the kernels of the path chosen when the scratch was set up
 * (cpu.h: the best the CPU has, or FRUGAL_ISA): for the quantized types it
 * first quantizes X to 8 bits per block (kernels.h), then splits the output
 * rows over the pool (one contiguous range per thread, with stealing:
 * rowsplit.h), each piece computed for all tokens by register-blocked
 * tiles. Every output element is computed
 * by the same operations whatever the batch size, the tile or the thread, so
 * results do not depend on the thread count, and a token decoded alone gets
 * exactly the logits it gets inside a prompt.
 *
 * fr_matmul_ref is the float reference: each weight row dequantized and
 * multiplied left to right in float with unquantized activations. Tests use
 * it as the oracle for the paths' accuracy.
 *
 * Neither allocates: all buffers come from fr_matmul_scratch, sized once for
 * the largest row length and batch a context will use.
 */
#ifndef FR_TENSOR_MATMUL_H
#define FR_TENSOR_MATMUL_H

#include <frugal/types.h>

#include "tensor/cpu.h"
#include "tensor/threadpool.h"

struct fr_kernel_set;
struct fr_rowsplit_slot;
struct fr_packed;

typedef struct fr_weight {
    fr_type type;
    const void *data; /* n_out rows of row_bytes each */
    int64_t n_in;     /* values per row (ne0) */
    int64_t n_out;    /* rows (ne1) */
    size_t row_bytes;
    /* The same matrix repacked for one kernel path (pack.h), or NULL;
     * borrowed. Products on that path read it instead of data, from
     * packed_off bytes in: a view of rows r0.. of a packed matrix (r0 a
     * multiple of FR_PACK_ROWS) starts r0 * row_bytes into the copy. */
    const struct fr_packed *packed;
    size_t packed_off;
} fr_weight;

/* Buffers and kernel choice for the products of one context. Set up with
 * fr_matmul_scratch_init, released with fr_matmul_scratch_free; read-only
 * while products run (one product at a time per scratch). */
typedef struct fr_matmul_scratch {
    const struct fr_kernel_set *ks; /* the path's kernels (static table) */
    int n_threads;
    int64_t max_n_in;     /* longest row a product may have */
    int64_t max_tok;      /* tokens quantized at once (more are done in chunks) */
    uint8_t **per_thread; /* [n_threads] fr_kernel_scratch_bytes(max_n_in), 64-aligned */
    uint8_t *qa;          /* Q8B activations of max_tok rows, 64-aligned */
    uint8_t *qak;         /* Q8K activations of max_tok rows, 64-aligned */
    size_t qa_bytes, qak_bytes;
    struct fr_rowsplit_slot *split; /* [n_threads] the rows' split over threads */
} fr_matmul_scratch;

/* Allocates scratch for products with pools of n_threads threads, rows of
 * at most max_n_in values and batches of max_tok tokens (larger batches
 * work, in chunks), on the path fr_isa_select picks. Fails with the
 * selection's error (bad FRUGAL_ISA) or FR_E_NOMEM. On failure *s is left
 * so that fr_matmul_scratch_free is safe. */
fr_status fr_matmul_scratch_init(fr_matmul_scratch *s, int n_threads, int64_t max_n_in,
                                 int64_t max_tok, fr_err *err);

/* Switches the path (tests, benchmarks). FR_E_UNSUPPORTED if this CPU
 * cannot run it; *s is unchanged then. */
fr_status fr_matmul_scratch_set_isa(fr_matmul_scratch *s, fr_isa isa, fr_err *err);

/* The path in use. */
fr_isa fr_matmul_scratch_isa(const fr_matmul_scratch *s);

/* Frees the buffers; safe on a zeroed or failed-init struct, and twice. */
void fr_matmul_scratch_free(fr_matmul_scratch *s);

/* Y (n_tok rows, row stride ldy >= n_out) = X (n_tok rows, stride n_in) * W^T.
 * w->n_in <= s->max_n_in; pool has s->n_threads threads. */
void fr_matmul(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
               int64_t ldy, const fr_matmul_scratch *s);

/* One product of a group: Y = X W^T into y (row stride ldy >= w->n_out). */
typedef struct fr_mm_part {
    const fr_weight *w;
    float *y;
    int64_t ldy;
} fr_mm_part;

#define FR_MM_MAX_PARTS 3

/* Several products of the same activations X (1 to FR_MM_MAX_PARTS parts,
 * equal n_in) in one pool run: X is quantized once per activation kind and
 * the rows of all parts, in order, are split over the threads as one
 * range, so small products (a layer's K and V) cost no synchronisation of
 * their own. Results are those of fr_matmul on each part. */
void fr_matmul_multi(fr_pool *pool, const fr_mm_part *parts, int n_parts, const float *x,
                     int64_t n_tok, const fr_matmul_scratch *s);

/* The float reference product (same contract as fr_matmul). */
void fr_matmul_ref(fr_pool *pool, const fr_weight *w, const float *x, int64_t n_tok, float *y,
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
