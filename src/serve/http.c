/*
 * http.c - fr_server's lifecycle and its libmicrohttpd plumbing: routing,
 * method and key checks, CORS, the body cap, replies, the access log.
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION, bounded by
 * max_connections): a request that waits for its generation simply blocks
 * its own thread on a condition variable, and a stream's reader callback
 * blocks until the next token. While blocked, the thread polls its socket
 * every 100 ms so that a client that hangs up frees its slot at once.
 * Rejected: MHD's suspend/resume with one polling thread (scales to more
 * idle connections, but every wake-up then crosses threads and the
 * scheduler would have to know about HTTP connections).
 *
 * Timeouts and caps (issue 18: 300 half-open connections used to hold every
 * slot for the 600 s generation timeout): a connection may stay silent for
 * read_timeout_s (default 10 s) while it sends its headers and body; once
 * the request is complete, its own limit becomes timeout_s, so generating
 * and sending a long answer is not cut. One client address holds at most
 * max_client_connections connections (MHD's per-IP limit), so one host
 * cannot take the slots that /health and other clients need. The port is
 * bound exclusively (no SO_REUSEPORT): a second server on a port in use
 * fails with "address already in use" instead of silently sharing its
 * traffic.
 *
 * Order of checks for a request: route (404), method (405), CORS preflight,
 * key (401; /health, /v1/models and the web page's files are public: the
 * page asks for the key and sends it with its API calls), Content-Length against the
 * cap (413, answered before the body is read), loading/shutting down (503),
 * then the endpoint.
 *
 * The key: only its SHA-256 is kept; a presented key is hashed and the two
 * digests compared without data-dependent branches, so neither the time
 * taken nor the log reveals it.
 */
#include "serve/server_impl.h"

#include "base/clock.h"

#include <frugal/cost.h>
#include <frugal/rag.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <nettle/sha2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SRV_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define SRV_HEADER_MEMORY ((size_t)64 << 10)

void fr_server_params_default(fr_server_params *p)
{
    memset(p, 0, sizeof *p);
    p->host = "127.0.0.1";
    p->port = 8080;
    p->model_id = "model";
    p->max_queue = 64;
    p->timeout_s = 600;
    p->read_timeout_s = 10;
    p->max_body = SRV_DEFAULT_MAX_BODY;
    p->max_messages = 4096;
    p->max_connections = 256;
    p->max_client_connections = 32;
    p->n_batch = 512;
}

void srv_log(fr_server *s, const char *fmt, ...)
{
    if (!s->log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_user, line);
}

/* ---- replies ----------------------------------------------------------------- */

static void add_common_headers(srv_conn *c, struct MHD_Response *r)
{
    if (c->srv->cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", c->srv->cors);
        if (strcmp(c->srv->cors, "*") != 0)
            MHD_add_response_header(r, "Vary", "Origin");
    }
}

static enum MHD_Result queue(srv_conn *c, int status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    add_common_headers(c, r);
    enum MHD_Result rc = MHD_queue_response(c->mc, (unsigned)status, r);
    MHD_destroy_response(r);
    if (rc == MHD_YES) {
        c->responded = true;
        c->status = status;
    }
    return rc;
}

enum MHD_Result srv_reply_response(srv_conn *c, int status, struct MHD_Response *r)
{
    return queue(c, status, r);
}

enum MHD_Result srv_reply_text(srv_conn *c, int status, const char *content_type, char *text,
                               size_t len)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, text, free);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405) {
        const char *allow = c->route == SRV_R_CHAT || c->route == SRV_R_COMPLETIONS ||
                                    c->route == SRV_R_TOKENIZE || c->route == SRV_R_DETOKENIZE ||
                                    c->route == SRV_R_ASK
                                ? "POST"
                                : "GET, HEAD";
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    return queue(c, status, r);
}

