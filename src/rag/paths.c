/*
 * paths.c - the directory every document of a knowledge base lies under,
 * so that a server can name documents relative to it instead of
 * publishing its own file system layout (issue 18: POST /v1/ask returned
 * absolute paths).
 *
 * Documents are keyed by absolute path (index.c). The longest common
 * prefix of a set of strings is the common prefix of its smallest and
 * largest members, so two lookups on the UNIQUE path index answer it
 * without reading every row; the prefix is then cut back to a whole
 * directory. Rejected: storing the roots given to `frugal index` (a schema
 * change, and a knowledge base built by several runs has several).
 */
#include "rag/kb.h"

#include <stdlib.h>
#include <string.h>

static char *kb_path_at(fr_kb *kb, const char *sql, fr_status *st, fr_err *err)
{
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &s, NULL) != SQLITE_OK) {
        *st = fr_kb_sql_err(kb, err, "document paths");
        return NULL;
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        out = strdup((const char *)sqlite3_column_text(s, 0));
        if (!out)
            *st = fr_err_set(err, FR_E_NOMEM, "out of memory");
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *st = fr_kb_sql_err(kb, err, "document paths");
    }
    sqlite3_finalize(s);
    return out;
}

fr_status fr_kb_common_dir(fr_kb *kb, char **dir, fr_err *err)
{
    *dir = NULL;
    fr_status st = FR_OK;
    char *lo = kb_path_at(kb, "SELECT path FROM documents ORDER BY path LIMIT 1", &st, err);
    char *hi = st ? NULL
                  : kb_path_at(kb, "SELECT path FROM documents ORDER BY path DESC LIMIT 1", &st,
                               err);
    if (st) {
        free(lo);
        free(hi);
        return st;
    }
    size_t n = 0;
    if (lo && hi && lo[0] == '/') {
        while (lo[n] && lo[n] == hi[n])
            n++;
        /* back to the end of a whole directory: ".../docs/" */
        while (n > 0 && lo[n - 1] != '/')
            n--;
    }
    free(hi);
    if (!lo)
        lo = strdup("");
    if (!lo)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    lo[n] = '\0';
    *dir = lo;
    return FR_OK;
}
