/*
 * progress.c - the progress bar every long command shows on stderr.
 *
 * On a terminal the bar is redrawn in place at most ten times a second and
 * never wider than the terminal (a line that wraps cannot be redrawn in
 * place: each update would start a new line); the width is asked at every
 * redraw, so resizing the window is followed. When stderr is a file or pipe
 * (CI logs) nothing is animated: one line when the work ends, and one every
 * 30 seconds while a long job runs, so a log shows it is alive. The ETA is
 * remaining work divided by the average rate since start (stable, unlike an
 * instantaneous rate). A phase ("extracting text", "writing the index")
 * says what is happening while the counter does not move.
 */
#include "cli.h"
#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_LOG_EVERY_S 30.0

struct cli_progress {
    char label[64];
    char unit[8];
    char note[128];
    char phase[96];
    uint64_t total, done;
    double t0, last_draw;
    bool tty, off, bytes;
};

int cli_term_width(void)
{
    struct winsize ws;
    if (isatty(STDERR_FILENO) && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long n = c ? strtol(c, NULL, 10) : 0;
    return n >= 20 && n <= 10000 ? (int)n : 80;
}

/* Cuts s to at most cols - 1 characters (UTF-8 aware; one column per
 * character), so that the cursor never reaches the last column and the
 * terminal never wraps. */
void cli_fit_line(char *s, int cols)
{
    int n = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80)
            continue;
        if (++n >= cols) {
            *p = '\0';
            return;
        }
    }
}

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
    p->last_draw = p->t0;
    p->tty = isatty(STDERR_FILENO);
    const char *env = getenv("FRUGAL_PROGRESS");
    p->off = env && strcmp(env, "0") == 0;
    return p;
}

static void cli_fmt_amount(const cli_progress *p, uint64_t n, char *out, size_t sz)
{
    size_t ul = strlen(p->unit);
    if (p->bytes)
        cli_human_bytes(n, out, sz);
    else /* "1 file", "2 files" */
        snprintf(out, sz, "%llu%s%.*s", (unsigned long long)n, ul ? " " : "",
                 (int)(n == 1 && ul > 1 && p->unit[ul - 1] == 's' ? ul - 1 : ul), p->unit);
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
    const char *extra = !final && p->phase[0] ? p->phase : p->note;
    char tail[400];
    snprintf(tail, sizeof tail, "%3.0f%% %s/%s %s %s %s%s%s", frac * 100, d, t, r,
             final ? "in" : "ETA", final ? els : e, extra[0] ? "  " : "", extra);
    char line[640];
    if (p->tty) {
        /* the bar takes what the terminal has left, 10 to 30 characters;
         * the rate goes first when there is not room for both */
        int cols = cli_term_width();
        int room = cols - 1 - (int)strlen(p->label) - (int)strlen(tail) - 4;
        if (room < 10) {
            snprintf(tail, sizeof tail, "%3.0f%% %s/%s %s %s%s%s", frac * 100, d, t,
                     final ? "in" : "ETA", final ? els : e, extra[0] ? "  " : "", extra);
            room = cols - 1 - (int)strlen(p->label) - (int)strlen(tail) - 4;
        }
        int bw = room > 30 ? 30 : room;
        if (bw >= 10) {
            char bar[31];
            int filled = (int)(frac * bw);
            for (int i = 0; i < bw; i++)
                bar[i] = i < filled ? '#' : '.';
            bar[bw] = '\0';
            snprintf(line, sizeof line, "%s [%s] %s", p->label, bar, tail);
        } else {
            snprintf(line, sizeof line, "%s %s", p->label, tail);
        }
        cli_fit_line(line, cols);
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    } else {
        fprintf(stderr, "%s: %s\n", p->label, tail);
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
    if (now - p->last_draw >= (p->tty ? 0.1 : PROGRESS_LOG_EVERY_S))
        cli_progress_draw(p, false);
}

void cli_progress_note(cli_progress *p, const char *note)
{
    if (p)
        snprintf(p->note, sizeof p->note, "%s", note ? note : "");
}

void cli_progress_phase(cli_progress *p, const char *phase)
{
    if (!p)
        return;
    snprintf(p->phase, sizeof p->phase, "%s", phase ? phase : "");
    /* a new phase shows at once on a terminal (it explains a pause) */
    if (!p->off && p->tty)
        cli_progress_draw(p, false);
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
