/*
 * checkpoint.c - the adapter file and checkpoint directories (see tune.h).
 *
 * A checkpoint directory holds exactly what the next step depends on:
 *   adapter.gguf    the LoRA pairs in llama.cpp's format, F32 (written by
 *                   fr_lora_write, so it is also a usable adapter);
 *   optimizer.gguf  tensors adamw.m and adamw.v, [n_params] F32 each, in the
 *                   flat layout of tlora.h;
 *   state.json      step, AdamW step count, epoch, cursor, RNG state, every
 *                   training parameter, and fingerprints of the model and
 *                   the training data. Doubles are written with 17
 *                   significant digits and 64-bit integers as hex strings,
 *                   so everything reads back exactly.
 * The three files are written into "<dir>.tmp-<pid>" and the directory is
 * renamed into place (an older checkpoint of the same name is moved aside
 * first and removed after), so a crash leaves either the old or the new
 * checkpoint, never a mix. Loading validates everything into temporaries
 * before touching the tuner.
 *
 * Data-parallel runs (fr_tuner_set_comm): rank 0 alone writes, after the
 * ranks have checked that they hold the same adapter; every rank returns
 * rank 0's status. On resume every rank reads the checkpoint (so on several
 * machines it must be reachable at the same path, like the model and the
 * data), and all commit it or none does. state.json records the rank
 * count: the global batch and the data order depend on it, so a checkpoint
 * resumes only with the same number of ranks.
 *
 * Rejected: one binary blob for everything (not inspectable, and the
 * adapter inside it would not be loadable by llama.cpp).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <frugal/gguf.h>
#include <frugal/lora.h>

#include "base/file.h"
#include "model/model_impl.h"
#include "tune/comm.h"
#include "tune/tuner_impl.h"

#define FR_CKPT_FORMAT "frugal-tune-checkpoint"
#define FR_CKPT_VERSION 1

/* ---- the adapter ------------------------------------------------------------------- */

static fr_status fr_write_adapter(const fr_tuner *t, const char *path, fr_err *err)
{
    const fr_tlora *s = t->set;
    size_t n = 0;
    for (uint32_t l = 0; l < s->n_layer; l++)
        for (int k = 0; k < FR_TARGET_COUNT; k++)
            n += fr_tlora_slot_at(s, l, k)->on;
    fr_lora_tensor *ts = calloc(n ? n : 1, sizeof *ts);
    char(*names)[64] = calloc(n ? n : 1, sizeof *names);
    if (!ts || !names) {
        free(ts);
        free(names);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    size_t i = 0;
    for (uint32_t l = 0; l < s->n_layer; l++)
        for (int k = 0; k < FR_TARGET_COUNT; k++) {
            const fr_tlora_slot *sl = fr_tlora_slot_at(s, l, k);
            if (!sl->on)
                continue;
            fr_tlora_name(k, l, names[i], sizeof names[i]);
            ts[i].name = names[i];
            ts[i].n_in = sl->n_in;
            ts[i].n_out = sl->n_out;
            ts[i].rank = s->rank;
            ts[i].a = s->param + sl->a_off;
            ts[i].b = s->param + sl->b_off;
            i++;
        }
    const char *protect[1] = {fr_gguf_path(fr_model_gguf(t->m))};
    fr_lora_write_params wp;
    memset(&wp, 0, sizeof wp);
    wp.base = t->m;
    wp.alpha = s->alpha;
    wp.type = FR_TYPE_F32;
    wp.protect = protect;
    wp.n_protect = protect[0] ? 1 : 0;
    fr_status st = fr_lora_write(path, &wp, ts, n, err);
    free(ts);
    free(names);
    return st;
}

/* Collective with several ranks: they must hold the same adapter (they
 * apply the same updates to the same sums); rank 0 writes it and every
 * rank returns its status. */
static fr_status fr_ranks_same(const fr_tuner *t, fr_err *err)
{
    if (fr_comm_same(t->comm, t->set->param, (size_t)t->set->n_params * sizeof(float)))
        return FR_OK;
    return fr_err_set(err, FR_E_INTERNAL,
                      "the ranks' adapters differ (the MPI sums gave ranks different bits); "
                      "nothing was written");
}

fr_status fr_tuner_save_adapter(const fr_tuner *t, const char *path, fr_err *err)
{
    fr_status st = fr_ranks_same(t, err);
    if (st)
        return st;
    if (fr_tune_comm_rank(t->comm) == 0)
        st = fr_write_adapter(t, path, err);
    return fr_tune_comm_agree(t->comm, st, err);
}

/* ---- fingerprints -------------------------------------------------------------------- */

static uint64_t fr_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Tensor names, types, shapes and the first bytes of each tensor. */
uint64_t fr_tune_model_fingerprint(const fr_model *m)
{
    const fr_gguf *g = fr_model_gguf(m);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        h = fr_fnv(h, t->name, strlen(t->name) + 1);
        h = fr_fnv(h, &t->type, sizeof t->type);
        h = fr_fnv(h, t->ne, sizeof t->ne);
        h = fr_fnv(h, t->data, t->nbytes < 256 ? (size_t)t->nbytes : 256);
    }
    return h;
}

