/*
 * frugal/types.h - the tensor element types of GGUF files.
 *
 * The numeric ids are ggml's (they are stored in GGUF tensor infos), so they
 * must never change. The type table lives with the file format (src/gguf/
 * types.c) because the reader needs block sizes to validate tensor sizes;
 * quantizers and kernels are in src/tensor/.
 */
#ifndef FRUGAL_TYPES_H
#define FRUGAL_TYPES_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_type {
    FR_TYPE_F32 = 0,
    FR_TYPE_F16 = 1,
    FR_TYPE_Q4_0 = 2,
    FR_TYPE_Q4_1 = 3,
    /* 4, 5: removed Q4_2 / Q4_3, never valid */
    FR_TYPE_Q5_0 = 6,
    FR_TYPE_Q5_1 = 7,
    FR_TYPE_Q8_0 = 8,
    FR_TYPE_Q8_1 = 9,
    FR_TYPE_Q2_K = 10,
    FR_TYPE_Q3_K = 11,
    FR_TYPE_Q4_K = 12,
    FR_TYPE_Q5_K = 13,
    FR_TYPE_Q6_K = 14,
    FR_TYPE_Q8_K = 15,
    /* 16-23, 29: IQ* types (known by name, not supported) */
    FR_TYPE_I8 = 24,
    FR_TYPE_I16 = 25,
    FR_TYPE_I32 = 26,
    FR_TYPE_I64 = 27,
    FR_TYPE_F64 = 28,
    FR_TYPE_BF16 = 30,
    FR_TYPE_MXFP4 = 39, /* OCP microscaling FP4: E8M0 scale + 32 E2M1 values (gpt-oss) */
    FR_TYPE_COUNT_ = 40 /* ids >= this are unknown */
} fr_type;

typedef struct fr_type_info {
    const char *name;    /* "q4_K" style as ggml names it, e.g. "f32", "q8_0" */
    uint32_t block_size; /* values per block (1 for plain types) */
    uint32_t type_size;  /* bytes per block */
    bool quantized;      /* block-quantized (not a plain number type) */
    bool supported;      /* frugal can read it (dequantize) */
} fr_type_info;

/* Info for a ggml type id, or NULL for an id that ggml never defined. Known
 * but unsupported types (IQ*) return an entry with supported == false so
 * that errors can name them. Borrowed, static. */
FR_API const fr_type_info *fr_type_get(uint32_t id);

/* Name for messages: "q4_K", or "unknown(17)" style text in buf. */
FR_API const char *fr_type_name(uint32_t id);

/* Bytes of n values of type t (n must be a multiple of the block size);
 * returns 0 if it is not, or on overflow. */
FR_API uint64_t fr_type_row_bytes(fr_type t, int64_t n);

/* Parses "q4_k", "Q4_K", "q8_0", "f16", "bf16"... (case-insensitive);
 * returns false if unknown. */
FR_API bool fr_type_from_name(const char *s, fr_type *out);

#ifdef __cplusplus
}
#endif
#endif
