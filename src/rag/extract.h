/*
 * extract.h - documents to plain-text blocks, one extractor per format.
 *
 * A block is a paragraph, heading, table record or JSON record: the unit the
 * chunker never splits across a heading. Each block remembers the bytes of
 * the source file it came from (src_off, src_len), its heading path and its
 * page, so that a citation can point back into the original file.
 *
 * Every extractor treats input as hostile: it never recurses on nesting that
 * the input controls (the HTML scanner is flat; JSON records are flattened
 * with an explicit depth cap), caps every line, field and output size, and
 * repairs invalid UTF-8 (or rejects a file that is mostly invalid, which is
 * a legacy 8-bit encoding rather than damaged UTF-8). Nothing that extracts
 * to no text is accepted: the indexer must report it, not index an empty
 * document.
 *
 * PDF goes through `pdftotext -layout` (poppler-utils) as a child process
 * with a time limit; its form feeds give page numbers. Offsets of PDF blocks
 * are offsets in that extracted text, not in the PDF bytes (which are
 * compressed streams no reader could use).
 */
#ifndef FR_RAG_EXTRACT_H
#define FR_RAG_EXTRACT_H

#include <frugal/base.h>

typedef struct fr_block {
    char *text;       /* owned, valid UTF-8, NUL-terminated, whitespace collapsed */
    size_t len;       /* bytes of text */
    char *heading;    /* owned or NULL: heading path above ("Returns > Refunds") */
    int page;         /* 1-based page, 0 for formats without pages */
    bool is_heading;  /* this block is itself a heading line */
    bool verbatim;    /* text is the source bytes (so sentence offsets map 1:1) */
    uint64_t src_off; /* first source byte of the block */
    uint64_t src_len; /* source bytes covered */
} fr_block;

typedef struct fr_doc {
    char *title;        /* owned: <title>, first heading, or the file name */
    const char *format; /* static: "txt" "md" "html" "csv" "json" "jsonl" "pdf" */
    fr_block *blocks;   /* owned, n_blocks entries */
    size_t n_blocks, cap_blocks;
    size_t n_repairs;   /* invalid UTF-8 sequences replaced by U+FFFD */
    size_t n_pages;     /* pages seen (pdf), else 0 */
} fr_doc;

typedef struct fr_extract_opts {
    size_t max_file_bytes; /* 0: 32 MiB */
    size_t max_line_bytes; /* 0: 1 MiB; txt/md/csv/jsonl lines above it reject the file */
    const char *pdftotext; /* NULL: look up "pdftotext" in PATH */
    double pdf_timeout_s;  /* 0: 60 */
} fr_extract_opts;

#define FR_EXTRACT_DEFAULT_MAX_FILE ((size_t)32 << 20)
#define FR_EXTRACT_DEFAULT_MAX_LINE ((size_t)1 << 20)

/* Format for a path by its extension ("txt", "md", ...), NULL when none. */
const char *fr_extract_format(const char *path);

/* Extracts data[0..n) in the given format; name is used in messages and as
 * the fallback title. Errors: FR_E_FORMAT (binary, not UTF-8, bad JSON/CSV,
 * line over the cap, no text), FR_E_NOMEM (caps), FR_E_UNSUPPORTED (format).
 * "pdf" cannot be extracted from memory. Owned by caller: fr_doc_free. */
fr_status fr_extract_memory(const char *name, const char *format, const char *data, size_t n,
                            const fr_extract_opts *opts, fr_doc **out, fr_err *err);
/* Reads path (refusing files over the size cap before reading them) and
 * extracts it by its extension. */
fr_status fr_extract_file(const char *path, const fr_extract_opts *opts, fr_doc **out,
                          fr_err *err);
void fr_doc_free(fr_doc *d);

/* Path of the pdftotext binary (from opts or PATH), or NULL when absent.
 * Writes into buf. */
const char *fr_pdftotext_path(const fr_extract_opts *opts, char *buf, size_t n);

#endif