/* ---- state.json ------------------------------------------------------------------------ */

static json_t *fr_hex(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%016llx", (unsigned long long)v);
    return json_string(b);
}

static json_t *fr_params_json(const fr_tune_params *p)
{
    char targets[64];
    fr_tune_targets_str(p->targets, targets, sizeof targets);
    json_t *o = json_object();
    json_object_set_new(o, "rank", json_integer(p->rank));
    json_object_set_new(o, "alpha", json_real(p->alpha));
    json_object_set_new(o, "targets", json_string(targets));
    json_object_set_new(o, "n_ctx", json_integer(p->n_ctx));
    json_object_set_new(o, "batch", json_integer(p->batch));
    json_object_set_new(o, "grad_accum", json_integer(p->grad_accum));
    json_object_set_new(o, "total_steps", json_integer((json_int_t)p->total_steps));
    json_object_set_new(o, "lr", json_real(p->lr));
    json_object_set_new(o, "beta1", json_real(p->beta1));
    json_object_set_new(o, "beta2", json_real(p->beta2));
    json_object_set_new(o, "eps", json_real(p->eps));
    json_object_set_new(o, "weight_decay", json_real(p->weight_decay));
    json_object_set_new(o, "clip", json_real(p->clip));
    json_object_set_new(o, "schedule", json_string(fr_lr_schedule_name(p->schedule)));
    json_object_set_new(o, "warmup", json_integer(p->warmup));
    json_object_set_new(o, "min_lr_ratio", json_real(p->min_lr_ratio));
    json_object_set_new(o, "seed", fr_hex(p->seed));
    json_object_set_new(o, "threads", json_integer(p->n_threads));
    json_object_set_new(o, "logit_rows", json_integer(p->logit_rows));
    json_object_set_new(o, "ranks", json_integer(p->ranks ? p->ranks : 1));
    return o;
}

typedef struct fr_jr {
    const char *file;
    fr_err *err;
    fr_status st;
} fr_jr;

static json_t *fr_jget(fr_jr *r, json_t *o, const char *key, json_type type)
{
    json_t *v = json_object_get(o, key);
    bool ok = v && (type == JSON_REAL ? json_is_number(v) : json_typeof(v) == type);
    if (!ok && !r->st)
        r->st = fr_err_set(r->err, FR_E_FORMAT, "%s: key \"%s\" is missing or has the wrong type",
                           r->file, key);
    return ok ? v : NULL;
}

static uint64_t fr_jint(fr_jr *r, json_t *o, const char *key, uint64_t max)
{
    json_t *v = fr_jget(r, o, key, JSON_INTEGER);
    json_int_t x = v ? json_integer_value(v) : 0;
    if (v && (x < 0 || (uint64_t)x > max) && !r->st)
        r->st = fr_err_set(r->err, FR_E_FORMAT, "%s: \"%s\" = %lld is out of range", r->file, key,
                           (long long)x);
    return x < 0 ? 0 : (uint64_t)x;
}

static double fr_jreal(fr_jr *r, json_t *o, const char *key)
{
    json_t *v = fr_jget(r, o, key, JSON_REAL);
    return v ? json_number_value(v) : 0.0;
}

