/*
 * chat_tools.c - tools in chat templates: JSON as the templates print it
 * (Python's json.dumps, which transformers' `tojson` filter calls), which
 * call format a family uses, and the parser that reads tool calls back out
 * of generated text, streamed or whole (see frugal/chat.h).
 *
 * The parser is a small state machine over the generated text: content is
 * passed through except the tail that could still be the start of the
 * family's call marker ("<tool_call>", "[TOOL_CALLS]", "<|tool_call|>"; for Llama 3 a "{" at
 * the very start; for Llama 4 that or "<|python_start|>", whose text up to
 * "<|python_end|>" is content); after a marker the call is buffered and re-read from its
 * start on every piece (calls are short), so the name is reported as soon
 * as its closing quote arrives and the arguments as they grow. Text that
 * turns out not to be a call is given back as content.
 */
#include "text/chat_impl.h"

#include "base/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Python-style JSON ---------------------------------------------------------------- */

static void py_string(fr_buf *b, const char *s, size_t n)
{
    fr_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fr_buf_puts(b, "\\\""); break;
        case '\\': fr_buf_puts(b, "\\\\"); break;
        case '\n': fr_buf_puts(b, "\\n"); break;
        case '\r': fr_buf_puts(b, "\\r"); break;
        case '\t': fr_buf_puts(b, "\\t"); break;
        case '\b': fr_buf_puts(b, "\\b"); break;
        case '\f': fr_buf_puts(b, "\\f"); break;
        default:
            if (c < 0x20)
                fr_buf_printf(b, "\\u%04x", c);
            else
                fr_buf_putc(b, (char)c);
        }
    }
    fr_buf_putc(b, '"');
}

/* Python's repr() of a float: the shortest digits that read back the same,
 * fixed notation for exponents -4..15 (with ".0" when whole), else d.dde+XX. */
static void py_float(fr_buf *b, double x)
{
    if (isnan(x)) {
        fr_buf_puts(b, "NaN");
        return;
    }
    if (isinf(x)) {
        fr_buf_puts(b, x < 0 ? "-Infinity" : "Infinity");
        return;
    }
    char e[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *q = e;
    bool neg = *q == '-';
    if (neg)
        q++;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        fr_buf_putc(b, '-');
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            fr_buf_puts(b, "0.");
            for (int i = -1; i > exp10; i--)
                fr_buf_putc(b, '0');
            fr_buf_append(b, digits, nd);
        } else {
            for (int i = 0; i <= exp10; i++)
                fr_buf_putc(b, i < (int)nd ? digits[i] : '0');
            fr_buf_putc(b, '.');
            if ((int)nd > exp10 + 1)
                fr_buf_append(b, digits + exp10 + 1, nd - (size_t)exp10 - 1);
            else
                fr_buf_putc(b, '0');
        }
        return;
    }
    fr_buf_putc(b, digits[0]);
    if (nd > 1) {
        fr_buf_putc(b, '.');
        fr_buf_append(b, digits + 1, nd - 1);
    }
    fr_buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
}

static void py_indent(fr_buf *b, int indent, int level)
{
    fr_buf_putc(b, '\n');
    for (int i = 0; i < indent * level; i++)
        fr_buf_putc(b, ' ');
}

