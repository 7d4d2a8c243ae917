/*
 * loader.c - fr_model_load: hyper-parameters from GGUF keys and weights
 * bound by name, with every shape checked against them.
 *
 * Matrices stay in their stored type inside the mapping. Small 1-D tensors
 * (norm weights, biases, rope factors) are used as float arrays; when a file
 * stores them in another type they are converted once into owned memory.
 * Then the matrices that the kernel path has a faster layout for are
 * repacked into owned memory, one at a time, and the mapped pages of each
 * original are given back (tensor/pack.h), so the weights are resident
 * once.
 */
#include "model/model_impl.h"
#include "gguf/pages.h"
#include "tensor/pack.h"

#include <frugal/tensor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fr_loader {
    fr_model *m;
    const char *path;
    fr_err *err;
} fr_loader;

static fr_status fr_get_u32_key(fr_loader *L, const char *arch, const char *suffix, uint32_t *out,
                                bool required, uint32_t dflt)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    fr_status st = fr_gguf_get_u32(L->m->gguf, key, out, L->err);
    if (st == FR_E_NOTFOUND && !required) {
        *out = dflt;
        return FR_OK;
    }
    if (st == FR_E_NOTFOUND)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: missing key %s, which a %s model needs",
                          L->path, key, arch);
    return st;
}

static fr_status fr_get_f32_key(fr_loader *L, const char *arch, const char *suffix, float *out,
                                float dflt)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    fr_status st = fr_gguf_get_f32(L->m->gguf, key, out, L->err);
    if (st == FR_E_NOTFOUND) {
        *out = dflt;
        return FR_OK;
    }
    return st;
}

static void fr_fmt_shape(const int64_t *ne, uint32_t n, char *buf, size_t sz)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sz - o, "[");
    for (uint32_t i = 0; i < n && o < sz; i++)
        o += (size_t)snprintf(buf + o, sz - o, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (o < sz)
        snprintf(buf + o, sz - o, "]");
}

/* Finds name and checks its shape is exactly [ne0] (ne1 == 0) or [ne0, ne1]. */
static fr_status fr_find(fr_loader *L, const char *name, int64_t ne0, int64_t ne1, bool required,
                         const fr_gguf_tensor **out)
{
    *out = NULL;
    const fr_gguf_tensor *t = fr_gguf_find_tensor(L->m->gguf, name);
    if (!t) {
        if (!required)
            return FR_OK;
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: tensor %s is missing; a %s model with these hyper-parameters needs it",
                          L->path, name, L->m->hp.arch);
    }
    uint32_t want_dims = ne1 ? 2 : 1;
    int64_t want[2] = {ne0, ne1};
    bool ok = t->ne[0] == ne0 && (ne1 ? t->ne[1] == ne1 : true);
    for (uint32_t d = want_dims; d < FR_GGUF_MAX_DIMS; d++)
        if (t->ne[d] != 1)
            ok = false;
    if (!ok) {
        char got[96], exp[96];
        fr_fmt_shape(t->ne, t->n_dims, got, sizeof got);
        fr_fmt_shape(want, want_dims, exp, sizeof exp);
        return fr_err_set(L->err, FR_E_FORMAT, "%s: tensor %s has shape %s, expected %s", L->path,
                          name, got, exp);
    }
    const fr_type_info *ti = fr_type_get((uint32_t)t->type);
    if (!ti || !ti->supported)
        return fr_err_set(L->err, FR_E_UNSUPPORTED, "%s: tensor %s has type %s, which frugal cannot read",
                          L->path, name, fr_type_name((uint32_t)t->type));
    *out = t;
    return FR_OK;
}

static fr_status fr_bind_matrix(fr_loader *L, const char *name, int64_t n_in, int64_t n_out,
                                fr_weight *w)
{
    const fr_gguf_tensor *t;
    fr_status st = fr_find(L, name, n_in, n_out, true, &t);
    if (st)
        return st;
    w->type = t->type;
    w->data = t->data;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = (size_t)fr_type_row_bytes(t->type, n_in);
    return FR_OK;
}

