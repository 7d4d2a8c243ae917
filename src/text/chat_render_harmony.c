/*
 * chat_render_harmony.c - gpt-oss's harmony format as OpenAI's chat
 * template prints it (called from chat_render.c; the template text is
 * tests/data/chat/gpt-oss.jinja).
 *
 *   system:     a message the template writes itself: identity, knowledge
 *               cutoff, today's date, "Reasoning: medium", the valid
 *               channels (and, with tools, that calls go to the commentary
 *               channel)
 *   developer:  the conversation's first system message under
 *               "# Instructions", then the tools under "# Tools" as a
 *               TypeScript-like `namespace functions { type NAME = (_: {
 *               ... }) => any; }` (render_typescript_type, whitespace and
 *               all: a nested object's members start on an indented line,
 *               as jinja2 prints that macro)
 *   user:       <|start|>user<|message|>U<|end|>
 *   assistant:  earlier answers on the final channel; a call as
 *               <|start|>assistant to=functions.NAME<|channel|>commentary
 *               json<|message|>ARGS<|call|>, its content as an analysis
 *               message before it while no final answer follows
 *   tool:       <|start|>functions.NAME to=assistant<|channel|>commentary
 *               <|message|>"RESULT as a JSON string"<|end|>
 *   prompt:     <|start|>assistant (the model writes its channel header)
 *
 * The template renders only an assistant message's first call (the model
 * makes one per turn); we render each call as its own message, and name a
 * result after the call it answers (by id), else after the last call, as
 * the template does. A tool without a description, which the template
 * cannot render, gets no comment line.
 */
#include "text/chat_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(fr_buf *b, const char *s, size_t n) { fr_buf_append(b, s, n); }
static void puts_(fr_buf *b, const char *s) { fr_buf_puts(b, s); }

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool str_is(const json_t *o, const char *k, const char *v)
{
    const char *s = str(o, k);
    return s && strcmp(s, v) == 0;
}

/* Python's truth value of a JSON value ({} [] "" 0 false null are false). */
static bool truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT: return json_object_size(v) > 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_TRUE: return true;
    default: return false;
    }
}

/* Jinja's `x + ""` of a scalar: a string as it is, anything else as JSON. */
static void put_text(fr_buf *b, const json_t *v)
{
    if (json_is_string(v))
        put(b, json_string_value(v), json_string_length(v));
    else
        fr_chat_py_json(b, v, 0);
}

/* A comment line: "// " + text + "\n". */
static void comment(fr_buf *b, const json_t *text)
{
    puts_(b, "// ");
    put_text(b, text);
    puts_(b, "\n");
}

static bool in_list(const json_t *list, const char *name)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (json_string_value(json_array_get(list, i)) &&
            strcmp(json_string_value(json_array_get(list, i)), name) == 0)
            return true;
    return false;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xc0) != 0x80;
    return k;
}

/* render_typescript_type(param_spec, ...). Nesting is bounded by the
 * request's JSON depth (jansson's limit). */
