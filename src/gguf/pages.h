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

#endif
