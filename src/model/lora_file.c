/*
 * lora_file.c - reading and writing LoRA adapters in llama.cpp's GGUF
 * format (see frugal/lora.h for the format).
 *
 * Loading checks everything llama.cpp's llama_adapter_lora_init checks (the
 * type keys, the architecture, both halves of every pair, the shapes against
 * the base weight) and a little more (2-D tensors, finite values, a rank
 * bound), so that a bad file is refused with its name, the tensor and the
 * reason before anything is attached. A and B are decoded to float once;
 * the mapping is then closed, so an adapter costs its float size in memory
 * (small: rank * (n_in + n_out) per weight) and nothing else.
 *
 * Rejected: keeping A and B in their stored type and multiplying through
 * the quantized kernels (the products are a few percent of a layer's work
 * and the float form keeps the runtime, the merge and training on one path);
 * accepting a token_embd.weight adapter (llama.cpp stores it transposed as a
 * special case; frugal's forward pass does not adapt the embedding lookup).
 */
#include "model/lora_impl.h"
#include "model/model_impl.h"

#include <frugal/gguf.h>
#include <frugal/tensor.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FR_LORA_MAX_RANK 65536u
#define LORA_NAME_MAX 64 /* ggml's GGML_MAX_NAME, NUL included */

/* The role of each adapted kind (names: arch/tensors.c). */
static const fr_tn k_kind_role[FR_LORA_N_LAYER_KINDS + 1] = {
    FR_T_ATTN_Q,    FR_T_ATTN_K,  FR_T_ATTN_V,    FR_T_ATTN_OUT,
    FR_T_FFN_GATE,  FR_T_FFN_UP,  FR_T_FFN_DOWN,  FR_T_OUTPUT,
};

bool fr_lora_kind_of(const char *name, uint32_t n_layer, uint32_t *layer, fr_lora_kind *kind)
{
    fr_tn t;
    if (!fr_tn_parse(name, n_layer, &t, layer))
        return false;
    for (int k = 0; k <= FR_LORA_N_LAYER_KINDS; k++)
        if (k_kind_role[k] == t) {
            *kind = (fr_lora_kind)k;
            return true;
        }
    return false;
}

float fr_lora_effective_scale(float alpha, uint32_t rank, float scale)
{
    return alpha != 0.0f ? scale * alpha / (float)rank : scale;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool str_is(const fr_gguf_str *s, const char *want)
{
    size_t n = strlen(want);
    return s->len == n && memcmp(s->ptr, want, n) == 0;
}

/* Reads a string key for messages: "(absent)" or a cut, printable copy. */
static void key_text(const fr_gguf *g, const char *key, char *buf, size_t n)
{
    fr_gguf_str s;
    if (fr_gguf_get_str(g, key, &s, NULL) != FR_OK) {
        snprintf(buf, n, "(absent)");
        return;
    }
    size_t len = s.len < n - 3 ? (size_t)s.len : n - 3, o = 0;
    buf[o++] = '\'';
    for (size_t i = 0; i < len; i++)
        buf[o++] = (s.ptr[i] >= 32 && s.ptr[i] < 127) ? s.ptr[i] : '?';
    buf[o++] = '\'';
    buf[o] = '\0';
}

typedef struct lora_loader {
    fr_lora *a;
    const fr_gguf *g;
    const fr_gguf *bg; /* the base model's file */
    const char *path;
    fr_err *err;
} lora_loader;

static fr_status check_keys(lora_loader *L)
{
    fr_gguf_str s;
    char got[48];
    if (fr_gguf_get_str(L->g, "general.type", &s, NULL) != FR_OK || !str_is(&s, "adapter")) {
        key_text(L->g, "general.type", got, sizeof got);
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: general.type is %s, not 'adapter': this is not a LoRA adapter "
                          "(a model goes with -m, an adapter with --lora)", L->path, got);
    }
    if (fr_gguf_get_str(L->g, "adapter.type", &s, NULL) != FR_OK || !str_is(&s, "lora")) {
        key_text(L->g, "adapter.type", got, sizeof got);
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: adapter.type is %s; frugal reads only 'lora' adapters", L->path,
                          got);
    }
    const fr_hparams *hp = fr_model_hparams(L->a->base);
    if (fr_gguf_get_str(L->g, "general.architecture", &s, NULL) != FR_OK ||
        !str_is(&s, hp->arch)) {
        key_text(L->g, "general.architecture", got, sizeof got);
        return fr_err_set(L->err, FR_E_INVALID,
                          "%s: the adapter is for architecture %s but the base model is '%s' "
                          "(wrong base model?)", L->path, got, hp->arch);
    }
    float alpha = 0.0f;
    fr_err e;
    fr_status st = fr_gguf_get_f32(L->g, "adapter.lora.alpha", &alpha, &e);
    if (st == FR_E_NOTFOUND)
        alpha = 0.0f;
    else if (st)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: %s", L->path, e.msg);
    if (!isfinite(alpha))
        return fr_err_set(L->err, FR_E_FORMAT, "%s: adapter.lora.alpha is %g", L->path,
                          (double)alpha);
    L->a->alpha = alpha;
    return FR_OK;
}

