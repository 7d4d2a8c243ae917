/*
 * cli.c - error printing and the table-driven option parser (see cli.h).
 *
 * Numbers go through strtol/strtod with full-string and range checks
 * (atoi/atof silently accept "12abc" and overflow).
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("frugal: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("frugal: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_fail(const fr_err *err)
{
    cli_error("%s", err->msg[0] ? err->msg : fr_status_str(err->code));
    return err->code == FR_E_INVALID ? FR_EXIT_USAGE : FR_EXIT_RUNTIME;
}

static const cli_opt *cli_find(const cli_opt *opts, const char *arg, size_t len)
{
    for (const cli_opt *o = opts; o && o->kind != CLI_END; o++) {
        if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
            return o;
        if (o->alias && strlen(o->alias) == len && strncmp(o->alias, arg, len) == 0)
            return o;
    }
    return NULL;
}

static bool cli_choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

static int cli_set(const cli_opt *o, const char *v)
{
    char *end = NULL;
    switch (o->kind) {
    case CLI_STR:
        *(const char **)o->dst = v;
        return 0;
    case CLI_STRS: {
        cli_strs *s = o->dst;
        if (s->n >= CLI_STRS_MAX) {
            cli_error("%s: given more than %d times", o->name, CLI_STRS_MAX);
            return FR_EXIT_USAGE;
        }
        s->v[s->n++] = v;
        return 0;
    }
    case CLI_CHOICE:
        if (!cli_choice_ok(o->choices, v)) {
            cli_error("%s: '%s' is not one of %s", o->name, v, o->choices);
            return FR_EXIT_USAGE;
        }
        *(const char **)o->dst = v;
        return 0;
    case CLI_INT: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            cli_error("%s: '%s' is not an integer", o->name, v);
            return FR_EXIT_USAGE;
        }
        if ((o->min != 0 || o->max != 0) && (x < o->min || x > o->max)) {
            cli_error("%s: %ld is out of range [%.0f, %.0f]", o->name, x, o->min, o->max);
            return FR_EXIT_USAGE;
        }
        *(long *)o->dst = x;
        return 0;
    }
    case CLI_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x)) {
            cli_error("%s: '%s' is not a number", o->name, v);
            return FR_EXIT_USAGE;
        }
        if ((o->min != 0 || o->max != 0) && (x < o->min || x > o->max)) {
            cli_error("%s: %g is out of range [%g, %g]", o->name, x, o->min, o->max);
            return FR_EXIT_USAGE;
        }
        *(double *)o->dst = x;
        return 0;
    }
    case CLI_FLAG:
    case CLI_END:
        break;
    }
    return FR_EXIT_USAGE;
}

void cli_print_help(const cli_spec *spec)
{
    printf("usage: %s\n", spec->usage);
    if (spec->summary)
        printf("\n%s\n", spec->summary);
    printf("\noptions:\n");
    for (const cli_opt *o = spec->opts; o && o->kind != CLI_END; o++) {
        char lhs[96];
        const char *meta = o->meta ? o->meta : (o->kind == CLI_FLAG ? NULL : "X");
        if (o->kind == CLI_CHOICE && !o->meta)
            meta = o->choices;
        snprintf(lhs, sizeof lhs, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "",
                 o->name, meta ? " " : "", meta ? meta : "");
        printf("  %-28s %s\n", lhs, o->help ? o->help : "");
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

int cli_parse(int argc, char **argv, const cli_spec *spec, const char **pos, int *npos)
{
    *npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            cli_print_help(spec);
            return -1;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
            const char *eq = strchr(a, '=');
            size_t len = (eq && a[1] == '-') ? (size_t)(eq - a) : strlen(a);
            const cli_opt *o = cli_find(spec->opts, a, len);
            if (!o) {
                cli_error("%s: unknown option '%.*s' (try '%s --help')", argv[0], (int)len, a,
                          argv[0]);
                return FR_EXIT_USAGE;
            }
            if (o->kind == CLI_FLAG) {
                if (eq && a[1] == '-') {
                    cli_error("%s takes no value", o->name);
                    return FR_EXIT_USAGE;
                }
                *(bool *)o->dst = true;
                continue;
            }
            const char *v;
            if (eq && a[1] == '-') {
                v = eq + 1;
            } else {
                if (i + 1 >= argc) {
                    cli_error("%s needs a value (%s)", o->name, o->meta ? o->meta : "see --help");
                    return FR_EXIT_USAGE;
                }
                v = argv[++i];
            }
            int rc = cli_set(o, v);
            if (rc)
                return rc;
            continue;
        }
        if (*npos >= 64 || (spec->max_pos >= 0 && *npos >= spec->max_pos)) {
            cli_error("%s: unexpected argument '%s' (try '%s --help')", argv[0], a, argv[0]);
            return FR_EXIT_USAGE;
        }
        pos[(*npos)++] = a;
    }
    if (*npos < spec->min_pos) {
        cli_error("%s: missing argument\nusage: %s", argv[0], spec->usage);
        return FR_EXIT_USAGE;
    }
    return 0;
}

void cli_human_bytes(uint64_t n, char *out, size_t out_size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, out_size, "%llu B", (unsigned long long)n);
    else
        snprintf(out, out_size, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void cli_human_duration(double s, char *out, size_t out_size)
{
    if (!(s >= 0) || s > 359999)
        snprintf(out, out_size, "--");
    else if (s >= 3600)
        snprintf(out, out_size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(out, out_size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, out_size, "%.0fs", s);
}
