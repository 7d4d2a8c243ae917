/*
 * store_pg.c - the PostgreSQL store: the knowledge base in a database the
 * team already runs, for several indexers and servers on several machines
 * (compiled only when libpq is found; see CMakeLists.txt).
 *
 * Schema (version 1), created by frugal on first use, all names prefixed
 * frugal_ because the database is shared with other applications:
 *   frugal_meta(key, value)           schema_version, created_by
 *   frugal_documents(id, path UNIQUE (bytewise), hash, size, format, title,
 *                    n_chunks, n_words, n_bytes, n_repairs)
 *   frugal_chunks(id, doc_id -> frugal_documents ON DELETE CASCADE, seq,
 *                 heading, page, byte_off, byte_len, n_words, text,
 *                 tsv = text (weight A) || heading (weight B),
 *                 tf = {lexeme: weighted frequency}; both set by a trigger)
 *                 GIN on tsv (full-text search), GIN gin_trgm_ops on text
 *   frugal_totals(n_chunks, n_words, n_bytes)   one row: BM25's N and avgdl
 *                 without a scan of the chunks
 *   frugal_ts     text search configuration: the default parser, unaccent
 *                 then the Snowball English stemmer without a stopword list
 *                 (as SQLite's "porter unicode61 remove_diacritics 2", which
 *                 keeps every word: the question side drops its stopwords)
 * plus the pg_trgm and unaccent extensions (contrib; trusted since
 * PostgreSQL 13, so the database owner may create them; on 12 a superuser
 * creates them first).
 *
 * Ranking. PostgreSQL's ts_rank has no inverse document frequency, and
 * ranking an OR of the question's words without it lets "patients" outvote
 * "mitochondria". So the words list is BM25 computed in SQL, with the
 * constants of SQLite's FTS5 (k1 1.2, b 0.75, IDF log((N-df+0.5)/(df+0.5))
 * floored at 1e-6, heading weight 0.5): each question word becomes a phrase
 * query (phraseto_tsquery, so "1,299.00" stays one term and no input is
 * query syntax), its matches come from the GIN index, df is the number of
 * matches, tf comes from the chunk's stored tf map. The codes list is
 * BM25 over case-insensitive substring hits (ILIKE, answered by the trigram
 * index), tf the number of occurrences and the length in bytes: what FTS5's
 * trigram index computes for a quoted code. Rank fusion and the gate are
 * retrieval's (retrieve.c), the same for both stores.
 *
 * Concurrency: each document is written in one transaction (a savepoint
 * inside a caller's transaction) that first takes a transaction-scoped
 * advisory lock on the document's path, so two indexers writing one path
 * queue instead of failing on the unique path; the schema is created under
 * another advisory lock, so two first runs do not race. A retrieval reads
 * one REPEATABLE READ snapshot, so a server never sees a document half
 * replaced, nor a chunk vanish between ranking and fetching. frugal_totals
 * is updated last in each transaction, so its row lock is held briefly.
 *
 * Text is UTF-8 in PostgreSQL: chunk text is valid UTF-8 by construction
 * (the extractors repair it), a title is repaired here, and a path that is
 * not UTF-8 is rejected (the indexer reports the file). NOTICEs from the
 * server are dropped: the library never prints.
 */
#include "rag/kb.h"

#include "base/buf.h"
#include "rag/chunk.h"
#include "rag/text.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_SCHEMA_VERSION 1
#define PG_LOCK_CLASS 1718773095 /* "frug": advisory locks' first key */
#define PG_LOCK_SCHEMA 1         /* second key of the schema lock (the path lock uses
                                    class + 1 and hashtext(path)) */
#define PG_MIN_SERVER 120000     /* WITH ... AS MATERIALIZED */
#define PG_INSERT_BATCH 64       /* chunks per INSERT statement */

#define PG_PREPARED_MAX 32 /* statements prepared per connection */

typedef struct kb_pg {
    fr_kb base;
    PGconn *conn;
    char *prepared[PG_PREPARED_MAX]; /* SQL of statement "fr<i>" (owned) */
    int n_prepared;
} kb_pg;

static PGconn *CONN(fr_kb *kb) { return ((kb_pg *)kb)->conn; }

