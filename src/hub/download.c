/*
 * download.c - resumable, verified HTTPS download of one file (see hub.h).
 *
 * State machine, one libcurl transfer per attempt:
 *
 *   .part has p bytes -> GET with "Range: bytes=p-" (no Range when p == 0)
 *      206, Content-Range starts at p   append, resumed
 *      206 starting elsewhere           drop the .part, ask again without Range
 *      200 although Range was sent      the server ignores Range: truncate the
 *                                       .part in place and take the whole body
 *      416 and the total equals p       the .part is already complete
 *      416 otherwise / p > known size   drop the .part, start again
 *      broken or stalled transfer       keep the .part, resume (retries, with
 *                                       back-off), then give up and say so
 *   complete -> size check -> sha256 check -> GGUF magic -> fsync, rename
 *
 * The expected size and sha256 come from the source (registry entry or the
 * caller), else from Hugging Face's X-Linked-Size / X-Linked-Etag headers on
 * the /resolve/ redirect (the Git LFS size and sha256), else only the
 * server's Content-Length is checked. A hash mismatch after a resume gets one
 * clean restart (the earlier bytes may have come from an older upload);
 * otherwise the .part is removed, since resuming garbage cannot fix it.
 *
 * Rejected: resuming through CURLOPT_RESUME_FROM (libcurl then fails on a
 * 200 reply instead of letting us restart in place); mmap for hashing (a
 * truncated file would SIGBUS); writing to the final name directly (a crash
 * would leave a plausible but corrupt model behind).
 */
#include "base/file.h"
#include "hub/http_meta.h"
#include "hub/sha256.h"
#include "hub/source.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

enum fr_dl_abort {
    FR_DL_OK = 0,
    FR_DL_RESTART, /* 206 at the wrong offset: retry without Range */
    FR_DL_WRITE,   /* writing the .part failed (errno in write_errno) */
    FR_DL_SIZE,    /* server size disagrees with the expected size */
    FR_DL_SHA,     /* server sha256 disagrees with the expected one */
    FR_DL_CANCEL   /* the progress callback asked to stop */
};

typedef struct fr_dl {
    const fr_hub_source *src;
    const fr_hub_opts *o;
    char part[FR_HUB_PATH_MAX];
    char final[FR_HUB_PATH_MAX];
    int fd;
    bool locked; /* we hold the flock on the .part */

    uint64_t expected_size; /* 0 = unknown */
    char expected_sha[65];  /* "" = unknown */
    fr_hub_sha_source sha_source;

    /* per attempt */
    uint64_t start;    /* Range start asked for (0: no Range) */
    uint64_t off;      /* bytes in the .part, i.e. next write offset */
    uint64_t total;    /* whole-file size as far as known, for progress */
    fr_http_meta meta; /* headers of the response being received */
    bool body_started; /* first body byte of this response handled */
    enum fr_dl_abort abort;
    int write_errno;
    uint64_t server_size; /* size the server reported, for messages */
    char errbody[256];    /* start of an error response body, for messages */
    size_t errbody_n;

    /* whole call */
    uint64_t received;
    bool resumed;
    int restarts;
} fr_dl;

/* ---- small helpers ------------------------------------------------------- */

static void fr_dl_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void fr_dl_human(uint64_t n, char *out, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%llu bytes", (unsigned long long)n);
    else
        snprintf(out, size, "%.1f %s", v, units[u]);
}

static int fr_dl_progress(fr_dl *d, fr_hub_phase phase, uint64_t done, uint64_t total)
{
    if (!d->o->progress)
        return 0;
    return d->o->progress(d->o->user, phase, done, total);
}

static int fr_dl_hash_progress(void *user, uint64_t done, uint64_t total)
{
    return fr_dl_progress(user, FR_HUB_HASHING, done, total);
}

/* ---- libcurl callbacks --------------------------------------------------- */

