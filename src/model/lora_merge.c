/*
 * lora_merge.c - baking LoRA adapters into a copy of the base model
 * (`frugal merge`): W' = dequant(W) + sum_k s_k * B_k A_k.
 *
 * Streaming, like the quantizer: every metadata key is copied, tensors no
 * adapter touches are handed to the writer as pointers into the base's
 * mapping (copied byte for byte), and each merged tensor is produced by the
 * writer's fill callback, one tensor at a time, so memory stays at one
 * output tensor plus a few rows per thread. Rows are split over threads;
 * each row is computed and encoded by one thread, so the bytes do not
 * depend on the thread count.
 *
 * Per row o of a merged tensor: the base row is decoded to float, the
 * update sum_k sum_r (s_k B_k[o][r]) A_k[r][:] is accumulated in float in
 * adapter and rank order, added, and the row encoded in the output type.
 * The row is then decoded again to measure how much of the intended update
 * the stored file kept: a coarse type (the `keep` choice on a Q4 base) can
 * round a small update away, and the user deserves a number, not a guess.
 *
 * Rejected: merging in double (the runtime path adds float products; float
 * here keeps merged and runtime results within float rounding of each
 * other); guessing the output type from the file type (tensor types are
 * what matter, and a base can mix them).
 */
#include "model/lora_impl.h"

#include <frugal/gguf.h>
#include <frugal/quant.h>
#include <frugal/tensor.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct merge_src {
    const fr_lora_w *w;
    float s; /* effective scale */
} merge_src;

typedef struct merge_tensor {
    merge_src *src; /* NULL: copied */
    size_t n_src;
    fr_type out;
    bool fallback;
} merge_tensor;

typedef struct merge_thread {
    float *w, *delta, *back; /* [max n_in] each */
    double err2, norm2;
    fr_status st;
    fr_err err;
} merge_thread;

typedef struct merge_ctx {
    const fr_gguf *g;
    merge_tensor *mt;
    fr_pool *pool;
    merge_thread *th;
    const fr_lora_merge_params *p;
    uint64_t done, total;
    double err2, norm2; /* over every merged tensor */
    fr_lora_merge_stats *stats;
    /* the tensor being filled */
    const fr_gguf_tensor *t;
    const merge_tensor *cur;
    uint8_t *dst;
    uint64_t row_in, row_out;
} merge_ctx;

/* llama.cpp's llama_ftype for a tensor type (the "mostly" value). */
static uint32_t ftype_of(fr_type t)
{
    switch (t) {
    case FR_TYPE_F32: return FR_FTYPE_ALL_F32;
    case FR_TYPE_F16: return FR_FTYPE_F16;
    case FR_TYPE_BF16: return FR_FTYPE_BF16;
    case FR_TYPE_Q4_0: return FR_FTYPE_Q4_0;
    case FR_TYPE_Q4_1: return FR_FTYPE_Q4_1;
    case FR_TYPE_Q5_0: return FR_FTYPE_Q5_0;
    case FR_TYPE_Q5_1: return FR_FTYPE_Q5_1;
    case FR_TYPE_Q8_0: return FR_FTYPE_Q8_0;
    case FR_TYPE_Q2_K: return FR_FTYPE_Q2_K;
    case FR_TYPE_Q3_K: return FR_FTYPE_Q3_K_M;
    case FR_TYPE_Q4_K: return FR_FTYPE_Q4_K_M;
    case FR_TYPE_Q5_K: return FR_FTYPE_Q5_K_M;
    case FR_TYPE_Q6_K: return FR_FTYPE_Q6_K;
    default: return FR_FTYPE_ALL_F32;
    }
}

/* The type a merged row of n_in values is stored in, falling back as
 * `frugal quantize` does when the rows do not fill the type's blocks. */
static fr_type fit_type(fr_type want, int64_t n_in, bool *fallback)
{
    fr_type t = want;
    const fr_type_info *ti = fr_type_get((uint32_t)t);
    if (n_in % ti->block_size) {
        switch (want) {
        case FR_TYPE_Q4_K: case FR_TYPE_Q2_K: case FR_TYPE_Q3_K: t = FR_TYPE_Q5_0; break;
        case FR_TYPE_Q5_K: t = FR_TYPE_Q5_1; break;
        case FR_TYPE_Q6_K: t = FR_TYPE_Q8_0; break;
        default: t = FR_TYPE_F16; break;
        }
        if (n_in % fr_type_get((uint32_t)t)->block_size)
            t = FR_TYPE_F16;
    }
    *fallback = t != want;
    return t;
}

