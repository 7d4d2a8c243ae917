/*
 * tensors.c - the one table of tensor names (GGUF names as llama.cpp's
 * converter writes them, src/llama-arch.cpp's LLM_TENSOR_NAMES), the
 * dimension names of arch.h, and the architecture registry.
 *
 * Every other file that needs a tensor's name (loader, synthetic writer,
 * LoRA files, training checkpoints) asks here.
 */
#include "model/arch/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fr_tn_names[FR_T_COUNT_] = {
    [FR_T_TOKEN_EMBD] = "token_embd.weight",
    [FR_T_OUTPUT_NORM] = "output_norm.weight",
    [FR_T_OUTPUT] = "output.weight",
    [FR_T_ROPE_FREQS] = "rope_freqs.weight",
    [FR_T_ATTN_NORM] = "attn_norm.weight",
    [FR_T_ATTN_Q] = "attn_q.weight",
    [FR_T_ATTN_K] = "attn_k.weight",
    [FR_T_ATTN_V] = "attn_v.weight",
    [FR_T_ATTN_QKV] = "attn_qkv.weight",
    [FR_T_ATTN_OUT] = "attn_output.weight",
    [FR_T_ATTN_Q_B] = "attn_q.bias",
    [FR_T_ATTN_K_B] = "attn_k.bias",
    [FR_T_ATTN_V_B] = "attn_v.bias",
    [FR_T_ATTN_QKV_B] = "attn_qkv.bias",
    [FR_T_ATTN_OUT_B] = "attn_output.bias",
    [FR_T_ATTN_Q_NORM] = "attn_q_norm.weight",
    [FR_T_ATTN_K_NORM] = "attn_k_norm.weight",
    [FR_T_ATTN_POST_NORM] = "post_attention_norm.weight",
    [FR_T_ATTN_SINKS] = "attn_sinks.weight",
    [FR_T_FFN_NORM] = "ffn_norm.weight",
    [FR_T_FFN_GATE] = "ffn_gate.weight",
    [FR_T_FFN_UP] = "ffn_up.weight",
    [FR_T_FFN_DOWN] = "ffn_down.weight",
    [FR_T_FFN_POST_NORM] = "post_ffw_norm.weight",
    [FR_T_FFN_GATE_INP] = "ffn_gate_inp.weight",
    [FR_T_FFN_GATE_INP_B] = "ffn_gate_inp.bias",
    [FR_T_FFN_GATE_EXPS] = "ffn_gate_exps.weight",
    [FR_T_FFN_UP_EXPS] = "ffn_up_exps.weight",
    [FR_T_FFN_DOWN_EXPS] = "ffn_down_exps.weight",
    [FR_T_FFN_GATE_EXPS_B] = "ffn_gate_exps.bias",
    [FR_T_FFN_UP_EXPS_B] = "ffn_up_exps.bias",
    [FR_T_FFN_DOWN_EXPS_B] = "ffn_down_exps.bias",
    [FR_T_ROPE_FACTORS_LONG] = "rope_factors_long.weight",
    [FR_T_ROPE_FACTORS_SHORT] = "rope_factors_short.weight",
};

const char *fr_tn_suffix(fr_tn t)
{
    return t >= 0 && t < FR_T_COUNT_ ? fr_tn_names[t] : "?";
}

char *fr_tn_name(fr_tn t, uint32_t l, char *buf, size_t size)
{
    if (t < FR_T_LAYER_)
        snprintf(buf, size, "%s", fr_tn_suffix(t));
    else
        snprintf(buf, size, "blk.%u.%s", l, fr_tn_suffix(t));
    return buf;
}

bool fr_tn_parse(const char *name, uint32_t n_layer, fr_tn *t, uint32_t *l)
{
    if (strncmp(name, "blk.", 4) != 0) {
        for (int i = 0; i < FR_T_LAYER_; i++)
            if (strcmp(name, fr_tn_names[i]) == 0) {
                *t = (fr_tn)i;
                *l = 0;
                return true;
            }
        return false;
    }
    const char *p = name + 4;
    uint64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
        v = v * 10 + (uint64_t)(*p - '0');
    /* "blk.01." is not llama.cpp's spelling of layer 1 */
    if (digits == 0 || (digits > 1 && name[4] == '0') || v >= n_layer || *p++ != '.')
        return false;
    for (int i = FR_T_LAYER_; i < FR_T_COUNT_; i++)
        if (strcmp(p, fr_tn_names[i]) == 0) {
            *t = (fr_tn)i;
            *l = (uint32_t)v;
            return true;
        }
    return false;
}

int64_t fr_dim_value(fr_dim d, const fr_hparams *hp)
{
    int64_t q = (int64_t)hp->n_head * hp->head_dim, kv = (int64_t)hp->n_head_kv * hp->head_dim;
    switch (d) {
    case FR_D_1: return 1;
    case FR_D_E: return hp->n_embd;
    case FR_D_V: return hp->n_vocab;
    case FR_D_Q: return q;
    case FR_D_KV: return kv;
    case FR_D_QKV: return q + 2 * kv;
    case FR_D_F: return hp->n_ff;
    case FR_D_F2: return 2 * (int64_t)hp->n_ff;
    case FR_D_HD: return hp->head_dim;
    case FR_D_ROT2: return hp->n_rot / 2;
    case FR_D_H: return hp->n_head;
    case FR_D_X: return hp->n_expert;
    case FR_D_FX: return hp->n_ff_exp;
    }
    return 0;
}

/* ---- registry ------------------------------------------------------------------ */

/* Every architecture: its C identifier (src/model/arch/<id>.c defines
 * fr_arch_<id>) and its general.architecture name. */
#define FR_ARCHS(X) X(llama, "llama") X(qwen2, "qwen2") X(qwen3, "qwen3")

#define FR_DECL(id, name) extern const fr_arch fr_arch_##id;
#define FR_PTR(id, name) &fr_arch_##id,
#define FR_TEXT(id, name) ", " name
FR_ARCHS(FR_DECL)
static const fr_arch *const fr_archs[] = {FR_ARCHS(FR_PTR)};
/* ", llama, qwen2, ...": the list without its first two characters */
static const char fr_arch_text[] = FR_ARCHS(FR_TEXT);

const fr_arch *const *fr_arch_all(size_t *n)
{
    *n = sizeof fr_archs / sizeof fr_archs[0];
    return fr_archs;
}

const fr_arch *fr_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof fr_archs / sizeof fr_archs[0]; i++)
        if (strcmp(fr_archs[i]->name, name) == 0)
            return fr_archs[i];
    return NULL;
}

const fr_tensor_spec *fr_arch_tensor(const fr_arch *a, fr_tn t)
{
    for (size_t i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].role == t)
            return &a->tensors[i];
    return NULL;
}

const char *fr_model_supported_archs(void)
{
    return fr_arch_text + 2;
}
