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
    /* rope angles at each token's position, [n_rot] cos, sin per rotated
     * pair: [0] for the layers without a sliding window, [1] for those with
     * one (the same buffer when their rope is the same) */
    float *rope_cs[2];
    /* mixture of experts */
    float *moe_logits;  /* [n_batch][n_expert] router logits (backend) */
    float *moe_x;       /* [n_batch][n_embd] one expert's gathered rows (backend) */
    float *moe_y;       /* [n_batch][n_embd] its outputs (backend) */
    int32_t *moe_sel;   /* [n_batch][n_expert_used] chosen experts (host) */
    float *moe_w;       /* [n_batch][n_expert_used] their weights (host) */
    int32_t *moe_rows;  /* [n_batch * n_expert_used] token rows grouped by expert (host) */
    float *moe_rw;      /* [n_batch * n_expert_used] the weight of each (host) */
    uint32_t *moe_off;  /* [n_expert + 1] start of each expert's group (host) */
} fr_fwd;

/* Self-attention of layer l: h (consumed) -> o. */
void fr_blk_attn(fr_fwd *f, uint32_t l, float *h, float *o);
/* Gated feed-forward of layer l: h -> o. */
void fr_blk_ffn(fr_fwd *f, uint32_t l, float *h, float *o);
/* Mixture of experts of layer l: h -> o. Only the chosen experts' weights
 * are read. */
void fr_blk_moe(fr_fwd *f, uint32_t l, float *h, float *o);

#endif
