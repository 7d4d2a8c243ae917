/* GGUF writer: the exact bytes of a small file (against a layout built by
 * hand with tests/gguf_bytes.h), round trips of every metadata type and
 * every supported tensor type at several alignments, the streaming fill
 * callback (one reused buffer), key replacement/removal, copy_kv of nested
 * arrays, argument validation, and the atomic-write guarantees: a failed
 * write leaves no file behind and does not touch an existing one, and an
 * output that names an input is refused. */
#include "test.h"

#include "gguf_bytes.h"
#include "gguf_walk.h"

#include <dirent.h>
#include <unistd.h>
#include <frugal/gguf.h>

#include "base/file.h"

static char dir[256];

static int count_entries(const char *d)
{
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(dd);
    return n;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    char *d = NULL;
    fr_err e;
    if (fr_read_file(path, 64 << 20, &d, n, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
        *n = 0;
    }
    return (uint8_t *)d;
}

static void test_exact_bytes(void)
{
    fr_gguf_writer *w;
    fr_err e;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    CHECK(fr_gguf_writer_set_u32(w, "a", 7) == FR_OK);
    CHECK(fr_gguf_writer_set_str(w, "general.name", "x") == FR_OK);
    const float data[3] = {1, 2, 3};
    const int64_t ne[1] = {3};
    CHECK(fr_gguf_writer_add_tensor(w, "t", FR_TYPE_F32, 1, ne, data, &e) == FR_OK);
    CHECK(fr_gguf_writer_add_tensor(w, "u", FR_TYPE_F32, 1, ne, data, &e) == FR_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/exact.gguf", dir);
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, &e) == FR_OK);
    fr_gguf_writer_free(w);

    gb b = {0};
    gb_header(&b, 3, 2, 2);
    gb_kv_u32(&b, "a", 7);
    gb_kv_str(&b, "general.name", "x");
    gb_tensor(&b, "t", 1, ne, 0, 0);
    gb_tensor(&b, "u", 1, ne, 0, 32); /* 12 bytes padded to 32 */
    gb_pad(&b, 32);
    gb_raw(&b, data, 12);
    gb_pad(&b, 32);
    gb_raw(&b, data, 12);
    gb_pad(&b, 32); /* ggml pads after the last tensor too */
    size_t n;
    uint8_t *got = slurp(path, &n);
    CHECK_EQ_INT(n, b.n);
    CHECK(got && n == b.n && memcmp(got, b.p, n) == 0);
    free(got);
    gb_free(&b);
}

/* Deterministic bytes for tensor i (so fill output can be checked). */
static void pattern(int64_t i, uint8_t *dst, uint64_t n)
{
    uint32_t x = (uint32_t)(i * 2654435761u + 12345u);
    for (uint64_t k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        dst[k] = (uint8_t)(x >> 16);
    }
}

typedef struct fill_state {
    void *first_dst;
    int calls;
    bool same_buffer;
    int64_t fail_at;
    int64_t last_index;
    bool in_order;
} fill_state;

static fr_status fill_cb(void *user, int64_t index, void *dst, uint64_t nbytes, fr_err *err)
{
    fill_state *s = user;
    if (!s->first_dst)
        s->first_dst = dst;
    if (dst != s->first_dst)
        s->same_buffer = false;
    if (index <= s->last_index)
        s->in_order = false;
    s->last_index = index;
    s->calls++;
    if (index == s->fail_at)
        return fr_err_set(err, FR_E_CANCELLED, "stopped by the test at tensor %lld",
                          (long long)index);
    pattern(index, dst, nbytes);
    return FR_OK;
}

