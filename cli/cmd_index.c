/*
 * cmd_index.c - `frugal index --db KB PATH...` and `--stats` (KB: a SQLite file
 * or a postgresql:// URI).
 *
 * Indexing is incremental: the summary says what was added, updated,
 * skipped (unchanged), removed (vanished) and rejected, with each rejection's
 * reason, so that nothing is silently left out of the knowledge base.
 */
#include "cli.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reject {
    char *path, *why;
} reject;

typedef struct index_ctx {
    cli_progress *bar;
    reject *rej;
    size_t n_rej, cap_rej;
    bool verbose;
} index_ctx;

static void on_event(void *user, const char *path, fr_kb_action a, const char *why, uint64_t done,
                     uint64_t total)
{
    index_ctx *c = user;
    if (!c->bar && total > 0)
        c->bar = cli_progress_start("indexing", total, "files");
    if (c->bar && done > 0)
        cli_progress_update(c->bar, done);
    if (c->verbose) {
        static const char *const names[] = {"added", "updated", "skipped", "removed", "rejected"};
        fprintf(stderr, "%-8s %s%s%s\n", names[a], path, why ? ": " : "", why ? why : "");
    }
    if (a != FR_KB_REJECTED)
        return;
    if (c->n_rej == c->cap_rej) {
        size_t nc = c->cap_rej ? c->cap_rej * 2 : 16;
        reject *nr = realloc(c->rej, nc * sizeof *nr);
        if (!nr)
            return;
        c->rej = nr;
        c->cap_rej = nc;
    }
    c->rej[c->n_rej].path = strdup(path);
    c->rej[c->n_rej].why = strdup(why ? why : "rejected");
    if (c->rej[c->n_rej].path && c->rej[c->n_rej].why)
        c->n_rej++;
}

static void on_phase(void *user, const char *path, const char *phase, uint64_t done,
                     uint64_t total)
{
    index_ctx *c = user;
    if (!c->bar && total > 0)
        c->bar = cli_progress_start("indexing", total, "files");
    if (!c->bar)
        return;
    cli_progress_update(c->bar, done);
    const char *base = strrchr(path, '/');
    char what[96];
    snprintf(what, sizeof what, "%s %s", phase, base ? base + 1 : path);
    cli_progress_phase(c->bar, what);
}

static json_t *stats_json(const fr_kb *kb, const fr_kb_stats *s)
{
    json_t *j = json_object();
    json_object_set_new(j, "store", json_string(fr_kb_kind(kb)));
    json_object_set_new(j, "documents", json_integer((json_int_t)s->documents));
    json_object_set_new(j, "chunks", json_integer((json_int_t)s->chunks));
    json_object_set_new(j, "terms", json_integer((json_int_t)s->terms));
    json_object_set_new(j, "words", json_integer((json_int_t)s->words));
    json_object_set_new(j, "db_bytes", json_integer((json_int_t)s->db_bytes));
    json_object_set_new(j, "schema_version", json_integer(s->schema_version));
    return j;
}

