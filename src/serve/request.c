/*
 * request.c - parsing and validating OpenAI request bodies (see request.h).
 *
 * Each request kind has a table of the fields it knows: supported ones are
 * read by a typed getter that checks type and range and names the field in
 * its message; ignored ones (bookkeeping) are accepted; any other non-null
 * field is rejected. Messages mirror OpenAI's wording where it exists
 * ("Invalid 'max_tokens': integer below minimum value...") so clients that
 * show them read naturally.
 *
 * Rejected: silently dropping fields we do not implement (a client asking
 * for tools or n = 3 would get a plausible but wrong answer), and parsing
 * with a hand-written JSON reader (jansson already bounds depth, rejects
 * bad UTF-8 and out-of-range numbers).
 */
#include "serve/request.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SRV_DEFAULT_MAX_MESSAGES 4096
#define SRV_COMPLETION_DEFAULT_MAX_TOKENS 16 /* OpenAI's default for /v1/completions */

json_t *srv_json_parse_object(const char *body, size_t len, srv_error *e)
{
    if (!body || len == 0) {
        srv_fail(e, 400, NULL, NULL, NULL,
                 "the request body is empty; send a JSON object (Content-Type: application/json)");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        srv_fail(e, 400, NULL, NULL, NULL,
                 "We could not parse the JSON body of your request: %s (line %d, column %d, byte %d)",
                 je.text, je.line, je.column, je.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        srv_fail(e, 400, NULL, NULL, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* ---- typed getters: absent and null leave *out unchanged ---------------- */

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static json_t *field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return v && !json_is_null(v) ? v : NULL;
}

static bool get_bool(json_t *root, const char *key, bool *out, srv_error *e)
{
    json_t *v = field(root, key);
    if (!v)
        return true;
    if (!json_is_boolean(v))
        return srv_fail(e, 400, NULL, NULL, key, "Invalid type for '%s': expected a boolean, but got %s instead.",
                        key, json_type_name(v));
    *out = json_is_true(v);
    return true;
}

static bool get_number(json_t *root, const char *key, double lo, double hi, double *out,
                       srv_error *e)
{
    json_t *v = field(root, key);
    if (!v)
        return true;
    if (!json_is_number(v))
        return srv_fail(e, 400, NULL, NULL, key, "Invalid type for '%s': expected a number, but got %s instead.",
                        key, json_type_name(v));
    double d = json_number_value(v);
    if (!(d >= lo))
        return srv_fail(e, 400, NULL, "decimal_below_min_value", key,
                        "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got %g instead.",
                        key, lo, d);
    if (!(d <= hi))
        return srv_fail(e, 400, NULL, "decimal_above_max_value", key,
                        "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got %g instead.",
                        key, hi, d);
    *out = d;
    return true;
}

static bool get_int(json_t *root, const char *key, long long lo, long long hi, long long *out,
                    bool *given, srv_error *e)
{
    json_t *v = field(root, key);
    if (!v)
        return true;
    if (!json_is_integer(v))
        return srv_fail(e, 400, NULL, NULL, key, "Invalid type for '%s': expected an integer, but got %s instead.",
                        key, json_type_name(v));
    long long x = json_integer_value(v);
    if (x < lo)
        return srv_fail(e, 400, NULL, "integer_below_min_value", key,
                        "Invalid '%s': integer below minimum value. Expected a value >= %lld, but got %lld instead.",
                        key, lo, x);
    if (x > hi)
        return srv_fail(e, 400, NULL, "integer_above_max_value", key,
                        "Invalid '%s': integer above maximum value. Expected a value <= %lld, but got %lld instead.",
                        key, hi, x);
    *out = x;
    if (given)
        *given = true;
    return true;
}

/* ---- field tables -------------------------------------------------------- */

typedef enum { F_SUPPORTED, F_IGNORED } field_kind;

typedef struct field_spec {
    const char *name;
    field_kind kind;
} field_spec;

static const field_spec chat_fields[] = {
    {"model", F_SUPPORTED}, {"messages", F_SUPPORTED}, {"stream", F_SUPPORTED},
    {"stream_options", F_SUPPORTED}, {"max_tokens", F_SUPPORTED},
    {"max_completion_tokens", F_SUPPORTED}, {"temperature", F_SUPPORTED},
    {"top_p", F_SUPPORTED}, {"seed", F_SUPPORTED}, {"stop", F_SUPPORTED},
    {"presence_penalty", F_SUPPORTED}, {"frequency_penalty", F_SUPPORTED},
    {"logprobs", F_SUPPORTED}, {"top_logprobs", F_SUPPORTED}, {"logit_bias", F_SUPPORTED},
    {"n", F_SUPPORTED}, {"response_format", F_SUPPORTED}, {"tools", F_SUPPORTED},
    {"tool_choice", F_SUPPORTED}, {"functions", F_SUPPORTED}, {"function_call", F_SUPPORTED},
    {"parallel_tool_calls", F_IGNORED}, {"top_k", F_SUPPORTED}, {"min_p", F_SUPPORTED},
    {"repeat_penalty", F_SUPPORTED}, {"user", F_IGNORED}, {"metadata", F_IGNORED},
    {"store", F_IGNORED}, {"service_tier", F_IGNORED}, {"documents", F_SUPPORTED},
    {"min_support", F_SUPPORTED}, {NULL, F_IGNORED}};

static const field_spec completion_fields[] = {
    {"model", F_SUPPORTED}, {"prompt", F_SUPPORTED}, {"suffix", F_SUPPORTED},
    {"max_tokens", F_SUPPORTED}, {"temperature", F_SUPPORTED}, {"top_p", F_SUPPORTED},
    {"n", F_SUPPORTED}, {"stream", F_SUPPORTED}, {"stream_options", F_SUPPORTED},
    {"logprobs", F_SUPPORTED}, {"echo", F_SUPPORTED}, {"stop", F_SUPPORTED},
    {"presence_penalty", F_SUPPORTED}, {"frequency_penalty", F_SUPPORTED},
    {"best_of", F_SUPPORTED}, {"logit_bias", F_SUPPORTED}, {"seed", F_SUPPORTED},
    {"top_k", F_SUPPORTED}, {"min_p", F_SUPPORTED}, {"repeat_penalty", F_SUPPORTED},
    {"user", F_IGNORED}, {"metadata", F_IGNORED}, {"store", F_IGNORED},
    {"service_tier", F_IGNORED}, {NULL, F_IGNORED}};

static bool check_fields(json_t *root, const field_spec *spec, srv_error *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        bool known = false;
        for (const field_spec *f = spec; f->name; f++)
            if (strcmp(f->name, key) == 0) {
                known = true;
                break;
            }
        if (!known && !json_is_null(v))
            return srv_fail(e, 400, NULL, "unsupported_parameter", key,
                            "Unrecognized request argument supplied: %s (this server does not "
                            "implement it)", key);
    }
    return true;
}

/* ---- shared sampling fields ---------------------------------------------- */

static bool parse_stop(json_t *root, srv_request *r, srv_error *e)
{
    json_t *v = field(root, "stop");
    if (!v)
        return true;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return srv_fail(e, 400, NULL, NULL, "stop", "Invalid 'stop': stop strings must not be empty.");
        r->stop[0] = json_string_value(v);
        r->stop_len[0] = json_string_length(v);
        r->n_stop = 1;
        return true;
    }
    if (!json_is_array(v))
        return srv_fail(e, 400, NULL, NULL, "stop",
                        "Invalid type for 'stop': expected a string or an array of strings, but got %s instead.",
                        json_type_name(v));
    if (json_array_size(v) > SRV_MAX_STOP)
        return srv_fail(e, 400, NULL, "array_above_max_length", "stop",
                        "Invalid 'stop': array too long. Expected an array with maximum length %d, but got an array with length %zu instead.",
                        SRV_MAX_STOP, json_array_size(v));
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s))
            return srv_fail(e, 400, NULL, NULL, "stop",
                            "Invalid type for 'stop[%zu]': expected a string, but got %s instead.", i,
                            json_type_name(s));
        if (json_string_length(s) == 0)
            return srv_fail(e, 400, NULL, NULL, "stop", "Invalid 'stop[%zu]': stop strings must not be empty.", i);
        if (json_string_length(s) > 4096)
            return srv_fail(e, 400, NULL, NULL, "stop", "Invalid 'stop[%zu]': longer than 4096 bytes.", i);
        r->stop[r->n_stop] = json_string_value(s);
        r->stop_len[r->n_stop] = json_string_length(s);
        r->n_stop++;
    }
    return true;
}