static const char *const pg_schema[] = {
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH DICTIONARY frugal_stem (TEMPLATE = pg_catalog.snowball,"
    " LANGUAGE = english)",
    "CREATE TEXT SEARCH CONFIGURATION frugal_ts (COPY = pg_catalog.english)",
    "ALTER TEXT SEARCH CONFIGURATION frugal_ts ALTER MAPPING FOR asciiword, asciihword,"
    " hword_asciipart, word, hword, hword_part WITH unaccent, frugal_stem",
    "CREATE TABLE frugal_meta(key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE frugal_documents(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " path text COLLATE \"C\" NOT NULL UNIQUE, hash text NOT NULL, size bigint NOT NULL,"
    " format text NOT NULL, title text, n_chunks integer NOT NULL, n_words bigint NOT NULL,"
    " n_bytes bigint NOT NULL, n_repairs bigint NOT NULL DEFAULT 0)",
    "CREATE TABLE frugal_chunks(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " doc_id bigint NOT NULL REFERENCES frugal_documents(id) ON DELETE CASCADE,"
    " seq integer NOT NULL, heading text, page integer NOT NULL, byte_off bigint NOT NULL,"
    " byte_len bigint NOT NULL, n_words integer NOT NULL, text text NOT NULL,"
    " tsv tsvector NOT NULL, tf jsonb NOT NULL)",
    /* tsv: the words of text (weight A) and heading (B); tf: their weighted
     * frequencies {"lexeme": A + 0.5 B}, what BM25 needs of each matching
     * chunk, stored because taking a tsvector apart at query time (unnest)
     * costs a quarter of a millisecond per chunk. A trigger rather than
     * generated columns, so that the text is parsed once. */
    "CREATE FUNCTION frugal_chunks_terms() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " NEW.tsv := setweight(to_tsvector('frugal_ts'::regconfig, NEW.text), 'A')"
    " || setweight(to_tsvector('frugal_ts'::regconfig, coalesce(NEW.heading, '')), 'B');"
    " NEW.tf := (SELECT coalesce(jsonb_object_agg(u.lexeme, cardinality(u.weights)"
    " - 0.5 * cardinality(array_positions(u.weights, 'B'))), '{}') FROM unnest(NEW.tsv) u);"
    " RETURN NEW; END $$",
    "CREATE TRIGGER frugal_chunks_terms BEFORE INSERT OR UPDATE ON frugal_chunks"
    " FOR EACH ROW EXECUTE FUNCTION frugal_chunks_terms()",
    "CREATE INDEX frugal_chunks_doc ON frugal_chunks(doc_id)",
    /* fastupdate off: a pending list (flushed only by VACUUM or when it is
     * full) makes every search scan it, and a knowledge base is written a
     * document at a time while it is searched */
    "CREATE INDEX frugal_chunks_tsv ON frugal_chunks USING gin(tsv) WITH (fastupdate = off)",
    /* (the trigram index keeps its pending list: a chunk adds a thousand
     * trigrams, writing them one by one doubles the indexing time, and only
     * questions with codes search it) */
    "CREATE INDEX frugal_chunks_trgm ON frugal_chunks USING gin(text gin_trgm_ops)",
    "CREATE TABLE frugal_totals(one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " n_chunks bigint NOT NULL, n_words bigint NOT NULL, n_bytes bigint NOT NULL)",
    "INSERT INTO frugal_totals(n_chunks, n_words, n_bytes) VALUES (0, 0, 0)",
};

/* BM25 over the question's words; $1 the words, one per line; $2 depth. */
static const char pg_rank_words[] =
    "WITH w AS MATERIALIZED ("
    " SELECT t.ord, phraseto_tsquery('frugal_ts', t.word) AS q,"
    "  tsvector_to_array(to_tsvector('frugal_ts', t.word)) AS lex"
    " FROM unnest(string_to_array($1, E'\\n')) WITH ORDINALITY AS t(word, ord)),"
    " m AS MATERIALIZED ("
    " SELECT c.id, w.ord, c.n_words,"
    "  CASE WHEN cardinality(w.lex) = 1 THEN coalesce((c.tf -> w.lex[1])::float8, 0)"
    "  ELSE (SELECT min(coalesce((c.tf -> l)::float8, 0)) FROM unnest(w.lex) l) END AS tf"
    " FROM w JOIN frugal_chunks c ON c.tsv @@ w.q WHERE cardinality(w.lex) > 0),"
    " df AS (SELECT ord, count(*)::float8 AS df FROM m GROUP BY ord),"
    " tot AS (SELECT greatest(n_chunks, 1)::float8 AS n, CASE WHEN n_chunks > 0"
    "  THEN n_words::float8 / n_chunks ELSE 1 END AS avgdl FROM frugal_totals)"
    " SELECT m.id FROM m JOIN df USING (ord) CROSS JOIN tot GROUP BY m.id"
    " ORDER BY sum(greatest(ln((tot.n - df.df + 0.5) / (df.df + 0.5)), 1e-6) * m.tf * 2.2"
    "  / (m.tf + 1.2 * (0.25 + 0.75 * m.n_words / tot.avgdl))) DESC, m.id"
    " LIMIT $2";

/* BM25 over substring hits of the codes; $1 the codes (lowercase), $2 their
 * ILIKE patterns, one per line; $3 depth. */
static const char pg_rank_codes[] =
    "WITH w AS MATERIALIZED ("
    " SELECT a.ord, a.code, b.pat"
    " FROM unnest(string_to_array($1, E'\\n')) WITH ORDINALITY AS a(code, ord)"
    " JOIN unnest(string_to_array($2, E'\\n')) WITH ORDINALITY AS b(pat, ord) USING (ord)),"
    " m AS MATERIALIZED ("
    " SELECT c.id, w.ord, octet_length(c.text)::float8 AS len,"
    "  ((octet_length(lower(c.text)) - octet_length(replace(lower(c.text), w.code, '')))"
    "   / octet_length(w.code))::float8 AS tf"
    " FROM w JOIN frugal_chunks c ON c.text ILIKE w.pat),"
    " df AS (SELECT ord, count(*)::float8 AS df FROM m GROUP BY ord),"
    " tot AS (SELECT greatest(n_chunks, 1)::float8 AS n, CASE WHEN n_chunks > 0"
    "  THEN n_bytes::float8 / n_chunks ELSE 1 END AS avgdl FROM frugal_totals)"
    " SELECT m.id FROM m JOIN df USING (ord) CROSS JOIN tot GROUP BY m.id"
    " ORDER BY sum(greatest(ln((tot.n - df.df + 0.5) / (df.df + 0.5)), 1e-6) * m.tf * 2.2"
    "  / (m.tf + 1.2 * (0.25 + 0.75 * m.len / tot.avgdl))) DESC, m.id"
    " LIMIT $3";

