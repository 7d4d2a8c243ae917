/*
 * chat_harmony.c - gpt-oss's answers read back (OpenAI's harmony format),
 * for fr_tool_parser's FR_TOOLS_HARMONY.
 *
 * After the prompt's "<|start|>assistant" the model writes one or more
 * messages, each a header, "<|message|>", a body and an end marker:
 *
 *   <|channel|>analysis<|message|>REASONING<|end|>
 *   <|start|>assistant<|channel|>final<|message|>ANSWER<|return|>
 *   <|start|>assistant<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>ARGS<|call|>
 *
 * The header's channel and recipient ("to=", before or after the channel,
 * as in the chat template's history) decide where the body goes: a
 * recipient makes it a tool call (name without "functions."), the analysis
 * channel reasoning, any other channel (final; commentary without a
 * recipient, the preamble to a call) content. <|call|> and <|return|> end
 * generation (they are end-of-generation tokens), so a body also ends where
 * the text does; a call is complete then if its arguments are whole JSON.
 *
 * Text that does not start like a header (a model that does not write
 * harmony) is content, as is a header that runs past 256 bytes without
 * "<|message|>". Bodies stream out as they come, less a tail that may
 * still become an end marker.
 */
#include "text/chat_impl.h"

#include <stdlib.h>
#include <string.h>

enum { H_HEAD, H_BODY, H_PLAIN };
enum { D_CONTENT, D_REASONING, D_CALL };

#define H_MESSAGE "<|message|>"
#define H_MAX_HEADER 256

static const char *const TERMS[] = {"<|end|>", "<|call|>", "<|return|>"};
#define N_TERMS (sizeof TERMS / sizeof *TERMS)

struct fr_harmony {
    int state;
    int dest;
    fr_buf hold; /* the header so far, or the body's held-back tail */
    fr_buf args; /* the current call's arguments */
    int index;   /* calls started */
    bool seen;   /* a message header was read: the text is harmony */
};

fr_harmony *fr_harmony_new(void) { return calloc(1, sizeof(fr_harmony)); }

void fr_harmony_free(fr_harmony *h)
{
    if (!h)
        return;
    fr_buf_free(&h->hold);
    fr_buf_free(&h->args);
    free(h);
}

int fr_harmony_calls(const fr_harmony *h) { return h->index; }

static bool emit(fr_tool_event_fn fn, void *user, fr_tool_ev_kind k, int index, const char *t,
                 size_t n)
{
    fr_tool_event ev = {k, index, t, n};
    return fn(user, &ev);
}

/* 1: s starts like a header, 0: too short to tell, -1: it does not. */
static int header_start(const char *s, size_t n)
{
    static const char *const starts[] = {"<|", " to=", "to="};
    bool maybe = false;
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        size_t m = strlen(starts[i]), have = n < m ? n : m;
        if (memcmp(s, starts[i], have) == 0) {
            if (have == m)
                return 1;
            maybe = true;
        }
    }
    return maybe ? 0 : -1;
}

/* The word after `key` in the header: up to a space, '<' or the end. */
static const char *header_word(const char *s, size_t n, const char *key, size_t *len)
{
    size_t kl = strlen(key);
    const char *p = memmem(s, n, key, kl);
    if (!p)
        return NULL;
    p += kl;
    const char *q = p;
    while (q < s + n && *q != ' ' && *q != '<')
        q++;
    *len = (size_t)(q - p);
    return p;
}

/* Everything held is content from here on. */
static bool go_plain(fr_harmony *h, fr_tool_event_fn fn, void *user)
{
    bool ok = !h->hold.len || emit(fn, user, FR_TOOL_EV_CONTENT, h->index, h->hold.data, h->hold.len);
    fr_buf_reset(&h->hold);
    h->state = H_PLAIN;
    return ok;
}

static bool body_out(fr_harmony *h, const char *s, size_t n, fr_tool_event_fn fn, void *user)
{
    if (!n)
        return true;
    switch (h->dest) {
    case D_REASONING: return emit(fn, user, FR_TOOL_EV_REASONING, h->index, s, n);
    case D_CALL:
        fr_buf_append(&h->args, s, n);
        return emit(fn, user, FR_TOOL_EV_ARGS, h->index, s, n);
    default: return emit(fn, user, FR_TOOL_EV_CONTENT, h->index, s, n);
    }
}

static bool end_body(fr_harmony *h, fr_tool_event_fn fn, void *user)
{
    bool ok = true;
    if (h->dest == D_CALL) {
        ok = emit(fn, user, FR_TOOL_EV_END, h->index, "", 0);
        h->index++;
        fr_buf_reset(&h->args);
    }
    h->state = H_HEAD;
    return ok;
}

