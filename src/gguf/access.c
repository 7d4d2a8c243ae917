/*
 * access.c - typed getters over a validated fr_gguf (see reader.c for the
 * validation they rely on).
 *
 * Integer conversion: a stored integer of any width and signedness converts
 * to the requested type when its value fits (files store the same key as
 * uint32, int32 or uint64 depending on the converter that wrote them);
 * anything that would change the value is FR_E_RANGE, never a silent
 * truncation. Floats convert between float32 and float64 only: an integer
 * where a float is expected is more likely a wrong key than a feature.
 */
#include "gguf/internal.h"
#include "gguf/pages.h"

#include <inttypes.h>
#include <string.h>

/* ---- file-level --------------------------------------------------------- */

const char *fr_gguf_path(const fr_gguf *g)
{
    return g->path;
}
uint32_t fr_gguf_version(const fr_gguf *g)
{
    return g->version;
}
uint64_t fr_gguf_file_size(const fr_gguf *g)
{
    return g->size;
}
uint32_t fr_gguf_alignment(const fr_gguf *g)
{
    return g->alignment;
}
uint64_t fr_gguf_data_offset(const fr_gguf *g)
{
    return g->data_offset;
}

int64_t fr_gguf_n_kv(const fr_gguf *g)
{
    return g->n_kv;
}

static const char *gg_key_of(const void *ctx, int64_t i)
{
    const fr_gguf *g = ctx;
    return g->keys + g->kv[i].key_off;
}

int64_t fr_gguf_find_key(const fr_gguf *g, const char *key)
{
    if (!g || !key)
        return -1;
    return gg_index_find(&g->kv_index, key, gg_key_of, g);
}

const char *fr_gguf_key(const fr_gguf *g, int64_t i)
{
    return (i >= 0 && i < g->n_kv) ? g->keys + g->kv[i].key_off : NULL;
}

fr_gguf_type fr_gguf_kv_type(const fr_gguf *g, int64_t i)
{
    return (i >= 0 && i < g->n_kv) ? (fr_gguf_type)g->kv[i].type : (fr_gguf_type)-1;
}

void gg_kv_raw(const fr_gguf *g, int64_t i, uint32_t *type, const uint8_t **data, uint64_t *len)
{
    *type = g->kv[i].type;
    *data = g->base + g->kv[i].val_off;
    *len = g->kv[i].val_end - g->kv[i].val_off;
}

/* ---- scalar decoding ---------------------------------------------------- */

/* An integer of any stored width, as (is_signed, signed value, unsigned
 * value). false when type is not an integer type. */
typedef struct gg_int {
    bool is_signed;
    int64_t s;
    uint64_t u;
} gg_int;

static bool gg_load_int(const uint8_t *p, uint32_t type, gg_int *v)
{
    v->is_signed = false;
    v->s = 0;
    switch (type) {
    case FR_GGUF_UINT8: v->u = p[0]; return true;
    case FR_GGUF_UINT16: v->u = gg_le16(p); return true;
    case FR_GGUF_UINT32: v->u = gg_le32(p); return true;
    case FR_GGUF_UINT64: v->u = gg_le64(p); return true;
    case FR_GGUF_INT8: v->s = (int8_t)p[0]; break;
    case FR_GGUF_INT16: v->s = (int16_t)gg_le16(p); break;
    case FR_GGUF_INT32: v->s = (int32_t)gg_le32(p); break;
    case FR_GGUF_INT64: v->s = (int64_t)gg_le64(p); break;
    default: return false;
    }
    v->is_signed = true;
    return true;
}

static bool gg_int_to_u64(const gg_int *v, uint64_t *out)
{
    if (v->is_signed && v->s < 0)
        return false;
    *out = v->is_signed ? (uint64_t)v->s : v->u;
    return true;
}

static bool gg_int_to_i64(const gg_int *v, int64_t *out)
{
    if (!v->is_signed && v->u > INT64_MAX)
        return false;
    *out = v->is_signed ? v->s : (int64_t)v->u;
    return true;
}

static bool gg_load_f64(const uint8_t *p, uint32_t type, double *out)
{
    if (type == FR_GGUF_FLOAT32) {
        uint32_t b = gg_le32(p);
        float f;
        memcpy(&f, &b, 4);
        *out = f;
        return true;
    }
    if (type == FR_GGUF_FLOAT64) {
        uint64_t b = gg_le64(p);
        memcpy(out, &b, 8);
        return true;
    }
    return false;
}

