/*
 * ops_act.c - SwiGLU and cross-entropy, forward and backward (see ops.h).
 *
 * SwiGLU: out = silu(g) * u with silu(x) = x * sigmoid(x), computed as
 * forward.c does (x * (1 / (1 + expf(-x)))). Its derivative is
 * silu'(x) = s(x) * (1 + x * (1 - s(x))) with s the sigmoid.
 *
 * Cross-entropy takes the row maximum out before exponentiating and sums in
 * double, so a 150k-token vocabulary neither overflows nor loses the small
 * probabilities; the gradient is softmax minus the one-hot target, scaled
 * (the caller passes 1 / number of loss tokens in the step).
 */
#include "tune/ops.h"

#include <math.h>

void fr_swiglu_forward(float *out, const float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        out[i] = x * (1.0f / (1.0f + expf(-x))) * u[i];
    }
}

void fr_swiglu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                        int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        float sg = 1.0f / (1.0f + expf(-x));
        float silu = x * sg;
        du[i] += dout[i] * silu;
        dg[i] += dout[i] * u[i] * (sg * (1.0f + x * (1.0f - sg)));
    }
}

/* max and log(sum(exp(x - max))) of one row. */
static void fr_row_lse(const float *x, int64_t V, float *mx, double *lse)
{
    float m = x[0];
    for (int64_t j = 1; j < V; j++)
        if (x[j] > m)
            m = x[j];
    double z = 0.0;
    for (int64_t j = 0; j < V; j++)
        z += exp((double)(x[j] - m));
    *mx = m;
    *lse = log(z);
}

void fr_xent_forward(float *loss, const float *logits, const int32_t *tgt, int64_t n, int64_t V)
{
    for (int64_t t = 0; t < n; t++) {
        if (tgt[t] < 0) {
            loss[t] = 0.0f;
            continue;
        }
        const float *x = logits + t * V;
        float mx;
        double lse;
        fr_row_lse(x, V, &mx, &lse);
        loss[t] = (float)(lse - (double)(x[tgt[t]] - mx));
    }
}

void fr_xent_backward(float *dlogits, const float *logits, const int32_t *tgt, float scale,
                      int64_t n, int64_t V)
{
    for (int64_t t = 0; t < n; t++) {
        float *d = dlogits + t * V;
        const float *x = logits + t * V;
        if (tgt[t] < 0) {
            for (int64_t j = 0; j < V; j++)
                d[j] = 0.0f;
            continue;
        }
        float mx;
        double lse;
        fr_row_lse(x, V, &mx, &lse);
        for (int64_t j = 0; j < V; j++)
            d[j] = scale * (float)exp((double)(x[j] - mx) - lse);
        d[tgt[t]] -= scale;
    }
}
