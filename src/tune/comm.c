/*
 * comm.c - the ranks of a data-parallel tuning run (mpirun -np N frugal
 * tune): who this process is, sums over all ranks, and agreeing on
 * success or failure. The only file that talks to MPI, so the training
 * loop (tuner.c) and the model code never do.
 *
 * Started by an MPI launcher (its environment says so: OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE, PMIX_RANK, PMI_RANK), fr_tune_comm_create joins the job with
 * MPI_Init_thread (FUNNELED: only the main thread calls MPI; the thread
 * pool never does). Not started by a launcher, it returns one rank and
 * leaves MPI alone (no singleton start-up, which forks a daemon). A build
 * without MPI (FR_HAVE_MPI undefined: no mpicc when it was configured)
 * compiles the same file without the MPI calls and refuses to run under a
 * launcher of several ranks, since every copy would train the whole
 * adapter on its own.
 *
 * Every collective here is called by every rank in the same order (the
 * training loop guarantees it); MPI's default error handler ends the whole
 * job on a communication failure, so none of them returns an error.
 *
 * Sums use MPI_Allreduce. Every rank must get the same bits, or the ranks'
 * adapters drift apart: Open MPI's algorithms either compute each part of
 * the sum on one rank and send it to the others (ring, reduce + broadcast)
 * or combine the same two partial sums on both ranks of a pair (recursive
 * doubling; IEEE addition is commutative), and for a fixed rank count and
 * size they pick the same algorithm every time, so a rerun with the same N
 * gives the same adapter. fr_comm_same checks the ranks still agree before
 * an adapter or checkpoint is written. Rejected: a hand-made reduction in
 * rank order (MPI's is faster and already reproducible for a fixed N).
 */
#include "tune/comm.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef FR_HAVE_MPI
#include <mpi.h>
#endif

struct fr_tune_comm {
    int rank, size;
    int local_size; /* ranks on this machine (from the launcher; 1 when unknown) */
    bool mpi;       /* joined an MPI job */
    bool finalize;  /* we called MPI_Init, so fr_tune_comm_free ends MPI */
};

/* ---- the launcher's environment ------------------------------------------------------- */

static long env_count(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    return end && !*end && n > 0 && n < (1L << 24) ? n : 0;
}

/* Ranks the launcher started: 0 when not started by an MPI launcher, -1
 * when started by one that does not say how many. *var names the variable. */
static long launch_size(const char **var)
{
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    static const char *const ranks[] = {"PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        long n = env_count(sizes[i]);
        if (n > 0) {
            *var = sizes[i];
            return n;
        }
    }
    for (size_t i = 0; i < sizeof ranks / sizeof *ranks; i++)
        if (getenv(ranks[i])) {
            *var = ranks[i];
            return -1;
        }
    *var = NULL;
    return 0;
}

#ifdef FR_HAVE_MPI
static int local_size(void)
{
    long n = env_count("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!n)
        n = env_count("MPI_LOCALNRANKS");
    return n > 0 ? (int)n : 1;
}
#endif

const char *fr_tune_mpi_library(void)
{
#if defined(FR_HAVE_MPI) && defined(OMPI_MAJOR_VERSION)
#define FR_STR2(x) #x
#define FR_STR(x) FR_STR2(x)
    return "Open MPI " FR_STR(OMPI_MAJOR_VERSION) "." FR_STR(OMPI_MINOR_VERSION) "." FR_STR(
        OMPI_RELEASE_VERSION);
#elif defined(FR_HAVE_MPI)
    return "MPI";
#else
    return NULL;
#endif
}

/* ---- lifetime ------------------------------------------------------------------------- */

fr_status fr_tune_comm_create(fr_tune_comm **out, fr_err *err)
{
    *out = NULL;
    fr_tune_comm *c = calloc(1, sizeof *c);
    if (!c)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    c->size = 1;
    c->local_size = 1;
    const char *var = NULL;
    long want = launch_size(&var);
#ifdef FR_HAVE_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (want != 0 || inited) {
        if (!inited) {
            int provided = 0;
            if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
                free(c);
                return fr_err_set(err, FR_E_IO, "MPI_Init_thread failed (started by %s)", var);
            }
            c->finalize = true;
        }
        c->mpi = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
        c->local_size = local_size();
        if (want > 1 && c->size != want) {
            fr_status st = fr_err_set(
                err, FR_E_UNSUPPORTED,
                "started by an MPI launcher for %ld ranks (%s), but MPI says this job has %d: "
                "the launcher belongs to another MPI than the one frugal was built with (%s); "
                "use that MPI's mpirun", want, var, c->size, fr_tune_mpi_library());
            fr_tune_comm_free(c);
            return st;
        }
    }
