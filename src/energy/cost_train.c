/*
 * cost_train.c - `frugal plan train` and `frugal plan lora`: compute, time,
 * devices, energy, money, CO2 and household equivalents of training a model
 * from scratch or fine-tuning one with LoRA/QLoRA (formulas and the GPT-3
 * derivation of the defaults: frugal/cost.h).
 *
 * Each plan is a pure model function over a variable vector; the variables
 * are also the plan's printed assumptions, so what is printed is exactly
 * what was computed with.
 */
#include "energy/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Bytes of training state per parameter with mixed precision and AdamW:
 * bf16 weights (2) and gradients (2), fp32 master weights (4) and two Adam
 * moments (8) - the figure of the ZeRO paper (Rajbhandari et al. 2020). */
#define TRAIN_STATE_BYTES_PER_PARAM 16.0

typedef struct chain_idx {
    int peak, mfu, tdp, rent, price;
    fr_env_idx env;
} chain_idx;

/* Device, MFU and money variables common to train and lora. */
static fr_status chain_vars(fr_vars *vs, const fr_hw *hw, const fr_param *mfu, fr_range mfu_def,
                            const char *mfu_src, const fr_cost_env *env, chain_idx *ix, fr_err *err)
{
    fr_status st;
    fr_hw_field which;
    fr_hw_value peak = fr_hw_peak_flops(hw, &which);
    if (!peak.present || !(peak.value > 0))
        return fr_err_set(err, FR_E_INVALID,
                          "hardware '%s' has no peak FLOP/s (flops_bf16, flops_fp16 or "
                          "flops_fp32) in the catalog",
                          hw->id);
    ix->peak = fr_vars_add(vs, "peak_flops", "peak dense FLOP/s per device", FR_UNIT_FLOP_S,
                           fr_rng(peak.low, peak.value, peak.high), "%s %s: %s", hw->id,
                           fr_hw_field_name(which), peak.source);
    char src[320];
    fr_range r = fr_param_resolve(mfu, mfu_def, mfu_src, src, sizeof src);
    if ((st = fr_check_range("MFU", r, 0, true, 1.0, err)))
        return st;
    ix->mfu = fr_vars_add(vs, "mfu", "model FLOPs utilisation", FR_UNIT_FRACTION, r, "%s", src);
    if ((st = fr_hw_var(vs, hw, FR_HW_TDP_W, NULL, "tdp_w", "device power (TDP)", FR_UNIT_WATTS,
                        true, &ix->tdp, err)))
        return st;
    if ((st = fr_env_vars(env, true, vs, &ix->env, err)))
        return st;
    if ((st = fr_hw_var(vs, hw, FR_HW_PRICE_USD, env ? &env->hw_price : NULL, "hw_price_usd",
                        "purchase price per device", FR_UNIT_USD, false, &ix->price, err)))
        return st;
    if ((st = fr_hw_var(vs, hw, FR_HW_RENT_USD_H, env ? &env->rent_h : NULL, "rent_usd_h",
                        "rental price per device-hour", FR_UNIT_USD_PER_HOUR, false, &ix->rent,
                        err)))
        return st;
    return FR_OK;
}

/* Energy and money from device-hours H on n devices over `days`. */
enum {
    C_KWH_DEV,
    C_KWH_FAC,
    C_USD_POWER,
    C_KG,
    C_HH_YEARS,
    C_HH_DAYS,
    C_USD_BUY,
    C_USD_OWN,
    C_USD_RENT,
    C_W_FAC,
    C_N
};

