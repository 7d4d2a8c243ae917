/*
 * test_hub.c - the parts of `frugal pull` that need no server: SHA-256
 * (against the FIPS 180-2 example digests), the registry table, resolving
 * names / hf: specs / URLs, the http and token policies, the cache dir.
 * Downloads themselves are tested in tests/cli/pull.sh against a local
 * HTTP server.
 */
#include "test.h"

#include "hub/http_meta.h"
#include "hub/sha256.h"
#include "hub/source.h"

#include <fcntl.h>
#include <frugal/hub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FIPS 180-2, appendix B: the published digests. */
static void test_sha256_vectors(void)
{
    char hex[65];
    fr_sha256_mem("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    fr_sha256_mem("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    fr_sha256_mem(two, strlen(two), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static int count_calls(void *user, uint64_t done, uint64_t total)
{
    (void)done, (void)total;
    (*(int *)user)++;
    return 0;
}

static int stop_at_once(void *user, uint64_t done, uint64_t total)
{
    (void)user, (void)done, (void)total;
    return 1;
}

static void test_sha256_file(const char *tmp)
{
    /* One million 'a' (FIPS 180-2 B.3), hashed from a file in 1 MiB reads. */
    char path[1024];
    snprintf(path, sizeof path, "%s/million_a", tmp);
    size_t n = 1000000;
    char *buf = malloc(n + 10);
    CHECK(buf != NULL);
    memset(buf, 'a', n);
    memcpy(buf + n, "trailing!!", 10);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(buf, 1, n + 10, f) == n + 10);
    fclose(f);
    free(buf);

    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    char hex[65];
    int calls = 0;
    fr_err err = {0};
    /* limit < file size: only the first million bytes count. */
    CHECK_EQ_INT(fr_sha256_fd(fd, n, path, count_calls, &calls, hex, &err), FR_OK);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK(calls >= 1);
    /* A file shorter than the limit is an error, not a short hash. */
    CHECK_EQ_INT(fr_sha256_fd(fd, n + 11, path, NULL, NULL, hex, &err), FR_E_IO);
    CHECK(strstr(err.msg, "ends at byte 1000010") != NULL);
    CHECK_EQ_INT(fr_sha256_fd(fd, n, path, stop_at_once, NULL, hex, &err), FR_E_CANCELLED);
    close(fd);
    unlink(path);
}

static bool is_commit_or_main(const char *rev)
{
    if (strcmp(rev, "main") == 0)
        return true;
    if (strlen(rev) != 40)
        return false;
    for (const char *p = rev; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Feeds s without its NUL, as libcurl does. */
static bool feed(fr_http_meta *m, const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, s, n);
    bool st = fr_http_meta_line(m, copy, n);
    free(copy);
    return st;
}

static void test_http_meta(void)
{
    fr_http_meta m;
    fr_http_meta_init(&m);
    CHECK(m.status == 0 && m.content_length == -1 && m.cr_start == -1 && m.cr_total == -1);
    /* A Hugging Face /resolve/ redirect, then the CDN's 206. */
    CHECK(feed(&m, "HTTP/1.1 302 Found\r\n"));
    CHECK_EQ_INT(m.status, 302);
    CHECK(!feed(&m, "X-Linked-Size: 491400032\r\n"));
    CHECK(!feed(
        &m,
        "x-linked-etag: \"74A4DA8C9FDBCD15BD1F6D01D621410D31C6FC00986F5EB687824E7B93D7A9DB\"\r\n"));
    CHECK(!feed(&m, "Content-Length: 1234\r\n"));
    CHECK_STR(m.linked_sha, "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db");
    CHECK(m.linked_size == 491400032ull);
    CHECK_EQ_INT(m.content_length, 1234);
    CHECK(feed(&m, "HTTP/2 206 \r\n"));
    CHECK_EQ_INT(m.status, 206);
    CHECK_EQ_INT(m.content_length, -1);   /* per response */
    CHECK(m.linked_size == 491400032ull); /* kept across the redirect */
    CHECK(!feed(&m, "content-range: bytes 100-491400031/491400032\r\n"));
    CHECK_EQ_INT(m.cr_start, 100);
    CHECK_EQ_INT(m.cr_total, 491400032);
    /* 416 form, and an unknown total. */
    CHECK(feed(&m, "HTTP/1.1 416 Range Not Satisfiable\r\n"));
    CHECK(!feed(&m, "Content-Range: bytes */300004\r\n"));
    CHECK_EQ_INT(m.cr_start, -1);
    CHECK_EQ_INT(m.cr_total, 300004);
    CHECK(feed(&m, "HTTP/1.1 206 Partial\r\n"));
    CHECK(!feed(&m, "Content-Range: bytes 5-9/*\r\n"));
    CHECK_EQ_INT(m.cr_start, 5);
    CHECK_EQ_INT(m.cr_total, -1);
    /* Hostile values are ignored, not half-used. */
    CHECK(feed(&m, "HTTP/1.1 200 OK\r\n"));
    CHECK(!feed(&m, "Content-Length: 99999999999999999999999\r\n"));
    CHECK_EQ_INT(m.content_length, -1);
    CHECK(!feed(&m, "Content-Length: -5\r\n"));
    CHECK_EQ_INT(m.content_length, -1);
    CHECK(!feed(&m, "Content-Range: items 1-2/3\r\n"));
    CHECK_EQ_INT(m.cr_start, -1);
    fr_http_meta_init(&m);
    CHECK(
        !feed(&m, "X-Linked-Etag: \"0123456789012345678901234567890123456789\"\r\n")); /* git id */
    CHECK_STR(m.linked_sha, "");
    CHECK(!feed(
        &m,
        "X-Linked-Etag: 74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9dbff\r\n"));
    CHECK_STR(m.linked_sha, "");
    CHECK(!feed(&m,
                "X-Linked-Etag: "
                "\"74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db\" junk\r\n"));
    CHECK_STR(m.linked_sha, "");
    CHECK(!feed(&m, "X-Linked-Etag: "
                    "W/\"74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db\"\r\n"));
    CHECK_STR(m.linked_sha, "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db");
    CHECK(!feed(&m, "X-Linked-Etagged: 1\r\n")); /* not the header */
    CHECK(feed(&m, "HTTP/1.1\r\n"));
    CHECK_EQ_INT(m.status, 0);
    CHECK(feed(&m, "HTTP/1.1 2000 Huh\r\n"));
    CHECK_EQ_INT(m.status, 0);
    CHECK(!feed(&m, ""));
    CHECK(!feed(&m, "Content-Length:"));
    CHECK_EQ_INT(m.content_length, -1);
    CHECK(!feed(&m, "X-Error-Code: GatedRepo\r\n"));
    CHECK_STR(m.hf_error, "GatedRepo");
    CHECK(feed(&m, "HTTP/1.1 200 OK\r\n"));
    CHECK_STR(m.hf_error, ""); /* per response */
    CHECK(!feed(&m, "X-Error-Code: Gated\x1b[2JRepo\r\n"));
    CHECK_STR(m.hf_error, "");
    CHECK(!feed(&m, "X-Error-Code: AVeryLongErrorCodeThatDoesNotFitAtAll\r\n"));
    CHECK_STR(m.hf_error, "");
}

static void test_registry(void)
{
    size_t n;
    const fr_hub_model *t = fr_hub_registry(&n);
    CHECK(n >= 5);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(t[i].name && t[i].repo && t[i].file && t[i].revision, "entry %zu", i);
        for (size_t j = 0; j < i; j++)
            CHECK_MSG(strcmp(t[i].name, t[j].name) != 0, "duplicate %s", t[i].name);
        CHECK_MSG(fr_hub_file_name_ok(t[i].file), "%s: file %s", t[i].name, t[i].file);
        size_t fl = strlen(t[i].file);
        CHECK_MSG(fl > 5 && strcmp(t[i].file + fl - 5, ".gguf") == 0, "%s", t[i].file);
        CHECK_MSG(is_commit_or_main(t[i].revision), "%s: revision %s", t[i].name, t[i].revision);
        /* A digest is only trustworthy at a pinned revision. */
        if (t[i].sha256) {
            CHECK_MSG(fr_hub_sha256_valid(t[i].sha256), "%s", t[i].name);
            CHECK_MSG(strcmp(t[i].revision, "main") != 0, "%s: digest needs a pinned revision",
                      t[i].name);
            for (const char *p = t[i].sha256; *p; p++)
                CHECK_MSG(!(*p >= 'A' && *p <= 'F'), "%s: sha256 must be lowercase", t[i].name);
        }
        CHECK(fr_hub_find(t[i].name) == &t[i]);
    }
    CHECK(fr_hub_find("QWEN2.5-0.5B") == fr_hub_find("qwen2.5-0.5b"));
    CHECK(fr_hub_find("nope") == NULL);
    CHECK(fr_hub_find(NULL) == NULL);
    const fr_hub_model *def = fr_hub_find(fr_hub_default_model());
    CHECK(def != NULL);
    CHECK(def && def->sha256 != NULL && def->size > 0);
}

static void test_resolve(void)
{
    fr_hub_source s;
    fr_err err = {0};
    CHECK_EQ_INT(fr_hub_resolve("qwen2.5-0.5b", NULL, &s, &err), FR_OK);
    CHECK_STR(s.url, "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/"
                     "12145bd1d629190a4d44254073650877954d02c9/qwen2.5-0.5b-instruct-q4_k_m.gguf");
    CHECK_STR(s.file, "qwen2.5-0.5b-instruct-q4_k_m.gguf");
    CHECK_STR(s.sha256, "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db");
    CHECK(s.size == 491400032ull);
    CHECK(s.model == fr_hub_find("qwen2.5-0.5b"));

    /* A mirror endpoint (HF_ENDPOINT), trailing slash tolerated. */
    CHECK_EQ_INT(fr_hub_resolve("smollm2-135m", "https://hf-mirror.com/", &s, &err), FR_OK);
    CHECK_STR(s.url, "https://hf-mirror.com/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/resolve/main/"
                     "smollm2-135m-instruct-q8_0.gguf");
    CHECK_STR(s.sha256, "");
    CHECK(s.size == 0);

    CHECK_EQ_INT(fr_hub_resolve("hf:owner/repo/sub/dir/m-Q4_K_M.gguf", NULL, &s, &err), FR_OK);
    CHECK_STR(s.url, "https://huggingface.co/owner/repo/resolve/main/sub/dir/m-Q4_K_M.gguf");
    CHECK_STR(s.file, "m-Q4_K_M.gguf");
    CHECK(s.model == NULL);
    CHECK_EQ_INT(fr_hub_resolve("hf:owner/repo@v1.2/m.gguf", NULL, &s, &err), FR_OK);
    CHECK_STR(s.url, "https://huggingface.co/owner/repo/resolve/v1.2/m.gguf");

    CHECK_EQ_INT(fr_hub_resolve("https://example.com/a/b/model.gguf?download=true", NULL, &s, &err),
                 FR_OK);
    CHECK_STR(s.url, "https://example.com/a/b/model.gguf?download=true");
    CHECK_STR(s.file, "model.gguf");
    CHECK_EQ_INT(fr_hub_resolve("https://example.com/a/my%20model.gguf", NULL, &s, &err),
                 FR_E_INVALID); /* decodes to a space: not a plain name */

    static const char *bad[] = {
        "",
        "hf:",
        "hf:owner",
        "hf:owner/repo",
        "hf:owner/repo/",
        "hf:../repo/x.gguf",
        "hf:owner/repo/../x.gguf",
        "hf:owner/repo/.hidden",
        "hf:owner/repo//x.gguf",
        "hf:owner/repo@/x.gguf",
        "hf:own er/repo/x.gguf",
        "https://example.com/",
        "https://example.com",
        "https://example.com/dir/.hidden",
        "https://example.com/x.gguf.part",
        "https://example.com/..",
        "ftp://example.com/x.gguf",
        "https:///x.gguf",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(fr_hub_resolve(bad[i], NULL, &s, &err) == FR_E_INVALID, "'%s' accepted", bad[i]);
    CHECK_EQ_INT(fr_hub_resolve("no-such-model", NULL, &s, &err), FR_E_NOTFOUND);
    CHECK(strstr(err.msg, "qwen2.5-0.5b") != NULL); /* lists the known names */
}

static void test_policy(void)
{
    fr_err err = {0};
    CHECK_EQ_INT(fr_hub_url_allowed("https://example.com/x.gguf", false, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_url_allowed("http://127.0.0.1:8080/x.gguf", false, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_url_allowed("http://127.9.8.7/x.gguf", false, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_url_allowed("http://localhost/x.gguf", false, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_url_allowed("http://[::1]:9/x.gguf", false, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_url_allowed("http://example.com/x.gguf", false, &err), FR_E_INVALID);
    CHECK(strstr(err.msg, "--insecure-http") != NULL);
    CHECK_EQ_INT(fr_hub_url_allowed("http://127.0.0.1.example.com/x", false, &err), FR_E_INVALID);
    CHECK_EQ_INT(fr_hub_url_allowed("http://localhost.example.com/x", false, &err), FR_E_INVALID);
    CHECK_EQ_INT(fr_hub_url_allowed("http://10.0.0.1/x.gguf", false, &err), FR_E_INVALID);
    CHECK_EQ_INT(fr_hub_url_allowed("http://example.com/x.gguf", true, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_url_allowed("file:///etc/passwd", true, &err), FR_E_INVALID);

    CHECK(fr_hub_token_allowed("https://huggingface.co/o/r/resolve/main/x", NULL));
    CHECK(fr_hub_token_allowed("https://cdn-lfs.huggingface.co/x", NULL));
    CHECK(fr_hub_token_allowed("https://hf.co/x", NULL));
    CHECK(!fr_hub_token_allowed("http://huggingface.co/x", NULL)); /* never in clear */
    CHECK(!fr_hub_token_allowed("https://evilhuggingface.co/x", NULL));
    CHECK(!fr_hub_token_allowed("https://huggingface.co.example.com/x", NULL));
    CHECK(!fr_hub_token_allowed("https://example.com/x", NULL));
    CHECK(!fr_hub_token_allowed("http://127.0.0.1:5/x", NULL));
    CHECK(fr_hub_token_allowed("https://hf-mirror.com/x", "https://hf-mirror.com"));
    CHECK(!fr_hub_token_allowed("https://other.com/x", "https://hf-mirror.com"));
    CHECK(fr_hub_token_allowed("http://127.0.0.1:5/x", "http://127.0.0.1:5"));

    CHECK(fr_hub_file_name_ok("Llama-3.2-1B-Instruct-Q4_K_M.gguf"));
    CHECK(fr_hub_file_name_ok("a+b.gguf"));
    CHECK(!fr_hub_file_name_ok(""));
    CHECK(!fr_hub_file_name_ok(".gguf"));
    CHECK(!fr_hub_file_name_ok(".."));
    CHECK(!fr_hub_file_name_ok("a/b.gguf"));
    CHECK(!fr_hub_file_name_ok("a b.gguf"));
    CHECK(!fr_hub_file_name_ok("x.gguf.part"));

    CHECK(fr_hub_sha256_valid("74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db"));
    CHECK(fr_hub_sha256_valid("74A4DA8C9FDBCD15BD1F6D01D621410D31C6FC00986F5EB687824E7B93D7A9DB"));
    CHECK(!fr_hub_sha256_valid("74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9d"));
    CHECK(
        !fr_hub_sha256_valid("74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9dbb"));
    CHECK(!fr_hub_sha256_valid("g4a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db"));
    CHECK(!fr_hub_sha256_valid(NULL));
}

static void test_cache_dir(void)
{
    char dir[512];
    fr_err err = {0};
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    CHECK_EQ_INT(fr_hub_cache_dir(dir, sizeof dir, &err), FR_OK);
    CHECK_STR(dir, "/x/cache/frugal/models");
    setenv("XDG_CACHE_HOME", "relative/ignored", 1);
    CHECK_EQ_INT(fr_hub_cache_dir(dir, sizeof dir, &err), FR_OK);
    CHECK_STR(dir, "/home/u/.cache/frugal/models");
    unsetenv("XDG_CACHE_HOME");
    CHECK_EQ_INT(fr_hub_cache_dir(dir, sizeof dir, &err), FR_OK);
    CHECK_STR(dir, "/home/u/.cache/frugal/models");
    unsetenv("HOME");
    CHECK_EQ_INT(fr_hub_cache_dir(dir, sizeof dir, &err), FR_E_INVALID);
    CHECK(strstr(err.msg, "-o DIR") != NULL);
    CHECK_EQ_INT(fr_hub_cache_dir(dir, 8, &err), FR_E_INVALID);
}

static void test_download_args(const char *tmp)
{
    /* Checks that fail before any network or file access. */
    fr_hub_source s;
    fr_hub_opts o = {0};
    fr_hub_result r;
    fr_err err = {0};
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/dl", tmp);
    o.dir = dir;
    CHECK_EQ_INT(fr_hub_resolve("http://example.com/x.gguf", NULL, &s, &err), FR_OK);
    CHECK_EQ_INT(fr_hub_download(&s, &o, &r, &err), FR_E_INVALID); /* plain http */
    CHECK_EQ_INT(fr_hub_resolve("https://example.com/x.gguf", NULL, &s, &err), FR_OK);
    snprintf(s.sha256, sizeof s.sha256, "not-hex");
    CHECK_EQ_INT(fr_hub_download(&s, &o, &r, &err), FR_E_INVALID);
    o.dir = NULL;
    CHECK_EQ_INT(fr_hub_download(&s, &o, &r, &err), FR_E_INVALID);
    CHECK(access(dir, F_OK) != 0); /* nothing created */
}

int main(void)
{
    char tmp[512];
    fr_test_tmpdir(tmp, sizeof tmp);
    test_sha256_vectors();
    test_sha256_file(tmp);
    test_http_meta();
    test_registry();
    test_resolve();
    test_policy();
    test_cache_dir();
    test_download_args(tmp);
    rmdir(tmp);
    TEST_END();
}
