/*
 * lora.c - applying LoRA adapters at run time: the context's set of active
 * adapters and the product y += s * B (A x) after each adapted projection.
 *
 * The forward pass calls fr_lora_apply right after the base product W x
 * (before any bias), as llama.cpp's llm_build_lora_mm adds its term, with
 * the same activations the base product saw. For each adapter in order:
 *   u[t] = A x[t]                  (rank values per token; scratch)
 *   y[t][o] += s * dot(B[o], u[t]) (s: llama.cpp's scale rule)
 * Both steps are split over threads by output element (token x rank, then
 * output rows) and each element is a left-to-right float sum, so results do
 * not depend on the thread count. For a few tokens (decoding) each thread
 * computes all of u itself, a few thousand multiply-adds, which saves the
 * second pass through the thread pool; the sums are the same either way. An adapter whose B is zero adds exact
 * zeros, leaving the base logits bit for bit.
 *
 * Rejected: folding s*B*A into the weights at attach time (that is a merge:
 * it needs a float copy of every adapted matrix and breaks quantized bases);
 * one fused loop per output (recomputes A x for every output row).
 */
#include "model/lora_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_lora_set {
    size_t n;
    const fr_lora **ad; /* [n], borrowed */
    float *scale;       /* [n] the user's scales */
    float *u;           /* [n_batch, max_rank] scratch */
    float *u_thread;    /* [n_threads][FUSED_MAX_TOK * max_rank] for few tokens */
    uint32_t max_rank;
};

/* Up to this many tokens, one pool run per adapter (each thread computes
 * all of A x itself). */
#define FUSED_MAX_TOK 4

void fr_lora_set_free(fr_lora_set *s)
{
    if (!s)
        return;
    free(s->ad);
    free(s->scale);
    free(s->u);
    free(s->u_thread);
    free(s);
}

fr_status fr_context_set_lora(fr_context *c, fr_lora *const *adapters, const float *scales,
                              size_t n, fr_err *err)
{
    const fr_model *m = fr_context_model(c);
    for (size_t i = 0; i < n; i++) {
        if (!adapters[i])
            return fr_err_set(err, FR_E_INVALID, "adapter %zu is NULL", i);
        if (fr_lora_base(adapters[i]) != m)
            return fr_err_set(err, FR_E_INVALID,
                              "%s was loaded for another model; load it with this context's "
                              "model", fr_lora_path(adapters[i]));
        if (scales && !isfinite(scales[i]))
            return fr_err_set(err, FR_E_INVALID, "%s: the scale is not a finite number",
                              fr_lora_path(adapters[i]));
    }
    fr_lora_set *s = NULL;
    if (n) {
        s = calloc(1, sizeof *s);
        if (!s)
            return fr_err_set(err, FR_E_NOMEM, "out of memory");
        s->n = n;
        s->ad = malloc(n * sizeof *s->ad);
        s->scale = malloc(n * sizeof *s->scale);
        for (size_t i = 0; i < n; i++)
            if (adapters[i]->max_rank > s->max_rank)
                s->max_rank = adapters[i]->max_rank;
        s->u = malloc((size_t)fr_context_n_batch(c) * s->max_rank * sizeof(float));
        s->u_thread = malloc((size_t)fr_pool_size(fr_context_pool(c)) * FUSED_MAX_TOK *
                             s->max_rank * sizeof(float));
        if (!s->ad || !s->scale || !s->u || !s->u_thread) {
            fr_lora_set_free(s);
            return fr_err_set(err, FR_E_NOMEM, "out of memory for the adapters' scratch");
        }
        for (size_t i = 0; i < n; i++) {
            s->ad[i] = adapters[i];
            s->scale[i] = scales ? scales[i] : 1.0f;
        }
    }
    fr_lora_set **slot = fr_context_lora_slot(c);
    fr_lora_set_free(*slot);
    *slot = s;
    return FR_OK;
}

void fr_context_clear_lora(fr_context *c)
{
    fr_lora_set **slot = fr_context_lora_slot(c);
    fr_lora_set_free(*slot);
    *slot = NULL;
}

size_t fr_context_n_lora(const fr_context *c)
{
    /* the slot accessor takes a mutable context; reading through it is safe */
    fr_lora_set *const *slot = fr_context_lora_slot((fr_context *)c);
    return *slot ? (*slot)->n : 0;
}

typedef struct lora_job {
    const fr_lora_w *w;
    const float *x;
    int64_t n_tok;
    float *u;   /* [n_tok, rank] */
    float *u_thread; /* fused: per thread [FUSED_MAX_TOK * max_rank] */
    uint32_t max_rank;
    float *y;
    int64_t ldy;
    float s;
    int64_t row0, n_out; /* the rows of B applied: [row0, row0 + n_out) */
} lora_job;

static float dot(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* u[t][r] = A[r] . x[t] */
static void lora_down(void *arg, int ith, int nth)
{
    const lora_job *j = arg;
    int64_t r = j->w->rank, lo, hi;
    fr_split_range(j->n_tok * r, ith, nth, &lo, &hi);
    for (int64_t e = lo; e < hi; e++) {
        int64_t t = e / r, k = e % r;
        j->u[e] = dot(j->w->a + k * j->w->n_in, j->x + t * j->w->n_in, j->w->n_in);
    }
}

/* y[t][o] += s * (B[o] . u[t]) for this thread's rows o */
static void lora_up_rows(const lora_job *j, const float *u, int ith, int nth)
{
    int64_t r = j->w->rank, lo, hi;
    fr_split_range(j->n_out, ith, nth, &lo, &hi);
    for (int64_t o = lo; o < hi; o++) {
        const float *b = j->w->b + (j->row0 + o) * r;
        for (int64_t t = 0; t < j->n_tok; t++)
            j->y[t * j->ldy + o] += j->s * dot(b, u + t * r, r);
    }
}

static void lora_up(void *arg, int ith, int nth)
{
    const lora_job *j = arg;
    lora_up_rows(j, j->u, ith, nth);
}

/* Few tokens: every thread computes all of u, then its rows. */
static void lora_fused(void *arg, int ith, int nth)
{
    const lora_job *j = arg;
    int64_t r = j->w->rank, n_in = j->w->n_in;
    float *u = j->u_thread + (size_t)ith * FUSED_MAX_TOK * j->max_rank;
    for (int64_t t = 0; t < j->n_tok; t++)
        for (int64_t k = 0; k < r; k++)
            u[t * r + k] = dot(j->w->a + k * n_in, j->x + t * n_in, n_in);
    lora_up_rows(j, u, ith, nth);
}

void fr_lora_apply_set(const fr_lora_set *s, fr_pool *pool, uint32_t layer, fr_lora_kind kind,
                       int64_t row0, int64_t n_rows, const float *x, int64_t n_tok, float *y,
                       int64_t ldy)
{
    for (size_t k = 0; k < s->n; k++) {
        const fr_lora_w *w = fr_lora_find(s->ad[k], layer, kind);
        if (!w || row0 >= w->n_out)
            continue;
        int64_t n_out = n_rows < 0 || row0 + n_rows > w->n_out ? w->n_out - row0 : n_rows;
        lora_job j = {w, x, n_tok, s->u, s->u_thread, s->max_rank, y, ldy,
                      fr_lora_effective_scale(s->ad[k]->alpha, w->rank, s->scale[k]), row0, n_out};
        if (n_tok <= FUSED_MAX_TOK) {
            fr_pool_run(pool, lora_fused, &j);
        } else {
            fr_pool_run(pool, lora_down, &j);
            fr_pool_run(pool, lora_up, &j);
        }
    }
}
