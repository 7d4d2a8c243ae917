/*
 * tmodel.c - training forward/backward over the decoder (see tmodel.h).
 *
 * The layer is the architecture's own block list (model/arch/<name>.c),
 * walked forward and then backward, with the row operations of the
 * inference engine (model/cpu/rows.h). For block b of layer l, rows
 * xb[b] [n][E] (xb[0] = the saved checkpoint ck[l]):
 *   hb[b] = rmsnorm(xb[b]) * pre                  (rstd[b] kept)
 *   ob[b] = body(hb[b])                           (attention or feed-forward)
 *   xb[b+1] = xb[b] + post(ob[b])                 (post: rmsnorm * post, or none)
 * and ck[l+1] = xb[n_blocks]. Attention's body:
 *   q = hb Wq^T + bq + lora_q(hb)     (same for k, v)
 *   q = rmsnorm_head(q) * q_norm      (qwen3, gemma3; qpre keeps the input)
 *   q, k = rope(q), rope(k)           (the window layers' rope on window layers)
 *   att = attention(q, k, v)          (per sequence, causal, GQA, window, sinks)
 *   ob = att Wo^T + bo + lora_o(att)
 * the feed-forward's:
 *   g, u = hb Wgate^T + lora, hb Wup^T + lora;  act = glu(g, u);
 *   ob = act Wdown^T + lora_down(act)
 * Fused matrices (phi3's attn_qkv, gate|up in ffn_up) are one product (and
 * one LoRA pair) whose rows are split into q, k, v (g, u); their gradients
 * are joined back before the product's backward.
 * and the mixture of experts' (frozen; LoRA trains the attention of MoE
 * models): router logits, the chosen experts' FFNs on their tokens,
 * weighted; its backward passes the gradient to hb through the experts and
 * through the router's softmax over the chosen.
 * and the head: hn = rmsnorm(ck[L]) * out_norm; logits = hn Wout^T (softcap);
 * loss.
 *
 * Backward walks the blocks in reverse with the ops' _backward functions;
 * dx enters as dL/dck[l+1] and leaves as dL/dck[l]. Biases, norms and base
 * weights are frozen: only the LoRA pairs receive gradients.
 *
 * Buffers are carved out of one allocation (one per family: activations,
 * gradients, logits); the per-thread attention rows come from the same
 * block. Nothing is allocated per step.
 */
#include "tune/tmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"
#include "tune/ops.h"
#include "tune/parallel.h"

#define FR_MAX_BLOCKS 4

struct fr_tmodel {
    const fr_model *m;
    fr_tlora *lora;
    fr_tune_exec *ex;
    int64_t max_rows, max_seq, chunk;
    size_t E, QD, KVD, F, R, NROT;
    uint32_t nb;  /* blocks per layer */
    bool fused_qkv, fused_gu; /* phi3: attn_qkv, and gate|up in ffn_up */
    float *block; /* the one allocation */

    /* activations */
    float *ck;                   /* [n_layer + 1][max_rows][E] checkpoints */
    float *xb[FR_MAX_BLOCKS];    /* [rows][E] residual before block b (b >= 1) */
    float *hb[FR_MAX_BLOCKS];    /* [rows][E] normed input of block b */
    float *rstd[FR_MAX_BLOCKS];  /* [rows] */
    float *ob[FR_MAX_BLOCKS];    /* [rows][E] output of block b's body */
    float *rstdp[FR_MAX_BLOCKS]; /* [rows] post norm (blocks that have one) */
    float *pb;                   /* [rows][E] post-normed output (scratch) */
    float *qpre, *qrstd, *kpre, *krstd; /* qk-norm inputs [rows][QD|KVD], [rows*H|KV] */
    float *q, *k, *v, *att;
    float *g, *up, *act;
    float *qkv, *dqkv;         /* fused attn_qkv's rows [rows][QD + 2 KVD] and their gradient */
    float *gu, *dgu;           /* fused gate|up [rows][2 F] and its gradient */
    /* mixture of experts (frozen: only gradients to its input flow) */
    float *mlog, *mw;        /* [rows][n_expert] router logits, [rows][k] weights */
    float *mg, *mu, *my;     /* by expert group [rows * k][n_ff_exp | n_embd]: gate, up, output */
    float *mx, *ma;          /* [rows][n_embd], [rows][n_ff_exp] one group's input, activation */
    int32_t *msel, *mrows, *mslot; /* [rows * k] chosen experts; grouped: token, (token, j) */
    uint32_t *moff;          /* [n_expert + 1] group starts */
    void *mint;              /* the allocation of the four above */
    float *u[FR_TARGET_COUNT]; /* [rows][R] LoRA intermediates */
    float *cs[2];     /* [rows][NROT] rope angles: layers without, with a window */
    float freq[2][512]; /* rope frequencies of each variant */
    float mscale[2];
    float *hn, *rstdn;
    /* gradients */
    float *dx, *dh, *dob, *dq, *dk, *dv, *dqn, *dkn, *datt, *dg, *dup, *dact, *du, *dhn;
    float *mdlog, *mdw, *mdy, *mda, *mdg, *mdu, *mdx; /* experts' gradients (one group) */
    /* head */
    float *logits;    /* [chunk][V] */
    float *hc, *dhc;  /* [chunk][E] */
    float *closs;     /* [chunk] */
    int64_t *crow;    /* [chunk] rows of the batch in this chunk */
    int32_t *ctgt;    /* [chunk] */
    float **att_row;  /* [nth][fr_attn_scratch_floats(max_seq)] */
};

/* ---- sizes ------------------------------------------------------------------ */

typedef struct fr_tm_sizes {
    size_t act, grad, head, att; /* floats */
    int64_t chunk;
} fr_tm_sizes;

