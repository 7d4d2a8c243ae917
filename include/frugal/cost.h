/*
 * frugal/cost.h - the cost model behind `frugal plan`: compute, time, GPUs,
 * energy (at the GPU and at the facility), money, CO2 and household
 * equivalents for training, LoRA/QLoRA fine-tuning, serving and on-device
 * generation; plus the `frugal bench --json` summary that plans can start
 * from instead of modelled hardware.
 *
 * Every figure is a range low/central/high. The central value uses every
 * assumption's central value; low and high are the smallest and largest
 * value of the figure over all corners of the assumption box (every
 * uncertain assumption at its low or its high end). The model is monotone in
 * each assumption, so the corners bound it. Every plan lists the
 * assumptions it used, each with its range and where it comes from.
 *
 * Formulas (symbols: N parameters, D tokens, P peak dense FLOP/s of one
 * device, u model FLOPs utilisation, W device TDP, f average draw as a
 * fraction of TDP, h host overhead, PUE the facility's power usage
 * effectiveness):
 *
 *   training FLOPs         C = 6 N D (Kaplan et al. 2020: forward 2ND,
 *                          backward 4ND); Chinchilla tokens D = 20 N
 *                          (Hoffmann et al. 2022)
 *   LoRA/QLoRA FLOPs       C = k N D_ft with D_ft = tokens x epochs and
 *                          k = 4 (LoRA) or 6 (QLoRA) by default: the frozen
 *                          base still runs forward (2ND) and propagates
 *                          activation gradients backward (2ND), but computes
 *                          no weight gradients (the 2ND saved); the adapters'
 *                          own FLOPs are <1% and ignored. QLoRA, as published
 *                          (Dettmers et al. 2023), trains with gradient
 *                          checkpointing, which recomputes the forward: +2ND.
 *                          Range 4..6 either way. Hu et al. (2021, sec. 4.2)
 *                          report LoRA training GPT-3 25% faster than full
 *                          fine-tuning, consistent with k between 4 and 6.
 *   GPU-hours              H = C / (P u) / 3600
 *   days on G GPUs         H / G / 24;  GPUs for T days: ceil(H / (24 T))
 *   energy at the GPUs     E_gpu = H W f
 *   energy at the facility E_fac = E_gpu h PUE
 *   electricity cost       E_fac x $/kWh; CO2 = E_fac x g/kWh
 *   households             E_fac / 10,715 kWh per year (EIA, US 2020
 *                          average), or / 29.4 kWh per day
 *
 * GPT-3, worked (the defaults reproduce Patterson et al. 2021, Table 4,
 * "Carbon Emissions and Large Neural Network Training", arXiv:2104.10350):
 * C = 6 x 175e9 x 300e9 = 3.15e23 FLOPs; 10,000 V100 at 125 TFLOP/s and
 * u = 0.2: 3.15e23 / (1e4 x 125e12 x 0.2) = 1.26e6 s = 14.6 days (paper:
 * 14.8 days at a measured 24.6 TFLOP/s per GPU, u = 0.197). The paper's
 * 330 W per V100 "including memory, network interface, fans, host CPU" is
 * W f h = 300 W x 1.0 x 1.1, and its datacenter PUE is 1.1: 10,000 x 0.33
 * kW x 14.6 d x 24 h x 1.1 = 1,270 MWh (paper: 1,287 MWh); at 0.429
 * kg/kWh, 545 t CO2e (paper: 552 t). Hence the central defaults f = 1.0,
 * h = 1.1, PUE = 1.1.
 *
 * Serving (modelled from the catalog): decode is memory-bandwidth bound -
 * each step of a batch of B sequences reads all weights once - so a replica
 * of d devices makes B / max(bytes / (d BW e), B 2N / (d P u_p)) tokens/s
 * (e: achieved fraction of peak bandwidth, u_p: prefill MFU); prefill is
 * compute bound at d P u_p / (2N) tokens/s. Replicas = ceil(busy seconds per
 * day x peak factor / 86,400). Devices draw f_busy W while busy and f_idle W
 * otherwise; the facility factors apply as for training.
 */
#ifndef FRUGAL_COST_H
#define FRUGAL_COST_H

#include <frugal/energy.h>
#include <frugal/hardware.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults that `frugal bench` and `frugal serve` share with the plans. */
#define FR_DEFAULT_PRICE_KWH 0.16             /* USD per kWh */
#define FR_DEFAULT_GRID_G_PER_KWH 475.0       /* world average grid intensity, g CO2 / kWh */
#define FR_DEFAULT_BATTERY_WH 15.0            /* a phone battery */
#define FR_DEFAULT_HOUSEHOLD_KWH_YEAR 10715.0 /* US, EIA 2020 */
#define FR_DEFAULT_HOUSEHOLD_KWH_DAY 29.4     /* 10,715 / 365 */
#define FR_DEFAULT_HW_YEARS 4.0               /* hardware amortisation */

