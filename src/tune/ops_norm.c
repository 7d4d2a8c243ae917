/*
 * ops_norm.c - embedding lookup, RMSNorm and the residual add, forward and
 * backward (see ops.h).
 *
 * RMSNorm forward uses forward.c's exact float arithmetic (sum of squares
 * left to right, divided by d, plus eps, 1/sqrtf; y = w * (r * x)) so that
 * the training forward and inference agree bit for bit.
 *
 * Backward, with r = rstd and g = w * dy:
 *   dx = r * g - r^3 / d * x * sum(g * x)
 *   dw = sum over rows of dy * x * r
 * The row sum is taken in double: it is a difference of large terms when
 * the gradient is nearly orthogonal to x.
 */
#include "tune/ops.h"

#include <math.h>
#include <string.h>

void fr_embed_forward(float *x, const fr_weight *emb, const int32_t *tok, int64_t n)
{
    for (int64_t t = 0; t < n; t++)
        fr_weight_row(emb, tok[t], x + t * emb->n_in);
}

void fr_embed_backward(float *demb, const float *dx, const int32_t *tok, int64_t n, int64_t d)
{
    for (int64_t t = 0; t < n; t++) {
        float *row = demb + (int64_t)tok[t] * d;
        const float *g = dx + t * d;
        for (int64_t i = 0; i < d; i++)
            row[i] += g[i];
    }
}

void fr_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int64_t n,
                        int64_t d, float eps)
{
    for (int64_t t = 0; t < n; t++) {
        const float *xr = x + t * d;
        float *yr = y + t * d;
        float ss = 0.0f;
        for (int64_t j = 0; j < d; j++)
            ss += xr[j] * xr[j];
        ss /= (float)d;
        ss += eps;
        ss = 1.0f / sqrtf(ss);
        if (rstd)
            rstd[t] = ss;
        for (int64_t j = 0; j < d; j++)
            yr[j] = w[j] * (ss * xr[j]);
    }
}

void fr_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                         const float *rstd, int64_t n, int64_t d)
{
    for (int64_t t = 0; t < n; t++) {
        const float *xr = x + t * d, *gr = dy + t * d;
        float *dxr = dx + t * d;
        float r = rstd[t];
        double dot = 0.0;
        for (int64_t j = 0; j < d; j++)
            dot += (double)(w[j] * gr[j]) * (double)xr[j];
        float c = (float)(dot * (double)r * (double)r * (double)r / (double)d);
        for (int64_t j = 0; j < d; j++)
            dxr[j] += r * (w[j] * gr[j]) - c * xr[j];
        if (dw)
            for (int64_t j = 0; j < d; j++)
                dw[j] += gr[j] * xr[j] * r;
    }
}

void fr_residual_forward(float *y, const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void fr_residual_backward(float *da, float *db, const float *dy, int64_t n)
{
    if (da)
        for (int64_t i = 0; i < n; i++)
            da[i] += dy[i];
    if (db)
        for (int64_t i = 0; i < n; i++)
            db[i] += dy[i];
}
