/*
 * tensor.c - the public conversion entry points (frugal/tensor.h): argument
 * checks and dispatch to the reference kernels.
 *
 * Quantizing non-finite input is refused rather than encoded: a NaN or Inf
 * weight means the source tensor is corrupt, and a block scale computed from
 * it would silently poison the whole block (F32/F16/BF16 can represent them
 * and pass them through).
 */
#include <frugal/tensor.h>

#include "tensor/kernels/generic.h"

#include <inttypes.h>
#include <math.h>

static fr_status check_args(fr_type t, const void *a, const void *b, int64_t n, const char *what,
                            const fr_kernels_ref **k, fr_err *err)
{
    const fr_type_info *ti = fr_type_get((uint32_t)t);
    if (!ti)
        return fr_err_set(err, FR_E_UNSUPPORTED, "%s: unknown tensor type id %u", what,
                          (unsigned)t);
    *k = fr_kernels_ref_get((uint32_t)t);
    if (n < 0 || n % ti->block_size)
        return fr_err_set(err, FR_E_INVALID,
                          "%s %s: %" PRId64 " values is not a multiple of the block size %u", what,
                          ti->name, n, ti->block_size);
    if (n > 0 && (!a || !b))
        return fr_err_set(err, FR_E_INVALID, "%s %s: NULL buffer", what, ti->name);
    return FR_OK;
}

fr_status fr_dequantize(fr_type t, const void *src, float *dst, int64_t n, fr_err *err)
{
    const fr_kernels_ref *k = NULL;
    fr_status st = check_args(t, src, dst, n, "dequantize", &k, err);
    if (st)
        return st;
    if (!k || !k->dequant)
        return fr_err_set(err, FR_E_UNSUPPORTED,
                          "dequantize: tensor type %s is not supported by frugal; convert the "
                          "model with a type frugal reads (f32, f16, bf16, q4_0..q8_0, q2_K..q6_K, "
                          "mxfp4)",
                          fr_type_name((uint32_t)t));
    if (n > 0)
        k->dequant(src, dst, n);
    return FR_OK;
}

bool fr_can_quantize(fr_type t)
{
    const fr_kernels_ref *k = fr_kernels_ref_get((uint32_t)t);
    return k && k->quant;
}

fr_status fr_quantize(fr_type t, const float *src, void *dst, int64_t n, fr_err *err)
{
    const fr_kernels_ref *k = NULL;
    fr_status st = check_args(t, src, dst, n, "quantize", &k, err);
    if (st)
        return st;
    if (!k || !k->quant)
        return fr_err_set(err, FR_E_UNSUPPORTED, "quantize: cannot produce tensor type %s",
                          fr_type_name((uint32_t)t));
    if (fr_type_get((uint32_t)t)->quantized) {
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(src[i]))
                return fr_err_set(err, FR_E_INVALID,
                                  "quantize %s: value %" PRId64 " is %s; the source tensor is "
                                  "corrupt (quantized types cannot hold NaN or Inf)",
                                  fr_type_name((uint32_t)t), i, isnan(src[i]) ? "NaN" : "Inf");
        }
    }
    if (n > 0)
        k->quant(src, dst, n);
    return FR_OK;
}
