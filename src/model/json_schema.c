/*
 * json_schema.c - JSON Schema -> GBNF (contract in frugal/grammar.h).
 *
 * Each schema becomes one rule; the rule matches exactly the JSON texts
 * (compact or with the bounded whitespace of `ws`) that the schema accepts,
 * or a subset of them where accepting all would need more than a
 * context-free grammar can say cheaply (properties in a fixed order,
 * bounded digits). It never accepts an invalid document: a keyword that
 * constrains values and that we cannot express is an error naming the
 * keyword and its JSON pointer. Keywords that do not constrain values
 * (title, description, ...) are skipped, and keywords of another type than
 * the one being generated have no effect, as the specification says.
 *
 * $refs are resolved inside the document ("#", "#/$defs/x", any JSON
 * pointer); each target becomes one rule, generated once, so recursive
 * schemas become recursive rules. String contents are written as JSON
 * escapes where JSON requires them; classes and `.` of a `pattern` are
 * narrowed to characters that need no escape, so what the grammar writes
 * is always a valid JSON string that the pattern matches.
 *
 * Rejected: translating to the grammar's internal form directly. GBNF
 * text is a format users can read and feed to llama.cpp, it keeps one
 * parser, and the compile cost is negligible next to a forward pass.
 */
#include "model/json_schema_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors and paths ------------------------------------------------------------------ */

bool js_fail(js *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool js_fail(js *j, const char *fmt, ...)
{
    if (j->failed)
        return false;
    j->failed = true;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fr_err_set(j->err, FR_E_UNSUPPORTED, "%s: at %s: %s", j->origin,
               j->path_len ? j->path : "the top level (\"#\")", msg);
    return false;
}

/* Appends "/seg" (escaped as a JSON pointer) to the path; returns the old
 * length for path_pop. */
static size_t path_push(js *j, const char *seg)
{
    size_t old = j->path_len;
    if (old == 0 && j->path_len + 1 < sizeof j->path)
        j->path[j->path_len++] = '#';
    if (j->path_len + 1 < sizeof j->path)
        j->path[j->path_len++] = '/';
    for (const char *c = seg; *c && j->path_len + 3 < sizeof j->path; c++) {
        if (*c == '~' || *c == '/') {
            j->path[j->path_len++] = '~';
            j->path[j->path_len++] = *c == '~' ? '0' : '1';
        } else {
            j->path[j->path_len++] = *c;
        }
    }
    j->path[j->path_len] = '\0';
    return old;
}

static size_t path_push_index(js *j, const char *key, size_t i)
{
    size_t old = path_push(j, key);
    char num[32];
    snprintf(num, sizeof num, "%zu", i);
    path_push(j, num);
    return old;
}

static void path_pop(js *j, size_t old)
{
    j->path_len = old;
    j->path[old] = '\0';
}

/* ---- output helpers --------------------------------------------------------------------- */

/* A GBNF literal for the bytes s[0..n) (UTF-8), escaped. */
void js_put_literal(fr_buf *b, const char *s, size_t n)
{
    fr_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fr_buf_putc(b, '\\');
            fr_buf_putc(b, (char)c);
        } else if (c == '\n') {
            fr_buf_puts(b, "\\n");
        } else if (c == '\r') {
            fr_buf_puts(b, "\\r");
        } else if (c == '\t') {
            fr_buf_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            fr_buf_printf(b, "\\x%02X", c);
        } else {
            fr_buf_putc(b, (char)c);
        }
    }
    fr_buf_putc(b, '"');
}

/* The compact JSON text of v as a GBNF literal. */
bool js_put_json_literal(js *j, fr_buf *b, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        return js_fail(j, "out of memory");
    js_put_literal(b, t, strlen(t));
    free(t);
    return true;
}

