/* Tests for the energy meters over fake sysfs trees built in a temp dir:
 * RAPL (package + dram zones counted, core/psys/mmio ignored, wrap-around,
 * permission denied with advice, malformed files), the battery (energy_now,
 * charge_now x voltage_now, charging, peripheral, no battery), the CPU-time
 * estimate, the idle baseline, NVML absent, and FRUGAL_SYSFS_ROOT. Expected
 * joules are worked out by hand in the comments, from the sysfs ABI units.
 * Where NVIDIA's library is installed (a GPU machine), NVML is also read for
 * real. */
#include "test.h"

#include "energy/meter.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fake {
    char root[512];
    const char *deny; /* path suffix that fails with EACCES */
    double now, cpu;
    /* on sleep: add `sleep_uj_per_s` x s to the file at sleep_path */
    const char *sleep_path;
    double sleep_uj_per_s;
} fake;

static void put(const fake *f, const char *rel, const char *text)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    /* mkdir -p the parent */
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + strlen(f->root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        exit(1);
    }
    fprintf(fp, "%s\n", text);
    fclose(fp);
}

static void put_u64(const fake *f, const char *rel, unsigned long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%llu", v);
    put(f, rel, t);
}

static unsigned long long get_u64(const fake *f, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->root, rel);
    FILE *fp = fopen(path, "r");
    unsigned long long v = 0;
    if (!fp || fscanf(fp, "%llu", &v) != 1)
        exit(1);
    fclose(fp);
    return v;
}

static int hook_open(const char *path, void *ud)
{
    const fake *f = ud;
    size_t n = strlen(path), d = f->deny ? strlen(f->deny) : 0;
    if (d && n >= d && strcmp(path + n - d, f->deny) == 0) {
        errno = EACCES;
        return -1;
    }
    return open(path, O_RDONLY | O_CLOEXEC);
}
static double hook_now(void *ud)
{
    return ((fake *)ud)->now;
}
static double hook_cpu(void *ud)
{
    return ((fake *)ud)->cpu;
}
static void hook_sleep(double s, void *ud)
{
    fake *f = ud;
    f->now += s;
    if (f->sleep_path)
        put_u64(f, f->sleep_path,
                get_u64(f, f->sleep_path) + (unsigned long long)(f->sleep_uj_per_s * s));
}

static fr_meter_hooks hooks_for(fake *f)
{
    fr_meter_hooks h = {hook_open, hook_now, hook_cpu, hook_sleep, f};
    return h;
}

static void new_root(fake *f)
{
    memset(f, 0, sizeof *f);
    fr_test_tmpdir(f->root, sizeof f->root);
}

static void rm_root(const fake *f)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->root);
}

static fr_meter *make(fake *f, unsigned sources, fr_err *err, fr_status *st)
{
    fr_meter_config cfg;
    fr_meter_config_init(&cfg);
    cfg.sources = sources;
    cfg.sysfs_root = f->root;
    cfg.nvml_library = "libfrugal-test-no-such-nvml.so.1";
    cfg.cpu_watts_per_core = (fr_range){5, 9, 15};
    cfg.cpu_watts_origin = "test";
    fr_meter_hooks h = hooks_for(f);
    fr_meter *m = NULL;
    *st = fr_meter_create_hooked(&cfg, &h, &m, err);
    return m;
}

static const fr_meter_probe *probe_of(const fr_meter *m, fr_meter_source s)
{
    for (size_t i = 0; i < fr_meter_probe_count(m); i++)
        if (fr_meter_probe_at(m, i)->source == s)
            return fr_meter_probe_at(m, i);
    return NULL;
}

#define PC "sys/class/powercap/"

