/*
 * frugal/tensor.h - converting between float32 and the stored tensor types.
 *
 * These are the reference (portable C) implementations: dequantization
 * matches llama.cpp bit for bit, and the Q8_0/Q4_0 quantizers produce
 * llama.cpp's bytes. n is a count of values and must be a multiple of the
 * type's block size (fr_type_get(t)->block_size).
 */
#ifndef FRUGAL_TENSOR_H
#define FRUGAL_TENSOR_H

#include <frugal/base.h>
#include <frugal/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* IEEE half and bfloat16 conversions (round to nearest even; NaN kept). */
FR_API float fr_fp16_to_fp32(uint16_t h);
FR_API uint16_t fr_fp32_to_fp16(float f);
FR_API float fr_bf16_to_fp32(uint16_t h);
FR_API uint16_t fr_fp32_to_bf16(float f);

/* Decodes n values of type t from src into dst. FR_E_UNSUPPORTED for types
 * frugal cannot read; FR_E_INVALID when n is not a multiple of the block. */
FR_API fr_status fr_dequantize(fr_type t, const void *src, float *dst, int64_t n, fr_err *err);

/* True when fr_quantize can produce type t. */
FR_API bool fr_can_quantize(fr_type t);

/* Encodes n values into dst (fr_type_row_bytes(t, n) bytes). Quantized
 * targets refuse NaN/Inf input (FR_E_INVALID, naming the value's index);
 * F16/BF16 convert it as IEEE does. Q8_0..Q5_1 give llama.cpp's exact
 * bytes; the K types use frugal's own least-squares search (any decoder
 * reads them; the bytes differ from llama.cpp's). Blocks are independent,
 * so quantizing a row in pieces gives the same bytes. */
FR_API fr_status fr_quantize(fr_type t, const float *src, void *dst, int64_t n, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