static fr_status fr_bind_vector(fr_loader *L, const char *name, int64_t n, bool required,
                                const float **out)
{
    *out = NULL;
    const fr_gguf_tensor *t;
    fr_status st = fr_find(L, name, n, 0, required, &t);
    if (st || !t)
        return st;
    if (t->type == FR_TYPE_F32) {
        *out = t->data;
        return FR_OK;
    }
    const fr_type_info *ti = fr_type_get((uint32_t)t->type);
    if (n % ti->block_size)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: tensor %s: %lld values do not fill %s blocks",
                          L->path, name, (long long)n, ti->name);
    float *buf = malloc((size_t)n * sizeof(float));
    float **list = realloc(L->m->owned, (L->m->n_owned + 1) * sizeof *list);
    if (!buf || !list) {
        free(buf);
        if (list)
            L->m->owned = list;
        return fr_err_set(L->err, FR_E_NOMEM, "%s: out of memory converting %s", L->path, name);
    }
    L->m->owned = list;
    L->m->owned[L->m->n_owned++] = buf;
    st = fr_dequantize(t->type, t->data, buf, n, L->err);
    if (st)
        return fr_err_prefix(L->err, "%s: tensor %s", L->path, name);
    *out = buf;
    return FR_OK;
}

static fr_status fr_load_hparams(fr_loader *L)
{
    fr_model *m = L->m;
    fr_hparams *hp = &m->hp;
    fr_gguf_str s;
    fr_status st = fr_gguf_get_str(m->gguf, "general.architecture", &s, L->err);
    if (st == FR_E_NOTFOUND)
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: no general.architecture key; this is not a model file (a vocab-only "
                          "file or an adapter?)", L->path);
    if (st)
        return st;
    if (s.len == 0 || s.len >= sizeof hp->arch || memchr(s.ptr, 0, s.len))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: invalid general.architecture", L->path);
    memcpy(hp->arch, s.ptr, s.len);
    hp->arch[s.len] = '\0';
    fr_gguf_str gt;
    if (fr_gguf_get_str(m->gguf, "general.type", &gt, NULL) == FR_OK && gt.len == 7 &&
        memcmp(gt.ptr, "adapter", 7) == 0)
        return fr_err_set(L->err, FR_E_INVALID,
                          "%s: this is a LoRA adapter, not a model; pass it with --lora and give "
                          "the base model with -m", L->path);
    const fr_arch_info *ai = fr_arch_find(hp->arch);
    if (!ai)
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: architecture '%s' is not supported (supported: %s)", L->path,
                          hp->arch, fr_model_supported_archs());
    const char *a = hp->arch;
    if ((st = fr_get_u32_key(L, a, "embedding_length", &hp->n_embd, true, 0)) ||
        (st = fr_get_u32_key(L, a, "block_count", &hp->n_layer, true, 0)) ||
        (st = fr_get_u32_key(L, a, "feed_forward_length", &hp->n_ff, true, 0)) ||
        (st = fr_get_u32_key(L, a, "attention.head_count", &hp->n_head, true, 0)) ||
        (st = fr_get_u32_key(L, a, "context_length", &hp->n_ctx_train, false, 2048)))
        return st;
    if ((st = fr_get_u32_key(L, a, "attention.head_count_kv", &hp->n_head_kv, false, hp->n_head)))
        return st;
    if (hp->n_embd == 0 || hp->n_layer == 0 || hp->n_ff == 0 || hp->n_head == 0 ||
        hp->n_head_kv == 0 || hp->n_embd > (1u << 20) || hp->n_ff > (1u << 22) ||
        hp->n_layer > 4096 || hp->n_head > 4096)
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: implausible hyper-parameters (n_embd %u, n_layer %u, n_ff %u, "
                          "n_head %u, n_head_kv %u)", L->path, hp->n_embd, hp->n_layer, hp->n_ff,
                          hp->n_head, hp->n_head_kv);
    if (hp->n_head % hp->n_head_kv)
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: head_count %u is not a multiple of head_count_kv %u", L->path,
                          hp->n_head, hp->n_head_kv);
    uint32_t hd_default = hp->n_embd / hp->n_head;
    uint32_t kl, vl;
    if ((st = fr_get_u32_key(L, a, "attention.key_length", &kl, false, hd_default)) ||
        (st = fr_get_u32_key(L, a, "attention.value_length", &vl, false, kl)))
        return st;
    if (kl != vl || kl == 0 || kl > 1024)
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: key length %u and value length %u: frugal needs them equal and in "
                          "[1, 1024]", L->path, kl, vl);
    hp->head_dim = kl;
    if ((st = fr_get_u32_key(L, a, "rope.dimension_count", &hp->n_rot, false, hp->head_dim)))
        return st;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: rope dimension %u must be even and <= %u",
                          L->path, hp->n_rot, hp->head_dim);
    if ((st = fr_get_f32_key(L, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 1e-5f)) ||
        (st = fr_get_f32_key(L, a, "rope.freq_base", &hp->rope_base, 10000.0f)))
        return st;
    if (!(hp->norm_eps > 0 && hp->norm_eps < 1) || !(hp->rope_base > 1))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: implausible rms epsilon %g or rope base %g",
                          L->path, (double)hp->norm_eps, (double)hp->rope_base);
    hp->rope_freq_scale = 1.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    fr_gguf_str stype;
    if (fr_gguf_get_str(m->gguf, key, &stype, NULL) == FR_OK) {
        bool is_linear = stype.len == 6 && memcmp(stype.ptr, "linear", 6) == 0;
        bool is_none = stype.len == 4 && memcmp(stype.ptr, "none", 4) == 0;
        bool is_llama3 = stype.len == 6 && memcmp(stype.ptr, "llama3", 6) == 0;
        if (is_linear) {
            float factor = 1.0f;
            if ((st = fr_get_f32_key(L, a, "rope.scaling.factor", &factor, 1.0f)))
                return st;
            if (!(factor >= 1.0f && factor < 1e6f))
                return fr_err_set(L->err, FR_E_FORMAT, "%s: rope scaling factor %g", L->path,
                                  (double)factor);
            hp->rope_freq_scale = 1.0f / factor;
        } else if (!is_none && !is_llama3) {
            return fr_err_set(L->err, FR_E_UNSUPPORTED,
                              "%s: rope scaling type '%.*s' is not supported (linear, llama3 via "
                              "rope_freqs)", L->path, (int)(stype.len > 32 ? 32 : stype.len),
                              stype.ptr);
        }
    }
    hp->rope_style = ai->rope;
    /* Vocabulary size: from the embedding matrix, the source of truth. */
    const fr_gguf_tensor *emb = fr_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!emb)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: tensor token_embd.weight is missing", L->path);
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: token_embd.weight has %lld rows", L->path,
                          (long long)emb->ne[1]);
    hp->n_vocab = (uint32_t)emb->ne[1];
    return FR_OK;
}

