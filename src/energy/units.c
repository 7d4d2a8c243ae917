/*
 * units.c - unit names for JSON and human formatting of plan figures.
 *
 * Three significant digits everywhere: the inputs (MFU, PUE, prices) are
 * rarely known better, so more digits would be false precision. Large
 * quantities are scaled (kWh -> MWh -> GWh, $ -> $M) rather than printed
 * in exponent form, except FLOPs, whose scale readers know as 1e23.
 */
#include <frugal/cost.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const unit_names[FR_UNIT_COUNT_] = {
    [FR_UNIT_NONE] = "",
    [FR_UNIT_RATIO] = "ratio",
    [FR_UNIT_FRACTION] = "fraction",
    [FR_UNIT_PERCENT] = "percent",
    [FR_UNIT_PARAMS] = "params",
    [FR_UNIT_TOKENS] = "tokens",
    [FR_UNIT_TOK_S] = "tokens/s",
    [FR_UNIT_FLOP] = "FLOP",
    [FR_UNIT_FLOP_S] = "FLOP/s",
    [FR_UNIT_BITS] = "bits",
    [FR_UNIT_BYTES] = "bytes",
    [FR_UNIT_BYTES_S] = "bytes/s",
    [FR_UNIT_HOURS] = "hours",
    [FR_UNIT_DEVICE_HOURS] = "device_hours",
    [FR_UNIT_DAYS] = "days",
    [FR_UNIT_YEARS] = "years",
    [FR_UNIT_COUNT] = "count",
    [FR_UNIT_WATTS] = "W",
    [FR_UNIT_JOULES] = "J",
    [FR_UNIT_WH] = "Wh",
    [FR_UNIT_KWH] = "kWh",
    [FR_UNIT_USD] = "USD",
    [FR_UNIT_USD_PER_KWH] = "USD/kWh",
    [FR_UNIT_USD_PER_HOUR] = "USD/hour",
    [FR_UNIT_KG_CO2] = "kg_CO2",
    [FR_UNIT_G_PER_KWH] = "g_CO2/kWh",
    [FR_UNIT_KWH_PER_DAY] = "kWh/day",
    [FR_UNIT_HOUSEHOLD_YEARS] = "household_years",
    [FR_UNIT_HOUSEHOLD_DAYS] = "household_days",
};

const char *fr_unit_name(fr_unit u)
{
    return (unsigned)u < FR_UNIT_COUNT_ && unit_names[u] ? unit_names[u] : "";
}

/* 3 significant digits, no exponent for 1e-3 <= |v| < 1000. */
static void sig3(double v, char *out, size_t n)
{
    double a = fabs(v);
    if (a == 0)
        snprintf(out, n, "0");
    else if (a >= 100)
        snprintf(out, n, "%.0f", v);
    else if (a >= 1e-3)
        snprintf(out, n, "%.3g", v);
    else
        snprintf(out, n, "%.2e", v);
}

/* Scales v by 1000s with the given prefixes (prefix[0] for 1), then sig3. */
static void scaled(double v, const char *const *prefix, int np, const char *unit, char *out,
                   size_t n)
{
    int i = 0;
    double a = fabs(v);
    while (i + 1 < np && a >= 999.5) {
        a /= 1000;
        v /= 1000;
        i++;
    }
    char num[48];
    sig3(v, num, sizeof num);
    snprintf(out, n, "%s%s%s%s", num, (prefix[i][0] || unit[0]) ? " " : "", prefix[i], unit);
}

/* Integer with thousands separators: 10000 -> "10,000" (truncated to fit). */
static void grouped(double v, char *out, size_t n)
{
    double r = floor(fabs(v) + 0.5);
    char digits[320];
    int len = snprintf(digits, sizeof digits, "%.0f", r);
    size_t k = 0;
    if (n == 0)
        return;
    if (v < 0 && r > 0 && k + 1 < n)
        out[k++] = '-';
    for (int i = 0; i < len && k + 1 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) {
            out[k++] = ',';
            if (k + 1 >= n)
                break;
        }
        out[k++] = digits[i];
    }
    out[k] = '\0';
}

/* v scaled by 1000s with word suffixes glued to the number: "300B", "3.5M". */
static void words(double v, const char *unit, char *out, size_t n)
{
    static const char *const p[] = {"", "k", "M", "B", "T"};
    int i = 0;
    if (fabs(v) < 9999.5 && fabs(v) >= 1000 && v == floor(v)) {
        char g[96];
        grouped(v, g, sizeof g);
        snprintf(out, n, "%s%s%s", g, unit[0] ? " " : "", unit);
        return;
    }
    while (i < 4 && fabs(v) >= 999.5) {
        v /= 1000;
        i++;
    }
    char num[48];
    sig3(v, num, sizeof num);
    snprintf(out, n, "%s%s%s%s", num, p[i], unit[0] ? " " : "", unit);
}

/* Rounds to 3 significant digits (for grouped printing of inexact values). */
static double round3(double v)
{
    if (v == 0 || !isfinite(v))
        return v;
    double mag = pow(10.0, floor(log10(fabs(v))) - 2);
    return round(v / mag) * mag;
}

