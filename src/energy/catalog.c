/*
 * catalog.c - the hardware catalog (see frugal/hardware.h).
 *
 * The catalog is a small array of devices whose strings it owns. A merge is
 * applied to a copy and swapped in only when the whole document validated,
 * so a bad user file leaves the catalog as it was and the message names the
 * file, the device id and the field.
 *
 * Finding the built-in file: rejected embedding the JSON into the library at
 * build time, because that needs a CMake step and makes data/hardware.json a
 * second copy that can drift; instead the file is looked up at run time
 * ($FRUGAL_DATA_DIR, then <exe>/../share/frugal as `make install` lays it
 * out, then the source tree). The source-tree path comes from __FILE__,
 * which CMake passes as an absolute path, so no compile definition is
 * needed; a relative __FILE__ simply disables that fallback.
 */
#include <frugal/hardware.h>

#include "base/buf.h"
#include "base/file.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAT_FILE_MAX ((size_t)4 << 20)
#define CAT_DEVICES_MAX 1024
#define CAT_STRING_MAX 1024

struct fr_catalog {
    fr_hw *dev; /* (n) */
    size_t n, cap;
    char *origin; /* "; "-joined list of merged files */
};

static const char *const field_names[FR_HW_FIELD_COUNT] = {
    [FR_HW_TDP_W] = "tdp_w",           [FR_HW_PRICE_USD] = "price_usd",
    [FR_HW_RENT_USD_H] = "rent_usd_h", [FR_HW_FLOPS_BF16] = "flops_bf16",
    [FR_HW_FLOPS_FP16] = "flops_fp16", [FR_HW_FLOPS_FP32] = "flops_fp32",
    [FR_HW_OPS_INT8] = "ops_int8",     [FR_HW_MEM_BW] = "mem_bw",
    [FR_HW_MEM_BYTES] = "mem_bytes",   [FR_HW_CORES] = "cores",
    [FR_HW_BATTERY_WH] = "battery_wh",
};

const char *fr_hw_field_name(fr_hw_field f)
{
    return (unsigned)f < FR_HW_FIELD_COUNT ? field_names[f] : NULL;
}

static void hw_clear(fr_hw *h)
{
    free((char *)h->id);
    free((char *)h->name);
    free((char *)h->kind);
    for (int i = 0; i < FR_HW_FIELD_COUNT; i++)
        free((char *)h->f[i].source);
    memset(h, 0, sizeof *h);
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

static bool hw_copy(fr_hw *dst, const fr_hw *src)
{
    bool fail = false;
    *dst = *src;
    dst->id = dup_or_null(src->id, &fail);
    dst->name = dup_or_null(src->name, &fail);
    dst->kind = dup_or_null(src->kind, &fail);
    for (int i = 0; i < FR_HW_FIELD_COUNT; i++)
        dst->f[i].source = dup_or_null(src->f[i].source, &fail);
    if (fail)
        hw_clear(dst);
    return !fail;
}

static void devs_free(fr_hw *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hw_clear(&d[i]);
    free(d);
}

fr_status fr_catalog_create(fr_catalog **out, fr_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fr_err_set(err, FR_E_NOMEM, "hardware catalog: out of memory");
    return FR_OK;
}

void fr_catalog_free(fr_catalog *cat)
{
    if (!cat)
        return;
    devs_free(cat->dev, cat->n);
    free(cat->origin);
    free(cat);
}

size_t fr_catalog_count(const fr_catalog *cat)
{
    return cat ? cat->n : 0;
}

const fr_hw *fr_catalog_at(const fr_catalog *cat, size_t i)
{
    return cat && i < cat->n ? &cat->dev[i] : NULL;
}

const fr_hw *fr_catalog_find(const fr_catalog *cat, const char *id)
{
    if (!cat || !id)
        return NULL;
    for (size_t i = 0; i < cat->n; i++)
        if (strcmp(cat->dev[i].id, id) == 0)
            return &cat->dev[i];
    return NULL;
}

const char *fr_catalog_origin(const fr_catalog *cat)
{
    return cat && cat->origin ? cat->origin : "";
}

fr_status fr_catalog_unknown(const fr_catalog *cat, const char *id, fr_err *err)
{
    fr_buf b = FR_BUF_INIT;
    b.max = 700;
    for (size_t i = 0; cat && i < cat->n; i++)
        fr_buf_printf(&b, "%s%s", i ? ", " : "", cat->dev[i].id);
    fr_status st = fr_err_set(err, FR_E_NOTFOUND,
                              "unknown hardware '%s'; the catalog (%s) has: %s%s; add your own "
                              "entry to ~/.config/frugal/hardware.json or pass --catalog FILE",
                              id, fr_catalog_origin(cat), b.data ? b.data : "(nothing)",
                              fr_buf_ok(&b) ? "" : ", ...");
    fr_buf_free(&b);
    return st;
}

fr_hw_value fr_hw_peak_flops(const fr_hw *hw, fr_hw_field *which)
{
    static const fr_hw_field order[] = {FR_HW_FLOPS_BF16, FR_HW_FLOPS_FP16, FR_HW_FLOPS_FP32};
    fr_hw_value none = {0};
    for (size_t i = 0; hw && i < sizeof order / sizeof order[0]; i++) {
        if (hw->f[order[i]].present) {
            if (which)
                *which = order[i];
            return hw->f[order[i]];
        }
    }
    if (which)
        *which = FR_HW_FIELD_COUNT;
    return none;
}

/* ---- parsing ------------------------------------------------------------ */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static fr_status get_string(json_t *v, const char *origin, const char *id, const char *what,
                            char **out, fr_err *err)
{
    if (!json_is_string(v))
        return fr_err_set(err, FR_E_FORMAT, "%s: device '%s': %s must be a string", origin, id,
                          what);
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n == 0 || n > CAT_STRING_MAX)
        return fr_err_set(err, FR_E_FORMAT, "%s: device '%s': %s must be 1-%d characters (has %zu)",
                          origin, id, what, CAT_STRING_MAX, n);
    char *d = strdup(s);
    if (!d)
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
    free(*out);
    *out = d;
    return FR_OK;
}