static bool parse_logit_bias(json_t *root, const srv_limits *lim, srv_request *r, srv_error *e)
{
    json_t *v = field(root, "logit_bias");
    if (!v)
        return true;
    if (!json_is_object(v))
        return srv_fail(e, 400, NULL, NULL, "logit_bias",
                        "Invalid type for 'logit_bias': expected an object mapping token ids to numbers, but got %s instead.",
                        json_type_name(v));
    size_t n = json_object_size(v);
    if (n == 0)
        return true;
    r->bias = calloc(n, sizeof *r->bias);
    if (!r->bias)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    const char *key;
    json_t *b;
    size_t k = 0;
    json_object_foreach(v, key, b) {
        char *end;
        errno = 0;
        long id = strtol(key, &end, 10);
        if (errno || end == key || *end || id < 0 || id > INT32_MAX ||
            (lim->n_vocab && (unsigned long)id >= lim->n_vocab))
            return srv_fail(e, 400, NULL, NULL, "logit_bias",
                            "Invalid 'logit_bias': key '%.64s' is not a token id in [0, %u).", key,
                            lim->n_vocab);
        if (!json_is_number(b))
            return srv_fail(e, 400, NULL, NULL, "logit_bias",
                            "Invalid 'logit_bias': the value for token %ld must be a number.", id);
        double x = json_number_value(b);
        if (!(x >= -100 && x <= 100))
            return srv_fail(e, 400, NULL, NULL, "logit_bias",
                            "Invalid 'logit_bias': the value for token %ld must be in [-100, 100], not %g.",
                            id, x);
        r->bias[k].token = (int32_t)id;
        r->bias[k].bias = (float)x;
        k++;
    }
    r->sampling.logit_bias = r->bias;
    r->sampling.n_logit_bias = (int32_t)k;
    return true;
}

