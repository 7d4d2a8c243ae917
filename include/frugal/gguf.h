/*
 * frugal/gguf.h - reading and writing GGUF files (v2 and v3, little-endian),
 * exactly as llama.cpp writes and reads them.
 *
 * Reader: the file is mapped read-only and validated completely at open time
 * (every count, length, type, shape, offset and alignment), so that after a
 * successful open every accessor is safe and cheap. Tensor data is never
 * copied: fr_gguf_tensor.data points into the mapping. Metadata strings are
 * exposed as (pointer, length) views into the mapping: GGUF strings are not
 * NUL-terminated and may contain NUL bytes.
 *
 * Writer: metadata and tensors are collected in memory (tensor data is either
 * borrowed from the caller or produced by a callback at write time, so a
 * quantizer can stream), then written to a temporary file beside the target,
 * fsynced and renamed into place.
 */
#ifndef FRUGAL_GGUF_H
#define FRUGAL_GGUF_H

#include <frugal/base.h>
#include <frugal/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_GGUF_MAX_DIMS 4
#define FR_GGUF_DEFAULT_ALIGNMENT 32

typedef enum fr_gguf_type {
    FR_GGUF_UINT8 = 0,
    FR_GGUF_INT8 = 1,
    FR_GGUF_UINT16 = 2,
    FR_GGUF_INT16 = 3,
    FR_GGUF_UINT32 = 4,
    FR_GGUF_INT32 = 5,
    FR_GGUF_FLOAT32 = 6,
    FR_GGUF_BOOL = 7,
    FR_GGUF_STRING = 8,
    FR_GGUF_ARRAY = 9,
    FR_GGUF_UINT64 = 10,
    FR_GGUF_INT64 = 11,
    FR_GGUF_FLOAT64 = 12
} fr_gguf_type;

FR_API const char *fr_gguf_type_name(fr_gguf_type t); /* "uint32", "array", ... */

/* A string inside the file: not NUL-terminated, may contain NULs. */
typedef struct fr_gguf_str {
    const char *ptr;
    uint64_t len;
} fr_gguf_str;

/* An array value (borrowed view; valid while the fr_gguf lives). */
typedef struct fr_gguf_arr {
    fr_gguf_type type; /* element type; FR_GGUF_ARRAY for nested arrays */
    uint64_t n;        /* element count */
    const void *impl_; /* reader-private */
} fr_gguf_arr;

typedef struct fr_gguf_tensor {
    const char *name;  /* NUL-terminated, owned by the fr_gguf */
    fr_type type;
    uint32_t n_dims;   /* 1..4 */
    int64_t ne[FR_GGUF_MAX_DIMS]; /* ne[0] = row length (contiguous); unused dims are 1 */
    uint64_t offset;   /* from the start of the data section */
    uint64_t nbytes;
    const void *data;  /* into the mapping; aligned to the file's alignment when
                        * opened with fr_gguf_open (fr_gguf_open_memory: as
                        * aligned as the caller's buffer) */
} fr_gguf_tensor;

typedef struct fr_gguf fr_gguf;

/* ---- reader ------------------------------------------------------------- */

/* Opens and validates path. Owned by caller; free with fr_gguf_free. Errors
 * name the file, the byte offset and the rule broken. */
FR_API fr_status fr_gguf_open(const char *path, fr_gguf **out, fr_err *err);
/* Same over caller memory (borrowed; must outlive the handle), for tests and
 * fuzzers. name is used in messages. */
FR_API fr_status fr_gguf_open_memory(const void *data, size_t size, const char *name,
                                     fr_gguf **out, fr_err *err);
FR_API void fr_gguf_free(fr_gguf *g);

FR_API const char *fr_gguf_path(const fr_gguf *g);
FR_API uint32_t fr_gguf_version(const fr_gguf *g);
FR_API uint64_t fr_gguf_file_size(const fr_gguf *g);
FR_API uint32_t fr_gguf_alignment(const fr_gguf *g);
FR_API uint64_t fr_gguf_data_offset(const fr_gguf *g); /* absolute file offset */

