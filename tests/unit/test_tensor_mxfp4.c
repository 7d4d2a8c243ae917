/*
 * MXFP4 (gpt-oss's expert type) against llama.cpp: tests/data/mxfp4/ holds
 * an input of 1024 floats (zeros, E8M0-denormal scales, halfway values
 * between the E2M1 levels, -0, large and tiny blocks, random normals), the
 * bytes llama.cpp's ggml_quantize_chunk wrote for it and the floats its
 * to_float decoded from them (written by scripts/mxfp4_vectors.c against
 * the peer llama.cpp build). frugal must produce the same bytes and decode
 * them to the same floats, bit for bit; and the type's table entries must
 * say what ggml says (32 values, 17 bytes).
 */
#include "test.h"

#include <frugal/tensor.h>
#include <frugal/types.h>

#define N 1024

static void read_file(const char *dir, const char *name, void *buf, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/mxfp4/%s", dir, name);
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(buf, 1, n, f) : 0;
    if (f)
        fclose(f);
    if (got != n) {
        fprintf(stderr, "%s: cannot read %zu bytes\n", path, n);
        exit(1);
    }
}

int main(void)
{
    const char *src = getenv("FR_SRC");
    if (!src)
        src = ".";
    static float in[N], want_f[N], got_f[N];
    static uint8_t want_q[N / 32 * 17], got_q[N / 32 * 17];
    read_file(src, "input.f32", in, sizeof in);
    read_file(src, "mxfp4.bin", want_q, sizeof want_q);
    read_file(src, "dequant.f32", want_f, sizeof want_f);

    const fr_type_info *ti = fr_type_get(FR_TYPE_MXFP4);
    CHECK(ti && ti->supported && ti->quantized);
    CHECK_EQ_INT(ti->block_size, 32);
    CHECK_EQ_INT(ti->type_size, 17);
    fr_type t;
    CHECK(fr_type_from_name("MXFP4", &t) && t == FR_TYPE_MXFP4);

    fr_err e;
    CHECK(fr_quantize(FR_TYPE_MXFP4, in, got_q, N, &e) == FR_OK);
    int bad_q = 0;
    for (size_t i = 0; i < sizeof want_q; i++)
        if (got_q[i] != want_q[i] && bad_q++ < 5)
            fprintf(stderr, "byte %zu (block %zu): frugal %u, llama.cpp %u\n", i, i / 17, got_q[i],
                    want_q[i]);
    CHECK_MSG(bad_q == 0, "quantize: %d bytes differ from llama.cpp's", bad_q);

    CHECK(fr_dequantize(FR_TYPE_MXFP4, want_q, got_f, N, &e) == FR_OK);
    int bad_f = 0;
    for (int i = 0; i < N; i++)
        if (memcmp(&got_f[i], &want_f[i], sizeof(float)) != 0 && bad_f++ < 5)
            fprintf(stderr, "value %d: frugal %.9g, llama.cpp %.9g\n", i, (double)got_f[i],
                    (double)want_f[i]);
    CHECK_MSG(bad_f == 0, "dequantize: %d values differ from llama.cpp's", bad_f);

    /* a row that is not whole blocks is refused, not misread */
    CHECK(fr_dequantize(FR_TYPE_MXFP4, want_q, got_f, 33, &e) == FR_E_INVALID);
    TEST_END();
}
