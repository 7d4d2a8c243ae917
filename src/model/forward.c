/*
 * forward.c - fr_context: a sequence's cache bookkeeping, the batch
 * buffers, and the forward pass of a decoder for a batch of tokens that may
 * belong to different sequences.
 *
 *   x = token_embd[token]
 *   per layer, for each block of the architecture's layer (arch/<name>.c):
 *     x += post_norm(block(pre_norm(x)))      (blocks.c: attention, FFN, ...)
 *   logits = output(rmsnorm(x) * output_norm)  for the tokens that ask
 *
 * Every operation runs through the backend's table (ops.h; the CPU today).
 * The rope angles are computed once per chunk, not per layer and head (the
 * same values). All buffers are allocated at create time: decode allocates
 * nothing except when a batch asks for more logits rows than any batch
 * before it.
 */
#include "model/blocks.h"

#include <frugal/tensor.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_context {
    fr_model *m;
    uint32_t n_ctx, n_seq, n_batch;
    fr_type kv_type;
    const fr_ops *ops;
    fr_be *be;            /* where operations run, and the KV cache */
    fr_fwd f;             /* the forward pass's buffers */
    uint32_t *seq_len;    /* [n_seq] */
    int32_t *seq_tok;     /* [n_seq][n_ctx] token at each cached position */
    int32_t *pos;         /* [n_batch] position of each token in its sequence */
    int32_t *sq;          /* [n_batch] sequence of each token */
    uint32_t *rows;       /* [n_batch] chunk rows whose logits are wanted */
    float *rope_freq;     /* [n_rot / 2] rotation frequency of each pair */
    fr_lora_set *lora;    /* active LoRA adapters (lora.c) or NULL */
    float *logits;        /* [logits_cap, n_vocab] */
    uint32_t logits_cap;  /* rows allocated */
    uint32_t n_logits;    /* rows valid from the last decode */
};

fr_context_params fr_context_default_params(void)
{
    fr_context_params p = {0, 1, 512, 0, FR_TYPE_F16};
    return p;
}

fr_status fr_context_create(fr_model *m, const fr_context_params *pp, fr_context **out, fr_err *err)
{
    *out = NULL;
    fr_context_params p = pp ? *pp : fr_context_default_params();
    const fr_hparams *hp = &m->hp;
    if (p.n_ctx == 0)
        p.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (p.n_seq == 0)
        p.n_seq = 1;
    if (p.n_batch == 0)
        p.n_batch = 512;
    if (p.n_threads == 0)
        p.n_threads = (uint32_t)fr_cpu_count();
    if (p.kv_type != FR_TYPE_F32 && p.kv_type != FR_TYPE_F16)
        return fr_err_set(err, FR_E_INVALID, "KV cache type must be f32 or f16, not %s",
                          fr_type_name((uint32_t)p.kv_type));
    if (p.n_ctx > (1u << 22) || p.n_seq > 1024 || p.n_batch > 65536 || p.n_threads > 1024)
        return fr_err_set(err, FR_E_INVALID,
                          "context parameters out of range (n_ctx %u, n_seq %u, n_batch %u, "
                          "threads %u)", p.n_ctx, p.n_seq, p.n_batch, p.n_threads);
    fr_context *c = calloc(1, sizeof *c);
    if (!c)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    c->m = m;
    c->n_ctx = p.n_ctx;
    c->n_seq = p.n_seq;
    c->n_batch = p.n_batch;
    c->kv_type = p.kv_type;
    c->ops = &fr_ops_cpu;
    size_t E = hp->n_embd, q_dim = (size_t)hp->n_head * hp->head_dim;
    size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    size_t hw = q_dim > E ? q_dim : E, nb = p.n_batch;
    size_t max_in = hp->n_ff > hw ? hp->n_ff : hw;
    fr_be_params bp = {hp, p.n_ctx, p.n_seq, p.n_batch, p.n_threads, p.kv_type, (int64_t)max_in};
    fr_status st = c->ops->create(&bp, &c->be, err);
    if (st) {
        free(c);
        return st;
    }
    fr_fwd *f = &c->f;
    f->m = m;
    f->ops = c->ops;
    f->be = c->be;
    f->x = c->ops->alloc(c->be, nb * E);
    f->h = c->ops->alloc(c->be, nb * hw);
    f->q = c->ops->alloc(c->be, nb * q_dim);
    f->k = c->ops->alloc(c->be, nb * kv_dim);
    f->v = c->ops->alloc(c->be, nb * kv_dim);
    f->o = c->ops->alloc(c->be, nb * E);
    f->gate = c->ops->alloc(c->be, nb * hp->n_ff);
    f->up = c->ops->alloc(c->be, nb * hp->n_ff);
    f->rope_cs = c->ops->alloc(c->be, nb * (hp->n_rot + 1));
    c->seq_len = calloc(p.n_seq, sizeof *c->seq_len);
    c->seq_tok = calloc((size_t)p.n_seq * p.n_ctx, sizeof *c->seq_tok);
    c->pos = malloc(nb * sizeof(int32_t));
    c->sq = malloc(nb * sizeof(int32_t));
    c->rows = malloc(nb * sizeof(uint32_t));
    c->rope_freq = malloc((hp->n_rot / 2 + 1) * sizeof(float));
    f->pos = c->pos;
    f->seq = c->sq;
    f->rope_freq = c->rope_freq;
    for (uint32_t i = 0; c->rope_freq && i < hp->n_rot / 2; i++) {
        float freq = 1.0f / powf(hp->rope_base, (float)(2 * i) / (float)hp->n_rot);
        freq *= hp->rope_freq_scale;
        if (m->rope_freqs)
            freq /= m->rope_freqs[i];
        c->rope_freq[i] = freq;
    }
    if (!(f->x && f->h && f->q && f->k && f->v && f->o && f->gate && f->up && f->rope_cs &&
          c->seq_len && c->seq_tok && c->pos && c->sq && c->rows && c->rope_freq)) {
        fr_context_free(c);
        return fr_err_set(err, FR_E_NOMEM, "out of memory allocating a context's batch buffers "
                          "(n_batch %u)", p.n_batch);
    }
    *out = c;
    return FR_OK;
}

