/*
 * reader.c - opening and validating a GGUF file (v2, v3; little-endian).
 *
 * The whole file is mapped and walked once, front to back, by a cursor that
 * checks every read against the bytes that remain. Nothing is allocated from
 * a count until that count has been bounded by the bytes it would occupy
 * (an element needs at least one byte, a string at least its 8-byte length),
 * and tables grow as entries are actually parsed, so memory stays
 * proportional to the bytes really present, whatever the header claims.
 *
 * After a successful open every offset has been checked, so accessors
 * (access.c) never look at the file size again. What is checked, in file
 * order: magic and version; entry counts; each key (non-empty, <= 65535
 * bytes, no NUL, unique); each value type and array element type; array
 * nesting depth (<= 8); general.alignment (a power of two); each tensor's
 * name (< 64 bytes as ggml requires, no NUL, unique), n_dims (1..4),
 * dimensions (>= 1, product without overflow), type (known and supported),
 * row length (a multiple of the block size), offset (aligned); then that
 * every tensor's data lies inside the file and no two tensors overlap.
 *
 * Rejected alternatives: reading with fread into copies (the model would be
 * in RAM twice); trusting ggml's stricter "tensors are packed in order" rule
 * (files written by other tools pad differently; overlap and bounds are what
 * matter for safety); accepting GGUF v1 (32-bit counts, gone from llama.cpp
 * since 2023).
 */
#include "gguf/internal.h"

#include "base/buf.h"
#include "base/checked.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Minimum bytes of one metadata entry (8-byte length, 1-byte key, type, a
 * 1-byte value) and of one tensor info (length, empty name, n_dims, one
 * dimension, type, offset): bounds on the counts in the header. */
#define GG_MIN_KV_BYTES 14u
#define GG_MIN_TENSOR_BYTES 32u

typedef struct gg_parser {
    fr_gguf *g;
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    fr_err *err;
    char where[200]; /* "metadata key 'x' (entry #3)" for messages */
    fr_buf keys;
    uint64_t cap_kv, cap_nodes, cap_str, cap_t;
} gg_parser;

static const char gg_truncated_hint[] =
    "the file is truncated (an incomplete download or copy?); download it again";

