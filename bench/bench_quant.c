/* bench_quant - speed of the reference quantizers and dequantizers, one
 * thread, on 4 Mi normal random values (std 0.02, like LLM weights).
 * Prints the machine, commit and, per type, million values per second and
 * the relative RMS round-trip error. Never fails on a number.
 *
 *   ./build/bench_quant [N_VALUES]
 */
#include "tensor/kernels/generic.h"

#include <frugal/base.h>
#include <frugal/tensor.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include "tensor/cpu.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 4L << 20;
    if (n < 256)
        n = 256;
    n -= n % 256;
    struct utsname u;
    uname(&u);
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    printf("bench_quant: frugal %s (commit %s)\n", fr_version(), fr_commit());
    printf("machine: %s %s, %s; threads: 1\n", u.sysname, u.machine, cpu);
    printf("input: %ld normal random values (std 0.02)\n\n", n);

    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    uint8_t *q = malloc((size_t)n * 4);
    uint64_t s = 12345;
    for (long i = 0; i < n; i += 2) { /* Box-Muller on a splitmix64 stream */
        double u1, u2;
        s += 0x9e3779b97f4a7c15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        u1 = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
        u2 = ((double)((z * 0x2545f4914f6cdd1dull) >> 11) + 0.5) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1));
        x[i] = (float)(0.02 * r * cos(6.283185307179586 * u2));
        x[i + 1] = (float)(0.02 * r * sin(6.283185307179586 * u2));
    }
    const fr_type types[] = {FR_TYPE_F16,  FR_TYPE_BF16, FR_TYPE_Q8_0, FR_TYPE_Q4_0,
                             FR_TYPE_Q4_1, FR_TYPE_Q5_0, FR_TYPE_Q5_1, FR_TYPE_Q2_K,
                             FR_TYPE_Q3_K, FR_TYPE_Q4_K, FR_TYPE_Q5_K, FR_TYPE_Q6_K};
    printf("| type | bits/value | quantize Mvalues/s | dequantize Mvalues/s | rel RMS error |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        fr_type t = types[k];
        fr_err err;
        double t0 = now();
        if (fr_quantize(t, x, q, n, &err) != FR_OK) {
            printf("| %s | error: %s |\n", fr_type_name(t), err.msg);
            continue;
        }
        double t1 = now();
        int reps = 0;
        double t2 = now(), t3;
        do {
            fr_dequantize(t, q, y, n, &err);
            reps++;
            t3 = now();
        } while (t3 - t2 < 0.2);
        double e = 0, s2 = 0;
        for (long i = 0; i < n; i++) {
            e += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            s2 += (double)x[i] * x[i];
        }
        printf("| %s | %.3f | %.1f | %.1f | %.4f |\n", fr_type_name(t),
               8.0 * (double)fr_type_row_bytes(t, n) / (double)n, (double)n / (t1 - t0) / 1e6,
               (double)n * reps / (t3 - t2) / 1e6, sqrt(e / s2));
    }
    free(x);
    free(y);
    free(q);
    return 0;
}
