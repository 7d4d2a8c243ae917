/*
 * Training ops: every <op>_backward against double-precision central
 * differences of an independent, naive double-precision forward written
 * here from the op's definition (the code under test is float and shares
 * nothing with these references). Each check uses a scalar loss
 * L = sum(c * y) with random c, so dL/dy = c is the gradient fed to the
 * backward. Also: the float products (gemm) against naive double products,
 * bit-identical results for 1 and 3 threads, and the frozen-base linear
 * layer with F32, Q8_0, Q4_0 and Q4_K weights.
 */
#include "test.h"

#include <frugal/tensor.h>
#include <frugal/types.h>

#include "tensor/kernels/kernels.h"
#include "tune/gemm.h"
#include "tune/linear.h"
#include "tune/ops.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng_state = 0x1234567;

static double urand(void) /* [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static float *frand(int64_t n, double scale)
{
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)(urand() * scale);
    return p;
}

static float *fzero(int64_t n) { return calloc((size_t)(n ? n : 1), sizeof(float)); }

static double *to_d(const float *f, int64_t n)
{
    double *d = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

/* Central difference of loss(ctx) with respect to p[i]. */
typedef double (*loss_fn)(void *ctx);
static double fd(loss_fn f, void *ctx, double *p, int64_t i)
{
    double h = 1e-5 * (fabs(p[i]) > 1 ? fabs(p[i]) : 1), keep = p[i];
    p[i] = keep + h;
    double lp = f(ctx);
    p[i] = keep - h;
    double lm = f(ctx);
    p[i] = keep;
    return (lp - lm) / (2 * h);
}

/* Compares analytic gradient g (float) with finite differences for every
 * element of p (n of them). */
static void check_grad(const char *what, loss_fn f, void *ctx, double *p, const float *g, int64_t n)
{
    int bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double num = fd(f, ctx, p, i);
        double err = fabs(num - g[i]);
        double tol = 3e-4 + 3e-3 * fabs(num);
        if (err / tol > worst)
            worst = err / tol;
        if (err > tol && bad++ < 5)
            fprintf(stderr, "%s[%lld]: analytic %.8g, numeric %.8g\n", what, (long long)i, g[i],
                    num);
    }
    CHECK_MSG(bad == 0, "%s: %d of %lld gradients off (worst %.2f x tolerance)", what, bad,
              (long long)n, worst);
}

static double dot_c(const double *y, const float *c, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += y[i] * c[i];
    return s;
}

/* ---- gemm ----------------------------------------------------------------- */

static void test_gemm(void)
{
    fr_pool *p3 = NULL;
    fr_err e;
    CHECK(fr_pool_create(3, &p3, &e) == FR_OK);
    const int64_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {9, 17, 33}, {33, 9, 4}, {64, 40, 31},
                                {2, 100, 5}, {130, 3, 18}};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int64_t M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
        for (int kind = 0; kind < 3; kind++)
            for (int acc = 0; acc < 2; acc++) {
                /* nt: A[M][K], B[N][K]; nn: A[M][K], B[K][N]; tn: A[K][M], B[K][N] */
                float *A = frand(M * K, 1), *B = frand(N * K, 1);
                float *C1 = frand(M * N, 1), *C3 = malloc((size_t)(M * N) * sizeof(float));
                memcpy(C3, C1, (size_t)(M * N) * sizeof(float));
                double *want = to_d(C1, M * N);
                float alpha = 0.75f;
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = 0;
                        for (int64_t k = 0; k < K; k++) {
                            double a = kind == 2 ? A[k * M + i] : A[i * K + k];
                            double b = kind == 0 ? B[j * K + k] : B[k * N + j];
                            s += a * b;
                        }
                        want[i * N + j] = (acc ? want[i * N + j] : 0) + alpha * s;
                    }
                if (kind == 0) {
                    fr_gemm_nt(NULL, M, N, K, alpha, A, K, B, K, acc, C1, N);
                    fr_gemm_nt(p3, M, N, K, alpha, A, K, B, K, acc, C3, N);
                } else if (kind == 1) {
                    fr_gemm_nn(NULL, M, N, K, alpha, A, K, B, N, acc, C1, N);
                    fr_gemm_nn(p3, M, N, K, alpha, A, K, B, N, acc, C3, N);
                } else {
                    fr_gemm_tn(NULL, M, N, K, alpha, A, M, B, N, acc, C1, N);
                    fr_gemm_tn(p3, M, N, K, alpha, A, M, B, N, acc, C3, N);
                }
                double worst = 0;
                for (int64_t i = 0; i < M * N; i++)
                    if (fabs(C1[i] - want[i]) > worst)
                        worst = fabs(C1[i] - want[i]);
                CHECK_MSG(worst < 1e-5 * (double)(K + 2), "gemm kind %d %lldx%lldx%lld: err %g",
                          kind, (long long)M, (long long)N, (long long)K, worst);
                CHECK_MSG(memcmp(C1, C3, (size_t)(M * N) * sizeof(float)) == 0,
                          "gemm kind %d %lldx%lldx%lld: 1 and 3 threads differ", kind,
                          (long long)M, (long long)N, (long long)K);
                free(A), free(B), free(C1), free(C3), free(want);
            }
    }
    fr_pool_free(p3);
}