static uint64_t fr_jhex(fr_jr *r, json_t *o, const char *key)
{
    json_t *v = fr_jget(r, o, key, JSON_STRING);
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 16);
    if (errno || !end || *end || end == s) {
        if (!r->st)
            r->st = fr_err_set(r->err, FR_E_FORMAT, "%s: \"%s\" is not a hex number", r->file,
                               key);
        return 0;
    }
    return x;
}

static const char *fr_jstr(fr_jr *r, json_t *o, const char *key)
{
    json_t *v = fr_jget(r, o, key, JSON_STRING);
    return v ? json_string_value(v) : "";
}

static void fr_params_from_json(fr_jr *r, json_t *o, fr_tune_params *p)
{
    *p = fr_tune_default_params();
    p->rank = (uint32_t)fr_jint(r, o, "rank", 1024);
    p->alpha = (float)fr_jreal(r, o, "alpha");
    if (!r->st && fr_tune_parse_targets(fr_jstr(r, o, "targets"), &p->targets, r->err))
        r->st = fr_err_prefix(r->err, "%s", r->file);
    p->n_ctx = (uint32_t)fr_jint(r, o, "n_ctx", 1u << 20);
    p->batch = (uint32_t)fr_jint(r, o, "batch", 4096);
    p->grad_accum = (uint32_t)fr_jint(r, o, "grad_accum", 65536);
    p->total_steps = fr_jint(r, o, "total_steps", UINT64_MAX >> 1);
    p->lr = fr_jreal(r, o, "lr");
    p->beta1 = fr_jreal(r, o, "beta1");
    p->beta2 = fr_jreal(r, o, "beta2");
    p->eps = fr_jreal(r, o, "eps");
    p->weight_decay = fr_jreal(r, o, "weight_decay");
    p->clip = fr_jreal(r, o, "clip");
    if (!r->st && !fr_lr_schedule_parse(fr_jstr(r, o, "schedule"), &p->schedule))
        r->st = fr_err_set(r->err, FR_E_FORMAT, "%s: unknown schedule", r->file);
    p->warmup = (uint32_t)fr_jint(r, o, "warmup", UINT32_MAX);
    p->min_lr_ratio = fr_jreal(r, o, "min_lr_ratio");
    p->seed = fr_jhex(r, o, "seed");
    p->n_threads = (uint32_t)fr_jint(r, o, "threads", 1024);
    p->logit_rows = (uint32_t)fr_jint(r, o, "logit_rows", UINT32_MAX);
    /* checkpoints from before MPI have no "ranks": one process */
    p->ranks = json_object_get(o, "ranks") ? (uint32_t)fr_jint(r, o, "ranks", 65536) : 1;
}

static bool fr_params_same(const fr_tune_params *a, const fr_tune_params *b)
{
    return a->rank == b->rank && a->alpha == b->alpha && a->targets == b->targets &&
           a->n_ctx == b->n_ctx && a->batch == b->batch && a->grad_accum == b->grad_accum &&
           a->total_steps == b->total_steps && a->lr == b->lr && a->beta1 == b->beta1 &&
           a->beta2 == b->beta2 && a->eps == b->eps && a->weight_decay == b->weight_decay &&
           a->clip == b->clip && a->schedule == b->schedule && a->warmup == b->warmup &&
           a->min_lr_ratio == b->min_lr_ratio && a->seed == b->seed &&
           a->logit_rows == b->logit_rows;
}

/* ---- writing ------------------------------------------------------------------------------ */

static fr_status fr_write_text(const char *path, const char *text, fr_err *err)
{
    fr_atomic_file *f;
    fr_status st = fr_atomic_open(path, NULL, 0, &f, err);
    if (st)
        return st;
    if ((st = fr_atomic_write(f, text, strlen(text), err))) {
        fr_atomic_abort(f);
        return st;
    }
    return fr_atomic_commit(f, err);
}

