/*
 * sched.c - the slot scheduler (see sched.h for the design).
 *
 * Main loop, with the mutex held except around the forward pass and the
 * per-slot sampling:
 *
 *   housekeeping: cancelled jobs end, queued jobs past the timeout or a
 *                 shutdown get 503, running jobs past the shutdown deadline
 *                 end with 503, queued jobs are admitted into free slots
 *   plan:         one token per decoding slot, prompt chunks for prefilling
 *                 slots (n_batch tokens in all)
 *   unlock, decode, sample each slot that got logits, lock
 *   commit:       each slot's new text/pieces/samples move into its job's
 *                 pending output; finished jobs become DONE; waiters wake
 *
 * Rejected: one thread per slot taking turns on the context (the weights
 * would be read once per stream per step, the very cost batching removes),
 * and letting HTTP threads run forward passes under a lock (a slow client
 * would then stall every stream).
 */
#include "serve/sched.h"

#include "base/clock.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRV_DEFAULT_QUEUE 64
#define SRV_METER_PERIOD_S 10.0
#define SRV_RATE_WINDOW_S 2.0
#define SRV_MAX_STAGE_PIECES 4

/* What one step produced for one slot, built without the lock. */
typedef struct srv_stage {
    fr_buf text;
    srv_piece pieces[SRV_MAX_STAGE_PIECES];
    int n_pieces;
    fr_sample sample;
    bool has_sample;
    fr_finish finish; /* FR_FINISH_NONE: keep going */
    bool failed;
    srv_error err;
} srv_stage;

typedef struct srv_slot {
    srv_job *job;      /* NULL: free */
    uint32_t fed;      /* prompt tokens in the cache so far */
    uint32_t take;     /* prompt tokens in the current batch */
    bool decoding;     /* the prompt is in; next_tok is pending */
    int32_t next_tok;
    int32_t row;       /* logits row in the current batch, -1: none */
    uint64_t last_used;
    bool e_ok;         /* energy reading at start */
    double e0_j;
    uint64_t work0;    /* computed_tokens at start */
    srv_stage stage;
} srv_slot;

struct srv_sched {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the scheduler thread waits here */
    pthread_cond_t idle_cv; /* srv_sched_drain waits here */
    pthread_t thread;
    bool started;

    fr_context *ctx;
    const fr_tokenizer *tok;
    fr_meter *meter;
    uint32_t n_slots, n_batch, max_queue, n_ctx;
    double queue_timeout;

    srv_slot *slots;
    srv_job **queue; /* ring of max_queue + n_slots */
    uint32_t q_cap, q_head, q_len;

    bool stopping;
    double cancel_at; /* running jobs end at this time (INFINITY: never) */
    bool quit;
    uint64_t use_clock;

    /* batch scratch (scheduler thread only) */
    int32_t *b_tok, *b_seq;
    bool *b_logits;

    srv_sched_stats st;
    bool e_ok;
    fr_meter_reading e_base, e_last;
    double e_last_t;
    double win_t0, last_step_t;
    uint64_t win_gen0;
};

/* ---- results -------------------------------------------------------------- */

void srv_result_clear(srv_result *r)
{
    if (!r)
        return;
    fr_buf_free(&r->text);
    free(r->pieces);
    free(r->samples);
    memset(r, 0, sizeof *r);
}

static bool result_piece(srv_result *r, const char *text, size_t len, int32_t tok,
                         const fr_sample *smp)
{
    if (r->n_pieces == r->cap_pieces) {
        size_t nc = r->cap_pieces ? r->cap_pieces * 2 : 32;
        srv_piece *np = realloc(r->pieces, nc * sizeof *np);
        if (!np)
            return false;
        r->pieces = np;
        r->cap_pieces = nc;
    }
    int32_t si = -1;
    if (smp) {
        if (r->n_samples == r->cap_samples) {
            size_t nc = r->cap_samples ? r->cap_samples * 2 : 16;
            fr_sample *ns = realloc(r->samples, nc * sizeof *ns);
            if (!ns)
                return false;
            r->samples = ns;
            r->cap_samples = nc;
        }
        si = (int32_t)r->n_samples;
        r->samples[r->n_samples++] = *smp;
    }
    size_t off = r->text.len;
    if (len && !fr_buf_append(&r->text, text, len))
        return false;
    r->pieces[r->n_pieces++] = (srv_piece){off, len, tok, si};
    return true;
}

