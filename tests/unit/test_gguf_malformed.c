/* One hand-built malformed GGUF file per validation rule, each with the
 * error text, status and byte offset it must produce; plus the edge cases
 * that must still load (v2, zero tensors without padding, 8-deep nesting,
 * 63-byte names) and the typed getters' conversions. Files are built with
 * tests/gguf_bytes.h, independently of the writer. */
#include "test.h"

#include "gguf_bytes.h"
#include "gguf_walk.h"

#include <frugal/gguf.h>

/* Opens b (copied to an exact-size buffer) as "bad.gguf"; checks that it
 * fails with code, that the message contains frag, and (at != -1) that it
 * names byte at. */
#define EXPECT_FAIL(b, code, at, frag) expect_fail(__LINE__, b, code, at, frag)

static void expect_fail(int line, gb *b, fr_status code, int64_t at, const char *frag)
{
    uint8_t *c = malloc(b->n ? b->n : 1);
    if (b->n)
        memcpy(c, b->p, b->n);
    fr_gguf *g = NULL;
    fr_err e;
    fr_err_clear(&e);
    fr_status st = fr_gguf_open_memory(c, b->n, "bad.gguf", &g, &e);
    CHECK_MSG(st == code, "line %d: status %d, want %d (%s)", line, st, code, e.msg);
    CHECK_MSG(strstr(e.msg, frag) != NULL, "line %d: message '%s' lacks '%s'", line, e.msg, frag);
    CHECK_MSG(strncmp(e.msg, "bad.gguf: ", 10) == 0, "line %d: message '%s' lacks the file name",
              line, e.msg);
    if (at >= 0) {
        char want[64];
        snprintf(want, sizeof want, "byte %lld:", (long long)at);
        CHECK_MSG(strstr(e.msg, want) != NULL, "line %d: message '%s' lacks '%s'", line, e.msg,
                  want);
    }
    CHECK(g == NULL);
    fr_gguf_free(g);
    free(c);
    gb_free(b);
}

/* Opens b and returns the handle (the buffer is kept in *keep). */
static fr_gguf *expect_ok(int line, gb *b)
{
    fr_gguf *g = NULL;
    fr_err e;
    fr_status st = fr_gguf_open_memory(b->p, b->n, "ok.gguf", &g, &e);
    CHECK_MSG(st == FR_OK, "line %d: %s", line, st ? e.msg : "");
    if (g) {
        uint64_t sum = 0;
        CHECK_EQ_INT(gw_walk(g, b->p, b->n, &sum), 0);
    }
    return g;
}

static const char TRUNC[] = "truncated";

static void test_header(void)
{
    gb b = {0};
    EXPECT_FAIL(&b, FR_E_FORMAT, 0, "empty");

    gb_raw(&b, "GGU", 3);
    EXPECT_FAIL(&b, FR_E_FORMAT, 0, "too short");

    gb_raw(&b, "GGML\x03\0\0\0", 8);
    gb_zeros(&b, 16);
    EXPECT_FAIL(&b, FR_E_FORMAT, 0, "not a GGUF file: it starts with bytes 47 47 4d 4c");

    gb_raw(&b, "tjgg", 4);
    gb_zeros(&b, 20);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 0, "legacy GGML");

    gb_raw(&b, "<!DOCTYPE html><html>", 21);
    EXPECT_FAIL(&b, FR_E_FORMAT, 0, "error page");

    gb_raw(&b, "version https://git-lfs.github.com/spec/v1\n", 44);
    EXPECT_FAIL(&b, FR_E_FORMAT, 0, "Git LFS pointer");

    gb_header(&b, 1, 0, 0);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 4, "GGUF version 1");

    gb_header(&b, 0x03000000, 0, 0);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 4, "big-endian");

    gb_header(&b, 4, 0, 0);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 4, "version 4 is not supported");

    gb_header(&b, 0, 0, 0);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, 4, "version 0 is not supported");

    gb_raw(&b, "GGUF\x03\0\0\0\0\0", 10);
    EXPECT_FAIL(&b, FR_E_FORMAT, 8, TRUNC);

    gb_header(&b, 3, 0, 1000);
    gb_zeros(&b, 100);
    EXPECT_FAIL(&b, FR_E_FORMAT, 16, "announces 1000 metadata entries");

    gb_header(&b, 3, UINT64_MAX, 0);
    EXPECT_FAIL(&b, FR_E_FORMAT, 8, "tensors, but");

    gb_header(&b, 3, 0, UINT64_MAX);
    EXPECT_FAIL(&b, FR_E_FORMAT, 16, "metadata entries");
}

