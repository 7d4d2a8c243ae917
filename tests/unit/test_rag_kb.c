/* Tests for the knowledge base in SQLite: incremental, idempotent indexing
 * (counts of added/updated/skipped/removed/rejected; a second run leaves
 * the database file byte-identical), hostile files in a directory walk,
 * schema checks, retrieval (BM25 + trigram for codes), the gate on
 * answerable and unanswerable questions, and questions full of FTS5 syntax
 * (the store-independent checks are in tests/rag_corpus.h; test_rag_pg runs
 * them on PostgreSQL); which store a --db names, and URIs shown without
 * their password. */
#include "test.h"

#include "rag/kb.h"
#include "rag_corpus.h"

#include <sqlite3.h>

static void test_schema(const char *dir)
{
    char p[512];
    fr_err err;
    fr_kb *kb = NULL;
    snprintf(p, sizeof p, "%s/not.sqlite", dir);
    FILE *f = fopen(p, "wb");
    fputs("this is not a database, just text that is long enough to be a header....", f);
    fclose(f);
    CHECK(fr_kb_open(p, true, &kb, &err) != FR_OK);
    CHECK(fr_kb_open_readonly(p, &kb, &err) != FR_OK);
    unlink(p);
    CHECK(fr_kb_open_readonly(p, &kb, &err) == FR_E_NOTFOUND);
    f = fopen(p, "wb");
    fclose(f);
    CHECK(fr_kb_open_readonly(p, &kb, &err) == FR_E_FORMAT);
    CHECK_MSG(strstr(err.msg, "empty file") != NULL, "%s", err.msg);
    unlink(p);
    /* another application's SQLite file */
    snprintf(p, sizeof p, "%s/other.sqlite", dir);
    CHECK(fr_kb_open(p, true, &kb, &err) == FR_OK);
    fr_kb_free(kb);
    /* pretend a newer frugal wrote it */
    sqlite3 *db;
    sqlite3_open(p, &db);
    sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(fr_kb_open(p, false, &kb, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "schema version 99") != NULL);
    unlink(p);
    sqlite3_open(p, &db);
    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(fr_kb_open(p, true, &kb, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "not a frugal knowledge base") != NULL);
    CHECK(fr_kb_open_readonly(p, &kb, &err) == FR_E_FORMAT);
    unlink(p);
}

/* Which store a --db names, and what messages show of a URI. */
static void test_uri(void)
{
    CHECK(fr_kb_is_pg_uri("postgresql://u@h/db"));
    CHECK(fr_kb_is_pg_uri("postgres:///db?host=/run/postgresql"));
    CHECK(!fr_kb_is_pg_uri("kb.sqlite"));
    CHECK(!fr_kb_is_pg_uri("postgresql:/x"));
    static const char *const cases[][2] = {
        {"postgresql://u:s3cret@db.example:5432/kb", "postgresql://u:***@db.example:5432/kb"},
        {"postgresql://u:p%40ss@h/kb?sslmode=require", "postgresql://u:***@h/kb?sslmode=require"},
        {"postgresql://u@h/kb?password=s3cret&sslmode=require",
         "postgresql://u@h/kb?password=***&sslmode=require"},
        {"postgresql:///kb?host=/run/postgresql&password=x", "postgresql:///kb?host=/run/postgresql&password=***"},
        {"postgresql://h/kb", "postgresql://h/kb"},
        {"postgresql://a:b@h1:1,h2:2/kb", "postgresql://a:***@h1:1,h2:2/kb"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *r = fr_kb_redact_uri(cases[i][0]);
        CHECK_STR(r, cases[i][1]);
        free(r);
    }
    fr_kb *kb = NULL;
    fr_err err;
    fr_status st = fr_kb_open("postgresql://u:s3cret@/kb?host=/nonexistent-frugal-dir", false,
                              &kb, &err);
#ifdef FR_HAVE_POSTGRESQL
    CHECK_EQ_INT(st, FR_E_IO);
    CHECK_MSG(strstr(err.msg, "cannot connect") != NULL, "%s", err.msg);
#else
    CHECK_EQ_INT(st, FR_E_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "not built with PostgreSQL support") != NULL, "%s", err.msg);
#endif
    CHECK_MSG(strstr(err.msg, "s3cret") == NULL && strstr(err.msg, "u:***@") != NULL, "%s",
              err.msg);
    CHECK(kb == NULL);
}

int main(void)
{
    fr_test_tmpdir(g_dir, sizeof g_dir);
    char db[512];
    corpus_make_docs();
    snprintf(db, sizeof db, "%s/kb.sqlite", g_dir);
    fr_kb *kb = NULL;
    fr_err err;
    CHECK(fr_kb_open(db, false, &kb, &err) == FR_E_NOTFOUND);
    CHECK(fr_kb_open(db, true, &kb, &err) == FR_OK);
    if (kb) {
        corpus_check_index(kb, db);
        corpus_check_retrieval(kb);
    }
    fr_kb_free(kb);
    corpus_check_readonly(db, true);
    test_schema(g_dir);
    test_uri();
    corpus_remove_dir();
    TEST_END();
}