/* ---- jobs ----------------------------------------------------------------- */

srv_job *srv_job_create(void)
{
    srv_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) {
        free(j);
        return NULL;
    }
    j->out.err.status = 0;
    return j;
}

void srv_job_free(srv_job *j)
{
    if (!j)
        return;
    pthread_cond_destroy(&j->cv);
    fr_gen_stream_free(j->gs);
    fr_constraint_free(j->cons);
    free(j->prompt);
    srv_result_clear(&j->out);
    free(j);
}

bool srv_job_setup(srv_job *j, const fr_tokenizer *tok, uint32_t n_vocab, const int32_t *prompt,
                   size_t n, const fr_gen_params *gp, fr_constraint *cons, srv_error *e)
{
    fr_err err;
    j->cons = cons;
    if (n == 0 || n > UINT32_MAX)
        return srv_fail(e, 400, NULL, NULL, NULL, "the prompt is empty");
    j->prompt = malloc(n * sizeof *j->prompt);
    if (!j->prompt)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    memcpy(j->prompt, prompt, n * sizeof *prompt);
    j->n_prompt = (uint32_t)n;
    j->ignore_eog = gp->ignore_eog;
    j->want_samples = gp->sampling.logprobs || gp->sampling.top_logprobs > 0;
    fr_gen_params p = *gp;
    p.constraint = cons;
    fr_status st = fr_gen_stream_create(tok, n_vocab, &p, &j->gs, &err);
    if (st == FR_E_NOMEM)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    if (st)
        return srv_fail(e, 400, NULL, NULL, NULL, "invalid generation parameters: %s", err.msg);
    fr_gen_stream_prompt(j->gs, prompt, n);
    return true;
}

/* ---- time ----------------------------------------------------------------- */

