/*
 * cost_serve.c - `frugal plan serve` and `frugal plan device`: what serving
 * a model to a user base costs per day (devices, kWh, dollars, CO2), when
 * serving energy overtakes the energy of training the model, and what
 * generation costs a battery.
 *
 * Serving is either modelled from the catalog (decode bound by memory
 * bandwidth, prefill by compute; frugal/cost.h) or taken from a measured
 * `frugal bench --json` summary: tokens/s and joules per token of the real
 * machine. The measured path is preferred whenever a bench exists - the
 * model's bandwidth and MFU guesses are exactly what a benchmark replaces.
 */
#include "energy/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- quantization sizes ------------------------------------------------- */

typedef struct quant_bits {
    const char *name;
    double low, central, high;
} quant_bits;

/* Plain types: bytes per block x 8 / values per block, from the ggml type
 * table (e.g. q4_0: 18 bytes per 32 weights = 4.5 bits). Mixtures (_s/_m/_l)
 * keep some tensors at higher precision; their file-average bits per weight
 * come from the model sizes llama.cpp's quantize tool publishes (Llama 2 7B,
 * Llama 3 8B), the low end being the base type alone. */
static const quant_bits quants[] = {
    {"f32", 32, 32, 32},        {"f16", 16, 16, 16},           {"bf16", 16, 16, 16},
    {"q8_0", 8.5, 8.5, 8.5},    {"q6_k", 6.5625, 6.5625, 6.6}, {"q5_1", 6.0, 6.0, 6.0},
    {"q5_0", 5.5, 5.5, 5.5},    {"q5_k_m", 5.5, 5.67, 5.8},    {"q5_k_s", 5.5, 5.54, 5.6},
    {"q4_1", 5.0, 5.0, 5.0},    {"q4_0", 4.5, 4.55, 4.6},      {"q4_k_m", 4.5, 4.85, 5.0},
    {"q4_k_s", 4.5, 4.58, 4.7}, {"q3_k_l", 4.0, 4.27, 4.4},    {"q3_k_m", 3.44, 3.91, 4.0},
    {"q3_k_s", 3.44, 3.5, 3.6}, {"q2_k", 2.625, 3.35, 3.4},
};

bool fr_quant_bits(const char *quant, fr_range *bits)
{
    if (!quant)
        return false;
    for (size_t i = 0; i < sizeof quants / sizeof quants[0]; i++) {
        if (strcasecmp(quants[i].name, quant) == 0) {
            *bits = fr_rng(quants[i].low, quants[i].central, quants[i].high);
            return true;
        }
    }
    return false;
}

/* ---- serve -------------------------------------------------------------- */

typedef struct serve_ctx {
    bool bench;
    bool battery_meter; /* whole-system meter: no host overhead on top */
    int N, bits, users, queries, tin, tout, batch;
    int bw, peak, mem, tdp, bw_eff, mfu_p, peak_f, mem_over, busy, idle; /* modelled */
    int tok_p, tok_d, jp, jd, idle_w;                                    /* measured */
    int price, rent;
    fr_env_idx env;
    int t_peak, t_mfu, t_tdp, t_tokens;
} serve_ctx;

enum {
    S_TOK_IN,
    S_TOK_OUT,
    S_WBYTES,
    S_DPR,
    S_DEC,
    S_PRE,
    S_BUSY_H,
    S_REPLICAS,
    S_DEVICES,
    S_UTIL,
    S_KWH_DEV,
    S_KWH_FAC,
    S_USD_POWER,
    S_USD_HW,
    S_USD_RENT,
    S_USD_MTOK,
    S_J_TOKEN,
    S_KG,
    S_HH_DAYS,
    S_TRAIN_KWH,
    S_OVERTAKE,
    S_N
};