static void py_json_at(fr_buf *b, const json_t *v, int indent, int level)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            fr_buf_puts(b, "{}");
            return;
        }
        fr_buf_putc(b, '{');
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x) {
            if (!first)
                fr_buf_puts(b, indent ? "," : ", ");
            if (indent)
                py_indent(b, indent, level + 1);
            py_string(b, k, strlen(k));
            fr_buf_puts(b, ": ");
            py_json_at(b, x, indent, level + 1);
            first = false;
        }
        if (indent)
            py_indent(b, indent, level);
        fr_buf_putc(b, '}');
        return;
    }
    case JSON_ARRAY: {
        if (json_array_size(v) == 0) {
            fr_buf_puts(b, "[]");
            return;
        }
        fr_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                fr_buf_puts(b, indent ? "," : ", ");
            if (indent)
                py_indent(b, indent, level + 1);
            py_json_at(b, json_array_get(v, i), indent, level + 1);
        }
        if (indent)
            py_indent(b, indent, level);
        fr_buf_putc(b, ']');
        return;
    }
    case JSON_STRING: py_string(b, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER: fr_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); return;
    case JSON_REAL: py_float(b, json_real_value(v)); return;
    case JSON_TRUE: fr_buf_puts(b, "true"); return;
    case JSON_FALSE: fr_buf_puts(b, "false"); return;
    case JSON_NULL: fr_buf_puts(b, "null"); return;
    }
}

void fr_chat_py_json(fr_buf *b, const json_t *v, int indent) { py_json_at(b, v, indent, 0); }

/* ---- formats --------------------------------------------------------------------------- */

fr_tool_format fr_chat_template_tool_format(const fr_chat_template *t)
{
    switch (t->fam) {
    case F_LLAMA31: return FR_TOOLS_LLAMA3;
    case F_LLAMA4: return FR_TOOLS_LLAMA4;
    case F_GPT_OSS: return FR_TOOLS_HARMONY;
    case F_MISTRAL_V3:
    case F_MISTRAL_V3_TEKKEN:
    case F_MISTRAL_V7:
    case F_MISTRAL_V7_TEKKEN: return FR_TOOLS_MISTRAL;
    case F_PHI3: return t->phi4_mini_tools ? FR_TOOLS_PHI4 : FR_TOOLS_HERMES;
    default: return FR_TOOLS_HERMES;
    }
}

bool fr_tool_format_special_marker(fr_tool_format f)
{
    return f == FR_TOOLS_MISTRAL || f == FR_TOOLS_PHI4 || f == FR_TOOLS_LLAMA4 ||
           f == FR_TOOLS_HARMONY;
}

#define PY_START "<|python_start|>"
#define PY_END "<|python_end|>"

const char *const *fr_tool_special_markers(size_t *n)
{
    static const char *const m[] = {"[TOOL_CALLS]", "<|tool_call|>", "<|/tool_call|>", PY_START,
                                    PY_END,
                                    /* harmony (where <|end|> does not end generation) */
                                    "<|channel|>", "<|message|>", "<|constrain|>", "<|start|>",
                                    "<|end|>"};
    *n = sizeof m / sizeof *m;
    return m;
}

bool fr_chat_template_tools_native(const fr_chat_template *t)
{
    switch (t->fam) {
    case F_CHATML:
    case F_QWEN3:
    case F_LLAMA31:
    case F_LLAMA4:
    case F_MISTRAL_V3:
    case F_MISTRAL_V3_TEKKEN:
    case F_MISTRAL_V7:
    case F_MISTRAL_V7_TEKKEN:
    case F_GPT_OSS: return true;
    case F_PHI3: return t->phi4_mini_tools;
    default: return false;
    }
}

/* ---- the call parser ------------------------------------------------------------------- */

enum {
    TP_CONTENT, /* text; the marker may still come */
    TP_TEXT,    /* text only from here on (llama3: the answer did not start with a call) */
    TP_CALL,    /* inside a call (or a list of calls) */
    TP_DONE,    /* the calls are over; nothing more is reported */
    TP_PY       /* llama4: the text between <|python_start|> and <|python_end|> */
};

struct fr_tool_parser {
    fr_tool_format fmt;
    fr_harmony *h;        /* harmony: its own reader (chat_harmony.c) */
    int state;
    fr_buf hold;          /* content held back (a possible marker), or the call so far */
    int index;            /* calls started */
    bool named;           /* the current call's name was reported */
    bool reported;        /* a call was reported from the text held (it is not given back) */
    size_t args_sent;     /* bytes of its arguments reported */
    size_t list_off;      /* where the current call (or separator) starts in hold */
    bool after_call;      /* a call ended: mistral, ", " or "]" comes next; hermes, spaces
                             before the next call are dropped; llama4, another call or the end */
};

