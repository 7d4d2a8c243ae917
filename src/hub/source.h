/*
 * source.h - URL policy shared by resolving and downloading: which URLs may
 * be fetched over plain http, and which hosts may see a Hugging Face token.
 */
#ifndef FR_HUB_SOURCE_H
#define FR_HUB_SOURCE_H

#include <frugal/hub.h>

#define FR_HUB_DEFAULT_ENDPOINT "https://huggingface.co"

/* Fills scheme ("https") and host (lowercase, no brackets) of url.
 * FR_E_INVALID when url does not parse or has no host. */
fr_status fr_hub_url_parts(const char *url, char *scheme, size_t scheme_size, char *host,
                           size_t host_size, fr_err *err);

/* True for localhost, 127.0.0.0/8 and ::1. */
bool fr_hub_host_is_loopback(const char *host);

/* Whether url may be fetched: https always; http only to a loopback host or
 * when allow_http. Fails with FR_E_INVALID and a message saying why. */
fr_status fr_hub_url_allowed(const char *url, bool allow_http, fr_err *err);

/* Whether a token may be sent to url's host: the endpoint's host (NULL:
 * huggingface.co), huggingface.co, hf.co and their subdomains, over https
 * only (or http to loopback, for a local mirror). */
bool fr_hub_token_allowed(const char *url, const char *endpoint);

/* A file name safe to create in the cache: 1..200 of [A-Za-z0-9._+-], not
 * starting with '.', not ending in ".part". */
bool fr_hub_file_name_ok(const char *name);

#endif
