/*
 * verifier.c - the learned groundedness verdict: weights read from a small
 * JSON file, and the probability that a sub-claim is supported.
 *
 * The model is logistic regression on the standardised features of
 * evidence.h:  p = 1 / (1 + exp(-(bias + sum_i w_i (x_i - mean_i) / scale_i))).
 * A sub-claim with a number (with its unit) or a name that the evidence
 * lacks is vetoed: its score is min(p, threshold) * fact_gate, below any
 * threshold, so it is never "supported". The veto is a rule, not learned:
 * a swapped number or name is the typical hallucination, and WiCE (whose
 * annotators accept a year or a name the cited page leaves out) would
 * otherwise teach the model to let it through. The training applies the
 * same rule when it chooses the threshold and measures the folds.
 * The file names the features it uses (a subset of fr_feature_names, in any
 * order), so a weights file and a build always agree on what each weight
 * multiplies, or the file is refused. The threshold in the file was chosen
 * on held-out folds for balanced accuracy (tools/train_verifier.c writes it,
 * with the cross-validation it measured, in "training").
 *
 * The built-in weights are data/verifier.json, compiled into the library
 * as bytes at build time (cmake/embed.cmake) and parsed like any other
 * file: one definition, and the same hostile-input checks.
 *
 * Rejected: gradient-boosted trees (on WiCE dev with grouped 5-fold
 * cross-validation they did not beat the linear model by more than the
 * folds vary, and are harder to read); a model of the claim as a whole
 * (the verdict must say which sub-claim failed).
 */
#include "rag/evidence.h"
#include "rag/verifier.h"

#include "base/file.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VF_FILE_MAX (1u << 20)
#define VF_ABS_MAX 1e6

struct fr_rag_verifier {
    int nf;
    int idx[FR_F_COUNT]; /* feature index of each weight */
    double mean[FR_F_COUNT], scale[FR_F_COUNT], w[FR_F_COUNT];
    double bias, threshold;
    double fact_gate; /* times p when a number or name of the sub-claim is missing */
};

extern const unsigned char fr_verifier_builtin[];
extern const size_t fr_verifier_builtin_len;

void fr_rag_verifier_free(fr_rag_verifier *v) { free(v); }

double fr_rag_verifier_threshold(const fr_rag_verifier *v) { return v->threshold; }

static fr_status bad(fr_err *err, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static fr_status bad(fr_err *err, const char *name, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fr_err_set(err, FR_E_FORMAT, "%s: %s (a frugal verifier weights file, as `make train-verifier` writes it)",
                      name, what);
}

/* A finite number within +-VF_ABS_MAX. */
static bool num_ok(const json_t *j, double *out)
{
    if (!json_is_number(j))
        return false;
    double d = json_number_value(j);
    if (!isfinite(d) || fabs(d) > VF_ABS_MAX)
        return false;
    *out = d;
    return true;
}

static fr_status read_array(const json_t *root, const char *key, int n, double *out,
                            const char *name, fr_err *err)
{
    const json_t *a = json_object_get(root, key);
    if (!json_is_array(a))
        return bad(err, name, "\"%s\" is missing or not an array", key);
    if ((long)json_array_size(a) != n)
        return bad(err, name, "\"%s\" must have one number per feature (%d)", key, n);
    for (int i = 0; i < n; i++)
        if (!num_ok(json_array_get(a, (size_t)i), &out[i]))
            return bad(err, name, "\"%s\" entry %d is not a finite number of reasonable size", key, i);
    return FR_OK;
}

fr_status fr_rag_verifier_parse(const char *text, size_t len, const char *name,
                                fr_rag_verifier **out, fr_err *err)
{
    *out = NULL;
    if (!name)
        name = "verifier weights";
    if (len > VF_FILE_MAX)
        return fr_err_set(err, FR_E_FORMAT, "%s: %zu bytes is more than a verifier weights file can be (%u)",
                          name, len, VF_FILE_MAX);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fr_err_set(err, FR_E_FORMAT, "%s: line %d, column %d: %s", name, je.line, je.column, je.text);
    fr_status st = FR_OK;
    fr_rag_verifier *v = calloc(1, sizeof *v);
    if (!v) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory reading %s", name);
        goto done;
    }
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!json_is_object(root) || !fmt || strcmp(fmt, "frugal-verifier") != 0) {
        st = bad(err, name, "\"format\" is not \"frugal-verifier\"");
        goto done;
    }
    const json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        st = bad(err, name, "\"version\" must be 1 (this build reads version 1)");
        goto done;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    if (!model || strcmp(model, "logistic") != 0) {
        st = bad(err, name, "\"model\" must be \"logistic\"");
        goto done;
    }
    const json_t *fs = json_object_get(root, "features");
    if (!json_is_array(fs) || json_array_size(fs) == 0 || json_array_size(fs) > FR_F_COUNT) {
        st = bad(err, name, "\"features\" must be an array of 1 to %d feature names", FR_F_COUNT);
        goto done;
    }
    v->nf = (int)json_array_size(fs);
    for (int i = 0; i < v->nf; i++) {
        const json_t *jf = json_array_get(fs, (size_t)i);
        const char *f = json_string_value(jf);
        if (f && strlen(f) != json_string_length(jf))
            f = NULL; /* an embedded NUL */
        int k = -1;
        for (int j = 0; f && j < FR_F_COUNT && k < 0; j++)
            if (strcmp(f, fr_feature_names[j]) == 0)
                k = j;
        for (int j = 0; j < i && k >= 0; j++)
            if (v->idx[j] == k) {
                st = bad(err, name, "feature \"%s\" is listed twice", f);
                goto done;
            }
        if (k < 0) {
            st = bad(err, name, "\"features\" entry %d (%.40s) is not a feature this build computes", i,
                     f ? f : "not a string");
            goto done;
        }
        v->idx[i] = k;
    }
    if ((st = read_array(root, "mean", v->nf, v->mean, name, err)) ||
        (st = read_array(root, "scale", v->nf, v->scale, name, err)) ||
        (st = read_array(root, "weights", v->nf, v->w, name, err)))
        goto done;
    for (int i = 0; i < v->nf; i++)
        if (!(v->scale[i] > 1e-9)) {
            st = bad(err, name, "\"scale\" entry %d must be positive", i);
            goto done;
        }
    if (!num_ok(json_object_get(root, "bias"), &v->bias)) {
        st = bad(err, name, "\"bias\" is not a finite number of reasonable size");
        goto done;
    }
    if (!num_ok(json_object_get(root, "threshold"), &v->threshold) || !(v->threshold > 0) ||
        !(v->threshold < 1)) {
        st = bad(err, name, "\"threshold\" must be a number between 0 and 1");
        goto done;
    }
    if (!num_ok(json_object_get(root, "fact_gate"), &v->fact_gate) || !(v->fact_gate > 0) ||
        !(v->fact_gate <= 1)) {
        st = bad(err, name, "\"fact_gate\" must be a number above 0, at most 1");
        goto done;
    }
