/*
 * kb.h - the knowledge base's store interface, shared by the generic layer
 * (store.c), its two implementations (store_sqlite.c, store_pg.c), the
 * indexer and retrieval (internal; the public API is in frugal/rag.h).
 *
 * What a store does, and only that: keep documents and their chunks, one
 * transaction per document; look up a document's hash; list documents under
 * a path; count; run the two ranked queries (words by BM25, codes by
 * substring) and fetch a passage. Everything else - extraction, chunking,
 * the question's terms, rank fusion, the gate, the indexer's walk - is
 * written once, above this interface, so both stores give the same
 * chunks, offsets and citations by construction.
 *
 * A store implementation embeds struct fr_kb as its first member and casts.
 */
#ifndef FR_RAG_KB_H
#define FR_RAG_KB_H

#include <frugal/rag.h>

struct fr_chunk;

/* The document row a store writes next to the chunks. */
typedef struct fr_kb_doc_row {
    const char *path, *hash, *format, *title; /* title may be NULL */
    uint64_t size, n_repairs;
} fr_kb_doc_row;

/* What retrieval asks a store to rank: the question's content words
 * (lowercase surface forms), its code-like terms, and the same lists as the
 * FTS5 MATCH expressions shown to the user (fr_rag_fts_query and
 * fr_rag_code_query). */
typedef struct fr_kb_query {
    const char *const *words;
    size_t n_words;
    const char *const *codes;
    size_t n_codes;
    const char *fts; /* "w1" OR "w2" ... */
    const char *tri; /* "CODE-1" OR ... */
} fr_kb_query;

typedef enum fr_kb_rank {
    FR_KB_RANK_WORDS, /* BM25 over the stemmed words of text (weight 1) and heading (0.5) */
    FR_KB_RANK_CODES  /* BM25 over case-insensitive substring hits of the codes */
} fr_kb_rank;

typedef enum fr_kb_tx {
    FR_KB_TX_READ,      /* start a read snapshot (store: set kb->read_began if it
                           opened something READ_END must close) */
    FR_KB_TX_READ_END,  /* end it (store: called only when read_began) */
    FR_KB_TX_BEGIN,     /* explicit transaction (bulk loads, benchmarks) */
    FR_KB_TX_COMMIT,
    FR_KB_TX_ROLLBACK,
    FR_KB_TX_SAVEPOINT, /* inside BEGIN: a savepoint a benchmark rolls back to */
    FR_KB_TX_ROLLBACK_TO
} fr_kb_tx;

/* Called once per listed document path (borrowed); false stops the listing
 * with FR_E_NOMEM. */
typedef bool (*fr_kb_path_fn)(void *user, const char *path);

typedef struct fr_kb_ops {
    const char *kind; /* "sqlite" or "postgresql" */
    void (*close)(fr_kb *kb);
    /* Replaces the document at d->path by d and chunks, in one transaction
     * (a savepoint inside an open one). *replaced: a previous version
     * existed. */
    fr_status (*put)(fr_kb *kb, const fr_kb_doc_row *d, const struct fr_chunk *chunks, size_t n,
                     bool *replaced, fr_err *err);
    /* Deletes a document and its chunks in one transaction; *found. */
    fr_status (*remove)(fr_kb *kb, const char *path, bool *found, fr_err *err);
    /* FR_E_NOTFOUND when absent; hash gets 64 hex digits. */
    fr_status (*doc_hash)(fr_kb *kb, const char *path, char hash[65], fr_err *err);
    /* Paths of the documents at path (under: below path + "/"), in byte order. */
    fr_status (*list)(fr_kb *kb, const char *path, bool under, fr_kb_path_fn fn, void *user,
                      fr_err *err);
    fr_status (*chunk_count)(fr_kb *kb, uint64_t *n, fr_err *err);
    /* df[i]: the chunks whose words (stemmed, as the index stems them)
     * contain words[i] (lowercase; at most 256 bytes). */
    fr_status (*df)(fr_kb *kb, const char *const *words, size_t n, uint64_t *df, fr_err *err);
    fr_status (*stats)(fr_kb *kb, fr_kb_stats *s, fr_err *err);
    /* Chunk ids of one ranked list, best first, at most depth. */
    fr_status (*rank)(fr_kb *kb, fr_kb_rank which, const fr_kb_query *q, int depth, int64_t *ids,
                      int *n, fr_err *err);
    /* Fills the text, heading, page, offsets, path and title of v[0..n)
     * from their chunk_id. */
    fr_status (*fetch)(fr_kb *kb, fr_kb_passage *v, size_t n, fr_err *err);
    fr_status (*tx)(fr_kb *kb, fr_kb_tx op, fr_err *err);
    /* The first and the last document path in byte order (owned; both NULL
     * when there are no documents): their common prefix is every path's. */
    fr_status (*path_range)(fr_kb *kb, char **first, char **last, fr_err *err);
} fr_kb_ops;

struct fr_kb {
    const fr_kb_ops *ops;
    char *name;       /* for messages: the file path, or the URI without its password */
    bool read_only;
    int64_t n_chunks; /* cached chunk count; -1 when stale */
    int read_depth;   /* FR_KB_TX_READ calls not yet ended (store.c counts them) */
    bool read_began;  /* the outermost of them opened a snapshot */
};

/* The stores. Each returns an opened handle or an error naming `name`.
 * mode: 0 read-only, 1 read-write, 2 read-write and create. */
fr_status fr_kb_sqlite_open(const char *path, int mode, fr_kb **out, fr_err *err);
#ifdef FR_HAVE_POSTGRESQL
fr_status fr_kb_pg_open(const char *uri, int mode, fr_kb **out, fr_err *err);
#endif
/* The check of a store's schema_version when it is opened: lookup is the
 * status of reading it (FR_E_NOTFOUND: no version row), ver its value;
 * FR_E_FORMAT, with what to do, unless 1 <= ver <= readable. */
fr_status fr_kb_check_version(const char *name, fr_status lookup, int64_t ver, int readable,
                              fr_err *err);
/* True for a libpq connection URI (postgresql:// or postgres://). */
bool fr_kb_is_pg_uri(const char *s);
/* A copy of a URI with any password replaced by "***" (owned; NULL on OOM). */
char *fr_kb_redact_uri(const char *uri);

/* Document frequencies of several words at once (see fr_kb_df). */
fr_status fr_kb_df_many(fr_kb *kb, const char *const *words, size_t n, uint64_t *df,
                        uint64_t *n_chunks, fr_err *err);
/* Chunk count (cached on the handle). */
fr_status fr_kb_chunk_count(fr_kb *kb, uint64_t *n, fr_err *err);
/* Transactions for bulk loads and benchmarks (see fr_kb_tx). */
fr_status fr_kb_tx_run(fr_kb *kb, fr_kb_tx op, fr_err *err);

/* Adds or replaces a document already extracted: chunks it (the one
 * chunker) and hands the chunks to the store; one transaction. hash is the
 * content hash of the source bytes. */
struct fr_doc;
fr_status fr_kb_put_doc(fr_kb *kb, const char *path, const char *hash, uint64_t size,
                        const struct fr_doc *doc, size_t max_words, bool *replaced,
                        uint64_t *n_chunks, fr_err *err);
/* Looks up a document's hash: FR_E_NOTFOUND when absent; hash gets 64 hex. */
fr_status fr_kb_doc_hash(fr_kb *kb, const char *path, char hash[65], fr_err *err);

#endif