/* Every path's block kernels (the kernel table's sgemm entries) against
 * double products, every edge case. */
static void test_gemm_paths(void)
{
    fr_sgemm_fn paths[FR_ISA_COUNT_][3];
    int n_paths = 0;
    for (int isa = 0; isa < FR_ISA_COUNT_; isa++) {
        const fr_kernel_set *ks = fr_kernel_set_get((fr_isa)isa);
        if (!ks)
            continue;
        paths[n_paths][0] = ks->sgemm_nt;
        paths[n_paths][1] = ks->sgemm_nn;
        paths[n_paths][2] = ks->sgemm_tn;
        n_paths++;
    }
    if (n_paths < FR_ISA_COUNT_)
        fprintf(stderr, "note: this CPU runs %d of the %d gemm paths; only those are tested\n",
                n_paths, FR_ISA_COUNT_);
    const int64_t sizes[][3] = {{1, 1, 1}, {5, 17, 9}, {7, 70, 33}, {13, 131, 17}, {4, 16, 8},
                                {9, 100, 20}};
    /* AVX-512 and AVX2 compute every element with the same fused operations */
    if (n_paths == 3) {
        float *A = frand(9 * 40, 1), *B = frand(40 * 150, 1), *C1 = fzero(9 * 150), *C2 = fzero(9 * 150);
        paths[1][1](9, 150, 40, 0.5f, A, 40, B, 150, false, C1, 150);
        paths[2][1](9, 150, 40, 0.5f, A, 40, B, 150, false, C2, 150);
        CHECK(memcmp(C1, C2, sizeof(float) * 9 * 150) == 0);
        free(A), free(B), free(C1), free(C2);
    }
    for (int pth = 0; pth < n_paths; pth++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int kind = 0; kind < 3; kind++) {
                int64_t M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
                float *A = frand(M * K, 1), *B = frand(N * K, 1), *C = frand(M * N, 1);
                double *want = to_d(C, M * N);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double sum = 0;
                        for (int64_t k = 0; k < K; k++)
                            sum += (double)(kind == 2 ? A[k * M + i] : A[i * K + k]) *
                                   (kind == 0 ? B[j * K + k] : B[k * N + j]);
                        want[i * N + j] += -1.5 * sum;
                    }
                int64_t lda = kind == 2 ? M : K, ldb = kind == 0 ? K : N;
                paths[pth][kind](M, N, K, -1.5f, A, lda, B, ldb, true, C, N);
                double worst = 0;
                for (int64_t i = 0; i < M * N; i++)
                    worst = fmax(worst, fabs(C[i] - want[i]));
                CHECK_MSG(worst < 2e-5 * (double)(K + 2), "path %d kind %d %lldx%lldx%lld: %g",
                          pth, kind, (long long)M, (long long)N, (long long)K, worst);
                free(A), free(B), free(C), free(want);
            }
}

/* ---- RMSNorm -------------------------------------------------------------- */

typedef struct rms_ctx {
    double *x, *w;
    const float *c;
    int64_t n, d;
    double eps;
} rms_ctx;

static void ref_rmsnorm(double *y, const double *x, const double *w, int64_t n, int64_t d, double eps)
{
    for (int64_t t = 0; t < n; t++) {
        double ss = 0;
        for (int64_t j = 0; j < d; j++)
            ss += x[t * d + j] * x[t * d + j];
        double r = 1 / sqrt(ss / d + eps);
        for (int64_t j = 0; j < d; j++)
            y[t * d + j] = w[j] * x[t * d + j] * r;
    }
}

