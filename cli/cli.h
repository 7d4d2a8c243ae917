/*
 * cli.h - what every subcommand shares: exit codes, error printing, a small
 * table-driven option parser (so that --help, value checking and error text
 * are the same everywhere), and the progress bar.
 *
 * Conventions (README "Command reference"): errors go to stderr as
 * "frugal: error: ..."; exit 0 on success, 1 on a runtime error, 2 on a usage
 * error; --json writes exactly one JSON document to stdout.
 */
#ifndef FR_CLI_H
#define FR_CLI_H

#include <frugal/base.h>
#include <stdbool.h>
#include <stdint.h>

enum { FR_EXIT_OK = 0, FR_EXIT_RUNTIME = 1, FR_EXIT_USAGE = 2 };

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints err's message as a runtime error and returns FR_EXIT_RUNTIME (or
 * FR_EXIT_USAGE for FR_E_INVALID). */
int cli_fail(const fr_err *err);

/* ---- option parsing ----------------------------------------------------- */

typedef enum cli_kind {
    CLI_END = 0,
    CLI_FLAG,   /* bool*: set to true */
    CLI_STR,    /* const char **: argv pointer */
    CLI_STRS,   /* cli_strs*: repeatable */
    CLI_INT,    /* long*: integer within [min, max] */
    CLI_DOUBLE, /* double*: finite, within [min, max]; accepts 8e9 */
    CLI_CHOICE  /* const char **: one of the '|'-separated words in choices */
} cli_kind;

#define CLI_STRS_MAX 16
typedef struct cli_strs {
    const char *v[CLI_STRS_MAX];
    int n;
} cli_strs;

typedef struct cli_opt {
    const char *name;  /* "--ctx" */
    const char *alias; /* "-c" or NULL */
    cli_kind kind;
    void *dst;
    const char *meta;    /* value name in help, e.g. "N" */
    const char *help;    /* one line */
    double min, max;     /* numeric bounds (both 0: unbounded) */
    const char *choices; /* for CLI_CHOICE: "f16|bf16|q8_0" */
} cli_opt;

typedef struct cli_spec {
    const char *usage;   /* "frugal inspect MODEL.gguf [options]" */
    const char *summary; /* one paragraph */
    const cli_opt *opts; /* terminated by an entry with kind CLI_END */
    int min_pos, max_pos; /* positional argument count bounds (max -1: any) */
} cli_spec;

/* Parses argv[1..argc) (argv[0] is the subcommand name). Positional arguments
 * are returned in pos (borrowed argv pointers, at most 64). Returns -1 when
 * --help was printed (caller exits 0), FR_EXIT_USAGE after printing a usage
 * error, 0 on success. "--" ends options. */
int cli_parse(int argc, char **argv, const cli_spec *spec, const char **pos, int *npos);
void cli_print_help(const cli_spec *spec);

/* ---- progress bar ------------------------------------------------------- */

/* A bar on stderr: redrawn in place (at most ~10 times a second, never
 * wider than the terminal) when stderr is a terminal; otherwise nothing
 * animated: a line at the end and one every 30 s of a long job. Shows done/
 * total, percent, rate and ETA. unit "B" prints sizes as KiB/MiB/GiB.
 * FRUGAL_PROGRESS=0 turns it off. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const char *label, uint64_t total, const char *unit);
void cli_progress_update(cli_progress *p, uint64_t done);
/* Extra text shown after the bar (e.g. "loss 2.31"); copied. */
void cli_progress_note(cli_progress *p, const char *note);
/* What is being done now (e.g. "extracting text from big.pdf"), shown in
 * place of the note until the bar finishes; copied. Shown at once on a
 * terminal: it explains why the counter stands still. */
void cli_progress_phase(cli_progress *p, const char *phase);
/* Final redraw at 100% (or at the last value when ok is false) and newline;
 * frees p. NULL is a no-op. */
void cli_progress_finish(cli_progress *p, bool ok);

/* Columns of the terminal on stderr (else $COLUMNS, else 80). */
int cli_term_width(void);
/* Cuts a line so that it fits cols - 1 columns (UTF-8 aware). */
void cli_fit_line(char *s, int cols);

/* "1.5 GiB", "312 MiB", "12 KiB", "17 B" */
void cli_human_bytes(uint64_t n, char *out, size_t out_size);
/* "1h02m", "3m05s", "12s" */
void cli_human_duration(double s, char *out, size_t out_size);

#endif
