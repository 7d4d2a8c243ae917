/*
 * parallel.h - the one way training code spreads work over the pool:
 * numbered chunks handed out from an atomic counter.
 *
 * A chunk's result must not depend on which thread runs it or on what else
 * that thread ran (the callers guarantee it: chunk boundaries depend only
 * on the problem size), so results are the same for any thread count and
 * any schedule. Dynamic hand-out (fr_pool_run_dynamic) keeps all threads
 * busy when chunks cost different amounts, and a worker descheduled on a
 * busy machine is never waited for (2 threads, qwen2.5-0.5b shape: 41 ->
 * 51 training tok/s here against a run that awaits every worker).
 *
 * ith (0 .. nth-1) identifies the running thread, for per-thread scratch.
 */
#ifndef FR_TUNE_PARALLEL_H
#define FR_TUNE_PARALLEL_H

#include <stdint.h>

#include "tensor/threadpool.h"

typedef void (*fr_chunk_fn)(void *arg, int64_t chunk, int ith);

/* Runs fn(arg, c, ith) for every c in [0, n_chunks) on pool (NULL or a pool
 * of one: on the caller, in order). */
void fr_parallel_chunks(fr_pool *pool, int64_t n_chunks, fr_chunk_fn fn, void *arg);

#endif