static void test_keys(void)
{
    gb b = {0};
    gb_header(&b, 3, 0, 1);
    gb_u64(&b, 1000);
    gb_raw(&b, "abcdefghijklmnopqrstuvwxyz", 26);
    EXPECT_FAIL(&b, FR_E_FORMAT, 24, "key is 1000 bytes long but only 26 bytes remain");

    gb_header(&b, 3, 0, 1);
    gb_str(&b, "");
    gb_u32(&b, 4);
    gb_u32(&b, 1);
    EXPECT_FAIL(&b, FR_E_FORMAT, 24, "key is empty");

    gb_header(&b, 3, 0, 1);
    gb_strn(&b, "a\0b", 3);
    gb_u32(&b, 4);
    gb_u32(&b, 1);
    EXPECT_FAIL(&b, FR_E_FORMAT, 24, "contains a NUL byte");

    gb_header(&b, 3, 0, 1);
    char *big = malloc(70000);
    memset(big, 'k', 70000);
    gb_strn(&b, big, 70000);
    free(big);
    gb_u32(&b, 4);
    gb_u32(&b, 1);
    EXPECT_FAIL(&b, FR_E_FORMAT, 24, "GGUF allows at most 65535");

    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 13);
    gb_u32(&b, 1);
    EXPECT_FAIL(&b, FR_E_FORMAT, 33, "value type 13 is not a GGUF value type");

    gb_header(&b, 3, 0, 2);
    gb_kv_u32(&b, "a.b", 1);
    size_t second = b.n;
    gb_kv_u32(&b, "a.b", 2);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)second, "appears twice");

    /* a value cut short: u64 with 4 bytes left */
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 10);
    size_t at = b.n;
    gb_u32(&b, 1);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, TRUNC);

    /* string value longer than the file */
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 8);
    at = b.n;
    gb_u64(&b, UINT64_MAX);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "string value is 18446744073709551615 bytes");
}

static void test_arrays(void)
{
    gb b = {0};
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 9);
    size_t at = b.n;
    gb_u32(&b, 77);
    gb_u64(&b, 0);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "array element type 77");

    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 9);
    gb_u32(&b, 4);
    at = b.n;
    gb_u64(&b, 1ull << 62);
    gb_zeros(&b, 64);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "array of 4611686018427387904 uint32 elements");

    /* 2^61 uint64 elements: n * 8 would wrap to 0 without the division check */
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 9);
    gb_u32(&b, 10);
    gb_u64(&b, 1ull << 61);
    EXPECT_FAIL(&b, FR_E_FORMAT, -1, "array of");

    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, 9);
    gb_u32(&b, 8);
    gb_u64(&b, 3);
    gb_str(&b, "x");
    gb_str(&b, "y");
    EXPECT_FAIL(&b, FR_E_FORMAT, -1, TRUNC);

    /* nesting: 8 levels load, 9 are refused */
    for (int depth = 8; depth <= 9; depth++) {
        gb_header(&b, 3, 0, 1);
        gb_str(&b, "deep");
        gb_u32(&b, 9);
        for (int d = 1; d < depth; d++) {
            gb_u32(&b, 9);
            gb_u64(&b, 1);
        }
        gb_u32(&b, 5);
        gb_u64(&b, 1);
        gb_u32(&b, (uint32_t)-42);
        if (depth == 9) {
            EXPECT_FAIL(&b, FR_E_FORMAT, -1, "nested more than 8 levels");
        } else {
            fr_gguf *g = expect_ok(__LINE__, &b);
            fr_gguf_arr a, s;
            fr_err e;
            CHECK(g && fr_gguf_get_arr(g, "deep", &a, &e) == FR_OK);
            for (int d = 1; g && d < depth; d++) {
                CHECK(a.type == FR_GGUF_ARRAY && a.n == 1);
                CHECK(fr_gguf_arr_arr(&a, 0, &s) == FR_OK);
                a = s;
            }
            int64_t v = 0;
            CHECK(g && a.type == FR_GGUF_INT32 && fr_gguf_arr_i64(&a, 0, &v) == FR_OK && v == -42);
            uint64_t u;
            CHECK(!g || fr_gguf_arr_u64(&a, 0, &u) == FR_E_RANGE);
            fr_gguf_free(g);
            gb_free(&b);
        }
    }
}