static fr_status fr_write_optimizer(const fr_tuner *t, const char *path, fr_err *err)
{
    fr_gguf_writer *w;
    fr_status st = fr_gguf_writer_create(&w, err);
    if (st)
        return st;
    int64_t ne[1] = {t->opt.n};
    if (!(st = fr_gguf_writer_set_str(w, "general.type", "frugal-tune-optimizer")) &&
        !(st = fr_gguf_writer_set_u64(w, "adamw.step", t->opt.t)) &&
        !(st = fr_gguf_writer_add_tensor(w, "adamw.m", FR_TYPE_F32, 1, ne, t->opt.m, err)) &&
        !(st = fr_gguf_writer_add_tensor(w, "adamw.v", FR_TYPE_F32, 1, ne, t->opt.v, err)))
        st = fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, err);
    else if (st && err && !err->msg[0])
        fr_err_set(err, st, "writing %s", path);
    fr_gguf_writer_free(w);
    return st;
}

/* Removes a checkpoint directory we wrote (only its known files). */
static void fr_remove_ckpt_dir(const char *dir)
{
    static const char *const files[] = {"adapter.gguf", "optimizer.gguf", "state.json"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static fr_status fr_save_checkpoint(const fr_tuner *t, const fr_dataset *train,
                                    const char *dir, const char *extra_json, fr_err *err);

fr_status fr_tuner_save_checkpoint(const fr_tuner *t, const fr_dataset *train, const char *dir,
                                   const char *extra_json, fr_err *err)
{
    fr_status st = fr_ranks_same(t, err);
    if (st)
        return st;
    if (fr_tune_comm_rank(t->comm) == 0)
        st = fr_save_checkpoint(t, train, dir, extra_json, err);
    return fr_tune_comm_agree(t->comm, st, err);
}

static fr_status fr_save_checkpoint(const fr_tuner *t, const fr_dataset *train,
                                    const char *dir, const char *extra_json, fr_err *err)
{
    if (!dir || !*dir || strlen(dir) > 4000)
        return fr_err_set(err, FR_E_INVALID, "checkpoint directory name is empty or too long");
    char tmp[4100], old[4100], path[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dir, (long)getpid());
    snprintf(old, sizeof old, "%s.old-%ld", dir, (long)getpid());
    fr_remove_ckpt_dir(tmp);
    fr_status st = fr_mkdir_p(tmp, err);
    if (st)
        return fr_err_prefix(err, "checkpoint");
    json_t *extra = NULL;
    if (extra_json) {
        json_error_t je;
        extra = json_loads(extra_json, 0, &je);
        if (!extra || !json_is_object(extra)) {
            json_decref(extra);
            fr_remove_ckpt_dir(tmp);
            return fr_err_set(err, FR_E_INVALID, "checkpoint: extra state is not a JSON object");
        }
    }
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(FR_CKPT_FORMAT));
    json_object_set_new(root, "version", json_integer(FR_CKPT_VERSION));
    json_object_set_new(root, "frugal", json_string(fr_version()));
    json_object_set_new(root, "step", json_integer((json_int_t)t->step));
    json_object_set_new(root, "adam_step", json_integer((json_int_t)t->opt.t));
    json_object_set_new(root, "epoch", json_integer((json_int_t)t->epoch));
    json_object_set_new(root, "cursor", json_integer((json_int_t)t->cursor));
    json_object_set_new(root, "rng", fr_hex(t->rng));
    json_object_set_new(root, "lr_next", json_real(fr_lr_at(&t->p, t->step)));
    json_object_set_new(root, "params", fr_params_json(&t->p));
    json_t *model = json_object();
    const char *mp = fr_gguf_path(fr_model_gguf(t->m));
    json_object_set_new(model, "path", json_string(mp ? mp : ""));
    json_object_set_new(model, "fingerprint", fr_hex(fr_tune_model_fingerprint(t->m)));
    json_object_set_new(model, "n_params", json_integer((json_int_t)t->set->n_params));
    json_object_set_new(root, "model", model);
    json_t *data = json_object();
    json_object_set_new(data, "samples", json_integer((json_int_t)fr_dataset_count(train)));
    json_object_set_new(data, "fingerprint", fr_hex(fr_dataset_fingerprint(train)));
    json_object_set_new(root, "data", data);
    if (extra)
        json_object_set_new(root, "extra", extra);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text) {
        fr_remove_ckpt_dir(tmp);
        return fr_err_set(err, FR_E_NOMEM, "out of memory writing the checkpoint state");
    }
    snprintf(path, sizeof path, "%s/adapter.gguf", tmp);
    st = fr_write_adapter(t, path, err);
    if (!st) {
        snprintf(path, sizeof path, "%s/optimizer.gguf", tmp);
        st = fr_write_optimizer(t, path, err);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/state.json", tmp);
        st = fr_write_text(path, text, err);
    }
    free(text);
    if (st) {
        fr_remove_ckpt_dir(tmp);
        return fr_err_prefix(err, "writing checkpoint %s", dir);
    }
    struct stat sb;
    bool had_old = stat(dir, &sb) == 0;
    if (had_old && rename(dir, old) != 0) {
        int e = errno;
        fr_remove_ckpt_dir(tmp);
        return fr_err_set(err, FR_E_IO, "checkpoint %s: cannot move the previous one aside: %s",
                          dir, strerror(e));
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (had_old)
            rename(old, dir);
        fr_remove_ckpt_dir(tmp);
        return fr_err_set(err, FR_E_IO, "checkpoint %s: rename failed: %s", dir, strerror(e));
    }
    if (had_old)
        fr_remove_ckpt_dir(old);
    return FR_OK;
}