static fr_status plan(merge_ctx *c, fr_err *err)
{
    const fr_lora_merge_params *p = c->p;
    const fr_model *base = fr_lora_base(p->adapters[0]);
    uint32_t n_layer = fr_model_hparams(base)->n_layer;
    int64_t nt = fr_gguf_n_tensors(c->g);
    for (int64_t i = 0; i < nt; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(c->g, i);
        merge_tensor *m = &c->mt[i];
        m->out = t->type;
        uint32_t layer;
        fr_lora_kind kind;
        if (!fr_lora_kind_of(t->name, n_layer, &layer, &kind))
            continue;
        for (size_t k = 0; k < p->n; k++) {
            const fr_lora_w *w = fr_lora_find(p->adapters[k], layer, kind);
            if (!w)
                continue;
            if (!m->src && !(m->src = calloc(p->n, sizeof *m->src)))
                return fr_err_set(err, FR_E_NOMEM, "out of memory");
            float sc = p->scales ? p->scales[k] : 1.0f;
            m->src[m->n_src++] = (merge_src){w, fr_lora_effective_scale(fr_lora_alpha(p->adapters[k]),
                                                                       w->rank, sc)};
        }
        if (!m->src)
            continue;
        fr_type want = p->out == FR_LORA_OUT_KEEP   ? t->type
                       : p->out == FR_LORA_OUT_TYPE ? p->out_type
                       : t->type == FR_TYPE_F32     ? FR_TYPE_F32
                                                    : FR_TYPE_F16;
        if (want != FR_TYPE_F32 && !fr_can_quantize(want))
            return fr_err_set(err, FR_E_UNSUPPORTED,
                              "tensor %s: frugal cannot write type %s%s", t->name,
                              fr_type_name((uint32_t)want),
                              p->out == FR_LORA_OUT_KEEP
                                  ? " (the base's own type); choose another --out-type"
                                  : "");
        m->out = fit_type(want, t->ne[0], &m->fallback);
        c->total += t->nbytes;
    }
    return FR_OK;
}

static void merge_rows(void *arg, int ith, int nth)
{
    merge_ctx *c = arg;
    merge_thread *th = &c->th[ith];
    const fr_gguf_tensor *t = c->t;
    int64_t n_in = t->ne[0], n_rows = t->ne[1] * t->ne[2] * t->ne[3], lo, hi;
    fr_split_range(n_rows, ith, nth, &lo, &hi);
    for (int64_t o = lo; o < hi && !th->st; o++) {
        const uint8_t *src = (const uint8_t *)t->data + (uint64_t)o * c->row_in;
        uint8_t *dst = c->dst + (uint64_t)o * c->row_out;
        if ((th->st = fr_dequantize(t->type, src, th->w, n_in, &th->err)))
            break;
        memset(th->delta, 0, (size_t)n_in * sizeof(float));
        for (size_t k = 0; k < c->cur->n_src; k++) {
            const fr_lora_w *w = c->cur->src[k].w;
            for (uint32_t r = 0; r < w->rank; r++) {
                float coef = c->cur->src[k].s * w->b[(size_t)o * w->rank + r];
                const float *a = w->a + (size_t)r * n_in;
                for (int64_t i = 0; i < n_in; i++)
                    th->delta[i] += coef * a[i];
            }
        }
        for (int64_t i = 0; i < n_in; i++)
            th->back[i] = th->w[i] + th->delta[i];
        if (c->cur->out == FR_TYPE_F32)
            memcpy(dst, th->back, (size_t)n_in * sizeof(float));
        else if ((th->st = fr_quantize(c->cur->out, th->back, dst, n_in, &th->err)))
            break;
        if ((th->st = fr_dequantize(c->cur->out, dst, th->back, n_in, &th->err)))
            break;
        for (int64_t i = 0; i < n_in; i++) {
            double kept = (double)th->back[i] - (double)th->w[i];
            double d = kept - (double)th->delta[i];
            th->err2 += d * d;
            th->norm2 += (double)th->delta[i] * (double)th->delta[i];
        }
    }
}

