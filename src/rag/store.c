/*
 * store.c - the SQLite knowledge base: schema, documents, chunks, stats.
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
 * The database uses the rollback journal, not WAL: a knowledge base is one
 * file a user can copy, and an index run that changes nothing must leave the
 * file byte-identical (WAL checkpoints rewrite pages).
 */
#include "rag/kb.h"

#include "rag/chunk.h"
#include "rag/extract.h"
#include "rag/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char fr_kb_schema[] =
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

fr_status fr_kb_sql_err(fr_kb *kb, fr_err *err, const char *what)
{
    int code = sqlite3_errcode(kb->db);
    fr_status st = code == SQLITE_NOMEM ? FR_E_NOMEM
                   : (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? FR_E_FORMAT
                                                                       : FR_E_IO;
    return fr_err_set(err, st, "%s: %s: %s", kb->path, what, sqlite3_errmsg(kb->db));
}

fr_status fr_kb_exec(fr_kb *kb, const char *sql, fr_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(kb->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fr_status st = fr_err_set(err, FR_E_IO, "%s: %s", kb->path, msg ? msg : "SQL error");
        sqlite3_free(msg);
        return st;
    }
    return FR_OK;
}

/* Single-integer query; FR_E_NOTFOUND when it returns no row. */
static fr_status kb_int(fr_kb *kb, const char *sql, const char *arg, int64_t *out, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &s, NULL) != SQLITE_OK)
        return fr_kb_sql_err(kb, err, "prepare");
    if (arg)
        sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    fr_status st = FR_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        st = FR_E_NOTFOUND;
    else
        st = fr_kb_sql_err(kb, err, "query");
    sqlite3_finalize(s);
    return st;
}

/* mode: 0 read-only, 1 read-write, 2 read-write and create */
static fr_status kb_open(const char *path, int mode, fr_kb **out, fr_err *err)
{
    bool create = mode == 2;
    *out = NULL;
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!exists && !create)
        return fr_err_set(err, FR_E_NOTFOUND,
                          "%s: no such knowledge base (create it with frugal index --db %s DOCS)",
                          path, path);
    fr_kb *kb = calloc(1, sizeof *kb);
    if (!kb || !(kb->path = strdup(path))) {
        free(kb);
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory", path);
    }
    kb->n_chunks = -1;
    int flags = mode == 0 ? SQLITE_OPEN_READONLY
                          : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    fr_status st = FR_OK;
    if (sqlite3_open_v2(path, &kb->db, flags, NULL) != SQLITE_OK) {
        st = fr_err_set(err, FR_E_IO, "%s: cannot open: %s", path,
                        kb->db ? sqlite3_errmsg(kb->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(kb->db, 5000);
    if (mode != 0 && (st = fr_kb_exec(kb, "PRAGMA foreign_keys=ON", err)))
        goto fail;
    int64_t has_meta = 0, n_tables = 0;
    st = kb_int(kb, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'", NULL,
                &has_meta, err);
    if (st == FR_OK)
        st = kb_int(kb, "SELECT count(*) FROM sqlite_master", NULL, &n_tables, err);
    if (st) {
        if (sqlite3_errcode(kb->db) == SQLITE_NOTADB)
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
        if ((st = fr_kb_exec(kb, "BEGIN", err)))
            goto fail;
        char *msg = NULL;
        if (sqlite3_exec(kb->db, fr_kb_schema, NULL, NULL, &msg) != SQLITE_OK) {
            st = fr_err_set(err, FR_E_UNSUPPORTED,
                            "%s: creating the schema failed: %s (needs SQLite >= 3.34 with FTS5)",
                            path, msg ? msg : "?");
            sqlite3_free(msg);
            fr_kb_exec(kb, "ROLLBACK", NULL);
            goto fail;
        }
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta VALUES ('schema_version', '%d'), ('created_by', 'frugal %s');"
                 "COMMIT",
                 FR_KB_SCHEMA_VERSION, fr_version());
        if ((st = fr_kb_exec(kb, sql, err)))
            goto fail;
    } else {
        int64_t ver = 0;
        st = kb_int(kb, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='schema_version'",
                    NULL, &ver, err);
        if (st == FR_E_NOTFOUND)
            st = fr_err_set(err, FR_E_FORMAT, "%s: knowledge base without a schema version", path);
        if (st)
            goto fail;
        if (ver > FR_KB_SCHEMA_VERSION || ver < 1) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "%s: knowledge base schema version %lld, this frugal reads %d "
                            "(upgrade frugal or re-index)",
                            path, (long long)ver, FR_KB_SCHEMA_VERSION);
            goto fail;
        }
    }
    *out = kb;
    return FR_OK;