/* A fresh rule name from hint ([a-zA-Z0-9-] only, unique). */
static bool new_name(js *j, const char *hint, char *name, size_t cap)
{
    if (++j->n_rules > JS_MAX_RULES)
        return js_fail(j, "the schema needs more than %d grammar rules", JS_MAX_RULES);
    char base[64];
    size_t k = 0;
    for (const char *c = hint; *c && k + 1 < sizeof base; c++) {
        char x = *c;
        bool ok = (x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9');
        base[k++] = ok ? x : '-';
    }
    if (!k)
        base[k++] = 'r';
    base[k] = '\0';
    for (unsigned n = 0;; n++) {
        if (n)
            snprintf(name, cap, "%s-%u", base, n);
        else
            snprintf(name, cap, "%s", base);
        int32_t old;
        int r = fr_strmap_put(&j->names, name, strlen(name), 1, &old);
        if (r < 0)
            return js_fail(j, "out of memory");
        if (r == 1)
            return true;
    }
}

static void rule(js *j, const char *name, const char *body)
{
    fr_buf_printf(&j->out, "%s ::= %s\n", name, body);
}

const char *js_prim(js *j, uint32_t which)
{
    if (j->prims & which)
        goto name;
    j->prims |= which;
    switch (which) {
    case P_WS: rule(j, "ws", "| \" \" | \"\\n\" [ \\t]{0,20}"); break;
    case P_CHAR:
        rule(j, "char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})");
        break;
    case P_SAFE: rule(j, "safe", "[^\"\\\\\\x7F\\x00-\\x1F]"); break;
    case P_STRING: js_prim(j, P_CHAR); rule(j, "string", "\"\\\"\" char* \"\\\"\""); break;
    case P_INT: rule(j, "integer", "\"-\"? ([0] | [1-9] [0-9]{0,15})"); break;
    case P_NUMBER:
        rule(j, "number",
             "\"-\"? ([0] | [1-9] [0-9]{0,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?");
        break;
    case P_BOOL: rule(j, "boolean", "\"true\" | \"false\""); break;
    case P_NULL: rule(j, "null", "\"null\""); break;
    case P_VALUE:
        js_prim(j, P_WS);
        js_prim(j, P_STRING);
        js_prim(j, P_NUMBER);
        js_prim(j, P_BOOL);
        js_prim(j, P_NULL);
        rule(j, "value", "object | array | string | number | boolean | null");
        rule(j, "object", "\"{\" ws (string ws \":\" ws value (ws \",\" ws string ws \":\" ws "
                          "value)* ws)? \"}\"");
        rule(j, "array", "\"[\" ws (value (ws \",\" ws value)* ws)? \"]\"");
        break;
    }
name:
    switch (which) {
    case P_WS: return "ws";
    case P_CHAR: return "char";
    case P_SAFE: return "safe";
    case P_STRING: return "string";
    case P_INT: return "integer";
    case P_NUMBER: return "number";
    case P_BOOL: return "boolean";
    case P_NULL: return "null";
    default: return "value";
    }
}

/* ---- keywords ------------------------------------------------------------------------------ */

static const char *const k_annotations[] = {"title", "description", "default", "examples",
                                            "$schema", "$id", "$comment", "deprecated",
                                            "readOnly", "writeOnly", "$defs", "definitions",
                                            NULL};
static const char *const k_supported[] = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems",
    "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "enum", "const", "$ref", "anyOf", "allOf",
    "uniqueItems", NULL};

static bool in_list(const char *const *l, const char *k)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return true;
    return false;
}

static bool check_keywords(js *j, json_t *s)
{
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) {
        if (in_list(k_annotations, k) || in_list(k_supported, k))
            continue;
        return js_fail(j, "the keyword \"%.60s\" is not supported (the output could not be kept "
                       "valid against it); supported: type, properties, required, "
                       "additionalProperties, items, prefixItems, minItems, maxItems, minLength, "
                       "maxLength, pattern, format, minimum, maximum, exclusiveMinimum, "
                       "exclusiveMaximum, enum, const, $ref, anyOf, allOf (one member)", k);
    }
    if ((v = json_object_get(s, "uniqueItems")) && json_is_true(v))
        return js_fail(j, "\"uniqueItems\": true is not supported (a grammar cannot keep items "
                       "distinct)");
    return true;
}

