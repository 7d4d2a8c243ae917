/*
 * response.c - OpenAI response bodies (see response.h).
 *
 * Everything is built with jansson so escaping is never hand-written; the
 * only text that may not be valid UTF-8 is a single token's bytes (a BPE
 * token can hold half a character), which srv_json_text repairs.
 */
#include "serve/response.h"

#include "base/buf.h"

#include <string.h>

const char *srv_finish_reason(fr_finish f)
{
    return f == FR_FINISH_STOP ? "stop" : "length";
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned min;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

json_t *srv_json_text(const char *s, size_t len)
{
    if (!s)
        return json_string("");
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    /* invalid UTF-8 (or a NUL, which jansson accepts in stringn): repair */
    fr_buf b = FR_BUF_INIT;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);
        if (k) {
            fr_buf_append(&b, s + i, k);
            i += k;
        } else {
            fr_buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    j = fr_buf_ok(&b) ? json_stringn(b.data ? b.data : "", b.len) : NULL;
    fr_buf_free(&b);
    return j;
}

static json_t *token_json(const fr_tokenizer *tok, int32_t id, float logprob, bool with_bytes)
{
    size_t len = 0;
    const char *p = fr_token_piece(tok, id, FR_DECODE_SPECIAL, &len);
    if (!p) {
        p = "";
        len = 0;
    }
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "token", srv_json_text(p, len));
    json_object_set_new(o, "logprob", json_real(logprob));
    if (with_bytes) {
        json_t *bytes = json_array();
        for (size_t i = 0; bytes && i < len; i++)
            json_array_append_new(bytes, json_integer((unsigned char)p[i]));
        json_object_set_new(o, "bytes", bytes ? bytes : json_null());
    }
    return o;
}

/* One entry of chat logprobs.content. */
static json_t *chat_lp_entry(const srv_resp_info *ri, const fr_sample *s)
{
    json_t *e = token_json(ri->tok, s->token, s->logprob, true);
    json_t *top = json_array();
    if (!e || !top) {
        json_decref(e);
        json_decref(top);
        return NULL;
    }
    int32_t n = s->n_top < ri->top_logprobs ? s->n_top : ri->top_logprobs;
    for (int32_t i = 0; i < n; i++)
        json_array_append_new(top, token_json(ri->tok, s->top[i].token, s->top[i].logprob, true));
    json_object_set_new(e, "top_logprobs", top);
    return e;
}

/* logprobs for pieces [p0, p1): the chat or the legacy shape; json null
 * when not asked for. */
static json_t *logprobs_json(const srv_resp_info *ri, const srv_result *r, size_t p0, size_t p1)
{
    if (!ri->logprobs)
        return json_null();
    if (ri->kind == SRV_CHAT) {
        json_t *o = json_object(), *content = json_array();
        for (size_t i = p0; content && i < p1; i++) {
            const srv_piece *p = &r->pieces[i];
            if (p->sample >= 0)
                json_array_append_new(content, chat_lp_entry(ri, &r->samples[p->sample]));
        }
        json_object_set_new(o, "content", content ? content : json_null());
        json_object_set_new(o, "refusal", json_null());
        return o;
    }
    json_t *o = json_object(), *tokens = json_array(), *lps = json_array(), *tops = json_array(),
           *offs = json_array();
    for (size_t i = p0; i < p1; i++) {
        const srv_piece *p = &r->pieces[i];
        if (p->sample < 0)
            continue;
        const fr_sample *s = &r->samples[p->sample];
        size_t len = 0;
        const char *t = fr_token_piece(ri->tok, s->token, FR_DECODE_SPECIAL, &len);
        json_array_append_new(tokens, srv_json_text(t, t ? len : 0));
        json_array_append_new(lps, json_real(s->logprob));
        json_t *top = json_object();
        int32_t n = s->n_top < ri->top_logprobs ? s->n_top : ri->top_logprobs;
        for (int32_t k = 0; top && k < n; k++) {
            size_t tl = 0;
            const char *tt = fr_token_piece(ri->tok, s->top[k].token, FR_DECODE_SPECIAL, &tl);
            json_t *key = srv_json_text(tt, tt ? tl : 0);
            /* two tokens may read the same: keep the more likely (listed first) */
            if (key && !json_object_get(top, json_string_value(key)))
                json_object_set_new(top, json_string_value(key), json_real(s->top[k].logprob));
            json_decref(key);
        }
        json_array_append_new(tops, top ? top : json_null());
        json_array_append_new(offs, json_integer((json_int_t)p->text_off));
    }
    json_object_set_new(o, "tokens", tokens);
    json_object_set_new(o, "token_logprobs", lps);
    json_object_set_new(o, "top_logprobs", tops);
    json_object_set_new(o, "text_offset", offs);
    return o;
}