static void abs_deadline(double from_now_s, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (!(from_now_s > 0))
        return;
    if (from_now_s > 3600)
        from_now_s = 3600;
    double whole = floor(from_now_s);
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((from_now_s - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- energy (scheduler thread, mutex held) --------------------------------- */

static bool meter_read(srv_sched *s, double now)
{
    if (!s->meter || !s->e_ok)
        return false;
    fr_meter_reading r;
    if (fr_meter_read(s->meter, &r, NULL) != FR_OK)
        return false;
    s->e_last = r;
    s->e_last_t = now;
    s->st.energy_j = r.joules.central - s->e_base.joules.central;
    s->st.energy_low_j = r.joules.low - s->e_base.joules.low;
    s->st.energy_high_j = r.joules.high - s->e_base.joules.high;
    return true;
}

/* ---- finishing jobs (mutex held) ------------------------------------------- */

static void job_done(srv_sched *s, srv_job *j, fr_finish finish, const srv_error *err)
{
    double now = fr_now_s();
    j->state = SRV_JOB_DONE;
    j->t_end = now;
    j->out.done = true;
    j->out.finish = finish;
    if (finish == FR_FINISH_CONTEXT)
        j->out.n_ctx = s->n_ctx;
    if (err && err->status)
        j->out.err = *err;
    j->out.queue_s = (j->t_start > 0 ? j->t_start : now) - j->t_submit;
    j->out.first_token_s = (j->t_first > 0 ? j->t_first : now) - j->t_submit;
    j->out.total_s = now - j->t_submit;
    pthread_cond_broadcast(&j->cv);
}

static void fail_503(srv_error *e, const char *code, const char *msg)
{
    srv_fail(e, 503, "server_error", code, NULL, "%s", msg);
}

/* Ends the job in slot i; the slot becomes free (its cache stays). */
static void slot_finish(srv_sched *s, uint32_t i, fr_finish finish, const srv_error *err)
{
    srv_slot *sl = &s->slots[i];
    srv_job *j = sl->job;
    if (!j)
        return;
    j->out.energy_source = s->meter ? fr_meter_source_name(fr_meter_source_of(s->meter)) : "none";
    if (sl->e_ok && meter_read(s, fr_now_s())) {
        uint64_t dw = s->st.computed_tokens - sl->work0;
        double share = dw ? (double)j->work / (double)dw : 0.0;
        if (share > 1)
            share = 1;
        j->out.energy_j = (s->e_last.joules.central - sl->e0_j) * share;
        j->out.has_energy = true;
    }
    s->st.prompt_tokens += j->out.n_prompt;
    s->st.cached_tokens += j->out.n_cached;
    s->st.generated_tokens += j->out.n_generated;
    sl->job = NULL;
    sl->decoding = false;
    sl->row = -1;
    sl->last_used = ++s->use_clock;
    job_done(s, j, finish, err);
}

/* ---- admission (mutex held) ------------------------------------------------ */

static uint32_t common_prefix(const int32_t *a, uint32_t na, const int32_t *b, uint32_t nb)
{
    uint32_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

static void admit(srv_sched *s, srv_job *j, double now)
{
    int best = -1;
    uint32_t best_common = 0;
    uint64_t best_used = UINT64_MAX;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        if (s->slots[i].job)
            continue;
        uint32_t c = common_prefix(fr_context_seq_tokens(s->ctx, i), fr_context_seq_len(s->ctx, i),
                                   j->prompt, j->n_prompt);
        if (best < 0 || c > best_common || (c == best_common && s->slots[i].last_used < best_used)) {
            best = (int)i;
            best_common = c;
            best_used = s->slots[i].last_used;
        }
    }
    srv_slot *sl = &s->slots[best];
    if (best_common >= j->n_prompt)
        best_common = j->n_prompt - 1; /* the last prompt token's logits are needed */
    /* 0 when a sliding window's ring no longer holds the prefix's end */
    best_common = fr_context_seq_truncate(s->ctx, (uint32_t)best, best_common);
    sl->job = j;
    sl->fed = best_common;
    sl->decoding = false;
    sl->row = -1;
    sl->take = 0;
    sl->work0 = s->st.computed_tokens;
    sl->e_ok = meter_read(s, now);
    sl->e0_j = s->e_last.joules.central;
    j->slot = (uint32_t)best;
    j->state = SRV_JOB_RUNNING;
    j->t_start = now;
    j->work = 0;
    j->n_gen = 0;
    j->out.n_prompt = j->n_prompt;
    j->out.n_cached = best_common;
}

static uint32_t n_active(const srv_sched *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_slots; i++)
        n += s->slots[i].job != NULL;
    return n;
}

static srv_job *queue_pop(srv_sched *s)
{
    srv_job *j = s->queue[s->q_head];
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    return j;
}

static void queue_remove(srv_sched *s, srv_job *j)
{
    uint32_t n = s->q_len, w = 0;
    for (uint32_t r = 0; r < n; r++) {
        srv_job *x = s->queue[(s->q_head + r) % s->q_cap];
        if (x != j)
            s->queue[(s->q_head + w++) % s->q_cap] = x;
    }
    s->q_len = w;
}

static void housekeeping(srv_sched *s, double now)
{
    srv_error e;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        srv_job *j = s->slots[i].job;
        if (!j)
            continue;
        if (j->cancel) {
            slot_finish(s, i, FR_FINISH_CANCELLED, NULL);
        } else if (now >= s->cancel_at) {
            fail_503(&e, "shutting_down",
                     "the server is shutting down and this request did not finish before the "
                     "deadline; retry on another replica");
            slot_finish(s, i, FR_FINISH_CANCELLED, &e);
        }
    }
    /* queued jobs: shutdown or waited too long */
    uint32_t n = s->q_len;
    for (uint32_t r = 0; r < n; r++) {
        srv_job *j = s->queue[s->q_head];
        bool expired = s->queue_timeout > 0 && now - j->t_submit > s->queue_timeout;
        if (s->stopping || expired) {
            queue_pop(s);
            if (s->stopping)
                fail_503(&e, "shutting_down", "the server is shutting down; retry on another replica");
            else
                srv_fail(&e, 503, "server_error", "timeout", NULL,
                         "the request waited %.0f s for a free slot (--timeout); the server is "
                         "overloaded, retry later", s->queue_timeout);
            j->out.n_prompt = j->n_prompt;
            job_done(s, j, FR_FINISH_CANCELLED, &e);
        } else {
            /* keep order: rotate it to the back */
            queue_pop(s);
            s->queue[(s->q_head + s->q_len) % s->q_cap] = j;
            s->q_len++;
        }
    }
    while (s->q_len && n_active(s) < s->n_slots) {
        srv_job *j = queue_pop(s);
        if (j->n_prompt >= s->n_ctx) {
            /* the HTTP layer checks this; a direct caller may not have */
            srv_fail(&e, 400, NULL, "context_length_exceeded", NULL,
                     "the prompt has %u tokens but a slot holds %u", j->n_prompt, s->n_ctx);
            j->out.n_prompt = j->n_prompt;
            job_done(s, j, FR_FINISH_CANCELLED, &e);
            continue;
        }
        admit(s, j, now);
    }
    if (s->meter && s->e_ok && now - s->e_last_t >= SRV_METER_PERIOD_S)
        meter_read(s, now);
    s->st.active = n_active(s);
    s->st.queued = s->q_len;
}

/* ---- one slot's token (no mutex: the scheduler owns slot and job state) ----- */

static void stage_piece(srv_stage *g, const char *text, size_t len, int32_t tok, bool with_sample)
{
    if (g->n_pieces >= SRV_MAX_STAGE_PIECES)
        return;
    size_t off = g->text.len;
    if (len)
        fr_buf_append(&g->text, text, len);
    g->pieces[g->n_pieces++] = (srv_piece){off, len, tok, with_sample ? 0 : -1};
}

static void stage_fail(srv_stage *g, const fr_err *err)
{
    g->failed = true;
    srv_fail(&g->err, 500, "server_error", NULL, NULL, "generation failed: %s", err->msg);
}

static void slot_sample(srv_sched *s, uint32_t i, const float *logits)
{
    srv_slot *sl = &s->slots[i];
    srv_job *j = sl->job;
    srv_stage *g = &sl->stage;
    fr_err err;
    if (!logits) {
        fr_err_set(&err, FR_E_INTERNAL, "no logits for slot %u", i);
        stage_fail(g, &err);
        return;
    }
    fr_gen_step st;
    if (fr_gen_stream_next(j->gs, logits, &st, &err) != FR_OK) {
        stage_fail(g, &err);
        return;
    }
    j->n_gen = fr_gen_stream_n_generated(j->gs);
    int32_t t = st.token;
    /* an end-of-generation token ends the text and shows no piece */
    if (t >= 0 && (j->ignore_eog || !fr_tokenizer_is_eog(s->tok, t))) {
        g->sample = st.sample;
        g->has_sample = j->want_samples;
        stage_piece(g, st.text, st.len, t, j->want_samples);
    }
    if (st.finish == FR_FINISH_NONE && fr_context_seq_len(s->ctx, i) >= s->n_ctx) {
        fr_gen_stream_end(j->gs, FR_FINISH_CONTEXT, &st); /* "length" for the client */
    }
    if (st.tail_len)
        stage_piece(g, st.tail, st.tail_len, -1, false);
    if (st.finish != FR_FINISH_NONE) {
        g->finish = st.finish;
        return;
    }
    sl->decoding = true;
    sl->next_tok = t;
}

/* ---- commit (mutex held) ----------------------------------------------------- */

static void slot_commit(srv_sched *s, uint32_t i, double now)
{
    srv_slot *sl = &s->slots[i];
    srv_job *j = sl->job;
    srv_stage *g = &sl->stage;
    bool ok = fr_buf_ok(&g->text);
    j->out.n_generated = j->n_gen;
    for (int k = 0; ok && k < g->n_pieces; k++) {
        const srv_piece *p = &g->pieces[k];
        ok = result_piece(&j->out, g->text.data ? g->text.data + p->text_off : "", p->text_len,
                          p->token, p->sample >= 0 && g->has_sample ? &g->sample : NULL);
    }
    if (g->n_pieces && j->t_first == 0)
        j->t_first = now;
    if (g->n_pieces)
        pthread_cond_broadcast(&j->cv);
    if (!ok && !g->failed) {
        g->failed = true;
        srv_fail(&g->err, 500, "server_error", NULL, NULL, "out of memory collecting the output");
    }
    if (g->failed)
        slot_finish(s, i, FR_FINISH_CANCELLED, &g->err);
    else if (g->finish != FR_FINISH_NONE)
        slot_finish(s, i, g->finish, NULL);
    fr_buf_reset(&g->text);
    g->n_pieces = 0;
    g->has_sample = false;
    g->failed = false;
    g->finish = FR_FINISH_NONE;
}

/* ---- the thread ----------------------------------------------------------------- */

static void step(srv_sched *s)
{
    /* plan (mutex held) */
    uint32_t n = 0, rows = 0;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        sl->row = -1;
        sl->take = 0;
        if (!sl->job || !sl->decoding)
            continue;
        s->b_tok[n] = sl->next_tok;
        s->b_seq[n] = (int32_t)i;
        s->b_logits[n] = true;
        sl->row = (int32_t)rows++;
        n++;
    }
    for (uint32_t i = 0; i < s->n_slots && n < s->n_batch; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->job || sl->decoding)
            continue;
        uint32_t left = sl->job->n_prompt - sl->fed;
        uint32_t take = left < s->n_batch - n ? left : s->n_batch - n;
        for (uint32_t k = 0; k < take; k++) {
            s->b_tok[n] = sl->job->prompt[sl->fed + k];
            s->b_seq[n] = (int32_t)i;
            s->b_logits[n] = false;
            n++;
        }
        sl->take = take;
        if (take == left) {
            s->b_logits[n - 1] = true;
            sl->row = (int32_t)rows++;
        }
    }
    if (n == 0)
        return;
    pthread_mutex_unlock(&s->mu);

    fr_batch b = {n, s->b_tok, s->b_seq, s->b_logits};
    fr_err err;
    fr_status st = fr_context_decode(s->ctx, &b, &err);
    for (uint32_t i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->job || (!sl->take && sl->row < 0))
            continue;
        if (st != FR_OK) {
            stage_fail(&sl->stage, &err);
            continue;
        }
        sl->job->work += sl->decoding ? 1 : sl->take;
        sl->fed += sl->take;
        if (sl->row >= 0)
            slot_sample(s, i, fr_context_logits(s->ctx, (uint32_t)sl->row));
    }

    pthread_mutex_lock(&s->mu);
    double now = fr_now_s();
    s->st.computed_tokens += st == FR_OK ? n : 0;
    s->st.steps++;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->job || (!sl->take && sl->row < 0))
            continue;
        if (st != FR_OK)
            fr_context_seq_truncate(s->ctx, i, 0);
        slot_commit(s, i, now);
    }
    uint64_t gen = s->st.generated_tokens;
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job)
            gen += s->slots[i].job->out.n_generated;
    /* generated_tokens counts finished jobs; add the running ones for the rate */
    if (now - s->win_t0 >= SRV_RATE_WINDOW_S) {
        s->st.tok_per_s = s->win_t0 > 0 && gen >= s->win_gen0 ? (double)(gen - s->win_gen0) / (now - s->win_t0) : 0;
        s->win_t0 = now;
        s->win_gen0 = gen;
    }
    s->last_step_t = now;
}