static double rms_loss(void *vc)
{
    rms_ctx *c = vc;
    double *y = malloc(sizeof(double) * (size_t)(c->n * c->d));
    ref_rmsnorm(y, c->x, c->w, c->n, c->d, c->eps);
    double l = dot_c(y, c->c, c->n * c->d);
    free(y);
    return l;
}

static void test_rmsnorm(void)
{
    int64_t n = 3, d = 13;
    float *x = frand(n * d, 2), *w = frand(d, 1), *c = frand(n * d, 1);
    float *y = fzero(n * d), *rstd = fzero(n), *dx = fzero(n * d), *dw = fzero(d);
    float eps = 1e-5f;
    fr_rmsnorm_forward(y, rstd, x, w, n, d, eps);
    rms_ctx ctx = {to_d(x, n * d), to_d(w, d), c, n, d, eps};
    double *yr = malloc(sizeof(double) * (size_t)(n * d));
    ref_rmsnorm(yr, ctx.x, ctx.w, n, d, eps);
    for (int64_t i = 0; i < n * d; i++)
        CHECK_NEAR(y[i], yr[i], 1e-5);
    fr_rmsnorm_backward(dx, dw, c, x, w, rstd, n, d);
    check_grad("rmsnorm dx", rms_loss, &ctx, ctx.x, dx, n * d);
    check_grad("rmsnorm dw", rms_loss, &ctx, ctx.w, dw, d);
    /* backward accumulates */
    float *dx2 = fzero(n * d);
    for (int64_t i = 0; i < n * d; i++)
        dx2[i] = 1.0f;
    fr_rmsnorm_backward(dx2, NULL, c, x, w, rstd, n, d);
    CHECK_NEAR(dx2[5], 1.0 + dx[5], 1e-6);
    free(x), free(w), free(c), free(y), free(rstd), free(dx), free(dw), free(dx2), free(yr);
    free(ctx.x), free(ctx.w);
}

/* ---- RoPE ----------------------------------------------------------------- */

typedef struct rope_ctx {
    double *x;
    const float *c;
    const int32_t *pos;
    int64_t n;
    uint32_t H, hd, nrot;
    double base, fscale;
    const double *ff;
    bool neox;
    double mscale;
} rope_ctx;

static void ref_rope(double *x, const rope_ctx *c)
{
    for (int64_t t = 0; t < c->n; t++)
        for (uint32_t h = 0; h < c->H; h++) {
            double *v = x + (t * c->H + h) * c->hd;
            for (uint32_t i = 0; i < c->nrot / 2; i++) {
                double th = c->pos[t] * pow(c->base, -2.0 * i / c->nrot) * c->fscale;
                if (c->ff)
                    th /= c->ff[i];
                uint32_t a = c->neox ? i : 2 * i, b = c->neox ? i + c->nrot / 2 : 2 * i + 1;
                double x0 = v[a], x1 = v[b];
                v[a] = c->mscale * (x0 * cos(th) - x1 * sin(th));
                v[b] = c->mscale * (x0 * sin(th) + x1 * cos(th));
            }
        }
}

static double rope_loss(void *vc)
{
    rope_ctx *c = vc;
    int64_t m = c->n * c->H * c->hd;
    double *y = malloc(sizeof(double) * (size_t)m);
    memcpy(y, c->x, sizeof(double) * (size_t)m);
    ref_rope(y, c);
    double l = dot_c(y, c->c, m);
    free(y);
    return l;
}