static void rapl_tree(fake *f)
{
    put(f, PC "intel-rapl:0/name", "package-0");
    put_u64(f, PC "intel-rapl:0/energy_uj", 1000);
    put_u64(f, PC "intel-rapl:0/max_energy_range_uj", 262143328850ULL);
    put(f, PC "intel-rapl:0:0/name", "core"); /* inside the package: not counted */
    put_u64(f, PC "intel-rapl:0:0/energy_uj", 7);
    put_u64(f, PC "intel-rapl:0:0/max_energy_range_uj", 262143328850ULL);
    put(f, PC "intel-rapl:0:2/name", "dram");
    put_u64(f, PC "intel-rapl:0:2/energy_uj", 500);
    put_u64(f, PC "intel-rapl:0:2/max_energy_range_uj", 65532610987ULL);
    put(f, PC "intel-rapl:1/name", "package-1");
    put_u64(f, PC "intel-rapl:1/energy_uj", 2000);
    put_u64(f, PC "intel-rapl:1/max_energy_range_uj", 262143328850ULL);
    put(f, PC "intel-rapl:2/name", "psys"); /* whole platform: would double count */
    put_u64(f, PC "intel-rapl:2/energy_uj", 3);
    put_u64(f, PC "intel-rapl:2/max_energy_range_uj", 262143328850ULL);
    put(f, PC "intel-rapl-mmio:0/name", "package-0"); /* duplicate of the MSR zone */
    put_u64(f, PC "intel-rapl-mmio:0/energy_uj", 9);
    put_u64(f, PC "intel-rapl-mmio:0/max_energy_range_uj", 262143328850ULL);
}

