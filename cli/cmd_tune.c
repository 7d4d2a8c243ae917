/*
 * cmd_tune.c - `frugal tune`: LoRA fine-tuning of a frozen (quantized) base.
 *
 * The command: loads the model and the data, prints what it will train on
 * and how much memory that takes (refusing above --mem-limit), then runs the
 * steps with a progress display, periodic validation and checkpoints, and
 * writes the adapter in llama.cpp's format. Ctrl-C / SIGTERM / SIGUSR1
 * finish nothing half-way: the step in flight is dropped, a checkpoint of
 * the last completed step is written, and the command says how to resume.
 * A NaN/Inf loss stops the run and names the last good checkpoint.
 *
 * Under mpirun (data parallel, see tune.h): every rank loads the model and
 * the data; set-up failures are agreed on once before the first collective
 * call (a failure outside the agreed points ends the job with MPI_Abort);
 * from then on every library call returns the same status on every rank,
 * and only rank 0 prints and writes files.
 *
 * Progress (stderr): a bar redrawn in place on a terminal; plain lines
 * (every ~5% of the run or 10 s, and at every evaluation) otherwise;
 * --progress json writes one JSON object per step instead, and one per
 * evaluation, for scripts. stdout stays empty unless --json (one summary
 * document at the end).
 *
 * The work is in src/tune/ (frugal/tune.h); this file only parses, prints
 * and decides when to evaluate and checkpoint.
 */
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <frugal/chat.h>
#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/tokenizer.h>
#include <frugal/tune.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "text/chat_tokens.h"
#include "tune/tuner_impl.h"

/* Set by the SIGINT/SIGTERM handler; the only mutable global, as signals
 * require. */
static volatile sig_atomic_t tune_stop;

static void tune_on_signal(int sig)
{
    tune_stop = sig;
}

static bool tune_cancel(void *user)
{
    (void)user;
    return tune_stop != 0;
}

typedef struct tune_opts {
    const char *model, *data, *output, *format, *targets, *schedule, *val, *resume;
    const char *ckpt_dir, *mem_limit, *progress, *chat_template;
    long ctx, rank, batch, grad_accum, epochs, steps, warmup, seed, threads, eval_every;
    long ckpt_every, keep_ckpt, dump_masks, logit_rows;
    double alpha, lr, beta1, beta2, eps, wd, clip, val_split, min_lr_ratio;
    bool no_default_system, json, seed_set;
} tune_opts;

/* ---- small helpers --------------------------------------------------------------- */

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;
}

/* "8G", "512MiB", "1.5g", "1000000" -> bytes; false when malformed. */
static bool parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || !isfinite(v))
        return false;
    double mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1024.0; break;
        case 'm': case 'M': mul = 1048576.0; break;
        case 'g': case 'G': mul = 1073741824.0; break;
        case 't': case 'T': mul = 1099511627776.0; break;
        default: return false;
        }
        end++;
        if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0 &&
            strcmp(end, "b") != 0)
            return false;
    }
    if (v * mul > 1.8e19)
        return false;
    *out = (uint64_t)(v * mul);
    return true;
}

static void human(uint64_t n, char *buf, size_t sz) { cli_human_bytes(n, buf, sz); }

/* A failure every rank returned (collective calls): the lead prints it. */
static int tune_fail(bool lead, const fr_err *e)
{
    if (lead)
        return cli_fail(e);
    return e->code == FR_E_INVALID ? FR_EXIT_USAGE : FR_EXIT_RUNTIME;
}

static void print_estimate(const fr_tune_mem *m, FILE *f)
{
    char t[32], b[32], a[32], o[32], ac[32], l[32], s[32];
    human(m->total, t, sizeof t);
    human(m->base, b, sizeof b);
    human(m->adapter, a, sizeof a);
    human(m->optimizer, o, sizeof o);
    human(m->activations, ac, sizeof ac);
    human(m->logits, l, sizeof l);
    human(m->scratch, s, sizeof s);
    fprintf(f,
            "memory estimate: %s = base %s (mapped) + adapter %s + optimizer %s + activations "
            "%s + logits %s + scratch %s\n",
            t, b, a, o, ac, l, s);
}

static void print_data(const char *what, const char *path, const fr_dataset *d, uint32_t ctx)
{
    fr_dataset_stats st;
    fr_dataset_get_stats(d, &st);
    fprintf(stderr, "%s: %s (%s): %zu record%s -> %zu samples, %llu tokens, %llu learned", what,
            path, fr_data_format_name(st.format), st.n_records, st.n_records == 1 ? "" : "s",
            st.n_samples, (unsigned long long)st.n_tokens, (unsigned long long)st.n_loss_tokens);
    if (st.n_truncated)
        fprintf(stderr, "; %zu cut at %u tokens", st.n_truncated, ctx + 1);
    if (st.n_skipped)
        fprintf(stderr, "; %zu skipped (nothing to learn)", st.n_skipped);
    fprintf(stderr, "\n");
}

static int dump_masks(const fr_dataset *d, const fr_tokenizer *tok, long n)
{
    bool tty = isatty(STDOUT_FILENO);
    const char *open = tty ? "\x1b[2m\xe2\x9f\xa6" : "\xe2\x9f\xa6";    /* dim + U+27E6 */
    const char *close = tty ? "\xe2\x9f\xa7\x1b[0m" : "\xe2\x9f\xa7";  /* U+27E7 + reset */
    printf("# spans in \xe2\x9f\xa6...\xe2\x9f\xa7 are masked (not learned); everything else "
           "is learned, including end-of-turn tokens\n");
    for (size_t i = 0; i < fr_dataset_count(d) && (long)i < n; i++) {
        const int32_t *t;
        const uint8_t *m;
        uint32_t len;
        fr_dataset_sample(d, i, &t, &m, &len);
        uint32_t learned = 0;
        for (uint32_t j = 0; j < len; j++)
            learned += m[j] != 0;
        char *text = NULL;
        fr_err e;
        if (fr_dataset_render_mask(d, i, tok, open, close, &text, &e) != FR_OK)
            return cli_fail(&e);
        printf("--- sample %zu (line %zu): %u tokens, %u learned\n%s\n", i,
               fr_dataset_sample_record(d, i), len, learned, text);
        free(text);
    }
    return FR_EXIT_OK;
}