static void ts_type(fr_buf *b, const json_t *p)
{
    const json_t *type = json_object_get(p, "type");
    const char *ts = json_string_value(type);
    bool nullable = json_is_true(json_object_get(p, "nullable"));
    if (ts && strcmp(ts, "array") == 0) {
        const json_t *items = json_object_get(p, "items");
        if (!items) {
            puts_(b, "any[]");
        } else if (str_is(items, "type", "string")) {
            puts_(b, "string[]");
        } else if (str_is(items, "type", "number") || str_is(items, "type", "integer")) {
            puts_(b, "number[]");
        } else if (str_is(items, "type", "boolean")) {
            puts_(b, "boolean[]");
        } else {
            fr_buf inner = FR_BUF_INIT;
            ts_type(&inner, items);
            const char *s = inner.data ? inner.data : "";
            if ((inner.len == 15 && memcmp(s, "object | object", 15) == 0) ||
                utf8_chars(s, inner.len) > 50)
                puts_(b, "any[]");
            else {
                put(b, s, inner.len);
                puts_(b, "[]");
            }
            fr_buf_free(&inner);
        }
        if (nullable)
            puts_(b, " | null");
        return;
    }
    if (json_is_array(type) && json_array_size(type) > 0) {
        /* a list of types, joined */
        for (size_t i = 0; i < json_array_size(type); i++) {
            if (i)
                puts_(b, " | ");
            put_text(b, json_array_get(type, i));
        }
        return;
    }
    const json_t *one_of = json_object_get(p, "oneOf");
    if (truthy(one_of)) {
        /* (the template's "any" for object variants never applies: its flag is set inside
         * a loop, which in Jinja does not reach outside it) */
        for (size_t i = 0; i < json_array_size(one_of); i++) {
            const json_t *v = json_array_get(one_of, i);
            ts_type(b, v);
            if (truthy(json_object_get(v, "description"))) {
                puts_(b, "// ");
                put_text(b, json_object_get(v, "description"));
            }
            if (json_object_get(v, "default")) {
                puts_(b, "                    // default: ");
                fr_chat_py_json(b, json_object_get(v, "default"), 0);
            }
            if (i + 1 < json_array_size(one_of))
                puts_(b, " | \n");
        }
        return;
    }
    if (ts && strcmp(ts, "string") == 0) {
        const json_t *en = json_object_get(p, "enum");
        if (truthy(en)) {
            puts_(b, "\"");
            for (size_t i = 0; i < json_array_size(en); i++) {
                if (i)
                    puts_(b, "\" | \"");
                put_text(b, json_array_get(en, i));
            }
            puts_(b, "\"");
        } else {
            puts_(b, nullable ? "string | null" : "string");
        }
        return;
    }
    if (ts && (strcmp(ts, "number") == 0 || strcmp(ts, "integer") == 0)) {
        puts_(b, "number");
        return;
    }
    if (ts && strcmp(ts, "boolean") == 0) {
        puts_(b, "boolean");
        return;
    }
    if (ts && strcmp(ts, "object") == 0) {
        const json_t *props = json_object_get(p, "properties");
        if (!truthy(props)) {
            puts_(b, "object");
            return;
        }
        const json_t *req = json_object_get(p, "required");
        puts_(b, "{\n");
        const char *k;
        json_t *v;
        size_t i = 0, n = json_object_size(props);
        json_object_foreach((json_t *)props, k, v) {
            puts_(b, k);
            if (!in_list(req, k))
                puts_(b, "?");
            puts_(b, ": \n                ");
            ts_type(b, v);
            if (++i < n)
                puts_(b, ", ");
        }
        puts_(b, "}");
        return;
    }
    puts_(b, "any");
}

/* render_tool_namespace("functions", tools) */
static void tool_namespace(fr_buf *b, const json_t *tools)
{
    puts_(b, "## functions\n\nnamespace functions {\n\n");
    for (size_t t = 0; t < json_array_size(tools); t++) {
        const json_t *f = json_object_get(json_array_get(tools, t), "function");
        if (json_object_get(f, "description"))
            comment(b, json_object_get(f, "description"));
        puts_(b, "type ");
        puts_(b, str(f, "name") ? str(f, "name") : "");
        puts_(b, " = ");
        const json_t *params = json_object_get(f, "parameters");
        const json_t *props = json_object_get(params, "properties");
        if (!truthy(params) || !truthy(props)) {
            puts_(b, "() => any;\n\n");
            continue;
        }
        const json_t *req = json_object_get(params, "required");
        puts_(b, "(_: {\n");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)props, k, v) {
            if (truthy(json_object_get(v, "description")))
                comment(b, json_object_get(v, "description"));
            puts_(b, k);
            if (!in_list(req, k))
                puts_(b, "?");
            puts_(b, ": ");
            ts_type(b, v);
            const json_t *def = json_object_get(v, "default");
            if (def) {
                if (truthy(json_object_get(v, "enum"))) {
                    puts_(b, ", // default: ");
                    put_text(b, def);
                } else if (truthy(json_object_get(v, "oneOf"))) {
                    puts_(b, "// default: ");
                    put_text(b, def);
                } else {
                    puts_(b, ", // default: ");
                    fr_chat_py_json(b, def, 0);
                }
            }
            puts_(b, ",\n");
        }
        puts_(b, "}) => any;\n\n");
    }
    puts_(b, "} // namespace functions");
}

