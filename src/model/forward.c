/*
 * forward.c - fr_context: KV cache, scratch buffers and the forward pass of
 * a llama-style decoder (llama, qwen2, qwen3), for a batch of tokens that may
 * belong to different sequences.
 *
 * Per layer, for the batch x [n_tok, n_embd]:
 *   h = rmsnorm(x) * attn_norm
 *   q, k, v = h Wq, h Wk, h Wv (+ biases); per-head rmsnorm of q, k (qwen3)
 *   rope(q, k) at each token's position; k, v appended to the sequence's cache
 *   o = softmax(q k^T / sqrt(head_dim), causal) v   (grouped-query heads)
 *   x += o Wo
 *   h = rmsnorm(x) * ffn_norm
 *   x += (silu(h Wgate) * (h Wup)) Wdown
 * then logits = rmsnorm(x) * out_norm Wout for the tokens that ask.
 *
 * The arithmetic mirrors llama2.c's reference run.c (left-to-right float
 * sums, the same rope angle formula, two-pass softmax over a score row), so
 * greedy tokens agree with its recorded outputs; attention (tensor/attn.h:
 * row by row on the generic path, exactly run.c's order; tiled with an
 * online softmax on the SIMD paths) and SwiGLU come from the kernel set. Q, K and V are one grouped product, gate and up another (matmul.h);
 * the rope angles are computed once per token, not per layer and head (the
 * same values). Every sequence has its own
 * contiguous cache of n_ctx positions; K and V rows are [n_head_kv*head_dim].
 * All buffers are allocated at create time: decode allocates nothing except
 * when a batch asks for more logits rows than any batch before it.
 */
#include "model/model_impl.h"
#include "tensor/attn.h"
#include "tensor/kernels/kernels.h"
#include "model/lora_impl.h"

#include <frugal/tensor.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_context {
    fr_model *m;
    uint32_t n_ctx, n_seq, n_batch;
    fr_type kv_type;
    fr_pool *pool;
    size_t kv_row; /* values per cached K or V row: n_head_kv * head_dim */
    void *kcache;  /* [n_seq][n_layer][n_ctx][kv_row] of kv_type */
    void *vcache;
    uint32_t *seq_len; /* [n_seq] */
    int32_t *seq_tok;  /* [n_seq][n_ctx] token at each cached position */

    /* per-batch scratch, n_batch rows each */
    float *x;     /* [n_batch, n_embd] residual stream */
    float *h;     /* [n_batch, max(n_embd, q_dim)] normed input / attention out */
    float *q;     /* [n_batch, q_dim] */
    float *k;     /* [n_batch, kv_row] */
    float *v;     /* [n_batch, kv_row] */
    float *o;     /* [n_batch, n_embd] projection output */
    float *gate;  /* [n_batch, n_ff] */
    float *up;    /* [n_batch, n_ff] */
    int32_t *pos; /* [n_batch] position of each token in its sequence */
    int32_t *sq;  /* [n_batch] sequence of each token */
    uint32_t *rows; /* [n_batch] chunk rows whose logits are wanted */
    float *rope_freq; /* [n_rot / 2] rotation frequency of each pair */
    float *rope_cs;   /* [n_batch][n_rot] cos, sin per pair at each token's position */

    float **att_scratch; /* per thread: fr_attn_scratch_bytes (attn.h) */
    uint32_t *attn_blocks; /* [n_batch + 1] attention's token blocks */
    int n_att;           /* entries of att_scratch */
    fr_matmul_scratch mm; /* kernel path + buffers for every fr_matmul */

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

