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
 * compared against the reference run on their dequantized weights. Prefill
 * and token-by-token decoding must agree too.
 */
#include "test.h"

#include <frugal/gguf.h>
#include <frugal/model.h>
#include <frugal/synth.h>
#include <frugal/tensor.h>
#include <frugal/tokenizer.h>
#include <unistd.h>

/* ---- the naive reference ------------------------------------------------ */

typedef struct ref_model {
    const fr_gguf *g;
    const char *arch;
    int E, L, F, H, KV, HD, V, NROT;
    double eps, base;
    bool neox;
    int ACT; /* activation block of the weights' type (0: float activations) */
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

/* y[o] = sum_i W[o*n_in + i] x[i]. With blk > 0, x is first rounded to 8
 * bits per block of blk values (scale max|x|/127, nearest integer), as the
 * engine does for quantized weights (src/tensor/kernels/kernels.h: blocks
 * of 32 for Q4_0..Q8_0, 256 for the K types), so that quantized models are
 * compared with a tight tolerance instead of one wide enough to hide bugs. */
static void ref_mv(const double *W, const double *x, double *y, int n_in, int n_out, int blk)
{
    double *xq = malloc(sizeof(double) * (size_t)n_in);
    for (int i = 0; i < n_in; i++)
        xq[i] = x[i];
    for (int b0 = 0; blk && b0 < n_in; b0 += blk) {
        double amax = 0;
        for (int i = b0; i < b0 + blk; i++)
            amax = fabs(x[i]) > amax ? fabs(x[i]) : amax;
        double d = amax / 127;
        for (int i = b0; i < b0 + blk; i++)
            xq[i] = d > 0 ? nearbyint(x[i] / d) * d : 0;
    }
    for (int o = 0; o < n_out; o++) {
        double s = 0;
        for (int i = 0; i < n_in; i++)
            s += W[(size_t)o * n_in + i] * xq[i];
        y[o] = s;
    }
    free(xq);
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

static void ref_rope(double *v, int pos, const ref_model *m)
{
    for (int i = 0; i < m->NROT / 2; i++) {
        double theta = pos * pow(m->base, -2.0 * i / m->NROT);
        int a = m->neox ? i : 2 * i, b = m->neox ? i + m->NROT / 2 : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * cos(theta) - x1 * sin(theta);
        v[b] = x0 * sin(theta) + x1 * cos(theta);
    }
}

/* Logits for every position of tokens[0..n): out[n][V]. */
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
    double *g = malloc(sizeof(double) * (size_t)m->F);
    double *u = malloc(sizeof(double) * (size_t)m->F);
    double *sc = malloc(sizeof(double) * (size_t)n);
    double *emb = ref_tensor(m->g, "token_embd.weight", NULL);
    for (int t = 0; t < n; t++)
        memcpy(x + (size_t)t * E, emb + (size_t)tokens[t] * E, sizeof(double) * (size_t)E);
    for (int l = 0; l < m->L; l++) {
        double *an = ref_layer_tensor(m->g, l, "attn_norm.weight");
        double *wq = ref_layer_tensor(m->g, l, "attn_q.weight");
        double *wk = ref_layer_tensor(m->g, l, "attn_k.weight");
        double *wv = ref_layer_tensor(m->g, l, "attn_v.weight");
        double *wo = ref_layer_tensor(m->g, l, "attn_output.weight");
        double *bq = ref_layer_tensor(m->g, l, "attn_q.bias");
        double *bk = ref_layer_tensor(m->g, l, "attn_k.bias");
        double *bv = ref_layer_tensor(m->g, l, "attn_v.bias");
        double *qn = ref_layer_tensor(m->g, l, "attn_q_norm.weight");
        double *kn = ref_layer_tensor(m->g, l, "attn_k_norm.weight");
        double *fn = ref_layer_tensor(m->g, l, "ffn_norm.weight");
        double *wg = ref_layer_tensor(m->g, l, "ffn_gate.weight");
        double *wu = ref_layer_tensor(m->g, l, "ffn_up.weight");
        double *wd = ref_layer_tensor(m->g, l, "ffn_down.weight");
        double *xn = malloc(sizeof(double) * (size_t)n * E);
        /* all keys/values of this layer first (causality comes from the
         * attention loop bounds below) */
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(h, x + (size_t)t * E, an, E, m->eps);
            memcpy(xn + (size_t)t * E, h, sizeof(double) * (size_t)E);
            double *kt = K + (size_t)t * KD, *vt = Vc + (size_t)t * KD;
            ref_mv(wk, h, kt, E, KD, m->ACT);
            ref_mv(wv, h, vt, E, KD, m->ACT);
            for (int i = 0; i < KD; i++) {
                if (bk)
                    kt[i] += bk[i];
                if (bv)
                    vt[i] += bv[i];
            }
            for (int hh = 0; hh < m->KV; hh++) {
                if (kn)
                    ref_rmsnorm(kt + hh * m->HD, kt + hh * m->HD, kn, m->HD, m->eps);
                ref_rope(kt + hh * m->HD, t, m);
            }
        }
        for (int t = 0; t < n; t++) {
            ref_mv(wq, xn + (size_t)t * E, q, E, QD, m->ACT);
            for (int hh = 0; hh < m->H; hh++) {
                double *qh = q + hh * m->HD;
                if (bq)
                    for (int i = 0; i < m->HD; i++)
                        qh[i] += bq[hh * m->HD + i];
                if (qn)
                    ref_rmsnorm(qh, qh, qn, m->HD, m->eps);
                ref_rope(qh, t, m);
                int kvh = hh / (m->H / m->KV);
                double mx = -1e300;
                for (int p = 0; p <= t; p++) {
                    double s = 0;
                    for (int i = 0; i < m->HD; i++)
                        s += qh[i] * K[(size_t)p * KD + kvh * m->HD + i];
                    sc[p] = s / sqrt((double)m->HD);
                    if (sc[p] > mx)
                        mx = sc[p];
                }
                double z = 0;
                for (int p = 0; p <= t; p++)
                    z += (sc[p] = exp(sc[p] - mx));
                for (int i = 0; i < m->HD; i++) {
                    double a = 0;
                    for (int p = 0; p <= t; p++)
                        a += sc[p] / z * Vc[(size_t)p * KD + kvh * m->HD + i];
                    att[hh * m->HD + i] = a;
                }
            }
            ref_mv(wo, att, o, QD, E, m->ACT);
            double *xt = x + (size_t)t * E;
            for (int i = 0; i < E; i++)
                xt[i] += o[i];
            ref_rmsnorm(h, xt, fn, E, m->eps);
            ref_mv(wg, h, g, E, m->F, m->ACT);
            ref_mv(wu, h, u, E, m->F, m->ACT);
            for (int i = 0; i < m->F; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_mv(wd, g, o, m->F, E, m->ACT);
            for (int i = 0; i < E; i++)
                xt[i] += o[i];
        }
        free(xn);
        free(an), free(wq), free(wk), free(wv), free(wo), free(bq), free(bk), free(bv);
        free(qn), free(kn), free(fn), free(wg), free(wu), free(wd);
    }
    double *on = ref_tensor(m->g, "output_norm.weight", NULL);
    double *wout = ref_tensor(m->g, "output.weight", NULL);
    if (!wout)
        wout = ref_tensor(m->g, "token_embd.weight", NULL);
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(h, x + (size_t)t * E, on, E, m->eps);
        ref_mv(wout, h, out + (size_t)t * m->V, E, m->V, m->ACT);
    }
    free(on), free(wout), free(emb);
    free(x), free(K), free(Vc), free(h), free(q), free(att), free(o), free(g), free(u), free(sc);
}

