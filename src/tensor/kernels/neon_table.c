/*
 * neon_table.c - the three ARM kernel sets (kernels.h, neon_util.h): neon,
 * dotprod and i8mm. They share the float products, quantizers, attention
 * rows, SwiGLU and training products, and differ in the quantized
 * products. Compiled for baseline armv8-a: it only holds pointers.
 */
#include "tensor/kernels/neon_util.h"

#if defined(__aarch64__)
#define FR_NEON_SET(ISA, NAME, Q32, QK)                                                            \
    {                                                                                              \
        .isa = ISA, .name = NAME,                                                                  \
        .mm =                                                                                      \
            {                                                                                      \
                [FR_TYPE_F32] = {FR_ACT_F32, fr_gemm_f32_neon},                                    \
                [FR_TYPE_F16] = {FR_ACT_F32, fr_gemm_f16_neon},                                    \
                [FR_TYPE_BF16] = {FR_ACT_F32, fr_gemm_bf16_neon},                                  \
                [FR_TYPE_Q4_0] = {FR_ACT_Q8B, Q32},                                                \
                [FR_TYPE_Q4_1] = {FR_ACT_Q8B, Q32},                                                \
                [FR_TYPE_Q5_0] = {FR_ACT_Q8B, Q32},                                                \
                [FR_TYPE_Q5_1] = {FR_ACT_Q8B, Q32},                                                \
                [FR_TYPE_Q8_0] = {FR_ACT_Q8B, Q32},                                                \
                [FR_TYPE_MXFP4] = {FR_ACT_Q8B, Q32},                                               \
                [FR_TYPE_Q2_K] = {FR_ACT_Q8K, QK},                                                 \
                [FR_TYPE_Q3_K] = {FR_ACT_Q8K, QK},                                                 \
                [FR_TYPE_Q4_K] = {FR_ACT_Q8K, QK},                                                 \
                [FR_TYPE_Q5_K] = {FR_ACT_Q8K, QK},                                                 \
                [FR_TYPE_Q6_K] = {FR_ACT_Q8K, QK},                                                 \
            },                                                                                     \
        .quant_q8b = fr_quant_q8b_neon, .quant_q8k = fr_quant_q8k_neon,                            \
        .read_sum = fr_read_sum_generic, .dot_f32 = fr_dot_f32_neon, .dot_f16 = fr_dot_f16_neon,   \
        .axpy_f32 = fr_axpy_f32_neon, .axpy_f16 = fr_axpy_f16_neon, .swiglu = fr_swiglu_neon,      \
        .sgemm_nn = fr_gemm_nn_block_neon, .sgemm_nt = fr_gemm_nt_block_neon,                      \
        .sgemm_tn = fr_gemm_tn_block_neon,                                                         \
    }

const fr_kernel_set fr_kernels_neon =
    FR_NEON_SET(FR_ISA_NEON, "neon", fr_gemm_q32_neon, fr_gemm_qk_neon);
const fr_kernel_set fr_kernels_dotprod =
    FR_NEON_SET(FR_ISA_DOTPROD, "dotprod", fr_gemm_q32_dotprod, fr_gemm_qk_dotprod);
const fr_kernel_set fr_kernels_i8mm =
    FR_NEON_SET(FR_ISA_I8MM, "i8mm", fr_gemm_q32_i8mm, fr_gemm_qk_i8mm);
#endif
