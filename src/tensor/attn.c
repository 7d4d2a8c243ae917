/*
 * attn.c - the attention of a batch over the KV cache (see attn.h): the
 * row-by-row reference and the split of the tiled way into units.
 *
 * Tiled units: the batch's tokens are cut into blocks of consecutive
 * tokens of one sequence (at most FR_ATTN_MAX_ROWS / grp tokens, so a
 * unit's query rows fit the kernel's row states); a unit is a block and a
 * kv head. Units are handed out one at a time from an atomic counter,
 * last block first: later blocks of a prompt attend to more positions, so
 * the long units start early and short ones fill in at the end.
 */
#include "tensor/attn.h"

#include <frugal/tensor.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "tensor/kernels/kernels.h"

size_t fr_attn_scratch_bytes(uint32_t n_ctx, uint32_t head_dim)
{
    size_t ref = (size_t)n_ctx * sizeof(float);
    size_t hd = head_dim < FR_ATTN_MAX_HD ? head_dim : FR_ATTN_MAX_HD;
    /* transposed keys, values, scores, outputs, max and sum per row */
    size_t tiled = (2 * hd * FR_ATTN_BLOCK + (size_t)FR_ATTN_MAX_ROWS * FR_ATTN_BLOCK +
                    (size_t)FR_ATTN_MAX_ROWS * hd + 2 * FR_ATTN_MAX_ROWS) * sizeof(float) + 256;
    return ref > tiled ? ref : tiled;
}

typedef struct fr_attn_job {
    const fr_attn_desc *d;
    const fr_kernel_set *ks;
    void *const *scratch;
    uint32_t n_blocks; /* tiled: blocks in d->blocks */
    atomic_int next;
} fr_attn_job;

/* ---- row by row (the reference) ------------------------------------------- */

/* Units are (token, query head) pairs handed out one at a time, so a
 * descheduled worker costs only the unit it holds. Consecutive units share a
 * KV head (grouped-query attention), which keeps its keys in cache. Per
 * unit: scores of the query against every cached key of its sequence from
 * p0 (0, or the window's first) to its position, a two-pass softmax over
 * that row (in the thread's scratch; a head's sink logit joins its maximum
 * and its sum), then the weighted sum of the values. */
static void fr_attn_rows_worker(void *arg, int ith, int nth)
{
    (void)nth;
    fr_attn_job *j = arg;
    const fr_attn_desc *d = j->d;
    const fr_kernel_set *ks = j->ks;
    uint32_t hd = d->head_dim, n_head = d->n_head, grp = d->n_head / d->n_head_kv;
    size_t q_dim = (size_t)n_head * hd;
    float *att = j->scratch[ith];
    float scale = d->kq_div;
    bool f32 = d->kv_type == FR_TYPE_F32;
    int64_t n_units = (int64_t)d->n_tok * n_head;
    for (;;) {
        int64_t w = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (w >= n_units)
            break;
        uint32_t t = (uint32_t)(w / n_head), h = (uint32_t)(w % n_head);
        uint32_t kvh = h / grp;
        int32_t pos = d->pos[t];
        int32_t p0 = fr_attn_p0(pos, d->window);
        int32_t n = pos - p0 + 1;
        const float *q = d->q + (size_t)t * q_dim + (size_t)h * hd;
        float *out = d->out + (size_t)t * q_dim + (size_t)h * hd;
        size_t base = (size_t)d->seq[t] * d->seq_ld + (size_t)kvh * hd;
        /* position p0 + i is at slot sl (p % ring in a ring) */
        size_t s0 = d->ring ? (size_t)p0 % d->ring : (size_t)p0, sl = s0;
        if (f32) {
            const float *k = (const float *)d->k + base;
            for (int32_t i = 0; i < n; i++) {
                att[i] = ks->dot_f32(q, k + sl * d->kv_ld, hd) / scale;
                if (++sl == d->ring)
                    sl = 0;
            }
        } else {
            const uint16_t *k = (const uint16_t *)d->k + base;
            for (int32_t i = 0; i < n; i++) {
                att[i] = ks->dot_f16(q, k + sl * d->kv_ld, hd) / scale;
                if (++sl == d->ring)
                    sl = 0;
            }
        }
        float mx = att[0];
        for (int32_t i = 1; i < n; i++)
            if (att[i] > mx)
                mx = att[i];
        if (d->sinks && d->sinks[h] > mx)
            mx = d->sinks[h];
        float sum = 0.0f;
        for (int32_t i = 0; i < n; i++) {
            att[i] = expf(att[i] - mx);
            sum += att[i];
        }
        if (d->sinks)
            sum += expf(d->sinks[h] - mx);
        for (int32_t i = 0; i < n; i++)
            att[i] /= sum;
        memset(out, 0, hd * sizeof(float));
        sl = s0;
        if (f32) {
            const float *v = (const float *)d->v + base;
            for (int32_t i = 0; i < n; i++) {
                ks->axpy_f32(out, att[i], v + sl * d->kv_ld, hd);
                if (++sl == d->ring)
                    sl = 0;
            }
        } else {
            const uint16_t *v = (const uint16_t *)d->v + base;
            for (int32_t i = 0; i < n; i++) {
                ks->axpy_f16(out, att[i], v + sl * d->kv_ld, hd);
                if (++sl == d->ring)
                    sl = 0;
            }
        }
    }
}

