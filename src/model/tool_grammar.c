/*
 * tool_grammar.c - the grammar of an answer that may (or must) call tools,
 * in the call format of the model's family (frugal/grammar.h).
 *
 *   required / named:  root ::= calls
 *   auto:              root ::= content | content' calls   (Hermes, Mistral, Phi-4: text that
 *                      never spells the call marker, then maybe calls)
 *                      root ::= call | text not starting with "{"   (Llama 3)
 *                      root ::= calls | text not starting with "{", never spelling
 *                               "<|python_start|>"   (Llama 4)
 *                      root ::= analysis? (final | call)   (harmony: messages on
 *                               channels; the text in them never spells "<|";
 *                               a required call or a schema's answer at once)
 *   none:              root ::= content
 *
 * A call writes exactly the family's format with one of the tools' names
 * and arguments valid against that tool's "parameters" schema (compiled in
 * the same session as the others, so the shared rules are written once).
 * Content is free text, or the response_format's schema when one is given.
 *
 * "Text that never spells the marker" is the marker's automaton written as
 * rules: state k means the text ends with the marker's first k characters;
 * each character moves to the state of the longest marker prefix that the
 * text then ends with; the state that would complete the marker is missing.
 */
#include "model/json_schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rules nm-0 .. nm-(L-1) for text without `m`; each state may end. */
static void no_marker_rules(fr_buf *b, const char *prefix, const char *m)
{
    size_t L = strlen(m);
    char lit[4];
    for (size_t k = 0; k < L; k++) {
        fr_buf_printf(b, "%s-%zu ::= \"\"", prefix, k);
        /* the distinct characters that lead somewhere other than state 0 */
        char seen[64];
        size_t ns = 0;
        for (size_t c = 0; c <= k && c < L; c++) {
            char ch = m[c];
            if (memchr(seen, ch, ns))
                continue;
            /* the state after the text (ending in m[0..k)) reads ch */
            size_t to = 0;
            for (size_t len = k + 1; len > 0; len--) {
                /* is m[0..len) a suffix of m[0..k) + ch? */
                if (m[len - 1] != ch)
                    continue;
                if (len - 1 <= k && memcmp(m, m + k - (len - 1), len - 1) == 0) {
                    to = len;
                    break;
                }
            }
            if (to == 0)
                continue;
            seen[ns++] = ch;
            if (to == L)
                continue; /* completing the marker is not allowed */
            lit[0] = ch;
            fr_buf_puts(b, " | ");
            js_put_literal(b, lit, 1);
            fr_buf_printf(b, " %s-%zu", prefix, to);
        }
        /* any other character (or a marker character that leads to state 0) */
        fr_buf_puts(b, " | [^");
        for (size_t i = 0; i < ns; i++) {
            char ch = seen[i];
            if (ch == ']' || ch == '[' || ch == '\\' || ch == '^' || ch == '-')
                fr_buf_putc(b, '\\');
            fr_buf_putc(b, ch);
        }
        fr_buf_printf(b, "] %s-0\n", prefix);
    }
}

static bool name_ok(const char *n)
{
    if (!*n || strlen(n) > 64)
        return false;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return false;
    return true;
}

