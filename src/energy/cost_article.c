/*
 * cost_article.c - `frugal plan article`: the figures a typical article
 * about the cost of LLMs quotes, recomputed from first principles, and
 * where they do not fit together.
 *
 * The claims: an H100 sells for about $40,000; a ChatGPT-3.5-class model
 * took ~6,000 of them (~$240M) and ~10 GWh (about 1,000 US homes for a
 * year) to train; serving ChatGPT takes ~1 GWh a day (~33,000 homes' daily
 * use); heavy on-device use drains a phone battery.
 *
 * What the arithmetic says: 6,000 H100s draw ~5 MW at the facility, so
 * 10 GWh is ~80 days of them at full power - enough for ~50x GPT-3's
 * compute - while a GPT-3-sized run takes them a day or two and ~0.2 GWh.
 * The GPU count and the energy describe different training runs (or the
 * energy figure comes from older, slower GPUs). GPT-3 itself is reproduced
 * from Patterson et al. 2021 as a check on the method.
 *
 * One model function computes every scenario over one variable set, so that
 * the shared facility assumptions move all scenarios together at a corner.
 */
#include "energy/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ARTICLE_H100_PRICE 40000.0
#define ARTICLE_H100_COUNT 6000.0
#define ARTICLE_TRAIN_KWH 10e6    /* 10 GWh */
#define ARTICLE_SERVE_KWH_DAY 1e6 /* 1 GWh per day */
#define GPT3_PARAMS 175e9
#define GPT3_TOKENS 300e9
#define GPT3_GPUS 10000.0

typedef struct art_ctx {
    fr_env_idx env;
    int v_peak, v_tdp, g3_mfu, g3_grid;
    int h_peak, h_tdp, h_mfu, h_price, g35_flops;
    int p_bw, p_w, p_bat, p_bits, p_eff, p_params;
} art_ctx;

enum {
    G3_FLOPS,
    G3_DAYS,
    G3_KWH,
    G3_KG,
    G3_HH_YEARS,
    G35_DAYS,
    G35_KWH,
    G35_HH_YEARS,
    G35_BUY_ARTICLE,
    G35_BUY_CATALOG,
    G35_FAC_W,
    G35_SHORT_BY,
    C10_HH_YEARS,
    C10_DAYS,
    C10_FLOPS,
    C10_GPT3_MULT,
    SV_HH_DAYS,
    SV_H100S,
    SV_HH_YEARS,
    PH_TOK_S,
    PH_J,
    PH_PCT,
    PH_PER_CHARGE,
    PH_HOURS,
    A_N
};

static void article_model(const double *x, double *y, const void *vctx)
{
    const art_ctx *c = vctx;
    double host = x[c->env.host], pue = x[c->env.pue], f = x[c->env.power];
    /* GPT-3 on 10,000 V100 (Patterson et al. 2021, Table 4). */
    double g3_flops = 6.0 * GPT3_PARAMS * GPT3_TOKENS;
    double g3_h = g3_flops / (x[c->v_peak] * x[c->g3_mfu]) / 3600.0;
    double g3_kwh = g3_h * x[c->v_tdp] * f / 1000.0 * host * pue;
    y[G3_FLOPS] = g3_flops;
    y[G3_DAYS] = g3_h / GPT3_GPUS / 24.0;
    y[G3_KWH] = g3_kwh;
    y[G3_KG] = g3_kwh * x[c->g3_grid] / 1000.0;
    y[G3_HH_YEARS] = g3_kwh / c->env.hh_year;
    /* GPT-3.5-class on 6,000 H100. */
    double fac_w = ARTICLE_H100_COUNT * x[c->h_tdp] * f * host * pue;
    double g35_s = x[c->g35_flops] / (ARTICLE_H100_COUNT * x[c->h_peak] * x[c->h_mfu]);
    double g35_kwh = fac_w * g35_s / 3.6e6;
    y[G35_DAYS] = g35_s / 86400.0;
    y[G35_KWH] = g35_kwh;
    y[G35_HH_YEARS] = g35_kwh / c->env.hh_year;
    y[G35_BUY_ARTICLE] = ARTICLE_H100_COUNT * ARTICLE_H100_PRICE;
    y[G35_BUY_CATALOG] = ARTICLE_H100_COUNT * x[c->h_price];
    y[G35_FAC_W] = fac_w;
    y[G35_SHORT_BY] = ARTICLE_TRAIN_KWH / g35_kwh;
    /* The 10 GWh claim. */
    double c10_s = ARTICLE_TRAIN_KWH * 3.6e6 / fac_w;
    y[C10_HH_YEARS] = ARTICLE_TRAIN_KWH / c->env.hh_year;
    y[C10_DAYS] = c10_s / 86400.0;
    y[C10_FLOPS] = ARTICLE_H100_COUNT * x[c->h_peak] * x[c->h_mfu] * c10_s;
    y[C10_GPT3_MULT] = y[C10_FLOPS] / g3_flops;
    /* 1 GWh a day of serving. */
    y[SV_HH_DAYS] = ARTICLE_SERVE_KWH_DAY / c->env.hh_day;
    y[SV_H100S] = ARTICLE_SERVE_KWH_DAY * 1000.0 / 24.0 / (x[c->h_tdp] * f * host * pue);
    y[SV_HH_YEARS] = ARTICLE_SERVE_KWH_DAY * 365.0 / c->env.hh_year;
    /* A phone generating with a 3B model: decode reads every weight per token. */
    double wbytes = x[c->p_params] * x[c->p_bits] / 8.0;
    double tok_s = x[c->p_bw] * x[c->p_eff] / wbytes;
    double j = x[c->p_w] / tok_s;
    y[PH_TOK_S] = tok_s;
    y[PH_J] = j;
    y[PH_PCT] = 1000.0 * j / 3600.0 / x[c->p_bat] * 100.0;
    y[PH_PER_CHARGE] = x[c->p_bat] * 3600.0 / j;
    y[PH_HOURS] = y[PH_PER_CHARGE] / tok_s / 3600.0;
}

static fr_status need(const fr_catalog *cat, const char *id, const fr_hw **out, fr_err *err)
{
    *out = fr_catalog_find(cat, id);
    if (*out)
        return FR_OK;
    fr_catalog_unknown(cat, id, err);
    return fr_err_prefix(err, "plan article needs '%s' in the hardware catalog", id);
}

fr_status fr_plan_article(const fr_catalog *cat, const fr_cost_env *env, fr_plan **out, fr_err *err)
{
    *out = NULL;
    fr_status st;
    const fr_hw *v100, *h100, *phone;
    if ((st = need(cat, "v100", &v100, err)) || (st = need(cat, "h100-sxm", &h100, err)) ||
        (st = need(cat, "phone-sd8g3", &phone, err)))
        return st;
    fr_vars vs = {0};
    art_ctx c;
    memset(&c, 0xff, sizeof c);
    if ((st = fr_env_vars(env, true, &vs, &c.env, err)))
        return st;
    fr_hw_value vp = fr_hw_peak_flops(v100, NULL), hp = fr_hw_peak_flops(h100, NULL);
    if (!vp.present || !hp.present)
        return fr_err_set(err, FR_E_INVALID, "plan article: v100 or h100-sxm has no peak FLOP/s");
    c.v_peak = fr_vars_add(&vs, "v100_peak_flops", "V100 peak (FP16 tensor)", FR_UNIT_FLOP_S,
                           fr_rng(vp.low, vp.value, vp.high), "v100: %s", vp.source);
    if ((st = fr_hw_var(&vs, v100, FR_HW_TDP_W, NULL, "v100_tdp_w", "V100 power (TDP)",
                        FR_UNIT_WATTS, true, &c.v_tdp, err)))
        return st;
    c.g3_mfu = fr_vars_add(&vs, "gpt3_mfu", "GPT-3 MFU", FR_UNIT_FRACTION,
                           fr_rng(0.15, 24.6 / 125.0, 0.25),
                           "Patterson et al. 2021: 24.6 TFLOP/s measured per V100 of 125 peak");
    c.g3_grid = fr_vars_add(&vs, "gpt3_grid_g_per_kwh", "grid intensity for GPT-3",
                            FR_UNIT_G_PER_KWH, fr_exact(429),
                            "Patterson et al. 2021: 0.429 kg CO2e/kWh for the datacenter used");
    c.h_peak = fr_vars_add(&vs, "h100_peak_flops", "H100 SXM peak (BF16 dense)", FR_UNIT_FLOP_S,
                           fr_rng(hp.low, hp.value, hp.high), "h100-sxm: %s", hp.source);
    if ((st = fr_hw_var(&vs, h100, FR_HW_TDP_W, NULL, "h100_tdp_w", "H100 power (TDP)",
                        FR_UNIT_WATTS, true, &c.h_tdp, err)) ||
        (st = fr_hw_var(&vs, h100, FR_HW_PRICE_USD, NULL, "h100_price_usd", "H100 price (catalog)",
                        FR_UNIT_USD, true, &c.h_price, err)))
        return st;
    c.h_mfu = fr_vars_add(&vs, "h100_mfu", "MFU on the 6,000 H100", FR_UNIT_FRACTION,
                          fr_rng(0.3, 0.4, 0.5), "frugal's assumption for a large H100 run");
    c.g35_flops = fr_vars_add(&vs, "gpt35_flops", "compute of a GPT-3.5-class run", FR_UNIT_FLOP,
                              fr_rng(3.15e23, 3.15e23, 3.15e24),
                              "not published; assumed GPT-3's 6 x 175e9 x 300e9, up to 10x more "
                              "tokens");
    c.p_params = fr_vars_add(&vs, "phone_model_params", "on-device model", FR_UNIT_PARAMS,
                             fr_exact(3e9), "a 3B model, typical for phones");
    fr_range bits;
    fr_quant_bits("q4_k_m", &bits);
    c.p_bits = fr_vars_add(&vs, "phone_bits_per_weight", "on-device quantization", FR_UNIT_BITS,
                           bits, "q4_k_m");
    if ((st = fr_hw_var(&vs, phone, FR_HW_MEM_BW, NULL, "phone_mem_bw", "phone memory bandwidth",
                        FR_UNIT_BYTES_S, true, &c.p_bw, err)) ||
        (st = fr_hw_var(&vs, phone, FR_HW_TDP_W, NULL, "phone_soc_w",
                        "phone SoC power while generating", FR_UNIT_WATTS, true, &c.p_w, err)) ||
        (st = fr_hw_var(&vs, phone, FR_HW_BATTERY_WH, NULL, "phone_battery_wh", "phone battery",
                        FR_UNIT_WH, true, &c.p_bat, err)))
        return st;
    c.p_eff = fr_vars_add(&vs, "phone_bw_efficiency", "achieved / peak bandwidth on the phone",
                          FR_UNIT_FRACTION, fr_rng(0.5, 0.7, 0.85),
                          "as for `plan serve`: 50-85%% of peak");

    fr_range y[A_N];
    if ((st = fr_vars_eval(&vs, article_model, &c, y, A_N, err)))
        return st;

    fr_plan *p = fr_plan_new("article", "the article's figures, from first principles");
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "plan: out of memory");
    int s = fr_plan_add_scenario(p, "gpt3", "GPT-3 on 10,000 V100 (Patterson 2021)");
    fr_plan_add_figure(p, s, "flops", "compute", FR_UNIT_FLOP, y[G3_FLOPS], false);
    fr_plan_add_figure(p, s, "days", "wall-clock time", FR_UNIT_DAYS, y[G3_DAYS], true);
    fr_plan_add_figure(p, s, "energy_facility_kwh", "energy at the facility", FR_UNIT_KWH,
                       y[G3_KWH], true);
    fr_plan_add_figure(p, s, "co2_kg", "CO2 at 0.429 kg/kWh", FR_UNIT_KG_CO2, y[G3_KG], false);
    fr_plan_add_figure(p, s, "household_years", "US household-years", FR_UNIT_HOUSEHOLD_YEARS,
                       y[G3_HH_YEARS], false);

    s = fr_plan_add_scenario(p, "gpt35_6000_h100", "GPT-3.5-class run on 6,000 H100");
    fr_plan_add_figure(p, s, "days", "wall-clock time", FR_UNIT_DAYS, y[G35_DAYS], true);
    fr_plan_add_figure(p, s, "power_facility_w", "facility power of 6,000 H100", FR_UNIT_WATTS,
                       y[G35_FAC_W], false);
    fr_plan_add_figure(p, s, "energy_facility_kwh", "energy at the facility", FR_UNIT_KWH,
                       y[G35_KWH], true);
    fr_plan_add_figure(p, s, "household_years", "US household-years", FR_UNIT_HOUSEHOLD_YEARS,
                       y[G35_HH_YEARS], false);
    fr_plan_add_figure(p, s, "claim_over_model", "the claimed 10 GWh is this many times more",
                       FR_UNIT_RATIO, y[G35_SHORT_BY], false);
    fr_plan_add_figure(p, s, "purchase_usd_article", "6,000 x $40,000 (the article's price)",
                       FR_UNIT_USD, y[G35_BUY_ARTICLE], false);
    fr_plan_add_figure(p, s, "purchase_usd_catalog", "6,000 x the catalog's price", FR_UNIT_USD,
                       y[G35_BUY_CATALOG], false);

    s = fr_plan_add_scenario(p, "claim_10gwh", "the claimed 10 GWh of training");
    fr_plan_add_figure(p, s, "energy_facility_kwh", "energy", FR_UNIT_KWH,
                       fr_exact(ARTICLE_TRAIN_KWH), true);
    fr_plan_add_figure(p, s, "household_years", "US household-years (article: ~1,000)",
                       FR_UNIT_HOUSEHOLD_YEARS, y[C10_HH_YEARS], false);
    fr_plan_add_figure(p, s, "days_of_6000_h100", "days of 6,000 H100 at full power", FR_UNIT_DAYS,
                       y[C10_DAYS], true);
    fr_plan_add_figure(p, s, "flops_possible", "compute 6,000 H100 deliver in that time",
                       FR_UNIT_FLOP, y[C10_FLOPS], false);
    fr_plan_add_figure(p, s, "gpt3_multiple", "... in GPT-3 runs", FR_UNIT_RATIO, y[C10_GPT3_MULT],
                       false);

    s = fr_plan_add_scenario(p, "serving_1gwh_day", "serving ChatGPT at 1 GWh a day");
    fr_plan_add_figure(p, s, "household_days", "US household-days per day (article: ~33,000)",
                       FR_UNIT_HOUSEHOLD_DAYS, y[SV_HH_DAYS], false);
    fr_plan_add_figure(p, s, "household_years_per_year", "US household-years per year",
                       FR_UNIT_HOUSEHOLD_YEARS, y[SV_HH_YEARS], false);
    fr_plan_add_figure(p, s, "h100_equivalent", "H100s running around the clock", FR_UNIT_COUNT,
                       y[SV_H100S], false);
    fr_plan_add_figure(p, s, "energy_facility_kwh", "energy in a year", FR_UNIT_KWH,
                       fr_exact(ARTICLE_SERVE_KWH_DAY * 365.0), true);

    s = fr_plan_add_scenario(p, "phone", "a 3B model on a Snapdragon 8 Gen 3 phone");
    fr_plan_add_figure(p, s, "tok_s", "generation speed (bandwidth bound)", FR_UNIT_TOK_S,
                       y[PH_TOK_S], false);
    fr_plan_add_figure(p, s, "j_per_token", "energy per token", FR_UNIT_JOULES, y[PH_J], false);
    fr_plan_add_figure(p, s, "battery_percent_per_1000_tokens", "battery per 1,000 tokens",
                       FR_UNIT_PERCENT, y[PH_PCT], false);
    fr_plan_add_figure(p, s, "tokens_per_charge", "tokens per charge", FR_UNIT_TOKENS,
                       y[PH_PER_CHARGE], false);
    fr_plan_add_figure(p, s, "hours_per_charge", "hours of continuous generation per charge",
                       FR_UNIT_HOURS, y[PH_HOURS], false);
    fr_vars_to_plan(&vs, p);

    char a[48], b[48], d[48], e[48], g[48];
    fr_unit_format(y[G35_FAC_W].central, FR_UNIT_WATTS, a, sizeof a);
    fr_unit_format(y[C10_DAYS].central, FR_UNIT_DAYS, b, sizeof b);
    fr_unit_format(y[G35_DAYS].central, FR_UNIT_DAYS, d, sizeof d);
    fr_unit_format(y[G35_KWH].central, FR_UNIT_KWH, e, sizeof e);
    fr_unit_format(y[G35_KWH].high, FR_UNIT_KWH, g, sizeof g);
    fr_plan_add_note(p,
                     "6,000 H100 draw about %s at the facility, so 10 GWh is %s of them at full "
                     "power; a GPT-3-sized run takes them %s and %s (%s at the most pessimistic "
                     "corner, 10x the compute): the 6,000-GPU and 10 GWh figures cannot describe "
                     "the same run",
                     a, b, d, e, g);
    fr_plan_add_note(p,
                     "in that time 6,000 H100 at 40%% MFU would do %.0fx GPT-3's compute; 10 GWh "
                     "fits a much larger run, or an older and slower fleet",
                     y[C10_GPT3_MULT].central);
    char hy[48], hd[48], price[48], buy[48], n100[48];
    fr_unit_format(y[C10_HH_YEARS].central, FR_UNIT_HOUSEHOLD_YEARS, hy, sizeof hy);
    fr_unit_format(y[SV_HH_DAYS].central, FR_UNIT_HOUSEHOLD_DAYS, hd, sizeof hd);
    fr_unit_format(y[G35_BUY_CATALOG].central / ARTICLE_H100_COUNT, FR_UNIT_USD, price,
                   sizeof price);
    fr_unit_format(y[G35_BUY_CATALOG].central, FR_UNIT_USD, buy, sizeof buy);
    fr_unit_format(y[SV_H100S].central, FR_UNIT_COUNT, n100, sizeof n100);
    fr_plan_add_note(p,
                     "10 GWh / 10,715 kWh = %s in the US (the article rounds to 1,000); "
                     "1 GWh / 29.4 kWh = %s (the article says ~33,000)",
                     hy, hd);
    fr_plan_add_note(p,
                     "$240M is 6,000 x $40,000; at the catalog's central H100 price (%s) it "
                     "is %s",
                     price, buy);
    fr_plan_add_note(p,
                     "1 GWh a day is what %s H100s use running around the clock (with host "
                     "overhead and PUE)",
                     n100);
    return fr_plan_done(p, out, err);
}
