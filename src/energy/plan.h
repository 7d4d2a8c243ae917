/*
 * plan.h - internals of the cost model: the plan result builder, the
 * assumption list ("vars") and the corner evaluator that turns assumption
 * ranges into figure ranges.
 *
 * A model is a pure function eval(x[], ctx) -> y[] over its variables x.
 * fr_vars_eval runs it once at the central point and once at every corner
 * of the box formed by the uncertain variables (those with low < high), and
 * reports for each output the central value and the min and max seen. With
 * at most FR_VARS_UNCERTAIN_MAX uncertain variables that is at most 2^16
 * evaluations of a few dozen flops each.
 */
#ifndef FR_ENERGY_PLAN_H
#define FR_ENERGY_PLAN_H

#include <frugal/cost.h>

#define FR_VARS_MAX 40
#define FR_VARS_UNCERTAIN_MAX 16
#define FR_OUTS_MAX 48

typedef struct fr_vars {
    int n;
    fr_range v[FR_VARS_MAX];
    const char *key[FR_VARS_MAX];
    const char *label[FR_VARS_MAX];
    fr_unit unit[FR_VARS_MAX];
    char source[FR_VARS_MAX][320];
} fr_vars;

/* Adds a variable; returns its index (callers keep the indices in ctx).
 * key and label must be string literals or outlive the vars. */
int fr_vars_add(fr_vars *vs, const char *key, const char *label, fr_unit u, fr_range v,
                const char *source_fmt, ...) __attribute__((format(printf, 6, 7)));

typedef void (*fr_model_fn)(const double *x, double *y, const void *ctx);

/* out[0..n_out) = ranges of the model's outputs. FR_E_INTERNAL when an output
 * is not finite (a model bug or an input that slipped validation),
 * FR_E_RANGE when there are too many uncertain variables. */
fr_status fr_vars_eval(const fr_vars *vs, fr_model_fn fn, const void *ctx, fr_range *out, int n_out,
                       fr_err *err);

/* Appends every variable to the plan's assumption list (deduplicated by key). */
void fr_vars_to_plan(const fr_vars *vs, fr_plan *p);

/* ---- parameters --------------------------------------------------------- */

static inline fr_range fr_rng(double lo, double c, double hi)
{
    fr_range r = {lo, c, hi};
    return r;
}

static inline fr_range fr_exact(double v)
{
    return fr_rng(v, v, v);
}

static inline bool fr_param_set(const fr_param *p)
{
    return p->v.low != 0 || p->v.central != 0 || p->v.high != 0;
}

/* Checks that r is finite and ordered and lies within [lo, hi] (lo_open:
 * strictly above lo). Names the assumption in the message. */
fr_status fr_check_range(const char *name, fr_range r, double lo, bool lo_open, double hi,
                         fr_err *err);

/* Resolves a parameter: the caller's range (origin text: p->origin or
 * "given"), else def with def_source. Writes the origin into src[0..n). */
fr_range fr_param_resolve(const fr_param *p, fr_range def, const char *def_source, char *src,
                          size_t n);

/* central c with a relative spread: c*lo_f .. c*hi_f, high capped at cap. */
fr_range fr_spread(double c, double lo_f, double hi_f, double cap);

/* Adds the shared facility/money variables of env to vs. `power` says
 * whether to add the training power fraction. Indices go to idx. */
typedef struct fr_env_idx {
    int pue, host, power, price_kwh, grid, years;
    double hh_year, hh_day;
} fr_env_idx;
fr_status fr_env_vars(const fr_cost_env *env, bool power, fr_vars *vs, fr_env_idx *idx,
                      fr_err *err);

/* A device's catalog value as a variable, or the caller's override. */
fr_status fr_hw_var(fr_vars *vs, const fr_hw *hw, fr_hw_field f, const fr_param *override,
                    const char *key, const char *label, fr_unit u, bool required, int *idx,
                    fr_err *err);

/* ---- the result object -------------------------------------------------- */

fr_plan *fr_plan_new(const char *kind, const char *title_fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Returns the scenario index (or -1 after an allocation failure). */
int fr_plan_add_scenario(fr_plan *p, const char *key, const char *label);
void fr_plan_add_figure(fr_plan *p, int scenario, const char *key, const char *label, fr_unit u,
                        fr_range v, bool chart);
void fr_plan_add_assumption(fr_plan *p, const char *key, const char *label, fr_unit u, fr_range v,
                            const char *source);
void fr_plan_add_note(fr_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees p and fails with FR_E_NOMEM if any add failed; else hands p out. */
fr_status fr_plan_done(fr_plan *p, fr_plan **out, fr_err *err);

#endif