static void no_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* "message (detail; hint)" of a failed result, or the connection's error. */
static void pg_msg(PGconn *c, const PGresult *r, char *out, size_t n)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (m) {
        const char *d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        const char *h = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
        snprintf(out, n, "%s%s%s%s%s%s", m, d || h ? " (" : "", d ? d : "", d && h ? "; " : "",
                 h ? h : "", d || h ? ")" : "");
    } else {
        snprintf(out, n, "%s", c ? PQerrorMessage(c) : "out of memory");
    }
    size_t l = strlen(out);
    while (l > 0 && (out[l - 1] == '\n' || out[l - 1] == ' '))
        out[--l] = '\0';
}

static fr_status pg_fail(fr_kb *kb, const PGresult *r, fr_err *err, const char *what)
{
    char m[FR_ERR_MSG_MAX];
    pg_msg(CONN(kb), r, m, sizeof m);
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    fr_status st = code && strcmp(code, "53200") == 0 ? FR_E_NOMEM /* out_of_memory */
                                                      : FR_E_IO;
    return fr_err_set(err, st, "%s: %s: %s", kb->name, what, m);
}

/* The name of a prepared statement for sql, preparing it on first use
 * (parsed once per connection; planned at every execution, see
 * plan_cache_mode below); NULL when the cache is full. */
static const char *prepared(fr_kb *kb, const char *sql, int n, PGresult **fail)
{
    kb_pg *k = (kb_pg *)kb;
    static const char *const names[PG_PREPARED_MAX] = {
        "fr0",  "fr1",  "fr2",  "fr3",  "fr4",  "fr5",  "fr6",  "fr7",  "fr8",  "fr9",  "fr10",
        "fr11", "fr12", "fr13", "fr14", "fr15", "fr16", "fr17", "fr18", "fr19", "fr20", "fr21",
        "fr22", "fr23", "fr24", "fr25", "fr26", "fr27", "fr28", "fr29", "fr30", "fr31"};
    for (int i = 0; i < k->n_prepared; i++)
        if (strcmp(k->prepared[i], sql) == 0)
            return names[i];
    if (k->n_prepared == PG_PREPARED_MAX)
        return NULL;
    char *copy = strdup(sql);
    if (!copy)
        return NULL;
    PGresult *r = PQprepare(CONN(kb), names[k->n_prepared], sql, n, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        free(copy);
        *fail = r;
        return NULL;
    }
    PQclear(r);
    k->prepared[k->n_prepared] = copy;
    return names[k->n_prepared++];
}

/* Runs a statement with text parameters; NULL (err set) unless it
 * succeeded. Owned by caller: PQclear. */
static PGresult *pg_run(fr_kb *kb, const char *sql, int n, const char *const *params, fr_err *err,
                        const char *what)
{
    PGresult *r = NULL;
    const char *name = prepared(kb, sql, n, &r);
    if (name)
        r = PQexecPrepared(CONN(kb), name, n, params, NULL, NULL, 0);
    else if (!r)
        r = PQexecParams(CONN(kb), sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return r;
    pg_fail(kb, r, err, what);
    PQclear(r);
    return NULL;
}

/* Runs SQL without parameters or results (several statements allowed). */
static fr_status pg_exec(fr_kb *kb, const char *sql, fr_err *err, const char *what)
{
    PGresult *r = PQexec(CONN(kb), sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    fr_status st = FR_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        st = pg_fail(kb, r, err, what);
    PQclear(r);
    return st;
}

/* One integer from row 0, column col; FR_E_NOTFOUND for no row. */
static fr_status pg_int(fr_kb *kb, const char *sql, const char *arg, int col, int64_t *out,
                        fr_err *err, const char *what)
{
    const char *p[1] = {arg};
    PGresult *r = pg_run(kb, sql, arg ? 1 : 0, p, err, what);
    if (!r)
        return err ? err->code : FR_E_IO;
    fr_status st = FR_OK;
    if (PQntuples(r) < 1 || PQnfields(r) <= col)
        st = FR_E_NOTFOUND;
    else
        *out = PQgetisnull(r, 0, col) ? 0 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
    PQclear(r);
    return st;
}

static bool in_tx(fr_kb *kb) { return PQtransactionStatus(CONN(kb)) != PQTRANS_IDLE; }

/* Starts the write transaction of one document: BEGIN, or a savepoint
 * inside the caller's transaction; then the advisory lock on the path. */
static fr_status doc_tx_begin(fr_kb *kb, const char *path, bool *nested, fr_err *err)
{
    *nested = in_tx(kb);
    fr_status st = pg_exec(kb, *nested ? "SAVEPOINT fr_doc" : "BEGIN", err, "begin");
    if (st)
        return st;
    char cls[16];
    snprintf(cls, sizeof cls, "%d", PG_LOCK_CLASS + 1);
    const char *p[2] = {cls, path};
    PGresult *r = pg_run(kb, "SELECT pg_advisory_xact_lock($1::int, hashtext($2))", 2, p, err,
                         "lock the document");
    if (!r) {
        pg_exec(kb, *nested ? "ROLLBACK TO SAVEPOINT fr_doc; RELEASE SAVEPOINT fr_doc" : "ROLLBACK",
                NULL, "rollback");
        return err ? err->code : FR_E_IO;
    }
    PQclear(r);
    return FR_OK;
}

static fr_status doc_tx_end(fr_kb *kb, bool nested, fr_status st, fr_err *err)
{
    if (st) {
        pg_exec(kb, nested ? "ROLLBACK TO SAVEPOINT fr_doc; RELEASE SAVEPOINT fr_doc" : "ROLLBACK",
                NULL, "rollback");
        return st;
    }
    return pg_exec(kb, nested ? "RELEASE SAVEPOINT fr_doc" : "COMMIT", err, "commit");
}

/* Deletes the document at path inside the open transaction; *found, and
 * the totals it took away (added to d[0..2] as negatives). */
static fr_status delete_doc(fr_kb *kb, const char *path, bool *found, int64_t d[3], fr_err *err)
{
    const char *p[1] = {path};
    PGresult *r = pg_run(kb,
                         "DELETE FROM frugal_documents WHERE path = $1"
                         " RETURNING n_chunks, n_words, n_bytes",
                         1, p, err, "delete");
    if (!r)
        return err ? err->code : FR_E_IO;
    *found = PQntuples(r) > 0;
    for (int i = 0; *found && i < 3; i++)
        d[i] -= strtoll(PQgetvalue(r, 0, i), NULL, 10);
    PQclear(r);
    return FR_OK;
}

static fr_status update_totals(fr_kb *kb, const int64_t d[3], fr_err *err)
{
    if (d[0] == 0 && d[1] == 0 && d[2] == 0)
        return FR_OK;
    char a[3][24];
    for (int i = 0; i < 3; i++)
        snprintf(a[i], sizeof a[i], "%" PRId64, d[i]);
    const char *p[3] = {a[0], a[1], a[2]};
    PGresult *r = pg_run(kb,
                         "UPDATE frugal_totals SET n_chunks = n_chunks + $1,"
                         " n_words = n_words + $2, n_bytes = n_bytes + $3",
                         3, p, err, "update totals");
    if (!r)
        return err ? err->code : FR_E_IO;
    bool one = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!one)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: the frugal_totals row is missing: the knowledge base was changed "
                          "outside frugal (re-create it)",
                          kb->name);
    return FR_OK;
}

