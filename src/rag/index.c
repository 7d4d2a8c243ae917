/*
 * index.c - `frugal index`: walk paths, skip unchanged files, re-chunk
 * changed ones, remove vanished ones (see fr_kb_index in frugal/rag.h).
 *
 * Documents are keyed by their canonical absolute path, so indexing
 * "docs/" from two working directories names the same rows. The walk is
 * collected and sorted first: the progress bar knows its total, and two
 * runs visit files in the same order. Every file is hashed (SHA-256) on
 * every run; an mtime shortcut was rejected because a file rewritten within
 * the timestamp granularity would be silently kept stale, and reading is
 * cheap next to extraction.
 *
 * Symbolic links: a link to a file is read only when its target (resolved
 * when the file is read, and then read by that resolved name) lies under
 * one of the given paths, unless follow_links; a link out of the tree is
 * rejected with the reason. Linked directories are never descended (loops,
 * and the same escape).
 */
#include "base/file.h"
#include "rag/extract.h"
#include "rag/kb.h"
#include "rag/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FR_WALK_DEPTH_MAX 64
#define FR_WALK_FILES_MAX 10000000

typedef struct str_list {
    char **v;
    size_t n, cap;
} str_list;

static bool sl_push(str_list *l, const char *s)
{
    if (l->n >= FR_WALK_FILES_MAX)
        return false;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = nc;
    }
    char *d = strdup(s);
    if (!d)
        return false;
    l->v[l->n++] = d;
    return true;
}

static void sl_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Absolute path without resolving a missing final component. */
static bool abs_path(const char *p, char out[PATH_MAX])
{
    if (realpath(p, out))
        return true;
    if (p[0] == '/')
        return snprintf(out, PATH_MAX, "%s", p) < PATH_MAX;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return false;
    return snprintf(out, PATH_MAX, "%s/%s", cwd, p) < PATH_MAX;
}

/* Collects regular files under dir (sorted, hidden entries skipped,
 * symlinked directories not followed). */
static bool walk(const char *dir, int depth, str_list *files)
{
    if (depth > FR_WALK_DEPTH_MAX)
        return true;
    DIR *d = opendir(dir);
    if (!d)
        return true; /* unreadable directory: nothing under it is seen */
    str_list names = {0};
    struct dirent *e;
    bool ok = true;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        ok = sl_push(&names, e->d_name);
    }
    closedir(d);
    if (ok && names.n)
        qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; ok && i < names.n; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, names.v[i]) >= (int)sizeof p)
            continue;
        struct stat ls;
        if (lstat(p, &ls) != 0)
            continue;
        if (S_ISDIR(ls.st_mode)) {
            ok = walk(p, depth + 1, files);
        } else if (S_ISREG(ls.st_mode)) {
            ok = sl_push(files, p);
        } else if (S_ISLNK(ls.st_mode)) {
            struct stat ts;
            if (stat(p, &ts) == 0 && S_ISREG(ts.st_mode))
                ok = sl_push(files, p);
        }
    }
    sl_free(&names);
    return ok;
}

static void event(const fr_kb_index_opts *o, const char *path, fr_kb_action a, const char *why,
                  uint64_t done, uint64_t total)
{
    if (o && o->on_event)
        o->on_event(o->user, path, a, why, done, total);
}

static void phase(const fr_kb_index_opts *o, const char *path, const char *what, uint64_t done,
                  uint64_t total)
{
    if (o && o->on_phase)
        o->on_phase(o->user, path, what, done, total);
}

/* True when the canonical path real lies under one of the canonical roots
 * (a directory root: strictly below it; a file root: the file itself). */
static bool under_roots(const char *real, const str_list *roots, const bool *root_dir)
{
    for (size_t i = 0; i < roots->n; i++) {
        const char *r = roots->v[i];
        size_t n = strlen(r);
        if (strncmp(real, r, n) != 0)
            continue;
        if (!root_dir[i] ? real[n] == '\0'
                         : (real[n] == '/' || (n > 0 && r[n - 1] == '/' && real[n] != '\0')))
            return true;
    }
    return false;
}

/* Index one file; database errors are returned, file problems reported.
 * real is the name to read it by (path with every link resolved), NULL
 * when that could not be found out. */