/* Fields chat and completions share. */
static bool parse_common(json_t *root, const srv_limits *lim, srv_request *r, srv_error *e)
{
    json_t *model = field(root, "model");
    if (!model)
        return srv_fail(e, 400, NULL, NULL, "model",
                        "you must provide a model parameter (GET /v1/models lists the one served here)");
    if (!json_is_string(model))
        return srv_fail(e, 400, NULL, NULL, "model",
                        "Invalid type for 'model': expected a string, but got %s instead.",
                        json_type_name(model));
    r->model = json_string_value(model);

    if (!get_bool(root, "stream", &r->stream, e))
        return false;
    json_t *so = field(root, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return srv_fail(e, 400, NULL, NULL, "stream_options",
                            "Invalid type for 'stream_options': expected an object, but got %s instead.",
                            json_type_name(so));
        if (!r->stream)
            return srv_fail(e, 400, NULL, NULL, "stream_options",
                            "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
        const char *key;
        json_t *v;
        json_object_foreach(so, key, v) {
            if (strcmp(key, "include_usage") != 0 && !json_is_null(v))
                return srv_fail(e, 400, NULL, "unsupported_parameter", "stream_options",
                                "Unrecognized stream option: %s", key);
        }
        if (!get_bool(so, "include_usage", &r->include_usage, e))
            return false;
    }

    long long n = 1;
    if (!get_int(root, "n", 1, LLONG_MAX, &n, NULL, e))
        return false;
    if (n != 1)
        return srv_fail(e, 400, NULL, "unsupported_value", "n",
                        "n = %lld is not supported yet: this server returns one choice per request "
                        "(send %lld requests instead)", n, n);

    /* Any positive max_tokens is accepted, as OpenAI and llama-server do:
     * generation stops where the context is full, with finish_reason
     * "length" and usage.context saying what the context allowed. */
    long long maxt = -1;
    bool maxt_given = false;
    const char *mkey = "max_tokens";
    if (r->kind == SRV_CHAT && field(root, "max_completion_tokens"))
        mkey = "max_completion_tokens";
    if (!get_int(root, mkey, 1, LLONG_MAX, &maxt, &maxt_given, e))
        return false;
    if (r->kind == SRV_CHAT && strcmp(mkey, "max_completion_tokens") == 0 && field(root, "max_tokens")) {
        long long other = -1;
        if (!get_int(root, "max_tokens", 1, LLONG_MAX, &other, NULL, e))
            return false;
        if (other < maxt)
            maxt = other;
    }
    if (maxt_given)
        r->max_tokens = (int32_t)(maxt > INT32_MAX ? INT32_MAX : maxt);

    fr_sampler_params *sp = &r->sampling;
    double d;
    d = sp->temperature;
    if (!get_number(root, "temperature", 0, 2, &d, e))
        return false;
    sp->temperature = (float)d;
    d = sp->top_p;
    if (!get_number(root, "top_p", 0, 1, &d, e))
        return false;
    sp->top_p = (float)d;
    d = sp->min_p;
    if (!get_number(root, "min_p", 0, 1, &d, e))
        return false;
    sp->min_p = (float)d;
    d = sp->presence_penalty;
    if (!get_number(root, "presence_penalty", -2, 2, &d, e))
        return false;
    sp->presence_penalty = (float)d;
    d = sp->frequency_penalty;
    if (!get_number(root, "frequency_penalty", -2, 2, &d, e))
        return false;
    sp->frequency_penalty = (float)d;
    d = sp->repeat_penalty;
    if (!get_number(root, "repeat_penalty", 0.01, 100, &d, e))
        return false;
    sp->repeat_penalty = (float)d;
    long long k = sp->top_k;
    if (!get_int(root, "top_k", 0, 1 << 24, &k, NULL, e))
        return false;
    sp->top_k = (int32_t)k;
    long long seed = 0;
    if (!get_int(root, "seed", LLONG_MIN, LLONG_MAX, &seed, &r->seed_given, e))
        return false;
    if (r->seed_given)
        sp->seed = (uint64_t)seed;
    if (!parse_stop(root, r, e) || !parse_logit_bias(root, lim, r, e))
        return false;
    return true;
}

/* ---- chat ---------------------------------------------------------------- */

static bool keep_joined(srv_request *r, char *s, srv_error *e)
{
    char **nj = realloc(r->joined, (r->n_joined + 1) * sizeof *nj);
    if (!nj) {
        free(s);
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    }
    r->joined = nj;
    r->joined[r->n_joined++] = s;
    return true;
}

static bool parse_content(json_t *c, size_t i, srv_request *r, fr_chat_msg *m, srv_error *e)
{
    char param[48];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (json_is_string(c)) {
        m->content = json_string_value(c);
        m->len = json_string_length(c);
        return true;
    }
    if (!json_is_array(c))
        return srv_fail(e, 400, NULL, NULL, param,
                        "Invalid type for '%s': expected a string or an array of text parts, but got %s instead.",
                        param, json_type_name(c));
    /* text parts, joined with "\n" */
    size_t total = 0, j;
    json_t *part;
    json_array_foreach(c, j, part) {
        json_t *type = json_is_object(part) ? json_object_get(part, "type") : NULL;
        json_t *text = json_is_object(part) ? json_object_get(part, "text") : NULL;
        if (!type || !json_is_string(type))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid '%s[%zu]': expected an object with a 'type'.", param, j);
        if (strcmp(json_string_value(type), "text") != 0)
            return srv_fail(e, 400, NULL, "unsupported_value", param,
                            "Content parts of type '%.32s' are not supported (only 'text'): %s[%zu].",
                            json_string_value(type), param, j);
        if (!text || !json_is_string(text))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid '%s[%zu].text': expected a string.", param, j);
        total += json_string_length(text) + 1;
    }
    char *s = malloc(total + 1);
    if (!s)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    size_t len = 0;
    json_array_foreach(c, j, part) {
        json_t *text = json_object_get(part, "text");
        if (j)
            s[len++] = '\n';
        memcpy(s + len, json_string_value(text), json_string_length(text));
        len += json_string_length(text);
    }
    s[len] = '\0';
    if (!keep_joined(r, s, e))
        return false;
    m->content = s;
    m->len = len;
    return true;
}

static bool parse_messages(json_t *root, const srv_limits *lim, srv_request *r, srv_error *e)
{
    json_t *msgs = field(root, "messages");
    if (!msgs)
        return srv_fail(e, 400, NULL, NULL, "messages", "Missing required parameter: 'messages'.");
    if (!json_is_array(msgs))
        return srv_fail(e, 400, NULL, NULL, "messages",
                        "Invalid type for 'messages': expected an array, but got %s instead.",
                        json_type_name(msgs));
    size_t n = json_array_size(msgs);
    uint32_t maxm = lim->max_messages ? lim->max_messages : SRV_DEFAULT_MAX_MESSAGES;
    if (n == 0)
        return srv_fail(e, 400, NULL, "empty_array", "messages",
                        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.");
    if (n > maxm)
        return srv_fail(e, 400, NULL, "array_above_max_length", "messages",
                        "Invalid 'messages': array too long. Expected an array with maximum length %u, but got an array with length %zu instead.",
                        maxm, n);
    r->msgs = calloc(n, sizeof *r->msgs);
    if (!r->msgs)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char param[40];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid type for '%s': expected an object, but got %s instead.", param,
                            json_type_name(m));
        json_t *role = json_object_get(m, "role");
        if (!role || !json_is_string(role))
            return srv_fail(e, 400, NULL, NULL, param, "Missing required parameter: '%s.role'.", param);
        if (!fr_chat_role_parse(json_string_value(role), &r->msgs[i].role))
            return srv_fail(e, 400, NULL, "unsupported_value", param,
                            "Invalid '%s.role': '%.32s' is not supported (use system, developer, "
                            "user or assistant; tools are not implemented yet).",
                            param, json_string_value(role));
        static const char *const tool_keys[] = {"tool_calls", "function_call", "tool_call_id", "audio"};
        for (size_t k = 0; k < sizeof tool_keys / sizeof tool_keys[0]; k++)
            if (field(m, tool_keys[k]))
                return srv_fail(e, 400, NULL, "unsupported_parameter", param,
                                "'%s.%s' is not supported: tools are not implemented yet.", param,
                                tool_keys[k]);
        json_t *c = field(m, "content");
        if (!c)
            return srv_fail(e, 400, NULL, NULL, param, "Missing required parameter: '%s.content'.", param);
        if (!parse_content(c, i, r, &r->msgs[i], e))
            return false;
    }
    r->n_msgs = n;
    return true;
}