/* Metadata, by index (0 .. n_kv-1, in file order) or by key. */
FR_API int64_t fr_gguf_n_kv(const fr_gguf *g);
FR_API int64_t fr_gguf_find_key(const fr_gguf *g, const char *key); /* -1 if absent */
FR_API const char *fr_gguf_key(const fr_gguf *g, int64_t i);      /* NUL-terminated; NULL if out of range */
FR_API fr_gguf_type fr_gguf_kv_type(const fr_gguf *g, int64_t i); /* (fr_gguf_type)-1 if out of range */

/* Typed getters. FR_OK; FR_E_NOTFOUND when the key is absent (err filled,
 * so optional keys can ignore it); FR_E_FORMAT when the stored type does not
 * convert (message names the key, the wanted and the stored type).
 * Integer getters accept every integer width and signedness whose value fits
 * the target (real files store e.g. block_count as uint32 or int32 or
 * uint64); f32 accepts float32 and float64; bool accepts bool only. */
FR_API fr_status fr_gguf_get_u32(const fr_gguf *g, const char *key, uint32_t *out, fr_err *err);
FR_API fr_status fr_gguf_get_i32(const fr_gguf *g, const char *key, int32_t *out, fr_err *err);
FR_API fr_status fr_gguf_get_u64(const fr_gguf *g, const char *key, uint64_t *out, fr_err *err);
FR_API fr_status fr_gguf_get_i64(const fr_gguf *g, const char *key, int64_t *out, fr_err *err);
FR_API fr_status fr_gguf_get_f32(const fr_gguf *g, const char *key, float *out, fr_err *err);
FR_API fr_status fr_gguf_get_f64(const fr_gguf *g, const char *key, double *out, fr_err *err);
FR_API fr_status fr_gguf_get_bool(const fr_gguf *g, const char *key, bool *out, fr_err *err);
FR_API fr_status fr_gguf_get_str(const fr_gguf *g, const char *key, fr_gguf_str *out, fr_err *err);
FR_API fr_status fr_gguf_get_arr(const fr_gguf *g, const char *key, fr_gguf_arr *out, fr_err *err);

/* The same by index (for generic dumps). */
FR_API fr_status fr_gguf_kv_get_i64(const fr_gguf *g, int64_t i, int64_t *out, fr_err *err);
FR_API fr_status fr_gguf_kv_get_u64(const fr_gguf *g, int64_t i, uint64_t *out, fr_err *err);
FR_API fr_status fr_gguf_kv_get_f64(const fr_gguf *g, int64_t i, double *out, fr_err *err);
FR_API fr_status fr_gguf_kv_get_bool(const fr_gguf *g, int64_t i, bool *out, fr_err *err);
FR_API fr_status fr_gguf_kv_get_str(const fr_gguf *g, int64_t i, fr_gguf_str *out, fr_err *err);
FR_API fr_status fr_gguf_kv_get_arr(const fr_gguf *g, int64_t i, fr_gguf_arr *out, fr_err *err);

/* Array elements, O(1) each (string and nested arrays included). Index and
 * element type are checked: FR_E_RANGE / FR_E_FORMAT. Integer elements
 * convert as the scalar getters do. */
FR_API fr_status fr_gguf_arr_i64(const fr_gguf_arr *a, uint64_t i, int64_t *out);
FR_API fr_status fr_gguf_arr_u64(const fr_gguf_arr *a, uint64_t i, uint64_t *out);
FR_API fr_status fr_gguf_arr_f64(const fr_gguf_arr *a, uint64_t i, double *out);
FR_API fr_status fr_gguf_arr_f32(const fr_gguf_arr *a, uint64_t i, float *out);
FR_API fr_status fr_gguf_arr_bool(const fr_gguf_arr *a, uint64_t i, bool *out);
FR_API fr_status fr_gguf_arr_str(const fr_gguf_arr *a, uint64_t i, fr_gguf_str *out);
FR_API fr_status fr_gguf_arr_arr(const fr_gguf_arr *a, uint64_t i, fr_gguf_arr *out);
/* The packed little-endian elements of an array of a fixed-size type (for
 * bulk reads such as tokenizer scores), or NULL for STRING/ARRAY elements.
 * Borrowed; NOT aligned for the element type: copy with memcpy. */
FR_API const void *fr_gguf_arr_raw(const fr_gguf_arr *a);

/* Tensors, by index (file order) or name. */
FR_API int64_t fr_gguf_n_tensors(const fr_gguf *g);
FR_API const fr_gguf_tensor *fr_gguf_tensor_at(const fr_gguf *g, int64_t i);
FR_API const fr_gguf_tensor *fr_gguf_find_tensor(const fr_gguf *g, const char *name); /* NULL if absent */

