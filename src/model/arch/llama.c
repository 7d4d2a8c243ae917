/*
 * llama.c - Llama 2 / 3.x, Mistral, TinyLlama, SmolLM (and llama2.c's
 * checkpoints, imported as llama GGUFs).
 *
 *   x = token_embd[token]
 *   per layer:
 *     x += attention(rmsnorm(x) * attn_norm)        (grouped-query, rope)
 *     x += ffn_down(silu(ffn_gate h) * ffn_up h)    h = rmsnorm(x) * ffn_norm
 *   logits = output(rmsnorm(x) * output_norm)        (output tied to
 *                                                     token_embd when absent)
 *
 * Rope rotates adjacent pairs: llama.cpp's converter permutes the rows of Q
 * and K so that this reproduces the original model's half rotation. Llama
 * 3.1+ stores its frequency scaling as rope_freqs; biases, when a llama-
 * family file has them, are applied.
 */
#include "model/arch/arch.h"

#define E FR_D_E
static const fr_tensor_spec llama_tensors[] = {
    {FR_T_TOKEN_EMBD, {E, FR_D_V}, FR_REQ},
    {FR_T_OUTPUT_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_OUTPUT, {E, FR_D_V}, 0},
    {FR_T_ROPE_FREQS, {FR_D_ROT2}, FR_FLOAT},
    {FR_T_ATTN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_Q, {E, FR_D_Q}, FR_REQ},
    {FR_T_ATTN_K, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_V, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_Q_B, {FR_D_Q}, FR_FLOAT},
    {FR_T_ATTN_K_B, {FR_D_KV}, FR_FLOAT},
    {FR_T_ATTN_V_B, {FR_D_KV}, FR_FLOAT},
    {FR_T_ATTN_OUT, {FR_D_Q, E}, FR_REQ},
    {FR_T_ATTN_OUT_B, {E}, FR_FLOAT},
    {FR_T_FFN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_GATE, {E, FR_D_F}, FR_REQ},
    {FR_T_FFN_UP, {E, FR_D_F}, FR_REQ},
    {FR_T_FFN_DOWN, {FR_D_F, E}, FR_REQ},
};
#undef E

static const fr_block llama_layer[] = {
    {FR_BLK_ATTN, FR_T_ATTN_NORM, FR_T_NONE},
    {FR_BLK_FFN, FR_T_FFN_NORM, FR_T_NONE},
};

const fr_arch fr_arch_llama = {
    .name = "llama",
    .models = "Llama 2/3.x, Mistral, TinyLlama, SmolLM",
    .rope = FR_ROPE_NORMAL,
    .ffn_act = FR_FFN_SILU,
    FR_ARCH_TABLES(llama_tensors, llama_layer),
};
