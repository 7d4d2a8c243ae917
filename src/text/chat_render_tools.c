/*
 * chat_render_tools.c - tools, tool calls and tool results as each family's
 * template prints them (called from chat_render.c; see frugal/chat.h).
 *
 *   Qwen2.5 / Hermes (chatml):  system turn = (system text or the default
 *     prompt) + "\n\n# Tools ..." block with one `tool | tojson` per line;
 *     an assistant turn's calls as "\n<tool_call>\n{"name": N, "arguments":
 *     A}\n</tool_call>"; consecutive tool results in one user turn, each
 *     "\n<tool_response>\n" R "\n</tool_response>".
 *   Qwen3: the same blocks; the system text is optional before "# Tools",
 *     and calls follow the content on their own lines.
 *   Llama 3.1-3.3: "Environment: ipython" in the system turn; the tools, one
 *     `tojson(indent=4)` each, open the first user turn; a call is the
 *     whole answer {"name": N, "parameters": A}; a result is an "ipython"
 *     turn holding the result as a JSON string.
 *   Llama 4: the same blocks with its own header tokens; no system turn
 *     unless one is given ("Environment: ipython" then opens it); a call
 *     turn is "<|python_start|>" content "<|python_end|>" and the calls
 *     {"name": N, "parameters": A} back to back.
 *   Mistral v0.3 / Nemo: [AVAILABLE_TOOLS] before the last user turn, calls
 *     as [TOOL_CALLS] with 9-character ids, results as [TOOL_RESULTS].
 *   Mistral v7 (Large 2411; Small 3 / 3.1 with Tekken), as Mistral's own
 *     templates in mistral-common print them: the tools array whole in
 *     [AVAILABLE_TOOLS] before the last user turn, an answer's content then
 *     its calls, results as [TOOL_RESULTS] ID [TOOL_CONTENT] RESULT.
 *   Phi-4-mini: its template prints a system message's "tools" string
 *     between <|tool|> and <|/tool|>; we put the functions there as one JSON
 *     list (the model card's form), calls as the model writes them after
 *     the content, <|tool_call|>[...]<|/tool_call|>, results as "tool" turns.
 *
 * Arguments arrive as JSON text (OpenAI's API); templates were trained on
 * the parsed object printed by `tojson`, so they are parsed and printed the
 * Python way (text that is not JSON is printed as a JSON string).
 */
