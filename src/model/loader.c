/*
 * loader.c - fr_model_load: the hyper-parameters every architecture shares
 * from GGUF keys, then the architecture's own (its hook), then its tensor
 * table (arch/arch.h) bound by name, every shape checked against the
 * hyper-parameters.
 *
 * Matrices stay in their stored type inside the mapping. Float tensors
 * (norm weights, biases, rope factors, sinks) are used as float arrays; when
 * a file stores them in another type they are converted once into owned
 * memory. Then the matrices that the kernel path has a faster layout for
 * are repacked into owned memory, one at a time, and the mapped pages of
 * each original are given back (tensor/pack.h), so the weights are
 * resident once.
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

struct fr_hp_reader {
    fr_loader *L;
};

fr_status fr_hp_u32(fr_hp_reader *r, const char *suffix, uint32_t *out, bool required,
                    uint32_t dflt)
{
    fr_loader *L = r->L;
    const char *arch = L->m->hp.arch;
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

fr_status fr_hp_f32(fr_hp_reader *r, const char *suffix, float *out, float dflt)
{
    fr_loader *L = r->L;
    char key[128];
    snprintf(key, sizeof key, "%s.%s", L->m->hp.arch, suffix);
    fr_status st = fr_gguf_get_f32(L->m->gguf, key, out, L->err);
    if (st == FR_E_NOTFOUND) {
        *out = dflt;
        return FR_OK;
    }
    return st;
}

fr_status fr_hp_swa_pattern(fr_hp_reader *r, uint32_t n_pattern)
{
    fr_loader *L = r->L;
    fr_model *m = L->m;
    uint32_t n_layer = m->hp.n_layer;
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->hp.arch);
    int64_t i = fr_gguf_find_key(m->gguf, key);
    if (i >= 0 && fr_gguf_kv_type(m->gguf, i) == FR_GGUF_ARRAY) {
        fr_gguf_arr a;
        fr_status st = fr_gguf_kv_get_arr(m->gguf, i, &a, L->err);
        if (st)
            return st;
        if (a.n != n_layer)
            return fr_err_set(L->err, FR_E_FORMAT, "%s: %s has %llu entries for %u layers", L->path,
                              key, (unsigned long long)a.n, n_layer);
        for (uint32_t l = 0; l < n_layer; l++) {
            bool b;
            if (fr_gguf_arr_bool(&a, l, &b) != FR_OK)
                return fr_err_set(L->err, FR_E_FORMAT, "%s: %s[%u] is not a bool", L->path, key, l);
            m->layers[l].swa = b;
        }
        return FR_OK;
    }
    fr_status st = fr_hp_u32(r, "attention.sliding_window_pattern", &n_pattern, false, n_pattern);
    if (st)
        return st;
    for (uint32_t l = 0; l < n_layer; l++)
        m->layers[l].swa = n_pattern <= 1 || l % n_pattern < n_pattern - 1;
    return FR_OK;
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

/* Finds tensor name and checks its shape is exactly want[0..3) (1 = no
 * such dimension). NULL in *out when absent and not required. */
static fr_status fr_find(fr_loader *L, const char *name, const int64_t want[3], bool required,
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
    uint32_t want_dims = want[2] != 1 ? 3 : want[1] != 1 ? 2 : 1;
    bool ok = true;
    for (uint32_t d = 0; d < FR_GGUF_MAX_DIMS; d++)
        if (t->ne[d] != (d < 3 ? want[d] : 1))
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

/* Binds one tensor of the table into *w. */
static fr_status fr_bind(fr_loader *L, const fr_tensor_spec *sp, uint32_t layer, fr_wt *w)
{
    const fr_hparams *hp = &L->m->hp;
    char name[96];
    fr_tn_name(sp->role, layer, name, sizeof name);
    int64_t want[3];
    for (int d = 0; d < 3; d++)
        want[d] = fr_dim_value(sp->ne[d], hp);
    const fr_gguf_tensor *t;
    fr_status st = fr_find(L, name, want, (sp->flags & FR_REQ) != 0, &t);
    if (st || !t)
        return st;
    if (!(sp->flags & FR_FLOAT)) {
        w->w.type = t->type;
        w->w.data = t->data;
        w->w.n_in = want[0];
        w->w.n_out = want[1];
        w->w.row_bytes = (size_t)fr_type_row_bytes(t->type, want[0]);
        w->n_expert = want[2];
        w->expert_bytes = w->w.row_bytes * (size_t)want[1];
        return FR_OK;
    }
    w->n_expert = 1;
    if (t->type == FR_TYPE_F32) {
        w->f = t->data;
        return FR_OK;
    }
    int64_t n = want[0] * want[1] * want[2];
    const fr_type_info *ti = fr_type_get((uint32_t)t->type);
    if (want[0] % ti->block_size)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: tensor %s: rows of %lld values do not fill %s blocks",
                          L->path, name, (long long)want[0], ti->name);
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
    w->f = buf;
    return FR_OK;
}

