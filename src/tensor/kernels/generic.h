/*
 * generic.h - the portable reference kernels of src/tensor (internal).
 *
 * These are the test oracle for every faster kernel, so they are written to
 * be read, not to be fast: one plain loop per block layout, fields read byte
 * by byte in little-endian order (no packed structs, no alignment or
 * endianness assumptions).
 *
 * Row functions take n values, n a positive multiple of the type's block size
 * (the public wrappers in tensor.c check this; these do not). Quantizers
 * expect finite input (the wrappers reject NaN/Inf before calling them).
 */
#ifndef FR_TENSOR_KERNELS_GENERIC_H
#define FR_TENSOR_KERNELS_GENERIC_H

#include <frugal/tensor.h>

#define FR_QK 32    /* values per block of the Q4_0..Q8_0 family */
#define FR_QK_K 256 /* values per super-block of the K family */

typedef void (*fr_dequant_fn)(const void *src, float *dst, int64_t n);
typedef void (*fr_quant_fn)(const float *src, void *dst, int64_t n);

/* Dequantizers (generic_dequant.c). */
void fr_dequant_f32_ref(const void *src, float *dst, int64_t n);
void fr_dequant_f16_ref(const void *src, float *dst, int64_t n);
void fr_dequant_bf16_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q4_0_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q4_1_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q5_0_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q5_1_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q8_0_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q2_k_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q3_k_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q4_k_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q5_k_ref(const void *src, float *dst, int64_t n);
void fr_dequant_q6_k_ref(const void *src, float *dst, int64_t n);
void fr_dequant_mxfp4_ref(const void *src, float *dst, int64_t n);

/* MXFP4's E2M1 levels doubled (ggml's kvalues_mxfp4), and its E8M0 block
 * scale halved (ggml_e8m0_to_fp32_half): value = level * scale. */
extern const int8_t fr_mxfp4_levels[16];
float fr_e8m0_half(uint8_t e);

/* Quantizers of the plain and 32-value block types (generic_quant.c);
 * Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 give llama.cpp's reference bytes. */
void fr_quant_f32_ref(const float *src, void *dst, int64_t n);
void fr_quant_f16_ref(const float *src, void *dst, int64_t n);
void fr_quant_bf16_ref(const float *src, void *dst, int64_t n);
void fr_quant_q4_0_ref(const float *src, void *dst, int64_t n);
void fr_quant_q4_1_ref(const float *src, void *dst, int64_t n);
void fr_quant_q5_0_ref(const float *src, void *dst, int64_t n);
void fr_quant_q5_1_ref(const float *src, void *dst, int64_t n);
void fr_quant_q8_0_ref(const float *src, void *dst, int64_t n);
void fr_quant_mxfp4_ref(const float *src, void *dst, int64_t n);

/* K-quantizers (generic_quant_k.c): our own least-squares fits, decoded by
 * the layouts above; they do not reproduce llama.cpp's bytes. */
void fr_quant_q2_k_ref(const float *src, void *dst, int64_t n);
void fr_quant_q3_k_ref(const float *src, void *dst, int64_t n);
void fr_quant_q4_k_ref(const float *src, void *dst, int64_t n);
void fr_quant_q5_k_ref(const float *src, void *dst, int64_t n);
void fr_quant_q6_k_ref(const float *src, void *dst, int64_t n);

/* The reference kernels of one type; a NULL member means "not available". */
typedef struct fr_kernels_ref {
    fr_dequant_fn dequant;
    fr_quant_fn quant;
} fr_kernels_ref;

/* Kernels for type id t, or NULL for a type with neither. Static table. */
const fr_kernels_ref *fr_kernels_ref_get(uint32_t t);

/* Dot product of one stored row (n values of type t, n a multiple of the
 * block size) with x[n]: dequantize block by block, accumulate in double.
 * The accuracy oracle for quantized matvec kernels. The type must have a
 * dequantizer. */
double fr_dot_ref(fr_type t, const void *row, const float *x, int64_t n);

/* y[r] = dot(row r of w, x) for r < rows; w holds rows rows of cols values
 * of type t, back to back (the GGUF layout, cols = ne0). */
void fr_matvec_ref(fr_type t, const void *w, int64_t rows, int64_t cols, const float *x, float *y);

#endif
