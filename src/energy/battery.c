/*
 * battery.c - whole-system energy from the battery while it discharges.
 *
 * Linux power_supply (Documentation/ABI/testing/sysfs-class-power): each
 * /sys/class/power_supply/<name> with type "Battery" has a status
 * ("Charging", "Discharging", "Not charging", "Full", "Unknown") and either
 * energy_now in microwatt-hours, or charge_now in microampere-hours together
 * with voltage_now in microvolts. Android phones expose the same class
 * (/sys/class/power_supply/battery) but many report the coulomb counter as
 * charge_counter (uAh) rather than charge_now: it is used the same way when
 * charge_now is absent. Batteries with scope "Device" power a peripheral
 * (mouse, keyboard) and are ignored.
 *
 * Energy drawn between two reads:
 *   energy_now:  (E_last - E_now) uWh x 3.6e-3 J/uWh
 *   charge_now:  (Q_last - Q_now) uAh x (V_last + V_now)/2 uV x 3.6e-9 J/(uAh uV)
 * The second is the trapezoid rule for the integral of V dQ: voltage sags as
 * the battery empties, so Q x V at two instants would overstate the energy.
 *
 * Only a discharging battery measures the machine: on the charger the
 * counters show the charger's work. A battery that stops discharging makes
 * the next read fail rather than return a wrong number. The gauge updates
 * every few seconds to a minute on many laptops, so short intervals read as
 * zero or as a step: this source suits runs of minutes.
 */
#include "energy/meter.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAT_MAX 8

typedef struct bat {
    char name[64];
    char dir[1200];
    bool use_energy; /* energy_now (uWh), else charge x voltage_now */
    const char *charge; /* "charge_now", or Android's "charge_counter" (uAh) */
    uint64_t last_e; /* uWh */
    uint64_t last_q; /* uAh */
    uint64_t last_v; /* uV */
    double acc_j;
} bat;

struct fr_battery {
    const fr_sysio *io;
    bat b[BAT_MAX];
    int n;
    char label[512];
};

static int cmp_bat(const void *a, const void *b)
{
    return strcmp(((const bat *)a)->name, ((const bat *)b)->name);
}

static int read_attr(const fr_sysio *io, const char *dir, const char *attr, char *buf, size_t n)
{
    char p[1300];
    fr_fmt(p, sizeof p, "%s/%s", dir, attr);
    return fr_sysio_read(io, p, buf, n);
}

static int read_num(const fr_sysio *io, const char *dir, const char *attr, uint64_t *v)
{
    char p[1300];
    fr_fmt(p, sizeof p, "%s/%s", dir, attr);
    return fr_sysio_read_u64(io, p, v);
}

/* Reads the counters of one battery; 0 or an errno (EINVAL: malformed). */
static int bat_sample(const fr_sysio *io, const bat *b, uint64_t *e, uint64_t *q, uint64_t *v)
{
    if (b->use_energy)
        return read_num(io, b->dir, "energy_now", e);
    int rc = read_num(io, b->dir, b->charge, q);
    return rc ? rc : read_num(io, b->dir, "voltage_now", v);
}