static size_t fr_dl_on_header(char *line, size_t size, size_t nitems, void *user)
{
    fr_dl *d = user;
    size_t n = size * nitems;
    if (fr_http_meta_line(&d->meta, line, n)) {
        /* A new response (redirect hop, 100 Continue or the final one). */
        d->body_started = false;
        d->errbody_n = 0;
    }
    return n;
}

/* First body byte of the final response: decide what the body is. Returns
 * false to abort the transfer (d->abort says why). */
static bool fr_dl_begin_body(fr_dl *d)
{
    /* Hugging Face metadata from the redirect hops. */
    if (d->meta.linked_size) {
        if (d->expected_size && d->meta.linked_size != d->expected_size) {
            d->server_size = d->meta.linked_size;
            d->abort = FR_DL_SIZE;
            return false;
        }
        d->expected_size = d->meta.linked_size;
    }
    if (d->meta.linked_sha[0]) {
        if (d->expected_sha[0] && strcmp(d->meta.linked_sha, d->expected_sha) != 0) {
            d->abort = FR_DL_SHA;
            return false;
        }
        if (!d->expected_sha[0]) {
            memcpy(d->expected_sha, d->meta.linked_sha, 65);
            d->sha_source = FR_HUB_SHA_SERVER;
        }
    }
    uint64_t server_total = 0;
    if (d->meta.status == 206) {
        if (d->meta.cr_start < 0 || (uint64_t)d->meta.cr_start != d->start) {
            d->abort = FR_DL_RESTART;
            return false;
        }
        if (d->meta.cr_total >= 0)
            server_total = (uint64_t)d->meta.cr_total;
        d->off = d->start;
        if (d->start > 0)
            d->resumed = true;
    } else {
        /* 200: the whole file from byte 0, whatever we asked for. */
        if (d->start > 0) {
            if (ftruncate(d->fd, 0) != 0) {
                d->write_errno = errno;
                d->abort = FR_DL_WRITE;
                return false;
            }
            d->restarts++;
            d->resumed = false;
        }
        d->off = 0;
        if (d->meta.content_length >= 0)
            server_total = (uint64_t)d->meta.content_length;
    }
    if (server_total) {
        d->server_size = server_total;
        if (d->expected_size && server_total != d->expected_size) {
            d->abort = FR_DL_SIZE;
            return false;
        }
        d->total = server_total;
    }
    if (d->expected_size)
        d->total = d->expected_size;
    if (fr_dl_progress(d, FR_HUB_DOWNLOADING, d->off, d->total)) {
        d->abort = FR_DL_CANCEL;
        return false;
    }
    return true;
}

static size_t fr_dl_on_body(char *data, size_t size, size_t nmemb, void *user)
{
    fr_dl *d = user;
    size_t n = size * nmemb;
    if (d->meta.status < 200 || d->meta.status >= 300) {
        /* Redirect or error page: keep the start of an error body for the
         * message, write nothing. */
        if (d->meta.status >= 400 && d->errbody_n + 1 < sizeof d->errbody) {
            size_t k = sizeof d->errbody - 1 - d->errbody_n;
            if (k > n)
                k = n;
            /* Printable ASCII only: the text ends up on a terminal. */
            for (size_t i = 0; i < k; i++) {
                unsigned char c = (unsigned char)data[i];
                d->errbody[d->errbody_n + i] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
            }
            d->errbody_n += k;
            d->errbody[d->errbody_n] = '\0';
        }
        return n;
    }
    if (!d->body_started) {
        d->body_started = true;
        if (!fr_dl_begin_body(d))
            return 0;
    }
    if (d->total && (d->off > d->total || n > d->total - d->off)) {
        d->server_size = d->off + n;
        d->abort = FR_DL_SIZE;
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(d->fd, data + done, n - done, (off_t)(d->off + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            d->write_errno = errno;
            d->abort = FR_DL_WRITE;
            d->off += done;
            d->received += done;
            return 0;
        }
        done += (size_t)w;
    }
    d->off += n;
    d->received += n;
    return n;
}

static int fr_dl_on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                             curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    fr_dl *d = user;
    bool body = d->body_started && d->meta.status >= 200 && d->meta.status < 300;
    if (fr_dl_progress(d, body ? FR_HUB_DOWNLOADING : FR_HUB_CONNECTING, d->off, d->total)) {
        d->abort = FR_DL_CANCEL;
        return 1;
    }
    return 0;
}

