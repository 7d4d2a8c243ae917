/*
 * synth.c - random-weight GGUF models (see frugal/synth.h).
 *
 * Tensors are produced one at a time by the writer's fill callback, so a
 * 5 GB model needs one tensor's worth of memory, not the whole file. Each
 * tensor's values come from its own generator seeded by (seed, tensor
 * index), so the file does not depend on the order of production.
 * Matrix values are N(0, 1/n_in): each output of a product then has unit
 * variance, and the residual stream stays O(1) at any depth.
 *
 * The tensors written are the architecture's own table (arch/arch.h):
 * whole-model tensors, then layer by layer in table order; the required
 * ones always, the optional ones the spec asks for.
 */
#include <frugal/gguf.h>
#include <frugal/synth.h>
#include <frugal/tensor.h>

#include "model/arch/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* name, model, {arch, V, E, L, F, H, KV, head_dim, ctx, wtype, embd_type,
 *               tied, bias, qk_norm, rope_base, seed, vocab} */
#define P(n, model, arch, V, E, L, F, H, KV, HD, CTX, TIED, BIAS, QKN, ROPE)                      \
    {n, model, {arch, V, E, L, F, H, KV, HD, CTX, FR_TYPE_F32, FR_TYPE_COUNT_, TIED, BIAS, QKN,     \
                ROPE, 1, false, NULL}}
static const fr_synth_preset fr_presets[] = {
    P("smollm2-135m", "SmolLM2-135M", "llama", 49152, 576, 30, 1536, 9, 3, 0, 8192, true, false, false, 100000),
    P("smollm2-360m", "SmolLM2-360M", "llama", 49152, 960, 32, 2560, 15, 5, 0, 8192, true, false, false, 100000),
    P("smollm2-1.7b", "SmolLM2-1.7B", "llama", 49152, 2048, 24, 8192, 32, 32, 0, 8192, true, false, false, 130000),
    P("qwen2.5-0.5b", "Qwen2.5-0.5B", "qwen2", 151936, 896, 24, 4864, 14, 2, 0, 32768, true, true, false, 1000000),
    P("qwen2.5-1.5b", "Qwen2.5-1.5B", "qwen2", 151936, 1536, 28, 8960, 12, 2, 0, 32768, true, true, false, 1000000),
    P("qwen2.5-7b", "Qwen2.5-7B", "qwen2", 152064, 3584, 28, 18944, 28, 4, 0, 32768, false, true, false, 1000000),
    P("qwen3-0.6b", "Qwen3-0.6B", "qwen3", 151936, 1024, 28, 3072, 16, 8, 128, 40960, true, false, true, 1000000),
    P("llama-3.2-1b", "Llama-3.2-1B", "llama", 128256, 2048, 16, 8192, 32, 8, 0, 131072, true, false, false, 500000),
    P("llama-3.2-3b", "Llama-3.2-3B", "llama", 128256, 3072, 28, 8192, 24, 8, 0, 131072, true, false, false, 500000),
    P("llama-3.1-8b", "Llama-3.1-8B", "llama", 128256, 4096, 32, 14336, 32, 8, 0, 131072, false, false, false, 500000),
    P("tinyllama-1.1b", "TinyLlama-1.1B", "llama", 32000, 2048, 22, 5632, 32, 4, 0, 2048, false, false, false, 10000),
    P("mistral-7b", "Mistral-7B-v0.3", "llama", 32768, 4096, 32, 14336, 32, 8, 0, 32768, false, false, false, 1000000),
};
#undef P

const fr_synth_preset *fr_synth_presets(size_t *n)
{
    *n = sizeof fr_presets / sizeof fr_presets[0];
    return fr_presets;
}