static void test_rope(void)
{
    for (int style = 0; style < 2; style++)
        for (int with_ff = 0; with_ff < 2; with_ff++) {
            uint32_t hd = 10, nrot = 6; /* partial rotation: dims 6..9 pass through */
            fr_rope_style rs = style ? FR_ROPE_NEOX : FR_ROPE_NORMAL;
            float mscale = with_ff ? 1.25f : 1.0f; /* LongRoPE / YaRN magnitude */
            int64_t n = 4;
            uint32_t H = 3;
            int32_t pos[4] = {0, 1, 7, 300};
            double ffd[3] = {1, 2, 8};
            float freq[3];
            for (int i = 0; i < 3; i++)
                freq[i] = (float)(pow(10000.0, -2.0 * i / nrot) * 0.5 / (with_ff ? ffd[i] : 1));
            int64_t m = n * H * hd;
            float *x = frand(m, 1), *c = frand(m, 1);
            float *cs = fzero(n * nrot);
            fr_rope_table(cs, freq, nrot / 2, mscale, pos, n);
            rope_ctx ctx = {to_d(x, m), c, pos, n, H, hd, nrot, 10000.0, 0.5,
                            with_ff ? ffd : NULL, style == 1, mscale};
            float *y = malloc(sizeof(float) * (size_t)m);
            memcpy(y, x, sizeof(float) * (size_t)m);
            fr_rope_forward(y, cs, n, H, hd, nrot / 2, rs);
            double *yr = malloc(sizeof(double) * (size_t)m);
            memcpy(yr, ctx.x, sizeof(double) * (size_t)m);
            ref_rope(yr, &ctx);
            for (int64_t i = 0; i < m; i++)
                CHECK_NEAR(y[i], yr[i], 2e-5);
            float *g = malloc(sizeof(float) * (size_t)m);
            memcpy(g, c, sizeof(float) * (size_t)m);
            fr_rope_backward(g, cs, n, H, hd, nrot / 2, rs);
            check_grad(style ? "rope neox dx" : "rope normal dx", rope_loss, &ctx, ctx.x, g, m);
            free(x), free(c), free(cs), free(y), free(yr), free(g), free(ctx.x);
        }
}

/* ---- attention ------------------------------------------------------------ */

typedef struct attn_ctx {
    double *q, *k, *v;
    const float *c;
    int64_t n;
    uint32_t H, KV, hd;
    double scale;        /* 0: 1 / sqrt(hd) */
    uint32_t window;     /* 0: none */
    const float *sinks;  /* [H] or NULL */
} attn_ctx;

static void ref_attention(double *out, const attn_ctx *c)
{
    uint32_t grp = c->H / c->KV, hd = c->hd;
    double *sc = malloc(sizeof(double) * (size_t)c->n);
    for (int64_t i = 0; i < c->n; i++)
        for (uint32_t h = 0; h < c->H; h++) {
            uint32_t kvh = h / grp;
            const double *qi = c->q + (i * c->H + h) * hd;
            double mx = -1e300, z = 0;
            int64_t j0 = c->window && i >= c->window ? i - c->window + 1 : 0;
            for (int64_t j = j0; j <= i; j++) {
                double s = 0;
                for (uint32_t d = 0; d < hd; d++)
                    s += qi[d] * c->k[(j * c->KV + kvh) * hd + d];
                sc[j] = c->scale > 0 ? s * c->scale : s / sqrt((double)hd);
                if (sc[j] > mx)
                    mx = sc[j];
            }
            if (c->sinks && c->sinks[h] > mx)
                mx = c->sinks[h];
            for (int64_t j = j0; j <= i; j++)
                z += (sc[j] = exp(sc[j] - mx));
            if (c->sinks)
                z += exp(c->sinks[h] - mx);
            for (uint32_t d = 0; d < hd; d++) {
                double a = 0;
                for (int64_t j = j0; j <= i; j++)
                    a += sc[j] / z * c->v[(j * c->KV + kvh) * hd + d];
                out[(i * c->H + h) * hd + d] = a;
            }
        }
    free(sc);
}

static double attn_loss(void *vc)
{
    attn_ctx *c = vc;
    int64_t m = c->n * c->H * c->hd;
    double *o = malloc(sizeof(double) * (size_t)m);
    ref_attention(o, c);
    double l = dot_c(o, c->c, m);
    free(o);
    return l;
}

