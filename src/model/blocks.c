/*
 * blocks.c - the shared blocks of the inference forward pass (blocks.h).
 *
 * Attention, for the chunk's rows h [n_tok, n_embd]:
 *   q, k, v = h Wq, h Wk, h Wv (+ biases) (+ LoRA, added before biases as
 *             llama.cpp's llm_build_lora_mm does)
 *   per-head rmsnorm of q, k (qwen3's q_norm / k_norm, when present)
 *   rope(q, k) at each token's position (the window layers' rope on window
 *             layers); k, v appended to the cache
 *   att = softmax(q k^T / sqrt(head_dim), causal) v   (grouped-query heads;
 *         a sliding window on window layers; sinks in the softmax when the
 *         arch has them; q * attn_scale instead of / sqrt(head_dim) when set)
 *   o = att Wo (+ bias)
 * Feed-forward:
 *   o = (act(h Wgate) * (h Wup)) Wdown
 * Fused matrices (phi3's attn_qkv, and ffn_up holding gate|up) are used as
 * views of their row ranges, so they take the same products.
 * Mixture of experts:
 *   logits = h Wrouter (+ b); each token's k experts and weights (arch's
 *   gating); for each expert that any token chose, its tokens' rows are
 *   gathered and run through its own gated FFN (3-D tensors: expert e is
 *   the e-th [n_in, n_out] slice; biases [n_out, n_expert]); o = sum over
 *   the token's experts of weight * output. Only chosen experts are read.
 * Q, K and V are one grouped product, gate and up another (matmul.h).
 */
#include "model/blocks.h"

#include <math.h>
#include <string.h>