fail:
    fr_kb_free(kb);
    return st;
}

fr_status fr_kb_open(const char *path, bool create, fr_kb **out, fr_err *err)
{
    return kb_open(path, create ? 2 : 1, out, err);
}

fr_status fr_kb_open_readonly(const char *path, fr_kb **out, fr_err *err)
{
    return kb_open(path, 0, out, err);
}

void fr_kb_free(fr_kb *kb)
{
    if (!kb)
        return;
    sqlite3_close_v2(kb->db);
    free(kb->path);
    free(kb);
}

fr_status fr_kb_chunk_count(fr_kb *kb, uint64_t *n, fr_err *err)
{
    if (kb->n_chunks < 0) {
        int64_t c = 0;
        fr_status st = kb_int(kb, "SELECT count(*) FROM chunks", NULL, &c, err);
        if (st)
            return st;
        kb->n_chunks = c;
    }
    *n = (uint64_t)kb->n_chunks;
    return FR_OK;
}

fr_status fr_kb_stats_get(fr_kb *kb, fr_kb_stats *stt, fr_err *err)
{
    memset(stt, 0, sizeof *stt);
    int64_t v = 0;
    fr_status st;
    if ((st = kb_int(kb, "SELECT count(*) FROM documents", NULL, &v, err)))
        return st;
    stt->documents = (uint64_t)v;
    if ((st = kb_int(kb, "SELECT count(*), 0 FROM chunks", NULL, &v, err)))
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

fr_status fr_kb_df(fr_kb *kb, const char *term, uint64_t *df, uint64_t *n_chunks, fr_err *err)
{
    fr_status st = fr_kb_chunk_count(kb, n_chunks, err);
    if (st)
        return st;
    *df = 0;
    /* quote the term so that FTS5 syntax in it is literal */
    size_t n = strlen(term);
    if (n == 0 || n > 256)
        return FR_OK;
    char q[2 * 256 + 3];
    size_t k = 0;
    q[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (term[i] == '"')
            q[k++] = '"';
        q[k++] = term[i];
    }
    q[k++] = '"';
    q[k] = '\0';
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(kb->db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return fr_kb_sql_err(kb, err, "document frequency");
    sqlite3_bind_text(s, 1, q, (int)k, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *df = (uint64_t)sqlite3_column_int64(s, 0);
    else
        st = fr_kb_sql_err(kb, err, "document frequency");
    sqlite3_finalize(s);
    return st;
}

fr_status fr_kb_doc_hash(fr_kb *kb, const char *path, char hash[65], fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(kb->db, "SELECT hash FROM documents WHERE path = ?1", -1, &s, NULL) !=
        SQLITE_OK)
        return fr_kb_sql_err(kb, err, "lookup");
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    fr_status st = FR_OK;
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(s, 0);
        snprintf(hash, 65, "%s", h ? h : "");
    } else if (rc == SQLITE_DONE) {
        st = FR_E_NOTFOUND;
    } else {
        st = fr_kb_sql_err(kb, err, "lookup");
    }
    sqlite3_finalize(s);
    return st;
}

/* Deletes a document (cascading to chunks and the FTS tables). Sets *found. */
static fr_status kb_delete(fr_kb *kb, const char *path, bool *found, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(kb->db, "DELETE FROM documents WHERE path = ?1", -1, &s, NULL) !=
        SQLITE_OK)
        return fr_kb_sql_err(kb, err, "delete");
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return fr_kb_sql_err(kb, err, "delete");
    *found = sqlite3_changes(kb->db) > 0;
    kb->n_chunks = -1;
    return FR_OK;
}

fr_status fr_kb_remove(fr_kb *kb, const char *name, fr_err *err)
{
    bool found = false;
    fr_status st = fr_kb_exec(kb, "SAVEPOINT fr_remove", err);
    if (st)
        return st;
    st = kb_delete(kb, name, &found, err);
    if (st) {
        fr_kb_exec(kb, "ROLLBACK TO fr_remove; RELEASE fr_remove", NULL);
        return st;
    }
    if ((st = fr_kb_exec(kb, "RELEASE fr_remove", err)))
        return st;
    if (!found)
        return fr_err_set(err, FR_E_NOTFOUND, "%s: no document '%s' in the knowledge base",
                          kb->path, name);
    return FR_OK;
}

