/*
 * fp16.c - IEEE binary16 and bfloat16 <-> binary32 conversions in portable C.
 *
 * Every scale stored in a GGUF block is an IEEE half, so these conversions
 * decide whether our bytes equal llama.cpp's: float -> half and float ->
 * bfloat16 round to nearest, ties to even (what x86 F16C, ARM FCVT and
 * ggml's portable code all do), with subnormals kept, overflow to infinity,
 * and NaN kept as a quiet NaN with its sign and top payload bits. The wider
 * direction is exact.
 *
 * Integer bit manipulation only: rejected the "multiply by a magic power of
 * two" float trick because its correctness depends on the FPU's rounding
 * mode and on denormals not being flushed (-ffast-math, FTZ/DAZ), which we
 * do not control in a library.
 */
#include <frugal/tensor.h>

#include <string.h>

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float fr_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        /* Inf, or NaN with its payload (quiet bit included) moved up. */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        /* Rebias 15 -> 127. */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* Subnormal: man * 2^-24. Normalise so the leading 1 reaches bit 10;
         * each shift lowers the exponent by one from 2^-14 (biased 113). */
        uint32_t e = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    return bits_f32(bits);
}

uint16_t fr_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t a = x & 0x7fffffffu;

    if (a > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    /* 65520 (0x477ff000) lies halfway between the largest half, 65504, whose
     * mantissa is odd, and 65536: ties-to-even rounds it and everything above
     * (infinity included) to infinity. */
    if (a >= 0x477ff000u)
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) {
        /* Normal half (>= 2^-14). Round the 23-bit mantissa to 10 bits at bit
         * 13, ties to even; a carry out of the mantissa correctly bumps the
         * exponent. Then rebias 127 -> 15. */
        uint32_t r = (a + 0x0fffu + ((a >> 13) & 1u)) >> 13;
        return (uint16_t)(sign | (r - (112u << 10)));
    }
    /* Half subnormal: the result is round(|f| * 2^24), at most 0x400 (which is
     * the encoding of the smallest normal, so rounding up into it is right).
     * 2^-25 and below round to zero (2^-25 itself is a tie, to even 0). */
    if (a <= 0x33000000u)
        return sign;
    uint32_t e = a >> 23;                     /* 102 .. 112 */
    uint32_t m = (a & 0x7fffffu) | 0x800000u; /* |f| = m * 2^(e - 150) */
    uint32_t shift = 126u - e;                /* 14 .. 24: |f| * 2^24 = m >> shift */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

float fr_bf16_to_fp32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t fr_fp32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncate, force quiet */
        return (uint16_t)((x >> 16) | 0x40u);
    /* Round at bit 16, ties to even. Finite values near FLT_MAX correctly
     * carry into the exponent and become infinity. */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
