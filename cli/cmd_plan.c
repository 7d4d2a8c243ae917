/*
 * cmd_plan.c - `frugal plan train|lora|serve|device|article`: what training,
 * fine-tuning or serving a model will cost, before the money is spent.
 *
 * This file only parses flags, loads the hardware catalog and prints; the
 * model is in src/energy (frugal/cost.h). Numbers that are uncertain take
 * either one value (used exactly) or LOW:CENTRAL:HIGH; when a flag is left
 * out its default range applies. Output: a table of low / central / high
 * with the assumptions and their sources, or --json (one document), and
 * --svg FILE for a log-scale bar chart.
 */
#include "cli.h"

#include <frugal/cost.h>
#include <frugal/hardware.h>

#include "base/file.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_FILE_MAX ((size_t)16 << 20)

/* Every flag of every subcommand; each subcommand's table points into it. */
typedef struct plan_opts {
    double params, tokens, gpus, days, epochs, users, queries, in, out, batch;
    double battery_wh, dev_tokens, tok_s, train_tokens, hh_year, hh_day;
    bool chinchilla, qlora, cpu, json;
    const char *gpu, *cpu_model, *quant, *from_bench, *catalog, *svg, *train_gpu;
    /* ranges, as text until parsed */
    const char *mfu, *pue, *host, *power, *price_kwh, *grid, *hw_price, *rent, *hw_years;
    const char *flops_factor, *scratch_mfu, *bw_eff, *prefill_mfu, *peak_factor, *mem_overhead;
    const char *busy_frac, *idle_frac, *train_mfu, *j_per_token;
} plan_opts;

#define R_META "R"
#define OPT_D(name, field, meta, help)                                                             \
    {                                                                                              \
        name, NULL, CLI_DOUBLE, &o->field, meta, help, 0, 0, NULL                                  \
    }
#define OPT_R(name, field, help)                                                                   \
    {                                                                                              \
        name, NULL, CLI_STR, &o->field, R_META, help, 0, 0, NULL                                   \
    }
#define OPT_S(name, field, meta, help)                                                             \
    {                                                                                              \
        name, NULL, CLI_STR, &o->field, meta, help, 0, 0, NULL                                     \
    }
#define OPT_F(name, field, help)                                                                   \
    {                                                                                              \
        name, NULL, CLI_FLAG, &o->field, NULL, help, 0, 0, NULL                                    \
    }
#define OPT_END                                                                                    \
    {                                                                                              \
        NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL                                          \
    }

#define COMMON_OPTS                                                                                \
    OPT_R("--pue", pue, "facility PUE (default 1.06:1.10:1.58)"),                                  \
        OPT_R("--host-overhead", host, "server power / device power (default 1.05:1.10:1.50)"),    \
        OPT_R("--gpu-power", power, "training draw / TDP (default 0.75:1.0:1.0)"),                 \
        OPT_R("--price-kwh", price_kwh, "electricity, USD per kWh (default 0.16)"),                \
        OPT_R("--grid-g-per-kwh", grid, "grid carbon intensity (default 475, world average)"),     \
        OPT_R("--hw-price", hw_price, "purchase price per device, USD (default: catalog)"),        \
        OPT_R("--rent", rent, "rental price per device-hour, USD (default: catalog)"),             \
        OPT_R("--hw-years", hw_years, "hardware amortisation, years (default 3:4:5)"),             \
        OPT_D("--household-kwh-year", hh_year, "KWH", "US household per year (default 10715)"),    \
        OPT_D("--household-kwh-day", hh_day, "KWH", "US household per day (default 29.4)"),        \
        OPT_S("--catalog", catalog, "FILE", "hardware catalog merged over the built-in one"),      \
        OPT_S("--cpu-model", cpu_model, "ID", "catalog entry used for 'cpu' (default epyc-9354)"), \
        OPT_F("--json", json, "write one JSON document to stdout"),                                \
        OPT_S("--svg", svg, "FILE", "write the scenarios as an SVG bar chart (log scale)")

