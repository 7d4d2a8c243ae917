/*
 * dispatch.c - the kernel set of each ISA path (kernels.h).
 *
 * Compiled for baseline x86-64 (armv8-a) like everything outside the
 * avx2* / avx512* (neon_dot* / neon_i8mm*) files: it only hands out pointers, after cpu.c has confirmed that the CPU
 * (and OS) can run the instructions those files contain.
 */
#include "tensor/kernels/kernels.h"

const fr_kernel_set *fr_kernel_set_get(fr_isa isa)
{
    if (!fr_isa_available(isa))
        return NULL;
    switch (isa) {
    case FR_ISA_GENERIC:
        return &fr_kernels_generic;
#if defined(__x86_64__)
    case FR_ISA_AVX2:
        return &fr_kernels_avx2;
    case FR_ISA_AVX512:
        return &fr_kernels_avx512;
#endif
#if defined(__aarch64__)
    case FR_ISA_NEON:
        return &fr_kernels_neon;
    case FR_ISA_DOTPROD:
        return &fr_kernels_dotprod;
    case FR_ISA_I8MM:
        return &fr_kernels_i8mm;
#endif
    default:
        return NULL;
    }
}
