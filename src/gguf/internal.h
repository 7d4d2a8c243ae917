/*
 * gguf/internal.h - the reader's private state, shared by reader.c (which
 * builds and validates it), access.c (getters over it) and writer.c (which
 * copies raw metadata values out of an open file).
 *
 * Invariant: after fr_gguf_open* returns FR_OK, every offset stored here has
 * been checked against the file size, so accessors dereference without
 * further bounds checks on the file (they still check caller-supplied
 * indices).
 *
 * Values are kept as offsets into the mapping, not copied: a 150k-entry
 * vocabulary costs one 8-byte offset per string (for O(1) element access)
 * and nothing else.
 */
#ifndef FR_GGUF_INTERNAL_H
#define FR_GGUF_INTERNAL_H

#include <frugal/gguf.h>

#include "base/file.h"

/* Limits the reader enforces (the GGUF spec and ggml's loader agree). */
#define FR_GGUF_MAX_KEY_LEN 65535u /* spec: keys are at most 2^16-1 bytes */
#define FR_GGUF_MAX_NAME 64u       /* ggml's GGML_MAX_NAME, NUL included */
#define FR_GGUF_MAX_DEPTH 8u       /* nesting of arrays inside arrays */
#define FR_GGUF_VALUE_TYPES 13u    /* fr_gguf_type ids 0..12 */

/* One array value. impl_ of an fr_gguf_arr points at one of these. */
typedef struct gg_node {
    const struct fr_gguf *g;
    uint32_t type;  /* element type */
    uint64_t n;     /* element count */
    uint64_t off;   /* absolute offset of the first element (fixed-size types) */
    uint64_t first; /* STRING: index into g->str_offs; ARRAY: into g->nodes */
} gg_node;

typedef struct gg_kv {
    uint64_t key_off; /* into g->keys.data (a NUL-terminated copy) */
    uint64_t key_pos; /* absolute offset of the key's length field (messages) */
    uint32_t type;
    uint64_t val_off; /* absolute offset of the value (just after the type) */
    uint64_t val_end; /* one past its last byte */
    uint64_t node;    /* ARRAY: index into g->nodes */
} gg_kv;

/* Open-addressing hash index from a name to an entry index. */
typedef struct gg_index {
    int64_t *slot; /* -1 = empty */
    uint64_t mask; /* capacity - 1 (capacity a power of two) */
} gg_index;

struct fr_gguf {
    fr_mapping *map;
    const uint8_t *base; /* borrowed from map */
    uint64_t size;
    const char *path; /* borrowed from map */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;

    int64_t n_kv;
    gg_kv *kv;  /* (n_kv) */
    char *keys; /* NUL-terminated keys, back to back */
    gg_index kv_index;

    int64_t n_tensors;
    fr_gguf_tensor *tensors;         /* (n_tensors) */
    char (*names)[FR_GGUF_MAX_NAME]; /* (n_tensors) */
    uint64_t *tensor_pos;            /* (n_tensors) offset of each tensor info, for messages */
    gg_index t_index;

    gg_node *nodes; /* every array value, nested ones included */
    uint64_t n_nodes;
    uint64_t *str_offs; /* offsets of the length fields of string-array elements */
    uint64_t n_str;
};

/* Little-endian loads from the mapping (alignment-free). */
static inline uint16_t gg_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t gg_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t gg_le64(const uint8_t *p)
{
    return (uint64_t)gg_le32(p) | ((uint64_t)gg_le32(p + 4) << 32);
}

/* Bytes of one element of a fixed-size value type; 0 for STRING, ARRAY and
 * invalid ids. */
uint32_t gg_type_size(uint32_t type);

/* Index of name in an index whose entries are named by name_of; -1 if absent. */
typedef const char *(*gg_name_fn)(const void *ctx, int64_t i);
uint64_t gg_hash(const char *s, size_t n);
int64_t gg_index_find(const gg_index *ix, const char *name, gg_name_fn name_of, const void *ctx);

/* The raw bytes of metadata value i (after its type field): for the writer's
 * copy_kv, which copies nested arrays without walking them. */
void gg_kv_raw(const fr_gguf *g, int64_t i, uint32_t *type, const uint8_t **data, uint64_t *len);

#endif