/* ---- the cases ---------------------------------------------------------- */

static char tmpdir[256];

static double max_rel_err(const float *a, const double *b, size_t n)
{
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md)
            md = d;
        if (fabs(b[i]) > mx)
            mx = fabs(b[i]);
    }
    return md / (mx > 0 ? mx : 1);
}

static void run_case(const char *arch, int L, int E, int H, int KV, int HD, int F, int V,
                     fr_type wt, double tol, int n_threads)
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
    s.qk_norm = strcmp(arch, "qwen3") == 0;
    s.rope_base = 10000.0f;
    s.seed = (uint64_t)(L * 131 + E * 7 + H);
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
    ref_model r = {fr_model_gguf(m), arch, E, L, F, H, KV, HD ? HD : E / H, V, 0, 1e-5, 10000.0,
                   strcmp(arch, "llama") != 0, 0};
    r.NROT = r.HD;
    if (fr_type_get(wt)->quantized)
        r.ACT = fr_type_get(wt)->block_size == 256 ? 256 : 32;
    CHECK_EQ_INT(hp->head_dim, r.HD);

    enum { N = 7 };
    int toks[N] = {1, 5, V - 1, 3, 3, 0, 17 % V};
    int32_t toks32[N];
    for (int i = 0; i < N; i++)
        toks32[i] = toks[i];
    double *ref = malloc(sizeof(double) * N * (size_t)V);
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
    CHECK_MSG(err_p < tol, "%s L%d E%d H%d/%d hd%d %s: prefill rel err %.3g", arch, L, E, H, KV,
              HD, fr_type_name(wt), err_p);

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
    fr_err e;
    if (fr_synth_write(&s, path, NULL, NULL, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--write-model") == 0)
        return write_model(argv[2], argv[3]);
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    /* arch, layers, n_embd, heads, kv heads, head_dim (0 = E/H), n_ff, vocab */
    run_case("llama", 1, 32, 4, 4, 0, 48, 40, FR_TYPE_F32, 1e-4, 1);
    run_case("llama", 2, 48, 6, 2, 0, 64, 50, FR_TYPE_F32, 1e-4, 2);
    run_case("llama", 3, 36, 3, 1, 0, 40, 33, FR_TYPE_F32, 1e-4, 3);
    run_case("qwen2", 2, 40, 5, 5, 0, 56, 45, FR_TYPE_F32, 1e-4, 2);
    run_case("qwen2", 3, 64, 4, 2, 0, 96, 64, FR_TYPE_F32, 1e-4, 1);
    run_case("qwen3", 2, 32, 4, 2, 16, 48, 40, FR_TYPE_F32, 1e-4, 2);
    run_case("qwen3", 1, 48, 6, 3, 12, 40, 38, FR_TYPE_F32, 1e-4, 3);
    /* quantized weights: same reference on the dequantized values */
    run_case("llama", 2, 64, 4, 2, 0, 96, 40, FR_TYPE_Q8_0, 1e-4, 2);
    run_case("qwen2", 2, 64, 4, 2, 0, 96, 40, FR_TYPE_Q4_0, 1e-4, 2);
    run_case("llama", 2, 256, 4, 2, 0, 512, 40, FR_TYPE_Q4_K, 1e-4, 2);
    run_case("qwen3", 2, 256, 4, 1, 64, 256, 40, FR_TYPE_Q6_K, 1e-4, 2);
    run_case("llama", 1, 64, 2, 1, 0, 64, 40, FR_TYPE_F16, 1e-4, 1);
    test_multi_seq();
    test_vocab_from();
    rmdir(tmpdir);
    TEST_END();
}
