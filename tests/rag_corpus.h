/*
 * rag_corpus.h - the knowledge-base checks every store must pass, on the
 * hand-written corpus in tests/data/rag: incremental indexing with its
 * counts and rejection reasons, retrieval and the gate, read-only handles.
 * test_rag_kb runs them on SQLite, test_rag_pg on PostgreSQL, so the two
 * stores are held to one set of expectations. Include after test.h.
 */
#ifndef FR_TEST_RAG_CORPUS_H
#define FR_TEST_RAG_CORPUS_H

#include "base/file.h"
#include "rag/sha256.h"

#include <fcntl.h>
#include <frugal/rag.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void put(const char *name, const void *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/docs/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void copy_corpus(const char *name)
{
    char src[4096];
    const char *root = getenv("FR_SRC");
    snprintf(src, sizeof src, "%s/tests/data/rag/%s", root ? root : ".", name);
    char *data = NULL;
    size_t n = 0;
    if (fr_read_file(src, 1 << 20, &data, &n, NULL) != FR_OK) {
        fprintf(stderr, "cannot read %s\n", src);
        exit(1);
    }
    put(name, data, n);
    free(data);
}

static void file_hash(const char *p, char hex[65])
{
    char *data = NULL;
    size_t n = 0;
    hex[0] = 0;
    if (fr_read_file(p, 1 << 30, &data, &n, NULL) == FR_OK)
        fr_sha256_hex(data, n, hex);
    free(data);
}

typedef struct events {
    int rejected;
    char reasons[2048];
} events;

static void on_event(void *user, const char *path, fr_kb_action a, const char *why, uint64_t d,
                     uint64_t t)
{
    (void)d;
    (void)t;
    events *e = user;
    if (a == FR_KB_REJECTED) {
        e->rejected++;
        size_t l = strlen(e->reasons);
        snprintf(e->reasons + l, sizeof e->reasons - l, "%s: %s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, why);
    }
}

static fr_kb_index_report run(fr_kb *kb, events *ev)
{
    char docs[512];
    snprintf(docs, sizeof docs, "%s/docs", g_dir);
    const char *paths[1] = {docs};
    fr_kb_index_opts o = {0};
    o.on_event = on_event;
    o.user = ev;
    fr_kb_index_report r;
    fr_err err;
    memset(ev, 0, sizeof *ev);
    fr_status st = fr_kb_index(kb, paths, 1, &o, &r, &err);
    CHECK_MSG(st == FR_OK, "%s", err.msg);
    return r;
}

static const char *const corpus_files[] = {"products.md", "returns-policy.html", "warranty.txt",
                                           "price-list.csv", "support.json", "tickets.jsonl"};

/* The corpus in g_dir/docs, with hostile neighbours. */
static void corpus_make_docs(void)
{
    char docs[512];
    snprintf(docs, sizeof docs, "%s/docs", g_dir);
    mkdir(docs, 0755);
    for (size_t i = 0; i < 6; i++)
        copy_corpus(corpus_files[i]);
    /* hostile neighbours */
    put("image.png", "\x89PNG\r\n\x1a\n\0\0\0", 11);
    put("blob.txt", "text\0with NUL", 13);
    put("empty.md", "\n\n   \n", 6);
    char *line = malloc(3u << 20);
    memset(line, 'a', 3u << 20);
    put("oneline.txt", line, 3u << 20);
    free(line);
    char p[512];
    snprintf(p, sizeof p, "%s/docs/huge.txt", g_dir);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 50 * 1000 * 1000) == 0);
    close(fd);
    put(".hidden.txt", "secret", 6);
    mkdir(strcat(strcpy(p, docs), "/sub"), 0755);
    put("sub/notes.txt", "The Bergen warehouse opens at 07:30 on weekdays.", 48);
}

/* Indexes the corpus four times: everything new (hostile files rejected
 * with their reasons), nothing changed (db_file, when given, keeps its
 * bytes), a changed, a deleted and a new file, a file turned binary. */