static void test_alignment(void)
{
    const uint32_t bad[] = {0, 48, 3};
    for (int i = 0; i < 3; i++) {
        gb b = {0};
        gb_header(&b, 3, 0, 1);
        gb_kv_u32(&b, "general.alignment", bad[i]);
        EXPECT_FAIL(&b, FR_E_FORMAT, 24, "not a power of two");
    }
    gb b = {0};
    gb_header(&b, 3, 0, 1);
    gb_kv_str(&b, "general.alignment", "32");
    EXPECT_FAIL(&b, FR_E_FORMAT, 24, "general.alignment must be an unsigned integer");

    /* a uint64 alignment of 64 is accepted and used */
    gb_header(&b, 3, 1, 1);
    gb_str(&b, "general.alignment");
    gb_u32(&b, 10);
    gb_u64(&b, 64);
    int64_t ne[1] = {16};
    gb_tensor(&b, "t", 1, ne, 0, 0);
    gb_pad(&b, 64);
    size_t data_at = b.n;
    gb_zeros(&b, 64);
    fr_gguf *g = expect_ok(__LINE__, &b);
    CHECK(g && fr_gguf_alignment(g) == 64 && fr_gguf_data_offset(g) == data_at);
    fr_gguf_free(g);
    gb_free(&b);
}

/* Header + one tensor info with the given fields (+ alignment padding and
 * data_bytes zero bytes of data). Returns the offset of the tensor info. */
static size_t one_tensor(gb *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
                         uint64_t offset, size_t data_bytes)
{
    gb_header(b, 3, 1, 1);
    gb_kv_str(b, "general.architecture", "test");
    size_t at = b->n;
    gb_tensor(b, name, n_dims, ne, type, offset);
    gb_pad(b, 32);
    gb_zeros(b, data_bytes);
    return at;
}

