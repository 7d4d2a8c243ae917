/*
 * membw.h - the machine's memory read bandwidth, measured.
 *
 * Decode speed is bounded by how fast the weights stream from memory, so
 * benchmarks report their effective GB/s as a share of this figure.
 * fr_membw_read reads a buffer much larger than the last-level cache with
 * the best SIMD loads the CPU has, every thread of the pool reading its own
 * contiguous slice, and reports the best of several passes.
 */
#ifndef FR_TENSOR_MEMBW_H
#define FR_TENSOR_MEMBW_H

#include <frugal/base.h>

#include "tensor/threadpool.h"

/* Bytes the measurement reads by default: 4x the last-level cache, at
 * least 256 MiB (a buffer that fits in cache would measure the cache) and
 * at most 1 GiB. */
size_t fr_membw_default_bytes(void);

/* Reads bytes (0: the default) with every thread of pool (NULL: the caller
 * alone), best of reps passes (>= 1) after one warm-up pass; *gbps gets
 * 1e9-bytes per second. Allocates and frees the buffer (FR_E_NOMEM). */
fr_status fr_membw_read(fr_pool *pool, size_t bytes, int reps, double *gbps, fr_err *err);

#endif