static void corpus_check_index(fr_kb *kb, const char *db_file)
{
    char p[512];
    fr_err err;
    events ev;
    fr_kb_index_report r = run(kb, &ev);
    CHECK_EQ_INT(r.added, 7);
    CHECK_EQ_INT(r.rejected, 5);
    CHECK_EQ_INT(r.skipped + r.updated + r.removed, 0);
    CHECK_MSG(strstr(ev.reasons, "image.png: unsupported file type") != NULL, "%s", ev.reasons);
    CHECK_MSG(strstr(ev.reasons, "blob.txt: binary") != NULL, "%s", ev.reasons);
    CHECK_MSG(strstr(ev.reasons, "empty.md: no text") != NULL, "%s", ev.reasons);
    CHECK_MSG(strstr(ev.reasons, "oneline.txt: line 1") != NULL, "%s", ev.reasons);
    CHECK_MSG(strstr(ev.reasons, "huge.txt: 50000000 bytes is over") != NULL, "%s", ev.reasons);
    fr_kb_stats st;
    CHECK(fr_kb_stats_get(kb, &st, &err) == FR_OK);
    CHECK_EQ_INT(st.documents, 7);
    CHECK(st.chunks >= 7 && st.terms > 100 && st.db_bytes > 0);
    CHECK_EQ_INT(st.schema_version, FR_KB_SCHEMA_VERSION);
    uint64_t chunks1 = st.chunks;

    /* second run: nothing changes, not even the file's bytes */
    char h1[65], h2[65];
    if (db_file)
        file_hash(db_file, h1);
    r = run(kb, &ev);
    CHECK_EQ_INT(r.skipped, 7);
    CHECK_EQ_INT(r.added + r.updated + r.removed + r.chunks_written, 0);
    CHECK_EQ_INT(r.rejected, 5);
    if (db_file) {
        file_hash(db_file, h2);
        CHECK_STR(h1, h2);
    }

    /* change one file, delete one, add one */
    const char *w = "Every Brightwater instrument has a warranty of 3 years from the date of purchase.";
    put("warranty.txt", w, strlen(w));
    snprintf(p, sizeof p, "%s/docs/tickets.jsonl", g_dir);
    unlink(p);
    put("new.txt", "The Oslo office closed in 2019.", 31);
    r = run(kb, &ev);
    CHECK_EQ_INT(r.updated, 1);
    CHECK_EQ_INT(r.removed, 1);
    CHECK_EQ_INT(r.added, 1);
    CHECK_EQ_INT(r.skipped, 5);
    CHECK(fr_kb_stats_get(kb, &st, &err) == FR_OK);
    CHECK_EQ_INT(st.documents, 7);
    /* a file that turns binary is rejected and its old version removed */
    put("new.txt", "\0\0\0\0", 4);
    r = run(kb, &ev);
    CHECK_EQ_INT(r.rejected, 6);
    CHECK(strstr(ev.reasons, "previous version was removed") != NULL);
    CHECK(fr_kb_stats_get(kb, &st, &err) == FR_OK);
    CHECK_EQ_INT(st.documents, 6);
    snprintf(p, sizeof p, "%s/docs/new.txt", g_dir);
    unlink(p);
    (void)chunks1;
}


static fr_kb_hits *corpus_ask(fr_kb *kb, const char *q)
{
    fr_kb_hits *h = NULL;
    fr_err err;
    fr_kb_retrieve_opts o = {0};
    fr_status st = fr_kb_retrieve(kb, q, &o, &h, &err);
    CHECK_MSG(st == FR_OK, "%s: %s", q, err.msg);
    return h;
}

static bool top_has(const fr_kb_hits *h, size_t top, const char *file, const char *text)
{
    for (size_t i = 0; h && i < h->n && i < top; i++)
        if (strstr(h->v[i].path, file) && strstr(h->v[i].text, text))
            return true;
    return false;
}

/* Answerable questions find their passage first and pass the gate; codes
 * are found through the trigram list; unanswerable ones abstain; questions
 * full of query syntax are literal. */
