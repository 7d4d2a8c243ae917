/*
 * mxfp4_vectors.c - writes the MXFP4 test vectors of tests/data/mxfp4/ with
 * llama.cpp's own ggml (the peer build of ../shared/peers/build-peers.sh),
 * so that frugal's MXFP4 quantizer and dequantizer are checked against
 * llama.cpp's bytes and values, not against themselves.
 *
 *   cc -O2 scripts/mxfp4_vectors.c -I$LLAMA/ggml/include -L$LLAMA/build/bin -lggml-base \
 *      -lm -o /tmp/mxfp4_vectors && LD_LIBRARY_PATH=$LLAMA/build/bin /tmp/mxfp4_vectors DIR
 *
 * writes DIR/input.f32 (N floats), DIR/mxfp4.bin (ggml_quantize_chunk's
 * bytes) and DIR/dequant.f32 (ggml's to_float of those bytes). The input
 * covers what the quantizer must get right: an all-zero block, values so
 * small the scale is an E8M0 denormal, halfway cases between the E2M1
 * levels, negative zero, large and mixed-sign blocks, and random normals.
 * Not part of the build: it needs the peer's libggml-base.
 */
#include <ggml.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1024 /* 32 blocks of 32 */

static int write_all(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    static float x[N], y[N];
    static uint8_t q[N / 32 * 17];
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < N; i++) { /* random normals (Box-Muller on splitmix64) */
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        double u1 = ((double)(z >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)((z * 2654435761u) >> 11) + 0.5) / 9007199254740992.0;
        x[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    for (int j = 0; j < 32; j++) {
        x[0 * 32 + j] = 0.0f;                           /* block 0: zeros */
        x[1 * 32 + j] = x[1 * 32 + j] * 1e-39f;         /* block 1: denormal scale */
        x[2 * 32 + j] = (float)(j % 16) * 0.25f - 2.0f; /* block 2: on and between levels */
        x[3 * 32 + j] = j % 2 ? -0.0f : 3.0f;           /* block 3: -0, and a max */
        x[4 * 32 + j] = x[4 * 32 + j] * 1e4f;           /* block 4: large */
        x[5 * 32 + j] = (float)(j - 16) * 0.75f;        /* block 5: halfway values */
        x[6 * 32 + j] = x[6 * 32 + j] * 1e-30f;         /* block 6: tiny, normal scale */
    }
    ggml_quantize_init(GGML_TYPE_MXFP4);
    size_t nb = ggml_quantize_chunk(GGML_TYPE_MXFP4, x, q, 0, N / 256, 256, NULL);
    if (nb != sizeof q) {
        fprintf(stderr, "unexpected size %zu\n", nb);
        return 1;
    }
    ggml_get_type_traits(GGML_TYPE_MXFP4)->to_float(q, y, N);
    return write_all(argv[1], "input.f32", x, sizeof x) || write_all(argv[1], "mxfp4.bin", q, sizeof q) ||
           write_all(argv[1], "dequant.f32", y, sizeof y);
}