static void set_all_kv(fr_gguf_writer *w)
{
    CHECK(fr_gguf_writer_set_u8(w, "k.u8", 255) == FR_OK);
    CHECK(fr_gguf_writer_set_i8(w, "k.i8", -128) == FR_OK);
    CHECK(fr_gguf_writer_set_u16(w, "k.u16", 65535) == FR_OK);
    CHECK(fr_gguf_writer_set_i16(w, "k.i16", -32768) == FR_OK);
    CHECK(fr_gguf_writer_set_u32(w, "k.u32", 4294967295u) == FR_OK);
    CHECK(fr_gguf_writer_set_i32(w, "k.i32", INT32_MIN) == FR_OK);
    CHECK(fr_gguf_writer_set_u64(w, "k.u64", UINT64_MAX) == FR_OK);
    CHECK(fr_gguf_writer_set_i64(w, "k.i64", INT64_MIN) == FR_OK);
    CHECK(fr_gguf_writer_set_f32(w, "k.f32", -0.1f) == FR_OK);
    CHECK(fr_gguf_writer_set_f64(w, "k.f64", 1e-300) == FR_OK);
    CHECK(fr_gguf_writer_set_bool(w, "k.bool", false) == FR_OK);
    CHECK(fr_gguf_writer_set_str(w, "k.str", "replace me") == FR_OK);
    CHECK(fr_gguf_writer_set_strn(w, "k.strn", "a\0b\xff", 4) == FR_OK);
    CHECK(fr_gguf_writer_set_str(w, "k.empty", "") == FR_OK);
    const uint8_t u8[3] = {1, 2, 255};
    const int8_t i8[2] = {-1, 127};
    const uint16_t u16[2] = {0, 65535};
    const int16_t i16[2] = {-2, 3};
    const uint32_t u32[2] = {7, 4000000000u};
    const int32_t i32[3] = {-1, 0, 1};
    const uint64_t u64[1] = {UINT64_MAX};
    const int64_t i64[2] = {INT64_MIN, INT64_MAX};
    const float f32[2] = {0.25f, -3.5f};
    const double f64[2] = {1.0 / 3.0, -1e10};
    const bool bo[2] = {true, false};
    CHECK(fr_gguf_writer_set_arr(w, "a.u8", FR_GGUF_UINT8, u8, 3) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.i8", FR_GGUF_INT8, i8, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.u16", FR_GGUF_UINT16, u16, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.i16", FR_GGUF_INT16, i16, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.u32", FR_GGUF_UINT32, u32, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.i32", FR_GGUF_INT32, i32, 3) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.u64", FR_GGUF_UINT64, u64, 1) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.i64", FR_GGUF_INT64, i64, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.f32", FR_GGUF_FLOAT32, f32, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.f64", FR_GGUF_FLOAT64, f64, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.bool", FR_GGUF_BOOL, bo, 2) == FR_OK);
    CHECK(fr_gguf_writer_set_arr(w, "a.none", FR_GGUF_FLOAT32, NULL, 0) == FR_OK);
    const char *strs[3] = {"x", "", "y\0z"};
    const uint64_t lens[3] = {1, 0, 3};
    CHECK(fr_gguf_writer_set_arr_str(w, "a.str", strs, lens, 3) == FR_OK);
    CHECK(fr_gguf_writer_set_arr_str(w, "a.strz", strs, NULL, 2) == FR_OK);
    /* replace keeps the position; remove drops */
    CHECK(fr_gguf_writer_set_str(w, "k.str", "replaced") == FR_OK);
    CHECK(fr_gguf_writer_set_u8(w, "k.gone", 1) == FR_OK);
    CHECK(fr_gguf_writer_remove(w, "k.gone") == FR_OK);
    CHECK(fr_gguf_writer_remove(w, "k.gone") == FR_E_NOTFOUND);
}

