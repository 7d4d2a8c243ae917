/*
 * sched.h - the slot scheduler: continuous batching over one fr_context.
 *
 * One scheduler thread owns the context (n_seq slots). HTTP threads create
 * a job (prompt tokens, a sampler, stop strings, limits), submit it, and
 * collect its output as it appears; they never touch the context. Every
 * step the thread builds ONE batch holding the pending token of every
 * decoding slot plus prompt chunks of slots still prefilling (at most
 * n_batch tokens), runs fr_context_decode once - so the weights are read
 * once per step for all streams - then samples each slot's next token.
 *
 * Per token the text path is that of fr_generate (generate.c): sampler ->
 * end-of-generation check -> streaming UTF-8 decoder -> stop-string
 * matcher; so greedy output equals `frugal run` for the same prompt.
 *
 * Prefix reuse: a slot's cache keeps the tokens of its last job; a new job
 * goes to the free slot sharing the longest prefix with its prompt (ties:
 * the least recently used), keeps that prefix and computes only the rest
 * (at least the last prompt token, whose logits are needed). The reused
 * count is the job's n_cached (OpenAI's cached_tokens).
 *
 * Locking: one mutex guards the queue, the slots' job pointers and every
 * job's output. The thread holds it only between forward passes, never
 * during one. A job's input fields are written before submit and only read
 * afterwards; its sampler, decoder and stop matcher are used by the
 * scheduler thread alone while the job runs (the mutex hand-over orders
 * those accesses).
 *
 * Lifetime: the submitter owns the job. After submit it may only call
 * srv_sched_collect / srv_sched_cancel until the job is done (collect
 * reported done); then the scheduler holds no reference and the job may be
 * freed. srv_sched_cancel returns only once the scheduler has let go.
 *
 * Grounded answers (POST /v1/ask, chat with documents): a job set up with
 * srv_job_setup_grounded has no sampler, decoder or stop strings; each of
 * its tokens is the highest-logit one that keeps the answer a valid prefix
 * of the citation grammar (fr_rag_pick, the very step `frugal ask` runs),
 * and its text is the tokens' raw pieces, as `frugal ask` builds it. It
 * runs in an ordinary slot, batched with every other stream.
 *
 * Energy: the meter (if any) is read when a job starts and ends and every
 * ~10 s; a job's energy is the energy counted during its lifetime times its
 * share of the tokens computed meanwhile (see frugal/energy.h).
 */
#ifndef FR_SERVE_SCHED_H
#define FR_SERVE_SCHED_H

#include "base/buf.h"
#include "serve/error.h"

#include "rag/ask_model.h"

#include <frugal/energy.h>
#include <frugal/generate.h>
#include <frugal/model.h>
#include <frugal/sampler.h>
#include <frugal/stop.h>
#include <frugal/tokenizer.h>

#include <pthread.h>

typedef struct srv_sched srv_sched;

/* Text that became final with one sampled token. */
typedef struct srv_piece {
    size_t text_off, text_len; /* into the owner's text buffer */
    int32_t token;             /* the sampled token; -1 for text released at the end */
    int32_t sample;            /* index into the owner's samples (logprobs), or -1 */
} srv_piece;

typedef enum srv_job_state {
    SRV_JOB_NEW = 0,
    SRV_JOB_QUEUED,
    SRV_JOB_RUNNING,
    SRV_JOB_DONE
} srv_job_state;

/* What a submitter accumulates from a job (also the job's own pending
 * output). Owned by whoever holds it; srv_result_clear frees. */
typedef struct srv_result {
    fr_buf text;
    srv_piece *pieces;
    size_t n_pieces, cap_pieces;
    fr_sample *samples;
    size_t n_samples, cap_samples;
    bool done;
    fr_finish finish;
    srv_error err;          /* status 0: no error */
    uint32_t n_prompt, n_cached, n_generated;
    uint32_t n_ctx;         /* set when the context ended the answer (finish CONTEXT):
                               the slot's size; n_ctx - n_prompt tokens could follow */
    bool has_energy;
    double energy_j;
    const char *energy_source; /* static string */
    double queue_s;         /* submit -> slot */
    double first_token_s;   /* submit -> first token */
    double total_s;         /* submit -> done */
} srv_result;

void srv_result_clear(srv_result *r);

