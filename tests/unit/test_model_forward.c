/*
 * The forward pass against an independent, deliberately naive
 * double-precision implementation written here from the architecture's
 * definition (it shares nothing with src/model but the GGUF reader and the
 * dequantizers, which have their own tests against llama.cpp's values).
 *
 * Random models of each architecture (several layer counts, GQA ratios, odd
 * head counts, qwen3's head_dim != n_embd / n_head) are written with the
 * project's own writer; logits of every prompt position must agree to a
 * relative error below 1e-4 with F32 weights, and quantized models are
 * compared against the reference run on their dequantized weights (with
 * its activations quantized as the engine's are; see ref_ties for the one
 * ambiguity that brings). Prefill and token-by-token decoding must agree
 * too.
 */
#include "test.h"

#include <frugal/gguf.h>
#include <frugal/model.h>
#include <frugal/synth.h>
#include <frugal/tensor.h>
#include <frugal/tokenizer.h>
#include <unistd.h>

/* ---- the naive reference ------------------------------------------------ */

/* Quantizing an activation is a step function: a value whose x / d lies
 * within float rounding of a half-integer may be rounded one way by this
 * double-precision reference and the other way by the engine's float
 * arithmetic (or by two kernel sets whose sums differ in the last bit), and
 * that one step moves the logits by 1e-3 to 1e-2, far past the tolerance.
 * Seen: qwen3moe Q4_K on the ARM SIMD paths, an attention output at x / d =
 * -73.49999 here, -73.49998 in the generic set's left-to-right sums, and
 * exactly -73.5 (so -74) in the NEON lanes' - every value within 2e-7 of
 * the generic one. So the reference records the near-ties it meets
 * (|x / d - (k + 1/2)| < REF_TIE_EPS steps), and an engine that misses the
 * nominal reference is compared again with each of the closest of them
 * rounded the other way, one at a time (every quantization of that value:
 * the same h feeds Q, K and V, or the router and the experts). A bug would
 * have to land within the tolerance of one of these single-step variants. */
#define REF_TIE_EPS 1e-3
#define REF_TIES_MAX 16
typedef struct ref_ties {
    int n;
    double r[REF_TIES_MAX];   /* x / d of the closest near-ties seen, closest first */
    double gap[REF_TIES_MAX]; /* |x / d - (k + 1/2)| */
    double flip;              /* the value to round the other way; NAN: none (and record) */
} ref_ties;

/* Everything the reference needs to know, from the spec the test wrote (not
 * from the engine's hyper-parameters). */
typedef struct ref_model {
    const fr_gguf *g;
    const char *arch;
    int E, L, F, H, KV, HD, V, NROT;
    double eps, base;
    bool neox;
    int ACT;            /* activation block of the weights' type (0: float activations) */
    int n_ctx;          /* context the engine runs at (LongRoPE's choice) */
    double embd_scale;  /* gemma: sqrt(E) */
    double q_scale;     /* > 0: q *= q_scale, scores unscaled (gemma3) */
    int n_swa, swa_pattern; /* window layers: l % pattern < pattern - 1 */
    double base_swa;    /* their rope base */
    bool swa_scaled;    /* their rope is scaled too (gpt-oss; gemma3's is not) */
    double rope_scale;  /* linear / YaRN factor (0: none) */
    bool yarn;
    int n_ctx_orig;
    double attn_factor; /* rope magnitude (LongRoPE); 1 */
    double softcap;
    int act;            /* 0 silu, 1 gelu (tanh), 2 gpt-oss's clamped swiglu */
    int n_exp, n_used, FX;
    bool softmax_after_topk; /* gpt-oss: weights = softmax of the chosen logits */
    bool pan_is_ffn_norm;    /* gpt-oss names its pre-FFN norm post_attention_norm */
    int *sel_log;            /* when set: [layer][token][n_used] experts chosen */
    ref_ties *ties;          /* when set: near-ties recorded / the one flipped */
} ref_model;

/* Whole tensor as doubles (malloc'd), or NULL when absent. */
static double *ref_tensor(const fr_gguf *g, const char *name, int64_t *count)
{
    const fr_gguf_tensor *t = fr_gguf_find_tensor(g, name);
    if (!t)
        return NULL;
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= t->ne[d];
    float *f = malloc((size_t)n * sizeof(float));
    double *out = malloc((size_t)n * sizeof(double));
    fr_err e;
    if (fr_dequantize(t->type, t->data, f, n, &e) != FR_OK) {
        fprintf(stderr, "dequantize %s: %s\n", name, e.msg);
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = f[i];
    free(f);
    if (count)
        *count = n;
    return out;
}

static double *ref_layer_tensor(const fr_gguf *g, int l, const char *suffix)
{
    char n[96];
    snprintf(n, sizeof n, "blk.%d.%s", l, suffix);
    return ref_tensor(g, n, NULL);
}

/* y[o] = sum_i W[o*n_in + i] x[i] (+ b[o]). With blk > 0, x is first rounded
 * to 8 bits per block of blk values (scale max|x|/127, nearest integer), as
 * the engine does for quantized weights (src/tensor/kernels/kernels.h:
 * blocks of 32 for Q4_0..Q8_0, 256 for the K types), so that quantized
 * models are compared with a tight tolerance instead of one wide enough to
 * hide bugs. */
static void ref_tie_note(ref_ties *t, double r)
{
    double gap = fabs(r - floor(r) - 0.5);
    if (!t || !isnan(t->flip) || gap >= REF_TIE_EPS)
        return;
    for (int i = 0; i < t->n; i++)
        if (t->r[i] == r)
            return; /* the same value quantized for another product */
    if (t->n == REF_TIES_MAX && gap >= t->gap[REF_TIES_MAX - 1])
        return; /* farther than all the closest kept */
    int at = t->n < REF_TIES_MAX ? t->n++ : REF_TIES_MAX - 1;
    for (; at > 0 && t->gap[at - 1] > gap; at--) {
        t->r[at] = t->r[at - 1];
        t->gap[at] = t->gap[at - 1];
    }
    t->r[at] = r;
    t->gap[at] = gap;
}

static void ref_mv(const ref_model *m, const double *W, const double *x, double *y, int n_in,
                   int n_out)
{
    int blk = m->ACT;
    double *xq = malloc(sizeof(double) * (size_t)n_in);
    for (int i = 0; i < n_in; i++)
        xq[i] = x[i];
    for (int b0 = 0; blk && b0 < n_in; b0 += blk) {
        double amax = 0;
        for (int i = b0; i < b0 + blk; i++)
            amax = fabs(x[i]) > amax ? fabs(x[i]) : amax;
        double d = amax / 127;
        for (int i = b0; i < b0 + blk; i++) {
            if (!(d > 0)) {
                xq[i] = 0;
                continue;
            }
            double r = x[i] / d, q = nearbyint(r);
            ref_tie_note(m->ties, r);
            if (m->ties && r == m->ties->flip) /* round the other way */
                q = q > r ? floor(r) : ceil(r);
            xq[i] = q * d;
        }
    }
    for (int o = 0; o < n_out; o++) {
        double s = 0;
        for (int i = 0; i < n_in; i++)
            s += W[(size_t)o * n_in + i] * xq[i];
        y[o] = s;
    }
    free(xq);
}

static void ref_add(double *y, const double *b, int n)
{
    for (int i = 0; b && i < n; i++)
        y[i] += b[i];
}

static void ref_rmsnorm(double *o, const double *x, const double *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        o[i] = x[i] * r * w[i];
}

/* YaRN's ramp over the pairs (the paper's gamma, llama.cpp's corr dims with
 * beta_fast 32, beta_slow 1). */
static double ref_yarn_ramp(const ref_model *m, int i, double base)
{
    double lo = floor(m->NROT * log(m->n_ctx_orig / (32 * 2 * M_PI)) / (2 * log(base)));
    double hi = ceil(m->NROT * log(m->n_ctx_orig / (1 * 2 * M_PI)) / (2 * log(base)));
    lo = lo > 0 ? lo : 0;
    hi = hi < m->NROT - 1 ? hi : m->NROT - 1;
    double y = (i - lo) / (hi - lo > 0.001 ? hi - lo : 0.001);
    return 1 - (y < 0 ? 0 : y > 1 ? 1 : y);
}

static void ref_rope(double *v, int pos, const ref_model *m, bool swa, const double *ff)
{
    double base = swa ? m->base_swa : m->base;
    double scale = (!swa || m->swa_scaled) && m->rope_scale > 0 ? 1 / m->rope_scale : 1;
    double mag = m->attn_factor;
    if (m->yarn && scale < 1)
        mag *= 1 + 0.1 * log(1 / scale);
    for (int i = 0; i < m->NROT / 2; i++) {
        double f = pow(base, -2.0 * i / m->NROT) / (ff ? ff[i] : 1);
        if (m->yarn) {
            double r = ref_yarn_ramp(m, i, base);
            f = f * scale * (1 - r) + f * r;
        } else {
            f *= scale;
        }
        double theta = pos * f;
        int a = m->neox ? i : 2 * i, b = m->neox ? i + m->NROT / 2 : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = mag * (x0 * cos(theta) - x1 * sin(theta));
        v[b] = mag * (x0 * sin(theta) + x1 * cos(theta));
    }
}

static double ref_act(double g, double u, int act)
{
    if (act == 0)
        return g / (1 + exp(-g)) * u;
    if (act == 1)
        return 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g))) * u;
    double x = g < 7 ? g : 7, y = u < -7 ? -7 : u > 7 ? 7 : u;
    return x / (1 + exp(-1.702 * x)) * (y + 1);
}

