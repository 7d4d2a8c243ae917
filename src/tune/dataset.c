/*
 * dataset.c - the sample container: adding samples, accessors, the
 * validation split, the fingerprint and the --dump-masks rendering.
 */
#include "tune/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "tune/rng.h"

fr_dataset *fr_dataset_new(uint32_t n_ctx)
{
    fr_dataset *d = calloc(1, sizeof *d);
    if (d)
        d->n_ctx = n_ctx;
    return d;
}

void fr_dataset_free(fr_dataset *d)
{
    if (!d)
        return;
    free(d->tok);
    free(d->mask);
    free(d->s);
    free(d);
}

fr_status fr_dataset_add(fr_dataset *d, const int32_t *tok, const uint8_t *mask, uint32_t n,
                         size_t record, fr_err *err)
{
    uint64_t loss = 0;
    for (uint32_t j = 1; j < n; j++)
        loss += mask[j] != 0;
    if (n < 2 || loss == 0) {
        d->st.n_skipped++;
        return FR_OK;
    }
    if (d->n_tok + n > d->cap_tok) {
        size_t cap = d->cap_tok ? d->cap_tok * 2 : 4096;
        while (cap < d->n_tok + n)
            cap *= 2;
        int32_t *nt = realloc(d->tok, cap * sizeof(int32_t));
        if (nt)
            d->tok = nt;
        uint8_t *nm = realloc(d->mask, cap);
        if (nm)
            d->mask = nm;
        if (!nt || !nm)
            return fr_err_set(err, FR_E_NOMEM, "out of memory for %zu training tokens", cap);
        d->cap_tok = cap;
    }
    if (d->n_s == d->cap_s) {
        size_t cap = d->cap_s ? d->cap_s * 2 : 256;
        fr_sample *ns = realloc(d->s, cap * sizeof(fr_sample));
        if (!ns)
            return fr_err_set(err, FR_E_NOMEM, "out of memory for %zu samples", cap);
        d->s = ns;
        d->cap_s = cap;
    }
    memcpy(d->tok + d->n_tok, tok, (size_t)n * sizeof(int32_t));
    memcpy(d->mask + d->n_tok, mask, n);
    d->mask[d->n_tok] = 0;
    d->s[d->n_s].off = d->n_tok;
    d->s[d->n_s].n = n;
    d->s[d->n_s].record = record;
    d->n_s++;
    d->n_tok += n;
    d->st.n_samples = d->n_s;
    d->st.n_tokens += n;
    d->st.n_loss_tokens += loss;
    return FR_OK;
}

void fr_dataset_get_stats(const fr_dataset *d, fr_dataset_stats *out) { *out = d->st; }
size_t fr_dataset_count(const fr_dataset *d) { return d ? d->n_s : 0; }

void fr_dataset_sample(const fr_dataset *d, size_t i, const int32_t **tokens,
                       const uint8_t **mask, uint32_t *n)
{
    const fr_sample *s = &d->s[i];
    *tokens = d->tok + s->off;
    *mask = d->mask + s->off;
    *n = s->n;
}

size_t fr_dataset_sample_record(const fr_dataset *d, size_t i)
{
    return i < d->n_s ? d->s[i].record : 0;
}

uint64_t fr_dataset_fingerprint(const fr_dataset *d)
{
    /* FNV-1a over (n, tokens, mask) of each sample, in order. */
    uint64_t h = 0xcbf29ce484222325ULL;
#define FR_FNV(byte)                                                                               \
    do {                                                                                           \
        h ^= (uint8_t)(byte);                                                                      \
        h *= 0x100000001b3ULL;                                                                     \
    } while (0)
    for (size_t i = 0; i < d->n_s; i++) {
        const fr_sample *s = &d->s[i];
        for (int b = 0; b < 4; b++)
            FR_FNV(s->n >> (8 * b));
        for (uint32_t j = 0; j < s->n; j++) {
            uint32_t t = (uint32_t)d->tok[s->off + j];
            for (int b = 0; b < 4; b++)
                FR_FNV(t >> (8 * b));
            FR_FNV(d->mask[s->off + j]);
        }
    }
#undef FR_FNV
    return h;
}