static bool plain_2d(const fr_gguf_tensor *t)
{
    for (uint32_t d = 2; d < FR_GGUF_MAX_DIMS; d++)
        if (t->ne[d] != 1)
            return false;
    return true;
}

/* Decodes a whole 2-D tensor to float (malloc'd) and checks it is finite. */
static fr_status decode(lora_loader *L, const fr_gguf_tensor *t, float **out)
{
    *out = NULL;
    const fr_type_info *ti = fr_type_get((uint32_t)t->type);
    if (!ti || !ti->supported)
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: tensor %s is stored as %s, which frugal cannot read; convert the "
                          "adapter with F32, F16, BF16 or Q8_0 tensors", L->path, t->name,
                          fr_type_name((uint32_t)t->type));
    if (t->ne[0] % ti->block_size)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: tensor %s: rows of %lld values do not fill "
                          "%s blocks", L->path, t->name, (long long)t->ne[0], ti->name);
    int64_t n = t->ne[0] * t->ne[1];
    float *f = malloc((size_t)n * sizeof(float));
    if (!f)
        return fr_err_set(L->err, FR_E_NOMEM, "%s: out of memory for tensor %s (%lld values)",
                          L->path, t->name, (long long)n);
    fr_status st = fr_dequantize(t->type, t->data, f, n, L->err);
    if (st) {
        free(f);
        return fr_err_prefix(L->err, "%s: tensor %s", L->path, t->name);
    }
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(f[i])) {
            double v = (double)f[i];
            free(f);
            return fr_err_set(L->err, FR_E_FORMAT,
                              "%s: tensor %s holds a non-finite value (%g at row %lld, column "
                              "%lld); the adapter is damaged or its training diverged", L->path,
                              t->name, v, (long long)(i / t->ne[0]), (long long)(i % t->ne[0]));
        }
    }
    *out = f;
    return FR_OK;
}

/* Binds the pair (A, B) to base weight `name`. */
static fr_status add_pair(lora_loader *L, const char *name, const fr_gguf_tensor *ta,
                          const fr_gguf_tensor *tb)
{
    fr_lora *a = L->a;
    const fr_hparams *hp = fr_model_hparams(a->base);
    const fr_gguf_tensor *bw = fr_gguf_find_tensor(L->bg, name);
    if (!bw) {
        const char *hint = strcmp(name, fr_tn_suffix(FR_T_OUTPUT)) == 0 && hp->tied_output
                               ? " (this base model ties its output head to token_embd.weight)"
                               : " (wrong base model?)";
        return fr_err_set(L->err, FR_E_INVALID,
                          "%s: the adapter changes %s, which the base model does not have%s",
                          L->path, name, hint);
    }
    uint32_t layer;
    fr_lora_kind kind;
    if (!fr_lora_kind_of(name, hp->n_layer, &layer, &kind))
        return fr_err_set(L->err, FR_E_UNSUPPORTED,
                          "%s: the adapter changes %s; frugal applies adapters only to attn_q, "
                          "attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down and "
                          "output weights", L->path, name);
    if (!plain_2d(ta) || !plain_2d(tb) || bw->n_dims > 2)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: the pair for %s is not 2-D", L->path, name);
    int64_t n_in = bw->ne[0], n_out = bw->ne[1];
    if (ta->ne[0] != n_in || tb->ne[1] != n_out)
        return fr_err_set(L->err, FR_E_INVALID,
                          "%s: %s.lora_a has shape [%lld, %lld] and .lora_b [%lld, %lld], but "
                          "the base weight is [%lld, %lld]: lora_a must be [%lld, rank] and "
                          "lora_b [rank, %lld] (wrong base model?)", L->path, name,
                          (long long)ta->ne[0], (long long)ta->ne[1], (long long)tb->ne[0],
                          (long long)tb->ne[1], (long long)n_in, (long long)n_out,
                          (long long)n_in, (long long)n_out);
    if (ta->ne[1] != tb->ne[0])
        return fr_err_set(L->err, FR_E_FORMAT,
                          "%s: %s: lora_a has rank %lld but lora_b has rank %lld (lora_a must be "
                          "[n_in, rank], lora_b [rank, n_out]; an adapter from llama.cpp's old "
                          "finetune example stores A transposed)", L->path, name,
                          (long long)ta->ne[1], (long long)tb->ne[0]);
    if (ta->ne[1] < 1 || ta->ne[1] > FR_LORA_MAX_RANK)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: %s: rank %lld is outside [1, %u]", L->path,
                          name, (long long)ta->ne[1], FR_LORA_MAX_RANK);
    size_t slot = kind == FR_LORA_OUTPUT ? (size_t)hp->n_layer * FR_LORA_N_LAYER_KINDS
                                         : (size_t)layer * FR_LORA_N_LAYER_KINDS + kind;
    if (a->slot[slot] >= 0)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: two pairs for %s", L->path, name);
    fr_lora_w *w = &a->w[a->n_w];
    memset(w, 0, sizeof *w);
    w->n_in = n_in;
    w->n_out = n_out;
    w->rank = (uint32_t)ta->ne[1];
    w->type_a = ta->type;
    w->type_b = tb->type;
    w->name = strdup(name);
    a->n_w++; /* counted now so that fr_lora_free releases what follows */
    if (!w->name)
        return fr_err_set(L->err, FR_E_NOMEM, "out of memory");
    fr_status st = decode(L, ta, &w->a);
    if (!st)
        st = decode(L, tb, &w->b);
    if (st)
        return st;
    a->slot[slot] = (int32_t)(a->n_w - 1);
    if (w->rank > a->max_rank)
        a->max_rank = w->rank;
    return FR_OK;
}