uint32_t gg_type_size(uint32_t type)
{
    switch (type) {
    case FR_GGUF_UINT8:
    case FR_GGUF_INT8:
    case FR_GGUF_BOOL: return 1;
    case FR_GGUF_UINT16:
    case FR_GGUF_INT16: return 2;
    case FR_GGUF_UINT32:
    case FR_GGUF_INT32:
    case FR_GGUF_FLOAT32: return 4;
    case FR_GGUF_UINT64:
    case FR_GGUF_INT64:
    case FR_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *fr_gguf_type_name(fr_gguf_type t)
{
    static const char *const names[FR_GGUF_VALUE_TYPES] = {
        "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
        "bool",  "string", "array",  "uint64", "int64",  "float64"};
    return (unsigned)t < FR_GGUF_VALUE_TYPES ? names[t] : "invalid";
}

/* ---- name index --------------------------------------------------------- */

uint64_t gg_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int64_t gg_index_find(const gg_index *ix, const char *name, gg_name_fn name_of, const void *ctx)
{
    if (!ix->slot)
        return -1;
    size_t n = strlen(name);
    for (uint64_t h = gg_hash(name, n) & ix->mask;; h = (h + 1) & ix->mask) {
        int64_t j = ix->slot[h];
        if (j < 0)
            return -1;
        if (strcmp(name_of(ctx, j), name) == 0)
            return j;
    }
}

/* Builds an index over n names; on a duplicate returns false with *dup_a <
 * *dup_b the two entries. Allocation failure: false with *dup_a = -1. */
static bool gg_index_build(gg_index *ix, int64_t n, gg_name_fn name_of, const void *ctx,
                           int64_t *dup_a, int64_t *dup_b)
{
    uint64_t cap = 8;
    while (cap < (uint64_t)n * 2)
        cap *= 2;
    *dup_a = -1;
    ix->slot = malloc(cap * sizeof *ix->slot);
    if (!ix->slot)
        return false;
    ix->mask = cap - 1;
    for (uint64_t i = 0; i < cap; i++)
        ix->slot[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        const char *s = name_of(ctx, i);
        uint64_t h = gg_hash(s, strlen(s)) & ix->mask;
        while (ix->slot[h] >= 0) {
            if (strcmp(name_of(ctx, ix->slot[h]), s) == 0) {
                *dup_a = ix->slot[h];
                *dup_b = i;
                return false;
            }
            h = (h + 1) & ix->mask;
        }
        ix->slot[h] = i;
    }
    return true;
}

static const char *gg_key_name(const void *ctx, int64_t i)
{
    const fr_gguf *g = ctx;
    return g->keys + g->kv[i].key_off;
}

static const char *gg_tensor_name(const void *ctx, int64_t i)
{
    const fr_gguf *g = ctx;
    return g->names[i];
}

/* ---- cursor ------------------------------------------------------------- */

static fr_status gg_fail(gg_parser *p, uint64_t at, fr_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fr_status gg_fail(gg_parser *p, uint64_t at, fr_status code, const char *fmt, ...)
{
    char msg[FR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fr_err_set(p->err, code, "%s: byte %" PRIu64 ": %s", p->g->path, at, msg);
}

static fr_status gg_nomem(gg_parser *p)
{
    return gg_fail(p, p->pos, FR_E_NOMEM, "%s: out of memory while indexing the file", p->where);
}

/* Printable excerpt of file bytes for messages: control bytes become '?',
 * long text is cut with "...". */
static void gg_quote(char *dst, size_t dn, const uint8_t *s, uint64_t n)
{
    size_t k = 0, max = dn > 4 ? dn - 4 : 0;
    uint64_t i = 0;
    for (; i < n && k < max && k < 72; i++)
        dst[k++] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
    if (i < n && dn >= 4) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    if (dn)
        dst[k < dn ? k : dn - 1] = '\0';
}

static uint64_t gg_left(const gg_parser *p)
{
    return p->size - p->pos;
}

static fr_status gg_need(gg_parser *p, uint64_t n, const char *what)
{
    if (n <= gg_left(p))
        return FR_OK;
    return gg_fail(p, p->pos, FR_E_FORMAT,
                   "%s: the %s needs %" PRIu64 " bytes but the file ends %" PRIu64
                   " bytes later: %s",
                   p->where, what, n, gg_left(p), gg_truncated_hint);
}

static fr_status gg_u32(gg_parser *p, uint32_t *v, const char *what)
{
    fr_status st = gg_need(p, 4, what);
    if (st)
        return st;
    *v = gg_le32(p->base + p->pos);
    p->pos += 4;
    return FR_OK;
}

static fr_status gg_u64(gg_parser *p, uint64_t *v, const char *what)
{
    fr_status st = gg_need(p, 8, what);
    if (st)
        return st;
    *v = gg_le64(p->base + p->pos);
    p->pos += 8;
    return FR_OK;
}

/* A length-prefixed string: *off = offset of its bytes. */
static fr_status gg_str(gg_parser *p, uint64_t *off, uint64_t *len, const char *what)
{
    uint64_t at = p->pos;
    fr_status st = gg_u64(p, len, what);
    if (st)
        return st;
    if (*len > gg_left(p))
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: the %s is %" PRIu64 " bytes long but only %" PRIu64
                       " bytes remain in the file: %s (or the length field is corrupt)",
                       p->where, what, *len, gg_left(p), gg_truncated_hint);
    *off = p->pos;
    p->pos += *len;
    return FR_OK;
}

static bool gg_reserve(void **ptr, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint64_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > UINT64_MAX / 4)
            return false;
        nc *= 2;
    }
    size_t bytes;
    if (nc > SIZE_MAX || fr_mul_size((size_t)nc, elem, &bytes))
        return false;
    void *np = realloc(*ptr, bytes);
    if (!np)
        return false;
    *ptr = np;
    *cap = nc;
    return true;
}

/* ---- metadata ----------------------------------------------------------- */

static fr_status gg_elem_type(gg_parser *p, uint32_t *t, const char *what)
{
    uint64_t at = p->pos;
    fr_status st = gg_u32(p, t, what);
    if (st)
        return st;
    if (*t >= FR_GGUF_VALUE_TYPES)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: %s %" PRIu32 " is not a GGUF value type (valid: 0..12): the file "
                       "is corrupt, or was written by a newer, incompatible tool",
                       p->where, what, *t);
    return FR_OK;
}