static void chain(const double *x, const chain_idx *ix, double H, double ndev, double days,
                  double *c)
{
    double kwh_dev = H * x[ix->tdp] * x[ix->env.power] / 1000.0;
    double kwh = kwh_dev * x[ix->env.host] * x[ix->env.pue];
    c[C_KWH_DEV] = kwh_dev;
    c[C_KWH_FAC] = kwh;
    c[C_USD_POWER] = kwh * x[ix->env.price_kwh];
    c[C_KG] = kwh * x[ix->env.grid] / 1000.0;
    c[C_HH_YEARS] = kwh / ix->env.hh_year;
    c[C_HH_DAYS] = kwh / ix->env.hh_day;
    double price = ix->price >= 0 ? x[ix->price] : 0;
    c[C_USD_BUY] = ndev * price;
    c[C_USD_OWN] = c[C_USD_BUY] * days / (x[ix->env.years] * 365.0) + c[C_USD_POWER];
    c[C_USD_RENT] = ix->rent >= 0 ? H * x[ix->rent] : 0;
    c[C_W_FAC] = ndev * x[ix->tdp] * x[ix->env.power] * x[ix->env.host] * x[ix->env.pue];
}

static void add_chain_figures(fr_plan *p, int s, const fr_range *c, const chain_idx *ix, bool chart)
{
    fr_plan_add_figure(p, s, "energy_device_kwh", "energy at the devices", FR_UNIT_KWH,
                       c[C_KWH_DEV], false);
    fr_plan_add_figure(p, s, "energy_facility_kwh", "energy at the facility (x host x PUE)",
                       FR_UNIT_KWH, c[C_KWH_FAC], chart);
    fr_plan_add_figure(p, s, "power_facility_w", "facility power while running", FR_UNIT_WATTS,
                       c[C_W_FAC], false);
    fr_plan_add_figure(p, s, "electricity_usd", "electricity cost", FR_UNIT_USD, c[C_USD_POWER],
                       false);
    fr_plan_add_figure(p, s, "co2_kg", "CO2 emitted", FR_UNIT_KG_CO2, c[C_KG], chart);
    fr_plan_add_figure(p, s, "household_years", "US households' electricity for a year",
                       FR_UNIT_HOUSEHOLD_YEARS, c[C_HH_YEARS], false);
    fr_plan_add_figure(p, s, "household_days", "US households' electricity for a day",
                       FR_UNIT_HOUSEHOLD_DAYS, c[C_HH_DAYS], false);
    if (ix->price >= 0) {
        fr_plan_add_figure(p, s, "purchase_usd", "buying the devices", FR_UNIT_USD, c[C_USD_BUY],
                           false);
        fr_plan_add_figure(p, s, "owned_usd",
                           "owning: the run's share of the purchase + electricity", FR_UNIT_USD,
                           c[C_USD_OWN], chart);
    }
    if (ix->rent >= 0)
        fr_plan_add_figure(p, s, "rental_usd", "renting the device-hours (power included)",
                           FR_UNIT_USD, c[C_USD_RENT], chart);
}

/* ---- train -------------------------------------------------------------- */

typedef struct train_ctx {
    chain_idx ix;
    int N, D, G, T, mem;
    bool by_days;
} train_ctx;

enum { T_FLOPS, T_HOURS, T_DAYS, T_GPUS, T_MIN_GPUS, T_CHAIN, T_N = T_CHAIN + C_N };

static void train_model(const double *x, double *y, const void *vctx)
{
    const train_ctx *c = vctx;
    double flops = 6.0 * x[c->N] * x[c->D];
    double H = flops / (x[c->ix.peak] * x[c->ix.mfu]) / 3600.0;
    double gpus, days;
    if (c->by_days) {
        days = x[c->T];
        gpus = ceil(H / (24.0 * days) - 1e-9);
        if (gpus < 1)
            gpus = 1;
    } else {
        gpus = x[c->G];
        days = H / gpus / 24.0;
    }
    y[T_FLOPS] = flops;
    y[T_HOURS] = H;
    y[T_DAYS] = days;
    y[T_GPUS] = gpus;
    y[T_MIN_GPUS] = c->mem >= 0 ? ceil(TRAIN_STATE_BYTES_PER_PARAM * x[c->N] / x[c->mem]) : 0;
    chain(x, &c->ix, H, gpus, days, y + T_CHAIN);
}

