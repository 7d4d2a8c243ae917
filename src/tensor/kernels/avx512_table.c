/*
 * avx512_table.c - the avx512 kernel set (kernels.h): AVX-512 F/BW/VL with
 * VNNI for every type.
 */
#include "tensor/kernels/avx512_util.h"

#if defined(__x86_64__)
const fr_kernel_set fr_kernels_avx512 = {
    .isa = FR_ISA_AVX512,
    .name = "avx512",
    .mm =
        {
            [FR_TYPE_F32] = {FR_ACT_F32, fr_gemm_f32_avx512},
            [FR_TYPE_F16] = {FR_ACT_F32, fr_gemm_f16_avx512},
            [FR_TYPE_BF16] = {FR_ACT_F32, fr_gemm_bf16_avx512},
            [FR_TYPE_Q4_0] = {FR_ACT_Q8B, fr_gemm_q4_0_avx512},
            [FR_TYPE_Q4_1] = {FR_ACT_Q8B, fr_gemm_q4_1_avx512},
            [FR_TYPE_Q5_0] = {FR_ACT_Q8B, fr_gemm_q5_0_avx512},
            [FR_TYPE_Q5_1] = {FR_ACT_Q8B, fr_gemm_q5_1_avx512},
            [FR_TYPE_Q8_0] = {FR_ACT_Q8B, fr_gemm_q8_0_avx512},
            [FR_TYPE_Q2_K] = {FR_ACT_Q8K, fr_gemm_q2_k_avx512},
            [FR_TYPE_Q3_K] = {FR_ACT_Q8K, fr_gemm_q3_k_avx512},
            [FR_TYPE_Q4_K] = {FR_ACT_Q8K, fr_gemm_q4_k_avx512},
            [FR_TYPE_Q5_K] = {FR_ACT_Q8K, fr_gemm_q5_k_avx512},
            [FR_TYPE_Q6_K] = {FR_ACT_Q8K, fr_gemm_q6_k_avx512},
        },
    .quant_q8b = fr_quant_q8b_avx512,
    .quant_q8k = fr_quant_q8k_avx512,
    .interleave_q8b = fr_interleave_q8b_avx512,
    .read_sum = fr_read_sum_avx512,
    .dot_f32 = fr_dot_f32_avx512,
    .dot_f16 = fr_dot_f16_avx512,
    .axpy_f32 = fr_axpy_f32_avx512,
    .axpy_f16 = fr_axpy_f16_avx512,
    .swiglu = fr_swiglu_avx512,
    /* the AVX2 tiled attention (tested on AVX2 machines; AVX-512 CPUs run it
     * as is): no 512-bit version yet */
    .attn_tile = fr_attn_tile_avx2,
};
#endif