static fr_tm_sizes fr_tm_size(const fr_model *m, uint32_t rank, int64_t N, int64_t max_seq,
                              int64_t logit_rows, int nth)
{
    const fr_hparams *hp = &m->hp;
    const fr_arch *a = m->arch;
    size_t E = hp->n_embd, QD = (size_t)hp->n_head * hp->head_dim;
    size_t KVD = (size_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, R = rank;
    size_t NROT = hp->n_rot, n = (size_t)N, H = hp->n_head, KV = hp->n_head_kv;
    size_t nb = a->n_blocks, n_post = 0;
    for (size_t b = 0; b < nb; b++)
        n_post += a->layer[b].post != FR_T_NONE;
    fr_tm_sizes s;
    s.act = (hp->n_layer + 1) * n * E                    /* ck */
            + (nb - 1) * n * E + nb * (2 * n * E + n)    /* xb, hb, ob, rstd */
            + n_post * n + (n_post ? n * E : 0)          /* rstdp, pb */
            + (hp->has_qk_norm ? n * QD + n * H + n * KVD + n * KV : 0)
            + n * QD + 2 * n * KVD + n * QD              /* q, k, v, att */
            + 3 * n * F                                  /* g, up, act */
            + FR_TARGET_COUNT * n * R + 2 * n * NROT + n * E + n; /* u, cs, hn, rstdn */
    s.grad = 3 * n * E + n * QD + 2 * n * KVD            /* dx, dh, dob, dq, dk, dv */
             + (hp->has_qk_norm ? n * QD + n * KVD : 0) + n * QD + 3 * n * F + n * R + n * E;
    const fr_layer *l0 = &m->layers[0];
    if (fr_lw(l0, FR_T_ATTN_QKV))
        s.act += 2 * n * (QD + 2 * KVD);
    if (!fr_lw(l0, FR_T_FFN_GATE) && fr_lw(l0, FR_T_FFN_UP))
        s.act += 4 * n * F;
    if (hp->n_expert) {
        size_t X = hp->n_expert, K = hp->n_expert_used, FX = hp->n_ff_exp;
        s.act += n * X + n * K + 2 * n * K * FX + n * K * E + n * E + n * FX;
        s.grad += n * X + n * K + 2 * n * E + 3 * n * FX;
    }
    int64_t chunk = logit_rows;
    if (chunk <= 0) {
        /* about 64 MiB of logits, at least 8 rows */
        chunk = (int64_t)((64u << 20) / (4u * (hp->n_vocab ? hp->n_vocab : 1)));
        if (chunk < 8)
            chunk = 8;
    }
    if (chunk > N)
        chunk = N;
    if (chunk < 1)
        chunk = 1;
    s.chunk = chunk;
    s.head = (size_t)chunk * hp->n_vocab + 2 * (size_t)chunk * E + (size_t)chunk;
    s.att = (size_t)nth * (size_t)fr_attn_scratch_floats(max_seq);
    return s;
}

void fr_tmodel_bytes(const fr_model *m, uint32_t rank, int64_t max_rows, int64_t max_seq,
                     int64_t logit_rows, int nth, uint64_t *activations, uint64_t *logits,
                     int64_t *chunk_rows)
{
    fr_tm_sizes s = fr_tm_size(m, rank, max_rows, max_seq, logit_rows, nth);
    *activations = 4ull * (s.act + s.grad + s.att);
    *logits = 4ull * s.head + (uint64_t)s.chunk * (sizeof(int64_t) + sizeof(int32_t));
    *chunk_rows = s.chunk;
}

fr_status fr_tmodel_create(const fr_model *m, fr_tlora *lora, fr_tune_exec *ex,
                           int64_t max_rows, int64_t max_seq, int64_t logit_rows,
                           fr_tmodel **out, fr_err *err)
{
    *out = NULL;
    const fr_hparams *hp = &m->hp;
    const fr_arch *a = m->arch;
    if (max_rows < 1 || max_seq < 1 || max_seq > max_rows)
        return fr_err_set(err, FR_E_INVALID, "training buffers: bad sizes (rows %lld, seq %lld)",
                          (long long)max_rows, (long long)max_seq);
    /* The body intermediates are kept once per block kind (one attention
     * and one feed-forward per layer, as every architecture has). */
    bool kind_seen[3] = {false, false, false};
    for (size_t b = 0; b < a->n_blocks && b < FR_MAX_BLOCKS; b++) {
        if (kind_seen[a->layer[b].kind])
            return fr_err_set(err, FR_E_UNSUPPORTED, "training a %s model: two blocks of one kind "
                              "in a layer", a->name);
        kind_seen[a->layer[b].kind] = true;
    }
    if (a->n_blocks > FR_MAX_BLOCKS || hp->n_rot / 2 > 512)
        return fr_err_set(err, FR_E_UNSUPPORTED, "training a %s model: %zu blocks per layer",
                          a->name, a->n_blocks);
    fr_tmodel *tm = calloc(1, sizeof *tm);
    if (!tm)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    tm->m = m;
    tm->lora = lora;
    tm->ex = ex;
    tm->max_rows = max_rows;
    tm->max_seq = max_seq;
    tm->E = hp->n_embd;
    tm->QD = (size_t)hp->n_head * hp->head_dim;
    tm->KVD = (size_t)hp->n_head_kv * hp->head_dim;
    tm->F = hp->n_ff;
    tm->R = lora->rank;
    tm->NROT = hp->n_rot;
    tm->nb = (uint32_t)a->n_blocks;
    fr_rope_freqs(m, false, (uint32_t)max_seq, tm->freq[0], &tm->mscale[0]);
    fr_rope_freqs(m, true, (uint32_t)max_seq, tm->freq[1], &tm->mscale[1]);
    fr_tm_sizes s = fr_tm_size(m, lora->rank, max_rows, max_seq, logit_rows, ex->nth);
    tm->chunk = s.chunk;
    size_t floats = s.act + s.grad + s.head + s.att;
    tm->block = malloc(floats * sizeof(float));
    tm->crow = malloc((size_t)s.chunk * sizeof(int64_t));
    tm->ctgt = malloc((size_t)s.chunk * sizeof(int32_t));
    tm->att_row = calloc((size_t)ex->nth, sizeof(float *));
    if (!tm->block || !tm->crow || !tm->ctgt || !tm->att_row) {
        fr_tmodel_free(tm);
        return fr_err_set(err, FR_E_NOMEM,
                          "out of memory for training activations (%.1f MiB for %lld rows); "
                          "use a smaller --ctx or --batch",
                          (double)floats * 4.0 / 1048576.0, (long long)max_rows);
    }
    size_t n = (size_t)max_rows, E = tm->E, QD = tm->QD, KVD = tm->KVD, F = tm->F, R = tm->R;
    float *p = tm->block;
#define CARVE(field, count)                                                                        \
    do {                                                                                           \
        tm->field = p;                                                                             \
        p += (count);                                                                              \
    } while (0)
    bool any_post = false;
    CARVE(ck, (hp->n_layer + 1) * n * E);
    for (uint32_t b = 0; b < tm->nb; b++) {
        if (b > 0)
            CARVE(xb[b], n * E);
        CARVE(hb[b], n * E);
        CARVE(rstd[b], n);
        CARVE(ob[b], n * E);
        if (a->layer[b].post != FR_T_NONE) {
            CARVE(rstdp[b], n);
            any_post = true;
        }
    }
    if (any_post)
        CARVE(pb, n * E);
    if (hp->has_qk_norm) {
        CARVE(qpre, n * QD);
        CARVE(qrstd, n * hp->n_head);
        CARVE(kpre, n * KVD);
        CARVE(krstd, n * hp->n_head_kv);
    }
    CARVE(q, n * QD);
    CARVE(k, n * KVD);
    CARVE(v, n * KVD);
    CARVE(att, n * QD);
    CARVE(g, n * F);
    CARVE(up, n * F);
    CARVE(act, n * F);
    tm->fused_qkv = fr_lw(&m->layers[0], FR_T_ATTN_QKV) != NULL;
    tm->fused_gu = !fr_lw(&m->layers[0], FR_T_FFN_GATE) && fr_lw(&m->layers[0], FR_T_FFN_UP);
    if (tm->fused_qkv) {
        CARVE(qkv, n * (QD + 2 * KVD));
        CARVE(dqkv, n * (QD + 2 * KVD));
    }
    if (tm->fused_gu) {
        CARVE(gu, 2 * n * F);
        CARVE(dgu, 2 * n * F);
    }
    if (hp->n_expert) {
        size_t X = hp->n_expert, K = hp->n_expert_used, FX = hp->n_ff_exp;
        CARVE(mlog, n * X);
        CARVE(mw, n * K);
        CARVE(mg, n * K * FX);
        CARVE(mu, n * K * FX);
        CARVE(my, n * K * E);
        CARVE(mx, n * E);
        CARVE(ma, n * FX);
        CARVE(mdlog, n * X);
        CARVE(mdw, n * K);
        CARVE(mdy, n * E);
        CARVE(mda, n * FX);
        CARVE(mdg, n * FX);
        CARVE(mdu, n * FX);
        CARVE(mdx, n * E);
        tm->mint = malloc(3 * n * K * sizeof(int32_t) + (X + 1) * sizeof(uint32_t));
        if (!tm->mint) {
            fr_tmodel_free(tm);
            return fr_err_set(err, FR_E_NOMEM, "out of memory for the experts' tables");
        }
        tm->msel = tm->mint;
        tm->mrows = tm->msel + n * K;
        tm->mslot = tm->mrows + n * K;
        tm->moff = (uint32_t *)(tm->mslot + n * K);
    }
    for (int t = 0; t < FR_TARGET_COUNT; t++)
        CARVE(u[t], n * R);
    CARVE(cs[0], n * tm->NROT);
    CARVE(cs[1], n * tm->NROT);
    CARVE(hn, n * E);
    CARVE(rstdn, n);
    CARVE(dx, n * E);
    CARVE(dh, n * E);
    CARVE(dob, n * E);
    CARVE(dq, n * QD);
    CARVE(dk, n * KVD);
    CARVE(dv, n * KVD);
    if (hp->has_qk_norm) {
        CARVE(dqn, n * QD);
        CARVE(dkn, n * KVD);
    }
    CARVE(datt, n * QD);
    CARVE(dg, n * F);
    CARVE(dup, n * F);
    CARVE(dact, n * F);
    CARVE(du, n * R);
    CARVE(dhn, n * E);
    CARVE(logits, (size_t)s.chunk * hp->n_vocab);
    CARVE(hc, (size_t)s.chunk * E);
    CARVE(dhc, (size_t)s.chunk * E);
    CARVE(closs, (size_t)s.chunk);
#undef CARVE
    for (int i = 0; i < ex->nth; i++) {
        tm->att_row[i] = p;
        p += fr_attn_scratch_floats(max_seq);
    }
    *out = tm;
    return FR_OK;
}

void fr_tmodel_free(fr_tmodel *tm)
{
    if (!tm)
        return;
    free(tm->block);
    free(tm->crow);
    free(tm->ctgt);
    free(tm->att_row);
    free(tm->mint);
    free(tm);
}

/* ---- row-parallel helpers ----------------------------------------------------- */

typedef struct fr_par_job {
    void (*fn)(void *ctx, int64_t lo, int64_t hi, int ith);
    void *ctx;
    int64_t n, per;
} fr_par_job;

static void fr_par_chunk(void *arg, int64_t c, int ith)
{
    fr_par_job *j = arg;
    int64_t lo = c * j->per, hi = lo + j->per < j->n ? lo + j->per : j->n;
    j->fn(j->ctx, lo, hi, ith);
}

/* Runs fn over [0, n) in chunks across the pool; work (about the number of
 * float operations) below 2^16 stays on the caller. */
static void fr_par(fr_tmodel *tm, int64_t n, int64_t work,
                   void (*fn)(void *, int64_t, int64_t, int), void *ctx)
{
    int nth = tm->ex->nth;
    if (nth == 1 || n < 2 || work < (1 << 16)) {
        fn(ctx, 0, n, 0);
        return;
    }
    int64_t per = n / (4 * nth) > 0 ? n / (4 * nth) : 1;
    fr_par_job j = {fn, ctx, n, per};
    fr_parallel_chunks(tm->ex->pool, (n + per - 1) / per, fr_par_chunk, &j);
}

typedef struct fr_norm_ctx {
    float *y, *rstd, *dx;
    const float *x, *w, *dy;
    int64_t d;
    float eps;
} fr_norm_ctx;

static void fr_norm_fwd_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_norm_ctx *n = c;
    (void)ith;
    fr_rmsnorm_forward(n->y + lo * n->d, n->rstd + lo, n->x + lo * n->d, n->w, hi - lo, n->d,
                       n->eps);
}