fr_status fr_tool_grammar(const char *tools_json, size_t len, const fr_tool_grammar_opts *o,
                          char **gbnf, fr_err *err)
{
    *gbnf = NULL;
    json_error_t je;
    json_t *tools = json_loadb(tools_json ? tools_json : "[]", tools_json ? len : 2, 0, &je);
    json_t *content = NULL;
    fr_status st = FR_OK;
    js j;
    bool open = false;
    if (!json_is_array(tools)) {
        st = fr_err_set(err, FR_E_INVALID, "tools: not a JSON array");
        goto done;
    }
    if (o->content_schema) {
        content = json_loads(o->content_schema, JSON_REJECT_DUPLICATES, &je);
        if (!content) {
            st = fr_err_set(err, FR_E_FORMAT, "response_format schema: not valid JSON: %s",
                            je.text);
            goto done;
        }
    }
    if (!js_init(&j, "tools", err)) {
        st = FR_E_NOMEM;
        goto done;
    }
    open = true;
    size_t nt = json_array_size(tools);
    bool calls_on = o->choice != FR_TOOL_CHOICE_NONE && nt > 0;
    if (o->choice == FR_TOOL_CHOICE_REQUIRED || o->choice == FR_TOOL_CHOICE_NAMED) {
        if (!nt) {
            st = fr_err_set(err, FR_E_INVALID, "tool_choice asks for a call but there are no tools");
            goto done;
        }
    }
    const char *ws = js_prim(&j, P_WS);
    fr_buf calls = FR_BUF_INIT; /* the alternatives of "call" */
    size_t n_alt = 0;
    for (size_t i = 0; calls_on && i < nt; i++) {
        json_t *f = json_object_get(json_array_get(tools, i), "function");
        json_t *nm = json_object_get(f, "name");
        if (!json_is_object(f) || !json_is_string(nm) || !name_ok(json_string_value(nm))) {
            fr_buf_free(&calls);
            st = fr_err_set(err, FR_E_INVALID, "tools[%zu]: a function needs a \"name\" of "
                            "letters, digits, '_', '-' or '.' (at most 64)", i);
            goto done;
        }
        const char *name = json_string_value(nm);
        if (o->choice == FR_TOOL_CHOICE_NAMED && strcmp(name, o->name) != 0)
            continue;
        json_t *params = json_object_get(f, "parameters");
        json_t *any = NULL;
        if (!params)
            params = any = json_pack("{s:s}", "type", "object");
        char pname[128], hint[96];
        snprintf(hint, sizeof hint, "%s-args", name);
        char origin[160];
        snprintf(origin, sizeof origin, "tools[%zu] (%s).parameters", i, name);
        j.origin = origin;
        bool ok = params && js_compile(&j, params, hint, pname, sizeof pname);
        j.origin = "tools";
        json_decref(any);
        if (!ok) {
            fr_buf_free(&calls);
            st = j.failed ? FR_E_UNSUPPORTED : fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
        fr_buf_puts(&calls, n_alt++ ? " | " : "");
        switch (o->format) {
        case FR_TOOLS_LLAMA3:
        case FR_TOOLS_LLAMA4:
            fr_buf_printf(&calls, "\"{\\\"name\\\": \\\"%s\\\", \\\"parameters\\\": \" %s \"}\"", name,
                          pname);
            break;
        case FR_TOOLS_MISTRAL:
        case FR_TOOLS_PHI4:
            fr_buf_printf(&calls, "\"{\\\"name\\\": \\\"%s\\\", \\\"arguments\\\": \" %s \"}\"", name,
                          pname);
            break;
        case FR_TOOLS_HARMONY:
            fr_buf_printf(&calls, "\"<|channel|>commentary to=functions.%s <|constrain|>json"
                          "<|message|>\" %s", name, pname);
            break;
        default:
            fr_buf_printf(&calls, "\"<tool_call>\\n{\\\"name\\\": \\\"%s\\\", \\\"arguments\\\": \" %s "
                          "\"}\\n</tool_call>\"", name, pname);
            break;
        }
    }
    if (calls_on && !n_alt) {
        fr_buf_free(&calls);
        st = fr_err_set(err, FR_E_INVALID, "tool_choice names \"%.64s\", which is not among the "
                        "tools", o->name ? o->name : "");
        goto done;
    }
    if (calls_on) {
        fr_buf_printf(&j.out, "call ::= %s\n", calls.data ? calls.data : "\"\"");
        /* (harmony: one call per answer, which <|call|> ends) */
        bool many = o->parallel && o->format != FR_TOOLS_LLAMA3 && o->format != FR_TOOLS_HARMONY;
        if (o->format == FR_TOOLS_MISTRAL)
            fr_buf_printf(&j.out, "calls ::= \"[TOOL_CALLS]\" \" \"? \"[\" call%s \"]\"\n",
                          many ? " (\", \" call)*" : "");
        else if (o->format == FR_TOOLS_PHI4)
            fr_buf_printf(&j.out, "calls ::= \"<|tool_call|>[\" call%s \"]<|/tool_call|>\"\n",
                          many ? " (\", \" call)*" : "");
        else if (o->format == FR_TOOLS_LLAMA4)
            fr_buf_printf(&j.out, "calls ::= \"<|python_start|><|python_end|>\" call%s\n",
                          many ? " call*" : "");
        else
            fr_buf_printf(&j.out, "calls ::= call%s\n", many ? " (\"\\n\" call)*" : "");
    }
    fr_buf_free(&calls);
    /* content */
    char cname[128] = "";
    if (content) {
        char top[128];
        j.origin = "response_format";
        if (!js_compile(&j, content, "answer", top, sizeof top)) {
            st = FR_E_UNSUPPORTED;
            goto done;
        }
        snprintf(cname, sizeof cname, "content");
        fr_buf_printf(&j.out, "content ::= %s %s %s\n", ws, top, ws);
    }
    const char *marker = o->format == FR_TOOLS_MISTRAL ? "[TOOL_CALLS]"
                         : o->format == FR_TOOLS_PHI4  ? "<|tool_call|>"
                         : o->format == FR_TOOLS_LLAMA4 ? "<|python_start|>"
                                                       : "<tool_call>";
    /* Llama 4's text: not starting with "{" (nor spaces), never spelling the marker */
    static const char llama4_text[] = "([^{< \\t\\r\\n] text-0 | \"<\" text-1)?";
    if (o->format == FR_TOOLS_HARMONY) {
        /* reasoning first if the model likes, then the answer on the final channel (its text
         * never spells a marker: they all start with "<|") or a call. When the form of the
         * answer is demanded (a required or named call, a response_format schema) it comes at
         * once, as llama.cpp's grammar for gpt-oss has a required call: a model may otherwise
         * spend every token on reasoning and give no answer. */
        bool demand = content || o->choice == FR_TOOL_CHOICE_REQUIRED ||
                      o->choice == FR_TOOL_CHOICE_NAMED;
        const char *pre = demand ? "" : "analysis? ";
        no_marker_rules(&j.out, "text", "<|");
        fr_buf_puts(&j.out, "analysis ::= \"<|channel|>analysis<|message|>\" text-0 "
                            "\"<|end|><|start|>assistant\"\n");
        fr_buf_printf(&j.out, "final ::= \"<|channel|>final<|message|>\" %s\n",
                      content ? "content" : "text-0");
        if (!calls_on)
            fr_buf_printf(&j.out, "root ::= %sfinal\n", pre);
        else if (o->choice == FR_TOOL_CHOICE_REQUIRED || o->choice == FR_TOOL_CHOICE_NAMED)
            fr_buf_puts(&j.out, "root ::= calls\n");
        else
            fr_buf_printf(&j.out, "root ::= %s(final | calls)\n", pre);
    } else if (!calls_on) {
        if (content)
            fr_buf_puts(&j.out, "root ::= content\n");
        else if (o->format == FR_TOOLS_LLAMA3)
            fr_buf_puts(&j.out, "root ::= ([^{ \\t\\r\\n] .*)?\n");
        else if (o->format == FR_TOOLS_LLAMA4) {
            no_marker_rules(&j.out, "text", marker);
            fr_buf_printf(&j.out, "root ::= %s\n", llama4_text);
        } else {
            no_marker_rules(&j.out, "text", marker);
            fr_buf_puts(&j.out, "root ::= text-0\n");
        }
    } else if (o->choice == FR_TOOL_CHOICE_REQUIRED || o->choice == FR_TOOL_CHOICE_NAMED) {
        fr_buf_puts(&j.out, "root ::= calls\n");
    } else if (content) {
        fr_buf_puts(&j.out, "root ::= content | calls\n");
    } else if (o->format == FR_TOOLS_LLAMA3) {
        fr_buf_puts(&j.out, "root ::= calls | ([^{ \\t\\r\\n] .*)?\n");
    } else if (o->format == FR_TOOLS_LLAMA4) {
        no_marker_rules(&j.out, "text", marker);
        fr_buf_printf(&j.out, "root ::= calls | %s\n", llama4_text);
    } else {
        no_marker_rules(&j.out, "text", marker);
        fr_buf_puts(&j.out, "root ::= text-0 calls?\n");
    }
    if (!fr_buf_ok(&j.out) || !(*gbnf = fr_buf_take(&j.out)))
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
done:
    if (open)
        js_release(&j);
    json_decref(tools);
    json_decref(content);
    return st;
}
