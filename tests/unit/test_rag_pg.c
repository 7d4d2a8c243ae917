/* Tests for the PostgreSQL knowledge base, against a throwaway cluster
 * (tests/pg_cluster.sh: initdb + pg_ctl on a Unix socket in a temporary
 * directory; skipped, exit 77, when PostgreSQL is not installed or frugal
 * was built without libpq):
 *   - the checks every store passes (tests/rag_corpus.h), as a role that is
 *     only the database's owner (pg_trgm and unaccent are trusted);
 *   - the same documents give the same rows as in SQLite: every document
 *     and every chunk (heading, page, byte offsets, words, text), read back
 *     with SQL from both databases; the same top passage and gate decision
 *     for the corpus questions;
 *   - the schema: version row, a newer version refused, another
 *     application's frugal_documents, a role that may not create tables;
 *   - concurrency: two indexers start on an empty database at once (one
 *     creates the schema, the other waits) and re-index the same files while
 *     one process rewrites them and a reader retrieves; no process sees an
 *     error, no retrieval sees two versions of one document, and the
 *     documents, chunks and totals agree at every read and at the end. */
#ifndef FR_HAVE_POSTGRESQL
#include <stdio.h>

int main(void)
{
    printf("SKIP: frugal was built without PostgreSQL support (libpq-dev)\n");
    return 77;
}
#else
#include "test.h"

#include "base/buf.h"
#include "rag/kb.h"
#include "rag_corpus.h"

#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

static char g_pg_dir[512], g_uri[1024], g_uri_user[1024];

/* Copies the value of "KEY=value" or "KEY='value'" from line into out. */
static void take(const char *line, const char *key, char *out, size_t n)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != '=')
        return;
    const char *v = line + k + 1;
    size_t l = strcspn(v, "\n");
    if (l >= 2 && v[0] == '\'' && v[l - 1] == '\'') {
        v++;
        l -= 2;
    }
    snprintf(out, n, "%.*s", (int)l, v);
}

static void start_cluster(void)
{
    const char *src = getenv("FR_SRC");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tests/pg_cluster.sh' start %d", src ? src : ".", (int)getpid());
    FILE *f = popen(cmd, "r");
    if (!f) {
        perror("popen");
        exit(1);
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        take(line, "PG_DIR", g_pg_dir, sizeof g_pg_dir);
        take(line, "PG_URI", g_uri, sizeof g_uri);
        take(line, "PG_URI_USER", g_uri_user, sizeof g_uri_user);
        if (strncmp(line, "SKIP", 4) == 0)
            fputs(line, stdout);
    }
    int rc = pclose(f);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
        exit(77);
    if (rc != 0 || !g_uri[0] || !g_uri_user[0]) {
        fprintf(stderr, "could not start a PostgreSQL cluster (status %d)\n", rc);
        exit(1);
    }
}

static void stop_cluster(void)
{
    const char *src = getenv("FR_SRC");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/tests/pg_cluster.sh' stop '%s'", src ? src : ".", g_pg_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the cluster in %s\n", g_pg_dir);
}

/* Runs SQL through libpq directly (not through frugal); the first value of
 * the result, or "" (static buffer). */