static void gg_int_text(const gg_int *v, char *buf, size_t n)
{
    if (v->is_signed)
        snprintf(buf, n, "%" PRId64, v->s);
    else
        snprintf(buf, n, "%" PRIu64, v->u);
}

/* ---- getters by index --------------------------------------------------- */

static fr_status gg_check_index(const fr_gguf *g, int64_t i, fr_err *err)
{
    if (i < 0 || i >= g->n_kv)
        return fr_err_set(err, FR_E_RANGE,
                          "%s: metadata index %" PRId64 " out of range (%" PRId64 " entries)",
                          g->path, i, g->n_kv);
    return FR_OK;
}

static fr_status gg_wrong_type(const fr_gguf *g, int64_t i, const char *want, fr_err *err)
{
    return fr_err_set(err, FR_E_FORMAT, "%s: metadata key '%s' is stored as %s, expected %s",
                      g->path, fr_gguf_key(g, i), fr_gguf_type_name((fr_gguf_type)g->kv[i].type),
                      want);
}

static fr_status gg_kv_int(const fr_gguf *g, int64_t i, gg_int *v, fr_err *err)
{
    fr_status st = gg_check_index(g, i, err);
    if (st)
        return st;
    if (!gg_load_int(g->base + g->kv[i].val_off, g->kv[i].type, v))
        return gg_wrong_type(g, i, "an integer", err);
    return FR_OK;
}

static fr_status gg_out_of_range(const fr_gguf *g, int64_t i, const gg_int *v, const char *want,
                                 fr_err *err)
{
    char t[32];
    gg_int_text(v, t, sizeof t);
    return fr_err_set(err, FR_E_RANGE, "%s: metadata key '%s' = %s does not fit %s", g->path,
                      fr_gguf_key(g, i), t, want);
}

fr_status fr_gguf_kv_get_i64(const fr_gguf *g, int64_t i, int64_t *out, fr_err *err)
{
    gg_int v;
    fr_status st = gg_kv_int(g, i, &v, err);
    if (st)
        return st;
    if (!gg_int_to_i64(&v, out))
        return gg_out_of_range(g, i, &v, "int64", err);
    return FR_OK;
}

fr_status fr_gguf_kv_get_u64(const fr_gguf *g, int64_t i, uint64_t *out, fr_err *err)
{
    gg_int v;
    fr_status st = gg_kv_int(g, i, &v, err);
    if (st)
        return st;
    if (!gg_int_to_u64(&v, out))
        return gg_out_of_range(g, i, &v, "uint64", err);
    return FR_OK;
}

fr_status fr_gguf_kv_get_f64(const fr_gguf *g, int64_t i, double *out, fr_err *err)
{
    fr_status st = gg_check_index(g, i, err);
    if (st)
        return st;
    if (!gg_load_f64(g->base + g->kv[i].val_off, g->kv[i].type, out))
        return gg_wrong_type(g, i, "float32 or float64", err);
    return FR_OK;
}

fr_status fr_gguf_kv_get_bool(const fr_gguf *g, int64_t i, bool *out, fr_err *err)
{
    fr_status st = gg_check_index(g, i, err);
    if (st)
        return st;
    if (g->kv[i].type != FR_GGUF_BOOL)
        return gg_wrong_type(g, i, "bool", err);
    *out = g->base[g->kv[i].val_off] != 0;
    return FR_OK;
}

fr_status fr_gguf_kv_get_str(const fr_gguf *g, int64_t i, fr_gguf_str *out, fr_err *err)
{
    fr_status st = gg_check_index(g, i, err);
    if (st)
        return st;
    if (g->kv[i].type != FR_GGUF_STRING)
        return gg_wrong_type(g, i, "string", err);
    const uint8_t *p = g->base + g->kv[i].val_off;
    out->len = gg_le64(p);
    out->ptr = (const char *)p + 8;
    return FR_OK;
}

fr_status fr_gguf_kv_get_arr(const fr_gguf *g, int64_t i, fr_gguf_arr *out, fr_err *err)
{
    fr_status st = gg_check_index(g, i, err);
    if (st)
        return st;
    if (g->kv[i].type != FR_GGUF_ARRAY)
        return gg_wrong_type(g, i, "array", err);
    const gg_node *nd = &g->nodes[g->kv[i].node];
    out->type = (fr_gguf_type)nd->type;
    out->n = nd->n;
    out->impl_ = nd;
    return FR_OK;
}

