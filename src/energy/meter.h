/*
 * meter.h - internals shared by the meter sources (rapl.c, battery.c,
 * nvml.c) and meter.c, plus the hooks tests use to inject failures and
 * control time.
 *
 * Each source has the same shape: _open probes and either returns a handle
 * (available) or NULL with a human reason in `why` (skipped); an error
 * status is reserved for out-of-memory. _read returns the energy counted
 * since _open, in joules, correcting counter wrap-around.
 */
#ifndef FR_ENERGY_METER_H
#define FR_ENERGY_METER_H

#include <frugal/energy.h>

#include <stddef.h>
#include <stdint.h>

/* Test hooks. Any NULL member uses the real system call. */
typedef struct fr_meter_hooks {
    /* Returns a read-only fd for path, or -1 with errno set. */
    int (*open_file)(const char *path, void *ud);
    double (*now_s)(void *ud);           /* monotonic seconds */
    double (*cpu_s)(void *ud);           /* process CPU seconds */
    void (*sleep_s)(double s, void *ud); /* sleep (tests: change the fake files) */
    void *ud;
} fr_meter_hooks;

fr_status fr_meter_create_hooked(const fr_meter_config *cfg, const fr_meter_hooks *hooks,
                                 fr_meter **out, fr_err *err);

/* Where the sources read: root + "/sys/class/...", through the hooks. */
typedef struct fr_sysio {
    char root[1024]; /* "" for the real /sys */
    fr_meter_hooks h;
} fr_sysio;

/* Reads a small sysfs file (at most n-1 bytes; trailing newline removed)
 * into buf. Returns 0 or an errno value (EFBIG when longer than n-1). */
int fr_sysio_read(const fr_sysio *io, const char *path, char *buf, size_t n);
/* Reads a file holding one unsigned decimal number. Returns 0, an errno from
 * the read, or EINVAL when the text is not a number. */
int fr_sysio_read_u64(const fr_sysio *io, const char *path, uint64_t *v);
/* snprintf that reports truncation (false) instead of warning about it:
 * sysfs names are bounded by the checks around each call, and a path that
 * does not fit is skipped rather than opened truncated. */
bool fr_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double fr_sysio_now(const fr_sysio *io);
double fr_sysio_cpu(const fr_sysio *io);
void fr_sysio_sleep(const fr_sysio *io, double s);

/* ---- sources ------------------------------------------------------------ */

typedef struct fr_rapl fr_rapl;
fr_status fr_rapl_open(const fr_sysio *io, fr_rapl **out, char *why, size_t why_n, fr_err *err);
fr_status fr_rapl_read(fr_rapl *r, double *joules, fr_err *err);
const char *fr_rapl_label(const fr_rapl *r);
void fr_rapl_free(fr_rapl *r);

typedef struct fr_battery fr_battery;
fr_status fr_battery_open(const fr_sysio *io, fr_battery **out, char *why, size_t why_n,
                          fr_err *err);
fr_status fr_battery_read(fr_battery *b, double *joules, fr_err *err);
const char *fr_battery_label(const fr_battery *b);
void fr_battery_free(fr_battery *b);

typedef struct fr_nvml fr_nvml;
fr_status fr_nvml_open(const char *library, fr_nvml **out, char *why, size_t why_n, fr_err *err);
fr_status fr_nvml_read(fr_nvml *n, double *joules, fr_err *err);
const char *fr_nvml_label(const fr_nvml *n);
void fr_nvml_free(fr_nvml *n);

#endif
