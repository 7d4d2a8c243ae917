/*
 * cmd_pull.c - `frugal pull NAME|hf:OWNER/REPO/FILE|URL [-o DIR]`.
 *
 * Prints only the final path on stdout (MODEL=$(frugal pull qwen2.5-0.5b)),
 * or one JSON record with --json; progress and notes go to stderr. The
 * library does the work (src/hub); this file maps flags and environment
 * (HF_TOKEN, HF_ENDPOINT, XDG_CACHE_HOME) onto it, draws the bar, and turns
 * Ctrl-C into a clean stop that keeps the .part for the next run.
 */
#include "cli.h"

#include <frugal/hub.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Set from the signal handler; a flag is all a handler may safely touch. */
static volatile sig_atomic_t pull_stop;

static void pull_on_signal(int sig)
{
    (void)sig;
    pull_stop = 1;
}

typedef struct pull_ui {
    const char *file;
    cli_progress *bar;
    fr_hub_phase phase; /* of the bar shown */
    uint64_t base;      /* bytes already on disk when the bar started */
    uint64_t total;     /* whole-file size the bar was started with */
} pull_ui;

static void pull_ui_end(pull_ui *ui, bool ok)
{
    cli_progress_finish(ui->bar, ok);
    ui->bar = NULL;
}

/* Hashing a small file takes no visible time: no bar for it. */
#define PULL_HASH_BAR_MIN (64ull << 20)

static int pull_progress(void *user, fr_hub_phase phase, uint64_t done, uint64_t total)
{
    pull_ui *ui = user;
    if (pull_stop)
        return 1;
    if (phase == FR_HUB_CONNECTING)
        return 0;
    if (ui->bar && (phase != ui->phase || done < ui->base || total != ui->total))
        pull_ui_end(ui, phase != ui->phase && done >= ui->base);
    if (!ui->bar) {
        if (phase == FR_HUB_HASHING && total < PULL_HASH_BAR_MIN)
            return 0;
        char label[320];
        ui->phase = phase;
        ui->total = total;
        ui->base = phase == FR_HUB_HASHING ? 0 : done;
        if (phase == FR_HUB_HASHING) {
            snprintf(label, sizeof label, "sha256 %s", ui->file);
        } else if (ui->base > 0) {
            char at[32];
            cli_human_bytes(ui->base, at, sizeof at);
            snprintf(label, sizeof label, "resuming %s at %s", ui->file, at);
        } else {
            snprintf(label, sizeof label, "downloading %s", ui->file);
        }
        /* The bar counts this run's bytes so that rate and ETA stay honest
         * when resuming. */
        ui->bar = cli_progress_start(label, total > ui->base ? total - ui->base : 0, "B");
    }
    cli_progress_update(ui->bar, done - ui->base);
    return 0;
}

static const char *pull_sha_source(fr_hub_sha_source s, const fr_hub_source *src)
{
    switch (s) {
    case FR_HUB_SHA_GIVEN:
        return src->model && src->model->sha256 && strcmp(src->model->sha256, src->sha256) == 0
                   ? "registry"
                   : "given";
    case FR_HUB_SHA_SERVER: return "server";
    case FR_HUB_SHA_NONE: break;
    }
    return "none";
}

static int pull_list(bool as_json)
{
    size_t n;
    const fr_hub_model *t = fr_hub_registry(&n);
    const char *def = fr_hub_default_model();
    fr_hub_source src;
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            if (fr_hub_resolve(t[i].name, getenv("HF_ENDPOINT"), &src, NULL))
                continue;
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(t[i].name));
            json_object_set_new(o, "default", json_boolean(strcmp(t[i].name, def) == 0));
            json_object_set_new(o, "repo", json_string(t[i].repo));
            json_object_set_new(o, "revision", json_string(t[i].revision));
            json_object_set_new(o, "file", json_string(t[i].file));
            json_object_set_new(o, "url", json_string(src.url));
            json_object_set_new(o, "bytes",
                                t[i].size ? json_integer((json_int_t)t[i].size) : json_null());
            json_object_set_new(o, "sha256", t[i].sha256 ? json_string(t[i].sha256) : json_null());
            json_object_set_new(o, "arch", json_string(t[i].arch));
            json_object_set_new(o, "quant", json_string(t[i].quant));
            json_object_set_new(o, "params", json_string(t[i].params));
            json_object_set_new(o, "license", json_string(t[i].license));
            json_array_append_new(arr, o);
        }
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(arr);
        return FR_EXIT_OK;
    }
    printf("%-14s %-9s %-7s %-6s %-6s %-9s %s\n", "NAME", "SIZE", "QUANT", "ARCH", "PARAMS",
           "SHA256", "HUGGING FACE FILE");
    for (size_t i = 0; i < n; i++) {
        char size[32], sha[16];
        if (t[i].size)
            cli_human_bytes(t[i].size, size, sizeof size);
        else
            snprintf(size, sizeof size, "?");
        snprintf(sha, sizeof sha, "%.8s", t[i].sha256 ? t[i].sha256 : "-");
        printf("%-14s %-9s %-7s %-6s %-6s %-9s %s/%s%s\n", t[i].name, size, t[i].quant, t[i].arch,
               t[i].params, sha, t[i].repo, t[i].file,
               strcmp(t[i].name, def) == 0 ? "  (default)" : "");
    }
    printf("\nAlso: hf:OWNER/REPO/FILE.gguf, hf:OWNER/REPO@REVISION/FILE.gguf, or an https:// "
           "URL.\nSIZE ? / SHA256 -: not published; checked against the server instead.\n");
    return FR_EXIT_OK;
}

