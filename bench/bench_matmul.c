/* bench_matmul - speed of fr_matmul per weight type, kernel path and thread
 * count, at the layer shapes of Llama-3.2-1B and Qwen2.5-0.5B, plus the
 * machine's memory read bandwidth. Never fails on a number.
 *
 *   ./build/bench_matmul [--types q4_0,q8_0,...] [--paths generic,avx2,avx512]
 *                        [--threads 1,2] [--tok 128] [--all] [--no-model]
 *
 * decode rows: n_tok = 1; time per product (median of repeated runs over
 *   enough copies of the matrix to exceed the last-level cache, so weights
 *   come from memory as they do in a real model); GB/s = weight bytes / time,
 *   and its share of the measured read bandwidth with the same threads.
 * prefill rows: n_tok = 128 (--tok); GFLOP/s = 2 n_in n_out n_tok / time and
 *   tokens/s for that matrix alone.
 * model rows (unless --no-model): the sum over every linear layer of the
 *   model shape (the output head for one token only, as llama-bench's pp
 *   test does), as tokens/s for prefill of 128 and decode - matmuls only, so
 *   an upper bound of the engine's speed, to set beside llama.cpp's figures
 *   in ../shared/bench/peers.md (Q4_K stands in for Q4_K_M).
 * The generic path runs prefill only on the first shape unless --all (it is
 * the portable reference and takes seconds per product).
 */
#include "tensor/cpu.h"
#include "tensor/kernels/kernels.h"
#include "tensor/matmul.h"
#include "tensor/membw.h"
#include "tensor/pack.h"

#include <frugal/base.h>
#include <frugal/tensor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct shape {
    const char *name;
    int64_t n_in, n_out;
} shape;

