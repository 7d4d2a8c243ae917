/*
 * The training forward/backward of the whole decoder (src/tune/tmodel.c):
 *
 *  - step 0 (B = 0): the training forward's logits agree with the inference
 *    engine's (fr_context_decode) for every position, to float rounding;
 *  - gradients of the summed cross-entropy with respect to every LoRA
 *    target's A and B agree with double-precision central differences of
 *    an independent naive reference (LoRA included) written here, for a
 *    llama model with F32 weights, a qwen2 model (biases, neox rope) with
 *    Q8_0 weights and a qwen3 model (q/k norms, head_dim != n_embd/n_head)
 *    with Q4_K weights; the batch stacks two sequences of different
 *    lengths and masks some targets;
 *  - gradients are bit-identical for 1 and 3 threads;
 *  - the loss returned equals the reference loss.
 */
#include "test.h"

#include <frugal/gguf.h>
#include <frugal/model.h>
#include <frugal/synth.h>
#include <frugal/tensor.h>
#include <unistd.h>

#include "model/model_impl.h"
#include "tune/tlora.h"
#include "tune/tmodel.h"

static char tmpdir[256];

/* ---- the naive reference (double) ----------------------------------------- */

typedef struct ref {
    int E, L, F, H, KV, HD, V, QD, KD;
    double eps, base;
    bool neox;
    double *emb, *out, *onorm;
    double **an, **fn, **qn, **kn, **bq, **bk, **bv;
    double **W; /* [L * 7] dequantized targets */
    const fr_tlora *set;
    double *lora; /* copy of set->param, perturbed by the check */
    double scale;
} ref;

static double *deq(const fr_gguf *g, const char *name)
{
    const fr_gguf_tensor *t = fr_gguf_find_tensor(g, name);
    if (!t)
        return NULL;
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= t->ne[d];
    float *f = malloc(sizeof(float) * (size_t)n);
    double *o = malloc(sizeof(double) * (size_t)n);
    if (fr_dequantize(t->type, t->data, f, n, NULL) != FR_OK)
        abort();
    for (int64_t i = 0; i < n; i++)
        o[i] = f[i];
    free(f);
    return o;
}

static double *deq_l(const fr_gguf *g, int l, const char *s)
{
    char n[96];
    snprintf(n, sizeof n, "blk.%d.%s", l, s);
    return deq(g, n);
}

static const char *stems[7] = {"attn_q.weight", "attn_k.weight", "attn_v.weight",
                               "attn_output.weight", "ffn_gate.weight", "ffn_up.weight",
                               "ffn_down.weight"};

static void ref_load(ref *r, const fr_model *m, const fr_tlora *set)
{
    const fr_hparams *hp = fr_model_hparams(m);
    const fr_gguf *g = fr_model_gguf(m);
    r->E = (int)hp->n_embd, r->L = (int)hp->n_layer, r->F = (int)hp->n_ff;
    r->H = (int)hp->n_head, r->KV = (int)hp->n_head_kv, r->HD = (int)hp->head_dim;
    r->V = (int)hp->n_vocab, r->QD = r->H * r->HD, r->KD = r->KV * r->HD;
    r->eps = hp->norm_eps;
    r->base = hp->rope_base;
    r->neox = hp->rope_style == FR_ROPE_NEOX;
    r->emb = deq(g, "token_embd.weight");
    r->out = deq(g, "output.weight");
    if (!r->out)
        r->out = deq(g, "token_embd.weight");
    r->onorm = deq(g, "output_norm.weight");
    int L = r->L;
    r->an = calloc((size_t)L, sizeof(double *)), r->fn = calloc((size_t)L, sizeof(double *));
    r->qn = calloc((size_t)L, sizeof(double *)), r->kn = calloc((size_t)L, sizeof(double *));
    r->bq = calloc((size_t)L, sizeof(double *)), r->bk = calloc((size_t)L, sizeof(double *));
    r->bv = calloc((size_t)L, sizeof(double *));
    r->W = calloc((size_t)L * 7, sizeof(double *));
    for (int l = 0; l < L; l++) {
        r->an[l] = deq_l(g, l, "attn_norm.weight");
        r->fn[l] = deq_l(g, l, "ffn_norm.weight");
        r->qn[l] = deq_l(g, l, "attn_q_norm.weight");
        r->kn[l] = deq_l(g, l, "attn_k_norm.weight");
        r->bq[l] = deq_l(g, l, "attn_q.bias");
        r->bk[l] = deq_l(g, l, "attn_k.bias");
        r->bv[l] = deq_l(g, l, "attn_v.bias");
        for (int t = 0; t < 7; t++)
            r->W[l * 7 + t] = deq_l(g, l, stems[t]);
    }
    r->set = set;
    r->lora = malloc(sizeof(double) * (size_t)set->n_params);
    for (int64_t i = 0; i < set->n_params; i++)
        r->lora[i] = set->param[i];
    r->scale = (double)set->alpha / set->rank;
}

