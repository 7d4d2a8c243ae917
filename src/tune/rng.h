/*
 * rng.h - the training run's random numbers: splitmix64, whose whole state
 * is one uint64_t, so a checkpoint stores it exactly and a resumed run
 * draws the same numbers.
 */
#ifndef FR_TUNE_RNG_H
#define FR_TUNE_RNG_H

#include <stdint.h>

static inline uint64_t fr_rng_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
static inline float fr_rng_unit(uint64_t *s)
{
    return (float)(fr_rng_u64(s) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [0, n) (n > 0), without modulo bias. */
static inline uint64_t fr_rng_below(uint64_t *s, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = fr_rng_u64(s);
    while (x >= lim);
    return x % n;
}

#endif