static void corpus_check_retrieval(fr_kb *kb)
{
    /* answerable: the passage with the answer is first, the gate passes */
    struct {
        const char *q, *file, *text;
    } ok[] = {
        {"How much does the Aurora X2 thermometer cost?", "products.md", "$149.00"},
        {"How many days do customers have to return an unused product?", "returns-policy.html", "30 days"},
        {"How long is the warranty on Brightwater instruments?", "warranty.txt", "3 years"},
        {"How long does the Borealis battery last?", "products.md", "18 months"},
        {"When does the Bergen warehouse open?", "notes.txt", "07:30"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        fr_kb_hits *h = corpus_ask(kb, ok[i].q);
        CHECK_MSG(top_has(h, 1, ok[i].file, ok[i].text), "%s", ok[i].q);
        CHECK_MSG(h && h->gate_pass, "%s: %s", ok[i].q, h ? h->gate_reason : "");
        fr_kb_hits_free(h);
    }
    /* a code that word tokenizers split: found through the trigram index */
    fr_kb_hits *h = corpus_ask(kb, "SKU-9104K");
    CHECK(h && h->n > 0 && h->v[0].tri_rank == 1);
    CHECK(top_has(h, 2, "price-list.csv", "SKU-9104K"));
    fr_kb_hits_free(h);
    h = corpus_ask(kb, "which product is 4821X");
    CHECK(top_has(h, 3, "", "SKU-4821X"));
    fr_kb_hits_free(h);
    /* unanswerable: the gate abstains */
    const char *no[] = {
        "What is the price of the Zephyr 9000 drone?",
        "Does Brightwater sell electric bicycles?",
        "Who is the chief executive of Brightwater's Tokyo subsidiary?",
        "the of and which",
        "",
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        h = corpus_ask(kb, no[i]);
        CHECK_MSG(h && !h->gate_pass, "'%s' passed: %s", no[i], h ? h->gate_reason : "");
        fr_kb_hits_free(h);
    }
    /* hostile questions: FTS5 syntax is literal, never an error */
    const char *hostile[] = {
        "\"", "\"\"\"", "(", ")", "NEAR(a b)", "a NEAR b", "*", "price*", "^price", "text:price",
        "heading : price", "- price", "price AND", "OR OR OR", "NOT price", "{text heading}: x",
        "'; DROP TABLE chunks; --", "\xFF\xFE invalid utf8 \xC3", "SKU-\"4821X", "\"SKU-4821X\" OR",
        "a\nb\tc", "[1] [2]", "ab", "x y z",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        h = corpus_ask(kb, hostile[i]);
        fr_kb_hits_free(h);
    }
    h = corpus_ask(kb, "price* of (Aurora) NEAR X2?");
    CHECK(top_has(h, 2, "products.md", "$149.00"));
    fr_kb_hits_free(h);
    /* the knowledge base survived */
    fr_kb_stats st;
    fr_err serr;
    CHECK_MSG(fr_kb_stats_get(kb, &st, &serr) == FR_OK && st.documents == 6, "%s",
              serr.msg);
}

/* A read-only handle (what the server opens per request) retrieves, reads
 * stats, refuses to write, and (db_file) leaves the file's bytes alone. */
static void corpus_check_readonly(const char *db, bool db_file)
{
    char h1[65] = "", h2[65] = "";
    if (db_file)
        file_hash(db, h1);
    fr_kb *kb = NULL;
    fr_err err;
    CHECK_MSG(fr_kb_open_readonly(db, &kb, &err) == FR_OK, "%s", err.msg);
    if (!kb)
        return;
    fr_kb_hits *h = corpus_ask(kb, "How long is the warranty?");
    CHECK(h && h->n > 0);
    fr_kb_hits_free(h);
    fr_kb_stats st;
    CHECK(fr_kb_stats_get(kb, &st, &err) == FR_OK);
    CHECK(st.documents == 6 && st.chunks > 0);
    CHECK(fr_kb_add_text(kb, "x.txt", "txt", "Some text here.", 15, NULL, NULL, &err) != FR_OK);
    fr_kb_free(kb);
    if (db_file) {
        file_hash(db, h2);
        CHECK_STR(h1, h2);
    }
}

/* Removes g_dir and everything in it. */
static void corpus_remove_dir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}

#endif