/* ---- reading -------------------------------------------------------------------------------- */

static bool fr_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir itself when it holds state.json, else its "step-N" child with the highest N. */
static fr_status fr_resolve(const char *dir, char **out, fr_err *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/state.json", dir);
    if (fr_is_file(p)) {
        *out = strdup(dir);
        return *out ? FR_OK : fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    DIR *d = opendir(dir);
    if (!d)
        return fr_err_set(err, FR_E_NOTFOUND, "checkpoint %s: %s", dir, strerror(errno));
    long long best = -1;
    char best_name[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "step-", 5) != 0)
            continue;
        char *end = NULL;
        long long n = strtoll(e->d_name + 5, &end, 10);
        if (!end || *end || end == e->d_name + 5 || n < 0)
            continue;
        snprintf(p, sizeof p, "%s/%s/state.json", dir, e->d_name);
        if (n > best && fr_is_file(p)) {
            best = n;
            snprintf(best_name, sizeof best_name, "%s", e->d_name);
        }
    }
    closedir(d);
    if (best < 0)
        return fr_err_set(err, FR_E_NOTFOUND,
                          "%s is not a checkpoint (no state.json) and holds no step-N "
                          "checkpoints", dir);
    size_t n = strlen(dir) + strlen(best_name) + 2;
    *out = malloc(n);
    if (!*out)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    snprintf(*out, n, "%s/%s", dir, best_name);
    return FR_OK;
}

static fr_status fr_read_state(const char *dir, json_t **root, fr_err *err)
{
    char path[4200], *text = NULL;
    size_t size;
    snprintf(path, sizeof path, "%s/state.json", dir);
    fr_status st = fr_read_file(path, 1u << 20, &text, &size, err);
    if (st)
        return st;
    json_error_t je;
    *root = json_loadb(text, size, 0, &je);
    free(text);
    if (!*root || !json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return fr_err_set(err, FR_E_FORMAT, "%s: not valid JSON (line %d: %s)", path, je.line,
                          je.text);
    }
    json_t *f = json_object_get(*root, "format"), *v = json_object_get(*root, "version");
    if (!json_is_string(f) || strcmp(json_string_value(f), FR_CKPT_FORMAT) != 0 ||
        !json_is_integer(v) || json_integer_value(v) != FR_CKPT_VERSION) {
        json_decref(*root);
        *root = NULL;
        return fr_err_set(err, FR_E_FORMAT, "%s: not a frugal tune checkpoint of version %d",
                          path, FR_CKPT_VERSION);
    }
    return FR_OK;
}