/* ---- progress ---------------------------------------------------------------------- */

typedef struct tune_run {
    const tune_opts *o;
    fr_tuner *t;
    const fr_dataset *train, *val;
    uint64_t total;
    double t0, last_line, last_draw;
    uint64_t tokens;      /* trained this session */
    double train_s;       /* seconds inside training steps (tok/s excludes evaluation) */
    uint64_t start_step;
    double ema;           /* moving average of the loss (bias-corrected) */
    double ema_raw;
    uint64_t ema_n;
    double val_loss;      /* last evaluation, NAN if none */
    double val_first;     /* before training (NAN when resumed without it) */
    double first_loss, last_loss;
    char last_ckpt[4200]; /* last checkpoint written (or resumed from) */
    bool tty, json, quiet;
    bool lead;            /* rank 0 (or the only process): prints and writes */
    int ranks;            /* MPI ranks of the run (1 without mpirun) */
    int bar_len;          /* characters on the current bar line (tty) */
} tune_run;

static void ema_add(tune_run *r, double loss)
{
    const double a = 0.1;
    r->ema_raw = a * loss + (1 - a) * r->ema_raw;
    r->ema_n++;
    r->ema = r->ema_raw / (1 - pow(1 - a, (double)r->ema_n));
}

static void clear_bar(tune_run *r)
{
    if (r->tty && r->bar_len) {
        fprintf(stderr, "\r\x1b[K");
        r->bar_len = 0;
    }
}

/* One JSON progress line on stderr in one write (stderr is unbuffered and
 * mpirun forwards what each write holds), then frees j. */
static void json_line(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (text) {
        fprintf(stderr, "%s\n", text);
        free(text);
    }
    json_decref(j);
}

static void draw(tune_run *r, const fr_tune_step_info *in, bool force)
{
    double now = fr_now_s(), el = now - r->t0;
    double tps = r->train_s > 0 ? (double)r->tokens / r->train_s : 0;
    uint64_t done = in->step, total = r->total;
    double per = done > r->start_step ? el / (double)(done - r->start_step) : 0;
    double eta = per * (double)(total > done ? total - done : 0);
    const fr_tune_params *tp = fr_tuner_params(r->t);
    uint64_t gbatch = (uint64_t)tp->batch * tp->grad_accum * (uint64_t)r->ranks;
    if (r->json) {
        json_t *j = json_pack("{s:s,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:f,s:f,s:f,s:I}", "event",
                              "step", "step", (json_int_t)done, "total", (json_int_t)total,
                              "epoch", in->epoch_pos, "loss", in->loss, "loss_avg", r->ema, "lr",
                              in->lr, "grad_norm", in->grad_norm, "tokens",
                              (json_int_t)in->n_tokens, "tok_per_s", tps, "elapsed_s", el,
                              "eta_s", eta, "rss_bytes", (json_int_t)rss_bytes());
        if (j && !isnan(r->val_loss))
            json_object_set_new(j, "val_loss", json_real(r->val_loss));
        if (j) {
            json_object_set_new(j, "ranks", json_integer(r->ranks));
            json_object_set_new(j, "global_batch", json_integer((json_int_t)gbatch));
            json_line(j);
        }
        return;
    }
    if (r->quiet)
        return;
    if (r->tty && !force && now - r->last_draw < 0.1)
        return;
    if (!r->tty && !force && now - r->last_line < 10.0 &&
        done % (total / 20 ? total / 20 : 1) != 0)
        return;
    char e1[16], e2[16], mem[32], val[32] = "", dp[64] = "";
    cli_human_duration(el, e1, sizeof e1);
    cli_human_duration(eta, e2, sizeof e2);
    human(rss_bytes(), mem, sizeof mem);
    if (!isnan(r->val_loss))
        snprintf(val, sizeof val, " val %.3f |", r->val_loss);
    if (r->ranks > 1)
        snprintf(dp, sizeof dp, " | global batch %llu on %d ranks", (unsigned long long)gbatch,
                 r->ranks);
    char line[512];
    int n = snprintf(line, sizeof line,
                     "step %llu/%llu ep %.2f%s | loss %.3f (avg %.3f) |%s lr %.2e | gnorm %.2f | "
                     "%.0f tok/s | %s ETA %s | %s",
                     (unsigned long long)done, (unsigned long long)total, in->epoch_pos, dp,
                     in->loss, r->ema, val, in->lr, in->grad_norm, tps, e1, e2, mem);
    if (r->tty) {
        /* never wider than the terminal: a wrapped line cannot be redrawn in
         * place (every update would start a new line) */
        int cols = cli_term_width();
        int width = cols - 1 - n - 3;
        width = width > 30 ? 30 : width < 10 ? 10 : width;
        int fill = total ? (int)((double)width * (double)done / (double)total) : 0;
        char bar[40];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[width] = 0;
        char full[600];
        snprintf(full, sizeof full, "[%s] %s", bar, line);
        cli_fit_line(full, cols);
        fprintf(stderr, "\r%s\x1b[K", full);
        r->bar_len = (int)strlen(full);
        r->last_draw = now;
    } else {
        fprintf(stderr, "%s\n", line);
        r->last_line = now;
    }
    fflush(stderr);
}

static void report_eval(tune_run *r, uint64_t step, double loss)
{
    if (r->json) {
        json_t *j = json_pack("{s:s,s:I,s:f,s:f}", "event", "eval", "step", (json_int_t)step,
                              "val_loss", loss, "val_ppl", exp(loss));
        if (j)
            json_line(j);
        return;
    }
    if (r->quiet)
        return;
    clear_bar(r);
    fprintf(stderr, "eval at step %llu: validation loss %.4f, perplexity %.3f\n",
            (unsigned long long)step, loss, exp(loss));
}

