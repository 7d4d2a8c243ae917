/*
 * phi3.c - Phi-3 / Phi-3.5 (mini, medium) and Phi-4-mini.
 *
 *   per layer:
 *     x += attention(attn_norm(x))     q|k|v = h attn_qkv (one fused matrix,
 *                                      rows Q, K, V; separate attn_q/k/v also
 *                                      load), rope on the first n_rot dims of
 *                                      each head (Phi-4-mini: 96 of 128)
 *     x += ffn_down(silu(g) * u)       g|u = ffn_norm(x) ffn_up: one fused
 *                                      matrix of 2 n_ff rows, gate first
 *   logits = output(output_norm(x))    (tied to token_embd when absent)
 *
 * LongRoPE: rope_factors_long / rope_factors_short divide the frequencies
 * (long when the context per sequence exceeds rope.scaling
 * .original_context_length, as llama.cpp chooses), and cos and sin are
 * multiplied by rope.scaling.attn_factor. The sliding window some Phi-3
 * files declare is ignored, as llama.cpp ignores it (its conversion does
 * not say which layers have one). Rope rotates halves (neox).
 */
#include "model/arch/arch.h"

#define E FR_D_E
static const fr_tensor_spec phi3_tensors[] = {
    {FR_T_TOKEN_EMBD, {E, FR_D_V}, FR_REQ},
    {FR_T_OUTPUT_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_OUTPUT, {E, FR_D_V}, 0},
    {FR_T_ROPE_FACTORS_LONG, {FR_D_ROT2}, FR_FLOAT},
    {FR_T_ROPE_FACTORS_SHORT, {FR_D_ROT2}, FR_FLOAT},
    {FR_T_ATTN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_QKV, {E, FR_D_QKV}, 0}, /* or the three below */
    {FR_T_ATTN_Q, {E, FR_D_Q}, 0},
    {FR_T_ATTN_K, {E, FR_D_KV}, 0},
    {FR_T_ATTN_V, {E, FR_D_KV}, 0},
    {FR_T_ATTN_OUT, {FR_D_Q, E}, FR_REQ},
    {FR_T_FFN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_UP, {E, FR_D_F2}, FR_REQ},
    {FR_T_FFN_DOWN, {FR_D_F, E}, FR_REQ},
};
#undef E

static const fr_block phi3_layer[] = {
    {FR_BLK_ATTN, FR_T_ATTN_NORM, FR_T_NONE},
    {FR_BLK_FFN, FR_T_FFN_NORM, FR_T_NONE},
};

const fr_arch fr_arch_phi3 = {
    .name = "phi3",
    .models = "Phi-3, Phi-3.5, Phi-4-mini",
    .rope = FR_ROPE_NEOX,
    .ffn_act = FR_FFN_SILU,
    FR_ARCH_TABLES(phi3_tensors, phi3_layer),
};