static size_t fr_kv_elem(fr_type t) { return t == FR_TYPE_F16 ? 2 : 4; }

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
    c->kv_row = (size_t)hp->n_head_kv * hp->head_dim;
    fr_status st = fr_pool_create((int)p.n_threads, &c->pool, err);
    if (st) {
        free(c);
        return st;
    }
    size_t q_dim = (size_t)hp->n_head * hp->head_dim;
    size_t hw = q_dim > hp->n_embd ? q_dim : hp->n_embd;
    size_t nb = p.n_batch;
    size_t kv_bytes = (size_t)p.n_seq * hp->n_layer * p.n_ctx * c->kv_row * fr_kv_elem(p.kv_type);
    c->kcache = calloc(1, kv_bytes ? kv_bytes : 1);
    c->vcache = calloc(1, kv_bytes ? kv_bytes : 1);
    c->seq_len = calloc(p.n_seq, sizeof *c->seq_len);
    c->seq_tok = calloc((size_t)p.n_seq * p.n_ctx, sizeof *c->seq_tok);
    c->x = malloc(nb * hp->n_embd * sizeof(float));
    c->h = malloc(nb * hw * sizeof(float));
    c->q = malloc(nb * q_dim * sizeof(float));
    c->k = malloc(nb * c->kv_row * sizeof(float));
    c->v = malloc(nb * c->kv_row * sizeof(float));
    c->o = malloc(nb * hp->n_embd * sizeof(float));
    c->gate = malloc(nb * hp->n_ff * sizeof(float));
    c->up = malloc(nb * hp->n_ff * sizeof(float));
    c->pos = malloc(nb * sizeof(int32_t));
    c->sq = malloc(nb * sizeof(int32_t));
    c->rows = malloc(nb * sizeof(uint32_t));
    c->attn_blocks = malloc((nb + 1) * sizeof(uint32_t));
    c->rope_freq = malloc((hp->n_rot / 2 + 1) * sizeof(float));
    c->rope_cs = malloc(nb * (hp->n_rot + 1) * sizeof(float));
    for (uint32_t i = 0; c->rope_freq && i < hp->n_rot / 2; i++) {
        float freq = 1.0f / powf(hp->rope_base, (float)(2 * i) / (float)hp->n_rot);
        freq *= hp->rope_freq_scale;
        if (m->rope_freqs)
            freq /= m->rope_freqs[i];
        c->rope_freq[i] = freq;
    }
    int nth = (int)p.n_threads;
    c->n_att = nth;
    c->att_scratch = calloc((size_t)nth, sizeof(float *));
    /* Matmul scratch: rows up to the longest input of any product, batches
     * of n_batch tokens (the path is chosen here: FRUGAL_ISA or the best). */
    size_t max_in = hp->n_ff > hw ? hp->n_ff : hw;
    st = fr_matmul_scratch_init(&c->mm, nth, (int64_t)max_in, (int64_t)nb, err);
    if (st) {
        fr_context_free(c);
        return st;
    }
    bool ok = c->kcache && c->vcache && c->seq_len && c->seq_tok && c->x && c->h && c->q && c->k && c->v &&
              c->o && c->gate && c->up && c->pos && c->sq && c->rows && c->attn_blocks && c->att_scratch &&
              c->rope_freq && c->rope_cs;
    for (int i = 0; ok && i < nth; i++) {
        size_t ab = (fr_attn_scratch_bytes(p.n_ctx, hp->head_dim) + 63) & ~(size_t)63;
        c->att_scratch[i] = NULL;
        if (posix_memalign((void **)&c->att_scratch[i], 64, ab) != 0)
            c->att_scratch[i] = NULL;
        ok = c->att_scratch[i] != NULL;
    }
    if (!ok) {
        fr_context_free(c);
        return fr_err_set(err, FR_E_NOMEM,
                          "out of memory allocating a context (KV cache %.1f MiB for n_ctx %u x "
                          "%u sequences); try a smaller --ctx", 2.0 * (double)kv_bytes / 1048576.0,
                          p.n_ctx, p.n_seq);
    }
    *out = c;
    return FR_OK;
}

void fr_context_free(fr_context *c)
{
    if (!c)
        return;
    for (int i = 0; c->att_scratch && i < c->n_att; i++)
        free(c->att_scratch[i]);
    free(c->att_scratch);
    fr_matmul_scratch_free(&c->mm);
    fr_pool_free(c->pool);
    free(c->kcache);
    free(c->vcache);
    free(c->seq_len);
    free(c->seq_tok);
    free(c->x);
    free(c->h);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->o);
    free(c->gate);
    free(c->up);
    free(c->pos);
    free(c->sq);
    free(c->rows);
    free(c->attn_blocks);
    free(c->rope_freq);
    free(c->rope_cs);
    free(c->logits);
    fr_lora_set_free(c->lora);
    free(c);
}

uint32_t fr_context_n_ctx(const fr_context *c) { return c->n_ctx; }
uint32_t fr_context_n_seq(const fr_context *c) { return c->n_seq; }
uint32_t fr_context_n_threads(const fr_context *c) { return (uint32_t)fr_pool_size(c->pool); }
const fr_model *fr_context_model(const fr_context *c) { return c->m; }
fr_lora_set **fr_context_lora_slot(fr_context *c) { return &c->lora; }
fr_pool *fr_context_pool(fr_context *c) { return c->pool; }
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