static int run_eval(tune_run *r, uint64_t step)
{
    if (!r->val)
        return 0;
    fr_err e;
    double loss;
    fr_status st = fr_tuner_eval(r->t, r->val, &loss, NULL, &e);
    if (st == FR_E_CANCELLED)
        return 0;
    if (st)
        return tune_fail(r->lead, &e);
    r->val_loss = loss;
    if (isnan(r->val_first))
        r->val_first = loss;
    report_eval(r, step, loss);
    return 0;
}

/* ---- the options a checkpoint keeps ------------------------------------------------------ */

/* An absolute form of path (so that --resume works from any directory);
 * the path as given when that cannot be worked out. Owned by caller. */
static char *abs_or_copy(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf))
        return strdup(buf);
    /* a file not written yet (the adapter): its directory, resolved */
    char *d = strdup(path), *b = strdup(path);
    char *res = NULL;
    if (d && b && realpath(dirname(d), buf)) {
        size_t n = strlen(buf) + strlen(basename(b)) + 2;
        if ((res = malloc(n)))
            snprintf(res, n, "%s/%s", buf, basename(b));
    }
    free(d);
    free(b);
    return res ? res : strdup(path);
}

static void put_path(json_t *o, const char *key, const char *path)
{
    if (!path)
        return;
    char *a = abs_or_copy(path);
    json_object_set_new(o, key, json_string(a ? a : path));
    free(a);
}

/* Every option of this run that is not a training setting (those are in the
 * checkpoint's params), so that `--resume DIR` alone continues it. */
static json_t *options_json(const tune_opts *o)
{
    json_t *j = json_object();
    if (!j)
        return json_null();
    put_path(j, "model", o->model);
    put_path(j, "data", o->data);
    put_path(j, "output", o->output);
    put_path(j, "val", o->val);
    put_path(j, "checkpoint_dir", o->ckpt_dir);
    json_object_set_new(j, "format", json_string(o->format));
    json_object_set_new(j, "val_split", json_real(o->val_split));
    json_object_set_new(j, "eval_every", json_integer(o->eval_every));
    json_object_set_new(j, "threads", json_integer(o->threads));
    if (o->chat_template)
        json_object_set_new(j, "chat_template", json_string(o->chat_template));
    json_object_set_new(j, "no_default_system", json_boolean(o->no_default_system));
    json_object_set_new(j, "checkpoint_every", json_integer(o->ckpt_every));
    json_object_set_new(j, "keep_checkpoints", json_integer(o->keep_ckpt));
    if (o->mem_limit)
        json_object_set_new(j, "mem_limit", json_string(o->mem_limit));
    json_object_set_new(j, "progress", json_string(o->progress));
    return j;
}