static bool parse_unsupported_chat(json_t *root, srv_error *e)
{
    json_t *v;
    if ((v = field(root, "tools")) && !(json_is_array(v) && json_array_size(v) == 0))
        return srv_fail(e, 400, NULL, "unsupported_parameter", "tools",
                        "'tools' is not supported yet: this server cannot call functions.");
    if ((v = field(root, "functions")) && !(json_is_array(v) && json_array_size(v) == 0))
        return srv_fail(e, 400, NULL, "unsupported_parameter", "functions",
                        "'functions' is not supported yet: this server cannot call functions.");
    static const char *const choice_keys[] = {"tool_choice", "function_call"};
    for (size_t k = 0; k < 2; k++)
        if ((v = field(root, choice_keys[k])) &&
            !(json_is_string(v) && (strcmp(json_string_value(v), "none") == 0 ||
                                    strcmp(json_string_value(v), "auto") == 0)))
            return srv_fail(e, 400, NULL, "unsupported_parameter", choice_keys[k],
                            "'%s' is not supported yet: this server cannot call functions.",
                            choice_keys[k]);
    if ((v = field(root, "response_format"))) {
        json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
        if (!t || !json_is_string(t))
            return srv_fail(e, 400, NULL, NULL, "response_format",
                            "Invalid 'response_format': expected an object with a 'type'.");
        if (strcmp(json_string_value(t), "text") != 0)
            return srv_fail(e, 400, NULL, "unsupported_value", "response_format",
                            "response_format type '%.32s' is not supported yet (structured output "
                            "is not implemented): only {\"type\": \"text\"}.",
                            json_string_value(t));
    }
    return true;
}

