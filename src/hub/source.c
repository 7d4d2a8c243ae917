/*
 * source.c - from "NAME | hf:owner/repo[@rev]/file | URL" to a URL and a file
 * name, plus the URL policy (see source.h).
 *
 * URLs are taken apart with libcurl's own parser (curl_url) so that what is
 * checked here is exactly what libcurl will connect to; a hand-written split
 * on "://" and '/' disagrees with it on userinfo, IPv6 literals and escapes.
 *
 * File names come from the last path segment and must be plain: the name is
 * joined to the cache directory, so "..", slashes and hidden names are
 * refused rather than cleaned up.
 */
#include "hub/source.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool fr_hub_sha256_valid(const char *hex)
{
    if (!hex)
        return false;
    size_t i = 0;
    for (; hex[i]; i++)
        if (i >= 64 || !isxdigit((unsigned char)hex[i]))
            return false;
    return i == 64;
}

bool fr_hub_file_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 200 || name[0] == '.')
        return false;
    if (n >= 5 && strcmp(name + n - 5, ".part") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-' || c == '+'))
            return false;
    }
    return true;
}

/* owner, repo and revision names on Hugging Face. */
static bool fr_hub_ident_ok(const char *s, size_t n)
{
    if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return !(n == 2 && s[0] == '.' && s[1] == '.');
}

fr_status fr_hub_url_parts(const char *url, char *scheme, size_t scheme_size, char *host,
                           size_t host_size, fr_err *err)
{
    CURLU *u = curl_url();
    if (!u)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    char *sch = NULL, *h = NULL;
    fr_status st = FR_OK;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        st = fr_err_set(err, FR_E_INVALID, "'%s' is not a valid URL: %s", url,
                        curl_url_strerror(rc));
        goto done;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &sch, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0]) {
        st = fr_err_set(err, FR_E_INVALID, "'%s': URL has no host", url);
        goto done;
    }
    /* IPv6 literals come back as "[::1]". */
    const char *hs = h;
    size_t hn = strlen(h);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        hs = h + 1;
        hn -= 2;
    }
    if (strlen(sch) >= scheme_size || hn >= host_size) {
        st = fr_err_set(err, FR_E_INVALID, "'%s': URL scheme or host too long", url);
        goto done;
    }
    for (size_t i = 0; sch[i]; i++)
        scheme[i] = (char)tolower((unsigned char)sch[i]);
    scheme[strlen(sch)] = '\0';
    for (size_t i = 0; i < hn; i++)
        host[i] = (char)tolower((unsigned char)hs[i]);
    host[hn] = '\0';
done:
    curl_free(sch);
    curl_free(h);
    curl_url_cleanup(u);
    return st;
}

bool fr_hub_host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
    return false;
}

fr_status fr_hub_url_allowed(const char *url, bool allow_http, fr_err *err)
{
    char scheme[16], host[256];
    fr_status st = fr_hub_url_parts(url, scheme, sizeof scheme, host, sizeof host, err);
    if (st)
        return st;
    if (strcmp(scheme, "https") == 0)
        return FR_OK;
    if (strcmp(scheme, "http") != 0)
        return fr_err_set(err, FR_E_INVALID, "%s: only https:// URLs can be pulled (got %s://)",
                          url, scheme);
    if (allow_http || fr_hub_host_is_loopback(host))
        return FR_OK;
    return fr_err_set(err, FR_E_INVALID,
                      "%s: refusing plain http to %s: a model decides what the program says, so "
                      "it is fetched over https; use the https:// URL, or pass --insecure-http "
                      "if you trust every network in between",
                      url, host);
}

static bool fr_hub_host_under(const char *host, const char *domain)
{
    size_t h = strlen(host), d = strlen(domain);
    if (h == d)
        return strcmp(host, domain) == 0;
    return h > d && host[h - d - 1] == '.' && strcmp(host + h - d, domain) == 0;
}

