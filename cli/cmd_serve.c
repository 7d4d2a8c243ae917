/*
 * cmd_serve.c - `frugal serve`: the OpenAI-compatible HTTP server.
 *
 * Order: parse options, block SIGINT/SIGTERM (every thread inherits the
 * mask, so only sigwait below sees them), start listening (/health says
 * "loading"), load the model, its template and an n_seq = --parallel
 * context, hand them to the server, wait for a signal, optionally drain
 * (--drain-delay: /health says 503 while requests are still served, so a
 * load balancer takes this replica out first), shut down gracefully. The access log and notes go to stderr; the API key never
 * does (prefer --api-key-file or FRUGAL_API_KEY: a key on the command line
 * is visible to other users in `ps`).
 */
#include "llm.h"

#include "base/clock.h"
#include "base/file.h"

#include <frugal/energy.h>
#include <frugal/hardware.h>
#include <frugal/serve.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void serve_log(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "frugal serve: %s\n", line);
}

static char *read_key_file(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    fr_err e;
    if (fr_read_file(path, 64 << 10, &text, &len, &e) != FR_OK) {
        cli_fail(&e);
        return NULL;
    }
    /* the first line, trimmed */
    size_t a = 0;
    while (a < len && (text[a] == ' ' || text[a] == '\t'))
        a++;
    size_t b = a;
    while (b < len && text[b] != '\n' && text[b] != '\r')
        b++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t'))
        b--;
    memmove(text, text + a, b - a);
    text[b - a] = '\0';
    if (!text[0]) {
        cli_error("serve: --api-key-file %s: the first line is empty", path);
        free(text);
        return NULL;
    }
    return text;
}

static fr_meter *open_meter(const char *which)
{
    if (which && strcmp(which, "none") == 0)
        return NULL;
    fr_meter_config cfg;
    fr_meter_config_init(&cfg);
    if (which && strcmp(which, "estimate") == 0)
        cfg.sources = FR_METER_ESTIMATE;
    else if (which && strcmp(which, "rapl") == 0)
        cfg.sources = FR_METER_RAPL;
    else if (which && strcmp(which, "nvml") == 0)
        cfg.sources = FR_METER_NVML;
    else if (which && strcmp(which, "battery") == 0)
        cfg.sources = FR_METER_BATTERY;
    fr_catalog_env ce;
    fr_catalog_paths paths;
    fr_catalog_paths_from_env(&ce, &paths);
    fr_catalog *cat = NULL;
    fr_err e;
    if (fr_catalog_load(&paths, &cat, &e) == FR_OK) {
        if (fr_meter_config_cpu(&cfg, cat, NULL, &e) != FR_OK)
            cli_warn("serve: no CPU watts for the energy estimate: %s", e.msg);
    } else {
        cli_warn("serve: hardware catalog: %s (no energy estimate)", e.msg);
    }
    fr_meter *m = NULL;
    if (fr_meter_create(&cfg, &m, &e) != FR_OK) {
        cli_warn("serve: no energy meter, usage will say energy_source \"none\": %s", e.msg);
        m = NULL;
    }
    fr_catalog_free(cat);
    return m;
}

static char *default_alias(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".gguf") == 0)
        n -= 5;
    char *a = malloc(n + 1);
    if (a) {
        memcpy(a, b, n);
        a[n] = '\0';
    }
    return a;
}

