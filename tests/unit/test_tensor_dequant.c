/* Dequantization against llama.cpp: every tensor in ../shared/quant/<type>.gguf
 * must decode to exactly the float32 values of <type>.f32 (computed by the
 * gguf Python package and cross-checked against llama.cpp). The tensors'
 * byte offsets and sizes are taken from ../shared/quant/README.md, so this
 * test does not depend on our GGUF reader. Also: argument errors, the
 * reference dot product, and odd lengths. */
#include "test.h"

#include "tensor/kernels/generic.h"

#include <frugal/tensor.h>
#include <stdint.h>

typedef struct vec {
    const char *name; /* file stem */
    fr_type type;
    int64_t ne0_w, ne1_w, ne0_w2, ne1_w2;
    long off_w, bytes_w, off_w2, bytes_w2;
} vec;

/* From ../shared/quant/README.md ("The <type>.gguf files" tables). */
static const vec vecs[] = {
    {"q4_0", FR_TYPE_Q4_0, 896, 8, 4864, 4, 448, 4032, 4480, 10944},
    {"q4_1", FR_TYPE_Q4_1, 896, 8, 4864, 4, 448, 4480, 4928, 12160},
    {"q5_0", FR_TYPE_Q5_0, 896, 8, 4864, 4, 448, 4928, 5376, 13376},
    {"q5_1", FR_TYPE_Q5_1, 896, 8, 4864, 4, 448, 5376, 5824, 14592},
    {"q8_0", FR_TYPE_Q8_0, 896, 8, 4864, 4, 448, 7616, 8064, 20672},
    {"q2_k", FR_TYPE_Q2_K, 2048, 8, 2048, 4, 448, 5376, 5824, 2688},
    {"q3_k", FR_TYPE_Q3_K, 2048, 8, 8192, 4, 480, 7040, 7520, 14080},
    {"q4_k", FR_TYPE_Q4_K, 2048, 8, 8192, 4, 480, 9216, 9696, 18432},
    {"q5_k", FR_TYPE_Q5_K, 2048, 8, 8192, 4, 480, 11264, 11744, 22528},
    {"q6_k", FR_TYPE_Q6_K, 2048, 8, 8192, 4, 448, 13440, 13888, 26880},
    {"f16", FR_TYPE_F16, 896, 8, 4864, 4, 384, 14336, 14720, 38912},
    {"bf16", FR_TYPE_BF16, 896, 8, 4864, 4, 448, 14336, 14784, 38912},
};

static void *read_all(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)*size + 1);
    if (p && fread(p, 1, (size_t)*size, f) != (size_t)*size) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

/* Compares n decoded floats with the expected ones bit for bit. */
static int bit_diffs(const float *got, const float *want, int64_t n, const char *what)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], 4) != 0 && bad++ < 3)
            fprintf(stderr, "%s[%lld]: got %.9g, want %.9g\n", what, (long long)i, (double)got[i],
                    (double)want[i]);
    }
    return bad;
}

