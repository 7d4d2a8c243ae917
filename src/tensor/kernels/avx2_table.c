/*
 * avx2_table.c - the avx2 kernel set (kernels.h): AVX2 + FMA + F16C for
 * every type (integer dot products with vpmaddubsw / vpmaddwd), on the
 * stored rows and on rows repacked in the x8 layouts (pack.h).
 */
#include "tensor/kernels/avx2_util.h"

#if defined(__x86_64__)
const fr_kernel_set fr_kernels_avx2 = {
    .isa = FR_ISA_AVX2,
    .name = "avx2",
    .mm =
        {
            [FR_TYPE_F32] = {FR_ACT_F32, fr_gemm_f32_avx2},
            [FR_TYPE_F16] = {FR_ACT_F32, fr_gemm_f16_avx2},
            [FR_TYPE_BF16] = {FR_ACT_F32, fr_gemm_bf16_avx2},
            [FR_TYPE_Q4_0] = {FR_ACT_Q8B, fr_gemm_q4_0_avx2},
            [FR_TYPE_Q4_1] = {FR_ACT_Q8B, fr_gemm_q4_1_avx2},
            [FR_TYPE_Q5_0] = {FR_ACT_Q8B, fr_gemm_q5_0_avx2},
            [FR_TYPE_Q5_1] = {FR_ACT_Q8B, fr_gemm_q5_1_avx2},
            [FR_TYPE_Q8_0] = {FR_ACT_Q8B, fr_gemm_q8_0_avx2},
            [FR_TYPE_Q2_K] = {FR_ACT_Q8K, fr_gemm_q2_k_avx2},
            [FR_TYPE_Q3_K] = {FR_ACT_Q8K, fr_gemm_q3_k_avx2},
            [FR_TYPE_Q4_K] = {FR_ACT_Q8K, fr_gemm_q4_k_avx2},
            [FR_TYPE_Q5_K] = {FR_ACT_Q8K, fr_gemm_q5_k_avx2},
            [FR_TYPE_Q6_K] = {FR_ACT_Q8K, fr_gemm_q6_k_avx2},
        },
    .mm_x8 =
        {
            [FR_TYPE_Q4_0] = {FR_ACT_Q8B, fr_gemm_q4_0_x8_avx2},
            [FR_TYPE_Q4_1] = {FR_ACT_Q8B, fr_gemm_q4_1_x8_avx2},
            [FR_TYPE_Q5_0] = {FR_ACT_Q8B, fr_gemm_q5_0_x8_avx2},
            [FR_TYPE_Q5_1] = {FR_ACT_Q8B, fr_gemm_q5_1_x8_avx2},
            [FR_TYPE_Q8_0] = {FR_ACT_Q8B, fr_gemm_q8_0_x8_avx2},
            [FR_TYPE_Q2_K] = {FR_ACT_Q8K, fr_gemm_q2_k_x8_avx2},
            [FR_TYPE_Q3_K] = {FR_ACT_Q8K, fr_gemm_q3_k_x8_avx2},
            [FR_TYPE_Q4_K] = {FR_ACT_Q8K, fr_gemm_q4_k_x8_avx2},
            [FR_TYPE_Q5_K] = {FR_ACT_Q8K, fr_gemm_q5_k_x8_avx2},
            [FR_TYPE_Q6_K] = {FR_ACT_Q8K, fr_gemm_q6_k_x8_avx2},
        },
    .quant_q8b = fr_quant_q8b_avx2,
    .quant_q8k = fr_quant_q8k_avx2,
    .read_sum = fr_read_sum_avx2,
    .dot_f32 = fr_dot_f32_avx2,
    .dot_f16 = fr_dot_f16_avx2,
    .axpy_f32 = fr_axpy_f32_avx2,
    .axpy_f16 = fr_axpy_f16_avx2,
    .swiglu = fr_swiglu_avx2,
    .attn_tile = fr_attn_tile_avx2,
};
#endif
