/*
 * sha256.c - SHA-256 through nettle (see sha256.h).
 *
 * Files are read with pread in 1 MiB blocks rather than mmapped: a .part
 * being hashed may sit on a network filesystem or be truncated by another
 * process, and a read error is a clean error where a mapping would SIGBUS.
 */
#include "hub/sha256.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fr_sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

void fr_sha256_mem(const void *data, size_t n, char hex[65])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, sizeof digest, digest);
    fr_sha256_hex(digest, hex);
}

fr_status fr_sha256_fd(int fd, uint64_t limit, const char *name, fr_sha256_progress_fn progress,
                       void *user, char hex[65], fr_err *err)
{
    enum { BLOCK = 1 << 20 };
    uint8_t *buf = malloc(BLOCK);
    if (!buf)
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory for hashing", name);
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    uint64_t off = 0;
    uint64_t next_report = 0;
    fr_status st = FR_OK;
    while (off < limit) {
        size_t want = limit - off < BLOCK ? (size_t)(limit - off) : BLOCK;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            st = fr_err_set(err, FR_E_IO, "%s: read error at byte %llu while hashing: %s", name,
                            (unsigned long long)off, strerror(errno));
            goto done;
        }
        if (got == 0) {
            st = fr_err_set(err, FR_E_IO,
                            "%s: file ends at byte %llu while hashing %llu bytes (was it "
                            "truncated by another process?)",
                            name, (unsigned long long)off, (unsigned long long)limit);
            goto done;
        }
        sha256_update(&ctx, (size_t)got, buf);
        off += (uint64_t)got;
        if (progress && (off >= next_report || off == limit)) {
            next_report = off + 16u * BLOCK;
            if (progress(user, off, limit)) {
                st = fr_err_set(err, FR_E_CANCELLED, "%s: hashing stopped on request", name);
                goto done;
            }
        }
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    fr_sha256_hex(digest, hex);
done:
    free(buf);
    return st;
}