/* "documents": strings, or objects {"text", "title"}; then the rules that
 * come with them. */
static bool parse_documents(json_t *root, srv_request *r, srv_error *e)
{
    json_t *docs = field(root, "documents");
    if (!docs) {
        if (field(root, "min_support"))
            return srv_fail(e, 400, NULL, NULL, "min_support",
                            "'min_support' applies to grounded answers only: send it with "
                            "'documents'.");
        return true;
    }
    if (!json_is_array(docs))
        return srv_fail(e, 400, NULL, NULL, "documents",
                        "Invalid type for 'documents': expected an array of strings or of "
                        "{\"text\", \"title\"} objects, but got %s instead.", json_type_name(docs));
    size_t n = json_array_size(docs);
    if (n == 0)
        return srv_fail(e, 400, NULL, "empty_array", "documents",
                        "Invalid 'documents': empty array. Give at least one passage to ground "
                        "the answer on, or leave 'documents' out.");
    if (n > SRV_MAX_DOCUMENTS)
        return srv_fail(e, 400, NULL, "array_above_max_length", "documents",
                        "Invalid 'documents': %zu passages, at most %d (send the most relevant "
                        "ones).", n, SRV_MAX_DOCUMENTS);
    r->docs = calloc(n, sizeof *r->docs);
    if (!r->docs)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        char param[40];
        snprintf(param, sizeof param, "documents[%zu]", i);
        json_t *text = d, *title = NULL;
        if (json_is_object(d)) {
            const char *key;
            json_t *v;
            json_object_foreach(d, key, v) {
                if (strcmp(key, "text") != 0 && strcmp(key, "title") != 0 && !json_is_null(v))
                    return srv_fail(e, 400, NULL, "unsupported_parameter", param,
                                    "Unrecognized field '%s.%.40s': a document is a string or "
                                    "{\"text\", \"title\"}.", param, key);
            }
            text = field(d, "text");
            title = field(d, "title");
            if (!text)
                return srv_fail(e, 400, NULL, NULL, param, "Missing required parameter: '%s.text'.",
                                param);
            if (title && !json_is_string(title))
                return srv_fail(e, 400, NULL, NULL, param,
                                "Invalid type for '%s.title': expected a string, but got %s "
                                "instead.", param, json_type_name(title));
        }
        if (!json_is_string(text))
            return srv_fail(e, 400, NULL, NULL, param,
                            "Invalid type for '%s%s': expected a string%s, but got %s instead.",
                            param, text == d ? "" : ".text",
                            text == d ? " or a {\"text\", \"title\"} object" : "",
                            json_type_name(text));
        size_t len = json_string_length(text);
        const char *t = json_string_value(text);
        size_t k = 0;
        while (k < len && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == '\r'))
            k++;
        if (k == len)
            return srv_fail(e, 400, NULL, NULL, param, "Invalid '%s': the passage is empty.", param);
        r->docs[i] = (srv_document){t, len, title ? json_string_value(title) : NULL};
    }
    r->n_docs = n;
    if (!get_number(root, "min_support", 0.001, 1, &r->min_support, e))
        return false;
    if (r->stream)
        return srv_fail(e, 400, NULL, "unsupported_parameter", "stream",
                        "'stream' is not supported with 'documents': a grounded answer is "
                        "checked against the documents as a whole before it is shown (or "
                        "replaced by the abstain text), so it cannot be streamed token by token. "
                        "Send the request without 'stream'.");
    if (r->n_stop)
        return srv_fail(e, 400, NULL, "unsupported_parameter", "stop",
                        "'stop' is not supported with 'documents': a grounded answer ends when "
                        "its citation grammar says it is complete.");
    if (r->logprobs)
        return srv_fail(e, 400, NULL, "unsupported_parameter", "logprobs",
                        "'logprobs' is not supported with 'documents' (the answer may be "
                        "replaced by the abstain text); 'grounding' reports each sentence's "
                        "token probability instead.");
    if (r->msgs[r->n_msgs - 1].role != FR_CHAT_USER)
        return srv_fail(e, 400, NULL, NULL, "messages",
                        "With 'documents', the last message must be the user's question "
                        "(role 'user').");
    return true;
}