void fr_context_free(fr_context *c)
{
    if (!c)
        return;
    if (c->be)
        c->ops->free(c->be);
    free(c->seq_len);
    free(c->seq_tok);
    free(c->pos);
    free(c->sq);
    free(c->rows);
    free(c->rope_freq);
    free(c->logits);
    fr_lora_set_free(c->lora);
    free(c);
}

uint32_t fr_context_n_ctx(const fr_context *c) { return c->n_ctx; }
uint32_t fr_context_n_seq(const fr_context *c) { return c->n_seq; }
uint32_t fr_context_n_threads(const fr_context *c) { return c->ops->n_threads(c->be); }
const fr_model *fr_context_model(const fr_context *c) { return c->m; }
fr_lora_set **fr_context_lora_slot(fr_context *c) { return &c->lora; }
fr_pool *fr_context_pool(fr_context *c) { return c->ops->pool(c->be); }
uint32_t fr_context_n_batch(const fr_context *c) { return c->n_batch; }

uint32_t fr_context_seq_len(const fr_context *c, uint32_t s)
{
    return s < c->n_seq ? c->seq_len[s] : 0;
}

const int32_t *fr_context_seq_tokens(const fr_context *c, uint32_t s)
{
    return s < c->n_seq ? c->seq_tok + (size_t)s * c->n_ctx : NULL;
}

void fr_context_seq_truncate(fr_context *c, uint32_t s, uint32_t n)
{
    if (s < c->n_seq && n < c->seq_len[s])
        c->seq_len[s] = n;
}

const float *fr_context_logits(const fr_context *c, uint32_t j)
{
    if (j >= c->n_logits)
        return NULL;
    return c->logits + (size_t)j * c->m->hp.n_vocab;
}

/* ---- one chunk of at most n_batch tokens -------------------------------- */

