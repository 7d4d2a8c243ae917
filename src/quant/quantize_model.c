/*
 * quantize_model.c - converts a whole GGUF model to a target file type.
 *
 * Plan first, write second: every tensor's type is chosen (plan.c) and every
 * conversion is checked to be possible before the output file is created, so
 * the common failures (an IQ tensor we cannot decode, an already-quantized
 * model) leave nothing behind. Metadata is copied key by key in file order,
 * then general.file_type and general.quantization_version are set, exactly
 * as llama-quantize does. Tensors that keep their type are written straight
 * from the input mapping; converted ones are produced by the writer's fill
 * callback, one tensor at a time, so memory stays at one output tensor plus
 * a small f32 buffer per thread.
 *
 * Threads split a tensor's rows in chunks taken from an atomic counter (rows
 * are independent: every block lies inside one row). Each chunk is decoded
 * to f32 and encoded row by row, so the bytes do not depend on the thread
 * count. Only the calling thread reports progress. Rejected: one thread per
 * tensor (a model's largest tensor, often the embeddings, would run alone).
 */
#include "quant/plan.h"

#include <frugal/tensor.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_VALUES                                                                               \
    65536 /* values per work item: big enough to amortise, small enough to balance */

typedef struct qjob {
    const fr_gguf_tensor *t;
    fr_type to;
    uint8_t *dst;
    int64_t row_len, n_rows, rows_per_chunk;
    uint64_t row_in, row_out; /* bytes per row, source and destination */
    atomic_llong next_row;
    atomic_llong rows_done;
    atomic_bool failed;
    pthread_mutex_t mu;
    fr_err err; /* first failure, under mu */
    /* progress, used by the calling thread only */
    const fr_quant_params *p;
    uint64_t done_before, total;
} qjob;

static void job_fail(qjob *j, const fr_err *e, int64_t row)
{
    pthread_mutex_lock(&j->mu);
    if (!atomic_load(&j->failed)) {
        j->err = *e;
        /* the writer adds the file and tensor name */
        fr_err_prefix(&j->err, "row %" PRId64, row);
        atomic_store(&j->failed, true);
    }
    pthread_mutex_unlock(&j->mu);
}

static void job_run(qjob *j, bool caller)
{
    float *buf = malloc((size_t)(j->rows_per_chunk * j->row_len) * sizeof *buf);
    if (!buf) {
        fr_err e;
        fr_err_set(&e, FR_E_NOMEM, "out of memory for a %" PRId64 "-value work buffer",
                   j->rows_per_chunk * j->row_len);
        job_fail(j, &e, atomic_load(&j->next_row));
        return;
    }
    const uint8_t *src = j->t->data;
    for (;;) {
        if (atomic_load(&j->failed))
            break;
        int64_t r0 = atomic_fetch_add(&j->next_row, j->rows_per_chunk);
        if (r0 >= j->n_rows)
            break;
        int64_t nr = j->n_rows - r0 < j->rows_per_chunk ? j->n_rows - r0 : j->rows_per_chunk;
        fr_err e;
        if (fr_dequantize(j->t->type, src + (uint64_t)r0 * j->row_in, buf, nr * j->row_len, &e)) {
            job_fail(j, &e, r0);
            break;
        }
        bool bad = false;
        for (int64_t r = 0; r < nr && !bad; r++) {
            if (fr_quantize(j->to, buf + r * j->row_len, j->dst + (uint64_t)(r0 + r) * j->row_out,
                            j->row_len, &e)) {
                job_fail(j, &e, r0 + r);
                bad = true;
            }
        }
        if (bad)
            break;
        long long done = atomic_fetch_add(&j->rows_done, nr) + nr;
        if (caller && j->p->progress)
            j->p->progress(j->p->progress_user, j->done_before + (uint64_t)done * j->row_in,
                           j->total);
    }
    free(buf);
}

static void *job_thread(void *arg)
{
    job_run(arg, false);
    return NULL;
}

typedef struct qctx {
    const fr_gguf *src;
    const fr_type *types;
    const fr_quant_params *p;
    uint64_t done, total; /* input bytes converted so far / in all */
} qctx;

static int64_t n_values(const fr_gguf_tensor *t)
{
    int64_t n = 1;
    for (uint32_t d = 0; d < FR_GGUF_MAX_DIMS; d++)
        n *= t->ne[d]; /* the reader checked the product for overflow */
    return n;
}

static fr_status fill(void *user, int64_t index, void *dst, uint64_t nbytes, fr_err *err)
{
    qctx *c = user;
    const fr_gguf_tensor *t = fr_gguf_tensor_at(c->src, index);
    qjob j;
    memset(&j, 0, sizeof j);
    j.t = t;
    j.to = c->types[index];
    j.dst = dst;
    j.row_len = t->ne[0];
    j.n_rows = n_values(t) / t->ne[0];
    j.rows_per_chunk = j.row_len >= CHUNK_VALUES ? 1 : CHUNK_VALUES / j.row_len;
    j.row_in = fr_type_row_bytes(t->type, j.row_len);
    j.row_out = fr_type_row_bytes(j.to, j.row_len);
    j.p = c->p;
    j.done_before = c->done;
    j.total = c->total;
    if (j.row_out * (uint64_t)j.n_rows != nbytes)
        return fr_err_set(err, FR_E_INTERNAL,
                          "tensor '%s': %" PRIu64 " bytes planned, %" PRIu64 " given by the writer",
                          t->name, j.row_out * (uint64_t)j.n_rows, nbytes);
    atomic_init(&j.next_row, 0);
    atomic_init(&j.rows_done, 0);
    atomic_init(&j.failed, false);
    pthread_mutex_init(&j.mu, NULL);

    /* No more threads than chunks. */
    int64_t chunks = (j.n_rows + j.rows_per_chunk - 1) / j.rows_per_chunk;
    int nt = c->p->n_threads > 1 ? c->p->n_threads : 1;
    if (nt > chunks)
        nt = (int)chunks;
    pthread_t *th = nt > 1 ? calloc((size_t)nt - 1, sizeof *th) : NULL;
    int started = 0;
    for (int i = 0; th && i < nt - 1; i++) {
        if (pthread_create(&th[i], NULL, job_thread, &j) != 0)
            break; /* run with the threads we have */
        started++;
    }
    job_run(&j, true);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&j.mu);
    if (atomic_load(&j.failed)) {
        if (err)
            *err = j.err;
        return j.err.code;
    }
    c->done += t->nbytes;
    return FR_OK;
}

