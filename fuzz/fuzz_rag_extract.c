/*
 * fuzz_rag_extract.c - the HTML, CSV, JSON and JSONL extractors, the
 * chunker, the query rewriter and the answer validator on arbitrary bytes.
 * The first byte picks the target; the rest is the input.
 */
#include "rag/chunk.h"
#include "rag/extract.h"

#include <frugal/rag.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const fmts[] = {"html", "csv", "json", "jsonl", "md", "txt"};
    unsigned sel = data[0] % 8;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (sel < 6) {
        fr_extract_opts o = {0};
        o.max_line_bytes = 4096;
        fr_doc *d = NULL;
        if (fr_extract_memory("fuzz", fmts[sel], s, n, &o, &d, NULL) == FR_OK) {
            fr_chunk *c = NULL;
            size_t nc = 0;
            fr_chunk_opts co = {20};
            if (fr_chunk_doc(d, &co, &c, &nc, NULL) == FR_OK)
                fr_chunks_free(c, nc);
            fr_doc_free(d);
        }
        return 0;
    }
    char *q = malloc(n + 1);
    if (!q)
        return 0;
    memcpy(q, s, n);
    q[n] = '\0';
    if (sel == 6) {
        free(fr_rag_fts_query(q));
        free(fr_rag_code_query(q));
    } else {
        (void)fr_rag_cite_check(s, n, 5);
        const char *p = "The Aurora X2 costs $149.00 [1]. Returns take 30 days.";
        size_t pl = strlen(p);
        fr_rag_checked *c = NULL;
        if (fr_rag_check_answer(s, n, &p, &pl, 1, FR_RAG_CITES_OPTIONAL, NULL, &c, NULL) == FR_OK)
            fr_rag_checked_free(c);
    }
    free(q);
    return 0;
}
