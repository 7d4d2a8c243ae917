/*
 * writer.c - writing GGUF version 3 files.
 *
 * Metadata values are serialised to their on-disk bytes as soon as they are
 * set (so copying a key from an open file, nested arrays included, is one
 * memcpy of its raw bytes). Tensors are recorded by shape and type; their
 * data is either borrowed from the caller or produced by a fill callback at
 * write time, one tensor at a time into a single buffer sized for the
 * largest such tensor, so a quantizer never holds the whole output model in
 * memory.
 *
 * Layout (as ggml writes it): header, metadata, tensor infos, zero padding
 * up to the alignment, then each tensor's data followed by zero padding up
 * to the alignment; tensor offsets are relative to the (aligned) start of
 * the data section. The file goes to a temporary name in the target
 * directory and is renamed into place only after everything was written and
 * fsynced, so a failure at any point leaves the target path as it was.
 *
 * Rejected: seeking back to patch offsets (offsets are known before the
 * first byte is written, and a pure stream keeps the atomic-write helper
 * simple); writing GGUF v2 (every reader that reads v2 reads v3).
 */
#include "gguf/internal.h"

#include "base/checked.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF writer stores caller arrays as-is and assumes a little-endian host"
#endif

#define GW_MAX_ALIGNMENT (1u << 20)

typedef struct gw_kv {
    char *key;
    uint32_t type;
    uint8_t *val; /* on-disk bytes of the value (after the type field) */
    uint64_t val_len;
} gw_kv;

typedef struct gw_tensor {
    char name[FR_GGUF_MAX_NAME];
    fr_type type;
    uint32_t n_dims;
    int64_t ne[FR_GGUF_MAX_DIMS];
    const void *data; /* borrowed; NULL: produced by the fill callback */
    uint64_t nbytes;
    uint64_t offset; /* from the start of the data section, set at write time */
} gw_tensor;

struct fr_gguf_writer {
    gw_kv *kv;
    size_t n_kv, cap_kv;
    gw_tensor *t;
    size_t n_t, cap_t;
};

fr_status fr_gguf_writer_create(fr_gguf_writer **out, fr_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fr_err_set(err, FR_E_NOMEM, "out of memory creating a GGUF writer");
    return FR_OK;
}

