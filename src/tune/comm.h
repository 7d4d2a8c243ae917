/*
 * comm.h - collectives over the ranks of a data-parallel tuning run (see
 * comm.c; the public part, fr_tune_comm_*, is in frugal/tune.h). With a
 * NULL communicator or one rank every function here does nothing, so the
 * training loop calls them unconditionally.
 */
#ifndef FR_TUNE_COMM_H
#define FR_TUNE_COMM_H

#include <frugal/tune.h>

/* x[0..n) = its sum over all ranks, the same bits on every rank. */
void fr_comm_sum_f32(fr_tune_comm *c, float *x, int64_t n);
void fr_comm_sum_f64(fr_tune_comm *c, double *x, int n);
/* True when every rank holds the same n bytes at p (compares a 64-bit hash). */
bool fr_comm_same(fr_tune_comm *c, const void *p, size_t n);

#endif