/* The gated feed-forward of one expert (or the dense one): out[E]. */
static void ref_ffn(const ref_model *m, const double *wg, const double *bg, const double *wu,
                    const double *bu, const double *wd, const double *bd, int F, const double *h,
                    double *out)
{
    double *g = malloc(sizeof(double) * (size_t)F), *u = malloc(sizeof(double) * (size_t)F);
    ref_mv(m, wg, h, g, m->E, F);
    ref_mv(m, wu, h, u, m->E, F);
    ref_add(g, bg, F);
    ref_add(u, bu, F);
    for (int i = 0; i < F; i++)
        g[i] = ref_act(g[i], u[i], m->act);
    ref_mv(m, wd, g, out, F, m->E);
    ref_add(out, bd, m->E);
    free(g), free(u);
}

/* Logits for every position of tokens[0..n): out[n][V]. The layer is
 *   x += post_norm(attention(norm(x)));  x += post_norm(ffn or moe(norm(x)))
 * with each feature on when the file has its tensor or the spec says so. */
static void ref_forward(const ref_model *m, const int *tokens, int n, double *out)
{
    int E = m->E, QD = m->H * m->HD, KD = m->KV * m->HD;
    double *x = calloc((size_t)n * E, sizeof(double));
    double *K = calloc((size_t)n * KD, sizeof(double));
    double *Vc = calloc((size_t)n * KD, sizeof(double));
    double *h = malloc(sizeof(double) * (size_t)(E > QD ? E : QD));
    double *q = malloc(sizeof(double) * (size_t)QD);
    double *att = malloc(sizeof(double) * (size_t)QD);
    double *o = malloc(sizeof(double) * (size_t)E);
    double *eo = malloc(sizeof(double) * (size_t)E);
    double *sc = malloc(sizeof(double) * (size_t)n);
    double *qkv = malloc(sizeof(double) * (size_t)(QD + 2 * KD));
    double *emb = ref_tensor(m->g, "token_embd.weight", NULL);
    double *flong = ref_tensor(m->g, "rope_factors_long.weight", NULL);
    double *fshort = ref_tensor(m->g, "rope_factors_short.weight", NULL);
    const double *ff = flong && m->n_ctx > m->n_ctx_orig ? flong : fshort;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < E; i++)
            x[(size_t)t * E + i] = emb[(size_t)tokens[t] * E + i] * m->embd_scale;
    for (int l = 0; l < m->L; l++) {
        bool swa = m->n_swa > 0 && (m->swa_pattern <= 1 || l % m->swa_pattern < m->swa_pattern - 1);
        double *an = ref_layer_tensor(m->g, l, "attn_norm.weight");
        double *wqkv = ref_layer_tensor(m->g, l, "attn_qkv.weight");
        double *wq = ref_layer_tensor(m->g, l, "attn_q.weight");
        double *wk = ref_layer_tensor(m->g, l, "attn_k.weight");
        double *wv = ref_layer_tensor(m->g, l, "attn_v.weight");
        double *wo = ref_layer_tensor(m->g, l, "attn_output.weight");
        double *bq = ref_layer_tensor(m->g, l, "attn_q.bias");
        double *bk = ref_layer_tensor(m->g, l, "attn_k.bias");
        double *bv = ref_layer_tensor(m->g, l, "attn_v.bias");
        double *bo = ref_layer_tensor(m->g, l, "attn_output.bias");
        double *qn = ref_layer_tensor(m->g, l, "attn_q_norm.weight");
        double *kn = ref_layer_tensor(m->g, l, "attn_k_norm.weight");
        double *sinks = ref_layer_tensor(m->g, l, "attn_sinks.weight");
        double *pan = ref_layer_tensor(m->g, l, "post_attention_norm.weight");
        double *fn = ref_layer_tensor(m->g, l, "ffn_norm.weight");
        double *pfn = ref_layer_tensor(m->g, l, "post_ffw_norm.weight");
        double *wg = ref_layer_tensor(m->g, l, "ffn_gate.weight");
        double *wu = ref_layer_tensor(m->g, l, "ffn_up.weight");
        double *wd = ref_layer_tensor(m->g, l, "ffn_down.weight");
        double *wr = ref_layer_tensor(m->g, l, "ffn_gate_inp.weight");
        double *br = ref_layer_tensor(m->g, l, "ffn_gate_inp.bias");
        double *xg = ref_layer_tensor(m->g, l, "ffn_gate_exps.weight");
        double *xu = ref_layer_tensor(m->g, l, "ffn_up_exps.weight");
        double *xd = ref_layer_tensor(m->g, l, "ffn_down_exps.weight");
        double *xbg = ref_layer_tensor(m->g, l, "ffn_gate_exps.bias");
        double *xbu = ref_layer_tensor(m->g, l, "ffn_up_exps.bias");
        double *xbd = ref_layer_tensor(m->g, l, "ffn_down_exps.bias");
        if (wqkv) { /* fused: rows Q, then K, then V */
            wq = wqkv;
            wk = wqkv + (size_t)QD * E;
            wv = wqkv + (size_t)(QD + KD) * E;
        }
        double *xn = malloc(sizeof(double) * (size_t)n * E);
        /* all keys/values of this layer first (causality comes from the
         * attention loop bounds below) */
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(h, x + (size_t)t * E, an, E, m->eps);
            memcpy(xn + (size_t)t * E, h, sizeof(double) * (size_t)E);
            double *kt = K + (size_t)t * KD, *vt = Vc + (size_t)t * KD;
            ref_mv(m, wk, h, kt, E, KD);
            ref_mv(m, wv, h, vt, E, KD);
            ref_add(kt, bk, KD);
            ref_add(vt, bv, KD);
            for (int hh = 0; hh < m->KV; hh++) {
                if (kn)
                    ref_rmsnorm(kt + hh * m->HD, kt + hh * m->HD, kn, m->HD, m->eps);
                ref_rope(kt + hh * m->HD, t, m, swa, ff);
            }
        }
        for (int t = 0; t < n; t++) {
            ref_mv(m, wq, xn + (size_t)t * E, q, E, QD);
            ref_add(q, bq, QD);
            int p0 = swa && t >= m->n_swa ? t - m->n_swa + 1 : 0;
            for (int hh = 0; hh < m->H; hh++) {
                double *qh = q + hh * m->HD;
                if (qn)
                    ref_rmsnorm(qh, qh, qn, m->HD, m->eps);
                ref_rope(qh, t, m, swa, ff);
                int kvh = hh / (m->H / m->KV);
                double mx = -1e300;
                for (int p = p0; p <= t; p++) {
                    double s = 0;
                    for (int i = 0; i < m->HD; i++)
                        s += qh[i] * K[(size_t)p * KD + kvh * m->HD + i];
                    sc[p] = m->q_scale > 0 ? s * m->q_scale : s / sqrt((double)m->HD);
                    if (sc[p] > mx)
                        mx = sc[p];
                }
                if (sinks && sinks[hh] > mx)
                    mx = sinks[hh];
                double z = sinks ? exp(sinks[hh] - mx) : 0;
                for (int p = p0; p <= t; p++)
                    z += (sc[p] = exp(sc[p] - mx));
                for (int i = 0; i < m->HD; i++) {
                    double a = 0;
                    for (int p = p0; p <= t; p++)
                        a += sc[p] / z * Vc[(size_t)p * KD + kvh * m->HD + i];
                    att[hh * m->HD + i] = a;
                }
            }
            ref_mv(m, wo, att, o, QD, E);
            ref_add(o, bo, E);
            if (pan && !m->pan_is_ffn_norm)
                ref_rmsnorm(o, o, pan, E, m->eps);
            double *xt = x + (size_t)t * E;
            for (int i = 0; i < E; i++)
                xt[i] += o[i];
            ref_rmsnorm(h, xt, m->pan_is_ffn_norm ? pan : fn, E, m->eps);
            if (!wr) {
                if (!wg) /* fused: rows gate, then up */
                    ref_ffn(m, wu, NULL, wu + (size_t)m->F * E, NULL, wd, NULL, m->F, h, o);
                else
                    ref_ffn(m, wg, NULL, wu, NULL, wd, NULL, m->F, h, o);
            } else {
                double *lg = malloc(sizeof(double) * (size_t)m->n_exp);
                double *w = malloc(sizeof(double) * (size_t)m->n_exp);
                int *sel = malloc(sizeof(int) * (size_t)m->n_used);
                ref_mv(m, wr, h, lg, E, m->n_exp);
                ref_add(lg, br, m->n_exp);
                double lmx = -1e300, zz = 0;
                for (int e = 0; e < m->n_exp; e++)
                    lmx = lg[e] > lmx ? lg[e] : lmx;
                for (int e = 0; e < m->n_exp; e++)
                    zz += (w[e] = exp(lg[e] - lmx));
                for (int e = 0; e < m->n_exp; e++)
                    w[e] /= zz;
                for (int k = 0; k < m->n_used; k++) { /* top-k by the logits */
                    int best = -1;
                    for (int e = 0; e < m->n_exp; e++) {
                        bool taken = false;
                        for (int j = 0; j < k; j++)
                            taken |= sel[j] == e;
                        if (!taken && (best < 0 || lg[e] > lg[best]))
                            best = e;
                    }
                    sel[k] = best;
                }
                if (m->sel_log)
                    memcpy(m->sel_log + ((size_t)l * n + t) * m->n_used, sel,
                           sizeof(int) * (size_t)m->n_used);
                double wsum = 0, smx = -1e300;
                for (int k = 0; k < m->n_used; k++) {
                    wsum += w[sel[k]];
                    smx = lg[sel[k]] > smx ? lg[sel[k]] : smx;
                }
                double sz = 0;
                for (int k = 0; k < m->n_used; k++)
                    sz += exp(lg[sel[k]] - smx);
                memset(o, 0, sizeof(double) * (size_t)E);
                for (int k = 0; k < m->n_used; k++) {
                    int e = sel[k];
                    size_t ms = (size_t)m->FX * E;
                    ref_ffn(m, xg + e * ms, xbg ? xbg + (size_t)e * m->FX : NULL, xu + e * ms,
                            xbu ? xbu + (size_t)e * m->FX : NULL, xd + e * ms,
                            xbd ? xbd + (size_t)e * E : NULL, m->FX, h, eo);
                    double we = m->softmax_after_topk ? exp(lg[e] - smx) / sz : w[e] / wsum;
                    for (int i = 0; i < E; i++)
                        o[i] += we * eo[i];
                }
                free(lg), free(w), free(sel);
            }
            if (pfn)
                ref_rmsnorm(o, o, pfn, E, m->eps);
            for (int i = 0; i < E; i++)
                xt[i] += o[i];
        }
        free(xn);
        free(an), free(wqkv ? NULL : wq), free(wqkv ? NULL : wk), free(wqkv ? NULL : wv);
        free(wqkv), free(wo), free(bq), free(bk), free(bv), free(bo), free(qn), free(kn);
        free(sinks), free(pan), free(fn), free(pfn), free(wg), free(wu), free(wd), free(wr);
        free(br), free(xg), free(xu), free(xd), free(xbg), free(xbu), free(xbd);
    }
    double *on = ref_tensor(m->g, "output_norm.weight", NULL);
    double *wout = ref_tensor(m->g, "output.weight", NULL);
    if (!wout)
        wout = ref_tensor(m->g, "token_embd.weight", NULL);
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(h, x + (size_t)t * E, on, E, m->eps);
        double *lt = out + (size_t)t * m->V;
        ref_mv(m, wout, h, lt, E, m->V);
        for (int i = 0; m->softcap > 0 && i < m->V; i++)
            lt[i] = m->softcap * tanh(lt[i] / m->softcap);
    }
    free(on), free(wout), free(emb), free(flong), free(fshort), free(qkv), free(eo);
    free(x), free(K), free(Vc), free(h), free(q), free(att), free(o), free(sc);
}