static fr_status pg_remove(fr_kb *kb, const char *path, bool *found, fr_err *err)
{
    *found = false;
    if (!fr_utf8_valid(path, strlen(path), NULL))
        return FR_OK; /* could never have been stored */
    bool nested;
    fr_status st = doc_tx_begin(kb, path, &nested, err);
    if (st)
        return st;
    int64_t d[3] = {0, 0, 0};
    st = delete_doc(kb, path, found, d, err);
    if (st == FR_OK)
        st = update_totals(kb, d, err);
    return doc_tx_end(kb, nested, st, err);
}

/* Inserts chunks[0..n) of document doc_id, numbered from seq0, in one
 * statement. */
static fr_status insert_chunks(fr_kb *kb, const char *doc_id, const fr_chunk *c, size_t n,
                               size_t seq0, fr_err *err)
{
    enum { NP = 8 };
    const char *p[PG_INSERT_BATCH * NP];
    char num[PG_INSERT_BATCH][5][24];
    fr_buf sql = FR_BUF_INIT;
    fr_buf_puts(&sql, "INSERT INTO frugal_chunks(doc_id, seq, heading, page, byte_off, byte_len,"
                      " n_words, text) VALUES ");
    for (size_t i = 0; i < n; i++) {
        size_t b = i * NP;
        fr_buf_printf(&sql, "%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu)", i ? ", " : "",
                      b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8);
        snprintf(num[i][0], 24, "%zu", seq0 + i);
        snprintf(num[i][1], 24, "%d", c[i].page);
        snprintf(num[i][2], 24, "%" PRIu64, c[i].src_off);
        snprintf(num[i][3], 24, "%" PRIu64, c[i].src_len);
        snprintf(num[i][4], 24, "%zu", c[i].n_words);
        p[b + 0] = doc_id;
        p[b + 1] = num[i][0];
        p[b + 2] = c[i].heading; /* NULL: SQL NULL */
        p[b + 3] = num[i][1];
        p[b + 4] = num[i][2];
        p[b + 5] = num[i][3];
        p[b + 6] = num[i][4];
        p[b + 7] = c[i].text;
    }
    if (!fr_buf_ok(&sql)) {
        fr_buf_free(&sql);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    PGresult *r = pg_run(kb, sql.data, (int)(n * NP), p, err, "insert chunks");
    fr_buf_free(&sql);
    if (!r)
        return err ? err->code : FR_E_IO;
    PQclear(r);
    return FR_OK;
}

static fr_status pg_put(fr_kb *kb, const fr_kb_doc_row *d, const fr_chunk *chunks, size_t nc,
                        bool *replaced, fr_err *err)
{
    *replaced = false;
    if (!fr_utf8_valid(d->path, strlen(d->path), NULL))
        return fr_err_set(err, FR_E_FORMAT,
                          "file name is not valid UTF-8, which a postgresql:// knowledge base "
                          "cannot store");
    for (size_t i = 0; i < nc; i++)
        if (strlen(chunks[i].text) != chunks[i].len ||
            !fr_utf8_valid(chunks[i].text, chunks[i].len, NULL) ||
            (chunks[i].heading && !fr_utf8_valid(chunks[i].heading, strlen(chunks[i].heading), NULL)))
            return fr_err_set(err, FR_E_INTERNAL, "%s: chunk %zu is not valid UTF-8 text",
                              d->path, i);
    fr_buf title = FR_BUF_INIT;
    if (d->title)
        fr_utf8_repair(d->title, strlen(d->title), &title);
    int64_t words = 0, bytes = 0;
    for (size_t i = 0; i < nc; i++) {
        words += (int64_t)chunks[i].n_words;
        bytes += (int64_t)chunks[i].len;
    }
    bool nested;
    fr_status st = doc_tx_begin(kb, d->path, &nested, err);
    if (st) {
        fr_buf_free(&title);
        return st;
    }
    int64_t delta[3] = {(int64_t)nc, words, bytes};
    PGresult *r = NULL;
    if ((st = delete_doc(kb, d->path, replaced, delta, err)))
        goto end;
    char a[6][24];
    snprintf(a[0], 24, "%" PRIu64, d->size);
    snprintf(a[1], 24, "%zu", nc);
    snprintf(a[2], 24, "%" PRId64, words);
    snprintf(a[3], 24, "%" PRId64, bytes);
    snprintf(a[4], 24, "%" PRIu64, d->n_repairs);
    const char *p[9] = {d->path, d->hash, a[0], d->format, d->title ? title.data : NULL,
                        a[1], a[2], a[3], a[4]};
    if (d->title && !fr_buf_ok(&title)) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto end;
    }
    r = pg_run(kb,
               "INSERT INTO frugal_documents(path, hash, size, format, title, n_chunks, n_words,"
               " n_bytes, n_repairs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
               9, p, err, "insert document");
    if (!r) {
        st = err ? err->code : FR_E_IO;
        goto end;
    }
    snprintf(a[5], 24, "%s", PQgetvalue(r, 0, 0));
    for (size_t i = 0; i < nc && st == FR_OK; i += PG_INSERT_BATCH) {
        size_t n = nc - i < PG_INSERT_BATCH ? nc - i : PG_INSERT_BATCH;
        st = insert_chunks(kb, a[5], chunks + i, n, i, err);
    }
    if (st == FR_OK)
        st = update_totals(kb, delta, err);
end:
    PQclear(r);
    fr_buf_free(&title);
    return doc_tx_end(kb, nested, st, err);
}

