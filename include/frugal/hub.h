/*
 * frugal/hub.h - getting model files: a small registry of known GGUFs,
 * resolving "NAME | hf:owner/repo/file | https://..." to a download, and a
 * resumable, verified download into a cache directory.
 *
 * Guarantees of fr_hub_download:
 *  - bytes go to "<dir>/<file>.part"; only after the size (and the sha256,
 *    when one is known) check out is the .part renamed onto "<dir>/<file>"
 *    (atomic), so a file under the final name is always complete;
 *  - an interrupted download (network, Ctrl-C, disk full) keeps the .part and
 *    the next call resumes it with an HTTP Range request; a server that
 *    ignores Range (200 instead of 206) or a .part larger than the file
 *    restarts cleanly from byte 0;
 *  - plain http is refused except to the loopback host, unless allowed
 *    explicitly: a model file is code-like data (it decides what the program
 *    says), so it travels over TLS by default.
 *
 * The library never prints; progress and cancellation go through a callback.
 */
#ifndef FRUGAL_HUB_H
#define FRUGAL_HUB_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- registry ------------------------------------------------------------ */

typedef struct fr_hub_model {
    const char *name;     /* short name, e.g. "qwen2.5-0.5b" */
    const char *repo;     /* Hugging Face repository, "Qwen/Qwen2.5-0.5B-Instruct-GGUF" */
    const char *revision; /* commit the size/sha256 were read at (or "main") */
    const char *file;     /* file in the repository, "qwen2.5-0.5b-instruct-q4_k_m.gguf" */
    uint64_t size;        /* bytes; 0 = not published (checked against the server) */
    const char *sha256;   /* 64 lowercase hex digits; NULL = not published */
    const char *arch;     /* GGUF general.architecture: "llama", "qwen2" */
    const char *quant;    /* "Q8_0", "Q4_K_M" */
    const char *params;   /* "135M", "0.5B" */
    const char *license;  /* "Apache-2.0", "Llama 3.2 Community" */
} fr_hub_model;

/* The built-in table (read-only, static storage); *n receives its length. */
FR_API const fr_hub_model *fr_hub_registry(size_t *n);
/* Entry by short name (case-insensitive), or NULL. Borrowed. */
FR_API const fr_hub_model *fr_hub_find(const char *name);
/* Short name of the model `make demo` pulls by default. */
FR_API const char *fr_hub_default_model(void);

/* ---- resolving what to download ----------------------------------------- */

#define FR_HUB_URL_MAX 2048
#define FR_HUB_FILE_MAX 256
#define FR_HUB_PATH_MAX 4096

typedef struct fr_hub_source {
    char url[FR_HUB_URL_MAX];   /* what to GET */
    char file[FR_HUB_FILE_MAX]; /* file name to store it under (no '/') */
    uint64_t size;              /* expected bytes; 0 = unknown */
    char sha256[65];            /* expected, lowercase hex; "" = unknown */
    const fr_hub_model *model;  /* registry entry, or NULL */
} fr_hub_source;

/* Turns spec into a source:
 *   "qwen2.5-0.5b"                    a registry name (see fr_hub_registry)
 *   "hf:owner/repo/path/file.gguf"    a file on Hugging Face, branch main
 *   "hf:owner/repo@REV/file.gguf"     ... at a branch, tag or commit
 *   "https://host/path/file.gguf"     any URL (http:// is checked later)
 * endpoint is the Hugging Face base URL (NULL: https://huggingface.co; a
 * mirror can be given, as HF_ENDPOINT does for huggingface_hub).
 * Errors: FR_E_NOTFOUND for an unknown name, FR_E_INVALID for a malformed
 * spec or a URL without a usable file name. */
FR_API fr_status fr_hub_resolve(const char *spec, const char *endpoint, fr_hub_source *out,
                                fr_err *err);

/* Where models go by default: $XDG_CACHE_HOME/frugal/models, else
 * $HOME/.cache/frugal/models. Not created here. */
FR_API fr_status fr_hub_cache_dir(char *out, size_t out_size, fr_err *err);

/* True for "0123...": exactly 64 hex digits (either case). */
FR_API bool fr_hub_sha256_valid(const char *hex);

/* ---- downloading --------------------------------------------------------- */

typedef enum fr_hub_phase {
    FR_HUB_CONNECTING,  /* no body yet (DNS, TLS, redirects, retry pauses) */
    FR_HUB_DOWNLOADING, /* done/total: bytes of the whole file in the .part */
    FR_HUB_HASHING      /* done/total: bytes hashed for the sha256 check */
} fr_hub_phase;

/* Called often during the call (at least once a second, also while a
 * transfer is stalled). A DOWNLOADING call is made as soon as a body starts,
 * with done = the offset it starts at, so a caller can tell a resume (done >
 * 0) from a fresh start; done going down means the .part was restarted.
 * total is 0 while unknown. Return non-zero to stop: fr_hub_download then
 * fails with FR_E_CANCELLED and keeps the .part. */
typedef int (*fr_hub_progress_fn)(void *user, fr_hub_phase phase, uint64_t done, uint64_t total);

typedef struct fr_hub_opts {
    const char *dir;        /* destination directory; created if missing */
    bool allow_http;        /* permit plain http to hosts other than loopback */
    bool force;             /* download again even when the file is present */
    const char *token;      /* Hugging Face token (Bearer), sent only to the HF
                               endpoint's host and *.huggingface.co / hf.co */
    const char *endpoint;   /* HF endpoint whose host may see the token (NULL: default) */
    long connect_timeout_s; /* 0: 30 s */
    long stall_timeout_s;   /* abort when under 1 KiB/s for this long; 0: 60 s */
    int retries;            /* automatic resumes after a broken transfer; <0: 3 */
    long retry_delay_ms;    /* first back-off delay, doubled each time; 0: 1000 */
    fr_hub_progress_fn progress;
    void *user;
} fr_hub_opts;

typedef enum fr_hub_sha_source {
    FR_HUB_SHA_NONE = 0, /* nothing to check against: size only */
    FR_HUB_SHA_GIVEN,    /* from the source (registry entry or caller) */
    FR_HUB_SHA_SERVER    /* from the server's X-Linked-Etag header (Hugging Face) */
} fr_hub_sha_source;

typedef struct fr_hub_result {
    char path[FR_HUB_PATH_MAX];   /* final file */
    uint64_t bytes;               /* its size */
    char sha256[65];              /* its sha256, computed here */
    fr_hub_sha_source sha_source; /* what sha256 was checked against */
    bool already;                 /* was present and verified: nothing downloaded */
    bool resumed;                 /* a .part from an earlier run was continued */
    int restarts;                 /* times the .part was discarded and restarted */
    uint64_t downloaded;          /* bytes received over the network in this call */
    double seconds;               /* wall time of the call */
} fr_hub_result;

/* Downloads src into opts->dir (see the guarantees at the top of this file).
 * When "<dir>/<file>" exists and matches the known size and sha256 (or no
 * size/sha256 is known), nothing is downloaded and result->already is set.
 * Errors name the URL and the cause: HTTP 401/403 (gated model: what to do
 * with the licence and HF_TOKEN), 404, no network (download it yourself),
 * stalled/broken transfers (run again to resume), disk full, size or sha256
 * mismatch (the .part is removed). */
FR_API fr_status fr_hub_download(const fr_hub_source *src, const fr_hub_opts *opts,
                                 fr_hub_result *result, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