static int pull_dry_run(const fr_hub_source *src, const char *dir, bool as_json)
{
    char path[FR_HUB_PATH_MAX + FR_HUB_FILE_MAX + 1];
    snprintf(path, sizeof path, "%s/%s", dir, src->file);
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "name", src->model ? json_string(src->model->name) : json_null());
        json_object_set_new(o, "url", json_string(src->url));
        json_object_set_new(o, "file", json_string(src->file));
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "bytes",
                            src->size ? json_integer((json_int_t)src->size) : json_null());
        json_object_set_new(o, "sha256", src->sha256[0] ? json_string(src->sha256) : json_null());
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        return FR_EXIT_OK;
    }
    printf("url     %s\npath    %s\n", src->url, path);
    if (src->size)
        printf("bytes   %llu\n", (unsigned long long)src->size);
    else
        printf("bytes   unknown (checked against the server)\n");
    printf("sha256  %s\n", src->sha256[0] ? src->sha256 : "unknown");
    return FR_EXIT_OK;
}

int cmd_pull(int argc, char **argv)
{
    const char *out_dir = NULL, *sha = NULL;
    long size = 0, retries = 3, stall = 60, connect = 30;
    bool list = false, as_json = false, dry = false, force = false, insecure = false;
    const cli_opt opts[] = {
        {"--output-dir", "-o", CLI_STR, &out_dir, "DIR",
         "store here (default $XDG_CACHE_HOME/frugal/models or ~/.cache/frugal/models)", 0, 0,
         NULL},
        {"--sha256", NULL, CLI_STR, &sha, "HEX", "expected sha256 of the file (64 hex digits)", 0,
         0, NULL},
        {"--size", NULL, CLI_INT, &size, "BYTES", "expected size of the file", 1, 1e15, NULL},
        {"--list", NULL, CLI_FLAG, &list, NULL, "list the known model names and exit", 0, 0, NULL},
        {"--dry-run", NULL, CLI_FLAG, &dry, NULL,
         "print the URL, destination, size and sha256; download nothing", 0, 0, NULL},
        {"--force", NULL, CLI_FLAG, &force, NULL, "download again even if the file is present", 0,
         0, NULL},
        {"--retries", NULL, CLI_INT, &retries, "N",
         "automatic resumes after a broken transfer (default 3)", 0, 20, NULL},
        {"--timeout", NULL, CLI_INT, &stall, "SECONDS",
         "give up when under 1 KiB/s for this long (default 60)", 1, 3600, NULL},
        {"--connect-timeout", NULL, CLI_INT, &connect, "SECONDS",
         "give up connecting after this long (default 30)", 1, 600, NULL},
        {"--insecure-http", NULL, CLI_FLAG, &insecure, NULL,
         "allow plain http to hosts other than localhost (not recommended)", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &as_json, NULL,
         "print one JSON record (path, bytes, sha256, resumed, ...) instead of the path", 0, 0,
         NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal pull NAME|hf:OWNER/REPO/FILE.gguf|URL [-o DIR] [options]",
        "Downloads a GGUF model over HTTPS into the model cache and prints its path. "
        "Interrupted downloads resume (DIR/FILE.part); the file appears under its final name "
        "only after its size and sha256 check out. Environment: HF_TOKEN for gated models, "
        "HF_ENDPOINT for a Hugging Face mirror, XDG_CACHE_HOME for the cache location.",
        opts,
        0,
        1,
    };
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (list)
        return pull_list(as_json);
    if (npos != 1) {
        cli_error("pull: missing model name or URL\nusage: %s\n(try 'frugal pull --list')",
                  spec.usage);
        return FR_EXIT_USAGE;
    }

    fr_err err = {0};
    fr_hub_source src;
    const char *endpoint = getenv("HF_ENDPOINT");
    if (fr_hub_resolve(pos[0], endpoint, &src, &err)) {
        cli_fail(&err);
        if (err.code == FR_E_NOTFOUND && access(pos[0], F_OK) == 0)
            fprintf(stderr, "('%s' is a local file: nothing to pull, pass its path to -m)\n",
                    pos[0]);
        return FR_EXIT_USAGE; /* an unknown name or a malformed spec */
    }
    if (sha) {
        if (!fr_hub_sha256_valid(sha)) {
            cli_error("--sha256: '%s' is not 64 hex digits", sha);
            return FR_EXIT_USAGE;
        }
        if (src.sha256[0] && strcasecmp(src.sha256, sha) != 0)
            cli_warn("--sha256 differs from the registry's %s; using yours", src.sha256);
        snprintf(src.sha256, sizeof src.sha256, "%s", sha);
    }
    if (size > 0) {
        if (src.size && src.size != (uint64_t)size)
            cli_warn("--size differs from the registry's %llu; using yours",
                     (unsigned long long)src.size);
        src.size = (uint64_t)size;
    }
    char dir[FR_HUB_PATH_MAX];
    if (out_dir) {
        snprintf(dir, sizeof dir, "%s", out_dir);
    } else if (fr_hub_cache_dir(dir, sizeof dir, &err)) {
        return cli_fail(&err);
    }
    if (dry)
        return pull_dry_run(&src, dir, as_json);

    const char *token = getenv("HF_TOKEN");
    if (!token || !token[0])
        token = getenv("HUGGING_FACE_HUB_TOKEN");
    pull_ui ui = {src.file, NULL, FR_HUB_CONNECTING, 0, 0};
    fr_hub_opts o = {0};
    o.dir = dir;
    o.allow_http = insecure;
    o.force = force;
    o.token = token;
    o.endpoint = endpoint;
    o.connect_timeout_s = connect;
    o.stall_timeout_s = stall;
    o.retries = (int)retries;
    o.progress = pull_progress;
    o.user = &ui;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pull_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    pull_stop = 0;

    fr_hub_result res;
    fr_status st = fr_hub_download(&src, &o, &res, &err);
    pull_ui_end(&ui, st == FR_OK);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (st) {
        if (st == FR_E_CANCELLED) {
            cli_error("interrupted: %s", err.msg);
            return FR_EXIT_RUNTIME;
        }
        return cli_fail(&err);
    }

    const char *shasrc = pull_sha_source(res.sha_source, &src);
    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "path", json_string(res.path));
        json_object_set_new(j, "name", src.model ? json_string(src.model->name) : json_null());
        json_object_set_new(j, "url", json_string(src.url));
        json_object_set_new(j, "bytes", json_integer((json_int_t)res.bytes));
        json_object_set_new(j, "sha256", json_string(res.sha256));
        json_object_set_new(j, "sha256_verified", json_boolean(res.sha_source != FR_HUB_SHA_NONE));
        json_object_set_new(j, "sha256_source", json_string(shasrc));
        json_object_set_new(j, "already_present", json_boolean(res.already));
        json_object_set_new(j, "resumed", json_boolean(res.resumed));
        json_object_set_new(j, "restarts", json_integer(res.restarts));
        json_object_set_new(j, "downloaded_bytes", json_integer((json_int_t)res.downloaded));
        json_object_set_new(j, "seconds", json_real(res.seconds));
        json_dumpf(j, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(j);
    } else {
        printf("%s\n", res.path);
    }
    char human[32];
    cli_human_bytes(res.bytes, human, sizeof human);
    const char *how;
    if (res.sha_source != FR_HUB_SHA_NONE)
        how = strcmp(shasrc, "server") == 0     ? "sha256 matches the server's"
              : strcmp(shasrc, "registry") == 0 ? "sha256 matches the registry"
                                                : "sha256 matches --sha256";
    else if (res.already)
        how = src.size ? "size matches; no sha256 published" : "no size or sha256 known to check";
    else
        how = "size checked; no sha256 published";
    if (res.already)
        fprintf(stderr, "frugal: %s is already downloaded (%s, %s); nothing to do\n", src.file,
                human, how);
    else
        fprintf(stderr, "frugal: saved %s (%s%s, %s)\n", src.file, human,
                res.resumed ? ", resumed" : "", how);
    return FR_EXIT_OK;
}
