/* Tests for the hardware catalog: the built-in file is complete (every device
 * the plans need, every number with a source), the search order
 * ($FRUGAL_DATA_DIR, <exe>/../share/frugal, source tree) works, user files
 * merge field by field, and bad files are refused with a message that names
 * the file, the device and the field, leaving the catalog unchanged. */
#include "test.h"

#include <frugal/hardware.h>

#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static const char *src_data(char *buf, size_t n)
{
    const char *src = getenv("FR_SRC");
    snprintf(buf, n, "%s/data", src ? src : ".");
    return buf;
}

static void test_builtin(void)
{
    char dd[4096];
    fr_catalog_paths p = {0};
    p.data_dir = src_data(dd, sizeof dd);
    p.no_source_tree = true;
    fr_catalog *cat = NULL;
    fr_err err = {0};
    CHECK_MSG(fr_catalog_load(&p, &cat, &err) == FR_OK, "%s", err.msg);
    if (!cat)
        return;
    static const char *need[] = {"h100-sxm", "h100-pcie", "h200",     "a100-40gb", "a100-80gb",
                                 "v100",     "l4",        "rtx4090",  "m3-max",    "phone-sd8g3",
                                 "rpi5",     "x86-core",  "epyc-9354"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        const fr_hw *h = fr_catalog_find(cat, need[i]);
        CHECK_MSG(h != NULL, "catalog lacks %s", need[i]);
        if (!h)
            continue;
        /* Everything a plan uses: power, a peak rate, memory (except the
         * per-core entry), and a price (except the per-core entry). */
        CHECK_MSG(h->f[FR_HW_TDP_W].present, "%s: no tdp_w", need[i]);
        CHECK_MSG(fr_hw_peak_flops(h, NULL).present, "%s: no peak FLOP/s", need[i]);
        if (strcmp(need[i], "x86-core") != 0) {
            CHECK_MSG(h->f[FR_HW_MEM_BW].present, "%s: no mem_bw", need[i]);
            CHECK_MSG(h->f[FR_HW_MEM_BYTES].present, "%s: no mem_bytes", need[i]);
            CHECK_MSG(h->f[FR_HW_PRICE_USD].present, "%s: no price", need[i]);
        }
    }
    /* Every number has a source of some substance, and low <= value <= high. */
    for (size_t i = 0; i < fr_catalog_count(cat); i++) {
        const fr_hw *h = fr_catalog_at(cat, i);
        CHECK(h->name && h->kind);
        for (int f = 0; f < FR_HW_FIELD_COUNT; f++) {
            if (!h->f[f].present)
                continue;
            CHECK_MSG(h->f[f].source && strlen(h->f[f].source) >= 10, "%s.%s: weak source", h->id,
                      fr_hw_field_name((fr_hw_field)f));
            CHECK(h->f[f].low <= h->f[f].value && h->f[f].value <= h->f[f].high);
            CHECK(h->f[f].value > 0);
        }
    }
    /* Spot values straight from the datasheets. */
    const fr_hw *h100 = fr_catalog_find(cat, "h100-sxm");
    const fr_hw *v100 = fr_catalog_find(cat, "v100");
    const fr_hw *l4 = fr_catalog_find(cat, "l4");
    if (h100 && v100 && l4) {
        fr_hw_field which;
        CHECK_NEAR(h100->f[FR_HW_TDP_W].value, 700, 0);
        CHECK_NEAR(fr_hw_peak_flops(h100, &which).value, 989.5e12, 0);
        CHECK(which == FR_HW_FLOPS_BF16);
        /* V100 has no BF16: training runs on its FP16 tensor cores. */
        CHECK_NEAR(fr_hw_peak_flops(v100, &which).value, 125e12, 0);
        CHECK(which == FR_HW_FLOPS_FP16);
        CHECK_NEAR(v100->f[FR_HW_TDP_W].value, 300, 0);
        CHECK_NEAR(l4->f[FR_HW_MEM_BW].value, 300e9, 0);
    }
    CHECK(strstr(fr_catalog_origin(cat), "hardware.json") != NULL);
    CHECK(fr_catalog_find(cat, "nope") == NULL);
    CHECK(fr_catalog_unknown(cat, "nope", &err) == FR_E_NOTFOUND);
    CHECK(strstr(err.msg, "'nope'") && strstr(err.msg, "h100-sxm"));
    fr_catalog_free(cat);
    fr_catalog_free(NULL);
}