/* ---- getters by key ----------------------------------------------------- */

static fr_status gg_find(const fr_gguf *g, const char *key, int64_t *i, fr_err *err)
{
    *i = fr_gguf_find_key(g, key);
    if (*i < 0)
        return fr_err_set(err, FR_E_NOTFOUND, "%s: metadata key '%s' not found", g->path, key);
    return FR_OK;
}

fr_status fr_gguf_get_u64(const fr_gguf *g, const char *key, uint64_t *out, fr_err *err)
{
    int64_t i;
    fr_status st = gg_find(g, key, &i, err);
    return st ? st : fr_gguf_kv_get_u64(g, i, out, err);
}

fr_status fr_gguf_get_i64(const fr_gguf *g, const char *key, int64_t *out, fr_err *err)
{
    int64_t i;
    fr_status st = gg_find(g, key, &i, err);
    return st ? st : fr_gguf_kv_get_i64(g, i, out, err);
}

fr_status fr_gguf_get_u32(const fr_gguf *g, const char *key, uint32_t *out, fr_err *err)
{
    int64_t i;
    gg_int v;
    uint64_t u;
    fr_status st = gg_find(g, key, &i, err);
    if (!st)
        st = gg_kv_int(g, i, &v, err);
    if (st)
        return st;
    if (!gg_int_to_u64(&v, &u) || u > UINT32_MAX)
        return gg_out_of_range(g, i, &v, "uint32", err);
    *out = (uint32_t)u;
    return FR_OK;
}

fr_status fr_gguf_get_i32(const fr_gguf *g, const char *key, int32_t *out, fr_err *err)
{
    int64_t i, s;
    gg_int v;
    fr_status st = gg_find(g, key, &i, err);
    if (!st)
        st = gg_kv_int(g, i, &v, err);
    if (st)
        return st;
    if (!gg_int_to_i64(&v, &s) || s < INT32_MIN || s > INT32_MAX)
        return gg_out_of_range(g, i, &v, "int32", err);
    *out = (int32_t)s;
    return FR_OK;
}

fr_status fr_gguf_get_f64(const fr_gguf *g, const char *key, double *out, fr_err *err)
{
    int64_t i;
    fr_status st = gg_find(g, key, &i, err);
    return st ? st : fr_gguf_kv_get_f64(g, i, out, err);
}

fr_status fr_gguf_get_f32(const fr_gguf *g, const char *key, float *out, fr_err *err)
{
    double d;
    fr_status st = fr_gguf_get_f64(g, key, &d, err);
    if (st)
        return st;
    *out = (float)d;
    return FR_OK;
}

fr_status fr_gguf_get_bool(const fr_gguf *g, const char *key, bool *out, fr_err *err)
{
    int64_t i;
    fr_status st = gg_find(g, key, &i, err);
    return st ? st : fr_gguf_kv_get_bool(g, i, out, err);
}

fr_status fr_gguf_get_str(const fr_gguf *g, const char *key, fr_gguf_str *out, fr_err *err)
{
    int64_t i;
    fr_status st = gg_find(g, key, &i, err);
    return st ? st : fr_gguf_kv_get_str(g, i, out, err);
}

fr_status fr_gguf_get_arr(const fr_gguf *g, const char *key, fr_gguf_arr *out, fr_err *err)
{
    int64_t i;
    fr_status st = gg_find(g, key, &i, err);
    return st ? st : fr_gguf_kv_get_arr(g, i, out, err);
}

/* ---- array elements ----------------------------------------------------- */

static const gg_node *gg_elem(const fr_gguf_arr *a, uint64_t i, fr_status *st)
{
    const gg_node *nd = a ? a->impl_ : NULL;
    if (!nd) {
        *st = FR_E_INVALID;
        return NULL;
    }
    if (i >= nd->n) {
        *st = FR_E_RANGE;
        return NULL;
    }
    *st = FR_OK;
    return nd;
}

static fr_status gg_arr_int(const fr_gguf_arr *a, uint64_t i, gg_int *v)
{
    fr_status st;
    const gg_node *nd = gg_elem(a, i, &st);
    if (!nd)
        return st;
    uint32_t sz = gg_type_size(nd->type);
    if (!sz || !gg_load_int(nd->g->base + nd->off + i * sz, nd->type, v))
        return FR_E_FORMAT;
    return FR_OK;
}