fr_status fr_battery_open(const fr_sysio *io, fr_battery **out, char *why, size_t why_n,
                          fr_err *err)
{
    *out = NULL;
    char dir[1100];
    fr_fmt(dir, sizeof dir, "%s/sys/class/power_supply", io->root);
    DIR *dh = opendir(dir);
    if (!dh) {
        fr_fmt(why, why_n, "battery: %s: %s (no battery)", dir, strerror(errno));
        return FR_OK;
    }
    fr_battery *r = calloc(1, sizeof *r);
    if (!r) {
        closedir(dh);
        return fr_err_set(err, FR_E_NOMEM, "battery: out of memory");
    }
    r->io = io;
    char not_discharging[256] = "";
    int found = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof r->b[0].name)
            continue;
        char sub[1200], buf[64];
        if (!fr_fmt(sub, sizeof sub, "%s/%s", dir, e->d_name) ||
            read_attr(io, sub, "type", buf, sizeof buf) != 0 || strcmp(buf, "Battery") != 0)
            continue;
        if (read_attr(io, sub, "scope", buf, sizeof buf) == 0 && strcmp(buf, "Device") == 0)
            continue;
        found++;
        if (read_attr(io, sub, "status", buf, sizeof buf) != 0)
            fr_fmt(buf, sizeof buf, "unreadable");
        if (strcmp(buf, "Discharging") != 0) {
            if (!not_discharging[0])
                fr_fmt(not_discharging, sizeof not_discharging, "%s is '%s'", e->d_name, buf);
            continue;
        }
        if (r->n >= BAT_MAX)
            continue;
        bat *b = &r->b[r->n];
        fr_fmt(b->name, sizeof b->name, "%s", e->d_name);
        fr_fmt(b->dir, sizeof b->dir, "%s", sub);
        uint64_t probe;
        b->use_energy = read_num(io, sub, "energy_now", &probe) == 0;
        b->charge = read_num(io, sub, "charge_now", &probe) != 0 &&
                            read_num(io, sub, "charge_counter", &probe) == 0
                        ? "charge_counter"
                        : "charge_now";
        int rc = bat_sample(io, b, &b->last_e, &b->last_q, &b->last_v);
        if (rc) {
            fr_fmt(not_discharging, sizeof not_discharging,
                   "%s has neither a readable energy_now nor charge_now (or charge_counter) + "
                   "voltage_now (%s)",
                   e->d_name, rc == EINVAL ? "not a number" : strerror(rc));
            continue;
        }
        r->n++;
    }
    closedir(dh);
    if (found == 0) {
        fr_fmt(why, why_n, "battery: no battery in %s", dir);
        goto skip;
    }
    if (r->n == 0) {
        fr_fmt(why, why_n,
               "battery: %s; the battery measures the machine only while it discharges "
               "(unplug the charger)",
               not_discharging);
        goto skip;
    }
    qsort(r->b, (size_t)r->n, sizeof r->b[0], cmp_bat);
    size_t off = (size_t)snprintf(r->label, sizeof r->label, "battery (whole system):");
    for (int i = 0; i < r->n && off < sizeof r->label; i++)
        off += (size_t)snprintf(r->label + off, sizeof r->label - off, "%s %s (%s%s)",
                                i ? " +" : "", r->b[i].name,
                                r->b[i].use_energy ? "energy_now" : r->b[i].charge,
                                r->b[i].use_energy ? "" : " x voltage_now");
    fr_fmt(why, why_n, "battery: discharging, %s", r->label + 23);
    *out = r;
    return FR_OK;
skip:
    free(r);
    return FR_OK;
}

fr_status fr_battery_read(fr_battery *r, double *joules, fr_err *err)
{
    uint64_t e[BAT_MAX], q[BAT_MAX], v[BAT_MAX];
    for (int i = 0; i < r->n; i++) {
        bat *b = &r->b[i];
        char status[64];
        int rc = read_attr(r->io, b->dir, "status", status, sizeof status);
        if (rc)
            return fr_err_set(err, FR_E_IO, "battery %s: reading status: %s", b->name,
                              strerror(rc));
        if (strcmp(status, "Discharging") != 0)
            return fr_err_set(err, FR_E_UNSUPPORTED,
                              "battery %s is now '%s': the battery no longer measures the machine "
                              "(keep the charger unplugged during the measurement)",
                              b->name, status);
        rc = bat_sample(r->io, b, &e[i], &q[i], &v[i]);
        if (rc)
            return fr_err_set(err, FR_E_IO, "battery %s: reading %s: %s", b->name,
                              b->use_energy ? "energy_now" : b->charge,
                              rc == EINVAL ? "not a number" : strerror(rc));
    }
    double total = 0;
    for (int i = 0; i < r->n; i++) {
        bat *b = &r->b[i];
        if (b->use_energy) {
            b->acc_j += ((double)b->last_e - (double)e[i]) * 3.6e-3;
            b->last_e = e[i];
        } else {
            double dq = (double)b->last_q - (double)q[i];
            double vavg = ((double)b->last_v + (double)v[i]) * 0.5;
            b->acc_j += dq * vavg * 3.6e-9;
            b->last_q = q[i];
            b->last_v = v[i];
        }
        total += b->acc_j;
    }
    *joules = total;
    return FR_OK;
}

const char *fr_battery_label(const fr_battery *b)
{
    return b->label;
}

void fr_battery_free(fr_battery *b)
{
    free(b);
}
