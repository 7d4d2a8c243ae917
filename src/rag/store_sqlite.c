/*
 * store_sqlite.c - the SQLite store: one file with the documents, their
 * chunks and two FTS5 indexes (the default knowledge base).
 *
 * Schema (version 1):
 *   meta(key, value)                       schema_version, created_by
 *   documents(id, path UNIQUE, hash, size, format, title, n_chunks, n_repairs)
 *   chunks(id, doc_id -> documents ON DELETE CASCADE, seq, heading, page,
 *          byte_off, byte_len, n_words, text)
 *   chunks_fts  FTS5(text, heading), external content = chunks, tokenizer
 *               "porter unicode61 remove_diacritics 2"
 *   chunks_tri  FTS5(text), external content = chunks, tokenizer "trigram"
 *   chunks_vocab fts5vocab(chunks_fts, row)  for the term count
 * Triggers keep both FTS tables in step with chunks, so deleting a document
 * (one DELETE, cascading) is the whole removal and cannot leave stale index
 * entries behind.
 *
 * Ranking: FTS5's bm25() over chunks_fts (text weight 1, heading 0.5) for
 * the words, and over the trigram index for the codes (a quoted code is a
 * phrase of trigrams: a case-insensitive substring match).
 *
 * The database uses the rollback journal, not WAL: a knowledge base is one
 * file a user can copy, and an index run that changes nothing must leave the
 * file byte-identical (WAL checkpoints rewrite pages). A retrieval reads in
 * one transaction (a shared lock), so a concurrent `frugal index` waits for
 * it (busy timeout 5 s) rather than deleting a chunk between the ranking and
 * the fetch.
 */
#include "rag/kb.h"

#include "rag/chunk.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct kb_sqlite {
    fr_kb base;
    sqlite3 *db;
} kb_sqlite;

static sqlite3 *DB(fr_kb *kb) { return ((kb_sqlite *)kb)->db; }

static const char kb_schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE documents(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
    " hash TEXT NOT NULL, size INTEGER NOT NULL, format TEXT NOT NULL, title TEXT,"
    " n_chunks INTEGER NOT NULL, n_repairs INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY,"
    " doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, heading TEXT, page INTEGER NOT NULL, byte_off INTEGER NOT NULL,"
    " byte_len INTEGER NOT NULL, n_words INTEGER NOT NULL, text TEXT NOT NULL);"
    "CREATE INDEX chunks_doc ON chunks(doc_id);"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, content='chunks',"
    " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');"
    "CREATE VIRTUAL TABLE chunks_tri USING fts5(text, content='chunks', content_rowid='id',"
    " tokenize='trigram');"
    "CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, row);"
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN"
    " INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);"
    " INSERT INTO chunks_tri(rowid, text) VALUES (new.id, new.text); END;"
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN"
    " INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)"
    "  VALUES ('delete', old.id, old.text, old.heading);"
    " INSERT INTO chunks_tri(chunks_tri, rowid, text) VALUES ('delete', old.id, old.text); END;";

/* Sets err from the database's last error, with a prefix naming the step. */
static fr_status sql_err(fr_kb *kb, fr_err *err, const char *what)
{
    int code = sqlite3_errcode(DB(kb));
    fr_status st = code == SQLITE_NOMEM ? FR_E_NOMEM
                   : (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? FR_E_FORMAT
                                                                       : FR_E_IO;
    return fr_err_set(err, st, "%s: %s: %s", kb->name, what, sqlite3_errmsg(DB(kb)));
}

static fr_status exec(fr_kb *kb, const char *sql, fr_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(DB(kb), sql, NULL, NULL, &msg) != SQLITE_OK) {
        fr_status st = fr_err_set(err, FR_E_IO, "%s: %s", kb->name, msg ? msg : "SQL error");
        sqlite3_free(msg);
        return st;
    }
    return FR_OK;
}

/* Single-integer query; FR_E_NOTFOUND when it returns no row. */
static fr_status kb_int(fr_kb *kb, const char *sql, const char *arg, int64_t *out, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(DB(kb), sql, -1, &s, NULL) != SQLITE_OK)
        return sql_err(kb, err, "prepare");
    if (arg)
        sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    fr_status st = FR_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        st = FR_E_NOTFOUND;
    else
        st = sql_err(kb, err, "query");
    sqlite3_finalize(s);
    return st;
}