static const char *ranges_help =
    "R is one number (used exactly) or LOW:CENTRAL:HIGH; leaving a flag out uses its\n"
    "default range. Every figure prints as low / central / high: the extremes over all\n"
    "corners of the assumption ranges. Hardware comes from the catalog (data/hardware.json,\n"
    "~/.config/frugal/hardware.json, --catalog FILE).";

/* "0.4" -> exact; "0.3:0.4:0.5" -> range. */
static int parse_range(const char *flag, const char *text, fr_param *out)
{
    if (!text)
        return 0;
    double v[3];
    int n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (errno || end == p || !isfinite(x) || n >= 3) {
            cli_error("%s: '%s' is not a number or LOW:CENTRAL:HIGH", flag, text);
            return FR_EXIT_USAGE;
        }
        v[n++] = x;
        if (*end == '\0')
            break;
        if (*end != ':') {
            cli_error("%s: '%s' is not a number or LOW:CENTRAL:HIGH", flag, text);
            return FR_EXIT_USAGE;
        }
        p = end + 1;
    }
    if (n == 2) {
        cli_error("%s: give one number or three (LOW:CENTRAL:HIGH), not two", flag);
        return FR_EXIT_USAGE;
    }
    if (n == 1)
        v[1] = v[2] = v[0];
    if (!(v[0] <= v[1] && v[1] <= v[2])) {
        cli_error("%s: need LOW <= CENTRAL <= HIGH, got %s", flag, text);
        return FR_EXIT_USAGE;
    }
    if (v[0] == 0 && v[1] == 0 && v[2] == 0) {
        cli_error("%s: must not be 0", flag);
        return FR_EXIT_USAGE;
    }
    out->v.low = v[0];
    out->v.central = v[1];
    out->v.high = v[2];
    out->origin = flag;
    return 0;
}

static int env_from_opts(const plan_opts *o, fr_cost_env *env)
{
    memset(env, 0, sizeof *env);
    int rc;
    if ((rc = parse_range("--pue", o->pue, &env->pue)) ||
        (rc = parse_range("--host-overhead", o->host, &env->host_overhead)) ||
        (rc = parse_range("--gpu-power", o->power, &env->power_frac)) ||
        (rc = parse_range("--price-kwh", o->price_kwh, &env->price_kwh)) ||
        (rc = parse_range("--grid-g-per-kwh", o->grid, &env->grid_g_per_kwh)) ||
        (rc = parse_range("--hw-price", o->hw_price, &env->hw_price)) ||
        (rc = parse_range("--rent", o->rent, &env->rent_h)) ||
        (rc = parse_range("--hw-years", o->hw_years, &env->hw_years)))
        return rc;
    env->household_kwh_year = o->hh_year;
    env->household_kwh_day = o->hh_day;
    return 0;
}

static int load_catalog(const plan_opts *o, fr_catalog **cat)
{
    fr_catalog_env ce;
    fr_catalog_paths paths;
    fr_catalog_paths_from_env(&ce, &paths);
    paths.extra_file = o->catalog;
    fr_err err = {0};
    if (fr_catalog_load(&paths, cat, &err))
        return cli_fail(&err);
    return 0;
}

/* "cpu" names the CPU server entry; anything else is a catalog id. */
static int find_hw(const fr_catalog *cat, const plan_opts *o, const char *id, const fr_hw **out)
{
    if (strcmp(id, "cpu") == 0)
        id = o->cpu_model ? o->cpu_model : "epyc-9354";
    *out = fr_catalog_find(cat, id);
    if (!*out) {
        fr_err err = {0};
        fr_catalog_unknown(cat, id, &err);
        cli_error("%s", err.msg);
        return FR_EXIT_USAGE;
    }
    return 0;
}

