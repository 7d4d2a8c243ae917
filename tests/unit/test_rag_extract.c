/* Tests for src/rag/extract.c and chunk.c: every format on the hand-written
 * corpus in tests/data/rag, the hostile inputs (binary, huge lines, invalid
 * UTF-8, an HTML bomb, a file over the size cap, broken JSON/CSV, empty
 * documents), PDF through pdftotext when it is installed, and the chunker's
 * sentence boundaries, overlap, size cap and source offsets. */
#include "test.h"

#include "base/buf.h"
#include "base/file.h"
#include "rag/chunk.h"
#include "rag/extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *corpus(const char *name, char *buf, size_t n)
{
    const char *src = getenv("FR_SRC");
    snprintf(buf, n, "%s/tests/data/rag/%s", src ? src : ".", name);
    return buf;
}

/* Concatenated block texts. */
static char *all_text(const fr_doc *d)
{
    fr_buf b = FR_BUF_INIT;
    for (size_t i = 0; i < d->n_blocks; i++) {
        fr_buf_append(&b, d->blocks[i].text, d->blocks[i].len);
        fr_buf_putc(&b, '\n');
    }
    return fr_buf_take(&b);
}

static fr_doc *extract(const char *name)
{
    char p[4096];
    fr_doc *d = NULL;
    fr_err err;
    fr_status st = fr_extract_file(corpus(name, p, sizeof p), NULL, &d, &err);
    CHECK_MSG(st == FR_OK, "%s: %s", name, err.msg);
    return d;
}

static void test_formats(void)
{
    fr_doc *d = extract("returns-policy.html");
    if (d) {
        char *t = all_text(d);
        CHECK_STR(d->title, "Returns & Refunds Policy");
        CHECK(strstr(t, "Returns & Refunds") != NULL);                 /* entity, heading kept */
        CHECK(strstr(t, "within 30 days of delivery") != NULL);        /* inline tags stripped */
        CHECK(strstr(t, "costs \xE2\x82\xAC" "12") != NULL);           /* &euro; */
        CHECK(strstr(t, "Brightwater\xE2\x80\x99s") != NULL);          /* &rsquo; */
        CHECK(strstr(t, "tracking") == NULL && strstr(t, "font-family") == NULL);
        CHECK(strstr(t, "internal note") == NULL);
        bool heading = false;
        for (size_t i = 0; i < d->n_blocks; i++)
            if (d->blocks[i].heading && strcmp(d->blocks[i].heading, "Returns & Refunds > Refund timing") == 0)
                heading = true;
        CHECK(heading);
        free(t);
        fr_doc_free(d);
    }
    d = extract("products.md");
    if (d) {
        CHECK_STR(d->title, "Brightwater Instruments product catalog");
        char *t = all_text(d);
        CHECK(strstr(t, "#") == NULL);
        CHECK(strstr(t, "SKU-4821X") != NULL);
        free(t);
        /* a verbatim block's offsets point at the same bytes in the file */
        char p[4096];
        char *raw = NULL;
        size_t n = 0;
        CHECK(fr_read_file(corpus("products.md", p, sizeof p), 1 << 20, &raw, &n, NULL) == FR_OK);
        for (size_t i = 0; raw && i < d->n_blocks; i++) {
            const fr_block *b = &d->blocks[i];
            CHECK(b->verbatim);
            CHECK(b->src_off + b->src_len <= n && memcmp(raw + b->src_off, b->text, b->len) == 0);
        }
        free(raw);
        fr_doc_free(d);
    }
    d = extract("price-list.csv");
    if (d) {
        CHECK_EQ_INT(d->n_blocks, 4);
        CHECK_STR(d->blocks[3].text,
                  "sku: SKU-9104K; product: Calibration kit, 3 probes; price_usd: 59.00; launched: 2023-05-02.");
        fr_doc_free(d);
    }
    d = extract("support.json");
    if (d) {
        CHECK_EQ_INT(d->n_blocks, 3);
        CHECK_STR(d->blocks[1].heading, "Bluetooth pairing");
        CHECK(strstr(d->blocks[1].text, "answer: The Fjord data logger pairs with up to 8 sensors") != NULL);
        fr_doc_free(d);
    }
    d = extract("tickets.jsonl");
    if (d) {
        CHECK_EQ_INT(d->n_blocks, 2);
        CHECK_STR(d->blocks[0].heading, "T-1001");
        /* record offsets are the line's bytes */
        CHECK_EQ_INT(d->blocks[1].src_off, d->blocks[0].src_len + 1);
        fr_doc_free(d);
    }
    d = extract("warranty.txt");
    if (d) {
        CHECK_EQ_INT(d->n_blocks, 3);
        fr_doc_free(d);
    }
}