/* ---- elementwise ops (reference) ---------------------------------------- */

static void fr_rmsnorm(float *o, const float *x, const float *w, int64_t n, float eps)
{
    float ss = 0.0f;
    for (int64_t j = 0; j < n; j++)
        ss += x[j] * x[j];
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int64_t j = 0; j < n; j++)
        o[j] = w[j] * (ss * x[j]);
}

/* Angles of every rotated pair at each token's position, once per chunk
 * (every layer and head rotates by the same ones): cs[2i], cs[2i + 1] =
 * cos, sin of pos * freq[i], freq as the reference computes it. */
static void fr_rope_angles(fr_context *c, uint32_t n_tok)
{
    const fr_hparams *hp = &c->m->hp;
    uint32_t half = hp->n_rot / 2;
    for (uint32_t t = 0; t < n_tok; t++) {
        float *cs = c->rope_cs + (size_t)t * 2 * half;
        for (uint32_t i = 0; i < half; i++) {
            float val = (float)c->pos[t] * c->rope_freq[i];
            cs[2 * i] = cosf(val);
            cs[2 * i + 1] = sinf(val);
        }
    }
}

/* Rotates the first n_rot dims of one head vector by the angles cs. */
static void fr_rope(float *v, const float *cs, const fr_hparams *hp)
{
    uint32_t half = hp->n_rot / 2;
    for (uint32_t i = 0; i < half; i++) {
        float fcr = cs[2 * i], fci = cs[2 * i + 1];
        uint32_t a, b;
        if (hp->rope_style == FR_ROPE_NEOX) {
            a = i;
            b = i + half;
        } else {
            a = 2 * i;
            b = 2 * i + 1;
        }
        float v0 = v[a], v1 = v[b];
        v[a] = v0 * fcr - v1 * fci;
        v[b] = v0 * fci + v1 * fcr;
    }
}

/* ---- KV cache access ---------------------------------------------------- */

static inline size_t fr_kv_index(const fr_context *c, uint32_t s, uint32_t l, uint32_t p)
{
    return (((size_t)s * c->m->hp.n_layer + l) * c->n_ctx + p) * c->kv_row;
}

static void fr_kv_store(fr_context *c, void *cache, size_t idx, const float *src)
{
    if (c->kv_type == FR_TYPE_F32) {
        memcpy((float *)cache + idx, src, c->kv_row * sizeof(float));
    } else {
        uint16_t *d = (uint16_t *)cache + idx;
        for (size_t i = 0; i < c->kv_row; i++)
            d[i] = fr_fp32_to_fp16(src[i]);
    }
}

/* ---- one chunk of at most n_batch tokens -------------------------------- */

static void fr_add_bias(float *y, const float *b, uint32_t n_tok, size_t n)
{
    if (!b)
        return;
    for (uint32_t t = 0; t < n_tok; t++)
        for (size_t i = 0; i < n; i++)
            y[t * n + i] += b[i];
}