static int read_bench(const char *path, fr_bench_summary *b)
{
    char *text = NULL;
    size_t len = 0;
    fr_err err = {0};
    fr_status st = fr_read_file(path, BENCH_FILE_MAX, &text, &len, &err);
    if (st == FR_OK)
        st = fr_bench_summary_parse(text, len, path, b, &err);
    free(text);
    if (st) {
        cli_error("%s", err.msg);
        return FR_EXIT_RUNTIME;
    }
    return 0;
}

/* ---- output ------------------------------------------------------------- */

/* "1.27 GWh   (876 MWh - 2.49 GWh)": central first, the range after it;
 * exact values (low == high) print alone. */
static void range_text(fr_range v, fr_unit u, char *out, size_t n)
{
    char lo[64], c[64], hi[64];
    fr_unit_format(v.central, u, c, sizeof c);
    if (v.low == v.high) {
        snprintf(out, n, "%s", c);
        return;
    }
    fr_unit_format(v.low, u, lo, sizeof lo);
    fr_unit_format(v.high, u, hi, sizeof hi);
    /* "81.8 household-years - 232 household-years" -> "81.8 - 232" when all
     * three share the unit text after the number. */
    const char *sl = strchr(lo, ' '), *sc = strchr(c, ' '), *sh = strchr(hi, ' ');
    if (sl && sc && sh && strcmp(sl, sc) == 0 && strcmp(sh, sc) == 0) {
        lo[sl - lo] = '\0';
        hi[sh - hi] = '\0';
    }
    snprintf(out, n, "%-18s (%s - %s)", c, lo, hi);
}

static void print_plan(const fr_plan *p, const fr_catalog *cat)
{
    char t[256];
    printf("frugal plan %s: %s\n", fr_plan_kind(p), fr_plan_title(p));
    for (size_t s = 0; s < fr_plan_scenario_count(p); s++) {
        printf("\n%-52s %-18s (low - high)\n", fr_plan_scenario_label(p, s), "central");
        for (size_t i = 0; i < fr_plan_figure_count(p, s); i++) {
            const fr_figure *f = fr_plan_figure(p, s, i);
            range_text(f->v, f->unit, t, sizeof t);
            if (strlen(f->label) > 50)
                printf("  %s\n  %-50s %s\n", f->label, "", t);
            else
                printf("  %-50s %s\n", f->label, t);
        }
    }
    printf("\nassumptions (central (low - high) [where it comes from]):\n");
    for (size_t i = 0; i < fr_plan_assumption_count(p); i++) {
        const fr_assumption *a = fr_plan_assumption(p, i);
        range_text(a->v, a->unit, t, sizeof t);
        printf("  %-50s %s\n  %-50s [%s]\n", a->label, t, "", a->source);
    }
    if (fr_plan_note_count(p)) {
        printf("\nnotes:\n");
        for (size_t i = 0; i < fr_plan_note_count(p); i++)
            printf("  - %s\n", fr_plan_note(p, i));
    }
    if (cat)
        printf("\nhardware catalog: %s\n", fr_catalog_origin(cat));
}

static json_t *jrange(fr_range v, fr_unit u)
{
    return json_pack("{s:s,s:f,s:f,s:f}", "unit", fr_unit_name(u), "low", v.low, "central",
                     v.central, "high", v.high);
}