fr_status fr_kb_put_doc(fr_kb *kb, const char *path, const char *hash, uint64_t size,
                        const fr_doc *doc, size_t max_words, bool *replaced, uint64_t *n_chunks,
                        fr_err *err)
{
    fr_chunk *chunks = NULL;
    size_t nc = 0;
    fr_chunk_opts co = {max_words};
    fr_status st = fr_chunk_doc(doc, &co, &chunks, &nc, err);
    if (st)
        return fr_err_prefix(err, "%s", path);
    sqlite3_stmt *sd = NULL, *sc = NULL;
    if ((st = fr_kb_exec(kb, "SAVEPOINT fr_put", err))) {
        fr_chunks_free(chunks, nc);
        return st;
    }
    bool found = false;
    if ((st = kb_delete(kb, path, &found, err)))
        goto rollback;
    if (sqlite3_prepare_v2(kb->db,
                           "INSERT INTO documents(path, hash, size, format, title, n_chunks,"
                           " n_repairs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, &sd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(kb->db,
                           "INSERT INTO chunks(doc_id, seq, heading, page, byte_off, byte_len,"
                           " n_words, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                           -1, &sc, NULL) != SQLITE_OK) {
        st = fr_kb_sql_err(kb, err, "prepare insert");
        goto rollback;
    }
    sqlite3_bind_text(sd, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(sd, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sd, 3, (sqlite3_int64)size);
    sqlite3_bind_text(sd, 4, doc->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(sd, 5, doc->title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sd, 6, (sqlite3_int64)nc);
    sqlite3_bind_int64(sd, 7, (sqlite3_int64)doc->n_repairs);
    if (sqlite3_step(sd) != SQLITE_DONE) {
        st = fr_kb_sql_err(kb, err, "insert document");
        goto rollback;
    }
    sqlite3_int64 doc_id = sqlite3_last_insert_rowid(kb->db);
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
            st = fr_kb_sql_err(kb, err, "insert chunk");
            goto rollback;
        }
    }
    sqlite3_finalize(sd);
    sqlite3_finalize(sc);
    fr_chunks_free(chunks, nc);
    if ((st = fr_kb_exec(kb, "RELEASE fr_put", err)))
        return st;
    kb->n_chunks = -1;
    if (replaced)
        *replaced = found;
    if (n_chunks)
        *n_chunks = nc;
    return FR_OK;
rollback:
    sqlite3_finalize(sd);
    sqlite3_finalize(sc);
    fr_chunks_free(chunks, nc);
    fr_kb_exec(kb, "ROLLBACK TO fr_put; RELEASE fr_put", NULL);
    kb->n_chunks = -1;
    return st;
}

fr_status fr_kb_add_text(fr_kb *kb, const char *name, const char *format, const char *text,
                         size_t len, const fr_kb_index_opts *opts, fr_kb_action *action,
                         fr_err *err)
{
    char hash[65], old[65];
    fr_sha256_hex(text, len, hash);
    fr_status st = fr_kb_doc_hash(kb, name, old, err);
    if (st == FR_OK && strcmp(old, hash) == 0) {
        if (action)
            *action = FR_KB_SKIPPED;
        return FR_OK;
    }
    if (st != FR_OK && st != FR_E_NOTFOUND)
        return st;
    fr_extract_opts eo = {0};
    if (opts) {
        eo.max_file_bytes = opts->max_file_bytes;
        eo.max_line_bytes = opts->max_line_bytes;
    }
    fr_doc *doc = NULL;
    if ((st = fr_extract_memory(name, format, text, len, &eo, &doc, err)))
        return st;
    bool replaced = false;
    st = fr_kb_put_doc(kb, name, hash, len, doc, opts ? opts->max_words : 0, &replaced, NULL, err);
    fr_doc_free(doc);
    if (st == FR_OK && action)
        *action = replaced ? FR_KB_UPDATED : FR_KB_ADDED;
    return st;
}

fr_status fr_kb_savepoint(fr_kb *kb, fr_err *err)
{
    kb->n_chunks = -1;
    return fr_kb_exec(kb, "SAVEPOINT fr_bench", err);
}

fr_status fr_kb_rollback(fr_kb *kb, fr_err *err)
{
    kb->n_chunks = -1;
    return fr_kb_exec(kb, "ROLLBACK TO fr_bench; RELEASE fr_bench", err);
}
