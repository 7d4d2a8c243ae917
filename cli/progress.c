/*
 * progress.c - the progress bar every long command shows on stderr.
 *
 * On a terminal the bar is redrawn in place at most ten times a second; when
 * stderr is a file or pipe (CI logs) it prints a plain line every 10% or ten
 * seconds instead, so logs stay readable. The ETA is remaining work divided
 * by the average rate since start (stable, unlike an instantaneous rate).
 */
#include "cli.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cli_progress {
    char label[64];
    char unit[8];
    char note[128];
    uint64_t total, done;
    double t0, last_draw;
    int last_decile;
    bool tty, off, bytes;
};

cli_progress *cli_progress_start(const char *label, uint64_t total, const char *unit)
{
    cli_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->bytes = unit && strcmp(unit, "B") == 0;
    p->total = total;
    p->t0 = fr_now_s();
    p->last_draw = 0;
    p->last_decile = -1;
    p->tty = isatty(STDERR_FILENO);
    const char *env = getenv("FRUGAL_PROGRESS");
    p->off = env && strcmp(env, "0") == 0;
    return p;
}

static void cli_fmt_amount(const cli_progress *p, uint64_t n, char *out, size_t sz)
{
    if (p->bytes)
        cli_human_bytes(n, out, sz);
    else
        snprintf(out, sz, "%llu%s%s", (unsigned long long)n, p->unit[0] ? " " : "", p->unit);
}

static void cli_progress_draw(cli_progress *p, bool final)
{
    double now = fr_now_s();
    double el = now - p->t0;
    double frac = p->total ? (double)p->done / (double)p->total : 0;
    if (frac > 1)
        frac = 1;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = (rate > 0 && p->total >= p->done) ? (double)(p->total - p->done) / rate : -1;
    char d[32], t[32], r[40], e[16], els[16];
    cli_fmt_amount(p, p->done, d, sizeof d);
    cli_fmt_amount(p, p->total, t, sizeof t);
    if (p->bytes) {
        char rb[32];
        cli_human_bytes((uint64_t)rate, rb, sizeof rb);
        snprintf(r, sizeof r, "%s/s", rb);
    } else {
        snprintf(r, sizeof r, "%.1f %s/s", rate, p->unit[0] ? p->unit : "it");
    }
    cli_human_duration(eta, e, sizeof e);
    cli_human_duration(el, els, sizeof els);
    if (p->tty) {
        char bar[31];
        int filled = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %s/%s %s %s %s%s%s", p->label, bar, frac * 100, d,
                t, r, final ? "in" : "ETA", final ? els : e, p->note[0] ? "  " : "", p->note);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %3.0f%% %s/%s %s %s %s%s%s\n", p->label, frac * 100, d, t, r,
                final ? "in" : "ETA", final ? els : e, p->note[0] ? "  " : "", p->note);
    }
    fflush(stderr);
    p->last_draw = now;
}

void cli_progress_update(cli_progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    if (p->off)
        return;
    double now = fr_now_s();
    if (p->tty) {
        if (now - p->last_draw >= 0.1)
            cli_progress_draw(p, false);
        return;
    }
    int decile = p->total ? (int)(10.0 * (double)done / (double)p->total) : 0;
    if (decile > p->last_decile || now - p->last_draw >= 10.0) {
        p->last_decile = decile;
        cli_progress_draw(p, false);
    }
}

void cli_progress_note(cli_progress *p, const char *note)
{
    if (p)
        snprintf(p->note, sizeof p->note, "%s", note ? note : "");
}

void cli_progress_finish(cli_progress *p, bool ok)
{
    if (!p)
        return;
    if (ok)
        p->done = p->total;
    if (!p->off)
        cli_progress_draw(p, true);
    free(p);
}