bool js_get_count(js *j, json_t *s, const char *key, long long *out)
{
    json_t *v = json_object_get(s, key);
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return js_fail(j, "\"%s\" must be a non-negative integer", key);
    if (json_integer_value(v) > JS_MAX_ITEMS_BOUND)
        return js_fail(j, "\"%s\" %lld is above the %d this server expands", key,
                       (long long)json_integer_value(v), JS_MAX_ITEMS_BOUND);
    *out = json_integer_value(v);
    return true;
}

/* ---- schema -> rule ------------------------------------------------------------------------- */

static bool gen(js *j, json_t *s, const char *hint, char *name, size_t cap);

/* A repetition suffix "{m,n}" / "{m,}" / "*" for counts (n < 0: none). */
void js_put_repeat(fr_buf *b, long long m, long long n)
{
    if (m == 0 && n < 0)
        fr_buf_putc(b, '*');
    else if (n < 0)
        fr_buf_printf(b, "{%lld,}", m);
    else if (m == n)
        fr_buf_printf(b, "{%lld}", m);
    else
        fr_buf_printf(b, "{%lld,%lld}", m, n);
}

/* ---- objects and arrays ---- */

static bool gen_object(js *j, json_t *s, const char *hint, fr_buf *b)
{
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required"),
           *add = json_object_get(s, "additionalProperties");
    const char *ws = js_prim(j, P_WS);
    if (props && !json_is_object(props))
        return js_fail(j, "\"properties\" must be an object");
    if (req && !json_is_array(req))
        return js_fail(j, "\"required\" must be an array of names");
    if (add && !json_is_boolean(add) && !json_is_object(add))
        return js_fail(j, "\"additionalProperties\" must be a boolean or a schema");
    size_t np = props ? json_object_size(props) : 0;
    /* required names that "properties" does not list are any value */
    size_t nr = req ? json_array_size(req) : 0;
    for (size_t i = 0; i < nr; i++)
        if (!json_is_string(json_array_get(req, i)))
            return js_fail(j, "\"required\" must be an array of names");
    if (!np && nr == 0) {
        /* a map: any keys, values of additionalProperties (any when absent) */
        if (add && json_is_false(add)) {
            fr_buf_printf(b, "\"{\" %s \"}\"", ws);
            return true;
        }
        char vname[128];
        if (add && json_is_object(add)) {
            size_t old = path_push(j, "additionalProperties");
            bool ok = gen(j, add, hint, vname, sizeof vname);
            path_pop(j, old);
            if (!ok)
                return false;
        } else {
            snprintf(vname, sizeof vname, "%s", js_prim(j, P_VALUE));
        }
        const char *str = js_prim(j, P_STRING);
        fr_buf_printf(b, "\"{\" %s (%s %s \":\" %s %s (%s \",\" %s %s %s \":\" %s %s)* %s)? \"}\"",
                      ws, str, ws, ws, vname, ws, ws, str, ws, ws, vname, ws);
        return true;
    }
    /* the keys in order: those of "properties", then required ones it lacks */
    size_t nk = np + nr;
    char **kv = calloc(nk ? nk : 1, sizeof *kv);
    bool *reqd = calloc(nk ? nk : 1, sizeof *reqd);
    size_t n = 0;
    bool ok = kv && reqd;
    if (!ok)
        js_fail(j, "out of memory");
    const char *key;
    json_t *sub;
    json_object_foreach(props, key, sub) {
        if (!ok)
            break;
        char vname[128];
        size_t old = path_push(j, "properties");
        path_push(j, key);
        char h[96];
        snprintf(h, sizeof h, "%s-%s", hint, key);
        ok = gen(j, sub, h, vname, sizeof vname);
        path_pop(j, old);
        if (!ok)
            break;
        fr_buf kb = FR_BUF_INIT;
        json_t *ks = json_string(key);
        ok = ks && js_put_json_literal(j, &kb, ks);
        json_decref(ks);
        fr_buf_printf(&kb, " %s \":\" %s %s", ws, ws, vname);
        for (size_t i = 0; i < nr; i++)
            if (strcmp(json_string_value(json_array_get(req, i)), key) == 0)
                reqd[n] = true;
        kv[n++] = ok && fr_buf_ok(&kb) ? fr_buf_take(&kb) : NULL;
        fr_buf_free(&kb);
        if (!kv[n - 1])
            ok = js_fail(j, "out of memory");
    }
    for (size_t i = 0; ok && i < nr; i++) {
        const char *rk = json_string_value(json_array_get(req, i));
        if (props && json_object_get(props, rk))
            continue;
        if (add && json_is_false(add)) {
            ok = js_fail(j, "\"%.60s\" is required but \"additionalProperties\" is false and "
                         "\"properties\" does not list it: no object can be valid", rk);
            break;
        }
        fr_buf kb = FR_BUF_INIT;
        json_t *ks = json_string(rk);
        ok = ks && js_put_json_literal(j, &kb, ks);
        json_decref(ks);
        const char *vs = add && json_is_object(add) ? NULL : js_prim(j, P_VALUE);
        char vname[128];
        if (!vs) {
            size_t old = path_push(j, "additionalProperties");
            ok = ok && gen(j, add, hint, vname, sizeof vname);
            path_pop(j, old);
            vs = vname;
        }
        fr_buf_printf(&kb, " %s \":\" %s %s", ws, ws, vs);
        reqd[n] = true;
        kv[n++] = ok && fr_buf_ok(&kb) ? fr_buf_take(&kb) : NULL;
        fr_buf_free(&kb);
        if (!kv[n - 1])
            ok = ok ? js_fail(j, "out of memory") : false;
    }
    if (ok) {
        /* alternative i starts with the i-th key (keys before it, all optional, are absent) */
        fr_buf_printf(b, "\"{\" %s (", ws);
        bool all_optional = true;
        for (size_t i = 0; i < n; i++) {
            fr_buf_printf(b, "%s%s", i ? " | " : "", kv[i]);
            for (size_t k = i + 1; k < n; k++)
                fr_buf_printf(b, reqd[k] ? " %s \",\" %s %s" : " (%s \",\" %s %s)?", ws, ws, kv[k]);
            if (reqd[i]) {
                all_optional = false;
                break;
            }
        }
        fr_buf_printf(b, ")%s %s \"}\"", all_optional ? "?" : "", ws);
    }
    for (size_t i = 0; i < n; i++)
        free(kv[i]);
    free(kv);
    free(reqd);
    return ok;
}