/* ---- the cases ---------------------------------------------------------- */

static char tmpdir[256];

static double max_rel_err(const float *a, const double *b, size_t n)
{
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        double d = fabs((double)a[i] - b[i]);
        if (d > md)
            md = d;
        if (fabs(b[i]) > mx)
            mx = fabs(b[i]);
    }
    return md / (mx > 0 ? mx : 1);
}

/* When logits got[n][V] miss ref by tol or more (*err): the reference
 * again with each near-tie it recorded rounded the other way (ref_ties); ref
 * becomes the first variant within tol, noted on stderr, *err its error. */
static void ref_retry_ties(const ref_model *m, const int *toks, int n, const float *got,
                           double *ref, double *err, double tol)
{
    size_t cnt = (size_t)n * (size_t)m->V;
    double *alt = malloc(sizeof(double) * cnt);
    for (int i = 0; i < m->ties->n && *err >= tol; i++) {
        m->ties->flip = m->ties->r[i];
        ref_forward(m, toks, n, alt);
        double e = max_rel_err(got, alt, cnt);
        if (e < tol) {
            fprintf(stderr,
                    "note: %s matches the reference with one activation at a rounding tie "
                    "(x / d = %.9g) rounded the other way: rel err %.3g, %.3g nominally\n",
                    m->arch, m->ties->r[i], e, *err);
            memcpy(ref, alt, sizeof(double) * cnt);
            *err = e;
        }
    }
    m->ties->flip = NAN;
    free(alt);
}