static const char *saved_str(json_t *c, const char *key)
{
    json_t *v = json_object_get(c, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void saved_long(json_t *c, const char *key, long *dst)
{
    json_t *v = json_object_get(c, key);
    if (json_is_integer(v))
        *dst = (long)json_integer_value(v);
}

/* Fills the options not given on this command line from the checkpoint's
 * "command" object. The strings point into the returned object (free it
 * with json_decref after the run); NULL when the checkpoint has none (an
 * older one: -m, -d and -o must then be given). */
static json_t *restore_options(tune_opts *o, const char *extra)
{
    json_error_t je;
    json_t *ex = extra ? json_loads(extra, 0, &je) : NULL;
    json_t *c = json_object_get(ex, "command");
    if (!json_is_object(c)) {
        json_decref(ex);
        return NULL;
    }
    if (!o->model)
        o->model = saved_str(c, "model");
    if (!o->data)
        o->data = saved_str(c, "data");
    if (!o->output)
        o->output = saved_str(c, "output");
    if (!o->ckpt_dir)
        o->ckpt_dir = saved_str(c, "checkpoint_dir");
    if (!o->format)
        o->format = saved_str(c, "format");
    if (!o->chat_template)
        o->chat_template = saved_str(c, "chat_template");
    if (!o->mem_limit)
        o->mem_limit = saved_str(c, "mem_limit");
    if (!o->progress)
        o->progress = saved_str(c, "progress");
    /* validation: the saved one unless this command line names one */
    if (!o->val && o->val_split < 0) {
        o->val = saved_str(c, "val");
        json_t *v = json_object_get(c, "val_split");
        if (json_is_number(v))
            o->val_split = json_number_value(v);
    }
    if (o->eval_every == -2)
        saved_long(c, "eval_every", &o->eval_every);
    if (o->threads < 0)
        saved_long(c, "threads", &o->threads);
    if (o->ckpt_every < 0)
        saved_long(c, "checkpoint_every", &o->ckpt_every);
    if (o->keep_ckpt < 0)
        saved_long(c, "keep_checkpoints", &o->keep_ckpt);
    if (json_is_true(json_object_get(c, "no_default_system")))
        o->no_default_system = true;
    return ex;
}

/* Defaults for whatever neither the command line nor a checkpoint set. */
static void tune_option_defaults(tune_opts *o)
{
    if (!o->format)
        o->format = "auto";
    if (!o->progress)
        o->progress = "bar";
    if (o->eval_every < -1)
        o->eval_every = -1; /* ~10 times a run */
    if (o->keep_ckpt < 0)
        o->keep_ckpt = 3;
    if (o->ckpt_every < 0)
        o->ckpt_every = 0;
    if (o->threads < 0)
        o->threads = 0; /* all CPUs */
    if (o->val_split < 0)
        o->val_split = 0;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static int save_checkpoint(tune_run *r, bool announce)
{
    char dir[4200];
    uint64_t step = fr_tuner_step_count(r->t);
    snprintf(dir, sizeof dir, "%s/step-%06llu", r->o->ckpt_dir, (unsigned long long)step);
    json_t *ex = json_pack("{s:f,s:f,s:I,s:f,s:f,s:f,s:I,s:o}", "ema", r->ema, "ema_raw",
                           r->ema_raw, "ema_n", (json_int_t)r->ema_n, "val_loss",
                           isnan(r->val_loss) ? -1.0 : r->val_loss, "val_first",
                           isnan(r->val_first) ? -1.0 : r->val_first, "first_loss",
                           isnan(r->first_loss) ? 0.0 : r->first_loss, "tokens",
                           (json_int_t)r->tokens, "command", options_json(r->o));
    char *extra = ex ? json_dumps(ex, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(ex);
    fr_err e;
    if (!extra) {
        cli_error("out of memory writing a checkpoint");
        return FR_EXIT_RUNTIME;
    }
    fr_status cst = fr_tuner_save_checkpoint(r->t, r->train, dir, extra, &e);
    free(extra);
    if (cst != FR_OK)
        return tune_fail(r->lead, &e);
    snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", dir);
    if (!r->lead) /* rank 0 writes and prunes */
        return 0;
    if (announce && !r->json && !r->quiet) {
        clear_bar(r);
        fprintf(stderr, "checkpoint: %s\n", dir);
    }
    /* keep the newest keep_ckpt checkpoints */
    if (r->o->keep_ckpt > 0 && step > (uint64_t)r->o->ckpt_every * (uint64_t)r->o->keep_ckpt &&
        r->o->ckpt_every > 0) {
        uint64_t old = step - (uint64_t)r->o->ckpt_every * (uint64_t)r->o->keep_ckpt;
        char od[4200], f[4300];
        snprintf(od, sizeof od, "%s/step-%06llu", r->o->ckpt_dir, (unsigned long long)old);
        const char *files[] = {"adapter.gguf", "optimizer.gguf", "state.json"};
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof f, "%s/%s", od, files[i]);
            unlink(f);
        }
        rmdir(od);
    }
    return 0;
}

static void restore_extra(tune_run *r, const char *extra)
{
    json_error_t je;
    json_t *j = extra ? json_loads(extra, 0, &je) : NULL;
    if (!j)
        return;
    json_t *v;
    if ((v = json_object_get(j, "ema")) && json_is_number(v))
        r->ema = json_number_value(v);
    if ((v = json_object_get(j, "ema_raw")) && json_is_number(v))
        r->ema_raw = json_number_value(v);
    if ((v = json_object_get(j, "ema_n")) && json_is_integer(v))
        r->ema_n = (uint64_t)json_integer_value(v);
    if ((v = json_object_get(j, "val_loss")) && json_is_number(v) && json_number_value(v) >= 0)
        r->val_loss = json_number_value(v);
    if ((v = json_object_get(j, "val_first")) && json_is_number(v) && json_number_value(v) >= 0)
        r->val_first = json_number_value(v);
    if ((v = json_object_get(j, "first_loss")) && json_is_number(v))
        r->first_loss = json_number_value(v);
    json_decref(j);
}

static int tune_cmd(tune_opts *op, fr_tune_params *pp, const char *resume_dir, const char *extra);

/* ---- the command ------------------------------------------------------------------------ */

static const char *const TUNE_SUMMARY =
    "Trains a LoRA adapter on TRAIN for the frozen base model BASE (any type frugal\n"
    "reads, quantized included: QLoRA-style; the base is never modified or fully\n"
    "dequantized) and writes it in llama.cpp's GGUF adapter format (use it with\n"
    "--lora on run/chat/serve/perplexity, with llama.cpp's --lora, or bake it in with\n"
    "`frugal merge`).\n"
    "\n"
    "Data (--format auto picks from the file):\n"
    "  .txt                plain text, cut into --ctx windows; every token learned\n"
    "  .jsonl {\"text\"}      one document per line; every token learned\n"
    "  .jsonl {\"prompt\", \"completion\"}   only the completion (and EOS) learned\n"
    "  .jsonl {\"messages\": [{\"role\", \"content\"}, ...]}   rendered with the model's\n"
    "                      chat template; only assistant turns (with their end-of-turn\n"
    "                      token) learned. Check with --dump-masks N.\n"
    "\n"
    "Ctrl-C, SIGTERM or SIGUSR1 writes a checkpoint and stops; `frugal tune --resume\n"
    "DIR` continues exactly (same data and -t give a bit-identical adapter): the\n"
    "checkpoint keeps every option. Files, -t, validation, checkpoint and progress\n"
    "options given with --resume replace the saved ones; training settings cannot\n"
    "change.\n"
    "\n"
    "Data parallel: `mpirun -np N frugal tune ...` (one machine or a --hostfile of\n"
    "several) trains one adapter on N processes: each takes --batch samples of every\n"
    "micro-batch (global batch = batch x grad-accum x N), gradients are summed over\n"
    "MPI, rank 0 prints and writes. Every rank needs the model and data at the same\n"
    "paths; a checkpoint resumes only with the same N. Threads per rank default to\n"
    "the CPUs the launcher gives it. To stop such a run with a checkpoint, send\n"
    "SIGUSR1 to mpirun (it passes it on to every rank at once).";

int cmd_tune(int argc, char **argv)
{
    tune_opts o;
    memset(&o, 0, sizeof o);
    fr_tune_params dp = fr_tune_default_params();
    /* NULL / negative: not given (a resumed run takes these from the
     * checkpoint; a new run gets the defaults after parsing) */
    o.format = NULL;
    o.schedule = "cosine";
    o.progress = NULL;
    o.targets = "all";
    o.ctx = 512;
    o.rank = dp.rank;
    o.alpha = dp.alpha;
    o.batch = 1;
    o.grad_accum = 1;
    o.epochs = 0;
    o.steps = 0;
    o.lr = dp.lr;
    o.beta1 = dp.beta1;
    o.beta2 = dp.beta2;
    o.eps = dp.eps;
    o.wd = dp.weight_decay;
    o.clip = dp.clip;
    o.seed = (long)dp.seed;
    o.eval_every = -2;
    o.keep_ckpt = -1;
    o.ckpt_every = -1;
    o.threads = -1;
    o.val_split = -1;
    o.dump_masks = -1;
    const cli_opt opts[] = {
        {"--model", "-m", CLI_STR, &o.model, "FILE", "base model (GGUF)", 0, 0, NULL},
        {"--data", "-d", CLI_STR, &o.data, "FILE", "training data (.txt or .jsonl)", 0, 0, NULL},
        {"--output", "-o", CLI_STR, &o.output, "FILE", "adapter to write (GGUF)", 0, 0, NULL},
        {"--format", NULL, CLI_CHOICE, &o.format, NULL, "data format (default auto)", 0, 0,
         "auto|text|chat|prompt-completion"},
        {"--ctx", "-c", CLI_INT, &o.ctx, "N", "tokens per training sample (default 512)", 1,
         1 << 20, NULL},
        {"--rank", "-r", CLI_INT, &o.rank, "N", "LoRA rank (default 16)", 1, 1024, NULL},
        {"--alpha", NULL, CLI_DOUBLE, &o.alpha, "A", "LoRA alpha; scale = alpha/rank (default 32)",
         1e-6, 1e6, NULL},
        {"--targets", NULL, CLI_STR, &o.targets, "LIST",
         "weights to adapt: q,k,v,o,gate,up,down | all | attn | mlp (default all)", 0, 0, NULL},
        {"--lr", NULL, CLI_DOUBLE, &o.lr, "X", "peak learning rate (default 2e-4)", 1e-12, 10,
         NULL},
        {"--beta1", NULL, CLI_DOUBLE, &o.beta1, "B", "AdamW beta1 (default 0.9)", 0, 0.999999,
         NULL},
        {"--beta2", NULL, CLI_DOUBLE, &o.beta2, "B", "AdamW beta2 (default 0.999)", 0, 0.999999,
         NULL},
        {"--eps", NULL, CLI_DOUBLE, &o.eps, "E", "AdamW epsilon (default 1e-8)", 1e-30, 1, NULL},
        {"--weight-decay", NULL, CLI_DOUBLE, &o.wd, "W", "AdamW decoupled weight decay (default 0)",
         0, 10, NULL},
        {"--clip", NULL, CLI_DOUBLE, &o.clip, "N", "clip the global gradient norm, 0 = off "
         "(default 1)", 0, 1e9, NULL},
        {"--schedule", NULL, CLI_CHOICE, &o.schedule, NULL, "learning-rate decay (default cosine)",
         0, 0, "cosine|linear|constant"},
        {"--warmup", NULL, CLI_INT, &o.warmup, "N", "warm-up steps (default 0)", 0, 1 << 30, NULL},
        {"--min-lr-ratio", NULL, CLI_DOUBLE, &o.min_lr_ratio, "R",
         "decay floor as a fraction of --lr (default 0)", 0, 1, NULL},
        {"--batch", "-b", CLI_INT, &o.batch, "N",
         "samples per micro-batch, per rank under mpirun (default 1)", 1, 4096, NULL},
        {"--grad-accum", NULL, CLI_INT, &o.grad_accum, "N",
         "micro-batches per optimizer step (default 1)", 1, 65536, NULL},
        {"--epochs", NULL, CLI_INT, &o.epochs, "N", "passes over the data (default 1)", 1, 1 << 20,
         NULL},
        {"--steps", NULL, CLI_INT, &o.steps, "N", "optimizer steps (instead of --epochs)", 1,
         1 << 30, NULL},
        {"--val", NULL, CLI_STR, &o.val, "FILE", "validation data (same format)", 0, 0, NULL},
        {"--val-split", NULL, CLI_DOUBLE, &o.val_split, "F",
         "hold out this fraction of the training records for validation", 0.0001, 0.9, NULL},
        {"--eval-every", NULL, CLI_INT, &o.eval_every, "N",
         "validate every N steps, 0 = only before and after (default: ~10 times a run)", 0,
         1 << 30, NULL},
        {"--seed", "-s", CLI_INT, &o.seed, "S", "adapter initialisation and data order (default 42)",
         0, 0, NULL},
        {"--threads", "-t", CLI_INT, &o.threads, "N", "threads (default: all CPUs)", 0, 1024, NULL},
        {"--chat-template", NULL, CLI_STR, &o.chat_template, "NAME",
         "override the model's chat template (chat data)", 0, 0, NULL},
        {"--no-default-system", NULL, CLI_FLAG, &o.no_default_system, NULL,
         "do not insert the template's default system prompt", 0, 0, NULL},
        {"--dump-masks", NULL, CLI_INT, &o.dump_masks, "N",
         "print N samples with the masked spans marked, then exit", 0, 1 << 20, NULL},
        {"--mem-limit", NULL, CLI_STR, &o.mem_limit, "SIZE",
         "refuse to start if the estimate exceeds SIZE (e.g. 8G)", 0, 0, NULL},
        {"--checkpoint-dir", NULL, CLI_STR, &o.ckpt_dir, "DIR",
         "where checkpoints go (default OUTPUT.ckpt)", 0, 0, NULL},
        {"--checkpoint-every", NULL, CLI_INT, &o.ckpt_every, "N",
         "checkpoint every N steps, 0 = only when stopped (default 0)", 0, 1 << 30, NULL},
        {"--keep-checkpoints", NULL, CLI_INT, &o.keep_ckpt, "N",
         "periodic checkpoints kept (default 3, 0 = all)", 0, 1 << 20, NULL},
        {"--resume", NULL, CLI_STR, &o.resume, "DIR",
         "continue from a checkpoint (or the latest in a checkpoint directory)", 0, 0, NULL},
        {"--progress", NULL, CLI_CHOICE, &o.progress, NULL,
         "progress on stderr: bar (plain lines when not a terminal), json, none", 0, 0,
         "bar|json|none"},
        {"--logit-rows", NULL, CLI_INT, &o.logit_rows, "N",
         "rows of logits computed at once (default: ~64 MiB)", 0, 1 << 20, NULL},
        {"--json", NULL, CLI_FLAG, &o.json, NULL, "print a JSON summary on stdout", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    char summary[2048];
    snprintf(summary, sizeof summary, "%s\nThis build: %s.", TUNE_SUMMARY,
             fr_tune_mpi_library() ? fr_tune_mpi_library()
                                   : "no MPI (install libopenmpi-dev and rebuild for mpirun)");
    const cli_spec spec = {"frugal tune -m BASE.gguf -d TRAIN -o ADAPTER.gguf [options]", summary,
                           opts, 0, 0};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc == -1)
        return FR_EXIT_OK;
    if (rc)
        return rc;
    fr_err e;
    fr_err_clear(&e);
    fr_tune_params p = fr_tune_default_params();
    char *resume_dir = NULL, *extra = NULL;
    json_t *saved_cmd = NULL; /* the options of the run being resumed */
    if (o.resume) {
        if (fr_tune_checkpoint_read(o.resume, &p, &resume_dir, &extra, &e))
            return cli_fail(&e);
        saved_cmd = restore_options(&o, extra);
    }
    tune_option_defaults(&o);
    rc = tune_cmd(&o, &p, resume_dir, extra);
    json_decref(saved_cmd);
    free(resume_dir);
    free(extra);
    return rc;
}

/* The rest of the command once the options are complete (resume_dir and
 * extra: the checkpoint being resumed, or NULL). */
static int tune_cmd(tune_opts *op, fr_tune_params *pp, const char *resume_dir, const char *extra)
{
    tune_opts o = *op;
    fr_err e;
    fr_err_clear(&e);
    int rc;
    if (!o.model || !o.data) {
        cli_error("tune needs -m BASE.gguf and -d TRAIN (see frugal tune --help)");
        return FR_EXIT_USAGE;
    }
    bool dump = o.dump_masks >= 0;
    if (!dump && !o.output) {
        cli_error("tune needs -o ADAPTER.gguf (the adapter to write)");
        return FR_EXIT_USAGE;
    }
    if (o.val && o.val_split > 0) {
        cli_error("give either --val FILE or --val-split F, not both");
        return FR_EXIT_USAGE;
    }
    if (o.steps && o.epochs) {
        cli_error("give either --epochs or --steps, not both");
        return FR_EXIT_USAGE;
    }
    if (o.output && (fr_same_file(o.output, o.model) || fr_same_file(o.output, o.data) ||
                     (o.val && fr_same_file(o.output, o.val)))) {
        cli_error("-o %s would overwrite an input file", o.output);
        return FR_EXIT_USAGE;
    }
    uint64_t mem_limit = 0;
    if (o.mem_limit && !parse_size(o.mem_limit, &mem_limit)) {
        cli_error("--mem-limit: '%s' is not a size (e.g. 8G, 512M, 1000000)", o.mem_limit);
        return FR_EXIT_USAGE;
    }
    fr_tune_params p = fr_tune_default_params();
    p.rank = (uint32_t)o.rank;
    p.alpha = (float)o.alpha;
    if (fr_tune_parse_targets(o.targets, &p.targets, &e))
        return cli_fail(&e);
    p.n_ctx = (uint32_t)o.ctx;
    p.batch = (uint32_t)o.batch;
    p.grad_accum = (uint32_t)o.grad_accum;
    p.lr = o.lr;
    p.beta1 = o.beta1;
    p.beta2 = o.beta2;
    p.eps = o.eps;
    p.weight_decay = o.wd;
    p.clip = o.clip;
    fr_lr_schedule_parse(o.schedule, &p.schedule);
    p.warmup = (uint32_t)o.warmup;
    p.min_lr_ratio = o.min_lr_ratio;
    p.seed = (uint64_t)o.seed;
    p.n_threads = (uint32_t)o.threads;
    p.logit_rows = (uint32_t)o.logit_rows;

    /* Under mpirun: join the job. Rank 0 (lead) prints and writes; every
     * rank loads the model and the data itself. Local set-up failures are
     * agreed on once, before the first collective call (set_up_done). */
    fr_tune_comm *comm = NULL;
    if (fr_tune_comm_create(&comm, &e))
        return cli_fail(&e);
    int ranks = fr_tune_comm_size(comm);
    bool lead = fr_tune_comm_rank(comm) == 0;
    if (dump && !lead) {
        fr_tune_comm_free(comm);
        return FR_EXIT_OK;
    }
    p.ranks = (uint32_t)ranks;
    if (ranks > 1 && !o.threads)
        p.n_threads = (uint32_t)fr_tune_comm_threads(comm);

    /* everything below releases through `out` */
    fr_model *model = NULL;
    fr_tokenizer *tok = NULL;
    fr_chat_template *tmpl = NULL;
    fr_dataset *train = NULL, *val = NULL;
    fr_tuner *t = NULL;
    char ckdir[4200];
    bool agreed = false; /* after set_up_done: every rank knows the outcome */
    bool quiet = strcmp(o.progress, "none") == 0 || !lead;
    bool json_prog = strcmp(o.progress, "json") == 0 && lead;
    rc = FR_EXIT_OK;
    fr_status st = FR_OK;
    fr_data_format fmt = FR_DATA_AUTO;
    fr_data_format_parse(o.format, &fmt);
    fr_tune_mem mem;

    if (resume_dir) {
        /* training settings come from the checkpoint (read by cmd_tune); -t
         * as given, or as saved */
        p = *pp;
        p.n_threads = (uint32_t)o.threads;
        if (ranks > 1 && !o.threads)
            p.n_threads = (uint32_t)fr_tune_comm_threads(comm);
        if ((p.ranks ? p.ranks : 1) != (uint32_t)ranks) {
            st = fr_err_set(&e, FR_E_INVALID,
                            "--resume %s: the checkpoint comes from a run on %u rank%s (mpirun -np "
                            "%u), this one has %d; resume with mpirun -np %u (the global batch "
                            "and the data order depend on the rank count)", resume_dir,
                            p.ranks ? p.ranks : 1, p.ranks > 1 ? "s" : "", p.ranks ? p.ranks : 1,
                            ranks, p.ranks ? p.ranks : 1);
            goto set_up_done;
        }
    }
    if ((st = fr_model_load(o.model, &model, &e)) ||
        (st = fr_tokenizer_from_gguf(fr_model_gguf(model), &tok, &e)) ||
        (st = fr_chat_template_for_model(fr_model_gguf(model), o.chat_template, false, &tmpl,
                                         &e)))
        goto set_up_done;
    fr_dataset_opts dopts = {fmt, p.n_ctx, tmpl, o.no_default_system};
    if ((st = fr_dataset_load(o.data, tok, &dopts, &train, &e)))
        goto set_up_done;
    {
        fr_dataset_stats ds;
        fr_dataset_get_stats(train, &ds);
        if (ds.format == FR_DATA_CHAT && fr_chat_template_warning(tmpl) && lead)
            cli_warn("%s", fr_chat_template_warning(tmpl));
    }
    if (dump) {
        rc = dump_masks(train, tok, o.dump_masks);
        goto out;
    }
    if (o.val)
        st = fr_dataset_load(o.val, tok, &dopts, &val, &e);
    else if (o.val_split > 0)
        st = fr_dataset_split(train, o.val_split, p.seed, &val, &e);
    if (st)
        goto set_up_done;
    if (!quiet && !json_prog) {
        print_data("train", o.data, train, p.n_ctx);
        if (val)
            print_data("validation", o.val ? o.val : "split", val, p.n_ctx);
    }
    if (!resume_dir) {
        uint64_t per_epoch = fr_tune_steps_per_epoch(&p, fr_dataset_count(train));
        p.total_steps = o.steps ? (uint64_t)o.steps : per_epoch * (uint64_t)(o.epochs ? o.epochs : 1);
    }
    if ((st = fr_tune_estimate(model, &p, &mem, &e)))
        goto set_up_done;
    if (!quiet && !json_prog) {
        char targets[64], gb[96] = "";
        fr_tune_targets_str(p.targets, targets, sizeof targets);
        if (ranks > 1)
            snprintf(gb, sizeof gb, " x %d ranks = global batch %llu", ranks,
                     (unsigned long long)p.batch * p.grad_accum * (unsigned long long)ranks);
        fprintf(stderr,
                "training %lld LoRA parameters (rank %u, alpha %g, targets %s) for %llu steps: "
                "batch %u x grad-accum %u%s, ctx %u, lr %g (%s, warm-up %u), seed %llu\n",
                (long long)mem.n_params, p.rank, (double)p.alpha, targets,
                (unsigned long long)p.total_steps, p.batch, p.grad_accum, gb, p.n_ctx, p.lr,
                fr_lr_schedule_name(p.schedule), p.warmup, (unsigned long long)p.seed);
        if (ranks > 1)
            fprintf(stderr, "data parallel: %d MPI ranks (%s), %u thread%s each; the estimate "
                            "below is per rank\n", ranks, fr_tune_mpi_library(), p.n_threads,
                    p.n_threads == 1 ? "" : "s");
        print_estimate(&mem, stderr);
    }
    if (mem_limit && mem.total > mem_limit) {
        char lim[32];
        human(mem_limit, lim, sizeof lim);
        if (lead && (quiet || json_prog))
            print_estimate(&mem, stderr);
        st = fr_err_set(&e, FR_E_RANGE, "the run needs about %.0f MiB, more than --mem-limit %s; "
                        "lower --ctx, --batch or --rank, or use fewer --targets",
                        (double)mem.total / 1048576.0, lim);
        goto set_up_done;
    }
    st = fr_tuner_create(model, &p, &t, &e);
set_up_done:
    if (ranks > 1 && !dump) { /* (with --dump-masks the other ranks have left) */
        /* the lowest failing rank's error, "rank R: ..." when not rank 0's,
         * printed once, by rank 0 (usually every rank fails the same way) */
        st = fr_tune_comm_agree(comm, st, &e);
        agreed = true;
        if (st)
            rc = tune_fail(lead, &e);
    } else if (st) {
        rc = cli_fail(&e);
    }
    if (st)
        goto out;
    /* collective from here on: every library call returns the same status on
     * every rank, and the lead alone prints it */
    if ((st = fr_tuner_set_comm(t, comm, &e)) ||
        (resume_dir && (st = fr_tuner_load_checkpoint(t, train, resume_dir, &e)))) {
        rc = tune_fail(lead, &e);
        goto out;
    }
    if (!o.ckpt_dir) {
        snprintf(ckdir, sizeof ckdir, "%s.ckpt", o.output);
        o.ckpt_dir = ckdir;
    }
    tune_run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.t = t;
    r.train = train;
    r.val = val;
    r.total = p.total_steps;
    r.val_loss = NAN;
    r.val_first = NAN;
    r.first_loss = NAN;
    r.tty = isatty(STDERR_FILENO);
    r.json = json_prog;
    r.quiet = quiet;
    r.lead = lead;
    r.ranks = ranks;
    r.start_step = fr_tuner_step_count(t);
    if (resume_dir) {
        restore_extra(&r, extra);
        snprintf(r.last_ckpt, sizeof r.last_ckpt, "%s", resume_dir);
        if (!quiet && !json_prog)
            fprintf(stderr,
                    "resumed from %s at step %llu (every option comes from the checkpoint; files, "
                    "-t, validation, checkpoint and progress options given here replace the "
                    "saved ones; training settings cannot change)\n",
                    resume_dir, (unsigned long long)r.start_step);
    }
    long eval_every = o.eval_every;
    if (eval_every < 0)
        eval_every = (long)(r.total / 10 ? r.total / 10 : 1);

    /* SIGUSR1 too: mpirun passes it on to every rank at once, while on
     * SIGTERM it signals the ranks only after its kill timeout and kills
     * them one timeout later */
    struct sigaction sa, old_int, old_term, old_usr1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tune_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGUSR1, &sa, &old_usr1);
    fr_tuner_set_cancel(t, tune_cancel, NULL);

    r.t0 = fr_now_s();
    if (val && r.start_step == 0 && (rc = run_eval(&r, 0)))
        goto restore;
    /* Test hook: FRUGAL_TUNE_INJECT_NAN=N poisons one adapter value before
     * step N, so tests can see how a NaN loss is reported. */
    const char *inject = getenv("FRUGAL_TUNE_INJECT_NAN");
    uint64_t inject_at = inject ? strtoull(inject, NULL, 10) : 0;
    /* With several ranks a signal reaches them at different moments: the
     * step (collective) decides for all, so the loop never looks at
     * tune_stop itself. */
    while (fr_tuner_step_count(t) < r.total && (ranks > 1 || !tune_stop)) {
        fr_tune_step_info info;
        if (inject_at && fr_tuner_step_count(t) + 1 == inject_at)
            t->set->param[t->set->n_params - 1] = NAN;
        double ts = fr_now_s();
        st = fr_tuner_step(t, train, &info, &e);
        r.train_s += fr_now_s() - ts;
        if (st == FR_E_CANCELLED)
            break;
        if (st == FR_E_RANGE && info.nonfinite) {
            clear_bar(&r);
            rc = FR_EXIT_RUNTIME;
            if (!lead)
                goto restore;
            cli_error("%s", e.msg);
            if (r.last_ckpt[0])
                fprintf(stderr, "frugal: the last good checkpoint is %s; resume from it with "
                                "--resume %s (a lower --lr or --clip may help)\n",
                        r.last_ckpt, r.last_ckpt);
            else
                fprintf(stderr, "frugal: no checkpoint was written before this step; try a lower "
                                "--lr, a --warmup, or --checkpoint-every N\n");
            goto restore;
        }
        if (st) {
            clear_bar(&r);
            rc = tune_fail(lead, &e);
            goto restore;
        }
        r.tokens += info.n_tokens;
        ema_add(&r, info.loss);
        if (isnan(r.first_loss))
            r.first_loss = info.loss;
        r.last_loss = info.loss;
        uint64_t s = info.step;
        bool last = s == r.total;
        draw(&r, &info, last);
        if (val && eval_every > 0 && s % (uint64_t)eval_every == 0 && !last &&
            (rc = run_eval(&r, s)))
            goto restore;
        if (o.ckpt_every > 0 && s % (uint64_t)o.ckpt_every == 0 && !last &&
            (rc = save_checkpoint(&r, !r.tty)))
            goto restore;
    }
    clear_bar(&r);
    if ((ranks == 1 && tune_stop) || fr_tuner_step_count(t) < r.total) {
        tune_stop = 0;
        fr_tuner_set_cancel(t, NULL, NULL);
        if ((rc = save_checkpoint(&r, false)))
            goto restore;
        char mpi[32] = "";
        if (ranks > 1)
            snprintf(mpi, sizeof mpi, "mpirun -np %d ", ranks);
        if (lead)
            fprintf(stderr,
                    "frugal: stopped at step %llu of %llu; checkpoint %s\n"
                    "frugal: continue with: %sfrugal tune --resume %s\n",
                    (unsigned long long)fr_tuner_step_count(t), (unsigned long long)r.total,
                    r.last_ckpt, mpi, r.last_ckpt);
        rc = FR_EXIT_RUNTIME;
        goto restore;
    }
    if (val && (rc = run_eval(&r, fr_tuner_step_count(t))))
        goto restore;
    if (fr_tuner_save_adapter(t, o.output, &e)) {
        rc = tune_fail(lead, &e);
        goto restore;
    }
    double secs = fr_now_s() - r.t0;
    double tps = r.train_s > 0 ? (double)r.tokens / r.train_s : 0;
    char peak[32];
    human(peak_rss_bytes(), peak, sizeof peak);
    if (o.json && lead) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:f,s:f,s:f,s:I,s:f,s:f,s:I,s:I,s:i,s:I}",
                              "model", o.model, "data", o.data, "adapter", o.output, "steps",
                              (json_int_t)fr_tuner_step_count(t), "trainable_params",
                              (json_int_t)mem.n_params, "first_loss", r.first_loss, "final_loss",
                              r.last_loss, "final_loss_avg", r.ema, "tokens",
                              (json_int_t)r.tokens, "seconds", secs, "tok_per_s", tps,
                              "peak_rss_bytes", (json_int_t)peak_rss_bytes(), "estimate_bytes",
                              (json_int_t)mem.total, "ranks", ranks, "global_batch",
                              (json_int_t)((uint64_t)p.batch * p.grad_accum * (uint64_t)ranks));
        if (j && val) {
            json_object_set_new(j, "val_loss_before", json_real(r.val_first));
            json_object_set_new(j, "val_loss_after", json_real(r.val_loss));
            json_object_set_new(j, "val_ppl_before", json_real(exp(r.val_first)));
            json_object_set_new(j, "val_ppl_after", json_real(exp(r.val_loss)));
        }
        if (j) {
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
            fputc('\n', stdout);
            json_decref(j);
        }
    }
    if (!quiet && !json_prog) {
        fprintf(stderr, "wrote %s: %llu steps in %.1f s, %.0f tok/s, loss %.3f -> %.3f (avg), "
                        "peak RSS %s%s\n",
                o.output, (unsigned long long)fr_tuner_step_count(t), secs, tps, r.first_loss,
                r.ema, peak, ranks > 1 ? " (rank 0)" : "");
        if (val && !isnan(r.val_first))
            fprintf(stderr, "validation perplexity %.3f -> %.3f (loss %.4f -> %.4f)\n",
                    exp(r.val_first), exp(r.val_loss), r.val_first, r.val_loss);
    }
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
out:
    /* a failure only some ranks met, with the others possibly waiting in a
     * collective call: end them all */
    if (rc != FR_EXIT_OK && ranks > 1 && !agreed && !dump)
        fr_tune_comm_abort(comm, rc);
    fr_tuner_free(t);
    fr_dataset_free(train);
    fr_dataset_free(val);
    fr_chat_template_free(tmpl);
    fr_tokenizer_free(tok);
    fr_model_free(model);
    fr_tune_comm_free(comm);
    return rc;
}