enum MHD_Result srv_reply_json(srv_conn *c, int status, json_t *body)
{
    if (!body)
        return MHD_NO;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    /* a trailing newline, as curl users expect */
    char *t2 = realloc(text, len + 2);
    if (t2) {
        text = t2;
        text[len++] = '\n';
        text[len] = '\0';
    }
    return srv_reply_text(c, status, "application/json", text, len);
}

enum MHD_Result srv_reply_error(srv_conn *c, const srv_error *e)
{
    return srv_reply_json(c, e->status ? e->status : 500, srv_error_json(e));
}

enum MHD_Result srv_reply_sse(srv_conn *c)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, srv_sse_read, c, NULL);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return queue(c, 200, r);
}

bool srv_client_gone(srv_conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct pollfd p = {ci->connect_fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0)
        return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void srv_new_id(srv_conn *c, const char *prefix)
{
    uint8_t rnd[12];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        /* no entropy yet: a counter and the clock still give unique ids */
        unsigned long long n = atomic_fetch_add(&c->srv->next_id, 1);
        double t = fr_now_s();
        memcpy(rnd, &n, 8);
        uint32_t tt = (uint32_t)(t * 1e6);
        memcpy(rnd + 8, &tt, 4);
    }
    int k = snprintf(c->id, sizeof c->id, "%s-", prefix);
    for (size_t i = 0; i < sizeof rnd && k + 2 < (int)sizeof c->id; i++)
        k += snprintf(c->id + k, sizeof c->id - (size_t)k, "%02x", rnd[i]);
}

/* ---- routing, auth ------------------------------------------------------------ */

static srv_route route_of(const char *url, srv_endpoint *ep)
{
    static const struct {
        const char *path;
        srv_route r;
        srv_endpoint ep;
    } routes[] = {
        {"/v1/chat/completions", SRV_R_CHAT, SRV_EP_CHAT},
        {"/chat/completions", SRV_R_CHAT, SRV_EP_CHAT},
        {"/v1/completions", SRV_R_COMPLETIONS, SRV_EP_COMPLETIONS},
        {"/completions", SRV_R_COMPLETIONS, SRV_EP_COMPLETIONS},
        {"/v1/models", SRV_R_MODELS, SRV_EP_MODELS},
        {"/models", SRV_R_MODELS, SRV_EP_MODELS},
        {"/health", SRV_R_HEALTH, SRV_EP_HEALTH},
        {"/v1/health", SRV_R_HEALTH, SRV_EP_HEALTH},
        {"/metrics", SRV_R_METRICS, SRV_EP_METRICS},
        {"/tokenize", SRV_R_TOKENIZE, SRV_EP_TOKENIZE},
        {"/detokenize", SRV_R_DETOKENIZE, SRV_EP_DETOKENIZE},
        {"/props", SRV_R_PROPS, SRV_EP_PROPS},
        {"/v1/ask", SRV_R_ASK, SRV_EP_ASK},
        {"/", SRV_R_WEB, SRV_EP_WEB},
        {"/index.html", SRV_R_WEB, SRV_EP_WEB},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) {
            *ep = routes[i].ep;
            return routes[i].r;
        }
    if (strncmp(url, "/v1/models/", 11) == 0 && url[11]) {
        *ep = SRV_EP_MODELS;
        return SRV_R_MODEL;
    }
    if (strncmp(url, "/web/", 5) == 0) {
        *ep = SRV_EP_WEB;
        return SRV_R_WEB;
    }
    *ep = SRV_EP_OTHER;
    return SRV_R_NONE;
}

static bool route_is_post(srv_route r)
{
    return r == SRV_R_CHAT || r == SRV_R_COMPLETIONS || r == SRV_R_TOKENIZE ||
           r == SRV_R_DETOKENIZE || r == SRV_R_ASK;
}

static bool route_is_public(srv_route r)
{
    return r == SRV_R_HEALTH || r == SRV_R_MODELS || r == SRV_R_MODEL || r == SRV_R_WEB;
}

static void sha256(const void *data, size_t n, uint8_t out[32])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, 32, out);
}

