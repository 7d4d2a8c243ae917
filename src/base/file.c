/*
 * file.c - mappings, bounded reads and atomic writes (see file.h).
 *
 * Temp files live in the destination directory, not /tmp, because rename(2)
 * is only atomic within one filesystem.
 */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct fr_mapping {
    const uint8_t *data;
    size_t size;
    bool owned; /* munmap on free */
    char *path;
};

static const uint8_t fr_empty_map[1];

static const char *file_kind(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO (named pipe)"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

fr_status fr_open_regular(const char *path, int *fd_out, struct stat *st, fr_err *err)
{
    *fd_out = -1;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer forever; it has no effect on a regular file and is cleared */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fr_err_set(err, errno == ENOENT ? FR_E_NOTFOUND : FR_E_IO, "%s: cannot open: %s",
                          path, strerror(errno));
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return fr_err_set(err, FR_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return fr_err_set(err, FR_E_IO, "%s: %s, not a regular file: give the path of a file",
                          path, file_kind(st->st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fd_out = fd;
    return FR_OK;
}

fr_status fr_mapping_open(const char *path, fr_mapping **out, fr_err *err)
{
    *out = NULL;
    int fd;
    struct stat st;
    fr_status ost = fr_open_regular(path, &fd, &st, err);
    if (ost != FR_OK)
        return ost;
    fr_mapping *m = calloc(1, sizeof *m);
    char *p = strdup(path);
    if (!m || !p) {
        free(m);
        free(p);
        close(fd);
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory", path);
    }
    m->path = p;
    m->size = (size_t)st.st_size;
    if (m->size == 0) {
        m->data = fr_empty_map;
    } else {
        void *d = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (d == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(p);
            free(m);
            return fr_err_set(err, FR_E_IO, "%s: cannot mmap %zu bytes: %s", path,
                              (size_t)st.st_size, strerror(e));
        }
        m->data = d;
        m->owned = true;
    }
    close(fd);
    *out = m;
    return FR_OK;
}

fr_status fr_mapping_from_memory(const void *data, size_t size, const char *name,
                                 fr_mapping **out, fr_err *err)
{
    *out = NULL;
    fr_mapping *m = calloc(1, sizeof *m);
    char *p = strdup(name ? name : "<memory>");
    if (!m || !p) {
        free(m);
        free(p);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    m->data = size ? data : fr_empty_map;
    m->size = size;
    m->path = p;
    *out = m;
    return FR_OK;
}

const uint8_t *fr_mapping_data(const fr_mapping *m) { return m->data; }
size_t fr_mapping_size(const fr_mapping *m) { return m->size; }
const char *fr_mapping_path(const fr_mapping *m) { return m->path; }

void fr_mapping_release(const fr_mapping *m, const void *p, size_t len)
{
    if (!m || !m->owned || len == 0)
        return;
    uintptr_t lo = (uintptr_t)p, hi = lo + len, base = (uintptr_t)m->data;
    if (lo < base || hi > base + m->size)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    lo = (lo + page - 1) & ~(page - 1);
    hi &= ~(page - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* private read-only: refilled from the file */
}

void fr_mapping_release_around(const fr_mapping *m, const void *p, size_t len, size_t window)
{
    if (!m || !m->owned || len == 0)
        return;
    uintptr_t lo = (uintptr_t)p, hi = lo + len, base = (uintptr_t)m->data;
    if (lo < base || hi > base + m->size)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t win = window > page ? (uintptr_t)window : page;
    lo &= ~(win - 1);
    hi = (hi + win - 1) & ~(win - 1);
    /* the mapping starts on a page; its last partial page stays */
    if (lo < base)
        lo = base;
    if (hi > ((base + m->size) & ~(page - 1)))
        hi = (base + m->size) & ~(page - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* private read-only: refilled from the file */
}

void fr_mapping_free(fr_mapping *m)
{
    if (!m)
        return;
    if (m->owned)
        munmap((void *)m->data, m->size);
    free(m->path);
    free(m);
}

fr_status fr_read_file(const char *path, size_t cap, char **data, size_t *size, fr_err *err)
{
    *data = NULL;
    *size = 0;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = stdin;
    if (!is_stdin) {
        int fd;
        struct stat st;
        fr_status ost = fr_open_regular(path, &fd, &st, err);
        if (ost != FR_OK)
            return ost;
        if (!(f = fdopen(fd, "rb"))) {
            int e = errno;
            close(fd);
            return fr_err_set(err, FR_E_IO, "%s: cannot open: %s", path, strerror(e));
        }
    }
    size_t len = 0, alloc = 4096;
    char *buf = malloc(alloc);
    fr_status st = FR_OK;
    if (!buf) {
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (alloc - len < 2) {
            if (alloc > cap) {
                st = fr_err_set(err, FR_E_NOMEM, "%s: larger than the %zu-byte limit", path, cap);
                goto done;
            }
            size_t na = alloc * 2;
            char *nb = realloc(buf, na);
            if (!nb) {
                st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
            alloc = na;
        }
        size_t n = fread(buf + len, 1, alloc - len - 1, f);
        len += n;
        if (len > cap) {
            st = fr_err_set(err, FR_E_NOMEM, "%s: larger than the %zu-byte limit", path, cap);
            goto done;
        }
        if (n == 0) {
            if (ferror(f))
                st = fr_err_set(err, FR_E_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
done:
    if (!is_stdin)
        fclose(f);
    if (st != FR_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return FR_OK;
}

/* ---- atomic writes ------------------------------------------------------ */

struct fr_atomic_file {
    FILE *fp;
    char *final_path;
    char *tmp_path;
    uint64_t written;
};

bool fr_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

fr_status fr_atomic_open(const char *final_path, const char *const *protect, size_t n_protect,
                         fr_atomic_file **out, fr_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < n_protect; i++) {
        if (fr_same_file(final_path, protect[i]))
            return fr_err_set(err, FR_E_INVALID,
                              "%s: refusing to overwrite the input file %s; choose another output path",
                              final_path, protect[i]);
    }
    fr_atomic_file *f = calloc(1, sizeof *f);
    char *dcopy = strdup(final_path), *bcopy = strdup(final_path);
    if (!f || !dcopy || !bcopy) {
        free(f);
        free(dcopy);
        free(bcopy);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    const char *dir = dirname(dcopy);
    const char *base = basename(bcopy);
    size_t n = strlen(dir) + strlen(base) + 32;
    f->tmp_path = malloc(n);
    f->final_path = strdup(final_path);
    fr_status st = FR_OK;
    if (!f->tmp_path || !f->final_path) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(f->tmp_path, n, "%s/.%s.tmp.XXXXXX", dir, base);
    int fd = mkostemp(f->tmp_path, O_CLOEXEC);
    if (fd < 0) {
        st = fr_err_set(err, FR_E_IO, "%s: cannot create a temporary file in %s: %s", final_path,
                        dir, strerror(errno));
        f->tmp_path[0] = '\0';
        goto fail;
    }
    /* mkostemp gives 0600; a model file should get the usual umask mode. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        st = fr_err_set(err, FR_E_IO, "%s: fdopen: %s", f->tmp_path, strerror(errno));
        goto fail;
    }
    free(dcopy);
    free(bcopy);
    *out = f;
    return FR_OK;
fail:
    if (f->tmp_path && f->tmp_path[0])
        unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->final_path);
    free(f);
    free(dcopy);
    free(bcopy);
    return st;
}

FILE *fr_atomic_stream(fr_atomic_file *f) { return f->fp; }

uint64_t fr_atomic_tell(const fr_atomic_file *f) { return f->written; }

fr_status fr_atomic_write(fr_atomic_file *f, const void *buf, size_t n, fr_err *err)
{
    if (n && fwrite(buf, 1, n, f->fp) != n)
        return fr_err_set(err, FR_E_IO, "%s: write failed: %s", f->final_path, strerror(errno));
    f->written += n;
    return FR_OK;
}

static void fr_fsync_dir(const char *path)
{
    char *d = strdup(path);
    if (!d)
        return;
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(d);
}

fr_status fr_atomic_commit(fr_atomic_file *f, fr_err *err)
{
    fr_status st = FR_OK;
    if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) {
        st = fr_err_set(err, FR_E_IO, "%s: cannot flush: %s (disk full?)", f->final_path,
                        strerror(errno));
        fr_atomic_abort(f);
        return st;
    }
    if (fclose(f->fp) != 0) {
        f->fp = NULL;
        st = fr_err_set(err, FR_E_IO, "%s: close failed: %s", f->final_path, strerror(errno));
        fr_atomic_abort(f);
        return st;
    }
    f->fp = NULL;
    if (rename(f->tmp_path, f->final_path) != 0) {
        st = fr_err_set(err, FR_E_IO, "%s: cannot rename the temporary file into place: %s",
                        f->final_path, strerror(errno));
        fr_atomic_abort(f);
        return st;
    }
    fr_fsync_dir(f->final_path);
    free(f->tmp_path);
    free(f->final_path);
    free(f);
    return FR_OK;
}

void fr_atomic_abort(fr_atomic_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->final_path);
    free(f);
}

fr_status fr_mkdir_p(const char *path, fr_err *err)
{
    char *p = strdup(path);
    if (!p)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            fr_status st = fr_err_set(err, FR_E_IO, "%s: cannot create directory: %s", p,
                                      strerror(errno));
            free(p);
            return st;
        }
        *s = '/';
    }
    fr_status st = FR_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        st = fr_err_set(err, FR_E_IO, "%s: cannot create directory: %s", p, strerror(errno));
    free(p);
    return st;
}
