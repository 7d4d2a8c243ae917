/*
 * attn.h - causal attention of a batch of query rows over a KV cache, as
 * one tensor-level operation (the forward pass calls fr_attention once per
 * layer).
 *
 * For each token t of the batch and query head h, with kv head kh = h /
 * (n_head / n_head_kv) (grouped-query attention):
 *   out[t][h] = sum_p softmax_p(q[t][h] . k[s_t][p][kh] / kq_div) v[s_t][p][kh]
 * over the positions p = p0 .. pos[t] of the token's sequence s_t, whose
 * keys and values (this token's included) are already in the cache: p0 = 0,
 * or pos[t] - window + 1 on a sliding-window layer. A head's sink logit
 * (gpt-oss), when given, joins the softmax's maximum and denominator
 * without a value. On a sliding-window layer the cache may be a ring of
 * `ring` positions (position p at slot p % ring: the last ring positions
 * of the sequence, of which the window reads the last window).
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
#include <math.h>

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
    uint32_t window;      /* > 0: pos[t] sees only positions > pos[t] - window */
    const float *sinks;   /* [n_head] logits in each head's softmax without a value,
                             or NULL */
    uint32_t ring;        /* > 0: the cache of a sequence holds `ring` positions,
                             position p at slot p % ring (seq_ld apart still);
                             those a token reads (its window) must fit */
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
    const void *k, *v;    /* slot 0 of the unit's kv head */
    size_t kv_ld;
    bool f16;
    float scale;          /* 1 / kq_div */
    uint32_t window;      /* > 0: token t attends to lim[t] - window < p <= lim[t] */
    uint32_t ring;        /* > 0: position p is at slot p % ring */
    const float *sinks;   /* [grp] sink logits of the unit's query heads, or NULL */
} fr_attn_unit;

/* The first position a query at pos attends to (0 without a window). */
static inline int32_t fr_attn_p0(int32_t pos, uint32_t window)
{
    return window && pos >= (int32_t)window ? pos - (int32_t)window + 1 : 0;
}

/* The slot of position p in a unit's cache (p % ring in a ring). */
static inline size_t fr_attn_slot(const fr_attn_unit *u, int32_t p)
{
    return u->ring ? (size_t)p % u->ring : (size_t)p;
}

/* What a tiled row's running output is multiplied by at the end, given its
 * running maximum mx and sum: 1 / sum, or with query head g's sink logit s
 * joining the softmax, 1 / (sum + e^(s - mx)) - rescaled to s when s is the
 * larger (output and sum times e^(mx - s)), so nothing overflows. */
static inline float fr_attn_finish(const fr_attn_unit *u, int g, float mx, float sum)
{
    if (!u->sinks)
        return 1.0f / sum;
    float s = u->sinks[g];
    if (s > mx) {
        float c = expf(mx - s);
        return c / (sum * c + 1.0f);
    }
    return 1.0f / (sum + expf(s - mx));
}

/* Per-thread scratch (bytes) the attention of a context needs: n_ctx
 * scores for the row-by-row way, the blocks and row states of a unit for
 * the tiled one. */
size_t fr_attn_scratch_bytes(uint32_t n_ctx, uint32_t head_dim);

/* Runs d on the pool with kernel set ks; scratch[i] is thread i's buffer
 * of fr_attn_scratch_bytes (64-byte aligned), pool size <= its entries. */
void fr_attention(fr_pool *pool, const struct fr_kernel_set *ks, const fr_attn_desc *d,
                  void *const *scratch);

#endif
