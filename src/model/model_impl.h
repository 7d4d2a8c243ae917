/*
 * model_impl.h - the inside of fr_model, shared by the loader, the forward
 * pass, LoRA and training.
 *
 * Tensors are bound by role (arch/arch.h): a layer is an array indexed by
 * fr_tn, so that the forward pass asks for "this layer's attn_q" without a
 * struct field per architecture. An absent optional tensor has data NULL
 * (matrices) or f NULL (float tensors).
 *
 * Shapes are written as [ne0, ne1] in GGUF order: ne0 is the row length.
 */
#ifndef FR_MODEL_IMPL_H
#define FR_MODEL_IMPL_H

#include <frugal/model.h>

#include "model/arch/arch.h"
#include "tensor/matmul.h"
#include "tensor/pack.h"

/* One bound tensor. */
typedef struct fr_wt {
    fr_weight w;         /* matrices, in their stored type: [n_in, n_out] (per expert
                            for 3-D tensors); w.data NULL when absent */
    const float *f;      /* FR_FLOAT tensors as F32 (into the mapping, or owned) */
    int64_t n_expert;    /* 3-D tensors: experts (ne2); 1 otherwise */
    size_t expert_bytes; /* 3-D tensors: bytes of one expert's matrix */
} fr_wt;

typedef struct fr_layer {
    fr_wt t[FR_T_COUNT_]; /* by role; whole-model roles unused */
    bool swa;             /* attends to a sliding window (hp.n_swa), with the
                             window layers' rope */
} fr_layer;

/* Layer ly's matrix of role t, or NULL when the file has none. */
static inline const fr_weight *fr_lw(const fr_layer *ly, fr_tn t)
{
    return ly->t[t].w.data ? &ly->t[t].w : NULL;
}

/* Rows [r0, r0 + n) of w as a weight of their own (fused matrices: Q|K|V,
 * gate|up). */
static inline fr_weight fr_weight_rows(const fr_weight *w, int64_t r0, int64_t n)
{
    fr_weight v = *w;
    v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
    v.n_out = n;
    /* a packed copy's groups of 8 rows: a view starting inside one reads
     * the original (tensor/pack.h) */
    if (r0 % FR_PACK_ROWS == 0)
        v.packed_off = w->packed_off + (size_t)r0 * w->row_bytes;
    else
        v.packed = NULL;
    return v;
}

/* Expert e's matrix of a 3-D expert tensor. */
static inline fr_weight fr_expert(const fr_wt *t, int64_t e)
{
    fr_weight v = t->w;
    v.data = (const uint8_t *)t->w.data + (size_t)e * t->expert_bytes;
    return v;
}

/* Layer ly's float tensor of role t, or NULL. */
static inline const float *fr_lf(const fr_layer *ly, fr_tn t) { return ly->t[t].f; }

struct fr_model {
    fr_gguf *gguf;
    fr_hparams hp;
    const fr_arch *arch;
    fr_weight tok_embd;      /* [n_embd, n_vocab] */
    const float *out_norm;   /* [n_embd] */
    fr_weight output;        /* [n_embd, n_vocab]; == tok_embd when tied */
    const float *rope_freqs; /* [n_rot/2] or NULL (Llama 3.1) */
    const float *rope_long;  /* [n_rot/2] LongRoPE factors or NULL (phi3) */
    const float *rope_short;
    fr_layer *layers;        /* [n_layer] */
    float **owned;           /* float tensors converted to F32 at load */
    size_t n_owned;
    struct fr_packed **packed; /* weights repacked for the kernel path (pack.h) */
    size_t n_packed;
    uint64_t weight_bytes;
    uint64_t n_params;
};

/* Rope of the layers with (swa) or without a sliding window, at contexts
 * of n_ctx positions per sequence: freq[n_rot / 2] and the magnitude of cos
 * and sin (rope.c). */
void fr_rope_freqs(const fr_model *m, bool swa, uint32_t n_ctx, float *freq, float *mscale);


#endif