static void test_attention(void)
{
    /* n, heads, kv heads, head dim, window, sinks, scale (x 0.1) */
    const uint32_t shapes[][7] = {{5, 4, 2, 3, 0, 0, 0},   {6, 3, 3, 4, 0, 0, 0},
                                  {4, 4, 1, 5, 0, 0, 0},   {1, 2, 1, 2, 0, 0, 0},
                                  {150, 2, 1, 5, 0, 0, 0}, /* 150: three query blocks */
                                  {9, 4, 2, 3, 3, 0, 0},   /* sliding window */
                                  {7, 4, 2, 3, 0, 1, 0},   /* sinks */
                                  {80, 2, 1, 4, 70, 1, 3}}; /* all, over two blocks */
    const float sinks[4] = {0.5f, -1.0f, 2.0f, 0.0f};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        fr_attn_shape s = {shapes[si][0],         shapes[si][1], shapes[si][2],
                           shapes[si][3],         0.1f * (float)shapes[si][6], shapes[si][4],
                           shapes[si][5] ? sinks : NULL};
        int64_t qm = s.n * s.n_head * s.hd, km = s.n * s.n_head_kv * s.hd;
        float *q = frand(qm, 1.5), *k = frand(km, 1.5), *v = frand(km, 1), *c = frand(qm, 1);
        float *out = fzero(qm), *att = fzero(fr_attn_scratch_floats(s.n));
        float *dq = fzero(qm), *dk = fzero(km), *dv = fzero(km);
        /* split by kv head, as the driver does */
        for (uint32_t kv = 0; kv < s.n_head_kv; kv++)
            fr_attention_forward(out, q, k, v, &s, kv, kv + 1, att);
        attn_ctx ctx = {to_d(q, qm), to_d(k, km), to_d(v, km), c, s.n, s.n_head, s.n_head_kv,
                        s.hd, s.scale, s.window, s.sinks};
        double *outr = malloc(sizeof(double) * (size_t)qm);
        ref_attention(outr, &ctx);
        for (int64_t i = 0; i < qm; i++)
            CHECK_NEAR(out[i], outr[i], 1e-5);
        fr_attention_backward(dq, dk, dv, c, out, q, k, v, &s, 0, s.n_head_kv, att);
        check_grad("attention dq", attn_loss, &ctx, ctx.q, dq, qm);
        check_grad("attention dk", attn_loss, &ctx, ctx.k, dk, km);
        check_grad("attention dv", attn_loss, &ctx, ctx.v, dv, km);
        free(q), free(k), free(v), free(c), free(out), free(att), free(dq), free(dk), free(dv);
        free(outr), free(ctx.q), free(ctx.k), free(ctx.v);
    }
}

/* ---- gated activations, residual ------------------------------------------ */

typedef struct sw_ctx {
    double *g, *u;
    const float *c;
    int64_t n;
    fr_ffn_act act;
} sw_ctx;

/* The activations written from their definitions (rows.c's comment). */
static double ref_glu(double g, double u, fr_ffn_act act)
{
    switch (act) {
    case FR_FFN_SILU:
        return g / (1 + exp(-g)) * u;
    case FR_FFN_GELU:
        return 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g))) * u;
    case FR_FFN_SWIGLU_OAI: {
        double x = g < 7 ? g : 7, y = u < -7 ? -7 : u > 7 ? 7 : u;
        return x / (1 + exp(-1.702 * x)) * (y + 1);
    }
    }
    return 0;
}

static double sw_loss(void *vc)
{
    sw_ctx *c = vc;
    double l = 0;
    for (int64_t i = 0; i < c->n; i++)
        l += ref_glu(c->g[i], c->u[i], c->act) * c->c[i];
    return l;
}

static void test_swiglu_residual(void)
{
    static const char *names[3] = {"swiglu", "geglu", "swiglu-oai"};
    for (int a = 0; a < 3; a++) {
        fr_ffn_act act = (fr_ffn_act)a;
        int64_t n = 23;
        float *g = frand(n, 4), *u = frand(n, 2), *c = frand(n, 1), *out = fzero(n);
        float *dg = fzero(n), *du = fzero(n);
        g[0] = 30.0f; /* saturated sigmoid (and oai's clamp) */
        g[1] = -30.0f;
        u[2] = 9.0f; /* oai: clamped up */
        memcpy(out, g, sizeof(float) * (size_t)n);
        fr_glu_forward(fr_kernel_set_get(FR_ISA_GENERIC), out, u, n, act);
        sw_ctx ctx = {to_d(g, n), to_d(u, n), c, n, act};
        for (int64_t i = 0; i < n; i++)
            CHECK_MSG(fabs(out[i] - ref_glu(ctx.g[i], ctx.u[i], act)) <= 1e-5 * (1 + fabs(out[i])),
                      "%s forward [%lld]", names[a], (long long)i);
        fr_glu_backward(dg, du, c, g, u, n, act);
        char label[64];
        snprintf(label, sizeof label, "%s dg", names[a]);
        check_grad(label, sw_loss, &ctx, ctx.g, dg, n);
        snprintf(label, sizeof label, "%s du", names[a]);
        check_grad(label, sw_loss, &ctx, ctx.u, du, n);
        free(g), free(u), free(c), free(out), free(dg), free(du), free(ctx.g), free(ctx.u);
    }

    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, y[3], da[3] = {1, 1, 1}, db[3] = {0, 0, 0};
    float dy[3] = {0.5f, -1, 2};
    fr_residual_forward(y, a, b, 3);
    CHECK_NEAR(y[2], 33, 0);
    fr_residual_backward(da, db, dy, 3);
    CHECK_NEAR(da[1], 0, 0);
    CHECK_NEAR(db[2], 2, 0);
}