static fr_status get_number(json_t *obj, const char *key, const char *origin, const char *id,
                            const char *field, bool *has, double *out, fr_err *err)
{
    json_t *v = json_object_get(obj, key);
    *has = v != NULL;
    if (!v)
        return FR_OK;
    if (!json_is_number(v))
        return fr_err_set(err, FR_E_FORMAT, "%s: device '%s': %s.%s must be a number", origin, id,
                          field, key);
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: device '%s': %s.%s = %g must be a finite number >= 0", origin, id,
                          field, key, x);
    *out = x;
    return FR_OK;
}

static fr_status parse_value(json_t *v, const char *origin, const char *id, fr_hw_field f,
                             fr_hw_value *out, fr_err *err)
{
    const char *field = field_names[f];
    if (!json_is_object(v))
        return fr_err_set(
            err, FR_E_FORMAT,
            "%s: device '%s': %s must be an object {\"value\": X, \"source\": \"...\"}", origin, id,
            field);
    const char *key;
    json_t *sub;
    json_object_foreach(v, key, sub)
    {
        if (strcmp(key, "value") && strcmp(key, "low") && strcmp(key, "high") &&
            strcmp(key, "source") && strcmp(key, "note"))
            return fr_err_set(err, FR_E_FORMAT,
                              "%s: device '%s': %s has unknown key '%s' (known: value, low, high, "
                              "source, note)",
                              origin, id, field, key);
    }
    bool has_v, has_lo, has_hi;
    double val = 0, lo = 0, hi = 0;
    fr_status st;
    if ((st = get_number(v, "value", origin, id, field, &has_v, &val, err)) ||
        (st = get_number(v, "low", origin, id, field, &has_lo, &lo, err)) ||
        (st = get_number(v, "high", origin, id, field, &has_hi, &hi, err)))
        return st;
    if (!has_v)
        return fr_err_set(err, FR_E_FORMAT, "%s: device '%s': %s has no \"value\"", origin, id,
                          field);
    if (!has_lo)
        lo = val;
    if (!has_hi)
        hi = val;
    if (!(lo <= val && val <= hi))
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: device '%s': %s: need low <= value <= high, got %g, %g, %g", origin,
                          id, field, lo, val, hi);
    char *src = NULL;
    json_t *js = json_object_get(v, "source");
    if (js) {
        if ((st = get_string(js, origin, id, "source", &src, err)))
            return st;
    } else {
        fr_buf b = FR_BUF_INIT;
        fr_buf_printf(&b, "given in %s", origin);
        src = fr_buf_take(&b);
        if (!src)
            return fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
    }
    free((char *)out->source);
    out->present = true;
    out->value = val;
    out->low = lo;
    out->high = hi;
    out->source = src;
    return FR_OK;
}