/* 0 ok, else the 401 message */
static const char *check_key(srv_conn *c)
{
    fr_server *s = c->srv;
    if (!s->has_key || route_is_public(c->route))
        return NULL;
    const char *h = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || !*h)
        return "You didn't provide an API key. You need to provide your API key in an "
               "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return "Incorrect API key provided: use an Authorization header with Bearer auth "
               "(Authorization: Bearer YOUR_KEY).";
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    uint8_t d[32];
    sha256(h, n, d);
    unsigned diff = 0;
    for (int i = 0; i < 32; i++)
        diff |= (unsigned)(d[i] ^ s->key_digest[i]);
    return diff == 0 ? NULL : "Incorrect API key provided.";
}

static void sanitize_path(const char *url, char *out, size_t cap)
{
    size_t k = 0;
    for (const unsigned char *u = (const unsigned char *)url; *u && k + 4 < cap; u++)
        out[k++] = (*u < 0x20 || *u >= 0x7f || *u == '"') ? '?' : (char)*u;
    if (url[k] && k + 4 >= cap) {
        out[k++] = '.';
        out[k++] = '.';
        out[k++] = '.';
    }
    out[k] = '\0';
}

/* MHD takes whole seconds: at least 1, at most a day. */
static unsigned timeout_secs(double s)
{
    return s >= 1 ? (unsigned)(s > 86400 ? 86400 : s) : 1;
}

/* ---- MHD callbacks ------------------------------------------------------------ */

