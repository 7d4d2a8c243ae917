/*
 * kernels.h - the matrix-product kernels of one ISA path, as a table
 * (internal to src/tensor).
 *
 * A kernel set holds, per weight type, a product Y = X W^T over a range of
 * output rows, and the activation quantizers those products read. One set
 * exists per path (generic, avx2, avx512, neon, dotprod, i8mm; cpu.h
 * chooses); the generic set
 * is the portable reference every other set is tested against.
 *
 * Activations. The float types (F32, F16, BF16) multiply float
 * activations. Every quantized type multiplies 8-bit activations quantized
 * once per product, so integer dot products do the work:
 *   Q8B  blocks of 32 (for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): per block a float
 *        scale d = max|x| / 127, quants q = round(x / d) in [-127, 127]
 *        (never -128, so sign tricks and u8 x s8 products cannot
 *        overflow), and s = d * sum(q) for the offset / min terms;
 *   Q8K  blocks of 256 (for Q2_K .. Q6_K): d and q as above, and the sum
 *        of each 16 quants (bsums) for the K types' mins and offsets.
 * Scales are kept in float (llama.cpp rounds the Q8_0 scale to half; we
 * do not need its bytes, only its accuracy). Rounding is to nearest even
 * in every implementation, so all sets produce the same bytes for the same
 * input, and the activation quantizers are tested for equality.
 *
 * Canonical weights. The generic set first unpacks a weight row into one
 * integer form per family, then runs one dot product per family:
 *   32-family  q int8 with the offset removed (Q4_0: q-8), per block float
 *              d and m (m = 0 without a min):  w = d*q + m
 *   K-family   q int8 (Q3_K: q-4, Q6_K: q-32), per 16 values int16 scale
 *              sc and min mn (per-32 types repeat them), per 256 float d
 *              and dmin:  w = d*sc*q - dmin*mn
 * so that per type only the unpacker differs, and it is checked against
 * the bit-exact dequantizer.
 *
 * Results. Integer sums are exact; the float accumulation over blocks
 * differs between sets (lanes, and how many blocks one float step covers:
 * 1 in generic and avx2, 16 for the 32-family in avx512), so sets agree to
 * rounding, not bitwise. Within one set, every output element is computed
 * by the same sequence of float operations on the same exact integers
 * whatever the tile it falls in, the number of tokens or the thread that
 * runs it: decode and prefill give bit-identical results (tested).
 *
 * Rejected: repacking weights into a SIMD layout when the model loads
 * (llama.cpp's "repack" buffers): it costs a second copy of the weights or
 * gives up sharing the mmap'd file, and decode - the memory-bound case -
 * does not need it; batches repack a few rows at a time into per-thread
 * scratch instead, where the cost is spread over the batch. Rejected: one
 * activation scale per token (fewer float operations) - LLM activations have
 * outlier channels that would crush every other value of the row to a few
 * levels. Rejected: OpenBLAS for F32 batches - its single-thread sgemm
 * on 128 x 2048 x 2048 measured 120 GFLOP/s against 150 for the avx512
 * F32 tiles on the same (AMD Zen 5) machine, and F32 weights are rare in
 * deployment; worth re-measuring on a machine where it wins.
 */
#ifndef FR_TENSOR_KERNELS_KERNELS_H
#define FR_TENSOR_KERNELS_KERNELS_H

#include <frugal/types.h>

#include "tensor/cpu.h"

#define FR_QA_BLK 32   /* values per Q8B activation block */
#define FR_QK_BLK 256  /* values per Q8K activation block */
#define FR_QA_ALIGN 64 /* qs rows are padded with zeros to a multiple of this */

struct fr_attn_unit; /* attn.h */

typedef enum fr_act_kind {
    FR_ACT_NONE = 0, /* type not supported by this set */
    FR_ACT_F32,      /* float activations */
    FR_ACT_Q8B,      /* 8-bit, blocks of 32 */
    FR_ACT_Q8K,      /* 8-bit, blocks of 256 with 16-value sums */
} fr_act_kind;

/* Quantized activations of n_tok token rows (views into scratch).
 * Rows are padded: qs with zeros to qs_ld (a multiple of 64), d and s with
 * zeros to blk_ld (a multiple of 16), so kernels may read whole 64-byte
 * vectors and groups of 16 block scales past the end of a row. */
typedef struct fr_qact {
    int8_t *qs;     /* [n_tok][qs_ld] */
    float *d;       /* [n_tok][blk_ld] scale per block */
    float *s;       /* Q8B: [n_tok][blk_ld] d * sum of the block's quants */
    int16_t *bsums; /* Q8K: [n_tok][blk_ld * 16] sum of each 16 quants */
    int64_t qs_ld;
    int64_t blk_ld;
    /* Q8B, when the set has interleave_q8b and the batch has 2+ tokens:
     * the same quants rearranged by it (path-specific layout), else NULL. */
    uint8_t *qsi;   /* [n_tok][qsi_ld] */
    int64_t qsi_ld; /* bytes per row: 512 per 16 blocks */
} fr_qact;