static bool fr_str_is(const fr_gguf_str *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && memcmp(s->ptr, lit, n) == 0;
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
    if (fr_gguf_get_str(m->gguf, "general.type", &gt, NULL) == FR_OK && fr_str_is(&gt, "adapter"))
        return fr_err_set(L->err, FR_E_INVALID,
                          "%s: this is a LoRA adapter, not a model; pass it with --lora and give "
                          "the base model with -m", L->path);
    const fr_arch *ai = fr_arch_find(hp->arch);
    if (!ai)
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: architecture '%s' is not supported (supported: %s)", L->path,
                          hp->arch, fr_model_supported_archs());
    m->arch = ai;
    fr_hp_reader R = {L}, *r = &R;
    if ((st = fr_hp_u32(r, "embedding_length", &hp->n_embd, true, 0)) ||
        (st = fr_hp_u32(r, "block_count", &hp->n_layer, true, 0)) ||
        (st = fr_hp_u32(r, "feed_forward_length", &hp->n_ff, true, 0)) ||
        (st = fr_hp_u32(r, "attention.head_count", &hp->n_head, true, 0)) ||
        (st = fr_hp_u32(r, "context_length", &hp->n_ctx_train, false, 2048)))
        return st;
    if ((st = fr_hp_u32(r, "attention.head_count_kv", &hp->n_head_kv, false, hp->n_head)))
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
    if ((st = fr_hp_u32(r, "attention.key_length", &kl, false, hd_default)) ||
        (st = fr_hp_u32(r, "attention.value_length", &vl, false, kl)))
        return st;
    if (kl != vl || kl == 0 || kl > 1024)
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: key length %u and value length %u: frugal needs them equal and in "
                          "[1, 1024]", L->path, kl, vl);
    hp->head_dim = kl;
    if ((st = fr_hp_u32(r, "rope.dimension_count", &hp->n_rot, false, hp->head_dim)))
        return st;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: rope dimension %u must be even and <= %u",
                          L->path, hp->n_rot, hp->head_dim);
    if ((st = fr_hp_f32(r, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 1e-5f)) ||
        (st = fr_hp_f32(r, "rope.freq_base", &hp->rope_base, 10000.0f)))
        return st;
    if (!(hp->norm_eps > 0 && hp->norm_eps < 1) || !(hp->rope_base > 1))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: implausible rms epsilon %g or rope base %g",
                          L->path, (double)hp->norm_eps, (double)hp->rope_base);
    /* As llama.cpp: the scaling type defaults to linear, and the factor
     * applies whatever the type (0 or absent: none) unless the type is none;
     * longrope's and llama3's own factors come as tensors. */
    hp->rope_freq_scale = 1.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch);
    fr_gguf_str stype;
    if (fr_gguf_get_str(m->gguf, key, &stype, NULL) != FR_OK) {
        stype.ptr = "linear";
        stype.len = 6;
    }
    bool is_none = fr_str_is(&stype, "none");
    if (fr_str_is(&stype, "yarn"))
        hp->rope_scaling = FR_ROPE_SCALING_YARN;
    else if (fr_str_is(&stype, "linear"))
        hp->rope_scaling = FR_ROPE_SCALING_LINEAR;
    else if (!is_none && !fr_str_is(&stype, "llama3") && !fr_str_is(&stype, "longrope"))
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: rope scaling type '%.*s' is not supported (linear, yarn, longrope, "
                          "llama3 via rope_freqs)", L->path,
                          (int)(stype.len > 32 ? 32 : stype.len), stype.ptr);
    float factor = 0.0f;
    if ((st = fr_hp_f32(r, "rope.scaling.factor", &factor, 0.0f)))
        return st;
    if (factor == 0.0f && (st = fr_hp_f32(r, "rope.scale_linear", &factor, 0.0f)))
        return st;
    if (factor != 0.0f && !(factor >= 1.0f && factor < 1e6f))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: rope scaling factor %g", L->path,
                          (double)factor);
    if (factor != 0.0f && !is_none)
        hp->rope_freq_scale = 1.0f / factor;
    if ((st = fr_hp_u32(r, "rope.scaling.original_context_length", &hp->n_ctx_orig, false,
                        hp->n_ctx_train)) ||
        (st = fr_hp_f32(r, "rope.scaling.attn_factor", &hp->rope_attn_factor, 1.0f)) ||
        (st = fr_hp_f32(r, "rope.freq_base_swa", &hp->rope_base_swa, 10000.0f)))
        return st;
    if (!(hp->rope_attn_factor > 0 && hp->rope_attn_factor < 100) || !(hp->rope_base_swa > 1) ||
        hp->n_ctx_orig == 0)
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: implausible rope settings (attn_factor %g, freq_base_swa %g, "
                          "original_context_length %u)", L->path, (double)hp->rope_attn_factor,
                          (double)hp->rope_base_swa, hp->n_ctx_orig);
    hp->rope_freq_scale_swa = 1.0f;
    hp->embd_scale = 1.0f;
    hp->rope_style = ai->rope;
    if ((st = fr_hp_u32(r, "expert_count", &hp->n_expert, false, 0)) ||
        (st = fr_hp_u32(r, "expert_used_count", &hp->n_expert_used, false, 0)) ||
        (st = fr_hp_u32(r, "expert_feed_forward_length", &hp->n_ff_exp, false, 0)))
        return st;
    if (hp->n_expert && !hp->n_ff_exp && hp->n_expert_used) /* llama.cpp's fallback */
        hp->n_ff_exp = hp->n_ff / hp->n_expert_used;
    if (hp->n_expert > 1024 || hp->n_expert_used > hp->n_expert || hp->n_ff_exp > (1u << 22) ||
        (hp->n_expert && (!hp->n_expert_used || !hp->n_ff_exp)))
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: implausible experts (expert_count %u, expert_used_count %u, "
                          "expert_feed_forward_length %u)", L->path, hp->n_expert,
                          hp->n_expert_used, hp->n_ff_exp);
    /* Vocabulary size: from the embedding matrix, the source of truth. */
    const fr_gguf_tensor *emb = fr_gguf_find_tensor(m->gguf, fr_tn_suffix(FR_T_TOKEN_EMBD));
    if (!emb)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: tensor %s is missing", L->path,
                          fr_tn_suffix(FR_T_TOKEN_EMBD));
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: %s has %lld rows", L->path,
                          fr_tn_suffix(FR_T_TOKEN_EMBD), (long long)emb->ne[1]);
    hp->n_vocab = (uint32_t)emb->ne[1];
    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers)
        return fr_err_set(L->err, FR_E_NOMEM, "%s: out of memory", L->path);
    if (ai->hparams && (st = ai->hparams(r, hp, L->err)))
        return st;
    if (hp->n_swa > (1u << 24) || !(hp->logit_softcap >= 0 && hp->logit_softcap < 1e6f) ||
        !(hp->attn_scale >= 0 && hp->attn_scale < 1e3f))
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: implausible sliding window %u, logit softcap %g or attention "
                          "scale %g", L->path, hp->n_swa, (double)hp->logit_softcap,
                          (double)hp->attn_scale);
    if (!hp->n_swa)
        for (uint32_t l = 0; l < hp->n_layer; l++)
            m->layers[l].swa = false;
    return FR_OK;
}

