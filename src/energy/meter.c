/*
 * meter.c - the one meter interface over the sources (see frugal/energy.h).
 *
 * Sources are probed in a fixed order - NVML, RAPL, battery, estimate -
 * and the first that can be read is kept; the others are closed again but
 * their probe results stay, so a caller can show why, say, RAPL was skipped.
 * The estimate is last on purpose: a real counter, even a coarse one, beats
 * a guess, and the estimate is always labelled as such.
 *
 * Rejected: summing NVML and RAPL into one "machine" figure. A GPU run also
 * burns CPU power, but adding two counters with different scopes makes the
 * label lie about what was measured; a caller that wants both creates two
 * meters with different source masks.
 */
#include "energy/meter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fr_meter {
    fr_sysio io; /* the sources keep a pointer to it: the meter is never moved */
    fr_meter_source src;
    fr_rapl *rapl;
    fr_battery *bat;
    fr_nvml *nvml;
    fr_range wpc; /* estimate: watts per busy core */
    char label[600];
    fr_meter_probe probes[4];
    size_t nprobes;
    double t0, cpu0;
    bool has_idle;
    double idle_w;
};

void fr_meter_config_init(fr_meter_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sources = FR_METER_ALL;
}

fr_status fr_meter_config_cpu(fr_meter_config *cfg, const fr_catalog *cat, const char *id,
                              fr_err *err)
{
    if (!id)
        id = "x86-core";
    const fr_hw *h = fr_catalog_find(cat, id);
    if (!h)
        return fr_catalog_unknown(cat, id, err);
    const fr_hw_value *w = &h->f[FR_HW_TDP_W], *c = &h->f[FR_HW_CORES];
    if (!w->present || !(w->value > 0))
        return fr_err_set(err, FR_E_INVALID, "hardware '%s' has no tdp_w for the CPU estimate", id);
    double cores = 1;
    if (c->present) {
        if (!(c->value >= 1))
            return fr_err_set(err, FR_E_INVALID, "hardware '%s': cores must be >= 1", id);
        cores = c->value;
    } else if (!h->kind || strcmp(h->kind, "cpu-core") != 0) {
        return fr_err_set(err, FR_E_INVALID,
                          "hardware '%s' is not a CPU core and has no \"cores\" field, so its "
                          "watts per core are unknown",
                          id);
    }
    cfg->cpu_watts_per_core.low = w->low / cores;
    cfg->cpu_watts_per_core.central = w->value / cores;
    cfg->cpu_watts_per_core.high = w->high / cores;
    cfg->cpu_watts_origin = h->id;
    return FR_OK;
}

const char *fr_meter_source_name(fr_meter_source s)
{
    switch (s) {
    case FR_METER_NVML: return "nvml";
    case FR_METER_RAPL: return "rapl";
    case FR_METER_BATTERY: return "battery";
    case FR_METER_ESTIMATE: return "estimate";
    case FR_METER_NONE:
    case FR_METER_ALL: break;
    }
    return "none";
}

static fr_meter_probe *add_probe(fr_meter *m, fr_meter_source s)
{
    fr_meter_probe *p = &m->probes[m->nprobes++];
    p->source = s;
    p->available = false;
    p->detail[0] = '\0';
    return p;
}

static bool range_ok(fr_range r)
{
    return isfinite(r.low) && isfinite(r.high) && r.low >= 0 && r.low <= r.central &&
           r.central <= r.high && r.high > 0;
}