static int print_json(const fr_plan *p, const fr_catalog *cat)
{
    json_t *root = json_object();
    json_t *scen = json_array();
    json_t *assume = json_array();
    json_t *notes = json_array();
    int rc = FR_EXIT_RUNTIME;
    if (!root || !scen || !assume || !notes)
        goto done;
    json_object_set_new(root, "plan", json_string(fr_plan_kind(p)));
    json_object_set_new(root, "title", json_string(fr_plan_title(p)));
    for (size_t s = 0; s < fr_plan_scenario_count(p); s++) {
        json_t *figs = json_object();
        for (size_t i = 0; i < fr_plan_figure_count(p, s); i++) {
            const fr_figure *f = fr_plan_figure(p, s, i);
            json_t *j = jrange(f->v, f->unit);
            json_object_set_new(j, "label", json_string(f->label));
            json_object_set_new(figs, f->key, j);
        }
        json_array_append_new(scen,
                              json_pack("{s:s,s:s,s:o}", "key", fr_plan_scenario_key(p, s), "label",
                                        fr_plan_scenario_label(p, s), "figures", figs));
    }
    for (size_t i = 0; i < fr_plan_assumption_count(p); i++) {
        const fr_assumption *a = fr_plan_assumption(p, i);
        json_t *j = jrange(a->v, a->unit);
        json_object_set_new(j, "key", json_string(a->key));
        json_object_set_new(j, "label", json_string(a->label));
        json_object_set_new(j, "source", json_string(a->source));
        json_array_append_new(assume, j);
    }
    for (size_t i = 0; i < fr_plan_note_count(p); i++)
        json_array_append_new(notes, json_string(fr_plan_note(p, i)));
    json_object_set(root, "scenarios", scen);
    json_object_set(root, "assumptions", assume);
    json_object_set(root, "notes", notes);
    if (cat)
        json_object_set_new(root, "catalog", json_string(fr_catalog_origin(cat)));
    json_object_set_new(root, "frugal_version", json_string(fr_version()));
    if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) ==
        0) {
        fputc('\n', stdout);
        rc = 0;
    } else {
        cli_error("writing JSON to stdout failed");
    }
done:
    json_decref(scen);
    json_decref(assume);
    json_decref(notes);
    json_decref(root);
    return rc;
}

static int write_svg(const fr_plan *p, const char *path)
{
    char *svg = NULL;
    fr_err err = {0};
    fr_atomic_file *f = NULL;
    fr_status st = fr_plan_svg(p, &svg, &err);
    if (st == FR_OK)
        st = fr_atomic_open(path, NULL, 0, &f, &err);
    if (st == FR_OK)
        st = fr_atomic_write(f, svg, strlen(svg), &err);
    if (st == FR_OK) {
        st = fr_atomic_commit(f, &err);
        f = NULL;
    }
    fr_atomic_abort(f);
    free(svg);
    if (st) {
        cli_error("--svg %s: %s", path, err.msg);
        return FR_EXIT_RUNTIME;
    }
    return 0;
}

static int emit(fr_plan *p, const plan_opts *o, const fr_catalog *cat)
{
    int rc = 0;
    if (o->svg)
        rc = write_svg(p, o->svg);
    if (rc == 0) {
        if (o->json)
            rc = print_json(p, cat);
        else
            print_plan(p, cat);
    }
    fr_plan_free(p);
    return rc;
}

static int plan_fail(fr_err *err)
{
    return cli_fail(err);
}

/* ---- subcommands -------------------------------------------------------- */

static int run_parse(int argc, char **argv, const char *usage, const char *summary,
                     const cli_opt *opts)
{
    char full[1200];
    snprintf(full, sizeof full, "%s\n\n%s", summary, ranges_help);
    cli_spec spec = {usage, full, opts, 0, 0};
    const char *pos[64];
    int npos;
    /* every number option here is a count or an amount: NAN marks "not
     * given", so that --params -5 is refused as such (it used to read as
     * missing: "--params is required") */
    for (const cli_opt *op = opts; op->kind != CLI_END; op++)
        if (op->kind == CLI_DOUBLE)
            *(double *)op->dst = NAN;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    for (const cli_opt *op = opts; rc == 0 && op->kind != CLI_END; op++) {
        if (op->kind != CLI_DOUBLE)
            continue;
        double *v = op->dst;
        if (isnan(*v)) {
            *v = 0; /* not given */
        } else if (!(*v > 0)) {
            cli_error("%s: %g is not a positive number", op->name, *v);
            rc = FR_EXIT_USAGE;
        }
    }
    return rc < 0 ? -1 : rc;
}

static int need_flag(bool given, const char *msg)
{
    if (given)
        return 0;
    cli_error("%s", msg);
    return FR_EXIT_USAGE;
}

