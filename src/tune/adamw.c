/*
 * adamw.c - AdamW, schedules and clipping (see adamw.h).
 */
#include "tune/adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

fr_status fr_adamw_init(fr_adamw *o, int64_t n, fr_err *err)
{
    memset(o, 0, sizeof *o);
    o->n = n;
    o->m = calloc((size_t)(n ? n : 1), sizeof(float));
    o->v = calloc((size_t)(n ? n : 1), sizeof(float));
    if (!o->m || !o->v) {
        fr_adamw_free(o);
        return fr_err_set(err, FR_E_NOMEM, "out of memory for the optimizer state (%lld values)",
                          (long long)n);
    }
    return FR_OK;
}

void fr_adamw_free(fr_adamw *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void fr_adamw_update(fr_adamw *o, float *param, const float *grad, const fr_tune_params *p,
                     double lr)
{
    o->t++;
    double bc1 = 1.0 - pow(p->beta1, (double)o->t);
    double bc2 = 1.0 - pow(p->beta2, (double)o->t);
    float b1 = (float)p->beta1, b2 = (float)p->beta2;
    float step = (float)(lr / bc1), decay = (float)(lr * p->weight_decay);
    float rbc2 = (float)(1.0 / bc2), eps = (float)p->eps;
    for (int64_t i = 0; i < o->n; i++) {
        float g = grad[i];
        float m = b1 * o->m[i] + (1.0f - b1) * g;
        float v = b2 * o->v[i] + (1.0f - b2) * (g * g);
        o->m[i] = m;
        o->v[i] = v;
        float w = param[i];
        if (decay != 0.0f)
            w -= decay * w;
        param[i] = w - step * m / (sqrtf(v * rbc2) + eps);
    }
}

double fr_lr_at(const fr_tune_params *p, uint64_t step)
{
    if (p->warmup && step < p->warmup)
        return p->lr * (double)(step + 1) / (double)p->warmup;
    double lo = p->lr * p->min_lr_ratio;
    uint64_t span = p->total_steps > p->warmup ? p->total_steps - p->warmup : 1;
    double x = (double)(step - p->warmup) / (double)span;
    if (x > 1.0)
        x = 1.0;
    switch (p->schedule) {
    case FR_SCHED_COSINE: return lo + (p->lr - lo) * 0.5 * (1.0 + cos(M_PI * x));
    case FR_SCHED_LINEAR: return p->lr - (p->lr - lo) * x;
    case FR_SCHED_CONSTANT:
    default: return p->lr;
    }
}

double fr_grad_norm(const float *g, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)g[i] * (double)g[i];
    return sqrt(s);
}

void fr_grad_scale(float *g, int64_t n, float s)
{
    for (int64_t i = 0; i < n; i++)
        g[i] *= s;
}
