/*
 * neon_dot_q.c - the quantized products of the dotprod set: neon_q.h with
 * SDOT (compiled for armv8.2-a+dotprod; chosen only when cpu.c has seen
 * HWCAP_ASIMDDP or FEAT_DotProd).
 */
#if defined(__aarch64__)
#define FR_NQ_SDOT 1
#define FR_NQ_NAME(x) x##_dotprod
#include "tensor/kernels/neon_q.h"
#endif