static int plan_train(int argc, char **argv, plan_opts *o)
{
    const cli_opt opts[] = {
        OPT_D("--params", params, "N", "model parameters, e.g. 8e9 (required)"),
        OPT_D("--tokens", tokens, "D", "training tokens, e.g. 160e9"),
        OPT_F("--chinchilla", chinchilla, "use 20 tokens per parameter instead of --tokens"),
        OPT_S("--gpu", gpu, "ID", "catalog id, e.g. h100-sxm, a100-80gb, v100 (required)"),
        OPT_R("--mfu", mfu, "model FLOPs utilisation (default 0.30:0.40:0.50)"),
        OPT_D("--days", days, "D", "wall-clock days allowed: prints the GPUs needed"),
        OPT_D("--gpus", gpus, "N", "GPUs used: prints the days needed"),
        COMMON_OPTS,
        OPT_END};
    int rc = run_parse(argc, argv,
                       "frugal plan train --params N (--tokens D | --chinchilla) --gpu ID "
                       "[--mfu R] (--days D | --gpus N) [options]",
                       "Training from scratch: FLOPs = 6 N D, GPU-hours, GPUs or days, energy at "
                       "the GPUs and the facility, cost to buy or rent, CO2, US households.",
                       opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = need_flag(o->params > 0, "plan train: --params is required")) ||
        (rc = need_flag(o->gpu != NULL, "plan train: --gpu is required (e.g. --gpu h100-sxm)")) ||
        (rc = need_flag((o->tokens > 0) != o->chinchilla,
                        "plan train: give exactly one of --tokens D and --chinchilla")) ||
        (rc = need_flag((o->gpus > 0) != (o->days > 0),
                        "plan train: give exactly one of --days D and --gpus N")))
        return rc;
    fr_train_in in = {0};
    if ((rc = env_from_opts(o, &in.env)) || (rc = parse_range("--mfu", o->mfu, &in.mfu)))
        return rc;
    fr_catalog *cat = NULL;
    if ((rc = load_catalog(o, &cat)))
        return rc;
    if ((rc = find_hw(cat, o, o->gpu, &in.gpu))) {
        fr_catalog_free(cat);
        return rc;
    }
    in.params = o->params;
    in.tokens = o->tokens;
    in.chinchilla = o->chinchilla;
    in.gpus = o->gpus;
    in.days = o->days;
    fr_plan *p = NULL;
    fr_err err = {0};
    if (fr_plan_train(&in, &p, &err))
        rc = plan_fail(&err);
    else
        rc = emit(p, o, cat);
    fr_catalog_free(cat);
    return rc;
}