static fr_status ext_mem(const char *fmt, const char *s, size_t n, fr_doc **d, fr_err *err)
{
    return fr_extract_memory("mem", fmt, s, n, NULL, d, err);
}

/* Headings at the very end of the input, and headings cut at the length
 * limit inside a multi-byte character (fuzz_rag_extract found a read past
 * the end for the first). */
static void test_heading_edges(void)
{
    fr_doc *d = NULL;
    fr_err err;
    static const char eof[] = "t\n## caf\xc3\xa9"; /* no newline after the heading */
    char *exact = malloc(sizeof eof - 1); /* no NUL after it: ASan sees a read past the end */
    CHECK(exact != NULL);
    if (!exact)
        return;
    memcpy(exact, eof, sizeof eof - 1);
    CHECK(ext_mem("md", exact, sizeof eof - 1, &d, &err) == FR_OK);
    free(exact);
    if (d) {
        bool found = false;
        for (size_t i = 0; i < d->n_blocks; i++)
            found |= d->blocks[i].heading && strcmp(d->blocks[i].heading, "caf\xc3\xa9") == 0;
        CHECK(found);
        fr_doc_free(d);
        d = NULL;
    }
    /* "# " + 199 x 'a' + e-acute (bytes 200, 201) + more: the cut at 200 bytes
     * must not keep half of the e-acute */
    char big[512];
    size_t k = 0;
    big[k++] = '#', big[k++] = ' ';
    for (int i = 0; i < 199; i++)
        big[k++] = 'a';
    big[k++] = (char)0xC3, big[k++] = (char)0xA9;
    for (int i = 0; i < 20; i++)
        big[k++] = 'b';
    memcpy(big + k, "\nbody text\n", 11);
    k += 11;
    CHECK(ext_mem("md", big, k, &d, &err) == FR_OK);
    if (d) {
        const char *h = NULL;
        for (size_t i = 0; i < d->n_blocks && !h; i++)
            h = d->blocks[i].heading;
        CHECK(h != NULL);
        if (h) {
            CHECK_EQ_INT(strlen(h), 199);
            CHECK(h[198] == 'a');
        }
        fr_doc_free(d);
    }
}

static void test_hostile(void)
{
    fr_doc *d = NULL;
    fr_err err;
    /* binary */
    CHECK(ext_mem("txt", "PK\x03\x04\0\0binary", 12, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "binary") != NULL);
    /* mostly invalid UTF-8: Latin-1 text */
    char latin[400];
    for (size_t i = 0; i < sizeof latin; i++)
        latin[i] = (i % 3 == 0) ? (char)0xE9 : 'a';
    CHECK(ext_mem("txt", latin, sizeof latin, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "not UTF-8") != NULL);
    /* a few invalid bytes: repaired, offsets no longer verbatim */
    const char *fix = "Price is 12 \xFF euros.";
    CHECK(ext_mem("txt", fix, strlen(fix), &d, &err) == FR_OK);
    if (d) {
        CHECK_EQ_INT(d->n_repairs, 1);
        CHECK(!d->blocks[0].verbatim);
        CHECK(strstr(d->blocks[0].text, "\xEF\xBF\xBD") != NULL);
        fr_doc_free(d);
        d = NULL;
    }
    /* a line over the cap */
    size_t big = (2u << 20) + 10;
    char *line = malloc(big);
    memset(line, 'x', big);
    for (size_t i = 5; i < big; i += 7)
        line[i] = ' ';
    CHECK(ext_mem("txt", line, big, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "line 1") != NULL);
    /* the same bytes as HTML (minified pages are one line) are indexed */
    CHECK(ext_mem("html", line, big, &d, &err) == FR_OK);
    fr_doc_free(d);
    d = NULL;
    free(line);
    /* HTML bomb: 200,000 nested tags, unterminated comment, attribute with '>' */
    fr_buf b = FR_BUF_INIT;
    for (int i = 0; i < 200000; i++)
        fr_buf_puts(&b, "<div><span class=\"a>b\">");
    fr_buf_puts(&b, "deep text &#x1F600; &#0; &#xD800; &bogus; &#99999999;");
    for (int i = 0; i < 1000; i++)
        fr_buf_puts(&b, "</span></div>");
    fr_buf_puts(&b, "<script>never closed");
    CHECK(fr_buf_ok(&b));
    CHECK(ext_mem("html", b.data, b.len, &d, &err) == FR_OK);
    if (d) {
        char *t = all_text(d);
        CHECK(strstr(t, "deep text \xF0\x9F\x98\x80") != NULL);
        CHECK(strstr(t, "never closed") == NULL);
        free(t);
        fr_doc_free(d);
        d = NULL;
    }
    fr_buf_free(&b);
    CHECK(ext_mem("html", "<p>a<!-- unterminated", 21, &d, &err) == FR_OK);
    fr_doc_free(d);
    d = NULL;
    /* nothing to extract */
    CHECK(ext_mem("html", "<html><script>x</script></html>", 31, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "no text") != NULL);
    CHECK(ext_mem("txt", " \n\n\t ", 5, &d, &err) == FR_E_FORMAT);
    CHECK(ext_mem("json", "{\"a\": null}", 11, &d, &err) == FR_E_FORMAT);
    /* broken structure */
    CHECK(ext_mem("json", "{\"a\": [1, 2", 11, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "line 1") != NULL);
    CHECK(ext_mem("jsonl", "{\"a\": \"x\"}\n{oops}\n", 18, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "line 2") != NULL);
    CHECK(ext_mem("csv", "a,b\n1,\"unterminated\n", 20, &d, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "record 2") != NULL);
    /* deep JSON: flattened up to the depth cap, never recursing without bound */
    fr_buf j = FR_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        fr_buf_puts(&j, "{\"k\":");
    fr_buf_puts(&j, "\"deep\"");
    for (int i = 0; i < 1000; i++)
        fr_buf_putc(&j, '}');
    fr_status st = ext_mem("json", j.data, j.len, &d, &err);
    CHECK(st == FR_OK || st == FR_E_FORMAT);
    fr_doc_free(d);
    d = NULL;
    fr_buf_free(&j);
    CHECK(fr_extract_memory("x", "docx", "abc", 3, NULL, &d, &err) == FR_E_UNSUPPORTED);
    CHECK(fr_extract_format("a/b.HTML") && strcmp(fr_extract_format("a/b.HTML"), "html") == 0);
    CHECK(fr_extract_format("a/b.exe") == NULL);
    CHECK(fr_extract_format("a.b/noext") == NULL);
}