static void fr_forward_chunk(fr_context *c, const int32_t *tokens, uint32_t n_tok,
                             const uint32_t *logit_rows, uint32_t n_logit_rows, uint32_t logit_base)
{
    fr_model *m = c->m;
    const fr_hparams *hp = &m->hp;
    size_t E = hp->n_embd, F = hp->n_ff, hd = hp->head_dim;
    size_t q_dim = (size_t)hp->n_head * hd, kvd = c->kv_row;

    for (uint32_t t = 0; t < n_tok; t++)
        fr_weight_row(&m->tok_embd, tokens[t], c->x + t * E);
    fr_rope_angles(c, n_tok);

    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const fr_layer *ly = &m->layers[l];
        for (uint32_t t = 0; t < n_tok; t++)
            fr_rmsnorm(c->h + t * E, c->x + t * E, ly->attn_norm, (int64_t)E, hp->norm_eps);
        fr_mm_part qkv[3] = {{&ly->wq, c->q, (int64_t)q_dim},
                             {&ly->wk, c->k, (int64_t)kvd},
                             {&ly->wv, c->v, (int64_t)kvd}};
        fr_matmul_multi(c->pool, qkv, 3, c->h, n_tok, &c->mm);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_Q, c->h, n_tok, c->q, (int64_t)q_dim);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_K, c->h, n_tok, c->k, (int64_t)kvd);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_V, c->h, n_tok, c->v, (int64_t)kvd);
        fr_add_bias(c->q, ly->bq, n_tok, q_dim);
        fr_add_bias(c->k, ly->bk, n_tok, kvd);
        fr_add_bias(c->v, ly->bv, n_tok, kvd);
        for (uint32_t t = 0; t < n_tok; t++) {
            for (uint32_t h = 0; h < hp->n_head; h++) {
                float *qh = c->q + t * q_dim + h * hd;
                if (ly->q_norm)
                    fr_rmsnorm(qh, qh, ly->q_norm, (int64_t)hd, hp->norm_eps);
                fr_rope(qh, c->rope_cs + (size_t)t * 2 * (hp->n_rot / 2), hp);
            }
            for (uint32_t h = 0; h < hp->n_head_kv; h++) {
                float *kh = c->k + t * kvd + h * hd;
                if (ly->k_norm)
                    fr_rmsnorm(kh, kh, ly->k_norm, (int64_t)hd, hp->norm_eps);
                fr_rope(kh, c->rope_cs + (size_t)t * 2 * (hp->n_rot / 2), hp);
            }
            size_t idx = fr_kv_index(c, (uint32_t)c->sq[t], l, (uint32_t)c->pos[t]);
            fr_kv_store(c, c->kcache, idx, c->k + t * kvd);
            fr_kv_store(c, c->vcache, idx, c->v + t * kvd);
        }
        fr_attn_desc ad = {c->q, c->h, n_tok, c->pos, c->sq,
                           (const char *)c->kcache + fr_kv_index(c, 0, l, 0) * fr_kv_elem(c->kv_type),
                           (const char *)c->vcache + fr_kv_index(c, 0, l, 0) * fr_kv_elem(c->kv_type),
                           (size_t)hp->n_layer * c->n_ctx * kvd, kvd, c->kv_type, hp->n_head,
                           hp->n_head_kv, (uint32_t)hd, c->attn_blocks};
        fr_attention(c->pool, c->mm.ks, &ad, (void *const *)c->att_scratch);
        fr_matmul(c->pool, &ly->wo, c->h, n_tok, c->o, (int64_t)E, &c->mm);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_O, c->h, n_tok, c->o, (int64_t)E);
        fr_add_bias(c->o, ly->bo, n_tok, E);
        for (size_t i = 0; i < n_tok * E; i++)
            c->x[i] += c->o[i];

        for (uint32_t t = 0; t < n_tok; t++)
            fr_rmsnorm(c->h + t * E, c->x + t * E, ly->ffn_norm, (int64_t)E, hp->norm_eps);
        fr_mm_part gu[2] = {{&ly->w_gate, c->gate, (int64_t)F}, {&ly->w_up, c->up, (int64_t)F}};
        fr_matmul_multi(c->pool, gu, 2, c->h, n_tok, &c->mm);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_GATE, c->h, n_tok, c->gate, (int64_t)F);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_UP, c->h, n_tok, c->up, (int64_t)F);
        c->mm.ks->swiglu(c->gate, c->up, (int64_t)(n_tok * F));
        fr_matmul(c->pool, &ly->w_down, c->gate, n_tok, c->o, (int64_t)E, &c->mm);
        fr_lora_apply(c->lora, c->pool, l, FR_LORA_DOWN, c->gate, n_tok, c->o, (int64_t)E);
        for (size_t i = 0; i < n_tok * E; i++)
            c->x[i] += c->o[i];
    }

    /* Final norm and output head only for the rows that want logits. */
    for (uint32_t r = 0; r < n_logit_rows; r++)
        fr_rmsnorm(c->h + r * E, c->x + logit_rows[r] * E, m->out_norm, (int64_t)E, hp->norm_eps);
    if (n_logit_rows)
        fr_matmul(c->pool, &m->output, c->h, n_logit_rows,
                  c->logits + (size_t)logit_base * hp->n_vocab, hp->n_vocab, &c->mm);
    fr_lora_apply(c->lora, c->pool, 0, FR_LORA_OUTPUT, c->h, n_logit_rows,
                  c->logits + (size_t)logit_base * hp->n_vocab, hp->n_vocab);
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