static int plan_lora(int argc, char **argv, plan_opts *o)
{
    const cli_opt opts[] = {
        OPT_D("--params", params, "N", "model parameters (required)"),
        OPT_D("--tokens", tokens, "D", "fine-tuning tokens per epoch (required)"),
        OPT_D("--epochs", epochs, "E", "epochs (default 3)"),
        OPT_F("--qlora", qlora, "4-bit quantized base (QLoRA) instead of a 16-bit one"),
        OPT_S("--gpu", gpu, "ID", "rtx4090, l4, h100-sxm, ... or cpu (required)"),
        OPT_D("--gpus", gpus, "N", "devices used (default 1)"),
        OPT_R("--mfu", mfu, "MFU (default LoRA 0.225:0.30:0.375, QLoRA 0.165:0.22:0.275)"),
        OPT_R("--flops-factor", flops_factor, "k in k N D (default LoRA 4:4:6, QLoRA 4:6:6)"),
        OPT_R("--scratch-mfu", scratch_mfu, "MFU of the from-scratch comparison (0.3:0.4:0.5)"),
        OPT_D("--scratch-tokens", train_tokens, "D",
              "tokens for the from-scratch comparison "
              "(default 20 N)"),
        COMMON_OPTS,
        OPT_END};
    int rc = run_parse(argc, argv,
                       "frugal plan lora --params N --tokens D [--epochs 3] [--qlora] --gpu "
                       "rtx4090|l4|h100-sxm|cpu [options]",
                       "Fine-tuning with LoRA or QLoRA, next to training the same model from "
                       "scratch on the same devices, as a ratio.",
                       opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = need_flag(o->params > 0, "plan lora: --params is required")) ||
        (rc = need_flag(o->tokens > 0, "plan lora: --tokens is required")) ||
        (rc = need_flag(o->gpu != NULL, "plan lora: --gpu is required (e.g. --gpu rtx4090 or "
                                        "--gpu cpu)")))
        return rc;
    fr_lora_in in = {0};
    if ((rc = env_from_opts(o, &in.env)) || (rc = parse_range("--mfu", o->mfu, &in.mfu)) ||
        (rc = parse_range("--flops-factor", o->flops_factor, &in.flops_factor)) ||
        (rc = parse_range("--scratch-mfu", o->scratch_mfu, &in.scratch_mfu)))
        return rc;
    fr_catalog *cat = NULL;
    if ((rc = load_catalog(o, &cat)))
        return rc;
    if ((rc = find_hw(cat, o, o->gpu, &in.gpu))) {
        fr_catalog_free(cat);
        return rc;
    }
    in.params = o->params;
    in.tokens = o->tokens;
    in.epochs = o->epochs;
    in.qlora = o->qlora;
    in.gpus = o->gpus;
    in.scratch_tokens = o->train_tokens;
    fr_plan *p = NULL;
    fr_err err = {0};
    if (fr_plan_lora(&in, &p, &err))
        rc = plan_fail(&err);
    else
        rc = emit(p, o, cat);
    fr_catalog_free(cat);
    return rc;
}