bool fr_hub_token_allowed(const char *url, const char *endpoint)
{
    char scheme[16], host[256], escheme[16], ehost[256];
    if (fr_hub_url_parts(url, scheme, sizeof scheme, host, sizeof host, NULL))
        return false;
    bool secure = strcmp(scheme, "https") == 0 ||
                  (strcmp(scheme, "http") == 0 && fr_hub_host_is_loopback(host));
    if (!secure)
        return false;
    if (fr_hub_host_under(host, "huggingface.co") || fr_hub_host_under(host, "hf.co"))
        return true;
    if (!endpoint || fr_hub_url_parts(endpoint, escheme, sizeof escheme, ehost, sizeof ehost, NULL))
        return false;
    return strcmp(host, ehost) == 0;
}

/* Last path segment of url, percent-decoded, into out. */
static fr_status fr_hub_url_file(const char *url, char *out, size_t out_size, fr_err *err)
{
    CURLU *u = curl_url();
    if (!u)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    char *path = NULL;
    fr_status st = FR_OK;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        st = fr_err_set(err, FR_E_INVALID, "'%s' is not a valid URL: %s", url,
                        curl_url_strerror(rc));
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
        st = fr_err_set(err, FR_E_INVALID, "'%s': cannot read the URL path", url);
        goto done;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!fr_hub_file_name_ok(base) || strlen(base) >= out_size) {
        st = fr_err_set(err, FR_E_INVALID,
                        "%s: the URL does not end in a plain file name (got '%s'); it must "
                        "name the file itself, e.g. https://host/dir/model.gguf",
                        url, base);
        goto done;
    }
    memcpy(out, base, strlen(base) + 1);
done:
    curl_free(path);
    curl_url_cleanup(u);
    return st;
}

static fr_status fr_hub_endpoint(const char *endpoint, char *out, size_t out_size, fr_err *err)
{
    const char *e = endpoint && endpoint[0] ? endpoint : FR_HUB_DEFAULT_ENDPOINT;
    size_t n = strlen(e);
    while (n > 0 && e[n - 1] == '/')
        n--;
    if (n == 0 || n >= out_size)
        return fr_err_set(err, FR_E_INVALID, "Hugging Face endpoint '%s' is not usable", e);
    memcpy(out, e, n);
    out[n] = '\0';
    char scheme[16], host[256];
    if (fr_hub_url_parts(out, scheme, sizeof scheme, host, sizeof host, err))
        return fr_err_prefix(err, "Hugging Face endpoint (HF_ENDPOINT)");
    return FR_OK;
}

static fr_status fr_hub_hf_url(const char *endpoint, const char *repo, const char *rev,
                               const char *path, fr_hub_source *out, fr_err *err)
{
    char base[FR_HUB_URL_MAX];
    fr_status st = fr_hub_endpoint(endpoint, base, sizeof base, err);
    if (st)
        return st;
    int n = snprintf(out->url, sizeof out->url, "%s/%s/resolve/%s/%s", base, repo, rev, path);
    if (n < 0 || (size_t)n >= sizeof out->url)
        return fr_err_set(err, FR_E_INVALID, "hf:%s/%s: URL too long", repo, path);
    return FR_OK;
}