fr_status fr_tune_checkpoint_read(const char *dir, fr_tune_params *p, char **resolved,
                                  char **extra_json, fr_err *err)
{
    if (resolved)
        *resolved = NULL;
    if (extra_json)
        *extra_json = NULL;
    char *rdir = NULL;
    fr_status st = fr_resolve(dir, &rdir, err);
    if (st)
        return st;
    json_t *root = NULL;
    if ((st = fr_read_state(rdir, &root, err))) {
        free(rdir);
        return st;
    }
    char file[4200];
    snprintf(file, sizeof file, "%s/state.json", rdir);
    fr_jr r = {file, err, FR_OK};
    json_t *po = fr_jget(&r, root, "params", JSON_OBJECT);
    if (po)
        fr_params_from_json(&r, po, p);
    st = r.st;
    if (!st && extra_json) {
        json_t *ex = json_object_get(root, "extra");
        if (ex) {
            *extra_json = json_dumps(ex, JSON_COMPACT | JSON_REAL_PRECISION(17));
            if (!*extra_json)
                st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        }
    }
    json_decref(root);
    if (!st && resolved)
        *resolved = rdir;
    else
        free(rdir);
    return st;
}

/* Reads a [n] F32 tensor of the optimizer file into dst. */
static fr_status fr_read_vec(const fr_gguf *g, const char *path, const char *name, float *dst,
                             int64_t n, fr_err *err)
{
    const fr_gguf_tensor *t = fr_gguf_find_tensor(g, name);
    if (!t || t->type != FR_TYPE_F32 || t->n_dims != 1 || t->ne[0] != n)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: tensor %s is missing or is not F32 [%lld] (the checkpoint was "
                          "made with other LoRA settings)", path, name, (long long)n);
    memcpy(dst, t->data, (size_t)n * sizeof(float));
    return FR_OK;
}

/* What a checkpoint restores, read and validated before anything changes. */
typedef struct fr_ckpt_state {
    float *param, *m, *v; /* [n_params] each */
    uint64_t adam_t, step, epoch, cursor, rng;
} fr_ckpt_state;

static fr_status fr_read_checkpoint(fr_tuner *t, const fr_dataset *train, const char *dir,
                                    fr_ckpt_state *cs, fr_err *err);

fr_status fr_tuner_load_checkpoint(fr_tuner *t, const fr_dataset *train, const char *dir,
                                   fr_err *err)
{
    fr_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    fr_status st = fr_read_checkpoint(t, train, dir, &cs, err);
    /* every rank reads its own copy; all commit or none does */
    st = fr_tune_comm_agree(t->comm, st, err);
    if (!st) {
        size_t bytes = (size_t)t->set->n_params * sizeof(float);
        memcpy(t->set->param, cs.param, bytes);
        memcpy(t->opt.m, cs.m, bytes);
        memcpy(t->opt.v, cs.v, bytes);
        t->opt.t = cs.adam_t;
        t->step = cs.step;
        t->epoch = cs.epoch;
        t->cursor = cs.cursor;
        t->rng = cs.rng;
    }
    free(cs.param);
    free(cs.m);
    free(cs.v);
    return st;
}

