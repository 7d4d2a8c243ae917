/* Hostile input for the GGUF reader: every truncation of small valid files
 * must fail cleanly (an error naming the file), and every single-byte
 * corruption (all offsets x several values) must either fail cleanly or load
 * a file whose every accessor is consistent (tests/gguf_walk.h). Each input
 * is copied into a buffer of exactly its size so that ASan catches a read one
 * byte past the end.
 *
 * With FR_GGUF_SEED_DIR set, also writes the sample files there (that is how
 * fuzz/seeds/fuzz_gguf/ was made:
 *   FR_GGUF_SEED_DIR=fuzz/seeds/fuzz_gguf ./build/test_gguf_hostile). */
#include "test.h"

#include "gguf_walk.h"

#include <frugal/gguf.h>
#include <frugal/types.h>

#include "base/file.h"

static char tmpdir[256];

/* Writes a sample with the writer and returns its bytes (malloc'd). */
static uint8_t *make_sample(int which, size_t *size)
{
    fr_gguf_writer *w;
    fr_err e;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    fr_gguf_writer_set_str(w, "general.architecture", "llama");
    fr_gguf_writer_set_u32(w, "llama.block_count", 2);
    static const float tensor_f32[8 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, -1, -2};
    static uint8_t q8[2 * 34];
    static uint16_t f16[4] = {0x3c00, 0x4000, 0xbc00, 0};
    if (which == 0) {
        fr_gguf_writer_set_u8(w, "t.u8", 200);
        fr_gguf_writer_set_i8(w, "t.i8", -100);
        fr_gguf_writer_set_u16(w, "t.u16", 60000);
        fr_gguf_writer_set_i16(w, "t.i16", -30000);
        fr_gguf_writer_set_i32(w, "t.i32", -5);
        fr_gguf_writer_set_u64(w, "t.u64", 1ull << 40);
        fr_gguf_writer_set_i64(w, "t.i64", -(1ll << 40));
        fr_gguf_writer_set_f32(w, "t.f32", 0.5f);
        fr_gguf_writer_set_f64(w, "t.f64", -2.25);
        fr_gguf_writer_set_bool(w, "t.bool", true);
        fr_gguf_writer_set_strn(w, "t.str", "a\0b", 3);
        const char *toks[] = {"<s>", "", "hello", "\xe2\x96\x81world"};
        fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 4);
        const float scores[4] = {0, -1, -2.5f, 3};
        fr_gguf_writer_set_arr(w, "tokenizer.ggml.scores", FR_GGUF_FLOAT32, scores, 4);
        const int32_t types[4] = {3, 1, 1, -1};
        fr_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FR_GGUF_INT32, types, 4);
        fr_gguf_writer_set_arr(w, "t.empty", FR_GGUF_UINT8, NULL, 0);
        const bool bools[3] = {true, false, true};
        fr_gguf_writer_set_arr(w, "t.bools", FR_GGUF_BOOL, bools, 3);
        int64_t ne[2] = {32, 2};
        CHECK(fr_gguf_writer_add_tensor(w, "q", FR_TYPE_Q8_0, 2, ne, q8, &e) == FR_OK);
        ne[0] = 4;
        CHECK(fr_gguf_writer_add_tensor(w, "h", FR_TYPE_F16, 1, ne, f16, &e) == FR_OK);
        ne[0] = 8;
        ne[1] = 4; /* 128 bytes: ends exactly at end of file (no trailing padding) */
        CHECK(fr_gguf_writer_add_tensor(w, "w", FR_TYPE_F32, 2, ne, tensor_f32, &e) == FR_OK);
    } else {
        /* vocab-only style: no tensors, a nested array built by hand
         * below since the writer API has no nested setter. */
        const char *m[] = {"a b", "ab c"};
        fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", m, NULL, 2);
        fr_gguf_writer_set_alignment(w, 64);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/sample%d.gguf", tmpdir, which);
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, &e) == FR_OK);
    fr_gguf_writer_free(w);
    char *data;
    CHECK(fr_read_file(path, 1 << 20, &data, size, &e) == FR_OK);
    return (uint8_t *)data;
}

/* A file with nested arrays (3 levels) built by hand: the writer has no
 * setter for them, and copy_kv of this file is then tested elsewhere. */
