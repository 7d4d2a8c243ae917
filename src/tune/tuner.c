/*
 * tuner.c - the training loop: parameters, memory estimate, one optimizer
 * step (data order, micro-batches, loss normalisation, clipping, AdamW) and
 * evaluation.
 *
 * Loss normalisation: the loss of a step is the mean cross-entropy over all
 * loss tokens of its batch * grad_accum samples. The step's samples are
 * chosen first and their loss tokens counted, so every micro-batch's
 * backward is scaled by 1 / (that count) and the accumulated gradient is
 * exactly the gradient of the step's mean, however the samples are split
 * into micro-batches.
 *
 * Data order: epoch e visits the samples in a Fisher-Yates permutation
 * drawn from splitmix64 seeded with (seed, e). A step may span the end of
 * an epoch; it then continues with the next epoch's permutation.
 *
 * Data parallelism (mpirun -np N; comm.c does the MPI): every rank holds
 * the whole adapter and computes the same list of the step's samples (the
 * permutation is a function of the seed) and the same loss-token count;
 * micro-batch mb takes samples [mb*B*N, (mb+1)*B*N) of that list, as a
 * single process with batch B*N would, and rank r runs the slice
 * [r*B, (r+1)*B) of it. After its micro-batches the ranks agree on whether
 * any was cancelled or failed (then all drop the step), sum the loss and
 * the flat gradient (set->grad is one contiguous array) and apply the same
 * clipping and AdamW update. Evaluation deals micro-batches round robin
 * and sums loss and token count. With one rank none of this costs
 * anything and the results are bit for bit those of a build without MPI.
 */
#include "tune/tuner_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"
#include "tune/comm.h"
#include "tune/rng.h"

fr_tune_params fr_tune_default_params(void)
{
    fr_tune_params p;
    memset(&p, 0, sizeof p);
    p.rank = 16;
    p.alpha = 32.0f;
    p.targets = FR_TARGETS_ALL;
    p.n_ctx = 512;
    p.batch = 1;
    p.grad_accum = 1;
    p.lr = 2e-4;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.eps = 1e-8;
    p.weight_decay = 0.0;
    p.clip = 1.0;
    p.schedule = FR_SCHED_COSINE;
    p.warmup = 0;
    p.min_lr_ratio = 0.0;
    p.seed = 42;
    return p;
}

static const char *const fr_sched_names[] = {"cosine", "linear", "constant"};

bool fr_lr_schedule_parse(const char *name, fr_lr_schedule *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, fr_sched_names[i]) == 0) {
            *out = (fr_lr_schedule)i;
            return true;
        }
    return false;
}

const char *fr_lr_schedule_name(fr_lr_schedule s)
{
    return (unsigned)s < 3 ? fr_sched_names[s] : "?";
}

int64_t fr_tune_n_params(const fr_hparams *hp, uint32_t rank, unsigned targets)
{
    int64_t E = hp->n_embd, F = hp->n_ff, QD = (int64_t)hp->n_head * hp->head_dim;
    int64_t KVD = (int64_t)hp->n_head_kv * hp->head_dim;
    int64_t io[FR_TARGET_COUNT] = {E + QD, E + KVD, E + KVD, QD + E, E + F, E + F, F + E};
    int64_t per_layer = 0;
    for (int t = 0; t < FR_TARGET_COUNT; t++)
        if (targets & (1u << t))
            per_layer += io[t];
    return per_layer * (int64_t)rank * (int64_t)hp->n_layer;
}

uint64_t fr_tune_steps_per_epoch(const fr_tune_params *p, size_t n_samples)
{
    uint64_t per = (uint64_t)(p->batch ? p->batch : 1) * (p->grad_accum ? p->grad_accum : 1) *
                   (p->ranks ? p->ranks : 1);
    return ((uint64_t)n_samples + per - 1) / per;
}

static int fr_tune_threads(const fr_tune_params *p)
{
    return p->n_threads ? (int)p->n_threads : fr_cpu_count();
}