static void test_rapl_normal(void)
{
    fake f;
    new_root(&f);
    rapl_tree(&f);
    fr_err err = {0};
    fr_status st;
    f.now = 100;
    fr_meter *m = make(&f, FR_METER_ALL, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (!m)
        return;
    CHECK(fr_meter_source_of(m) == FR_METER_RAPL);
    CHECK_STR(fr_meter_label(m),
              "rapl: package-0 + dram + package-1 (intel-rapl:0, intel-rapl:0:2, intel-rapl:1)");
    CHECK(probe_of(m, FR_METER_NVML) && !probe_of(m, FR_METER_NVML)->available);
    CHECK(strstr(probe_of(m, FR_METER_NVML)->detail, "cannot load") != NULL);
    CHECK(probe_of(m, FR_METER_ESTIMATE)->available); /* probed, not chosen */
    CHECK(strstr(probe_of(m, FR_METER_BATTERY)->detail, "power_supply") != NULL);

    fr_meter_reading a, b;
    f.now = 102;
    CHECK(fr_meter_read(m, &a, &err) == FR_OK);
    CHECK(a.source == FR_METER_RAPL);
    CHECK_NEAR(a.joules.central, 0, 0);
    CHECK_NEAR(a.elapsed_s, 2, 0);
    /* +1.5 J package-0, +0.25 J dram, +1 J package-1; core/psys/mmio move too
     * but must not count. */
    put_u64(&f, PC "intel-rapl:0/energy_uj", 1501000);
    put_u64(&f, PC "intel-rapl:0:2/energy_uj", 250500);
    put_u64(&f, PC "intel-rapl:1/energy_uj", 1002000);
    put_u64(&f, PC "intel-rapl:0:0/energy_uj", 999999);
    put_u64(&f, PC "intel-rapl:2/energy_uj", 999999);
    put_u64(&f, PC "intel-rapl-mmio:0/energy_uj", 999999);
    f.now = 107;
    CHECK(fr_meter_read(m, &b, &err) == FR_OK);
    CHECK_NEAR(b.joules.low, 2.75, 1e-12);
    CHECK(b.joules.low == b.joules.central && b.joules.central == b.joules.high);
    fr_energy_interval e;
    fr_meter_interval(m, &a, &b, &e);
    CHECK(!e.estimate && !e.has_net);
    CHECK_NEAR(e.seconds, 5, 0);
    CHECK_NEAR(e.gross_j.central, 2.75, 1e-12);
    CHECK_NEAR(e.avg_w.central, 0.55, 1e-12);
    /* No change: no energy. */
    CHECK(fr_meter_read(m, &b, &err) == FR_OK);
    CHECK_NEAR(b.joules.central, 2.75, 1e-12);
    /* A bad read fails and changes nothing. */
    put(&f, PC "intel-rapl:1/energy_uj", "garbage");
    CHECK(fr_meter_read(m, &b, &err) == FR_E_IO);
    CHECK(strstr(err.msg, "intel-rapl:1/energy_uj") && strstr(err.msg, "not a number"));
    put_u64(&f, PC "intel-rapl:1/energy_uj", 1002000);
    put_u64(&f, PC "intel-rapl:0/energy_uj", 2501000); /* +1 J */
    CHECK(fr_meter_read(m, &b, &err) == FR_OK);
    CHECK_NEAR(b.joules.central, 3.75, 1e-12);
    fr_meter_free(m);
    rm_root(&f);
}

static void test_rapl_wrap(void)
{
    fake f;
    new_root(&f);
    put(&f, PC "intel-rapl:0/name", "package-0");
    put_u64(&f, PC "intel-rapl:0/max_energy_range_uj", 1000000);
    put_u64(&f, PC "intel-rapl:0/energy_uj", 999000);
    fr_err err = {0};
    fr_status st;
    fr_meter *m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (!m)
        return;
    fr_meter_reading r;
    /* 999000 -> wraps at 1000000 -> 500: (1000000 - 999000) + 500 = 1500 uJ */
    put_u64(&f, PC "intel-rapl:0/energy_uj", 500);
    CHECK(fr_meter_read(m, &r, &err) == FR_OK);
    CHECK_NEAR(r.joules.central, 1500e-6, 1e-15);
    /* then normally: 500 -> 400500 = +400000 uJ, total 401500 uJ */
    put_u64(&f, PC "intel-rapl:0/energy_uj", 400500);
    CHECK(fr_meter_read(m, &r, &err) == FR_OK);
    CHECK_NEAR(r.joules.central, 0.4015, 1e-15);
    /* wrap to exactly 0: 400500 -> 0 = 599500 uJ more, total 1001000 uJ */
    put_u64(&f, PC "intel-rapl:0/energy_uj", 0);
    CHECK(fr_meter_read(m, &r, &err) == FR_OK);
    CHECK_NEAR(r.joules.central, 1.001, 1e-15);
    /* a value above the range is an error, not a negative delta */
    put_u64(&f, PC "intel-rapl:0/energy_uj", 1000001);
    CHECK(fr_meter_read(m, &r, &err) == FR_E_IO);
    CHECK(strstr(err.msg, "above max_energy_range_uj") != NULL);
    fr_meter_free(m);
    rm_root(&f);
}

static void test_rapl_denied(void)
{
    fake f;
    new_root(&f);
    rapl_tree(&f);
    fr_err err = {0};
    fr_status st;
    /* Injected EACCES: what a non-root user sees on Linux 5.10+. */
    f.deny = "intel-rapl:0/energy_uj";
    fr_meter *m = make(&f, FR_METER_RAPL | FR_METER_ESTIMATE, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (m) {
        CHECK(fr_meter_source_of(m) == FR_METER_ESTIMATE);
        const fr_meter_probe *p = probe_of(m, FR_METER_RAPL);
        CHECK(p && !p->available);
        CHECK(p && strstr(p->detail, "readable only by root"));
        CHECK(p && strstr(p->detail, "chmod o+r"));
        CHECK(p && strstr(p->detail, "udev"));
        CHECK(p && strstr(p->detail, "intel-rapl:0/energy_uj"));
        fr_meter_free(m);
    }
    /* RAPL only: creation fails and says why. */
    m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && m == NULL);
    CHECK(strstr(err.msg, "no energy meter available") && strstr(err.msg, "readable only by root"));

    /* The real permission bits, where they mean something (root reads any
     * file regardless of mode, so this sub-case cannot be made to fail as
     * root; the injected EACCES above covers the same code path). */
    f.deny = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/" PC "intel-rapl:0/energy_uj", f.root);
    chmod(path, 0000);
    if (geteuid() == 0) {
        fprintf(stderr, "note: running as root, so the chmod 000 sub-case is skipped "
                        "(root bypasses file modes); the injected EACCES case ran instead\n");
    } else {
        m = make(&f, FR_METER_RAPL, &err, &st);
        CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "readable only by root"));
    }
    chmod(path, 0644);
    rm_root(&f);
}