static const char tiny[] = "{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"name\":"
                           "\"Tiny\",\"kind\":\"gpu\",\"tdp_w\":{\"value\":5,\"source\":\"test "
                           "fixture\"}}}}";

static void test_search_order(void)
{
    char tmp[1024], path[4096], dir[2048];
    fr_test_tmpdir(tmp, sizeof tmp);
    /* <tmp>/inst/bin/frugal + <tmp>/inst/share/frugal/hardware.json */
    snprintf(dir, sizeof dir, "%s/inst", tmp);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/inst/bin", tmp);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/inst/share", tmp);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/inst/share/frugal", tmp);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/hardware.json", dir);
    write_file(path, tiny);
    char exe[2048];
    snprintf(exe, sizeof exe, "%s/inst/bin/frugal", tmp);

    fr_catalog *cat = NULL;
    fr_err err = {0};
    fr_catalog_paths p = {0};
    p.exe_path = exe;
    p.no_source_tree = true;
    CHECK_MSG(fr_catalog_load(&p, &cat, &err) == FR_OK, "%s", err.msg);
    CHECK(fr_catalog_count(cat) == 1 && fr_catalog_find(cat, "tiny"));
    fr_catalog_free(cat);

    /* $FRUGAL_DATA_DIR wins over the executable's share/ directory. */
    char dd[4096];
    p.data_dir = src_data(dd, sizeof dd);
    CHECK_MSG(fr_catalog_load(&p, &cat, &err) == FR_OK, "%s", err.msg);
    CHECK(fr_catalog_find(cat, "h100-sxm") && !fr_catalog_find(cat, "tiny"));
    fr_catalog_free(cat);

    /* The source tree is the last resort (CMake compiles with absolute paths). */
    fr_catalog_paths none = {0};
    CHECK_MSG(fr_catalog_load(&none, &cat, &err) == FR_OK, "%s", err.msg);
    CHECK(fr_catalog_find(cat, "h100-sxm") != NULL);
    fr_catalog_free(cat);

    /* Nothing found: the message lists where it looked and what to set. */
    fr_catalog_paths bad = {0};
    bad.data_dir = "/nonexistent-frugal-dir";
    bad.no_source_tree = true;
    cat = (fr_catalog *)1;
    CHECK(fr_catalog_load(&bad, &cat, &err) == FR_E_NOTFOUND);
    CHECK(cat == NULL);
    CHECK(strstr(err.msg, "/nonexistent-frugal-dir/hardware.json") != NULL);
    CHECK(strstr(err.msg, "FRUGAL_DATA_DIR") != NULL);

    /* User file (optional, may be missing) and extra file (must exist). */
    snprintf(path, sizeof path, "%s/user.json", tmp);
    write_file(path,
               "{\"schema\":\"frugal-hardware-1\",\"devices\":{\"h100-sxm\":{\"price_usd\":"
               "{\"value\":22000}},\"my-box\":{\"name\":\"My box\",\"kind\":\"cpu\",\"tdp_w\":"
               "{\"value\":65,\"low\":50,\"high\":90,\"source\":\"our meter\"}}}}");
    fr_catalog_paths u = {0};
    u.data_dir = dd;
    u.user_file = path;
    CHECK_MSG(fr_catalog_load(&u, &cat, &err) == FR_OK, "%s", err.msg);
    const fr_hw *h = fr_catalog_find(cat, "h100-sxm");
    CHECK(h && h->f[FR_HW_PRICE_USD].value == 22000 && h->f[FR_HW_PRICE_USD].low == 22000);
    CHECK(h && strstr(h->f[FR_HW_PRICE_USD].source, "user.json") != NULL);
    CHECK(h && h->f[FR_HW_TDP_W].value == 700); /* untouched fields stay */
    const fr_hw *mine = fr_catalog_find(cat, "my-box");
    CHECK(mine && mine->f[FR_HW_TDP_W].low == 50 &&
          strcmp(mine->f[FR_HW_TDP_W].source, "our meter") == 0);
    CHECK(strstr(fr_catalog_origin(cat), "user.json") != NULL);
    fr_catalog_free(cat);
    u.user_file = "/nonexistent/user.json"; /* missing user file: fine */
    CHECK(fr_catalog_load(&u, &cat, &err) == FR_OK);
    fr_catalog_free(cat);
    u.extra_file = "/nonexistent/extra.json"; /* missing --catalog: an error */
    CHECK(fr_catalog_load(&u, &cat, &err) == FR_E_NOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/extra.json") != NULL);

    snprintf(path, sizeof path, "rm -rf '%s'", tmp);
    CHECK(system(path) == 0);
}