static fr_status parse_device(json_t *obj, const char *origin, const char *id, fr_hw *h,
                              fr_err *err)
{
    if (!json_is_object(obj))
        return fr_err_set(err, FR_E_FORMAT, "%s: device '%s' must be an object", origin, id);
    const char *key;
    json_t *v;
    fr_status st = FR_OK;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "name") == 0) {
            st = get_string(v, origin, id, "name", (char **)&h->name, err);
        } else if (strcmp(key, "kind") == 0) {
            st = get_string(v, origin, id, "kind", (char **)&h->kind, err);
        } else if (strcmp(key, "note") == 0) {
            continue;
        } else {
            int f = 0;
            while (f < FR_HW_FIELD_COUNT && strcmp(field_names[f], key) != 0)
                f++;
            if (f == FR_HW_FIELD_COUNT) {
                fr_buf b = FR_BUF_INIT;
                for (int i = 0; i < FR_HW_FIELD_COUNT; i++)
                    fr_buf_printf(&b, "%s, ", field_names[i]);
                st = fr_err_set(err, FR_E_FORMAT,
                                "%s: device '%s': unknown field '%s' (known: name, kind, note, %s)",
                                origin, id, key, b.data ? b.data : "");
                fr_buf_free(&b);
            } else {
                st = parse_value(v, origin, id, (fr_hw_field)f, &h->f[f], err);
            }
        }
        if (st)
            return st;
    }
    if (!h->name || !h->kind)
        return fr_err_set(err, FR_E_FORMAT, "%s: new device '%s' needs \"name\" and \"kind\"",
                          origin, id);
    return FR_OK;
}

fr_status fr_catalog_merge_json(fr_catalog *cat, const char *text, size_t len, const char *origin,
                                fr_err *err)
{
    if (!origin)
        origin = "(catalog text)";
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fr_err_set(err, FR_E_FORMAT, "%s: line %d, column %d: %s", origin, je.line,
                          je.column, je.text);
    fr_status st = FR_OK;
    fr_hw *nd = NULL;
    size_t nn = 0, ncap = 0;
    json_t *schema = json_object_get(root, "schema");
    json_t *devs = json_object_get(root, "devices");
    if (!json_is_object(root) || !json_is_string(schema) ||
        strcmp(json_string_value(schema), "frugal-hardware-1") != 0) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: not a frugal hardware catalog (expected an object with \"schema\": "
                        "\"frugal-hardware-1\")",
                        origin);
        goto done;
    }
    if (!json_is_object(devs)) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: \"devices\" must be an object keyed by id", origin);
        goto done;
    }
    if (cat->n + json_object_size(devs) > CAT_DEVICES_MAX) {
        st = fr_err_set(err, FR_E_RANGE, "%s: more than %d devices in the catalog", origin,
                        CAT_DEVICES_MAX);
        goto done;
    }
    ncap = cat->n + json_object_size(devs);
    nd = calloc(ncap ? ncap : 1, sizeof *nd);
    if (!nd) {
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
        goto done;
    }
    for (; nn < cat->n; nn++) {
        if (!hw_copy(&nd[nn], &cat->dev[nn])) {
            st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
            goto done;
        }
    }
    const char *id;
    json_t *dv;
    json_object_foreach(devs, id, dv)
    {
        if (!id_ok(id)) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "%s: device id '%.80s' must be 1-63 characters of a-z 0-9 . _ -",
                            origin, id);
            goto done;
        }
        size_t k = 0;
        while (k < nn && strcmp(nd[k].id, id) != 0)
            k++;
        if (k == nn) {
            nd[nn].id = strdup(id);
            if (!nd[nn].id) {
                st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
                goto done;
            }
            nn++;
        }
        if ((st = parse_device(dv, origin, id, &nd[k], err)))
            goto done;
    }
    fr_buf ob = FR_BUF_INIT;
    fr_buf_printf(&ob, "%s%s%s", cat->origin ? cat->origin : "", cat->origin ? "; " : "", origin);
    char *no = fr_buf_take(&ob);
    if (!no) {
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
        goto done;
    }
    devs_free(cat->dev, cat->n);
    free(cat->origin);
    cat->dev = nd;
    cat->n = nn;
    cat->cap = ncap;
    cat->origin = no;
    nd = NULL;
    nn = 0;
done:
    devs_free(nd, nn);
    json_decref(root);
    return st;
}