static fr_status pg_doc_hash(fr_kb *kb, const char *path, char hash[65], fr_err *err)
{
    if (!fr_utf8_valid(path, strlen(path), NULL))
        return FR_E_NOTFOUND;
    const char *p[1] = {path};
    PGresult *r = pg_run(kb, "SELECT hash FROM frugal_documents WHERE path = $1", 1, p, err,
                         "lookup");
    if (!r)
        return err ? err->code : FR_E_IO;
    fr_status st = FR_E_NOTFOUND;
    if (PQntuples(r) > 0) {
        snprintf(hash, 65, "%s", PQgetvalue(r, 0, 0));
        st = FR_OK;
    }
    PQclear(r);
    return st;
}

static fr_status pg_list(fr_kb *kb, const char *path, bool under, fr_kb_path_fn fn, void *user,
                         fr_err *err)
{
    if (!fr_utf8_valid(path, strlen(path), NULL))
        return FR_OK;
    /* path's descendants are the strings in [path + "/", path + "0"): '0'
     * follows '/' in byte order, and the column's collation is "C" */
    fr_buf lo = FR_BUF_INIT, hi = FR_BUF_INIT;
    fr_buf_printf(&lo, "%s/", path);
    fr_buf_printf(&hi, "%s0", path);
    if (!fr_buf_ok(&lo) || !fr_buf_ok(&hi)) {
        fr_buf_free(&lo);
        fr_buf_free(&hi);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    const char *p[2] = {under ? lo.data : path, hi.data};
    PGresult *r = under ? pg_run(kb,
                                 "SELECT path FROM frugal_documents WHERE path >= $1 AND"
                                 " path < $2 ORDER BY path",
                                 2, p, err, "list documents")
                        : pg_run(kb, "SELECT path FROM frugal_documents WHERE path = $1", 1, p,
                                 err, "list documents");
    fr_buf_free(&lo);
    fr_buf_free(&hi);
    if (!r)
        return err ? err->code : FR_E_IO;
    fr_status st = FR_OK;
    for (int i = 0; i < PQntuples(r) && st == FR_OK; i++)
        if (!fn(user, PQgetvalue(r, i, 0)))
            st = fr_err_set(err, FR_E_NOMEM, "out of memory listing documents");
    PQclear(r);
    return st;
}

/* min and max over the path index (collation "C": byte order) */
static fr_status pg_path_range(fr_kb *kb, char **first, char **last, fr_err *err)
{
    *first = *last = NULL;
    PGresult *r = pg_run(kb, "SELECT min(path), max(path) FROM frugal_documents", 0, NULL, err,
                         "document paths");
    if (!r)
        return err ? err->code : FR_E_IO;
    fr_status st = FR_OK;
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) && !PQgetisnull(r, 0, 1)) {
        *first = strdup(PQgetvalue(r, 0, 0));
        *last = strdup(PQgetvalue(r, 0, 1));
        if (!*first || !*last) {
            free(*first);
            free(*last);
            *first = *last = NULL;
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        }
    }
    PQclear(r);
    return st;
}