static fr_status merge_fill(void *user, int64_t index, void *dst, uint64_t nbytes, fr_err *err)
{
    (void)nbytes;
    merge_ctx *c = user;
    c->t = fr_gguf_tensor_at(c->g, index);
    c->cur = &c->mt[index];
    c->dst = dst;
    c->row_in = fr_type_row_bytes(c->t->type, c->t->ne[0]);
    c->row_out = fr_type_row_bytes(c->cur->out, c->t->ne[0]);
    int nth = fr_pool_size(c->pool);
    for (int i = 0; i < nth; i++) {
        c->th[i].err2 = c->th[i].norm2 = 0;
        c->th[i].st = FR_OK;
    }
    fr_pool_run(c->pool, merge_rows, c);
    double err2 = 0, norm2 = 0;
    for (int i = 0; i < nth; i++) {
        if (c->th[i].st) {
            *err = c->th[i].err;
            return fr_err_prefix(err, "merging %s", c->t->name);
        }
        err2 += c->th[i].err2;
        norm2 += c->th[i].norm2;
    }
    fr_lora_merge_stats *s = c->stats;
    double rel = norm2 > 0 ? sqrt(err2 / norm2) : 0.0;
    if (rel > s->update_rel_err_max || s->worst_tensor[0] == '\0') {
        s->update_rel_err_max = rel;
        snprintf(s->worst_tensor, sizeof s->worst_tensor, "%s", c->t->name);
    }
    c->err2 += err2;
    c->norm2 += norm2;
    c->done += c->t->nbytes;
    if (c->p->progress)
        c->p->progress(c->p->progress_user, c->done, c->total);
    return FR_OK;
}

static fr_status check_params(const fr_model *base, const fr_lora_merge_params *p, fr_err *err)
{
    if (!p || p->n == 0 || !p->adapters)
        return fr_err_set(err, FR_E_INVALID, "merge: no adapters given");
    for (size_t k = 0; k < p->n; k++) {
        if (!p->adapters[k] || fr_lora_base(p->adapters[k]) != base)
            return fr_err_set(err, FR_E_INVALID,
                              "merge: adapter %zu was not loaded for this base model", k);
        if (p->scales && !isfinite(p->scales[k]))
            return fr_err_set(err, FR_E_INVALID, "merge: %s: the scale is not a finite number",
                              fr_lora_path(p->adapters[k]));
    }
    if (p->out == FR_LORA_OUT_TYPE && p->out_type != FR_TYPE_F32 && !fr_can_quantize(p->out_type))
        return fr_err_set(err, FR_E_INVALID, "merge: frugal cannot write type %s",
                          fr_type_name((uint32_t)p->out_type));
    return FR_OK;
}

/* general.file_type for the output: the base's own value with `keep`,
 * otherwise the llama_ftype of the type holding most 2-D weight values
 * (the base's value when it already names that type, e.g. Q4_K_S). */
