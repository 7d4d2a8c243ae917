/*
 * attn.h - causal attention of a batch of query rows over a KV cache, as
 * one tensor-level operation (the forward pass calls fr_attention once per
 * layer).
 *
 * For each token t of the batch and query head h, with kv head kh = h /
 * (n_head / n_head_kv) (grouped-query attention):
 *   out[t][h] = sum_p softmax_p(q[t][h] . k[s_t][p][kh] / kq_div) v[s_t][p][kh]
 * over the positions p = 0 .. pos[t] of the token's sequence s_t, whose
 * keys and values (this token's included) are already in the cache.
 *
 * Two ways, chosen by the kernel set:
 *   - row by row (the generic set, the reference): per (token, head) the
 *     scores against every cached key, a two-pass softmax over them, then
 *     the weighted sum of the values, with the set's dot / axpy row
 *     operations - exactly llama2.c's run.c order on the generic path;
 *   - tiled (sets with an attn_tile kernel): a unit is a block of
 *     consecutive tokens of one sequence and one kv head, with the query
 *     heads that share it (up to FR_ATTN_MAX_ROWS query rows); keys and
 *     values are read block by block (FR_ATTN_BLOCK positions, converted
 *     to float once per unit and block) and every row keeps a running
 *     maximum, sum and output (online softmax, as flash attention does). A
 *     cached key is read once per unit instead of once per query row, and
 *     each block stays in the first-level caches while all the unit's rows
 *     use it: prompt processing no longer slows down as the prompt grows
 *     past what the caches hold.
 * The two agree to float rounding (tested); within one set the result of
 * a token does not depend on the batch it is in or the thread count.
 */
#ifndef FR_TENSOR_ATTN_H
#define FR_TENSOR_ATTN_H

#include <frugal/types.h>

#include "tensor/threadpool.h"

struct fr_kernel_set;

#define FR_ATTN_BLOCK 64     /* cached positions per tile */
#define FR_ATTN_MAX_ROWS 64  /* query rows per tiled unit */
#define FR_ATTN_MAX_HD 256   /* longer heads use the row-by-row way */

/* One call: every token of a batch, every head, one layer. */
typedef struct fr_attn_desc {
    const float *q;       /* [n_tok][n_head * head_dim] */
    float *out;           /* [n_tok][n_head * head_dim] */
    uint32_t n_tok;
    const int32_t *pos;   /* [n_tok] position of each token in its sequence */
    const int32_t *seq;   /* [n_tok] sequence of each token */
    const void *k, *v;    /* this layer's cache of sequence 0, position 0 */
    size_t seq_ld;        /* elements from one sequence's cache to the next */
    size_t kv_ld;         /* elements from one position to the next (n_head_kv * head_dim) */
    fr_type kv_type;      /* FR_TYPE_F32 or FR_TYPE_F16 */
    uint32_t n_head, n_head_kv, head_dim;
    float kq_div;         /* q.k is divided by this (sqrt(head_dim) unless the
                             architecture scales q itself) */
    uint32_t *blocks;     /* caller's buffer of n_tok + 1 entries (the tiled way's
                             token blocks are laid out there) */
} fr_attn_desc;

/* One tiled unit (kernels.h attn_tile): rows m = 0 .. n_tok * grp - 1,
 * row m is token m / grp, query head m % grp of the group, at
 * q + (m / grp) * q_ld + (m % grp) * hd (out likewise). */
typedef struct fr_attn_unit {
    const float *q;
    float *out;
    int64_t q_ld;
    int n_tok, grp, hd;
    const int32_t *lim;   /* [n_tok] last position each token attends to */
    const void *k, *v;    /* position 0 of the unit's kv head */
    size_t kv_ld;
    bool f16;
    float scale;          /* 1 / kq_div */
} fr_attn_unit;

/* Per-thread scratch (bytes) the attention of a context needs: n_ctx
 * scores for the row-by-row way, the blocks and row states of a unit for
 * the tiled one. */
size_t fr_attn_scratch_bytes(uint32_t n_ctx, uint32_t head_dim);

/* Runs d on the pool with kernel set ks; scratch[i] is thread i's buffer
 * of fr_attn_scratch_bytes (64-byte aligned), pool size <= its entries. */
void fr_attention(fr_pool *pool, const struct fr_kernel_set *ks, const fr_attn_desc *d,
                  void *const *scratch);

#endif