/* Parses an array value at the cursor (element type, count, elements) into
 * g->nodes[ix]. depth counts nesting levels, 1 for a top-level array. Nodes
 * may move (realloc) during the recursion, so only indices are held. */
static fr_status gg_parse_array(gg_parser *p, uint64_t ix, unsigned depth)
{
    fr_gguf *g = p->g;
    uint32_t et;
    uint64_t n, at;
    fr_status st = gg_elem_type(p, &et, "array element type");
    if (st)
        return st;
    at = p->pos;
    if ((st = gg_u64(p, &n, "array length")))
        return st;
    g->nodes[ix].g = g;
    g->nodes[ix].type = et;
    g->nodes[ix].n = n;
    g->nodes[ix].off = p->pos;
    g->nodes[ix].first = 0;

    uint32_t esz = gg_type_size(et);
    uint64_t min_elem = esz ? esz : et == FR_GGUF_STRING ? 8 : 12;
    if (n > gg_left(p) / min_elem)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: an array of %" PRIu64 " %s elements needs at least %" PRIu64
                       " bytes per element, but only %" PRIu64
                       " bytes remain: the array length is corrupt, or %s",
                       p->where, n, fr_gguf_type_name((fr_gguf_type)et), min_elem, gg_left(p),
                       gg_truncated_hint);
    if (esz) {
        p->pos += n * esz;
        return FR_OK;
    }
    if (et == FR_GGUF_STRING) {
        uint64_t first = g->n_str;
        if (!gg_reserve((void **)&g->str_offs, &p->cap_str, first + n, sizeof *g->str_offs))
            return gg_nomem(p);
        g->n_str += n;
        g->nodes[ix].first = first;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t off, len;
            g->str_offs[first + i] = p->pos;
            if ((st = gg_str(p, &off, &len, "string array element")))
                return st;
        }
        return FR_OK;
    }
    /* nested arrays */
    if (depth >= FR_GGUF_MAX_DEPTH)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: arrays are nested more than %u levels deep: the file is corrupt "
                       "(no real model nests metadata arrays this deep)",
                       p->where, FR_GGUF_MAX_DEPTH);
    uint64_t first = g->n_nodes;
    if (!gg_reserve((void **)&g->nodes, &p->cap_nodes, first + n, sizeof *g->nodes))
        return gg_nomem(p);
    g->n_nodes += n;
    g->nodes[ix].first = first;
    for (uint64_t i = 0; i < n; i++)
        if ((st = gg_parse_array(p, first + i, depth + 1)))
            return st;
    return FR_OK;
}

static fr_status gg_parse_kv(gg_parser *p, int64_t i)
{
    fr_gguf *g = p->g;
    uint64_t key_pos = p->pos, koff, klen;
    snprintf(p->where, sizeof p->where, "metadata entry #%" PRId64, i);
    fr_status st = gg_str(p, &koff, &klen, "key");
    if (st)
        return st;
    if (klen == 0)
        return gg_fail(p, key_pos, FR_E_FORMAT, "%s: the key is empty: the file is corrupt",
                       p->where);
    if (klen > FR_GGUF_MAX_KEY_LEN)
        return gg_fail(p, key_pos, FR_E_FORMAT,
                       "%s: the key is %" PRIu64 " bytes long; GGUF allows at most %u: the "
                       "file is corrupt",
                       p->where, klen, FR_GGUF_MAX_KEY_LEN);
    char q[96];
    gg_quote(q, sizeof q, p->base + koff, klen);
    if (memchr(p->base + koff, 0, klen))
        return gg_fail(p, key_pos, FR_E_FORMAT,
                       "%s: the key '%s' contains a NUL byte: the file is corrupt", p->where, q);
    snprintf(p->where, sizeof p->where, "metadata key '%s' (entry #%" PRId64 ")", q, i);

    if (!gg_reserve((void **)&g->kv, &p->cap_kv, (uint64_t)i + 1, sizeof *g->kv))
        return gg_nomem(p);
    gg_kv *kv = &g->kv[i];
    kv->key_off = p->keys.len;
    kv->key_pos = key_pos;
    if (!fr_buf_append(&p->keys, p->base + koff, klen) || !fr_buf_putc(&p->keys, '\0'))
        return gg_nomem(p);

    uint32_t type;
    if ((st = gg_elem_type(p, &type, "value type")))
        return st;
    kv->type = type;
    kv->val_off = p->pos;
    kv->node = 0;
    if (type == FR_GGUF_STRING) {
        uint64_t off, len;
        if ((st = gg_str(p, &off, &len, "string value")))
            return st;
    } else if (type == FR_GGUF_ARRAY) {
        uint64_t ix = g->n_nodes;
        if (!gg_reserve((void **)&g->nodes, &p->cap_nodes, ix + 1, sizeof *g->nodes))
            return gg_nomem(p);
        g->n_nodes++;
        kv->node = ix;
        if ((st = gg_parse_array(p, ix, 1)))
            return st;
    } else {
        if ((st = gg_need(p, gg_type_size(type), fr_gguf_type_name((fr_gguf_type)type))))
            return st;
        p->pos += gg_type_size(type);
    }
    g->kv[i].val_end = p->pos;
    return FR_OK;
}

