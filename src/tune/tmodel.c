/*
 * tmodel.c - training forward/backward over the decoder (see tmodel.h).
 *
 * Per layer l, rows x [n][E] (the saved checkpoint ck[l]):
 *   h1 = rmsnorm(x) * attn_norm
 *   q = h1 Wq^T + bq + lora_q(h1)     (same for k, v)
 *   q = rmsnorm_head(q) * q_norm      (qwen3; qpre keeps the input)
 *   q, k = rope(q), rope(k)
 *   att = attention(q, k, v)          (per sequence, causal, GQA)
 *   xm = x + att Wo^T + lora_o(att)
 *   h2 = rmsnorm(xm) * ffn_norm
 *   g, u = h2 Wgate^T + lora, h2 Wup^T + lora
 *   act = silu(g) * u
 *   ck[l+1] = xm + act Wdown^T + lora_down(act)
 * and the head: hn = rmsnorm(ck[L]) * out_norm; logits = hn Wout^T; loss.
 *
 * Backward of a layer reverses this with the ops' _backward functions; dx
 * enters as dL/dck[l+1] and leaves as dL/dck[l]. Biases, norms and base
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

struct fr_tmodel {
    const fr_model *m;
    fr_tlora *lora;
    fr_tune_exec *ex;
    int64_t max_rows, max_seq, chunk;
    size_t E, QD, KVD, F, R, HALF;
    float *block; /* the one allocation */

    /* activations */
    float *ck;        /* [n_layer + 1][max_rows][E] checkpoints */
    float *h1, *rstd1;
    float *qpre, *qrstd, *kpre, *krstd; /* qk-norm inputs [rows][QD|KVD], [rows*H|KV] */
    float *q, *k, *v, *att;
    float *xm, *h2, *rstd2;
    float *g, *up, *act;
    float *proj;      /* [rows][E] output of o / down */
    float *u[FR_TARGET_COUNT]; /* [rows][R] LoRA intermediates */
    float *cs, *sn;   /* [rows][HALF] rope table */
    float *hn, *rstdn;
    /* gradients */
    float *dx, *dh, *dq, *dk, *dv, *dqn, *dkn, *datt, *dg, *dup, *dact, *du, *dhn;
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