static fr_status check_pos(const char *name, double v, double max, fr_err *err)
{
    if (!(v > 0) || !isfinite(v) || v > max)
        return fr_err_set(err, FR_E_INVALID, "%s must be a number in (0, %g], got %g", name, max,
                          v);
    return FR_OK;
}

fr_status fr_plan_train(const fr_train_in *in, fr_plan **out, fr_err *err)
{
    *out = NULL;
    fr_status st;
    if (!in->gpu)
        return fr_err_set(err, FR_E_INVALID, "plan train: no GPU given");
    if ((st = check_pos("--params", in->params, 1e16, err)))
        return st;
    if (in->chinchilla == (in->tokens > 0))
        return fr_err_set(err, FR_E_INVALID, "plan train: give either --tokens or --chinchilla");
    if (!in->chinchilla && (st = check_pos("--tokens", in->tokens, 1e18, err)))
        return st;
    if (in->gpus < 0 || in->days < 0 || in->tokens < 0)
        return fr_err_set(err, FR_E_INVALID, "plan train: --tokens, --gpus and --days must be > 0");
    if ((in->gpus > 0) == (in->days > 0))
        return fr_err_set(err, FR_E_INVALID, "plan train: give either --gpus or --days");
    if (in->gpus > 0 && (st = check_pos("--gpus", in->gpus, 1e8, err)))
        return st;
    if (in->days > 0 && (st = check_pos("--days", in->days, 1e5, err)))
        return st;

    fr_vars vs = {0};
    train_ctx c = {0};
    double D = in->chinchilla ? 20.0 * in->params : in->tokens;
    c.N = fr_vars_add(&vs, "params", "model parameters", FR_UNIT_PARAMS, fr_exact(in->params),
                      "given");
    c.D = fr_vars_add(&vs, "tokens", "training tokens", FR_UNIT_TOKENS, fr_exact(D), "%s",
                      in->chinchilla ? "Chinchilla-optimal: 20 tokens per parameter "
                                       "(Hoffmann et al. 2022)"
                                     : "given");
    c.by_days = in->days > 0;
    c.G = c.T = -1;
    if (c.by_days)
        c.T = fr_vars_add(&vs, "days", "wall-clock days allowed", FR_UNIT_DAYS, fr_exact(in->days),
                          "given");
    else
        c.G = fr_vars_add(&vs, "gpus", "GPUs", FR_UNIT_COUNT, fr_exact(in->gpus), "given");
    if ((st = chain_vars(&vs, in->gpu, &in->mfu, fr_spread(0.40, 0.75, 1.25, 1.0),
                         "default: 0.40 (typical of large dense runs; Llama 3 reports 38-43%), "
                         "range x0.75..x1.25",
                         &in->env, &c.ix, err)))
        return st;
    if ((st = fr_hw_var(&vs, in->gpu, FR_HW_MEM_BYTES, NULL, "mem_bytes", "memory per device",
                        FR_UNIT_BYTES, false, &c.mem, err)))
        return st;

    fr_range y[T_N];
    if ((st = fr_vars_eval(&vs, train_model, &c, y, T_N, err)))
        return st;

    char np[48], nd[48];
    fr_unit_format(in->params, FR_UNIT_PARAMS, np, sizeof np);
    fr_unit_format(D, FR_UNIT_TOKENS, nd, sizeof nd);
    fr_plan *p = fr_plan_new("train", "train from scratch: %s x %s on %s", np, nd, in->gpu->name);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "plan: out of memory");
    int s = fr_plan_add_scenario(p, "train", "train from scratch");
    fr_plan_add_figure(p, s, "flops", "compute (6 N D)", FR_UNIT_FLOP, y[T_FLOPS], false);
    fr_plan_add_figure(p, s, "gpu_hours", "GPU-hours", FR_UNIT_DEVICE_HOURS, y[T_HOURS], false);
    if (c.by_days) {
        fr_plan_add_figure(p, s, "gpus", "GPUs needed", FR_UNIT_COUNT, y[T_GPUS], true);
    } else {
        fr_plan_add_figure(p, s, "days", "wall-clock time", FR_UNIT_DAYS, y[T_DAYS], true);
    }
    if (c.mem >= 0)
        fr_plan_add_figure(p, s, "min_gpus_memory",
                           "GPUs needed just to hold weights, gradients and Adam state",
                           FR_UNIT_COUNT, y[T_MIN_GPUS], false);
    add_chain_figures(p, s, y + T_CHAIN, &c.ix, true);
    fr_vars_to_plan(&vs, p);
    if (c.mem >= 0) {
        double need = y[T_MIN_GPUS].central;
        double have = c.by_days ? y[T_GPUS].low : in->gpus;
        if (have < need)
            fr_plan_add_note(p,
                             "the model's training state (%.0f bytes per parameter: bf16 weights "
                             "and gradients, fp32 master weights and Adam moments) needs at least "
                             "%.0f of these GPUs even with full sharding; plan for more GPUs",
                             TRAIN_STATE_BYTES_PER_PARAM, need);
    }
    fr_plan_add_note(p, "FLOPs = 6 x parameters x tokens (forward 2, backward 4); attention "
                        "FLOPs and restarts after failures are not counted - fold them into MFU");
    return fr_plan_done(p, out, err);
}

/* ---- lora --------------------------------------------------------------- */

typedef struct lora_ctx {
    chain_idx ix;
    int N, Dft, k, G, Ds, mfu_s, mem, bpp, mem_over;
} lora_ctx;

enum {
    L_FLOPS,
    L_HOURS_DEV,
    L_HOURS,
    L_MEM,
    L_DEVS_MEM,
    L_CHAIN,
    L_S_FLOPS = L_CHAIN + C_N,
    L_S_HOURS_DEV,
    L_S_DAYS,
    L_S_CHAIN,
    L_R_ENERGY = L_S_CHAIN + C_N,
    L_R_HOURS,
    L_N
};

static void lora_model(const double *x, double *y, const void *vctx)
{
    const lora_ctx *c = vctx;
    double G = x[c->G];
    double flops = x[c->k] * x[c->N] * x[c->Dft];
    double H = flops / (x[c->ix.peak] * x[c->ix.mfu]) / 3600.0;
    y[L_FLOPS] = flops;
    y[L_HOURS_DEV] = H;
    y[L_HOURS] = H / G;
    y[L_MEM] = x[c->N] * x[c->bpp] * x[c->mem_over];
    y[L_DEVS_MEM] = c->mem >= 0 ? ceil(y[L_MEM] / x[c->mem]) : 0;
    chain(x, &c->ix, H, G, H / G / 24.0, y + L_CHAIN);

    double sflops = 6.0 * x[c->N] * x[c->Ds];
    double Hs = sflops / (x[c->ix.peak] * x[c->mfu_s]) / 3600.0;
    y[L_S_FLOPS] = sflops;
    y[L_S_HOURS_DEV] = Hs;
    y[L_S_DAYS] = Hs / G / 24.0;
    chain(x, &c->ix, Hs, G, Hs / G / 24.0, y + L_S_CHAIN);
    y[L_R_ENERGY] = y[L_S_CHAIN + C_KWH_FAC] / y[L_CHAIN + C_KWH_FAC];
    y[L_R_HOURS] = Hs / H;
}