/* general.alignment: any integer type whose value is a non-zero power of two
 * that fits 32 bits (ggml writes uint32; being lenient on the width costs
 * nothing and the value is what matters). */
static fr_status gg_alignment(gg_parser *p)
{
    fr_gguf *g = p->g;
    g->alignment = FR_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = fr_gguf_find_key(g, "general.alignment");
    if (i < 0)
        return FR_OK;
    uint64_t v;
    fr_err e;
    if (fr_gguf_kv_get_u64(g, i, &v, &e) != FR_OK)
        return gg_fail(p, g->kv[i].key_pos, FR_E_FORMAT,
                       "general.alignment must be an unsigned integer (uint32), but it is "
                       "stored as %s: the file is corrupt",
                       fr_gguf_type_name((fr_gguf_type)g->kv[i].type));
    if (v == 0 || v > UINT32_MAX || (v & (v - 1)) != 0)
        return gg_fail(p, g->kv[i].key_pos, FR_E_FORMAT,
                       "general.alignment is %" PRIu64 ", which is not a power of two that fits "
                       "32 bits: the file is corrupt",
                       v);
    g->alignment = (uint32_t)v;
    return FR_OK;
}

/* ---- tensor infos ------------------------------------------------------- */

static bool gg_removed_type(uint32_t id, const char **name)
{
    /* Interleaved repacks that llama.cpp stopped writing to files (they are
     * built at load time now). */
    static const char *const removed[] = {"q4_0_4_4",   "q4_0_4_8",   "q4_0_8_8",
                                          "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8"};
    if (id >= 31 && id <= 33) {
        *name = removed[id - 31];
        return true;
    }
    if (id >= 36 && id <= 38) {
        *name = removed[id - 33];
        return true;
    }
    if (id == 4 || id == 5) {
        *name = id == 4 ? "q4_2" : "q4_3";
        return true;
    }
    return false;
}

