/*
 * tools.c - response_format, tools and tool messages in a chat request,
 * and the constraint they put on the answer (see tools.h).
 *
 *   response_format  {"type": "text"} | {"type": "json_object"} |
 *                    {"type": "json_schema", "json_schema": {"name", "schema",
 *                    "strict", "description"}}: the schema is compiled now, so
 *                    a keyword we cannot honour is a 400 naming it
 *   tools            [{"type": "function", "function": {"name", "description",
 *                    "parameters", "strict"}}]: names of letters, digits, _ - .
 *                    (at most 64, no duplicates); each "parameters" compiled
 *   tool_choice      "auto" (default with tools) | "none" | "required" |
 *                    {"type": "function", "function": {"name"}}
 *   parallel_tool_calls  true (default): several calls in one answer
 *
 * With a schema, json_object or a tool_choice that asks for a call, the
 * answer is generated under the grammar (fr_tool_grammar): every call
 * parses, names a tool, and has arguments valid against its schema. With
 * "auto" the model may also answer in text, which then never spells the
 * call marker. json_object / json_schema answers are JSON documents.
 *
 * Rejected: trusting the model to follow the format (a small model does
 * not, and callers parse the answer with code), and a separate JSON
 * validation pass after generation (the answer could then only fail).
 */
#include "serve/tools.h"

#include <stdlib.h>
#include <string.h>

static json_t *field(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return v && !json_is_null(v) ? v : NULL;
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (!len || len > 64)
        return false;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return false;
    return true;
}

/* Compiles a schema to see that we can honour it; the message names the
 * field and keyword. */
static bool schema_check(const char *text, const char *param, srv_error *e)
{
    char *g = NULL;
    fr_err err;
    if (fr_json_schema_to_gbnf(text, strlen(text), param, &g, &err) != FR_OK)
        return srv_fail(e, 400, NULL, "unsupported_schema", param, "%s", err.msg);
    free(g);
    return true;
}

static bool parse_response_format(json_t *root, srv_request *r, srv_error *e)
{
    json_t *v = field(root, "response_format");
    if (!v)
        return true;
    json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
    if (!t || !json_is_string(t))
        return srv_fail(e, 400, NULL, NULL, "response_format",
                        "Invalid 'response_format': expected an object with a 'type'.");
    const char *type = json_string_value(t);
    if (strcmp(type, "text") == 0)
        return true;
    if (strcmp(type, "json_object") == 0) {
        r->response_format = SRV_RF_JSON_OBJECT;
        r->schema_text = strdup("{\"type\": \"object\"}");
        return r->schema_text ? true : srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    }
    if (strcmp(type, "json_schema") != 0)
        return srv_fail(e, 400, NULL, "unsupported_value", "response_format",
                        "Invalid 'response_format.type': '%.32s' (use text, json_object or "
                        "json_schema).", type);
    json_t *js = field(v, "json_schema");
    if (!json_is_object(js))
        return srv_fail(e, 400, NULL, NULL, "response_format",
                        "Missing required parameter: 'response_format.json_schema'.");
    json_t *name = field(js, "name"), *schema = field(js, "schema");
    if (!json_is_string(name) || !name_ok(json_string_value(name)))
        return srv_fail(e, 400, NULL, NULL, "response_format",
                        "Invalid 'response_format.json_schema.name': a string of letters, digits, "
                        "'_', '-' or '.' (at most 64) is required.");
    const char *k;
    json_t *x;
    json_object_foreach(js, k, x) {
        if (strcmp(k, "name") && strcmp(k, "schema") && strcmp(k, "strict") &&
            strcmp(k, "description") && !json_is_null(x))
            return srv_fail(e, 400, NULL, "unsupported_parameter", "response_format",
                            "Unrecognized field 'response_format.json_schema.%.40s'.", k);
    }
    json_t *strict = field(js, "strict");
    if (strict && !json_is_boolean(strict))
        return srv_fail(e, 400, NULL, NULL, "response_format",
                        "Invalid 'response_format.json_schema.strict': expected a boolean.");
    r->response_format = SRV_RF_JSON_SCHEMA;
    r->schema_text = schema ? json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY)
                            : strdup("{}"); /* no schema: any JSON value */
    if (!r->schema_text)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    return schema_check(r->schema_text, "response_format.json_schema.schema", e);
}

