/*
 * error.c - OpenAI-shaped error bodies (see error.h).
 */
#include "serve/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param,
              const char *fmt, ...)
{
    if (!e)
        return false;
    e->status = status;
    e->type = type ? type : (status >= 500 ? "server_error" : "invalid_request_error");
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    /* vsnprintf may have cut a multi-byte character; drop its start so the
     * message stays valid UTF-8 */
    size_t n = strlen(e->message), i = n;
    while (i > 0 && ((unsigned char)e->message[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)e->message[i - 1] >= 0xC0) {
        unsigned char lead = (unsigned char)e->message[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < need)
            e->message[i - 1] = '\0';
    }
    return false;
}

json_t *srv_error_json(const srv_error *e)
{
    json_t *inner = json_object();
    json_t *outer = json_object();
    if (!inner || !outer) {
        json_decref(inner);
        json_decref(outer);
        return NULL;
    }
    /* The message may quote caller input that is not valid UTF-8; jansson
     * refuses such strings, so fall back to a generic text. */
    json_t *msg = json_string(e->message);
    if (!msg)
        msg = json_string("invalid request (the error text could not be encoded)");
    json_object_set_new(inner, "message", msg);
    json_object_set_new(inner, "type", json_string(e->type ? e->type : "server_error"));
    json_object_set_new(inner, "param", e->param[0] ? json_string(e->param) : json_null());
    json_object_set_new(inner, "code", e->code ? json_string(e->code) : json_null());
    json_object_set_new(outer, "error", inner);
    return outer;
}