static int plan_serve(int argc, char **argv, plan_opts *o)
{
    const cli_opt opts[] = {
        OPT_D("--params", params, "N", "model parameters (required unless --from-bench)"),
        OPT_S("--quant", quant, "Q", "q4_k_m, q8_0, f16, ... (required unless --from-bench)"),
        OPT_D("--users", users, "U", "users (required)"),
        OPT_D("--queries", queries, "Q", "queries per user per day (required)"),
        OPT_D("--in", in, "T", "prompt tokens per query (required)"),
        OPT_D("--out", out, "T", "generated tokens per query (required)"),
        OPT_S("--gpu", gpu, "ID", "serve on this GPU (catalog id)"),
        OPT_F("--cpu", cpu, "serve on CPU servers (--cpu-model, default epyc-9354)"),
        OPT_S("--from-bench", from_bench, "FILE",
              "use the speeds and J/token `frugal bench "
              "--json` measured"),
        OPT_D("--batch", batch, "B", "sequences decoded together (default GPU 8, CPU 1)"),
        OPT_R("--bw-eff", bw_eff, "achieved / peak memory bandwidth (0.5:0.7:0.85)"),
        OPT_R("--prefill-mfu", prefill_mfu, "prefill MFU (0.25:0.4:0.6)"),
        OPT_R("--peak-factor", peak_factor, "busiest hour / average (2:3:4)"),
        OPT_R("--mem-overhead", mem_overhead, "memory / weights (1.1:1.2:1.5)"),
        OPT_R("--busy-frac", busy_frac, "draw / TDP while serving (0.6:0.8:1.0)"),
        OPT_R("--idle-frac", idle_frac, "draw / TDP while idle (0.1:0.2:0.3)"),
        OPT_S("--train-gpu", train_gpu, "ID", "GPU the model is trained on (default h100-sxm)"),
        OPT_D("--train-tokens", train_tokens, "D", "tokens it is trained on (default 20 N)"),
        OPT_R("--train-mfu", train_mfu, "training MFU (0.3:0.4:0.5)"),
        COMMON_OPTS,
        OPT_END};
    int rc = run_parse(argc, argv,
                       "frugal plan serve --params N --quant Q --users U --queries Q --in T --out "
                       "T (--gpu ID | --cpu | --from-bench FILE) [options]",
                       "Serving: tokens per day, hardware needed, kWh and $ per day, and the day "
                       "on which serving energy overtakes the energy of training the model.",
                       opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    int where = (o->gpu != NULL) + o->cpu + (o->from_bench != NULL);
    if ((rc = need_flag(where == 1, "plan serve: give exactly one of --gpu ID, --cpu and "
                                    "--from-bench FILE")) ||
        (rc = need_flag(o->users > 0 && o->queries > 0 && o->in > 0 && o->out > 0,
                        "plan serve: --users, --queries, --in and --out are required")) ||
        (rc = need_flag(o->from_bench || (o->params > 0 && o->quant),
                        "plan serve: --params and --quant are required (or --from-bench)")))
        return rc;
    fr_serve_in in = {0};
    if ((rc = env_from_opts(o, &in.env)) || (rc = parse_range("--bw-eff", o->bw_eff, &in.bw_eff)) ||
        (rc = parse_range("--prefill-mfu", o->prefill_mfu, &in.prefill_mfu)) ||
        (rc = parse_range("--peak-factor", o->peak_factor, &in.peak_factor)) ||
        (rc = parse_range("--mem-overhead", o->mem_overhead, &in.mem_overhead)) ||
        (rc = parse_range("--busy-frac", o->busy_frac, &in.busy_frac)) ||
        (rc = parse_range("--idle-frac", o->idle_frac, &in.idle_frac)) ||
        (rc = parse_range("--train-mfu", o->train_mfu, &in.train_mfu)))
        return rc;
    fr_bench_summary bench;
    memset(&bench, 0, sizeof bench);
    if (o->from_bench) {
        if ((rc = read_bench(o->from_bench, &bench)))
            return rc;
        in.bench = &bench;
    }
    fr_catalog *cat = NULL;
    if ((rc = load_catalog(o, &cat)))
        return rc;
    if (o->gpu)
        rc = find_hw(cat, o, o->gpu, &in.device);
    else if (o->cpu)
        rc = find_hw(cat, o, "cpu", &in.device);
    else if (bench.hardware_id[0])
        in.device = fr_catalog_find(cat, bench.hardware_id); /* for its price, if known */
    if (rc == 0)
        rc = find_hw(cat, o, o->train_gpu ? o->train_gpu : "h100-sxm", &in.train_gpu);
    if (rc) {
        fr_catalog_free(cat);
        return rc;
    }
    in.params = o->params;
    in.quant = o->quant;
    in.users = o->users;
    in.queries = o->queries;
    in.in_tokens = o->in;
    in.out_tokens = o->out;
    in.batch = o->batch;
    in.train_tokens = o->train_tokens;
    fr_plan *p = NULL;
    fr_err err = {0};
    if (fr_plan_serve(&in, &p, &err))
        rc = plan_fail(&err);
    else
        rc = emit(p, o, cat);
    fr_catalog_free(cat);
    return rc;
}

static int plan_device(int argc, char **argv, plan_opts *o)
{
    const cli_opt opts[] = {
        OPT_R("--j-per-token", j_per_token, "joules per generated token"),
        OPT_S("--from-bench", from_bench, "FILE",
              "use the decode J/token and speed `frugal "
              "bench --json` measured"),
        OPT_D("--battery-wh", battery_wh, "WH", "battery capacity (default 15, a phone)"),
        OPT_D("--tokens", dev_tokens, "N", "tokens in the task (default 1000)"),
        OPT_D("--tok-s", tok_s, "S", "generation speed, for hours per charge"),
        OPT_F("--json", json, "write one JSON document to stdout"),
        OPT_S("--svg", svg, "FILE", "write an SVG bar chart (log scale)"),
        OPT_END};
    int rc = run_parse(argc, argv,
                       "frugal plan device (--j-per-token J | --from-bench FILE) [--battery-wh "
                       "15] [--tokens 1000] [--tok-s S]",
                       "On-device generation: share of the battery, tokens per charge and hours "
                       "of continuous generation.",
                       opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = need_flag((o->j_per_token != NULL) != (o->from_bench != NULL),
                        "plan device: give exactly one of --j-per-token J and --from-bench "
                        "FILE")))
        return rc;
    fr_device_in in = {0};
    if ((rc = parse_range("--j-per-token", o->j_per_token, &in.j_per_token)))
        return rc;
    fr_bench_summary bench;
    memset(&bench, 0, sizeof bench);
    if (o->from_bench) {
        if ((rc = read_bench(o->from_bench, &bench)))
            return rc;
        in.bench = &bench;
    }
    in.battery_wh = o->battery_wh;
    in.tokens = o->dev_tokens;
    in.tok_s = o->tok_s;
    fr_plan *p = NULL;
    fr_err err = {0};
    if (fr_plan_device(&in, &p, &err))
        return plan_fail(&err);
    return emit(p, o, NULL);
}