void fr_gguf_writer_free(fr_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

/* ---- metadata ----------------------------------------------------------- */

static void gw_put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int64_t gw_find(const fr_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return (int64_t)i;
    return -1;
}

/* Takes ownership of val (freed on failure too). */
static fr_status gw_set_owned(fr_gguf_writer *w, const char *key, uint32_t type, uint8_t *val,
                              uint64_t len)
{
    if (!w || !key || !key[0] || strlen(key) > FR_GGUF_MAX_KEY_LEN) {
        free(val);
        return FR_E_INVALID;
    }
    int64_t i = gw_find(w, key);
    if (i >= 0) {
        free(w->kv[i].val);
        w->kv[i].type = type;
        w->kv[i].val = val;
        w->kv[i].val_len = len;
        return FR_OK;
    }
    if (w->n_kv == w->cap_kv) {
        size_t nc = w->cap_kv ? w->cap_kv * 2 : 32;
        gw_kv *nk = realloc(w->kv, nc * sizeof *nk);
        if (!nk) {
            free(val);
            return FR_E_NOMEM;
        }
        w->kv = nk;
        w->cap_kv = nc;
    }
    char *k = strdup(key);
    if (!k) {
        free(val);
        return FR_E_NOMEM;
    }
    w->kv[w->n_kv++] = (gw_kv){k, type, val, len};
    return FR_OK;
}

static fr_status gw_set(fr_gguf_writer *w, const char *key, uint32_t type, const void *bytes,
                        uint64_t len)
{
    if (len > SIZE_MAX)
        return FR_E_NOMEM;
    uint8_t *v = malloc(len ? (size_t)len : 1);
    if (!v)
        return FR_E_NOMEM;
    if (len)
        memcpy(v, bytes, (size_t)len);
    return gw_set_owned(w, key, type, v, len);
}

static fr_status gw_set_int(fr_gguf_writer *w, const char *key, uint32_t type, uint64_t bits)
{
    uint8_t b[8];
    unsigned n = gg_type_size(type);
    gw_put_le(b, bits, n);
    return gw_set(w, key, type, b, n);
}

fr_status fr_gguf_writer_set_u8(fr_gguf_writer *w, const char *key, uint8_t v)
{
    return gw_set_int(w, key, FR_GGUF_UINT8, v);
}
fr_status fr_gguf_writer_set_i8(fr_gguf_writer *w, const char *key, int8_t v)
{
    return gw_set_int(w, key, FR_GGUF_INT8, (uint8_t)v);
}
fr_status fr_gguf_writer_set_u16(fr_gguf_writer *w, const char *key, uint16_t v)
{
    return gw_set_int(w, key, FR_GGUF_UINT16, v);
}
fr_status fr_gguf_writer_set_i16(fr_gguf_writer *w, const char *key, int16_t v)
{
    return gw_set_int(w, key, FR_GGUF_INT16, (uint16_t)v);
}
fr_status fr_gguf_writer_set_u32(fr_gguf_writer *w, const char *key, uint32_t v)
{
    return gw_set_int(w, key, FR_GGUF_UINT32, v);
}
fr_status fr_gguf_writer_set_i32(fr_gguf_writer *w, const char *key, int32_t v)
{
    return gw_set_int(w, key, FR_GGUF_INT32, (uint32_t)v);
}
fr_status fr_gguf_writer_set_u64(fr_gguf_writer *w, const char *key, uint64_t v)
{
    return gw_set_int(w, key, FR_GGUF_UINT64, v);
}
fr_status fr_gguf_writer_set_i64(fr_gguf_writer *w, const char *key, int64_t v)
{
    return gw_set_int(w, key, FR_GGUF_INT64, (uint64_t)v);
}
fr_status fr_gguf_writer_set_f32(fr_gguf_writer *w, const char *key, float v)
{
    uint32_t b;
    memcpy(&b, &v, 4);
    return gw_set_int(w, key, FR_GGUF_FLOAT32, b);
}
fr_status fr_gguf_writer_set_f64(fr_gguf_writer *w, const char *key, double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return gw_set_int(w, key, FR_GGUF_FLOAT64, b);
}
fr_status fr_gguf_writer_set_bool(fr_gguf_writer *w, const char *key, bool v)
{
    return gw_set_int(w, key, FR_GGUF_BOOL, v ? 1 : 0);
}

fr_status fr_gguf_writer_set_strn(fr_gguf_writer *w, const char *key, const char *v, uint64_t len)
{
    if (!v && len)
        return FR_E_INVALID;
    uint64_t total;
    if (fr_add_u64(len, 8, &total) || total > SIZE_MAX)
        return FR_E_NOMEM;
    uint8_t *b = malloc((size_t)total);
    if (!b)
        return FR_E_NOMEM;
    gw_put_le(b, len, 8);
    if (len)
        memcpy(b + 8, v, (size_t)len);
    return gw_set_owned(w, key, FR_GGUF_STRING, b, total);
}

fr_status fr_gguf_writer_set_str(fr_gguf_writer *w, const char *key, const char *v)
{
    if (!v)
        return FR_E_INVALID;
    return fr_gguf_writer_set_strn(w, key, v, strlen(v));
}

fr_status fr_gguf_writer_set_arr(fr_gguf_writer *w, const char *key, fr_gguf_type type,
                                 const void *data, uint64_t n)
{
    uint32_t sz = gg_type_size((uint32_t)type);
    if (!sz || (!data && n))
        return FR_E_INVALID;
    uint64_t bytes, total;
    if (fr_mul_u64(n, sz, &bytes) || fr_add_u64(bytes, 12, &total) || total > SIZE_MAX)
        return FR_E_NOMEM;
    uint8_t *b = malloc((size_t)total);
    if (!b)
        return FR_E_NOMEM;
    gw_put_le(b, (uint32_t)type, 4);
    gw_put_le(b + 4, n, 8);
    if (bytes)
        memcpy(b + 12, data, (size_t)bytes);
    return gw_set_owned(w, key, FR_GGUF_ARRAY, b, total);
}

fr_status fr_gguf_writer_set_arr_str(fr_gguf_writer *w, const char *key, const char *const *strs,
                                     const uint64_t *lens, uint64_t n)
{
    if (!strs && n)
        return FR_E_INVALID;
    uint64_t total = 12;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i] && (!lens || lens[i]))
            return FR_E_INVALID;
        uint64_t len = lens ? lens[i] : strlen(strs[i]);
        if (fr_add_u64(total, 8, &total) || fr_add_u64(total, len, &total))
            return FR_E_NOMEM;
    }
    if (total > SIZE_MAX)
        return FR_E_NOMEM;
    uint8_t *b = malloc((size_t)total);
    if (!b)
        return FR_E_NOMEM;
    gw_put_le(b, FR_GGUF_STRING, 4);
    gw_put_le(b + 4, n, 8);
    uint8_t *p = b + 12;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = lens ? lens[i] : strlen(strs[i]);
        gw_put_le(p, len, 8);
        if (len)
            memcpy(p + 8, strs[i], (size_t)len);
        p += 8 + len;
    }
    return gw_set_owned(w, key, FR_GGUF_ARRAY, b, total);
}