/* ---- cross-entropy -------------------------------------------------------- */

typedef struct xe_ctx {
    double *x;
    const int32_t *tgt;
    int64_t n, V;
    double scale;
} xe_ctx;

static double xe_loss(void *vc)
{
    xe_ctx *c = vc;
    double l = 0;
    for (int64_t t = 0; t < c->n; t++) {
        if (c->tgt[t] < 0)
            continue;
        double z = 0;
        for (int64_t j = 0; j < c->V; j++)
            z += exp(c->x[t * c->V + j]);
        l += log(z) - c->x[t * c->V + c->tgt[t]];
    }
    return l * c->scale;
}

static void test_xent(void)
{
    int64_t n = 4, V = 11;
    int32_t tgt[4] = {3, -1, 0, 10};
    float *x = frand(n * V, 3), *loss = fzero(n), *d = fzero(n * V);
    fr_xent_forward(loss, x, tgt, n, V);
    xe_ctx ctx = {to_d(x, n * V), tgt, n, V, 0.25};
    CHECK_NEAR(loss[1], 0, 0);
    double sum = 0;
    for (int64_t t = 0; t < n; t++)
        sum += loss[t];
    CHECK_NEAR(sum * 0.25, xe_loss(&ctx), 1e-5);
    fr_xent_backward(d, x, tgt, 0.25f, 0.0f, n, V);
    check_grad("xent dlogits", xe_loss, &ctx, ctx.x, d, n * V);
    /* in place, and huge logits do not overflow */
    for (int64_t j = 0; j < V; j++)
        x[j] += 1000.0f;
    fr_xent_forward(loss, x, tgt, 1, V);
    CHECK(isfinite(loss[0]));
    fr_xent_backward(x, x, tgt, 1.0f, 0.0f, 1, V);
    double s = 0;
    for (int64_t j = 0; j < V; j++)
        s += x[j];
    CHECK_NEAR(s, 0, 1e-5);
    free(x), free(loss), free(d), free(ctx.x);
}

/* ---- embedding ------------------------------------------------------------ */

static void test_embed(void)
{
    int64_t V = 7, d = 64;
    float *tab = frand(V * d, 1);
    size_t rb = (size_t)fr_type_row_bytes(FR_TYPE_Q8_0, d);
    uint8_t *q = malloc(rb * (size_t)V);
    fr_err e;
    for (int64_t r = 0; r < V; r++)
        CHECK(fr_quantize(FR_TYPE_Q8_0, tab + r * d, q + (size_t)r * rb, d, &e) == FR_OK);
    fr_weight w = {FR_TYPE_Q8_0, q, d, V, rb, NULL, 0};
    int32_t tok[3] = {4, 0, 4};
    float *x = fzero(3 * d), *row = fzero(d);
    fr_embed_forward(x, &w, tok, 3);
    CHECK(fr_dequantize(FR_TYPE_Q8_0, q + 4 * rb, row, d, &e) == FR_OK);
    CHECK(memcmp(x, row, (size_t)d * sizeof(float)) == 0);
    CHECK(memcmp(x + 2 * d, row, (size_t)d * sizeof(float)) == 0);
    /* L = sum c * x is linear in the table: its gradient is the scatter-add */
    float *c = frand(3 * d, 1), *demb = fzero(V * d);
    fr_embed_backward(demb, c, tok, 3, d);
    CHECK_NEAR(demb[4 * d + 5], (double)c[5] + c[2 * d + 5], 1e-6);
    CHECK_NEAR(demb[0 * d + 9], c[d + 9], 0);
    CHECK_NEAR(demb[1 * d + 9], 0, 0);
    free(tab), free(q), free(x), free(row), free(c), free(demb);
}

/* ---- frozen base + LoRA --------------------------------------------------- */

typedef struct lin_ctx {
    const double *W; /* dequantized base [n_out][n_in] */
    double *x, *A, *B;
    const float *c;
    int64_t n, n_in, n_out, r;
    double scale;
} lin_ctx;