static void sq_close(fr_kb *kb)
{
    sqlite3_close_v2(DB(kb));
    free(kb->name);
    free(kb);
}

static fr_status sq_chunk_count(fr_kb *kb, uint64_t *n, fr_err *err)
{
    int64_t c = 0;
    fr_status st = kb_int(kb, "SELECT count(*) FROM chunks", NULL, &c, err);
    *n = (uint64_t)c;
    return st;
}

static fr_status sq_stats(fr_kb *kb, fr_kb_stats *stt, fr_err *err)
{
    int64_t v = 0;
    fr_status st;
    if ((st = kb_int(kb, "SELECT count(*) FROM documents", NULL, &v, err)))
        return st;
    stt->documents = (uint64_t)v;
    if ((st = kb_int(kb, "SELECT count(*) FROM chunks", NULL, &v, err)))
        return st;
    stt->chunks = (uint64_t)v;
    if ((st = kb_int(kb, "SELECT coalesce(sum(n_words), 0) FROM chunks", NULL, &v, err)))
        return st;
    stt->words = (uint64_t)v;
    if ((st = kb_int(kb, "SELECT count(*) FROM chunks_vocab", NULL, &v, err)))
        return st;
    stt->terms = (uint64_t)v;
    int64_t pc = 0, ps = 0;
    if ((st = kb_int(kb, "PRAGMA page_count", NULL, &pc, err)) ||
        (st = kb_int(kb, "PRAGMA page_size", NULL, &ps, err)))
        return st;
    stt->db_bytes = (uint64_t)pc * (uint64_t)ps;
    if ((st = kb_int(kb, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='schema_version'",
                     NULL, &v, err)))
        return st;
    stt->schema_version = (int)v;
    return FR_OK;
}

static fr_status sq_df(fr_kb *kb, const char *const *words, size_t nw, uint64_t *df,
                       fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(DB(kb), "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return sql_err(kb, err, "document frequency");
    fr_status st = FR_OK;
    for (size_t w = 0; w < nw && st == FR_OK; w++) {
        /* quote the term so that FTS5 syntax in it is literal */
        const char *term = words[w];
        size_t n = strlen(term);
        char q[2 * 256 + 3];
        size_t k = 0;
        q[k++] = '"';
        for (size_t i = 0; i < n && i < 256; i++) {
            if (term[i] == '"')
                q[k++] = '"';
            q[k++] = term[i];
        }
        q[k++] = '"';
        q[k] = '\0';
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, q, (int)k, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            df[w] = (uint64_t)sqlite3_column_int64(s, 0);
        else
            st = sql_err(kb, err, "document frequency");
    }
    sqlite3_finalize(s);
    return st;
}

static fr_status sq_doc_hash(fr_kb *kb, const char *path, char hash[65], fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(DB(kb), "SELECT hash FROM documents WHERE path = ?1", -1, &s, NULL) !=
        SQLITE_OK)
        return sql_err(kb, err, "lookup");
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    fr_status st = FR_OK;
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(s, 0);
        snprintf(hash, 65, "%s", h ? h : "");
    } else if (rc == SQLITE_DONE) {
        st = FR_E_NOTFOUND;
    } else {
        st = sql_err(kb, err, "lookup");
    }
    sqlite3_finalize(s);
    return st;
}

/* Deletes a document (cascading to chunks and the FTS tables). Sets *found. */
static fr_status kb_delete(fr_kb *kb, const char *path, bool *found, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(DB(kb), "DELETE FROM documents WHERE path = ?1", -1, &s, NULL) !=
        SQLITE_OK)
        return sql_err(kb, err, "delete");
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return sql_err(kb, err, "delete");
    *found = sqlite3_changes(DB(kb)) > 0;
    return FR_OK;
}

static fr_status sq_remove(fr_kb *kb, const char *path, bool *found, fr_err *err)
{
    fr_status st = exec(kb, "SAVEPOINT fr_remove", err);
    if (st)
        return st;
    st = kb_delete(kb, path, found, err);
    if (st) {
        exec(kb, "ROLLBACK TO fr_remove; RELEASE fr_remove", NULL);
        return st;
    }
    return exec(kb, "RELEASE fr_remove", err);
}

