/*
 * frugal/serve.h - an OpenAI-compatible HTTP server over one model.
 *
 * Lifecycle (what `frugal serve` does):
 *
 *     fr_server *s;
 *     fr_server_start(&params, &s, &err);   // listening; /health answers 503 "loading"
 *     ... load the model, tokenizer, template and an n_seq = N context ...
 *     fr_server_set_model(s, &model, &err); // the scheduler starts; /health 200
 *     ... wait for SIGTERM ...
 *     fr_server_drain(s);                   // optional: /health 503 "draining", still serving
 *     ... wait for the load balancer to notice ...
 *     fr_server_shutdown(s, 10.0);          // stop accepting, finish or cancel in flight
 *     fr_server_free(s);
 *
 * The socket is opened before the model is loaded so that a load balancer
 * (or a test) sees "loading" rather than "connection refused".
 *
 * Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models,
 * GET /health, GET /metrics (Prometheus text), POST /tokenize,
 * POST /detokenize, GET /props, and with a knowledge base (kb_path) POST
 * /v1/ask: the JSON of `frugal ask --json`. GET / is a web page (chat, and
 * ask with citations and what each answer cost) that uses those endpoints
 * with the same key rules; no_web turns it off. Chat requests may carry
 * "documents" to ground the answer on passages the client supplies (the
 * answer then comes with a "grounding" object; see src/serve/grounded.c). Requests and responses follow OpenAI's API
 * (errors as {"error": {"message", "type", "param", "code"}}); fields that
 * are not implemented are rejected with a 400 that names them.
 *
 * Threads: libmicrohttpd runs one thread per connection (bounded by
 * max_connections); one scheduler thread owns the fr_context and runs every
 * forward pass, batching one decode token of each active slot (and prompt
 * chunks of new ones) into one fr_context_decode call. HTTP threads never
 * touch the context: they tokenize, queue a job, and wait for its output.
 *
 * The library never prints: the access log (one line per request: method,
 * path, status, tokens, milliseconds) and server notes go to params.log.
 * The API key is never written to the log.
 */
#ifndef FRUGAL_SERVE_H
#define FRUGAL_SERVE_H

#include <frugal/base.h>
#include <frugal/chat.h>
#include <frugal/energy.h>
#include <frugal/model.h>
#include <frugal/sampler.h>
#include <frugal/tokenizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Receives one log line (no trailing newline). Called from any thread, one
 * call at a time per line; the callee must be thread-safe. */
typedef void (*fr_server_log_fn)(void *user, const char *line);

typedef struct fr_server_params {
    const char *host;         /* address to bind; NULL: "127.0.0.1" */
    uint16_t port;            /* 0: any free port (fr_server_port says which) */
    const char *model_id;     /* name in /v1/models and responses; requests must
                                 name it. NULL: "model" */
    const char *api_key;      /* NULL or "": no authentication. Copied. */
    const char *cors_origin;  /* NULL: no CORS headers; "*" or an origin */
    uint32_t max_queue;       /* requests waiting for a slot before 503 (0: 64) */
    double timeout_s;         /* longest queue wait, and how long a connection may stay
                                 idle while its answer is generated and sent (0: 600) */
    double read_timeout_s;    /* how long a client may stay silent while sending its
                                 request headers and body (0: 10); short, so that
                                 half-open connections cannot hold the slots */
    size_t max_body;          /* request body cap in bytes (0: 8 MiB) */
    uint32_t max_messages;    /* messages per chat request (0: 4096) */
    uint32_t max_connections; /* concurrent connections (0: 256) */
    uint32_t max_client_connections; /* concurrent connections from one client address
                                        (0: 32); >= max_connections: no per-client cap
                                        (behind a proxy every client is the proxy) */
    uint32_t n_batch;         /* tokens per forward pass, all slots together (0: 512) */
    const fr_sampler_params *sampling; /* defaults for fields a request leaves out (copied;
                                          NULL: fr_sampler_params_default) */
    bool fixed_seed;          /* requests without a seed use sampling->seed (else a random one) */
    fr_server_log_fn log;     /* NULL: no log */
    void *log_user;
    const char *kb_path;      /* knowledge base for POST /v1/ask (from frugal index); NULL:
                                 /v1/ask answers 404. Checked at start; then opened
                                 read-only per request, so re-indexing while serving is
                                 seen by the next request. Copied. */
    bool no_web;              /* true: no web page at / (GET /, /web/...: 404) */
    double price_kwh;         /* electricity, USD per kWh: GET /props reports it and the
                                 web page turns energy_joules into dollars with it
                                 (0: FR_DEFAULT_PRICE_KWH) */
} fr_server_params;

FR_API void fr_server_params_default(fr_server_params *p);

typedef struct fr_server fr_server;

/* Binds and starts answering (everything but /health, /v1/models and
 * /metrics gets 503 "loading" until fr_server_set_model). Strings in p are
 * copied. Owned by the caller: fr_server_shutdown, then fr_server_free. */
FR_API fr_status fr_server_start(const fr_server_params *p, fr_server **out, fr_err *err);

/* The port actually bound (useful with port 0). */
FR_API uint16_t fr_server_port(const fr_server *s);

/* What the scheduler serves. Everything is borrowed and must outlive the
 * server (until fr_server_free returns). The context's n_seq is the number
 * of parallel slots; from now on only the scheduler thread uses ctx. tmpl
 * may be NULL (chat requests then fail with 400). meter may be NULL (usage
 * then says energy_source "none"); the scheduler thread is its only user. */
typedef struct fr_server_model {
    fr_context *ctx;
    const fr_tokenizer *tok;
    const fr_chat_template *tmpl;
    fr_meter *meter;
    const char *variant; /* what else changes the output (e.g. the LoRA adapters and
                            scales); folded into system_fingerprint. May be NULL. */
} fr_server_model;

FR_API fr_status fr_server_set_model(fr_server *s, const fr_server_model *m, fr_err *err);

/* Readiness off: from now on /health answers 503 "draining" while every
 * other endpoint works as before, so that a load balancer polling /health
 * stops sending new requests before fr_server_shutdown closes the
 * listening socket (frugal serve --drain-delay S waits S seconds between
 * the two). Idempotent; NULL is a no-op. */
FR_API void fr_server_drain(fr_server *s);

/* Graceful stop: the listening socket closes, /health says 503, queued
 * requests get 503; requests already generating may finish for up to
 * deadline_s seconds, after which they are cancelled (a stream gets an
 * error event, a plain request a 503). Returns when every connection has
 * ended. Idempotent. */
FR_API void fr_server_shutdown(fr_server *s, double deadline_s);

/* Shuts down (deadline 0) if needed and frees. NULL is a no-op. */
FR_API void fr_server_free(fr_server *s);

#ifdef __cplusplus
}
#endif
#endif