static const char *psql(const char *uri, const char *sql)
{
    static char v[256];
    v[0] = '\0';
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    CHECK_MSG(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    if (s == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(v, sizeof v, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* Rows as text: fields separated by 0x1f, rows by 0x1e, NULL as \N. */
static void dump_pg(const char *uri, const char *sql, fr_buf *out)
{
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    for (int i = 0; i < PQntuples(r); i++) {
        for (int j = 0; j < PQnfields(r); j++) {
            fr_buf_puts(out, PQgetisnull(r, i, j) ? "\\N" : PQgetvalue(r, i, j));
            fr_buf_putc(out, 0x1f);
        }
        fr_buf_putc(out, 0x1e);
    }
    PQclear(r);
    PQfinish(c);
}

static int dump_row(void *user, int n, char **vals, char **cols)
{
    (void)cols;
    for (int j = 0; j < n; j++) {
        fr_buf_puts(user, vals[j] ? vals[j] : "\\N");
        fr_buf_putc(user, 0x1f);
    }
    fr_buf_putc(user, 0x1e);
    return 0;
}

static void dump_sqlite(const char *path, const char *sql, fr_buf *out)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK_MSG(sqlite3_exec(db, sql, dump_row, out, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* The same rows, in the same order, from both stores. */
static void check_same_rows(const char *sqlite_path, const char *uri, const char *sqlite_sql,
                            const char *pg_sql, const char *what)
{
    fr_buf a = FR_BUF_INIT, b = FR_BUF_INIT;
    dump_sqlite(sqlite_path, sqlite_sql, &a);
    dump_pg(uri, pg_sql, &b);
    CHECK_MSG(a.len > 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
              "%s differ: sqlite %zu bytes, postgresql %zu bytes", what, a.len, b.len);
    fr_buf_free(&a);
    fr_buf_free(&b);
}

static void test_parity(void)
{
    corpus_make_docs();
    char db[600];
    snprintf(db, sizeof db, "%s/kb.sqlite", g_dir);
    fr_err err;
    fr_kb *kb = NULL, *sq = NULL;
    /* no schema yet: reading is refused, and says how to create it */
    CHECK_EQ_INT(fr_kb_open(g_uri_user, false, &kb, &err), FR_E_NOTFOUND);
    CHECK_MSG(strstr(err.msg, "no frugal knowledge base") && strstr(err.msg, "frugal index"),
              "%s", err.msg);
    CHECK_EQ_INT(fr_kb_open_readonly(g_uri_user, &kb, &err), FR_E_NOTFOUND);
    CHECK_MSG(fr_kb_open(g_uri_user, true, &kb, &err) == FR_OK, "%s", err.msg);
    CHECK(fr_kb_open(db, true, &sq, &err) == FR_OK);
    if (!kb || !sq) {
        fr_kb_free(kb);
        fr_kb_free(sq);
        return;
    }
    CHECK_STR(fr_kb_kind(kb), "postgresql");
    CHECK_STR(fr_kb_kind(sq), "sqlite");
    CHECK_STR(psql(g_uri_user, "SELECT value FROM frugal_meta WHERE key = 'schema_version'"),
              "1");
    corpus_check_index(kb, NULL);
    corpus_make_docs(); /* the files as they were before the first run */
    corpus_check_index(sq, db);

    /* the same documents and chunks, byte for byte */
    check_same_rows(db, g_uri_user,
                    "SELECT path, hash, size, format, title, n_chunks, n_repairs FROM documents"
                    " ORDER BY path",
                    "SELECT path, hash, size, format, title, n_chunks, n_repairs"
                    " FROM frugal_documents ORDER BY path",
                    "documents");
    check_same_rows(db, g_uri_user,
                    "SELECT d.path, c.seq, c.heading, c.page, c.byte_off, c.byte_len, c.n_words,"
                    " c.text FROM chunks c JOIN documents d ON d.id = c.doc_id"
                    " ORDER BY d.path, c.seq",
                    "SELECT d.path, c.seq, c.heading, c.page, c.byte_off, c.byte_len, c.n_words,"
                    " c.text FROM frugal_chunks c JOIN frugal_documents d ON d.id = c.doc_id"
                    " ORDER BY d.path, c.seq",
                    "chunks");
    fr_kb_stats a, b;
    CHECK(fr_kb_stats_get(sq, &a, &err) == FR_OK);
    CHECK_MSG(fr_kb_stats_get(kb, &b, &err) == FR_OK, "%s", err.msg);
    CHECK_EQ_INT(a.documents, b.documents);
    CHECK_EQ_INT(a.chunks, b.chunks);
    CHECK_EQ_INT(a.words, b.words);
    CHECK(b.terms > 100 && b.db_bytes > 0);
    CHECK_EQ_INT(b.schema_version, 1);

    /* the directory every document lies under (what /v1/ask strips), the
     * same from both stores */
    char want[600], *da = NULL, *dp = NULL;
    snprintf(want, sizeof want, "%s/docs/", g_dir);
    CHECK(fr_kb_common_dir(sq, &da, &err) == FR_OK);
    CHECK_MSG(fr_kb_common_dir(kb, &dp, &err) == FR_OK, "%s", err.msg);
    CHECK_STR(da ? da : "(null)", want);
    CHECK_STR(dp ? dp : "(null)", want);
    free(da);
    free(dp);

    corpus_check_retrieval(kb);
    /* the same top passage (so the same citation) and gate decision */
    static const char *const qs[] = {
        "How much does the Aurora X2 thermometer cost?",
        "How many days do customers have to return an unused product?",
        "How long is the warranty on Brightwater instruments?",
        "How long does the Borealis battery last?",
        "When does the Bergen warehouse open?",
        "SKU-9104K",
        "What is the price of the Zephyr 9000 drone?",
        "Does the Fjord data logger connect over Bluetooth?",
    };
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        fr_kb_hits *x = corpus_ask(sq, qs[i]), *y = corpus_ask(kb, qs[i]);
        if (x && y && x->n && y->n) {
            CHECK_MSG(strcmp(x->v[0].path, y->v[0].path) == 0 &&
                          x->v[0].byte_off == y->v[0].byte_off &&
                          x->v[0].byte_len == y->v[0].byte_len,
                      "%s: sqlite %s@%llu, postgresql %s@%llu", qs[i], x->v[0].path,
                      (unsigned long long)x->v[0].byte_off, y->v[0].path,
                      (unsigned long long)y->v[0].byte_off);
            CHECK_STR(x->fts_query, y->fts_query);
        }
        CHECK_MSG(x && y && x->gate_pass == y->gate_pass, "%s", qs[i]);
        fr_kb_hits_free(x);
        fr_kb_hits_free(y);
    }
    fr_kb_free(sq);
    corpus_check_readonly(g_uri_user, false);

    /* a file name that is not UTF-8 is rejected, the rest indexed */
    char p[700];
    snprintf(p, sizeof p, "%s/odd", g_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/odd/caf\xe9.txt", g_dir);
    FILE *f = fopen(p, "w");
    fputs("A file whose name is Latin-1.", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/odd/fine.txt", g_dir);
    f = fopen(p, "w");
    fputs("A file whose name is ASCII.", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/odd", g_dir);
    const char *paths[1] = {p};
    events ev = {0};
    fr_kb_index_opts o = {0};
    o.on_event = on_event;
    o.user = &ev;
    fr_kb_index_report r;
    CHECK_MSG(fr_kb_index(kb, paths, 1, &o, &r, &err) == FR_OK, "%s", err.msg);
    CHECK_EQ_INT(r.added, 1);
    CHECK_EQ_INT(r.rejected, 1);
    CHECK_MSG(strstr(ev.reasons, "not valid UTF-8") != NULL, "%s", ev.reasons);
    fr_kb_free(kb);
}

static void test_schema_pg(void)
{
    fr_err err;
    fr_kb *kb = NULL;
    /* a newer frugal wrote it */
    psql(g_uri_user, "UPDATE frugal_meta SET value = '99' WHERE key = 'schema_version'");
    char uri[1100];
    CHECK_EQ_INT(fr_kb_open(g_uri_user, false, &kb, &err), FR_E_FORMAT);
    CHECK_MSG(strstr(err.msg, "schema version 99") && strstr(err.msg, "upgrade frugal"), "%s",
              err.msg);
    CHECK_EQ_INT(fr_kb_open_readonly(g_uri_user, &kb, &err), FR_E_FORMAT);
    psql(g_uri_user, "DELETE FROM frugal_meta WHERE key = 'schema_version'");
    CHECK_EQ_INT(fr_kb_open(g_uri_user, true, &kb, &err), FR_E_FORMAT);
    CHECK_MSG(strstr(err.msg, "without a schema version") != NULL, "%s", err.msg);
    psql(g_uri_user, "INSERT INTO frugal_meta VALUES ('schema_version', '1')");
    CHECK_EQ_INT(fr_kb_open(g_uri_user, false, &kb, &err), FR_OK);
    fr_kb_free(kb);
    kb = NULL;
    /* database "frugal" belongs to the superuser: role kb may not create
     * tables in its public schema (PostgreSQL 15) */
    snprintf(uri, sizeof uri, "%s", g_uri_user);
    char *d = strstr(uri, "///kb?");
    if (d) {
        memmove(d + 9, d + 5, strlen(d + 5) + 1);
        memcpy(d, "///frugal", 9);
    }
    CHECK_EQ_INT(fr_kb_open(uri, true, &kb, &err), FR_E_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "creating the knowledge base failed") &&
                  strstr(err.msg, "pg_trgm"),
              "%s", err.msg);
    /* another application's table of the same name */
    psql(g_uri, "CREATE TABLE frugal_documents(x int)");
    CHECK_EQ_INT(fr_kb_open(g_uri, true, &kb, &err), FR_E_FORMAT);
    CHECK_MSG(strstr(err.msg, "not a frugal knowledge base") != NULL, "%s", err.msg);
    psql(g_uri, "DROP TABLE frugal_documents");
}

/* ---- concurrency ------------------------------------------------------------ */

#define CONC_FILES 4
#define CONC_ROUNDS 12

/* Writes file i at version v atomically (temp + rename): six sentences
 * that each carry the version, about ten words each, so that at 20 words a
 * chunk the document has several chunks. */
static void conc_write(const char *dir, int i, int v)
{
    char tmp[700], p[700];
    snprintf(tmp, sizeof tmp, "%s/.tmp%d", dir, i);
    snprintf(p, sizeof p, "%s/c%d.txt", dir, i);
    FILE *f = fopen(tmp, "w");
    for (int s = 0; s < 6; s++)
        fprintf(f, "Zebra marker v%d of file %d holds sentence %d of the report. ", v, i, s);
    fclose(f);
    CHECK(rename(tmp, p) == 0);
}

static void conc_index(fr_kb *kb, const char *dir)
{
    const char *paths[1] = {dir};
    fr_kb_index_opts o = {0};
    o.max_words = 20;
    fr_kb_index_report r;
    fr_err err;
    CHECK_MSG(fr_kb_index(kb, paths, 1, &o, &r, &err) == FR_OK, "index: %s", err.msg);
}

/* Documents whose chunks are not all there, and totals that disagree with
 * the rows: 0 in a consistent snapshot. */
static const char conc_consistent_sql[] =
    "SELECT (SELECT count(*) FROM frugal_documents d WHERE d.n_chunks <>"
    " (SELECT count(*) FROM frugal_chunks c WHERE c.doc_id = d.id))"
    " + (SELECT count(*) FROM frugal_totals t WHERE t.n_chunks <>"
    " (SELECT count(*) FROM frugal_chunks) OR t.n_words <>"
    " (SELECT coalesce(sum(n_words), 0) FROM frugal_chunks))";

/* One process: waits for the start byte, then does its part. */
static int conc_child(int role, int go, const char *dir, const char *stop_file)
{
    fr_test_failures = 0;
    char c;
    if (read(go, &c, 1) != 1)
        return 2;
    fr_kb *kb = NULL;
    fr_err err;
    if (role < 2) {
        /* both indexers open an empty database at the same moment */
        if (fr_kb_open(g_uri, true, &kb, &err) != FR_OK) {
            fprintf(stderr, "indexer %d: %s\n", role, err.msg);
            return 1;
        }
        for (int v = 1; v <= CONC_ROUNDS; v++) {
            if (role == 0)
                conc_write(dir, v % CONC_FILES, v);
            conc_index(kb, dir);
        }
    } else {
        /* the reader: until the indexers are done */
        for (int tries = 0; !kb && tries < 200; tries++)
            if (fr_kb_open_readonly(g_uri, &kb, &err) != FR_OK)
                usleep(20000);
        CHECK_MSG(kb != NULL, "reader: %s", err.msg);
        int reads = 0;
        while (kb && access(stop_file, F_OK) != 0) {
            fr_kb_hits *h = NULL;
            fr_kb_retrieve_opts o = {0};
            o.k = 30;
            o.gate_min = -1;
            if (fr_kb_retrieve(kb, "zebra marker report sentence", &o, &h, &err) != FR_OK) {
                CHECK_MSG(false, "reader: %s", err.msg);
                break;
            }
            int ver[CONC_FILES] = {0};
            for (size_t i = 0; i < h->n; i++) {
                int v = 0, file = -1;
                const char *t = strstr(h->v[i].text, "marker v");
                if (t && sscanf(t, "marker v%d of file %d", &v, &file) == 2 && file >= 0 &&
                    file < CONC_FILES) {
                    CHECK_MSG(ver[file] == 0 || ver[file] == v,
                              "one retrieval saw versions %d and %d of file %d", ver[file], v,
                              file);
                    ver[file] = v;
                }
            }
            fr_kb_hits_free(h);
            CHECK_STR(psql(g_uri, conc_consistent_sql), "0");
            reads++;
        }
        CHECK_MSG(reads > 0, "the reader never read");
    }
    fr_kb_free(kb);
    return fr_test_failures ? 1 : 0;
}

static void test_concurrency(void)
{
    char dir[600], stop_file[700];
    snprintf(dir, sizeof dir, "%s/conc", g_dir);
    snprintf(stop_file, sizeof stop_file, "%s/stop", g_dir);
    mkdir(dir, 0755);
    for (int i = 0; i < CONC_FILES; i++)
        conc_write(dir, i, 0);
    int pipes[3][2];
    pid_t pid[3];
    fflush(NULL);
    for (int r = 0; r < 3; r++) {
        CHECK(pipe(pipes[r]) == 0);
        pid[r] = fork();
        if (pid[r] == 0) {
            for (int k = 0; k <= r; k++)
                close(pipes[k][1]);
            _exit(conc_child(r, pipes[r][0], dir, stop_file));
        }
        close(pipes[r][0]);
    }
    for (int r = 0; r < 3; r++) /* go */
        CHECK(write(pipes[r][1], "g", 1) == 1);
    for (int r = 0; r < 3; r++) {
        if (r == 2) {
            FILE *f = fopen(stop_file, "w");
            fclose(f);
        }
        int st = 0;
        CHECK(waitpid(pid[r], &st, 0) == pid[r]);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d failed (status %d)", r, st);
        close(pipes[r][1]);
    }
    /* the end state: every file's last version, whole */
    fr_kb *kb = NULL;
    fr_err err;
    CHECK_MSG(fr_kb_open(g_uri, false, &kb, &err) == FR_OK, "%s", err.msg);
    if (!kb)
        return;
    const char *paths[1] = {dir};
    fr_kb_index_opts o = {0};
    o.max_words = 20;
    fr_kb_index_report r;
    CHECK(fr_kb_index(kb, paths, 1, &o, &r, &err) == FR_OK);
    CHECK_EQ_INT(r.skipped, CONC_FILES);
    CHECK_EQ_INT(r.added + r.updated + r.removed + r.rejected, 0);
    fr_kb_free(kb);
    CHECK_STR(psql(g_uri, "SELECT count(*) FROM frugal_documents"), "4");
    CHECK_STR(psql(g_uri, conc_consistent_sql), "0");
    CHECK_STR(psql(g_uri, "SELECT min(n_chunks) > 1 FROM frugal_documents"), "t");
}

int main(void)
{
    fr_test_tmpdir(g_dir, sizeof g_dir);
    start_cluster();
    test_parity();
    test_schema_pg();
    test_concurrency();
    stop_cluster();
    corpus_remove_dir();
    TEST_END();
}
#endif
