/*
 * gemma3.c - Gemma 3 (text: 270M, 1B, 4B, 12B, 27B).
 *
 *   x = token_embd[token] * sqrt(n_embd)
 *   per layer:
 *     x += post_attention_norm(attention(attn_norm(x)))
 *          q, k: per-head RMSNorm (attn_q_norm, attn_k_norm) before rope;
 *          q *= attn_scale (1/sqrt(head_dim); 27B: 1/sqrt(n_embd/n_head)),
 *          then softmax(q k^T) without another scale;
 *          5 of every 6 layers attend to a sliding window of
 *          attention.sliding_window positions, with their own rope
 *          (rope.freq_base_swa, default 10000, unscaled); every 6th layer
 *          sees everything, with rope.freq_base and the linear scaling
 *     x += post_ffw_norm(ffn_down(gelu(ffn_gate h) * ffn_up h)),  h = ffn_norm(x)
 *   logits = output(output_norm(x)), softcapped when the file says so
 *
 * Gemma's RMSNorm multiplies by (1 + w); llama.cpp's converter stores
 * 1 + w, so every norm here is the plain one. Rope rotates halves (neox).
 */
#include "model/arch/arch.h"

#include <math.h>

#define E FR_D_E
static const fr_tensor_spec gemma3_tensors[] = {
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
    {FR_T_ATTN_POST_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_GATE, {E, FR_D_F}, FR_REQ},
    {FR_T_FFN_UP, {E, FR_D_F}, FR_REQ},
    {FR_T_FFN_DOWN, {FR_D_F, E}, FR_REQ},
    {FR_T_FFN_POST_NORM, {E}, FR_REQ | FR_FLOAT},
};
#undef E

static const fr_block gemma3_layer[] = {
    {FR_BLK_ATTN, FR_T_ATTN_NORM, FR_T_ATTN_POST_NORM},
    {FR_BLK_FFN, FR_T_FFN_NORM, FR_T_FFN_POST_NORM},
};

static fr_status gemma3_hparams(fr_hp_reader *r, fr_hparams *hp, fr_err *err)
{
    (void)err;
    fr_status st;
    if ((st = fr_hp_u32(r, "attention.sliding_window", &hp->n_swa, false, 0)) ||
        (st = fr_hp_f32(r, "final_logit_softcapping", &hp->logit_softcap, 0.0f)))
        return st;
    if (hp->n_swa && (st = fr_hp_swa_pattern(r, 6)))
        return st;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    /* llama.cpp: the 27B (62 layers) scales by its hidden size per head */
    hp->attn_scale = hp->n_layer == 62 ? 1.0f / sqrtf((float)(hp->n_embd / hp->n_head))
                                       : 1.0f / sqrtf((float)hp->head_dim);
    return FR_OK;
}

const fr_arch fr_arch_gemma3 = {
    .name = "gemma3",
    .models = "Gemma 3 (text)",
    .rope = FR_ROPE_NEOX,
    .ffn_act = FR_FFN_GELU,
    FR_ARCH_TABLES(gemma3_tensors, gemma3_layer),
    .hparams = gemma3_hparams,
};