static void check_all_kv(const fr_gguf *g)
{
    fr_err e;
    uint64_t u;
    int64_t i;
    double d;
    float f;
    bool b;
    fr_gguf_str s;
    fr_gguf_arr a;
    CHECK(fr_gguf_get_u64(g, "k.u8", &u, &e) == FR_OK && u == 255);
    CHECK(fr_gguf_kv_type(g, fr_gguf_find_key(g, "k.u8")) == FR_GGUF_UINT8);
    CHECK(fr_gguf_get_i64(g, "k.i8", &i, &e) == FR_OK && i == -128);
    CHECK(fr_gguf_kv_type(g, fr_gguf_find_key(g, "k.i8")) == FR_GGUF_INT8);
    CHECK(fr_gguf_get_u64(g, "k.u16", &u, &e) == FR_OK && u == 65535);
    CHECK(fr_gguf_get_i64(g, "k.i16", &i, &e) == FR_OK && i == -32768);
    CHECK(fr_gguf_get_u64(g, "k.u32", &u, &e) == FR_OK && u == 4294967295u);
    CHECK(fr_gguf_get_i64(g, "k.i32", &i, &e) == FR_OK && i == INT32_MIN);
    CHECK(fr_gguf_get_u64(g, "k.u64", &u, &e) == FR_OK && u == UINT64_MAX);
    CHECK(fr_gguf_get_i64(g, "k.i64", &i, &e) == FR_OK && i == INT64_MIN);
    CHECK(fr_gguf_get_f32(g, "k.f32", &f, &e) == FR_OK && f == -0.1f);
    CHECK(fr_gguf_kv_type(g, fr_gguf_find_key(g, "k.f32")) == FR_GGUF_FLOAT32);
    CHECK(fr_gguf_get_f64(g, "k.f64", &d, &e) == FR_OK && d == 1e-300);
    CHECK(fr_gguf_get_bool(g, "k.bool", &b, &e) == FR_OK && !b);
    CHECK(fr_gguf_get_str(g, "k.str", &s, &e) == FR_OK && s.len == 8 &&
          !memcmp(s.ptr, "replaced", 8));
    CHECK(fr_gguf_find_key(g, "k.str") == 11); /* position kept */
    CHECK(fr_gguf_get_str(g, "k.strn", &s, &e) == FR_OK && s.len == 4 &&
          !memcmp(s.ptr, "a\0b\xff", 4));
    CHECK(fr_gguf_get_str(g, "k.empty", &s, &e) == FR_OK && s.len == 0);
    CHECK(fr_gguf_find_key(g, "k.gone") == -1);

    CHECK(fr_gguf_get_arr(g, "a.u8", &a, &e) == FR_OK && a.type == FR_GGUF_UINT8 && a.n == 3);
    CHECK(fr_gguf_arr_u64(&a, 2, &u) == FR_OK && u == 255);
    CHECK(fr_gguf_get_arr(g, "a.i8", &a, &e) == FR_OK && fr_gguf_arr_i64(&a, 0, &i) == FR_OK &&
          i == -1);
    CHECK(fr_gguf_get_arr(g, "a.u16", &a, &e) == FR_OK && fr_gguf_arr_u64(&a, 1, &u) == FR_OK &&
          u == 65535);
    CHECK(fr_gguf_get_arr(g, "a.i16", &a, &e) == FR_OK && fr_gguf_arr_i64(&a, 0, &i) == FR_OK &&
          i == -2);
    CHECK(fr_gguf_get_arr(g, "a.u32", &a, &e) == FR_OK && fr_gguf_arr_u64(&a, 1, &u) == FR_OK &&
          u == 4000000000u);
    CHECK(fr_gguf_get_arr(g, "a.i32", &a, &e) == FR_OK && a.n == 3 &&
          fr_gguf_arr_i64(&a, 0, &i) == FR_OK && i == -1);
    CHECK(fr_gguf_get_arr(g, "a.u64", &a, &e) == FR_OK && fr_gguf_arr_u64(&a, 0, &u) == FR_OK &&
          u == UINT64_MAX);
    CHECK(fr_gguf_get_arr(g, "a.i64", &a, &e) == FR_OK && fr_gguf_arr_i64(&a, 1, &i) == FR_OK &&
          i == INT64_MAX);
    CHECK(fr_gguf_get_arr(g, "a.f32", &a, &e) == FR_OK && fr_gguf_arr_f32(&a, 1, &f) == FR_OK &&
          f == -3.5f);
    float raw[2];
    CHECK(fr_gguf_arr_raw(&a) && (memcpy(raw, fr_gguf_arr_raw(&a), 8), raw[0] == 0.25f));
    CHECK(fr_gguf_get_arr(g, "a.f64", &a, &e) == FR_OK && fr_gguf_arr_f64(&a, 0, &d) == FR_OK &&
          d == 1.0 / 3.0);
    CHECK(fr_gguf_get_arr(g, "a.bool", &a, &e) == FR_OK && fr_gguf_arr_bool(&a, 0, &b) == FR_OK &&
          b);
    CHECK(fr_gguf_arr_bool(&a, 1, &b) == FR_OK && !b);
    CHECK(fr_gguf_get_arr(g, "a.none", &a, &e) == FR_OK && a.n == 0 && a.type == FR_GGUF_FLOAT32);
    CHECK(fr_gguf_get_arr(g, "a.str", &a, &e) == FR_OK && a.type == FR_GGUF_STRING && a.n == 3);
    CHECK(fr_gguf_arr_str(&a, 0, &s) == FR_OK && s.len == 1 && s.ptr[0] == 'x');
    CHECK(fr_gguf_arr_str(&a, 1, &s) == FR_OK && s.len == 0);
    CHECK(fr_gguf_arr_str(&a, 2, &s) == FR_OK && s.len == 3 && !memcmp(s.ptr, "y\0z", 3));
    CHECK(fr_gguf_arr_raw(&a) == NULL);
    CHECK(fr_gguf_get_arr(g, "a.strz", &a, &e) == FR_OK && a.n == 2);
}

