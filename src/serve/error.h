/*
 * error.h - an HTTP error in OpenAI's shape:
 *   {"error": {"message": "...", "type": "...", "param": "..." | null, "code": "..." | null}}
 *
 * Statuses: 400 caller mistakes (malformed JSON, wrong types, out-of-range
 * values, a prompt longer than the context), 401 missing or wrong key, 404
 * unknown route or model, 405 wrong method, 413 body too large, 503 loading,
 * overloaded or shutting down. 500 only for frugal's own failures.
 */
#ifndef FR_SERVE_ERROR_H
#define FR_SERVE_ERROR_H

#include <jansson.h>
#include <stdbool.h>

typedef struct srv_error {
    int status;       /* HTTP status; 0 = no error */
    const char *type; /* "invalid_request_error", "server_error", ... (static) */
    const char *code; /* NULL or a static string ("invalid_api_key", ...) */
    char param[64];   /* "" = null */
    char message[768];
} srv_error;

/* Fills e and returns false, so parsers can `return srv_fail(...)`. param may
 * be NULL. type NULL picks "invalid_request_error" below 500, else
 * "server_error". */
bool srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* {"error": {...}} (new reference; NULL only when out of memory). */
json_t *srv_error_json(const srv_error *e);

#endif