static int64_t fr_max_in(const fr_hparams *hp)
{
    int64_t m = hp->n_embd;
    if (hp->n_ff > m)
        m = hp->n_ff;
    if ((int64_t)hp->n_head * hp->head_dim > m)
        m = (int64_t)hp->n_head * hp->head_dim;
    return m;
}

static fr_status fr_tune_check(const fr_model *m, const fr_tune_params *p, fr_err *err)
{
    const fr_hparams *hp = fr_model_hparams(m);
    if (p->rank < 1 || p->rank > 1024)
        return fr_err_set(err, FR_E_INVALID, "--rank %u is out of range (1..1024)", p->rank);
    if (!(p->alpha > 0) || !isfinite(p->alpha))
        return fr_err_set(err, FR_E_INVALID, "--alpha must be positive");
    if (!(p->targets & FR_TARGETS_ALL) || (p->targets & ~FR_TARGETS_ALL))
        return fr_err_set(err, FR_E_INVALID, "no valid LoRA targets");
    if (p->n_ctx < 1 || p->n_ctx > (1u << 20))
        return fr_err_set(err, FR_E_INVALID, "--ctx %u is out of range (1..1048576)", p->n_ctx);
    if (hp->n_ctx_train && p->n_ctx > hp->n_ctx_train)
        return fr_err_set(err, FR_E_INVALID,
                          "--ctx %u is longer than the model's context (%u tokens)", p->n_ctx,
                          hp->n_ctx_train);
    if (p->batch < 1 || p->batch > 4096 || p->grad_accum < 1 || p->grad_accum > 65536)
        return fr_err_set(err, FR_E_INVALID, "--batch (1..4096) or --grad-accum (1..65536) out "
                          "of range");
    if (p->ranks > 65536)
        return fr_err_set(err, FR_E_INVALID, "%u ranks is out of range (1..65536)", p->ranks);
    if (p->total_steps < 1)
        return fr_err_set(err, FR_E_INVALID, "the run needs at least one step");
    if (!(p->lr > 0) || !isfinite(p->lr) || !(p->beta1 >= 0 && p->beta1 < 1) ||
        !(p->beta2 >= 0 && p->beta2 < 1) || !(p->eps > 0) || !(p->weight_decay >= 0) ||
        !(p->clip >= 0) || !(p->min_lr_ratio >= 0 && p->min_lr_ratio <= 1))
        return fr_err_set(err, FR_E_INVALID,
                          "optimizer settings out of range (lr > 0, 0 <= betas < 1, eps > 0, "
                          "weight decay >= 0, clip >= 0, 0 <= min lr ratio <= 1)");
    if ((unsigned)p->schedule > FR_SCHED_CONSTANT)
        return fr_err_set(err, FR_E_INVALID, "unknown schedule");
    return FR_OK;
}

fr_status fr_tune_estimate(const fr_model *m, const fr_tune_params *p, fr_tune_mem *out,
                           fr_err *err)
{
    memset(out, 0, sizeof *out);
    fr_status st = fr_tune_check(m, p, err);
    if (st)
        return st;
    const fr_hparams *hp = fr_model_hparams(m);
    int nth = fr_tune_threads(p);
    int64_t rows = (int64_t)p->batch * p->n_ctx, chunk;
    out->n_params = fr_tune_n_params(hp, p->rank, p->targets);
    out->base = fr_model_weight_bytes(m);
    out->adapter = 8ull * (uint64_t)out->n_params;
    out->optimizer = 8ull * (uint64_t)out->n_params;
    fr_tmodel_bytes(hp, p->rank, rows, p->n_ctx, p->logit_rows, nth, &out->activations,
                    &out->logits, &chunk);
    out->scratch = (uint64_t)nth * 4ull * ((uint64_t)FR_TILE_FLOATS + (uint64_t)fr_max_in(hp)) +
                   (uint64_t)rows * 12 + 8ull * (p->batch + 1);
    out->total = out->base + out->adapter + out->optimizer + out->activations + out->logits +
                 out->scratch;
    return FR_OK;
}