static void serve_model(const double *x, double *y, const void *vctx)
{
    const serve_ctx *c = vctx;
    double N = x[c->N];
    double queries = x[c->users] * x[c->queries];
    double tin = queries * x[c->tin], tout = queries * x[c->tout];
    double dpr, dec, pre, e_busy_j_per_s = 0, kwh_dev;
    y[S_TOK_IN] = tin;
    y[S_TOK_OUT] = tout;
    if (!c->bench) {
        double wbytes = N * x[c->bits] / 8.0;
        dpr = ceil(wbytes * x[c->mem_over] / x[c->mem] - 1e-9);
        if (dpr < 1)
            dpr = 1;
        double B = x[c->batch];
        double t_mem = wbytes / (dpr * x[c->bw] * x[c->bw_eff]);
        double t_cmp = B * 2.0 * N / (dpr * x[c->peak] * x[c->mfu_p]);
        dec = B / (t_mem > t_cmp ? t_mem : t_cmp);
        pre = dpr * x[c->peak] * x[c->mfu_p] / (2.0 * N);
        y[S_WBYTES] = wbytes;
        e_busy_j_per_s = dpr * x[c->tdp] * x[c->busy];
    } else {
        dpr = 1;
        dec = x[c->tok_d];
        pre = x[c->tok_p];
    }
    double busy_s = tin / pre + tout / dec; /* replica-seconds per day */
    double replicas = ceil(busy_s * x[c->peak_f] / 86400.0 - 1e-9);
    if (replicas < 1)
        replicas = 1;
    double devices = replicas * dpr;
    double idle_s = replicas * 86400.0 - busy_s;
    if (idle_s < 0)
        idle_s = 0;
    if (!c->bench) {
        double idle_w = dpr * x[c->tdp] * x[c->idle];
        kwh_dev = (busy_s * e_busy_j_per_s + idle_s * idle_w) / 3.6e6;
    } else {
        double idle_w = c->idle_w >= 0 ? x[c->idle_w] : 0;
        kwh_dev = (tin * x[c->jp] + tout * x[c->jd] + idle_s * idle_w) / 3.6e6;
    }
    double host = c->battery_meter ? 1.0 : x[c->env.host];
    double kwh = kwh_dev * host * x[c->env.pue];
    y[S_DPR] = dpr;
    y[S_DEC] = dec;
    y[S_PRE] = pre;
    y[S_BUSY_H] = busy_s / 3600.0;
    y[S_REPLICAS] = replicas;
    y[S_DEVICES] = devices;
    y[S_UTIL] = busy_s / (replicas * 86400.0) * 100.0;
    y[S_KWH_DEV] = kwh_dev;
    y[S_KWH_FAC] = kwh;
    y[S_USD_POWER] = kwh * x[c->env.price_kwh];
    y[S_USD_HW] = c->price >= 0 ? devices * x[c->price] / (x[c->env.years] * 365.0) : 0;
    y[S_USD_RENT] = c->rent >= 0 ? devices * 24.0 * x[c->rent] : 0;
    double tokens = tin + tout;
    y[S_USD_MTOK] = (y[S_USD_POWER] + y[S_USD_HW]) / (tokens / 1e6);
    y[S_J_TOKEN] = kwh * 3.6e6 / tokens;
    y[S_KG] = kwh * x[c->env.grid] / 1000.0;
    y[S_HH_DAYS] = kwh / c->env.hh_day;
    double tflops = 6.0 * N * x[c->t_tokens];
    double tH = tflops / (x[c->t_peak] * x[c->t_mfu]) / 3600.0;
    double tkwh = tH * x[c->t_tdp] * x[c->env.power] / 1000.0 * x[c->env.host] * x[c->env.pue];
    y[S_TRAIN_KWH] = tkwh;
    y[S_OVERTAKE] = tkwh / kwh;
}

static fr_status pos(const char *name, double v, double max, fr_err *err)
{
    if (!(v > 0) || !isfinite(v) || v > max)
        return fr_err_set(err, FR_E_INVALID, "%s must be a number in (0, %g], got %g", name, max,
                          v);
    return FR_OK;
}