static bool parse_chat(json_t *root, const srv_limits *lim, srv_request *r, srv_error *e)
{
    if (!check_fields(root, chat_fields, e) || !parse_unsupported_chat(root, e) ||
        !parse_common(root, lim, r, e) || !parse_messages(root, lim, r, e))
        return false;
    if (!get_bool(root, "logprobs", &r->logprobs, e))
        return false;
    long long top = 0;
    bool top_given = false;
    if (!get_int(root, "top_logprobs", 0, FR_SAMPLER_MAX_TOP_LOGPROBS, &top, &top_given, e))
        return false;
    if (top_given && !r->logprobs)
        return srv_fail(e, 400, NULL, NULL, "top_logprobs",
                        "Invalid 'top_logprobs': 'logprobs' must be set to true when "
                        "'top_logprobs' is used.");
    r->top_logprobs = (int32_t)top;
    return parse_documents(root, r, e);
}

/* ---- completions --------------------------------------------------------- */

static bool parse_token_list(json_t *a, const srv_limits *lim, srv_request *r, srv_error *e)
{
    size_t n = json_array_size(a);
    r->prompt_ids = malloc((n ? n : 1) * sizeof *r->prompt_ids);
    if (!r->prompt_ids)
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    size_t i;
    json_t *t;
    json_array_foreach(a, i, t) {
        if (!json_is_integer(t))
            return srv_fail(e, 400, NULL, NULL, "prompt",
                            "Invalid 'prompt[%zu]': a token list holds integers, not %s.", i,
                            json_type_name(t));
        long long id = json_integer_value(t);
        if (id < 0 || id > INT32_MAX || (lim->n_vocab && id >= (long long)lim->n_vocab))
            return srv_fail(e, 400, NULL, NULL, "prompt",
                            "Invalid 'prompt[%zu]': token id %lld is outside the vocabulary [0, %u).",
                            i, id, lim->n_vocab);
        r->prompt_ids[i] = (int32_t)id;
    }
    r->n_prompt_ids = n;
    return true;
}

static bool parse_prompt(json_t *root, const srv_limits *lim, srv_request *r, srv_error *e)
{
    json_t *p = field(root, "prompt");
    if (!p)
        return srv_fail(e, 400, NULL, NULL, "prompt", "Missing required parameter: 'prompt'.");
    if (json_is_string(p)) {
        r->prompt = json_string_value(p);
        r->prompt_len = json_string_length(p);
        return true;
    }
    if (!json_is_array(p))
        return srv_fail(e, 400, NULL, NULL, "prompt",
                        "Invalid type for 'prompt': expected a string, an array of tokens or an "
                        "array of one string, but got %s instead.", json_type_name(p));
    size_t n = json_array_size(p);
    if (n == 0)
        return srv_fail(e, 400, NULL, NULL, "prompt", "Invalid 'prompt': the array is empty.");
    json_t *first = json_array_get(p, 0);
    if (json_is_integer(first))
        return parse_token_list(p, lim, r, e);
    if (n > 1)
        return srv_fail(e, 400, NULL, "unsupported_value", "prompt",
                        "Invalid 'prompt': %zu prompts in one request are not supported yet (send "
                        "one request per prompt).", n);
    if (json_is_string(first)) {
        r->prompt = json_string_value(first);
        r->prompt_len = json_string_length(first);
        return true;
    }
    if (json_is_array(first) && json_array_size(first) > 0)
        return parse_token_list(first, lim, r, e);
    return srv_fail(e, 400, NULL, NULL, "prompt",
                    "Invalid 'prompt[0]': expected a string or a non-empty array of tokens, but got %s.",
                    json_type_name(first));
}

