/*
 * qwen2.c - Qwen2 / Qwen2.5.
 *
 * The llama layer with two differences: Q, K and V have biases (required),
 * and rope rotates halves (x[i], x[i + n_rot/2], "neox"): Qwen GGUFs keep
 * the original row order of Q and K.
 *
 *   per layer:
 *     x += attention(rmsnorm(x) * attn_norm)    q, k, v = h W + b
 *     x += ffn_down(silu(ffn_gate h) * ffn_up h)    h = rmsnorm(x) * ffn_norm
 */
#include "model/arch/arch.h"

#define E FR_D_E
static const fr_tensor_spec qwen2_tensors[] = {
    {FR_T_TOKEN_EMBD, {E, FR_D_V}, FR_REQ},
    {FR_T_OUTPUT_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_OUTPUT, {E, FR_D_V}, 0},
    {FR_T_ROPE_FREQS, {FR_D_ROT2}, FR_FLOAT},
    {FR_T_ATTN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_Q, {E, FR_D_Q}, FR_REQ},
    {FR_T_ATTN_K, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_V, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_Q_B, {FR_D_Q}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_K_B, {FR_D_KV}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_V_B, {FR_D_KV}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_OUT, {FR_D_Q, E}, FR_REQ},
    {FR_T_ATTN_OUT_B, {E}, FR_FLOAT},
    {FR_T_FFN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_GATE, {E, FR_D_F}, FR_REQ},
    {FR_T_FFN_UP, {E, FR_D_F}, FR_REQ},
    {FR_T_FFN_DOWN, {FR_D_F, E}, FR_REQ},
};
#undef E

static const fr_block qwen2_layer[] = {
    {FR_BLK_ATTN, FR_T_ATTN_NORM, FR_T_NONE},
    {FR_BLK_FFN, FR_T_FFN_NORM, FR_T_NONE},
};

const fr_arch fr_arch_qwen2 = {
    .name = "qwen2",
    .models = "Qwen2, Qwen2.5",
    .rope = FR_ROPE_NEOX,
    .ffn_act = FR_FFN_SILU,
    FR_ARCH_TABLES(qwen2_tensors, qwen2_layer),
};
