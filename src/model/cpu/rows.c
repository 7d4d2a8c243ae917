/*
 * rows.c - RMSNorm, rope and the gated activations, forward and backward
 * (rows.h).
 *
 * RMSNorm backward, with r = rstd and g = w * dy:
 *   dx = r * g - r^3 / d * x * sum(g * x)
 *   dw = sum over rows of dy * x * r
 * The row sum is taken in double: it is a difference of large terms when
 * the gradient is nearly orthogonal to x.
 *
 * Activations and their derivatives (s the logistic sigmoid):
 *   silu(x) = x s(x),               silu'(x) = s(x) (1 + x (1 - s(x)))
 *   gelu(x) = x/2 (1 + tanh(c (x + a x^3))), c = sqrt(2/pi), a = 0.044715
 *             (the tanh form llama.cpp uses; it then rounds through an F16
 *             table, which we do not copy: it only loses precision),
 *   gelu'(x) = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 a x^2), t = tanh(...)
 *   oai(g, u) = g' s(1.702 g') (u' + 1) with g' = min(g, 7), u' = clamp(u,
 *             -7, 7) (gpt-oss; llama.cpp's ggml_swiglu_oai); the clamps
 *             pass no gradient where they bind.
 */
#include "model/cpu/rows.h"

#include <math.h>

void fr_rmsnorm_forward(float *y, float *rstd, const float *x, const float *w, int64_t n, int64_t d,
                        float eps)
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

void fr_rope_table(float *cs, const float *freq, uint32_t n_freq, float mscale, const int32_t *pos,
                   int64_t n)
{
    for (int64_t t = 0; t < n; t++) {
        float *c = cs + (size_t)t * 2 * n_freq;
        for (uint32_t i = 0; i < n_freq; i++) {
            float val = (float)pos[t] * freq[i];
            c[2 * i] = cosf(val);
            c[2 * i + 1] = sinf(val);
            if (mscale != 1.0f) {
                c[2 * i] *= mscale;
                c[2 * i + 1] *= mscale;
            }
        }
    }
}

static void fr_rope_rotate(float *x, const float *cs, int64_t n, uint32_t n_heads, uint32_t hd,
                           uint32_t n_freq, fr_rope_style style, float sign)
{
    for (int64_t t = 0; t < n; t++) {
        const float *c = cs + (size_t)t * 2 * n_freq;
        for (uint32_t h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            for (uint32_t i = 0; i < n_freq; i++) {
                float fcr = c[2 * i], fci = sign * c[2 * i + 1];
                uint32_t a = style == FR_ROPE_NEOX ? i : 2 * i;
                uint32_t b = style == FR_ROPE_NEOX ? i + n_freq : 2 * i + 1;
                float v0 = v[a], v1 = v[b];
                v[a] = v0 * fcr - v1 * fci;
                v[b] = v0 * fci + v1 * fcr;
            }
        }
    }
}

void fr_rope_forward(float *x, const float *cs, int64_t n, uint32_t n_heads, uint32_t hd,
                     uint32_t n_freq, fr_rope_style style)
{
    fr_rope_rotate(x, cs, n, n_heads, hd, n_freq, style, 1.0f);
}

void fr_rope_backward(float *dx, const float *cs, int64_t n, uint32_t n_heads, uint32_t hd,
                      uint32_t n_freq, fr_rope_style style)
{
    fr_rope_rotate(dx, cs, n, n_heads, hd, n_freq, style, -1.0f);
}

#define FR_GELU_A 0.044715f
#define FR_GELU_C 0.79788456080286535587989211986876f /* sqrt(2 / pi) */
#define FR_OAI_ALPHA 1.702f
#define FR_OAI_LIMIT 7.0f

void fr_glu_forward(const fr_kernel_set *ks, float *g, const float *u, int64_t n, fr_ffn_act act)
{
    switch (act) {
    case FR_FFN_SILU: ks->swiglu(g, u, n); break;
    case FR_FFN_GELU:
        for (int64_t i = 0; i < n; i++) {
            float x = g[i];
            g[i] = 0.5f * x * (1.0f + tanhf(FR_GELU_C * x * (1.0f + FR_GELU_A * x * x))) * u[i];
        }
        break;
    case FR_FFN_SWIGLU_OAI:
        for (int64_t i = 0; i < n; i++) {
            float x = fminf(g[i], FR_OAI_LIMIT);
            float y = fminf(fmaxf(u[i], -FR_OAI_LIMIT), FR_OAI_LIMIT);
            g[i] = x / (1.0f + expf(FR_OAI_ALPHA * (-x))) * (y + 1.0f);
        }
        break;
    }
}