/* Pairs every .lora_a with its .lora_b; rejects strays. */
static fr_status bind_tensors(lora_loader *L)
{
    int64_t n = fr_gguf_n_tensors(L->g);
    char name[LORA_NAME_MAX + 8];
    for (int64_t i = 0; i < n; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(L->g, i);
        if (ends_with(t->name, ".lora_a")) {
            size_t len = strlen(t->name) - 7;
            memcpy(name, t->name, len);
            name[len] = '\0';
            char bname[2 * LORA_NAME_MAX + 8];
            snprintf(bname, sizeof bname, "%s.lora_b", name);
            const fr_gguf_tensor *tb = fr_gguf_find_tensor(L->g, bname);
            if (!tb)
                return fr_err_set(L->err, FR_E_FORMAT,
                                  "%s: %s has no matching %s: the pair is missing one half",
                                  L->path, t->name, bname);
            fr_status st = add_pair(L, name, t, tb);
            if (st)
                return st;
        } else if (ends_with(t->name, ".lora_b")) {
            size_t len = strlen(t->name) - 7;
            char aname[2 * LORA_NAME_MAX + 8];
            snprintf(aname, sizeof aname, "%.*s.lora_a", (int)len, t->name);
            if (!fr_gguf_find_tensor(L->g, aname))
                return fr_err_set(L->err, FR_E_FORMAT,
                                  "%s: %s has no matching %s: the pair is missing one half",
                                  L->path, t->name, aname);
        } else if (ends_with(t->name, "_norm.weight")) {
            L->a->n_ignored++; /* llama.cpp skips these too */
        } else {
            return fr_err_set(L->err, FR_E_FORMAT,
                              "%s: tensor %s is neither a .lora_a nor a .lora_b half; this is "
                              "not a LoRA adapter in llama.cpp's format", L->path, t->name);
        }
    }
    if (L->a->n_w == 0)
        return fr_err_set(L->err, FR_E_FORMAT, "%s: the adapter has no .lora_a/.lora_b pairs",
                          L->path);
    return FR_OK;
}