fr_status fr_meter_create_hooked(const fr_meter_config *cfg, const fr_meter_hooks *hooks,
                                 fr_meter **out, fr_err *err)
{
    *out = NULL;
    unsigned want = cfg->sources ? cfg->sources : FR_METER_ALL;
    if (want & ~(unsigned)FR_METER_ALL)
        return fr_err_set(err, FR_E_INVALID, "meter: unknown source bits 0x%x", want);
    fr_meter *m = calloc(1, sizeof *m);
    if (!m)
        return fr_err_set(err, FR_E_NOMEM, "meter: out of memory");
    if (hooks)
        m->io.h = *hooks;
    const char *root = cfg->sysfs_root;
    if (!root)
        root = getenv("FRUGAL_SYSFS_ROOT");
    if (root && strlen(root) >= sizeof m->io.root) {
        free(m);
        return fr_err_set(err, FR_E_INVALID, "meter: sysfs root is longer than %zu bytes",
                          sizeof m->io.root - 1);
    }
    fr_fmt(m->io.root, sizeof m->io.root, "%s", root ? root : "");

    fr_status st = FR_OK;
    if (want & FR_METER_NVML) {
        fr_meter_probe *p = add_probe(m, FR_METER_NVML);
        fr_nvml *n = NULL;
        if ((st = fr_nvml_open(cfg->nvml_library, &n, p->detail, sizeof p->detail, err)))
            goto fail;
        p->available = n != NULL;
        if (n && m->src == FR_METER_NONE) {
            m->nvml = n;
            m->src = FR_METER_NVML;
        } else {
            fr_nvml_free(n);
        }
    }
    if (want & FR_METER_RAPL) {
        fr_meter_probe *p = add_probe(m, FR_METER_RAPL);
        fr_rapl *r = NULL;
        if ((st = fr_rapl_open(&m->io, &r, p->detail, sizeof p->detail, err)))
            goto fail;
        p->available = r != NULL;
        if (r && m->src == FR_METER_NONE) {
            m->rapl = r;
            m->src = FR_METER_RAPL;
        } else {
            fr_rapl_free(r);
        }
    }
    if (want & FR_METER_BATTERY) {
        fr_meter_probe *p = add_probe(m, FR_METER_BATTERY);
        fr_battery *b = NULL;
        if ((st = fr_battery_open(&m->io, &b, p->detail, sizeof p->detail, err)))
            goto fail;
        p->available = b != NULL;
        if (b && m->src == FR_METER_NONE) {
            m->bat = b;
            m->src = FR_METER_BATTERY;
        } else {
            fr_battery_free(b);
        }
    }
    if (want & FR_METER_ESTIMATE) {
        fr_meter_probe *p = add_probe(m, FR_METER_ESTIMATE);
        fr_range w = cfg->cpu_watts_per_core;
        if (!range_ok(w)) {
            fr_fmt(p->detail, sizeof p->detail,
                   "estimate: no valid watts-per-core figure was given (need 0 <= low <= "
                   "central <= high, high > 0; frugal takes it from the catalog entry "
                   "x86-core)");
        } else {
            p->available = true;
            fr_fmt(p->detail, sizeof p->detail,
                   "estimate: process CPU time x %.3g/%.3g/%.3g W per busy core (%s)", w.low,
                   w.central, w.high,
                   cfg->cpu_watts_origin ? cfg->cpu_watts_origin : "given by the caller");
            if (m->src == FR_METER_NONE) {
                m->wpc = w;
                m->src = FR_METER_ESTIMATE;
            }
        }
    }
    if (m->src == FR_METER_NONE) {
        char all[4 * 520] = "";
        size_t off = 0;
        for (size_t i = 0; i < m->nprobes && off < sizeof all; i++)
            off += (size_t)snprintf(all + off, sizeof all - off, "%s%s", i ? "; " : "",
                                    m->probes[i].detail);
        st = fr_err_set(err, FR_E_NOTFOUND, "no energy meter available: %s", all);
        goto fail;
    }
    for (size_t i = 0; i < m->nprobes; i++) {
        if (m->probes[i].source == m->src) {
            fr_fmt(m->label, sizeof m->label, "%s",
                   m->src == FR_METER_NVML      ? fr_nvml_label(m->nvml)
                   : m->src == FR_METER_RAPL    ? fr_rapl_label(m->rapl)
                   : m->src == FR_METER_BATTERY ? fr_battery_label(m->bat)
                                                : m->probes[i].detail);
        }
    }
    m->t0 = fr_sysio_now(&m->io);
    m->cpu0 = fr_sysio_cpu(&m->io);
    *out = m;
    return FR_OK;
fail:
    fr_meter_free(m);
    return st;
}

fr_status fr_meter_create(const fr_meter_config *cfg, fr_meter **out, fr_err *err)
{
    return fr_meter_create_hooked(cfg, NULL, out, err);
}

void fr_meter_free(fr_meter *m)
{
    if (!m)
        return;
    fr_nvml_free(m->nvml);
    fr_rapl_free(m->rapl);
    fr_battery_free(m->bat);
    free(m);
}

fr_meter_source fr_meter_source_of(const fr_meter *m)
{
    return m->src;
}

const char *fr_meter_label(const fr_meter *m)
{
    return m->label;
}

size_t fr_meter_probe_count(const fr_meter *m)
{
    return m->nprobes;
}

