/*
 * neon_q.c - the quantized products of the neon set: neon_q.h with plain
 * Advanced SIMD integer dots (SMULL + SMLAL2 + SADALP).
 */
#if defined(__aarch64__)
#define FR_NQ_SDOT 0
#define FR_NQ_NAME(x) x##_neon
#include "tensor/kernels/neon_q.h"
#endif