/* Checks that each planned conversion can be done, before any output. */
static fr_status check_plan(const fr_gguf *src, const fr_type *types, const fr_quant_params *p,
                            fr_err *err)
{
    for (int64_t i = 0; i < fr_gguf_n_tensors(src); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(src, i);
        if (types[i] == t->type)
            continue;
        const fr_type_info *from = fr_type_get(t->type);
        if (!from || !from->supported)
            return fr_err_set(err, FR_E_UNSUPPORTED,
                              "tensor '%s' is stored as %s, which frugal cannot decode; "
                              "quantize from the model's F16, BF16 or F32 file instead",
                              t->name, fr_type_name(t->type));
        if (from->quantized && !p->allow_requantize)
            return fr_err_set(err, FR_E_UNSUPPORTED,
                              "tensor '%s' is already quantized (%s); quantizing it again to %s "
                              "adds the errors of both: start from the F16, BF16 or F32 model, "
                              "or pass --allow-requantize",
                              t->name, from->name, fr_type_name(types[i]));
        if (!fr_can_quantize(types[i]))
            return fr_err_set(err, FR_E_UNSUPPORTED, "tensor '%s': frugal cannot produce type %s",
                              t->name, fr_type_name(types[i]));
    }
    return FR_OK;
}

fr_status fr_quantize_gguf(const fr_gguf *src, const char *out_path, const char *const *protect,
                           size_t n_protect, const fr_quant_params *p, fr_quant_stats *stats,
                           fr_err *err)
{
    int64_t n = fr_gguf_n_tensors(src);
    fr_type *types = calloc(n > 0 ? (size_t)n : 1, sizeof *types);
    bool *fallback = calloc(n > 0 ? (size_t)n : 1, sizeof *fallback);
    fr_gguf_writer *w = NULL;
    fr_status st;
    if (!types || !fallback) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for %" PRId64 " tensors", n);
        goto out;
    }
    st = fr_quant_plan_ex(src, p->ftype, types, fallback, err);
    if (st)
        goto out;
    st = check_plan(src, types, p, err);
    if (st)
        goto out;
    uint32_t n_split = 1;
    if (fr_gguf_get_u32(src, "split.count", &n_split, NULL) == FR_OK && n_split > 1) {
        st = fr_err_set(err, FR_E_UNSUPPORTED,
                        "this is part of a model split into %u files; merge the parts first "
                        "(llama-gguf-split --merge) and quantize the merged file",
                        n_split);
        goto out;
    }

    st = fr_gguf_writer_create(&w, err);
    if (st)
        goto out;
    for (int64_t i = 0; i < fr_gguf_n_kv(src) && !st; i++)
        st = fr_gguf_writer_copy_kv(w, src, i);
    if (!st) {
        fr_gguf_writer_remove(w, "split.no");
        fr_gguf_writer_remove(w, "split.count");
        fr_gguf_writer_remove(w, "split.tensors.count");
        st = fr_gguf_writer_set_u32(w, "general.quantization_version", 2);
    }
    if (!st)
        st = fr_gguf_writer_set_u32(w, "general.file_type", (uint32_t)p->ftype);
    if (st) {
        fr_err_set(err, st, "copying the metadata failed (%s)", fr_status_str(st));
        goto out;
    }

    qctx c = {src, types, p, 0, 0};
    fr_quant_stats s;
    memset(&s, 0, sizeof s);
    for (int64_t i = 0; i < n; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(src, i);
        bool conv = types[i] != t->type;
        st = fr_gguf_writer_add_tensor(w, t->name, types[i], t->n_dims, t->ne,
                                       conv ? NULL : t->data, err);
        if (st)
            goto out;
        s.n_tensors++;
        s.n_by_type[types[i]]++;
        s.bytes_in += t->nbytes;
        s.bytes_out += fr_type_row_bytes(types[i], t->ne[0]) * (uint64_t)(n_values(t) / t->ne[0]);
        if (conv) {
            s.n_converted++;
            c.total += t->nbytes;
        }
        if (fallback[i])
            s.n_fallback++;
    }
    st = fr_gguf_writer_write(w, out_path, protect, n_protect, fill, &c, err);
    if (!st && stats)
        *stats = s;
out:
    fr_gguf_writer_free(w);
    free(types);
    free(fallback);
    return st;
}

fr_status fr_quantize_model(const char *in_path, const char *out_path, const fr_quant_params *p,
                            fr_quant_stats *stats, fr_err *err)
{
    fr_gguf *g = NULL;
    fr_status st = fr_gguf_open(in_path, &g, err);
    if (st)
        return st;
    const char *protect[1] = {in_path};
    st = fr_quantize_gguf(g, out_path, protect, 1, p, stats, err);
    fr_gguf_free(g);
    return st;
}
