/*
 * plan.c - the plan result object, the assumption list and the corner
 * evaluator shared by every cost model (see plan.h).
 *
 * Why corners and not error propagation: the figures are products and
 * quotients of a dozen assumptions, some of them ceilings (GPU counts);
 * first-order error propagation would understate the spread and say nothing
 * sound about integer steps, whereas the extreme corners of a box give true
 * bounds for functions monotone in each variable, which all of ours are.
 * Rejected Monte Carlo for the same reason plus its nondeterminism.
 *
 * The plan owns copies of all its strings; an allocation failure while
 * building marks the plan failed and fr_plan_done reports it once.
 */
#include "energy/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_SCEN_MAX 16

typedef struct scen {
    char *key, *label;
    fr_figure *f; /* (n) */
    size_t n, cap;
} scen;

struct fr_plan {
    char *kind, *title;
    scen s[PLAN_SCEN_MAX];
    size_t ns;
    fr_assumption *a;
    size_t na, capa;
    char **notes;
    size_t nn, capn;
    bool failed;
};

static char *vfmt(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *sdup(fr_plan *p, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        p->failed = true;
    return d;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *na = realloc(*arr, nc * elem);
    if (!na)
        return false;
    *arr = na;
    *cap = nc;
    return true;
}

fr_plan *fr_plan_new(const char *kind, const char *title_fmt, ...)
{
    fr_plan *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    va_list ap;
    va_start(ap, title_fmt);
    p->title = vfmt(title_fmt, ap);
    va_end(ap);
    p->kind = strdup(kind);
    if (!p->title || !p->kind)
        p->failed = true;
    return p;
}

int fr_plan_add_scenario(fr_plan *p, const char *key, const char *label)
{
    if (p->ns >= PLAN_SCEN_MAX) {
        p->failed = true;
        return -1;
    }
    scen *s = &p->s[p->ns];
    memset(s, 0, sizeof *s);
    s->key = sdup(p, key);
    s->label = sdup(p, label);
    return (int)p->ns++;
}

void fr_plan_add_figure(fr_plan *p, int si, const char *key, const char *label, fr_unit u,
                        fr_range v, bool chart)
{
    if (si < 0 || (size_t)si >= p->ns) {
        p->failed = true;
        return;
    }
    scen *s = &p->s[si];
    if (!grow((void **)&s->f, &s->cap, s->n + 1, sizeof *s->f)) {
        p->failed = true;
        return;
    }
    fr_figure *f = &s->f[s->n++];
    f->key = sdup(p, key);
    f->label = sdup(p, label);
    f->unit = u;
    f->v = v;
    f->chart = chart;
}

void fr_plan_add_assumption(fr_plan *p, const char *key, const char *label, fr_unit u, fr_range v,
                            const char *source)
{
    for (size_t i = 0; i < p->na; i++)
        if (strcmp(p->a[i].key, key) == 0)
            return;
    if (!grow((void **)&p->a, &p->capa, p->na + 1, sizeof *p->a)) {
        p->failed = true;
        return;
    }
    fr_assumption *a = &p->a[p->na++];
    a->key = sdup(p, key);
    a->label = sdup(p, label);
    a->unit = u;
    a->v = v;
    a->source = sdup(p, source);
}

void fr_plan_add_note(fr_plan *p, const char *fmt, ...)
{
    if (!grow((void **)&p->notes, &p->capn, p->nn + 1, sizeof *p->notes)) {
        p->failed = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = vfmt(fmt, ap);
    va_end(ap);
    if (!s) {
        p->failed = true;
        return;
    }
    p->notes[p->nn++] = s;
}

void fr_plan_free(fr_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ns; i++) {
        for (size_t j = 0; j < p->s[i].n; j++) {
            free((char *)p->s[i].f[j].key);
            free((char *)p->s[i].f[j].label);
        }
        free(p->s[i].f);
        free(p->s[i].key);
        free(p->s[i].label);
    }
    for (size_t i = 0; i < p->na; i++) {
        free((char *)p->a[i].key);
        free((char *)p->a[i].label);
        free((char *)p->a[i].source);
    }
    free(p->a);
    for (size_t i = 0; i < p->nn; i++)
        free(p->notes[i]);
    free(p->notes);
    free(p->kind);
    free(p->title);
    free(p);
}

fr_status fr_plan_done(fr_plan *p, fr_plan **out, fr_err *err)
{
    *out = NULL;
    if (!p || p->failed) {
        fr_plan_free(p);
        return fr_err_set(err, FR_E_NOMEM, "plan: out of memory");
    }
    *out = p;
    return FR_OK;
}

const char *fr_plan_kind(const fr_plan *p)
{
    return p->kind;
}
const char *fr_plan_title(const fr_plan *p)
{
    return p->title;
}
size_t fr_plan_scenario_count(const fr_plan *p)
{
    return p->ns;
}
const char *fr_plan_scenario_key(const fr_plan *p, size_t s)
{
    return s < p->ns ? p->s[s].key : NULL;
}
const char *fr_plan_scenario_label(const fr_plan *p, size_t s)
{
    return s < p->ns ? p->s[s].label : NULL;
}
size_t fr_plan_figure_count(const fr_plan *p, size_t s)
{
    return s < p->ns ? p->s[s].n : 0;
}
const fr_figure *fr_plan_figure(const fr_plan *p, size_t s, size_t i)
{
    return s < p->ns && i < p->s[s].n ? &p->s[s].f[i] : NULL;
}
const fr_figure *fr_plan_find(const fr_plan *p, const char *scenario, const char *key)
{
    for (size_t s = 0; s < p->ns; s++) {
        if (strcmp(p->s[s].key, scenario) != 0)
            continue;
        for (size_t i = 0; i < p->s[s].n; i++)
            if (strcmp(p->s[s].f[i].key, key) == 0)
                return &p->s[s].f[i];
    }
    return NULL;
}
size_t fr_plan_assumption_count(const fr_plan *p)
{
    return p->na;
}
const fr_assumption *fr_plan_assumption(const fr_plan *p, size_t i)
{
    return i < p->na ? &p->a[i] : NULL;
}
size_t fr_plan_note_count(const fr_plan *p)
{
    return p->nn;
}
const char *fr_plan_note(const fr_plan *p, size_t i)
{
    return i < p->nn ? p->notes[i] : NULL;
}

/* ---- variables and corners ---------------------------------------------- */

int fr_vars_add(fr_vars *vs, const char *key, const char *label, fr_unit u, fr_range v,
                const char *source_fmt, ...)
{
    if (vs->n >= FR_VARS_MAX)
        return -1; /* a programming error; fr_vars_eval reports it */
    int i = vs->n++;
    vs->key[i] = key;
    vs->label[i] = label;
    vs->unit[i] = u;
    vs->v[i] = v;
    va_list ap;
    va_start(ap, source_fmt);
    vsnprintf(vs->source[i], sizeof vs->source[i], source_fmt, ap);
    va_end(ap);
    return i;
}

fr_status fr_vars_eval(const fr_vars *vs, fr_model_fn fn, const void *ctx, fr_range *out, int n_out,
                       fr_err *err)
{
    if (vs->n >= FR_VARS_MAX || n_out > FR_OUTS_MAX)
        return fr_err_set(err, FR_E_INTERNAL, "plan: too many variables or outputs");
    double x[FR_VARS_MAX], y[FR_OUTS_MAX];
    int unc[FR_VARS_MAX], nu = 0;
    for (int i = 0; i < vs->n; i++) {
        x[i] = vs->v[i].central;
        if (vs->v[i].low != vs->v[i].high)
            unc[nu++] = i;
    }
    if (nu > FR_VARS_UNCERTAIN_MAX)
        return fr_err_set(err, FR_E_RANGE,
                          "plan: %d uncertain assumptions, at most %d (pin some with L:C:H where "
                          "L = C = H)",
                          nu, FR_VARS_UNCERTAIN_MAX);
    memset(y, 0, sizeof y);
    fn(x, y, ctx);
    for (int j = 0; j < n_out; j++) {
        if (!isfinite(y[j]))
            return fr_err_set(err, FR_E_INTERNAL, "plan: output %d is not finite at the centre", j);
        out[j] = fr_exact(y[j]);
    }
    for (unsigned long mask = 0; mask < (1UL << nu); mask++) {
        for (int k = 0; k < nu; k++)
            x[unc[k]] = (mask >> k) & 1 ? vs->v[unc[k]].high : vs->v[unc[k]].low;
        memset(y, 0, sizeof y);
        fn(x, y, ctx);
        for (int j = 0; j < n_out; j++) {
            if (!isfinite(y[j]))
                return fr_err_set(err, FR_E_INTERNAL, "plan: output %d is not finite at a corner",
                                  j);
            if (y[j] < out[j].low)
                out[j].low = y[j];
            if (y[j] > out[j].high)
                out[j].high = y[j];
        }
    }
    return FR_OK;
}

void fr_vars_to_plan(const fr_vars *vs, fr_plan *p)
{
    for (int i = 0; i < vs->n; i++)
        fr_plan_add_assumption(p, vs->key[i], vs->label[i], vs->unit[i], vs->v[i], vs->source[i]);
}

fr_status fr_check_range(const char *name, fr_range r, double lo, bool lo_open, double hi,
                         fr_err *err)
{
    if (!isfinite(r.low) || !isfinite(r.central) || !isfinite(r.high))
        return fr_err_set(err, FR_E_INVALID, "%s: not a finite number", name);
    if (!(r.low <= r.central && r.central <= r.high))
        return fr_err_set(err, FR_E_INVALID, "%s: need low <= central <= high, got %g:%g:%g", name,
                          r.low, r.central, r.high);
    if ((lo_open ? r.low <= lo : r.low < lo) || r.high > hi)
        return fr_err_set(err, FR_E_INVALID, "%s: %g..%g is outside %s%g, %g]", name, r.low, r.high,
                          lo_open ? "(" : "[", lo, hi);
    return FR_OK;
}

fr_range fr_param_resolve(const fr_param *p, fr_range def, const char *def_source, char *src,
                          size_t n)
{
    if (p && fr_param_set(p)) {
        snprintf(src, n, "%s", p->origin ? p->origin : "given");
        return p->v;
    }
    snprintf(src, n, "%s", def_source);
    return def;
}

fr_range fr_spread(double c, double lo_f, double hi_f, double cap)
{
    double hi = c * hi_f;
    if (hi > cap)
        hi = cap;
    if (hi < c)
        hi = c;
    return fr_rng(c * lo_f, c, hi);
}

fr_status fr_env_vars(const fr_cost_env *env, bool power, fr_vars *vs, fr_env_idx *idx, fr_err *err)
{
    static const fr_cost_env zero;
    if (!env)
        env = &zero;
    char src[320];
    fr_range r;
    fr_status st;

    r = fr_param_resolve(&env->pue, fr_rng(1.06, 1.10, 1.58),
                         "default: 1.10 as in Patterson et al. 2021 for GPT-3; 1.06 best "
                         "hyperscale sites; 1.58 Uptime Institute 2023 survey average",
                         src, sizeof src);
    if ((st = fr_check_range("PUE", r, 1.0, false, 5.0, err)))
        return st;
    idx->pue = fr_vars_add(vs, "pue", "facility PUE (facility power / IT power)", FR_UNIT_RATIO, r,
                           "%s", src);

    r = fr_param_resolve(&env->host_overhead, fr_rng(1.05, 1.10, 1.50),
                         "default: 1.10 = Patterson et al. 2021's 330 W per 300 W V100 incl. host "
                         "CPU, memory, network, fans; up to 1.5 for dense 8-GPU servers",
                         src, sizeof src);
    if ((st = fr_check_range("host overhead", r, 1.0, false, 5.0, err)))
        return st;
    idx->host = fr_vars_add(vs, "host_overhead", "host overhead (server power / device power)",
                            FR_UNIT_RATIO, r, "%s", src);

    idx->power = -1;
    if (power) {
        r = fr_param_resolve(&env->power_frac, fr_rng(0.75, 1.0, 1.0),
                             "default: devices at TDP while training (as Patterson et al. 2021 "
                             "measured); 0.75 when the run is communication bound",
                             src, sizeof src);
        if ((st = fr_check_range("power fraction", r, 0, true, 1.5, err)))
            return st;
        idx->power = fr_vars_add(vs, "power_frac", "average device draw / TDP while training",
                                 FR_UNIT_FRACTION, r, "%s", src);
    }

    r = fr_param_resolve(&env->price_kwh, fr_exact(FR_DEFAULT_PRICE_KWH),
                         "default: $0.16/kWh (about the 2023 US average retail price)", src,
                         sizeof src);
    if ((st = fr_check_range("electricity price", r, 0, false, 100, err)))
        return st;
    idx->price_kwh =
        fr_vars_add(vs, "price_kwh", "electricity price", FR_UNIT_USD_PER_KWH, r, "%s", src);

    r = fr_param_resolve(&env->grid_g_per_kwh, fr_exact(FR_DEFAULT_GRID_G_PER_KWH),
                         "default: 475 g/kWh, world average grid (IEA)", src, sizeof src);
    if ((st = fr_check_range("grid intensity", r, 0, false, 2000, err)))
        return st;
    idx->grid =
        fr_vars_add(vs, "grid_g_per_kwh", "grid carbon intensity", FR_UNIT_G_PER_KWH, r, "%s", src);

    r = fr_param_resolve(&env->hw_years, fr_rng(3, FR_DEFAULT_HW_YEARS, 5),
                         "default: hardware written off over 3-5 years", src, sizeof src);
    if ((st = fr_check_range("hardware years", r, 0, true, 50, err)))
        return st;
    idx->years =
        fr_vars_add(vs, "hw_years", "hardware amortisation period", FR_UNIT_YEARS, r, "%s", src);

    idx->hh_year =
        env->household_kwh_year > 0 ? env->household_kwh_year : FR_DEFAULT_HOUSEHOLD_KWH_YEAR;
    idx->hh_day =
        env->household_kwh_day > 0 ? env->household_kwh_day : FR_DEFAULT_HOUSEHOLD_KWH_DAY;
    if (!isfinite(idx->hh_year) || !isfinite(idx->hh_day))
        return fr_err_set(err, FR_E_INVALID, "household consumption: not a finite number");
    fr_vars_add(vs, "household_kwh_year", "US household electricity per year", FR_UNIT_KWH,
                fr_exact(idx->hh_year), "%s",
                env->household_kwh_year > 0 ? "given" : "default: EIA, US 2020 average");
    fr_vars_add(vs, "household_kwh_day", "US household electricity per day", FR_UNIT_KWH,
                fr_exact(idx->hh_day), "%s",
                env->household_kwh_day > 0 ? "given" : "default: 10,715 kWh / 365");
    return FR_OK;
}

fr_status fr_hw_var(fr_vars *vs, const fr_hw *hw, fr_hw_field f, const fr_param *override,
                    const char *key, const char *label, fr_unit u, bool required, int *idx,
                    fr_err *err)
{
    *idx = -1;
    if (override && fr_param_set(override)) {
        fr_status st = fr_check_range(label, override->v, 0, true, 1e30, err);
        if (st)
            return st;
        *idx = fr_vars_add(vs, key, label, u, override->v, "%s",
                           override->origin ? override->origin : "given");
        return FR_OK;
    }
    const fr_hw_value *v = &hw->f[f];
    if (!v->present || !(v->value > 0)) {
        if (!required)
            return FR_OK;
        return fr_err_set(err, FR_E_INVALID,
                          "hardware '%s' has no %s in the catalog; add it to your "
                          "~/.config/frugal/hardware.json or give it on the command line",
                          hw->id, fr_hw_field_name(f));
    }
    *idx = fr_vars_add(vs, key, label, u, fr_rng(v->low, v->value, v->high), "%s: %s", hw->id,
                       v->source);
    return FR_OK;
}