fr_status fr_gguf_writer_copy_kv(fr_gguf_writer *w, const fr_gguf *src, int64_t i)
{
    if (!w || !src || i < 0 || i >= fr_gguf_n_kv(src))
        return FR_E_INVALID;
    uint32_t type;
    const uint8_t *data;
    uint64_t len;
    gg_kv_raw(src, i, &type, &data, &len);
    return gw_set(w, fr_gguf_key(src, i), type, data, len);
}

fr_status fr_gguf_writer_remove(fr_gguf_writer *w, const char *key)
{
    int64_t i = (w && key) ? gw_find(w, key) : -1;
    if (i < 0)
        return FR_E_NOTFOUND;
    free(w->kv[i].key);
    free(w->kv[i].val);
    memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - (size_t)i - 1) * sizeof *w->kv);
    w->n_kv--;
    return FR_OK;
}

fr_status fr_gguf_writer_set_alignment(fr_gguf_writer *w, uint32_t alignment)
{
    if (alignment == 0 || alignment > GW_MAX_ALIGNMENT || (alignment & (alignment - 1)))
        return FR_E_INVALID;
    return fr_gguf_writer_set_u32(w, "general.alignment", alignment);
}

/* ---- tensors ------------------------------------------------------------ */

fr_status fr_gguf_writer_add_tensor(fr_gguf_writer *w, const char *name, fr_type type,
                                    uint32_t n_dims, const int64_t *ne, const void *data,
                                    fr_err *err)
{
    if (!w || !name || !ne)
        return fr_err_set(err, FR_E_INVALID, "add_tensor: NULL argument");
    size_t nlen = strlen(name);
    if (nlen >= FR_GGUF_MAX_NAME)
        return fr_err_set(err, FR_E_INVALID,
                          "tensor name '%s' is %zu bytes; GGUF (ggml) allows at most %u", name,
                          nlen, FR_GGUF_MAX_NAME - 1);
    const fr_type_info *ti = fr_type_get((uint32_t)type);
    if (!ti || !ti->supported)
        return fr_err_set(err, FR_E_UNSUPPORTED, "tensor '%s': type %s cannot be written", name,
                          fr_type_name((uint32_t)type));
    if (n_dims < 1 || n_dims > FR_GGUF_MAX_DIMS)
        return fr_err_set(err, FR_E_INVALID, "tensor '%s': %" PRIu32 " dimensions (must be 1..%d)",
                          name, n_dims, FR_GGUF_MAX_DIMS);
    int64_t nel = 1;
    for (uint32_t j = 0; j < n_dims; j++) {
        if (ne[j] < 1)
            return fr_err_set(err, FR_E_INVALID,
                              "tensor '%s': dimension %" PRIu32 " is %" PRId64 " (must be >= 1)",
                              name, j, ne[j]);
        if (__builtin_mul_overflow(nel, ne[j], &nel))
            return fr_err_set(err, FR_E_INVALID, "tensor '%s': element count overflows", name);
    }
    if (ne[0] % ti->block_size)
        return fr_err_set(err, FR_E_INVALID,
                          "tensor '%s': row length %" PRId64 " is not a multiple of the %s block "
                          "size %" PRIu32,
                          name, ne[0], ti->name, ti->block_size);
    uint64_t nbytes;
    if (fr_mul_u64((uint64_t)nel / ti->block_size, ti->type_size, &nbytes))
        return fr_err_set(err, FR_E_INVALID, "tensor '%s': size overflows", name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return fr_err_set(err, FR_E_INVALID, "tensor '%s' added twice", name);
    if (w->n_t == w->cap_t) {
        size_t nc = w->cap_t ? w->cap_t * 2 : 64;
        gw_tensor *nt = realloc(w->t, nc * sizeof *nt);
        if (!nt)
            return fr_err_set(err, FR_E_NOMEM, "out of memory adding tensor '%s'", name);
        w->t = nt;
        w->cap_t = nc;
    }
    gw_tensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, nlen + 1);
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t j = 0; j < FR_GGUF_MAX_DIMS; j++)
        t->ne[j] = j < n_dims ? ne[j] : 1;
    t->data = data;
    t->nbytes = nbytes;
    return FR_OK;
}

