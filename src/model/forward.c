/*
 * forward.c - fr_context: a sequence's cache bookkeeping, the batch
 * buffers, and the forward pass of a decoder for a batch of tokens that may
 * belong to different sequences.
 *
 *   x = token_embd[token] (* embd_scale)
 *   per layer, for each block of the architecture's layer (arch/<name>.c):
 *     x += post_norm(block(pre_norm(x)))      (blocks.c: attention, FFN, ...)
 *   logits = output(rmsnorm(x) * output_norm)  for the tokens that ask
 *
 * Every operation runs through the backend's table (ops.h; the CPU today).
 * The rope angles are computed once per chunk (per rope variant: gemma3's
 * window layers have their own), not per layer and head. All buffers are
 * allocated at create time: decode allocates nothing except when a batch
 * asks for more logits rows than any batch before it.
 *
 * KV cache length per layer: n_ctx, except on sliding-window layers,
 * which keep a ring of their last n_swa + n_batch - 1 positions (as
 * llama.cpp's SWA cache does): a chunk stores all its keys before any of
 * its tokens attends, so the chunk's first token's window must survive
 * the chunk's own writes. A gemma3 at 32k context then holds 32k positions
 * only in its global layers. Truncating a sequence (prefix reuse) keeps
 * the prefix only while the ring still holds the window of its next
 * position (fr_context_seq_truncate).
 */