static fr_tm_sizes fr_tm_size(const fr_hparams *hp, uint32_t rank, int64_t N, int64_t max_seq,
                              int64_t logit_rows, int nth)
{
    size_t E = hp->n_embd, QD = (size_t)hp->n_head * hp->head_dim;
    size_t KVD = (size_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, R = rank;
    size_t HALF = hp->n_rot / 2, n = (size_t)N, H = hp->n_head, KV = hp->n_head_kv;
    fr_tm_sizes s;
    s.act = (hp->n_layer + 1) * n * E           /* ck */
            + n * E + n                         /* h1, rstd1 */
            + (hp->has_qk_norm ? n * QD + n * H + n * KVD + n * KV : 0)
            + n * QD + 2 * n * KVD + n * QD     /* q, k, v, att */
            + 2 * n * E + n                     /* xm, h2, rstd2 */
            + 3 * n * F + n * E                 /* g, up, act, proj */
            + FR_TARGET_COUNT * n * R + 2 * n * HALF + n * E + n; /* u, cs, sn, hn, rstdn */
    s.grad = 2 * n * E + n * QD + 2 * n * KVD   /* dx, dh, dq, dk, dv */
             + (hp->has_qk_norm ? n * QD + n * KVD : 0) + n * QD + 3 * n * F + n * R + n * E;
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

void fr_tmodel_bytes(const fr_hparams *hp, uint32_t rank, int64_t max_rows, int64_t max_seq,
                     int64_t logit_rows, int nth, uint64_t *activations, uint64_t *logits,
                     int64_t *chunk_rows)
{
    fr_tm_sizes s = fr_tm_size(hp, rank, max_rows, max_seq, logit_rows, nth);
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
    if (max_rows < 1 || max_seq < 1 || max_seq > max_rows)
        return fr_err_set(err, FR_E_INVALID, "training buffers: bad sizes (rows %lld, seq %lld)",
                          (long long)max_rows, (long long)max_seq);
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
    tm->HALF = hp->n_rot / 2;
    fr_tm_sizes s = fr_tm_size(hp, lora->rank, max_rows, max_seq, logit_rows, ex->nth);
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
    CARVE(ck, (hp->n_layer + 1) * n * E);
    CARVE(h1, n * E);
    CARVE(rstd1, n);
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
    CARVE(xm, n * E);
    CARVE(h2, n * E);
    CARVE(rstd2, n);
    CARVE(g, n * F);
    CARVE(up, n * F);
    CARVE(act, n * F);
    CARVE(proj, n * E);
    for (int t = 0; t < FR_TARGET_COUNT; t++)
        CARVE(u[t], n * R);
    CARVE(cs, n * tm->HALF);
    CARVE(sn, n * tm->HALF);
    CARVE(hn, n * E);
    CARVE(rstdn, n);
    CARVE(dx, n * E);
    CARVE(dh, n * E);
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
    float *out, *dg, *du;
    const float *g, *u, *dout;
} fr_ew_ctx;

static void fr_swiglu_fwd_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_ew_ctx *e = c;
    (void)ith;
    fr_swiglu_forward(e->out + lo, e->g + lo, e->u + lo, hi - lo);
}

static void fr_swiglu_bwd_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_ew_ctx *e = c;
    (void)ith;
    fr_swiglu_backward(e->dg + lo, e->du + lo, e->dout + lo, e->g + lo, e->u + lo, hi - lo);
}

typedef struct fr_rope_ctx {
    fr_tmodel *tm;
    float *x;
    uint32_t heads;
    bool backward;
} fr_rope_ctx;

static void fr_rope_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_rope_ctx *r = c;
    const fr_hparams *hp = &r->tm->m->hp;
    size_t half = r->tm->HALF, row = (size_t)r->heads * hp->head_dim;
    (void)ith;
    if (r->backward)
        fr_rope_backward(r->x + (size_t)lo * row, r->tm->cs + (size_t)lo * half,
                         r->tm->sn + (size_t)lo * half, hi - lo, r->heads, hp->head_dim,
                         hp->n_rot, hp->rope_style);
    else
        fr_rope_forward(r->x + (size_t)lo * row, r->tm->cs + (size_t)lo * half,
                        r->tm->sn + (size_t)lo * half, hi - lo, r->heads, hp->head_dim, hp->n_rot,
                        hp->rope_style);
}

static void fr_rope(fr_tmodel *tm, float *x, uint32_t heads, int64_t rows, bool backward)
{
    fr_rope_ctx c = {tm, x, heads, backward};
    fr_par(tm, rows, rows * heads * (int64_t)tm->HALF * 6, fr_rope_rows, &c);
}

