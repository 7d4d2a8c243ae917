/*
 * chunk.h - cuts an extracted document into retrieval passages.
 *
 * A chunk is a run of whole sentences from one section (same heading path
 * and page), at most max_words words; consecutive chunks of a section share
 * one sentence so that a fact split across the cut is still whole in one of
 * them. A sentence longer than max_words is cut at word boundaries. Chunks
 * never cross a heading: the heading is what a citation shows, and mixing
 * two sections would make it wrong.
 *
 * Offsets are source-file bytes: exact for the sentences of verbatim blocks
 * (txt, md, pdftotext output), the enclosing element/record otherwise.
 */
#ifndef FR_RAG_CHUNK_H
#define FR_RAG_CHUNK_H

#include "rag/extract.h"

typedef struct fr_chunk {
    char *text;       /* owned; whitespace collapsed; blocks joined by '\n' */
    size_t len;
    char *heading;    /* owned or NULL */
    int page;         /* 0 when the format has no pages */
    uint64_t src_off; /* first source byte */
    uint64_t src_len;
    size_t n_words;
} fr_chunk;

typedef struct fr_chunk_opts {
    size_t max_words; /* 0: 300 */
} fr_chunk_opts;

/* Chunks d. *out is an owned array of *n chunks: fr_chunks_free. */
fr_status fr_chunk_doc(const fr_doc *d, const fr_chunk_opts *opts, fr_chunk **out, size_t *n,
                       fr_err *err);
void fr_chunks_free(fr_chunk *c, size_t n);

#endif