/* The spec of a small random model of arch (the features each arch has,
 * switched on). */
static fr_synth_spec mk(const char *arch, int L, int E, int H, int KV, int HD, int F, int V,
                        fr_type wt)
{
    fr_synth_spec s = {0};
    s.arch = arch;
    s.n_vocab = (uint32_t)V;
    s.n_embd = (uint32_t)E;
    s.n_layer = (uint32_t)L;
    s.n_ff = (uint32_t)F;
    s.n_head = (uint32_t)H;
    s.n_head_kv = (uint32_t)KV;
    s.head_dim = (uint32_t)HD;
    s.n_ctx = 64;
    s.wtype = wt;
    s.embd_type = FR_TYPE_COUNT_;
    s.tied = L % 2 == 0;
    s.qkv_bias = strcmp(arch, "qwen2") == 0;
    s.qk_norm = strcmp(arch, "qwen3") == 0 || strcmp(arch, "gemma3") == 0;
    s.rope_base = 10000.0f;
    s.seed = (uint64_t)(L * 131 + E * 7 + H);
    if (strcmp(arch, "gemma3") == 0) {
        /* window 3 on layers l % 3 < 2; the others global with base 1e6
         * scaled 1/8 */
        s.n_swa = 3;
        s.swa_pattern = 3;
        s.rope_base = 1e6f;
        s.rope_base_swa = 10000.0f;
        s.rope_scale = 8.0f;
        s.logit_softcap = 15.0f;
    }
    if (strcmp(arch, "qwen3moe") == 0) {
        s.qk_norm = true;
        s.n_expert = 5;
        s.n_expert_used = 2;
        s.n_ff_exp = (uint32_t)F / 2;
    }
    if (strcmp(arch, "gpt-oss") == 0) {
        /* window 3 on even layers, sinks, biases everywhere, YaRN (factor 4
         * over an original context of 8), 4 experts, 2 per token */
        s.tied = false;
        s.qkv_bias = true;
        s.out_bias = true;
        s.attn_sinks = true;
        s.n_swa = 3;
        s.rope_scale = 4.0f;
        s.yarn = true;
        s.n_ctx_orig = 8;
        s.n_expert = 4;
        s.n_expert_used = 2;
        s.n_ff_exp = (uint32_t)F / 2;
    }
    if (strcmp(arch, "phi3") == 0) {
        /* fused qkv and gate|up (the arch's own layout), rope on 3/4 of
         * each head, LongRoPE factors: the test's context (16) is longer
         * than the original 8, so the long ones, and a magnitude */
        s.n_rot = (uint32_t)((HD ? HD : E / H) * 3 / 4) & ~1u;
        s.rope_factors = true;
        s.n_ctx_orig = 8;
        s.rope_attn_factor = 1.19f;
    }
    return s;
}

