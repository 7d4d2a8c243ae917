/*
 * model_impl.h - the inside of fr_model, shared by the loader and the
 * forward pass (and, later, LoRA and training code).
 *
 * Shapes are written as [ne0, ne1] in GGUF order: ne0 is the row length.
 */
#ifndef FR_MODEL_IMPL_H
#define FR_MODEL_IMPL_H

#include <frugal/model.h>
#include "tensor/matmul.h"

typedef struct fr_layer {
    const float *attn_norm; /* [n_embd] */
    fr_weight wq;           /* [n_embd, n_head*head_dim] */
    fr_weight wk;           /* [n_embd, n_head_kv*head_dim] */
    fr_weight wv;           /* [n_embd, n_head_kv*head_dim] */
    fr_weight wo;           /* [n_head*head_dim, n_embd] */
    const float *bq, *bk, *bv, *bo; /* biases or NULL */
    const float *q_norm, *k_norm;   /* [head_dim] (qwen3) or NULL */
    const float *ffn_norm;  /* [n_embd] */
    fr_weight w_gate;       /* [n_embd, n_ff] */
    fr_weight w_up;         /* [n_embd, n_ff] */
    fr_weight w_down;       /* [n_ff, n_embd] */
} fr_layer;

struct fr_model {
    fr_gguf *gguf;
    fr_hparams hp;
    fr_weight tok_embd;      /* [n_embd, n_vocab] */
    const float *out_norm;   /* [n_embd] */
    fr_weight output;        /* [n_embd, n_vocab]; == tok_embd when tied */
    const float *rope_freqs; /* [n_rot/2] or NULL */
    fr_layer *layers;        /* [n_layer] */
    float **owned;           /* 1-D tensors converted to F32 at load */
    size_t n_owned;
    struct fr_packed **packed; /* weights repacked for the kernel path (pack.h) */
    size_t n_packed;
    uint64_t weight_bytes;
    uint64_t n_params;
};

/* Architecture flags: the differences between architectures are data. */
typedef struct fr_arch_info {
    const char *name;
    fr_rope_style rope;
    bool qkv_bias_required; /* qwen2; other archs load them if present */
    bool qk_norm;           /* qwen3 */
} fr_arch_info;

const fr_arch_info *fr_arch_find(const char *name);

#endif
