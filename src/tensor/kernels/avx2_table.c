/*
 * avx2_table.c - the avx2 kernel set (kernels.h). Types without a avx2
 * kernel fall back to the generic ones.
 */
#include "tensor/kernels/kernels.h"

#if defined(__x86_64__)
const fr_kernel_set fr_kernels_avx2 = {
    .isa = FR_ISA_AVX2,
    .name = "avx2",
    .quant_q8b = fr_quant_q8b_generic,
    .quant_q8k = fr_quant_q8k_generic,
    .read_sum = fr_read_sum_generic,
};
#endif