static int plan_article(int argc, char **argv, plan_opts *o)
{
    const cli_opt opts[] = {COMMON_OPTS, OPT_END};
    int rc = run_parse(argc, argv, "frugal plan article [options]",
                       "Recomputes an article's claims from first principles: an H100 at "
                       "~$40,000; ~6,000 of them and ~10 GWh to train a GPT-3.5-class model "
                       "(~1,000 US homes for a year); ~1 GWh a day to serve ChatGPT (~33,000 "
                       "homes); a phone battery drained by on-device use - and shows where the "
                       "figures do not fit together. GPT-3 (Patterson et al. 2021) is the check.",
                       opts);
    if (rc)
        return rc < 0 ? 0 : rc;
    fr_cost_env env;
    if ((rc = env_from_opts(o, &env)))
        return rc;
    fr_catalog *cat = NULL;
    if ((rc = load_catalog(o, &cat)))
        return rc;
    fr_plan *p = NULL;
    fr_err err = {0};
    if (fr_plan_article(cat, &env, &p, &err))
        rc = plan_fail(&err);
    else
        rc = emit(p, o, cat);
    fr_catalog_free(cat);
    return rc;
}

static void plan_usage(FILE *f)
{
    fprintf(f, "usage: frugal plan SUBCOMMAND [options]   (frugal plan SUBCOMMAND --help)\n\n"
               "  train    cost of training a model from scratch (GPUs, days, GWh, $, CO2, homes)\n"
               "  lora     cost of LoRA/QLoRA fine-tuning, next to training from scratch\n"
               "  serve    devices, kWh and $ per day to serve users; when serving overtakes "
               "training\n"
               "  device   battery share, tokens per charge, hours of generation on a device\n"
               "  article  an article's LLM cost figures, recomputed and cross-checked\n\n"
               "Every figure is low / central / high with the assumptions behind it; --json for\n"
               "one JSON document, --svg FILE for a log-scale bar chart.\n");
}

int cmd_plan(int argc, char **argv)
{
    if (argc < 2) {
        plan_usage(stderr);
        return FR_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        plan_usage(stdout);
        return FR_EXIT_OK;
    }
    plan_opts o;
    memset(&o, 0, sizeof o);
    /* argv[1] becomes the name cli_parse reports in messages ("train: ..."). */
    if (strcmp(sub, "train") == 0)
        return plan_train(argc - 1, argv + 1, &o);
    if (strcmp(sub, "lora") == 0)
        return plan_lora(argc - 1, argv + 1, &o);
    if (strcmp(sub, "serve") == 0)
        return plan_serve(argc - 1, argv + 1, &o);
    if (strcmp(sub, "device") == 0)
        return plan_device(argc - 1, argv + 1, &o);
    if (strcmp(sub, "article") == 0)
        return plan_article(argc - 1, argv + 1, &o);
    cli_error("plan: unknown subcommand '%s' (train, lora, serve, device, article)", sub);
    return FR_EXIT_USAGE;
}
