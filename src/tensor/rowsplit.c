/*
 * rowsplit.c - per-thread ranges of work units with stealing (rowsplit.h).
 */
#include "tensor/rowsplit.h"

static inline uint64_t fr_fb(uint64_t f, uint64_t b)
{
    return f << 32 | b;
}

void fr_rowsplit_init(fr_rowsplit_slot *slot, int n, int64_t units)
{
    int64_t per = units / n, rem = units % n, lo = 0;
    for (int i = 0; i < n; i++) {
        int64_t hi = lo + per + (i < rem ? 1 : 0);
        atomic_store_explicit(&slot[i].fb, fr_fb((uint64_t)lo, (uint64_t)hi), memory_order_relaxed);
        lo = hi;
    }
}

bool fr_rowsplit_next(fr_rowsplit_slot *slot, int n, int ith, int64_t want, int64_t *lo,
                      int64_t *hi, int64_t *lim)
{
    if (want < 1)
        want = 1;
    for (;;) {
        /* own range, from the front */
        uint64_t st = atomic_load_explicit(&slot[ith].fb, memory_order_relaxed);
        for (;;) {
            uint64_t f = st >> 32, b = st & 0xffffffffu;
            if (f >= b)
                break;
            uint64_t take = (b - f + 3) / 4;
            take = take > (uint64_t)want ? take : (uint64_t)want;
            uint64_t nf = take < b - f ? f + take : b;
            if (atomic_compare_exchange_weak_explicit(&slot[ith].fb, &st, fr_fb(nf, b),
                                                      memory_order_relaxed, memory_order_relaxed)) {
                *lo = (int64_t)f;
                *hi = (int64_t)nf;
                *lim = (int64_t)b;
                return true;
            }
        }
        /* Empty: move half of the fullest other range (its back) into our
         * own, so that it can be stolen back in turn. Only we store into
         * an empty own slot, and the moved units were never handed out, so
         * no thief's stale view of this slot can match it again. */
        int best = -1;
        uint64_t best_left = 0, best_st = 0;
        for (int k = 1; k < n; k++) {
            int v = (ith + k) % n;
            uint64_t s = atomic_load_explicit(&slot[v].fb, memory_order_relaxed);
            uint64_t f = s >> 32, b = s & 0xffffffffu;
            if (f < b && b - f > best_left) {
                best = v;
                best_left = b - f;
                best_st = s;
            }
        }
        if (best < 0)
            return false;
        uint64_t f = best_st >> 32, b = best_st & 0xffffffffu;
        uint64_t nb = b - (best_left + 1) / 2;
        if (atomic_compare_exchange_strong_explicit(&slot[best].fb, &best_st, fr_fb(f, nb),
                                                    memory_order_relaxed, memory_order_relaxed))
            atomic_store_explicit(&slot[ith].fb, fr_fb(nb, b), memory_order_relaxed);
    }
}
