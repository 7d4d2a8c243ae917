/*
 * bench_json.c - the summary of `frugal bench --json` that plans read
 * (schema "frugal-bench-1", documented in frugal/cost.h).
 *
 * The parser reads only the summary fields and ignores the rest, so the
 * bench can carry per-test detail without breaking plans; the writer emits
 * exactly those fields so the bench can start its document from them. Both
 * apply the same checks (finite, positive speeds, ordered J ranges, known
 * meter source), so whatever the writer accepts, the parser reads back.
 */
#include <frugal/cost.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_TEXT_MAX ((size_t)16 << 20)

static bool source_ok(const char *s)
{
    return strcmp(s, "nvml") == 0 || strcmp(s, "rapl") == 0 || strcmp(s, "battery") == 0 ||
           strcmp(s, "estimate") == 0;
}

static bool range_ok(fr_range r)
{
    return isfinite(r.low) && isfinite(r.central) && isfinite(r.high) && r.low > 0 &&
           r.low <= r.central && r.central <= r.high;
}

static fr_status num(json_t *obj, const char *key, const char *where, const char *origin,
                     bool required, double *out, fr_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return fr_err_set(err, FR_E_FORMAT,
                              "%s: missing %s%s (a frugal-bench-1 summary "
                              "needs it)",
                              origin, where, key);
        return FR_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return fr_err_set(err, FR_E_FORMAT, "%s: %s%s must be a finite number", origin, where, key);
    *out = json_number_value(v);
    return FR_OK;
}

static fr_status str(json_t *obj, const char *key, const char *where, const char *origin,
                     bool required, char *out, size_t n, fr_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return fr_err_set(err, FR_E_FORMAT, "%s: missing %s%s", origin, where, key);
        return FR_OK;
    }
    if (!json_is_string(v))
        return fr_err_set(err, FR_E_FORMAT, "%s: %s%s must be a string", origin, where, key);
    const char *s = json_string_value(v);
    if (required && !s[0]) /* what must be there must say something (fr_bench_summary_json agrees) */
        return fr_err_set(err, FR_E_FORMAT, "%s: %s%s is empty", origin, where, key);
    if (strlen(s) >= n)
        return fr_err_set(err, FR_E_FORMAT, "%s: %s%s is longer than %zu characters", origin, where,
                          key, n - 1);
    memcpy(out, s, strlen(s) + 1);
    return FR_OK;
}

static fr_status range(json_t *root, const char *key, const char *origin, fr_range *out,
                       fr_err *err)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_object(v))
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: %s must be an object {\"low\", \"central\", \"high\"}", origin, key);
    char where[64];
    snprintf(where, sizeof where, "%s.", key);
    fr_status st;
    if ((st = num(v, "low", where, origin, true, &out->low, err)) ||
        (st = num(v, "central", where, origin, true, &out->central, err)) ||
        (st = num(v, "high", where, origin, true, &out->high, err)))
        return st;
    if (!range_ok(*out))
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: %s needs 0 < low <= central <= high, got %g, %g, %g", origin, key,
                          out->low, out->central, out->high);
    return FR_OK;
}