static fr_status gg_parse_tensor(gg_parser *p, int64_t i)
{
    fr_gguf *g = p->g;
    uint64_t tpos = p->pos, noff, nlen;
    snprintf(p->where, sizeof p->where, "tensor info #%" PRId64, i);
    fr_status st = gg_str(p, &noff, &nlen, "tensor name");
    if (st)
        return st;
    char q[96];
    gg_quote(q, sizeof q, p->base + noff, nlen);
    if (nlen >= FR_GGUF_MAX_NAME)
        return gg_fail(p, tpos, FR_E_FORMAT,
                       "%s: the tensor name '%s' is %" PRIu64 " bytes long; ggml allows at most "
                       "%u: the file is corrupt or was not written for llama.cpp",
                       p->where, q, nlen, FR_GGUF_MAX_NAME - 1);
    if (memchr(p->base + noff, 0, nlen))
        return gg_fail(p, tpos, FR_E_FORMAT,
                       "%s: the tensor name '%s' contains a NUL byte: the file is corrupt",
                       p->where, q);
    uint64_t cap_before = p->cap_t;
    if (!gg_reserve((void **)&g->tensors, &p->cap_t, (uint64_t)i + 1, sizeof *g->tensors))
        return gg_nomem(p);
    if (p->cap_t != cap_before) {
        uint64_t c1 = cap_before, c2 = cap_before;
        if (!gg_reserve((void **)&g->names, &c1, p->cap_t, sizeof *g->names) ||
            !gg_reserve((void **)&g->tensor_pos, &c2, p->cap_t, sizeof *g->tensor_pos))
            return gg_nomem(p);
    }
    memcpy(g->names[i], p->base + noff, nlen);
    g->names[i][nlen] = '\0';
    g->tensor_pos[i] = tpos;
    fr_gguf_tensor *t = &g->tensors[i];
    memset(t, 0, sizeof *t);
    snprintf(p->where, sizeof p->where, "tensor '%s' (#%" PRId64 ")", q, i);

    uint64_t at = p->pos;
    uint32_t n_dims;
    if ((st = gg_u32(p, &n_dims, "number of dimensions")))
        return st;
    if (n_dims < 1 || n_dims > FR_GGUF_MAX_DIMS)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: it has %" PRIu32 " dimensions; GGUF tensors have 1 to %d: the file "
                       "is corrupt",
                       p->where, n_dims, FR_GGUF_MAX_DIMS);
    t->n_dims = n_dims;
    int64_t nel = 1;
    for (uint32_t j = 0; j < FR_GGUF_MAX_DIMS; j++) {
        t->ne[j] = 1;
        if (j >= n_dims)
            continue;
        uint64_t v;
        at = p->pos;
        if ((st = gg_u64(p, &v, "dimension")))
            return st;
        if ((int64_t)v < 1)
            return gg_fail(p, at, FR_E_FORMAT,
                           "%s: dimension %" PRIu32 " is %" PRId64
                           "; every dimension must be at least 1: the file is corrupt",
                           p->where, j, (int64_t)v);
        t->ne[j] = (int64_t)v;
        if (__builtin_mul_overflow(nel, t->ne[j], &nel))
            return gg_fail(p, at, FR_E_FORMAT,
                           "%s: its dimensions multiply to more than 2^63 elements: the file is "
                           "corrupt",
                           p->where);
    }

    at = p->pos;
    uint32_t type;
    if ((st = gg_u32(p, &type, "tensor type")))
        return st;
    const fr_type_info *ti = fr_type_get(type);
    const char *removed;
    if (!ti && gg_removed_type(type, &removed))
        return gg_fail(p, at, FR_E_UNSUPPORTED,
                       "%s: tensor type %" PRIu32 " (%s) was removed from GGUF by llama.cpp; "
                       "re-quantize the model from its original weights with a current tool",
                       p->where, type, removed);
    if (!ti)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: tensor type id %" PRIu32 " is unknown (ggml type ids known to frugal "
                       "end at 39): the file is corrupt, or uses a type newer than this frugal",
                       p->where, type);
    if (!ti->supported)
        return gg_fail(p, at, FR_E_UNSUPPORTED,
                       "%s: tensor type %s is not supported by frugal; use a model file "
                       "quantized to f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 or q2_K..q6_K "
                       "(e.g. Q4_K_M)",
                       p->where, ti->name);
    t->type = (fr_type)type;
    if (t->ne[0] % ti->block_size != 0)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: its rows have %" PRId64 " values, not a multiple of the %s block "
                       "size %" PRIu32 ": the file is corrupt",
                       p->where, t->ne[0], ti->name, ti->block_size);
    uint64_t nbytes;
    if (fr_mul_u64((uint64_t)nel / ti->block_size, ti->type_size, &nbytes))
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: its size in bytes overflows 64 bits: the file is corrupt", p->where);
    t->nbytes = nbytes;

    at = p->pos;
    if ((st = gg_u64(p, &t->offset, "data offset")))
        return st;
    if (t->offset % g->alignment != 0)
        return gg_fail(p, at, FR_E_FORMAT,
                       "%s: its data offset %" PRIu64 " is not a multiple of the file's "
                       "alignment %" PRIu32 ": the file is corrupt",
                       p->where, t->offset, g->alignment);
    return FR_OK;
}