static void test_tensors(void)
{
    gb b = {0};
    int64_t ne[5] = {32, 2, 1, 1, 1};
    char name64[65];
    memset(name64, 'n', 64);
    name64[64] = 0;
    size_t at = one_tensor(&b, name64, 1, ne, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "ggml allows at most 63");
    name64[63] = 0;
    one_tensor(&b, name64, 1, ne, 0, 0, 128);
    fr_gguf *g = expect_ok(__LINE__, &b);
    CHECK(g && fr_gguf_find_tensor(g, name64) == fr_gguf_tensor_at(g, 0));
    fr_gguf_free(g);
    gb_free(&b);

    at = one_tensor(&b, "a\0b", 1, ne, 0, 0, 128);
    /* gb_tensor used strlen: rebuild by hand with an embedded NUL */
    gb_free(&b);
    gb_header(&b, 3, 1, 0);
    at = b.n;
    gb_strn(&b, "a\0b", 3);
    gb_u32(&b, 1);
    gb_u64(&b, 4);
    gb_u32(&b, 0);
    gb_u64(&b, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 16);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "contains a NUL byte");

    at = one_tensor(&b, "t", 0, ne, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 9, "it has 0 dimensions");
    at = one_tensor(&b, "t", 5, ne, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 9, "it has 5 dimensions");

    int64_t zero[2] = {32, 0};
    at = one_tensor(&b, "t", 2, zero, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 21, "dimension 1 is 0");
    int64_t neg[2] = {-4, 1};
    at = one_tensor(&b, "t", 2, neg, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 13, "dimension 0 is -4");
    int64_t huge[3] = {1ll << 32, 1ll << 31, 4};
    at = one_tensor(&b, "t", 3, huge, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 21, "more than 2^63");
    /* fits int64 elements but not bytes (f32: 4 bytes each) */
    int64_t big[2] = {1ll << 32, 1ll << 30};
    at = one_tensor(&b, "t", 2, big, 0, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, -1, "overflows 64 bits");

    at = one_tensor(&b, "t", 2, ne, 99, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 29, "tensor type id 99 is unknown");
    one_tensor(&b, "t", 2, ne, 16, 0, 128);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, -1, "tensor type iq2_xxs is not supported");
    one_tensor(&b, "t", 2, ne, 20, 0, 128);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, -1, "iq4_nl is not supported");
    one_tensor(&b, "t", 2, ne, 31, 0, 128);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, -1, "q4_0_4_4) was removed");
    one_tensor(&b, "t", 2, ne, 34, 0, 128);
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, -1, "tq1_0 is not supported");
    one_tensor(&b, "t", 2, ne, 40, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, -1, "tensor type id 40 is unknown");
    one_tensor(&b, "t", 2, ne, 26, 0, 128); /* i32 */
    EXPECT_FAIL(&b, FR_E_UNSUPPORTED, -1, "i32 is not supported");

    int64_t odd[2] = {33, 1};
    at = one_tensor(&b, "t", 2, odd, 2 /* q4_0 */, 0, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 29,
                "33 values, not a multiple of the q4_0 block size 32");
    int64_t k[2] = {2048 + 32, 1};
    one_tensor(&b, "t", 2, k, 12 /* q4_K */, 0, 2048);
    EXPECT_FAIL(&b, FR_E_FORMAT, -1, "block size 256");

    at = one_tensor(&b, "t", 1, ne, 0, 16, 256);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 25,
                "data offset 16 is not a multiple of the file's alignment 32");

    /* data past the end: 32 f32 = 128 bytes, only 127 present */
    at = one_tensor(&b, "t", 1, ne, 0, 0, 127);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "run past the end of the file");
    at = one_tensor(&b, "t", 1, ne, 0, UINT64_MAX - 31, 128);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "run past the end of the file");

    /* data section start past the end (file ends inside the padding) */
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "t", 1, ne, 0, 0);
    at = b.n;
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "data section should start");

    /* overlap: two 128-byte tensors at offsets 0 and 96 (in either order) */
    for (int order = 0; order < 2; order++) {
        gb_header(&b, 3, 2, 0);
        gb_tensor(&b, "a", 1, ne, 0, order ? 96 : 0);
        size_t at_b = b.n;
        gb_tensor(&b, "b", 1, ne, 0, order ? 0 : 96);
        gb_pad(&b, 32);
        gb_zeros(&b, 256);
        EXPECT_FAIL(&b, FR_E_FORMAT, order ? -1 : (int64_t)at_b, "overlap");
    }
    /* adjacent is fine, and the same data range twice is not */
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "a", 1, ne, 0, 0);
    gb_tensor(&b, "b", 1, ne, 0, 128);
    gb_pad(&b, 32);
    gb_zeros(&b, 256);
    g = expect_ok(__LINE__, &b);
    fr_gguf_free(g);
    gb_free(&b);
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "a", 1, ne, 0, 0);
    gb_tensor(&b, "b", 1, ne, 0, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 256);
    EXPECT_FAIL(&b, FR_E_FORMAT, -1, "overlap");

    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "a", 1, ne, 0, 0);
    at = b.n;
    gb_tensor(&b, "a", 1, ne, 0, 128);
    gb_pad(&b, 32);
    gb_zeros(&b, 256);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at, "tensor name 'a' appears twice");

    /* truncated inside the tensor infos */
    gb_header(&b, 3, 1, 0);
    gb_str(&b, "a.long.tensor.name.x");
    gb_u32(&b, 2);
    at = b.n;
    gb_u64(&b, 32);
    EXPECT_FAIL(&b, FR_E_FORMAT, (int64_t)at + 8, TRUNC);
}