/* The reference's description of the random model s, loaded as m. */
static ref_model ref_of(const fr_synth_spec *s, const fr_model *m)
{
    ref_model rr = {0}, *r = &rr;
    const char *arch = s->arch;
    int L = (int)s->n_layer, E = (int)s->n_embd, H = (int)s->n_head, KV = (int)s->n_head_kv;
    int HD = (int)s->head_dim, V = (int)s->n_vocab;
    fr_type wt = s->wtype;
    r->g = fr_model_gguf(m);
    r->arch = arch;
    r->E = E, r->L = L, r->F = (int)s->n_ff, r->H = H, r->KV = KV, r->HD = HD ? HD : E / H;
    r->V = V;
    r->NROT = s->n_rot ? (int)s->n_rot : r->HD;
    r->eps = 1e-5;
    r->base = s->rope_base;
    r->neox = strcmp(arch, "llama") != 0;
    r->n_ctx = 16;
    r->embd_scale = strcmp(arch, "gemma3") == 0 ? sqrt((double)E) : 1;
    r->q_scale = strcmp(arch, "gemma3") == 0 ? 1 / sqrt((double)r->HD) : 0;
    bool gptoss = strcmp(arch, "gpt-oss") == 0;
    r->n_swa = (int)s->n_swa;
    /* the pattern the file says, else the arch's (gemma3 5 of 6, gpt-oss
     * every other layer) */
    r->swa_pattern = s->swa_pattern ? (int)s->swa_pattern : gptoss ? 2 : 6;
    r->base_swa = s->rope_base_swa > 0 ? s->rope_base_swa : gptoss ? s->rope_base : 10000;
    r->swa_scaled = gptoss;
    r->rope_scale = s->rope_scale;
    r->yarn = s->yarn;
    r->n_ctx_orig = s->n_ctx_orig ? (int)s->n_ctx_orig : (int)s->n_ctx;
    r->attn_factor = s->rope_attn_factor > 0 ? s->rope_attn_factor : 1;
    r->softcap = s->logit_softcap;
    r->act = strcmp(arch, "gemma3") == 0 ? 1 : strcmp(arch, "gpt-oss") == 0 ? 2 : 0;
    r->n_exp = (int)s->n_expert, r->n_used = (int)s->n_expert_used, r->FX = (int)s->n_ff_exp;
    r->softmax_after_topk = strcmp(arch, "gpt-oss") == 0;
    r->pan_is_ffn_norm = strcmp(arch, "gpt-oss") == 0;
    if (fr_type_get(wt)->quantized)
        r->ACT = fr_type_get(wt)->block_size == 256 ? 256 : 32;
    return rr;
}

static void run_case(const fr_synth_spec *sp, double tol, int n_threads)
{
    const fr_synth_spec s = *sp;
    const char *arch = s.arch;
    int L = (int)s.n_layer, E = (int)s.n_embd, H = (int)s.n_head, KV = (int)s.n_head_kv;
    int HD = (int)s.head_dim, V = (int)s.n_vocab;
    fr_type wt = s.wtype;
    char path[320];
    snprintf(path, sizeof path, "%s/m.gguf", tmpdir);
    fr_err e;
    fr_status st = fr_synth_write(&s, path, NULL, NULL, &e);
    CHECK_MSG(st == FR_OK, "synth: %s", e.msg);
    if (st)
        return;
    fr_model *m;
    st = fr_model_load(path, &m, &e);
    CHECK_MSG(st == FR_OK, "load: %s", e.msg);
    if (st)
        return;
    const fr_hparams *hp = fr_model_hparams(m);
    ref_model r = ref_of(&s, m);
    CHECK_EQ_INT(hp->head_dim, r.HD);

    enum { N = 7 };
    int toks[N] = {1, 5, V - 1, 3, 3, 0, 17 % V};
    int32_t toks32[N];
    for (int i = 0; i < N; i++)
        toks32[i] = toks[i];
    double *ref = malloc(sizeof(double) * N * (size_t)V);
    ref_ties ties = {.flip = NAN};
    r.ties = &ties;
    ref_forward(&r, toks, N, ref);

    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_threads = (uint32_t)n_threads;
    cp.kv_type = FR_TYPE_F32; /* exact comparison: F16 keys and values would round */
    cp.n_batch = 4; /* forces the prompt through more than one chunk */
    fr_context *c;
    st = fr_context_create(m, &cp, &c, &e);
    CHECK_MSG(st == FR_OK, "context: %s", e.msg);
    bool all[N];
    for (int i = 0; i < N; i++)
        all[i] = true;
    fr_batch b = {N, toks32, NULL, all};
    st = fr_context_decode(c, &b, &e);
    CHECK_MSG(st == FR_OK, "decode: %s", e.msg);
    float *prefill = malloc(sizeof(float) * N * (size_t)V);
    for (int t = 0; t < N; t++)
        memcpy(prefill + (size_t)t * V, fr_context_logits(c, (uint32_t)t), sizeof(float) * (size_t)V);
    double err_p = max_rel_err(prefill, ref, (size_t)N * V);
    if (err_p >= tol)
        ref_retry_ties(&r, toks, N, prefill, ref, &err_p, tol);
    CHECK_MSG(err_p < tol, "%s L%d E%d H%d/%d hd%d %s: prefill rel err %.3g", arch, L, E, H, KV,
              HD, fr_type_name(wt), err_p);
    if (getenv("FR_TEST_VERBOSE"))
        fprintf(stderr, "%s L%d E%d %s: prefill rel err %.3g\n", arch, L, E, fr_type_name(wt), err_p);

    /* token by token in a second sequence-less context */
    fr_context_seq_truncate(c, 0, 0);
    CHECK_EQ_INT(fr_context_seq_len(c, 0), 0);
    double worst = 0;
    for (int t = 0; t < N; t++) {
        fr_batch one = {1, &toks32[t], NULL, NULL};
        st = fr_context_decode(c, &one, &e);
        CHECK(st == FR_OK);
        const float *lg = fr_context_logits(c, 0);
        double d = max_rel_err(lg, ref + (size_t)t * V, (size_t)V);
        if (d > worst)
            worst = d;
        for (int i = 0; i < V; i++) {
            double dd = fabs((double)lg[i] - prefill[(size_t)t * V + i]);
            if (dd > 1e-5 * (1 + fabs(prefill[(size_t)t * V + i]))) {
                CHECK_MSG(false, "decode vs prefill differ at t=%d i=%d: %g vs %g", t, i, lg[i],
                          prefill[(size_t)t * V + i]);
                break;
            }
        }
    }
    CHECK_MSG(worst < tol, "token-by-token rel err %.3g", worst);
    CHECK_EQ_INT(fr_context_seq_len(c, 0), N);

    /* context overflow is an error that changes nothing */
    int32_t many[16] = {0};
    fr_batch big = {16, many, NULL, NULL};
    CHECK(fr_context_decode(c, &big, &e) == FR_E_RANGE);
    CHECK(strstr(e.msg, "context") != NULL);
    CHECK_EQ_INT(fr_context_seq_len(c, 0), N);
    int32_t bad = V;
    fr_batch badb = {1, &bad, NULL, NULL};
    CHECK(fr_context_decode(c, &badb, &e) == FR_E_INVALID);

    free(prefill);
    free(ref);
    fr_context_free(c);
    fr_model_free(m);
    unlink(path);
}

/* A mixture of experts reads only the experts its router picks, and bench's
 * bytes per token count only those: every
 * expert no token of the prompt selects (by the reference's routing) is
 * overwritten with NaN in the file, weights and biases; prefill and
 * token-by-token decoding must still match the reference on the intact
 * file. An engine that touched an unselected expert (even times a zero
 * weight) would return NaN. */
