/*
 * rapl.c - CPU package and DRAM energy from Linux powercap (RAPL).
 *
 * /sys/class/powercap holds one entry per RAPL zone: intel-rapl:N for each
 * CPU package (its "name" file reads package-N; AMD Zen CPUs appear under
 * the same driver and names), intel-rapl:N:M for its subzones (core,
 * uncore, dram). We count the package zones and the dram subzones: core and
 * uncore are parts of the package, and a top-level "psys" zone (some
 * laptops) covers the whole platform and would count the package twice.
 * intel-rapl-mmio:* duplicates the MSR zones and is ignored.
 *
 * energy_uj is a counter in microjoules that wraps to 0 after
 * max_energy_range_uj. Between two reads we add now - last, or
 * (max - last) + now when now < last (one wrap). The hardware counter is a
 * 32-bit count of energy units and max_energy_range_uj is its largest
 * value, so the exact correction would add one more unit (~15-61 uJ); we
 * leave it out, as other RAPL tools do.
 *
 * Since Linux 5.10 (CVE-2020-8694, "PLATYPUS") energy_uj is readable only by
 * root; the skip reason says how to grant read access.
 */
#include "energy/meter.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAPL_DOMAINS_MAX 64

typedef struct rapl_domain {
    char zone[64];   /* "intel-rapl:0" */
    char name[64];   /* "package-0", "dram" */
    char path[1200]; /* .../energy_uj */
    uint64_t max_uj; /* max_energy_range_uj */
    uint64_t last_uj;
    uint64_t acc_uj; /* counted since open */
} rapl_domain;

struct fr_rapl {
    const fr_sysio *io;
    rapl_domain d[RAPL_DOMAINS_MAX];
    int n;
    char label[512];
};

static int zone_depth(const char *name)
{
    /* "intel-rapl:0" -> 1, "intel-rapl:0:2" -> 2, anything else -> 0 */
    static const char prefix[] = "intel-rapl:";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *p = name + sizeof prefix - 1;
    int depth = 0;
    for (;;) {
        if (*p < '0' || *p > '9')
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
        depth++;
        if (*p == '\0')
            return depth;
        if (*p != ':')
            return 0;
        p++;
    }
}

static int cmp_domain(const void *a, const void *b)
{
    return strcmp(((const rapl_domain *)a)->zone, ((const rapl_domain *)b)->zone);
}

static void access_advice(char *why, size_t why_n, const char *path)
{
    fr_fmt(why, why_n,
           "RAPL: %s is readable only by root (Linux 5.10+ restricts it since "
           "CVE-2020-8694). Run as root, or grant read access: until reboot with "
           "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj`, permanently with a "
           "udev rule such as ACTION==\"add\", SUBSYSTEM==\"powercap\", "
           "RUN+=\"/bin/chmod o+r /sys%%p/energy_uj\" in "
           "/etc/udev/rules.d/70-rapl.rules (setcap cap_dac_read_search would also work but "
           "lets the binary read every file, so it is not advised)",
           path);
}