fr_status fr_gguf_arr_i64(const fr_gguf_arr *a, uint64_t i, int64_t *out)
{
    gg_int v;
    fr_status st = gg_arr_int(a, i, &v);
    if (st)
        return st;
    return gg_int_to_i64(&v, out) ? FR_OK : FR_E_RANGE;
}

fr_status fr_gguf_arr_u64(const fr_gguf_arr *a, uint64_t i, uint64_t *out)
{
    gg_int v;
    fr_status st = gg_arr_int(a, i, &v);
    if (st)
        return st;
    return gg_int_to_u64(&v, out) ? FR_OK : FR_E_RANGE;
}

fr_status fr_gguf_arr_f64(const fr_gguf_arr *a, uint64_t i, double *out)
{
    fr_status st;
    const gg_node *nd = gg_elem(a, i, &st);
    if (!nd)
        return st;
    uint32_t sz = gg_type_size(nd->type);
    if (!sz || !gg_load_f64(nd->g->base + nd->off + i * sz, nd->type, out))
        return FR_E_FORMAT;
    return FR_OK;
}

fr_status fr_gguf_arr_f32(const fr_gguf_arr *a, uint64_t i, float *out)
{
    double d;
    fr_status st = fr_gguf_arr_f64(a, i, &d);
    if (st)
        return st;
    *out = (float)d;
    return FR_OK;
}

fr_status fr_gguf_arr_bool(const fr_gguf_arr *a, uint64_t i, bool *out)
{
    fr_status st;
    const gg_node *nd = gg_elem(a, i, &st);
    if (!nd)
        return st;
    if (nd->type != FR_GGUF_BOOL)
        return FR_E_FORMAT;
    *out = nd->g->base[nd->off + i] != 0;
    return FR_OK;
}

fr_status fr_gguf_arr_str(const fr_gguf_arr *a, uint64_t i, fr_gguf_str *out)
{
    fr_status st;
    const gg_node *nd = gg_elem(a, i, &st);
    if (!nd)
        return st;
    if (nd->type != FR_GGUF_STRING)
        return FR_E_FORMAT;
    const uint8_t *p = nd->g->base + nd->g->str_offs[nd->first + i];
    out->len = gg_le64(p);
    out->ptr = (const char *)p + 8;
    return FR_OK;
}

fr_status fr_gguf_arr_arr(const fr_gguf_arr *a, uint64_t i, fr_gguf_arr *out)
{
    fr_status st;
    const gg_node *nd = gg_elem(a, i, &st);
    if (!nd)
        return st;
    if (nd->type != FR_GGUF_ARRAY)
        return FR_E_FORMAT;
    const gg_node *kid = &nd->g->nodes[nd->first + i];
    out->type = (fr_gguf_type)kid->type;
    out->n = kid->n;
    out->impl_ = kid;
    return FR_OK;
}

const void *fr_gguf_arr_raw(const fr_gguf_arr *a)
{
    const gg_node *nd = a ? a->impl_ : NULL;
    if (!nd || !gg_type_size(nd->type))
        return NULL;
    return nd->g->base + nd->off;
}

/* ---- tensors ------------------------------------------------------------ */

int64_t fr_gguf_n_tensors(const fr_gguf *g)
{
    return g->n_tensors;
}

const fr_gguf_tensor *fr_gguf_tensor_at(const fr_gguf *g, int64_t i)
{
    return (i >= 0 && i < g->n_tensors) ? &g->tensors[i] : NULL;
}

static const char *gg_tname_of(const void *ctx, int64_t i)
{
    const fr_gguf *g = ctx;
    return g->names[i];
}

const fr_gguf_tensor *fr_gguf_find_tensor(const fr_gguf *g, const char *name)
{
    if (!g || !name)
        return NULL;
    int64_t i = gg_index_find(&g->t_index, name, gg_tname_of, g);
    return i < 0 ? NULL : &g->tensors[i];
}

void fr_gguf_release(const fr_gguf *g, const void *p, size_t len)
{
    if (g)
        fr_mapping_release(g->map, p, len);
}

void fr_gguf_release_read(const fr_gguf *g, const void *p, size_t len)
{
    if (g)
        fr_mapping_release_around(g->map, p, len, (size_t)64 << 10);
}
