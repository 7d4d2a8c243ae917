/*
 * blocks.h - the shared blocks a layer is built from (arch/arch.h's
 * fr_block kinds), as the inference forward pass runs them.
 *
 * A block reads the normed residual h and writes its contribution to the
 * residual stream into o; the walker (forward.c) does the norms around it
 * and the add. Blocks call operations only through the backend's table
 * (ops.h), on buffers the backend allocated.
 */
#ifndef FR_MODEL_BLOCKS_H
#define FR_MODEL_BLOCKS_H

#include "model/lora_impl.h"
#include "model/model_impl.h"
#include "model/ops.h"

/* The state one forward pass over a chunk of tokens works on. */
typedef struct fr_fwd {
    const fr_model *m;
    const fr_ops *ops;
    fr_be *be;
    const fr_lora_set *lora; /* active adapters or NULL */
    uint32_t n_tok;          /* rows of this chunk (<= n_batch) */
    const int32_t *pos;      /* [n_tok] position of each token in its sequence (host) */
    const int32_t *seq;      /* [n_tok] its sequence (host) */
    /* activations, n_batch rows each (backend memory) */
    float *x;               /* [n_embd] residual stream */
    float *h;               /* [max(n_embd, q_dim)] normed input, then attention output */
    float *q;               /* [q_dim] */
    float *k;               /* [kv_dim] */
    float *v;               /* [kv_dim] */
    float *o;               /* [n_embd] a block's output */
    float *gate;            /* [n_ff] */
    float *up;              /* [n_ff] */
    float *rope_cs;         /* [n_rot] cos, sin per rotated pair at each token's position */
    const float *rope_freq; /* [n_rot / 2] rotation frequency of each pair (host) */
} fr_fwd;

/* Self-attention of layer l: h (consumed) -> o. */
void fr_blk_attn(fr_fwd *f, uint32_t l, float *h, float *o);
/* Gated feed-forward of layer l: h -> o. */
void fr_blk_ffn(fr_fwd *f, uint32_t l, float *h, float *o);

#endif