static fr_status fr_bind_weights(fr_loader *L)
{
    fr_model *m = L->m;
    fr_hparams *hp = &m->hp;
    const fr_arch_info *ai = fr_arch_find(hp->arch);
    int64_t E = hp->n_embd, F = hp->n_ff, V = hp->n_vocab;
    int64_t QD = (int64_t)hp->n_head * hp->head_dim, KD = (int64_t)hp->n_head_kv * hp->head_dim;
    fr_status st;
    if ((st = fr_bind_matrix(L, "token_embd.weight", E, V, &m->tok_embd)) ||
        (st = fr_bind_vector(L, "output_norm.weight", E, true, &m->out_norm)))
        return st;
    if (fr_gguf_find_tensor(m->gguf, "output.weight")) {
        if ((st = fr_bind_matrix(L, "output.weight", E, V, &m->output)))
            return st;
    } else {
        m->output = m->tok_embd;
        hp->tied_output = true;
    }
    if ((st = fr_bind_vector(L, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs)))
        return st;
    hp->has_rope_freqs = m->rope_freqs != NULL;
    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers)
        return fr_err_set(L->err, FR_E_NOMEM, "%s: out of memory", L->path);
    char n[96];
#define NAME(suffix) (snprintf(n, sizeof n, "blk.%u." suffix, l), n)
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        fr_layer *ly = &m->layers[l];
        if ((st = fr_bind_vector(L, NAME("attn_norm.weight"), E, true, &ly->attn_norm)) ||
            (st = fr_bind_matrix(L, NAME("attn_q.weight"), E, QD, &ly->wq)) ||
            (st = fr_bind_matrix(L, NAME("attn_k.weight"), E, KD, &ly->wk)) ||
            (st = fr_bind_matrix(L, NAME("attn_v.weight"), E, KD, &ly->wv)) ||
            (st = fr_bind_matrix(L, NAME("attn_output.weight"), QD, E, &ly->wo)) ||
            (st = fr_bind_vector(L, NAME("attn_q.bias"), QD, ai->qkv_bias_required, &ly->bq)) ||
            (st = fr_bind_vector(L, NAME("attn_k.bias"), KD, ai->qkv_bias_required, &ly->bk)) ||
            (st = fr_bind_vector(L, NAME("attn_v.bias"), KD, ai->qkv_bias_required, &ly->bv)) ||
            (st = fr_bind_vector(L, NAME("attn_output.bias"), E, false, &ly->bo)) ||
            (st = fr_bind_vector(L, NAME("attn_q_norm.weight"), hp->head_dim, ai->qk_norm,
                                 &ly->q_norm)) ||
            (st = fr_bind_vector(L, NAME("attn_k_norm.weight"), hp->head_dim, ai->qk_norm,
                                 &ly->k_norm)) ||
            (st = fr_bind_vector(L, NAME("ffn_norm.weight"), E, true, &ly->ffn_norm)) ||
            (st = fr_bind_matrix(L, NAME("ffn_gate.weight"), E, F, &ly->w_gate)) ||
            (st = fr_bind_matrix(L, NAME("ffn_up.weight"), E, F, &ly->w_up)) ||
            (st = fr_bind_matrix(L, NAME("ffn_down.weight"), F, E, &ly->w_down)))
            return st;
        if (ly->bq)
            hp->has_qkv_bias = true;
        if (ly->q_norm)
            hp->has_qk_norm = true;
    }