void fr_tuner_free(fr_tuner *t)
{
    if (!t)
        return;
    fr_tmodel_free(t->tm);
    fr_tune_exec_free(&t->ex);
    fr_adamw_free(&t->opt);
    fr_tlora_free(t->set);
    free(t->perm);
    free(t->btok);
    free(t->btgt);
    free(t->bpos);
    free(t->boff);
    free(t);
}

fr_status fr_tuner_create(fr_model *m, const fr_tune_params *p, fr_tuner **out, fr_err *err)
{
    *out = NULL;
    fr_status st = fr_tune_check(m, p, err);
    if (st)
        return st;
    fr_tuner *t = calloc(1, sizeof *t);
    if (!t)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    t->m = m;
    t->p = *p;
    t->perm_epoch = UINT64_MAX;
    const fr_hparams *hp = fr_model_hparams(m);
    int64_t rows = (int64_t)p->batch * p->n_ctx;
    if ((st = fr_tlora_create(m, p->rank, p->alpha, p->targets, &t->set, err)) ||
        (st = fr_adamw_init(&t->opt, t->set->n_params, err)) ||
        (st = fr_tune_exec_init(&t->ex, fr_tune_threads(p), fr_max_in(hp), rows, err)) ||
        (st = fr_tmodel_create(m, t->set, &t->ex, rows, p->n_ctx, p->logit_rows, &t->tm, err)))
        goto fail;
    t->btok = malloc((size_t)rows * sizeof(int32_t));
    t->btgt = malloc((size_t)rows * sizeof(int32_t));
    t->bpos = malloc((size_t)rows * sizeof(int32_t));
    t->boff = malloc(((size_t)p->batch + 1) * sizeof(int64_t));
    if (!t->btok || !t->btgt || !t->bpos || !t->boff) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for batch buffers");
        goto fail;
    }
    t->rng = p->seed;
    fr_tlora_init(t->set, &t->rng);
    *out = t;
    return FR_OK;
fail:
    fr_tuner_free(t);
    return st;
}

const fr_tune_params *fr_tuner_params(const fr_tuner *t) { return &t->p; }
uint64_t fr_tuner_step_count(const fr_tuner *t) { return t->step; }
int64_t fr_tuner_n_params(const fr_tuner *t) { return t->set->n_params; }

static uint32_t fr_ranks(const fr_tune_params *p)
{
    return p->ranks ? p->ranks : 1;
}

/* What must be the same on every rank: the model and every setting that
 * changes the result (not the thread count). */