fr_status fr_rapl_open(const fr_sysio *io, fr_rapl **out, char *why, size_t why_n, fr_err *err)
{
    *out = NULL;
    char dir[1100];
    fr_fmt(dir, sizeof dir, "%s/sys/class/powercap", io->root);
    DIR *dh = opendir(dir);
    if (!dh) {
        fr_fmt(why, why_n,
               "RAPL: %s: %s (no powercap driver: not Linux on an Intel/AMD CPU, or a VM or "
               "container that hides it)",
               dir, strerror(errno));
        return FR_OK;
    }
    fr_rapl *r = calloc(1, sizeof *r);
    if (!r) {
        closedir(dh);
        return fr_err_set(err, FR_E_NOMEM, "RAPL: out of memory");
    }
    r->io = io;
    struct dirent *e;
    bool any_package = false;
    while ((e = readdir(dh)) != NULL) {
        int depth = zone_depth(e->d_name);
        if (depth != 1 && depth != 2)
            continue;
        if (strlen(e->d_name) >= sizeof r->d[0].zone)
            continue;
        char p[1200], name[64];
        if (!fr_fmt(p, sizeof p, "%s/%s/name", dir, e->d_name) ||
            fr_sysio_read(io, p, name, sizeof name) != 0)
            continue;
        bool want = depth == 1 ? strncmp(name, "package", 7) == 0 : strcmp(name, "dram") == 0;
        if (!want || r->n >= RAPL_DOMAINS_MAX)
            continue;
        rapl_domain *d = &r->d[r->n++];
        fr_fmt(d->zone, sizeof d->zone, "%s", e->d_name);
        fr_fmt(d->name, sizeof d->name, "%s", name);
        if (!fr_fmt(d->path, sizeof d->path, "%s/%s/energy_uj", dir, e->d_name)) {
            r->n--;
            continue;
        }
        any_package |= depth == 1;
    }
    closedir(dh);
    if (!any_package) {
        fr_fmt(why, why_n, "RAPL: no package zone (intel-rapl:N named package-N) in %s", dir);
        goto skip;
    }
    qsort(r->d, (size_t)r->n, sizeof r->d[0], cmp_domain);
    for (int i = 0; i < r->n; i++) {
        rapl_domain *d = &r->d[i];
        char p[1200];
        fr_fmt(p, sizeof p, "%s/%s/max_energy_range_uj", dir, d->zone);
        int rc = fr_sysio_read_u64(io, p, &d->max_uj);
        if (rc == 0 && d->max_uj == 0)
            rc = EINVAL;
        if (rc) {
            fr_fmt(why, why_n, "RAPL: %s: %s", p,
                   rc == EINVAL ? "not a positive number" : strerror(rc));
            goto skip;
        }
        rc = fr_sysio_read_u64(io, d->path, &d->last_uj);
        if (rc == EACCES || rc == EPERM) {
            access_advice(why, why_n, d->path);
            goto skip;
        }
        if (rc == 0 && d->last_uj > d->max_uj)
            rc = ERANGE;
        if (rc) {
            fr_fmt(why, why_n, "RAPL: %s: %s", d->path,
                   rc == EINVAL   ? "not a number"
                   : rc == ERANGE ? "above max_energy_range_uj"
                                  : strerror(rc));
            goto skip;
        }
    }
    size_t off = (size_t)snprintf(r->label, sizeof r->label, "rapl:");
    for (int i = 0; i < r->n && off < sizeof r->label; i++)
        off += (size_t)snprintf(r->label + off, sizeof r->label - off, "%s %s", i ? " +" : "",
                                r->d[i].name);
    for (int i = 0; i < r->n && off < sizeof r->label; i++)
        off += (size_t)snprintf(r->label + off, sizeof r->label - off, "%s%s%s", i ? ", " : " (",
                                r->d[i].zone, i == r->n - 1 ? ")" : "");
    fr_fmt(why, why_n, "RAPL: %d zone%s (%s)", r->n, r->n == 1 ? "" : "s", r->label + 6);
    *out = r;
    return FR_OK;
skip:
    free(r);
    return FR_OK;
}

fr_status fr_rapl_read(fr_rapl *r, double *joules, fr_err *err)
{
    uint64_t now[RAPL_DOMAINS_MAX];
    for (int i = 0; i < r->n; i++) {
        rapl_domain *d = &r->d[i];
        int rc = fr_sysio_read_u64(r->io, d->path, &now[i]);
        if (rc == 0 && now[i] > d->max_uj)
            rc = ERANGE;
        if (rc)
            return fr_err_set(err, FR_E_IO, "RAPL: reading %s: %s", d->path,
                              rc == EINVAL   ? "not a number"
                              : rc == ERANGE ? "above max_energy_range_uj"
                                             : strerror(rc));
    }
    /* Commit only after every zone was read, so a failed read changes nothing. */
    uint64_t total = 0;
    for (int i = 0; i < r->n; i++) {
        rapl_domain *d = &r->d[i];
        uint64_t delta =
            now[i] >= d->last_uj ? now[i] - d->last_uj : (d->max_uj - d->last_uj) + now[i];
        d->acc_uj += delta;
        d->last_uj = now[i];
        total += d->acc_uj;
    }
    *joules = (double)total * 1e-6;
    return FR_OK;
}

const char *fr_rapl_label(const fr_rapl *r)
{
    return r->label;
}

void fr_rapl_free(fr_rapl *r)
{
    free(r);
}