/* ---- writer ------------------------------------------------------------- */

typedef struct fr_gguf_writer fr_gguf_writer;

/* Produces the data of tensor `index` (in add order) into dst (nbytes, a
 * buffer owned by the writer). Return FR_OK or an error (fills err). */
typedef fr_status (*fr_gguf_fill_fn)(void *user, int64_t index, void *dst, uint64_t nbytes,
                                     fr_err *err);

FR_API fr_status fr_gguf_writer_create(fr_gguf_writer **out, fr_err *err);
FR_API void fr_gguf_writer_free(fr_gguf_writer *w);

/* Setting a key that already exists replaces its value (keeping its
 * position), so "copy everything, then override" works. Keys and strings are
 * copied. */
FR_API fr_status fr_gguf_writer_set_u8(fr_gguf_writer *w, const char *key, uint8_t v);
FR_API fr_status fr_gguf_writer_set_i8(fr_gguf_writer *w, const char *key, int8_t v);
FR_API fr_status fr_gguf_writer_set_u16(fr_gguf_writer *w, const char *key, uint16_t v);
FR_API fr_status fr_gguf_writer_set_i16(fr_gguf_writer *w, const char *key, int16_t v);
FR_API fr_status fr_gguf_writer_set_u32(fr_gguf_writer *w, const char *key, uint32_t v);
FR_API fr_status fr_gguf_writer_set_i32(fr_gguf_writer *w, const char *key, int32_t v);
FR_API fr_status fr_gguf_writer_set_u64(fr_gguf_writer *w, const char *key, uint64_t v);
FR_API fr_status fr_gguf_writer_set_i64(fr_gguf_writer *w, const char *key, int64_t v);
FR_API fr_status fr_gguf_writer_set_f32(fr_gguf_writer *w, const char *key, float v);
FR_API fr_status fr_gguf_writer_set_f64(fr_gguf_writer *w, const char *key, double v);
FR_API fr_status fr_gguf_writer_set_bool(fr_gguf_writer *w, const char *key, bool v);
FR_API fr_status fr_gguf_writer_set_str(fr_gguf_writer *w, const char *key, const char *v);
FR_API fr_status fr_gguf_writer_set_strn(fr_gguf_writer *w, const char *key, const char *v,
                                         uint64_t len);
/* Array of a fixed-size element type (not STRING/ARRAY): n elements packed
 * little-endian in data (copied). */
FR_API fr_status fr_gguf_writer_set_arr(fr_gguf_writer *w, const char *key, fr_gguf_type type,
                                        const void *data, uint64_t n);
/* Array of strings (copied); lens may be NULL for NUL-terminated strings. */
FR_API fr_status fr_gguf_writer_set_arr_str(fr_gguf_writer *w, const char *key,
                                            const char *const *strs, const uint64_t *lens,
                                            uint64_t n);
/* Copies key i of src (any type, nested arrays included) under the same key. */
FR_API fr_status fr_gguf_writer_copy_kv(fr_gguf_writer *w, const fr_gguf *src, int64_t i);
FR_API fr_status fr_gguf_writer_remove(fr_gguf_writer *w, const char *key);
/* Sets general.alignment too (power of two, 1..2^20); default 32. */
FR_API fr_status fr_gguf_writer_set_alignment(fr_gguf_writer *w, uint32_t alignment);

/* Adds a tensor (name copied; ne[0] = row length). data is borrowed until
 * fr_gguf_writer_write returns; pass NULL to have the fill callback produce
 * it at write time. Validates the name, dims and block-size divisibility. */
FR_API fr_status fr_gguf_writer_add_tensor(fr_gguf_writer *w, const char *name, fr_type type,
                                           uint32_t n_dims, const int64_t *ne, const void *data,
                                           fr_err *err);

/* Writes version 3 to path atomically (temp file + fsync + rename); refuses
 * to write over any of protect[0..n_protect). fill may be NULL when every
 * tensor was given data. */
FR_API fr_status fr_gguf_writer_write(fr_gguf_writer *w, const char *path,
                                      const char *const *protect, size_t n_protect,
                                      fr_gguf_fill_fn fill, void *user, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