typedef struct srv_job {
    /* input (set before submit; read-only afterwards) */
    int32_t *prompt; /* owned */
    uint32_t n_prompt;
    int32_t max_tokens; /* -1: until end of generation or a full context */
    bool ignore_eog;
    fr_sampler *smp;    /* owned; created from the request's parameters */
    fr_decoder *dec;    /* owned */
    fr_stop *stop;      /* owned */
    bool want_samples;  /* keep each token's fr_sample (logprobs) */
    bool grounded;      /* constrained greedy decoding (see above) */
    fr_rag_cite_state cite; /* grounded: the grammar state, advanced by the scheduler */
    size_t max_bytes;   /* grounded: stop once the answer has this many bytes */
    fr_rag_picker *picker; /* grounded: owned */

    /* guarded by the scheduler's mutex */
    srv_job_state state;
    bool cancel;
    pthread_cond_t cv;  /* signalled when output arrives or the job ends */
    srv_result out;     /* not yet collected */
    double t_submit, t_start, t_first, t_end;

    /* scheduler thread only */
    uint32_t slot;
    uint64_t work;      /* tokens this job fed to the model */
    uint32_t n_gen;     /* tokens sampled (published as out.n_generated at commit) */
    size_t n_bytes;     /* grounded: answer bytes so far */
} srv_job;

/* A zeroed job with its condition variable; NULL when out of memory. */
srv_job *srv_job_create(void);
/* Frees the job and what it owns. The job must not be known to a scheduler
 * (never submitted, or done). NULL is a no-op. */
void srv_job_free(srv_job *j);

/* Fills a new job's input: copies prompt[0..n) (1 <= n), creates the
 * sampler from gp->sampling (n_vocab tokens) and feeds it the prompt (for
 * the penalties, as fr_generate does), the decoder (gp->decode_flags) and
 * the stop matcher (gp->stop). Invalid parameters are a 400 naming them. */
bool srv_job_setup(srv_job *j, const fr_tokenizer *tok, uint32_t n_vocab, const int32_t *prompt,
                   size_t n, const fr_gen_params *gp, srv_error *e);

/* Fills a new job for a grounded answer: copies prompt[0..n) (1 <= n); cite
 * is the grammar's initial state (fr_rag_cite_init with the passage count);
 * max_tokens -1 for no token limit; n_vocab is the model's (the logits'
 * length). Each output piece carries an fr_sample with the token and its
 * log-probability (under the unconstrained softmax), n_top 0. Finish:
 * "stop" when the answer is complete or cannot continue, "length" at
 * max_tokens, max_bytes or a full context. */
bool srv_job_setup_grounded(srv_job *j, const fr_tokenizer *tok, uint32_t n_vocab,
                            const int32_t *prompt, size_t n, const fr_rag_cite_state *cite,
                            int32_t max_tokens, size_t max_bytes, srv_error *e);

typedef struct srv_sched_params {
    fr_context *ctx;          /* borrowed; used only by the scheduler thread from now on */
    const fr_tokenizer *tok;  /* borrowed */
    fr_meter *meter;          /* borrowed, may be NULL */
    uint32_t max_queue;       /* 0: 64 */
    uint32_t n_batch;         /* tokens per step; 0: 512 */
    double queue_timeout_s;   /* 0: none */
} srv_sched_params;

fr_status srv_sched_create(const srv_sched_params *p, srv_sched **out, fr_err *err);

/* Queues the job. Fails (false, e = 503 with a retry hint) when the queue
 * is full or the scheduler is stopping; the job is then untouched. */
bool srv_sched_submit(srv_sched *s, srv_job *j, srv_error *e);

/* Waits up to timeout_s for output the caller has not seen, then moves it
 * from the job into r (text appended; piece offsets and sample indices
 * rebased). Returns true when r changed or the job is done (r->done). */
bool srv_sched_collect(srv_sched *s, srv_job *j, srv_result *r, double timeout_s);

/* Asks the job to stop (the client went away). A queued job ends at once; a
 * running one at the next step boundary. Waits until the scheduler has let
 * go of it; then the job is done and can be freed. */
void srv_sched_cancel(srv_sched *s, srv_job *j);

/* Graceful stop: refuses new jobs, fails queued ones with 503, lets running
 * ones continue until deadline_s from now, then fails them with 503. Returns
 * when no job is left. */
void srv_sched_drain(srv_sched *s, double deadline_s);

/* Drains with deadline 0 if needed, stops the thread, frees. NULL is a no-op. */
void srv_sched_free(srv_sched *s);

typedef struct srv_sched_stats {
    uint32_t slots, active, queued;
    uint64_t prompt_tokens;    /* prompt tokens of finished jobs */
    uint64_t cached_tokens;    /* of which reused from a slot's cache */
    uint64_t generated_tokens;
    uint64_t computed_tokens;  /* tokens fed to the model (all jobs) */
    uint64_t steps;            /* forward passes */
    double tok_per_s;          /* generated tokens per second, last few seconds */
    bool has_energy;
    const char *energy_source; /* "estimate", "rapl", ... or "none" */
    double energy_j;           /* since the scheduler started (central figure) */
    double energy_low_j, energy_high_j;
} srv_sched_stats;

void srv_sched_stats_get(srv_sched *s, srv_sched_stats *st);

#endif
