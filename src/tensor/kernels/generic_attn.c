/*
 * generic_attn.c - row operations of the forward pass (attention dot /
 * axpy, SwiGLU), portable reference: left to right float accumulation and
 * libm's expf, as llama2.c's run.c computes them, so that the generic path
 * reproduces its recorded tokens exactly.
 */
#include "tensor/kernels/kernels.h"

#include <frugal/tensor.h>
#include <math.h>

float fr_dot_f32_generic(const float *q, const float *k, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += q[i] * k[i];
    return s;
}

float fr_dot_f16_generic(const float *q, const uint16_t *k, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += q[i] * fr_fp16_to_fp32(k[i]);
    return s;
}

void fr_axpy_f32_generic(float *y, float a, const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * v[i];
}

void fr_axpy_f16_generic(float *y, float a, const uint16_t *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * fr_fp16_to_fp32(v[i]);
}

void fr_swiglu_generic(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] * (1.0f / (1.0f + expf(-g[i]))) * u[i];
}