static void fr_norm_bwd_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_norm_ctx *n = c;
    (void)ith;
    fr_rmsnorm_backward(n->dx + lo * n->d, NULL, n->dy + lo * n->d, n->x + lo * n->d, n->w,
                        n->rstd + lo, hi - lo, n->d);
}

static void fr_norm_fwd(fr_tmodel *tm, float *y, float *rstd, const float *x, const float *w,
                        int64_t rows, int64_t d)
{
    fr_norm_ctx c = {y, rstd, NULL, x, w, NULL, d, tm->m->hp.norm_eps};
    fr_par(tm, rows, rows * d * 3, fr_norm_fwd_rows, &c);
}

static void fr_norm_bwd(fr_tmodel *tm, float *dx, const float *dy, const float *x, const float *w,
                        const float *rstd, int64_t rows, int64_t d)
{
    fr_norm_ctx c = {NULL, (float *)rstd, dx, x, w, dy, d, 0.0f};
    fr_par(tm, rows, rows * d * 6, fr_norm_bwd_rows, &c);
}


typedef struct fr_ew_ctx {
    float *g, *dg, *du;
    const float *u, *dout, *g0;
    fr_ffn_act act;
    const fr_kernel_set *ks;
} fr_ew_ctx;

static void fr_glu_fwd_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_ew_ctx *e = c;
    (void)ith;
    memcpy(e->g + lo, e->g0 + lo, (size_t)(hi - lo) * sizeof(float));
    fr_glu_forward(e->ks, e->g + lo, e->u + lo, hi - lo, e->act);
}

static void fr_glu_bwd_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_ew_ctx *e = c;
    (void)ith;
    fr_glu_backward(e->dg + lo, e->du + lo, e->dout + lo, e->g0 + lo, e->u + lo, hi - lo, e->act);
}

typedef struct fr_rope_ctx {
    fr_tmodel *tm;
    float *x;
    const float *cs;
    uint32_t heads;
    bool backward;
} fr_rope_ctx;

static void fr_rope_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_rope_ctx *r = c;
    const fr_hparams *hp = &r->tm->m->hp;
    size_t row = (size_t)r->heads * hp->head_dim;
    (void)ith;
    if (r->backward)
        fr_rope_backward(r->x + (size_t)lo * row, r->cs + (size_t)lo * r->tm->NROT, hi - lo,
                         r->heads, hp->head_dim, hp->n_rot / 2, hp->rope_style);
    else
        fr_rope_forward(r->x + (size_t)lo * row, r->cs + (size_t)lo * r->tm->NROT, hi - lo,
                        r->heads, hp->head_dim, hp->n_rot / 2, hp->rope_style);
}

static void fr_rope(fr_tmodel *tm, float *x, const float *cs, uint32_t heads, int64_t rows,
                    bool backward)
{
    fr_rope_ctx c = {tm, x, cs, heads, backward};
    fr_par(tm, rows, rows * heads * (int64_t)tm->NROT * 3, fr_rope_rows, &c);
}

/* Attention work items: (sequence, kv head) pairs. */
typedef struct fr_attn_ctx {
    fr_tmodel *tm;
    const fr_tbatch *b;
    const fr_layer *ly;
    bool backward;
} fr_attn_ctx;

static void fr_attn_items(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_attn_ctx *a = c;
    fr_tmodel *tm = a->tm;
    const fr_hparams *hp = &tm->m->hp;
    for (int64_t it = lo; it < hi; it++) {
        uint32_t s = (uint32_t)(it / hp->n_head_kv), kvh = (uint32_t)(it % hp->n_head_kv);
        int64_t r0 = a->b->seq_off[s], n = a->b->seq_off[s + 1] - r0;
        fr_attn_shape sh = {n,
                            hp->n_head,
                            hp->n_head_kv,
                            hp->head_dim,
                            hp->attn_scale,
                            a->ly->swa ? hp->n_swa : 0,
                            fr_lf(a->ly, FR_T_ATTN_SINKS)};
        size_t qo = (size_t)r0 * tm->QD, ko = (size_t)r0 * tm->KVD;
        if (a->backward)
            fr_attention_backward(tm->dq + qo, tm->dk + ko, tm->dv + ko, tm->datt + qo,
                                  tm->att + qo, tm->q + qo, tm->k + ko, tm->v + ko, &sh, kvh,
                                  kvh + 1, tm->att_row[ith]);
        else
            fr_attention_forward(tm->att + qo, tm->q + qo, tm->k + ko, tm->v + ko, &sh, kvh,
                                 kvh + 1, tm->att_row[ith]);
    }
}

/* Attention costs about sum over sequences of n^2 * n_head * head_dim. */
static int64_t fr_attn_work(const fr_tmodel *tm, const fr_tbatch *b)
{
    int64_t w = 0;
    for (uint32_t s = 0; s < b->n_seq; s++) {
        int64_t n = b->seq_off[s + 1] - b->seq_off[s];
        w += n * n * (int64_t)tm->QD;
    }
    return w;
}

/* ---- linear layers --------------------------------------------------------------- */

/* y = x W^T + bias + LoRA(x) for target t of layer l. */
static void fr_lin_fwd(fr_tmodel *tm, uint32_t l, int t, const float *bias, const float *x,
                       int64_t n, float *y)
{
    const fr_weight *w = fr_tlora_weight(&tm->m->layers[l], t);
    fr_base_forward(tm->ex, w, bias, x, n, y);
    fr_lora_ref p;
    if (fr_tlora_pair(tm->lora, l, t, &p))
        fr_lora_forward(tm->ex, &p, x, n, y, tm->u[t]);
}

/* dx += dy W (+ LoRA), LoRA gradients added. */
static void fr_lin_bwd(fr_tmodel *tm, uint32_t l, int t, const float *x, const float *dy,
                       int64_t n, float *dx)
{
    const fr_weight *w = fr_tlora_weight(&tm->m->layers[l], t);
    fr_base_backward(tm->ex, w, dy, n, dx);
    fr_lora_ref p;
    if (fr_tlora_pair(tm->lora, l, t, &p))
        fr_lora_backward(tm->ex, &p, x, tm->u[t], dy, n, dx, tm->du);
}


/* ---- the blocks: forward / backward pairs ----------------------------------------- */

/* Attention of layer l: h -> out (n rows). */
static void fr_attn_fwd(fr_tmodel *tm, uint32_t l, const fr_tbatch *b, const float *h,
                        float *out)
{
    const fr_hparams *hp = &tm->m->hp;
    const fr_layer *ly = &tm->m->layers[l];
    int64_t n = b->n;
    float *qd = hp->has_qk_norm ? tm->qpre : tm->q, *kd = hp->has_qk_norm ? tm->kpre : tm->k;
    if (tm->fused_qkv) { /* one product (target q adapts attn_qkv), then its rows split */
        size_t QD = tm->QD, KVD = tm->KVD, W = QD + 2 * KVD;
        fr_lin_fwd(tm, l, FR_TARGET_Q, fr_lf(ly, FR_T_ATTN_QKV_B), h, n, tm->qkv);
        for (int64_t t = 0; t < n; t++) {
            memcpy(qd + t * QD, tm->qkv + t * W, QD * sizeof(float));
            memcpy(kd + t * KVD, tm->qkv + t * W + QD, KVD * sizeof(float));
            memcpy(tm->v + t * KVD, tm->qkv + t * W + QD + KVD, KVD * sizeof(float));
        }
    } else {
        fr_lin_fwd(tm, l, FR_TARGET_Q, fr_lf(ly, FR_T_ATTN_Q_B), h, n, qd);
        fr_lin_fwd(tm, l, FR_TARGET_K, fr_lf(ly, FR_T_ATTN_K_B), h, n, kd);
        fr_lin_fwd(tm, l, FR_TARGET_V, fr_lf(ly, FR_T_ATTN_V_B), h, n, tm->v);
    }
    if (hp->has_qk_norm) {
        fr_norm_fwd(tm, tm->q, tm->qrstd, tm->qpre, fr_lf(ly, FR_T_ATTN_Q_NORM), n * hp->n_head,
                    hp->head_dim);
        fr_norm_fwd(tm, tm->k, tm->krstd, tm->kpre, fr_lf(ly, FR_T_ATTN_K_NORM),
                    n * hp->n_head_kv, hp->head_dim);
    }
    fr_rope(tm, tm->q, tm->cs[ly->swa], hp->n_head, n, false);
    fr_rope(tm, tm->k, tm->cs[ly->swa], hp->n_head_kv, n, false);
    fr_attn_ctx ac = {tm, b, ly, false};
    fr_par(tm, (int64_t)b->n_seq * hp->n_head_kv, fr_attn_work(tm, b), fr_attn_items, &ac);
    fr_lin_fwd(tm, l, FR_TARGET_O, fr_lf(ly, FR_T_ATTN_OUT_B), tm->att, n, out);
}

/* dh += dL/dh given dout = dL/dout. */
static void fr_attn_bwd(fr_tmodel *tm, uint32_t l, const fr_tbatch *b, const float *h,
                        const float *dout, float *dh)
{
    const fr_hparams *hp = &tm->m->hp;
    const fr_layer *ly = &tm->m->layers[l];
    int64_t n = b->n;
    size_t QD = tm->QD, KVD = tm->KVD;
    memset(tm->datt, 0, (size_t)n * QD * sizeof(float));
    fr_lin_bwd(tm, l, FR_TARGET_O, tm->att, dout, n, tm->datt);
    memset(tm->dq, 0, (size_t)n * QD * sizeof(float));
    memset(tm->dk, 0, (size_t)n * KVD * sizeof(float));
    memset(tm->dv, 0, (size_t)n * KVD * sizeof(float));
    fr_attn_ctx ac = {tm, b, ly, true};
    fr_par(tm, (int64_t)b->n_seq * hp->n_head_kv, fr_attn_work(tm, b), fr_attn_items, &ac);
    fr_rope(tm, tm->dq, tm->cs[ly->swa], hp->n_head, n, true);
    fr_rope(tm, tm->dk, tm->cs[ly->swa], hp->n_head_kv, n, true);
    float *dq = tm->dq, *dk = tm->dk;
    if (hp->has_qk_norm) {
        memset(tm->dqn, 0, (size_t)n * QD * sizeof(float));
        memset(tm->dkn, 0, (size_t)n * KVD * sizeof(float));
        fr_norm_bwd(tm, tm->dqn, tm->dq, tm->qpre, fr_lf(ly, FR_T_ATTN_Q_NORM), tm->qrstd,
                    n * hp->n_head, hp->head_dim);
        fr_norm_bwd(tm, tm->dkn, tm->dk, tm->kpre, fr_lf(ly, FR_T_ATTN_K_NORM), tm->krstd,
                    n * hp->n_head_kv, hp->head_dim);
        dq = tm->dqn;
        dk = tm->dkn;
    }
    if (tm->fused_qkv) {
        size_t W = QD + 2 * KVD;
        for (int64_t t = 0; t < n; t++) {
            memcpy(tm->dqkv + t * W, dq + t * QD, QD * sizeof(float));
            memcpy(tm->dqkv + t * W + QD, dk + t * KVD, KVD * sizeof(float));
            memcpy(tm->dqkv + t * W + QD + KVD, tm->dv + t * KVD, KVD * sizeof(float));
        }
        fr_lin_bwd(tm, l, FR_TARGET_Q, h, tm->dqkv, n, dh);
        return;
    }
    fr_lin_bwd(tm, l, FR_TARGET_Q, h, dq, n, dh);
    fr_lin_bwd(tm, l, FR_TARGET_K, h, dk, n, dh);
    fr_lin_bwd(tm, l, FR_TARGET_V, h, tm->dv, n, dh);
}

/* Gated feed-forward of layer l: h -> out. With out NULL (recomputation
 * for backward, when nothing reads the output) only the LoRA projection of
 * act is made. */
static void fr_ffn_fwd(fr_tmodel *tm, uint32_t l, const float *h, int64_t n, float *out)
{
    size_t F = tm->F;
    if (tm->fused_gu) { /* ffn_up holds gate's rows then up's (target up adapts it) */
        fr_lin_fwd(tm, l, FR_TARGET_UP, NULL, h, n, tm->gu);
        for (int64_t t = 0; t < n; t++) {
            memcpy(tm->g + t * F, tm->gu + t * 2 * F, F * sizeof(float));
            memcpy(tm->up + t * F, tm->gu + t * 2 * F + F, F * sizeof(float));
        }
    } else {
        fr_lin_fwd(tm, l, FR_TARGET_GATE, NULL, h, n, tm->g);
        fr_lin_fwd(tm, l, FR_TARGET_UP, NULL, h, n, tm->up);
    }
    fr_ew_ctx ec = {tm->act, NULL, NULL, tm->up, NULL, tm->g, tm->m->arch->ffn_act, tm->ex->mm.ks};
    fr_par(tm, n * (int64_t)F, n * (int64_t)F * 20, fr_glu_fwd_rows, &ec);
    if (out) {
        fr_lin_fwd(tm, l, FR_TARGET_DOWN, NULL, tm->act, n, out);
    } else {
        fr_lora_ref p;
        if (fr_tlora_pair(tm->lora, l, FR_TARGET_DOWN, &p))
            fr_lora_project(tm->ex, &p, tm->act, n, tm->u[FR_TARGET_DOWN]);
    }
}

static void fr_ffn_bwd(fr_tmodel *tm, uint32_t l, const float *h, int64_t n, const float *dout,
                       float *dh)
{
    size_t F = tm->F;
    memset(tm->dact, 0, (size_t)n * F * sizeof(float));
    fr_lin_bwd(tm, l, FR_TARGET_DOWN, tm->act, dout, n, tm->dact);
    memset(tm->dg, 0, (size_t)n * F * sizeof(float));
    memset(tm->dup, 0, (size_t)n * F * sizeof(float));
    fr_ew_ctx ec = {NULL, tm->dg, tm->dup, tm->up, tm->dact, tm->g, tm->m->arch->ffn_act, NULL};
    fr_par(tm, n * (int64_t)F, n * (int64_t)F * 30, fr_glu_bwd_rows, &ec);
    if (tm->fused_gu) {
        for (int64_t t = 0; t < n; t++) {
            memcpy(tm->dgu + t * 2 * F, tm->dg + t * F, F * sizeof(float));
            memcpy(tm->dgu + t * 2 * F + F, tm->dup + t * F, F * sizeof(float));
        }
        fr_lin_bwd(tm, l, FR_TARGET_UP, h, tm->dgu, n, dh);
        return;
    }
    fr_lin_bwd(tm, l, FR_TARGET_GATE, h, tm->dg, n, dh);
    fr_lin_bwd(tm, l, FR_TARGET_UP, h, tm->dup, n, dh);
}

/* Mixture of experts of layer l: h -> out (blocks.c's arithmetic: the
 * chosen experts of each token, grouped by expert). The experts and the
 * router are frozen; what is kept serves the backward. */
static void fr_moe_fwd(fr_tmodel *tm, uint32_t l, const float *h, int64_t n, float *out)
{
    const fr_model *m = tm->m;
    const fr_hparams *hp = &m->hp;
    const fr_layer *ly = &m->layers[l];
    fr_tune_exec *ex = tm->ex;
    int64_t E = (int64_t)tm->E, FX = hp->n_ff_exp;
    uint32_t X = hp->n_expert, K = hp->n_expert_used;
    fr_base_forward(ex, fr_lw(ly, FR_T_FFN_GATE_INP), fr_lf(ly, FR_T_FFN_GATE_INP_B), h, n,
                    tm->mlog);
    fr_moe_route(tm->mlog, n, X, K, m->arch->moe_gating, tm->msel, tm->mw);
    memset(tm->moff, 0, (X + 1) * sizeof *tm->moff);
    for (int64_t i = 0; i < n * K; i++)
        tm->moff[tm->msel[i] + 1]++;
    for (uint32_t e = 0; e < X; e++)
        tm->moff[e + 1] += tm->moff[e];
    for (int64_t i = 0; i < n * K; i++) {
        uint32_t at = tm->moff[tm->msel[i]]++;
        tm->mrows[at] = (int32_t)(i / K);
        tm->mslot[at] = (int32_t)i;
    }
    for (uint32_t e = X; e > 0; e--)
        tm->moff[e] = tm->moff[e - 1];
    tm->moff[0] = 0;
    memset(out, 0, (size_t)(n * E) * sizeof(float));
    const float *bg = fr_lf(ly, FR_T_FFN_GATE_EXPS_B), *bu = fr_lf(ly, FR_T_FFN_UP_EXPS_B);
    const float *bd = fr_lf(ly, FR_T_FFN_DOWN_EXPS_B);
    for (uint32_t e = 0; e < X; e++) {
        uint32_t r0 = tm->moff[e], cnt = tm->moff[e + 1] - r0;
        if (!cnt)
            continue;
        for (uint32_t i = 0; i < cnt; i++)
            memcpy(tm->mx + (size_t)i * E, h + (size_t)tm->mrows[r0 + i] * E, (size_t)E * sizeof(float));
        fr_weight wg = fr_expert(&ly->t[FR_T_FFN_GATE_EXPS], e);
        fr_weight wu = fr_expert(&ly->t[FR_T_FFN_UP_EXPS], e);
        fr_weight wd = fr_expert(&ly->t[FR_T_FFN_DOWN_EXPS], e);
        float *g = tm->mg + (size_t)r0 * FX, *u = tm->mu + (size_t)r0 * FX;
        float *y = tm->my + (size_t)r0 * E;
        fr_base_forward(ex, &wg, bg ? bg + (size_t)e * FX : NULL, tm->mx, cnt, g);
        fr_base_forward(ex, &wu, bu ? bu + (size_t)e * FX : NULL, tm->mx, cnt, u);
        memcpy(tm->ma, g, (size_t)cnt * FX * sizeof(float));
        fr_glu_forward(ex->mm.ks, tm->ma, u, cnt * FX, m->arch->ffn_act);
        fr_base_forward(ex, &wd, bd ? bd + (size_t)e * E : NULL, tm->ma, cnt, y);
        for (uint32_t i = 0; i < cnt; i++) {
            float w = tm->mw[tm->mslot[r0 + i]], *o = out + (size_t)tm->mrows[r0 + i] * E;
            for (int64_t d = 0; d < E; d++)
                o[d] += w * y[(size_t)i * E + d];
        }
    }
}

/* dh += dL/dh given dout: through every chosen expert (weighted) and
 * through the weights' dependence on the router's logits. */
static void fr_moe_bwd(fr_tmodel *tm, uint32_t l, int64_t n, const float *dout, float *dh)
{
    const fr_model *m = tm->m;
    const fr_hparams *hp = &m->hp;
    const fr_layer *ly = &m->layers[l];
    fr_tune_exec *ex = tm->ex;
    int64_t E = (int64_t)tm->E, FX = hp->n_ff_exp;
    uint32_t X = hp->n_expert, K = hp->n_expert_used;
    for (int64_t p = 0; p < n * K; p++) { /* d weight = dout . expert output */
        const float *o = dout + (size_t)tm->mrows[p] * E, *y = tm->my + (size_t)p * E;
        double s = 0.0;
        for (int64_t d = 0; d < E; d++)
            s += (double)o[d] * (double)y[d];
        tm->mdw[tm->mslot[p]] = (float)s;
    }
    for (uint32_t e = 0; e < X; e++) {
        uint32_t r0 = tm->moff[e], cnt = tm->moff[e + 1] - r0;
        if (!cnt)
            continue;
        fr_weight wg = fr_expert(&ly->t[FR_T_FFN_GATE_EXPS], e);
        fr_weight wu = fr_expert(&ly->t[FR_T_FFN_UP_EXPS], e);
        fr_weight wd = fr_expert(&ly->t[FR_T_FFN_DOWN_EXPS], e);
        for (uint32_t i = 0; i < cnt; i++) {
            float w = tm->mw[tm->mslot[r0 + i]];
            const float *o = dout + (size_t)tm->mrows[r0 + i] * E;
            for (int64_t d = 0; d < E; d++)
                tm->mdy[(size_t)i * E + d] = w * o[d];
        }
        memset(tm->mda, 0, (size_t)cnt * FX * sizeof(float));
        fr_base_backward(ex, &wd, tm->mdy, cnt, tm->mda);
        memset(tm->mdg, 0, (size_t)cnt * FX * sizeof(float));
        memset(tm->mdu, 0, (size_t)cnt * FX * sizeof(float));
        fr_glu_backward(tm->mdg, tm->mdu, tm->mda, tm->mg + (size_t)r0 * FX,
                        tm->mu + (size_t)r0 * FX, cnt * FX, m->arch->ffn_act);
        memset(tm->mdx, 0, (size_t)cnt * E * sizeof(float));
        fr_base_backward(ex, &wg, tm->mdg, cnt, tm->mdx);
        fr_base_backward(ex, &wu, tm->mdu, cnt, tm->mdx);
        for (uint32_t i = 0; i < cnt; i++) {
            float *d = dh + (size_t)tm->mrows[r0 + i] * E;
            for (int64_t k = 0; k < E; k++)
                d[k] += tm->mdx[(size_t)i * E + k];
        }
    }
    fr_moe_route_backward(tm->mdlog, tm->mdw, tm->msel, tm->mw, n, X, K);
    fr_base_backward(ex, fr_lw(ly, FR_T_FFN_GATE_INP), tm->mdlog, n, dh);
}

/* ---- one layer: the arch's block list ---------------------------------------------- */

static float *fr_block_in(fr_tmodel *tm, uint32_t l, uint32_t bi)
{
    return bi == 0 ? tm->ck + (size_t)l * tm->max_rows * tm->E : tm->xb[bi];
}

/* Forward of layer l. write_out false (recomputation before backward): the
 * layer's output is already saved, so the last block stops where nothing
 * further is read. */
static void fr_layer_forward(fr_tmodel *tm, uint32_t l, const fr_tbatch *b, bool write_out)
{
    const fr_model *m = tm->m;
    const fr_layer *ly = &m->layers[l];
    int64_t n = b->n, E = (int64_t)tm->E;
    for (uint32_t bi = 0; bi < tm->nb; bi++) {
        const fr_block *blk = &m->arch->layer[bi];
        bool last = bi + 1 == tm->nb;
        const float *x = fr_block_in(tm, l, bi);
        fr_norm_fwd(tm, tm->hb[bi], tm->rstd[bi], x, fr_lf(ly, blk->pre), n, E);
        /* the output is needed unless this is the recomputed last block and
         * no post norm reads it */
        bool need = write_out || !last || blk->post != FR_T_NONE;
        switch (blk->kind) {
        case FR_BLK_ATTN:
            fr_attn_fwd(tm, l, b, tm->hb[bi], tm->ob[bi]);
            break;
        case FR_BLK_FFN:
            fr_ffn_fwd(tm, l, tm->hb[bi], n, need ? tm->ob[bi] : NULL);
            break;
        case FR_BLK_MOE:
            fr_moe_fwd(tm, l, tm->hb[bi], n, tm->ob[bi]);
            break;
        }
        if (last && !write_out) {
            if (blk->post != FR_T_NONE)
                fr_norm_fwd(tm, tm->pb, tm->rstdp[bi], tm->ob[bi], fr_lf(ly, blk->post), n, E);
            break;
        }
        float *y = last ? tm->ck + (size_t)(l + 1) * tm->max_rows * tm->E : tm->xb[bi + 1];
        const float *o = tm->ob[bi];
        if (blk->post != FR_T_NONE) {
            fr_norm_fwd(tm, tm->pb, tm->rstdp[bi], tm->ob[bi], fr_lf(ly, blk->post), n, E);
            o = tm->pb;
        }
        fr_residual_forward(y, x, o, n * E);
    }
}

/* tm->dx holds dL/d(layer output); on return dL/d(layer input). */
static void fr_layer_backward(fr_tmodel *tm, uint32_t l, const fr_tbatch *b)
{
    const fr_model *m = tm->m;
    const fr_layer *ly = &m->layers[l];
    int64_t n = b->n, E = (int64_t)tm->E;
    for (uint32_t bi = tm->nb; bi-- > 0;) {
        const fr_block *blk = &m->arch->layer[bi];
        /* y = x + post(o): d x gets dx (kept in place), d o = post'(dx) */
        const float *dout = tm->dx;
        if (blk->post != FR_T_NONE) {
            memset(tm->dob, 0, (size_t)n * tm->E * sizeof(float));
            fr_norm_bwd(tm, tm->dob, tm->dx, tm->ob[bi], fr_lf(ly, blk->post), tm->rstdp[bi], n,
                        E);
            dout = tm->dob;
        }
        memset(tm->dh, 0, (size_t)n * tm->E * sizeof(float));
        switch (blk->kind) {
        case FR_BLK_ATTN:
            fr_attn_bwd(tm, l, b, tm->hb[bi], dout, tm->dh);
            break;
        case FR_BLK_FFN:
            fr_ffn_bwd(tm, l, tm->hb[bi], n, dout, tm->dh);
            break;
        case FR_BLK_MOE:
            fr_moe_bwd(tm, l, n, dout, tm->dh);
            break;
        }
        fr_norm_bwd(tm, tm->dx, tm->dh, fr_block_in(tm, l, bi), fr_lf(ly, blk->pre),
                    tm->rstd[bi], n, E);
    }
}

/* ---- head and loss ---------------------------------------------------------------- */

typedef struct fr_xent_ctx {
    fr_tmodel *tm;
    bool grad;
    float scale;
    float softcap; /* 0 or the logits' cap */
    int64_t V;
} fr_xent_ctx;

static void fr_xent_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_xent_ctx *x = c;
    fr_tmodel *tm = x->tm;
    (void)ith;
    float *lg = tm->logits + lo * x->V;
    if (x->softcap > 0)
        fr_softcap_forward(lg, x->softcap, (hi - lo) * x->V);
    fr_xent_forward(tm->closs + lo, lg, tm->ctgt + lo, hi - lo, x->V);
    if (x->grad)
        fr_xent_backward(lg, lg, tm->ctgt + lo, x->scale, x->softcap, hi - lo, x->V);
}

/* Loss over the rows in the loss, and (grad) dL/d hn into tm->dhn. */
static void fr_head(fr_tmodel *tm, const fr_tbatch *b, bool grad, float scale, double *loss_sum,
                    int64_t *n_loss)
{
    const fr_model *m = tm->m;
    size_t E = tm->E;
    int64_t V = m->hp.n_vocab;
    const float *xl = tm->ck + (size_t)m->hp.n_layer * tm->max_rows * E;
    fr_norm_fwd(tm, tm->hn, tm->rstdn, xl, m->out_norm, b->n, (int64_t)E);
    if (grad)
        memset(tm->dhn, 0, (size_t)b->n * E * sizeof(float));
    double sum = 0.0;
    int64_t count = 0;
    int64_t r = 0;
    while (r < b->n) {
        int64_t c = 0;
        for (; r < b->n && c < tm->chunk; r++)
            if (b->tgt[r] >= 0) {
                tm->crow[c] = r;
                tm->ctgt[c] = b->tgt[r];
                memcpy(tm->hc + (size_t)c * E, tm->hn + (size_t)r * E, E * sizeof(float));
                c++;
            }
        if (c == 0)
            break;
        fr_base_forward(tm->ex, &m->output, NULL, tm->hc, c, tm->logits);
        fr_xent_ctx xc = {tm, grad, scale, m->hp.logit_softcap, V};
        fr_par(tm, c, c * V * 20, fr_xent_rows, &xc);
        for (int64_t i = 0; i < c; i++)
            sum += tm->closs[i];
        count += c;
        if (grad) {
            memset(tm->dhc, 0, (size_t)c * E * sizeof(float));
            fr_base_backward(tm->ex, &m->output, tm->logits, c, tm->dhc);
            for (int64_t i = 0; i < c; i++)
                memcpy(tm->dhn + (size_t)tm->crow[i] * E, tm->dhc + (size_t)i * E,
                       E * sizeof(float));
        }
    }
    *loss_sum = sum;
    *n_loss = count;
}


/* ---- whole model --------------------------------------------------------------------- */

static void fr_tmodel_embed(fr_tmodel *tm, const fr_tbatch *b)
{
    const fr_model *m = tm->m;
    fr_embed_forward(tm->ck, &m->tok_embd, b->tok, b->n);
    if (m->hp.embd_scale != 1.0f)
        for (int64_t i = 0; i < b->n * (int64_t)tm->E; i++)
            tm->ck[i] *= m->hp.embd_scale;
    for (int v = 0; v < 2; v++)
        fr_rope_table(tm->cs[v], tm->freq[v], m->hp.n_rot / 2, tm->mscale[v], b->pos, b->n);
}

fr_status fr_tmodel_run(fr_tmodel *tm, const fr_tbatch *b, bool grad, float scale,
                        double *loss_sum, int64_t *n_loss, bool (*cancel)(void *), void *user,
                        fr_err *err)
{
    const fr_hparams *hp = &tm->m->hp;
    if (b->n < 1 || b->n > tm->max_rows)
        return fr_err_set(err, FR_E_INTERNAL, "micro-batch of %lld rows (buffers hold %lld)",
                          (long long)b->n, (long long)tm->max_rows);
    for (uint32_t s = 0; s < b->n_seq; s++)
        if (b->seq_off[s + 1] - b->seq_off[s] > tm->max_seq)
            return fr_err_set(err, FR_E_INTERNAL, "sequence of %lld rows (limit %lld)",
                              (long long)(b->seq_off[s + 1] - b->seq_off[s]),
                              (long long)tm->max_seq);
    fr_tmodel_embed(tm, b);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        if (cancel && cancel(user))
            return fr_err_set(err, FR_E_CANCELLED, "stopped");
        fr_layer_forward(tm, l, b, true);
    }
    fr_head(tm, b, grad, scale, loss_sum, n_loss);
    if (!grad)
        return FR_OK;
    memset(tm->dx, 0, (size_t)b->n * tm->E * sizeof(float));
    fr_norm_bwd(tm, tm->dx, tm->dhn, tm->ck + (size_t)hp->n_layer * tm->max_rows * tm->E,
                tm->m->out_norm, tm->rstdn, b->n, (int64_t)tm->E);
    for (uint32_t l = hp->n_layer; l-- > 0;) {
        if (cancel && cancel(user))
            return fr_err_set(err, FR_E_CANCELLED, "stopped");
        fr_layer_forward(tm, l, b, false);
        fr_layer_backward(tm, l, b);
    }
    return FR_OK;
}

void fr_tmodel_logits(fr_tmodel *tm, const fr_tbatch *b, float *out)
{
    const fr_model *m = tm->m;
    fr_tmodel_embed(tm, b);
    for (uint32_t l = 0; l < m->hp.n_layer; l++)
        fr_layer_forward(tm, l, b, true);
    const float *xl = tm->ck + (size_t)m->hp.n_layer * tm->max_rows * tm->E;
    fr_norm_fwd(tm, tm->hn, tm->rstdn, xl, m->out_norm, b->n, (int64_t)tm->E);
    fr_base_forward(tm->ex, &m->output, NULL, tm->hn, b->n, out);
    if (m->hp.logit_softcap > 0)
        fr_softcap_forward(out, m->hp.logit_softcap, b->n * (int64_t)m->hp.n_vocab);
}