static bool gen_array(js *j, json_t *s, const char *hint, fr_buf *b)
{
    json_t *items = json_object_get(s, "items"), *prefix = json_object_get(s, "prefixItems");
    long long mn = 0, mx = -1;
    if (!js_get_count(j, s, "minItems", &mn) || !js_get_count(j, s, "maxItems", &mx))
        return false;
    if (mx >= 0 && mx < mn)
        return js_fail(j, "\"maxItems\" is below \"minItems\"");
    if (prefix && !json_is_array(prefix))
        return js_fail(j, "\"prefixItems\" must be an array of schemas");
    if (items && !json_is_object(items) && !json_is_boolean(items))
        return js_fail(j, "\"items\" must be a schema (an array of schemas is the old tuple form: "
                       "use \"prefixItems\")");
    const char *ws = js_prim(j, P_WS);
    size_t k = prefix ? json_array_size(prefix) : 0;
    char iname[128] = "";
    bool more = !(items && json_is_false(items));
    if (more) {
        if (items && json_is_object(items)) {
            size_t old = path_push(j, "items");
            char h[96];
            snprintf(h, sizeof h, "%s-item", hint);
            bool ok = gen(j, items, h, iname, sizeof iname);
            path_pop(j, old);
            if (!ok)
                return false;
        } else {
            snprintf(iname, sizeof iname, "%s", js_prim(j, P_VALUE));
        }
    }
    fr_buf_printf(b, "\"[\" %s", ws);
    if (k) {
        if ((long long)k < mn && !more)
            return js_fail(j, "\"minItems\" asks for more items than \"prefixItems\" allows");
        if (mx >= 0 && (long long)k > mx)
            return js_fail(j, "\"prefixItems\" longer than \"maxItems\" is not supported");
        for (size_t i = 0; i < k; i++) {
            char pname[128], h[96];
            size_t old = path_push_index(j, "prefixItems", i);
            snprintf(h, sizeof h, "%s-%zu", hint, i);
            bool ok = gen(j, json_array_get(prefix, i), h, pname, sizeof pname);
            path_pop(j, old);
            if (!ok)
                return false;
            if (i)
                fr_buf_printf(b, " %s \",\" %s", ws, ws);
            fr_buf_printf(b, " %s", pname);
        }
        long long rmin = mn > (long long)k ? mn - (long long)k : 0;
        long long rmax = mx >= 0 ? mx - (long long)k : -1;
        if (more && rmax != 0) {
            fr_buf_printf(b, " (%s \",\" %s %s)", ws, ws, iname);
            js_put_repeat(b, rmin, rmax);
        }
        fr_buf_printf(b, " %s \"]\"", ws);
        return true;
    }
    if (!more) {
        if (mn > 0)
            return js_fail(j, "\"items\": false with \"minItems\" above 0 allows no array");
        fr_buf_printf(b, " \"]\"");
        return true;
    }
    if (mx == 0) {
        fr_buf_puts(b, " \"]\"");
        return true;
    }
    fr_buf_printf(b, " %s%s (%s \",\" %s %s)", mn == 0 ? "(" : "", iname, ws, ws, iname);
    js_put_repeat(b, mn > 0 ? mn - 1 : 0, mx >= 0 ? mx - 1 : -1);
    fr_buf_printf(b, " %s%s \"]\"", ws, mn == 0 ? ")?" : "");
    return true;
}

