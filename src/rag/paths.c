/*
 * paths.c - the directory every document of a knowledge base lies under,
 * so that a server can name documents relative to it instead of
 * publishing its own file system layout (issue 18: POST /v1/ask returned
 * absolute paths).
 *
 * Documents are keyed by absolute path (index.c). The longest common
 * prefix of a set of strings is the common prefix of its smallest and
 * largest members, which each store finds on its path index without
 * reading every row (the path_range operation); the prefix is then cut
 * back to a whole directory. Written once here for both stores. Rejected:
 * storing the roots given to `frugal index` (a schema change, and a
 * knowledge base built by several runs has several).
 */
#include "rag/kb.h"

#include <stdlib.h>
#include <string.h>

fr_status fr_kb_common_dir(fr_kb *kb, char **dir, fr_err *err)
{
    *dir = NULL;
    char *lo = NULL, *hi = NULL;
    fr_status st = kb->ops->path_range(kb, &lo, &hi, err);
    if (st)
        return st;
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
