/*
 * err.c - the fr_err message buffer.
 *
 * Messages are truncated, never overflowed: the buffer is fixed-size so that
 * error paths (often out-of-memory paths) never allocate.
 */
#include <frugal/base.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

fr_status fr_err_set(fr_err *err, fr_status code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

fr_status fr_err_prefix(fr_err *err, const char *fmt, ...)
{
    if (!err)
        return FR_E_INTERNAL;
    if (err->code == FR_OK)
        err->code = FR_E_INTERNAL;
    char head[FR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->code;
    /* Assemble head ": " old in a buffer big enough for all three, then
     * truncate into place. */
    char joined[2 * FR_ERR_MSG_MAX + 2];
    size_t hl = strnlen(head, FR_ERR_MSG_MAX - 1);
    size_t ol = strnlen(err->msg, FR_ERR_MSG_MAX - 1);
    memcpy(joined, head, hl);
    memcpy(joined + hl, ": ", 2);
    memcpy(joined + hl + 2, err->msg, ol);
    size_t total = hl + 2 + ol;
    if (total > FR_ERR_MSG_MAX - 1)
        total = FR_ERR_MSG_MAX - 1;
    memcpy(err->msg, joined, total);
    err->msg[total] = '\0';
    return err->code;
}

void fr_err_clear(fr_err *err)
{
    if (!err)
        return;
    err->code = FR_OK;
    err->msg[0] = '\0';
}

const char *fr_status_str(fr_status s)
{
    switch (s) {
    case FR_OK: return "ok";
    case FR_E_IO: return "I/O error";
    case FR_E_FORMAT: return "format error";
    case FR_E_NOMEM: return "out of memory";
    case FR_E_INVALID: return "invalid argument";
    case FR_E_UNSUPPORTED: return "unsupported";
    case FR_E_RANGE: return "out of range";
    case FR_E_NOTFOUND: return "not found";
    case FR_E_CANCELLED: return "cancelled";
    case FR_E_INTERNAL: return "internal error";
    }
    return "unknown status";
}
