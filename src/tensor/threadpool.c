/*
 * threadpool.c - persistent workers with a generation counter.
 *
 * A job is published by bumping `gen` under the mutex; workers spin on the
 * atomic `gen` for a short while (a decode step issues the next job within
 * microseconds), then block on the condition variable. Completion is an
 * atomic countdown the caller spins on (it also did its own share, so the
 * wait is short). Rejected: pthread_barrier per job (always sleeps, tens of
 * microseconds per op on Linux, too slow for per-token work).
 *
 * Dynamic jobs (fr_pool_run_dynamic) are joined, not awaited: the low bit of
 * gen marks them, a worker joins by incrementing the active count in
 * dyn_state while its OPEN bit is set, and the caller, once its own share is
 * done, clears OPEN and waits only for the workers that joined. A worker
 * reads fn/arg only after joining (OPEN is set after they are written and
 * cleared before they change), so a late worker never runs a stale job.
 * A worker can join a job before it sees that job's gen (OPEN is set just
 * before the publish), so each dynamic job also has an epoch, written before
 * OPEN: a worker runs a job only if its epoch differs from the last one it
 * ran, so no worker runs the same job twice.
 */
#include "tensor/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define FR_SPIN_ITERS 20000
#define FR_DYN_OPEN 0x80000000u

struct fr_pool {
    int n;
    int n_started; /* worker threads actually running (n - 1 when healthy) */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;    /* bumped per job; low bit set for dynamic jobs */
    atomic_int pending; /* workers still running the current static job */
    atomic_uint dyn_state; /* FR_DYN_OPEN | workers inside the dynamic job */
    atomic_uint dyn_epoch; /* id of the current dynamic job */
    atomic_bool stop;
    fr_pool_fn fn;
    void *arg;
};

typedef struct fr_worker_arg {
    fr_pool *p;
    int ith;
} fr_worker_arg;

static inline void fr_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *fr_worker(void *v)
{
    fr_worker_arg *wa = v;
    fr_pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    unsigned seen = 0, ran_epoch = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_acquire) && spins < FR_SPIN_ITERS) {
            fr_cpu_relax();
            spins++;
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        if (g & 1u) {
            /* dynamic: join while the caller still holds the job open */
            unsigned st = atomic_load_explicit(&p->dyn_state, memory_order_acquire);
            while (st & FR_DYN_OPEN) {
                if (atomic_compare_exchange_weak_explicit(&p->dyn_state, &st, st + 1,
                                                          memory_order_acq_rel,
                                                          memory_order_acquire)) {
                    unsigned ep = atomic_load_explicit(&p->dyn_epoch, memory_order_acquire);
                    if (ep != ran_epoch) {
                        ran_epoch = ep;
                        p->fn(p->arg, ith, p->n);
                    }
                    atomic_fetch_sub_explicit(&p->dyn_state, 1, memory_order_acq_rel);
                    break;
                }
            }
        } else {
            p->fn(p->arg, ith, p->n);
            atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
        }
    }
}

int fr_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

fr_status fr_pool_create(int n_threads, fr_pool **out, fr_err *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return fr_err_set(err, FR_E_INVALID, "thread count %d is out of range [1, 1024]", n_threads);
    fr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "out of memory creating a thread pool");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->dyn_state, 0);
    atomic_init(&p->dyn_epoch, 0);
    atomic_init(&p->stop, false);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            fr_pool_free(p);
            return fr_err_set(err, FR_E_NOMEM, "out of memory creating a thread pool");
        }
        for (int i = 1; i < n_threads; i++) {
            fr_worker_arg *wa = malloc(sizeof *wa);
            if (wa) {
                wa->p = p;
                wa->ith = i;
            }
            if (!wa || pthread_create(&p->threads[i - 1], NULL, fr_worker, wa) != 0) {
                free(wa);
                fr_pool_free(p);
                return fr_err_set(err, FR_E_NOMEM, "cannot start worker thread %d of %d", i,
                                  n_threads);
            }
            p->n_started = i;
        }
    }
    *out = p;
    return FR_OK;
}

void fr_pool_free(fr_pool *p)
{
    if (!p)
        return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->stop, true);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->n_started; i++)
            pthread_join(p->threads[i], NULL);
        free(p->threads);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int fr_pool_size(const fr_pool *p) { return p->n; }

/* Next job id with the low bit saying whether it is dynamic; wakes the
 * sleepers. */
static void fr_pool_publish(fr_pool *p, bool dynamic)
{
    pthread_mutex_lock(&p->mu);
    unsigned g = atomic_load_explicit(&p->gen, memory_order_relaxed);
    g = ((g >> 1) + 1) << 1 | (dynamic ? 1u : 0u);
    atomic_store_explicit(&p->gen, g, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void fr_pool_run_dynamic(fr_pool *p, fr_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    unsigned ep = atomic_load_explicit(&p->dyn_epoch, memory_order_relaxed) + 1;
    if (ep == 0)
        ep = 1; /* 0 means "ran nothing yet" */
    atomic_store_explicit(&p->dyn_epoch, ep, memory_order_release);
    atomic_store_explicit(&p->dyn_state, FR_DYN_OPEN, memory_order_release);
    fr_pool_publish(p, true);
    fn(arg, 0, p->n);
    /* close: late workers skip; wait for those inside */
    atomic_fetch_and_explicit(&p->dyn_state, ~FR_DYN_OPEN, memory_order_acq_rel);
    int spins = 0;
    while (atomic_load_explicit(&p->dyn_state, memory_order_acquire) != 0) {
        if (++spins < FR_SPIN_ITERS)
            fr_cpu_relax();
        else
            sched_yield();
    }
}

void fr_pool_run(fr_pool *p, fr_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_release);
    fr_pool_publish(p, false);
    fn(arg, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (++spins < FR_SPIN_ITERS)
            fr_cpu_relax();
        else
            sched_yield();
    }
}