/* Attention work items: (sequence, kv head) pairs. */
typedef struct fr_attn_ctx {
    fr_tmodel *tm;
    const fr_tbatch *b;
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
        fr_attn_shape sh = {n, hp->n_head, hp->n_head_kv, hp->head_dim};
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

/* ---- one layer ------------------------------------------------------------------- */

static void fr_layer_forward(fr_tmodel *tm, uint32_t l, const fr_tbatch *b, bool write_out)
{
    const fr_hparams *hp = &tm->m->hp;
    const fr_layer *ly = &tm->m->layers[l];
    int64_t n = b->n;
    size_t E = tm->E, F = tm->F;
    const float *x = tm->ck + (size_t)l * tm->max_rows * E;

    fr_norm_fwd(tm, tm->h1, tm->rstd1, x, fr_lf(ly, FR_T_ATTN_NORM), n, (int64_t)E);
    fr_lin_fwd(tm, l, FR_TARGET_Q, fr_lf(ly, FR_T_ATTN_Q_B), tm->h1, n, hp->has_qk_norm ? tm->qpre : tm->q);
    fr_lin_fwd(tm, l, FR_TARGET_K, fr_lf(ly, FR_T_ATTN_K_B), tm->h1, n, hp->has_qk_norm ? tm->kpre : tm->k);
    fr_lin_fwd(tm, l, FR_TARGET_V, fr_lf(ly, FR_T_ATTN_V_B), tm->h1, n, tm->v);
    if (hp->has_qk_norm) {
        fr_norm_fwd(tm, tm->q, tm->qrstd, tm->qpre, fr_lf(ly, FR_T_ATTN_Q_NORM), n * hp->n_head, hp->head_dim);
        fr_norm_fwd(tm, tm->k, tm->krstd, tm->kpre, fr_lf(ly, FR_T_ATTN_K_NORM), n * hp->n_head_kv, hp->head_dim);
    }
    fr_rope(tm, tm->q, hp->n_head, n, false);
    fr_rope(tm, tm->k, hp->n_head_kv, n, false);
    fr_attn_ctx ac = {tm, b, false};
    fr_par(tm, (int64_t)b->n_seq * hp->n_head_kv, fr_attn_work(tm, b), fr_attn_items, &ac);

    fr_lin_fwd(tm, l, FR_TARGET_O, fr_lf(ly, FR_T_ATTN_OUT_B), tm->att, n, tm->proj);
    fr_residual_forward(tm->xm, x, tm->proj, n * (int64_t)E);
    fr_norm_fwd(tm, tm->h2, tm->rstd2, tm->xm, fr_lf(ly, FR_T_FFN_NORM), n, (int64_t)E);
    fr_lin_fwd(tm, l, FR_TARGET_GATE, NULL, tm->h2, n, tm->g);
    fr_lin_fwd(tm, l, FR_TARGET_UP, NULL, tm->h2, n, tm->up);
    fr_ew_ctx ec = {tm->act, NULL, NULL, tm->g, tm->up, NULL};
    fr_par(tm, n * (int64_t)F, n * (int64_t)F * 20, fr_swiglu_fwd_rows, &ec);
    if (write_out) {
        fr_lin_fwd(tm, l, FR_TARGET_DOWN, NULL, tm->act, n, tm->proj);
        fr_residual_forward(tm->ck + (size_t)(l + 1) * tm->max_rows * E, tm->xm, tm->proj,
                            n * (int64_t)E);
    } else {
        /* Recomputation for backward: the layer's output is already saved;
         * only the LoRA projection of act is needed. */
        fr_lora_ref p;
        if (fr_tlora_pair(tm->lora, l, FR_TARGET_DOWN, &p))
            fr_lora_project(tm->ex, &p, tm->act, n, tm->u[FR_TARGET_DOWN]);
    }
}

/* tm->dx holds dL/d(layer output); on return dL/d(layer input). */
static void fr_layer_backward(fr_tmodel *tm, uint32_t l, const fr_tbatch *b)
{
    const fr_hparams *hp = &tm->m->hp;
    const fr_layer *ly = &tm->m->layers[l];
    int64_t n = b->n;
    size_t E = tm->E, F = tm->F, QD = tm->QD, KVD = tm->KVD;
    const float *x = tm->ck + (size_t)l * tm->max_rows * E;

    /* out = xm + down(act): d xm gets dx (kept in place), d act = dx W_down */
    memset(tm->dact, 0, (size_t)n * F * sizeof(float));
    fr_lin_bwd(tm, l, FR_TARGET_DOWN, tm->act, tm->dx, n, tm->dact);
    memset(tm->dg, 0, (size_t)n * F * sizeof(float));
    memset(tm->dup, 0, (size_t)n * F * sizeof(float));
    fr_ew_ctx ec = {NULL, tm->dg, tm->dup, tm->g, tm->up, tm->dact};
    fr_par(tm, n * (int64_t)F, n * (int64_t)F * 30, fr_swiglu_bwd_rows, &ec);
    memset(tm->dh, 0, (size_t)n * E * sizeof(float));
    fr_lin_bwd(tm, l, FR_TARGET_GATE, tm->h2, tm->dg, n, tm->dh);
    fr_lin_bwd(tm, l, FR_TARGET_UP, tm->h2, tm->dup, n, tm->dh);
    fr_norm_bwd(tm, tm->dx, tm->dh, tm->xm, fr_lf(ly, FR_T_FFN_NORM), tm->rstd2, n, (int64_t)E);

    /* xm = x + o(att): d x gets dx (in place), d att = dx W_o */
    memset(tm->datt, 0, (size_t)n * QD * sizeof(float));
    fr_lin_bwd(tm, l, FR_TARGET_O, tm->att, tm->dx, n, tm->datt);
    memset(tm->dq, 0, (size_t)n * QD * sizeof(float));
    memset(tm->dk, 0, (size_t)n * KVD * sizeof(float));
    memset(tm->dv, 0, (size_t)n * KVD * sizeof(float));
    fr_attn_ctx ac = {tm, b, true};
    fr_par(tm, (int64_t)b->n_seq * hp->n_head_kv, fr_attn_work(tm, b), fr_attn_items, &ac);
    fr_rope(tm, tm->dq, hp->n_head, n, true);
    fr_rope(tm, tm->dk, hp->n_head_kv, n, true);
    float *dq = tm->dq, *dk = tm->dk;
    if (hp->has_qk_norm) {
        memset(tm->dqn, 0, (size_t)n * QD * sizeof(float));
        memset(tm->dkn, 0, (size_t)n * KVD * sizeof(float));
        fr_norm_bwd(tm, tm->dqn, tm->dq, tm->qpre, fr_lf(ly, FR_T_ATTN_Q_NORM), tm->qrstd, n * hp->n_head,
                    hp->head_dim);
        fr_norm_bwd(tm, tm->dkn, tm->dk, tm->kpre, fr_lf(ly, FR_T_ATTN_K_NORM), tm->krstd, n * hp->n_head_kv,
                    hp->head_dim);
        dq = tm->dqn;
        dk = tm->dkn;
    }
    memset(tm->dh, 0, (size_t)n * E * sizeof(float));
    fr_lin_bwd(tm, l, FR_TARGET_Q, tm->h1, dq, n, tm->dh);
    fr_lin_bwd(tm, l, FR_TARGET_K, tm->h1, dk, n, tm->dh);
    fr_lin_bwd(tm, l, FR_TARGET_V, tm->h1, tm->dv, n, tm->dh);
    fr_norm_bwd(tm, tm->dx, tm->dh, x, fr_lf(ly, FR_T_ATTN_NORM), tm->rstd1, n, (int64_t)E);
}

/* ---- head and loss ---------------------------------------------------------------- */

typedef struct fr_xent_ctx {
    fr_tmodel *tm;
    bool grad;
    float scale;
    int64_t V;
} fr_xent_ctx;

static void fr_xent_rows(void *c, int64_t lo, int64_t hi, int ith)
{
    fr_xent_ctx *x = c;
    fr_tmodel *tm = x->tm;
    (void)ith;
    float *lg = tm->logits + lo * x->V;
    fr_xent_forward(tm->closs + lo, lg, tm->ctgt + lo, hi - lo, x->V);
    if (x->grad)
        fr_xent_backward(lg, lg, tm->ctgt + lo, x->scale, hi - lo, x->V);
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
        fr_xent_ctx xc = {tm, grad, scale, V};
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
    fr_rope_table(tm->cs, tm->sn, b->pos, b->n, &m->hp, m->rope_freqs);
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
}