static void *sched_main(void *arg)
{
    srv_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        double now = fr_now_s();
        housekeeping(s, now);
        if (s->st.active == 0) {
            pthread_cond_broadcast(&s->idle_cv);
            if (s->quit)
                break;
            struct timespec ts;
            abs_deadline(1.0, &ts);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        step(s);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- public --------------------------------------------------------------------- */

fr_status srv_sched_create(const srv_sched_params *p, srv_sched **out, fr_err *err)
{
    *out = NULL;
    srv_sched *s = calloc(1, sizeof *s);
    if (!s)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    s->ctx = p->ctx;
    s->tok = p->tok;
    s->meter = p->meter;
    s->n_slots = fr_context_n_seq(p->ctx);
    s->n_ctx = fr_context_n_ctx(p->ctx);
    s->max_queue = p->max_queue ? p->max_queue : SRV_DEFAULT_QUEUE;
    s->n_batch = p->n_batch ? p->n_batch : 512;
    if (s->n_batch < s->n_slots)
        s->n_batch = s->n_slots;
    s->queue_timeout = p->queue_timeout_s;
    s->cancel_at = INFINITY;
    s->q_cap = s->max_queue + s->n_slots;
    s->slots = calloc(s->n_slots, sizeof *s->slots);
    s->queue = calloc(s->q_cap, sizeof *s->queue);
    s->b_tok = malloc(s->n_batch * sizeof *s->b_tok);
    s->b_seq = malloc(s->n_batch * sizeof *s->b_seq);
    s->b_logits = malloc(s->n_batch * sizeof *s->b_logits);
    if (!s->slots || !s->queue || !s->b_tok || !s->b_seq || !s->b_logits) {
        free(s->slots);
        free(s->queue);
        free(s->b_tok);
        free(s->b_seq);
        free(s->b_logits);
        free(s);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < s->n_slots; i++)
        s->slots[i].row = -1;
    s->st.slots = s->n_slots;
    s->st.energy_source = "none";
    if (s->meter && fr_meter_read(s->meter, &s->e_base, NULL) == FR_OK) {
        s->e_ok = true;
        s->e_last = s->e_base;
        s->e_last_t = fr_now_s();
        s->st.has_energy = true;
        s->st.energy_source = fr_meter_source_name(fr_meter_source_of(s->meter));
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, &ca);
    pthread_cond_init(&s->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&s->thread, NULL, sched_main, s);
    if (rc) {
        s->started = false;
        srv_sched_free(s);
        return fr_err_set(err, FR_E_NOMEM, "cannot start the scheduler thread: %s", strerror(rc));
    }
    s->started = true;
    *out = s;
    return FR_OK;
}

bool srv_sched_submit(srv_sched *s, srv_job *j, srv_error *e)
{
    bool ok = true;
    pthread_mutex_lock(&s->mu);
    uint32_t free_slots = s->n_slots - n_active(s);
    if (s->stopping) {
        fail_503(e, "shutting_down", "the server is shutting down; retry on another replica");
        ok = false;
    } else if (s->q_len >= s->max_queue + free_slots || s->q_len >= s->q_cap) {
        srv_fail(e, 503, "server_error", "overloaded",
                 NULL, "the server is overloaded: all %u slots are busy and %u requests are "
                 "waiting (--max-queue); retry later", s->n_slots, s->q_len);
        ok = false;
    } else {
        j->state = SRV_JOB_QUEUED;
        j->t_submit = fr_now_s();
        s->queue[(s->q_head + s->q_len) % s->q_cap] = j;
        s->q_len++;
        s->st.queued = s->q_len;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

/* Moves the job's pending output into r. False when r cannot grow. */
static bool collect_locked(srv_job *j, srv_result *r)
{
    srv_result *o = &j->out;
    size_t base_text = r->text.len, base_smp = r->n_samples;
    if (o->text.len && !fr_buf_append(&r->text, o->text.data, o->text.len))
        return false;
    if (r->n_pieces + o->n_pieces > r->cap_pieces) {
        size_t nc = r->n_pieces + o->n_pieces + 32;
        srv_piece *np = realloc(r->pieces, nc * sizeof *np);
        if (!np)
            return false;
        r->pieces = np;
        r->cap_pieces = nc;
    }
    if (r->n_samples + o->n_samples > r->cap_samples) {
        size_t nc = r->n_samples + o->n_samples + 16;
        fr_sample *ns = realloc(r->samples, nc * sizeof *ns);
        if (!ns)
            return false;
        r->samples = ns;
        r->cap_samples = nc;
    }
    for (size_t i = 0; i < o->n_pieces; i++) {
        srv_piece p = o->pieces[i];
        p.text_off += base_text;
        if (p.sample >= 0)
            p.sample += (int32_t)base_smp;
        r->pieces[r->n_pieces++] = p;
    }
    if (o->n_samples)
        memcpy(r->samples + r->n_samples, o->samples, o->n_samples * sizeof *o->samples);
    r->n_samples += o->n_samples;
    fr_buf_reset(&o->text);
    o->n_pieces = 0;
    o->n_samples = 0;
    if (o->done) {
        r->done = true;
        r->finish = o->finish;
        r->err = o->err;
        r->n_prompt = o->n_prompt;
        r->n_cached = o->n_cached;
        r->n_generated = o->n_generated;
        r->n_ctx = o->n_ctx;
        r->has_energy = o->has_energy;
        r->energy_j = o->energy_j;
        r->energy_source = o->energy_source;
        r->queue_s = o->queue_s;
        r->first_token_s = o->first_token_s;
        r->total_s = o->total_s;
    }
    return true;
}

static bool has_news(const srv_job *j)
{
    return j->out.n_pieces || j->out.done;
}

bool srv_sched_collect(srv_sched *s, srv_job *j, srv_result *r, double timeout_s)
{
    pthread_mutex_lock(&s->mu);
    if (!has_news(j) && timeout_s > 0) {
        struct timespec ts;
        abs_deadline(timeout_s, &ts);
        while (!has_news(j)) {
            int rc = pthread_cond_timedwait(&j->cv, &s->mu, &ts);
            if (rc == ETIMEDOUT)
                break;
        }
    }
    bool news = has_news(j);
    if (news && !collect_locked(j, r)) {
        /* the caller cannot hold more: stop the job and report it */
        j->cancel = true;
        pthread_cond_signal(&s->cv);
        srv_fail(&r->err, 500, "server_error", NULL, NULL, "out of memory collecting the output");
        r->done = true;
        while (j->state != SRV_JOB_DONE && j->state != SRV_JOB_NEW)
            pthread_cond_wait(&j->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return news;
}

void srv_sched_cancel(srv_sched *s, srv_job *j)
{
    pthread_mutex_lock(&s->mu);
    j->cancel = true;
    if (j->state == SRV_JOB_QUEUED) {
        queue_remove(s, j);
        s->st.queued = s->q_len;
        j->out.n_prompt = j->n_prompt;
        job_done(s, j, FR_FINISH_CANCELLED, NULL);
    } else if (j->state == SRV_JOB_RUNNING) {
        pthread_cond_signal(&s->cv);
        while (j->state != SRV_JOB_DONE)
            pthread_cond_wait(&j->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_drain(srv_sched *s, double deadline_s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    double at = fr_now_s() + (deadline_s > 0 ? deadline_s : 0);
    if (at < s->cancel_at)
        s->cancel_at = at;
    pthread_cond_signal(&s->cv);
    while (s->q_len || n_active(s))
        pthread_cond_wait(&s->idle_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void srv_sched_free(srv_sched *s)
{
    if (!s)
        return;
    if (s->started) {
        srv_sched_drain(s, 0);
        pthread_mutex_lock(&s->mu);
        s->quit = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    for (uint32_t i = 0; i < s->n_slots; i++)
        fr_buf_free(&s->slots[i].stage.text);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->slots);
    free(s->queue);
    free(s->b_tok);
    free(s->b_seq);
    free(s->b_logits);
    free(s);
}

void srv_sched_stats_get(srv_sched *s, srv_sched_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    if (fr_now_s() - s->last_step_t > SRV_RATE_WINDOW_S)
        st->tok_per_s = 0;
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job)
            st->generated_tokens += s->slots[i].job->out.n_generated;
    pthread_mutex_unlock(&s->mu);
}