static void test_loads(void)
{
    /* GGUF v2 */
    gb b = {0};
    gb_header(&b, 2, 1, 1);
    gb_kv_str(&b, "general.architecture", "llama");
    int64_t ne[2] = {4, 2};
    gb_tensor(&b, "t", 2, ne, 0, 0);
    gb_pad(&b, 32);
    for (int i = 0; i < 8; i++)
        gb_f32(&b, (float)i * 0.5f);
    fr_gguf *g = expect_ok(__LINE__, &b);
    CHECK(g && fr_gguf_version(g) == 2);
    if (g) {
        const fr_gguf_tensor *t = fr_gguf_find_tensor(g, "t");
        float v;
        CHECK(t && t->n_dims == 2 && t->ne[0] == 4 && t->ne[1] == 2 && t->ne[2] == 1 &&
              t->nbytes == 32 && t->offset == 0);
        memcpy(&v, (const char *)t->data + 12, 4);
        CHECK(v == 1.5f);
    }
    fr_gguf_free(g);
    gb_free(&b);

    /* zero tensors, file ends right after the metadata (no padding) */
    gb_header(&b, 3, 0, 1);
    gb_kv_str(&b, "general.architecture", "llama-x");
    size_t end = b.n;
    CHECK(end % 32 != 0);
    g = expect_ok(__LINE__, &b);
    CHECK(g && fr_gguf_n_tensors(g) == 0 && fr_gguf_data_offset(g) == end);
    fr_gguf_free(g);
    /* ... and with the padding present */
    gb_pad(&b, 32);
    g = expect_ok(__LINE__, &b);
    CHECK(g && fr_gguf_data_offset(g) == b.n);
    fr_gguf_free(g);
    gb_free(&b);

    /* trailing bytes after the last tensor are ignored */
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "t", 2, ne, 0, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 32 + 5);
    g = expect_ok(__LINE__, &b);
    fr_gguf_free(g);
    gb_free(&b);

    /* an empty tensor name is allowed (ggml allows it) */
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "", 2, ne, 0, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 32);
    g = expect_ok(__LINE__, &b);
    CHECK(g && fr_gguf_find_tensor(g, "") == fr_gguf_tensor_at(g, 0));
    fr_gguf_free(g);
    gb_free(&b);
}