/* ---- one transfer -------------------------------------------------------- */

typedef enum fr_dl_next {
    FR_DL_NEXT_VERIFY,  /* the .part holds the whole file */
    FR_DL_NEXT_RESTART, /* drop the .part and ask again without Range */
    FR_DL_NEXT_RETRY,   /* transient failure: resume after a pause */
    FR_DL_NEXT_FAIL     /* err is set */
} fr_dl_next;

static const char *fr_dl_disk_hint(int e)
{
    if (e == ENOSPC || e == EDQUOT)
        return "the disk is full: free some space";
    if (e == EFBIG)
        return "the file is larger than this filesystem or the file-size limit (ulimit -f) "
               "allows";
    return "check the disk";
}

static fr_dl_next fr_dl_http_error(fr_dl *d, bool token_sent, fr_err *err)
{
    const char *url = d->src->url;
    long s = d->meta.status;
    const char *hf = d->meta.hf_error; /* Hugging Face says which case it is */
    if (strcmp(hf, "RepoNotFound") == 0) {
        fr_err_set(err, FR_E_NOTFOUND,
                   "%s: HTTP %ld: no such repository on Hugging Face. Check OWNER/REPO "
                   "(case-sensitive); a private repository needs HF_TOKEN%s",
                   url, s, token_sent ? " (HF_TOKEN was sent)" : "");
        return FR_DL_NEXT_FAIL;
    }
    if (strcmp(hf, "EntryNotFound") == 0 || strcmp(hf, "RevisionNotFound") == 0) {
        fr_err_set(err, FR_E_NOTFOUND,
                   "%s: HTTP %ld: the repository has no such %s. Check the spelling "
                   "(case-sensitive) on the repository's Files page",
                   url, s, hf[0] == 'E' ? "file" : "revision (branch, tag or commit)");
        return FR_DL_NEXT_FAIL;
    }
    if (s == 401 || s == 403 || strcmp(hf, "GatedRepo") == 0) {
        /* The repository page is the /resolve/ URL up to "/resolve/". */
        char page[FR_HUB_URL_MAX];
        const char *r = strstr(url, "/resolve/");
        if (r)
            snprintf(page, sizeof page, "%.*s", (int)(r - url), url);
        else
            snprintf(page, sizeof page, "the model's page");
        fr_err_set(err, FR_E_IO,
                   "%s: HTTP %ld %s: access denied. If this is a gated model, open %s while "
                   "logged in, accept its licence, create a read token at "
                   "https://huggingface.co/settings/tokens and set HF_TOKEN=<token>%s",
                   url, s,
                   s == 401   ? "Unauthorized"
                   : s == 403 ? "Forbidden"
                              : "",
                   page,
                   token_sent ? " (HF_TOKEN was sent and refused: check that it is valid and "
                                "that the licence was accepted for this account)"
                              : "");
        return FR_DL_NEXT_FAIL;
    }
    if (s == 404 || s == 410) {
        fr_err_set(err, FR_E_NOTFOUND,
                   "%s: HTTP %ld Not Found: no such file on the server. Check the spelling "
                   "(names are case-sensitive); `frugal pull --list` shows the known models",
                   url, s);
        return FR_DL_NEXT_FAIL;
    }
    if (s == 429 || s >= 500) {
        fr_err_set(err, FR_E_IO, "%s: HTTP %ld from the server%s; try again later", url, s,
                   s == 429 ? " (too many requests)" : " (server error)");
        return FR_DL_NEXT_RETRY;
    }
    fr_err_set(err, FR_E_IO, "%s: unexpected HTTP %ld%s%.120s", url, s, d->errbody_n ? ": " : "",
               d->errbody);
    return FR_DL_NEXT_FAIL;
}