/* One product: rows of W times every token row. */
typedef struct fr_mm_args {
    fr_type type;
    const uint8_t *w; /* n_out rows of row_bytes, in the weight's type */
    size_t row_bytes;
    int64_t n_in, n_out;
    int64_t n_tok;
    const float *x; /* FR_ACT_F32: [n_tok][ldx] */
    int64_t ldx;
    fr_qact qa;     /* FR_ACT_Q8B / FR_ACT_Q8K */
    float *y;       /* [n_tok][ldy]; element (t, r) = row r . token t */
    int64_t ldy;
    /* Rows the kernel may prefetch, as far as row pf_r1 (exclusive): the
     * rest of the calling thread's stream beyond r1 (<= r1: only to r1). */
    int64_t pf_r1;
} fr_mm_args;

/* Computes y[t][r] for r in [r0, r1) and every token. scratch: this
 * thread's buffer of fr_kernel_scratch_bytes(n_in) bytes, 64-byte aligned. */
typedef void (*fr_gemm_fn)(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);

/* Quantizes one row of n activations (n a multiple of the block size)
 * into qs[n], d[n / block] and s[n / 32] (Q8B) or bsums[n / 16] (Q8K).
 * Padding is the caller's. */
typedef void (*fr_quant_q8b_fn)(const float *x, int64_t n, int8_t *qs, float *d, float *s);
typedef void (*fr_quant_q8k_fn)(const float *x, int64_t n, int8_t *qs, float *d,
                                int16_t *bsums);

typedef struct fr_mm_kernel {
    fr_act_kind act;
    fr_gemm_fn gemm;
} fr_mm_kernel;

/* Float32 products for training (tune/gemm.h has the contract):
 *   nn: C[M][N] (+)= alpha A[M][K] B[K][N]
 *   nt: C[M][N] (+)= alpha A[M][K] B[N][K]^T
 *   tn: C[M][N] (+)= alpha A[K][M]^T B[K][N]
 * acc false overwrites C. Single-threaded on the block given. */
typedef void (*fr_sgemm_fn)(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                            int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                            int64_t ldc);

typedef struct fr_kernel_set {
    fr_isa isa;
    const char *name;
    fr_mm_kernel mm[FR_TYPE_COUNT_];
    /* Products of weights repacked into the x8 layouts (pack.h): a->w is
     * the packed copy, rows are still numbered as in the matrix (r0 a
     * multiple of 8). act FR_ACT_NONE: the set has none for that type, and
     * its weights are not packed for this set. */
    fr_mm_kernel mm_x8[FR_TYPE_COUNT_];
    fr_quant_q8b_fn quant_q8b;
    fr_quant_q8k_fn quant_q8k;
    /* Optional: rearranges one quantized Q8B row (nb blocks of qs) into
     * qsi (nb rounded up to 16 blocks x 32 bytes) for the set's batch
     * kernels; called for batches of 2+ tokens. NULL: not used. */
    void (*interleave_q8b)(const int8_t *qs, int64_t nb, uint8_t *qsi);
    /* Sums 8-byte words of buf (bytes a multiple of 256) so the compiler
     * cannot drop the reads: the memory-bandwidth loop. */
    uint64_t (*read_sum)(const void *buf, size_t bytes);
    /* Attention rows over the KV cache (F32 or F16 entries): the dot of a
     * query with a key, and y += a * value. The generic versions accumulate
     * left to right (the reference order); SIMD ones in lanes. */
    float (*dot_f32)(const float *q, const float *k, int64_t n);
    float (*dot_f16)(const float *q, const uint16_t *k, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *v, int64_t n);
    void (*axpy_f16)(float *y, float a, const uint16_t *v, int64_t n);
    /* SwiGLU's g[i] = silu(g[i]) * u[i] = g[i] u[i] / (1 + e^-g[i]): libm's
     * expf in generic (the reference), a vector e^x within 2 ulp in SIMD. */
    void (*swiglu)(float *g, const float *u, int64_t n);
    fr_sgemm_fn sgemm_nn, sgemm_nt, sgemm_tn;
    /* Optional: one unit of tiled attention (attn.h) with per-thread
     * scratch of fr_attn_scratch_bytes; NULL: attention runs row by row on
     * dot / axpy above (the generic set: the reference). */
    void (*attn_tile)(const struct fr_attn_unit *u, void *scratch);
} fr_kernel_set;

/* The set of path isa, or NULL when this build or CPU cannot run it.
 * Static, borrowed. */
const fr_kernel_set *fr_kernel_set_get(fr_isa isa);

/* Bytes of per-thread scratch a product with rows of n_in values needs:
 * the generic kernels unpack one row (at most 4 bytes per value); the SIMD
 * kernels pack a tile of up to 4 rows for batches (at most 4 bytes per
 * value per row, plus per-block scales). */
