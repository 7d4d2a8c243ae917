/*
 * http_meta.h - the few HTTP response headers a download acts on, parsed
 * from the lines libcurl hands over (server-controlled, hence hostile).
 */
#ifndef FR_HUB_HTTP_META_H
#define FR_HUB_HTTP_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fr_http_meta {
    long status;            /* latest status line; 0 when unparsable */
    int64_t content_length; /* -1: absent */
    int64_t cr_start;       /* Content-Range first byte; -1: absent or "*" */
    int64_t cr_total;       /* Content-Range total; -1: absent or "*" */
    char linked_sha[65];    /* X-Linked-Etag when it is a sha256 (lowercase); "" */
    uint64_t linked_size;   /* X-Linked-Size; 0: absent */
    char hf_error[32];      /* Hugging Face X-Error-Code ("GatedRepo", ...); "" */
} fr_http_meta;

/* Starts a transfer: everything unknown. */
void fr_http_meta_init(fr_http_meta *m);

/* Feeds one header line as libcurl delivers it (line ending included, not
 * NUL-terminated, any bytes). A status line ("HTTP/...") starts a new
 * response and clears the per-response fields (length, range, error); the
 * X-Linked-* values are kept, since Hugging Face sends them on the redirect
 * before the response that carries the body. Returns true for a status line.
 * Never reads outside [line, line + n). */
bool fr_http_meta_line(fr_http_meta *m, const char *line, size_t n);

#endif