static uint64_t fr_run_hash(const fr_tuner *t)
{
    const fr_tune_params *p = &t->p;
    double d[] = {p->alpha, (double)p->rank, (double)p->targets, (double)p->n_ctx,
                  (double)p->batch, (double)p->grad_accum, (double)p->total_steps, p->lr,
                  p->beta1, p->beta2, p->eps, p->weight_decay, p->clip, (double)p->schedule,
                  (double)p->warmup, p->min_lr_ratio, (double)(p->seed >> 32),
                  (double)(p->seed & 0xffffffffu), (double)fr_ranks(p)};
    uint64_t h = fr_tune_model_fingerprint(t->m);
    const unsigned char *b = (const unsigned char *)d;
    for (size_t i = 0; i < sizeof d; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

fr_status fr_tuner_set_comm(fr_tuner *t, fr_tune_comm *c, fr_err *err)
{
    fr_status st = FR_OK;
    if ((uint32_t)fr_tune_comm_size(c) != fr_ranks(&t->p))
        st = fr_err_set(err, FR_E_INVALID,
                        "the tuner was created for %u rank%s, the communicator has %d",
                        fr_ranks(&t->p), fr_ranks(&t->p) == 1 ? "" : "s", fr_tune_comm_size(c));
    if ((st = fr_tune_comm_agree(c, st, err)))
        return st;
    uint64_t h = fr_run_hash(t);
    if (!fr_comm_same(c, &h, sizeof h))
        return fr_err_set(err, FR_E_INVALID,
                          "the ranks have different base models, data sizes or training "
                          "settings: every rank needs the same model and data files and the "
                          "same options");
    t->comm = c;
    return FR_OK;
}

static fr_status fr_comm_ready(const fr_tuner *t, fr_err *err)
{
    if ((uint32_t)fr_tune_comm_size(t->comm) == fr_ranks(&t->p))
        return FR_OK;
    return fr_err_set(err, FR_E_INVALID, "the run is for %u ranks; call fr_tuner_set_comm with a "
                      "communicator of that size first", fr_ranks(&t->p));
}

/* Collective: the ranks hold the same samples (on several machines each
 * reads its own copy of the file). */
static fr_status fr_agree_data(fr_tuner *t, const fr_dataset *d, const char *what, fr_err *err)
{
    uint64_t h = fr_dataset_fingerprint(d);
    if (fr_comm_same(t->comm, &h, sizeof h))
        return FR_OK;
    return fr_err_set(err, FR_E_INVALID,
                      "the ranks read different %s data: every machine needs the same file at "
                      "the same path, loaded with the same options", what);
}

void fr_tuner_set_cancel(fr_tuner *t, bool (*cancel)(void *user), void *user)
{
    t->cancel = cancel;
    t->cancel_user = user;
}

/* ---- data order ------------------------------------------------------------------ */

static fr_status fr_perm_for(fr_tuner *t, uint64_t epoch, size_t n, fr_err *err)
{
    if (t->perm_epoch == epoch && t->perm_n == n)
        return FR_OK;
    if (t->perm_n != n) {
        free(t->perm);
        t->perm = malloc((n ? n : 1) * sizeof(size_t));
        if (!t->perm) {
            t->perm_n = 0;
            t->perm_epoch = UINT64_MAX;
            return fr_err_set(err, FR_E_NOMEM, "out of memory for the data order");
        }
        t->perm_n = n;
    }
    for (size_t i = 0; i < n; i++)
        t->perm[i] = i;
    uint64_t s = t->p.seed ^ (0xD1B54A32D192ED03ULL * (epoch + 1));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)fr_rng_below(&s, i);
        size_t tmp = t->perm[i - 1];
        t->perm[i - 1] = t->perm[j];
        t->perm[j] = tmp;
    }
    t->perm_epoch = epoch;
    return FR_OK;
}

/* ---- micro-batches ------------------------------------------------------------------ */

/* Fills the batch buffers from samples idx[0..k); returns the batch. */
static fr_tbatch fr_assemble(fr_tuner *t, const fr_dataset *d, const size_t *idx, size_t k)
{
    int64_t r = 0;
    t->boff[0] = 0;
    for (size_t i = 0; i < k; i++) {
        const int32_t *tok;
        const uint8_t *mask;
        uint32_t n;
        fr_dataset_sample(d, idx[i], &tok, &mask, &n);
        for (uint32_t j = 0; j + 1 < n; j++) {
            t->btok[r] = tok[j];
            t->btgt[r] = mask[j + 1] ? tok[j + 1] : -1;
            t->bpos[r] = (int32_t)j;
            r++;
        }
        t->boff[i + 1] = r;
    }
    fr_tbatch b = {r, (uint32_t)k, t->btok, t->btgt, t->bpos, t->boff};
    return b;
}

static uint64_t fr_loss_tokens(const fr_dataset *d, size_t i)
{
    const int32_t *tok;
    const uint8_t *mask;
    uint32_t n;
    fr_dataset_sample(d, i, &tok, &mask, &n);
    uint64_t c = 0;
    for (uint32_t j = 1; j < n; j++)
        c += mask[j] != 0;
    return c;
}