static uint32_t output_ftype(const merge_ctx *c)
{
    uint32_t base_ft = 0;
    bool has = fr_gguf_get_u32(c->g, "general.file_type", &base_ft, NULL) == FR_OK;
    if (c->p->out == FR_LORA_OUT_KEEP && has)
        return base_ft;
    uint64_t by_type[FR_TYPE_COUNT_] = {0};
    for (int64_t i = 0; i < fr_gguf_n_tensors(c->g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(c->g, i);
        size_t n = strlen(t->name);
        if (t->n_dims < 2 || n < 6 || strcmp(t->name + n - 6, "weight") != 0)
            continue;
        if ((unsigned)c->mt[i].out < FR_TYPE_COUNT_)
            by_type[c->mt[i].out] += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    fr_type best = FR_TYPE_F32;
    for (int t = 0; t < FR_TYPE_COUNT_; t++)
        if (by_type[t] > by_type[best])
            best = (fr_type)t;
    if (has && fr_ftype_base_type((fr_ftype)base_ft) == best)
        return base_ft;
    return ftype_of(best);
}

fr_status fr_lora_merge(const fr_model *base, const char *out_path, const char *const *protect,
                        size_t n_protect, const fr_lora_merge_params *p,
                        fr_lora_merge_stats *stats, fr_err *err)
{
    fr_status st = check_params(base, p, err);
    if (st)
        return st;
    fr_lora_merge_stats local;
    memset(&local, 0, sizeof local);
    merge_ctx c;
    memset(&c, 0, sizeof c);
    c.g = fr_model_gguf(base);
    c.p = p;
    c.stats = &local;
    int64_t nt = fr_gguf_n_tensors(c.g);
    int nth = p->n_threads > 0 ? p->n_threads : 1;
    fr_gguf_writer *w = NULL;
    const char **prot = calloc(n_protect + p->n + 1, sizeof *prot);
    c.mt = calloc(nt > 0 ? (size_t)nt : 1, sizeof *c.mt);
    c.th = calloc((size_t)nth, sizeof *c.th);
    if (!prot || !c.mt || !c.th) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto out;
    }
    if ((st = plan(&c, err)))
        goto out;
    uint32_t n_split = 1;
    if (fr_gguf_get_u32(c.g, "split.count", &n_split, NULL) == FR_OK && n_split > 1) {
        st = fr_err_set(err, FR_E_UNSUPPORTED,
                        "the base model is split into %u files; merge the parts first "
                        "(llama-gguf-split --merge)", n_split);
        goto out;
    }
    int64_t max_in = 1;
    for (int64_t i = 0; i < nt; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(c.g, i);
        if (c.mt[i].src) {
            local.n_merged++;
            local.merged_by_type[c.mt[i].out]++;
            if (c.mt[i].fallback)
                local.n_fallback++;
            if (t->ne[0] > max_in)
                max_in = t->ne[0];
        }
    }
    if (local.n_merged == 0) {
        st = fr_err_set(err, FR_E_INVALID, "merge: the adapters change no tensor of the base");
        goto out;
    }
    for (int i = 0; i < nth; i++) {
        c.th[i].w = malloc((size_t)max_in * sizeof(float));
        c.th[i].delta = malloc((size_t)max_in * sizeof(float));
        c.th[i].back = malloc((size_t)max_in * sizeof(float));
        if (!c.th[i].w || !c.th[i].delta || !c.th[i].back) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory for the merge buffers");
            goto out;
        }
    }
    if ((st = fr_pool_create(nth, &c.pool, err)))
        goto out;
    if ((st = fr_gguf_writer_create(&w, err)))
        goto out;
    for (int64_t i = 0; i < fr_gguf_n_kv(c.g) && !st; i++)
        st = fr_gguf_writer_copy_kv(w, c.g, i);
    if (!st) {
        local.file_type = output_ftype(&c);
        st = fr_gguf_writer_set_u32(w, "general.file_type", local.file_type);
    }
    if (st) {
        fr_err_set(err, st, "copying the base model's metadata failed");
        goto out;
    }
    for (int64_t i = 0; i < nt && !st; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(c.g, i);
        st = fr_gguf_writer_add_tensor(w, t->name, c.mt[i].out, t->n_dims, t->ne,
                                       c.mt[i].src ? NULL : t->data, err);
        local.n_tensors++;
        local.bytes_out += fr_type_row_bytes(c.mt[i].out, t->ne[0]) *
                           (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    }
    if (st)
        goto out;
    size_t np = 0;
    prot[np++] = fr_gguf_path(c.g);
    for (size_t k = 0; k < p->n; k++)
        prot[np++] = fr_lora_path(p->adapters[k]);
    for (size_t k = 0; k < n_protect; k++)
        prot[np++] = protect[k];
    st = fr_gguf_writer_write(w, out_path, prot, np, merge_fill, &c, err);
    if (!st) {
        local.update_rel_err = c.norm2 > 0 ? sqrt(c.err2 / c.norm2) : 0.0;
        if (stats)
            *stats = local;
    }
out:
    fr_gguf_writer_free(w);
    fr_pool_free(c.pool);
    if (c.th)
        for (int i = 0; i < nth; i++) {
            free(c.th[i].w);
            free(c.th[i].delta);
            free(c.th[i].back);
        }
    free(c.th);
    if (c.mt)
        for (int64_t i = 0; i < nt; i++)
            free(c.mt[i].src);
    free(c.mt);
    free(prot);
    return st;
}