json_t *srv_resp_usage(const srv_result *r)
{
    json_t *u = json_pack("{s:I, s:I, s:I, s:{s:I}, s:{s:I}}",
                          "prompt_tokens", (json_int_t)r->n_prompt,
                          "completion_tokens", (json_int_t)r->n_generated,
                          "total_tokens", (json_int_t)r->n_prompt + (json_int_t)r->n_generated,
                          "prompt_tokens_details", "cached_tokens", (json_int_t)r->n_cached,
                          "completion_tokens_details", "reasoning_tokens", (json_int_t)0);
    if (!u)
        return NULL;
    if (r->finish == FR_FINISH_CONTEXT && r->n_ctx)
        /* the answer stopped because the context was full, not at max_tokens:
         * n_ctx - prompt tokens fit, and one more (the last token is sampled
         * from the full context and needs no place in it) */
        json_object_set_new(u, "context",
                            json_pack("{s:I, s:I}", "n_ctx", (json_int_t)r->n_ctx,
                                      "completion_tokens_allowed",
                                      (json_int_t)(r->n_ctx >= r->n_prompt
                                                       ? r->n_ctx - r->n_prompt + 1
                                                       : 0)));
    json_object_set_new(u, "energy_joules", r->has_energy ? json_real(r->energy_j) : json_null());
    json_object_set_new(u, "energy_source",
                        json_string(r->has_energy && r->energy_source ? r->energy_source : "none"));
    return u;
}

static json_t *envelope(const srv_resp_info *ri, const char *object)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", ri->id, "object", object, "created",
                     (json_int_t)ri->created, "model", ri->model, "system_fingerprint",
                     ri->fingerprint);
}

static json_t *text_of(const srv_result *r, size_t p0, size_t p1)
{
    if (p0 >= p1 || !r->text.data)
        return json_string("");
    size_t a = r->pieces[p0].text_off;
    size_t b = r->pieces[p1 - 1].text_off + r->pieces[p1 - 1].text_len;
    return srv_json_text(r->text.data + a, b - a);
}

json_t *srv_resp_full(const srv_resp_info *ri, const srv_result *r)
{
    bool chat = ri->kind == SRV_CHAT;
    json_t *o = envelope(ri, chat ? "chat.completion" : "text_completion");
    json_t *choice = json_object();
    if (!o || !choice) {
        json_decref(o);
        json_decref(choice);
        return NULL;
    }
    json_t *text = srv_json_text(r->text.data ? r->text.data : "", r->text.len);
    json_object_set_new(choice, "index", json_integer(0));
    if (chat)
        json_object_set_new(choice, "message",
                            json_pack("{s:s, s:o, s:n}", "role", "assistant", "content",
                                      text ? text : json_string(""), "refusal"));
    else
        json_object_set_new(choice, "text", text ? text : json_string(""));
    json_object_set_new(choice, "logprobs", logprobs_json(ri, r, 0, r->n_pieces));
    json_object_set_new(choice, "finish_reason", json_string(srv_finish_reason(r->finish)));
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    json_object_set_new(o, "usage", srv_resp_usage(r));
    return o;
}

static json_t *chunk(const srv_resp_info *ri, json_t *choice)
{
    bool chat = ri->kind == SRV_CHAT;
    json_t *o = envelope(ri, chat ? "chat.completion.chunk" : "text_completion");
    if (!o || !choice) {
        json_decref(o);
        json_decref(choice);
        return NULL;
    }
    json_object_set_new(o, "choices", json_pack("[o]", choice));
    if (ri->include_usage)
        json_object_set_new(o, "usage", json_null());
    return o;
}

json_t *srv_chunk_role(const srv_resp_info *ri)
{
    json_t *c = json_pack("{s:i, s:{s:s, s:s}, s:n, s:n}", "index", 0, "delta", "role",
                          "assistant", "content", "", "logprobs", "finish_reason");
    return chunk(ri, c);
}

json_t *srv_chunk_pieces(const srv_resp_info *ri, const srv_result *r, size_t p0, size_t p1)
{
    json_t *c = json_object();
    if (!c)
        return NULL;
    json_object_set_new(c, "index", json_integer(0));
    if (ri->kind == SRV_CHAT)
        json_object_set_new(c, "delta", json_pack("{s:o}", "content", text_of(r, p0, p1)));
    else
        json_object_set_new(c, "text", text_of(r, p0, p1));
    json_object_set_new(c, "logprobs", logprobs_json(ri, r, p0, p1));
    json_object_set_new(c, "finish_reason", json_null());
    return chunk(ri, c);
}

json_t *srv_chunk_finish(const srv_resp_info *ri, const srv_result *r)
{
    json_t *c = json_object();
    if (!c)
        return NULL;
    json_object_set_new(c, "index", json_integer(0));
    if (ri->kind == SRV_CHAT)
        json_object_set_new(c, "delta", json_object());
    else
        json_object_set_new(c, "text", json_string(""));
    json_object_set_new(c, "logprobs", json_null());
    json_object_set_new(c, "finish_reason", json_string(srv_finish_reason(r->finish)));
    return chunk(ri, c);
}

json_t *srv_chunk_usage(const srv_resp_info *ri, const srv_result *r)
{
    json_t *o = envelope(ri, ri->kind == SRV_CHAT ? "chat.completion.chunk" : "text_completion");
    if (!o)
        return NULL;
    json_object_set_new(o, "choices", json_array());
    json_object_set_new(o, "usage", srv_resp_usage(r));
    return o;
}