static int gg_cmp_offset(const void *a, const void *b)
{
    const fr_gguf_tensor *x = *(const fr_gguf_tensor *const *)a;
    const fr_gguf_tensor *y = *(const fr_gguf_tensor *const *)b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Data section: where it starts, every tensor inside the file, no overlap. */
static fr_status gg_check_data(gg_parser *p)
{
    fr_gguf *g = p->g;
    uint64_t end_infos = p->pos, start;
    if (fr_align_up_u64(end_infos, g->alignment, &start))
        start = UINT64_MAX;
    if (g->n_tensors == 0) {
        /* Vocab-only files may end right after the metadata, without the
         * padding a data section would need. */
        g->data_offset = start <= p->size ? start : end_infos;
        return FR_OK;
    }
    g->data_offset = start;
    if (start > p->size)
        return gg_fail(p, end_infos, FR_E_FORMAT,
                       "the tensor data section should start at byte %" PRIu64
                       " (aligned to %" PRIu32 ") but the file is only %" PRIu64 " bytes: %s",
                       start, g->alignment, p->size, gg_truncated_hint);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        fr_gguf_tensor *t = &g->tensors[i];
        uint64_t abs;
        if (fr_add_u64(start, t->offset, &abs) || !fr_range_ok(abs, t->nbytes, p->size))
            return gg_fail(p, g->tensor_pos[i], FR_E_FORMAT,
                           "tensor '%s': its %" PRIu64 " bytes of data at file offset %" PRIu64
                           " (data section start %" PRIu64 " + %" PRIu64
                           ") run past the end of the file (%" PRIu64 " bytes): %s",
                           t->name, t->nbytes, start + t->offset, start, t->offset, p->size,
                           gg_truncated_hint);
        t->data = p->base + abs;
    }
    const fr_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order)
        return gg_nomem(p);
    for (int64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, gg_cmp_offset);
    fr_status st = FR_OK;
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const fr_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->nbytes > b->offset) {
            st = gg_fail(p, g->tensor_pos[b - g->tensors], FR_E_FORMAT,
                         "tensors '%s' (data offset %" PRIu64 ", %" PRIu64
                         " bytes) and '%s' (data offset %" PRIu64 ") overlap: the file is corrupt",
                         a->name, a->offset, a->nbytes, b->name, b->offset);
            break;
        }
    }
    free(order);
    return st;
}

/* ---- header ------------------------------------------------------------- */

/* A llama2.c checkpoint: 7 int32 (dim, hidden, layers, heads, kv heads,
 * vocab (negative: separate classifier), seq_len) then float32 weights; we
 * recognise it when the size matches exactly. */
static bool gg_looks_llama2c(const uint8_t *b, uint64_t size)
{
    if (size < 28)
        return false;
    int64_t h[7];
    for (int i = 0; i < 7; i++)
        h[i] = (int32_t)gg_le32(b + 4 * i);
    int64_t dim = h[0], hid = h[1], nl = h[2], nh = h[3], nkv = h[4], voc = h[5], seq = h[6];
    bool shared = voc > 0;
    if (voc < 0)
        voc = -voc;
    if (dim <= 0 || hid <= 0 || nl <= 0 || nh <= 0 || nkv <= 0 || nkv > nh || voc <= 0 ||
        seq <= 0 || dim % nh || dim > (1 << 16) || hid > (1 << 18) || nl > 4096 ||
        voc > (1 << 22) || seq > (1 << 22))
        return false;
    int64_t hs = dim / nh, kvd = dim * nkv / nh;
    int64_t n = voc * dim + nl * dim * 2 + nl * dim * dim * 2 + nl * dim * kvd * 2 +
                nl * dim * hid * 3 + dim + seq * hs + (shared ? 0 : voc * dim);
    return (uint64_t)(28 + 4 * n) == size;
}

/* The first bytes are all printable text (ASCII or UTF-8 lead/continuation
 * bytes, tabs, newlines). */
static bool gg_looks_text(const uint8_t *b, uint64_t n)
{
    uint64_t k = n < 256 ? n : 256;
    if (k < 4)
        return false;
    for (uint64_t i = 0; i < k; i++)
        if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
            return false;
    return true;
}

