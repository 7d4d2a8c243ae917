/*
 * blocks.c - the shared blocks of the inference forward pass (blocks.h).
 *
 * Attention, for the chunk's rows h [n_tok, n_embd]:
 *   q, k, v = h Wq, h Wk, h Wv (+ biases) (+ LoRA, added before biases as
 *             llama.cpp's llm_build_lora_mm does)
 *   per-head rmsnorm of q, k (qwen3's q_norm / k_norm, when present)
 *   rope(q, k) at each token's position; k, v appended to the cache
 *   att = softmax(q k^T / sqrt(head_dim), causal) v   (grouped-query heads)
 *   o = att Wo (+ bias)
 * Feed-forward:
 *   o = (act(h Wgate) * (h Wup)) Wdown
 * Q, K and V are one grouped product, gate and up another (matmul.h).
 */
#include "model/blocks.h"

#include <math.h>

void fr_blk_attn(fr_fwd *f, uint32_t l, float *h, float *o)
{
    const fr_ops *ops = f->ops;
    fr_be *be = f->be;
    const fr_hparams *hp = &f->m->hp;
    const fr_layer *ly = &f->m->layers[l];
    int64_t n = f->n_tok, hd = hp->head_dim;
    int64_t qd = (int64_t)hp->n_head * hd, kvd = (int64_t)hp->n_head_kv * hd;

    fr_mm_part qkv[3] = {{fr_lw(ly, FR_T_ATTN_Q), f->q, qd},
                         {fr_lw(ly, FR_T_ATTN_K), f->k, kvd},
                         {fr_lw(ly, FR_T_ATTN_V), f->v, kvd}};
    ops->matmul_multi(be, qkv, 3, h, n);
    if (f->lora) {
        ops->lora(be, f->lora, l, FR_LORA_Q, h, n, f->q, qd);
        ops->lora(be, f->lora, l, FR_LORA_K, h, n, f->k, kvd);
        ops->lora(be, f->lora, l, FR_LORA_V, h, n, f->v, kvd);
    }
    if (fr_lf(ly, FR_T_ATTN_Q_B))
        ops->add_rows(be, f->q, fr_lf(ly, FR_T_ATTN_Q_B), n, qd);
    if (fr_lf(ly, FR_T_ATTN_K_B))
        ops->add_rows(be, f->k, fr_lf(ly, FR_T_ATTN_K_B), n, kvd);
    if (fr_lf(ly, FR_T_ATTN_V_B))
        ops->add_rows(be, f->v, fr_lf(ly, FR_T_ATTN_V_B), n, kvd);
    if (fr_lf(ly, FR_T_ATTN_Q_NORM))
        ops->rmsnorm(be, f->q, f->q, fr_lf(ly, FR_T_ATTN_Q_NORM), n * hp->n_head, hd, hp->norm_eps);
    if (fr_lf(ly, FR_T_ATTN_K_NORM))
        ops->rmsnorm(be, f->k, f->k, fr_lf(ly, FR_T_ATTN_K_NORM), n * hp->n_head_kv, hd,
                     hp->norm_eps);
    ops->rope(be, f->q, n, hp->n_head, hp->head_dim, f->rope_cs, hp->n_rot / 2, hp->rope_style);
    ops->rope(be, f->k, n, hp->n_head_kv, hp->head_dim, f->rope_cs, hp->n_rot / 2, hp->rope_style);
    ops->kv_store(be, l, f->seq, f->pos, f->k, f->v, n);

    fr_attn_args aa = {l, f->n_tok, f->seq, f->pos, f->q, h, sqrtf((float)hd)};
    ops->attention(be, &aa);
    ops->matmul(be, fr_lw(ly, FR_T_ATTN_OUT), h, n, o, hp->n_embd);
    if (f->lora)
        ops->lora(be, f->lora, l, FR_LORA_O, h, n, o, hp->n_embd);
    if (fr_lf(ly, FR_T_ATTN_OUT_B))
        ops->add_rows(be, o, fr_lf(ly, FR_T_ATTN_OUT_B), n, hp->n_embd);
}

void fr_blk_ffn(fr_fwd *f, uint32_t l, float *h, float *o)
{
    const fr_ops *ops = f->ops;
    fr_be *be = f->be;
    const fr_hparams *hp = &f->m->hp;
    const fr_layer *ly = &f->m->layers[l];
    int64_t n = f->n_tok, F = hp->n_ff;

    fr_mm_part gu[2] = {{fr_lw(ly, FR_T_FFN_GATE), f->gate, F}, {fr_lw(ly, FR_T_FFN_UP), f->up, F}};
    ops->matmul_multi(be, gu, 2, h, n);
    if (f->lora) {
        ops->lora(be, f->lora, l, FR_LORA_GATE, h, n, f->gate, F);
        ops->lora(be, f->lora, l, FR_LORA_UP, h, n, f->up, F);
    }
    ops->glu(be, f->gate, f->up, n * F, f->m->arch->ffn_act);
    ops->matmul(be, fr_lw(ly, FR_T_FFN_DOWN), f->gate, n, o, hp->n_embd);
    if (f->lora)
        ops->lora(be, f->lora, l, FR_LORA_DOWN, f->gate, n, o, hp->n_embd);
}
