/*
 * store.c - the knowledge base above its stores: which store a --db names,
 * the public fr_kb_* calls, and the parts both stores share (chunking a
 * document before it is stored, the add-text path, the cached chunk count).
 *
 * A --db that starts with postgresql:// or postgres:// is a libpq
 * connection URI (the PostgreSQL store, store_pg.c, compiled only when
 * libpq was found at build time); anything else is a SQLite file
 * (store_sqlite.c). A URI may carry a password, so the handle's name - what
 * every message shows - is the URI with the password replaced by "***".
 */
#include "rag/kb.h"

#include "base/buf.h"
#include "rag/chunk.h"
#include "rag/extract.h"
#include "rag/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fr_kb_is_pg_uri(const char *s)
{
    return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

/* Replaces the value of every "password=" query parameter and the password
 * of "user:password@" with ***. */
char *fr_kb_redact_uri(const char *uri)
{
    fr_buf b = FR_BUF_INIT;
    const char *p = strstr(uri, "://");
    size_t scheme = p ? (size_t)(p - uri) + 3 : 0;
    fr_buf_append(&b, uri, scheme);
    const char *auth = uri + scheme;
    size_t auth_len = strcspn(auth, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            at = auth + i; /* the last '@' ends the user info */
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon) {
            fr_buf_append(&b, auth, (size_t)(colon - auth));
            fr_buf_puts(&b, ":***");
            auth = at;
        }
    }
    const char *q = strchr(auth, '?');
    fr_buf_append(&b, auth, q ? (size_t)(q - auth) : strlen(auth));
    while (q) {
        const char *next = strchr(q + 1, '&');
        size_t n = next ? (size_t)(next - q) : strlen(q);
        if (n > 9 && strncmp(q + 1, "password=", 9) == 0)
            fr_buf_puts(&b, q[0] == '?' ? "?password=***" : "&password=***");
        else
            fr_buf_append(&b, q, n);
        q = next;
    }
    return fr_buf_take(&b);
}

fr_status fr_kb_check_version(const char *name, fr_status lookup, int64_t ver, int readable,
                              fr_err *err)
{
    if (lookup == FR_E_NOTFOUND)
        return fr_err_set(err, FR_E_FORMAT, "%s: knowledge base without a schema version", name);
    if (lookup)
        return lookup;
    if (ver > readable || ver < 1)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: knowledge base schema version %lld, this frugal reads %d "
                          "(upgrade frugal, or index into a new knowledge base)",
                          name, (long long)ver, readable);
    return FR_OK;
}

static fr_status kb_open(const char *db, int mode, fr_kb **out, fr_err *err)
{
    *out = NULL;
    if (!db || !*db)
        return fr_err_set(err, FR_E_INVALID, "no knowledge base named (--db)");
    if (!fr_kb_is_pg_uri(db))
        return fr_kb_sqlite_open(db, mode, out, err);
#ifdef FR_HAVE_POSTGRESQL
    return fr_kb_pg_open(db, mode, out, err);
#else
    char *name = fr_kb_redact_uri(db);
    fr_status st = fr_err_set(err, FR_E_UNSUPPORTED,
                              "%s: this frugal was not built with PostgreSQL support (install "
                              "libpq-dev and rebuild; or use a SQLite file for --db)",
                              name ? name : "postgresql://...");
    free(name);
    return st;
#endif
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
    if (kb)
        kb->ops->close(kb); /* frees name and the handle */
}

const char *fr_kb_name(const fr_kb *kb) { return kb->name; }

const char *fr_kb_kind(const fr_kb *kb) { return kb->ops->kind; }

fr_status fr_kb_chunk_count(fr_kb *kb, uint64_t *n, fr_err *err)
{
    if (kb->n_chunks < 0) {
        uint64_t c = 0;
        fr_status st = kb->ops->chunk_count(kb, &c, err);
        if (st)
            return st;
        kb->n_chunks = (int64_t)c;
    }
    *n = (uint64_t)kb->n_chunks;
    return FR_OK;
}

fr_status fr_kb_stats_get(fr_kb *kb, fr_kb_stats *s, fr_err *err)
{
    memset(s, 0, sizeof *s);
    return kb->ops->stats(kb, s, err);
}

fr_status fr_kb_df_many(fr_kb *kb, const char *const *words, size_t n, uint64_t *df,
                        uint64_t *n_chunks, fr_err *err)
{
    fr_status st = fr_kb_chunk_count(kb, n_chunks, err);
    if (st)
        return st;
    /* words the index cannot hold are in no chunk; the store sees the rest */
    const char *w[64];
    size_t idx[64];
    for (size_t i = 0; i < n; i += 64) {
        size_t m = 0;
        for (size_t j = i; j < n && j < i + 64; j++) {
            df[j] = 0;
            size_t l = strlen(words[j]);
            if (l > 0 && l <= 256) {
                w[m] = words[j];
                idx[m++] = j;
            }
        }
        uint64_t d[64];
        if (m && (st = kb->ops->df(kb, w, m, d, err)))
            return st;
        for (size_t k = 0; k < m; k++)
            df[idx[k]] = d[k];
    }
    return FR_OK;
}

fr_status fr_kb_df(fr_kb *kb, const char *term, uint64_t *df, uint64_t *n_chunks, fr_err *err)
{
    return fr_kb_df_many(kb, &term, 1, df, n_chunks, err);
}

fr_status fr_kb_doc_hash(fr_kb *kb, const char *path, char hash[65], fr_err *err)
{
    return kb->ops->doc_hash(kb, path, hash, err);
}

fr_status fr_kb_tx_run(fr_kb *kb, fr_kb_tx op, fr_err *err)
{
    if (op == FR_KB_TX_READ) {
        /* only the outermost read opens a snapshot */
        if (kb->read_depth++ > 0)
            return FR_OK;
        kb->read_began = false;
        fr_status st = kb->ops->tx(kb, op, err);
        if (st)
            kb->read_depth = 0;
        return st;
    }
    if (op == FR_KB_TX_READ_END) {
        if (kb->read_depth == 0 || --kb->read_depth > 0 || !kb->read_began)
            return FR_OK;
        kb->read_began = false;
        return kb->ops->tx(kb, op, err);
    }
    kb->n_chunks = -1;
    return kb->ops->tx(kb, op, err);
}

fr_status fr_kb_remove(fr_kb *kb, const char *name, fr_err *err)
{
    bool found = false;
    fr_status st = kb->ops->remove(kb, name, &found, err);
    kb->n_chunks = -1;
    if (st)
        return st;
    if (!found)
        return fr_err_set(err, FR_E_NOTFOUND, "%s: no document '%s' in the knowledge base",
                          kb->name, name);
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
    fr_kb_doc_row row = {path, hash, doc->format, doc->title, size, doc->n_repairs};
    bool found = false;
    st = kb->ops->put(kb, &row, chunks, nc, &found, err);
    fr_chunks_free(chunks, nc);
    kb->n_chunks = -1;
    if (st)
        return st;
    if (replaced)
        *replaced = found;
    if (n_chunks)
        *n_chunks = nc;
    return FR_OK;
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