static fr_status sq_put(fr_kb *kb, const fr_kb_doc_row *d, const fr_chunk *chunks, size_t nc,
                        bool *replaced, fr_err *err)
{
    sqlite3_stmt *sd = NULL, *sc = NULL;
    fr_status st = exec(kb, "SAVEPOINT fr_put", err);
    if (st)
        return st;
    if ((st = kb_delete(kb, d->path, replaced, err)))
        goto rollback;
    if (sqlite3_prepare_v2(DB(kb),
                           "INSERT INTO documents(path, hash, size, format, title, n_chunks,"
                           " n_repairs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &sd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(DB(kb),
                           "INSERT INTO chunks(doc_id, seq, heading, page, byte_off, byte_len,"
                           " n_words, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &sc, NULL) != SQLITE_OK) {
        st = sql_err(kb, err, "prepare insert");
        goto rollback;
    }
    sqlite3_bind_text(sd, 1, d->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(sd, 2, d->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sd, 3, (sqlite3_int64)d->size);
    sqlite3_bind_text(sd, 4, d->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(sd, 5, d->title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sd, 6, (sqlite3_int64)nc);
    sqlite3_bind_int64(sd, 7, (sqlite3_int64)d->n_repairs);
    if (sqlite3_step(sd) != SQLITE_DONE) {
        st = sql_err(kb, err, "insert document");
        goto rollback;
    }
    sqlite3_int64 doc_id = sqlite3_last_insert_rowid(DB(kb));
    for (size_t i = 0; i < nc; i++) {
        sqlite3_reset(sc);
        sqlite3_bind_int64(sc, 1, doc_id);
        sqlite3_bind_int64(sc, 2, (sqlite3_int64)i);
        if (chunks[i].heading)
            sqlite3_bind_text(sc, 3, chunks[i].heading, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(sc, 3);
        sqlite3_bind_int(sc, 4, chunks[i].page);
        sqlite3_bind_int64(sc, 5, (sqlite3_int64)chunks[i].src_off);
        sqlite3_bind_int64(sc, 6, (sqlite3_int64)chunks[i].src_len);
        sqlite3_bind_int64(sc, 7, (sqlite3_int64)chunks[i].n_words);
        sqlite3_bind_text(sc, 8, chunks[i].text, (int)chunks[i].len, SQLITE_STATIC);
        if (sqlite3_step(sc) != SQLITE_DONE) {
            st = sql_err(kb, err, "insert chunk");
            goto rollback;
        }
    }
    sqlite3_finalize(sd);
    sqlite3_finalize(sc);
    return exec(kb, "RELEASE fr_put", err);
rollback:
    sqlite3_finalize(sd);
    sqlite3_finalize(sc);
    exec(kb, "ROLLBACK TO fr_put; RELEASE fr_put", NULL);
    return st;
}

static fr_status sq_list(fr_kb *kb, const char *path, bool under, fr_kb_path_fn fn, void *user,
                         fr_err *err)
{
    sqlite3_stmt *s = NULL;
    const char *sql = under ? "SELECT path FROM documents WHERE substr(path, 1, length(?1) + 1)"
                              " = ?1 || '/' ORDER BY path"
                            : "SELECT path FROM documents WHERE path = ?1";
    if (sqlite3_prepare_v2(DB(kb), sql, -1, &s, NULL) != SQLITE_OK)
        return sql_err(kb, err, "list documents");
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc;
    fr_status st = FR_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(s, 0);
        if (p && !fn(user, p)) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory listing documents");
            break;
        }
    }
    if (st == FR_OK && rc != SQLITE_DONE)
        st = sql_err(kb, err, "list documents");
    sqlite3_finalize(s);
    return st;
}

static char *sq_path_at(fr_kb *kb, const char *sql, fr_status *st, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(DB(kb), sql, -1, &s, NULL) != SQLITE_OK) {
        *st = sql_err(kb, err, "document paths");
        return NULL;
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        out = strdup((const char *)sqlite3_column_text(s, 0));
        if (!out)
            *st = fr_err_set(err, FR_E_NOMEM, "out of memory");
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *st = sql_err(kb, err, "document paths");
    }
    sqlite3_finalize(s);
    return out;
}

/* two lookups on the UNIQUE path index (BINARY collation: byte order) */
static fr_status sq_path_range(fr_kb *kb, char **first, char **last, fr_err *err)
{
    fr_status st = FR_OK;
    *first = sq_path_at(kb, "SELECT path FROM documents ORDER BY path LIMIT 1", &st, err);
    *last = st ? NULL
               : sq_path_at(kb, "SELECT path FROM documents ORDER BY path DESC LIMIT 1", &st,
                            err);
    if (st) {
        free(*first);
        free(*last);
        *first = *last = NULL;
    }
    return st;
}

static fr_status sq_rank(fr_kb *kb, fr_kb_rank which, const fr_kb_query *q, int depth,
                         int64_t *ids, int *n, fr_err *err)
{
    const char *query = which == FR_KB_RANK_WORDS ? q->fts : q->tri;
    const char *sql = which == FR_KB_RANK_WORDS
                          ? "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1"
                            " ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?2"
                          : "SELECT rowid FROM chunks_tri WHERE chunks_tri MATCH ?1"
                            " ORDER BY bm25(chunks_tri) LIMIT ?2";
    *n = 0;
    if (!query || !query[0])
        return FR_OK;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(DB(kb), sql, -1, &s, NULL) != SQLITE_OK)
        return sql_err(kb, err, "prepare retrieval");
    sqlite3_bind_text(s, 1, query, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, depth);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < depth)
        ids[(*n)++] = sqlite3_column_int64(s, 0);
    fr_status st = FR_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = fr_err_set(err, FR_E_INTERNAL, "%s: retrieval query failed (%s) for MATCH %s",
                        kb->name, sqlite3_errmsg(DB(kb)), query);
    sqlite3_finalize(s);
    return st;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? strdup(t) : NULL;
}