void fr_blk_attn(fr_fwd *f, uint32_t l, float *h, float *o)
{
    const fr_ops *ops = f->ops;
    fr_be *be = f->be;
    const fr_hparams *hp = &f->m->hp;
    const fr_layer *ly = &f->m->layers[l];
    int64_t n = f->n_tok, hd = hp->head_dim;
    int64_t qd = (int64_t)hp->n_head * hd, kvd = (int64_t)hp->n_head_kv * hd;

    fr_weight wq, wk, wv;
    const fr_weight *fused = fr_lw(ly, FR_T_ATTN_QKV);
    if (fused) { /* phi3: one matrix, rows Q then K then V */
        wq = fr_weight_rows(fused, 0, qd);
        wk = fr_weight_rows(fused, qd, kvd);
        wv = fr_weight_rows(fused, qd + kvd, kvd);
    } else {
        wq = *fr_lw(ly, FR_T_ATTN_Q);
        wk = *fr_lw(ly, FR_T_ATTN_K);
        wv = *fr_lw(ly, FR_T_ATTN_V);
    }
    fr_mm_part qkv[3] = {{&wq, f->q, qd}, {&wk, f->k, kvd}, {&wv, f->v, kvd}};
    ops->matmul_multi(be, qkv, 3, h, n);
    if (f->lora && fused) { /* an adapter of attn_qkv: its rows Q, K, V */
        ops->lora(be, f->lora, l, FR_LORA_QKV, 0, qd, h, n, f->q, qd);
        ops->lora(be, f->lora, l, FR_LORA_QKV, qd, kvd, h, n, f->k, kvd);
        ops->lora(be, f->lora, l, FR_LORA_QKV, qd + kvd, kvd, h, n, f->v, kvd);
    } else if (f->lora) {
        ops->lora(be, f->lora, l, FR_LORA_Q, 0, -1, h, n, f->q, qd);
        ops->lora(be, f->lora, l, FR_LORA_K, 0, -1, h, n, f->k, kvd);
        ops->lora(be, f->lora, l, FR_LORA_V, 0, -1, h, n, f->v, kvd);
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
    const float *cs = f->rope_cs[ly->swa];
    ops->rope(be, f->q, n, hp->n_head, hp->head_dim, cs, hp->n_rot / 2, hp->rope_style);
    ops->rope(be, f->k, n, hp->n_head_kv, hp->head_dim, cs, hp->n_rot / 2, hp->rope_style);
    ops->kv_store(be, l, f->seq, f->pos, f->k, f->v, n);

    fr_attn_args aa = {l,
                       f->n_tok,
                       f->seq,
                       f->pos,
                       f->q,
                       h,
                       sqrtf((float)hd),
                       ly->swa ? hp->n_swa : 0,
                       fr_lf(ly, FR_T_ATTN_SINKS)};
    if (hp->attn_scale > 0) { /* gemma3: q scaled first, as llama.cpp does */
        ops->scale(be, f->q, hp->attn_scale, n * qd);
        aa.kq_div = 1.0f;
    }
    ops->attention(be, &aa);
    ops->matmul(be, fr_lw(ly, FR_T_ATTN_OUT), h, n, o, hp->n_embd);
    if (f->lora)
        ops->lora(be, f->lora, l, FR_LORA_O, 0, -1, h, n, o, hp->n_embd);
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

    fr_weight wg, wu;
    bool fused = !fr_lw(ly, FR_T_FFN_GATE);
    if (!fused) {
        wg = *fr_lw(ly, FR_T_FFN_GATE);
        wu = *fr_lw(ly, FR_T_FFN_UP);
    } else { /* phi3: ffn_up holds gate's rows then up's */
        wg = fr_weight_rows(fr_lw(ly, FR_T_FFN_UP), 0, F);
        wu = fr_weight_rows(fr_lw(ly, FR_T_FFN_UP), F, F);
    }
    fr_mm_part gu[2] = {{&wg, f->gate, F}, {&wu, f->up, F}};
    ops->matmul_multi(be, gu, 2, h, n);
    if (f->lora && fused) { /* an adapter of ffn_up holding gate|up */
        ops->lora(be, f->lora, l, FR_LORA_UP, 0, F, h, n, f->gate, F);
        ops->lora(be, f->lora, l, FR_LORA_UP, F, F, h, n, f->up, F);
    } else if (f->lora) {
        ops->lora(be, f->lora, l, FR_LORA_GATE, 0, -1, h, n, f->gate, F);
        ops->lora(be, f->lora, l, FR_LORA_UP, 0, -1, h, n, f->up, F);
    }
    ops->glu(be, f->gate, f->up, n * F, f->m->arch->ffn_act);
    ops->matmul(be, fr_lw(ly, FR_T_FFN_DOWN), f->gate, n, o, hp->n_embd);
    if (f->lora)
        ops->lora(be, f->lora, l, FR_LORA_DOWN, 0, -1, f->gate, n, o, hp->n_embd);
}

void fr_blk_moe(fr_fwd *f, uint32_t l, float *h, float *o)
{
    const fr_ops *ops = f->ops;
    fr_be *be = f->be;
    const fr_model *m = f->m;
    const fr_hparams *hp = &m->hp;
    const fr_layer *ly = &m->layers[l];
    int64_t n = f->n_tok, E = hp->n_embd, FX = hp->n_ff_exp;
    uint32_t X = hp->n_expert, K = hp->n_expert_used;

    ops->matmul(be, fr_lw(ly, FR_T_FFN_GATE_INP), h, n, f->moe_logits, X);
    if (fr_lf(ly, FR_T_FFN_GATE_INP_B))
        ops->add_rows(be, f->moe_logits, fr_lf(ly, FR_T_FFN_GATE_INP_B), n, X);
    ops->moe_route(be, f->moe_logits, n, X, K, m->arch->moe_gating, f->moe_sel, f->moe_w);

    /* group (token, weight) pairs by expert: a counting sort */
    memset(f->moe_off, 0, (X + 1) * sizeof *f->moe_off);
    for (int64_t i = 0; i < n * K; i++)
        f->moe_off[f->moe_sel[i] + 1]++;
    for (uint32_t e = 0; e < X; e++)
        f->moe_off[e + 1] += f->moe_off[e];
    for (int64_t t = 0; t < n; t++)
        for (uint32_t j = 0; j < K; j++) {
            int32_t e = f->moe_sel[t * K + j];
            uint32_t at = f->moe_off[e]++;
            f->moe_rows[at] = (int32_t)t;
            f->moe_rw[at] = f->moe_w[t * K + j];
        }
    for (uint32_t e = X; e > 0; e--) /* back to group starts */
        f->moe_off[e] = f->moe_off[e - 1];
    f->moe_off[0] = 0;

    ops->zero(be, o, n * E);
    const fr_wt *tg = &ly->t[FR_T_FFN_GATE_EXPS], *tu = &ly->t[FR_T_FFN_UP_EXPS];
    const fr_wt *td = &ly->t[FR_T_FFN_DOWN_EXPS];
    const float *bg = fr_lf(ly, FR_T_FFN_GATE_EXPS_B), *bu = fr_lf(ly, FR_T_FFN_UP_EXPS_B);
    const float *bd = fr_lf(ly, FR_T_FFN_DOWN_EXPS_B);
    for (uint32_t e = 0; e < X; e++) {
        uint32_t r0 = f->moe_off[e], cnt = f->moe_off[e + 1] - r0;
        if (!cnt)
            continue;
        const int32_t *rows = f->moe_rows + r0;
        ops->gather(be, f->moe_x, h, rows, cnt, E);
        fr_weight wg = fr_expert(tg, e), wu = fr_expert(tu, e), wd = fr_expert(td, e);
        fr_mm_part gu[2] = {{&wg, f->gate, FX}, {&wu, f->up, FX}};
        ops->matmul_multi(be, gu, 2, f->moe_x, cnt);
        if (bg)
            ops->add_rows(be, f->gate, bg + (size_t)e * FX, cnt, FX);
        if (bu)
            ops->add_rows(be, f->up, bu + (size_t)e * FX, cnt, FX);
        ops->glu(be, f->gate, f->up, cnt * FX, m->arch->ffn_act);
        ops->matmul(be, &wd, f->gate, cnt, f->moe_y, E);
        if (bd)
            ops->add_rows(be, f->moe_y, bd + (size_t)e * E, cnt, E);
        ops->scatter_add(be, o, f->moe_y, rows, f->moe_rw + r0, cnt, E);
    }
}
