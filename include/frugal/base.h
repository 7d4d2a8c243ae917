/*
 * frugal/base.h - status codes, error messages and version.
 *
 * Every fallible call in frugal returns an fr_status (FR_OK == 0) and, when
 * it fails, fills the caller's fr_err with a message that says what failed,
 * where (file, byte offset, tensor, key) and what to do about it. The library
 * never prints and never exits; only the command-line tool does.
 *
 * fr_err is a plain value the caller owns (usually on the stack). Passing
 * NULL for it is allowed: the status is still returned, the text is lost.
 */
#ifndef FRUGAL_BASE_H
#define FRUGAL_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_API __attribute__((visibility("default")))

typedef enum fr_status {
    FR_OK = 0,
    FR_E_IO,          /* open/read/write/mmap failed (errno text in message) */
    FR_E_FORMAT,      /* input file or text is malformed */
    FR_E_NOMEM,       /* allocation failed or a size cap was hit */
    FR_E_INVALID,     /* caller passed an invalid argument */
    FR_E_UNSUPPORTED, /* valid input we do not handle (yet) */
    FR_E_RANGE,       /* value out of range (context full, index too large) */
    FR_E_NOTFOUND,    /* key, tensor or file does not exist */
    FR_E_CANCELLED,   /* stopped on request (Ctrl-C, client gone) */
    FR_E_INTERNAL     /* a bug in frugal: please report it */
} fr_status;

#define FR_ERR_MSG_MAX 1024

typedef struct fr_err {
    fr_status code;
    char msg[FR_ERR_MSG_MAX];
} fr_err;

/* Sets err (if not NULL) to code and the formatted message; returns code so
 * that callers can write `return fr_err_set(err, FR_E_FORMAT, "...")`. */
FR_API fr_status fr_err_set(fr_err *err, fr_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "<formatted>: " to the message already in err, keeping its code,
 * so outer layers add context ("loading model.gguf: ...") without losing the
 * inner reason. Returns err->code (FR_E_INTERNAL if err holds no error). */
FR_API fr_status fr_err_prefix(fr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

FR_API void fr_err_clear(fr_err *err);

/* Short stable name of a status, e.g. "format error". Never NULL. */
FR_API const char *fr_status_str(fr_status s);

/* "0.1.0" and the git commit the library was built from ("unknown" outside a
 * git checkout; "-dirty" appended when tracked files had local changes). */
FR_API const char *fr_version(void);
FR_API const char *fr_commit(void);

#ifdef __cplusplus
}
#endif
#endif