static void expect_bad(const char *text, fr_status code, const char *needle)
{
    fr_catalog *cat = NULL;
    fr_err err = {0};
    fr_catalog_create(&cat, &err);
    CHECK(fr_catalog_merge_json(cat, tiny, strlen(tiny), "base", &err) == FR_OK);
    fr_status st = fr_catalog_merge_json(cat, text, strlen(text), "user.json", &err);
    CHECK_MSG(st == code, "status %d for %s", (int)st, text);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    /* Unchanged on error. */
    CHECK(fr_catalog_count(cat) == 1);
    const fr_hw *t = fr_catalog_find(cat, "tiny");
    CHECK(t && t->f[FR_HW_TDP_W].value == 5 && !t->f[FR_HW_PRICE_USD].present);
    CHECK(strcmp(fr_catalog_origin(cat), "base") == 0);
    fr_catalog_free(cat);
}

static void test_bad_files(void)
{
    expect_bad("{", FR_E_FORMAT, "user.json: line 1");
    expect_bad("[]", FR_E_FORMAT, "frugal-hardware-1");
    expect_bad("{\"schema\":\"other\",\"devices\":{}}", FR_E_FORMAT, "not a frugal hardware");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":[]}", FR_E_FORMAT, "keyed by id");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"Bad Id\":{}}}", FR_E_FORMAT,
               "Bad Id");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"tdp\":{\"value\":1}}}}",
               FR_E_FORMAT, "unknown field 'tdp'");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"price_usd\":"
               "{\"value\":10},\"tdp_w\":{\"value\":1,\"low\":2}}}}",
               FR_E_FORMAT, "tiny': tdp_w: need low <= value <= high");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"tdp_w\":"
               "{\"value\":-1}}}}",
               FR_E_FORMAT, "tdp_w.value = -1");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"tdp_w\":"
               "{\"value\":\"7\"}}}}",
               FR_E_FORMAT, "tdp_w.value must be a number");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"tdp_w\":{\"low\":1}}}}",
               FR_E_FORMAT, "has no \"value\"");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"tdp_w\":"
               "{\"value\":1,\"sauce\":\"x\"}}}}",
               FR_E_FORMAT, "unknown key 'sauce'");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"new\":{\"tdp_w\":{\"value\":1}}}}",
               FR_E_FORMAT, "new device 'new' needs");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"devices\":{\"tiny\":{\"name\":\"\"}}}",
               FR_E_FORMAT, "name must be 1-");
    expect_bad("{\"schema\":\"frugal-hardware-1\",\"schema\":\"x\",\"devices\":{}}", FR_E_FORMAT,
               "duplicate");
}

int main(void)
{
    test_builtin();
    test_search_order();
    test_bad_files();
    TEST_END();
}