/* Every supported tensor type, data given (even index) or filled (odd). */
static void test_round_trip(uint32_t align)
{
    fr_gguf_writer *w;
    fr_err e;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    set_all_kv(w);
    if (align != 32)
        CHECK(fr_gguf_writer_set_alignment(w, align) == FR_OK);
    uint8_t *given[64] = {0};
    int64_t n_t = 0;
    uint64_t max_filled = 0;
    for (uint32_t id = 0; id < 64; id++) {
        const fr_type_info *ti = fr_type_get(id);
        if (!ti || !ti->supported)
            continue;
        int64_t ne[3] = {(int64_t)ti->block_size * (1 + id % 3), 3, 1 + id % 2};
        uint64_t nbytes = (uint64_t)ne[0] / ti->block_size * ti->type_size * 3 * (uint64_t)ne[2];
        char name[32];
        snprintf(name, sizeof name, "blk.%u.%s", id, ti->name);
        const void *data = NULL;
        if (n_t % 2 == 0) {
            given[n_t] = malloc(nbytes);
            pattern(n_t, given[n_t], nbytes);
            data = given[n_t];
        } else if (nbytes > max_filled) {
            max_filled = nbytes;
        }
        CHECK(fr_gguf_writer_add_tensor(w, name, (fr_type)id, ne[2] > 1 ? 3 : 2, ne, data, &e) ==
              FR_OK);
        n_t++;
    }
    CHECK(n_t == 14); /* f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K..q6_K mxfp4 */
    char path[512];
    snprintf(path, sizeof path, "%s/rt%u.gguf", dir, align);
    fill_state fs = {NULL, 0, true, -1, -1, true};
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, fill_cb, &fs, &e) == FR_OK);
    CHECK_EQ_INT(fs.calls, n_t / 2);
    CHECK(fs.same_buffer && fs.in_order);
    fr_gguf_writer_free(w);

    fr_gguf *g;
    CHECK(fr_gguf_open(path, &g, &e) == FR_OK);
    if (!g)
        return;
    CHECK(fr_gguf_version(g) == 3);
    CHECK(fr_gguf_alignment(g) == align);
    CHECK(fr_gguf_data_offset(g) % align == 0);
    check_all_kv(g);
    CHECK(fr_gguf_n_tensors(g) == n_t);
    uint64_t expect_off = 0;
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        const fr_type_info *ti = fr_type_get((uint32_t)t->type);
        CHECK(t->offset == expect_off);
        CHECK(((uintptr_t)t->data) % align == 0);
        uint64_t nbytes = (uint64_t)t->ne[0] / ti->block_size * ti->type_size * (uint64_t)t->ne[1] *
                          (uint64_t)t->ne[2];
        CHECK_EQ_INT(t->nbytes, nbytes);
        uint8_t *want = malloc(nbytes);
        pattern(i, want, nbytes);
        CHECK_MSG(memcmp(want, t->data, nbytes) == 0, "tensor %s data differs", t->name);
        free(want);
        expect_off = (t->offset + nbytes + align - 1) / align * align;
        char name[32];
        snprintf(name, sizeof name, "blk.%u.%s", (unsigned)t->type, ti->name);
        CHECK_STR(t->name, name);
    }
    CHECK_EQ_INT(fr_gguf_file_size(g), fr_gguf_data_offset(g) + expect_off);
    uint64_t sum = 0;
    CHECK_EQ_INT(gw_walk(g, (const uint8_t *)fr_gguf_tensor_at(g, 0)->data - fr_gguf_data_offset(g),
                         fr_gguf_file_size(g), &sum),
                 0);
    fr_gguf_free(g);
    for (int i = 0; i < 64; i++)
        free(given[i]);
}