done:
    json_decref(root);
    if (st) {
        free(v);
        return st;
    }
    *out = v;
    return FR_OK;
}

fr_status fr_rag_verifier_load(const char *path, fr_rag_verifier **out, fr_err *err)
{
    *out = NULL;
    char *data = NULL;
    size_t n = 0;
    fr_status st = fr_read_file(path, VF_FILE_MAX, &data, &n, err);
    if (st)
        return st;
    st = fr_rag_verifier_parse(data, n, path, out, err);
    free(data);
    return st;
}

fr_status fr_rag_verifier_builtin(fr_rag_verifier **out, fr_err *err)
{
    if (fr_verifier_builtin_len == 0) {
        *out = NULL;
        return fr_err_set(err, FR_E_NOTFOUND,
                          "this build has no built-in verifier weights (data/verifier.json was "
                          "missing when it was built): run `make train-verifier`, then rebuild");
    }
    return fr_rag_verifier_parse((const char *)fr_verifier_builtin, fr_verifier_builtin_len,
                                 "built-in verifier weights (data/verifier.json)", out, err);
}

fr_rag_verifier *fr_verifier_make(int nf, const int *idx, const double *mean, const double *scale,
                                  const double *w, double bias, double threshold, double fact_gate)
{
    if (nf < 1 || nf > FR_F_COUNT)
        return NULL;
    fr_rag_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->nf = nf;
    for (int i = 0; i < nf; i++) {
        v->idx[i] = idx[i];
        v->mean[i] = mean[i];
        v->scale[i] = scale[i];
        v->w[i] = w[i];
    }
    v->bias = bias;
    v->threshold = threshold;
    v->fact_gate = fact_gate;
    return v;
}

double fr_verifier_z(const fr_rag_verifier *v, const double *f)
{
    double z = v->bias;
    for (int i = 0; i < v->nf; i++)
        z += v->w[i] * (f[v->idx[i]] - v->mean[i]) / v->scale[i];
    return z;
}

double fr_verifier_prob(const fr_rag_verifier *v, const double *f)
{
    double z = fr_verifier_z(v, f);
    if (z > 40)
        z = 40;
    if (z < -40)
        z = -40;
    return 1.0 / (1.0 + exp(-z));
}

bool fr_verifier_veto(const double *f) { return f[FR_F_NUMBERS_MISSING] + f[FR_F_NAMES_MISSING] > 0; }

double fr_verifier_score(const fr_rag_verifier *v, const double *f, double threshold)
{
    double p = fr_verifier_prob(v, f);
    return fr_verifier_veto(f) ? fmin(p, threshold) * v->fact_gate : p;
}