static void test_moe_reads_selected(const char *arch)
{
    fr_synth_spec s = mk(arch, 2, 64, 4, 2, 16, 96, 40, FR_TYPE_F32);
    s.n_expert = 16; /* 2 per token: at most 6 of 16 used by 3 tokens */
    char path[320];
    snprintf(path, sizeof path, "%s/moe.gguf", tmpdir);
    fr_err e;
    fr_model *m;
    if (fr_synth_write(&s, path, NULL, NULL, &e) || fr_model_load(path, &m, &e)) {
        CHECK_MSG(false, "%s: %s", arch, e.msg);
        return;
    }
    enum { N = 3 };
    int toks[N] = {7, 2, 31};
    int32_t toks32[N] = {7, 2, 31};
    ref_model r = ref_of(&s, m);
    int L = r.L, V = r.V, X = r.n_exp, U = r.n_used;
    r.sel_log = malloc(sizeof(int) * (size_t)(L * N * U));
    double *ref = malloc(sizeof(double) * N * (size_t)V);
    ref_forward(&r, toks, N, ref);

    /* where each expert tensor's bytes are in the file */
    static const char *const exps[] = {"ffn_gate_exps.weight", "ffn_up_exps.weight",
                                       "ffn_down_exps.weight", "ffn_gate_exps.bias",
                                       "ffn_up_exps.bias",     "ffn_down_exps.bias"};
    enum { NT = sizeof exps / sizeof exps[0] };
    uint64_t off[2][NT] = {{0}}, per[2][NT] = {{0}};
    int poisoned = 0;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < NT; k++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blk.%d.%s", l, exps[k]);
            const fr_gguf_tensor *t = fr_gguf_find_tensor(r.g, nm);
            if (!t)
                continue;
            CHECK(t->type == FR_TYPE_F32 && t->nbytes % (uint64_t)X == 0);
            off[l][k] = fr_gguf_data_offset(r.g) + t->offset;
            per[l][k] = t->nbytes / (uint64_t)X;
        }
    fr_model_free(m);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        goto out;
    for (int l = 0; l < L; l++)
        for (int x = 0; x < X; x++) {
            bool used = false;
            for (int i = 0; i < N * U; i++)
                used |= r.sel_log[(size_t)l * N * U + i] == x;
            if (used)
                continue;
            poisoned++;
            for (int k = 0; k < NT; k++)
                for (uint64_t b = 0; b < per[l][k]; b += sizeof(float)) {
                    float nan = NAN;
                    CHECK(fseek(f, (long)(off[l][k] + (uint64_t)x * per[l][k] + b), SEEK_SET) == 0);
                    CHECK(fwrite(&nan, sizeof nan, 1, f) == 1);
                }
        }
    CHECK(fclose(f) == 0);
    CHECK_MSG(poisoned >= 2 * (X - N * U), "%s: %d experts poisoned", arch, poisoned);

    if (fr_model_load(path, &m, &e)) {
        CHECK_MSG(false, "%s: %s", arch, e.msg);
        goto out;
    }
    /* what `frugal bench` reports as bytes read per decoded token: all
     * but the experts, U of X experts, one row of token_embd when the
     * output head is its own tensor */
    const fr_gguf *g = fr_model_gguf(m);
    uint64_t want = 0;
    bool own_head = fr_gguf_find_tensor(g, "output.weight") != NULL;
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        if (strstr(t->name, "_exps."))
            want += t->nbytes / (uint64_t)X * (uint64_t)U;
        else if (own_head && strcmp(t->name, "token_embd.weight") == 0)
            want += t->nbytes / (uint64_t)V;
        else
            want += t->nbytes;
    }
    CHECK_MSG(fr_model_decode_bytes(m) == want, "%s: decode bytes %llu, want %llu", arch,
              (unsigned long long)fr_model_decode_bytes(m), (unsigned long long)want);
    CHECK(fr_model_decode_bytes(m) < fr_model_weight_bytes(m) / 2);
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 2;
    cp.kv_type = FR_TYPE_F32; /* exact comparison */
    fr_context *c;
    if (fr_context_create(m, &cp, &c, &e)) {
        CHECK_MSG(false, "%s", e.msg);
        fr_model_free(m);
        goto out;
    }
    bool all[N] = {true, true, true};
    fr_batch b = {N, toks32, NULL, all};
    CHECK(fr_context_decode(c, &b, &e) == FR_OK);
    for (int t = 0; t < N; t++) {
        double d = max_rel_err(fr_context_logits(c, (uint32_t)t), ref + (size_t)t * V, (size_t)V);
        CHECK_MSG(d < 1e-4, "%s prefill, poisoned unselected experts: t=%d rel err %.3g", arch, t,
                  d);
    }
    fr_context_seq_truncate(c, 0, 0);
    for (int t = 0; t < N; t++) {
        fr_batch one = {1, &toks32[t], NULL, NULL};
        CHECK(fr_context_decode(c, &one, &e) == FR_OK);
        double d = max_rel_err(fr_context_logits(c, 0), ref + (size_t)t * V, (size_t)V);
        CHECK_MSG(d < 1e-4, "%s decode, poisoned unselected experts: t=%d rel err %.3g", arch, t,
                  d);
    }
    fr_context_free(c);
    fr_model_free(m);
out:
    free(r.sel_log);
    free(ref);
    unlink(path);
}