static bool parse_tools(json_t *root, srv_request *r, srv_error *e)
{
    json_t *v;
    if ((v = field(root, "functions")) || field(root, "function_call"))
        return srv_fail(e, 400, NULL, "unsupported_parameter", v ? "functions" : "function_call",
                        "'functions' and 'function_call' are the deprecated form of tool calling: "
                        "send 'tools' and 'tool_choice' instead.");
    json_t *tools = field(root, "tools");
    r->parallel_tool_calls = true;
    json_t *par = field(root, "parallel_tool_calls");
    if (par && !json_is_boolean(par))
        return srv_fail(e, 400, NULL, NULL, "parallel_tool_calls",
                        "Invalid type for 'parallel_tool_calls': expected a boolean.");
    if (par)
        r->parallel_tool_calls = json_is_true(par);
    if (tools && !json_is_array(tools))
        return srv_fail(e, 400, NULL, NULL, "tools",
                        "Invalid type for 'tools': expected an array of tools.");
    size_t nt = tools ? json_array_size(tools) : 0;
    if (nt > 128)
        return srv_fail(e, 400, NULL, "array_above_max_length", "tools",
                        "Invalid 'tools': at most 128 tools.");
    for (size_t i = 0; i < nt; i++) {
        char param[32];
        snprintf(param, sizeof param, "tools[%zu]", i);
        json_t *t = json_array_get(tools, i);
        json_t *type = json_is_object(t) ? field(t, "type") : NULL;
        if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0)
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid '%s': expected {\"type\": \"function\", \"function\": {...}}.",
                            param);
        json_t *f = field(t, "function");
        json_t *nm = json_is_object(f) ? field(f, "name") : NULL;
        if (!json_is_string(nm) || !name_ok(json_string_value(nm)))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid '%s.function.name': letters, digits, '_', '-' or '.', at "
                            "most 64.", param);
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_object_get(
                           json_object_get(json_array_get(tools, k), "function"), "name")),
                       json_string_value(nm)) == 0)
                return srv_fail(e, 400, NULL, NULL, param,
                                "Invalid '%s': the name '%s' is used twice.", param,
                                json_string_value(nm));
        json_t *params = field(f, "parameters");
        if (params && !json_is_object(params))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid '%s.function.parameters': expected a JSON Schema object.",
                            param);
        if (params) {
            char *text = json_dumps(params, JSON_COMPACT);
            char where[96];
            snprintf(where, sizeof where, "%s.function.parameters", param);
            bool ok = text && schema_check(text, where, e);
            free(text);
            if (!ok)
                return text ? false : srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        }
    }
    r->tool_choice = FR_TOOL_CHOICE_AUTO;
    json_t *tc = field(root, "tool_choice");
    if (tc) {
        if (json_is_string(tc)) {
            const char *c = json_string_value(tc);
            if (!strcmp(c, "auto"))
                r->tool_choice = FR_TOOL_CHOICE_AUTO;
            else if (!strcmp(c, "none"))
                r->tool_choice = FR_TOOL_CHOICE_NONE;
            else if (!strcmp(c, "required"))
                r->tool_choice = FR_TOOL_CHOICE_REQUIRED;
            else
                return srv_fail(e, 400, NULL, "unsupported_value", "tool_choice",
                                "Invalid 'tool_choice': '%.32s' (use none, auto, required or "
                                "{\"type\": \"function\", \"function\": {\"name\": ...}}).", c);
        } else {
            json_t *f = json_is_object(tc) ? field(tc, "function") : NULL;
            json_t *nm = json_is_object(f) ? field(f, "name") : NULL;
            if (!json_is_string(nm))
                return srv_fail(e, 400, NULL, NULL, "tool_choice",
                                "Invalid 'tool_choice': expected a string or {\"type\": "
                                "\"function\", \"function\": {\"name\": ...}}.");
            r->tool_choice = FR_TOOL_CHOICE_NAMED;
            r->tool_name = json_string_value(nm);
            bool found = false;
            for (size_t i = 0; i < nt; i++)
                found |= strcmp(json_string_value(json_object_get(
                                    json_object_get(json_array_get(tools, i), "function"), "name")),
                                r->tool_name) == 0;
            if (!found)
                return srv_fail(e, 400, NULL, NULL, "tool_choice",
                                "Invalid 'tool_choice': no tool is named '%.64s'.", r->tool_name);
        }
        if (!nt && r->tool_choice != FR_TOOL_CHOICE_NONE && r->tool_choice != FR_TOOL_CHOICE_AUTO)
            return srv_fail(e, 400, NULL, NULL, "tool_choice",
                            "Invalid 'tool_choice': it asks for a tool call but 'tools' is empty.");
    }
    if (nt) {
        r->tools_text = json_dumps(tools, JSON_COMPACT);
        if (!r->tools_text)
            return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        r->n_tools = nt;
    }
    return true;
}

bool srv_parse_structured(json_t *root, srv_request *r, srv_error *e)
{
    /* assistant messages' calls lie in r->calls in message order */
    size_t off = 0;
    for (size_t i = 0; r->msg_tools && i < r->n_msgs; i++) {
        r->msg_tools[i].calls = r->msg_tools[i].n_calls ? r->calls + off : NULL;
        off += r->msg_tools[i].n_calls;
    }
    return parse_response_format(root, r, e) && parse_tools(root, r, e);
}