static fr_status fr_check_dataset(const fr_tuner *t, const fr_dataset *d, fr_err *err)
{
    size_t n = fr_dataset_count(d);
    if (n == 0)
        return fr_err_set(err, FR_E_INVALID, "the dataset has no samples");
    for (size_t i = 0; i < n; i++) {
        const int32_t *tok;
        const uint8_t *mask;
        uint32_t len;
        fr_dataset_sample(d, i, &tok, &mask, &len);
        if (len > t->p.n_ctx + 1)
            return fr_err_set(err, FR_E_INVALID,
                              "sample %zu has %u tokens; this run takes at most --ctx + 1 = %u "
                              "(load the data with the same --ctx)", i, len, t->p.n_ctx + 1);
        for (uint32_t j = 0; j < len; j++)
            if (tok[j] < 0 || (uint32_t)tok[j] >= t->m->hp.n_vocab)
                return fr_err_set(err, FR_E_INVALID,
                                  "sample %zu: token %d is outside the model's vocabulary (%u); "
                                  "was the data tokenized for another model?", i, tok[j],
                                  t->m->hp.n_vocab);
    }
    return FR_OK;
}

fr_status fr_tuner_step(fr_tuner *t, const fr_dataset *d, fr_tune_step_info *info, fr_err *err)
{
    memset(info, 0, sizeof *info);
    size_t n = fr_dataset_count(d);
    fr_status st;
    uint32_t R = fr_ranks(&t->p);
    int me = fr_tune_comm_rank(t->comm);
    if ((st = fr_comm_ready(t, err)))
        return st;
    if (R > 1 && t->agreed != d) {
        if ((st = fr_agree_data(t, d, "training", err)))
            return st;
        t->agreed = d;
    }
    /* from here on every check gives the same answer on every rank */
    if (t->step == 0 && t->epoch == 0 && t->cursor == 0 && (st = fr_check_dataset(t, d, err)))
        return st;
    if (n == 0)
        return fr_err_set(err, FR_E_INVALID, "the dataset has no samples");
    /* In a run of several ranks every failure from here to the agreement
     * below is agreed on, so that no rank is left waiting in a sum. */
    size_t per = (size_t)t->p.batch * t->p.grad_accum * R;
    size_t *idx = malloc(per * sizeof(size_t));
    st = idx ? FR_OK : fr_err_set(err, FR_E_NOMEM, "out of memory");
    /* Choose the step's samples without moving the cursor yet. */
    uint64_t epoch = t->epoch, cursor = t->cursor;
    if (cursor >= n) {
        epoch++;
        cursor = 0;
    }
    info->epoch = epoch;
    uint64_t n_loss = 0, n_tok = 0;
    for (size_t i = 0; i < per && !st; i++) {
        if (cursor >= n) {
            epoch++;
            cursor = 0;
        }
        if ((st = fr_perm_for(t, epoch, n, err)))
            break;
        idx[i] = t->perm[cursor++];
        n_loss += fr_loss_tokens(d, idx[i]);
        const int32_t *tok;
        const uint8_t *mask;
        uint32_t len;
        fr_dataset_sample(d, idx[i], &tok, &mask, &len);
        n_tok += len > 0 ? len - 1 : 0;
    }
    double loss_sum = 0.0;
    if (!st) {
        memset(t->set->grad, 0, (size_t)t->set->n_params * sizeof(float));
        float scale = n_loss ? (float)(1.0 / (double)n_loss) : 0.0f;
        /* micro-batch mb is samples [mb*B*R, (mb+1)*B*R); this rank runs its B */
        for (uint32_t mb = 0; mb < t->p.grad_accum && !st; mb++) {
            size_t first = ((size_t)mb * R + (size_t)me) * t->p.batch;
            fr_tbatch b = fr_assemble(t, d, idx + first, t->p.batch);
            if (b.n == 0)
                continue;
            double ls = 0.0;
            int64_t nl = 0;
            st = fr_tmodel_run(t->tm, &b, true, scale, &ls, &nl, t->cancel, t->cancel_user, err);
            loss_sum += ls;
        }
    }
    if (R > 1) {
        /* a signal reaches the ranks at different moments: whoever saw it
         * cancels the step for all */
        if (!st && t->cancel && t->cancel(t->cancel_user))
            st = fr_err_set(err, FR_E_CANCELLED, "cancelled");
        /* one small sum says whether any rank failed and carries the loss:
         * every collective costs a scheduling delay on a busy machine */
        double v[2] = {st ? 1.0 : 0.0, loss_sum};
        fr_comm_sum_f64(t->comm, v, 2);
        loss_sum = v[1];
        if (v[0] > 0) /* all ranks learn which failed, and why */
            st = fr_tune_comm_agree(t->comm, st, err);
        else
            fr_comm_sum_f32(t->comm, t->set->grad, t->set->n_params);
    }
    if (st)
        goto done;
    info->n_tokens = n_tok;
    info->n_loss_tokens = n_loss;
    info->loss = n_loss ? loss_sum / (double)n_loss : 0.0;
    info->lr = fr_lr_at(&t->p, t->step);
    info->grad_norm = fr_grad_norm(t->set->grad, t->set->n_params);
    info->step = t->step + 1;
    if (!isfinite(info->loss) || !isfinite(info->grad_norm)) {
        info->nonfinite = true;
        info->step = t->step;
        st = fr_err_set(err, FR_E_RANGE,
                        "step %llu: the loss is %s (gradient norm %g); the update was not "
                        "applied", (unsigned long long)t->step + 1,
                        isfinite(info->loss) ? "finite but the gradient is not" : "not finite",
                        info->grad_norm);
        goto done;
    }
    if (t->p.clip > 0 && info->grad_norm > t->p.clip)
        fr_grad_scale(t->set->grad, t->set->n_params, (float)(t->p.clip / info->grad_norm));
    fr_adamw_update(&t->opt, t->set->param, t->set->grad, &t->p, info->lr);
    t->step++;
    t->epoch = epoch;
    t->cursor = cursor;
    info->epoch_pos = (double)epoch + (double)cursor / (double)n;
    st = FR_OK;
done:
    free(idx);
    return st;
}