/* Two sequences decoded in one batch give the same logits as each alone. */
static void test_multi_seq(void)
{
    fr_synth_spec s = {0};
    s.arch = "llama";
    s.n_vocab = 50;
    s.n_embd = 32;
    s.n_layer = 2;
    s.n_ff = 48;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.wtype = FR_TYPE_F32;
    s.embd_type = FR_TYPE_COUNT_;
    s.seed = 9;
    char path[320];
    snprintf(path, sizeof path, "%s/ms.gguf", tmpdir);
    fr_err e;
    CHECK(fr_synth_write(&s, path, NULL, NULL, &e) == FR_OK);
    fr_model *m;
    if (fr_model_load(path, &m, &e)) {
        CHECK_MSG(false, "%s", e.msg);
        return;
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_seq = 2;
    cp.kv_type = FR_TYPE_F32; /* exact comparison: F16 keys and values would round */
    cp.n_threads = 2;
    fr_context *c;
    CHECK(fr_context_create(m, &cp, &c, &e) == FR_OK);
    int32_t a[3] = {4, 8, 15}, bb[2] = {16, 23};
    /* alone */
    fr_batch ba = {3, a, NULL, NULL};
    CHECK(fr_context_decode(c, &ba, &e) == FR_OK);
    float la[50];
    memcpy(la, fr_context_logits(c, 0), sizeof la);
    int32_t s1[2] = {1, 1};
    fr_batch bs = {2, bb, s1, NULL};
    CHECK(fr_context_decode(c, &bs, &e) == FR_OK);
    float lb[50];
    memcpy(lb, fr_context_logits(c, 0), sizeof lb);
    /* both again, interleaved in one batch, logits for each last token */
    fr_context_seq_truncate(c, 0, 0);
    fr_context_seq_truncate(c, 1, 0);
    int32_t toks[5] = {4, 16, 8, 23, 15}, seqs[5] = {0, 1, 0, 1, 0};
    bool want[5] = {false, false, false, true, true};
    fr_batch bm = {5, toks, seqs, want};
    CHECK(fr_context_decode(c, &bm, &e) == FR_OK);
    const float *mb = fr_context_logits(c, 0), *ma = fr_context_logits(c, 1);
    for (int i = 0; i < 50; i++) {
        CHECK_NEAR(ma[i], la[i], 1e-5);
        CHECK_NEAR(mb[i], lb[i], 1e-5);
    }
    CHECK(fr_context_logits(c, 2) == NULL);
    fr_context_free(c);
    fr_model_free(m);
    unlink(path);
}

/* A synthetic model can carry a real tokenizer (the keys of a vocab-only
 * GGUF from ../shared/vocab, so llama.cpp loads the file): the model's
 * tokenizer then splits text exactly as llama.cpp's ids in that folder say,
 * and a vocabulary of another size is refused. Skipped without the data. */
#ifdef FR_CORE_ONLY
static void test_vocab_from(void)
{
    fprintf(stderr, "note: vocab_from not run (FRUGAL_CORE_ONLY build: no tokenizer)\n");
}
#else
static void test_vocab_from(void)
{
    const char *root = getenv("FR_SHARED") ? getenv("FR_SHARED") : "../shared";
    char vpath[512], opath[512], path[512];
    snprintf(vpath, sizeof vpath, "%s/vocab/ggml-vocab-qwen2.gguf", root);
    snprintf(opath, sizeof opath, "%s/vocab/ggml-vocab-qwen2.gguf.out", root);
    FILE *f = fopen(opath, "r");
    if (!f || access(vpath, R_OK) != 0) {
        fprintf(stderr, "SKIP vocab_from: %s missing\n", vpath);
        if (f)
            fclose(f);
        return;
    }
    int want[64], n_want = 0;
    char line[1024];
    /* line 1 of .out: the ids of the first test string "ied 4 ½ months" */
    if (fgets(line, sizeof line, f))
        for (char *p = line, *e; n_want < 64; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p)
                break;
            want[n_want++] = (int)v;
        }
    fclose(f);
    fr_synth_spec s = {0};
    s.arch = "qwen2";
    s.n_vocab = 151936;
    s.n_embd = 32;
    s.n_layer = 1;
    s.n_ff = 64;
    s.n_head = 2;
    s.n_head_kv = 1;
    s.wtype = FR_TYPE_F16;
    s.embd_type = FR_TYPE_COUNT_;
    s.tied = true;
    s.qkv_bias = true;
    s.seed = 3;
    s.vocab_from = vpath;
    snprintf(path, sizeof path, "%s/vocab.gguf", tmpdir);
    fr_err e;
    CHECK(fr_synth_write(&s, path, NULL, NULL, &e) == FR_OK);
    fr_model *m = NULL;
    fr_tokenizer *t = NULL;
    CHECK(fr_model_load(path, &m, &e) == FR_OK);
    if (m && fr_tokenizer_from_gguf(fr_model_gguf(m), &t, &e) == FR_OK) {
        CHECK_STR(fr_tokenizer_model(t), "gpt2");
        CHECK_STR(fr_tokenizer_pre(t), "qwen2");
        CHECK_EQ_INT(fr_tokenizer_n_tokens(t), 151936);
        int32_t *ids = NULL;
        size_t n = 0;
        const char *text = "ied 4 \xc2\xbd months";
        CHECK(fr_tokenize(t, text, strlen(text), NULL, &ids, &n, &e) == FR_OK);
        CHECK_EQ_INT(n, n_want);
        for (size_t i = 0; i < n && (int)i < n_want; i++)
            CHECK_EQ_INT(ids[i], want[i]);
        free(ids);
    } else {
        CHECK(!"tokenizer of the synthetic model");
    }
    fr_tokenizer_free(t);
    fr_model_free(m);
    unlink(path);
    s.n_vocab = 1000; /* not the vocabulary's size */
    CHECK(fr_synth_write(&s, path, NULL, NULL, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "151936 tokens, but the model has 1000") != NULL);
    CHECK(access(path, F_OK) != 0);
}
#endif

/* `test_model_forward --write-model ARCH PATH` only writes a small random
 * model of ARCH with a byte vocabulary (F32; n_embd 256 so every K type
 * fits), for the CLI test that loads frugal's files in llama.cpp. */
