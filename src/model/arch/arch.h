/*
 * arch.h - what an architecture is: data plus one file.
 *
 * An architecture (src/model/arch/<name>.c) declares
 *   - its tensors: which of the roles below it has, each with its shape in
 *     terms of the hyper-parameters (FR_D_*) and whether it is required;
 *   - its layer: a short list of residual blocks
 *         x += post_norm(body(pre_norm(x)))
 *     whose body is one of the shared blocks (attention, feed-forward,
 *     mixture of experts), configured by the arch's options;
 *   - optionally, a hook that reads the hyper-parameters only it has.
 * The loader binds the tensor table generically (every shape checked), the
 * forward pass walks the block list, the synthetic-model writer writes the
 * same table, and LoRA / training name tensors through the same name table
 * (tensors.c): a tensor's GGUF name is written in exactly one place.
 *
 * Rejected: one forward function per architecture (llama.cpp's graph
 * builders). Training must walk the same layer backwards, and a block list
 * is data both directions can walk; the arch file stays one screen.
 */
#ifndef FR_MODEL_ARCH_ARCH_H
#define FR_MODEL_ARCH_ARCH_H

#include <frugal/model.h>

#include "tensor/matmul.h"

/* ---- tensor roles: every tensor any architecture has ----------------------
 * Roles before FR_T_LAYER_ are whole-model tensors, the rest exist once per
 * layer ("blk.<l>." + name). Names are in tensors.c. */
typedef enum fr_tn {
    FR_T_NONE = -1,
    FR_T_TOKEN_EMBD = 0,
    FR_T_OUTPUT_NORM,
    FR_T_OUTPUT,
    FR_T_ROPE_FREQS,
    FR_T_ROPE_FACTORS_LONG, /* LongRoPE (phi3) */
    FR_T_ROPE_FACTORS_SHORT,
    FR_T_LAYER_, /* first per-layer role */
    FR_T_ATTN_NORM = FR_T_LAYER_,
    FR_T_ATTN_Q,
    FR_T_ATTN_K,
    FR_T_ATTN_V,
    FR_T_ATTN_QKV, /* fused Q|K|V rows (phi3) */
    FR_T_ATTN_OUT,
    FR_T_ATTN_Q_B,
    FR_T_ATTN_K_B,
    FR_T_ATTN_V_B,
    FR_T_ATTN_QKV_B,
    FR_T_ATTN_OUT_B,
    FR_T_ATTN_Q_NORM, /* per-head RMSNorm of q and k */
    FR_T_ATTN_K_NORM,
    FR_T_ATTN_POST_NORM,
    FR_T_ATTN_SINKS, /* one logit per head that takes part in the softmax */
    FR_T_FFN_NORM,
    FR_T_FFN_GATE,
    FR_T_FFN_UP, /* phi3: gate|up fused, 2 * n_ff rows */
    FR_T_FFN_DOWN,
    FR_T_FFN_POST_NORM,
    FR_T_FFN_GATE_INP, /* MoE router */
    FR_T_FFN_GATE_INP_B,
    FR_T_FFN_GATE_EXPS, /* MoE experts, 3-D [n_in, n_out, n_expert] */
    FR_T_FFN_UP_EXPS,
    FR_T_FFN_DOWN_EXPS,
    FR_T_FFN_GATE_EXPS_B,
    FR_T_FFN_UP_EXPS_B,
    FR_T_FFN_DOWN_EXPS_B,
    FR_T_COUNT_
} fr_tn;

/* The GGUF name of a role ("attn_q.weight"; per-layer roles without the
 * "blk.<l>." prefix). */
const char *fr_tn_suffix(fr_tn t);
/* The full GGUF name of role t in layer l (l ignored for whole-model roles)
 * into buf; returns buf. */
char *fr_tn_name(fr_tn t, uint32_t l, char *buf, size_t size);
/* The role and layer of a full GGUF tensor name; false if it is none of
 * them (or its layer is >= n_layer). */
bool fr_tn_parse(const char *name, uint32_t n_layer, fr_tn *t, uint32_t *l);

/* ---- shapes ---------------------------------------------------------------- */
typedef enum fr_dim {
    FR_D_1 = 0, /* no such dimension */
    FR_D_E,     /* n_embd */
    FR_D_V,     /* n_vocab */
    FR_D_Q,     /* n_head * head_dim */
    FR_D_KV,    /* n_head_kv * head_dim */
    FR_D_QKV,   /* Q + 2 KV */
    FR_D_F,     /* n_ff */
    FR_D_F2,    /* 2 n_ff (fused gate|up) */
    FR_D_HD,    /* head_dim */
    FR_D_ROT2,  /* n_rot / 2 */
    FR_D_H,     /* n_head */
    FR_D_X,     /* n_expert */
    FR_D_FX,    /* n_ff_exp: one expert's hidden width */
} fr_dim;

int64_t fr_dim_value(fr_dim d, const fr_hparams *hp);

enum {
    FR_REQ = 1 << 0,   /* must be present */
    FR_FLOAT = 1 << 1, /* used as floats (norms, biases, factors): converted to F32 at load */
};

typedef struct fr_tensor_spec {
    fr_tn role;
    fr_dim ne[3]; /* GGUF order: ne[0] is the row length */
    unsigned flags;
} fr_tensor_spec;

/* ---- the layer ------------------------------------------------------------- */
typedef enum fr_block_kind {
    FR_BLK_ATTN, /* self-attention over the KV cache */
    FR_BLK_FFN,  /* dense gated feed-forward */
} fr_block_kind;

/* x += post(body(pre(x))): pre and post are RMSNorm weights (post FR_T_NONE
 * for none). */
typedef struct fr_block {
    fr_block_kind kind;
    fr_tn pre, post;
} fr_block;

/* Activation of a gated feed-forward: act(gate) * up. */
typedef enum fr_ffn_act {
    FR_FFN_SILU, /* SwiGLU */
} fr_ffn_act;

/* Reads <arch>.<key> (key without the arch prefix). Optional keys fall back
 * to dflt; errors name the file and the key. */
typedef struct fr_hp_reader fr_hp_reader;
fr_status fr_hp_u32(fr_hp_reader *r, const char *key, uint32_t *out, bool required, uint32_t dflt);
fr_status fr_hp_f32(fr_hp_reader *r, const char *key, float *out, float dflt);

typedef struct fr_arch {
    const char *name;   /* general.architecture */
    const char *models; /* the model families it covers, for people */
    fr_rope_style rope;
    fr_ffn_act ffn_act;
    const fr_tensor_spec *tensors;
    size_t n_tensors;
    const fr_block *layer;
    size_t n_blocks;
    /* Reads the keys only this architecture has (NULL: none). Runs after
     * the common ones (loader.c) and before tensors are bound. */
    fr_status (*hparams)(fr_hp_reader *r, fr_hparams *hp, fr_err *err);
} fr_arch;

#define FR_ARCH_TABLES(tensors_, layer_)                                                           \
    .tensors = tensors_, .n_tensors = sizeof tensors_ / sizeof tensors_[0], .layer = layer_,       \
    .n_blocks = sizeof layer_ / sizeof layer_[0]

/* The architecture named name, or NULL. */
const fr_arch *fr_arch_find(const char *name);
/* Every architecture, in registry order. */
const fr_arch *const *fr_arch_all(size_t *n);
/* The spec of role t in arch a, or NULL when a has no such tensor. */
const fr_tensor_spec *fr_arch_tensor(const fr_arch *a, fr_tn t);

#endif