/* ---- units and formatting ----------------------------------------------- */

typedef enum fr_unit {
    FR_UNIT_NONE,
    FR_UNIT_RATIO,    /* x */
    FR_UNIT_FRACTION, /* 0..1 */
    FR_UNIT_PERCENT,  /* 0..100 */
    FR_UNIT_PARAMS,
    FR_UNIT_TOKENS,
    FR_UNIT_TOK_S,
    FR_UNIT_FLOP,
    FR_UNIT_FLOP_S,
    FR_UNIT_BITS, /* bits per weight */
    FR_UNIT_BYTES,
    FR_UNIT_BYTES_S,
    FR_UNIT_HOURS,
    FR_UNIT_DEVICE_HOURS,
    FR_UNIT_DAYS,
    FR_UNIT_YEARS,
    FR_UNIT_COUNT, /* devices, users */
    FR_UNIT_WATTS,
    FR_UNIT_JOULES,
    FR_UNIT_WH,
    FR_UNIT_KWH,
    FR_UNIT_USD,
    FR_UNIT_USD_PER_KWH,
    FR_UNIT_USD_PER_HOUR,
    FR_UNIT_KG_CO2,
    FR_UNIT_G_PER_KWH,
    FR_UNIT_KWH_PER_DAY,
    FR_UNIT_HOUSEHOLD_YEARS,
    FR_UNIT_HOUSEHOLD_DAYS,
    FR_UNIT_COUNT_
} fr_unit;

/* Stable unit name for JSON: "kWh", "USD", "kg_CO2", "FLOP", ... */
FR_API const char *fr_unit_name(fr_unit u);
/* Human text with 3 significant digits and a scaled unit: "1.29 GWh",
 * "$240M", "14.6 days", "550 t CO2", "10,000". Always NUL-terminates. */
FR_API void fr_unit_format(double v, fr_unit u, char *out, size_t n);

/* ---- inputs ------------------------------------------------------------- */

/* One assumption: a range and where it came from. All-zero v means "use the
 * default"; origin NULL means "given by the caller" (the CLI passes the
 * flag name, e.g. "--pue"). */
typedef struct fr_param {
    fr_range v;
    const char *origin;
} fr_param;

/* Facility, grid and money assumptions shared by every plan. */
typedef struct fr_cost_env {
    fr_param pue;              /* default 1.06 / 1.10 / 1.58 */
    fr_param host_overhead;    /* default 1.05 / 1.10 / 1.50 */
    fr_param power_frac;       /* training draw / TDP; default 0.75 / 1.0 / 1.0 */
    fr_param price_kwh;        /* default FR_DEFAULT_PRICE_KWH (exact) */
    fr_param grid_g_per_kwh;   /* default FR_DEFAULT_GRID_G_PER_KWH (exact) */
    fr_param hw_years;         /* default 3 / 4 / 5 */
    fr_param hw_price;         /* per device; default: the catalog's range */
    fr_param rent_h;           /* per device-hour; default: the catalog's range */
    double household_kwh_year; /* 0: FR_DEFAULT_HOUSEHOLD_KWH_YEAR */
    double household_kwh_day;  /* 0: FR_DEFAULT_HOUSEHOLD_KWH_DAY */
} fr_cost_env;

typedef struct fr_train_in {
    double params;    /* N > 0 */
    double tokens;    /* D > 0, or 0 with chinchilla */
    bool chinchilla;  /* D = 20 N */
    const fr_hw *gpu; /* borrowed; needs tdp_w and a peak FLOP/s */
    fr_param mfu;     /* default 0.40, range x0.75 .. x1.25 */
    double gpus;      /* exactly one of gpus and days is > 0 */
    double days;
    fr_cost_env env;
} fr_train_in;

typedef struct fr_lora_in {
    double params, tokens; /* N, fine-tuning tokens per epoch */
    double epochs;         /* default 3 */
    bool qlora;
    const fr_hw *gpu;      /* a GPU, or a CPU entry (kind "cpu") */
    double gpus;           /* devices used; default 1 */
    fr_param mfu;          /* default LoRA 0.30, QLoRA 0.22 (dequantising the 4-bit
                              base costs throughput); range x0.75 .. x1.25 */
    fr_param flops_factor; /* k in k N D; default LoRA 4/4/6, QLoRA 4/6/6 */
    fr_param scratch_mfu;  /* for the from-scratch comparison; default 0.40 */
    double scratch_tokens; /* default 20 N (Chinchilla) */
    fr_cost_env env;
} fr_lora_in;