/* The name of the function that message i (a tool result) answers: the
 * call with its id among the calls before it, else the last call made. */
static const char *result_name(const render_ctx *c, size_t i, const char *last)
{
    const fr_chat_msg_tools *r = msg_tools(c, i);
    if (r && r->call_id)
        for (size_t j = i; j-- > 0;) {
            const fr_chat_msg_tools *t = msg_tools(c, j);
            for (size_t k = 0; t && k < t->n_calls; k++)
                if (t->calls[k].id && strcmp(t->calls[k].id, r->call_id) == 0)
                    return t->calls[k].name ? t->calls[k].name : "";
        }
    if (last)
        return last;
    return r && r->name ? r->name : "";
}

void fr_render_gpt_oss(render_ctx *c, const char *date)
{
    puts_(c->b, "<|start|>system<|message|>You are ChatGPT, a large language model trained by "
                "OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: ");
    puts_(c->b, date);
    puts_(c->b, "\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel "
                "must be included for every message.");
    if (c->tools)
        puts_(c->b, "\nCalls to these tools must go to the commentary channel: 'functions'.");
    puts_(c->b, "<|end|>");
    size_t i = 0;
    bool dev = false;
    if (c->n && c->m[0].role == FR_CHAT_SYSTEM) {
        dev = c->m[0].len > 0;
        i = 1;
    }
    if (dev || c->tools) {
        puts_(c->b, "<|start|>developer<|message|>");
        if (dev) {
            puts_(c->b, "# Instructions\n\n");
            put(c->b, c->m[0].content, c->m[0].len);
            puts_(c->b, "\n\n");
        }
        if (c->tools) {
            puts_(c->b, "# Tools\n\n");
            tool_namespace(c->b, c->tools);
        }
        puts_(c->b, "<|end|>");
    }
    const char *last_call = NULL;
    for (; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_USER) {
            puts_(c->b, "<|start|>user<|message|>");
            put(c->b, m->content, m->len);
            puts_(c->b, "<|end|>");
        } else if (m->role == FR_CHAT_ASSISTANT && msg_n_calls(c, i)) {
            bool final_follows = false;
            for (size_t j = i + 1; j < c->n; j++)
                final_follows |= c->m[j].role == FR_CHAT_ASSISTANT && !msg_n_calls(c, j);
            if (m->len && !final_follows) {
                puts_(c->b, "<|start|>assistant<|channel|>analysis<|message|>");
                put(c->b, m->content, m->len);
                puts_(c->b, "<|end|>");
            }
            const fr_chat_msg_tools *t = msg_tools(c, i);
            for (size_t k = 0; k < t->n_calls; k++) {
                const char *name = t->calls[k].name ? t->calls[k].name : "";
                puts_(c->b, "<|start|>assistant to=functions.");
                puts_(c->b, name);
                puts_(c->b, "<|channel|>commentary json<|message|>");
                fr_chat_put_args(c->b, t->calls[k].arguments);
                puts_(c->b, "<|call|>");
                last_call = name;
            }
        } else if (m->role == FR_CHAT_ASSISTANT) {
            puts_(c->b, "<|start|>assistant<|channel|>final<|message|>");
            put(c->b, m->content, m->len);
            /* the template's last-turn-without-prompt case ends in <|return|> */
            puts_(c->b, !c->gen && i + 1 == c->n ? "<|return|>" : "<|end|>");
            last_call = NULL;
        } else if (m->role == FR_CHAT_TOOL) {
            puts_(c->b, "<|start|>functions.");
            puts_(c->b, result_name(c, i, last_call));
            puts_(c->b, " to=assistant<|channel|>commentary<|message|>");
            json_t *s = json_stringn(m->content ? m->content : "", m->len);
            if (s)
                fr_chat_py_json(c->b, s, 0);
            json_decref(s);
            puts_(c->b, "<|end|>");
        }
    }
    if (c->gen)
        puts_(c->b, "<|start|>assistant");
}