fr_status fr_lora_load_gguf(const fr_gguf *g, const char *path, const fr_model *base,
                           fr_lora **out, fr_err *err)
{
    *out = NULL;
    if (!base)
        return fr_err_set(err, FR_E_INVALID, "fr_lora_load: no base model");
    fr_lora *a = calloc(1, sizeof *a);
    if (!a)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    a->base = base;
    a->n_layer = fr_model_hparams(base)->n_layer;
    size_t n_slots = (size_t)a->n_layer * FR_LORA_N_LAYER_KINDS + 1;
    a->slot = malloc(n_slots * sizeof *a->slot);
    a->path = strdup(path);
    int64_t nt = fr_gguf_n_tensors(g);
    a->w = calloc(nt > 0 ? (size_t)nt : 1, sizeof *a->w);
    fr_status st;
    if (!a->slot || !a->path || !a->w) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_slots; i++)
        a->slot[i] = -1;
    lora_loader L = {a, g, fr_model_gguf(base), path, err};
    st = check_keys(&L);
    if (!st)
        st = bind_tensors(&L);
    if (st)
        goto fail;
    *out = a;
    return FR_OK;
fail:
    fr_lora_free(a);
    return st;
}

fr_status fr_lora_load(const char *path, const fr_model *base, fr_lora **out, fr_err *err)
{
    *out = NULL;
    fr_gguf *g = NULL;
    fr_status st = fr_gguf_open(path, &g, err);
    if (st)
        return st;
    /* A and B are decoded into owned memory: the mapping can go */
    st = fr_lora_load_gguf(g, path, base, out, err);
    fr_gguf_free(g);
    return st;
}

void fr_lora_free(fr_lora *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_w; i++) {
        free(a->w[i].name);
        free(a->w[i].a);
        free(a->w[i].b);
    }
    free(a->w);
    free(a->slot);
    free(a->path);
    free(a);
}

const char *fr_lora_path(const fr_lora *a) { return a->path; }
const fr_model *fr_lora_base(const fr_lora *a) { return a->base; }
float fr_lora_alpha(const fr_lora *a) { return a->alpha; }
uint32_t fr_lora_rank(const fr_lora *a) { return a->max_rank; }
size_t fr_lora_n_pairs(const fr_lora *a) { return a->n_w; }
size_t fr_lora_n_ignored(const fr_lora *a) { return a->n_ignored; }

uint64_t fr_lora_n_params(const fr_lora *a)
{
    uint64_t n = 0;
    for (size_t i = 0; i < a->n_w; i++)
        n += (uint64_t)a->w[i].rank * (uint64_t)(a->w[i].n_in + a->w[i].n_out);
    return n;
}

fr_status fr_lora_pair(const fr_lora *a, size_t i, fr_lora_pair_info *out, fr_err *err)
{
    if (i >= a->n_w)
        return fr_err_set(err, FR_E_RANGE, "pair %zu of an adapter with %zu pairs", i, a->n_w);
    const fr_lora_w *w = &a->w[i];
    out->name = w->name;
    out->n_in = w->n_in;
    out->n_out = w->n_out;
    out->rank = w->rank;
    out->type_a = w->type_a;
    out->type_b = w->type_b;
    out->a = w->a;
    out->b = w->b;
    return FR_OK;
}

/* ---- writing -------------------------------------------------------------- */

typedef struct lora_fill {
    const fr_lora_tensor *t;
    fr_type type;
} lora_fill;

static fr_status lora_fill_fn(void *user, int64_t index, void *dst, uint64_t nbytes, fr_err *err)
{
    (void)nbytes;
    const lora_fill *f = user;
    const fr_lora_tensor *t = &f->t[index / 2];
    bool is_a = index % 2 == 0;
    int64_t n = (int64_t)t->rank * (is_a ? t->n_in : t->n_out);
    fr_status st = fr_quantize(f->type, is_a ? t->a : t->b, dst, n, err);
    if (st)
        return fr_err_prefix(err, "%s.%s", t->name, is_a ? "lora_a" : "lora_b");
    return FR_OK;
}