static bool parse_completion(json_t *root, const srv_limits *lim, srv_request *r, srv_error *e)
{
    r->max_tokens = SRV_COMPLETION_DEFAULT_MAX_TOKENS;
    if (lim->max_tokens && (uint32_t)r->max_tokens > lim->max_tokens)
        r->max_tokens = (int32_t)lim->max_tokens;
    if (!check_fields(root, completion_fields, e) || !parse_common(root, lim, r, e) ||
        !parse_prompt(root, lim, r, e))
        return false;
    json_t *v;
    if ((v = field(root, "suffix")) && !(json_is_string(v) && json_string_length(v) == 0))
        return srv_fail(e, 400, NULL, "unsupported_parameter", "suffix",
                        "'suffix' is not supported yet (no fill-in-the-middle).");
    bool echo = false;
    if (!get_bool(root, "echo", &echo, e))
        return false;
    if (echo)
        return srv_fail(e, 400, NULL, "unsupported_parameter", "echo", "'echo' is not supported yet.");
    long long best_of = 1;
    if (!get_int(root, "best_of", 1, LLONG_MAX, &best_of, NULL, e))
        return false;
    if (best_of != 1)
        return srv_fail(e, 400, NULL, "unsupported_value", "best_of",
                        "best_of = %lld is not supported yet (only 1).", best_of);
    long long lp = 0;
    bool lp_given = false;
    if (!get_int(root, "logprobs", 0, FR_SAMPLER_MAX_TOP_LOGPROBS, &lp, &lp_given, e))
        return false;
    r->logprobs = lp_given;
    r->top_logprobs = (int32_t)lp;
    return true;
}

bool srv_request_parse(srv_kind kind, const char *body, size_t len, const srv_limits *lim,
                       srv_request *r, srv_error *e)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->max_tokens = -1;
    srv_limits none = {0, 0, 0, NULL};
    if (!lim)
        lim = &none;
    if (lim->defaults)
        r->sampling = *lim->defaults;
    else
        fr_sampler_params_default(&r->sampling);
    r->sampling.logit_bias = NULL;
    r->sampling.n_logit_bias = 0;
    r->root = srv_json_parse_object(body, len, e);
    if (!r->root)
        return false;
    bool ok = kind == SRV_CHAT ? parse_chat(r->root, lim, r, e) : parse_completion(r->root, lim, r, e);
    if (!ok) {
        srv_request_free(r);
        return false;
    }
    r->sampling.logprobs = r->logprobs;
    r->sampling.top_logprobs = r->logprobs ? r->top_logprobs : 0;
    return true;
}

void srv_request_free(srv_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_joined; i++)
        free(r->joined[i]);
    free(r->joined);
    free(r->msgs);
    free(r->prompt_ids);
    free(r->bias);
    free(r->docs);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

/* ---- /v1/ask --------------------------------------------------------------- */

static const field_spec ask_fields[] = {
    {"question", F_SUPPORTED}, {"k", F_SUPPORTED}, {"min_support", F_SUPPORTED},
    {"gate", F_SUPPORTED}, {"max_bytes", F_SUPPORTED}, {"model", F_SUPPORTED},
    {"user", F_IGNORED}, {"metadata", F_IGNORED}, {NULL, F_IGNORED}};

