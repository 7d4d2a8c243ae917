/*
 * bytes.h - little-endian field access inside tensor blocks (internal).
 *
 * Block fields are read and written through these instead of casting to
 * packed structs: blocks in a GGUF file are only byte-aligned in general
 * (e.g. 18-byte Q4_0 blocks) and the layout is defined as little-endian.
 */
#ifndef FR_TENSOR_KERNELS_BYTES_H
#define FR_TENSOR_KERNELS_BYTES_H

#include <stdint.h>

static inline uint16_t fr_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t fr_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void fr_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void fr_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif
