/*
 * tools_out.c - an answer's text read back as OpenAI content and
 * tool_calls (see tools.h), with fr_tool_parser doing the reading.
 *
 * Whole answers: message.content is the text outside calls (null when the
 * answer is only calls; harmony: the final channel's text, and the analysis
 * channel's in message.reasoning_content), message.tool_calls = [{"id": "call_...", "type":
 * "function", "function": {"name", "arguments": the arguments' JSON text}}]
 * and finish_reason "tool_calls".
 *
 * Streamed answers, as OpenAI streams them: text as {"content": "..."}
 * deltas (reasoning as {"reasoning_content": "..."}, as llama-server
 * streams it); a call's first delta {"tool_calls": [{"index": i, "id", "type":
 * "function", "function": {"name", "arguments": ""}}]}, then
 * {"tool_calls": [{"index": i, "function": {"arguments": "<more>"}}]} as its
 * arguments grow; so a client that concatenates the argument deltas per
 * index gets the same call as the whole answer.
 */
#include "serve/tools.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static void new_call_id(char *id)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[24];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 6364136223846793005ull + (uint64_t)ts.tv_sec;
        for (size_t i = 0; i < sizeof r; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            r[i] = (uint8_t)(x >> 56);
        }
    }
    memcpy(id, "call_", 5);
    for (int i = 0; i < 24; i++)
        id[5 + i] = al[r[i] % 62];
    id[29] = '\0';
}

static void delta(srv_tool_reader *t, json_t *d)
{
    if (!t->deltas || !d || json_array_append_new(t->deltas, d) != 0)
        t->failed = true;
}

static bool on_event(void *user, const fr_tool_event *ev)
{
    srv_tool_reader *t = user;
    if (ev->kind == FR_TOOL_EV_CONTENT) {
        if (!ev->len)
            return true;
        t->content_seen = true;
        fr_buf_append(&t->content, ev->text, ev->len);
        if (t->deltas)
            delta(t, json_pack("{s:s%}", "content", ev->text, ev->len));
        return true;
    }
    if (ev->kind == FR_TOOL_EV_REASONING) {
        if (!ev->len)
            return true;
        fr_buf_append(&t->reasoning, ev->text, ev->len);
        if (t->deltas)
            delta(t, json_pack("{s:s%}", "reasoning_content", ev->text, ev->len));
        return true;
    }
    if (ev->index < 0 || ev->index >= SRV_MAX_TOOL_CALLS)
        return true; /* past the cap: not reported */
    srv_tool_call *c = &t->calls[ev->index];
    if (ev->kind == FR_TOOL_EV_CALL) {
        if (ev->index >= t->n_calls)
            t->n_calls = ev->index + 1;
        new_call_id(c->id);
        fr_buf_append(&c->name, ev->text, ev->len);
        if (t->deltas)
            delta(t, json_pack("{s:[{s:i, s:s, s:s, s:{s:s%, s:s}}]}", "tool_calls", "index",
                               ev->index, "id", c->id, "type", "function", "function", "name",
                               ev->text, ev->len, "arguments", ""));
    } else if (ev->kind == FR_TOOL_EV_ARGS) {
        fr_buf_append(&c->args, ev->text, ev->len);
        if (t->deltas)
            delta(t, json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", ev->index,
                               "function", "arguments", ev->text, ev->len));
    } else {
        c->done = true;
    }
    return true;
}

bool srv_tool_reader_init(srv_tool_reader *t, fr_tool_format fmt)
{
    memset(t, 0, sizeof *t);
    t->harmony = fmt == FR_TOOLS_HARMONY;
    return fr_tool_parser_create(fmt, &t->p, NULL) == FR_OK;
}

void srv_tool_reader_free(srv_tool_reader *t)
{
    fr_tool_parser_free(t->p);
    fr_buf_free(&t->content);
    fr_buf_free(&t->reasoning);
    for (int i = 0; i < SRV_MAX_TOOL_CALLS; i++) {
        fr_buf_free(&t->calls[i].name);
        fr_buf_free(&t->calls[i].args);
    }
    json_decref(t->deltas);
    memset(t, 0, sizeof *t);
}

static bool start_deltas(srv_tool_reader *t)
{
    json_decref(t->deltas);
    t->deltas = json_array();
    return t->deltas != NULL;
}

bool srv_tool_reader_feed(srv_tool_reader *t, const char *text, size_t len)
{
    if (!start_deltas(t))
        return false;
    return fr_tool_parser_feed(t->p, text, len, on_event, t) && !t->failed;
}

bool srv_tool_reader_finish(srv_tool_reader *t)
{
    if (!start_deltas(t))
        return false;
    return fr_tool_parser_finish(t->p, on_event, t) && !t->failed;
}

bool srv_tool_reader_called(const srv_tool_reader *t)
{
    if (!t->n_calls)
        return false;
    for (int i = 0; i < t->n_calls; i++)
        if (!t->calls[i].done)
            return false;
    return true;
}

bool srv_tools_apply(const srv_tool_reader *t, json_t *resp)
{
    json_t *choice = json_array_get(json_object_get(resp, "choices"), 0);
    json_t *msg = json_object_get(choice, "message");
    if (!msg)
        return false;
    if (t->reasoning.len)
        json_object_set_new(msg, "reasoning_content",
                            json_stringn(t->reasoning.data, t->reasoning.len));
    if (!t->n_calls) {
        /* no call: the content is the whole text, as generated (harmony: its final
         * channel) */
        if (t->harmony)
            json_object_set_new(msg, "content", json_stringn(t->content.data ? t->content.data : "",
                                                             t->content.len));
        return true;
    }
    json_object_set_new(msg, "content",
                        t->content_seen && t->content.len
                            ? json_stringn(t->content.data, t->content.len)
                            : json_null());
    json_t *calls = json_array();
    for (int i = 0; calls && i < t->n_calls; i++) {
        const srv_tool_call *c = &t->calls[i];
        json_array_append_new(
            calls, json_pack("{s:s, s:s, s:{s:s%, s:s%}}", "id", c->id, "type", "function",
                             "function", "name", c->name.data ? c->name.data : "", c->name.len,
                             "arguments", c->args.data ? c->args.data : "", c->args.len));
    }
    if (!calls)
        return false;
    json_object_set_new(msg, "tool_calls", calls);
    const char *fin = json_string_value(json_object_get(choice, "finish_reason"));
    if (srv_tool_reader_called(t) && fin && strcmp(fin, "stop") == 0)
        json_object_set_new(choice, "finish_reason", json_string("tool_calls"));
    return true;
}