/* hf:owner/repo[@rev]/path/to/file */
static fr_status fr_hub_resolve_hf(const char *spec, const char *endpoint, fr_hub_source *out,
                                   fr_err *err)
{
    const char *s = spec + 3;
    const char *usage = "expected hf:OWNER/REPO/FILE.gguf or hf:OWNER/REPO@REVISION/FILE.gguf";
    const char *slash1 = strchr(s, '/');
    if (!slash1)
        return fr_err_set(err, FR_E_INVALID, "'%s': %s", spec, usage);
    const char *slash2 = strchr(slash1 + 1, '/');
    if (!slash2 || !slash2[1])
        return fr_err_set(err, FR_E_INVALID, "'%s': %s", spec, usage);
    const char *at = memchr(slash1 + 1, '@', (size_t)(slash2 - slash1 - 1));
    const char *repo_end = at ? at : slash2;
    char repo[256], rev[128];
    size_t owner_n = (size_t)(slash1 - s), name_n = (size_t)(repo_end - slash1 - 1);
    if (!fr_hub_ident_ok(s, owner_n) || !fr_hub_ident_ok(slash1 + 1, name_n))
        return fr_err_set(err, FR_E_INVALID,
                          "'%s': owner and repository may hold only letters, digits, '.', '_' "
                          "and '-' (%s)",
                          spec, usage);
    snprintf(repo, sizeof repo, "%.*s", (int)(repo_end - s), s);
    if (at) {
        size_t rn = (size_t)(slash2 - at - 1);
        if (!fr_hub_ident_ok(at + 1, rn))
            return fr_err_set(err, FR_E_INVALID, "'%s': bad revision after '@' (%s)", spec, usage);
        snprintf(rev, sizeof rev, "%.*s", (int)rn, at + 1);
    } else {
        snprintf(rev, sizeof rev, "main");
    }
    /* Each path segment must be a plain name; the last one is the file. */
    const char *path = slash2 + 1;
    const char *seg = path;
    for (;;) {
        const char *e = strchr(seg, '/');
        size_t len = e ? (size_t)(e - seg) : strlen(seg);
        char part[FR_HUB_FILE_MAX];
        if (len == 0 || len >= sizeof part)
            return fr_err_set(err, FR_E_INVALID, "'%s': empty or overlong path segment", spec);
        memcpy(part, seg, len);
        part[len] = '\0';
        if (!fr_hub_file_name_ok(part))
            return fr_err_set(err, FR_E_INVALID, "'%s': path segment '%s' is not a plain file name",
                              spec, part);
        if (!e) {
            memcpy(out->file, part, len + 1);
            break;
        }
        seg = e + 1;
    }
    return fr_hub_hf_url(endpoint, repo, rev, path, out, err);
}

static fr_status fr_hub_unknown(const char *spec, fr_err *err)
{
    char names[512];
    size_t n, used = 0;
    const fr_hub_model *t = fr_hub_registry(&n);
    names[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof names; i++) {
        int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", t[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return fr_err_set(err, FR_E_NOTFOUND,
                      "unknown model '%s': known names are %s (frugal pull --list); or give "
                      "hf:OWNER/REPO/FILE.gguf or an https:// URL",
                      spec, names);
}

fr_status fr_hub_resolve(const char *spec, const char *endpoint, fr_hub_source *out, fr_err *err)
{
    memset(out, 0, sizeof *out);
    if (!spec || !spec[0])
        return fr_err_set(err, FR_E_INVALID, "no model name or URL given");
    if (strstr(spec, "://")) {
        if (strlen(spec) >= sizeof out->url)
            return fr_err_set(err, FR_E_INVALID, "URL longer than %d bytes", FR_HUB_URL_MAX - 1);
        char scheme[16], host[256];
        fr_status st = fr_hub_url_parts(spec, scheme, sizeof scheme, host, sizeof host, err);
        if (st)
            return st;
        if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
            return fr_err_set(err, FR_E_INVALID, "%s: only https:// URLs can be pulled", spec);
        memcpy(out->url, spec, strlen(spec) + 1);
        return fr_hub_url_file(spec, out->file, sizeof out->file, err);
    }
    if (strncasecmp(spec, "hf:", 3) == 0)
        return fr_hub_resolve_hf(spec, endpoint, out, err);
    const fr_hub_model *m = fr_hub_find(spec);
    if (!m)
        return fr_hub_unknown(spec, err);
    out->model = m;
    out->size = m->size;
    if (m->sha256)
        snprintf(out->sha256, sizeof out->sha256, "%s", m->sha256);
    snprintf(out->file, sizeof out->file, "%s", m->file);
    return fr_hub_hf_url(endpoint, m->repo, m->revision, m->file, out, err);
}

fr_status fr_hub_cache_dir(char *out, size_t out_size, fr_err *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    /* XDG says relative values are invalid and must be ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(out, out_size, "%s/frugal/models", xdg);
    else if (home && home[0])
        n = snprintf(out, out_size, "%s/.cache/frugal/models", home);
    else
        return fr_err_set(err, FR_E_INVALID,
                          "neither XDG_CACHE_HOME nor HOME is set: pass -o DIR to say where "
                          "models go");
    if (n < 0 || (size_t)n >= out_size)
        return fr_err_set(err, FR_E_INVALID, "cache directory path too long");
    return FR_OK;
}