#define FR_PANEL_ROWS 4
static inline size_t fr_kernel_scratch_bytes(int64_t n_in)
{
    return (size_t)n_in * 4 * FR_PANEL_ROWS + 4096;
}

/* ---- the sets (defined in generic_mm.c, avx2_table.c, avx512_table.c) -- */
extern const fr_kernel_set fr_kernels_generic;
#if defined(__x86_64__)
extern const fr_kernel_set fr_kernels_avx2;
extern const fr_kernel_set fr_kernels_avx512;
#endif
#if defined(__aarch64__) /* neon_table.c */
extern const fr_kernel_set fr_kernels_neon;
extern const fr_kernel_set fr_kernels_dotprod;
extern const fr_kernel_set fr_kernels_i8mm;
#endif

/* ---- generic building blocks, shared with the SIMD files' fallbacks ---- */

void fr_quant_q8b_generic(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void fr_quant_q8k_generic(const float *x, int64_t n, int8_t *qs, float *d, int16_t *bsums);
uint64_t fr_read_sum_generic(const void *buf, size_t bytes);
float fr_dot_f32_generic(const float *q, const float *k, int64_t n);
float fr_dot_f16_generic(const float *q, const uint16_t *k, int64_t n);
void fr_axpy_f32_generic(float *y, float a, const float *v, int64_t n);
void fr_axpy_f16_generic(float *y, float a, const uint16_t *v, int64_t n);
void fr_swiglu_generic(float *g, const float *u, int64_t n);
#if defined(__x86_64__)
float fr_dot_f32_avx2(const float *q, const float *k, int64_t n);
float fr_dot_f16_avx2(const float *q, const uint16_t *k, int64_t n);
void fr_axpy_f32_avx2(float *y, float a, const float *v, int64_t n);
void fr_axpy_f16_avx2(float *y, float a, const uint16_t *v, int64_t n);
void fr_swiglu_avx2(float *g, const float *u, int64_t n);
void fr_attn_tile_avx2(const struct fr_attn_unit *u, void *scratch);
float fr_dot_f32_avx512(const float *q, const float *k, int64_t n);
float fr_dot_f16_avx512(const float *q, const uint16_t *k, int64_t n);
void fr_axpy_f32_avx512(float *y, float a, const float *v, int64_t n);
void fr_axpy_f16_avx512(float *y, float a, const uint16_t *v, int64_t n);
void fr_swiglu_avx512(float *g, const float *u, int64_t n);
#endif

/* The training products of each path (generic_gemm.c, avx2_gemm.c,
 * avx512_gemm.c; avx512 has no nt of its own). */
void fr_gemm_nn_block_generic(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                              int64_t ldc);
void fr_gemm_nt_block_generic(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                              int64_t ldc);
void fr_gemm_tn_block_generic(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                              int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                              int64_t ldc);
#if defined(__x86_64__)
void fr_gemm_nn_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc);
void fr_gemm_nt_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc);
void fr_gemm_tn_block_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                           int64_t ldc);
void fr_gemm_nn_block_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                             int64_t ldc);
void fr_gemm_tn_block_avx512(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                             int64_t ldc);
/* C (+)= alpha * a(i,k) B with a(i,k) = A[i*sa_i + k*sa_k] (AVX2 path). */
void fr_gemm_axpy_avx2(int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t sa_i, int64_t sa_k, const float *B, int64_t ldb, bool acc,
                       float *C, int64_t ldc);
#endif

/* Canonical unpacking of one stored row of n values (see the top of this
 * file). For the 32-family: q[n], d[n/32], m[n/32]. For the K-family:
 * q[n], sc[n/16], mn[n/16], d[n/256], dmin[n/256]. Returns false for a type
 * of the other family (or a float type). */
bool fr_unpack32(fr_type t, const void *row, int64_t n, int8_t *q, float *d, float *m);
bool fr_unpackk(fr_type t, const void *row, int64_t n, int8_t *q, int16_t *sc, int16_t *mn,
                float *d, float *dmin);

/* The scales of one K-type super-block (stored at b): sc[16], mn[16], *d,
 * *dmin as fr_unpackk writes them; false for another type. */
bool fr_unpackk_scales(fr_type t, const uint8_t *b, int16_t *sc, int16_t *mn, float *d,
                       float *dmin);

/* The reference dot products on canonical rows with one quantized
 * activation row (nb blocks of 32, or of 256). */
float fr_dot32_canon(const int8_t *q, const float *d, const float *m, const int8_t *aq,
                     const float *ad, const float *as, int64_t nb);
float fr_dotk_canon(const int8_t *q, const int16_t *sc, const int16_t *mn, const float *d,
                    const float *dmin, const int8_t *aq, const float *ad, const int16_t *bsums,
                    int64_t nb);

/* The generic products (usable as fallbacks by any set). */
void fr_gemm_f32_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_f16_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_bf16_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_q32_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);
void fr_gemm_qk_generic(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch);

#endif
