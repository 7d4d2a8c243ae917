/*
 * The per-thread ranges with stealing (tensor/rowsplit.h):
 * - alone, a thread gets its own range front to back in pieces of a
 *   quarter of what is left (at least `want` units), each with the range's
 *   back as its prefetch limit; then it takes over half of the fullest
 *   other range, from that range's back;
 * - under concurrency (more threads than CPUs, some joining late, some
 *   never), every unit is handed out exactly once, pieces never overlap
 *   and never pass their limit.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "tensor/rowsplit.h"

static void test_alone(void)
{
    fr_rowsplit_slot slot[3];
    fr_rowsplit_init(slot, 3, 10); /* ranges [0,4) [4,7) [7,10) */
    int64_t lo, hi, lim;
    CHECK(fr_rowsplit_next(slot, 3, 1, 2, &lo, &hi, &lim));
    CHECK(lo == 4 && hi == 6 && lim == 7);
    CHECK(fr_rowsplit_next(slot, 3, 1, 2, &lo, &hi, &lim));
    CHECK(lo == 6 && hi == 7 && lim == 7);
    /* own range empty: half (rounded up) of the fullest, [0,4) -> [2,4) */
    CHECK(fr_rowsplit_next(slot, 3, 1, 1, &lo, &hi, &lim));
    CHECK(lo == 2 && hi == 3 && lim == 4);
    CHECK(fr_rowsplit_next(slot, 3, 1, 5, &lo, &hi, &lim));
    CHECK(lo == 3 && hi == 4 && lim == 4);
    /* next fullest: [7,10) (3 left) -> its back 2, [8,10) */
    CHECK(fr_rowsplit_next(slot, 3, 1, 0, &lo, &hi, &lim)); /* want < 1 means 1 */
    CHECK(lo == 8 && hi == 9 && lim == 10);
    /* the owners still have their fronts */
    CHECK(fr_rowsplit_next(slot, 3, 0, 8, &lo, &hi, &lim));
    CHECK(lo == 0 && hi == 2 && lim == 2);
    CHECK(fr_rowsplit_next(slot, 3, 2, 8, &lo, &hi, &lim));
    CHECK(lo == 7 && hi == 8 && lim == 8);
    /* thread 1 still holds [9,10) in its range: thread 2 takes it over */
    CHECK(fr_rowsplit_next(slot, 3, 2, 8, &lo, &hi, &lim));
    CHECK(lo == 9 && hi == 10 && lim == 10);
    for (int t = 0; t < 3; t++)
        CHECK(!fr_rowsplit_next(slot, 3, t, 1, &lo, &hi, &lim));

    /* one thread: a quarter of what is left each time, at least want */
    fr_rowsplit_init(slot, 1, 100);
    static const int64_t his[] = {25, 44, 58, 69, 77, 83, 88, 91, 94, 96, 97, 98, 99, 100};
    for (size_t k = 0; k < sizeof his / sizeof his[0]; k++) {
        CHECK(fr_rowsplit_next(slot, 1, 0, 1, &lo, &hi, &lim));
        CHECK_MSG(hi == his[k] && lim == 100, "piece %zu: [%lld, %lld)", k, (long long)lo,
                  (long long)hi);
    }
    CHECK(!fr_rowsplit_next(slot, 1, 0, 1, &lo, &hi, &lim));
    fr_rowsplit_init(slot, 1, 5);
    CHECK(fr_rowsplit_next(slot, 1, 0, 100, &lo, &hi, &lim) && lo == 0 && hi == 5);
    CHECK(!fr_rowsplit_next(slot, 1, 0, 100, &lo, &hi, &lim));
    /* zero units, more threads than units */
    fr_rowsplit_init(slot, 3, 0);
    CHECK(!fr_rowsplit_next(slot, 3, 0, 1, &lo, &hi, &lim));
    fr_rowsplit_init(slot, 3, 2);
    int got = 0;
    while (fr_rowsplit_next(slot, 3, 2, 1, &lo, &hi, &lim))
        got += (int)(hi - lo);
    CHECK(got == 2);
}

enum { MAX_T = 6, MAX_UNITS = 5000 };

typedef struct stress {
    fr_rowsplit_slot slot[MAX_T];
    int n;
    int64_t units;
    atomic_int taken[MAX_UNITS];
    atomic_int errors;
    atomic_int go;
} stress;

typedef struct targ {
    stress *s;
    int ith;
    int delay_us; /* < 0: never joins */
} targ;

static void *worker(void *v)
{
    targ *a = v;
    stress *s = a->s;
    while (!atomic_load(&s->go))
        ;
    if (a->delay_us < 0)
        return NULL;
    if (a->delay_us) {
        struct timespec ts = {0, a->delay_us * 1000L};
        nanosleep(&ts, NULL);
    }
    int64_t lo, hi, lim;
    int64_t want = 1 + a->ith % 3;
    while (fr_rowsplit_next(s->slot, s->n, a->ith, want, &lo, &hi, &lim)) {
        int64_t quarter = (lim - lo + 3) / 4;
        if (!(0 <= lo && lo < hi && hi <= lim && lim <= s->units &&
              hi - lo <= (quarter > want ? quarter : want)))
            atomic_fetch_add(&s->errors, 1);
        for (int64_t u = lo; u < hi && u < s->units; u++)
            atomic_fetch_add(&s->taken[u], 1);
    }
    return NULL;
}

static void test_concurrent(void)
{
    int rounds = getenv("FR_SANITIZED") ? 30 : 200;
    stress *s = calloc(1, sizeof *s);
    for (int r = 0; r < rounds; r++) {
        s->n = 2 + r % (MAX_T - 1);
        s->units = r % 7 == 0 ? r % 5 : 1 + (r * 7919) % MAX_UNITS;
        for (int64_t u = 0; u < MAX_UNITS; u++)
            atomic_store(&s->taken[u], 0);
        atomic_store(&s->go, 0);
        fr_rowsplit_init(s->slot, s->n, s->units);
        pthread_t th[MAX_T];
        targ args[MAX_T];
        for (int t = 0; t < s->n; t++) {
            /* thread 0 is the caller and always runs; others may be late
             * or never come */
            int d = t == 0 ? 0 : (r + t) % 4 == 0 ? -1 : (r + t) % 4 == 1 ? 200 : 0;
            args[t] = (targ){s, t, d};
            CHECK(pthread_create(&th[t], NULL, worker, &args[t]) == 0);
        }
        atomic_store(&s->go, 1);
        for (int t = 0; t < s->n; t++)
            pthread_join(th[t], NULL);
        int bad = -1;
        for (int64_t u = 0; u < s->units && bad < 0; u++)
            if (atomic_load(&s->taken[u]) != 1)
                bad = (int)u;
        CHECK_MSG(bad < 0, "round %d (%d threads, %lld units): unit %d taken %d times", r, s->n,
                  (long long)s->units, bad, bad < 0 ? 0 : atomic_load(&s->taken[bad]));
        CHECK_EQ_INT(atomic_load(&s->errors), 0);
    }
    free(s);
}

int main(void)
{
    test_alone();
    test_concurrent();
    TEST_END();
}