/* ---- write -------------------------------------------------------------- */

static fr_status gw_alignment(const fr_gguf_writer *w, const char *path, uint32_t *out, fr_err *err)
{
    *out = FR_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gw_find(w, "general.alignment");
    if (i < 0)
        return FR_OK;
    const gw_kv *kv = &w->kv[i];
    uint32_t a = kv->type == FR_GGUF_UINT32 ? gg_le32(kv->val) : 0;
    if (a == 0 || a > GW_MAX_ALIGNMENT || (a & (a - 1)))
        return fr_err_set(err, FR_E_INVALID,
                          "%s: general.alignment must be a uint32 power of two up to 2^20", path);
    *out = a;
    return FR_OK;
}

static fr_status gw_pad(fr_atomic_file *f, uint64_t n, fr_err *err)
{
    static const uint8_t zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        fr_status st = fr_atomic_write(f, zeros, k, err);
        if (st)
            return st;
        n -= k;
    }
    return FR_OK;
}

static fr_status gw_u32(fr_atomic_file *f, uint32_t v, fr_err *err)
{
    uint8_t b[4];
    gw_put_le(b, v, 4);
    return fr_atomic_write(f, b, 4, err);
}

static fr_status gw_u64(fr_atomic_file *f, uint64_t v, fr_err *err)
{
    uint8_t b[8];
    gw_put_le(b, v, 8);
    return fr_atomic_write(f, b, 8, err);
}

static fr_status gw_str(fr_atomic_file *f, const char *s, fr_err *err)
{
    size_t n = strlen(s);
    fr_status st = gw_u64(f, n, err);
    return st ? st : fr_atomic_write(f, s, n, err);
}