int cmd_serve(int argc, char **argv)
{
    cli_model_opts mo = {0};
    cli_sampling so;
    cli_sampling_defaults(&so);
    const char *host = "127.0.0.1", *api_key = NULL, *api_key_file = NULL, *alias = NULL,
               *cors = NULL, *meter_name = "auto", *db = NULL;
    long port = 8080, parallel = 4, max_queue = 64, max_messages = 4096, max_conn = 256,
         max_client_conn = 32, test_delay_ms = 0;
    double timeout = 600, read_timeout = 10, shutdown_timeout = 10, max_body_mib = 8,
           price_kwh = 0, drain_delay = 0;
    bool no_web = false;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(&mo),
        {"--host", NULL, CLI_STR, &host, "ADDR", "address to listen on (default 127.0.0.1; 0.0.0.0 = all)", 0, 0, NULL},
        {"--port", NULL, CLI_INT, &port, "N", "TCP port (default 8080; 0 = any free port)", 0, 65535, NULL},
        {"--parallel", "-np", CLI_INT, &parallel, "N", "requests generated at once, batched (default 4)", 1, 256, NULL},
        {"--api-key", NULL, CLI_STR, &api_key, "KEY", "require Authorization: Bearer KEY (visible in ps; prefer the file or FRUGAL_API_KEY)", 0, 0, NULL},
        {"--api-key-file", NULL, CLI_STR, &api_key_file, "FILE", "read the key from the first line of FILE", 0, 0, NULL},
        {"--alias", "-a", CLI_STR, &alias, "NAME", "model name clients use (default: the file name)", 0, 0, NULL},
        {"--cors", NULL, CLI_STR, &cors, "ORIGIN", "allow browser requests from ORIGIN (or *)", 0, 0, NULL},
        {"--max-queue", NULL, CLI_INT, &max_queue, "N", "requests waiting for a slot before 503 (default 64)", 1, 1000000, NULL},
        {"--timeout", NULL, CLI_DOUBLE, &timeout, "S", "drop requests queued for S s; close a connection idle for S s while its answer is generated (default 600)", 1, 86400, NULL},
        {"--read-timeout", NULL, CLI_DOUBLE, &read_timeout, "S", "close a connection silent for S s while sending its request (default 10)", 1, 3600, NULL},
        {"--shutdown-timeout", NULL, CLI_DOUBLE, &shutdown_timeout, "S", "on SIGTERM, let running requests finish for S s (default 10)", 0, 3600, NULL},
        {"--drain-delay", NULL, CLI_DOUBLE, &drain_delay, "S", "on SIGTERM, first answer /health with 503 \"draining\" for S s while still serving, so a load balancer takes this replica out (default 0; a second signal ends it)", 0, 3600, NULL},
        {"--max-body", NULL, CLI_DOUBLE, &max_body_mib, "MIB", "largest request body in MiB (default 8)", 0.001, 1024, NULL},
        {"--max-messages", NULL, CLI_INT, &max_messages, "N", "messages per chat request (default 4096)", 1, 1 << 20, NULL},
        {"--max-connections", NULL, CLI_INT, &max_conn, "N", "concurrent connections (default 256)", 1, 65536, NULL},
        {"--max-client-connections", NULL, CLI_INT, &max_client_conn, "N", "concurrent connections from one client address (default 32; behind a proxy raise it to --max-connections)", 1, 65536, NULL},
        {"--db", NULL, CLI_STR, &db, "KB", "knowledge base for POST /v1/ask (from frugal index): a SQLite file or a postgresql:// URI", 0, 0, NULL},
        {"--no-web", NULL, CLI_FLAG, &no_web, NULL, "no web page at / (the API only)", 0, 0, NULL},
        {"--price-kwh", NULL, CLI_DOUBLE, &price_kwh, "USD", "electricity price the web page turns joules into dollars with (default 0.16)", 1e-6, 100, NULL},
        {"--energy-meter", NULL, CLI_CHOICE, &meter_name, NULL, "energy source for usage.energy_joules (default auto)", 0, 0, "auto|estimate|rapl|nvml|battery|none"},
        CLI_SAMPLING_OPTS(&so),
        {"--test-load-delay", NULL, CLI_INT, &test_delay_ms, "MS", "wait MS before loading (for tests of /health)", 0, 600000, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal serve -m MODEL.gguf [--host ADDR] [--port N] [--parallel N] [options]",
        "Serves the model over HTTP with OpenAI's API (POST /v1/chat/completions,\n"
        "/v1/completions; GET /v1/models, /health, /metrics, /props; POST /tokenize,\n"
        "/detokenize). --parallel slots share one copy of the weights and are batched\n"
        "into one forward pass per step. Sampling options set the defaults for fields\n"
        "a request leaves out. With --db, POST /v1/ask answers from the knowledge base\n"
        "as `frugal ask --json` does; chat requests may send \"documents\" to ground the\n"
        "answer on their own passages. A web page at / chats with the model and (with\n"
        "--db) asks the knowledge base, showing citations and what each answer cost;\n"
        "--no-web turns it off. SIGTERM or Ctrl-C stops gracefully.",
        opts, 0, 0};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    const char *env_key = getenv("FRUGAL_API_KEY");
    if (api_key && api_key_file) {
        cli_error("serve: give --api-key or --api-key-file, not both");
        return FR_EXIT_USAGE;
    }
    char *key = NULL;
    if (api_key_file) {
        if (!(key = read_key_file(api_key_file)))
            return FR_EXIT_USAGE;
    } else if (api_key) {
        key = strdup(api_key);
    } else if (env_key && *env_key) {
        key = strdup(env_key);
    }
    const char *model_path = mo.model ? mo.model : getenv("FRUGAL_MODEL");
    if (!model_path || !*model_path) {
        free(key);
        cli_error("serve: no model: pass -m MODEL.gguf (or set FRUGAL_MODEL)");
        return FR_EXIT_USAGE;
    }
    char *alias_owned = alias ? NULL : default_alias(model_path);

    /* from here on signals are taken by sigwait only */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    fr_sampler_params defaults;
    cli_sampling_apply(&so, &defaults, NULL);
    fr_server_params sp;
    fr_server_params_default(&sp);
    sp.host = host;
    sp.port = (uint16_t)port;
    sp.model_id = alias ? alias : alias_owned;
    sp.api_key = key;
    sp.cors_origin = cors;
    sp.max_queue = (uint32_t)max_queue;
    sp.timeout_s = timeout;
    sp.read_timeout_s = read_timeout;
    sp.max_body = (size_t)(max_body_mib * 1048576.0);
    sp.max_messages = (uint32_t)max_messages;
    sp.max_connections = (uint32_t)max_conn;
    sp.max_client_connections = (uint32_t)max_client_conn;
    sp.n_batch = mo.batch ? (uint32_t)mo.batch : 512;
    sp.sampling = &defaults;
    sp.fixed_seed = so.seed >= 0; /* else each request draws its own seed unless it sends one */
    sp.log = serve_log;
    sp.kb_path = db;
    sp.no_web = no_web;
    sp.price_kwh = price_kwh;
    fr_server *srv = NULL;
    fr_err e;
    if (fr_server_start(&sp, &srv, &e) != FR_OK) {
        free(key);
        free(alias_owned);
        return cli_fail(&e);
    }
    /* the key is hashed by the server; wipe our copy */
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
        key = NULL;
    }
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "frugal serve: listening on http://%s%s%s:%u (loading %s)%s\n", v6 ? "[" : "",
            host, v6 ? "]" : "", (unsigned)fr_server_port(srv), model_path,
            sp.api_key ? "" : "; no API key: anyone who can reach this address can use it");
    fflush(stderr);
    if (test_delay_ms > 0) {
        struct timespec ts = {test_delay_ms / 1000, (test_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }

    cli_llm L;
    if ((rc = cli_llm_open(&mo, (uint32_t)parallel, true, &L))) {
        fr_server_free(srv);
        free(alias_owned);
        return rc;
    }
    cli_llm_describe(&L, model_path);
    fr_meter *meter = open_meter(meter_name);
    /* adapters change the output for a seed: fold them into the fingerprint */
    char variant[2048] = "";
    for (int i = 0; i < mo.lora.n; i++) {
        size_t used = strlen(variant);
        snprintf(variant + used, sizeof variant - used, "lora %s;", mo.lora.v[i]);
    }
    fr_server_model sm = {L.ctx, L.tok, L.tmpl, meter, variant};
    if (fr_server_set_model(srv, &sm, &e) != FR_OK) {
        fr_server_free(srv);
        fr_meter_free(meter);
        cli_llm_close(&L);
        free(alias_owned);
        return cli_fail(&e);
    }
    fprintf(stderr,
            "frugal serve: ready: model '%s', %ld slots x %u tokens of context, chat template %s, "
            "energy %s%s%s%s\n",
            sp.model_id, parallel, fr_context_n_ctx(L.ctx),
            L.tmpl ? fr_chat_template_name(L.tmpl) : "none",
            meter ? fr_meter_label(meter) : "not measured", db ? ", POST /v1/ask from " : "",
            db ? db : "", no_web ? "" : "; web page at /");
    fflush(stderr);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    if (drain_delay > 0) {
        fprintf(stderr, "frugal serve: %s: draining for %.3g s (/health says 503; requests are "
                        "still served; a second signal stops now)\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", drain_delay);
        fflush(stderr);
        fr_server_drain(srv);
        double end = fr_now_s() + drain_delay;
        for (double left; (left = end - fr_now_s()) > 0;) {
            struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
            int got = sigtimedwait(&sigs, NULL, &ts);
            if (got == SIGINT || got == SIGTERM) {
                sig = got;
                break;
            }
        }
    }
    fprintf(stderr, "frugal serve: %s: shutting down (running requests get up to %.0f s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", shutdown_timeout);
    fflush(stderr);
    fr_server_shutdown(srv, shutdown_timeout);
    fr_server_free(srv);
    fr_meter_free(meter);
    cli_llm_close(&L);
    free(alias_owned);
    fprintf(stderr, "frugal serve: stopped\n");
    return FR_EXIT_OK;
}