static void ref_free(ref *r)
{
    free(r->emb), free(r->out), free(r->onorm);
    for (int l = 0; l < r->L; l++) {
        free(r->an[l]), free(r->fn[l]), free(r->qn[l]), free(r->kn[l]);
        free(r->bq[l]), free(r->bk[l]), free(r->bv[l]);
        for (int t = 0; t < 7; t++)
            free(r->W[l * 7 + t]);
    }
    free(r->an), free(r->fn), free(r->qn), free(r->kn), free(r->bq), free(r->bk), free(r->bv);
    free(r->W), free(r->lora);
}

/* y = W x (+ bias) + scale * B (A x) for target t of layer l. */
static void ref_lin(const ref *r, int l, int t, const double *bias, const double *x, double *y)
{
    const double *W = r->W[l * 7 + t];
    const fr_tlora_slot *sl = fr_tlora_slot_at(r->set, (uint32_t)l, t);
    int n_in = t == 3 ? r->QD : t == 6 ? r->F : r->E;
    int n_out = t == 0 ? r->QD : (t == 1 || t == 2) ? r->KD : (t == 4 || t == 5) ? r->F : r->E;
    for (int o = 0; o < n_out; o++) {
        double s = 0;
        for (int i = 0; i < n_in; i++)
            s += W[(size_t)o * n_in + i] * x[i];
        y[o] = s + (bias ? bias[o] : 0);
    }
    if (!sl->on)
        return;
    int R = (int)r->set->rank;
    const double *A = r->lora + sl->a_off, *B = r->lora + sl->b_off;
    double u[64];
    for (int k = 0; k < R; k++) {
        u[k] = 0;
        for (int i = 0; i < n_in; i++)
            u[k] += A[(size_t)k * n_in + i] * x[i];
    }
    for (int o = 0; o < n_out; o++)
        for (int k = 0; k < R; k++)
            y[o] += r->scale * B[(size_t)o * R + k] * u[k];
}

static void ref_norm(double *o, const double *x, const double *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double rs = 1 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        o[i] = x[i] * rs * w[i];
}

static void ref_rope(double *v, int pos, const ref *r)
{
    for (int i = 0; i < r->HD / 2; i++) {
        double th = pos * pow(r->base, -2.0 * i / r->HD);
        int a = r->neox ? i : 2 * i, b = r->neox ? i + r->HD / 2 : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * cos(th) - x1 * sin(th);
        v[b] = x0 * sin(th) + x1 * cos(th);
    }
}

