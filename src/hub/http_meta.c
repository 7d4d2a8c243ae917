/*
 * http_meta.c - parsing the response headers a download needs (see
 * http_meta.h).
 *
 * Values are bounded, not trusted: numbers must be plain decimal and fit in
 * 63 bits, a Content-Range must say "bytes", and an X-Linked-Etag counts
 * only when it is exactly 64 hex digits (Hugging Face's LFS sha256; a git
 * blob id or anything else is ignored, never half-used).
 */
#include "hub/http_meta.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

void fr_http_meta_init(fr_http_meta *m)
{
    memset(m, 0, sizeof *m);
    m->content_length = -1;
    m->cr_start = -1;
    m->cr_total = -1;
}

/* Decimal from [*s, e) after blanks; advances *s. False when none or when
 * the value does not fit in int64_t. */
static bool fr_http_u63(const char **s, const char *e, int64_t *out)
{
    const char *p = *s;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= e || !isdigit((unsigned char)*p))
        return false;
    int64_t v = 0;
    while (p < e && isdigit((unsigned char)*p)) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*p - '0');
        p++;
    }
    *s = p;
    *out = v;
    return true;
}

/* "Name:" at the start of the line, case-insensitively; *value after it. */
static bool fr_http_is(const char *line, size_t n, const char *name, const char **value)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return false;
    *value = line + k + 1;
    return true;
}

static void fr_http_linked_etag(fr_http_meta *m, const char *v, const char *end)
{
    /* W/"<64 hex>" or "<64 hex>", blanks and line ending around it. */
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (end - v >= 2 && v[0] == 'W' && v[1] == '/')
        v += 2;
    if (v < end && *v == '"')
        v++;
    char hex[65];
    size_t k = 0;
    while (v < end && k < 64 && isxdigit((unsigned char)*v))
        hex[k++] = (char)tolower((unsigned char)*v++);
    if (k != 64)
        return;
    if (v < end && *v == '"')
        v++;
    while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
        v++;
    if (v != end)
        return;
    hex[64] = '\0';
    memcpy(m->linked_sha, hex, sizeof hex);
}

bool fr_http_meta_line(fr_http_meta *m, const char *line, size_t n)
{
    const char *end = line + n;
    const char *v;
    int64_t x;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', n);
        m->status = 0;
        if (sp) {
            v = sp + 1;
            if (fr_http_u63(&v, end, &x) && x <= 999)
                m->status = (long)x;
        }
        m->content_length = -1;
        m->cr_start = -1;
        m->cr_total = -1;
        m->hf_error[0] = '\0';
        return true;
    }
    if (fr_http_is(line, n, "content-length", &v)) {
        if (fr_http_u63(&v, end, &x))
            m->content_length = x;
    } else if (fr_http_is(line, n, "content-range", &v)) {
        /* "bytes START-END/TOTAL"; a 416 has a star for START-END, and TOTAL
         * may be a star when unknown. */
        while (v < end && *v == ' ')
            v++;
        if (end - v > 6 && strncasecmp(v, "bytes ", 6) == 0) {
            v += 6;
            if (fr_http_u63(&v, end, &x))
                m->cr_start = x;
            const char *slash = memchr(v, '/', (size_t)(end - v));
            if (slash) {
                v = slash + 1;
                if (fr_http_u63(&v, end, &x))
                    m->cr_total = x;
            }
        }
    } else if (fr_http_is(line, n, "x-linked-etag", &v)) {
        fr_http_linked_etag(m, v, end);
    } else if (fr_http_is(line, n, "x-error-code", &v)) {
        /* A word like "GatedRepo"; anything else is dropped. */
        while (v < end && *v == ' ')
            v++;
        size_t k = 0;
        while (v < end && k + 1 < sizeof m->hf_error &&
               (isalnum((unsigned char)*v) || *v == '_' || *v == '-'))
            m->hf_error[k++] = *v++;
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
            v++;
        m->hf_error[v == end ? k : 0] = '\0';
    } else if (fr_http_is(line, n, "x-linked-size", &v)) {
        if (fr_http_u63(&v, end, &x))
            m->linked_size = (uint64_t)x;
    }
    return false;
}