#include "text/chat_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(fr_buf *b, const char *s, size_t n) { fr_buf_append(b, s, n); }
static void puts_(fr_buf *b, const char *s) { fr_buf_puts(b, s); }

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void put_trimmed(fr_buf *b, const char *s, size_t n)
{
    while (n && is_space((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && is_space((unsigned char)s[n - 1]))
        n--;
    put(b, s, n);
}

void fr_chat_put_args(fr_buf *b, const char *args)
{
    if (!args)
        args = "{}";
    json_t *v = json_loads(args, JSON_DECODE_ANY, NULL);
    if (v) {
        fr_chat_py_json(b, v, 0);
        json_decref(v);
    } else {
        json_t *sv = json_string(args);
        if (sv)
            fr_chat_py_json(b, sv, 0);
        json_decref(sv);
    }
}

/* ---- Hermes / Qwen ----------------------------------------------------------------------- */

static void hermes_block(fr_buf *b, const json_t *tools)
{
    puts_(b, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
             "You are provided with function signatures within <tools></tools> XML tags:\n"
             "<tools>");
    for (size_t i = 0; i < json_array_size(tools); i++) {
        puts_(b, "\n");
        fr_chat_py_json(b, json_array_get(tools, i), 0);
    }
    puts_(b, "\n</tools>\n\nFor each function call, return a json object with function name and "
             "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
             "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
}

void fr_render_hermes_system(render_ctx *c, bool qwen3)
{
    puts_(c->b, "<|im_start|>system\n");
    bool sys = c->n && c->m[0].role == FR_CHAT_SYSTEM;
    if (sys) {
        put(c->b, c->m[0].content, c->m[0].len);
        puts_(c->b, "\n\n");
    } else if (!qwen3 && c->default_system) {
        puts_(c->b, c->default_system);
        puts_(c->b, "\n\n");
    }
    hermes_block(c->b, c->tools);
    puts_(c->b, "<|im_end|>\n");
}

void fr_render_hermes_calls(render_ctx *c, size_t i, bool qwen3)
{
    const fr_chat_msg_tools *t = msg_tools(c, i);
    for (size_t k = 0; t && k < t->n_calls; k++) {
        if (!qwen3 || k || c->m[i].len)
            puts_(c->b, "\n");
        puts_(c->b, "<tool_call>\n{\"name\": \"");
        puts_(c->b, t->calls[k].name ? t->calls[k].name : "");
        puts_(c->b, "\", \"arguments\": ");
        fr_chat_put_args(c->b, t->calls[k].arguments);
        puts_(c->b, "}\n</tool_call>");
    }
}

void fr_render_hermes_result(render_ctx *c, size_t i)
{
    bool first = i == 0 || c->m[i - 1].role != FR_CHAT_TOOL;
    bool last = i + 1 == c->n || c->m[i + 1].role != FR_CHAT_TOOL;
    if (first)
        puts_(c->b, "<|im_start|>user");
    puts_(c->b, "\n<tool_response>\n");
    put(c->b, c->m[i].content, c->m[i].len);
    puts_(c->b, "\n</tool_response>");
    if (last)
        puts_(c->b, "<|im_end|>\n");
}

/* ---- Llama 3.1+ --------------------------------------------------------------------------- */

/* Llama 3.1+ and Llama 4 differ in their header and end-of-turn tokens. */
static const char *hdr_open(bool l4) { return l4 ? "<|header_start|>" : "<|start_header_id|>"; }
static const char *hdr_close(bool l4)
{
    return l4 ? "<|header_end|>\n\n" : "<|end_header_id|>\n\n";
}
static const char *eot(bool l4) { return l4 ? "<|eot|>" : "<|eot_id|>"; }

void fr_render_llama_tools_user(render_ctx *c, const char *s, size_t n, bool l4)
{
    puts_(c->b, hdr_open(l4));
    puts_(c->b, "user");
    puts_(c->b, hdr_close(l4));
    puts_(c->b, "Given the following functions, please respond with a JSON for a function call "
                "with its proper arguments that best answers the given prompt.\n\n"
                "Respond in the format {\"name\": function name, \"parameters\": dictionary of "
                "argument name and its value}.Do not use variables.\n\n");
    for (size_t i = 0; i < json_array_size(c->tools); i++) {
        fr_chat_py_json(c->b, json_array_get(c->tools, i), 4);
        puts_(c->b, "\n\n");
    }
    put_trimmed(c->b, s, n);
    puts_(c->b, eot(l4));
}

/* Llama 3.1: the one call is the whole turn. Llama 4: the content between
 * <|python_start|> and <|python_end|>, then every call, back to back. */
void fr_render_llama_call(render_ctx *c, size_t i, bool l4)
{
    const fr_chat_msg_tools *t = msg_tools(c, i);
    puts_(c->b, hdr_open(l4));
    puts_(c->b, "assistant");
    puts_(c->b, hdr_close(l4));
    if (l4) {
        puts_(c->b, "<|python_start|>");
        put(c->b, c->m[i].content, c->m[i].len);
        puts_(c->b, "<|python_end|>");
    }
    for (size_t k = 0; k < (l4 ? t->n_calls : 1); k++) {
        puts_(c->b, "{\"name\": \"");
        puts_(c->b, t->calls[k].name ? t->calls[k].name : "");
        puts_(c->b, "\", \"parameters\": ");
        fr_chat_put_args(c->b, t->calls[k].arguments);
        puts_(c->b, "}");
    }
    puts_(c->b, eot(l4));
}

void fr_render_llama_result(render_ctx *c, size_t i, bool l4)
{
    puts_(c->b, hdr_open(l4));
    puts_(c->b, "ipython");
    puts_(c->b, hdr_close(l4));
    /* a string "is iterable" in Jinja, so the template prints it as JSON */
    json_t *s = json_stringn(c->m[i].content ? c->m[i].content : "", c->m[i].len);
    if (s)
        fr_chat_py_json(c->b, s, 0);
    json_decref(s);
    puts_(c->b, eot(l4));
}

/* ---- Mistral ------------------------------------------------------------------------------ */

/* Mistral's templates want ids of 9 letters and digits: one given so is
 * kept, any other is turned into one (the same for a call and its result). */
static void id9(const char *id, char out[10])
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = id ? strlen(id) : 0;
    bool ok = n == 9;
    for (size_t i = 0; ok && i < 9; i++)
        ok = strchr(al, id[i]) != NULL && id[i];
    if (ok) {
        memcpy(out, id, 9);
        out[9] = '\0';
        return;
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)id[i];
        h *= 1099511628211ull;
    }
    for (int i = 0; i < 9; i++) {
        out[i] = al[h % 62];
        h /= 62;
        if (!h)
            h = 0x9e3779b97f4a7c15ull + (uint64_t)i;
    }
    out[9] = '\0';
}

void fr_render_mistral_tools(render_ctx *c, bool tekken, bool v7)
{
    if (v7) {
        /* v7: the whole tools array, `tools | tojson` */
        puts_(c->b, tekken ? "[AVAILABLE_TOOLS]" : "[AVAILABLE_TOOLS] ");
        fr_chat_py_json(c->b, c->tools, 0);
        puts_(c->b, "[/AVAILABLE_TOOLS]");
        return;
    }
    puts_(c->b, tekken ? "[AVAILABLE_TOOLS][" : "[AVAILABLE_TOOLS] [");
    for (size_t i = 0; i < json_array_size(c->tools); i++) {
        json_t *f = json_object_get(json_array_get(c->tools, i), "function");
        puts_(c->b, "{\"type\": \"function\", \"function\": {");
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(f, k, v) {
            if (strcmp(k, "return") == 0)
                continue;
            if (!first)
                puts_(c->b, ", ");
            first = false;
            fr_buf_printf(c->b, "\"%s\": ", k);
            if (json_is_string(v)) {
                puts_(c->b, "\"");
                put(c->b, json_string_value(v), json_string_length(v));
                puts_(c->b, "\"");
            } else {
                fr_chat_py_json(c->b, v, 0);
            }
        }
        puts_(c->b, "}}");
        puts_(c->b, i + 1 < json_array_size(c->tools) ? ", " : "]");
    }
    puts_(c->b, "[/AVAILABLE_TOOLS]");
}

void fr_render_mistral_calls(render_ctx *c, size_t i, bool tekken)
{
    const fr_chat_msg_tools *t = msg_tools(c, i);
    puts_(c->b, tekken ? "[TOOL_CALLS][" : "[TOOL_CALLS] [");
    for (size_t k = 0; k < t->n_calls; k++) {
        char id[10];
        id9(t->calls[k].id, id);
        puts_(c->b, "{\"name\": ");
        json_t *nm = json_string(t->calls[k].name ? t->calls[k].name : "");
        if (nm)
            fr_chat_py_json(c->b, nm, 0);
        json_decref(nm);
        puts_(c->b, ", \"arguments\": ");
        fr_chat_put_args(c->b, t->calls[k].arguments);
        fr_buf_printf(c->b, ", \"id\": \"%s\"}", id);
        puts_(c->b, k + 1 < t->n_calls ? ", " : "]");
    }
}

void fr_render_mistral_result(render_ctx *c, size_t i, bool tekken, bool v7)
{
    char id[10];
    id9(msg_tools(c, i) ? msg_tools(c, i)->call_id : NULL, id);
    if (v7) {
        /* v7: the call's id, then the content as it is */
        fr_buf_printf(c->b, tekken ? "[TOOL_RESULTS]%s[TOOL_CONTENT]" : "[TOOL_RESULTS] %s[TOOL_CONTENT] ",
                      id);
        put(c->b, c->m[i].content, c->m[i].len);
        puts_(c->b, "[/TOOL_RESULTS]");
        return;
    }
    puts_(c->b, tekken ? "[TOOL_RESULTS]{\"content\": " : "[TOOL_RESULTS] {\"content\": ");
    put(c->b, c->m[i].content, c->m[i].len);
    fr_buf_printf(c->b, ", \"call_id\": \"%s\"}[/TOOL_RESULTS]", id);
}

/* ---- Phi-4-mini ---------------------------------------------------------------------------- */

/* The system turn: its text (or none), then the tools' functions as one
 * JSON list between <|tool|> and <|/tool|>, as Microsoft's model card shows. */
void fr_render_phi4_mini_tools(render_ctx *c)
{
    puts_(c->b, "<|system|>");
    if (c->n && c->m[0].role == FR_CHAT_SYSTEM)
        put(c->b, c->m[0].content, c->m[0].len);
    puts_(c->b, "<|tool|>");
    json_t *fns = json_array();
    for (size_t i = 0; fns && i < json_array_size(c->tools); i++)
        json_array_append(fns, json_object_get(json_array_get(c->tools, i), "function"));
    if (fns)
        fr_chat_py_json(c->b, fns, 0);
    json_decref(fns);
    puts_(c->b, "<|/tool|><|end|>");
}

/* An assistant turn's calls after its content, as the model writes them. */
void fr_render_phi4_mini_calls(render_ctx *c, size_t i)
{
    const fr_chat_msg_tools *t = msg_tools(c, i);
    puts_(c->b, "<|tool_call|>[");
    for (size_t k = 0; k < t->n_calls; k++) {
        puts_(c->b, k ? ", {\"name\": " : "{\"name\": ");
        json_t *nm = json_string(t->calls[k].name ? t->calls[k].name : "");
        if (nm)
            fr_chat_py_json(c->b, nm, 0);
        json_decref(nm);
        puts_(c->b, ", \"arguments\": ");
        fr_chat_put_args(c->b, t->calls[k].arguments);
        puts_(c->b, "}");
    }
    puts_(c->b, "]<|/tool_call|>");
}

/* ---- families without tools ---------------------------------------------------------------- */

static char *take(fr_buf *b, char ***arena, size_t *n)
{
    char *s = fr_buf_ok(b) ? fr_buf_take(b) : NULL;
    fr_buf_free(b);
    if (!s)
        return NULL;
    char **na = realloc(*arena, (*n + 1) * sizeof *na);
    if (!na) {
        free(s);
        return NULL;
    }
    *arena = na;
    na[(*n)++] = s;
    return s;
}

fr_status fr_render_fold_tools(const render_ctx *c, fr_chat_msg **out, size_t *n_out,
                               char ***arena, size_t *n_arena)
{
    *out = calloc(c->n + 1, sizeof **out);
    *arena = NULL;
    *n_arena = 0;
    if (!*out)
        return FR_E_NOMEM;
    size_t n = 0, i = 0;
    /* the system message, with the tools block */
    if (c->tools && json_array_size(c->tools)) {
        fr_buf b = FR_BUF_INIT;
        if (c->n && c->m[0].role == FR_CHAT_SYSTEM) {
            put(&b, c->m[0].content, c->m[0].len);
            puts_(&b, "\n\n");
            i = 1;
        }
        hermes_block(&b, c->tools);
        char *s = take(&b, arena, n_arena);
        if (!s)
            return FR_E_NOMEM;
        (*out)[n++] = (fr_chat_msg){FR_CHAT_SYSTEM, s, strlen(s)};
    }
    for (; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_TOOL) {
            /* consecutive results: one user turn */
            fr_buf b = FR_BUF_INIT;
            for (; i < c->n && c->m[i].role == FR_CHAT_TOOL; i++) {
                if (b.len)
                    puts_(&b, "\n");
                puts_(&b, "<tool_response>\n");
                put(&b, c->m[i].content, c->m[i].len);
                puts_(&b, "\n</tool_response>");
            }
            i--;
            char *s = take(&b, arena, n_arena);
            if (!s)
                return FR_E_NOMEM;
            (*out)[n++] = (fr_chat_msg){FR_CHAT_USER, s, strlen(s)};
        } else if (m->role == FR_CHAT_ASSISTANT && msg_n_calls(c, i)) {
            fr_buf b = FR_BUF_INIT;
            put(&b, m->content, m->len);
            const fr_chat_msg_tools *t = msg_tools(c, i);
            for (size_t k = 0; k < t->n_calls; k++) {
                if (b.len)
                    puts_(&b, "\n");
                puts_(&b, "<tool_call>\n{\"name\": \"");
                puts_(&b, t->calls[k].name ? t->calls[k].name : "");
                puts_(&b, "\", \"arguments\": ");
                fr_chat_put_args(&b, t->calls[k].arguments);
                puts_(&b, "}\n</tool_call>");
            }
            char *s = take(&b, arena, n_arena);
            if (!s)
                return FR_E_NOMEM;
            (*out)[n++] = (fr_chat_msg){FR_CHAT_ASSISTANT, s, strlen(s)};
        } else {
            (*out)[n++] = *m;
        }
    }
    *n_out = n;
    return FR_OK;
}

void fr_render_fold_free(fr_chat_msg *m, char **arena, size_t n_arena)
{
    for (size_t i = 0; i < n_arena; i++)
        free(arena[i]);
    free(arena);
    free(m);
}