static double lin_loss(void *vc)
{
    lin_ctx *c = vc;
    double l = 0;
    double *u = malloc(sizeof(double) * (size_t)(c->r ? c->r : 1));
    for (int64_t t = 0; t < c->n; t++) {
        const double *xt = c->x + t * c->n_in;
        for (int64_t k = 0; k < c->r; k++) {
            u[k] = 0;
            for (int64_t i = 0; i < c->n_in; i++)
                u[k] += c->A[k * c->n_in + i] * xt[i];
        }
        for (int64_t o = 0; o < c->n_out; o++) {
            double y = 0;
            for (int64_t i = 0; i < c->n_in; i++)
                y += c->W[o * c->n_in + i] * xt[i];
            for (int64_t k = 0; k < c->r; k++)
                y += c->scale * c->B[o * c->r + k] * u[k];
            l += y * c->c[t * c->n_out + o];
        }
    }
    free(u);
    return l;
}

static void test_linear(fr_type type, int64_t n_in, int64_t n_out, int nth)
{
    fr_err e;
    int64_t n = 3, r = 4;
    float *wf = frand(n_in * n_out, 0.5);
    size_t rb = (size_t)fr_type_row_bytes(type, n_in);
    uint8_t *wq = malloc(rb * (size_t)n_out);
    if (type == FR_TYPE_F32)
        memcpy(wq, wf, rb * (size_t)n_out);
    else
        for (int64_t o = 0; o < n_out; o++)
            CHECK(fr_quantize(type, wf + o * n_in, wq + (size_t)o * rb, n_in, &e) == FR_OK);
    float *wdq = fzero(n_in * n_out);
    for (int64_t o = 0; o < n_out; o++)
        CHECK(fr_dequantize(type, wq + (size_t)o * rb, wdq + o * n_in, n_in, &e) == FR_OK);
    fr_weight w = {type, wq, n_in, n_out, rb, NULL, 0};
    fr_tune_exec ex;
    CHECK(fr_tune_exec_init(&ex, nth, n_in, n, &e) == FR_OK);
    ex.exact = true; /* float products, compared with a double reference */

    float *x = frand(n * n_in, 1), *c = frand(n * n_out, 1);
    float *A = frand(r * n_in, 0.3), *B = frand(n_out * r, 0.3);
    float *dA = fzero(r * n_in), *dB = fzero(n_out * r);
    float *y = fzero(n * n_out), *u = fzero(n * r), *du = fzero(n * r), *dx = fzero(n * n_in);
    fr_lora_ref lp = {A, B, dA, dB, n_in, n_out, r, 0.5f};
    fr_base_forward(&ex, &w, NULL, x, n, y);
    fr_lora_forward(&ex, &lp, x, n, y, u);
    fr_base_backward(&ex, &w, c, n, dx);
    fr_lora_backward(&ex, &lp, x, u, c, n, dx, du);

    lin_ctx ctx = {to_d(wdq, n_in * n_out), to_d(x, n * n_in), to_d(A, r * n_in),
                   to_d(B, n_out * r), c, n, n_in, n_out, r, 0.5};
    char what[64];
    const char *tn = fr_type_name((uint32_t)type);
    /* forward value: L = sum c * y */
    double l = 0;
    for (int64_t i = 0; i < n * n_out; i++)
        l += (double)y[i] * c[i];
    CHECK_MSG(fabs(l - lin_loss(&ctx)) < 1e-4 * (1 + fabs(l)), "%s forward: %g vs %g", tn, l,
              lin_loss(&ctx));
    snprintf(what, sizeof what, "linear %s dx (%d threads)", tn, nth);
    check_grad(what, lin_loss, &ctx, ctx.x, dx, n * n_in);
    snprintf(what, sizeof what, "lora %s dA", tn);
    check_grad(what, lin_loss, &ctx, ctx.A, dA, r * n_in);
    snprintf(what, sizeof what, "lora %s dB", tn);
    check_grad(what, lin_loss, &ctx, ctx.B, dB, n_out * r);

    /* B = 0 leaves the base output unchanged, bit for bit */
    float *y0 = fzero(n * n_out), *y1 = fzero(n * n_out), *Bz = fzero(n_out * r);
    fr_lora_ref lz = {A, Bz, dA, dB, n_in, n_out, r, 0.5f};
    fr_base_forward(&ex, &w, NULL, x, n, y0);
    memcpy(y1, y0, sizeof(float) * (size_t)(n * n_out));
    fr_lora_forward(&ex, &lz, x, n, y1, u);
    CHECK(memcmp(y0, y1, sizeof(float) * (size_t)(n * n_out)) == 0);

    /* same input gradient with one thread */
    fr_tune_exec e1;
    CHECK(fr_tune_exec_init(&e1, 1, n_in, n, &e) == FR_OK);
    e1.exact = true;
    float *dx1 = fzero(n * n_in);
    fr_base_backward(&e1, &w, c, n, dx1);
    fr_lora_backward(&e1, &lp, x, u, c, n, dx1, du);
    fr_tune_exec_free(&e1);
    CHECK_MSG(memcmp(dx, dx1, sizeof(float) * (size_t)(n * n_in)) == 0,
              "%s: dx differs between %d threads and 1", tn, nth);

    fr_tune_exec_free(&ex);
    free(wf), free(wq), free(wdq), free(x), free(c), free(A), free(B), free(dA), free(dB);
    free(y), free(u), free(du), free(dx), free(y0), free(y1), free(Bz), free(dx1);
    free((void *)ctx.W), free(ctx.x), free(ctx.A), free(ctx.B);
}