/* Counts: whole numbers grouped ("10,000") below a million, words above
 * ("30.8M"); `inexact` rounds to 3 significant digits first. */
static void count(double v, const char *unit, bool inexact, char *out, size_t n)
{
    double a = fabs(v);
    char num[96];
    if (a >= 999999.5) {
        words(v, unit, out, n);
        return;
    }
    if (a >= 1000)
        grouped(inexact ? round3(v) : v, num, sizeof num);
    else
        sig3(v, num, sizeof num);
    /* "1 device-hour", "2 device-hours" */
    size_t ul = strlen(unit);
    bool one = strcmp(num, "1") == 0 && ul > 1 && unit[ul - 1] == 's';
    snprintf(out, n, "%s%s%.*s", num, ul ? " " : "", (int)(one ? ul - 1 : ul), unit);
}

static void money(double v, const char *suffix, char *out, size_t n)
{
    double a = fabs(v);
    char num[96];
    if (a >= 999999.5)
        words(a, "", num, sizeof num);
    else if (a >= 1000)
        grouped(round3(a), num, sizeof num);
    else
        sig3(a, num, sizeof num);
    snprintf(out, n, "%s$%s%s", v < 0 ? "-" : "", num, suffix);
}

void fr_unit_format(double v, fr_unit u, char *out, size_t n)
{
    static const char *const si[] = {"", "k", "M", "G", "T", "P", "E"};
    if (n == 0)
        return;
    if (!isfinite(v)) {
        snprintf(out, n, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
        return;
    }
    char tmp[96];
    switch (u) {
    case FR_UNIT_NONE:
    case FR_UNIT_FRACTION: count(v, "", true, out, n); return;
    case FR_UNIT_RATIO:
        sig3(v, tmp, sizeof tmp);
        snprintf(out, n, "%sx", tmp);
        return;
    case FR_UNIT_PERCENT:
        sig3(v, tmp, sizeof tmp);
        snprintf(out, n, "%s%%", tmp);
        return;
    case FR_UNIT_PARAMS: words(v, "params", out, n); return;
    case FR_UNIT_TOKENS: words(v, "tokens", out, n); return;
    case FR_UNIT_TOK_S: count(v, "tok/s", true, out, n); return;
    case FR_UNIT_FLOP: snprintf(out, n, "%.3g FLOP", v); return;
    case FR_UNIT_FLOP_S: scaled(v, si, 7, "FLOP/s", out, n); return;
    case FR_UNIT_BITS:
        sig3(v, tmp, sizeof tmp);
        snprintf(out, n, "%s bits", tmp);
        return;
    case FR_UNIT_BYTES: scaled(v, si, 7, "B", out, n); return;
    case FR_UNIT_BYTES_S: scaled(v, si, 7, "B/s", out, n); return;
    case FR_UNIT_HOURS: count(v, "hours", true, out, n); return;
    case FR_UNIT_DEVICE_HOURS: count(v, "device-hours", true, out, n); return;
    case FR_UNIT_DAYS:
        if (fabs(v) < 1) {
            sig3(v * 24, tmp, sizeof tmp);
            snprintf(out, n, "%s hours", tmp);
        } else if (fabs(v) >= 730) {
            sig3(v / 365, tmp, sizeof tmp);
            snprintf(out, n, "%s years", tmp);
        } else {
            sig3(v, tmp, sizeof tmp);
            snprintf(out, n, "%s %s", tmp, strcmp(tmp, "1") == 0 ? "day" : "days");
        }
        return;
    case FR_UNIT_YEARS:
        sig3(v, tmp, sizeof tmp);
        snprintf(out, n, "%s years", tmp);
        return;
    case FR_UNIT_COUNT: count(v, "", false, out, n); return;
    case FR_UNIT_WATTS: scaled(v, si, 7, "W", out, n); return;
    case FR_UNIT_JOULES: scaled(v, si, 7, "J", out, n); return;
    case FR_UNIT_WH: scaled(v, si, 7, "Wh", out, n); return;
    case FR_UNIT_KWH: scaled(v * 1000, si, 7, "Wh", out, n); return;
    case FR_UNIT_KWH_PER_DAY:
        scaled(v * 1000, si, 7, "Wh", tmp, sizeof tmp);
        snprintf(out, n, "%s/day", tmp);
        return;
    case FR_UNIT_USD: money(v, "", out, n); return;
    case FR_UNIT_USD_PER_KWH: money(v, "/kWh", out, n); return;
    case FR_UNIT_USD_PER_HOUR: money(v, "/h", out, n); return;
    case FR_UNIT_KG_CO2:
        if (fabs(v) < 1000)
            scaled(v, si, 1, "kg CO2", out, n);
        else
            scaled(v / 1000, si, 3, "t CO2", out, n);
        return;
    case FR_UNIT_G_PER_KWH:
        sig3(v, tmp, sizeof tmp);
        snprintf(out, n, "%s g/kWh", tmp);
        return;
    case FR_UNIT_HOUSEHOLD_YEARS: count(v, "household-years", true, out, n); return;
    case FR_UNIT_HOUSEHOLD_DAYS: count(v, "household-days", true, out, n); return;
    case FR_UNIT_COUNT_: break;
    }
    sig3(v, out, n);
}
