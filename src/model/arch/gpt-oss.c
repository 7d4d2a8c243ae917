/*
 * gpt-oss.c - OpenAI gpt-oss (20b, 120b).
 *
 *   per layer:
 *     x += attention(attn_norm(x))   q, k, v with biases; rope (neox, YaRN
 *                                    scaling: rope.scaling.factor over the
 *                                    original context, and its magnitude);
 *                                    even layers attend to a sliding window
 *                                    of attention.sliding_window positions;
 *                                    each head has a sink, a logit that joins
 *                                    its softmax without a value; o with a bias
 *     x += sum over the top-k experts e of w_e ffn_e(h),  h = rmsnorm(x) *
 *          post_attention_norm (gpt-oss's name for the FFN's norm)
 *          logits = h ffn_gate_inp + b; the k largest kept, w = their
 *          softmax; ffn_e(h) = down_e(oai(gate_e h + b, up_e h + b)) + b,
 *          oai(g, u) = g' sigmoid(1.702 g') (u' + 1), g' = min(g, 7),
 *          u' = clamp(u, -7, 7)
 *   logits = output(output_norm(x))
 * Experts are MXFP4 in the released files (any type loads).
 */
#include "model/arch/arch.h"

#define E FR_D_E
static const fr_tensor_spec gpt_oss_tensors[] = {
    {FR_T_TOKEN_EMBD, {E, FR_D_V}, FR_REQ},
    {FR_T_OUTPUT_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_OUTPUT, {E, FR_D_V}, FR_REQ},
    {FR_T_ATTN_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_Q, {E, FR_D_Q}, FR_REQ},
    {FR_T_ATTN_K, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_V, {E, FR_D_KV}, FR_REQ},
    {FR_T_ATTN_Q_B, {FR_D_Q}, FR_FLOAT},
    {FR_T_ATTN_K_B, {FR_D_KV}, FR_FLOAT},
    {FR_T_ATTN_V_B, {FR_D_KV}, FR_FLOAT},
    {FR_T_ATTN_OUT, {FR_D_Q, E}, FR_REQ},
    {FR_T_ATTN_OUT_B, {E}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_SINKS, {FR_D_H}, FR_REQ | FR_FLOAT},
    {FR_T_ATTN_POST_NORM, {E}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_GATE_INP, {E, FR_D_X}, FR_REQ},
    {FR_T_FFN_GATE_INP_B, {FR_D_X}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_GATE_EXPS, {E, FR_D_FX, FR_D_X}, FR_REQ},
    {FR_T_FFN_UP_EXPS, {E, FR_D_FX, FR_D_X}, FR_REQ},
    {FR_T_FFN_DOWN_EXPS, {FR_D_FX, E, FR_D_X}, FR_REQ},
    {FR_T_FFN_GATE_EXPS_B, {FR_D_FX, FR_D_X}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_UP_EXPS_B, {FR_D_FX, FR_D_X}, FR_REQ | FR_FLOAT},
    {FR_T_FFN_DOWN_EXPS_B, {E, FR_D_X}, FR_REQ | FR_FLOAT},
};
#undef E

static const fr_block gpt_oss_layer[] = {
    {FR_BLK_ATTN, FR_T_ATTN_NORM, FR_T_NONE},
    {FR_BLK_MOE, FR_T_ATTN_POST_NORM, FR_T_NONE},
};

static fr_status gpt_oss_hparams(fr_hp_reader *r, fr_hparams *hp, fr_err *err)
{
    fr_status st;
    if ((st = fr_hp_u32(r, "attention.sliding_window", &hp->n_swa, true, 0)) ||
        (st = fr_hp_swa_pattern(r, 2)) ||
        (st = fr_hp_f32(r, "rope.freq_base_swa", &hp->rope_base_swa, hp->rope_base)))
        return st;
    hp->rope_freq_scale_swa = hp->rope_freq_scale; /* both kinds of layer: YaRN */
    if (!hp->n_expert)
        return fr_err_set(err, FR_E_FORMAT,
                          "a gpt-oss model needs gpt-oss.expert_count, "
                          "expert_used_count and expert_feed_forward_length");
    return FR_OK;
}

const fr_arch fr_arch_gpt_oss = {
    .name = "gpt-oss",
    .models = "gpt-oss (20b, 120b)",
    .rope = FR_ROPE_NEOX,
    .ffn_act = FR_FFN_SWIGLU_OAI,
    .moe_gating = FR_MOE_TOPK_SOFTMAX,
    FR_ARCH_TABLES(gpt_oss_tensors, gpt_oss_layer),
    .hparams = gpt_oss_hparams,
};
