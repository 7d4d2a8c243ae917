/*
 * threadpool.h - one persistent pool of worker threads per context.
 *
 * fr_pool_run(pool, fn, arg) calls fn(arg, ith, nth) on nth threads (the
 * caller is thread 0) and returns when all have finished. Workers wait for
 * the next job spinning briefly, then sleeping on a condition variable, so a
 * decode step (dozens of runs per token) pays no thread start-up and little
 * wake-up latency, while an idle server uses no CPU.
 *
 * Not re-entrant: one fr_pool_run at a time per pool.
 */
#ifndef FR_TENSOR_THREADPOOL_H
#define FR_TENSOR_THREADPOOL_H

#include <frugal/base.h>

typedef struct fr_pool fr_pool;
typedef void (*fr_pool_fn)(void *arg, int ith, int nth);

/* n_threads >= 1 (1: no worker threads, fn runs on the caller). */
fr_status fr_pool_create(int n_threads, fr_pool **out, fr_err *err);
void fr_pool_free(fr_pool *p);
int fr_pool_size(const fr_pool *p);
void fr_pool_run(fr_pool *p, fr_pool_fn fn, void *arg);

/* Like fr_pool_run, for jobs that hand out their work dynamically (fn
 * takes pieces from a shared atomic counter until none is left, so any
 * subset of the threads completes the job): fn runs on the caller and on
 * every worker that arrives before the caller's own call returns; a worker
 * that arrives later skips the job instead of being waited for. On a busy
 * machine a descheduled worker then costs its share of the work, not a
 * whole time slice. fn must not rely on every ith being called. */
void fr_pool_run_dynamic(fr_pool *p, fr_pool_fn fn, void *arg);

/* Split [0, n) into nth near-equal parts; part ith is [*lo, *hi). */
static inline void fr_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    int64_t per = n / nth, rem = n % nth;
    *lo = ith * per + (ith < rem ? ith : rem);
    *hi = *lo + per + (ith < rem ? 1 : 0);
}

/* Number of online CPUs (at least 1). */
int fr_cpu_count(void);

#endif