#include "gguf_bytes.h"
static uint8_t *make_nested(size_t *size)
{
    gb b = {0};
    gb_header(&b, 3, 1, 2);
    gb_kv_str(&b, "general.architecture", "x");
    gb_str(&b, "t.nested");
    gb_u32(&b, 9);
    gb_u32(&b, 9); /* array of arrays */
    gb_u64(&b, 2);
    gb_u32(&b, 9); /* [0]: array of 1 array of 2 u16 */
    gb_u64(&b, 1);
    gb_u32(&b, 2);
    gb_u64(&b, 2);
    gb_le(&b, 7, 2);
    gb_le(&b, 8, 2);
    gb_u32(&b, 8); /* [1]: array of 2 strings */
    gb_u64(&b, 2);
    gb_str(&b, "xy");
    gb_str(&b, "");
    int64_t ne[1] = {8};
    gb_tensor(&b, "t", 1, ne, 0, 0);
    gb_pad(&b, 32);
    for (int i = 0; i < 8; i++)
        gb_f32(&b, (float)i);
    *size = b.n;
    return b.p;
}

static int opens(const uint8_t *src, size_t n, fr_err *e, int *bad)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, src, n);
    fr_gguf *g = NULL;
    fr_status st = fr_gguf_open_memory(copy, n, "sample.gguf", &g, e);
    if (st == FR_OK) {
        uint64_t sum = 0;
        *bad += gw_walk(g, copy, n, &sum);
        fr_gguf_free(g);
    }
    free(copy);
    return st == FR_OK;
}

static void check_failure_message(const fr_err *e, const char *what, size_t at)
{
    CHECK_MSG(strstr(e->msg, "sample.gguf: byte ") == e->msg, "%s %zu: message '%s'", what, at,
              e->msg);
    CHECK_MSG(e->code == FR_E_FORMAT || e->code == FR_E_UNSUPPORTED, "%s %zu: code %d", what, at,
              e->code);
}

static void test_truncations(const uint8_t *data, size_t size, bool all_must_fail)
{
    fr_err e;
    int bad = 0, loaded = 0;
    for (size_t n = 0; n < size; n++) {
        fr_err_clear(&e);
        if (opens(data, n, &e, &bad)) {
            loaded++;
            CHECK_MSG(!all_must_fail, "truncation to %zu bytes of %zu loaded", n, size);
        } else {
            check_failure_message(&e, "truncation", n);
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(opens(data, size, &e, &bad)); /* the full file loads */
    fprintf(stderr, "truncations of %zu bytes: %d loaded\n", size, loaded);
}

static void test_corruptions(const uint8_t *data, size_t size)
{
    uint8_t *c = malloc(size);
    int bad = 0, loaded = 0, failed = 0;
    fr_err e;
    for (size_t at = 0; at < size; at++) {
        uint8_t orig = data[at];
        const uint8_t vals[] = {0x00,
                                0xff,
                                0x80,
                                0x7f,
                                0x20,
                                (uint8_t)(orig ^ 0x01),
                                (uint8_t)(orig ^ 0x80),
                                (uint8_t)(orig + 1),
                                (uint8_t)(orig - 1)};
        for (size_t k = 0; k < sizeof vals; k++) {
            if (vals[k] == orig)
                continue;
            memcpy(c, data, size);
            c[at] = vals[k];
            fr_err_clear(&e);
            if (opens(c, size, &e, &bad)) {
                loaded++;
            } else {
                failed++;
                check_failure_message(&e, "corruption", at);
            }
        }
    }
    free(c);
    CHECK_EQ_INT(bad, 0);
    fprintf(stderr, "corruptions of %zu bytes: %d loaded consistently, %d refused\n", size, loaded,
            failed);
}

static void write_seed(const char *dir, const char *name, const uint8_t *d, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(d, 1, n, f) == n);
    if (f)
        fclose(f);
}

int main(void)
{
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    size_t n0, n1, n2;
    uint8_t *s0 = make_sample(0, &n0);
    uint8_t *s1 = make_sample(1, &n1);
    uint8_t *s2 = make_nested(&n2);

    test_truncations(s0, n0, true);
    test_truncations(s2, n2, true);
    /* zero tensors: a cut inside the final padding still holds everything */
    test_truncations(s1, n1, false);
    test_corruptions(s0, n0);
    test_corruptions(s1, n1);
    test_corruptions(s2, n2);

    const char *seed_dir = getenv("FR_GGUF_SEED_DIR");
    if (seed_dir) {
        write_seed(seed_dir, "sample_types.gguf", s0, n0);
        write_seed(seed_dir, "sample_vocab.gguf", s1, n1);
        write_seed(seed_dir, "sample_nested.gguf", s2, n2);
    }
    free(s0);
    free(s1);
    free(s2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    TEST_END();
}
