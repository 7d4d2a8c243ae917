/*
 * sha256.h - SHA-256 of memory and of files, as lowercase hex.
 *
 * A thin wrapper over nettle (Debian's nettle-dev): hashing code is easy to
 * get subtly wrong and a checked library already exists, so frugal does not
 * carry its own.
 */
#ifndef FR_HUB_SHA256_H
#define FR_HUB_SHA256_H

#include <frugal/base.h>

/* hex receives 64 lowercase hex digits and a NUL. */
void fr_sha256_mem(const void *data, size_t n, char hex[65]);

/* Hashes the first `limit` bytes of the open file fd (from offset 0; the
 * file position is not used). Fails when the file is shorter. progress, when
 * not NULL, is called every few MiB; a non-zero return stops with
 * FR_E_CANCELLED. name is used in error messages. */
typedef int (*fr_sha256_progress_fn)(void *user, uint64_t done, uint64_t total);
fr_status fr_sha256_fd(int fd, uint64_t limit, const char *name, fr_sha256_progress_fn progress,
                       void *user, char hex[65], fr_err *err);

#endif