static fr_status index_file(fr_kb *kb, const char *path, const char *real,
                            const char *link_reject, const fr_kb_index_opts *o,
                            fr_kb_index_report *rep, uint64_t done, uint64_t total, fr_err *err)
{
    fr_extract_opts eo = {0};
    if (o) {
        eo.max_file_bytes = o->max_file_bytes;
        eo.max_line_bytes = o->max_line_bytes;
        eo.pdftotext = o->pdftotext;
    }
    size_t cap = eo.max_file_bytes ? eo.max_file_bytes : FR_EXTRACT_DEFAULT_MAX_FILE;
    fr_err ferr;
    fr_err_clear(&ferr);
    char hash[65], old[65];
    char *data = NULL;
    size_t n = 0;
    fr_status fst = FR_OK;
    struct stat sb;
    const char *fmt = fr_extract_format(path);
    if (!fmt)
        fst = fr_err_set(&ferr, FR_E_UNSUPPORTED,
                         "unsupported file type (known: .txt .md .html .csv .json .jsonl .pdf)");
    else if (link_reject)
        fst = fr_err_set(&ferr, FR_E_INVALID, "%s", link_reject);
    else if (!real || stat(real, &sb) != 0)
        fst = fr_err_set(&ferr, FR_E_IO, "cannot stat: %s", strerror(real ? errno : ENOENT));
    else if ((uint64_t)sb.st_size > cap)
        fst = fr_err_set(&ferr, FR_E_NOMEM, "%lld bytes is over the %zu-byte file cap",
                         (long long)sb.st_size, cap);
    else {
        phase(o, path, "reading", done - 1, total);
        fst = fr_read_file(real, cap, &data, &n, &ferr);
    }
    fr_status st = fr_kb_doc_hash(kb, path, old, err);
    if (st != FR_OK && st != FR_E_NOTFOUND) {
        free(data);
        return st;
    }
    bool existed = st == FR_OK;
    fr_doc *doc = NULL;
    if (fst == FR_OK) {
        fr_sha256_hex(data, n, hash);
        if (existed && strcmp(hash, old) == 0) {
            free(data);
            rep->skipped++;
            event(o, path, FR_KB_SKIPPED, NULL, done, total);
            return FR_OK;
        }
        phase(o, path, "extracting text", done - 1, total);
        if (strcmp(fmt, "pdf") == 0)
            fst = fr_extract_file(real, &eo, &doc, &ferr);
        else
            fst = fr_extract_memory(path, fmt, data, n, &eo, &doc, &ferr);
    }
    free(data);
    if (fst != FR_OK) {
        /* strip the "path: " our extractors prefix, the event names the path */
        const char *why = ferr.msg;
        const char *named = real && strncmp(why, real, strlen(real)) == 0 ? real : path;
        size_t pl = strlen(named);
        if (strncmp(why, named, pl) == 0 && why[pl] == ':' && why[pl + 1] == ' ')
            why += pl + 2;
        if (existed) {
            st = fr_kb_remove(kb, path, err);
            if (st && st != FR_E_NOTFOUND) /* NOTFOUND: another indexer removed it */
                return st;
            char msg[FR_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "%s (its previous version was removed from the index)", why);
            rep->rejected++;
            event(o, path, FR_KB_REJECTED, msg, done, total);
            return FR_OK;
        }
        rep->rejected++;
        event(o, path, FR_KB_REJECTED, why, done, total);
        return FR_OK;
    }
    bool replaced = false;
    uint64_t nch = 0;
    phase(o, path, "chunking and indexing", done - 1, total);
    st = fr_kb_put_doc(kb, path, hash, n, doc, o ? o->max_words : 0, &replaced, &nch, &ferr);
    fr_doc_free(doc);
    if (st == FR_E_FORMAT && ferr.msg[0] && !strstr(ferr.msg, "SQL")) {
        rep->rejected++;
        event(o, path, FR_KB_REJECTED, ferr.msg, done, total);
        return FR_OK;
    }
    if (st) {
        if (err)
            *err = ferr;
        return st;
    }
    rep->chunks_written += nch;
    if (replaced)
        rep->updated++;
    else
        rep->added++;
    event(o, path, replaced ? FR_KB_UPDATED : FR_KB_ADDED, NULL, done, total);
    return FR_OK;
}

typedef struct gone_ctx {
    const str_list *seen;
    str_list gone;
} gone_ctx;