static void test_rapl_malformed(void)
{
    fake f;
    new_root(&f);
    fr_err err = {0};
    fr_status st;
    fr_meter *m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "powercap"));
    fr_meter_free(m);
    put(&f, PC "intel-rapl:0/name", "psys");
    m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "no package zone"));
    put(&f, PC "intel-rapl:0/name", "package-0");
    put(&f, PC "intel-rapl:0/energy_uj", "12");
    put(&f, PC "intel-rapl:0/max_energy_range_uj", "0");
    m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "not a positive number"));
    put(&f, PC "intel-rapl:0/max_energy_range_uj", "100");
    put(&f, PC "intel-rapl:0/energy_uj", "-5");
    m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "not a number"));
    put(&f, PC "intel-rapl:0/energy_uj", "99999999999999999999999");
    m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "not a number"));
    char big[200];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = 0;
    put(&f, PC "intel-rapl:0/energy_uj", big);
    m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK(st == FR_E_NOTFOUND && m == NULL);
    rm_root(&f);
}

#define PS "sys/class/power_supply/"

static void test_battery(void)
{
    fake f;
    new_root(&f);
    fr_err err = {0};
    fr_status st;
    /* AC adapter only: no battery. */
    put(&f, PS "AC/type", "Mains");
    put(&f, PS "AC/online", "1");
    fr_meter *m = make(&f, FR_METER_BATTERY, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "no battery"));
    /* A mouse battery does not count either. */
    put(&f, PS "hidpp_battery_0/type", "Battery");
    put(&f, PS "hidpp_battery_0/scope", "Device");
    put(&f, PS "hidpp_battery_0/status", "Discharging");
    put_u64(&f, PS "hidpp_battery_0/energy_now", 1000);
    m = make(&f, FR_METER_BATTERY, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "no battery"));
    /* Charging: refused, with the remedy. */
    put(&f, PS "BAT0/type", "Battery");
    put(&f, PS "BAT0/status", "Charging");
    put_u64(&f, PS "BAT0/energy_now", 50000000);
    m = make(&f, FR_METER_BATTERY, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "BAT0 is 'Charging'") &&
          strstr(err.msg, "unplug"));
    /* Discharging, energy_now in uWh: 50 Wh -> 49.99 Wh = 10000 uWh = 36 J. */
    put(&f, PS "BAT0/status", "Discharging");
    m = make(&f, FR_METER_ALL, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (!m)
        return;
    CHECK(fr_meter_source_of(m) == FR_METER_BATTERY);
    CHECK_STR(fr_meter_label(m), "battery (whole system): BAT0 (energy_now)");
    fr_meter_reading r;
    put_u64(&f, PS "BAT0/energy_now", 49990000);
    CHECK(fr_meter_read(m, &r, &err) == FR_OK);
    CHECK_NEAR(r.joules.central, 36.0, 1e-9);
    /* Plugged in mid-run: the next read fails instead of lying. */
    put(&f, PS "BAT0/status", "Charging");
    put_u64(&f, PS "BAT0/energy_now", 49980000);
    CHECK(fr_meter_read(m, &r, &err) == FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "BAT0 is now 'Charging'") != NULL);
    fr_meter_free(m);

    /* charge_now (uAh) x voltage_now (uV): 4.000 Ah at 12.0 V -> 3.990 Ah at
     * 11.8 V: 0.010 Ah x 11.9 V (mean) = 0.119 Wh = 428.4 J. */
    fake g;
    new_root(&g);
    put(&g, PS "BAT1/type", "Battery");
    put(&g, PS "BAT1/status", "Discharging");
    put_u64(&g, PS "BAT1/charge_now", 4000000);
    put_u64(&g, PS "BAT1/voltage_now", 12000000);
    m = make(&g, FR_METER_BATTERY, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (m) {
        CHECK_STR(fr_meter_label(m), "battery (whole system): BAT1 (charge_now x voltage_now)");
        put_u64(&g, PS "BAT1/charge_now", 3990000);
        put_u64(&g, PS "BAT1/voltage_now", 11800000);
        CHECK(fr_meter_read(m, &r, &err) == FR_OK);
        CHECK_NEAR(r.joules.central, 428.4, 1e-9);
        /* and on: 3.990 -> 3.980 Ah, 11.8 -> 11.6 V: 0.010 x 11.7 = 0.117 Wh = 421.2 J */
        put_u64(&g, PS "BAT1/charge_now", 3980000);
        put_u64(&g, PS "BAT1/voltage_now", 11600000);
        CHECK(fr_meter_read(m, &r, &err) == FR_OK);
        CHECK_NEAR(r.joules.central, 428.4 + 421.2, 1e-9);
        fr_meter_free(m);
    }
    /* Android: charge_counter (uAh) when there is no charge_now; same
     * numbers as above: 4.000 -> 3.990 Ah, 12.0 -> 11.8 V = 428.4 J. */
    fake h;
    new_root(&h);
    put(&h, PS "battery/type", "Battery");
    put(&h, PS "battery/status", "Discharging");
    put_u64(&h, PS "battery/charge_counter", 4000000);
    put_u64(&h, PS "battery/voltage_now", 12000000);
    m = make(&h, FR_METER_BATTERY, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (m) {
        CHECK_STR(fr_meter_label(m),
                  "battery (whole system): battery (charge_counter x voltage_now)");
        put_u64(&h, PS "battery/charge_counter", 3990000);
        put_u64(&h, PS "battery/voltage_now", 11800000);
        CHECK(fr_meter_read(m, &r, &err) == FR_OK);
        CHECK_NEAR(r.joules.central, 428.4, 1e-9);
        fr_meter_free(m);
    }
    rm_root(&h);
    /* Neither energy_now nor charge_now: refused with the reason. */
    put(&g, PS "BAT1/charge_now", "n/a");
    m = make(&g, FR_METER_BATTERY, &err, &st);
    CHECK(st == FR_E_NOTFOUND && strstr(err.msg, "neither a readable energy_now"));
    rm_root(&g);
    rm_root(&f);
}

static void test_estimate(void)
{
    fake f;
    new_root(&f);
    fr_err err = {0};
    fr_status st;
    f.cpu = 1.0;
    f.now = 50;
    fr_meter *m = make(&f, FR_METER_ALL, &err, &st); /* empty tree: falls to the estimate */
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (!m)
        return;
    CHECK(fr_meter_source_of(m) == FR_METER_ESTIMATE);
    CHECK(strncmp(fr_meter_label(m), "estimate:", 9) == 0);
    CHECK(strstr(fr_meter_label(m), "5/9/15 W per busy core (test)") != NULL);
    CHECK_STR(fr_meter_source_name(fr_meter_source_of(m)), "estimate");
    fr_meter_reading a, b;
    f.cpu = 3.0; /* 2 CPU-seconds since creation */
    f.now = 51;
    CHECK(fr_meter_read(m, &a, &err) == FR_OK);
    CHECK_NEAR(a.joules.low, 10, 1e-12);
    CHECK_NEAR(a.joules.central, 18, 1e-12);
    CHECK_NEAR(a.joules.high, 30, 1e-12);
    f.cpu = 7.0; /* 4 more CPU-seconds in 2 wall seconds (2 busy cores) */
    f.now = 53;
    CHECK(fr_meter_read(m, &b, &err) == FR_OK);
    fr_energy_interval e;
    fr_meter_interval(m, &a, &b, &e);
    CHECK(e.estimate && !e.has_net);
    CHECK_NEAR(e.cpu_seconds, 4, 0);
    CHECK_NEAR(e.gross_j.low, 20, 1e-12);
    CHECK_NEAR(e.gross_j.central, 36, 1e-12);
    CHECK_NEAR(e.gross_j.high, 60, 1e-12);
    CHECK_NEAR(e.avg_w.central, 18, 1e-12);
    double w = -1;
    CHECK(fr_meter_measure_idle(m, 1.0, &w, &err) == FR_E_UNSUPPORTED && w == -1);
    fr_meter_set_idle(m, 3.0);
    fr_meter_interval(m, &a, &b, &e);
    CHECK(!e.has_net); /* never net for an estimate */
    fr_meter_free(m);

    /* No watts-per-core figure: no estimate, and nothing else here. */
    fr_meter_config cfg;
    fr_meter_config_init(&cfg);
    cfg.sysfs_root = f.root;
    cfg.nvml_library = "libfrugal-test-no-such-nvml.so.1";
    m = NULL;
    CHECK(fr_meter_create(&cfg, &m, &err) == FR_E_NOTFOUND && m == NULL);
    CHECK(strstr(err.msg, "NVML") && strstr(err.msg, "RAPL") && strstr(err.msg, "battery") &&
          strstr(err.msg, "watts-per-core"));
    cfg.cpu_watts_per_core = (fr_range){9, 5, 15}; /* not ordered */
    CHECK(fr_meter_create(&cfg, &m, &err) == FR_E_NOTFOUND);
    cfg.sources = 0x100;
    CHECK(fr_meter_create(&cfg, &m, &err) == FR_E_INVALID);
    rm_root(&f);
}

static void test_idle_baseline(void)
{
    fake f;
    new_root(&f);
    put(&f, PC "intel-rapl:0/name", "package-0");
    put_u64(&f, PC "intel-rapl:0/max_energy_range_uj", 262143328850ULL);
    put_u64(&f, PC "intel-rapl:0/energy_uj", 0);
    f.sleep_path = PC "intel-rapl:0/energy_uj";
    f.sleep_uj_per_s = 10e6; /* the machine idles at 10 W */
    fr_err err = {0};
    fr_status st;
    fr_meter *m = make(&f, FR_METER_RAPL, &err, &st);
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (!m)
        return;
    double w = 0;
    CHECK(fr_meter_measure_idle(m, 2.0, &w, &err) == FR_OK);
    CHECK_NEAR(w, 10.0, 1e-12);
    CHECK(fr_meter_measure_idle(m, 0, &w, &err) == FR_E_INVALID);
    CHECK(fr_meter_measure_idle(m, 601, &w, &err) == FR_E_INVALID);
    /* work: 5 s, 100 J gross -> 100 - 10 W x 5 s = 50 J net */
    fr_meter_reading a, b;
    CHECK(fr_meter_read(m, &a, &err) == FR_OK);
    put_u64(&f, PC "intel-rapl:0/energy_uj", get_u64(&f, PC "intel-rapl:0/energy_uj") + 100000000);
    f.now += 5;
    CHECK(fr_meter_read(m, &b, &err) == FR_OK);
    fr_energy_interval e;
    fr_meter_interval(m, &a, &b, &e);
    CHECK(e.has_net);
    CHECK_NEAR(e.idle_w, 10, 1e-12);
    CHECK_NEAR(e.gross_j.central, 100, 1e-9);
    CHECK_NEAR(e.net_j.central, 50, 1e-9);
    CHECK_NEAR(e.avg_w.central, 20, 1e-9);
    /* A counter that moves backwards while idle is reported, not used. */
    f.sleep_uj_per_s = 0;
    f.sleep_path = NULL;
    fr_meter_set_idle(m, 4.0);
    fr_meter_interval(m, &a, &b, &e);
    CHECK_NEAR(e.net_j.central, 80, 1e-9);
    fr_meter_free(m);
    rm_root(&f);
}

static void test_env_root(void)
{
    fake f;
    new_root(&f);
    put(&f, PC "intel-rapl:0/name", "package-0");
    put_u64(&f, PC "intel-rapl:0/max_energy_range_uj", 1000);
    put_u64(&f, PC "intel-rapl:0/energy_uj", 10);
    setenv("FRUGAL_SYSFS_ROOT", f.root, 1);
    fr_meter_config cfg;
    fr_meter_config_init(&cfg);
    cfg.nvml_library = "libfrugal-test-no-such-nvml.so.1";
    fr_meter *m = NULL;
    fr_err err = {0};
    CHECK_MSG(fr_meter_create(&cfg, &m, &err) == FR_OK, "%s", err.msg);
    CHECK(m && fr_meter_source_of(m) == FR_METER_RAPL);
    fr_meter_free(m);
    /* An explicit root wins over the variable. */
    cfg.sysfs_root = "/nonexistent-frugal-root";
    CHECK(fr_meter_create(&cfg, &m, &err) == FR_E_NOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent-frugal-root/sys/class/powercap") != NULL);
    unsetenv("FRUGAL_SYSFS_ROOT");
    rm_root(&f);
}

/* The estimate's watts come from the catalog: x86-core as is, a CPU entry
 * divided by its cores. */
static void test_config_from_catalog(void)
{
    static const char text[] =
        "{\"schema\":\"frugal-hardware-1\",\"devices\":{"
        "\"x86-core\":{\"name\":\"core\",\"kind\":\"cpu-core\",\"tdp_w\":{\"value\":9,"
        "\"low\":5,\"high\":15,\"source\":\"t\"}},"
        "\"box\":{\"name\":\"box\",\"kind\":\"cpu\",\"cores\":{\"value\":32},\"tdp_w\":"
        "{\"value\":280}},"
        "\"gpu\":{\"name\":\"gpu\",\"kind\":\"gpu\",\"tdp_w\":{\"value\":700}}}}";
    fr_catalog *cat = NULL;
    fr_err err = {0};
    CHECK(fr_catalog_create(&cat, &err) == FR_OK);
    CHECK_MSG(fr_catalog_merge_json(cat, text, strlen(text), "t", &err) == FR_OK, "%s", err.msg);
    fr_meter_config cfg;
    fr_meter_config_init(&cfg);
    CHECK(fr_meter_config_cpu(&cfg, cat, NULL, &err) == FR_OK);
    CHECK(cfg.cpu_watts_per_core.low == 5 && cfg.cpu_watts_per_core.central == 9 &&
          cfg.cpu_watts_per_core.high == 15);
    CHECK_STR(cfg.cpu_watts_origin, "x86-core");
    CHECK(fr_meter_config_cpu(&cfg, cat, "box", &err) == FR_OK);
    CHECK_NEAR(cfg.cpu_watts_per_core.central, 280.0 / 32, 0);
    CHECK(fr_meter_config_cpu(&cfg, cat, "gpu", &err) == FR_E_INVALID);
    CHECK(fr_meter_config_cpu(&cfg, cat, "nope", &err) == FR_E_NOTFOUND);
    fr_catalog_free(cat);
}

/* On a machine with the NVIDIA driver: read the real counters. */
static void test_nvml_real(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "note: libnvidia-ml.so.1 not installed; real NVML sub-case skipped\n");
        return;
    }
    dlclose(lib);
    fr_meter_config cfg;
    fr_meter_config_init(&cfg);
    cfg.sources = FR_METER_NVML;
    fr_meter *m = NULL;
    fr_err err = {0};
    fr_status st = fr_meter_create(&cfg, &m, &err);
    if (st == FR_E_NOTFOUND) {
        fprintf(stderr, "note: NVML present but not usable here: %s\n", err.msg);
        return;
    }
    CHECK_MSG(st == FR_OK && m, "%s", err.msg);
    if (!m)
        return;
    CHECK(strncmp(fr_meter_label(m), "nvml: ", 6) == 0);
    double idle = 0;
    CHECK_MSG(fr_meter_measure_idle(m, 1.0, &idle, &err) == FR_OK, "%s", err.msg);
    fr_meter_reading a, b;
    CHECK(fr_meter_read(m, &a, &err) == FR_OK);
    usleep(300000);
    CHECK(fr_meter_read(m, &b, &err) == FR_OK);
    fr_energy_interval e;
    fr_meter_interval(m, &a, &b, &e);
    /* A datacenter GPU idles at tens of watts and tops out below ~1.5 kW. */
    CHECK_MSG(idle > 1 && idle < 1500, "idle %.1f W", idle);
    CHECK(e.gross_j.central >= 0 && e.has_net);
    fprintf(stderr, "NVML: %s; idle %.1f W; 0.3 s read %.3f J (%.1f W)\n", fr_meter_label(m), idle,
            e.gross_j.central, e.avg_w.central);
    fr_meter_free(m);
}

int main(void)
{
    test_rapl_normal();
    test_rapl_wrap();
    test_rapl_denied();
    test_rapl_malformed();
    test_battery();
    test_estimate();
    test_idle_baseline();
    test_env_root();
    test_config_from_catalog();
    test_nvml_real();
    TEST_END();
}