static fr_status merge_file(fr_catalog *cat, const char *path, fr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    fr_status st = fr_read_file(path, CAT_FILE_MAX, &text, &len, err);
    if (st == FR_OK)
        st = fr_catalog_merge_json(cat, text, len, path, err);
    free(text);
    return st;
}

/* ---- finding files ------------------------------------------------------ */

static bool file_exists(const char *p)
{
    return p && access(p, R_OK) == 0;
}

static void join(char *out, size_t n, const char *dir, const char *rest)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    snprintf(out, n, "%.*s/%s", (int)dl, dir, rest);
}

/* <source tree>/data, derived from this file's own path. */
static bool source_tree_data(char *out, size_t n)
{
    static const char tail[] = "src/energy/catalog.c";
    const char *f = __FILE__;
    size_t fl = strlen(f), tl = sizeof tail - 1;
    if (f[0] != '/' || fl < tl || strcmp(f + fl - tl, tail) != 0)
        return false;
    int w = snprintf(out, n, "%.*sdata", (int)(fl - tl), f);
    return w > 0 && (size_t)w < n;
}

static fr_status find_builtin(const fr_catalog_paths *p, char *out, size_t n, fr_err *err)
{
    fr_buf tried = FR_BUF_INIT;
    tried.max = 2048;
    fr_status st = FR_OK;
    if (p->data_dir && p->data_dir[0]) {
        join(out, n, p->data_dir, "hardware.json");
        if (file_exists(out))
            goto done;
        fr_buf_printf(&tried, "%s ($FRUGAL_DATA_DIR); ", out);
    }
    if (p->exe_path && p->exe_path[0]) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", p->exe_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            join(out, n, dir[0] ? dir : "/", "../share/frugal/hardware.json");
            if (file_exists(out))
                goto done;
            fr_buf_printf(&tried, "%s; ", out);
        }
    }
    char data[PATH_MAX];
    if (!p->no_source_tree && source_tree_data(data, sizeof data)) {
        join(out, n, data, "hardware.json");
        if (file_exists(out))
            goto done;
        fr_buf_printf(&tried, "%s (source tree); ", out);
    }
    if (tried.len >= 2)
        tried.data[tried.len - 2] = '\0';
    st = fr_err_set(err, FR_E_NOTFOUND,
                    "cannot find the hardware catalog hardware.json (looked in: %s); set "
                    "FRUGAL_DATA_DIR to the directory holding it (data/ in the source tree, "
                    "<prefix>/share/frugal when installed)",
                    tried.data ? tried.data : "nowhere");
done:
    fr_buf_free(&tried);
    return st;
}

fr_status fr_catalog_load(const fr_catalog_paths *paths, fr_catalog **out, fr_err *err)
{
    fr_catalog_paths none = {0};
    if (!paths)
        paths = &none;
    *out = NULL;
    fr_catalog *cat = NULL;
    char path[PATH_MAX + 64];
    fr_status st = fr_catalog_create(&cat, err);
    if (st)
        return st;
    if ((st = find_builtin(paths, path, sizeof path, err)) || (st = merge_file(cat, path, err)))
        goto fail;
    if (paths->user_file && paths->user_file[0] && file_exists(paths->user_file) &&
        (st = merge_file(cat, paths->user_file, err)))
        goto fail;
    if (paths->extra_file && paths->extra_file[0] && (st = merge_file(cat, paths->extra_file, err)))
        goto fail;
    *out = cat;
    return FR_OK;
fail:
    fr_catalog_free(cat);
    return st;
}

void fr_catalog_paths_from_env(fr_catalog_env *env, fr_catalog_paths *paths)
{
    memset(env, 0, sizeof *env);
    memset(paths, 0, sizeof *paths);
    const char *dd = getenv("FRUGAL_DATA_DIR");
    if (dd && dd[0]) {
        snprintf(env->data_dir, sizeof env->data_dir, "%s", dd);
        paths->data_dir = env->data_dir;
    }
    ssize_t n = readlink("/proc/self/exe", env->exe_path, sizeof env->exe_path - 1);
    if (n > 0) {
        env->exe_path[n] = '\0';
        paths->exe_path = env->exe_path;
    }
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int w = -1;
    if (xdg && xdg[0] == '/')
        w = snprintf(env->user_file, sizeof env->user_file, "%s/frugal/hardware.json", xdg);
    else if (home && home[0])
        w = snprintf(env->user_file, sizeof env->user_file, "%s/.config/frugal/hardware.json",
                     home);
    if (w > 0 && (size_t)w < sizeof env->user_file)
        paths->user_file = env->user_file;
}