static void test_failures(void)
{
    fr_err e;
    char path[700], sub[300];
    snprintf(sub, sizeof sub, "%s/fail", dir);
    CHECK(fr_mkdir_p(sub, &e) == FR_OK);
    snprintf(path, sizeof path, "%s/out.gguf", sub);
    FILE *f = fopen(path, "wb");
    fputs("precious", f);
    fclose(f);

    fr_gguf_writer *w;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    fr_gguf_writer_set_str(w, "general.architecture", "llama");
    int64_t ne[2] = {64, 4};
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        CHECK(fr_gguf_writer_add_tensor(w, name, FR_TYPE_F16, 2, ne, NULL, &e) == FR_OK);
    }
    fill_state fs = {NULL, 0, true, 1, -1, true};
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, fill_cb, &fs, &e) == FR_E_CANCELLED);
    CHECK(strstr(e.msg, "out.gguf: tensor 't1': stopped by the test at tensor 1") != NULL);
    size_t n;
    uint8_t *d = slurp(path, &n);
    CHECK(d && n == 8 && memcmp(d, "precious", 8) == 0);
    free(d);
    CHECK_EQ_INT(count_entries(sub), 1); /* no temporary file left behind */

    /* a fill error into a fresh path leaves no file at all */
    char fresh[600];
    snprintf(fresh, sizeof fresh, "%s/new.gguf", sub);
    fs = (fill_state){NULL, 0, true, 0, -1, true};
    CHECK(fr_gguf_writer_write(w, fresh, NULL, 0, fill_cb, &fs, &e) == FR_E_CANCELLED);
    CHECK(access(fresh, F_OK) != 0);
    CHECK_EQ_INT(count_entries(sub), 1);

    /* no fill callback for data-less tensors: refused before touching disk */
    CHECK(fr_gguf_writer_write(w, fresh, NULL, 0, NULL, NULL, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "no data and no fill callback") != NULL);
    CHECK(access(fresh, F_OK) != 0);

    /* unwritable directory */
    CHECK(fr_gguf_writer_write(w, "/nonexistent-dir/x.gguf", NULL, 0, fill_cb, &fs, &e) == FR_E_IO);

    /* output names an input: refused, input untouched */
    const char *inputs[1] = {path};
    fs = (fill_state){NULL, 0, true, -1, -1, true};
    CHECK(fr_gguf_writer_write(w, path, inputs, 1, fill_cb, &fs, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "refusing to overwrite") != NULL);
    d = slurp(path, &n);
    CHECK(d && n == 8 && memcmp(d, "precious", 8) == 0);
    free(d);
    /* a successful write replaces the old file */
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, fill_cb, &fs, &e) == FR_OK);
    fr_gguf *g;
    CHECK(fr_gguf_open(path, &g, &e) == FR_OK && fr_gguf_n_tensors(g) == 3);
    fr_gguf_free(g);
    CHECK_EQ_INT(count_entries(sub), 1);

    /* general.alignment set to something unusable */
    CHECK(fr_gguf_writer_set_str(w, "general.alignment", "64") == FR_OK);
    CHECK(fr_gguf_writer_write(w, fresh, NULL, 0, fill_cb, &fs, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "general.alignment") != NULL);
    fr_gguf_writer_free(w);
}

static void test_validation(void)
{
    fr_gguf_writer *w;
    fr_err e;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    int64_t ne[4] = {32, 2, 1, 1};
    char n64[65];
    memset(n64, 'x', 64);
    n64[64] = 0;
    CHECK(fr_gguf_writer_add_tensor(w, n64, FR_TYPE_F32, 1, ne, NULL, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "at most 63") != NULL);
    n64[63] = 0;
    CHECK(fr_gguf_writer_add_tensor(w, n64, FR_TYPE_F32, 1, ne, NULL, &e) == FR_OK);
    CHECK(fr_gguf_writer_add_tensor(w, n64, FR_TYPE_F32, 1, ne, NULL, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "added twice") != NULL);
    CHECK(fr_gguf_writer_add_tensor(w, "a", FR_TYPE_F32, 0, ne, NULL, &e) == FR_E_INVALID);
    CHECK(fr_gguf_writer_add_tensor(w, "a", FR_TYPE_F32, 5, ne, NULL, &e) == FR_E_INVALID);
    int64_t z[2] = {32, 0};
    CHECK(fr_gguf_writer_add_tensor(w, "a", FR_TYPE_F32, 2, z, NULL, &e) == FR_E_INVALID);
    int64_t odd[1] = {48};
    CHECK(fr_gguf_writer_add_tensor(w, "a", FR_TYPE_Q4_0, 1, odd, NULL, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "not a multiple of the q4_0 block size 32") != NULL);
    CHECK(fr_gguf_writer_add_tensor(w, "a", FR_TYPE_Q4_K, 1, ne, NULL, &e) == FR_E_INVALID);
    CHECK(fr_gguf_writer_add_tensor(w, "a", (fr_type)16, 1, ne, NULL, &e) == FR_E_UNSUPPORTED);
    CHECK(fr_gguf_writer_add_tensor(w, "a", (fr_type)99, 1, ne, NULL, &e) == FR_E_UNSUPPORTED);
    CHECK(fr_gguf_writer_set_alignment(w, 48) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_alignment(w, 0) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_alignment(w, 1u << 21) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_u32(w, "", 1) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_str(w, "k", NULL) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_arr(w, "k", FR_GGUF_STRING, "x", 1) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_arr(w, "k", FR_GGUF_ARRAY, "x", 1) == FR_E_INVALID);
    CHECK(fr_gguf_writer_set_arr(w, "k", FR_GGUF_UINT8, NULL, 1) == FR_E_INVALID);
    CHECK(fr_gguf_writer_copy_kv(w, NULL, 0) == FR_E_INVALID);
    fr_gguf_writer_free(w);
    fr_gguf_writer_free(NULL);
}

