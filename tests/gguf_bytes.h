/*
 * gguf_bytes.h - builds GGUF bytes by hand for tests, independently of
 * src/gguf/writer.c, so that malformed files (and the expected layout of
 * valid ones) do not depend on the code under test. Little-endian, growable,
 * aborts on allocation failure (tests only).
 */
#ifndef FR_TEST_GGUF_BYTES_H
#define FR_TEST_GGUF_BYTES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gb {
    uint8_t *p;
    size_t n, cap;
} gb;

static inline void gb_raw(gb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n)
            nc *= 2;
        b->p = realloc(b->p, nc);
        if (!b->p)
            abort();
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void gb_le(gb *b, uint64_t v, unsigned n)
{
    uint8_t t[8];
    for (unsigned i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    gb_raw(b, t, n);
}
static inline void gb_u8(gb *b, uint8_t v)
{
    gb_le(b, v, 1);
}
static inline void gb_u32(gb *b, uint32_t v)
{
    gb_le(b, v, 4);
}
static inline void gb_u64(gb *b, uint64_t v)
{
    gb_le(b, v, 8);
}
static inline void gb_f32(gb *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    gb_u32(b, u);
}
static inline void gb_strn(gb *b, const char *s, size_t n)
{
    gb_u64(b, n);
    gb_raw(b, s, n);
}
static inline void gb_str(gb *b, const char *s)
{
    gb_strn(b, s, strlen(s));
}
static inline void gb_pad(gb *b, size_t align)
{
    while (b->n % align)
        gb_u8(b, 0);
}
static inline void gb_zeros(gb *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gb_u8(b, 0);
}
/* Header: magic, version, tensor count, kv count. */
static inline void gb_header(gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    gb_raw(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}
static inline void gb_kv_u32(gb *b, const char *key, uint32_t v)
{
    gb_str(b, key);
    gb_u32(b, 4);
    gb_u32(b, v);
}
static inline void gb_kv_str(gb *b, const char *key, const char *v)
{
    gb_str(b, key);
    gb_u32(b, 8);
    gb_str(b, v);
}
/* Tensor info with up to 4 dims. */
static inline void gb_tensor(gb *b, const char *name, uint32_t n_dims, const int64_t *ne,
                             uint32_t type, uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        gb_u64(b, (uint64_t)ne[i]);
    gb_u32(b, type);
    gb_u64(b, offset);
}
static inline void gb_free(gb *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

#endif