/* Sum of cross-entropy over the targets of one sequence. */
static double ref_seq_loss(const ref *r, const int32_t *tok, const int32_t *tgt, int n)
{
    int E = r->E, QD = r->QD, KD = r->KD, F = r->F, HD = r->HD;
    double *x = calloc((size_t)n * E, sizeof(double)), *h = malloc(sizeof(double) * (size_t)n * E);
    double *q = malloc(sizeof(double) * (size_t)n * QD), *k = malloc(sizeof(double) * (size_t)n * KD);
    double *v = malloc(sizeof(double) * (size_t)n * KD), *att = malloc(sizeof(double) * (size_t)n * QD);
    double *tmp = malloc(sizeof(double) * (size_t)(F > QD ? (F > E ? F : E) : (QD > E ? QD : E)));
    double *g = malloc(sizeof(double) * (size_t)F), *u = malloc(sizeof(double) * (size_t)F);
    double *sc = malloc(sizeof(double) * (size_t)n), *lg = malloc(sizeof(double) * (size_t)r->V);
    for (int t = 0; t < n; t++)
        memcpy(x + (size_t)t * E, r->emb + (size_t)tok[t] * E, sizeof(double) * (size_t)E);
    for (int l = 0; l < r->L; l++) {
        for (int t = 0; t < n; t++) {
            ref_norm(h + (size_t)t * E, x + (size_t)t * E, r->an[l], E, r->eps);
            ref_lin(r, l, 0, r->bq[l], h + (size_t)t * E, q + (size_t)t * QD);
            ref_lin(r, l, 1, r->bk[l], h + (size_t)t * E, k + (size_t)t * KD);
            ref_lin(r, l, 2, r->bv[l], h + (size_t)t * E, v + (size_t)t * KD);
            for (int hh = 0; hh < r->H; hh++) {
                double *qh = q + (size_t)t * QD + hh * HD;
                if (r->qn[l])
                    ref_norm(qh, qh, r->qn[l], HD, r->eps);
                ref_rope(qh, t, r);
            }
            for (int hh = 0; hh < r->KV; hh++) {
                double *kh = k + (size_t)t * KD + hh * HD;
                if (r->kn[l])
                    ref_norm(kh, kh, r->kn[l], HD, r->eps);
                ref_rope(kh, t, r);
            }
        }
        for (int t = 0; t < n; t++)
            for (int hh = 0; hh < r->H; hh++) {
                int kvh = hh / (r->H / r->KV);
                const double *qh = q + (size_t)t * QD + hh * HD;
                double mx = -1e300, z = 0;
                for (int p = 0; p <= t; p++) {
                    double s = 0;
                    for (int i = 0; i < HD; i++)
                        s += qh[i] * k[(size_t)p * KD + kvh * HD + i];
                    sc[p] = s / sqrt((double)HD);
                    if (sc[p] > mx)
                        mx = sc[p];
                }
                for (int p = 0; p <= t; p++)
                    z += (sc[p] = exp(sc[p] - mx));
                for (int i = 0; i < HD; i++) {
                    double a = 0;
                    for (int p = 0; p <= t; p++)
                        a += sc[p] / z * v[(size_t)p * KD + kvh * HD + i];
                    att[(size_t)t * QD + hh * HD + i] = a;
                }
            }
        for (int t = 0; t < n; t++) {
            double *xt = x + (size_t)t * E;
            ref_lin(r, l, 3, NULL, att + (size_t)t * QD, tmp);
            for (int i = 0; i < E; i++)
                xt[i] += tmp[i];
            ref_norm(h, xt, r->fn[l], E, r->eps);
            ref_lin(r, l, 4, NULL, h, g);
            ref_lin(r, l, 5, NULL, h, u);
            for (int i = 0; i < F; i++)
                g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_lin(r, l, 6, NULL, g, tmp);
            for (int i = 0; i < E; i++)
                xt[i] += tmp[i];
        }
    }
    double loss = 0;
    for (int t = 0; t < n; t++) {
        if (tgt[t] < 0)
            continue;
        ref_norm(h, x + (size_t)t * E, r->onorm, E, r->eps);
        double mx = -1e300, z = 0;
        for (int o = 0; o < r->V; o++) {
            double s = 0;
            for (int i = 0; i < E; i++)
                s += r->out[(size_t)o * E + i] * h[i];
            lg[o] = s;
            if (s > mx)
                mx = s;
        }
        for (int o = 0; o < r->V; o++)
            z += exp(lg[o] - mx);
        loss += log(z) + mx - lg[tgt[t]];
    }
    free(x), free(h), free(q), free(k), free(v), free(att), free(tmp), free(g), free(u), free(sc);
    free(lg);
    return loss;
}

static double ref_batch_loss(const ref *r, const fr_tbatch *b)
{
    double l = 0;
    for (uint32_t s = 0; s < b->n_seq; s++) {
        int64_t o = b->seq_off[s];
        l += ref_seq_loss(r, b->tok + o, b->tgt + o, (int)(b->seq_off[s + 1] - o));
    }
    return l;
}

/* ---- cases ----------------------------------------------------------------- */

static fr_model *make_model(const char *arch, int L, int E, int H, int KV, int HD, int F, int V,
                            fr_type wt, bool tied, const char *file)
{
    fr_synth_spec s = {0};
    s.arch = arch;
    s.n_vocab = (uint32_t)V, s.n_embd = (uint32_t)E, s.n_layer = (uint32_t)L;
    s.n_ff = (uint32_t)F, s.n_head = (uint32_t)H, s.n_head_kv = (uint32_t)KV;
    s.head_dim = (uint32_t)HD;
    s.n_ctx = 64;
    s.wtype = wt;
    s.embd_type = FR_TYPE_COUNT_;
    s.tied = tied;
    s.qkv_bias = strcmp(arch, "qwen2") == 0;
    s.qk_norm = strcmp(arch, "qwen3") == 0;
    s.rope_base = 10000.0f;
    s.seed = (uint64_t)(L * 131 + E * 7 + H);
    char path[320];
    snprintf(path, sizeof path, "%s/%s", tmpdir, file);
    fr_err e;
    fr_model *m = NULL;
    if (fr_synth_write(&s, path, NULL, NULL, &e) != FR_OK || fr_model_load(path, &m, &e) != FR_OK) {
        fprintf(stderr, "model %s: %s\n", file, e.msg);
        exit(1);
    }
    return m;
}

