/*
 * kb.h - the knowledge base handle, shared by the store, the indexer and
 * retrieval (internal; the public API is in frugal/rag.h).
 */
#ifndef FR_RAG_KB_H
#define FR_RAG_KB_H

#include <frugal/rag.h>
#include <sqlite3.h>

struct fr_kb {
    sqlite3 *db;
    char *path;
    int64_t n_chunks; /* cached chunk count; -1 when stale */
};

/* Sets err from the database's last error, with a prefix naming the step. */
fr_status fr_kb_sql_err(fr_kb *kb, fr_err *err, const char *what);
/* Runs SQL without results. */
fr_status fr_kb_exec(fr_kb *kb, const char *sql, fr_err *err);
/* Chunk count (cached). */
fr_status fr_kb_chunk_count(fr_kb *kb, uint64_t *n, fr_err *err);

/* Adds or replaces a document already extracted; one transaction. hash is
 * the content hash of the source bytes. */
struct fr_doc;
fr_status fr_kb_put_doc(fr_kb *kb, const char *path, const char *hash, uint64_t size,
                        const struct fr_doc *doc, size_t max_words, bool *replaced,
                        uint64_t *n_chunks, fr_err *err);
/* Looks up a document's hash: FR_E_NOTFOUND when absent; hash gets 64 hex. */
fr_status fr_kb_doc_hash(fr_kb *kb, const char *path, char hash[65], fr_err *err);

/* Savepoints, so that a benchmark can remove a document, query, and put it
 * back exactly (ROLLBACK TO). */
fr_status fr_kb_savepoint(fr_kb *kb, fr_err *err);
fr_status fr_kb_rollback(fr_kb *kb, fr_err *err);

#endif