#include "model/blocks.h"
#include "gguf/pages.h"

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
    float *rope_freq[2];  /* [n_rot / 2] rotation frequency of each pair: layers
                             without, with a sliding window */
    float rope_mscale[2]; /* their magnitudes */
    bool rope_two;        /* the window layers' rope differs */
    uint32_t *kv_len;     /* [n_layer] positions each layer's cache holds */
    uint32_t ring;        /* the window layers' ring length (< n_ctx), 0: none */
    void *moe_host;       /* the experts' host tables (fr_fwd moe_sel ... moe_off) */
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
    if (hp->n_ff_exp > max_in)
        max_in = hp->n_ff_exp;
    c->kv_len = malloc(hp->n_layer * sizeof *c->kv_len);
    if (!c->kv_len) {
        free(c);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    uint64_t ring = (uint64_t)hp->n_swa + p.n_batch - 1;
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        bool in_ring = m->layers[l].swa && hp->n_swa && ring < p.n_ctx;
        c->kv_len[l] = in_ring ? (uint32_t)ring : p.n_ctx;
        if (in_ring)
            c->ring = (uint32_t)ring;
    }
    fr_be_params bp = {hp,        p.n_ctx,         p.n_seq,  p.n_batch, p.n_threads,
                       p.kv_type, (int64_t)max_in, c->kv_len};
    fr_status st = c->ops->create(&bp, &c->be, err);
    if (st) {
        free(c->kv_len);
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
    size_t ffw = hp->n_ff > hp->n_ff_exp ? hp->n_ff : hp->n_ff_exp;
    f->gate = c->ops->alloc(c->be, nb * ffw);
    f->up = c->ops->alloc(c->be, nb * ffw);
    bool moe_ok = true;
    if (hp->n_expert) {
        size_t X = hp->n_expert, K = hp->n_expert_used;
        f->moe_logits = c->ops->alloc(c->be, nb * X);
        f->moe_x = c->ops->alloc(c->be, nb * E);
        f->moe_y = c->ops->alloc(c->be, nb * E);
        c->moe_host = malloc(nb * K * (2 * sizeof(int32_t) + 2 * sizeof(float)) +
                             (X + 1) * sizeof(uint32_t));
        if (c->moe_host) {
            uint8_t *p8 = c->moe_host;
            f->moe_sel = (int32_t *)p8;
            f->moe_rows = f->moe_sel + nb * K;
            f->moe_w = (float *)(f->moe_rows + nb * K);
            f->moe_rw = f->moe_w + nb * K;
            f->moe_off = (uint32_t *)(f->moe_rw + nb * K);
        }
        moe_ok = f->moe_logits && f->moe_x && f->moe_y && c->moe_host;
    }
    f->rope_cs[0] = c->ops->alloc(c->be, nb * (hp->n_rot + 1));
    c->seq_len = calloc(p.n_seq, sizeof *c->seq_len);
    c->seq_tok = calloc((size_t)p.n_seq * p.n_ctx, sizeof *c->seq_tok);
    c->pos = malloc(nb * sizeof(int32_t));
    c->sq = malloc(nb * sizeof(int32_t));
    c->rows = malloc(nb * sizeof(uint32_t));
    c->rope_freq[0] = malloc((hp->n_rot / 2 + 1) * sizeof(float));
    c->rope_freq[1] = malloc((hp->n_rot / 2 + 1) * sizeof(float));
    f->pos = c->pos;
    f->seq = c->sq;
    bool ok = moe_ok && f->x && f->h && f->q && f->k && f->v && f->o && f->gate && f->up && f->rope_cs[0] &&
              c->seq_len && c->seq_tok && c->pos && c->sq && c->rows && c->rope_freq[0] &&
              c->rope_freq[1];
    if (ok) {
        fr_rope_freqs(m, false, p.n_ctx, c->rope_freq[0], &c->rope_mscale[0]);
        fr_rope_freqs(m, true, p.n_ctx, c->rope_freq[1], &c->rope_mscale[1]);
        bool any_swa = false;
        for (uint32_t l = 0; l < hp->n_layer; l++)
            any_swa |= m->layers[l].swa;
        c->rope_two = any_swa && (c->rope_mscale[0] != c->rope_mscale[1] ||
                                  memcmp(c->rope_freq[0], c->rope_freq[1],
                                         hp->n_rot / 2 * sizeof(float)) != 0);
        f->rope_cs[1] = c->rope_two ? c->ops->alloc(c->be, nb * (hp->n_rot + 1)) : f->rope_cs[0];
        ok = f->rope_cs[1] != NULL;
    }
    if (!ok) {
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
    free(c->moe_host);
    free(c->rope_freq[0]);
    free(c->rope_freq[1]);
    free(c->kv_len);
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

uint32_t fr_context_seq_truncate(fr_context *c, uint32_t s, uint32_t n)
{
    if (s >= c->n_seq)
        return 0;
    uint32_t len = c->seq_len[s];
    if (n >= len)
        return len;
    /* The next token, at position n, attends on window layers to
     * n - n_swa + 1 .. n; those before n must not have been overwritten in
     * the ring by positions up to len - 1 (slot p % ring holds the last
     * position written there). Otherwise nothing of the prefix is usable. */
    if (c->ring && n > 0) {
        uint32_t w = c->m->hp.n_swa, first = n >= w ? n - w + 1 : 0;
        if ((uint64_t)first + c->ring < len)
            n = 0;
    }
    c->seq_len[s] = n;
    return n;
}

uint64_t fr_context_kv_bytes(const fr_context *c)
{
    const fr_hparams *hp = &c->m->hp;
    uint64_t slots = 0;
    for (uint32_t l = 0; l < hp->n_layer; l++)
        slots += c->kv_len[l];
    return 2 * slots * c->n_seq * hp->n_head_kv * hp->head_dim *
           (c->kv_type == FR_TYPE_F16 ? 2 : 4);
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
    /* Each row read from the mapped table faulted in the 64 KiB around it;
     * over a long prompt or a server's life that puts the whole table in
     * RSS, a second time when it is also the (repacked) output head. The
     * rows are in x now: give the pages back (refilled on the next read). */
    for (uint32_t i = 0; i < n_tok; i++)
        if (tokens[i] >= 0 && (uint32_t)tokens[i] < m->hp.n_vocab)
            fr_gguf_release_read(m->gguf,
                                 (const uint8_t *)m->tok_embd.data + (size_t)tokens[i] * m->tok_embd.row_bytes,
                                 m->tok_embd.row_bytes);
    if (hp->embd_scale != 1.0f)
        ops->scale(be, f->x, hp->embd_scale, n_tok * E);
    for (int v = 0; v < 1 + c->rope_two; v++)
        ops->rope_angles(be, f->rope_cs[v], c->rope_freq[v], hp->n_rot / 2, c->rope_mscale[v],
                         c->pos, n_tok);
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
            case FR_BLK_MOE:
                fr_blk_moe(f, l, f->h, f->o);
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
            ops->lora(be, c->lora, 0, FR_LORA_OUTPUT, 0, -1, f->h, n_logit_rows, lg, hp->n_vocab);
        if (hp->logit_softcap > 0)
            ops->softcap(be, lg, hp->logit_softcap, (int64_t)n_logit_rows * hp->n_vocab);
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