/* ---- dispatch ---- */

static bool gen_type(js *j, json_t *s, const char *type, const char *hint, fr_buf *b)
{
    if (strcmp(type, "object") == 0)
        return gen_object(j, s, hint, b);
    if (strcmp(type, "array") == 0)
        return gen_array(j, s, hint, b);
    if (strcmp(type, "string") == 0)
        return js_gen_string(j, s, b);
    if (strcmp(type, "integer") == 0)
        return js_gen_integer(j, s, b);
    if (strcmp(type, "number") == 0)
        return js_gen_number(j, s, b);
    if (strcmp(type, "boolean") == 0) {
        fr_buf_puts(b, js_prim(j, P_BOOL));
        return true;
    }
    if (strcmp(type, "null") == 0) {
        fr_buf_puts(b, js_prim(j, P_NULL));
        return true;
    }
    return js_fail(j, "unknown type \"%.40s\"", type);
}

/* Does JSON value v have JSON Schema type t? */
static bool has_type(const json_t *v, const char *t)
{
    if (!strcmp(t, "object"))
        return json_is_object(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "null"))
        return json_is_null(v);
    return false;
}

static bool value_has_types(const json_t *v, const json_t *type)
{
    if (!type)
        return true;
    if (json_is_string(type))
        return has_type(v, json_string_value(type));
    size_t i;
    json_t *t;
    json_array_foreach(type, i, t)
        if (json_is_string(t) && has_type(v, json_string_value(t)))
            return true;
    return false;
}

/* enum / const: the listed values that fit "type"; other value keywords
 * beside them are refused (we would have to check each value). */
static bool gen_enum(js *j, json_t *s, fr_buf *b)
{
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v) {
        if (in_list(k_annotations, key) || !strcmp(key, "enum") || !strcmp(key, "const") ||
            !strcmp(key, "type"))
            continue;
        return js_fail(j, "\"%.40s\" beside \"enum\"/\"const\" is not supported", key);
    }
    json_t *type = json_object_get(s, "type"), *en = json_object_get(s, "enum"),
           *cn = json_object_get(s, "const");
    if (en && !json_is_array(en))
        return js_fail(j, "\"enum\" must be an array");
    size_t n = 0;
    fr_buf_puts(b, "(");
    bool cn_in_enum = !en;
    for (size_t i = 0; cn && en && i < json_array_size(en); i++)
        cn_in_enum |= json_equal(json_array_get(en, i), cn) != 0;
    if (cn && value_has_types(cn, type) && cn_in_enum) {
        fr_buf_putc(b, ' ');
        if (!js_put_json_literal(j, b, cn))
            return false;
        n++;
    } else if (!cn && en) {
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) {
            if (!value_has_types(e, type))
                continue;
            fr_buf_puts(b, n ? " | " : " ");
            if (!js_put_json_literal(j, b, e))
                return false;
            n++;
        }
    }
    if (!n)
        return js_fail(j, "no value satisfies \"enum\"/\"const\" together with \"type\"");
    fr_buf_puts(b, " )");
    return true;
}