static fr_dl_next fr_dl_transfer(fr_dl *d, bool no_range, fr_err *err)
{
    const fr_hub_opts *o = d->o;
    const char *url = d->src->url;
    struct stat st;
    if (fstat(d->fd, &st) != 0) {
        fr_err_set(err, FR_E_IO, "%s: cannot stat: %s", d->part, strerror(errno));
        return FR_DL_NEXT_FAIL;
    }
    d->off = (uint64_t)st.st_size;
    if (no_range && d->off > 0) {
        if (ftruncate(d->fd, 0) != 0) {
            fr_err_set(err, FR_E_IO, "%s: cannot truncate: %s", d->part, strerror(errno));
            return FR_DL_NEXT_FAIL;
        }
        d->off = 0;
    }
    d->start = d->off;
    fr_http_meta_init(&d->meta);
    d->body_started = false;
    d->abort = FR_DL_OK;
    d->errbody_n = 0;
    d->errbody[0] = '\0';
    d->total = d->expected_size;

    CURL *c = curl_easy_init();
    if (!c) {
        fr_err_set(err, FR_E_NOMEM, "cannot start libcurl");
        return FR_DL_NEXT_FAIL;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    char range[48];
    char scheme[16], host[256];
    bool plain = fr_hub_url_parts(url, scheme, sizeof scheme, host, sizeof host, NULL) == FR_OK &&
                 strcmp(scheme, "http") == 0;
    /* Redirects may not downgrade to http unless http was allowed for the
     * start URL (loopback test servers, --insecure-http). */
    const char *protocols = (plain || o->allow_http) ? "http,https" : "https";
    bool token_sent = o->token && o->token[0] && fr_hub_token_allowed(url, o->endpoint);

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
                     o->connect_timeout_s > 0 ? o->connect_timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s > 0 ? o->stall_timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
    char agent[64];
    snprintf(agent, sizeof agent, "frugal/%s", fr_version());
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, fr_dl_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fr_dl_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fr_dl_on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (token_sent) {
        /* libcurl sends credentials only to the host they were set for, so
         * the token does not follow the redirect to the CDN. */
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, o->token);
    }
    if (d->start > 0) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)d->start);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }

    CURLcode rc = curl_easy_perform(c);
    long os_errno = 0;
    if (rc == CURLE_COULDNT_CONNECT && curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
        os_errno = 0;
    curl_easy_cleanup(c);
    if (rc == CURLE_OK && d->abort == FR_DL_OK && d->meta.status >= 200 && d->meta.status < 300 &&
        !d->body_started) {
        /* An empty body still has to pass the size checks. */
        d->body_started = true;
        (void)fr_dl_begin_body(d);
    }

    char done_h[32], total_h[32];
    fr_dl_human(d->off, done_h, sizeof done_h);
    fr_dl_human(d->total ? d->total : d->server_size, total_h, sizeof total_h);

    switch (d->abort) {
    case FR_DL_CANCEL:
        fr_err_set(err, FR_E_CANCELLED,
                   "download stopped at %s of %s; %s is kept: run the same command again to "
                   "resume",
                   done_h, d->total ? total_h : "?", d->part);
        return FR_DL_NEXT_FAIL;
    case FR_DL_WRITE:
        fr_err_set(err, FR_E_IO,
                   "%s: cannot write after %s: %s; %s, then run the same command again to "
                   "resume",
                   d->part, done_h, strerror(d->write_errno), fr_dl_disk_hint(d->write_errno));
        return FR_DL_NEXT_FAIL;
    case FR_DL_SIZE: {
        char want[32], got[32];
        fr_dl_human(d->expected_size, want, sizeof want);
        fr_dl_human(d->server_size, got, sizeof got);
        if (d->expected_size)
            fr_err_set(err, FR_E_FORMAT,
                       "%s: the server's file is %llu bytes (%s) but %llu bytes (%s) were "
                       "expected: the file on the server is not the one expected (changed "
                       "upstream?); nothing was kept",
                       url, (unsigned long long)d->server_size, got,
                       (unsigned long long)d->expected_size, want);
        else
            fr_err_set(err, FR_E_FORMAT,
                       "%s: the server sent more bytes than the %llu it announced; nothing "
                       "was kept",
                       url, (unsigned long long)d->total);
        unlink(d->part);
        return FR_DL_NEXT_FAIL;
    }
    case FR_DL_SHA:
        fr_err_set(err, FR_E_FORMAT,
                   "%s: Hugging Face reports sha256 %s for this file but %s was expected: the "
                   "file was replaced upstream; pin a revision (hf:OWNER/REPO@COMMIT/FILE) or "
                   "pass the new --sha256 if you trust it",
                   url, d->meta.linked_sha, d->expected_sha);
        return FR_DL_NEXT_FAIL;
    case FR_DL_RESTART: return FR_DL_NEXT_RESTART;
    case FR_DL_OK: break;
    }

    if (rc == CURLE_OK && d->meta.status >= 400) {
        if (d->meta.status == 416) {
            /* Range past the end: the .part may already be whole. */
            if (d->meta.cr_total >= 0 && (uint64_t)d->meta.cr_total == d->start && d->start > 0) {
                d->resumed = true;
                d->server_size = (uint64_t)d->meta.cr_total;
                return FR_DL_NEXT_VERIFY;
            }
            return FR_DL_NEXT_RESTART;
        }
        return fr_dl_http_error(d, token_sent, err);
    }
    if (rc == CURLE_OK) {
        if (d->meta.status < 200 || d->meta.status >= 300) {
            fr_err_set(err, FR_E_IO, "%s: unexpected HTTP %ld", url, d->meta.status);
            return FR_DL_NEXT_FAIL;
        }
        if (d->total && d->off < d->total) {
            fr_err_set(err, FR_E_IO, "%s: the server ended the transfer after %s of %s", url,
                       done_h, total_h);
            return FR_DL_NEXT_RETRY;
        }
        return FR_DL_NEXT_VERIFY;
    }
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED) {
            /* the host answered: the network is fine, nothing listens there */
            fr_err_set(err, FR_E_IO,
                       "%s refused the connection (%s): nothing is listening at that address "
                       "and port. Is the server running, and is the URL right?",
                       host, detail);
            return FR_DL_NEXT_FAIL;
        }
        /* fall through */
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        fr_err_set(err, FR_E_IO,
                   "no network: cannot reach %s (%s). Download the file yourself from %s and "
                   "pass its path, or set FRUGAL_MODEL=/path/to/%s",
                   host, detail, url, d->src->file);
        return FR_DL_NEXT_FAIL;
    case CURLE_OPERATION_TIMEDOUT:
        if (d->received == 0 && d->meta.status == 0) {
            fr_err_set(err, FR_E_IO,
                       "no network: %s did not answer (%s). Download the file yourself from "
                       "%s and pass its path, or set FRUGAL_MODEL=/path/to/%s",
                       host, detail, url, d->src->file);
            return FR_DL_NEXT_FAIL;
        }
        fr_err_set(err, FR_E_IO,
                   "%s: the transfer stalled at %s of %s (under 1 KiB/s for %ld s); %s is "
                   "kept: run the same command again to resume",
                   url, done_h, total_h, o->stall_timeout_s > 0 ? o->stall_timeout_s : 60L,
                   d->part);
        return FR_DL_NEXT_RETRY;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
        fr_err_set(err, FR_E_IO,
                   "%s: TLS failed (%s): check the system clock and CA certificates "
                   "(ca-certificates), or whether a proxy intercepts HTTPS",
                   url, detail);
        return FR_DL_NEXT_FAIL;
    case CURLE_UNSUPPORTED_PROTOCOL:
        fr_err_set(err, FR_E_IO,
                   "%s: the server redirected to a URL that is not allowed (%s); plain http "
                   "needs --insecure-http",
                   url, detail);
        return FR_DL_NEXT_FAIL;
    case CURLE_TOO_MANY_REDIRECTS:
        fr_err_set(err, FR_E_IO, "%s: too many redirects (%s)", url, detail);
        return FR_DL_NEXT_FAIL;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        fr_err_set(err, FR_E_IO,
                   "%s: the connection broke after %s of %s (%s); %s is kept: run the same "
                   "command again to resume",
                   url, done_h, total_h, detail, d->part);
        return FR_DL_NEXT_RETRY;
    default:
        fr_err_set(err, FR_E_IO, "%s: download failed after %s: %s", url, done_h, detail);
        return FR_DL_NEXT_FAIL;
    }
}