/* What `frugal bench --json` writes and plans read (schema "frugal-bench-1").
 * The bench document is one JSON object; these fields are read from it and
 * every other field is ignored, so the bench may add per-test detail:
 *
 *   {
 *     "schema": "frugal-bench-1",
 *     "model": {"params": 8.03e9, "quant": "q4_k_m", "name": "llama-3.1-8b"},
 *     "machine": {"hardware_id": "x86-core", "threads": 16},      // id optional
 *     "meter": {"source": "estimate", "label": "estimate: ...",
 *               "idle_w": 12.5},                                  // idle_w optional
 *     "prefill_tok_s": 95.2,                                      // > 0
 *     "decode_tok_s": 11.4,                                       // > 0
 *     "j_per_token_prefill": {"low": 0.5, "central": 0.9, "high": 1.5},
 *     "j_per_token_decode":  {"low": 4.0, "central": 7.0, "high": 12.0}
 *   }
 *
 * meter.source is one of "nvml", "rapl", "battery", "estimate". J per token
 * is the gross energy the meter counted during the test divided by the
 * tokens of that test (for real counters low == central == high, or the
 * spread over repetitions); idle_w is the idle baseline when one was
 * measured. hardware_id names a catalog entry for the machine (for its
 * price); an unknown id is kept as text. fr_bench_summary_json writes
 * exactly these fields so that the bench can start its document from it. */
typedef struct fr_bench_summary {
    double params;
    char quant[32];
    char model_name[128];
    char hardware_id[64];
    double threads; /* 0 when absent */
    char meter_source[16];
    char meter_label[256];
    double idle_w; /* < 0 when absent */
    double prefill_tok_s, decode_tok_s;
    fr_range j_per_token_prefill, j_per_token_decode;
} fr_bench_summary;

/* Parses a bench document (text[0..len)); origin names it in messages. */
FR_API fr_status fr_bench_summary_parse(const char *text, size_t len, const char *origin,
                                        fr_bench_summary *out, fr_err *err);
/* The summary as a JSON object (malloc'd, caller frees); NULL on OOM or when
 * a field is invalid (the same checks as the parser). */
FR_API char *fr_bench_summary_json(const fr_bench_summary *s);

typedef struct fr_serve_in {
    double params;
    const char *quant;             /* "q4_k_m", "q8_0", "f16", ... (fr_quant_bits) */
    double users, queries;         /* queries per user per day */
    double in_tokens, out_tokens;  /* per query */
    const fr_hw *device;           /* modelled: a GPU or CPU entry; NULL with bench */
    const fr_bench_summary *bench; /* measured: from `frugal bench --json` */
    double batch;                  /* sequences decoded together per replica;
                                      0: 8 on a GPU, 1 on a CPU */
    fr_param bw_eff;               /* achieved / peak memory bandwidth; 0.5 / 0.7 / 0.85 */
    fr_param prefill_mfu;          /* 0.25 / 0.4 / 0.6 */
    fr_param peak_factor;          /* busiest hour / average hour; 2 / 3 / 4 */
    fr_param mem_overhead;         /* memory / weights (KV cache, runtime); 1.1 / 1.2 / 1.5 */
    fr_param busy_frac;            /* draw / TDP while serving; 0.6 / 0.8 / 1.0 */
    fr_param idle_frac;            /* draw / TDP while idle; 0.1 / 0.2 / 0.3 */
    /* training the same model, for "the day serving overtakes training" */
    const fr_hw *train_gpu; /* required */
    double train_tokens;    /* default 20 N */
    fr_param train_mfu;     /* default 0.40 */
    fr_cost_env env;
} fr_serve_in;

typedef struct fr_device_in {
    fr_param j_per_token; /* J per generated token, or from bench */
    const fr_bench_summary *bench;
    double battery_wh; /* default FR_DEFAULT_BATTERY_WH */
    double tokens;     /* tokens in the task; default 1,000 */
    double tok_s;      /* generation speed; 0: from bench, or unknown */
} fr_device_in;

/* Bits per weight of a GGUF quantization name (case-insensitive), as a
 * range for mixtures such as q4_k_m whose size depends on the model.
 * false when the name is unknown. */
FR_API bool fr_quant_bits(const char *quant, fr_range *bits);