static void test_getters(void)
{
    gb b = {0};
    gb_header(&b, 3, 0, 12);
    gb_kv_u32(&b, "u32", 4000000000u);
    gb_str(&b, "i32neg");
    gb_u32(&b, 5);
    gb_u32(&b, (uint32_t)-7);
    gb_str(&b, "u64big");
    gb_u32(&b, 10);
    gb_u64(&b, UINT64_MAX);
    gb_str(&b, "i8");
    gb_u32(&b, 1);
    gb_u8(&b, 0x80);
    gb_str(&b, "u16");
    gb_u32(&b, 2);
    gb_le(&b, 65535, 2);
    gb_str(&b, "f32");
    gb_u32(&b, 6);
    gb_f32(&b, 1e-5f);
    gb_str(&b, "f64");
    gb_u32(&b, 12);
    double d = 1e300;
    uint64_t du;
    memcpy(&du, &d, 8);
    gb_u64(&b, du);
    gb_str(&b, "bool");
    gb_u32(&b, 7);
    gb_u8(&b, 1);
    gb_kv_str(&b, "str", "hi");
    gb_str(&b, "i64min");
    gb_u32(&b, 11);
    gb_u64(&b, 1ull << 63);
    gb_str(&b, "u64small");
    gb_u32(&b, 10);
    gb_u64(&b, 12);
    gb_str(&b, "arr");
    gb_u32(&b, 9);
    gb_u32(&b, 3); /* int16 */
    gb_u64(&b, 3);
    gb_le(&b, 1, 2);
    gb_le(&b, (uint16_t)-2, 2);
    gb_le(&b, 32767, 2);
    fr_gguf *g = expect_ok(__LINE__, &b);
    if (!g)
        return;
    fr_err e;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f;
    double dd;
    bool bo;
    fr_gguf_str s;
    CHECK(fr_gguf_get_u32(g, "u32", &u32, &e) == FR_OK && u32 == 4000000000u);
    CHECK(fr_gguf_get_i32(g, "u32", &i32, &e) == FR_E_RANGE);
    CHECK(strstr(e.msg, "'u32' = 4000000000 does not fit int32") != NULL);
    CHECK(fr_gguf_get_i64(g, "u32", &i64, &e) == FR_OK && i64 == 4000000000ll);
    CHECK(fr_gguf_get_i32(g, "i32neg", &i32, &e) == FR_OK && i32 == -7);
    CHECK(fr_gguf_get_u32(g, "i32neg", &u32, &e) == FR_E_RANGE);
    CHECK(fr_gguf_get_u64(g, "i32neg", &u64, &e) == FR_E_RANGE);
    CHECK(fr_gguf_get_u64(g, "u64big", &u64, &e) == FR_OK && u64 == UINT64_MAX);
    CHECK(fr_gguf_get_i64(g, "u64big", &i64, &e) == FR_E_RANGE);
    CHECK(fr_gguf_get_u32(g, "u64small", &u32, &e) == FR_OK && u32 == 12);
    CHECK(fr_gguf_get_i32(g, "i8", &i32, &e) == FR_OK && i32 == -128);
    CHECK(fr_gguf_get_u32(g, "u16", &u32, &e) == FR_OK && u32 == 65535);
    CHECK(fr_gguf_get_i64(g, "i64min", &i64, &e) == FR_OK && i64 == INT64_MIN);
    CHECK(fr_gguf_get_f32(g, "f32", &f, &e) == FR_OK && f == 1e-5f);
    CHECK(fr_gguf_get_f64(g, "f32", &dd, &e) == FR_OK && dd == (double)1e-5f);
    CHECK(fr_gguf_get_f64(g, "f64", &dd, &e) == FR_OK && dd == 1e300);
    CHECK(fr_gguf_get_f32(g, "u32", &f, &e) == FR_E_FORMAT);
    CHECK(strstr(e.msg, "'u32' is stored as uint32, expected float32 or float64") != NULL);
    CHECK(fr_gguf_get_bool(g, "bool", &bo, &e) == FR_OK && bo);
    CHECK(fr_gguf_get_bool(g, "u16", &bo, &e) == FR_E_FORMAT);
    CHECK(fr_gguf_get_u32(g, "bool", &u32, &e) == FR_E_FORMAT);
    CHECK(fr_gguf_get_str(g, "str", &s, &e) == FR_OK && s.len == 2 && memcmp(s.ptr, "hi", 2) == 0);
    CHECK(fr_gguf_get_u32(g, "str", &u32, &e) == FR_E_FORMAT);
    CHECK(fr_gguf_get_u32(g, "missing.key", &u32, &e) == FR_E_NOTFOUND);
    CHECK(strstr(e.msg, "ok.gguf: metadata key 'missing.key' not found") != NULL);
    fr_gguf_arr a;
    CHECK(fr_gguf_get_arr(g, "arr", &a, &e) == FR_OK && a.type == FR_GGUF_INT16 && a.n == 3);
    CHECK(fr_gguf_arr_i64(&a, 1, &i64) == FR_OK && i64 == -2);
    CHECK(fr_gguf_arr_u64(&a, 1, &u64) == FR_E_RANGE);
    CHECK(fr_gguf_arr_u64(&a, 2, &u64) == FR_OK && u64 == 32767);
    CHECK(fr_gguf_arr_i64(&a, 3, &i64) == FR_E_RANGE);
    CHECK(fr_gguf_arr_f64(&a, 0, &dd) == FR_E_FORMAT);
    CHECK(fr_gguf_arr_str(&a, 0, &s) == FR_E_FORMAT);
    CHECK(fr_gguf_get_arr(g, "str", &a, &e) == FR_E_FORMAT);
    CHECK(fr_gguf_kv_get_u64(g, 99, &u64, &e) == FR_E_RANGE);
    CHECK(fr_gguf_kv_type(g, 99) == (fr_gguf_type)-1);
    CHECK(strcmp(fr_gguf_type_name(FR_GGUF_FLOAT64), "float64") == 0);
    CHECK(strcmp(fr_gguf_type_name((fr_gguf_type)13), "invalid") == 0);
    fr_gguf_free(g);
    gb_free(&b);
}

int main(void)
{
    test_header();
    test_keys();
    test_arrays();
    test_alignment();
    test_tensors();
    test_loads();
    test_getters();
    fr_gguf *g;
    fr_err e;
    CHECK(fr_gguf_open("/nonexistent/x.gguf", &g, &e) == FR_E_NOTFOUND);
    CHECK(strstr(e.msg, "/nonexistent/x.gguf") != NULL);
    CHECK(fr_gguf_open("/", &g, &e) == FR_E_IO);
    fr_gguf_free(NULL);
    TEST_END();
}