static fr_status param_var(fr_vars *vs, const fr_param *p, fr_range def, const char *def_src,
                           const char *key, const char *label, fr_unit u, double lo, bool lo_open,
                           double hi, int *idx, fr_err *err)
{
    char src[320];
    fr_range r = fr_param_resolve(p, def, def_src, src, sizeof src);
    fr_status st = fr_check_range(label, r, lo, lo_open, hi, err);
    if (st)
        return st;
    *idx = fr_vars_add(vs, key, label, u, r, "%s", src);
    return FR_OK;
}

static fr_status bench_check(const fr_bench_summary *b, fr_err *err)
{
    fr_status st;
    if ((st = pos("bench prefill_tok_s", b->prefill_tok_s, 1e9, err)) ||
        (st = pos("bench decode_tok_s", b->decode_tok_s, 1e9, err)) ||
        (st = fr_check_range("bench j_per_token_prefill", b->j_per_token_prefill, 0, true, 1e6,
                             err)) ||
        (st = fr_check_range("bench j_per_token_decode", b->j_per_token_decode, 0, true, 1e6, err)))
        return st;
    return FR_OK;
}

fr_status fr_plan_serve(const fr_serve_in *in, fr_plan **out, fr_err *err)
{
    *out = NULL;
    fr_status st;
    const fr_bench_summary *b = in->bench;
    if (!b && !in->device)
        return fr_err_set(err, FR_E_INVALID,
                          "plan serve: give a device (--gpu or --cpu) or "
                          "--from-bench");
    if (!in->train_gpu)
        return fr_err_set(err, FR_E_INVALID, "plan serve: no training GPU for the comparison");
    if (b && (st = bench_check(b, err)))
        return fr_err_prefix(err, "plan serve --from-bench");
    double N = in->params > 0 ? in->params : (b ? b->params : 0);
    if ((st = pos("--params", N, 1e16, err)) || (st = pos("--users", in->users, 1e12, err)) ||
        (st = pos("--queries", in->queries, 1e9, err)) ||
        (st = pos("--in", in->in_tokens, 1e9, err)) ||
        (st = pos("--out", in->out_tokens, 1e9, err)))
        return st;
    if (in->batch < 0 || in->train_tokens < 0 || isnan(in->batch) || isnan(in->train_tokens))
        return fr_err_set(err, FR_E_INVALID, "plan serve: --batch and --train-tokens must be > 0");
    const char *quant = in->quant && in->quant[0] ? in->quant : (b ? b->quant : NULL);
    fr_range bits;
    if (!b && !fr_quant_bits(quant, &bits))
        return fr_err_set(err, FR_E_INVALID,
                          "plan serve: unknown quantization '%s' (known: f32, f16, bf16, q8_0, "
                          "q6_k, q5_k_m, q5_k_s, q5_1, q5_0, q4_k_m, q4_k_s, q4_1, q4_0, q3_k_l, "
                          "q3_k_m, q3_k_s, q2_k)",
                          quant ? quant : "(none)");
    const fr_hw *dev = in->device;
    bool cpu = dev && dev->kind && strncmp(dev->kind, "cpu", 3) == 0;

    fr_vars vs = {0};
    serve_ctx c;
    memset(&c, 0xff, sizeof c); /* every index -1 until set */
    c.bench = b != NULL;
    c.battery_meter = b && strcmp(b->meter_source, "battery") == 0;
    c.N = fr_vars_add(&vs, "params", "model parameters", FR_UNIT_PARAMS, fr_exact(N), "%s",
                      in->params > 0 ? "given" : "from the bench file");
    c.users = fr_vars_add(&vs, "users", "users", FR_UNIT_COUNT, fr_exact(in->users), "given");
    c.queries = fr_vars_add(&vs, "queries", "queries per user per day", FR_UNIT_COUNT,
                            fr_exact(in->queries), "given");
    c.tin = fr_vars_add(&vs, "in_tokens", "prompt tokens per query", FR_UNIT_TOKENS,
                        fr_exact(in->in_tokens), "given");
    c.tout = fr_vars_add(&vs, "out_tokens", "generated tokens per query", FR_UNIT_TOKENS,
                         fr_exact(in->out_tokens), "given");
    if ((st = param_var(&vs, &in->peak_factor, fr_rng(2, 3, 4),
                        "default: traffic of a working day, about 8 busy hours of 24",
                        "peak_factor", "busiest-hour traffic / average", FR_UNIT_RATIO, 1, false,
                        24, &c.peak_f, err)))
        return st;
    if (!b) {
        c.bits = fr_vars_add(&vs, "bits_per_weight", "bits per weight", FR_UNIT_BITS, bits,
                             "%s: GGUF block sizes; mixture averages from llama.cpp's published "
                             "model sizes",
                             quant);
        double batch = in->batch > 0 ? in->batch : (cpu ? 1 : 8);
        if ((st = pos("--batch", batch, 4096, err)))
            return st;
        c.batch = fr_vars_add(&vs, "batch", "sequences decoded together per replica", FR_UNIT_COUNT,
                              fr_exact(batch), "%s",
                              in->batch > 0 ? "given"
                              : cpu         ? "default on a CPU: 1"
                                            : "default on a GPU: 8");
        if ((st = fr_hw_var(&vs, dev, FR_HW_MEM_BW, NULL, "mem_bw", "memory bandwidth per device",
                            FR_UNIT_BYTES_S, true, &c.bw, err)) ||
            (st = fr_hw_var(&vs, dev, FR_HW_MEM_BYTES, NULL, "mem_bytes", "memory per device",
                            FR_UNIT_BYTES, true, &c.mem, err)) ||
            (st = fr_hw_var(&vs, dev, FR_HW_TDP_W, NULL, "tdp_w", "device power (TDP)",
                            FR_UNIT_WATTS, true, &c.tdp, err)))
            return st;
        fr_hw_field which;
        fr_hw_value pk = fr_hw_peak_flops(dev, &which);
        if (!pk.present)
            return fr_err_set(err, FR_E_INVALID, "hardware '%s' has no peak FLOP/s", dev->id);
        c.peak = fr_vars_add(&vs, "peak_flops", "peak dense FLOP/s per device", FR_UNIT_FLOP_S,
                             fr_rng(pk.low, pk.value, pk.high), "%s %s: %s", dev->id,
                             fr_hw_field_name(which), pk.source);
        if ((st = param_var(&vs, &in->bw_eff, fr_rng(0.5, 0.7, 0.85),
                            "default: decoders reach 50-85% of peak memory bandwidth",
                            "bw_efficiency", "achieved / peak memory bandwidth", FR_UNIT_FRACTION,
                            0, true, 1, &c.bw_eff, err)) ||
            (st = param_var(&vs, &in->prefill_mfu, fr_rng(0.25, 0.4, 0.6),
                            "default: batched prompt processing reaches 25-60% of peak",
                            "prefill_mfu", "prefill MFU", FR_UNIT_FRACTION, 0, true, 1, &c.mfu_p,
                            err)) ||
            (st = param_var(&vs, &in->mem_overhead, fr_rng(1.1, 1.2, 1.5),
                            "default: KV cache and runtime buffers on top of the weights",
                            "mem_overhead", "memory / weights", FR_UNIT_RATIO, 1, false, 10,
                            &c.mem_over, err)) ||
            (st = param_var(&vs, &in->busy_frac, fr_rng(0.6, 0.8, 1.0),
                            "default: memory-bound decoding draws less than TDP", "busy_frac",
                            "draw / TDP while serving", FR_UNIT_FRACTION, 0, true, 1.5, &c.busy,
                            err)) ||
            (st = param_var(&vs, &in->idle_frac, fr_rng(0.1, 0.2, 0.3),
                            "default: a powered, idle device draws 10-30% of TDP", "idle_frac",
                            "draw / TDP while idle", FR_UNIT_FRACTION, 0, false, 1, &c.idle, err)))
            return st;
    } else {
        c.tok_p = fr_vars_add(&vs, "prefill_tok_s", "measured prefill speed", FR_UNIT_TOK_S,
                              fr_exact(b->prefill_tok_s), "bench (%s)", b->meter_source);
        c.tok_d = fr_vars_add(&vs, "decode_tok_s", "measured decode speed", FR_UNIT_TOK_S,
                              fr_exact(b->decode_tok_s), "bench (%s)", b->meter_source);
        c.jp = fr_vars_add(&vs, "j_per_token_prefill", "energy per prompt token", FR_UNIT_JOULES,
                           b->j_per_token_prefill, "bench, meter %s", b->meter_label);
        c.jd = fr_vars_add(&vs, "j_per_token_decode", "energy per generated token", FR_UNIT_JOULES,
                           b->j_per_token_decode, "bench, meter %s", b->meter_label);
        if (b->idle_w >= 0)
            c.idle_w = fr_vars_add(&vs, "idle_w", "machine idle power", FR_UNIT_WATTS,
                                   fr_exact(b->idle_w), "bench idle baseline");
    }
    if ((st = fr_env_vars(&in->env, true, &vs, &c.env, err)))
        return st;
    if (dev) {
        if ((st = fr_hw_var(&vs, dev, FR_HW_PRICE_USD, &in->env.hw_price, "hw_price_usd",
                            "purchase price per device", FR_UNIT_USD, false, &c.price, err)) ||
            (st = fr_hw_var(&vs, dev, FR_HW_RENT_USD_H, &in->env.rent_h, "rent_usd_h",
                            "rental price per device-hour", FR_UNIT_USD_PER_HOUR, false, &c.rent,
                            err)))
            return st;
    } else {
        if (fr_param_set(&in->env.hw_price)) {
            if ((st = fr_check_range("hardware price", in->env.hw_price.v, 0, true, 1e12, err)))
                return st;
            c.price = fr_vars_add(&vs, "hw_price_usd", "purchase price per machine", FR_UNIT_USD,
                                  in->env.hw_price.v, "%s",
                                  in->env.hw_price.origin ? in->env.hw_price.origin : "given");
        }
        if (fr_param_set(&in->env.rent_h)) {
            if ((st = fr_check_range("rental price", in->env.rent_h.v, 0, true, 1e6, err)))
                return st;
            c.rent = fr_vars_add(&vs, "rent_usd_h", "rental price per machine-hour",
                                 FR_UNIT_USD_PER_HOUR, in->env.rent_h.v, "%s",
                                 in->env.rent_h.origin ? in->env.rent_h.origin : "given");
        }
    }
    /* Training the same model, for the overtaking day. */
    double ttok = in->train_tokens > 0 ? in->train_tokens : 20.0 * N;
    if ((st = pos("--train-tokens", ttok, 1e18, err)))
        return st;
    c.t_tokens = fr_vars_add(&vs, "train_tokens", "tokens the model was trained on", FR_UNIT_TOKENS,
                             fr_exact(ttok), "%s",
                             in->train_tokens > 0 ? "given" : "Chinchilla: 20 x parameters");
    fr_hw_field tw;
    fr_hw_value tp = fr_hw_peak_flops(in->train_gpu, &tw);
    if (!tp.present)
        return fr_err_set(err, FR_E_INVALID, "hardware '%s' has no peak FLOP/s", in->train_gpu->id);
    c.t_peak = fr_vars_add(&vs, "train_peak_flops", "training GPU peak FLOP/s", FR_UNIT_FLOP_S,
                           fr_rng(tp.low, tp.value, tp.high), "%s %s: %s", in->train_gpu->id,
                           fr_hw_field_name(tw), tp.source);
    if ((st = param_var(&vs, &in->train_mfu, fr_spread(0.40, 0.75, 1.25, 1),
                        "default: 0.40 as for `plan train`", "train_mfu", "training MFU",
                        FR_UNIT_FRACTION, 0, true, 1, &c.t_mfu, err)) ||
        (st = fr_hw_var(&vs, in->train_gpu, FR_HW_TDP_W, NULL, "train_tdp_w",
                        "training GPU power (TDP)", FR_UNIT_WATTS, true, &c.t_tdp, err)))
        return st;

    fr_range y[S_N];
    if ((st = fr_vars_eval(&vs, serve_model, &c, y, S_N, err)))
        return st;

    char np[48], where[160], nu[48];
    fr_unit_format(N, FR_UNIT_PARAMS, np, sizeof np);
    fr_unit_format(in->users, FR_UNIT_COUNT, nu, sizeof nu);
    if (b)
        snprintf(where, sizeof where, "the benchmarked machine%s%s", b->hardware_id[0] ? " " : "",
                 b->hardware_id);
    else
        snprintf(where, sizeof where, "%s", dev->name);
    fr_plan *p =
        fr_plan_new("serve", "serve %s (%s) to %s users on %s", np, quant ? quant : "?", nu, where);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "plan: out of memory");
    const char *unit_name = b ? "machines" : cpu ? "CPU servers" : "GPUs";
    int s = fr_plan_add_scenario(p, "serve", "serving, per day");
    fr_plan_add_figure(p, s, "prompt_tokens_per_day", "prompt tokens per day", FR_UNIT_TOKENS,
                       y[S_TOK_IN], false);
    fr_plan_add_figure(p, s, "generated_tokens_per_day", "generated tokens per day", FR_UNIT_TOKENS,
                       y[S_TOK_OUT], false);
    if (!b) {
        fr_plan_add_figure(p, s, "weight_bytes", "model weights", FR_UNIT_BYTES, y[S_WBYTES],
                           false);
        fr_plan_add_figure(p, s, "devices_per_replica", "devices per replica (to hold it)",
                           FR_UNIT_COUNT, y[S_DPR], false);
    }
    fr_plan_add_figure(p, s, "decode_tok_s_per_replica", "decode speed per replica", FR_UNIT_TOK_S,
                       y[S_DEC], false);
    fr_plan_add_figure(p, s, "prefill_tok_s_per_replica", "prefill speed per replica",
                       FR_UNIT_TOK_S, y[S_PRE], false);
    fr_plan_add_figure(p, s, "busy_hours_per_day", "replica busy hours per day", FR_UNIT_HOURS,
                       y[S_BUSY_H], false);
    char lbl[96];
    snprintf(lbl, sizeof lbl, "%s needed (peak hour)", unit_name);
    fr_plan_add_figure(p, s, "devices", lbl, FR_UNIT_COUNT, y[S_DEVICES], true);
    fr_plan_add_figure(p, s, "utilisation_percent", "average utilisation", FR_UNIT_PERCENT,
                       y[S_UTIL], false);
    fr_plan_add_figure(p, s, "energy_device_kwh_per_day", "energy at the devices per day",
                       FR_UNIT_KWH, y[S_KWH_DEV], false);
    fr_plan_add_figure(p, s, "energy_facility_kwh_per_day", "energy at the facility per day",
                       FR_UNIT_KWH, y[S_KWH_FAC], true);
    fr_plan_add_figure(p, s, "electricity_usd_per_day", "electricity per day", FR_UNIT_USD,
                       y[S_USD_POWER], false);
    if (c.price >= 0)
        fr_plan_add_figure(p, s, "hardware_usd_per_day", "hardware, amortised, per day",
                           FR_UNIT_USD, y[S_USD_HW], false);
    if (c.rent >= 0)
        fr_plan_add_figure(p, s, "rental_usd_per_day", "renting the devices instead, per day",
                           FR_UNIT_USD, y[S_USD_RENT], false);
    fr_plan_add_figure(p, s, "usd_per_million_tokens", "$ per million tokens (power + hardware)",
                       FR_UNIT_USD, y[S_USD_MTOK], true);
    fr_plan_add_figure(p, s, "joules_per_token", "energy per token at the facility", FR_UNIT_JOULES,
                       y[S_J_TOKEN], false);
    fr_plan_add_figure(p, s, "co2_kg_per_day", "CO2 per day", FR_UNIT_KG_CO2, y[S_KG], false);
    fr_plan_add_figure(p, s, "household_days_per_day", "US households' daily electricity",
                       FR_UNIT_HOUSEHOLD_DAYS, y[S_HH_DAYS], false);
    int t = fr_plan_add_scenario(p, "training", "training the same model once");
    fr_plan_add_figure(p, t, "energy_facility_kwh", "energy at the facility", FR_UNIT_KWH,
                       y[S_TRAIN_KWH], true);
    fr_plan_add_figure(p, t, "serving_overtakes_training_day",
                       "serving has used as much energy as training after", FR_UNIT_DAYS,
                       y[S_OVERTAKE], false);
    fr_vars_to_plan(&vs, p);
    if (b) {
        fr_plan_add_note(p, "measured: tokens/s and J/token from the bench file (meter: %s)",
                         b->meter_label);
        if (strcmp(b->meter_source, "estimate") == 0)
            fr_plan_add_note(p, "the bench's meter was an estimate (CPU time x watts per core), "
                                "not a counter: its range is wide for a reason");
        if (b->idle_w < 0)
            fr_plan_add_note(p, "the bench measured no idle baseline, so idle time between "
                                "requests is counted as 0 W: the energy is a lower bound");
        if (c.battery_meter)
            fr_plan_add_note(p, "battery meter: it covers the whole machine, so no host overhead "
                                "is added");
    } else {
        fr_plan_add_note(p, "modelled: decode is bound by memory bandwidth (all weights read "
                            "once per step of a batch), prefill by compute; run `frugal bench` "
                            "on the real machine and use --from-bench for measured figures");
    }
    fr_plan_add_note(p, "replicas are sized for the busiest hour; the figures assume requests "
                        "are batched as given and ignore the KV cache's own bandwidth");
    return fr_plan_done(p, out, err);
}