fr_status fr_tool_parser_create(fr_tool_format f, fr_tool_parser **out, fr_err *err)
{
    fr_tool_parser *p = calloc(1, sizeof *p);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    p->fmt = f;
    if (f == FR_TOOLS_HARMONY && !(p->h = fr_harmony_new())) {
        free(p);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    *out = p;
    return FR_OK;
}

void fr_tool_parser_free(fr_tool_parser *p)
{
    if (!p)
        return;
    fr_buf_free(&p->hold);
    fr_harmony_free(p->h);
    free(p);
}

static const char *marker(fr_tool_format f)
{
    switch (f) {
    case FR_TOOLS_HERMES: return "<tool_call>";
    case FR_TOOLS_MISTRAL: return "[TOOL_CALLS]";
    case FR_TOOLS_PHI4: return "<|tool_call|>";
    default: return "";
    }
}

/* Formats whose calls are one JSON list after the marker. */
static bool list_format(fr_tool_format f) { return f == FR_TOOLS_MISTRAL || f == FR_TOOLS_PHI4; }

/* Llama's formats: a call only as the whole answer, "parameters" for the arguments. */
static bool llama_format(fr_tool_format f) { return f == FR_TOOLS_LLAMA3 || f == FR_TOOLS_LLAMA4; }

static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && is_ws(s[i]))
        i++;
    return i;
}