const fr_synth_preset *fr_synth_preset_find(const char *name)
{
    size_t n;
    const fr_synth_preset *p = fr_synth_presets(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return &p[i];
    return NULL;
}

static uint32_t fr_synth_hd(const fr_synth_spec *s)
{
    return s->head_dim ? s->head_dim : s->n_embd / s->n_head;
}

/* ---- deterministic generator (splitmix64 + Box-Muller) ------------------ */

typedef struct fr_rng {
    uint64_t s;
} fr_rng;

static uint64_t fr_rng_next(fr_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double fr_rng_uniform(fr_rng *r) /* (0, 1) */
{
    return ((double)(fr_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void fr_rng_normals(fr_rng *r, float *out, size_t n, float scale, float mean)
{
    for (size_t i = 0; i < n; i += 2) {
        double u1 = fr_rng_uniform(r), u2 = fr_rng_uniform(r);
        double rad = sqrt(-2.0 * log(u1));
        out[i] = mean + scale * (float)(rad * cos(6.283185307179586 * u2));
        if (i + 1 < n)
            out[i + 1] = mean + scale * (float)(rad * sin(6.283185307179586 * u2));
    }
}

/* ---- tensor plan --------------------------------------------------------- */

typedef enum fr_synth_kind { FR_SYN_MATRIX, FR_SYN_NORM, FR_SYN_BIAS } fr_synth_kind;

typedef struct fr_synth_tensor {
    char name[64];
    fr_type type;
    int64_t ne[2];
    uint32_t n_dims;
    fr_synth_kind kind;
} fr_synth_tensor;

typedef struct fr_synth_ctx {
    const fr_synth_spec *s;
    fr_synth_tensor *t;
    int64_t n;
    float *buf; /* largest tensor, as floats */
    uint64_t done, total;
    void (*progress)(void *, uint64_t, uint64_t);
    void *user;
} fr_synth_ctx;

/* K-quants need rows that are a multiple of 256 values; otherwise fall back
 * to a 32-block type of similar size (the substitutions llama.cpp makes). */
static fr_type fr_synth_fit(fr_type t, int64_t n_in)
{
    const fr_type_info *ti = fr_type_get((uint32_t)t);
    if (n_in % ti->block_size == 0)
        return t;
    switch (t) {
    case FR_TYPE_Q2_K:
    case FR_TYPE_Q3_K:
        return FR_TYPE_Q4_0;
    case FR_TYPE_Q4_K:
        return FR_TYPE_Q5_0;
    case FR_TYPE_Q5_K:
        return FR_TYPE_Q5_1;
    case FR_TYPE_Q6_K:
        return FR_TYPE_Q8_0;
    default:
        return n_in % 32 == 0 ? FR_TYPE_Q8_0 : FR_TYPE_F16;
    }
}

static void fr_synth_add(fr_synth_ctx *c, const char *name, fr_synth_kind kind, fr_type type,
                         int64_t ne0, int64_t ne1)
{
    fr_synth_tensor *t = &c->t[c->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->n_dims = ne1 ? 2 : 1;
    t->type = kind == FR_SYN_MATRIX ? fr_synth_fit(type, ne0) : FR_TYPE_F32;
}

static fr_status fr_synth_fill(void *user, int64_t index, void *dst, uint64_t nbytes, fr_err *err)
{
    fr_synth_ctx *c = user;
    const fr_synth_tensor *t = &c->t[index];
    int64_t n = t->ne[0] * (t->ne[1] ? t->ne[1] : 1);
    fr_rng r = {c->s->seed * 0x100000001B3ull + (uint64_t)index * 0x9E3779B97F4A7C15ull + 1};
    switch (t->kind) {
    case FR_SYN_MATRIX:
        fr_rng_normals(&r, c->buf, (size_t)n, (float)(1.0 / sqrt((double)t->ne[0])), 0.0f);
        break;
    case FR_SYN_NORM:
        fr_rng_normals(&r, c->buf, (size_t)n, 0.1f, 1.0f);
        break;
    case FR_SYN_BIAS:
        fr_rng_normals(&r, c->buf, (size_t)n, 0.1f, 0.0f);
        break;
    }
    fr_status st = fr_quantize(t->type, c->buf, dst, n, err);
    if (st)
        return fr_err_prefix(err, "tensor %s", t->name);
    c->done += nbytes;
    if (c->progress)
        c->progress(c->user, c->done, c->total);
    return FR_OK;
}

static fr_status fr_synth_vocab(fr_gguf_writer *w, const fr_synth_spec *s, fr_err *err)
{
    uint32_t V = s->n_vocab;
    if (V < 259)
        return fr_err_set(err, FR_E_INVALID, "a byte vocabulary needs n_vocab >= 259, not %u", V);
    char **tok = calloc(V, sizeof *tok);
    float *score = calloc(V, sizeof *score);
    int32_t *type = calloc(V, sizeof *type);
    fr_status st = FR_OK;
    if (!tok || !score || !type) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    /* 0 <unk>, 1 <s>, 2 </s>, 3..258 <0xNN>, then printable pieces. */
    static const char *fixed[] = {"<unk>", "<s>", "</s>"};
    for (uint32_t i = 0; i < V && st == FR_OK; i++) {
        char piece[32];
        if (i < 3) {
            snprintf(piece, sizeof piece, "%s", fixed[i]);
            type[i] = i == 0 ? 2 : 3; /* UNKNOWN, CONTROL */
        } else if (i < 259) {
            snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
            type[i] = 6; /* BYTE */
        } else {
            /* single printable characters first (space as U+2581), then
             * two-letter lower-case pieces, then numbered filler */
            uint32_t k = i - 259;
            if (k < 95) {
                char ch = (char)(32 + k);
                if (ch == ' ')
                    snprintf(piece, sizeof piece, "\xe2\x96\x81");
                else
                    snprintf(piece, sizeof piece, "%c", ch);
            } else if (k < 95 + 26 * 26) {
                k -= 95;
                snprintf(piece, sizeof piece, "%c%c", 'a' + (char)(k / 26), 'a' + (char)(k % 26));
            } else {
                snprintf(piece, sizeof piece, "<extra_%u>", i);
            }
            type[i] = 1; /* NORMAL */
            score[i] = -(float)(i - 259);
        }
        tok[i] = strdup(piece);
        if (!tok[i])
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    if (st == FR_OK &&
        (fr_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") ||
         fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, V) ||
         fr_gguf_writer_set_arr(w, "tokenizer.ggml.scores", FR_GGUF_FLOAT32, score, V) ||
         fr_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FR_GGUF_INT32, type, V) ||
         fr_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) ||
         fr_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) ||
         fr_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)))
        st = fr_err_set(err, FR_E_NOMEM, "out of memory writing the vocabulary");
done:
    if (tok)
        for (uint32_t i = 0; i < V; i++)
            free(tok[i]);
    free(tok);
    free(score);
    free(type);
    return st;
}

/* The tokenizer.* keys of s->vocab_from, whose vocabulary must have
 * exactly the model's n_vocab tokens (token_embd's rows). */
static fr_status fr_synth_copy_vocab(fr_gguf_writer *w, const fr_synth_spec *s, fr_err *err)
{
    fr_gguf *v = NULL;
    fr_status st = fr_gguf_open(s->vocab_from, &v, err);
    if (st)
        return st;
    fr_gguf_arr toks;
    if (fr_gguf_get_arr(v, "tokenizer.ggml.tokens", &toks, NULL) != FR_OK) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: no tokenizer.ggml.tokens array: not a vocabulary",
                        s->vocab_from);
        goto done;
    }
    if (toks.n != s->n_vocab) {
        st = fr_err_set(err, FR_E_INVALID, "%s: %llu tokens, but the model has %u (pick the "
                        "vocabulary of the model whose shapes these are)", s->vocab_from,
                        (unsigned long long)toks.n, s->n_vocab);
        goto done;
    }
    for (int64_t i = 0; i < fr_gguf_n_kv(v) && st == FR_OK; i++) {
        const char *k = fr_gguf_key(v, i);
        if (k && strncmp(k, "tokenizer.", 10) == 0)
            st = fr_gguf_writer_copy_kv(w, v, i);
    }
    if (st)
        st = fr_err_set(err, st, "%s: copying the tokenizer keys failed", s->vocab_from);
done:
    fr_gguf_free(v);
    return st;
}