static bool collect_gone(void *user, const char *p)
{
    gone_ctx *g = user;
    if (g->seen->n && bsearch(&p, g->seen->v, g->seen->n, sizeof *g->seen->v, cmp_str))
        return true;
    return sl_push(&g->gone, p);
}

/* Removes documents under root (a directory, or the file itself) that are
 * not in seen (sorted). */
static fr_status remove_vanished(fr_kb *kb, const char *root, bool is_dir, const str_list *seen,
                                 const fr_kb_index_opts *o, fr_kb_index_report *rep, fr_err *err)
{
    gone_ctx g = {seen, {0}};
    fr_status st = kb->ops->list(kb, root, is_dir, collect_gone, &g, err);
    for (size_t i = 0; st == FR_OK && i < g.gone.n; i++) {
        st = fr_kb_remove(kb, g.gone.v[i], err);
        if (st == FR_E_NOTFOUND) {
            st = FR_OK; /* another indexer removed it meanwhile */
            continue;
        }
        if (st == FR_OK) {
            rep->removed++;
            event(o, g.gone.v[i], FR_KB_REMOVED, "no longer on disk", 0, 0);
        }
    }
    sl_free(&g.gone);
    return st;
}

fr_status fr_kb_index(fr_kb *kb, const char *const *paths, size_t n_paths,
                      const fr_kb_index_opts *opts, fr_kb_index_report *rep, fr_err *err)
{
    memset(rep, 0, sizeof *rep);
    str_list files = {0}, roots = {0};
    fr_status st = FR_OK;
    bool *root_dir = calloc(n_paths ? n_paths : 1, sizeof *root_dir);
    bool *root_missing = calloc(n_paths ? n_paths : 1, sizeof *root_missing);
    if (!root_dir || !root_missing) {
        free(root_dir);
        free(root_missing);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_paths; i++) {
        char ap[PATH_MAX];
        if (!abs_path(paths[i], ap) || !sl_push(&roots, ap)) {
            st = fr_err_set(err, FR_E_NOMEM, "%s: path too long or out of memory", paths[i]);
            goto done;
        }
        struct stat sb;
        if (stat(ap, &sb) != 0) {
            /* a path given but gone: its document (if any) is removed below */
            root_missing[i] = true;
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            root_dir[i] = true;
            if (!walk(ap, 0, &files)) {
                st = fr_err_set(err, FR_E_NOMEM, "%s: too many files or out of memory", ap);
                goto done;
            }
        } else if (!sl_push(&files, ap)) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
    }
    if (files.n)
        qsort(files.v, files.n, sizeof *files.v, cmp_str);
    /* the same file named twice (a file and its directory) is indexed once */
    size_t w = 0;
    for (size_t i = 0; i < files.n; i++) {
        if (w > 0 && strcmp(files.v[w - 1], files.v[i]) == 0) {
            free(files.v[i]);
            continue;
        }
        files.v[w++] = files.v[i];
    }
    files.n = w;
    bool follow = opts && opts->follow_links;
    for (size_t i = 0; i < files.n; i++) {
        /* resolved now, just before reading, and read by the resolved name:
         * a link swapped in after the walk is still checked */
        char real[PATH_MAX], why[PATH_MAX + 160];
        bool resolved = realpath(files.v[i], real) != NULL;
        const char *reject = NULL;
        if (resolved && !follow && !under_roots(real, &roots, root_dir)) {
            snprintf(why, sizeof why,
                     "a symbolic link to %s, outside the indexed paths: not followed "
                     "(--follow-links indexes it)", real);
            reject = why;
        }
        st = index_file(kb, files.v[i], resolved ? real : NULL, reject, opts, rep, i + 1,
                        files.n, err);
        if (st)
            goto done;
    }
    for (size_t i = 0; i < roots.n; i++) {
        uint64_t before = rep->removed;
        st = remove_vanished(kb, roots.v[i], root_dir[i], &files, opts, rep, err);
        if (st)
            goto done;
        if (root_missing[i] && rep->removed == before) {
            rep->rejected++;
            rep->missing++;
            event(opts, paths[i], FR_KB_REJECTED, "no such file or directory", 0, 0);
        }
    }
done:
    free(root_dir);
    free(root_missing);
    sl_free(&files);
    sl_free(&roots);
    return st;
}