static fr_status fr_read_checkpoint(fr_tuner *t, const fr_dataset *train, const char *dir,
                                    fr_ckpt_state *cs, fr_err *err)
{
    json_t *root = NULL;
    fr_status st = fr_read_state(dir, &root, err);
    if (st)
        return st;
    char file[4200], path[4200];
    snprintf(file, sizeof file, "%s/state.json", dir);
    fr_jr r = {file, err, FR_OK};
    fr_tune_params p;
    memset(&p, 0, sizeof p);
    json_t *po = fr_jget(&r, root, "params", JSON_OBJECT);
    if (po)
        fr_params_from_json(&r, po, &p);
    uint64_t step = fr_jint(&r, root, "step", UINT64_MAX >> 1);
    uint64_t adam_t = fr_jint(&r, root, "adam_step", UINT64_MAX >> 1);
    uint64_t epoch = fr_jint(&r, root, "epoch", UINT64_MAX >> 1);
    uint64_t cursor = fr_jint(&r, root, "cursor", UINT64_MAX >> 1);
    uint64_t rng = fr_jhex(&r, root, "rng");
    json_t *mo = fr_jget(&r, root, "model", JSON_OBJECT);
    json_t *dobj = fr_jget(&r, root, "data", JSON_OBJECT);
    uint64_t mfp = mo ? fr_jhex(&r, mo, "fingerprint") : 0;
    uint64_t dfp = dobj ? fr_jhex(&r, dobj, "fingerprint") : 0;
    uint64_t dn = dobj ? fr_jint(&r, dobj, "samples", UINT64_MAX >> 1) : 0;
    json_decref(root);
    if ((st = r.st))
        return st;
    if ((p.ranks ? p.ranks : 1) != (t->p.ranks ? t->p.ranks : 1))
        return fr_err_set(err, FR_E_INVALID,
                          "%s: the checkpoint was written by a run on %u rank%s, this run has "
                          "%u; resume with the same number of ranks (the global batch and the "
                          "data order depend on it)", file, p.ranks ? p.ranks : 1,
                          p.ranks > 1 ? "s" : "", t->p.ranks ? t->p.ranks : 1);
    if (!fr_params_same(&p, &t->p))
        return fr_err_set(err, FR_E_INVALID,
                          "%s: the tuner was created with other training settings than the "
                          "checkpoint's (create it from fr_tune_checkpoint_read)", file);
    if (mfp != fr_tune_model_fingerprint(t->m))
        return fr_err_set(err, FR_E_INVALID,
                          "%s: the checkpoint was made with another base model; resume with the "
                          "same -m file", file);
    if (dn != fr_dataset_count(train) || dfp != fr_dataset_fingerprint(train))
        return fr_err_set(err, FR_E_INVALID,
                          "%s: the training data differ from the checkpoint's (%llu samples "
                          "then, %zu now); resume with the same data, --format, --ctx and "
                          "validation options", file, (unsigned long long)dn,
                          fr_dataset_count(train));
    if (step > p.total_steps || cursor > fr_dataset_count(train) || adam_t != step)
        return fr_err_set(err, FR_E_FORMAT, "%s: inconsistent step/cursor values", file);

    int64_t n = t->set->n_params;
    float *param = malloc((size_t)n * sizeof(float));
    float *m = malloc((size_t)n * sizeof(float)), *v = malloc((size_t)n * sizeof(float));
    fr_gguf *g = NULL;
    fr_lora *a = NULL;
    if (!param || !m || !v) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    snprintf(path, sizeof path, "%s/optimizer.gguf", dir);
    if ((st = fr_gguf_open(path, &g, err)) ||
        (st = fr_read_vec(g, path, "adamw.m", m, n, err)) ||
        (st = fr_read_vec(g, path, "adamw.v", v, n, err)))
        goto done;
    snprintf(path, sizeof path, "%s/adapter.gguf", dir);
    if ((st = fr_lora_load(path, t->m, &a, err)))
        goto done;
    size_t filled = 0, want = 0;
    for (uint32_t l = 0; l < t->set->n_layer; l++)
        for (int k = 0; k < FR_TARGET_COUNT; k++)
            want += fr_tlora_slot_at(t->set, l, k)->on;
    for (size_t i = 0; i < fr_lora_n_pairs(a); i++) {
        fr_lora_pair_info pi;
        if ((st = fr_lora_pair(a, i, &pi, err)))
            goto done;
        uint32_t l = 0;
        int k = fr_tlora_target_of(pi.name, t->set->n_layer, &l);
        const fr_tlora_slot *sl = k >= 0 ? fr_tlora_slot_at(t->set, l, k) : NULL;
        if (!sl || !sl->on || pi.rank != t->set->rank || pi.type_a != FR_TYPE_F32 ||
            pi.type_b != FR_TYPE_F32) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "%s: tensor %s does not match the run's LoRA settings (rank %u, "
                            "targets, F32)", path, pi.name, t->set->rank);
            goto done;
        }
        memcpy(param + sl->a_off, pi.a, (size_t)(sl->n_in * t->set->rank) * sizeof(float));
        memcpy(param + sl->b_off, pi.b, (size_t)(sl->n_out * t->set->rank) * sizeof(float));
        filled++;
    }
    if (filled != want) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: %zu LoRA pairs, the run has %zu", path, filled,
                        want);
        goto done;
    }
    /* everything validated: the caller commits */
    cs->param = param;
    cs->m = m;
    cs->v = v;
    param = m = v = NULL;
    cs->adam_t = adam_t;
    cs->step = step;
    cs->epoch = epoch;
    cs->cursor = cursor;
    cs->rng = rng;
    st = FR_OK;
done:
    fr_lora_free(a);
    fr_gguf_free(g);
    free(param);
    free(m);
    free(v);
    return st;
}