bool srv_ask_parse(const char *body, size_t len, srv_ask_req *r, srv_error *e)
{
    memset(r, 0, sizeof *r);
    r->k = 5;
    r->min_support = 0; /* the verifier's threshold */
    r->gate = 0.5;
    r->max_bytes = 2048;
    r->root = srv_json_parse_object(body, len, e);
    if (!r->root)
        return false;
    json_t *root = r->root;
    bool ok = false;
    if (!check_fields(root, ask_fields, e))
        goto done;
    json_t *q = field(root, "question");
    if (!q) {
        srv_fail(e, 400, NULL, NULL, "question", "Missing required parameter: 'question'.");
        goto done;
    }
    if (!json_is_string(q)) {
        srv_fail(e, 400, NULL, NULL, "question",
                 "Invalid type for 'question': expected a string, but got %s instead.",
                 json_type_name(q));
        goto done;
    }
    const char *qs = json_string_value(q);
    size_t qn = json_string_length(q), k = 0;
    while (k < qn && (qs[k] == ' ' || qs[k] == '\t' || qs[k] == '\n' || qs[k] == '\r'))
        k++;
    if (k == qn) {
        srv_fail(e, 400, NULL, NULL, "question", "Invalid 'question': it is empty.");
        goto done;
    }
    if (qn > 4000) {
        srv_fail(e, 400, NULL, "string_above_max_length", "question",
                 "Invalid 'question': %zu bytes, at most 4000.", qn);
        goto done;
    }
    r->question = qs;
    json_t *m = field(root, "model");
    if (m && !json_is_string(m)) {
        srv_fail(e, 400, NULL, NULL, "model",
                 "Invalid type for 'model': expected a string, but got %s instead.",
                 json_type_name(m));
        goto done;
    }
    r->model = m ? json_string_value(m) : NULL;
    long long kk = r->k, mb = (long long)r->max_bytes;
    if (!get_int(root, "k", 1, 50, &kk, NULL, e) ||
        !get_number(root, "min_support", 0.001, 1, &r->min_support, e) ||
        !get_int(root, "max_bytes", 16, 1 << 20, &mb, NULL, e))
        goto done;
    r->k = (int)kk;
    r->max_bytes = (size_t)mb;
    json_t *g = field(root, "gate");
    if (g && json_is_false(g))
        r->gate = -1;
    else if (g && !json_is_number(g)) {
        srv_fail(e, 400, NULL, NULL, "gate",
                 "Invalid type for 'gate': expected a number in (0, 1] or false (no retrieval "
                 "gate), but got %s instead.", json_type_name(g));
        goto done;
    } else if (!get_number(root, "gate", 0.001, 1, &r->gate, e)) {
        goto done;
    }
    ok = true;
done:
    if (!ok)
        srv_ask_req_free(r);
    return ok;
}

void srv_ask_req_free(srv_ask_req *r)
{
    if (!r)
        return;
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

/* ---- /tokenize, /detokenize ----------------------------------------------- */

bool srv_tokenize_parse(const char *body, size_t len, srv_tokenize_req *r, srv_error *e)
{
    memset(r, 0, sizeof *r);
    r->parse_special = true;
    r->root = srv_json_parse_object(body, len, e);
    if (!r->root)
        return false;
    json_t *c = field(r->root, "content");
    bool ok = true;
    if (!c || !json_is_string(c)) {
        ok = srv_fail(e, 400, NULL, NULL, "content", "'content' must be a string");
    } else {
        r->content = json_string_value(c);
        r->len = json_string_length(c);
        ok = get_bool(r->root, "add_special", &r->add_special, e) &&
             get_bool(r->root, "parse_special", &r->parse_special, e) &&
             get_bool(r->root, "with_pieces", &r->with_pieces, e);
    }
    if (!ok) {
        json_decref(r->root);
        memset(r, 0, sizeof *r);
    }
    return ok;
}

bool srv_detokenize_parse(const char *body, size_t len, uint32_t n_vocab, srv_detokenize_req *r,
                          srv_error *e)
{
    memset(r, 0, sizeof *r);
    json_t *root = srv_json_parse_object(body, len, e);
    if (!root)
        return false;
    bool ok = true;
    json_t *a = field(root, "tokens");
    if (!a || !json_is_array(a)) {
        ok = srv_fail(e, 400, NULL, NULL, "tokens", "'tokens' must be an array of token ids");
        goto done;
    }
    size_t n = json_array_size(a);
    r->ids = malloc((n ? n : 1) * sizeof *r->ids);
    if (!r->ids) {
        ok = srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        goto done;
    }
    size_t i;
    json_t *t;
    json_array_foreach(a, i, t) {
        long long id = json_is_integer(t) ? json_integer_value(t) : -1;
        if (!json_is_integer(t) || id < 0 || (n_vocab && id >= (long long)n_vocab)) {
            ok = srv_fail(e, 400, NULL, NULL, "tokens",
                          "'tokens[%zu]' must be a token id in [0, %u)", i, n_vocab);
            goto done;
        }
        r->ids[i] = (int32_t)id;
    }
    r->n = n;
done:
    json_decref(root);
    if (!ok) {
        free(r->ids);
        memset(r, 0, sizeof *r);
    }
    return ok;
}
