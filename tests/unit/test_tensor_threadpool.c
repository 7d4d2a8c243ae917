/*
 * The thread pool: static jobs run on every thread exactly once; dynamic
 * jobs (fr_pool_run_dynamic) complete all their work whichever threads join,
 * never run a stale job, and mix freely with static ones - including when
 * the workers have gone to sleep between jobs and wake up late.
 */
#include "test.h"

#include <stdatomic.h>
#include <time.h>

#include "tensor/threadpool.h"

enum { ITEMS = 257 };

typedef struct job {
    atomic_int next;
    atomic_int done[ITEMS];
    atomic_int calls;
    atomic_int bad_ith;
    int id; /* changes per job: a stale run would see the wrong one */
    atomic_int wrong_id;
    int expect_id;
} job;

static void dyn_fn(void *arg, int ith, int nth)
{
    job *j = arg;
    if (ith < 0 || ith >= nth)
        atomic_fetch_add(&j->bad_ith, 1);
    if (j->id != j->expect_id)
        atomic_fetch_add(&j->wrong_id, 1);
    atomic_fetch_add(&j->calls, 1);
    for (;;) {
        int i = atomic_fetch_add(&j->next, 3);
        if (i >= ITEMS)
            break;
        for (int k = i; k < i + 3 && k < ITEMS; k++)
            atomic_fetch_add(&j->done[k], 1);
    }
}

static void static_fn(void *arg, int ith, int nth)
{
    atomic_int *seen = arg;
    if (ith >= 0 && ith < nth)
        atomic_fetch_add(&seen[ith], 1);
}

static void nap(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

int main(void)
{
    int rounds = getenv("FR_SANITIZED") ? 200 : 1000;
    for (int n = 1; n <= 4; n++) {
        fr_pool *p;
        fr_err e;
        CHECK(fr_pool_create(n, &p, &e) == FR_OK);
        CHECK_EQ_INT(fr_pool_size(p), n);
        int bad = 0, bad_items = 0, bad_calls = 0, bad_static = 0;
        for (int r = 0; r < rounds; r++) {
            job *j = calloc(1, sizeof *j);
            j->id = j->expect_id = r;
            fr_pool_run_dynamic(p, dyn_fn, j);
            for (int k = 0; k < ITEMS; k++)
                if (atomic_load(&j->done[k]) != 1)
                    bad++, bad_items++;
            if (atomic_load(&j->calls) < 1 || atomic_load(&j->calls) > n || atomic_load(&j->bad_ith) ||
                atomic_load(&j->wrong_id))
                bad++, bad_calls++;
            /* poison the job memory: a worker still using it would see it */
            j->id = -1;
            free(j);
            if (r % 3 == 0) {
                atomic_int seen[4] = {0};
                fr_pool_run(p, static_fn, seen);
                for (int t = 0; t < n; t++)
                    if (atomic_load(&seen[t]) != 1)
                        bad++, bad_static++;
            }
            if (r % 97 == 0)
                nap(3000); /* let the workers fall asleep */
        }
        CHECK_MSG(bad == 0, "%d threads: %d bad rounds (items %d, calls/ids %d, static %d)", n, bad,
                  bad_items, bad_calls, bad_static);
        fr_pool_free(p);
    }
    fr_pool_free(NULL);
    TEST_END();
}