/* ---- verification and commit --------------------------------------------- */

static bool fr_dl_is_gguf_name(const char *file)
{
    size_t n = strlen(file);
    return n >= 5 && strcasecmp(file + n - 5, ".gguf") == 0;
}

/* Checks the .part; on success renames it into place. *again is set when
 * a clean restart may fix a mismatch (the .part then has been truncated). */
static fr_status fr_dl_finish(fr_dl *d, bool *again, fr_hub_result *res, fr_err *err)
{
    *again = false;
    struct stat st;
    if (fstat(d->fd, &st) != 0)
        return fr_err_set(err, FR_E_IO, "%s: cannot stat: %s", d->part, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    uint64_t want = d->expected_size ? d->expected_size : d->server_size;
    if (want && size != want) {
        unlink(d->part);
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: downloaded %llu bytes but the file has %llu; the partial file "
                          "was removed: run the command again",
                          d->src->url, (unsigned long long)size, (unsigned long long)want);
    }
    if (size == 0) {
        unlink(d->part);
        return fr_err_set(err, FR_E_FORMAT, "%s: the server sent an empty file", d->src->url);
    }
    char hex[65];
    fr_status s = fr_sha256_fd(d->fd, size, d->part, fr_dl_hash_progress, d, hex, err);
    if (s)
        return s;
    if (d->expected_sha[0] && strcmp(hex, d->expected_sha) != 0) {
        if (d->resumed && d->restarts == 0) {
            /* The earlier bytes may come from an older upload: try once
             * from scratch before calling the file corrupt. */
            if (ftruncate(d->fd, 0) == 0) {
                d->restarts++;
                d->resumed = false;
                *again = true;
                return FR_OK;
            }
        }
        unlink(d->part);
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: sha256 mismatch: expected %s (%s), got %s. The download is "
                          "corrupt or not the expected file; it was removed and nothing was "
                          "saved under %s",
                          d->src->url, d->expected_sha,
                          d->sha_source == FR_HUB_SHA_SERVER ? "from the server" : "given", hex,
                          d->final);
    }
    if (fr_dl_is_gguf_name(d->src->file)) {
        char magic[8] = {0};
        ssize_t got = pread(d->fd, magic, 4, 0);
        if (got != 4 || memcmp(magic, "GGUF", 4) != 0) {
            for (int i = 0; i < 4; i++)
                if (!isprint((unsigned char)magic[i]))
                    magic[i] = '.';
            unlink(d->part);
            return fr_err_set(err, FR_E_FORMAT,
                              "%s: the server sent something that is not a GGUF file (it "
                              "starts with \"%.4s\"; an HTML login or proxy page?); it was "
                              "removed",
                              d->src->url, magic);
        }
    }
    if (fsync(d->fd) != 0)
        return fr_err_set(err, FR_E_IO, "%s: cannot flush to disk: %s (%s)", d->part,
                          strerror(errno), fr_dl_disk_hint(errno));
    if (rename(d->part, d->final) != 0)
        return fr_err_set(err, FR_E_IO, "%s: cannot rename into place: %s", d->final,
                          strerror(errno));
    char dir[FR_HUB_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", d->final);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    res->bytes = size;
    memcpy(res->sha256, hex, 65);
    res->sha_source = d->expected_sha[0] ? d->sha_source : FR_HUB_SHA_NONE;
    return FR_OK;
}