static fr_status check_tensor(const fr_lora_write_params *p, const fr_lora_tensor *t, size_t i,
                              const fr_lora_tensor *all, fr_err *err)
{
    if (!t->name || !*t->name || strlen(t->name) + 7 >= LORA_NAME_MAX)
        return fr_err_set(err, FR_E_INVALID, "adapter tensor %zu: empty or too long a name", i);
    if (ends_with(t->name, ".lora_a") || ends_with(t->name, ".lora_b"))
        return fr_err_set(err, FR_E_INVALID,
                          "adapter tensor %s: give the base weight's name; the writer adds "
                          ".lora_a / .lora_b", t->name);
    if (t->n_in < 1 || t->n_out < 1 || t->rank < 1 || t->rank > FR_LORA_MAX_RANK || !t->a ||
        !t->b)
        return fr_err_set(err, FR_E_INVALID,
                          "adapter tensor %s: n_in %lld, n_out %lld, rank %u (all must be >= 1, "
                          "with A and B given)", t->name, (long long)t->n_in,
                          (long long)t->n_out, t->rank);
    for (size_t j = 0; j < i; j++)
        if (strcmp(all[j].name, t->name) == 0)
            return fr_err_set(err, FR_E_INVALID, "adapter tensor %s is given twice", t->name);
    const fr_type_info *ti = fr_type_get((uint32_t)p->type);
    if ((uint64_t)t->n_in % ti->block_size || (uint64_t)t->rank % ti->block_size)
        return fr_err_set(err, FR_E_INVALID,
                          "adapter tensor %s: %s stores blocks of %u values, which do not divide "
                          "n_in %lld and rank %u; write F32, F16 or BF16", t->name, ti->name,
                          ti->block_size, (long long)t->n_in, t->rank);
    if (p->base) {
        const fr_hparams *hp = fr_model_hparams(p->base);
        const fr_gguf_tensor *bw = fr_gguf_find_tensor(fr_model_gguf(p->base), t->name);
        uint32_t layer;
        fr_lora_kind kind;
        if (!bw || !fr_lora_kind_of(t->name, hp->n_layer, &layer, &kind))
            return fr_err_set(err, FR_E_INVALID,
                              "adapter tensor %s: the base model has no such adaptable weight",
                              t->name);
        if (bw->ne[0] != t->n_in || bw->ne[1] != t->n_out)
            return fr_err_set(err, FR_E_INVALID,
                              "adapter tensor %s: n_in %lld, n_out %lld, but the base weight is "
                              "[%lld, %lld]", t->name, (long long)t->n_in, (long long)t->n_out,
                              (long long)bw->ne[0], (long long)bw->ne[1]);
    }
    return FR_OK;
}

fr_status fr_lora_write(const char *path, const fr_lora_write_params *p, const fr_lora_tensor *t,
                        size_t n, fr_err *err)
{
    const char *arch = p->base ? fr_model_hparams(p->base)->arch : p->arch;
    if (!arch || !*arch)
        return fr_err_set(err, FR_E_INVALID, "fr_lora_write: no architecture (give base or arch)");
    if (n == 0)
        return fr_err_set(err, FR_E_INVALID, "fr_lora_write: no tensors");
    if (!isfinite(p->alpha))
        return fr_err_set(err, FR_E_INVALID, "fr_lora_write: alpha is %g", (double)p->alpha);
    if (p->type != FR_TYPE_F32 && (!fr_can_quantize(p->type) || !fr_type_get((uint32_t)p->type)))
        return fr_err_set(err, FR_E_INVALID, "fr_lora_write: cannot store adapters as %s",
                          fr_type_name((uint32_t)p->type));
    fr_status st;
    for (size_t i = 0; i < n; i++)
        if ((st = check_tensor(p, &t[i], i, t, err)))
            return st;
    fr_gguf_writer *w = NULL;
    if ((st = fr_gguf_writer_create(&w, err)))
        return st;
    if ((st = fr_gguf_writer_set_str(w, "general.architecture", arch)) ||
        (st = fr_gguf_writer_set_str(w, "general.type", "adapter")) ||
        (st = fr_gguf_writer_set_str(w, "adapter.type", "lora")) ||
        (st = fr_gguf_writer_set_f32(w, "adapter.lora.alpha", p->alpha))) {
        fr_err_set(err, st, "writing the adapter's metadata failed");
        goto out;
    }
    bool direct = p->type == FR_TYPE_F32;
    char name[LORA_NAME_MAX + 8];
    for (size_t i = 0; i < n && !st; i++) {
        int64_t ne_a[2] = {t[i].n_in, (int64_t)t[i].rank};
        int64_t ne_b[2] = {(int64_t)t[i].rank, t[i].n_out};
        snprintf(name, sizeof name, "%s.lora_a", t[i].name);
        st = fr_gguf_writer_add_tensor(w, name, p->type, 2, ne_a, direct ? t[i].a : NULL, err);
        if (!st) {
            snprintf(name, sizeof name, "%s.lora_b", t[i].name);
            st = fr_gguf_writer_add_tensor(w, name, p->type, 2, ne_b, direct ? t[i].b : NULL,
                                           err);
        }
    }
    if (!st) {
        lora_fill f = {t, p->type};
        st = fr_gguf_writer_write(w, path, p->protect, p->n_protect, direct ? NULL : lora_fill_fn,
                                  &f, err);
    }
out:
    fr_gguf_writer_free(w);
    return st;
}
