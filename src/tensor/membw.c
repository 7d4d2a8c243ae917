/*
 * membw.c - memory read bandwidth (see membw.h).
 *
 * The buffer is written once before timing so its pages exist (reading
 * untouched anonymous memory would read the shared zero page, which stays
 * in cache). The read loop sums 8-byte words with several accumulators
 * through the kernel set's read_sum (AVX2 / AVX-512 loads where available):
 * a plain loop would be bounded by the core, not by memory, on some CPUs.
 * The best pass is reported because the machines we measure on are shared
 * and noisy; the best pass is the closest to what the hardware can do.
 */
#include "tensor/membw.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "tensor/kernels/kernels.h"

size_t fr_membw_default_bytes(void)
{
    long llc = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0)
        llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    /* Virtual machines often report the whole host's L3 (hundreds of MiB):
     * cap the buffer at 1 GiB so the measurement stays affordable. */
    size_t b = llc > 0 ? (size_t)llc * 4 : 0;
    if (b > ((size_t)1 << 30))
        b = (size_t)1 << 30;
    return b < ((size_t)256 << 20) ? (size_t)256 << 20 : b;
}

typedef struct fr_membw_job {
    const uint8_t *buf;
    size_t bytes;
    uint64_t (*read_sum)(const void *, size_t);
    uint64_t sums[1024];
} fr_membw_job;

static void fr_membw_worker(void *arg, int ith, int nth)
{
    fr_membw_job *j = arg;
    size_t units = j->bytes / 4096; /* slices of whole 4 KiB pages */
    size_t lo = units * (size_t)ith / (size_t)nth, hi = units * (size_t)(ith + 1) / (size_t)nth;
    j->sums[ith % 1024] += j->read_sum(j->buf + lo * 4096, (hi - lo) * 4096);
}

fr_status fr_membw_read(fr_pool *pool, size_t bytes, int reps, double *gbps, fr_err *err)
{
    *gbps = 0;
    if (bytes == 0)
        bytes = fr_membw_default_bytes();
    bytes = (bytes + 4095) & ~(size_t)4095;
    if (reps < 1)
        reps = 1;
    const fr_kernel_set *ks = fr_kernel_set_get(fr_isa_best());
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, bytes) != 0)
        return fr_err_set(err, FR_E_NOMEM, "memory bandwidth: cannot allocate %zu MiB",
                          bytes >> 20);
    memset(buf, 1, bytes);
    fr_membw_job *j = calloc(1, sizeof *j);
    if (!j) {
        free(buf);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    j->buf = buf;
    j->bytes = bytes;
    j->read_sum = ks->read_sum;
    double best = 0;
    for (int r = 0; r <= reps; r++) {
        double t0 = fr_now_s();
        if (pool)
            fr_pool_run(pool, fr_membw_worker, j);
        else
            fr_membw_worker(j, 0, 1);
        double dt = fr_now_s() - t0;
        if (r > 0 && dt > 0 && (double)bytes / dt > best) /* pass 0 warms up */
            best = (double)bytes / dt;
    }
    /* The sums only exist so the reads cannot be optimized away. */
    uint64_t sink = 0;
    for (int i = 0; i < 1024; i++)
        sink += j->sums[i];
    __asm__ volatile("" : : "r"(sink));
    free(j);
    free(buf);
    *gbps = best / 1e9;
    return FR_OK;
}
