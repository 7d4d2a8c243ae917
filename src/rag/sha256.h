/*
 * sha256.h - SHA-256 (FIPS 180-4), for the content hash that decides whether
 * a document changed since it was indexed.
 *
 * Why a cryptographic hash for change detection: the hash is the document's
 * identity in the knowledge base, and a 64-bit non-cryptographic hash would
 * let two different versions of a file collide by accident or on purpose.
 * Written here (about 100 lines) rather than linking OpenSSL for one
 * function.
 */
#ifndef FR_RAG_SHA256_H
#define FR_RAG_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct fr_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} fr_sha256;

void fr_sha256_init(fr_sha256 *s);
void fr_sha256_update(fr_sha256 *s, const void *data, size_t n);
void fr_sha256_final(fr_sha256 *s, uint8_t out[32]);
/* One call: 64 lowercase hex digits + NUL into hex. */
void fr_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