/* copy_kv copies any value (nested arrays included) byte for byte. */
static void test_copy_nested(void)
{
    gb b = {0};
    gb_header(&b, 3, 0, 3);
    gb_kv_str(&b, "general.architecture", "x");
    gb_str(&b, "n");
    gb_u32(&b, 9);
    gb_u32(&b, 9);
    gb_u64(&b, 2);
    gb_u32(&b, 8);
    gb_u64(&b, 1);
    gb_str(&b, "deep");
    gb_u32(&b, 6);
    gb_u64(&b, 2);
    gb_f32(&b, 1.5f);
    gb_f32(&b, 2.5f);
    gb_kv_u32(&b, "general.alignment", 16);
    fr_gguf *src;
    fr_err e;
    CHECK(fr_gguf_open_memory(b.p, b.n, "src", &src, &e) == FR_OK);
    fr_gguf_writer *w;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    for (int64_t i = 0; i < fr_gguf_n_kv(src); i++)
        CHECK(fr_gguf_writer_copy_kv(w, src, i) == FR_OK);
    float t[4] = {1, 2, 3, 4};
    int64_t ne[1] = {4};
    CHECK(fr_gguf_writer_add_tensor(w, "t", FR_TYPE_F32, 1, ne, t, &e) == FR_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/copy.gguf", dir);
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, &e) == FR_OK);
    fr_gguf_writer_free(w);
    fr_gguf *g;
    CHECK(fr_gguf_open(path, &g, &e) == FR_OK);
    if (g) {
        CHECK(fr_gguf_alignment(g) == 16); /* the copied general.alignment is honoured */
        fr_gguf_arr a, a1;
        fr_gguf_str s;
        float f;
        CHECK(fr_gguf_get_arr(g, "n", &a, &e) == FR_OK && a.type == FR_GGUF_ARRAY && a.n == 2);
        CHECK(fr_gguf_arr_arr(&a, 0, &a1) == FR_OK && a1.type == FR_GGUF_STRING && a1.n == 1);
        CHECK(fr_gguf_arr_str(&a1, 0, &s) == FR_OK && s.len == 4 && !memcmp(s.ptr, "deep", 4));
        CHECK(fr_gguf_arr_arr(&a, 1, &a1) == FR_OK && a1.type == FR_GGUF_FLOAT32);
        CHECK(fr_gguf_arr_f32(&a1, 1, &f) == FR_OK && f == 2.5f);
        /* the metadata bytes are identical: the new file starts with the old one */
        size_t n;
        uint8_t *d = slurp(path, &n);
        CHECK(d && n > b.n && memcmp(d + 24, b.p + 24, b.n - 24) == 0);
        free(d);
    }
    fr_gguf_free(g);
    fr_gguf_free(src);
    gb_free(&b);
}

int main(void)
{
    fr_test_tmpdir(dir, sizeof dir);
    test_exact_bytes();
    test_round_trip(32);
    test_round_trip(1);
    test_round_trip(8);
    test_round_trip(64);
    test_round_trip(4096);
    test_failures();
    test_validation();
    test_copy_nested();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    TEST_END();
}
