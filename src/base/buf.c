/*
 * buf.c - growable capped buffer (see buf.h).
 */
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FR_BUF_DEFAULT_MAX ((size_t)1 << 30)

static bool fr_buf_reserve(fr_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    size_t max = b->max ? b->max : FR_BUF_DEFAULT_MAX;
    if (extra > max || b->len > max - extra) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < need)
        nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    char *nd = realloc(b->data, nc);
    if (!nd) {
        b->failed = true;
        return false;
    }
    b->data = nd;
    b->cap = nc;
    return true;
}

bool fr_buf_append(fr_buf *b, const void *data, size_t n)
{
    if (!fr_buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool fr_buf_puts(fr_buf *b, const char *s) { return fr_buf_append(b, s, strlen(s)); }

bool fr_buf_putc(fr_buf *b, char c) { return fr_buf_append(b, &c, 1); }

bool fr_buf_vprintf(fr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !fr_buf_reserve(b, (size_t)n)) {
        b->failed = true;
        return false;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return true;
}

bool fr_buf_printf(fr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = fr_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return ok;
}

void fr_buf_reset(fr_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

char *fr_buf_take(fr_buf *b)
{
    if (b->failed) {
        fr_buf_free(b);
        return NULL;
    }
    char *d = b->data;
    if (!d)
        d = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void fr_buf_free(fr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