void fr_glu_backward(float *dg, float *du, const float *dout, const float *g, const float *u,
                     int64_t n, fr_ffn_act act)
{
    switch (act) {
    case FR_FFN_SILU:
        for (int64_t i = 0; i < n; i++) {
            float x = g[i];
            float sg = 1.0f / (1.0f + expf(-x));
            float silu = x * sg;
            du[i] += dout[i] * silu;
            dg[i] += dout[i] * u[i] * (sg * (1.0f + x * (1.0f - sg)));
        }
        break;
    case FR_FFN_GELU:
        for (int64_t i = 0; i < n; i++) {
            float x = g[i];
            float t = tanhf(FR_GELU_C * x * (1.0f + FR_GELU_A * x * x));
            float gelu = 0.5f * x * (1.0f + t);
            float dgelu = 0.5f * (1.0f + t) +
                          0.5f * x * (1.0f - t * t) * FR_GELU_C * (1.0f + 3.0f * FR_GELU_A * x * x);
            du[i] += dout[i] * gelu;
            dg[i] += dout[i] * u[i] * dgelu;
        }
        break;
    case FR_FFN_SWIGLU_OAI:
        for (int64_t i = 0; i < n; i++) {
            bool g_free = g[i] < FR_OAI_LIMIT;
            bool u_free = u[i] > -FR_OAI_LIMIT && u[i] < FR_OAI_LIMIT;
            float x = fminf(g[i], FR_OAI_LIMIT);
            float y = fminf(fmaxf(u[i], -FR_OAI_LIMIT), FR_OAI_LIMIT);
            float s = 1.0f / (1.0f + expf(-FR_OAI_ALPHA * x));
            float glu = x * s;
            if (u_free)
                du[i] += dout[i] * glu;
            if (g_free)
                dg[i] += dout[i] * (y + 1.0f) * (s + FR_OAI_ALPHA * x * s * (1.0f - s));
        }
        break;
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

/* Top k of n values (largest first, the lower index on ties) into idx. */
static void fr_topk(const float *v, uint32_t n, uint32_t k, int32_t *idx)
{
    for (uint32_t j = 0; j < k; j++) {
        int32_t best = -1;
        for (uint32_t e = 0; e < n; e++) {
            bool taken = false;
            for (uint32_t i = 0; i < j && !taken; i++)
                taken = idx[i] == (int32_t)e;
            if (!taken && (best < 0 || v[e] > v[best]))
                best = (int32_t)e;
        }
        idx[j] = best;
    }
}

void fr_moe_route(const float *logits, int64_t n, uint32_t n_exp, uint32_t k, fr_moe_gating gating,
                  int32_t *sel, float *w)
{
    for (int64_t t = 0; t < n; t++) {
        const float *lg = logits + t * n_exp;
        int32_t *st = sel + t * k;
        float *wt = w + t * k;
        fr_topk(lg, n_exp, k, st);
        float mx = lg[st[0]], sum = 0.0f;
        if (gating == FR_MOE_SOFTMAX) /* llama.cpp subtracts the maximum of all */
            for (uint32_t e = 0; e < n_exp; e++)
                mx = lg[e] > mx ? lg[e] : mx;
        for (uint32_t j = 0; j < k; j++)
            sum += (wt[j] = expf(lg[st[j]] - mx));
        for (uint32_t j = 0; j < k; j++)
            wt[j] /= sum;
    }
}

void fr_moe_route_backward(float *dlogits, const float *dw, const int32_t *sel, const float *w,
                           int64_t n, uint32_t n_exp, uint32_t k)
{
    for (int64_t t = 0; t < n; t++) {
        float *d = dlogits + t * n_exp;
        const float *wt = w + t * k, *dwt = dw + t * k;
        for (uint32_t e = 0; e < n_exp; e++)
            d[e] = 0.0f;
        double dot = 0.0;
        for (uint32_t j = 0; j < k; j++)
            dot += (double)wt[j] * (double)dwt[j];
        for (uint32_t j = 0; j < k; j++)
            d[sel[t * k + j]] = wt[j] * (dwt[j] - (float)dot);
    }
}