static fr_status gw_header_and_infos(const fr_gguf_writer *w, fr_atomic_file *f, fr_err *err)
{
    fr_status st = fr_atomic_write(f, "GGUF", 4, err);
    if (!st)
        st = gw_u32(f, 3, err);
    if (!st)
        st = gw_u64(f, w->n_t, err);
    if (!st)
        st = gw_u64(f, w->n_kv, err);
    for (size_t i = 0; !st && i < w->n_kv; i++) {
        const gw_kv *kv = &w->kv[i];
        st = gw_str(f, kv->key, err);
        if (!st)
            st = gw_u32(f, kv->type, err);
        if (!st)
            st = fr_atomic_write(f, kv->val, (size_t)kv->val_len, err);
    }
    for (size_t i = 0; !st && i < w->n_t; i++) {
        const gw_tensor *t = &w->t[i];
        st = gw_str(f, t->name, err);
        if (!st)
            st = gw_u32(f, t->n_dims, err);
        for (uint32_t j = 0; !st && j < t->n_dims; j++)
            st = gw_u64(f, (uint64_t)t->ne[j], err);
        if (!st)
            st = gw_u32(f, (uint32_t)t->type, err);
        if (!st)
            st = gw_u64(f, t->offset, err);
    }
    return st;
}

fr_status fr_gguf_writer_write(fr_gguf_writer *w, const char *path, const char *const *protect,
                               size_t n_protect, fr_gguf_fill_fn fill, void *user, fr_err *err)
{
    if (!w || !path)
        return fr_err_set(err, FR_E_INVALID, "gguf write: NULL argument");
    uint32_t align;
    fr_status st = gw_alignment(w, path, &align, err);
    if (st)
        return st;

    /* Offsets and the fill buffer size, before anything touches the disk. */
    uint64_t off = 0, max_fill = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        gw_tensor *t = &w->t[i];
        if (!t->data && !fill)
            return fr_err_set(err, FR_E_INVALID,
                              "%s: tensor '%s' has no data and no fill callback was given", path,
                              t->name);
        if (!t->data && t->nbytes > max_fill)
            max_fill = t->nbytes;
        t->offset = off;
        if (fr_add_u64(off, t->nbytes, &off) || fr_align_up_u64(off, align, &off))
            return fr_err_set(err, FR_E_INVALID, "%s: total tensor size overflows", path);
    }
    uint8_t *buf = NULL;
    if (max_fill) {
        buf = max_fill <= SIZE_MAX ? malloc((size_t)max_fill) : NULL;
        if (!buf)
            return fr_err_set(err, FR_E_NOMEM,
                              "%s: out of memory allocating a %" PRIu64 "-byte tensor buffer", path,
                              max_fill);
    }

    fr_atomic_file *f = NULL;
    st = fr_atomic_open(path, protect, n_protect, &f, err);
    if (st)
        goto done;
    st = gw_header_and_infos(w, f, err);
    uint64_t pad;
    if (!st && !fr_align_up_u64(fr_atomic_tell(f), align, &pad))
        st = gw_pad(f, pad - fr_atomic_tell(f), err);
    uint64_t data_start = fr_atomic_tell(f);
    for (size_t i = 0; !st && i < w->n_t; i++) {
        const gw_tensor *t = &w->t[i];
        const void *src = t->data;
        if (!src) {
            fr_err_clear(err);
            st = fill(user, (int64_t)i, buf, t->nbytes, err);
            if (st) {
                if (err && !err->msg[0])
                    fr_err_set(err, st, "the fill callback failed");
                fr_err_prefix(err, "%s: tensor '%s'", path, t->name);
                break;
            }
            src = buf;
        }
        if (fr_atomic_tell(f) != data_start + t->offset) {
            st = fr_err_set(err, FR_E_INTERNAL, "%s: tensor '%s' offset mismatch", path, t->name);
            break;
        }
        st = fr_atomic_write(f, src, (size_t)t->nbytes, err);
        if (!st && !fr_align_up_u64(t->nbytes, align, &pad))
            st = gw_pad(f, pad - t->nbytes, err);
    }
    if (st) {
        fr_atomic_abort(f);
        goto done;
    }
    st = fr_atomic_commit(f, err);
done:
    free(buf);
    return st;
}