/* One passage from the prepared fetch statement s. */
static fr_status fetch_one(fr_kb *kb, sqlite3_stmt *s, fr_kb_passage *p, fr_err *err)
{
    sqlite3_bind_int64(s, 1, p->chunk_id);
    fr_status st = FR_OK;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        p->text = col_dup(s, 0);
        p->heading = col_dup(s, 1);
        p->page = sqlite3_column_int(s, 2);
        p->byte_off = (uint64_t)sqlite3_column_int64(s, 3);
        p->byte_len = (uint64_t)sqlite3_column_int64(s, 4);
        p->path = col_dup(s, 5);
        p->title = col_dup(s, 6);
        if (!p->text || !p->path)
            st = fr_err_set(err, FR_E_NOMEM, "out of memory fetching a passage");
    } else if (rc == SQLITE_DONE) {
        st = fr_err_set(err, FR_E_INTERNAL, "%s: passage %lld vanished during retrieval",
                        kb->name, (long long)p->chunk_id);
    } else {
        st = sql_err(kb, err, "fetch passage");
    }
    return st;
}

static fr_status sq_fetch(fr_kb *kb, fr_kb_passage *v, size_t n, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(DB(kb),
                           "SELECT c.text, c.heading, c.page, c.byte_off, c.byte_len, d.path,"
                           " d.title FROM chunks c JOIN documents d ON d.id = c.doc_id"
                           " WHERE c.id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return sql_err(kb, err, "fetch passage");
    fr_status st = FR_OK;
    for (size_t i = 0; i < n && st == FR_OK; i++) {
        sqlite3_reset(s);
        st = fetch_one(kb, s, &v[i], err);
    }
    sqlite3_finalize(s);
    return st;
}

static fr_status sq_tx(fr_kb *kb, fr_kb_tx op, fr_err *err)
{
    switch (op) {
    case FR_KB_TX_READ:
        /* a savepoint opens a (deferred) transaction at the top level and
         * nests inside an open one */
        kb->read_began = exec(kb, "SAVEPOINT fr_read", err) == FR_OK;
        return kb->read_began ? FR_OK : err ? err->code : FR_E_IO;
    case FR_KB_TX_READ_END: return exec(kb, "RELEASE fr_read", err);
    case FR_KB_TX_BEGIN: return exec(kb, "BEGIN", err);
    case FR_KB_TX_COMMIT: return exec(kb, "COMMIT", err);
    case FR_KB_TX_ROLLBACK: return exec(kb, "ROLLBACK", err);
    case FR_KB_TX_SAVEPOINT: return exec(kb, "SAVEPOINT fr_bench", err);
    case FR_KB_TX_ROLLBACK_TO: return exec(kb, "ROLLBACK TO fr_bench; RELEASE fr_bench", err);
    }
    return fr_err_set(err, FR_E_INTERNAL, "unknown transaction operation %d", (int)op);
}

static const fr_kb_ops sqlite_ops = {
    "sqlite", sq_close, sq_put, sq_remove, sq_doc_hash, sq_list, sq_chunk_count,
    sq_df,    sq_stats, sq_rank, sq_fetch, sq_tx,   sq_path_range,
};

fr_status fr_kb_sqlite_open(const char *path, int mode, fr_kb **out, fr_err *err)
{
    bool create = mode == 2;
    *out = NULL;
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!exists && !create)
        return fr_err_set(err, FR_E_NOTFOUND,
                          "%s: no such knowledge base (create it with frugal index --db %s DOCS)",
                          path, path);
    kb_sqlite *k = calloc(1, sizeof *k);
    fr_kb *kb = &k->base;
    if (!k || !(kb->name = strdup(path))) {
        free(k);
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory", path);
    }
    kb->ops = &sqlite_ops;
    kb->read_only = mode == 0;
    kb->n_chunks = -1;
    int flags = mode == 0 ? SQLITE_OPEN_READONLY
                          : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    fr_status st = FR_OK;
    if (sqlite3_open_v2(path, &k->db, flags, NULL) != SQLITE_OK) {
        st = fr_err_set(err, FR_E_IO, "%s: cannot open: %s", path,
                        k->db ? sqlite3_errmsg(k->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(k->db, 5000);
    if (mode != 0 && (st = exec(kb, "PRAGMA foreign_keys=ON", err)))
        goto fail;
    int64_t has_meta = 0, n_tables = 0;
    st = kb_int(kb, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'", NULL,
                &has_meta, err);
    if (st == FR_OK)
        st = kb_int(kb, "SELECT count(*) FROM sqlite_master", NULL, &n_tables, err);
    if (st) {
        if (sqlite3_errcode(k->db) == SQLITE_NOTADB)
            fr_err_set(err, FR_E_FORMAT, "%s: not a SQLite database (not a frugal knowledge base)",
                       path);
        goto fail;
    }
    if (!has_meta && mode == 0 && n_tables == 0) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: an empty file, not a frugal knowledge base (build one with frugal "
                        "index --db %s DOCS)", path, path);
        goto fail;
    }
    if (!has_meta) {
        if (n_tables > 0) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "%s: a SQLite database, but not a frugal knowledge base "
                            "(no meta table); use another --db path",
                            path);
            goto fail;
        }
        if ((st = exec(kb, "BEGIN", err)))
            goto fail;
        char *msg = NULL;
        if (sqlite3_exec(k->db, kb_schema, NULL, NULL, &msg) != SQLITE_OK) {
            st = fr_err_set(err, FR_E_UNSUPPORTED,
                            "%s: creating the schema failed: %s (needs SQLite >= 3.34 with FTS5)",
                            path, msg ? msg : "?");
            sqlite3_free(msg);
            exec(kb, "ROLLBACK", NULL);
            goto fail;
        }
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta VALUES ('schema_version', '%d'), ('created_by', 'frugal %s');"
                 "COMMIT",
                 FR_KB_SCHEMA_VERSION, fr_version());
        if ((st = exec(kb, sql, err)))
            goto fail;
    } else {
        int64_t ver = 0;
        st = kb_int(kb, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='schema_version'",
                    NULL, &ver, err);
        if ((st = fr_kb_check_version(path, st, ver, FR_KB_SCHEMA_VERSION, err)))
            goto fail;
    }
    *out = kb;
    return FR_OK;
fail:
    sq_close(kb);
    return st;
}
