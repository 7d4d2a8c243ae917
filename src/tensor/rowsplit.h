/*
 * rowsplit.h - the units of one pool job (tiles of output rows) split into
 * one contiguous range per thread, with stealing.
 *
 * Each thread takes pieces from the front of its own range, so the rows it
 * reads form one ascending stream: the kernels' software prefetch runs on
 * across pieces (it may read up to the range's current back), and memory
 * sees one long sequential read per thread. A thread whose range is empty
 * takes over half of what is left at the back of the fullest other range
 * (and continues there as if it were its own), so a
 * thread the OS has descheduled (or a slower core) holds nothing up: its
 * range is finished by the others, and if it never joins the job at all
 * the caller takes everything.
 *
 * Each range's state is one 64-bit word (front << 32 | back) on its own
 * cache line: the owner advances the front and thieves lower the back,
 * both by compare-and-swap, so a unit is handed out exactly once. Without
 * stealing the owner's word stays in its own cache.
 *
 * Rejected: one shared counter handing out chunks in turn (the previous
 * scheme): every chunk is a new stream whose first prefetch distance is
 * read at demand-miss speed, and the counter's cache line bounces between
 * cores on every chunk - at two threads the small projections of a decode
 * step ran slower than on one.
 */
#ifndef FR_TENSOR_ROWSPLIT_H
#define FR_TENSOR_ROWSPLIT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fr_rowsplit_slot {
    alignas(64) atomic_uint_least64_t fb; /* front << 32 | back, in units */
} fr_rowsplit_slot;

/* Splits [0, units) into n near-equal ranges (units < 2^32). Called by
 * the job's owner before the job is published. */
void fr_rowsplit_init(fr_rowsplit_slot *slot, int n, int64_t units);

/* The next piece [*lo, *hi) for thread ith (< n): a quarter (rounded up)
 * of what is left of its own range, but at least want units (guided
 * scheduling: few pieces while the range is long, small ones near its end
 * where stealing evens the threads out), from the front; when the own
 * range is empty, half (rounded up) of what is left of the fullest other
 * range is first moved, from its back, into the thread's own range (where
 * it can be stolen back in turn). *lim: the back of the range the piece
 * came from, which prefetching may read up to. False when no unit is left
 * in any range. */
bool fr_rowsplit_next(fr_rowsplit_slot *slot, int n, int ith, int64_t want, int64_t *lo,
                      int64_t *hi, int64_t *lim);

#endif