static void fr_forward_chunk(fr_context *c, const int32_t *tokens, uint32_t n_tok,
                             const uint32_t *logit_rows, uint32_t n_logit_rows, uint32_t logit_base)
{
    const fr_model *m = c->m;
    const fr_hparams *hp = &m->hp;
    const fr_arch *arch = m->arch;
    const fr_ops *ops = c->ops;
    fr_be *be = c->be;
    fr_fwd *f = &c->f;
    int64_t E = hp->n_embd;
    f->n_tok = n_tok;
    f->lora = c->lora;

    ops->get_rows(be, &m->tok_embd, tokens, n_tok, f->x);
    ops->rope_angles(be, f->rope_cs, c->rope_freq, hp->n_rot / 2, c->pos, n_tok);
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const fr_layer *ly = &m->layers[l];
        for (size_t b = 0; b < arch->n_blocks; b++) {
            const fr_block *blk = &arch->layer[b];
            ops->rmsnorm(be, f->h, f->x, fr_lf(ly, blk->pre), n_tok, E, hp->norm_eps);
            switch (blk->kind) {
            case FR_BLK_ATTN:
                fr_blk_attn(f, l, f->h, f->o);
                break;
            case FR_BLK_FFN:
                fr_blk_ffn(f, l, f->h, f->o);
                break;
            }
            if (blk->post != FR_T_NONE)
                ops->rmsnorm(be, f->o, f->o, fr_lf(ly, blk->post), n_tok, E, hp->norm_eps);
            ops->add(be, f->x, f->o, n_tok * E);
        }
    }

    /* Final norm and output head only for the rows that want logits. */
    for (uint32_t r = 0; r < n_logit_rows; r++)
        ops->rmsnorm(be, f->h + r * E, f->x + logit_rows[r] * E, m->out_norm, 1, E, hp->norm_eps);
    float *lg = c->logits + (size_t)logit_base * hp->n_vocab;
    if (n_logit_rows) {
        ops->matmul(be, &m->output, f->h, n_logit_rows, lg, hp->n_vocab);
        if (c->lora)
            ops->lora(be, c->lora, 0, FR_LORA_OUTPUT, f->h, n_logit_rows, lg, hp->n_vocab);
    }
}

fr_status fr_context_decode(fr_context *c, const fr_batch *b, fr_err *err)
{
    const fr_hparams *hp = &c->m->hp;
    if (!b || b->n == 0 || !b->tokens)
        return fr_err_set(err, FR_E_INVALID, "empty batch");
    /* Validate everything before changing any state. */
    uint32_t want = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        int32_t tok = b->tokens[i];
        int32_t s = b->seq ? b->seq[i] : 0;
        if (tok < 0 || (uint32_t)tok >= hp->n_vocab)
            return fr_err_set(err, FR_E_INVALID, "token id %d at batch index %u is outside the "
                              "vocabulary [0, %u)", tok, i, hp->n_vocab);
        if (s < 0 || (uint32_t)s >= c->n_seq)
            return fr_err_set(err, FR_E_INVALID, "sequence %d at batch index %u: the context has "
                              "%u sequences", s, i, c->n_seq);
        if (b->logits ? b->logits[i] : i == b->n - 1)
            want++;
    }
    for (uint32_t s = 0; s < c->n_seq; s++) {
        uint32_t add = 0;
        for (uint32_t i = 0; i < b->n; i++)
            if ((uint32_t)(b->seq ? b->seq[i] : 0) == s)
                add++;
        if (add && (uint64_t)c->seq_len[s] + add > c->n_ctx)
            return fr_err_set(err, FR_E_RANGE,
                              "context full: sequence %u holds %u tokens and %u more would pass "
                              "the context length %u (use a larger --ctx)", s, c->seq_len[s],
                              add, c->n_ctx);
    }
    if (want > c->logits_cap) {
        float *nl = realloc(c->logits, (size_t)want * hp->n_vocab * sizeof(float));
        if (!nl)
            return fr_err_set(err, FR_E_NOMEM, "out of memory for %u rows of logits", want);
        c->logits = nl;
        c->logits_cap = want;
    }
    c->n_logits = want;
    uint32_t logit_base = 0;
    for (uint32_t start = 0; start < b->n; start += c->n_batch) {
        uint32_t n = b->n - start < c->n_batch ? b->n - start : c->n_batch;
        uint32_t nr = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t gi = start + i;
            int32_t s = b->seq ? b->seq[gi] : 0;
            c->sq[i] = s;
            c->pos[i] = (int32_t)c->seq_len[s]++;
            c->seq_tok[(size_t)s * c->n_ctx + (size_t)c->pos[i]] = b->tokens[gi];
            if (b->logits ? b->logits[gi] : gi == b->n - 1)
                c->rows[nr++] = i;
        }
        fr_forward_chunk(c, b->tokens + start, n, c->rows, nr, logit_base);
        logit_base += nr;
    }
    return FR_OK;
}
