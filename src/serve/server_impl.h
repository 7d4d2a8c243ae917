/*
 * server_impl.h - what http.c (libmicrohttpd plumbing, lifecycle) and
 * handlers.c (the endpoints) share: the server and the per-request state.
 *
 * State guarded by fr_server.mu: ready, shutting_down, draining, sched. The model
 * fields are written once by fr_server_set_model before `ready` is set
 * under the mutex and only read afterwards, so a request that saw ready
 * reads them without the lock.
 */
#ifndef FR_SERVE_SERVER_IMPL_H
#define FR_SERVE_SERVER_IMPL_H

#include "base/buf.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/response.h"
#include "serve/sched.h"

#include <frugal/serve.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

struct fr_server {
    char *host, *model_id, *cors;
    char *kb_path;          /* NULL: no /v1/ask */
    bool web;               /* the page at / (web.c); false with --no-web */
    double price_kwh;       /* USD per kWh, for the page's cost figures (/props) */
    bool has_key;
    uint8_t key_digest[32]; /* SHA-256 of the key; the key itself is not kept */
    uint32_t max_queue, max_messages, max_connections, n_batch;
    double timeout_s, read_timeout_s;
    size_t max_body;
    fr_sampler_params defaults;
    bool fixed_seed;
    fr_server_log_fn log;
    void *log_user;

    struct MHD_Daemon *d;
    uint16_t port;
    long long created;
    srv_metrics *metrics;
    atomic_ullong next_id;

    pthread_mutex_t mu;
    pthread_cond_t idle_cv; /* signalled when inflight drops to 0 */
    bool ready, shutting_down, stopped;
    bool draining;          /* fr_server_drain: /health says 503, the rest is served */
    srv_sched *sched;
    uint32_t inflight;      /* requests holding a job, until their last byte is sent */

    /* set once before ready */
    fr_server_model m;
    uint32_t n_ctx, n_vocab, n_slots;
    char fingerprint[32];
    const char *template_name;
};

typedef enum srv_route {
    SRV_R_NONE = 0,
    SRV_R_CHAT,
    SRV_R_COMPLETIONS,
    SRV_R_MODELS,
    SRV_R_MODEL, /* /v1/models/{id} */
    SRV_R_HEALTH,
    SRV_R_METRICS,
    SRV_R_TOKENIZE,
    SRV_R_DETOKENIZE,
    SRV_R_PROPS,
    SRV_R_ASK,
    SRV_R_WEB /* the page: /, /index.html, /web/FILE (web.c) */
} srv_route;

typedef struct srv_conn {
    fr_server *srv;
    struct MHD_Connection *mc;
    char method[12];
    char path[128]; /* sanitised for the log */
    const char *url; /* borrowed from MHD, valid during the request */
    srv_route route;
    srv_endpoint ep;
    double t0;
    fr_buf body;
    bool too_big;
    bool responded;
    int status;

    /* generation */
    bool has_req;
    bool counted;   /* counted in fr_server.inflight */
    srv_request req;
    srv_sched *sched;
    srv_job *job;
    srv_result res;
    srv_resp_info ri;
    char id[48];

    /* streaming */
    fr_buf out;
    size_t out_pos;
    int sse_state; /* 0 start, 1 tokens, 2 finished (flush then end) */
    size_t sent_pieces;
    bool stream_error;
} srv_conn;

/* Queue helpers (http.c). All return MHD_YES/MHD_NO. */
enum MHD_Result srv_reply_json(srv_conn *c, int status, json_t *body /* stolen */);
enum MHD_Result srv_reply_error(srv_conn *c, const srv_error *e);
enum MHD_Result srv_reply_text(srv_conn *c, int status, const char *content_type, char *text /* stolen */, size_t len);
enum MHD_Result srv_reply_sse(srv_conn *c);
/* Queues a response the caller built (adds the common headers; destroys r). */
enum MHD_Result srv_reply_response(srv_conn *c, int status, struct MHD_Response *r);
/* True when the client has closed its end. */
bool srv_client_gone(srv_conn *c);
/* A new response id ("chatcmpl-..." / "cmpl-...") into c->id. */
void srv_new_id(srv_conn *c, const char *prefix);
void srv_log(fr_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ready, the scheduler and whether a shutdown began, read under the mutex. */
bool srv_server_state(fr_server *s, srv_sched **sched, bool *shutting);
/* fr_server_drain was called (read under the mutex). */
bool srv_server_draining(fr_server *s);

/* The endpoint (handlers.c); called once the whole body is in. */
enum MHD_Result srv_handle(srv_conn *c);
/* Fills buf with up to max bytes of the event stream (the MHD reader). */
ssize_t srv_sse_read(void *cls, uint64_t pos, char *buf, size_t max);
/* POST /v1/ask, and chat completions with "documents" (grounded.c); the
 * latter is called by handlers.c once the request is parsed and its model
 * checked. */
enum MHD_Result srv_handle_ask(srv_conn *c, srv_sched *sched);
enum MHD_Result srv_handle_grounded_chat(srv_conn *c, srv_sched *sched);
/* GET of the web page's files (web.c). */
enum MHD_Result srv_handle_web(srv_conn *c);
/* Releases a request's generation state (cancels a running job). */
void srv_conn_release(srv_conn *c);

#endif
