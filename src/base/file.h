/*
 * file.h - read-only file mappings, bounded whole-file reads, and atomic
 * writes (temp file in the target directory, fsync, rename).
 *
 * Why atomic writes everywhere: a user's model or adapter must never be left
 * half-written under its final name by a crash, a full disk or Ctrl-C, and an
 * output path that names the input must never destroy the input.
 */
#ifndef FR_BASE_FILE_H
#define FR_BASE_FILE_H

#include <frugal/base.h>
#include <stdio.h>

/* ---- opening for reading ------------------------------------------------ */

struct stat;
/* Opens path read-only and checks that it is a regular file before anything
 * reads it: a FIFO, device, socket or directory is refused (a FIFO would
 * otherwise block forever), with a message that names what it is. *st gets
 * its fstat. Owned by caller: close(*fd). Every file reader goes through
 * this (fr_mapping_open, fr_read_file). */
fr_status fr_open_regular(const char *path, int *fd, struct stat *st, fr_err *err);

/* ---- read-only mapping -------------------------------------------------- */

typedef struct fr_mapping fr_mapping;

/* Maps path read-only (MAP_PRIVATE). An empty file maps to size 0 with a
 * non-NULL data pointer. Owned by caller; free with fr_mapping_free. */
fr_status fr_mapping_open(const char *path, fr_mapping **out, fr_err *err);
const uint8_t *fr_mapping_data(const fr_mapping *m); /* borrowed */
size_t fr_mapping_size(const fr_mapping *m);
const char *fr_mapping_path(const fr_mapping *m); /* borrowed */
/* Wraps caller memory as a mapping (for tests and fuzzers); the memory is
 * borrowed and must outlive the mapping. */
fr_status fr_mapping_from_memory(const void *data, size_t size, const char *name,
                                 fr_mapping **out, fr_err *err);
void fr_mapping_free(fr_mapping *m);
/* Gives back the resident pages of [p, p + len) (whole pages inside it) of
 * a file mapping: the bytes stay readable, read again from the file on the
 * next access. For data copied elsewhere (repacked weights), so resident
 * memory does not hold it twice. No-op for memory-wrapped mappings. */
void fr_mapping_release(const fr_mapping *m, const void *p, size_t len);
/* The same for the pages of the aligned window-byte blocks that [p, p +
 * len) touches (window: a power of two, at least a page), clipped to the
 * mapping: what a read fault there may have mapped in around it. */
void fr_mapping_release_around(const fr_mapping *m, const void *p, size_t len, size_t window);

/* ---- whole-file reads --------------------------------------------------- */

/* Reads all of path into a malloc'd buffer (NUL-terminated one byte past
 * *size, for text parsers). Fails with FR_E_NOMEM when the file is larger than
 * cap bytes. Owned by caller; free(). path "-" reads stdin; any other path
 * must be a regular file (fr_open_regular). */
fr_status fr_read_file(const char *path, size_t cap, char **data, size_t *size, fr_err *err);

/* ---- atomic writes ------------------------------------------------------ */

typedef struct fr_atomic_file fr_atomic_file;

/* Creates "<dir>/.<base>.tmp.XXXXXX" next to final_path. Refuses (FR_E_INVALID)
 * when final_path is the same file as any path in protect[0..n_protect). */
fr_status fr_atomic_open(const char *final_path, const char *const *protect, size_t n_protect,
                         fr_atomic_file **out, fr_err *err);
/* Buffered stdio stream of the temp file, for fwrite/fprintf; borrowed. */
FILE *fr_atomic_stream(fr_atomic_file *f);
fr_status fr_atomic_write(fr_atomic_file *f, const void *buf, size_t n, fr_err *err);
/* Current write position (bytes written so far). */
uint64_t fr_atomic_tell(const fr_atomic_file *f);
/* Flushes, fsyncs, renames over final_path, fsyncs the directory, frees f.
 * On failure the temp file is removed and final_path is untouched. */
fr_status fr_atomic_commit(fr_atomic_file *f, fr_err *err);
/* Removes the temp file and frees f. NULL is a no-op. */
void fr_atomic_abort(fr_atomic_file *f);

/* ---- misc --------------------------------------------------------------- */

/* True when both paths exist and name the same inode. */
bool fr_same_file(const char *a, const char *b);
/* mkdir -p; mode 0755. */
fr_status fr_mkdir_p(const char *path, fr_err *err);

#endif