static void test_vec(const vec *v)
{
    char p1[512], p2[512], name[64];
    snprintf(name, sizeof name, "quant/%s.gguf", v->name);
    fr_test_shared(name, p1, sizeof p1);
    snprintf(name, sizeof name, "quant/%s.f32", v->name);
    fr_test_shared(name, p2, sizeof p2);
    long gsize = 0, fsize = 0;
    uint8_t *g = read_all(p1, &gsize);
    float *want = read_all(p2, &fsize);
    CHECK(g && want);
    if (!g || !want)
        goto out;
    int64_t nw = v->ne0_w * v->ne1_w, nw2 = v->ne0_w2 * v->ne1_w2;
    CHECK_EQ_INT(fsize, 4 * (nw + nw2));
    CHECK(v->off_w2 + v->bytes_w2 <= gsize);
    /* the table and our type table agree on sizes */
    CHECK_EQ_INT(fr_type_row_bytes(v->type, nw), v->bytes_w);
    CHECK_EQ_INT(fr_type_row_bytes(v->type, nw2), v->bytes_w2);
    if (fsize != 4 * (nw + nw2) || v->off_w2 + v->bytes_w2 > gsize)
        goto out;

    float *got = malloc((size_t)(nw + nw2) * sizeof *got);
    fr_err err;
    CHECK_EQ_INT(fr_dequantize(v->type, g + v->off_w, got, nw, &err), FR_OK);
    CHECK_EQ_INT(fr_dequantize(v->type, g + v->off_w2, got + nw, nw2, &err), FR_OK);
    CHECK_MSG(bit_diffs(got, want, nw + nw2, v->name) == 0, "%s differs from llama.cpp", v->name);

    /* Row by row gives the same (rows are independent runs of blocks). */
    memset(got, 0, (size_t)nw * sizeof *got);
    uint64_t rb = fr_type_row_bytes(v->type, v->ne0_w);
    for (int64_t r = 0; r < v->ne1_w; r++)
        fr_dequantize(v->type, g + v->off_w + r * rb, got + r * v->ne0_w, v->ne0_w, &err);
    CHECK_MSG(bit_diffs(got, want, nw, v->name) == 0, "%s row-wise", v->name);

    /* Reference matvec against a plain dot over the expected floats. */
    float x[8192], y[8];
    for (int64_t i = 0; i < v->ne0_w; i++)
        x[i] = (float)sin(0.37 * (double)i) * 0.5f;
    fr_matvec_ref(v->type, g + v->off_w, v->ne1_w, v->ne0_w, x, y);
    for (int64_t r = 0; r < v->ne1_w; r++) {
        double s = 0;
        for (int64_t i = 0; i < v->ne0_w; i++)
            s += (double)want[r * v->ne0_w + i] * x[i];
        CHECK_NEAR(y[r], s, 1e-5 * (1 + fabs(s)));
    }
    free(got);
out:
    free(g);
    free(want);
}

static void test_errors(void)
{
    fr_err err;
    float out[64];
    uint8_t blk[64] = {0};
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q4_0, blk, out, 31, &err), FR_E_INVALID);
    CHECK(strstr(err.msg, "multiple of the block size 32") != NULL);
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q4_K, blk, out, -256, &err), FR_E_INVALID);
    CHECK_EQ_INT(fr_dequantize((fr_type)16, blk, out, 256, &err), FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "iq2_xxs") != NULL);
    CHECK_EQ_INT(fr_dequantize((fr_type)4, blk, out, 32, &err), FR_E_UNSUPPORTED);
    CHECK_EQ_INT(fr_dequantize((fr_type)99, blk, out, 32, &err), FR_E_UNSUPPORTED);
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q8_1, blk, out, 32, &err), FR_E_UNSUPPORTED);
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q8_0, NULL, out, 32, &err), FR_E_INVALID);
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q8_0, NULL, NULL, 0, &err), FR_OK);
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_F32, blk, out, 3, NULL), FR_OK);

    /* A hand-built Q4_0 block: d = 0.5 (0x3800), value j = nibble j. */
    uint8_t q[18];
    q[0] = 0x00;
    q[1] = 0x38;
    for (int j = 0; j < 16; j++)
        q[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q4_0, q, out, 32, &err), FR_OK);
    CHECK(out[0] == -4.0f && out[8] == 0.0f && out[15] == 3.5f);
    CHECK(out[16] == 3.5f && out[31] == -4.0f);
    /* Q8_0: d = 2 (0x4000), q = -128 .. */
    uint8_t q8[34] = {0x00, 0x40};
    q8[2] = 0x80;
    q8[3] = 0x7f;
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_Q8_0, q8, out, 32, &err), FR_OK);
    CHECK(out[0] == -256.0f && out[1] == 254.0f && out[2] == 0.0f);
}

/* Arbitrary bytes decode without crashing or undefined behaviour (run under
 * UBSan in CI): every field value is legal input to a dequantizer. */
static void test_random_bytes(void)
{
    static uint8_t raw[256 * 210];
    static float out[256 * 256];
    uint64_t st = 0x12345678;
    for (size_t i = 0; i < sizeof raw; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        raw[i] = (uint8_t)(st >> 56);
    }
    for (size_t k = 0; k < sizeof vecs / sizeof vecs[0]; k++) {
        const fr_type_info *ti = fr_type_get(vecs[k].type);
        int64_t n = 256 / ti->block_size * ti->block_size * 64;
        CHECK_EQ_INT(fr_dequantize(vecs[k].type, raw, out, n, NULL), FR_OK);
    }
    CHECK_EQ_INT(fr_dequantize(FR_TYPE_F32, raw, out, 1000, NULL), FR_OK);
}

int main(void)
{
    test_errors();
    test_random_bytes();
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        test_vec(&vecs[i]);
    TEST_END();
}