static fr_status gg_bad_magic(gg_parser *p)
{
    const uint8_t *b = p->base;
    uint64_t n = p->size;
    if (n == 0)
        return gg_fail(p, 0, FR_E_FORMAT,
                       "the file is empty (0 bytes): the download or copy did not complete");
    if (n >= 4 &&
        (memcmp(b, "lmgg", 4) == 0 || memcmp(b, "fmgg", 4) == 0 || memcmp(b, "tjgg", 4) == 0))
        return gg_fail(p, 0, FR_E_UNSUPPORTED,
                       "this is a legacy GGML/GGMF/GGJT model from before GGUF (2023), not GGUF; "
                       "convert it with llama.cpp's convert_llama_ggml_to_gguf.py or download a "
                       "GGUF version");
    if (n >= 10 && b[8] == '{' && gg_le64(b) <= n - 8)
        return gg_fail(p, 0, FR_E_FORMAT,
                       "this looks like a safetensors file, not GGUF; convert it with llama.cpp's "
                       "convert_hf_to_gguf.py");
    if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return gg_fail(p, 0, FR_E_FORMAT,
                       "this is a zip archive (a PyTorch checkpoint?), not GGUF; convert the "
                       "model with llama.cpp's convert_hf_to_gguf.py");
    if (n >= 24 && memcmp(b, "version https://git-lfs", 23) == 0)
        return gg_fail(p, 0, FR_E_FORMAT,
                       "this is a Git LFS pointer file, not the model itself; run 'git lfs pull' "
                       "or download the file directly");
    if (n >= 5 && (b[0] == '<' || (b[0] == '{' && n < 65536)))
        return gg_fail(p, 0, FR_E_FORMAT,
                       "this is a text file (an HTML or JSON page?), not GGUF: the download "
                       "probably saved an error page; check the URL");
    if (gg_looks_text(b, n))
        return gg_fail(p, 0, FR_E_FORMAT, "this is a text file, not a GGUF model");
    if (gg_looks_llama2c(b, n))
        return gg_fail(p, 0, FR_E_FORMAT,
                       "this looks like a llama2.c checkpoint (dim %" PRId32 ", %" PRId32
                       " layers), not GGUF; convert it with 'frugal import'",
                       (int32_t)gg_le32(b), (int32_t)gg_le32(b + 8));
    if (n < 4)
        return gg_fail(p, 0, FR_E_FORMAT,
                       "the file is only %" PRIu64 " bytes, too short for a GGUF header: %s", n,
                       gg_truncated_hint);
    char hex[16];
    snprintf(hex, sizeof hex, "%02x %02x %02x %02x", b[0], b[1], b[2], b[3]);
    return gg_fail(p, 0, FR_E_FORMAT,
                   "not a GGUF file: it starts with bytes %s, not 'GGUF' (47 47 55 46)", hex);
}

static fr_status gg_parse_header(gg_parser *p, uint64_t *n_kv, uint64_t *n_t)
{
    fr_gguf *g = p->g;
    snprintf(p->where, sizeof p->where, "header");
    if (p->size < 4 || memcmp(p->base, "GGUF", 4) != 0)
        return gg_bad_magic(p);
    p->pos = 4;
    fr_status st = gg_u32(p, &g->version, "version");
    if (st)
        return st;
    uint32_t v = g->version;
    if (v == 1)
        return gg_fail(p, 4, FR_E_UNSUPPORTED,
                       "GGUF version 1 (2023) is not supported, only versions 2 and 3; convert "
                       "the model again with a current llama.cpp");
    if (v != 0 && (v & 0xFFFFu) == 0)
        return gg_fail(p, 4, FR_E_UNSUPPORTED,
                       "the version field reads %" PRIu32 " (0x%08" PRIx32
                       "): this is a big-endian "
                       "GGUF file; frugal reads little-endian GGUF only",
                       v, v);
    if (v != 2 && v != 3)
        return gg_fail(p, 4, FR_E_UNSUPPORTED,
                       "GGUF version %" PRIu32 " is not supported (frugal reads versions 2 and "
                       "3)%s",
                       v,
                       v > 3 ? "; the file may come from a newer tool" : ": the file is corrupt");
    uint64_t at = p->pos;
    if ((st = gg_u64(p, n_t, "tensor count")))
        return st;
    uint64_t at_kv = p->pos;
    if ((st = gg_u64(p, n_kv, "metadata entry count")))
        return st;
    if (*n_kv > gg_left(p) / GG_MIN_KV_BYTES)
        return gg_fail(p, at_kv, FR_E_FORMAT,
                       "the header announces %" PRIu64 " metadata entries, but the %" PRIu64
                       " bytes that follow can hold at most %" PRIu64
                       ": the header is corrupt, or %s",
                       *n_kv, gg_left(p), gg_left(p) / GG_MIN_KV_BYTES, gg_truncated_hint);
    if (*n_t > gg_left(p) / GG_MIN_TENSOR_BYTES)
        return gg_fail(p, at, FR_E_FORMAT,
                       "the header announces %" PRIu64 " tensors, but the %" PRIu64
                       " bytes that follow can hold at most %" PRIu64
                       " tensor infos: the header is corrupt, or %s",
                       *n_t, gg_left(p), gg_left(p) / GG_MIN_TENSOR_BYTES, gg_truncated_hint);
    return FR_OK;
}