static int write_model(const char *arch, const char *path)
{
    fr_synth_spec s = {0};
    s.arch = arch;
    s.n_vocab = 384;
    s.n_embd = 256;
    s.n_layer = 2;
    s.n_ff = 512;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = strcmp(arch, "qwen3") == 0 ? 128 : 0;
    s.n_ctx = 512;
    s.wtype = FR_TYPE_F32;
    s.embd_type = FR_TYPE_COUNT_;
    s.tied = strcmp(arch, "llama") != 0;
    s.qkv_bias = strcmp(arch, "qwen2") == 0;
    s.qk_norm = strcmp(arch, "qwen3") == 0;
    s.rope_base = 10000.0f;
    s.seed = 7;
    s.byte_vocab = true;
    if (strcmp(arch, "gemma3") == 0) {
        /* a window of 16 with layers 0, 1 windowed and 2 global, each with its
         * own rope (global: base 1e6 scaled 1/8), logits softcapped */
        s.n_layer = 3;
        s.head_dim = 96;
        s.tied = false; /* tied, the scaled embedding makes every token predict itself */
        s.qk_norm = true;
        s.n_swa = 16;
        s.swa_pattern = 3;
        s.rope_base = 1e6f;
        s.rope_base_swa = 10000.0f;
        s.rope_scale = 8.0f;
        s.logit_softcap = 30.0f;
    }
    if (strcmp(arch, "qwen3moe") == 0) {
        /* 8 experts, 2 per token, each 256 wide (K types fit) */
        s.head_dim = 128;
        s.qk_norm = true;
        s.n_expert = 8;
        s.n_expert_used = 2;
        s.n_ff_exp = 256;
    }
    if (strcmp(arch, "gpt-oss") == 0) {
        /* gpt-oss-20b's layout at small size: window 16 on even layers,
         * sinks, biases, YaRN (factor 32 over 64), 8 experts, 2 per token */
        s.head_dim = 64;
        s.tied = false;
        s.qkv_bias = true;
        s.out_bias = true;
        s.attn_sinks = true;
        s.n_swa = 16;
        s.rope_base = 150000.0f;
        s.rope_scale = 32.0f;
        s.yarn = true;
        s.n_ctx_orig = 64;
        s.n_expert = 8;
        s.n_expert_used = 2;
        s.n_ff_exp = 256;
    }
    if (strcmp(arch, "phi3") == 0) {
        /* Phi-4-mini's layout: rope on 48 of 64 dims per head, LongRoPE
         * (a context of 512 exceeds the original 256: long factors; of 64,
         * short; 256 because llama.cpp compares its context rounded up to
         * a multiple of 256), a magnitude */
        s.n_rot = 48;
        s.rope_factors = true;
        s.n_ctx_orig = 256;
        s.rope_attn_factor = 1.19f;
        s.tied = true;
    }
    fr_err e;
    if (fr_synth_write(&s, path, NULL, NULL, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}

/* `test_model_forward --logits MODEL K ID...` prints, as one JSON array,
 * the logits (F32 KV cache, one thread, batches of 4) of the last K
 * positions of the token sequence ID..., for the CLI test that compares
 * them with llama.cpp's. */
static int print_logits(const char *path, int k, int n, char **ids)
{
    fr_err e;
    fr_model *m;
    if (fr_model_load(path, &m, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 512;
    cp.n_threads = 1;
    cp.kv_type = FR_TYPE_F32; /* as llama.cpp's side of the comparison */
    cp.n_batch = 4; /* the window layers' cache a ring of window + 3 positions */
    fr_context *c;
    int32_t *tok = calloc((size_t)n, sizeof *tok);
    bool *want = calloc((size_t)n, sizeof *want);
    int rc = 1;
    if (!tok || !want || k < 1 || k > n || fr_context_create(m, &cp, &c, &e) != FR_OK)
        goto out_model;
    for (int i = 0; i < n; i++) {
        tok[i] = (int32_t)strtol(ids[i], NULL, 10);
        want[i] = i >= n - k;
    }
    fr_batch b = {(uint32_t)n, tok, NULL, want};
    if (fr_context_decode(c, &b, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
    } else {
        uint32_t V = fr_model_hparams(m)->n_vocab;
        printf("[");
        for (int r = 0; r < k; r++) {
            const float *lg = fr_context_logits(c, (uint32_t)r);
            printf("%s[", r ? ",\n" : "");
            for (uint32_t i = 0; i < V; i++)
                printf("%s%.9g", i ? "," : "", (double)lg[i]);
            printf("]");
        }
        printf("]\n");
        rc = 0;
    }
    fr_context_free(c);
out_model:
    free(tok);
    free(want);
    fr_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write-model") == 0)
        return write_model(argv[2], argv[3]);
    if (argc >= 5 && strcmp(argv[1], "--logits") == 0)
        return print_logits(argv[2], (int)strtol(argv[3], NULL, 10), argc - 4, argv + 4);
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    /* arch, layers, n_embd, heads, kv heads, head_dim (0 = E/H), n_ff, vocab */
    fr_synth_spec c;
    c = mk("llama", 1, 32, 4, 4, 0, 48, 40, FR_TYPE_F32), run_case(&c, 1e-4, 1);
    c = mk("llama", 2, 48, 6, 2, 0, 64, 50, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("llama", 3, 36, 3, 1, 0, 40, 33, FR_TYPE_F32), run_case(&c, 1e-4, 3);
    c = mk("qwen2", 2, 40, 5, 5, 0, 56, 45, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("qwen2", 3, 64, 4, 2, 0, 96, 64, FR_TYPE_F32), run_case(&c, 1e-4, 1);
    c = mk("qwen3", 2, 32, 4, 2, 16, 48, 40, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("qwen3", 1, 48, 6, 3, 12, 40, 38, FR_TYPE_F32), run_case(&c, 1e-4, 3);
    c = mk("gemma3", 3, 64, 4, 2, 32, 96, 40, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("gemma3", 4, 48, 3, 1, 24, 40, 45, FR_TYPE_F32), run_case(&c, 1e-4, 3);
    c = mk("phi3", 2, 64, 4, 2, 0, 96, 40, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("phi3", 3, 48, 4, 4, 0, 40, 37, FR_TYPE_F32), run_case(&c, 1e-4, 1);
    c = mk("qwen3moe", 2, 64, 4, 2, 16, 96, 40, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("qwen3moe", 3, 32, 4, 1, 0, 64, 33, FR_TYPE_F32), run_case(&c, 1e-4, 3);
    c = mk("gpt-oss", 2, 64, 4, 2, 16, 96, 40, FR_TYPE_F32), run_case(&c, 1e-4, 2);
    c = mk("gpt-oss", 3, 48, 6, 3, 0, 64, 37, FR_TYPE_F32), run_case(&c, 1e-4, 1);
    /* quantized weights: same reference on the dequantized values */
    c = mk("llama", 2, 64, 4, 2, 0, 96, 40, FR_TYPE_Q8_0), run_case(&c, 1e-4, 2);
    c = mk("qwen2", 2, 64, 4, 2, 0, 96, 40, FR_TYPE_Q4_0), run_case(&c, 1e-4, 2);
    c = mk("llama", 2, 256, 4, 2, 0, 512, 40, FR_TYPE_Q4_K), run_case(&c, 1e-4, 2);
    c = mk("qwen3", 2, 256, 4, 1, 64, 256, 40, FR_TYPE_Q6_K), run_case(&c, 1e-4, 2);
    c = mk("llama", 1, 64, 2, 1, 0, 64, 40, FR_TYPE_F16), run_case(&c, 1e-4, 1);
    c = mk("gemma3", 3, 256, 4, 2, 64, 256, 40, FR_TYPE_Q4_K), run_case(&c, 1e-4, 2);
    c = mk("phi3", 2, 64, 4, 2, 0, 96, 40, FR_TYPE_Q8_0), run_case(&c, 1e-4, 2);
    /* fused qkv repacked in groups of 8 rows: Q's and K's views read the
     * packed copy, V's rows (from 96 + 12) start inside a group, so its
     * view reads the original */
    c = mk("phi3", 2, 64, 8, 1, 12, 96, 40, FR_TYPE_Q8_0), run_case(&c, 1e-4, 2);
    c = mk("qwen3moe", 2, 256, 4, 2, 64, 512, 40, FR_TYPE_Q4_K), run_case(&c, 1e-4, 2);
    c = mk("gpt-oss", 2, 64, 4, 2, 16, 128, 40, FR_TYPE_MXFP4), run_case(&c, 1e-4, 2);
    c = mk("gpt-oss", 2, 256, 4, 2, 64, 512, 40, FR_TYPE_Q4_K), run_case(&c, 1e-4, 2);
    c = mk("gpt-oss", 2, 256, 4, 2, 64, 512, 40, FR_TYPE_Q8_0), run_case(&c, 1e-4, 2);
    test_moe_reads_selected("qwen3moe");
    test_moe_reads_selected("gpt-oss");
    test_multi_seq();
    test_vocab_from();
    rmdir(tmpdir);
    TEST_END();
}
