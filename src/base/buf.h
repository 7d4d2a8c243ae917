/*
 * buf.h - a growable byte/string buffer with a hard size cap.
 *
 * Used for building prompts, JSON fragments and file contents. The data is
 * always NUL-terminated (one byte past len) so it can be used as a C string
 * when it holds text. A buffer that hits its cap or fails to grow becomes
 * "failed": further appends are ignored and fr_buf_ok() returns false, so a
 * long chain of appends needs one check at the end.
 */
#ifndef FR_BASE_BUF_H
#define FR_BASE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fr_buf {
    char *data;  /* NULL until the first append; owned */
    size_t len;  /* bytes used, excluding the terminating NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard cap on len (0 = 1 GiB) */
    bool failed; /* an append was dropped */
} fr_buf;

#define FR_BUF_INIT {NULL, 0, 0, 0, false}

bool fr_buf_append(fr_buf *b, const void *data, size_t n);
bool fr_buf_puts(fr_buf *b, const char *s);
bool fr_buf_putc(fr_buf *b, char c);
bool fr_buf_printf(fr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool fr_buf_vprintf(fr_buf *b, const char *fmt, va_list ap);
static inline bool fr_buf_ok(const fr_buf *b) { return !b->failed; }
/* Empties the buffer, keeping its memory and its failed flag cleared. */
void fr_buf_reset(fr_buf *b);
/* Returns the data (caller owns it, free()) and resets b to empty. Returns an
 * empty malloc'd string when nothing was appended; NULL when allocation fails
 * or the buffer failed. */
char *fr_buf_take(fr_buf *b);
void fr_buf_free(fr_buf *b);

#endif