static void run_case(const char *arch, int L, int E, int H, int KV, int HD, int F, int V,
                     fr_type wt, bool tied)
{
    fr_err e;
    char file[64];
    snprintf(file, sizeof file, "%s_%s.gguf", arch, fr_type_name(wt));
    fr_model *m = make_model(arch, L, E, H, KV, HD, F, V, wt, tied, file);
    const fr_hparams *hp = fr_model_hparams(m);
    const char *tn = fr_type_name(wt);

    fr_tlora *set;
    CHECK(fr_tlora_create(m, 3, 6.0f, FR_TARGETS_ALL, &set, &e) == FR_OK);
    uint64_t rng = 7;
    fr_tlora_init(set, &rng);
    fr_tune_exec ex3, ex1;
    int64_t max_in = hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd;
    if ((int64_t)hp->n_head * hp->head_dim > max_in)
        max_in = (int64_t)hp->n_head * hp->head_dim;
    fr_tune_exec exf;
    CHECK(fr_tune_exec_init(&exf, 2, max_in, 16, &e) == FR_OK);
    CHECK(fr_tune_exec_init(&ex3, 3, max_in, 16, &e) == FR_OK);
    CHECK(fr_tune_exec_init(&ex1, 1, max_in, 16, &e) == FR_OK);
    /* gradients are checked with float products (no activation quantization) */
    ex3.exact = ex1.exact = true;
    fr_tmodel *tm3, *tm1, *tmf;
    CHECK(fr_tmodel_create(m, set, &exf, 16, 9, 0, &tmf, &e) == FR_OK);
    /* logit_rows 2 forces the head through several chunks */
    CHECK(fr_tmodel_create(m, set, &ex3, 16, 9, 2, &tm3, &e) == FR_OK);
    CHECK(fr_tmodel_create(m, set, &ex1, 16, 9, 0, &tm1, &e) == FR_OK);

    /* --- step 0: the training forward equals inference --- */
    enum { N1 = 9 };
    int32_t tok[N1] = {1, 5, (int32_t)V - 1, 3, 3, 0, 17 % V, 2, 9};
    int32_t pos[N1];
    for (int i = 0; i < N1; i++)
        pos[i] = i;
    int32_t none[N1];
    for (int i = 0; i < N1; i++)
        none[i] = -1;
    int64_t off1[2] = {0, N1};
    fr_tbatch b1 = {N1, 1, tok, none, pos, off1};
    float *lg = malloc(sizeof(float) * N1 * (size_t)V);
    fr_tmodel_logits(tmf, &b1, lg);
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 2;
    cp.kv_type = FR_TYPE_F32; /* exact comparison: F16 keys and values would round */
    fr_context *c;
    CHECK(fr_context_create(m, &cp, &c, &e) == FR_OK);
    bool all[N1];
    for (int i = 0; i < N1; i++)
        all[i] = true;
    fr_batch fb = {N1, tok, NULL, all};
    CHECK(fr_context_decode(c, &fb, &e) == FR_OK);
    /* Same formulas and products; attention is blocked in training, so the
     * agreement is to float rounding. (The adapter file itself gives the base
     * logits exactly through the runtime: test_tune_train.) */
    double md = 0, mx = 0;
    for (int t = 0; t < N1; t++) {
        const float *want = fr_context_logits(c, (uint32_t)t);
        for (int i = 0; i < V; i++) {
            md = fmax(md, fabs((double)lg[(size_t)t * V + i] - want[i]));
            mx = fmax(mx, fabs((double)want[i]));
        }
    }
    CHECK_MSG(md <= 2e-6 * mx, "%s %s: B = 0 training forward vs inference: max diff %g (max %g)",
              arch, tn, md, mx);
    fr_context_free(c);
    free(lg);

    /* --- gradients: random B so that A gets gradients too --- */
    for (uint32_t l = 0; l < set->n_layer; l++)
        for (int t = 0; t < FR_TARGET_COUNT; t++) {
            const fr_tlora_slot *sl = fr_tlora_slot_at(set, l, t);
            for (int64_t i = 0; i < sl->n_out * (int64_t)set->rank; i++)
                set->param[sl->b_off + i] = (float)((double)((i * 7919 + l * 31 + (uint64_t)t * 17) % 1000) / 1000.0 - 0.5) * 0.4f;
        }
    /* two sequences (5 and 4 rows), some targets masked */
    enum { N = 9 };
    int32_t bt[N] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
    int32_t tg[N] = {1, -1, 1, 5, 9, -1, 6, 5, 3};
    int32_t bp[N] = {0, 1, 2, 3, 4, 0, 1, 2, 3};
    for (int i = 0; i < N; i++) {
        bt[i] %= V;
        if (tg[i] >= 0)
            tg[i] = (tg[i] * 13 + 1) % V;
    }
    int64_t off[3] = {0, 5, N};
    fr_tbatch b = {N, 2, bt, tg, bp, off};

    double loss3 = 0, loss1 = 0;
    int64_t nl3 = 0, nl1 = 0;
    memset(set->grad, 0, sizeof(float) * (size_t)set->n_params);
    CHECK(fr_tmodel_run(tm3, &b, true, 1.0f, &loss3, &nl3, NULL, NULL, &e) == FR_OK);
    float *g3 = malloc(sizeof(float) * (size_t)set->n_params);
    memcpy(g3, set->grad, sizeof(float) * (size_t)set->n_params);
    memset(set->grad, 0, sizeof(float) * (size_t)set->n_params);
    CHECK(fr_tmodel_run(tm1, &b, true, 1.0f, &loss1, &nl1, NULL, NULL, &e) == FR_OK);
    CHECK_MSG(memcmp(g3, set->grad, sizeof(float) * (size_t)set->n_params) == 0,
              "%s %s: gradients differ between 3 threads and 1", arch, tn);
    CHECK(loss1 == loss3);
    CHECK_EQ_INT(nl3, 7);

    ref r;
    ref_load(&r, m, set);
    double lref = ref_batch_loss(&r, &b);
    CHECK_MSG(fabs(lref - loss3) < 1e-4 * (1 + fabs(lref)), "%s %s: loss %.8g, reference %.8g",
              arch, tn, loss3, lref);

    int bad = 0, checked = 0;
    double worst = 0;
    for (uint32_t l = 0; l < set->n_layer; l++)
        for (int t = 0; t < FR_TARGET_COUNT; t++) {
            const fr_tlora_slot *sl = fr_tlora_slot_at(set, l, t);
            int64_t na = (int64_t)set->rank * sl->n_in, nb = sl->n_out * (int64_t)set->rank;
            int64_t idx[6] = {sl->a_off, sl->a_off + na / 2 + 1, sl->a_off + na - 1,
                              sl->b_off, sl->b_off + nb / 2 + 1, sl->b_off + nb - 1};
            for (int j = 0; j < 6; j++) {
                int64_t i = idx[j];
                double keep = r.lora[i], h = 1e-4;
                r.lora[i] = keep + h;
                double lp = ref_batch_loss(&r, &b);
                r.lora[i] = keep - h;
                double lm = ref_batch_loss(&r, &b);
                r.lora[i] = keep;
                double num = (lp - lm) / (2 * h), an = g3[i];
                double err = fabs(num - an), tol = 5e-4 + 5e-3 * fabs(num);
                checked++;
                if (err / tol > worst)
                    worst = err / tol;
                if (err > tol && bad++ < 6)
                    fprintf(stderr, "%s %s layer %u %s %s[%lld]: analytic %.7g numeric %.7g\n",
                            arch, tn, l, fr_tune_target_name(t), j < 3 ? "A" : "B",
                            (long long)(i - (j < 3 ? sl->a_off : sl->b_off)), an, num);
            }
        }
    CHECK_MSG(bad == 0, "%s %s: %d of %d LoRA gradients off (worst %.2f x tolerance)", arch, tn,
              bad, checked, worst);
    fprintf(stderr, "%s %s: %d gradients checked, worst %.3f x tolerance\n", arch, tn, checked,
            worst);

    ref_free(&r);
    free(g3);
    fr_tmodel_free(tm3);
    fr_tmodel_free(tm1);
    fr_tmodel_free(tmf);
    fr_tune_exec_free(&exf);
    fr_tune_exec_free(&ex3);
    fr_tune_exec_free(&ex1);
    fr_tlora_free(set);
    fr_model_free(m);
    char path[320];
    snprintf(path, sizeof path, "%s/%s", tmpdir, file);
    unlink(path);
}

int main(void)
{
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    run_case("llama", 2, 32, 4, 2, 0, 40, 67, FR_TYPE_F32, false);
    run_case("qwen2", 2, 64, 4, 1, 0, 96, 51, FR_TYPE_Q8_0, true);
    run_case("qwen3", 1, 256, 4, 2, 64, 256, 40, FR_TYPE_Q4_K, true);
    rmdir(tmpdir);
    TEST_END();
}