fr_status fr_dataset_split(fr_dataset *d, double frac, uint64_t seed, fr_dataset **val,
                           fr_err *err)
{
    *val = NULL;
    if (!(frac > 0.0 && frac < 1.0))
        return fr_err_set(err, FR_E_INVALID, "validation fraction %g must be in (0, 1)", frac);
    /* Group by record when there are several, so a document's windows do
     * not land on both sides. Records are numbered in increasing order. */
    size_t n_groups = 0;
    size_t last = 0;
    for (size_t i = 0; i < d->n_s; i++)
        if (i == 0 || d->s[i].record != last) {
            n_groups++;
            last = d->s[i].record;
        }
    bool by_record = n_groups >= 2;
    size_t units = by_record ? n_groups : d->n_s;
    if (units < 2)
        return fr_err_set(err, FR_E_INVALID,
                          "cannot split a validation set off %zu sample(s); give --val FILE or "
                          "more data", d->n_s);
    size_t k = (size_t)((double)units * frac + 0.5);
    if (k < 1)
        k = 1;
    if (k > units - 1)
        k = units - 1;
    uint8_t *pick = calloc(units, 1);
    size_t *order = malloc(units * sizeof(size_t));
    fr_dataset *v = fr_dataset_new(d->n_ctx);
    fr_dataset *t = fr_dataset_new(d->n_ctx);
    fr_status st = FR_OK;
    if (!pick || !order || !v || !t) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < units; i++)
        order[i] = i;
    uint64_t s = seed ^ 0x5851F42D4C957F2DULL;
    for (size_t i = units; i > 1; i--) {
        size_t j = (size_t)fr_rng_below(&s, i);
        size_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    for (size_t i = 0; i < k; i++)
        pick[order[i]] = 1;
    size_t g = 0;
    for (size_t i = 0; i < d->n_s && !st; i++) {
        if (by_record && i > 0 && d->s[i].record != d->s[i - 1].record)
            g++;
        size_t unit = by_record ? g : i;
        const fr_sample *sm = &d->s[i];
        st = fr_dataset_add(pick[unit] ? v : t, d->tok + sm->off, d->mask + sm->off, sm->n,
                            sm->record, err);
    }
    if (st)
        goto done;
    /* d takes t's contents; its other statistics describe the whole file */
    fr_dataset_stats keep = d->st;
    free(d->tok), free(d->mask), free(d->s);
    d->tok = t->tok, d->mask = t->mask, d->s = t->s;
    d->n_tok = t->n_tok, d->cap_tok = t->cap_tok, d->n_s = t->n_s, d->cap_s = t->cap_s;
    d->st = keep;
    d->st.n_samples = t->st.n_samples;
    d->st.n_tokens = t->st.n_tokens;
    d->st.n_loss_tokens = t->st.n_loss_tokens;
    v->st.format = keep.format;
    v->st.n_records = by_record ? k : 1;
    d->st.n_records = by_record ? keep.n_records - k : keep.n_records;
    t->tok = NULL, t->mask = NULL, t->s = NULL;
    *val = v;
    v = NULL;
done:
    free(pick);
    free(order);
    fr_dataset_free(v);
    fr_dataset_free(t);
    return st;
}

fr_status fr_dataset_render_mask(const fr_dataset *d, size_t i, const fr_tokenizer *tok,
                                 const char *open, const char *close, char **text, fr_err *err)
{
    *text = NULL;
    if (i >= d->n_s)
        return fr_err_set(err, FR_E_RANGE, "sample %zu does not exist (%zu samples)", i, d->n_s);
    const fr_sample *s = &d->s[i];
    fr_buf b = FR_BUF_INIT;
    bool in_masked = false;
    for (uint32_t j = 0; j < s->n; j++) {
        bool masked = d->mask[s->off + j] == 0;
        if (masked && !in_masked)
            fr_buf_puts(&b, open);
        if (!masked && in_masked)
            fr_buf_puts(&b, close);
        in_masked = masked;
        size_t len = 0;
        const char *piece = fr_token_piece(tok, d->tok[s->off + j], FR_DECODE_SPECIAL, &len);
        if (piece)
            fr_buf_append(&b, piece, len);
    }
    if (in_masked)
        fr_buf_puts(&b, close);
    if (!fr_buf_ok(&b)) {
        fr_buf_free(&b);
        return fr_err_set(err, FR_E_NOMEM, "out of memory rendering sample %zu", i);
    }
    *text = fr_buf_take(&b);
    return *text ? FR_OK : fr_err_set(err, FR_E_NOMEM, "out of memory");
}