/* Several column chunks and row tiles: dx = c W against a double product,
 * identical for 1, 2 and 3 threads. */
static void test_linear_big(fr_type type, int64_t n_in, int64_t n_out)
{
    fr_err e;
    int64_t n = 5;
    float *wf = frand(n_in * n_out, 0.5);
    size_t rb = (size_t)fr_type_row_bytes(type, n_in);
    uint8_t *wq = malloc(rb * (size_t)n_out);
    float *wdq = fzero(n_in * n_out);
    for (int64_t o = 0; o < n_out; o++) {
        if (type == FR_TYPE_F32)
            memcpy(wq + (size_t)o * rb, wf + o * n_in, rb);
        else
            CHECK(fr_quantize(type, wf + o * n_in, wq + (size_t)o * rb, n_in, &e) == FR_OK);
        CHECK(fr_dequantize(type, wq + (size_t)o * rb, wdq + o * n_in, n_in, &e) == FR_OK);
    }
    fr_weight w = {type, wq, n_in, n_out, rb, NULL, 0};
    float *c = frand(n * n_out, 1);
    float *dx[3];
    for (int t = 0; t < 3; t++) {
        fr_tune_exec ex;
        CHECK(fr_tune_exec_init(&ex, t + 1, n_in, n, &e) == FR_OK);
        dx[t] = fzero(n * n_in);
        fr_base_backward(&ex, &w, c, n, dx[t]);
        fr_tune_exec_free(&ex);
    }
    double worst = 0;
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < n_in; i++) {
            double s = 0;
            for (int64_t o = 0; o < n_out; o++)
                s += (double)c[t * n_out + o] * wdq[o * n_in + i];
            worst = fmax(worst, fabs(s - dx[0][t * n_in + i]));
        }
    CHECK_MSG(worst < 1e-3, "%s %lldx%lld: dx error %g", fr_type_name((uint32_t)type),
              (long long)n_out, (long long)n_in, worst);
    CHECK(memcmp(dx[0], dx[1], sizeof(float) * (size_t)(n * n_in)) == 0);
    CHECK(memcmp(dx[0], dx[2], sizeof(float) * (size_t)(n * n_in)) == 0);
    free(wf), free(wq), free(wdq), free(c), free(dx[0]), free(dx[1]), free(dx[2]);
}

int main(int argc, char **argv)
{
    /* --products: only the float products and the frozen-base layers (what
     * the kernel table serves, the sgemm entries of every path), at sizes
     * that take seconds under qemu (make test-aarch64); the central
     * differences of the ops' gradients take minutes there */
    bool products = argc > 1 && strcmp(argv[1], "--products") == 0;
    test_gemm();
    test_gemm_paths();
    if (!products) {
        test_rmsnorm();
        test_rope();
        test_attention();
        test_swiglu_residual();
        test_xent();
        test_embed();
    }
    test_linear(FR_TYPE_F32, 19, 37, 3);
    test_linear(FR_TYPE_Q8_0, 64, 37, 3);
    test_linear(FR_TYPE_Q4_0, 96, 33, 2);
    test_linear(FR_TYPE_Q4_K, 256, 35, 3);
    if (!products)
        test_linear_big(FR_TYPE_Q4_K, 1280, 600);
    test_linear_big(FR_TYPE_Q4_0, 1056, 300);
    test_linear_big(FR_TYPE_F32, 1100, 530);
    TEST_END();
}