static fr_status pg_chunk_count(fr_kb *kb, uint64_t *n, fr_err *err)
{
    int64_t v = 0;
    fr_status st = pg_int(kb, "SELECT n_chunks FROM frugal_totals", NULL, 0, &v, err, "count");
    *n = v > 0 ? (uint64_t)v : 0;
    return st == FR_E_NOTFOUND ? fr_err_set(err, FR_E_FORMAT, "%s: frugal_totals is empty",
                                            kb->name)
                               : st;
}

static fr_status pg_df(fr_kb *kb, const char *const *words, size_t n, uint64_t *df, fr_err *err)
{
    fr_buf a = FR_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        df[i] = 0;
        /* a word that is not UTF-8 is in no chunk (every chunk is UTF-8);
         * an empty line keeps the numbering */
        bool ok = fr_utf8_valid(words[i], strlen(words[i]), NULL) && !strchr(words[i], '\n');
        fr_buf_printf(&a, "%s%s", i ? "\n" : "", ok ? words[i] : "");
    }
    if (!fr_buf_ok(&a)) {
        fr_buf_free(&a);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    const char *p[1] = {a.data ? a.data : ""};
    PGresult *r = pg_run(kb,
                         "SELECT t.ord, (SELECT count(*) FROM frugal_chunks c"
                         " WHERE c.tsv @@ phraseto_tsquery('frugal_ts', t.word))"
                         " FROM unnest(string_to_array($1, E'\\n')) WITH ORDINALITY AS t(word, ord)"
                         " WHERE t.word <> ''",
                         1, p, err, "document frequency");
    fr_buf_free(&a);
    if (!r)
        return err ? err->code : FR_E_IO;
    for (int i = 0; i < PQntuples(r); i++) {
        long long ord = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (ord >= 1 && (size_t)ord <= n)
            df[ord - 1] = strtoull(PQgetvalue(r, i, 1), NULL, 10);
    }
    PQclear(r);
    return FR_OK;
}

static fr_status pg_stats(fr_kb *kb, fr_kb_stats *s, fr_err *err)
{
    PGresult *r = pg_run(kb,
                         "SELECT (SELECT count(*) FROM frugal_documents), t.n_chunks, t.n_words,"
                         " (SELECT count(*) FROM ts_stat('SELECT tsv FROM frugal_chunks')),"
                         " pg_total_relation_size('frugal_documents')"
                         " + pg_total_relation_size('frugal_chunks')"
                         " + pg_total_relation_size('frugal_meta')"
                         " + pg_total_relation_size('frugal_totals'),"
                         " (SELECT value::int FROM frugal_meta WHERE key = 'schema_version')"
                         " FROM frugal_totals t",
                         0, NULL, err, "statistics");
    if (!r)
        return err ? err->code : FR_E_IO;
    fr_status st = FR_OK;
    if (PQntuples(r) < 1) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: frugal_totals is empty", kb->name);
    } else {
        uint64_t v[6];
        for (int i = 0; i < 6; i++)
            v[i] = PQgetisnull(r, 0, i) ? 0 : strtoull(PQgetvalue(r, 0, i), NULL, 10);
        s->documents = v[0];
        s->chunks = v[1];
        s->words = v[2];
        s->terms = v[3];
        s->db_bytes = v[4];
        s->schema_version = (int)v[5];
    }
    PQclear(r);
    return st;
}

/* Appends s to b for a LIKE pattern: \ % _ escaped. */
static void like_escape(fr_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '%' || *s == '_')
            fr_buf_putc(b, '\\');
        fr_buf_putc(b, *s);
    }
}

static fr_status pg_rank(fr_kb *kb, fr_kb_rank which, const fr_kb_query *q, int depth,
                         int64_t *ids, int *n, fr_err *err)
{
    *n = 0;
    fr_buf a = FR_BUF_INIT, b = FR_BUF_INIT;
    size_t used = 0;
    if (which == FR_KB_RANK_WORDS) {
        for (size_t i = 0; i < q->n_words; i++) {
            /* invalid UTF-8 would fail the whole statement; such a word can
             * match nothing that is stored anyway */
            if (!fr_utf8_valid(q->words[i], strlen(q->words[i]), NULL) ||
                strchr(q->words[i], '\n'))
                continue;
            fr_buf_printf(&a, "%s%s", used++ ? "\n" : "", q->words[i]);
        }
    } else {
        for (size_t i = 0; i < q->n_codes; i++) {
            const char *c = q->codes[i];
            if (strlen(c) < 3 || strchr(c, '\n') || !fr_utf8_valid(c, strlen(c), NULL))
                continue; /* the trigram index answers nothing shorter */
            if (used++) {
                fr_buf_putc(&a, '\n');
                fr_buf_putc(&b, '\n');
            }
            for (const char *p = c; *p; p++)
                fr_buf_putc(&a, (*p >= 'A' && *p <= 'Z') ? (char)(*p | 0x20) : *p);
            fr_buf_putc(&b, '%');
            like_escape(&b, c);
            fr_buf_putc(&b, '%');
        }
    }
    fr_status st = FR_OK;
    if (!fr_buf_ok(&a) || !fr_buf_ok(&b)) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for retrieval");
        goto done;
    }
    if (used == 0)
        goto done;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", depth);
    PGresult *r;
    if (which == FR_KB_RANK_WORDS) {
        const char *p[2] = {a.data, lim};
        r = pg_run(kb, pg_rank_words, 2, p, err, "full-text ranking");
    } else {
        const char *p[3] = {a.data, b.data, lim};
        r = pg_run(kb, pg_rank_codes, 3, p, err, "trigram ranking");
    }
    if (!r) {
        st = err ? err->code : FR_E_IO;
        goto done;
    }
    for (int i = 0; i < PQntuples(r) && *n < depth; i++)
        ids[(*n)++] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    PQclear(r);