/* ---- open --------------------------------------------------------------- */

static fr_status gg_parse(gg_parser *p)
{
    fr_gguf *g = p->g;
    uint64_t n_kv, n_t;
    fr_status st = gg_parse_header(p, &n_kv, &n_t);
    if (st)
        return st;
    for (uint64_t i = 0; i < n_kv; i++) {
        if ((st = gg_parse_kv(p, (int64_t)i)))
            return st;
        g->n_kv = (int64_t)i + 1;
    }
    g->keys = fr_buf_take(&p->keys);
    if (!g->keys)
        return gg_nomem(p);
    int64_t a, b;
    if (!gg_index_build(&g->kv_index, g->n_kv, gg_key_name, g, &a, &b)) {
        if (a < 0)
            return gg_nomem(p);
        char q[96];
        const char *k = gg_key_name(g, b);
        gg_quote(q, sizeof q, (const uint8_t *)k, strlen(k));
        return gg_fail(p, g->kv[b].key_pos, FR_E_FORMAT,
                       "metadata key '%s' (entry #%" PRId64
                       ") appears twice (first as entry #%" PRId64 " at byte %" PRIu64
                       "): the file is corrupt",
                       q, b, a, g->kv[a].key_pos);
    }
    if ((st = gg_alignment(p)))
        return st;
    for (uint64_t i = 0; i < n_t; i++) {
        if ((st = gg_parse_tensor(p, (int64_t)i)))
            return st;
        g->n_tensors = (int64_t)i + 1;
    }
    for (int64_t i = 0; i < g->n_tensors; i++)
        g->tensors[i].name = g->names[i];
    if (!gg_index_build(&g->t_index, g->n_tensors, gg_tensor_name, g, &a, &b)) {
        if (a < 0)
            return gg_nomem(p);
        return gg_fail(p, g->tensor_pos[b], FR_E_FORMAT,
                       "tensor name '%s' appears twice (tensor infos #%" PRId64 " and #%" PRId64
                       "): the file is corrupt",
                       g->names[b], a, b);
    }
    return gg_check_data(p);
}

static fr_status gg_open_mapping(fr_mapping *m, fr_gguf **out, fr_err *err)
{
    fr_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        fr_mapping_free(m);
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory", fr_mapping_path(m));
    }
    g->map = m;
    g->base = fr_mapping_data(m);
    g->size = fr_mapping_size(m);
    g->path = fr_mapping_path(m);
    g->alignment = FR_GGUF_DEFAULT_ALIGNMENT;
    gg_parser p = {.g = g, .base = g->base, .size = g->size, .err = err, .keys = FR_BUF_INIT};
    fr_status st = gg_parse(&p);
    fr_buf_free(&p.keys);
    if (st != FR_OK) {
        fr_gguf_free(g);
        return st;
    }
    *out = g;
    return FR_OK;
}

fr_status fr_gguf_open(const char *path, fr_gguf **out, fr_err *err)
{
    *out = NULL;
    fr_mapping *m;
    fr_status st = fr_mapping_open(path, &m, err);
    if (st)
        return st;
    return gg_open_mapping(m, out, err);
}

fr_status fr_gguf_open_memory(const void *data, size_t size, const char *name, fr_gguf **out,
                              fr_err *err)
{
    *out = NULL;
    fr_mapping *m;
    fr_status st = fr_mapping_from_memory(data, size, name, &m, err);
    if (st)
        return st;
    return gg_open_mapping(m, out, err);
}

void fr_gguf_free(fr_gguf *g)
{
    if (!g)
        return;
    free(g->kv);
    free(g->keys);
    free(g->kv_index.slot);
    free(g->tensors);
    free(g->names);
    free(g->tensor_pos);
    free(g->t_index.slot);
    free(g->nodes);
    free(g->str_offs);
    fr_mapping_free(g->map);
    free(g);
}
