/*
 * parallel.c - dynamic chunk hand-out over the thread pool (see parallel.h).
 */
#include "tune/parallel.h"

#include <stdatomic.h>

typedef struct fr_chunk_job {
    fr_chunk_fn fn;
    void *arg;
    int64_t n;
    atomic_llong next;
} fr_chunk_job;

static void fr_chunk_worker(void *a, int ith, int nth)
{
    fr_chunk_job *j = a;
    (void)nth;
    for (;;) {
        long long c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->n)
            break;
        j->fn(j->arg, (int64_t)c, ith);
    }
}

void fr_parallel_chunks(fr_pool *pool, int64_t n_chunks, fr_chunk_fn fn, void *arg)
{
    if (n_chunks <= 0)
        return;
    if (!pool || fr_pool_size(pool) == 1 || n_chunks == 1) {
        for (int64_t c = 0; c < n_chunks; c++)
            fn(arg, c, 0);
        return;
    }
    fr_chunk_job j;
    j.fn = fn;
    j.arg = arg;
    j.n = n_chunks;
    atomic_init(&j.next, 0);
    fr_pool_run_dynamic(pool, fr_chunk_worker, &j);
}
