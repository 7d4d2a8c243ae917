/* libFuzzer target: chat-template detection and rendering over hostile
 * template text (it comes from a GGUF file), with and without tools (the
 * conversation text as the tools array), the stop-string matcher over
 * arbitrary pieces, and the tool-call parser of every format over the
 * conversation text as generated output (never more text out than in).
 *
 * Input layout: byte 0 chooses flags; the rest is split at the first 0xFF
 * byte into the template text and a "conversation" text whose lines become
 * messages (roles cycle) and, for the stop matcher, stop strings + pieces. */
#include <frugal/chat.h>
#include <frugal/stop.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool count_out(void *user, const fr_tool_event *ev)
{
    *(size_t *)user += ev->len;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *sep = memchr(rest, 0xFF, n);
    size_t tlen = sep ? (size_t)(sep - rest) : n;
    const char *conv = sep ? sep + 1 : rest + n;
    size_t clen = sep ? n - tlen - 1 : 0;

    fr_chat_template *t = NULL;
    if (fr_chat_template_detect(rest, tlen, (mode & 1) ? FR_CHAT_STRICT : 0, &t, NULL) == FR_OK) {
        fr_chat_msg msgs[16];
        size_t nm = 0, start = 0;
        for (size_t i = 0; i <= clen && nm < 16; i++) {
            if (i == clen || conv[i] == '\n') {
                msgs[nm].role = (fr_chat_role)((nm + (mode >> 1)) % 3);
                msgs[nm].content = conv + start;
                msgs[nm].len = i - start;
                nm++;
                start = i + 1;
            }
        }
        fr_chat_opts o = {.add_generation_prompt = (mode & 2) != 0,
                          .no_default_system = (mode & 4) != 0,
                          .date_string = (mode & 8) ? "01 Jan 2025" : NULL};
        fr_chat_prompt p;
        if (fr_chat_render(t, msgs, nm, &o, &p, NULL) == FR_OK) {
            if (strlen(p.text) > p.len)
                abort();
            fr_chat_prompt_clear(&p);
        }
        /* the conversation text as a tools array (when it is one), every message a call */
        char *tools = malloc(clen + 1);
        if (tools) {
            memcpy(tools, conv, clen);
            tools[clen] = '\0';
            fr_chat_tool_call call = {"call_1", "f", tools};
            fr_chat_msg_tools mt[16];
            for (size_t i = 0; i < nm; i++)
                mt[i] = (fr_chat_msg_tools){&call, msgs[i].role == FR_CHAT_ASSISTANT, "call_1", "f"};
            o.tools = tools;
            o.msg_tools = mt;
            if (fr_chat_render(t, msgs, nm, &o, &p, NULL) == FR_OK)
                fr_chat_prompt_clear(&p);
            free(tools);
        }
        (void)fr_chat_template_eot(t);
        (void)fr_chat_template_warning(t);
        fr_chat_template_free(t);
    }

    /* Stop matcher: the first line(s) of the conversation are stop strings
     * (mode >> 4 of them), the rest is fed in pieces of 1..8 bytes. */
    const char *stops[16];
    size_t lens[16];
    size_t ns = 0, pos = 0;
    while (ns < (size_t)(mode >> 4) && pos < clen) {
        const char *nl = memchr(conv + pos, '\n', clen - pos);
        size_t l = nl ? (size_t)(nl - (conv + pos)) : clen - pos;
        if (l > 0) {
            stops[ns] = conv + pos;
            lens[ns] = l;
            ns++;
        }
        pos += l + 1;
    }
    /* the tool-call parsers over the conversation as generated text, in pieces */
    static const fr_tool_format fmts[] = {FR_TOOLS_HERMES, FR_TOOLS_LLAMA3, FR_TOOLS_MISTRAL,
                                          FR_TOOLS_PHI4,   FR_TOOLS_LLAMA4, FR_TOOLS_HARMONY};
    for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
        fr_tool_parser *tp = NULL;
        if (fr_tool_parser_create(fmts[f], &tp, NULL) != FR_OK)
            continue;
        size_t out = 0;
        for (size_t i = 0; i < clen;) {
            size_t l = 1 + (size_t)((unsigned char)conv[i] % 8);
            if (l > clen - i)
                l = clen - i;
            if (!fr_tool_parser_feed(tp, conv + i, l, count_out, &out))
                abort();
            i += l;
        }
        if (!fr_tool_parser_finish(tp, count_out, &out) || out > clen)
            abort();
        fr_tool_parser_free(tp);
    }

    fr_stop *s = NULL;
    if (fr_stop_create(stops, lens, ns, &s, NULL) == FR_OK) {
        size_t total = 0;
        fr_stop_result r;
        while (pos < clen) {
            size_t l = 1 + (size_t)((unsigned char)conv[pos] % 8);
            if (l > clen - pos)
                l = clen - pos;
            if (fr_stop_feed(s, conv + pos, l, &r, NULL) != FR_OK)
                abort();
            total += r.len;
            pos += l;
        }
        if (fr_stop_flush(s, &r, NULL) != FR_OK)
            abort();
        total += r.len;
        if (total > clen)
            abort(); /* never emits more than it was given */
        fr_stop_free(s);
    }
    return 0;
}
