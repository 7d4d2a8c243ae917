/*
 * handlers.c - the endpoints, once http.c has routed the request, checked
 * method, key and size, and read the body.
 *
 * Generation (chat and completions) runs in four steps in the request's
 * own thread: parse and validate the body (400), build the prompt tokens
 * (chat template or tokenizer, as `frugal run` does; 400 when it does not
 * fit the context, naming both numbers), set up and submit a job (503 when
 * the queue is full), then either wait for the whole answer or return an
 * event-stream response whose reader (srv_sse_read) turns the job's pieces
 * into chunks as they arrive.
 */
#include "serve/server_impl.h"
#include "serve/tools.h"

#include "base/clock.h"
#include "text/chat_tokens.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- small endpoints ------------------------------------------------------------ */

static json_t *model_object(fr_server *s)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", s->model_id, "object", "model", "created",
                     (json_int_t)s->created, "owned_by", "frugal");
}

static enum MHD_Result handle_models(srv_conn *c)
{
    fr_server *s = c->srv;
    if (c->route == SRV_R_MODEL) {
        const char *id = c->url + strlen("/v1/models/");
        if (strcmp(id, s->model_id) != 0) {
            srv_error e = {0};
            srv_fail(&e, 404, NULL, "model_not_found", "model",
                     "The model '%.200s' does not exist; this server serves '%s'.", id, s->model_id);
            return srv_reply_error(c, &e);
        }
        return srv_reply_json(c, 200, model_object(s));
    }
    return srv_reply_json(c, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", model_object(s)));
}

/* Readiness, for load balancers and orchestrators: 200 only while new
 * requests are welcome. 503 "loading" before the model is in, "draining"
 * after fr_server_drain (requests are still served, so a balancer that
 * polls /health takes the replica out before its listener closes), and
 * "shutting_down" once it stops accepting. */
static enum MHD_Result handle_health(srv_conn *c, bool ready, bool shutting)
{
    srv_error e = {0};
    if (shutting) {
        srv_fail(&e, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
        return srv_reply_error(c, &e);
    }
    if (srv_server_draining(c->srv)) {
        srv_fail(&e, 503, "server_error", "draining", NULL,
                 "the server is draining: it finishes what it has and stops soon");
        return srv_reply_error(c, &e);
    }
    if (!ready) {
        srv_fail(&e, 503, "server_error", "loading", NULL, "the model is loading");
        return srv_reply_error(c, &e);
    }
    return srv_reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

static enum MHD_Result handle_metrics(srv_conn *c, srv_sched *sched)
{
    fr_buf b = FR_BUF_INIT;
    srv_sched_stats st;
    if (sched)
        srv_sched_stats_get(sched, &st);
    srv_metrics_render(c->srv->metrics, sched ? &st : NULL, &b);
    size_t len = b.len;
    char *text = fr_buf_take(&b);
    return srv_reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static enum MHD_Result handle_props(srv_conn *c, srv_sched *sched)
{
    fr_server *s = c->srv;
    const fr_sampler_params *d = &s->defaults;
    srv_sched_stats st;
    srv_sched_stats_get(sched, &st);
    char build[128];
    snprintf(build, sizeof build, "frugal %s (%s)", fr_version(), fr_commit());
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:I}",
                          "model", s->model_id, "n_ctx", (json_int_t)s->n_ctx,
                          "n_vocab", (json_int_t)s->n_vocab,
                          "total_slots", (json_int_t)s->n_slots,
                          "chat_template", s->template_name ? s->template_name : "",
                          "system_fingerprint", s->fingerprint, "build_info", build,
                          "max_queue", (json_int_t)s->max_queue,
                          "max_body_bytes", (json_int_t)s->max_body);
    if (!o)
        return MHD_NO;
    json_object_set_new(o, "energy_source", json_string(st.energy_source ? st.energy_source : "none"));
    /* what the web page needs to know: /v1/ask is on, and the price it
     * turns joules into dollars with */
    json_object_set_new(o, "ask", json_boolean(s->kb_path != NULL));
    json_object_set_new(o, "price_kwh", json_real(s->price_kwh));
    json_object_set_new(o, "default_generation_settings",
                        json_pack("{s:f, s:i, s:f, s:f, s:f, s:f, s:f, s:i}",
                                  "temperature", (double)d->temperature, "top_k", (int)d->top_k,
                                  "top_p", (double)d->top_p, "min_p", (double)d->min_p,
                                  "repeat_penalty", (double)d->repeat_penalty,
                                  "presence_penalty", (double)d->presence_penalty,
                                  "frequency_penalty", (double)d->frequency_penalty,
                                  "repeat_last_n", (int)d->penalty_last_n));
    return srv_reply_json(c, 200, o);
}

static enum MHD_Result handle_tokenize(srv_conn *c)
{
    fr_server *s = c->srv;
    srv_error e = {0};
    srv_tokenize_req r;
    if (!srv_tokenize_parse(c->body.data, c->body.len, &r, &e))
        return srv_reply_error(c, &e);
    fr_encode_opts eo = {r.add_special ? -1 : 0, r.add_special ? -1 : 0, r.parse_special};
    int32_t *ids = NULL;
    size_t n = 0;
    fr_err err;
    enum MHD_Result rc;
    if (fr_tokenize(s->m.tok, r.content, r.len, &eo, &ids, &n, &err) != FR_OK) {
        srv_fail(&e, 400, NULL, NULL, "content", "cannot tokenize: %s", err.msg);
        rc = srv_reply_error(c, &e);
        goto done;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (r.with_pieces) {
            size_t len = 0;
            const char *p = fr_token_piece(s->m.tok, ids[i], FR_DECODE_SPECIAL, &len);
            json_array_append_new(a, json_pack("{s:i, s:o}", "id", (int)ids[i], "piece",
                                               srv_json_text(p, p ? len : 0)));
        } else {
            json_array_append_new(a, json_integer(ids[i]));
        }
    }
    rc = srv_reply_json(c, 200, a ? json_pack("{s:o}", "tokens", a) : NULL);
done:
    free(ids);
    json_decref(r.root);
    return rc;
}

static enum MHD_Result handle_detokenize(srv_conn *c)
{
    fr_server *s = c->srv;
    srv_error e = {0};
    srv_detokenize_req r;
    if (!srv_detokenize_parse(c->body.data, c->body.len, s->n_vocab, &r, &e))
        return srv_reply_error(c, &e);
    char *text = NULL;
    size_t len = 0;
    fr_err err;
    enum MHD_Result rc;
    if (fr_detokenize(s->m.tok, r.ids, r.n, 0, &text, &len, &err) != FR_OK) {
        srv_fail(&e, 400, NULL, NULL, "tokens", "cannot detokenize: %s", err.msg);
        rc = srv_reply_error(c, &e);
    } else {
        rc = srv_reply_json(c, 200, json_pack("{s:o}", "content", srv_json_text(text, len)));
    }
    free(text);
    free(r.ids);
    return rc;
}

/* ---- generation ------------------------------------------------------------------ */

static uint64_t random_seed(void)
{
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec;
    }
    return x;
}

/* The prompt's tokens, as `frugal run` (--chat) builds them. */
static bool build_prompt(srv_conn *c, int32_t **ids, size_t *n, srv_error *e)
{
    fr_server *s = c->srv;
    const srv_request *r = &c->req;
    fr_err err;
    *ids = NULL;
    *n = 0;
    if (r->kind == SRV_CHAT) {
        if (!s->m.tmpl)
            return srv_fail(e, 400, NULL, NULL, "messages",
                            "this server has no chat template; use /v1/completions");
        if (fr_chat_tokenize_tools(s->m.tmpl, s->m.tok, r->msgs, r->n_msgs, r->tools_text,
                                   r->msg_tools, true, ids, n, &err) != FR_OK)
            return srv_fail(e, 400, NULL, NULL, "messages", "cannot build the prompt: %s", err.msg);
    } else if (r->prompt_ids) {
        *ids = malloc(r->n_prompt_ids * sizeof **ids);
        if (!*ids)
            return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        memcpy(*ids, r->prompt_ids, r->n_prompt_ids * sizeof **ids);
        *n = r->n_prompt_ids;
    } else {
        fr_encode_opts eo = {-1, 0, true};
        if (fr_tokenize(s->m.tok, r->prompt, r->prompt_len, &eo, ids, n, &err) != FR_OK)
            return srv_fail(e, 400, NULL, NULL, "prompt", "cannot tokenize the prompt: %s", err.msg);
    }
    if (*n == 0) {
        int32_t bos = fr_tokenizer_bos(s->m.tok);
        if (bos < 0) {
            free(*ids);
            *ids = NULL;
            return srv_fail(e, 400, NULL, NULL, r->kind == SRV_CHAT ? "messages" : "prompt",
                            "the prompt is empty and the model has no BOS token to start from");
        }
        int32_t *one = realloc(*ids, sizeof *one);
        if (!one) {
            free(*ids);
            *ids = NULL;
            return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        }
        one[0] = bos;
        *ids = one;
        *n = 1;
    }
    if (*n >= s->n_ctx) {
        size_t got = *n;
        free(*ids);
        *ids = NULL;
        return srv_fail(e, 400, NULL, "context_length_exceeded",
                        r->kind == SRV_CHAT ? "messages" : "prompt",
                        "This model's maximum context length is %u tokens. However, your %s "
                        "resulted in %zu tokens (leave room for the answer: shorten it, or start "
                        "the server with a larger --ctx).",
                        s->n_ctx, r->kind == SRV_CHAT ? "messages" : "prompt", got);
    }
    return true;
}

static enum MHD_Result handle_generate(srv_conn *c, srv_kind kind, srv_sched *sched)
{
    fr_server *s = c->srv;
    srv_error e = {0};
    srv_limits lim = {s->max_messages, s->n_ctx, s->n_vocab, &s->defaults};
    if (!srv_request_parse(kind, c->body.data, c->body.len, &lim, &c->req, &e))
        return srv_reply_error(c, &e);
    c->has_req = true;
    if (strcmp(c->req.model, s->model_id) != 0) {
        srv_fail(&e, 404, NULL, "model_not_found", "model",
                 "The model '%.200s' does not exist; this server serves '%s' (GET /v1/models).",
                 c->req.model, s->model_id);
        return srv_reply_error(c, &e);
    }
    if (c->req.n_docs)
        return srv_handle_grounded_chat(c, sched);
    int32_t *ids;
    size_t n;
    if (!build_prompt(c, &ids, &n, &e))
        return srv_reply_error(c, &e);

