/* Tests for src/base: error messages, checked arithmetic, buffers, atomic
 * writes (the final file appears only on commit; abort leaves nothing; an
 * output that names an input is refused) and bounded file reads. */
#include "test.h"

#include "base/buf.h"
#include "base/checked.h"
#include "base/file.h"

#include <dirent.h>
#include <frugal/base.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_err(void)
{
    fr_err e;
    fr_err_clear(&e);
    CHECK(fr_err_set(&e, FR_E_FORMAT, "bad %s at %d", "magic", 4) == FR_E_FORMAT);
    CHECK_STR(e.msg, "bad magic at 4");
    CHECK(fr_err_prefix(&e, "model.gguf") == FR_E_FORMAT);
    CHECK_STR(e.msg, "model.gguf: bad magic at 4");
    CHECK(fr_err_set(NULL, FR_E_IO, "x") == FR_E_IO);
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    fr_err_set(&e, FR_E_IO, "%s", big);
    CHECK(strlen(e.msg) == FR_ERR_MSG_MAX - 1);
    CHECK(strcmp(fr_status_str(FR_E_NOMEM), "out of memory") == 0);
}

static void test_checked(void)
{
    size_t s;
    CHECK(!fr_mul_size(1000, 1000, &s) && s == 1000000);
    CHECK(fr_mul_size(SIZE_MAX / 2 + 1, 2, &s));
    CHECK(fr_add_size(SIZE_MAX, 1, &s));
    CHECK(fr_range_ok(0, 10, 10));
    CHECK(!fr_range_ok(1, 10, 10));
    CHECK(!fr_range_ok(UINT64_MAX, 2, 10));
    CHECK(!fr_range_ok(5, UINT64_MAX, 10));
    uint64_t a;
    CHECK(!fr_align_up_u64(33, 32, &a) && a == 64);
    CHECK(!fr_align_up_u64(64, 32, &a) && a == 64);
    CHECK(fr_align_up_u64(UINT64_MAX - 3, 32, &a));
}

static void test_buf(void)
{
    fr_buf b = FR_BUF_INIT;
    fr_buf_puts(&b, "hello");
    fr_buf_printf(&b, " %d", 42);
    fr_buf_putc(&b, '!');
    CHECK(fr_buf_ok(&b));
    CHECK_STR(b.data, "hello 42!");
    CHECK(b.len == 9);
    char *t = fr_buf_take(&b);
    CHECK_STR(t, "hello 42!");
    free(t);
    fr_buf c = FR_BUF_INIT;
    c.max = 8;
    fr_buf_puts(&c, "12345678");
    CHECK(fr_buf_ok(&c));
    fr_buf_puts(&c, "9");
    CHECK(!fr_buf_ok(&c));
    CHECK(c.len == 8);
    CHECK(fr_buf_take(&c) == NULL);
    fr_buf_free(&c);
}

static void test_atomic(void)
{
    char dir[256], path[300], other[300];
    fr_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(other, sizeof other, "%s/in.bin", dir);
    fr_err e;

    /* commit: file appears with the content, no temp left behind */
    fr_atomic_file *f;
    CHECK(fr_atomic_open(path, NULL, 0, &f, &e) == FR_OK);
    CHECK(fr_atomic_write(f, "abc", 3, &e) == FR_OK);
    CHECK(access(path, F_OK) != 0); /* not visible before commit */
    CHECK(fr_atomic_tell(f) == 3);
    CHECK(fr_atomic_commit(f, &e) == FR_OK);
    char *data;
    size_t n;
    CHECK(fr_read_file(path, 1 << 20, &data, &n, &e) == FR_OK);
    CHECK(n == 3 && memcmp(data, "abc", 3) == 0);
    free(data);
    CHECK(count_entries(dir) == 1);

    /* abort: old content stays, temp removed */
    CHECK(fr_atomic_open(path, NULL, 0, &f, &e) == FR_OK);
    CHECK(fr_atomic_write(f, "zzzz", 4, &e) == FR_OK);
    fr_atomic_abort(f);
    CHECK(fr_read_file(path, 1 << 20, &data, &n, &e) == FR_OK);
    CHECK(n == 3 && memcmp(data, "abc", 3) == 0);
    free(data);
    CHECK(count_entries(dir) == 1);

    /* refuses to overwrite a protected input, also through a link */
    const char *protect[] = {path};
    CHECK(fr_atomic_open(path, protect, 1, &f, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "refusing to overwrite") != NULL);
    CHECK(link(path, other) == 0);
    CHECK(fr_atomic_open(other, protect, 1, &f, &e) == FR_E_INVALID);

    /* read cap */
    CHECK(fr_read_file(path, 2, &data, &n, &e) == FR_E_NOMEM);
    CHECK(fr_read_file("/nonexistent/x", 10, &data, &n, &e) == FR_E_NOTFOUND);

    /* a directory that does not exist */
    snprintf(other, sizeof other, "%s/no/such/dir/x", dir);
    CHECK(fr_atomic_open(other, NULL, 0, &f, &e) == FR_E_IO);

    /* mapping */
    fr_mapping *m;
    CHECK(fr_mapping_open(path, &m, &e) == FR_OK);
    CHECK(fr_mapping_size(m) == 3 && memcmp(fr_mapping_data(m), "abc", 3) == 0);
    fr_mapping_free(m);
    CHECK(fr_mapping_open(dir, &m, &e) == FR_E_IO);
    fr_mapping_free(NULL);

    snprintf(other, sizeof other, "%s/in.bin", dir);
    unlink(other);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_err();
    test_checked();
    test_buf();
    test_atomic();
    CHECK(strlen(fr_version()) > 0 && strlen(fr_commit()) > 0);
    TEST_END();
}