done:
    fr_buf_free(&a);
    fr_buf_free(&b);
    return st;
}

static char *val_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static fr_status pg_fetch(fr_kb *kb, fr_kb_passage *v, size_t n, fr_err *err)
{
    fr_buf ids = FR_BUF_INIT;
    fr_buf_putc(&ids, '{');
    for (size_t i = 0; i < n; i++)
        fr_buf_printf(&ids, "%s%" PRId64, i ? "," : "", v[i].chunk_id);
    fr_buf_putc(&ids, '}');
    if (!fr_buf_ok(&ids)) {
        fr_buf_free(&ids);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    const char *a[1] = {ids.data};
    PGresult *r = pg_run(kb,
                         "SELECT c.id, c.text, c.heading, c.page, c.byte_off, c.byte_len, d.path,"
                         " d.title FROM frugal_chunks c JOIN frugal_documents d"
                         " ON d.id = c.doc_id WHERE c.id = ANY ($1::bigint[])",
                         1, a, err, "fetch passages");
    fr_buf_free(&ids);
    if (!r)
        return err ? err->code : FR_E_IO;
    fr_status st = FR_OK;
    for (size_t i = 0; i < n && st == FR_OK; i++) {
        fr_kb_passage *p = &v[i];
        int row = -1;
        for (int j = 0; j < PQntuples(r) && row < 0; j++)
            if (strtoll(PQgetvalue(r, j, 0), NULL, 10) == p->chunk_id)
                row = j;
        if (row < 0) {
            st = fr_err_set(err, FR_E_INTERNAL, "%s: passage %" PRId64 " vanished during retrieval",
                            kb->name, p->chunk_id);
            break;
        }
        p->text = val_dup(r, row, 1);
        p->heading = val_dup(r, row, 2);
        p->page = (int)strtol(PQgetvalue(r, row, 3), NULL, 10);
        p->byte_off = strtoull(PQgetvalue(r, row, 4), NULL, 10);
        p->byte_len = strtoull(PQgetvalue(r, row, 5), NULL, 10);
        p->path = val_dup(r, row, 6);
        p->title = val_dup(r, row, 7);
        if (!p->text || !p->path)
            st = fr_err_set(err, FR_E_NOMEM, "out of memory fetching a passage");
    }
    PQclear(r);
    return st;
}

static fr_status pg_tx(fr_kb *kb, fr_kb_tx op, fr_err *err)
{
    switch (op) {
    case FR_KB_TX_READ:
        if (in_tx(kb)) /* the caller's transaction is the snapshot */
            return FR_OK;
        kb->read_began =
            pg_exec(kb, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, "begin a read") ==
            FR_OK;
        return kb->read_began ? FR_OK : err ? err->code : FR_E_IO;
    case FR_KB_TX_READ_END: return pg_exec(kb, "COMMIT", err, "end a read");
    case FR_KB_TX_BEGIN: return pg_exec(kb, "BEGIN", err, "begin");
    case FR_KB_TX_COMMIT: return pg_exec(kb, "COMMIT", err, "commit");
    case FR_KB_TX_ROLLBACK: return pg_exec(kb, "ROLLBACK", err, "rollback");
    case FR_KB_TX_SAVEPOINT: return pg_exec(kb, "SAVEPOINT fr_bench", err, "savepoint");
    case FR_KB_TX_ROLLBACK_TO:
        return pg_exec(kb, "ROLLBACK TO SAVEPOINT fr_bench; RELEASE SAVEPOINT fr_bench", err,
                       "rollback to savepoint");
    }
    return fr_err_set(err, FR_E_INTERNAL, "unknown transaction operation %d", (int)op);
}

static void pg_close(fr_kb *kb)
{
    kb_pg *k = (kb_pg *)kb;
    for (int i = 0; i < k->n_prepared; i++)
        free(k->prepared[i]);
    PQfinish(CONN(kb));
    free(kb->name);
    free(kb);
}

static const fr_kb_ops pg_ops = {
    "postgresql", pg_close, pg_put,   pg_remove, pg_doc_hash, pg_list, pg_chunk_count,
    pg_df,        pg_stats, pg_rank, pg_fetch,  pg_tx,   pg_path_range,
};

/* Creates the schema, or checks the one there; under the schema lock. */
static fr_status schema_check(fr_kb *kb, int mode, const char *uri_shown, fr_err *err)
{
    fr_status st = FR_OK;
    bool locked = false;
    int64_t has_meta = 0, has_docs = 0;
again:
    if ((st = pg_int(kb, "SELECT (to_regclass('frugal_meta') IS NOT NULL)::int", NULL, 0,
                     &has_meta, err, "look for the schema")) ||
        (st = pg_int(kb, "SELECT (to_regclass('frugal_documents') IS NOT NULL)::int", NULL, 0,
                     &has_docs, err, "look for the schema")))
        goto done;
    if (!has_meta && !has_docs && mode == 2 && !locked) {
        /* create it under the lock, after looking again: another process
         * may have been creating it. A session lock, taken in a statement
         * of its own before BEGIN, so that the transaction starts after the
         * wait and sees, in its catalog caches too, what the other process
         * committed (a transaction that waited inside keeps its stale
         * negative cache entry for frugal_meta). */
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d, %d)", PG_LOCK_CLASS,
                 PG_LOCK_SCHEMA);
        if ((st = pg_exec(kb, sql, err, "lock the schema")))
            return st;
        locked = true;
        if ((st = pg_exec(kb, "BEGIN", err, "begin")))
            goto done;
        goto again;
    }
    if (!has_meta && has_docs) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: this database has a frugal_documents table but no frugal_meta: "
                        "not a frugal knowledge base",
                        uri_shown);
        goto done;
    }
    if (!has_meta) {
        if (mode != 2) {
            st = fr_err_set(err, FR_E_NOTFOUND,
                            "%s: no frugal knowledge base in this database (create it with "
                            "frugal index --db '%s' DOCS)",
                            uri_shown, uri_shown);
            goto done;
        }
        for (size_t i = 0; i < sizeof pg_schema / sizeof *pg_schema; i++) {
            PGresult *r = PQexec(CONN(kb), pg_schema[i]);
            if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
                char m[FR_ERR_MSG_MAX];
                pg_msg(CONN(kb), r, m, sizeof m);
                st = fr_err_set(err, FR_E_UNSUPPORTED,
                                "%s: creating the knowledge base failed: %s (frugal needs the "
                                "pg_trgm and unaccent extensions of postgresql-contrib and a "
                                "role that may create them and tables: the database owner, or "
                                "run CREATE EXTENSION pg_trgm; CREATE EXTENSION unaccent; as a "
                                "superuser first)",
                                uri_shown, m);
                PQclear(r);
                goto done;
            }
            PQclear(r);
        }
        char ver[16], by[64];
        snprintf(ver, sizeof ver, "%d", PG_SCHEMA_VERSION);
        snprintf(by, sizeof by, "frugal %s", fr_version());
        const char *p[2] = {ver, by};
        PGresult *r = pg_run(kb,
                             "INSERT INTO frugal_meta VALUES ('schema_version', $1),"
                             " ('created_by', $2)",
                             2, p, err, "write the schema version");
        if (!r) {
            st = err ? err->code : FR_E_IO;
            goto done;
        }
        PQclear(r);
    } else {
        int64_t v = 0;
        st = pg_int(kb,
                    "SELECT CASE WHEN value ~ '^[0-9]{1,9}$' THEN value::int ELSE -1 END"
                    " FROM frugal_meta WHERE key = 'schema_version'",
                    NULL, 0, &v, err, "read the schema version");
        st = fr_kb_check_version(uri_shown, st, v, PG_SCHEMA_VERSION, err);
    }