bool srv_parse_message_tools(json_t *m, size_t i, srv_request *r, srv_error *e)
{
    char param[48];
    snprintf(param, sizeof param, "messages[%zu]", i);
    json_t *calls = field(m, "tool_calls"), *id = field(m, "tool_call_id");
    fr_chat_role role = r->msgs[i].role;
    if (calls && role != FR_CHAT_ASSISTANT)
        return srv_fail(e, 400, NULL, NULL, param, "'%s.tool_calls' is only for assistant "
                        "messages.", param);
    if (role == FR_CHAT_TOOL && !json_is_string(id))
        return srv_fail(e, 400, NULL, NULL, param,
                        "Missing required parameter: '%s.tool_call_id' (a string).", param);
    if (id && role != FR_CHAT_TOOL)
        return srv_fail(e, 400, NULL, NULL, param, "'%s.tool_call_id' is only for tool messages.",
                        param);
    if (!calls && !id)
        return true;
    if (!r->msg_tools) {
        r->msg_tools = calloc(r->n_msgs, sizeof *r->msg_tools);
        if (!r->msg_tools)
            return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    }
    if (id) {
        r->msg_tools[i].call_id = json_string_value(id);
        json_t *nm = field(m, "name");
        if (json_is_string(nm))
            r->msg_tools[i].name = json_string_value(nm);
        return true;
    }
    if (!json_is_array(calls))
        return srv_fail(e, 400, NULL, NULL, param,
                        "Invalid type for '%s.tool_calls': expected an array.", param);
    size_t n = json_array_size(calls);
    if (r->n_calls + n > r->cap_calls) {
        size_t nc = (r->n_calls + n) * 2 + 8;
        fr_chat_tool_call *nw = realloc(r->calls, nc * sizeof *nw);
        if (!nw)
            return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        r->calls = nw;
        r->cap_calls = nc;
    }
    /* the calls go to the end of r->calls in message order; .calls is set once all
     * messages are read (the array may still move): srv_parse_structured */
    for (size_t k = 0; k < n; k++) {
        json_t *c = json_array_get(calls, k);
        json_t *f = json_is_object(c) ? field(c, "function") : NULL;
        json_t *nm = json_is_object(f) ? field(f, "name") : NULL;
        json_t *args = json_is_object(f) ? field(f, "arguments") : NULL;
        json_t *cid = json_is_object(c) ? field(c, "id") : NULL;
        if (!json_is_string(nm) || (args && !json_is_string(args)) || (cid && !json_is_string(cid)))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid '%s.tool_calls[%zu]': expected {\"id\": string, \"type\": "
                            "\"function\", \"function\": {\"name\": string, \"arguments\": "
                            "string}}.", param, k);
        r->calls[r->n_calls++] = (fr_chat_tool_call){cid ? json_string_value(cid) : NULL,
                                                     json_string_value(nm),
                                                     args ? json_string_value(args) : "{}"};
    }
    r->msg_tools[i].n_calls = n;
    return true;
}

void srv_structured_free(srv_request *r)
{
    free(r->schema_text);
    free(r->tools_text);
    free(r->msg_tools);
    free(r->calls);
    r->schema_text = r->tools_text = NULL;
    r->msg_tools = NULL;
    r->calls = NULL;
}

bool srv_tools_on(const srv_request *r) { return r->n_tools > 0; }

bool srv_structured_on(const srv_request *r) { return r->schema_text || r->n_tools; }

bool srv_structured_constraint(const srv_request *r, fr_tool_format fmt,
                               const fr_grammar_vocab *v, fr_constraint **out, srv_error *e)
{
    *out = NULL;
    if (!srv_structured_on(r))
        return true;
    char *gbnf = NULL;
    fr_err err;
    fr_status st;
    const char *param;
    if (r->n_tools || fmt == FR_TOOLS_HARMONY) {
        /* (harmony: a schema's answer goes in the final channel, so it is a tools grammar
         * without tools) */
        fr_tool_grammar_opts o = {fmt, r->n_tools ? r->tool_choice : FR_TOOL_CHOICE_NONE,
                                  r->tool_name, r->parallel_tool_calls, r->schema_text};
        const char *tools = r->n_tools ? r->tools_text : "[]";
        st = fr_tool_grammar(tools, strlen(tools), &o, &gbnf, &err);
        param = r->n_tools ? "tools" : "response_format";
    } else {
        st = fr_json_schema_to_gbnf(r->schema_text, strlen(r->schema_text), "response_format",
                                    &gbnf, &err);
        param = "response_format";
    }
    if (st != FR_OK)
        return srv_fail(e, st == FR_E_NOMEM ? 500 : 400, NULL, "unsupported_schema", param, "%s",
                        err.msg);
    fr_grammar *g = NULL;
    st = fr_grammar_parse(gbnf, strlen(gbnf), param, &g, &err);
    free(gbnf);
    if (st != FR_OK)
        return srv_fail(e, 500, NULL, NULL, NULL, "the grammar for the answer does not parse (a "
                        "bug): %s", err.msg);
    if (fr_grammar_constraint(g, v, out, &err) != FR_OK)
        return srv_fail(e, 500, NULL, NULL, NULL, "%s", err.msg);
    return true;
}