static void test_files(void)
{
    char dir[256], p[512];
    fr_test_tmpdir(dir, sizeof dir);
    fr_doc *d = NULL;
    fr_err err;
    /* a 50 MB file over the 32 MiB cap is refused without being read (sparse) */
    snprintf(p, sizeof p, "%s/huge.txt", dir);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 50 * 1000 * 1000) == 0);
    close(fd);
    CHECK(fr_extract_file(p, NULL, &d, &err) == FR_E_NOMEM);
    CHECK(strstr(err.msg, "cap") != NULL);
    unlink(p);
    snprintf(p, sizeof p, "%s/none.txt", dir);
    CHECK(fr_extract_file(p, NULL, &d, &err) == FR_E_NOTFOUND);
    /* PDF: missing tool is "unsupported", never silently empty */
    snprintf(p, sizeof p, "%s/doc.pdf", dir);
    FILE *f = fopen(p, "wb");
    fputs("%PDF-1.4 not really", f);
    fclose(f);
    fr_extract_opts eo = {0};
    eo.pdftotext = "/nonexistent/pdftotext";
    CHECK(fr_extract_file(p, &eo, &d, &err) == FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "poppler-utils") != NULL);
    char tool[4096];
    if (fr_pdftotext_path(NULL, tool, sizeof tool)) {
        /* a damaged PDF is reported */
        CHECK(fr_extract_file(p, NULL, &d, &err) == FR_E_FORMAT);
        /* a real two-page PDF, written by hand with a correct xref */
        const char *pages[2] = {"Page one says the Aurora costs 149 dollars.",
                                "Page two says returns take 30 days."};
        fr_buf pdf = FR_BUF_INIT;
        size_t off[8];
        fr_buf_puts(&pdf, "%PDF-1.4\n");
        off[1] = pdf.len;
        fr_buf_puts(&pdf, "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
        off[2] = pdf.len;
        fr_buf_puts(&pdf, "2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n");
        for (int pg = 0; pg < 2; pg++) {
            off[3 + pg] = pdf.len;
            fr_buf_printf(&pdf,
                          "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                          "/Contents %d 0 R /Resources << /Font << /F1 7 0 R >> >> >> endobj\n",
                          3 + pg, 5 + pg);
        }
        for (int pg = 0; pg < 2; pg++) {
            char stream[200];
            int sl = snprintf(stream, sizeof stream, "BT /F1 12 Tf 72 700 Td (%s) Tj ET", pages[pg]);
            off[5 + pg] = pdf.len;
            fr_buf_printf(&pdf, "%d 0 obj << /Length %d >> stream\n%s\nendstream endobj\n", 5 + pg,
                          sl, stream);
        }
        off[7] = pdf.len;
        fr_buf_puts(&pdf, "7 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n");
        size_t xref = pdf.len;
        fr_buf_puts(&pdf, "xref\n0 8\n0000000000 65535 f \n");
        for (int i = 1; i < 8; i++)
            fr_buf_printf(&pdf, "%010zu 00000 n \n", off[i]);
        fr_buf_printf(&pdf, "trailer << /Size 8 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
        f = fopen(p, "wb");
        fwrite(pdf.data, 1, pdf.len, f);
        fclose(f);
        fr_buf_free(&pdf);
        fr_status st = fr_extract_file(p, NULL, &d, &err);
        CHECK_MSG(st == FR_OK, "%s", err.msg);
        if (d) {
            CHECK_EQ_INT(d->n_pages, 2);
            bool p1 = false, p2 = false;
            for (size_t i = 0; i < d->n_blocks; i++) {
                p1 |= d->blocks[i].page == 1 && strstr(d->blocks[i].text, "149 dollars");
                p2 |= d->blocks[i].page == 2 && strstr(d->blocks[i].text, "30 days");
            }
            CHECK(p1 && p2);
            fr_doc_free(d);
            d = NULL;
        }
    } else {
        fprintf(stderr, "note: pdftotext not installed, PDF extraction checks skipped\n");
    }
    unlink(p);
    rmdir(dir);
}

/* Words by the naive definition: runs of non-space. */
static size_t naive_words(const char *s)
{
    size_t n = 0;
    bool in = false;
    for (; *s; s++) {
        bool sp = *s == ' ' || *s == '\n';
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

static void test_chunker(void)
{
    /* 100 numbered sentences of 10 words in one paragraph */
    fr_buf b = FR_BUF_INIT;
    for (int i = 0; i < 100; i++)
        fr_buf_printf(&b, "Sentence number s%03d has exactly ten words in it here. ", i);
    fr_doc *d = NULL;
    fr_err err;
    CHECK(fr_extract_memory("c.txt", "txt", b.data, b.len, NULL, &d, &err) == FR_OK);
    fr_chunk *c = NULL;
    size_t nc = 0;
    fr_chunk_opts o = {100};
    CHECK(d && fr_chunk_doc(d, &o, &c, &nc, &err) == FR_OK);
    /* 10 sentences per chunk, one shared: 1 + ceil((100 - 10) / 9) = 11 chunks */
    CHECK_EQ_INT(nc, 11);
    for (size_t i = 0; i < nc; i++) {
        CHECK(c[i].n_words <= 100);
        CHECK_EQ_INT(c[i].n_words, naive_words(c[i].text));
        /* whole sentences: starts with "Sentence", ends with "here." */
        CHECK(strncmp(c[i].text, "Sentence number", 15) == 0);
        CHECK(c[i].len >= 5 && strcmp(c[i].text + c[i].len - 5, "here.") == 0);
        /* offsets are exact for plain text */
        CHECK(c[i].src_off + c[i].src_len <= b.len);
        CHECK(memcmp(b.data + c[i].src_off, "Sentence", 8) == 0);
        if (i > 0) {
            /* the first sentence of a chunk is the last of the one before */
            const char *last = strstr(c[i - 1].text + c[i - 1].len - 60, "Sentence number");
            CHECK(last && strncmp(c[i].text, last, 20) == 0);
        }
    }
    fr_chunks_free(c, nc);
    fr_doc_free(d);
    fr_buf_free(&b);
    /* a sentence longer than the cap is cut at words */
    fr_buf l = FR_BUF_INIT;
    for (int i = 0; i < 700; i++)
        fr_buf_puts(&l, "word ");
    CHECK(fr_extract_memory("l.txt", "txt", l.data, l.len, NULL, &d, &err) == FR_OK);
    CHECK(d && fr_chunk_doc(d, NULL, &c, &nc, &err) == FR_OK);
    CHECK_EQ_INT(nc, 3);
    for (size_t i = 0; i < nc; i++)
        CHECK(c[i].n_words <= 300 && c[i].n_words == naive_words(c[i].text));
    fr_chunks_free(c, nc);
    fr_doc_free(d);
    fr_buf_free(&l);
    /* chunks never cross a heading */
    const char *md = "# A\n\nAlpha text.\n\n## B\n\nBeta text.\n";
    CHECK(fr_extract_memory("h.md", "md", md, strlen(md), NULL, &d, &err) == FR_OK);
    CHECK(d && fr_chunk_doc(d, NULL, &c, &nc, &err) == FR_OK);
    CHECK_EQ_INT(nc, 2);
    if (nc == 2) {
        CHECK_STR(c[0].heading, "A");
        CHECK_STR(c[0].text, "A\nAlpha text.");
        CHECK_STR(c[1].heading, "A > B");
        CHECK_STR(c[1].text, "B\nBeta text.");
    }
    fr_chunks_free(c, nc);
    fr_doc_free(d);
}

int main(void)
{
    test_formats();
    test_hostile();
    test_heading_edges();
    test_files();
    test_chunker();
    TEST_END();
}