/* The rule for a "$ref" target (generated on first use). */
static bool gen_ref(js *j, const char *ref, char *name, size_t cap)
{
    int32_t id = fr_strmap_get(&j->refs, ref, strlen(ref));
    if (id >= 0) {
        snprintf(name, cap, "%s", j->ref_names[id]);
        return true;
    }
    if (ref[0] != '#')
        return js_fail(j, "\"$ref\": \"%.80s\" is not inside this document (only \"#...\" "
                       "references are supported)", ref);
    /* resolve the JSON pointer */
    json_t *t = j->root;
    const char *p = ref + 1;
    char hint[64] = "ref";
    while (*p) {
        if (*p != '/')
            return js_fail(j, "\"$ref\": \"%.80s\" is not a JSON pointer", ref);
        p++;
        char seg[256];
        size_t k = 0;
        while (*p && *p != '/' && k + 1 < sizeof seg) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                seg[k++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                seg[k++] = *p++;
            }
        }
        seg[k] = '\0';
        snprintf(hint, sizeof hint, "%.60s", seg);
        if (json_is_object(t)) {
            t = json_object_get(t, seg);
        } else if (json_is_array(t)) {
            char *end;
            long idx = strtol(seg, &end, 10);
            t = (*end || idx < 0) ? NULL : json_array_get(t, (size_t)idx);
        } else {
            t = NULL;
        }
        if (!t)
            return js_fail(j, "\"$ref\": \"%.80s\" points at nothing", ref);
    }
    if (j->n_refs == j->cap_refs) {
        size_t nc = j->cap_refs ? j->cap_refs * 2 : 8;
        char **nr = realloc(j->ref_names, nc * sizeof *nr);
        if (!nr)
            return js_fail(j, "out of memory");
        j->ref_names = nr;
        j->cap_refs = nc;
    }
    if (!new_name(j, hint, name, cap))
        return false;
    j->ref_names[j->n_refs] = strdup(name);
    int32_t old;
    if (!j->ref_names[j->n_refs] ||
        fr_strmap_put(&j->refs, ref, strlen(ref), (int32_t)j->n_refs, &old) < 0)
        return js_fail(j, "out of memory");
    j->n_refs++;
    /* generate the target under its own name: a later (or recursive) use
     * finds the name in refs */
    char body[128];
    size_t plen = j->path_len;
    char saved[sizeof j->path];
    memcpy(saved, j->path, sizeof saved);
    snprintf(j->path, sizeof j->path, "%s", ref);
    j->path_len = strlen(j->path);
    bool ok = gen(j, t, hint, body, sizeof body);
    memcpy(j->path, saved, sizeof saved);
    j->path_len = plen;
    if (ok)
        rule(j, name, body);
    return ok;
}

/* Keywords other than the annotations and `keep` beside `what`: refused. */
static bool only(js *j, json_t *s, const char *keep, const char *advice)
{
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) {
        if (in_list(k_annotations, k) || strcmp(k, keep) == 0)
            continue;
        return js_fail(j, "\"%.40s\" beside \"%s\" is not supported%s", k, keep, advice);
    }
    return true;
}

/* The body of schema s's rule (s is an object), appended to body; or, for
 * a $ref or a one-member allOf, the name of another rule in *alias. */