/* The hyper-parameters a spec describes (what the loader will read back). */
static void fr_synth_hparams(const fr_synth_spec *s, fr_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    hp->n_vocab = s->n_vocab;
    hp->n_embd = s->n_embd;
    hp->n_layer = s->n_layer;
    hp->n_ff = s->n_ff;
    hp->n_head = s->n_head;
    hp->n_head_kv = s->n_head_kv;
    hp->head_dim = fr_synth_hd(s);
    hp->n_rot = hp->head_dim;
}

/* Whether the spec writes the table entry sp (required ones always). */
static bool fr_synth_wants(const fr_synth_spec *s, const fr_tensor_spec *sp)
{
    if (sp->flags & FR_REQ)
        return true;
    switch (sp->role) {
    case FR_T_OUTPUT:
        return !s->tied;
    case FR_T_ATTN_Q_B:
    case FR_T_ATTN_K_B:
    case FR_T_ATTN_V_B:
        return s->qkv_bias;
    case FR_T_ATTN_Q_NORM:
    case FR_T_ATTN_K_NORM:
        return s->qk_norm;
    default:
        return false;
    }
}

/* Calls add(user, role, layer, ne0, ne1) for every tensor of the spec's
 * file, in file order. */
static fr_status fr_synth_plan(const fr_synth_spec *s,
                               void (*add)(void *, const fr_tensor_spec *, uint32_t, int64_t,
                                           int64_t),
                               void *user, fr_err *err)
{
    const fr_arch *a = fr_arch_find(s->arch);
    if (!a)
        return fr_err_set(err, FR_E_INVALID, "synthetic model: unknown architecture '%s' (%s)",
                          s->arch, fr_model_supported_archs());
    fr_hparams hp;
    fr_synth_hparams(s, &hp);
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t l = 0; l < (pass ? s->n_layer : 1); l++)
            for (size_t i = 0; i < a->n_tensors; i++) {
                const fr_tensor_spec *sp = &a->tensors[i];
                if ((sp->role >= FR_T_LAYER_) != (pass == 1) || !fr_synth_wants(s, sp))
                    continue;
                add(user, sp, l, fr_dim_value(sp->ne[0], &hp),
                    sp->ne[1] == FR_D_1 ? 0 : fr_dim_value(sp->ne[1], &hp));
            }
    return FR_OK;
}