    fr_gen_params gp;
    fr_gen_params_default(&gp);
    gp.max_tokens = c->req.max_tokens;
    gp.sampling = c->req.sampling;
    if (!c->req.seed_given && !s->fixed_seed)
        gp.sampling.seed = random_seed();
    const char *stops[SRV_MAX_STOP + 1];
    size_t n_stop = 0;
    for (size_t i = 0; i < c->req.n_stop; i++)
        stops[n_stop++] = c->req.stop[i];
    if (kind == SRV_CHAT && s->m.tmpl && fr_chat_template_eot(s->m.tmpl)[0])
        stops[n_stop++] = fr_chat_template_eot(s->m.tmpl);
    gp.stop = stops;
    gp.n_stop = n_stop;

    /* structured output and tools: the constraint, and a reader for the calls */
    fr_constraint *cons = NULL;
    fr_tool_format fmt = s->m.tmpl ? fr_chat_template_tool_format(s->m.tmpl) : FR_TOOLS_HERMES;
    if (kind == SRV_CHAT && !srv_structured_constraint(&c->req, fmt, s->gvocab, &cons, &e)) {
        free(ids);
        return srv_reply_error(c, &e);
    }
    /* harmony (gpt-oss): the answer is always read back, its analysis channel becoming
     * reasoning_content and its final channel the content */
    bool harmony = kind == SRV_CHAT && fmt == FR_TOOLS_HARMONY;
    if (harmony ||
        (kind == SRV_CHAT && srv_tools_on(&c->req) && c->req.tool_choice != FR_TOOL_CHOICE_NONE)) {
        if (fr_tool_format_special_marker(fmt))
            gp.decode_flags |= FR_DECODE_SPECIAL; /* the call marker is a special token */
        c->tools = malloc(sizeof *c->tools);
        if (!c->tools || !srv_tool_reader_init(c->tools, fmt)) {
            free(c->tools);
            c->tools = NULL;
            free(ids);
            fr_constraint_free(cons);
            srv_fail(&e, 500, NULL, NULL, NULL, "out of memory");
            return srv_reply_error(c, &e);
        }
    }
    c->job = srv_job_create();
    if (!c->job) {
        free(ids);
        fr_constraint_free(cons);
        srv_fail(&e, 500, NULL, NULL, NULL, "out of memory");
        return srv_reply_error(c, &e);
    }
    bool ok = srv_job_setup(c->job, s->m.tok, s->n_vocab, ids, n, &gp, cons, &e);
    free(ids);
    if (!ok)
        return srv_reply_error(c, &e);
    c->res.n_prompt = (uint32_t)n;
    if (!srv_sched_submit(sched, c->job, &e)) {
        srv_job_free(c->job);
        c->job = NULL;
        return srv_reply_error(c, &e);
    }
    c->sched = sched;
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    c->counted = true;
    pthread_mutex_unlock(&s->mu);
    srv_new_id(c, kind == SRV_CHAT ? "chatcmpl" : "cmpl");
    c->ri = (srv_resp_info){kind, c->id, (long long)time(NULL), s->model_id, s->fingerprint,
                            c->req.logprobs, c->req.top_logprobs, c->req.include_usage, s->m.tok};
    if (c->req.stream)
        return srv_reply_sse(c);
    while (!c->res.done) {
        srv_sched_collect(sched, c->job, &c->res, 0.1);
        if (!c->res.done && srv_client_gone(c)) {
            srv_sched_cancel(sched, c->job);
            srv_sched_collect(sched, c->job, &c->res, 0);
            return MHD_NO;
        }
    }
    if (c->res.err.status)
        return srv_reply_error(c, &c->res.err);
    json_t *resp = srv_resp_full(&c->ri, &c->res);
    if (resp && c->tools &&
        (!srv_tool_reader_feed(c->tools, c->res.text.data ? c->res.text.data : "",
                               c->res.text.len) ||
         !srv_tool_reader_finish(c->tools) || !srv_tools_apply(c->tools, resp))) {
        json_decref(resp);
        resp = NULL;
    }
    return srv_reply_json(c, 200, resp);
}

/* ---- streaming -------------------------------------------------------------------- */

static void sse_event(srv_conn *c, json_t *j)
{
    if (!j)
        return;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return;
    fr_buf_puts(&c->out, "data: ");
    fr_buf_puts(&c->out, text);
    fr_buf_puts(&c->out, "\n\n");
    free(text);
}

/* The deltas the tool reader made of the last piece, one chunk each. */
static void sse_tool_deltas(srv_conn *c, bool ok)
{
    if (!ok) {
        c->stream_error = true;
        return;
    }
    json_t *d = c->tools->deltas;
    for (size_t k = 0; d && k < json_array_size(d); k++)
        sse_event(c, srv_chunk_delta(&c->ri, json_incref(json_array_get(d, k))));
}

ssize_t srv_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    srv_conn *c = cls;
    for (;;) {
        if (c->out_pos < c->out.len) {
            size_t n = c->out.len - c->out_pos;
            if (n > max)
                n = max;
            memcpy(buf, c->out.data + c->out_pos, n);
            c->out_pos += n;
            return (ssize_t)n;
        }
        fr_buf_reset(&c->out);
        c->out_pos = 0;
        if (c->sse_state == 2)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (c->sse_state == 0) {
            if (c->ri.kind == SRV_CHAT)
                sse_event(c, srv_chunk_role(&c->ri));
            c->sse_state = 1;
            continue;
        }
        if (c->sent_pieces == c->res.n_pieces && !c->res.done) {
            bool news = srv_sched_collect(c->sched, c->job, &c->res, 0.1);
            if (!news) {
                if (srv_client_gone(c)) {
                    srv_sched_cancel(c->sched, c->job);
                    srv_sched_collect(c->sched, c->job, &c->res, 0);
                    return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                continue;
            }
        }
        for (size_t i = c->sent_pieces; i < c->res.n_pieces; i++) {
            const srv_piece *p = &c->res.pieces[i];
            if (c->tools) {
                /* text becomes content or tool-call deltas */
                if (p->text_len)
                    sse_tool_deltas(c, srv_tool_reader_feed(c->tools, c->res.text.data + p->text_off,
                                                            p->text_len));
            } else if (p->text_len || (c->ri.logprobs && p->sample >= 0)) {
                sse_event(c, srv_chunk_pieces(&c->ri, &c->res, i, i + 1));
            }
        }
        c->sent_pieces = c->res.n_pieces;
        if (c->res.done) {
            if (c->tools && !c->res.err.status)
                sse_tool_deltas(c, srv_tool_reader_finish(c->tools));
            if (c->res.err.status) {
                c->stream_error = true;
                sse_event(c, srv_error_json(&c->res.err));
            } else if (c->tools && srv_tool_reader_called(c->tools) &&
                       c->res.finish == FR_FINISH_STOP) {
                sse_event(c, srv_chunk_finish_as(&c->ri, "tool_calls"));
                if (c->ri.include_usage)
                    sse_event(c, srv_chunk_usage(&c->ri, &c->res));
                fr_buf_puts(&c->out, "data: [DONE]\n\n");
            } else {
                sse_event(c, srv_chunk_finish(&c->ri, &c->res));
                if (c->ri.include_usage)
                    sse_event(c, srv_chunk_usage(&c->ri, &c->res));
                fr_buf_puts(&c->out, "data: [DONE]\n\n");
            }
            c->sse_state = 2;
        }
        if (!fr_buf_ok(&c->out))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

void srv_conn_release(srv_conn *c)
{
    if (c->job && c->sched && !c->res.done) {
        srv_sched_cancel(c->sched, c->job);
        srv_sched_collect(c->sched, c->job, &c->res, 0);
    }
    if (c->has_req) {
        srv_request_free(&c->req);
        c->has_req = false;
    }
    if (c->tools) {
        srv_tool_reader_free(c->tools);
        free(c->tools);
        c->tools = NULL;
    }
}

/* ---- dispatch ---------------------------------------------------------------------- */

enum MHD_Result srv_handle(srv_conn *c)
{
    srv_sched *sched = NULL;
    bool shutting = false;
    bool ready = srv_server_state(c->srv, &sched, &shutting);
    switch (c->route) {
    case SRV_R_HEALTH: return handle_health(c, ready, shutting);
    case SRV_R_MODELS:
    case SRV_R_MODEL: return handle_models(c);
    case SRV_R_METRICS: return handle_metrics(c, ready ? sched : NULL);
    case SRV_R_WEB: return srv_handle_web(c);
    default: break;
    }
    srv_error e = {0};
    if (shutting) {
        srv_fail(&e, 503, "server_error", "shutting_down", NULL,
                 "the server is shutting down; retry on another replica");
        return srv_reply_error(c, &e);
    }
    if (!ready) {
        srv_fail(&e, 503, "server_error", "loading", NULL, "the model is loading; retry shortly");
        return srv_reply_error(c, &e);
    }
    switch (c->route) {
    case SRV_R_CHAT: return handle_generate(c, SRV_CHAT, sched);
    case SRV_R_COMPLETIONS: return handle_generate(c, SRV_COMPLETION, sched);
    case SRV_R_TOKENIZE: return handle_tokenize(c);
    case SRV_R_DETOKENIZE: return handle_detokenize(c);
    case SRV_R_PROPS: return handle_props(c, sched);
    case SRV_R_ASK: return srv_handle_ask(c, sched);
    default: break;
    }
    srv_fail(&e, 404, NULL, "unknown_url", NULL, "Invalid URL (%s)", c->path);
    return srv_reply_error(c, &e);
}