static bool gen_body(js *j, json_t *s, const char *hint, fr_buf *body, char *alias, size_t cap)
{
    if (!check_keywords(j, s))
        return false;
    json_t *ref = json_object_get(s, "$ref"), *any = json_object_get(s, "anyOf"),
           *all = json_object_get(s, "allOf"), *type = json_object_get(s, "type");
    if (ref) {
        if (!only(j, s, "$ref", ""))
            return false;
        if (!json_is_string(ref))
            return js_fail(j, "\"$ref\" must be a string");
        return gen_ref(j, json_string_value(ref), alias, cap);
    }
    if (all) {
        if (!only(j, s, "allOf", ""))
            return false;
        if (!json_is_array(all) || json_array_size(all) != 1)
            return js_fail(j, "\"allOf\" is only supported with exactly one member");
        size_t old = path_push_index(j, "allOf", 0);
        bool ok = gen(j, json_array_get(all, 0), hint, alias, cap);
        path_pop(j, old);
        return ok;
    }
    if (any) {
        if (!only(j, s, "anyOf", " (move it into each branch)"))
            return false;
        if (!json_is_array(any) || json_array_size(any) == 0)
            return js_fail(j, "\"anyOf\" must be a non-empty array of schemas");
        for (size_t i = 0; i < json_array_size(any); i++) {
            char sub[128], h[96];
            snprintf(h, sizeof h, "%s-%zu", hint, i);
            size_t old = path_push_index(j, "anyOf", i);
            bool ok = gen(j, json_array_get(any, i), h, sub, sizeof sub);
            path_pop(j, old);
            if (!ok)
                return false;
            fr_buf_printf(body, "%s%s", i ? " | " : "", sub);
        }
        return true;
    }
    if (json_object_get(s, "enum") || json_object_get(s, "const"))
        return gen_enum(j, s, body);
    if (json_is_array(type)) {
        size_t n = json_array_size(type);
        if (!n)
            return js_fail(j, "\"type\" is an empty list");
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(type, i);
            if (!json_is_string(t))
                return js_fail(j, "\"type\" must be a string or a list of strings");
            fr_buf_puts(body, i ? " | (" : "(");
            if (!gen_type(j, s, json_string_value(t), hint, body))
                return false;
            fr_buf_puts(body, ")");
        }
        return true;
    }
    if (type) {
        if (!json_is_string(type))
            return js_fail(j, "\"type\" must be a string or a list of strings");
        return gen_type(j, s, json_string_value(type), hint, body);
    }
    /* no type: the keywords say which (none: any value) */
    bool obj = json_object_get(s, "properties") || json_object_get(s, "required") ||
               json_object_get(s, "additionalProperties");
    bool arr = json_object_get(s, "items") || json_object_get(s, "prefixItems") ||
               json_object_get(s, "minItems") || json_object_get(s, "maxItems");
    bool str = json_object_get(s, "minLength") || json_object_get(s, "maxLength") ||
               json_object_get(s, "pattern") || json_object_get(s, "format");
    bool num = json_object_get(s, "minimum") || json_object_get(s, "maximum") ||
               json_object_get(s, "exclusiveMinimum") || json_object_get(s, "exclusiveMaximum");
    int kinds = obj + arr + str + num;
    if (kinds == 0) {
        fr_buf_puts(body, js_prim(j, P_VALUE));
        return true;
    }
    if (kinds > 1)
        return js_fail(j, "a schema without \"type\" whose keywords belong to several types; "
                       "add \"type\"");
    return gen_type(j, s, obj ? "object" : arr ? "array" : str ? "string" : "number", hint, body);
}

/* Compiles schema s into a rule; its name goes to name. */
static bool gen(js *j, json_t *s, const char *hint, char *name, size_t cap)
{
    if (j->failed)
        return false;
    if (json_is_true(s) || (json_is_object(s) && json_object_size(s) == 0)) {
        snprintf(name, cap, "%s", js_prim(j, P_VALUE));
        return true;
    }
    if (json_is_false(s))
        return js_fail(j, "the schema false matches no value");
    if (!json_is_object(s))
        return js_fail(j, "a schema must be an object or a boolean");
    if (j->depth >= JS_MAX_DEPTH)
        return js_fail(j, "schemas nested deeper than %d", JS_MAX_DEPTH);
    j->depth++;
    fr_buf body = FR_BUF_INIT;
    name[0] = '\0';
    bool ok = gen_body(j, s, hint, &body, name, cap);
    j->depth--;
    if (ok && !name[0]) {
        if (!fr_buf_ok(&body))
            ok = js_fail(j, "out of memory");
        else if ((ok = new_name(j, hint, name, cap)))
            rule(j, name, body.data ? body.data : "\"\"");
    }
    fr_buf_free(&body);
    return ok;
}

