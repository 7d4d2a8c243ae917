/*
 * frugal/energy.h - energy meters: one interface over NVML (NVIDIA GPUs),
 * RAPL (Intel/AMD CPU package and DRAM, Linux powercap), the battery
 * (Linux power_supply, while discharging) and, when none of those can be
 * read, an estimate from process CPU time.
 *
 * Every reading says which source produced it; a meter that cannot measure
 * never returns a silent zero: fr_meter_create fails with the reasons, and
 * the estimate is labelled as one and carries a low/central/high range.
 *
 * Typical use (what `frugal bench` does around each test):
 *
 *     fr_meter_config cfg;
 *     fr_meter_config_init(&cfg);
 *     fr_meter_config_cpu(&cfg, catalog, "x86-core", &err); // watts for the estimate
 *     fr_meter *m;
 *     if (fr_meter_create(&cfg, &m, &err)) ...;        // err lists every source's reason
 *     fr_meter_measure_idle(m, 2.0, &idle_w, &err);    // optional, real counters only
 *     fr_meter_reading a, b;
 *     fr_meter_read(m, &a, &err);  ...work...  fr_meter_read(m, &b, &err);
 *     fr_energy_interval e;
 *     fr_meter_interval(m, &a, &b, &e);                // gross, net of idle, watts
 *
 * and what `frugal serve` is meant to do: one meter per process, read under
 * a mutex by a timer (every ~10 s, which also keeps RAPL wrap-around
 * detectable) and around each response. The counter covers the whole device,
 * so concurrent responses share it: a response's usage.energy_joules is the
 * energy counted during its lifetime times its share of the tokens
 * generated meanwhile, usage.energy_source is fr_meter_source_name() (and
 * "estimate" must be shown as such), and /metrics exports the running total
 * as frugal_energy_joules_total plus joules per token. Per-token dollars,
 * CO2 and battery share come from fr_token_costs_compute (frugal/cost.h).
 *
 * Counter wrap-around: RAPL counters wrap at max_energy_range_uj (about
 * 262 kJ on many Intel parts, i.e. every ~20-40 minutes at 100-200 W). One
 * wrap between two reads is corrected; more than one cannot be detected, so
 * a long-running caller must read at least every few minutes (serve: a
 * timer; bench: every test is far shorter).
 *
 * Not thread-safe: one meter is used by one thread at a time.
 */
#ifndef FRUGAL_ENERGY_H
#define FRUGAL_ENERGY_H

#include <frugal/base.h>
#include <frugal/hardware.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A figure with its uncertainty: low <= central <= high. Measured values
 * have low == central == high. */
typedef struct fr_range {
    double low, central, high;
} fr_range;

/* Sources, in the order they are probed. Bit values, so a caller can ask
 * for a subset (a CPU-only benchmark leaves out NVML). */
typedef enum fr_meter_source {
    FR_METER_NONE = 0,
    FR_METER_NVML = 1,     /* nvmlDeviceGetTotalEnergyConsumption, all GPUs, mJ */
    FR_METER_RAPL = 2,     /* powercap intel-rapl:N package + :M dram domains, uJ */
    FR_METER_BATTERY = 4,  /* power_supply type Battery, Discharging: whole system */
    FR_METER_ESTIMATE = 8, /* process CPU time x watts per busy core */
    FR_METER_ALL = 15
} fr_meter_source;

typedef struct fr_meter_config {
    unsigned sources;             /* FR_METER_* bits; 0 means FR_METER_ALL */
    const char *sysfs_root;       /* prefix for /sys paths ("" = the real /sys); NULL: read
                                     $FRUGAL_SYSFS_ROOT at creation, "" when unset */
    const char *nvml_library;     /* NULL: "libnvidia-ml.so.1" */
    fr_range cpu_watts_per_core;  /* for the estimate; all zero: estimate unavailable */
    const char *cpu_watts_origin; /* where those watts came from, e.g. "catalog x86-core" */
} fr_meter_config;

/* Zeroes cfg and sets sources = FR_METER_ALL. */
FR_API void fr_meter_config_init(fr_meter_config *cfg);