/* ---- tiled ------------------------------------------------------------------ */

static void fr_attn_tiled_worker(void *arg, int ith, int nth)
{
    (void)nth;
    fr_attn_job *j = arg;
    const fr_attn_desc *d = j->d;
    uint32_t hd = d->head_dim, grp = d->n_head / d->n_head_kv;
    size_t q_dim = (size_t)d->n_head * hd, esz = d->kv_type == FR_TYPE_F16 ? 2 : 4;
    int64_t n_units = (int64_t)j->n_blocks * d->n_head_kv;
    for (;;) {
        int64_t w = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (w >= n_units)
            break;
        /* last block first; the kv heads of a block one after the other */
        uint32_t blk = j->n_blocks - 1 - (uint32_t)(w / d->n_head_kv);
        uint32_t kvh = (uint32_t)(w % d->n_head_kv);
        uint32_t t0 = d->blocks[blk], t1 = d->blocks[blk + 1];
        size_t base = ((size_t)d->seq[t0] * d->seq_ld + (size_t)kvh * hd) * esz;
        fr_attn_unit u = {
            .q = d->q + (size_t)t0 * q_dim + (size_t)kvh * grp * hd,
            .out = d->out + (size_t)t0 * q_dim + (size_t)kvh * grp * hd,
            .q_ld = (int64_t)q_dim,
            .n_tok = (int)(t1 - t0),
            .grp = (int)grp,
            .hd = (int)hd,
            .lim = d->pos + t0,
            .k = (const uint8_t *)d->k + base,
            .v = (const uint8_t *)d->v + base,
            .kv_ld = d->kv_ld,
            .f16 = d->kv_type == FR_TYPE_F16,
            .scale = 1.0f / d->kq_div,
            .window = (int32_t)d->window,
            .ring = d->ring,
            .sinks = d->sinks ? d->sinks + (size_t)kvh * grp : NULL,
        };
        j->ks->attn_tile(&u, j->scratch[ith]);
    }
}

/* Cuts the batch into blocks of consecutive tokens of one sequence, at most
 * per tokens each; returns the number of blocks. */
static uint32_t fr_attn_blocks(const fr_attn_desc *d, uint32_t per)
{
    uint32_t n = 0;
    for (uint32_t t = 0; t < d->n_tok; t++)
        if (t == 0 || d->seq[t] != d->seq[t - 1] || t - d->blocks[n - 1] >= per)
            d->blocks[n++] = t;
    d->blocks[n] = d->n_tok;
    return n;
}

void fr_attention(fr_pool *pool, const fr_kernel_set *ks, const fr_attn_desc *d,
                  void *const *scratch)
{
    fr_attn_job j = {d, ks, scratch, 0, 0};
    atomic_init(&j.next, 0);
    uint32_t grp = d->n_head / d->n_head_kv;
    if (ks->attn_tile && d->head_dim <= FR_ATTN_MAX_HD && d->head_dim % 8 == 0 &&
        grp <= FR_ATTN_MAX_ROWS) {
        j.n_blocks = fr_attn_blocks(d, FR_ATTN_MAX_ROWS / grp);
        fr_pool_run_dynamic(pool, fr_attn_tiled_worker, &j);
    } else {
        fr_pool_run_dynamic(pool, fr_attn_rows_worker, &j);
    }
}
