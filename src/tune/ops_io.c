/*
 * ops_io.c - the ends of the training graph, forward and backward (see
 * ops.h): the embedding lookup (input) and cross-entropy (output).
 *
 * Cross-entropy takes the row maximum out before exponentiating and sums in
 * double, so a 150k-token vocabulary neither overflows nor loses the small
 * probabilities; the gradient is softmax minus the one-hot target, scaled
 * (the caller passes 1 / number of loss tokens in the step).
 */
#include "tune/ops.h"

#include <math.h>

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
                      float softcap, int64_t n, int64_t V)
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
        if (softcap > 0) { /* x = c tanh(z / c): dx/dz = 1 - (x / c)^2 */
            for (int64_t j = 0; j < V; j++) {
                float xj = x[j], r = xj / softcap;
                float g = scale * (float)exp((double)(xj - mx) - lse);
                if (j == tgt[t])
                    g -= scale;
                d[j] = g * (1.0f - r * r);
            }
            continue;
        }
        for (int64_t j = 0; j < V; j++)
            d[j] = scale * (float)exp((double)(x[j] - mx) - lse);
        d[tgt[t]] -= scale;
    }
}

void fr_softcap_forward(float *x, float c, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = c * tanhf(x[i] * (1.0f / c));
}