/* ---- per-token economics (for `frugal bench` and `frugal serve`) --------- */

/* What one token costs, from a measured J/token range. Zero fields take the
 * defaults above. Hardware amortisation is added to $/Mtok only when
 * hw_price > 0 and tok_s > 0: the machine's price spread over hw_years of
 * uninterrupted generation at tok_s, i.e. the cheapest it can be per token
 * (a machine that idles costs more per token). */
typedef struct fr_token_cost_in {
    fr_range j_per_token;  /* 0 < low <= central <= high */
    double tok_s;          /* generation speed; 0: no amortisation */
    double price_kwh;      /* 0: FR_DEFAULT_PRICE_KWH */
    double grid_g_per_kwh; /* 0: FR_DEFAULT_GRID_G_PER_KWH */
    double battery_wh;     /* 0: FR_DEFAULT_BATTERY_WH */
    double hw_price;       /* USD; 0: no amortisation */
    double hw_years;       /* 0: FR_DEFAULT_HW_YEARS */
} fr_token_cost_in;

typedef struct fr_token_costs {
    fr_range wh_per_1k;           /* Wh per 1,000 tokens */
    fr_range usd_per_mtok_energy; /* electricity per million tokens */
    fr_range usd_per_mtok;        /* electricity + amortised hardware per million tokens */
    fr_range g_co2_per_1k;        /* grams CO2 per 1,000 tokens */
    fr_range battery_pct_per_1k;  /* % of the battery per 1,000 tokens */
    double usd_hw_per_mtok;       /* the amortisation part (0 when not asked for) */
} fr_token_costs;

/* FR_E_INVALID for a bad range or a negative / non-finite field. */
FR_API fr_status fr_token_costs_compute(const fr_token_cost_in *in, fr_token_costs *out,
                                        fr_err *err);

/* ---- results ------------------------------------------------------------ */

typedef struct fr_figure {
    const char *key;   /* stable JSON key, e.g. "energy_facility_kwh" */
    const char *label; /* "energy at the facility" */
    fr_unit unit;
    fr_range v;
    bool chart; /* drawn by fr_plan_svg */
} fr_figure;

typedef struct fr_assumption {
    const char *key;
    const char *label;
    fr_unit unit;
    fr_range v;
    const char *source; /* "--mfu", "default (Patterson et al. 2021 ...)", catalog source */
} fr_assumption;

typedef struct fr_plan fr_plan;

FR_API fr_status fr_plan_train(const fr_train_in *in, fr_plan **out, fr_err *err);
FR_API fr_status fr_plan_lora(const fr_lora_in *in, fr_plan **out, fr_err *err);
FR_API fr_status fr_plan_serve(const fr_serve_in *in, fr_plan **out, fr_err *err);
FR_API fr_status fr_plan_device(const fr_device_in *in, fr_plan **out, fr_err *err);
/* The article's figures from first principles, with notes on where they do
 * not fit together. Needs h100-sxm, v100 and phone-sd8g3 in the catalog. */
FR_API fr_status fr_plan_article(const fr_catalog *cat, const fr_cost_env *env, fr_plan **out,
                                 fr_err *err);
FR_API void fr_plan_free(fr_plan *p);

/* All borrowed from the plan. */
FR_API const char *fr_plan_kind(const fr_plan *p); /* "train", "lora", ... */
FR_API const char *fr_plan_title(const fr_plan *p);
FR_API size_t fr_plan_scenario_count(const fr_plan *p);
FR_API const char *fr_plan_scenario_key(const fr_plan *p, size_t s);   /* "train" */
FR_API const char *fr_plan_scenario_label(const fr_plan *p, size_t s); /* "train from scratch" */
FR_API size_t fr_plan_figure_count(const fr_plan *p, size_t s);
FR_API const fr_figure *fr_plan_figure(const fr_plan *p, size_t s, size_t i);
/* NULL when the scenario or key is absent. */
FR_API const fr_figure *fr_plan_find(const fr_plan *p, const char *scenario, const char *key);
FR_API size_t fr_plan_assumption_count(const fr_plan *p);
FR_API const fr_assumption *fr_plan_assumption(const fr_plan *p, size_t i);
FR_API size_t fr_plan_note_count(const fr_plan *p);
FR_API const char *fr_plan_note(const fr_plan *p, size_t i);

/* The charted figures as an SVG document (malloc'd, caller frees): one panel
 * per figure key, one bar per scenario on a log scale, the bar ending at the
 * central value and a whisker spanning low..high. */
FR_API fr_status fr_plan_svg(const fr_plan *p, char **out, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