fr_status fr_bench_summary_parse(const char *text, size_t len, const char *origin,
                                 fr_bench_summary *out, fr_err *err)
{
    if (!origin)
        origin = "(bench json)";
    memset(out, 0, sizeof *out);
    out->idle_w = -1;
    if (len > BENCH_TEXT_MAX)
        return fr_err_set(err, FR_E_FORMAT, "%s: larger than %zu bytes", origin, BENCH_TEXT_MAX);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fr_err_set(err, FR_E_FORMAT, "%s: line %d, column %d: %s", origin, je.line,
                          je.column, je.text);
    fr_status st = FR_OK;
    json_t *schema = json_object_get(root, "schema");
    if (!json_is_object(root) || !json_is_string(schema) ||
        strcmp(json_string_value(schema), "frugal-bench-1") != 0) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: not a frugal bench result (expected \"schema\": \"frugal-bench-1\"; "
                        "write one with `frugal bench --json`)",
                        origin);
        goto done;
    }
    json_t *model = json_object_get(root, "model");
    json_t *machine = json_object_get(root, "machine");
    json_t *meter = json_object_get(root, "meter");
    if (!json_is_object(model) || !json_is_object(meter)) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: \"model\" and \"meter\" must be objects", origin);
        goto done;
    }
    if ((st = num(model, "params", "model.", origin, true, &out->params, err)) ||
        (st = str(model, "quant", "model.", origin, true, out->quant, sizeof out->quant, err)) ||
        (st = str(model, "name", "model.", origin, false, out->model_name, sizeof out->model_name,
                  err)) ||
        (st = str(meter, "source", "meter.", origin, true, out->meter_source,
                  sizeof out->meter_source, err)) ||
        (st = str(meter, "label", "meter.", origin, false, out->meter_label,
                  sizeof out->meter_label, err)) ||
        (st = num(meter, "idle_w", "meter.", origin, false, &out->idle_w, err)) ||
        (st = num(root, "prefill_tok_s", "", origin, true, &out->prefill_tok_s, err)) ||
        (st = num(root, "decode_tok_s", "", origin, true, &out->decode_tok_s, err)) ||
        (st = range(root, "j_per_token_prefill", origin, &out->j_per_token_prefill, err)) ||
        (st = range(root, "j_per_token_decode", origin, &out->j_per_token_decode, err)))
        goto done;
    if (machine) {
        if (!json_is_object(machine)) {
            st = fr_err_set(err, FR_E_FORMAT, "%s: \"machine\" must be an object", origin);
            goto done;
        }
        if ((st = str(machine, "hardware_id", "machine.", origin, false, out->hardware_id,
                      sizeof out->hardware_id, err)) ||
            (st = num(machine, "threads", "machine.", origin, false, &out->threads, err)))
            goto done;
    }
    if (!source_ok(out->meter_source)) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: meter.source '%s' is not one of nvml, rapl, battery, estimate", origin,
                        out->meter_source);
        goto done;
    }
    if (!out->meter_label[0])
        snprintf(out->meter_label, sizeof out->meter_label, "%s", out->meter_source);
    if (!(out->params > 0) || !(out->prefill_tok_s > 0) || !(out->decode_tok_s > 0)) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: model.params, prefill_tok_s and decode_tok_s must be > 0", origin);
        goto done;
    }
    if (json_object_get(meter, "idle_w") && !(out->idle_w >= 0)) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: meter.idle_w must be >= 0", origin);
        goto done;
    }
done:
    json_decref(root);
    return st;
}

static json_t *jrange(fr_range r)
{
    return json_pack("{s:f,s:f,s:f}", "low", r.low, "central", r.central, "high", r.high);
}

char *fr_bench_summary_json(const fr_bench_summary *s)
{
    if (!source_ok(s->meter_source) || !(s->params > 0) || !isfinite(s->params) ||
        !(s->prefill_tok_s > 0) || !isfinite(s->prefill_tok_s) || !(s->decode_tok_s > 0) ||
        !isfinite(s->decode_tok_s) || !range_ok(s->j_per_token_prefill) ||
        !range_ok(s->j_per_token_decode) || !s->quant[0] || !isfinite(s->idle_w))
        return NULL;
    json_t *model = json_pack("{s:f,s:s}", "params", s->params, "quant", s->quant);
    json_t *meter = json_pack("{s:s,s:s}", "source", s->meter_source, "label",
                              s->meter_label[0] ? s->meter_label : s->meter_source);
    json_t *machine = json_object();
    json_t *root = json_object();
    char *text = NULL;
    if (!model || !meter || !machine || !root)
        goto done;
    if (s->model_name[0])
        json_object_set_new(model, "name", json_string(s->model_name));
    if (s->idle_w >= 0)
        json_object_set_new(meter, "idle_w", json_real(s->idle_w));
    if (s->hardware_id[0])
        json_object_set_new(machine, "hardware_id", json_string(s->hardware_id));
    if (s->threads > 0)
        json_object_set_new(machine, "threads", json_real(s->threads));
    json_object_set_new(root, "schema", json_string("frugal-bench-1"));
    json_object_set(root, "model", model);
    json_object_set(root, "machine", machine);
    json_object_set(root, "meter", meter);
    json_object_set_new(root, "prefill_tok_s", json_real(s->prefill_tok_s));
    json_object_set_new(root, "decode_tok_s", json_real(s->decode_tok_s));
    json_object_set_new(root, "j_per_token_prefill", jrange(s->j_per_token_prefill));
    json_object_set_new(root, "j_per_token_decode", jrange(s->j_per_token_decode));
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
done:
    json_decref(model);
    json_decref(meter);
    json_decref(machine);
    json_decref(root);
    return text;
}