/* Sets cpu_watts_per_core (and its origin, the entry's id, borrowed from the
 * catalog) from catalog entry `id` (NULL: "x86-core"): its tdp_w range as is
 * for kind "cpu-core", divided by its cores for any entry with a "cores"
 * field. FR_E_NOTFOUND / FR_E_INVALID when the entry or its fields are
 * missing. */
FR_API fr_status fr_meter_config_cpu(fr_meter_config *cfg, const fr_catalog *cat, const char *id,
                                     fr_err *err);

typedef struct fr_meter fr_meter;

/* Probes the requested sources in order and keeps the first that can be
 * read. Fails with FR_E_NOTFOUND when none can, the message giving each
 * source's reason (e.g. how to make RAPL readable). Owned by caller; free
 * with fr_meter_free. The config is copied. */
FR_API fr_status fr_meter_create(const fr_meter_config *cfg, fr_meter **out, fr_err *err);
FR_API void fr_meter_free(fr_meter *m);

FR_API fr_meter_source fr_meter_source_of(const fr_meter *m);
/* "nvml", "rapl", "battery", "estimate" ("none" for FR_METER_NONE). */
FR_API const char *fr_meter_source_name(fr_meter_source s);
/* What is measured, e.g. "rapl: package-0 + dram (intel-rapl:0, intel-rapl:0:2)"
 * or "estimate: process CPU time x 5/9/15 W per busy core (catalog x86-core)".
 * Borrowed. */
FR_API const char *fr_meter_label(const fr_meter *m);

/* Why each probed source was taken or skipped ("RAPL: .../energy_uj is
 * readable only by root; ..."). Sources after the chosen one are probed too
 * (cheaply) so that the report is complete. */
typedef struct fr_meter_probe {
    fr_meter_source source;
    bool available;
    char detail[512];
} fr_meter_probe;
FR_API size_t fr_meter_probe_count(const fr_meter *m);
FR_API const fr_meter_probe *fr_meter_probe_at(const fr_meter *m, size_t i);

/* Cumulative since fr_meter_create. */
typedef struct fr_meter_reading {
    fr_meter_source source;
    double elapsed_s; /* monotonic wall time */
    double cpu_s;     /* CPU time of this process (all threads) */
    fr_range joules;  /* real counters: low == central == high */
} fr_meter_reading;

/* Fails (reading untouched) when a counter can no longer be read, e.g. the
 * battery started charging or a file vanished. */
FR_API fr_status fr_meter_read(fr_meter *m, fr_meter_reading *out, fr_err *err);

typedef struct fr_energy_interval {
    fr_meter_source source;
    bool estimate;      /* source is FR_METER_ESTIMATE */
    double seconds;     /* wall time between the readings */
    double cpu_seconds; /* process CPU time between them */
    fr_range gross_j;   /* energy the source counted */
    fr_range avg_w;     /* gross_j / seconds (0 when seconds is 0) */
    bool has_net;       /* an idle baseline is known and the source is a real counter */
    double idle_w;      /* the baseline used (0 when !has_net) */
    fr_range net_j;     /* gross_j - idle_w x seconds; may be slightly negative when the
                           work is within the idle noise (not clamped: the caller sees it) */
} fr_energy_interval;

/* Energy between readings a (earlier) and b (later) of this meter. */
FR_API void fr_meter_interval(const fr_meter *m, const fr_meter_reading *a,
                              const fr_meter_reading *b, fr_energy_interval *out);

/* Measures idle power for `seconds` (0 < seconds <= 600) by sleeping between
 * two reads, and keeps it as the baseline for fr_meter_interval. The machine
 * should be quiet meanwhile. FR_E_UNSUPPORTED for the estimate (it counts
 * only this process's CPU time, so it has no idle part). */
FR_API fr_status fr_meter_measure_idle(fr_meter *m, double seconds, double *idle_w, fr_err *err);
/* Sets the baseline from an earlier measurement (finite watts >= 0;
 * anything else is ignored). */
FR_API void fr_meter_set_idle(fr_meter *m, double watts);

#ifdef __cplusplus
}
#endif
#endif