static const shape shapes[] = {
    {"2048x2048", 2048, 2048}, {"2048x8192", 2048, 8192}, {"8192x2048", 8192, 2048},
    {"896x4864", 896, 4864},   {"4864x896", 4864, 896},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Model shapes: per layer (count, n_in, n_out), layers, and the head. */
typedef struct model_shape {
    const char *name;
    int layers;
    int n_mats;
    int64_t mats[7][2];
    int64_t head[2];
} model_shape;

static const model_shape models[] = {
    {"llama-3.2-1b",
     16,
     7,
     {{2048, 2048}, {2048, 512}, {2048, 512}, {2048, 2048}, {2048, 8192}, {2048, 8192}, {8192, 2048}},
     {2048, 128256}},
    {"qwen2.5-0.5b",
     24,
     7,
     {{896, 896}, {896, 128}, {896, 128}, {896, 896}, {896, 4864}, {896, 4864}, {4864, 896}},
     {896, 151936}},
};

/* A weight matrix of n_out rows: 64 distinct random rows, repeated. */
static uint8_t *make_weight(fr_type t, int64_t n_in, int64_t n_out, size_t *row_bytes)
{
    size_t rb = (size_t)fr_type_row_bytes(t, n_in);
    *row_bytes = rb;
    uint8_t *w = NULL;
    if (posix_memalign((void **)&w, 64, rb * (size_t)n_out) != 0)
        return NULL;
    float *row = malloc(sizeof(float) * (size_t)n_in);
    fr_err e;
    int64_t distinct = n_out < 64 ? n_out : 64;
    for (int64_t r = 0; r < distinct; r++) {
        for (int64_t i = 0; i < n_in; i++)
            row[i] = frand() * 0.05f;
        if (fr_quantize(t, row, w + rb * (size_t)r, n_in, &e) != FR_OK) {
            fprintf(stderr, "quantize: %s\n", e.msg);
            exit(1);
        }
    }
    for (int64_t r = distinct; r < n_out; r++)
        memcpy(w + rb * (size_t)r, w + rb * (size_t)(r % distinct), rb);
    free(row);
    return w;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct ctx {
    fr_pool *pool[3];
    fr_matmul_scratch s;
    float *x, *y;
    size_t llc_bytes;
} ctx;

/* Median seconds per product of (t, n_in, n_out) with n_tok tokens. For
 * decode, cycles through copies of the matrix totalling > 4x the LLC. */
static double time_product(ctx *c, fr_isa isa, bool x8, int nth, fr_type t, int64_t n_in,
                           int64_t n_out, int64_t n_tok)
{
    fr_err e;
    if (fr_matmul_scratch_set_isa(&c->s, isa, &e) != FR_OK)
        return -1;
    size_t rb;
    uint8_t *w = make_weight(t, n_in, n_out, &rb);
    size_t bytes = rb * (size_t)n_out;
    int copies = 1;
    if (n_tok <= 4) {
        copies = (int)(c->llc_bytes / bytes) + 1;
        if (copies > 64)
            copies = 64;
    }
    uint8_t **cw = calloc((size_t)copies, sizeof *cw);
    cw[0] = w;
    for (int i = 1; i < copies; i++) {
        if (posix_memalign((void **)&cw[i], 64, bytes) != 0) {
            copies = i;
            break;
        }
        memcpy(cw[i], w, bytes);
    }
    fr_weight wt = {t, w, n_in, n_out, rb, NULL, 0};
    fr_packed **pk = calloc((size_t)copies, sizeof *pk);
    for (int i = 0; x8 && i < copies; i++) {
        wt.data = cw[i];
        if (fr_weight_pack(&wt, isa, &pk[i], &e) != FR_OK || !pk[i]) {
            fprintf(stderr, "no x8 layout for %s on %s\n", fr_type_name(t), fr_isa_name(isa));
            exit(1);
        }
    }
    double times[64];
    int n = 0;
    double start = now();
    /* warm-up, then at least 5 runs and 0.25 s (at most 64 runs) */
    for (int i = 0; i < copies; i++) {
        wt.data = cw[i];
        wt.packed = pk[i];
        fr_matmul(c->pool[nth], &wt, c->x, n_tok, c->y, n_out, &c->s);
    }
    start = now();
    while (n < 64 && (n < 5 || now() - start < 0.25)) {
        wt.data = cw[n % copies];
        wt.packed = pk[n % copies];
        double t0 = now();
        fr_matmul(c->pool[nth], &wt, c->x, n_tok, c->y, n_out, &c->s);
        times[n++] = now() - t0;
        if (n >= 1 && times[0] > 2.0)
            break;
    }
    for (int i = 0; i < copies; i++) {
        free(cw[i]);
        fr_packed_free(pk[i]);
    }
    free(cw);
    free(pk);
    qsort(times, (size_t)n, sizeof times[0], cmp_d);
    return times[n / 2];
}

static bool in_list(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t n = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

int main(int argc, char **argv)
{
    const char *types_arg = NULL, *paths_arg = NULL, *threads_arg = "1,2";
    int64_t ptok = 128;
    bool all = false, model = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--types") && i + 1 < argc)
            types_arg = argv[++i];
        else if (!strcmp(argv[i], "--paths") && i + 1 < argc)
            paths_arg = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads_arg = argv[++i];
        else if (!strcmp(argv[i], "--tok") && i + 1 < argc)
            ptok = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--all"))
            all = true;
        else if (!strcmp(argv[i], "--no-model"))
            model = false;
        else {
            fprintf(stderr, "usage: %s [--types LIST] [--paths LIST] [--threads 1,2] [--tok N] "
                            "[--all] [--no-model]\n", argv[0]);
            return 2;
        }
    }
    if (ptok < 1 || ptok > 4096)
        ptok = 128;
    struct utsname u;
    uname(&u);
    char cpu[256], feats[512];
    fr_cpu_model_name(cpu, sizeof cpu);
    fr_cpu_describe(feats, sizeof feats);
    printf("bench_matmul: frugal %s (commit %s)\n", fr_version(), fr_commit());
    printf("machine: %s %s, %s, %d online CPUs\n", u.sysname, u.machine, cpu, fr_cpu_count());
    printf("features: %s\n", feats);
    printf("paths:");
    for (int i = 0; i < FR_ISA_COUNT_; i++)
        printf(" %s%s", fr_isa_name((fr_isa)i), fr_isa_available((fr_isa)i) ? "" : "(n/a)");
    printf("; best %s\n", fr_isa_name(fr_isa_best()));

    ctx c;
    memset(&c, 0, sizeof c);
    fr_err e;
    for (int n = 1; n <= 2; n++)
        if (fr_pool_create(n, &c.pool[n], &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    if (fr_matmul_scratch_init(&c.s, 2, 8192, ptok, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    c.llc_bytes = fr_membw_default_bytes();
    c.x = malloc(sizeof(float) * 8192 * (size_t)ptok);
    c.y = malloc(sizeof(float) * 152000 * (size_t)ptok);
    for (int64_t i = 0; i < 8192 * ptok; i++)
        c.x[i] = frand();

    double bw[3] = {0, 0, 0};
    for (int n = 1; n <= 2; n++) {
        double g[3];
        for (int r = 0; r < 3; r++)
            if (fr_membw_read(c.pool[n], 0, 3, &g[r], &e))
                g[r] = 0;
        qsort(g, 3, sizeof g[0], cmp_d);
        bw[n] = g[1];
        printf("memory read bandwidth, %d thread%s: %.1f GB/s (median of 3, best of 3 passes "
               "over %zu MiB each)\n", n, n > 1 ? "s" : "", bw[n], fr_membw_default_bytes() >> 20);
    }

    static const fr_type types[] = {FR_TYPE_F32,  FR_TYPE_F16,  FR_TYPE_BF16, FR_TYPE_Q8_0,
                                    FR_TYPE_Q4_0, FR_TYPE_Q4_1, FR_TYPE_Q5_0, FR_TYPE_Q5_1,
                                    FR_TYPE_Q2_K, FR_TYPE_Q3_K, FR_TYPE_Q4_K, FR_TYPE_Q5_K,
                                    FR_TYPE_Q6_K};
    printf("\n%-6s %-10s %-7s %3s %10s %8s %6s | %10s %9s %9s\n", "type", "shape", "path", "thr",
           "decode us", "GB/s", "%bw", "prefill ms", "GFLOP/s", "tok/s");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        fr_type t = types[ti];
        if (!in_list(types_arg, fr_type_name(t)))
            continue;
        for (int si = 0; si < N_SHAPES; si++) {
            const shape *sh = &shapes[si];
            if (sh->n_in % fr_type_get(t)->block_size)
                continue;
            for (int v = 0; v < 2 * FR_ISA_COUNT_; v++) {
                int isa = v / 2;
                bool x8 = v % 2;
                char pn[32];
                snprintf(pn, sizeof pn, "%s%s", fr_isa_name((fr_isa)isa), x8 ? "x8" : "");
                if (!fr_isa_available((fr_isa)isa) || !in_list(paths_arg, pn) ||
                    (x8 && !fr_pack_has((fr_isa)isa, t)))
                    continue;
                for (int nth = 1; nth <= 2; nth++) {
                    char tn[4];
                    snprintf(tn, sizeof tn, "%d", nth);
                    if (!in_list(threads_arg, tn))
                        continue;
                    double bytes = (double)fr_type_row_bytes(t, sh->n_in) * (double)sh->n_out;
                    double td = time_product(&c, (fr_isa)isa, x8, nth, t, sh->n_in, sh->n_out, 1);
                    double tp = -1;
                    if (isa != FR_ISA_GENERIC || all || si == 0)
                        tp = time_product(&c, (fr_isa)isa, x8, nth, t, sh->n_in, sh->n_out, ptok);
                    printf("%-6s %-10s %-7s %3d %10.1f %8.2f %5.0f%% |", fr_type_name(t), sh->name,
                           pn, nth, td * 1e6, bytes / td / 1e9,
                           100 * bytes / td / 1e9 / bw[nth]);
                    if (tp > 0)
                        printf(" %10.2f %9.1f %9.1f\n", tp * 1e3,
                               2.0 * (double)sh->n_in * (double)sh->n_out * (double)ptok / tp / 1e9,
                               (double)ptok / tp);
                    else
                        printf(" %10s %9s %9s\n", "-", "-", "-");
                    fflush(stdout);
                }
            }
        }
    }

    if (model) {
        printf("\nmodel estimates (matmuls only; head for 1 token): pp%lld and tg tok/s\n",
               (long long)ptok);
        printf("%-14s %-6s %-7s %3s %10s %10s\n", "model", "type", "path", "thr", "pp tok/s",
               "tg tok/s");
        static const fr_type mtypes[] = {FR_TYPE_Q8_0, FR_TYPE_Q4_0, FR_TYPE_Q4_K};
        for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++) {
            const model_shape *m = &models[mi];
            for (size_t ti = 0; ti < sizeof mtypes / sizeof mtypes[0]; ti++) {
                fr_type t = mtypes[ti];
                if (!in_list(types_arg, fr_type_name(t)))
                    continue;
                for (int v = 2; v < 2 * FR_ISA_COUNT_; v++) {
                    int isa = v / 2;
                    bool x8 = v % 2;
                    char pn[32];
                    snprintf(pn, sizeof pn, "%s%s", fr_isa_name((fr_isa)isa), x8 ? "x8" : "");
                    if (!fr_isa_available((fr_isa)isa) || !in_list(paths_arg, pn) ||
                        (x8 && !fr_pack_has((fr_isa)isa, t)))
                        continue;
                    for (int nth = 1; nth <= 2; nth++) {
                        char tn[4];
                        snprintf(tn, sizeof tn, "%d", nth);
                        if (!in_list(threads_arg, tn))
                            continue;
                        /* qwen's rows of 896/4864 are not multiples of 256: the
                         * real Q4_K_M files store those tensors as Q5_0/Q8_0;
                         * use Q5_0 there as the nearest stand-in. */
                        double pp = 0, tg = 0;
                        for (int k = 0; k < m->n_mats; k++) {
                            fr_type tk = t;
                            if (m->mats[k][0] % fr_type_get(t)->block_size)
                                tk = FR_TYPE_Q5_0;
                            bool xk = x8 && fr_pack_has((fr_isa)isa, tk);
                            pp += time_product(&c, (fr_isa)isa, xk, nth, tk, m->mats[k][0],
                                               m->mats[k][1], ptok);
                            tg += time_product(&c, (fr_isa)isa, xk, nth, tk, m->mats[k][0],
                                               m->mats[k][1], 1);
                        }
                        fr_type th = t;
                        if (m->head[0] % fr_type_get(t)->block_size)
                            th = FR_TYPE_Q8_0;
                        double head = time_product(&c, (fr_isa)isa,
                                                   x8 && fr_pack_has((fr_isa)isa, th), nth, th,
                                                   m->head[0],
                                                   m->head[1], 1);
                        pp = pp * m->layers + head;
                        tg = tg * m->layers + head;
                        printf("%-14s %-6s %-7s %3d %10.1f %10.1f\n", m->name, fr_type_name(t),
                               pn, nth, (double)ptok / pp, 1.0 / tg);
                        fflush(stdout);
                    }
                }
            }
        }
    }
    fr_matmul_scratch_free(&c.s);
    for (int n = 1; n <= 2; n++)
        fr_pool_free(c.pool[n]);
    free(c.x);
    free(c.y);
    return 0;
}