static bool server_ready(fr_server *s, srv_sched **sched, bool *shutting)
{
    pthread_mutex_lock(&s->mu);
    bool r = s->ready;
    *shutting = s->shutting_down;
    if (sched)
        *sched = s->sched;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static enum MHD_Result first_call(srv_conn *c, const char *method)
{
    fr_server *s = c->srv;
    srv_error e = {0};
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    if (c->route == SRV_R_NONE) {
        srv_fail(&e, 404, NULL, "unknown_url", NULL,
                 "Invalid URL (%.12s %.100s): this server answers /v1/chat/completions, "
                 "/v1/completions, /v1/models, /health, /metrics, /tokenize, /detokenize, /props, "
                 "/v1/ask%s",
                 method, c->path, s->web ? ", and its web page at /" : "");
        return srv_reply_error(c, &e);
    }
    if (strcmp(method, "OPTIONS") == 0 && s->cors) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, OpenAI-Organization, OpenAI-Project");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        return queue(c, 204, r);
    }
    if (route_is_post(c->route) ? !is_post : !is_get) {
        srv_fail(&e, 405, NULL, "method_not_allowed", NULL, "Method %.12s is not allowed for %s; use %s",
                 method, c->path, route_is_post(c->route) ? "POST" : "GET");
        return srv_reply_error(c, &e);
    }
    const char *auth = check_key(c);
    if (auth) {
        srv_fail(&e, 401, "invalid_request_error", "invalid_api_key", NULL, "%s", auth);
        return srv_reply_error(c, &e);
    }
    const char *cl = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == ERANGE || n > s->max_body) {
            srv_fail(&e, 413, NULL, "request_too_large", NULL,
                     "the request body (%s bytes) is larger than this server accepts (%zu bytes; "
                     "--max-body)", cl, s->max_body);
            return srv_reply_error(c, &e);
        }
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    fr_server *s = cls;
    srv_conn *c = *con_cls;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        *con_cls = c;
        c->srv = s;
        c->mc = mc;
        c->t0 = fr_now_s();
        c->url = url;
        snprintf(c->method, sizeof c->method, "%s", method);
        sanitize_path(url, c->path, sizeof c->path);
        c->route = route_of(url, &c->ep);
        if (c->route == SRV_R_WEB && !s->web) {
            c->route = SRV_R_NONE; /* --no-web */
            c->ep = SRV_EP_OTHER;
        }
        c->body.max = s->max_body;
        return first_call(c, method);
    }
    if (*upload_size) {
        if (!c->responded && !c->too_big) {
            if (c->body.len + *upload_size > s->max_body)
                c->too_big = true;
            else
                fr_buf_append(&c->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->responded)
        return MHD_YES;
    if (c->too_big || !fr_buf_ok(&c->body)) {
        srv_error e = {0};
        srv_fail(&e, 413, NULL, "request_too_large", NULL,
                 "the request body is larger than this server accepts (%zu bytes; --max-body)",
                 s->max_body);
        return srv_reply_error(c, &e);
    }
    /* the request is in: from now on the connection waits for its answer,
     * under the generation timeout instead of the read timeout */
    MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, timeout_secs(s->timeout_s));
    return srv_handle(c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)mc;
    fr_server *s = cls;
    srv_conn *c = *con_cls;
    if (!c)
        return;
    *con_cls = NULL;
    bool gone = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN;
    int status = c->status ? c->status : 499;
    if (c->job && !c->res.done)
        gone = true;
    double ms = (fr_now_s() - c->t0) * 1000.0;
    uint32_t np = c->res.n_prompt, ng = c->res.n_generated, nc = c->res.n_cached;
    bool stream = c->has_req && c->req.stream;
    double ttft = c->job && c->res.done && c->res.n_generated ? c->res.first_token_s : -1;
    srv_conn_release(c);
    if (c->counted) {
        pthread_mutex_lock(&s->mu);
        if (--s->inflight == 0)
            pthread_cond_broadcast(&s->idle_cv);
        pthread_mutex_unlock(&s->mu);
    }
    if (c->job) {
        /* srv_conn_release waited for the scheduler; pick up the final numbers */
        np = c->res.n_prompt;
        ng = c->res.n_generated;
        nc = c->res.n_cached;
    }
    srv_log(s, "%s %s %d prompt=%u cached=%u completion=%u %.0f ms%s%s%s", c->method, c->path,
            status, np, nc, ng, ms, stream ? " stream" : "", c->stream_error ? " error-event" : "",
            gone ? " client-gone" : "");
    /* a generation the client abandoned counts as 499 (nginx's "client
     * closed request"), not as a success with a misleading latency */
    srv_metrics_request(s->metrics, c->ep, gone && c->job ? 499 : status, ms / 1000.0, ttft);
    srv_job_free(c->job);
    srv_result_clear(&c->res);
    fr_buf_free(&c->body);
    fr_buf_free(&c->out);
    free(c);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    fr_server *s = cls;
    if (!s->log)
        return;
    char line[512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    while (n > 0 && (size_t)n < sizeof line && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    srv_log(s, "http: %s", line);
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* Why binding addr fails (an errno), or 0 when it does not: MHD reports a
 * failed start without one, and "address already in use" is the message a
 * user needs. */
static int bind_error(const struct sockaddr *addr)
{
    socklen_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int e = bind(fd, addr, len) == 0 ? 0 : errno;
    close(fd);
    return e;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

fr_status fr_server_start(const fr_server_params *pp, fr_server **out, fr_err *err)
{
    *out = NULL;
    fr_server_params p;
    fr_server_params_default(&p);
    if (pp) {
        p = *pp;
        fr_server_params d;
        fr_server_params_default(&d);
        if (!p.host)
            p.host = d.host;
        if (!p.model_id)
            p.model_id = d.model_id;
        if (!p.max_queue)
            p.max_queue = d.max_queue;
        if (!(p.timeout_s > 0))
            p.timeout_s = d.timeout_s;
        if (!(p.read_timeout_s > 0))
            p.read_timeout_s = d.read_timeout_s;
        if (!p.max_body)
            p.max_body = d.max_body;
        if (!p.max_messages)
            p.max_messages = d.max_messages;
        if (!p.max_connections)
            p.max_connections = d.max_connections;
        if (!p.max_client_connections)
            p.max_client_connections = d.max_client_connections;
        if (!p.n_batch)
            p.n_batch = d.n_batch;
    }
    fr_server *s = calloc(1, sizeof *s);
    if (!s)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->host = strdup(p.host);
    s->model_id = strdup(p.model_id);
    s->cors = dup_or_null(p.cors_origin);
    s->kb_path = dup_or_null(p.kb_path);
    s->web = !p.no_web;
    s->price_kwh = p.price_kwh > 0 ? p.price_kwh : FR_DEFAULT_PRICE_KWH;
    s->max_queue = p.max_queue;
    s->max_messages = p.max_messages;
    s->max_connections = p.max_connections;
    s->n_batch = p.n_batch;
    s->timeout_s = p.timeout_s;
    s->read_timeout_s = p.read_timeout_s;
    s->max_body = p.max_body;
    s->log = p.log;
    s->log_user = p.log_user;
    s->created = (long long)time(NULL);
    if (p.sampling)
        s->defaults = *p.sampling;
    else
        fr_sampler_params_default(&s->defaults);
    s->fixed_seed = p.sampling && p.fixed_seed;
    s->defaults.logit_bias = NULL;
    s->defaults.n_logit_bias = 0;
    s->metrics = srv_metrics_create();
    if (p.api_key && *p.api_key) {
        s->has_key = true;
        sha256(p.api_key, strlen(p.api_key), s->key_digest);
    }
    fr_status st = FR_OK;
    if (!s->host || !s->model_id || !s->metrics || (p.cors_origin && *p.cors_origin && !s->cors) ||
        (p.kb_path && *p.kb_path && !s->kb_path)) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto fail;
    }
    if (s->kb_path) {
        /* a wrong --db is a start-up error, not a 500 on every request */
        fr_kb *kb = NULL;
        if ((st = fr_kb_open_readonly(s->kb_path, &kb, err))) {
            fr_err_prefix(err, "--db");
            goto fail;
        }
        fr_kb_free(kb);
    }

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(s->host, NULL, &hints, &ai);
    if (gai || !ai) {
        st = fr_err_set(err, FR_E_INVALID, "--host %s: %s (give an address such as 127.0.0.1, "
                        "0.0.0.0 or ::1)", s->host, gai ? gai_strerror(gai) : "no address");
        goto fail;
    }
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    memcpy(&sa, ai->ai_addr, ai->ai_addrlen < sizeof sa ? ai->ai_addrlen : sizeof sa);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) {
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(p.port);
        flags |= MHD_USE_IPv6;
    } else {
        ((struct sockaddr_in *)&sa)->sin_port = htons(p.port);
    }
    freeaddrinfo(ai);
    /* MHD's per-IP limit; 0 there means none */
    unsigned per_client =
        p.max_client_connections < p.max_connections ? (unsigned)p.max_client_connections : 0;
    s->d = MHD_start_daemon(flags, p.port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)p.max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_client,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_secs(p.read_timeout_s),
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, SRV_HEADER_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_END);
    if (!s->d) {
        int why = bind_error((const struct sockaddr *)&sa);
        if (why == EADDRINUSE)
            st = fr_err_set(err, FR_E_IO, "cannot listen on %s port %u: address already in use "
                            "(another server has it: choose another --port, or --port 0 for any "
                            "free one)", s->host, (unsigned)p.port);
        else
            st = fr_err_set(err, FR_E_IO, "cannot listen on %s port %u: %s", s->host,
                            (unsigned)p.port, why ? strerror(why) : "libmicrohttpd failed to start");
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : p.port;
    *out = s;
    return FR_OK;
fail:
    fr_server_free(s);
    return st;
}

uint16_t fr_server_port(const fr_server *s)
{
    return s->port;
}

fr_status fr_server_set_model(fr_server *s, const fr_server_model *m, fr_err *err)
{
    if (!m || !m->ctx || !m->tok)
        return fr_err_set(err, FR_E_INVALID, "fr_server_set_model: a context and a tokenizer are needed");
    pthread_mutex_lock(&s->mu);
    bool busy = s->ready || s->shutting_down;
    pthread_mutex_unlock(&s->mu);
    if (busy)
        return fr_err_set(err, FR_E_INVALID, "the server already has a model or is shutting down");
    s->m = *m;
    s->n_ctx = fr_context_n_ctx(m->ctx);
    s->n_slots = fr_context_n_seq(m->ctx);
    s->n_vocab = fr_model_hparams(fr_context_model(m->ctx))->n_vocab;
    if (fr_tokenizer_n_tokens(m->tok) < s->n_vocab)
        s->n_vocab = fr_tokenizer_n_tokens(m->tok);
    s->template_name = m->tmpl ? fr_chat_template_name(m->tmpl) : NULL;
    /* system_fingerprint: what decides the output for a seed - build, model
     * shape and size, context, template */
    char fp_src[512];
    const fr_model *model = fr_context_model(m->ctx);
    snprintf(fp_src, sizeof fp_src, "%s|%s|%s|%llu|%llu|%u|%s|", fr_version(), fr_commit(),
             fr_model_hparams(model)->arch, (unsigned long long)fr_model_n_params(model),
             (unsigned long long)fr_model_weight_bytes(model), s->n_ctx,
             s->template_name ? s->template_name : "-");
    uint8_t d[32];
    struct sha256_ctx hc;
    sha256_init(&hc);
    sha256_update(&hc, strlen(fp_src), (const uint8_t *)fp_src);
    if (m->variant)
        sha256_update(&hc, strlen(m->variant), (const uint8_t *)m->variant);
    sha256_digest(&hc, 32, d);
    snprintf(s->fingerprint, sizeof s->fingerprint, "fp_%02x%02x%02x%02x%02x", d[0], d[1], d[2],
             d[3], d[4]);
    srv_sched_params sp = {m->ctx, m->tok, m->meter, s->max_queue, s->n_batch, s->timeout_s};
    srv_sched *sched;
    fr_status st = srv_sched_create(&sp, &sched, err);
    if (st)
        return st;
    pthread_mutex_lock(&s->mu);
    s->sched = sched;
    s->ready = true;
    pthread_mutex_unlock(&s->mu);
    return FR_OK;
}

void fr_server_shutdown(fr_server *s, double deadline_s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    bool already = s->shutting_down;
    s->shutting_down = true;
    srv_sched *sched = s->sched;
    pthread_mutex_unlock(&s->mu);
    if (already)
        return;
    if (s->d) {
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    if (sched)
        srv_sched_drain(sched, deadline_s);
    /* Every job has ended; give their connections a moment to send what is
     * left (the final chunks or the error event) before sockets close. */
    pthread_mutex_lock(&s->mu);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 2;
    while (s->inflight > 0)
        if (pthread_cond_timedwait(&s->idle_cv, &s->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&s->mu);
    if (s->d) {
        MHD_stop_daemon(s->d);
        s->d = NULL;
    }
    pthread_mutex_lock(&s->mu);
    s->stopped = true;
    pthread_mutex_unlock(&s->mu);
}

void fr_server_free(fr_server *s)
{
    if (!s)
        return;
    fr_server_shutdown(s, 0);
    srv_sched_free(s->sched);
    srv_metrics_free(s->metrics);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->host);
    free(s->model_id);
    free(s->cors);
    free(s->kb_path);
    free(s);
}

bool srv_server_state(fr_server *s, srv_sched **sched, bool *shutting)
{
    return server_ready(s, sched, shutting);
}

bool srv_server_draining(fr_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool d = s->draining;
    pthread_mutex_unlock(&s->mu);
    return d;
}

void fr_server_drain(fr_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    bool first = !s->draining;
    s->draining = true;
    pthread_mutex_unlock(&s->mu);
    if (first)
        srv_log(s, "draining: /health answers 503 \"draining\"; requests are still served");
}
