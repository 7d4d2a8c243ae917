/*
 * pages.h - giving back the resident pages of tensor data that has been
 * copied elsewhere (internal to the library; see base/file.h).
 *
 * Repacked weights (tensor/pack.h) are a second copy of a tensor; once it
 * is made, the mapped file pages of the original are released so resident
 * memory holds the weights once. The original stays readable.
 */
#ifndef FR_GGUF_PAGES_H
#define FR_GGUF_PAGES_H

#include <frugal/gguf.h>

/* Releases the whole pages inside [p, p + len) when g is a file mapping
 * and the range lies in it; otherwise does nothing. */
void fr_gguf_release(const fr_gguf *g, const void *p, size_t len);

/* Releases what reading [p, p + len) may have made resident: the kernel
 * maps the aligned 64 KiB around a read fault of a file mapping
 * (fault-around), so a lookup of one embedding row leaves 16 pages of the
 * table in RSS. For data read a little at a time from a large tensor. */
void fr_gguf_release_read(const fr_gguf *g, const void *p, size_t len);

#endif