fr_status fr_plan_lora(const fr_lora_in *in, fr_plan **out, fr_err *err)
{
    *out = NULL;
    fr_status st;
    if (!in->gpu)
        return fr_err_set(err, FR_E_INVALID, "plan lora: no device given");
    if ((st = check_pos("--params", in->params, 1e16, err)) ||
        (st = check_pos("--tokens", in->tokens, 1e16, err)))
        return st;
    if (in->epochs < 0 || in->gpus < 0 || in->scratch_tokens < 0 || isnan(in->epochs) ||
        isnan(in->gpus) || isnan(in->scratch_tokens))
        return fr_err_set(err, FR_E_INVALID,
                          "plan lora: --epochs, --gpus and --scratch-tokens must be > 0");
    double epochs = in->epochs > 0 ? in->epochs : 3;
    double G = in->gpus > 0 ? in->gpus : 1;
    if ((st = check_pos("--epochs", epochs, 1e4, err)) || (st = check_pos("--gpus", G, 1e6, err)))
        return st;
    double Ds = in->scratch_tokens > 0 ? in->scratch_tokens : 20.0 * in->params;
    if ((st = check_pos("scratch tokens", Ds, 1e18, err)))
        return st;
    const char *name = in->qlora ? "QLoRA" : "LoRA";

    fr_vars vs = {0};
    lora_ctx c = {0};
    c.N = fr_vars_add(&vs, "params", "model parameters", FR_UNIT_PARAMS, fr_exact(in->params),
                      "given");
    c.Dft =
        fr_vars_add(&vs, "finetune_tokens", "fine-tuning tokens (tokens x epochs)", FR_UNIT_TOKENS,
                    fr_exact(in->tokens * epochs), "given: %g x %g epochs", in->tokens, epochs);
    c.G = fr_vars_add(&vs, "devices", "devices used", FR_UNIT_COUNT, fr_exact(G), "%s",
                      in->gpus > 0 ? "given" : "default: 1");
    char src[320];
    fr_range k = fr_param_resolve(
        &in->flops_factor, in->qlora ? fr_rng(4, 6, 6) : fr_rng(4, 4, 6),
        in->qlora ? "default: 6 = forward 2 + activation gradients 2 + forward recomputed by "
                    "gradient checkpointing 2 (the QLoRA recipe); 4 without checkpointing"
                  : "default: 4 = forward 2 + activation gradients 2, no weight gradients for "
                    "the frozen base; 6 with gradient checkpointing",
        src, sizeof src);
    if ((st = fr_check_range("FLOPs factor", k, 0, true, 20, err)))
        return st;
    c.k = fr_vars_add(&vs, "flops_factor", "FLOPs per parameter per token (k in k N D)",
                      FR_UNIT_NONE, k, "%s", src);
    bool cpu = in->gpu->kind && strncmp(in->gpu->kind, "cpu", 3) == 0;
    double mfu_c = in->qlora ? 0.22 : 0.30;
    if ((st = chain_vars(&vs, in->gpu, &in->mfu, fr_spread(mfu_c, 0.75, 1.25, 1.0),
                         in->qlora ? "default: 0.22 = LoRA's 0.30 less about a quarter for "
                                     "dequantising the 4-bit base in every matmul (frugal's "
                                     "assumption); range x0.75..x1.25"
                                   : "default: 0.30 (small batches on one device use tensor "
                                     "cores less well than large pre-training runs); range "
                                     "x0.75..x1.25",
                         &in->env, &c.ix, err)))
        return st;
    fr_range ms = fr_param_resolve(&in->scratch_mfu, fr_spread(0.40, 0.75, 1.25, 1.0),
                                   "default: 0.40 as for `plan train`", src, sizeof src);
    if ((st = fr_check_range("scratch MFU", ms, 0, true, 1.0, err)))
        return st;
    c.mfu_s = fr_vars_add(&vs, "scratch_mfu", "MFU when training from scratch", FR_UNIT_FRACTION,
                          ms, "%s", src);
    c.Ds = fr_vars_add(&vs, "scratch_tokens", "tokens when training from scratch", FR_UNIT_TOKENS,
                       fr_exact(Ds), "%s",
                       in->scratch_tokens > 0 ? "given" : "Chinchilla: 20 x parameters");
    c.bpp = fr_vars_add(&vs, "weight_bytes_per_param", "bytes per base weight in memory",
                        FR_UNIT_BYTES, fr_exact(in->qlora ? 0.516 : 2.0), "%s",
                        in->qlora ? "QLoRA: 4-bit NormalFloat + double-quantised scales = 4.127 "
                                    "bits (Dettmers et al. 2023)"
                                  : "LoRA: 16-bit (bf16) frozen base");
    c.mem_over = fr_vars_add(&vs, "mem_overhead",
                             "memory / base weights (activations, "
                             "adapters, optimizer state, runtime)",
                             FR_UNIT_RATIO, fr_rng(1.2, 1.3, 1.6),
                             "default: frugal's assumption for sequence length ~2k, batch 1-4, "
                             "with activation checkpointing");
    if ((st = fr_hw_var(&vs, in->gpu, FR_HW_MEM_BYTES, NULL, "mem_bytes", "memory per device",
                        FR_UNIT_BYTES, false, &c.mem, err)))
        return st;

    fr_range y[L_N];
    if ((st = fr_vars_eval(&vs, lora_model, &c, y, L_N, err)))
        return st;

    char np[48], nt[48];
    fr_unit_format(in->params, FR_UNIT_PARAMS, np, sizeof np);
    fr_unit_format(in->tokens * epochs, FR_UNIT_TOKENS, nt, sizeof nt);
    fr_plan *p = fr_plan_new("lora", "%s fine-tuning: %s on %s on %s", name, np, nt, in->gpu->name);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "plan: out of memory");
    int s = fr_plan_add_scenario(p, in->qlora ? "qlora" : "lora", name);
    fr_plan_add_figure(p, s, "flops", "compute (k N D)", FR_UNIT_FLOP, y[L_FLOPS], false);
    fr_plan_add_figure(p, s, "device_hours", "device-hours", FR_UNIT_DEVICE_HOURS, y[L_HOURS_DEV],
                       true);
    fr_plan_add_figure(p, s, "hours", "wall-clock hours on the devices", FR_UNIT_HOURS, y[L_HOURS],
                       false);
    fr_plan_add_figure(p, s, "memory_bytes", "memory needed", FR_UNIT_BYTES, y[L_MEM], false);
    if (c.mem >= 0)
        fr_plan_add_figure(p, s, "devices_for_memory", "devices needed to hold it", FR_UNIT_COUNT,
                           y[L_DEVS_MEM], false);
    add_chain_figures(p, s, y + L_CHAIN, &c.ix, true);
    fr_plan_add_figure(p, s, "scratch_over_finetune_energy",
                       "training from scratch takes this many times the energy", FR_UNIT_RATIO,
                       y[L_R_ENERGY], false);
    fr_plan_add_figure(p, s, "scratch_over_finetune_hours",
                       "... and this many times the device-hours", FR_UNIT_RATIO, y[L_R_HOURS],
                       false);

    int t = fr_plan_add_scenario(p, "scratch", "train from scratch (same model, same devices)");
    fr_plan_add_figure(p, t, "flops", "compute (6 N D)", FR_UNIT_FLOP, y[L_S_FLOPS], false);
    fr_plan_add_figure(p, t, "device_hours", "device-hours", FR_UNIT_DEVICE_HOURS, y[L_S_HOURS_DEV],
                       true);
    fr_plan_add_figure(p, t, "days", "wall-clock time on the devices", FR_UNIT_DAYS, y[L_S_DAYS],
                       false);
    add_chain_figures(p, t, y + L_S_CHAIN, &c.ix, true);
    fr_vars_to_plan(&vs, p);
    if (c.mem >= 0 && y[L_DEVS_MEM].central > G)
        fr_plan_add_note(p,
                         "%s of this model needs about %.0f of these devices to hold it (central "
                         "estimate) but %.0f %s given; use --qlora, a smaller model or more "
                         "devices",
                         name, y[L_DEVS_MEM].central, G, G == 1 ? "is" : "are");
    if (cpu)
        fr_plan_add_note(p, "on a CPU the peak is the FP32 vector rate of all cores; frugal "
                            "tune's measured throughput (frugal bench) is a better guide");
    fr_plan_add_note(p,
                     "the from-scratch row trains the same %s model on %s tokens (Chinchilla: "
                     "20 per parameter unless given) on the same devices",
                     np, Ds == 20.0 * in->params ? "20 x N" : "the given");
    return fr_plan_done(p, out, err);
}