const fr_meter_probe *fr_meter_probe_at(const fr_meter *m, size_t i)
{
    return i < m->nprobes ? &m->probes[i] : NULL;
}

fr_status fr_meter_read(fr_meter *m, fr_meter_reading *out, fr_err *err)
{
    double j = 0;
    fr_status st = FR_OK;
    double now = fr_sysio_now(&m->io) - m->t0;
    double cpu = fr_sysio_cpu(&m->io) - m->cpu0;
    switch (m->src) {
    case FR_METER_NVML: st = fr_nvml_read(m->nvml, &j, err); break;
    case FR_METER_RAPL: st = fr_rapl_read(m->rapl, &j, err); break;
    case FR_METER_BATTERY: st = fr_battery_read(m->bat, &j, err); break;
    case FR_METER_ESTIMATE: break;
    case FR_METER_NONE:
    case FR_METER_ALL: return fr_err_set(err, FR_E_INTERNAL, "meter: no source");
    }
    if (st)
        return st;
    out->source = m->src;
    out->elapsed_s = now;
    out->cpu_s = cpu;
    if (m->src == FR_METER_ESTIMATE) {
        out->joules.low = cpu * m->wpc.low;
        out->joules.central = cpu * m->wpc.central;
        out->joules.high = cpu * m->wpc.high;
    } else {
        out->joules.low = out->joules.central = out->joules.high = j;
    }
    return FR_OK;
}

static fr_range range_sub(fr_range a, fr_range b)
{
    fr_range r = {a.low - b.low, a.central - b.central, a.high - b.high};
    return r;
}

void fr_meter_interval(const fr_meter *m, const fr_meter_reading *a, const fr_meter_reading *b,
                       fr_energy_interval *out)
{
    memset(out, 0, sizeof *out);
    out->source = m->src;
    out->estimate = m->src == FR_METER_ESTIMATE;
    out->seconds = b->elapsed_s - a->elapsed_s;
    out->cpu_seconds = b->cpu_s - a->cpu_s;
    out->gross_j = range_sub(b->joules, a->joules);
    if (out->seconds > 0) {
        out->avg_w.low = out->gross_j.low / out->seconds;
        out->avg_w.central = out->gross_j.central / out->seconds;
        out->avg_w.high = out->gross_j.high / out->seconds;
    }
    if (m->has_idle && !out->estimate) {
        out->has_net = true;
        out->idle_w = m->idle_w;
        double idle_j = m->idle_w * out->seconds;
        out->net_j.low = out->gross_j.low - idle_j;
        out->net_j.central = out->gross_j.central - idle_j;
        out->net_j.high = out->gross_j.high - idle_j;
    }
}

fr_status fr_meter_measure_idle(fr_meter *m, double seconds, double *idle_w, fr_err *err)
{
    if (m->src == FR_METER_ESTIMATE)
        return fr_err_set(err, FR_E_UNSUPPORTED,
                          "idle baseline: the estimate counts only this process's CPU time, so it "
                          "has no idle power to subtract");
    if (!(seconds > 0 && seconds <= 600))
        return fr_err_set(err, FR_E_INVALID,
                          "idle baseline: duration %g s is outside (0, 600] seconds", seconds);
    fr_meter_reading a, b;
    fr_status st = fr_meter_read(m, &a, err);
    if (st)
        return fr_err_prefix(err, "idle baseline");
    fr_sysio_sleep(&m->io, seconds);
    if ((st = fr_meter_read(m, &b, err)))
        return fr_err_prefix(err, "idle baseline");
    double dt = b.elapsed_s - a.elapsed_s;
    if (!(dt > 0))
        return fr_err_set(err, FR_E_INTERNAL, "idle baseline: the clock did not advance");
    double w = (b.joules.central - a.joules.central) / dt;
    if (w < 0)
        return fr_err_set(err, FR_E_IO,
                          "idle baseline: the %s counter went backwards (%.3f J in %.3f s)",
                          fr_meter_source_name(m->src), b.joules.central - a.joules.central, dt);
    m->has_idle = true;
    m->idle_w = w;
    if (idle_w)
        *idle_w = w;
    return FR_OK;
}

void fr_meter_set_idle(fr_meter *m, double watts)
{
    if (!(watts >= 0) || !isfinite(watts))
        return;
    m->has_idle = true;
    m->idle_w = watts;
}