bool js_init(js *j, const char *origin, fr_err *err)
{
    memset(j, 0, sizeof *j);
    j->origin = origin;
    j->err = err;
    if (!fr_strmap_init(&j->names, 64) || !fr_strmap_init(&j->refs, 16)) {
        js_release(j);
        fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
        return false;
    }
    int32_t old;
    static const char *const reserved[] = {"root", "ws", "char", "safe", "string", "integer",
                                           "number", "boolean", "null", "value", "object",
                                           "array", NULL};
    for (const char *const *r = reserved; *r; r++)
        if (fr_strmap_put(&j->names, *r, strlen(*r), 1, &old) < 0) {
            js_release(j);
            fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
            return false;
        }
    return true;
}

static void refs_clear(js *j)
{
    for (size_t i = 0; i < j->n_refs; i++)
        free(j->ref_names[i]);
    j->n_refs = 0;
    fr_strmap_free(&j->refs);
}

void js_release(js *j)
{
    refs_clear(j);
    free(j->ref_names);
    fr_buf_free(&j->out);
    fr_strmap_free(&j->names);
}

bool js_compile(js *j, json_t *schema, const char *hint, char *name, size_t cap)
{
    if (j->failed)
        return false;
    /* $refs resolve inside this schema: forget the previous one's */
    refs_clear(j);
    if (!fr_strmap_init(&j->refs, 16))
        return js_fail(j, "out of memory");
    j->root = schema;
    j->path_len = 0;
    j->path[0] = '\0';
    j->depth = 0;
    return gen(j, schema, hint, name, cap);
}

fr_status fr_json_schema_to_gbnf(const char *schema, size_t len, const char *origin, char **gbnf,
                                 fr_err *err)
{
    *gbnf = NULL;
    if (!origin)
        origin = "JSON Schema";
    json_error_t je;
    json_t *root = json_loadb(schema ? schema : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fr_err_set(err, FR_E_FORMAT, "%s: not valid JSON: %s (line %d, column %d)", origin,
                          je.text, je.line, je.column);
    js j;
    fr_status st = FR_OK;
    if (!js_init(&j, origin, err)) {
        json_decref(root);
        return FR_E_NOMEM;
    }
    char top[128];
    if (!js_compile(&j, root, "schema", top, sizeof top)) {
        st = FR_E_UNSUPPORTED;
        goto done;
    }
    fr_buf_printf(&j.out, "root ::= %s %s %s\n", js_prim(&j, P_WS), top, js_prim(&j, P_WS));
    if (!fr_buf_ok(&j.out) || !(*gbnf = fr_buf_take(&j.out)))
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", origin);
done:
    js_release(&j);
    json_decref(root);
    return st;
}

fr_status fr_grammar_from_json_schema(const char *schema, size_t len, const char *origin,
                                      fr_grammar **out, fr_err *err)
{
    *out = NULL;
    char *g = NULL;
    fr_status st = fr_json_schema_to_gbnf(schema, len, origin, &g, err);
    if (st)
        return st;
    st = fr_grammar_parse(g, strlen(g), origin ? origin : "JSON Schema", out, err);
    if (st)
        fr_err_prefix(err, "the grammar compiled from the schema (a bug: please report it)");
    free(g);
    return st;
}

fr_status fr_grammar_json_object(fr_grammar **out, fr_err *err)
{
    static const char schema[] = "{\"type\": \"object\"}";
    return fr_grammar_from_json_schema(schema, sizeof schema - 1, "json_object", out, err);
}