fr_status fr_tuner_eval(fr_tuner *t, const fr_dataset *d, double *mean_loss,
                        uint64_t *n_loss_tokens, fr_err *err)
{
    fr_status st;
    if ((st = fr_comm_ready(t, err)) ||
        (fr_ranks(&t->p) > 1 && (st = fr_agree_data(t, d, "validation", err))) ||
        (st = fr_check_dataset(t, d, err)))
        return st;
    size_t n = fr_dataset_count(d), k = t->p.batch;
    size_t *idx = malloc(k * sizeof(size_t));
    st = idx ? FR_OK : fr_err_set(err, FR_E_NOMEM, "out of memory");
    /* rank r evaluates micro-batches r, r + R, r + 2R, ... */
    size_t R = fr_ranks(&t->p), me = (size_t)fr_tune_comm_rank(t->comm);
    double sum = 0.0;
    uint64_t count = 0;
    for (size_t i = me * k; i < n && !st; i += k * R) {
        size_t m = n - i < k ? n - i : k;
        for (size_t j = 0; j < m; j++)
            idx[j] = i + j;
        fr_tbatch b = fr_assemble(t, d, idx, m);
        if (b.n == 0)
            continue;
        double ls = 0.0;
        int64_t nl = 0;
        st = fr_tmodel_run(t->tm, &b, false, 0.0f, &ls, &nl, t->cancel, t->cancel_user, err);
        if (st)
            break;
        sum += ls;
        count += (uint64_t)nl;
    }
    free(idx);
    if (R > 1) {
        double v[3] = {st ? 1.0 : 0.0, sum, (double)count}; /* counts stay exact below 2^53 */
        fr_comm_sum_f64(t->comm, v, 3);
        if (v[0] > 0)
            return fr_tune_comm_agree(t->comm, st, err);
        sum = v[1];
        count = (uint64_t)v[2];
    }
    if (st)
        return st;
    *mean_loss = count ? sum / (double)count : 0.0;
    if (n_loss_tokens)
        *n_loss_tokens = count;
    return FR_OK;
}
