/*
 * qwen3moe.c - Qwen3 mixture of experts (Qwen3-30B-A3B, Qwen3-235B-A22B).
 *
 * Qwen3's attention (per-head q/k norms, neox rope) and, in place of the
 * dense feed-forward, a mixture of experts:
 *   per layer:
 *     x += attention(attn_norm(x))
 *     x += sum over the token's top-k experts e of w_e * ffn_e(h)
 *          h = ffn_norm(x); logits = h ffn_gate_inp (n_expert); w = softmax
 *          over all experts, the k largest kept and renormalized to sum to 1
 *          (norm_topk_prob); ffn_e(h) = down_e(silu(gate_e h) * up_e h)
 * The experts are stored 3-D as llama.cpp stores them (ffn_gate_exps
 * [n_embd, n_ff_exp, n_expert], ...), and only the chosen experts' slices
 * are read per token.
 */
#include "model/arch/arch.h"

#define E FR_D_E
static const fr_tensor_spec qwen3moe_tensors[] = {
    {FR_T_TOKEN_EMBD, {E, FR_D_V}, FR_REQ},
    {FR_T_OUTPUT_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_OUTPUT, {E, FR_D_V}, 0},
    {FR_T_ATTN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_Q, {E, FR_D_Q}, FR_REQ},
    {FR_T_ATTN_K, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_V, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_Q_NORM, {FR_D_HD}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_K_NORM, {FR_D_HD}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_OUT, {FR_D_Q, E}, FR_REQ},
    {FR_T_FFN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_GATE_INP, {E, FR_D_X}, FR_REQ},
    {FR_T_FFN_GATE_EXPS, {E, FR_D_FX, FR_D_X}, FR_REQ},
    {FR_T_FFN_UP_EXPS, {E, FR_D_FX, FR_D_X}, FR_REQ},
    {FR_T_FFN_DOWN_EXPS, {FR_D_FX, E, FR_D_X}, FR_REQ},
};
#undef E

static const fr_block qwen3moe_layer[] = {
    {FR_BLK_ATTN, FR_T_ATTN_NORM, FR_T_NONE},
    {FR_BLK_MOE, FR_T_FFN_NORM, FR_T_NONE},
};

static fr_status qwen3moe_hparams(fr_hp_reader *r, fr_hparams *hp, fr_err *err)
{
    (void)r;
    if (!hp->n_expert)
        return fr_err_set(err, FR_E_FORMAT,
                          "a qwen3moe model needs qwen3moe.expert_count, "
                          "expert_used_count and expert_feed_forward_length");
    return FR_OK;
}

const fr_arch fr_arch_qwen3moe = {
    .name = "qwen3moe",
    .models = "Qwen3 MoE (30B-A3B, 235B-A22B)",
    .rope = FR_ROPE_NEOX,
    .ffn_act = FR_FFN_SILU,
    .moe_gating = FR_MOE_SOFTMAX,
    FR_ARCH_TABLES(qwen3moe_tensors, qwen3moe_layer),
    .hparams = qwen3moe_hparams,
};