/* ---- device ------------------------------------------------------------- */

typedef struct device_ctx {
    int j, bat, tokens, tok_s;
} device_ctx;

enum { D_WH, D_PCT, D_PER_CHARGE, D_HOURS, D_WATTS, D_N };

static void device_model(const double *x, double *y, const void *vctx)
{
    const device_ctx *c = vctx;
    double J = x[c->j];
    y[D_WH] = x[c->tokens] * J / 3600.0;
    y[D_PCT] = y[D_WH] / x[c->bat] * 100.0;
    y[D_PER_CHARGE] = x[c->bat] * 3600.0 / J;
    if (c->tok_s >= 0) {
        y[D_HOURS] = y[D_PER_CHARGE] / x[c->tok_s] / 3600.0;
        y[D_WATTS] = J * x[c->tok_s];
    }
}

fr_status fr_plan_device(const fr_device_in *in, fr_plan **out, fr_err *err)
{
    *out = NULL;
    fr_status st;
    const fr_bench_summary *b = in->bench;
    if (b && (st = bench_check(b, err)))
        return fr_err_prefix(err, "plan device --from-bench");
    if (!b && !fr_param_set(&in->j_per_token))
        return fr_err_set(err, FR_E_INVALID, "plan device: give --j-per-token or --from-bench");
    if (in->battery_wh < 0 || in->tokens < 0 || in->tok_s < 0 || isnan(in->battery_wh) ||
        isnan(in->tokens) || isnan(in->tok_s))
        return fr_err_set(err, FR_E_INVALID,
                          "plan device: --battery-wh, --tokens and --tok-s must be > 0");
    double wh = in->battery_wh > 0 ? in->battery_wh : FR_DEFAULT_BATTERY_WH;
    double tokens = in->tokens > 0 ? in->tokens : 1000;
    double tok_s = in->tok_s > 0 ? in->tok_s : (b ? b->decode_tok_s : 0);
    if ((st = pos("--battery-wh", wh, 1e7, err)) || (st = pos("--tokens", tokens, 1e15, err)) ||
        (in->tok_s != 0 && (st = pos("--tok-s", in->tok_s, 1e9, err))))
        return st;
    fr_vars vs = {0};
    device_ctx c = {-1, -1, -1, -1};
    if (fr_param_set(&in->j_per_token)) {
        if ((st = fr_check_range("--j-per-token", in->j_per_token.v, 0, true, 1e6, err)))
            return st;
        c.j = fr_vars_add(&vs, "j_per_token", "energy per generated token", FR_UNIT_JOULES,
                          in->j_per_token.v, "%s",
                          in->j_per_token.origin ? in->j_per_token.origin : "given");
    } else {
        c.j = fr_vars_add(&vs, "j_per_token", "energy per generated token", FR_UNIT_JOULES,
                          b->j_per_token_decode, "bench decode, meter %s", b->meter_label);
    }
    c.bat = fr_vars_add(&vs, "battery_wh", "battery capacity", FR_UNIT_WH, fr_exact(wh), "%s",
                        in->battery_wh > 0 ? "given" : "default: 15 Wh, a phone");
    c.tokens = fr_vars_add(&vs, "tokens", "tokens in the task", FR_UNIT_TOKENS, fr_exact(tokens),
                           "%s", in->tokens > 0 ? "given" : "default: 1,000");
    if (tok_s > 0)
        c.tok_s = fr_vars_add(&vs, "tok_s", "generation speed", FR_UNIT_TOK_S, fr_exact(tok_s),
                              "%s", in->tok_s > 0 ? "given" : "bench decode_tok_s");
    fr_range y[D_N];
    if ((st = fr_vars_eval(&vs, device_model, &c, y, D_N, err)))
        return st;
    char bw[32], nt[48];
    fr_unit_format(wh, FR_UNIT_WH, bw, sizeof bw);
    fr_unit_format(tokens, FR_UNIT_TOKENS, nt, sizeof nt);
    fr_plan *p = fr_plan_new("device", "on-device generation: %s from a %s battery", nt, bw);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "plan: out of memory");
    int s = fr_plan_add_scenario(p, "device", "on the device");
    fr_plan_add_figure(p, s, "energy_wh", "energy for the task", FR_UNIT_WH, y[D_WH], false);
    fr_plan_add_figure(p, s, "battery_percent", "share of the battery", FR_UNIT_PERCENT, y[D_PCT],
                       true);
    fr_plan_add_figure(p, s, "tokens_per_charge", "tokens per full charge", FR_UNIT_TOKENS,
                       y[D_PER_CHARGE], true);
    if (c.tok_s >= 0) {
        fr_plan_add_figure(p, s, "hours_per_charge", "hours of continuous generation per charge",
                           FR_UNIT_HOURS, y[D_HOURS], true);
        fr_plan_add_figure(p, s, "power_w", "power while generating", FR_UNIT_WATTS, y[D_WATTS],
                           false);
    }
    fr_vars_to_plan(&vs, p);
    if (c.tok_s < 0)
        fr_plan_add_note(p, "no generation speed known: give --tok-s (or --from-bench) for the "
                            "hours of continuous generation");
    fr_plan_add_note(p, "counts generation only: the screen, radios and the prompt's prefill "
                        "come on top");
    if (b && strcmp(b->meter_source, "estimate") == 0)
        fr_plan_add_note(p, "the bench's J/token is an estimate from CPU time, not a counter");
    return fr_plan_done(p, out, err);
}