#undef NAME
    for (int64_t i = 0; i < fr_gguf_n_tensors(m->gguf); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(m->gguf, i);
        m->weight_bytes += t->nbytes;
        uint64_t c = 1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            c *= (uint64_t)t->ne[d];
        m->n_params += c;
    }
    return FR_OK;
}

/* Repacks every matrix the chosen kernel path has an x8 product for. */
static fr_status fr_pack_weights(fr_loader *L)
{
    fr_model *m = L->m;
    fr_isa isa;
    if (!fr_pack_enabled() || fr_isa_select(&isa, NULL) != FR_OK)
        return FR_OK; /* a bad FRUGAL_ISA is reported when a context is made */
    size_t cap = 1 + 7 * (size_t)m->hp.n_layer;
    m->packed = calloc(cap, sizeof *m->packed);
    if (!m->packed)
        return fr_err_set(L->err, FR_E_NOMEM, "%s: out of memory", L->path);
    for (size_t i = 0; i < cap; i++) {
        fr_weight *w;
        if (i == 0) {
            w = &m->output;
        } else {
            fr_layer *ly = &m->layers[(i - 1) / 7];
            fr_weight *ws[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up,
                                &ly->w_down};
            w = ws[(i - 1) % 7];
        }
        fr_packed *p = NULL;
        fr_status st = fr_weight_pack(w, isa, &p, L->err);
        if (st)
            return fr_err_prefix(L->err, "%s", L->path);
        if (!p)
            continue;
        m->packed[m->n_packed++] = p;
        fr_gguf_release(m->gguf, w->data, (size_t)w->n_out * w->row_bytes);
    }
    return FR_OK;
}

fr_status fr_model_load(const char *path, fr_model **out, fr_err *err)
{
    *out = NULL;
    fr_model *m = calloc(1, sizeof *m);
    if (!m)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    fr_loader L = {m, path, err};
    fr_status st = fr_gguf_open(path, &m->gguf, err);
    if (st == FR_OK)
        st = fr_load_hparams(&L);
    if (st == FR_OK)
        st = fr_bind_weights(&L);
    if (st == FR_OK)
        st = fr_pack_weights(&L);
    if (st != FR_OK) {
        fr_model_free(m);
        return st;
    }
    *out = m;
    return FR_OK;
}

void fr_model_free(fr_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    for (size_t i = 0; i < m->n_packed; i++)
        fr_packed_free(m->packed[i]);
    free(m->packed);
    free(m->layers);
    fr_gguf_free(m->gguf);
    free(m);
}

const fr_hparams *fr_model_hparams(const fr_model *m) { return &m->hp; }
const fr_gguf *fr_model_gguf(const fr_model *m) { return m->gguf; }
uint64_t fr_model_weight_bytes(const fr_model *m) { return m->weight_bytes; }
uint64_t fr_model_n_params(const fr_model *m) { return m->n_params; }