static fr_status fr_bind_weights(fr_loader *L)
{
    fr_model *m = L->m;
    fr_hparams *hp = &m->hp;
    const fr_arch *a = m->arch;
    fr_wt g[FR_T_LAYER_];
    memset(g, 0, sizeof g);
    fr_status st;
    for (size_t i = 0; i < a->n_tensors; i++) {
        const fr_tensor_spec *sp = &a->tensors[i];
        if (sp->role < FR_T_LAYER_) {
            if ((st = fr_bind(L, sp, 0, &g[sp->role])))
                return st;
            continue;
        }
        for (uint32_t l = 0; l < hp->n_layer; l++)
            if ((st = fr_bind(L, sp, l, &m->layers[l].t[sp->role])))
                return st;
    }
    m->tok_embd = g[FR_T_TOKEN_EMBD].w;
    m->out_norm = g[FR_T_OUTPUT_NORM].f;
    m->rope_freqs = g[FR_T_ROPE_FREQS].f;
    m->rope_long = g[FR_T_ROPE_FACTORS_LONG].f;
    m->rope_short = g[FR_T_ROPE_FACTORS_SHORT].f;
    hp->has_rope_freqs = m->rope_freqs != NULL;
    if (g[FR_T_OUTPUT].w.data) {
        m->output = g[FR_T_OUTPUT].w;
    } else {
        m->output = m->tok_embd;
        hp->tied_output = true;
    }
    /* Attention's projections: a fused attn_qkv where the arch allows one,
     * or all three of attn_q, attn_k, attn_v. */
    for (uint32_t l = 0; l < hp->n_layer; l++) {
        const fr_layer *ly = &m->layers[l];
        bool fused = fr_lw(ly, FR_T_ATTN_QKV) != NULL;
        bool split = fr_lw(ly, FR_T_ATTN_Q) && fr_lw(ly, FR_T_ATTN_K) && fr_lw(ly, FR_T_ATTN_V);
        if (fused == split) {
            char name[96];
            return fr_err_set(L->err, FR_E_FORMAT,
                              fused ? "%s: layer %u has both %s and attn_q/k/v"
                                    : "%s: layer %u has neither %s nor all of attn_q/k/v",
                              L->path, l, fr_tn_name(FR_T_ATTN_QKV, l, name, sizeof name));
        }
    }
    const fr_layer *l0 = &m->layers[0];
    hp->has_qkv_bias = fr_lf(l0, FR_T_ATTN_Q_B) != NULL;
    hp->has_qk_norm = fr_lf(l0, FR_T_ATTN_Q_NORM) != NULL;
    /* An optional tensor is all or nothing: the forward pass decides per
     * model, not per layer. */
    for (size_t i = 0; i < a->n_tensors; i++) {
        fr_tn t = a->tensors[i].role;
        if (t < FR_T_LAYER_ || (a->tensors[i].flags & FR_REQ))
            continue;
        bool first = l0->t[t].w.data || l0->t[t].f;
        for (uint32_t l = 1; l < hp->n_layer; l++)
            if ((m->layers[l].t[t].w.data || m->layers[l].t[t].f) != first) {
                char name[96];
                return fr_err_set(L->err, FR_E_FORMAT,
                                  "%s: tensor %s is %s, but blk.0 %s it; frugal needs every "
                                  "layer alike", L->path, fr_tn_name(t, l, name, sizeof name),
                                  first ? "missing" : "present", first ? "has" : "lacks");
            }
    }
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

/* Packs *w (when the path has an x8 product for its type) and gives back
 * the mapped pages of its original. */
static fr_status fr_pack_one(fr_loader *L, fr_isa isa, fr_weight *w)
{
    fr_model *m = L->m;
    fr_packed *p = NULL;
    if (!w->data || fr_weight_pack(w, isa, &p, L->err) != FR_OK)
        return w->data ? fr_err_prefix(L->err, "%s", L->path) : FR_OK;
    if (!p)
        return FR_OK;
    m->packed[m->n_packed++] = p;
    fr_gguf_release(m->gguf, w->data, (size_t)w->n_out * w->row_bytes);
    return FR_OK;
}

/* Repacks every 2-D matrix the chosen kernel path has an x8 product for:
 * the output head and each layer's, the router and fused matrices
 * included (experts' 3-D tensors stay as they are: their products address
 * one expert at a time). */
static fr_status fr_pack_weights(fr_loader *L)
{
    fr_model *m = L->m;
    fr_isa isa;
    if (!fr_pack_enabled() || fr_isa_select(&isa, NULL) != FR_OK)
        return FR_OK; /* a bad FRUGAL_ISA is reported when a context is made */
    size_t cap = 1 + (size_t)FR_T_COUNT_ * m->hp.n_layer;
    m->packed = calloc(cap, sizeof *m->packed);
    if (!m->packed)
        return fr_err_set(L->err, FR_E_NOMEM, "%s: out of memory", L->path);
    fr_status st = fr_pack_one(L, isa, &m->output);
    for (uint32_t l = 0; st == FR_OK && l < m->hp.n_layer; l++)
        for (int t = FR_T_LAYER_; st == FR_OK && t < FR_T_COUNT_; t++) {
            /* fused matrices (phi3's attn_qkv, gate|up) too: the blocks'
             * row views of them start at multiples of 8 rows */
            fr_wt *wt = &m->layers[l].t[t];
            if (wt->n_expert <= 1)
                st = fr_pack_one(L, isa, &wt->w);
        }
    return st;
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

uint64_t fr_model_decode_bytes(const fr_model *m)
{
    const fr_hparams *hp = &m->hp;
    uint64_t b = 0;
    for (int64_t i = 0; i < fr_gguf_n_tensors(m->gguf); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(m->gguf, i);
        fr_tn role;
        uint32_t l;
        bool known = fr_tn_parse(t->name, hp->n_layer, &role, &l);
        if (known && role == FR_T_TOKEN_EMBD && !hp->tied_output)
            b += t->nbytes / (uint64_t)t->ne[1];
        else if (known && hp->n_expert &&
                 (role == FR_T_FFN_GATE_EXPS || role == FR_T_FFN_UP_EXPS ||
                  role == FR_T_FFN_DOWN_EXPS || role == FR_T_FFN_GATE_EXPS_B ||
                  role == FR_T_FFN_UP_EXPS_B || role == FR_T_FFN_DOWN_EXPS_B))
            b += t->nbytes / hp->n_expert * hp->n_expert_used;
        else
            b += t->nbytes;
    }
    return b;
}
