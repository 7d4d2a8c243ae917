/*
 * checked.h - overflow-checked size arithmetic.
 *
 * Every `n * size` and `offset + len` that involves a number read from a file
 * or a request goes through these helpers. They return true on overflow (the
 * same convention as __builtin_*_overflow), so the idiom is:
 *
 *     size_t bytes;
 *     if (fr_mul_size(n, sizeof(float), &bytes)) return fr_err_set(...);
 */
#ifndef FR_BASE_CHECKED_H
#define FR_BASE_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool fr_mul_size(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

static inline bool fr_add_size(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

static inline bool fr_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

static inline bool fr_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

/* True when [off, off+len) lies inside [0, size). Never overflows. */
static inline bool fr_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* Round x up to a multiple of align (align > 0); true on overflow. */
static inline bool fr_align_up_u64(uint64_t x, uint64_t align, uint64_t *out)
{
    uint64_t r = x % align;
    if (r == 0) {
        *out = x;
        return false;
    }
    return __builtin_add_overflow(x, align - r, out);
}

#endif