done:
    if (locked) {
        if (st)
            pg_exec(kb, "ROLLBACK", NULL, "rollback"); /* a warning when none is open */
        else
            st = pg_exec(kb, "COMMIT", err, "create the knowledge base");
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d, %d)", PG_LOCK_CLASS,
                 PG_LOCK_SCHEMA);
        pg_exec(kb, sql, NULL, "unlock the schema");
    }
    return st;
}

fr_status fr_kb_pg_open(const char *uri, int mode, fr_kb **out, fr_err *err)
{
    *out = NULL;
    kb_pg *k = calloc(1, sizeof *k);
    fr_kb *kb = &k->base;
    if (!k || !(kb->name = fr_kb_redact_uri(uri))) {
        free(k);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    kb->ops = &pg_ops;
    kb->read_only = mode == 0;
    kb->n_chunks = -1;
    /* the URI may override the first two; client_encoding it may not */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                                "client_encoding", NULL};
    const char *const vals[] = {"10", "frugal", uri, "UTF8", NULL};
    fr_status st = FR_OK;
    k->conn = PQconnectdbParams(keys, vals, 1);
    if (!k->conn) {
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory connecting", kb->name);
        goto fail;
    }
    PQsetNoticeProcessor(k->conn, no_notices, NULL);
    if (PQstatus(k->conn) != CONNECTION_OK) {
        char m[FR_ERR_MSG_MAX];
        pg_msg(k->conn, NULL, m, sizeof m);
        st = fr_err_set(err, FR_E_IO, "%s: cannot connect: %s", kb->name, m);
        goto fail;
    }
    if (PQserverVersion(k->conn) < PG_MIN_SERVER) {
        st = fr_err_set(err, FR_E_UNSUPPORTED,
                        "%s: PostgreSQL %d.%d is too old: the knowledge base needs 12 or newer",
                        kb->name, PQserverVersion(k->conn) / 10000,
                        PQserverVersion(k->conn) % 10000 / 100);
        goto fail;
    }
    /* planned with the actual words each time: a generic plan cannot know
     * whether a word is in three chunks or in all of them */
    if ((st = pg_exec(kb, "SET plan_cache_mode = force_custom_plan", err, "set up the session")))
        goto fail;
    if ((st = schema_check(kb, mode, kb->name, err)))
        goto fail;
    if (mode == 0 &&
        (st = pg_exec(kb, "SET default_transaction_read_only = on", err, "set read-only")))
        goto fail;
    *out = kb;
    return FR_OK;
fail:
    pg_close(kb);
    return st;
}
