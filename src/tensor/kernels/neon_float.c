/*
 * neon_float.c - Advanced SIMD products of float weights (F32, F16, BF16)
 * with float activations, for the three ARM sets (neon_util.h).
 *
 * Per weight row: F16 / BF16 rows are widened to float once (FCVTL; BF16
 * is the top half of a float) into this thread's scratch, then each token's
 * dot product is the attention rows' fr_dot_f32_neon (4 x 4 lanes with FMA,
 * a scalar tail). Each output
 * element is the same sequence of operations whatever the tile, thread or
 * batch it falls in.
 */
#include "tensor/kernels/neon_util.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <frugal/tensor.h>

/* Widens one stored row into buf: kind 1 = F16, 2 = BF16. */
static void fr_widen(int kind, const uint16_t *src, float *buf, int64_t n)
{
    int64_t i = 0;
    if (kind == 1) {
        for (; i + 4 <= n; i += 4)
            vst1q_f32(buf + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
        for (; i < n; i++)
            buf[i] = fr_fp16_to_fp32(src[i]);
    } else {
        for (; i + 4 <= n; i += 4)
            vst1q_f32(buf + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(src + i), 16)));
        for (; i < n; i++)
            buf[i] = fr_bf16_to_fp32(src[i]);
    }
}

static void fr_gemm_float_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch, int kind)
{
    float *buf = scratch;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = a->w + (size_t)r * a->row_bytes;
        const float *wr = (const float *)row; /* GGUF data is 32-byte aligned */
        if (kind) {
            fr_widen(kind, (const uint16_t *)row, buf, a->n_in);
            wr = buf;
        }
        for (int64_t t = 0; t < a->n_tok; t++)
            a->y[t * a->ldy + r] = fr_dot_f32_neon(wr, a->x + t * a->ldx, a->n_in);
    }
}

void fr_gemm_f32_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    fr_gemm_float_neon(a, r0, r1, scratch, 0);
}

void fr_gemm_f16_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    fr_gemm_float_neon(a, r0, r1, scratch, 1);
}

void fr_gemm_bf16_neon(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    fr_gemm_float_neon(a, r0, r1, scratch, 2);
}
#endif