/* The final file exists: is it the one we want? */
static fr_status fr_dl_check_existing(fr_dl *d, const struct stat *st, bool *ok, fr_hub_result *res,
                                      fr_err *err)
{
    *ok = false;
    if (!S_ISREG(st->st_mode))
        return fr_err_set(err, FR_E_INVALID, "%s exists and is not a regular file", d->final);
    uint64_t size = (uint64_t)st->st_size;
    if (d->expected_size && size != d->expected_size)
        return FR_OK;
    int fd = open(d->final, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fr_err_set(err, FR_E_IO, "%s: cannot open: %s", d->final, strerror(errno));
    char hex[65];
    fr_status s = fr_sha256_fd(fd, size, d->final, fr_dl_hash_progress, d, hex, err);
    close(fd);
    if (s)
        return s;
    if (d->expected_sha[0] && strcmp(hex, d->expected_sha) != 0)
        return FR_OK;
    *ok = true;
    res->already = true;
    res->bytes = size;
    memcpy(res->sha256, hex, 65);
    res->sha_source = d->expected_sha[0] ? d->sha_source : FR_HUB_SHA_NONE;
    return FR_OK;
}

static void fr_dl_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

fr_status fr_hub_download(const fr_hub_source *src, const fr_hub_opts *opts, fr_hub_result *res,
                          fr_err *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fr_err local;
    if (!err)
        err = &local; /* the retry loop reads the status back from err */
    memset(res, 0, sizeof *res);
    if (!src || !opts || !opts->dir || !opts->dir[0])
        return fr_err_set(err, FR_E_INVALID, "fr_hub_download: source and directory required");
    if (!fr_hub_file_name_ok(src->file))
        return fr_err_set(err, FR_E_INVALID, "'%s' is not a plain file name", src->file);
    if (src->sha256[0] && !fr_hub_sha256_valid(src->sha256))
        return fr_err_set(err, FR_E_INVALID, "expected sha256 '%s' is not 64 hex digits",
                          src->sha256);
    fr_status s = fr_hub_url_allowed(src->url, opts->allow_http, err);
    if (s)
        return s;

    fr_dl *d = calloc(1, sizeof *d);
    if (!d)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    d->src = src;
    d->o = opts;
    d->fd = -1;
    d->expected_size = src->size;
    if (src->sha256[0]) {
        memcpy(d->expected_sha, src->sha256, 65);
        fr_dl_lower(d->expected_sha);
        d->sha_source = FR_HUB_SHA_GIVEN;
    }
    int n1 = snprintf(d->final, sizeof d->final, "%s/%s", opts->dir, src->file);
    int n2 = snprintf(d->part, sizeof d->part, "%s/%s.part", opts->dir, src->file);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof d->part) {
        s = fr_err_set(err, FR_E_INVALID, "%s: path too long", opts->dir);
        goto done;
    }
    snprintf(res->path, sizeof res->path, "%s", d->final);
    s = fr_mkdir_p(opts->dir, err);
    if (s)
        goto done;

    struct stat st;
    if (!opts->force && stat(d->final, &st) == 0) {
        bool ok;
        s = fr_dl_check_existing(d, &st, &ok, res, err);
        if (s || ok)
            goto done;
    }

    d->fd = open(d->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->fd < 0) {
        s = fr_err_set(err, FR_E_IO, "%s: cannot create: %s (use -o DIR for another directory)",
                       d->part, strerror(errno));
        goto done;
    }
    if (flock(d->fd, LOCK_EX | LOCK_NB) != 0) {
        s = fr_err_set(err, FR_E_IO,
                       "%s is being written by another frugal pull; wait for it to finish",
                       d->part);
        goto done;
    }
    d->locked = true;
    if (d->expected_size && fstat(d->fd, &st) == 0) {
        struct statvfs vfs;
        uint64_t have = (uint64_t)st.st_size;
        uint64_t need = d->expected_size > have ? d->expected_size - have : 0;
        if (fstatvfs(d->fd, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < need) {
            char need_h[32], free_h[32];
            fr_dl_human(need, need_h, sizeof need_h);
            fr_dl_human((uint64_t)vfs.f_bavail * vfs.f_frsize, free_h, sizeof free_h);
            s = fr_err_set(err, FR_E_IO,
                           "not enough disk space in %s: %s more needed, %s free; free some "
                           "space or use -o DIR",
                           opts->dir, need_h, free_h);
            goto done;
        }
    }

    int retries = opts->retries < 0 ? 3 : opts->retries;
    long delay = opts->retry_delay_ms > 0 ? opts->retry_delay_ms : 1000;
    bool no_range = false;
    int attempts = 0;
    for (;;) {
        if (fstat(d->fd, &st) != 0) {
            s = fr_err_set(err, FR_E_IO, "%s: cannot stat: %s", d->part, strerror(errno));
            goto done;
        }
        uint64_t have = (uint64_t)st.st_size;
        fr_dl_next next;
        if (d->expected_size && have > d->expected_size) {
            /* Longer than the file can be: it is not a prefix of it. */
            next = FR_DL_NEXT_RESTART;
        } else if (d->expected_size && have == d->expected_size) {
            d->resumed = true; /* a complete .part left by an earlier run */
            next = FR_DL_NEXT_VERIFY;
        } else {
            next = fr_dl_transfer(d, no_range, err);
        }
        if (next == FR_DL_NEXT_VERIFY) {
            bool again;
            s = fr_dl_finish(d, &again, res, err);
            if (s || !again)
                goto done;
            no_range = true;
            continue;
        }
        if (next == FR_DL_NEXT_RESTART) {
            if (d->restarts >= 3) {
                s = fr_err_set(err, FR_E_IO,
                               "%s: the server's answers to ranged requests are inconsistent; "
                               "gave up after %d restarts",
                               src->url, d->restarts);
                goto done;
            }
            if (ftruncate(d->fd, 0) != 0) {
                s = fr_err_set(err, FR_E_IO, "%s: cannot truncate: %s", d->part, strerror(errno));
                goto done;
            }
            d->restarts++;
            d->resumed = false;
            no_range = true;
            continue;
        }
        if (next == FR_DL_NEXT_RETRY && attempts < retries) {
            attempts++;
            fr_dl_sleep_ms(delay);
            delay *= 2;
            if (fr_dl_progress(d, FR_HUB_CONNECTING, d->off, d->total)) {
                s = fr_err_set(err, FR_E_CANCELLED,
                               "download stopped; %s is kept: run the same command again to "
                               "resume",
                               d->part);
                goto done;
            }
            no_range = false;
            continue;
        }
        s = err->code;
        goto done;
    }

done:
    if (d->fd >= 0) {
        /* An empty .part resumes nothing; do not leave it behind. */
        struct stat pst;
        if (s != FR_OK && d->locked && fstat(d->fd, &pst) == 0 && pst.st_size == 0)
            unlink(d->part);
        close(d->fd);
    }
    res->resumed = d->resumed;
    res->restarts = d->restarts;
    res->downloaded = d->received;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    free(d);
    return s;
}
