/* bench_sampler: time per fr_sampler_sample call for vocabulary sizes of
 * real models (SmolLM 49152, Llama 3 128256, Qwen2.5 151936, Gemma 262144)
 * and the usual settings. Synthetic logits shaped like a model's (a few
 * large values, a long tail). Prints a markdown table; never fails on a
 * number.
 *
 * Usage: bench_sampler [ITERATIONS]   (default 200 per cell) */
#include <frugal/sampler.h>

#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensor/cpu.h"

int main(int argc, char **argv)
{
    long iters = 200;
    if (argc > 1) {
        char *end;
        iters = strtol(argv[1], &end, 10);
        if (*end || iters <= 0) {
            fprintf(stderr, "usage: bench_sampler [ITERATIONS]\n");
            return 2;
        }
    }
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    printf("# bench_sampler\n\nmachine: %s, 1 thread, frugal %s (%s), %ld samples per cell\n\n",
           cpu, fr_version(), fr_commit(), iters);
    printf("| vocab | settings | us/token |\n|---:|---|---:|\n");

    static const int32_t vocabs[] = {49152, 128256, 151936, 262144};
    struct {
        const char *name;
        float temp, top_p, min_p;
        int32_t top_k;
        float rep;
        bool logprobs;
    } cfg[] = {
        {"greedy", 0.0f, 1.0f, 0.0f, 0, 1.0f, false},
        {"defaults (T 0.8, top-k 40, top-p 0.95, min-p 0.05)", 0.8f, 0.95f, 0.05f, 40, 1.0f, false},
        {"T 0.7, top-p 0.9 (no top-k)", 0.7f, 0.9f, 0.0f, 0, 1.0f, false},
        {"T 1, no truncation", 1.0f, 1.0f, 0.0f, 0, 1.0f, false},
        {"defaults + repeat 1.1 + logprobs top 20", 0.8f, 0.95f, 0.05f, 40, 1.1f, true},
    };
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        int32_t nv = vocabs[v];
        float *l = malloc((size_t)nv * sizeof *l);
        if (!l)
            return 1;
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (int32_t i = 0; i < nv; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            double u = (double)(x >> 11) * 0x1.0p-53;
            l[i] = (float)(-4.0 + 20.0 * pow(u, 40.0) + 3.0 * u);
        }
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            fr_sampler_params p;
            fr_sampler_params_default(&p);
            p.temperature = cfg[c].temp;
            p.top_p = cfg[c].top_p;
            p.min_p = cfg[c].min_p;
            p.top_k = cfg[c].top_k;
            p.repeat_penalty = cfg[c].rep;
            p.logprobs = cfg[c].logprobs;
            p.top_logprobs = cfg[c].logprobs ? 20 : 0;
            fr_sampler *s = NULL;
            fr_err err;
            if (fr_sampler_create(&p, nv, &s, &err)) {
                fprintf(stderr, "bench_sampler: %s\n", err.msg);
                return 1;
            }
            fr_sample out;
            double t0 = fr_now_s();
            for (long i = 0; i < iters; i++)
                fr_sampler_sample(s, l, &out, NULL);
            double dt = fr_now_s() - t0;
            printf("| %d | %s | %.1f |\n", nv, cfg[c].name, dt / (double)iters * 1e6);
            fr_sampler_free(s);
        }
        free(l);
    }
    return 0;
}