static void fr_synth_count(void *user, const fr_tensor_spec *sp, uint32_t l, int64_t ne0,
                           int64_t ne1)
{
    (void)sp;
    (void)l;
    *(uint64_t *)user += (uint64_t)ne0 * (uint64_t)(ne1 ? ne1 : 1);
}

uint64_t fr_synth_n_params(const fr_synth_spec *s)
{
    uint64_t n = 0;
    fr_err e;
    if (fr_synth_plan(s, fr_synth_count, &n, &e))
        return 0;
    return n;
}

static void fr_synth_plan_add(void *user, const fr_tensor_spec *sp, uint32_t l, int64_t ne0,
                              int64_t ne1)
{
    fr_synth_ctx *c = user;
    const fr_synth_spec *s = c->s;
    char n[64];
    fr_tn_name(sp->role, l, n, sizeof n);
    fr_synth_kind kind = !(sp->flags & FR_FLOAT)                ? FR_SYN_MATRIX
                         : strstr(fr_tn_suffix(sp->role), "norm") ? FR_SYN_NORM
                                                                  : FR_SYN_BIAS;
    fr_type et = s->embd_type == FR_TYPE_COUNT_ ? s->wtype : s->embd_type;
    fr_synth_add(c, n, kind, sp->role == FR_T_TOKEN_EMBD ? et : s->wtype, ne0, ne1);
}

fr_status fr_synth_write(const fr_synth_spec *s, const char *path,
                         void (*progress)(void *, uint64_t, uint64_t), void *user, fr_err *err)
{
    if (!s->arch || !s->n_vocab || !s->n_embd || !s->n_layer || !s->n_ff || !s->n_head ||
        !s->n_head_kv || s->n_head % s->n_head_kv || (!s->head_dim && s->n_embd % s->n_head))
        return fr_err_set(err, FR_E_INVALID, "synthetic model: inconsistent shape");
    uint32_t hd = fr_synth_hd(s);
    fr_synth_ctx c = {.s = s, .progress = progress, .user = user};
    size_t max_tensors = 8 + (size_t)s->n_layer * FR_T_COUNT_;
    c.t = calloc(max_tensors, sizeof *c.t);
    fr_gguf_writer *w = NULL;
    fr_status st = FR_OK;
    if (!c.t) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    if ((st = fr_synth_plan(s, fr_synth_plan_add, &c, err)))
        goto done;
    int64_t max_n = 0;
    for (int64_t i = 0; i < c.n; i++) {
        int64_t cnt = c.t[i].ne[0] * (c.t[i].ne[1] ? c.t[i].ne[1] : 1);
        if (cnt > max_n)
            max_n = cnt;
        c.total += fr_type_row_bytes(c.t[i].type, cnt);
    }
    c.buf = malloc((size_t)max_n * sizeof(float));
    if (!c.buf) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory (%lld floats)", (long long)max_n);
        goto done;
    }
    if ((st = fr_gguf_writer_create(&w, err)))
        goto done;
    const char *a = s->arch;
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    if (fr_gguf_writer_set_str(w, "general.architecture", a) ||
        fr_gguf_writer_set_str(w, "general.name", "frugal synthetic") ||
        fr_gguf_writer_set_u32(w, KEY("context_length"), s->n_ctx ? s->n_ctx : 2048) ||
        fr_gguf_writer_set_u32(w, KEY("embedding_length"), s->n_embd) ||
        fr_gguf_writer_set_u32(w, KEY("block_count"), s->n_layer) ||
        fr_gguf_writer_set_u32(w, KEY("feed_forward_length"), s->n_ff) ||
        fr_gguf_writer_set_u32(w, KEY("attention.head_count"), s->n_head) ||
        fr_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), s->n_head_kv) ||
        fr_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f) ||
        fr_gguf_writer_set_f32(w, KEY("rope.freq_base"), s->rope_base > 0 ? s->rope_base : 10000.0f) ||
        (s->head_dim && (fr_gguf_writer_set_u32(w, KEY("attention.key_length"), hd) ||
                         fr_gguf_writer_set_u32(w, KEY("attention.value_length"), hd)))) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory writing metadata");
        goto done;
    }
#undef KEY
    if (s->vocab_from && (st = fr_synth_copy_vocab(w, s, err)))
        goto done;
    if (!s->vocab_from && s->byte_vocab && (st = fr_synth_vocab(w, s, err)))
        goto done;
    for (int64_t i = 0; i < c.n; i++) {
        const fr_synth_tensor *t = &c.t[i];
        if ((st = fr_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, NULL, err)))
            goto done;
    }
    st = fr_gguf_writer_write(w, path, NULL, 0, fr_synth_fill, &c, err);
done:
    fr_gguf_writer_free(w);
    free(c.buf);
    free(c.t);
    return st;
}