/* hold has a whole header before hold[at]: where its body goes. */
static bool start_body(fr_harmony *h, size_t at, fr_tool_event_fn fn, void *user)
{
    const char *s = h->hold.data;
    size_t clen = 0, rlen = 0;
    const char *ch = header_word(s, at, "<|channel|>", &clen);
    const char *to = header_word(s, at, "to=", &rlen);
    bool ok = true;
    if (to && rlen) {
        h->dest = D_CALL;
        if (rlen > 10 && memcmp(to, "functions.", 10) == 0) {
            to += 10;
            rlen -= 10;
        }
        fr_buf_reset(&h->args);
        ok = emit(fn, user, FR_TOOL_EV_CALL, h->index, to, rlen);
    } else if (ch && clen == 8 && memcmp(ch, "analysis", 8) == 0) {
        h->dest = D_REASONING;
    } else {
        h->dest = D_CONTENT;
    }
    size_t skip = at + strlen(H_MESSAGE);
    memmove(h->hold.data, s + skip, h->hold.len - skip);
    h->hold.len -= skip;
    h->state = H_BODY;
    h->seen = true;
    return ok;
}

/* The longest tail of s[0..n) that is a proper prefix of an end marker. */
static size_t term_tail(const char *s, size_t n)
{
    size_t keep = 0;
    for (size_t t = 0; t < N_TERMS; t++)
        for (size_t k = strlen(TERMS[t]) - 1; k > keep; k--)
            if (k <= n && memcmp(s + n - k, TERMS[t], k) == 0) {
                keep = k;
                break;
            }
    return keep;
}

static bool step(fr_harmony *h, fr_tool_event_fn fn, void *user)
{
    for (;;) {
        const char *s = h->hold.data ? h->hold.data : "";
        size_t n = h->hold.len;
        if (h->state == H_HEAD) {
            if (!n)
                return true;
            int hs = header_start(s, n);
            if (hs < 0)
                return go_plain(h, fn, user);
            const char *at = memmem(s, n, H_MESSAGE, strlen(H_MESSAGE));
            if (!at)
                return n > H_MAX_HEADER ? go_plain(h, fn, user) : true;
            if ((size_t)(at - s) > H_MAX_HEADER)
                return go_plain(h, fn, user);
            if (!start_body(h, (size_t)(at - s), fn, user))
                return false;
            continue;
        }
        /* the body: up to the first end marker */
        const char *end = NULL;
        size_t tl = 0;
        for (size_t t = 0; t < N_TERMS; t++) {
            const char *p = memmem(s, n, TERMS[t], strlen(TERMS[t]));
            if (p && (!end || p < end)) {
                end = p;
                tl = strlen(TERMS[t]);
            }
        }
        if (!end) {
            size_t keep = term_tail(s, n);
            if (!body_out(h, s, n - keep, fn, user))
                return false;
            memmove(h->hold.data, s + n - keep, keep);
            h->hold.len = keep;
            return true;
        }
        size_t pre = (size_t)(end - s);
        if (!body_out(h, s, pre, fn, user) || !end_body(h, fn, user))
            return false;
        memmove(h->hold.data, s + pre + tl, n - pre - tl);
        h->hold.len = n - pre - tl;
    }
}

bool fr_harmony_feed(fr_harmony *h, const char *text, size_t len, fr_tool_event_fn fn, void *user)
{
    if (!len)
        return true;
    if (h->state == H_PLAIN)
        return emit(fn, user, FR_TOOL_EV_CONTENT, h->index, text, len);
    if (!fr_buf_append(&h->hold, text, len))
        return false;
    return step(h, fn, user);
}

bool fr_harmony_finish(fr_harmony *h, fr_tool_event_fn fn, void *user)
{
    if (h->state == H_HEAD) {
        /* a header that never got its body is dropped; text too short to tell is content
         * unless harmony was seen */
        if (!h->seen && h->hold.len && header_start(h->hold.data, h->hold.len) < 1)
            return go_plain(h, fn, user);
        fr_buf_reset(&h->hold);
        return true;
    }
    if (h->state != H_BODY)
        return true;
    bool ok = body_out(h, h->hold.data ? h->hold.data : "", h->hold.len, fn, user);
    fr_buf_reset(&h->hold);
    if (!ok)
        return false;
    if (h->dest == D_CALL) {
        /* <|call|> ended the text: the call is complete if its arguments are */
        json_t *v = json_loadb(h->args.data ? h->args.data : "", h->args.len, JSON_DECODE_ANY, NULL);
        bool whole = v != NULL;
        json_decref(v);
        if (!whole)
            return true; /* an unfinished call: what was reported stays */
    }
    return end_body(h, fn, user);
}