int cmd_index(int argc, char **argv)
{
    const char *db = NULL;
    bool stats = false, json = false, verbose = false, follow_links = false;
    long max_file = 32L << 20, max_line = 1L << 20, words = 300;
    const cli_opt opts[] = {
        {"--db", NULL, CLI_STR, &db, "KB", "knowledge base: a SQLite file or a postgresql:// URI (created if missing)", 0, 0, NULL},
        {"--stats", NULL, CLI_FLAG, &stats, NULL, "print documents, chunks, terms and size", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "one JSON document on stdout", 0, 0, NULL},
        {"--verbose", "-v", CLI_FLAG, &verbose, NULL, "one line per file on stderr", 0, 0, NULL},
        {"--max-file", NULL, CLI_INT, &max_file, "BYTES", "reject larger files (default 32 MiB)", 1, 1L << 32, NULL},
        {"--max-line", NULL, CLI_INT, &max_line, "BYTES", "reject text with longer lines (default 1 MiB)", 1, 1L << 31, NULL},
        {"--chunk-words", NULL, CLI_INT, &words, "N", "words per chunk at most (default 300)", 20, 4000, NULL},
        {"--follow-links", NULL, CLI_FLAG, &follow_links, NULL, "also index symbolic links to files outside PATH... (rejected by default)", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal index --db KB.sqlite|postgresql://... PATH... | --stats",
        "Index .txt .md .html .csv .json .jsonl .pdf files (directories recursively) into a "
        "knowledge base: a SQLite file, or a PostgreSQL database named by a libpq URI "
        "(postgresql://user@host:5432/db, postgresql:///db?host=/run/postgresql). Unchanged "
        "files are skipped, changed ones re-indexed, vanished ones removed; unsupported, binary, "
        "oversized or empty files are reported.",
        opts, 0, -1};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!db) {
        cli_error("index: --db KB.sqlite (or a postgresql:// URI) is required");
        return FR_EXIT_USAGE;
    }
    if (npos == 0 && !stats) {
        cli_error("index: give PATH... to index, or --stats");
        return FR_EXIT_USAGE;
    }
    fr_err err;
    fr_err_clear(&err);
    fr_kb *kb = NULL;
    if (fr_kb_open(db, npos > 0, &kb, &err))
        return cli_fail(&err);
    int code = FR_EXIT_OK;
    json_t *root = json_object();
    index_ctx ctx = {0};
    ctx.verbose = verbose;
    if (npos > 0) {
        fr_kb_index_opts io = {0};
        io.max_file_bytes = (size_t)max_file;
        io.max_line_bytes = (size_t)max_line;
        io.max_words = (size_t)words;
        io.follow_links = follow_links;
        io.on_event = on_event;
        io.on_phase = on_phase;
        io.user = &ctx;
        fr_kb_index_report rep;
        fr_status st = fr_kb_index(kb, pos, (size_t)npos, &io, &rep, &err);
        cli_progress_finish(ctx.bar, st == FR_OK);
        if (st) {
            code = cli_fail(&err);
            goto done;
        }
        if (json) {
            json_object_set_new(root, "added", json_integer((json_int_t)rep.added));
            json_object_set_new(root, "updated", json_integer((json_int_t)rep.updated));
            json_object_set_new(root, "skipped", json_integer((json_int_t)rep.skipped));
            json_object_set_new(root, "removed", json_integer((json_int_t)rep.removed));
            json_object_set_new(root, "rejected", json_integer((json_int_t)rep.rejected));
            json_object_set_new(root, "chunks_written", json_integer((json_int_t)rep.chunks_written));
            json_t *rj = json_array();
            for (size_t i = 0; i < ctx.n_rej; i++) {
                json_t *e = json_object();
                json_object_set_new(e, "path", json_string(ctx.rej[i].path));
                json_object_set_new(e, "reason", json_string(ctx.rej[i].why));
                json_array_append_new(rj, e);
            }
            json_object_set_new(root, "rejects", rj);
        } else {
            printf("added %llu, updated %llu, skipped %llu (unchanged), removed %llu, "
                   "rejected %llu; %llu chunks written\n",
                   (unsigned long long)rep.added, (unsigned long long)rep.updated,
                   (unsigned long long)rep.skipped, (unsigned long long)rep.removed,
                   (unsigned long long)rep.rejected, (unsigned long long)rep.chunks_written);
            for (size_t i = 0; i < ctx.n_rej; i++)
                printf("  rejected %s: %s\n", ctx.rej[i].path, ctx.rej[i].why);
        }
        if (rep.missing) {
            /* a typo in PATH must not look like a successful (empty) run */
            cli_error("index: %llu of the given paths do%s not exist (see the rejected list)",
                      (unsigned long long)rep.missing, rep.missing == 1 ? "es" : "");
            code = FR_EXIT_RUNTIME;
        }
    }
    if (stats) {
        fr_kb_stats s;
        if (fr_kb_stats_get(kb, &s, &err)) {
            code = cli_fail(&err);
            goto done;
        }
        if (json) {
            json_object_set_new(root, "stats", stats_json(kb, &s));
        } else {
            char size[32];
            cli_human_bytes(s.db_bytes, size, sizeof size);
            printf("%s: %llu documents, %llu chunks, %llu words, %llu distinct terms, %s "
                   "(schema %d)\n",
                   fr_kb_name(kb), (unsigned long long)s.documents, (unsigned long long)s.chunks,
                   (unsigned long long)s.words, (unsigned long long)s.terms, size,
                   s.schema_version);
        }
    }
    if (json) {
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
done:
    for (size_t i = 0; i < ctx.n_rej; i++) {
        free(ctx.rej[i].path);
        free(ctx.rej[i].why);
    }
    free(ctx.rej);
    json_decref(root);
    fr_kb_free(kb);
    return code;
}