#else
    if (want > 1 || want < 0) {
        char n[32] = "several";
        if (want > 1)
            snprintf(n, sizeof n, "%ld", want);
        free(c);
        return fr_err_set(err, FR_E_UNSUPPORTED,
                          "this frugal was built without MPI, but it was started by an MPI "
                          "launcher for %s ranks (%s is set): each would train the whole "
                          "adapter on its own. Install libopenmpi-dev and openmpi-bin "
                          "(scripts/deps.sh does), rebuild, and run mpirun again; or run frugal "
                          "tune without mpirun", n, var);
    }
#endif
    *out = c;
    return FR_OK;
}

void fr_tune_comm_free(fr_tune_comm *c)
{
    if (!c)
        return;
#ifdef FR_HAVE_MPI
    if (c->finalize)
        MPI_Finalize();
#endif
    free(c);
}

int fr_tune_comm_rank(const fr_tune_comm *c) { return c ? c->rank : 0; }
int fr_tune_comm_size(const fr_tune_comm *c) { return c ? c->size : 1; }

int fr_tune_comm_threads(const fr_tune_comm *c)
{
    if (!c || !c->mpi)
        return 0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int share = online > 0 ? (int)(online / c->local_size) : 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < share)
        share = CPU_COUNT(&set); /* the launcher bound this rank to fewer CPUs */
    return share > 0 ? share : 1;
}

void fr_tune_comm_abort(fr_tune_comm *c, int code)
{
#ifdef FR_HAVE_MPI
    if (c && c->mpi && c->size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)c;
    (void)code;
#endif
}

/* ---- collectives ----------------------------------------------------------------------- */

fr_status fr_tune_comm_agree(fr_tune_comm *c, fr_status st, fr_err *err)
{
#ifdef FR_HAVE_MPI
    if (!c || c->size < 2)
        return st;
    int mine = st != FR_OK ? c->rank : c->size, first = c->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == c->size)
        return FR_OK;
    struct {
        int code;
        char msg[FR_ERR_MSG_MAX];
    } m;
    memset(&m, 0, sizeof m);
    if (c->rank == first) {
        m.code = (int)st;
        if (err)
            snprintf(m.msg, sizeof m.msg, "%s", err->msg);
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    m.msg[sizeof m.msg - 1] = '\0';
    if (c->rank == first)
        return st;
    if (m.code == FR_E_CANCELLED)
        return fr_err_set(err, FR_E_CANCELLED, "%s", m.msg);
    return fr_err_set(err, (fr_status)m.code, "rank %d: %s", first, m.msg);
#else
    (void)c;
    (void)err;
    return st;
#endif
}

void fr_comm_sum_f32(fr_tune_comm *c, float *x, int64_t n)
{
#ifdef FR_HAVE_MPI
    if (!c || c->size < 2)
        return;
    const int64_t chunk = 1 << 28;
    for (int64_t i = 0; i < n; i += chunk) {
        int k = (int)(n - i < chunk ? n - i : chunk);
        MPI_Allreduce(MPI_IN_PLACE, x + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
#else
    (void)c;
    (void)x;
    (void)n;
#endif
}

void fr_comm_sum_f64(fr_tune_comm *c, double *x, int n)
{
#ifdef FR_HAVE_MPI
    if (c && c->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)c;
    (void)x;
    (void)n;
#endif
}

bool fr_comm_same(fr_tune_comm *c, const void *p, size_t n)
{
#ifdef FR_HAVE_MPI
    if (!c || c->size < 2)
        return true;
    const unsigned char *b = p;
    unsigned long long h = 0xcbf29ce484222325ULL, lo, hi;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    MPI_Allreduce(&h, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&h, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
#else
    (void)c;
    (void)p;
    (void)n;
    return true;
#endif
}
