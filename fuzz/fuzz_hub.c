/*
 * fuzz_hub.c - hostile input for what `frugal pull` parses: HTTP response
 * header lines (any server, or anything in between, can send them) and
 * model specs / URLs (command line, scripts). Each line is copied into an
 * exact-size heap buffer so that ASan catches a read one byte too far.
 */
#include "hub/http_meta.h"
#include "hub/source.h"

#include <frugal/hub.h>
#include <stdlib.h>
#include <string.h>

static void check_meta(const fr_http_meta *m)
{
    if (m->content_length < -1 || m->cr_start < -1 || m->cr_total < -1)
        abort();
    if (m->status < 0 || m->status > 999)
        abort();
    for (const char *p = m->hf_error; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            abort();
    if (m->linked_sha[0]) {
        if (strlen(m->linked_sha) != 64 || !fr_hub_sha256_valid(m->linked_sha))
            abort();
        for (const char *p = m->linked_sha; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_http_meta m;
    fr_http_meta_init(&m);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        char *line = malloc(n);
        if (!line)
            return 0;
        memcpy(line, p, n);
        fr_http_meta_line(&m, line, n);
        free(line);
        check_meta(&m);
        p += n;
    }

    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    fr_hub_source src;
    fr_err err;
    if (fr_hub_resolve(spec, NULL, &src, &err) == FR_OK) {
        /* Whatever resolves must be safe to join to the cache directory. */
        if (!fr_hub_file_name_ok(src.file) || strchr(src.file, '/'))
            abort();
        (void)fr_hub_url_allowed(src.url, false, &err);
        (void)fr_hub_token_allowed(src.url, NULL);
    }
    (void)fr_hub_resolve(spec, spec, &src, &err);
    (void)fr_hub_token_allowed(spec, spec);
    free(spec);
    return 0;
}