/* The end of the JSON string starting at s[i] == '"', or 0 (incomplete). */
static size_t str_end(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The end of the JSON value starting at s[i], or 0 (incomplete). */
static size_t value_end(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return str_end(s, i, n);
    if (s[i] != '{' && s[i] != '[') {
        size_t k = i;
        while (k < n && !is_ws(s[k]) && s[k] != ',' && s[k] != '}' && s[k] != ']')
            k++;
        return k < n ? k : 0;
    }
    int depth = 0;
    for (size_t k = i; k < n; k++) {
        char c = s[k];
        if (c == '"') {
            size_t e = str_end(s, k, n);
            if (!e)
                return 0;
            k = e - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return k + 1;
        }
    }
    return 0;
}

/* Expects the literal lit at s[*i] (after spaces): 1 matched, 0 incomplete,
 * -1 mismatch. */
static int expect(const char *s, size_t n, size_t *i, const char *lit)
{
    size_t k = skip_ws(s, *i, n);
    size_t l = strlen(lit);
    size_t have = n - k < l ? n - k : l;
    if (memcmp(s + k, lit, have) != 0)
        return -1;
    if (have < l)
        return 0;
    *i = k + l;
    return 1;
}

typedef struct call_view {
    int state;            /* 1 complete, 0 incomplete, -1 not a call */
    size_t name_off, name_len; /* inside the quotes (escapes kept) */
    bool has_name;
    size_t args_off, args_len; /* what there is of the arguments so far */
    bool args_done;
    size_t end;           /* one past the call (complete) */
} call_view;

/* One call object {"name": "...", "arguments"|"parameters": VALUE [, "id": "..."]} at s[i]. */
static void read_call(const char *s, size_t n, size_t i, const char *args_key, call_view *v)
{
    memset(v, 0, sizeof *v);
    int r;
    static const char *const keys[] = {"{", "\"name\"", ":"};
    for (int k = 0; k < 3; k++)
        if ((r = expect(s, n, &i, keys[k])) <= 0) {
            v->state = r;
            return;
        }
    i = skip_ws(s, i, n);
    if (i >= n)
        return;
    if (s[i] != '"') {
        v->state = -1;
        return;
    }
    size_t e = str_end(s, i, n);
    if (!e)
        return;
    v->name_off = i + 1;
    v->name_len = e - i - 2;
    v->has_name = true;
    i = e;
    if ((r = expect(s, n, &i, ",")) <= 0 || (r = expect(s, n, &i, args_key)) <= 0 ||
        (r = expect(s, n, &i, ":")) <= 0) {
        v->state = r;
        return;
    }
    i = skip_ws(s, i, n);
    if (i >= n)
        return;
    if (s[i] != '{') {
        v->state = -1;
        return;
    }
    v->args_off = i;
    e = value_end(s, i, n);
    v->args_len = e ? e - i : n - i;
    if (!e)
        return;
    v->args_done = true;
    i = e;
    /* optional "id" (Mistral writes one in history), then the closing brace */
    size_t save = i;
    if ((r = expect(s, n, &i, ",")) == 1) {
        if ((r = expect(s, n, &i, "\"id\"")) <= 0 || (r = expect(s, n, &i, ":")) <= 0) {
            v->state = r;
            return;
        }
        i = skip_ws(s, i, n);
        if (i >= n)
            return;
        e = s[i] == '"' ? str_end(s, i, n) : 0;
        if (!e) {
            v->state = s[i] == '"' ? 0 : -1;
            return;
        }
        i = e;
    } else if (r == 0) {
        return;
    } else {
        i = save;
    }
    if ((r = expect(s, n, &i, "}")) <= 0) {
        v->state = r;
        return;
    }
    v->state = 1;
    v->end = i;
}

static bool emit(fr_tool_event_fn fn, void *user, fr_tool_ev_kind k, int index, const char *t,
                 size_t n)
{
    fr_tool_event ev = {k, index, t, n};
    return fn(user, &ev);
}

/* Reports what the buffered call says beyond what was reported (not its
 * end: the caller does that once what closes the call has been read). */
static bool report_call(fr_tool_parser *p, const call_view *v, const char *base, fr_tool_event_fn fn,
                        void *user)
{
    if (v->has_name && !p->named) {
        p->named = true;
        p->reported = true;
        if (!emit(fn, user, FR_TOOL_EV_CALL, p->index, base + v->name_off, v->name_len))
            return false;
    }
    if (v->args_len > p->args_sent) {
        size_t from = p->args_sent;
        p->args_sent = v->args_len;
        if (!emit(fn, user, FR_TOOL_EV_ARGS, p->index, base + v->args_off + from,
                  v->args_len - from))
            return false;
    }
    return true;
}

static bool end_call(fr_tool_parser *p, fr_tool_event_fn fn, void *user)
{
    bool ok = emit(fn, user, FR_TOOL_EV_END, p->index, "", 0);
    p->index++;
    p->named = false;
    p->args_sent = 0;
    return ok;
}

/* Gives the held text back as content and returns to content mode. */
static bool give_back(fr_tool_parser *p, fr_tool_event_fn fn, void *user)
{
    bool ok = true;
    if (p->hold.len)
        ok = emit(fn, user, FR_TOOL_EV_CONTENT, p->index, p->hold.data, p->hold.len);
    fr_buf_reset(&p->hold);
    p->state = llama_format(p->fmt) ? TP_TEXT : TP_CONTENT;
    p->named = false;
    p->reported = false;
    p->args_sent = 0;
    return ok;
}

/* The call region in hold: parse and report; finish it when complete. */
static bool step_call(fr_tool_parser *p, fr_tool_event_fn fn, void *user)
{
    const char *s = p->hold.data ? p->hold.data : "";
    size_t n = p->hold.len;
    const char *args_key = llama_format(p->fmt) ? "\"parameters\"" : "\"arguments\"";
    for (;;) {
        size_t i = p->list_off;
        int r;
        if (p->fmt == FR_TOOLS_LLAMA4 && p->after_call) {
            /* calls back to back: another one, or the end of them */
            size_t k = skip_ws(s, i, n);
            if (k == n)
                return true; /* wait */
            if (s[k] != '{') {
                p->state = TP_DONE;
                return true;
            }
            p->after_call = false;
            p->list_off = k;
            continue;
        }
        if (list_format(p->fmt) && p->after_call) {
            /* between calls of the list: ", " and another call, or "]" */
            if ((r = expect(s, n, &i, ",")) == 1) {
                p->after_call = false;
                p->list_off = i;
                continue;
            }
            size_t k = p->list_off;
            if (expect(s, n, &k, "]") == 1 || r < 0) {
                p->state = TP_DONE;
                return true;
            }
            return true; /* wait */
        }
        if (list_format(p->fmt) && i == 0) {
            /* "[TOOL_CALLS]" or "<|tool_call|>", then "[" */
            size_t k = strlen(marker(p->fmt));
            if ((r = expect(s, n, &k, "[")) < 0)
                return give_back(p, fn, user);
            if (r == 0)
                return true;
            p->list_off = i = k;
        } else if (p->fmt == FR_TOOLS_HERMES && i == 0) {
            i = strlen(marker(p->fmt));
        }
        call_view v;
        read_call(s, n, i, args_key, &v);
        if (v.state < 0) {
            if (p->named)
                return true; /* an unfinished call stays */
            if (p->reported) {
                p->state = TP_DONE; /* calls were read: the malformed rest is dropped */
                return true;
            }
            return give_back(p, fn, user);
        }
        if (!report_call(p, &v, s, fn, user))
            return false;
        if (v.state == 0)
            return true;
        /* the call object is complete: what closes it */
        size_t e = v.end;
        if (list_format(p->fmt)) {
            if (!end_call(p, fn, user))
                return false;
            p->list_off = e;
            p->after_call = true;
            continue;
        }
        if (p->fmt == FR_TOOLS_LLAMA3) {
            p->state = TP_DONE; /* one call; what follows is ignored */
            return end_call(p, fn, user);
        }
        if (p->fmt == FR_TOOLS_LLAMA4) {
            if (!end_call(p, fn, user))
                return false;
            p->list_off = e;
            p->after_call = true;
            continue;
        }
        if ((r = expect(s, n, &e, "</tool_call>")) == 0)
            return true; /* the closing tag is still coming */
        if (r < 0)
            e = v.end; /* tolerate a missing closing tag */
        if (!end_call(p, fn, user))
            return false;
        /* the rest is content again (another <tool_call> may follow); the
         * newlines between calls are not content */
        p->after_call = true;
        size_t k = skip_ws(s, e, n);
        size_t rest = n - k;
        char *tail = malloc(rest + 1);
        if (!tail)
            return false;
        memcpy(tail, s + k, rest);
        fr_buf_reset(&p->hold);
        p->reported = false;
        p->state = TP_CONTENT;
        p->list_off = 0;
        bool ok = !rest || fr_tool_parser_feed(p, tail, rest, fn, user);
        free(tail);
        return ok;
    }
}

/* The longest tail of s[0..n) that is a proper prefix of m. */
static size_t marker_tail(const char *s, size_t n, const char *m)
{
    for (size_t k = strlen(m) - 1; k > 0; k--)
        if (k <= n && memcmp(s + n - k, m, k) == 0)
            return k;
    return 0;
}

/* Llama 4: hold is the text after <|python_start|>; it is content up to
 * <|python_end|>, after which the calls come. */
static bool step_py(fr_tool_parser *p, fr_tool_event_fn fn, void *user)
{
    const char *s = p->hold.data;
    size_t n = p->hold.len;
    const char *at = memmem(s, n, PY_END, strlen(PY_END));
    if (at) {
        size_t pre = (size_t)(at - s), skip = pre + strlen(PY_END);
        if (pre && !emit(fn, user, FR_TOOL_EV_CONTENT, p->index, s, pre))
            return false;
        memmove(p->hold.data, s + skip, n - skip);
        p->hold.len = n - skip;
        p->state = TP_CALL;
        p->list_off = 0;
        p->after_call = true; /* calls, back to back, or nothing */
        return step_call(p, fn, user);
    }
    size_t keep = marker_tail(s, n, PY_END);
    if (n - keep && !emit(fn, user, FR_TOOL_EV_CONTENT, p->index, s, n - keep))
        return false;
    memmove(p->hold.data, s + n - keep, keep);
    p->hold.len = keep;
    return true;
}

bool fr_tool_parser_feed(fr_tool_parser *p, const char *text, size_t len, fr_tool_event_fn fn,
                         void *user)
{
    if (p->h)
        return fr_harmony_feed(p->h, text, len, fn, user);
    if (p->state == TP_DONE || len == 0)
        return true;
    if (p->state == TP_TEXT)
        return emit(fn, user, FR_TOOL_EV_CONTENT, p->index, text, len);
    if (!fr_buf_append(&p->hold, text, len))
        return false;
    if (p->state == TP_CALL)
        return step_call(p, fn, user);
    if (p->state == TP_PY)
        return step_py(p, fn, user);
    const char *s = p->hold.data;
    size_t n = p->hold.len;
    if (llama_format(p->fmt)) {
        /* a call only as the whole answer: the first non-space character decides */
        size_t k = skip_ws(s, 0, n);
        if (k == n)
            return true;
        if (p->fmt == FR_TOOLS_LLAMA4) {
            size_t ml = strlen(PY_START), have = n - k < ml ? n - k : ml;
            if (memcmp(s + k, PY_START, have) == 0) {
                if (have < ml)
                    return true; /* the marker may still come */
                memmove(p->hold.data, s + k + ml, n - k - ml);
                p->hold.len = n - k - ml;
                p->state = TP_PY;
                return step_py(p, fn, user);
            }
        }
        if (s[k] != '{')
            return give_back(p, fn, user);
        p->state = TP_CALL;
        p->list_off = k;
        return step_call(p, fn, user);
    }
    if (p->after_call) {
        /* right after a call: whitespace before the next call (or text) is not content */
        size_t k = skip_ws(s, 0, n);
        memmove(p->hold.data, s + k, n - k);
        p->hold.len = n -= k;
        if (!n)
            return true;
        p->after_call = false;
    }
    /* content: look for the marker in held + new text */
    const char *m = marker(p->fmt);
    size_t ml = strlen(m);
    const char *at = memmem(s, n, m, ml);
    if (at) {
        size_t pre = (size_t)(at - s);
        if (pre && !emit(fn, user, FR_TOOL_EV_CONTENT, p->index, s, pre))
            return false;
        memmove(p->hold.data, at, n - pre);
        p->hold.len = n - pre;
        p->state = TP_CALL;
        p->list_off = 0;
        return step_call(p, fn, user);
    }
    /* hold back the longest tail that is a prefix of the marker */
    size_t keep = marker_tail(s, n, m);
    if (n - keep && !emit(fn, user, FR_TOOL_EV_CONTENT, p->index, s, n - keep))
        return false;
    memmove(p->hold.data, s + n - keep, keep);
    p->hold.len = keep;
    return true;
}

bool fr_tool_parser_finish(fr_tool_parser *p, fr_tool_event_fn fn, void *user)
{
    if (p->h)
        return fr_harmony_finish(p->h, fn, user);
    if (p->state == TP_CALL && (p->named || p->after_call))
        return true; /* an unfinished call, or the end of a list that did not come: what
                        was reported stays */
    if ((p->state == TP_CALL || p->state == TP_CONTENT || p->state == TP_PY) && p->hold.len)
        return give_back(p, fn, user);
    return true;
}

int fr_tool_parser_calls(const fr_tool_parser *p) { return p->h ? fr_harmony_calls(p->h) : p->index; }
