/*
 * fr_lora_merge: the merged file against run-time application (F32 output:
 * logits within 1e-5 relative), against values computed here in double
 * (F16 output: each merged value is the F16 rounding of W + s*B*A), the
 * byte-for-byte copy of untouched tensors and metadata, general.file_type,
 * the type fallback, thread-count independence and the refusals.
 */
#include "test.h"

#include <frugal/gguf.h>
#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/quant.h>
#include <frugal/synth.h>
#include <frugal/tensor.h>
#include <unistd.h>

static char tmp[256];

static const char *tpath(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", tmp, name);
    return buf;
}

static uint64_t rs = 0x1234567887654321ull;
static float urand(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((double)(rs >> 11) / 9007199254740992.0 - 0.5);
}

static fr_model *make_model(const char *name, fr_type wt, uint32_t n_ff, uint64_t seed)
{
    fr_synth_spec s = {0};
    s.arch = "llama";
    s.n_vocab = 40;
    s.n_embd = 32;
    s.n_layer = 2;
    s.n_ff = n_ff;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ctx = 32;
    s.wtype = wt;
    s.embd_type = FR_TYPE_COUNT_;
    s.seed = seed;
    char p[320];
    fr_err e;
    CHECK(fr_synth_write(&s, tpath(name, p, sizeof p), NULL, NULL, &e) == FR_OK);
    fr_model *m = NULL;
    fr_status st = fr_model_load(p, &m, &e);
    CHECK_MSG(st == FR_OK, "load %s: %s", name, e.msg);
    return m;
}

/* Adapter on q, v, ffn_down of both layers and the output head. */
static fr_lora *make_adapter(const fr_model *m, const char *name, uint32_t rank, float alpha,
                             bool b_zero)
{
    const char *targets[5] = {"blk.0.attn_q.weight", "blk.1.attn_v.weight",
                              "blk.0.ffn_down.weight", "blk.1.ffn_down.weight", "output.weight"};
    fr_lora_tensor t[5];
    for (int i = 0; i < 5; i++) {
        const fr_gguf_tensor *w = fr_gguf_find_tensor(fr_model_gguf(m), targets[i]);
        float *a = malloc(sizeof(float) * rank * (size_t)w->ne[0]);
        float *b = malloc(sizeof(float) * rank * (size_t)w->ne[1]);
        for (int64_t k = 0; k < (int64_t)rank * w->ne[0]; k++)
            a[k] = urand() * 2.0f / sqrtf((float)w->ne[0]);
        for (int64_t k = 0; k < (int64_t)rank * w->ne[1]; k++)
            b[k] = b_zero ? 0.0f : urand() * 0.4f;
        t[i] = (fr_lora_tensor){targets[i], w->ne[0], w->ne[1], rank, a, b};
    }
    char p[320];
    fr_err e;
    fr_lora_write_params wp = {m, NULL, alpha, FR_TYPE_F32, NULL, 0};
    CHECK(fr_lora_write(tpath(name, p, sizeof p), &wp, t, 5, &e) == FR_OK);
    for (int i = 0; i < 5; i++) {
        free((void *)t[i].a);
        free((void *)t[i].b);
    }
    fr_lora *a = NULL;
    fr_status st = fr_lora_load(p, m, &a, &e);
    CHECK_MSG(st == FR_OK, "adapter: %s", e.msg);
    return a;
}

enum { NT = 5 };
static const int32_t k_toks[NT] = {1, 9, 33, 4, 17};

static float *logits(fr_model *m, fr_lora *const *ad, const float *sc, size_t n)
{
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 8;
    cp.n_threads = 2;
    fr_context *c = NULL;
    fr_err e;
    if (fr_context_create(m, &cp, &c, &e) != FR_OK)
        return NULL;
    if (n)
        CHECK(fr_context_set_lora(c, ad, sc, n, &e) == FR_OK);
    bool all[NT] = {true, true, true, true, true};
    fr_batch b = {NT, k_toks, NULL, all};
    float *out = NULL;
    uint32_t V = fr_model_hparams(m)->n_vocab;
    if (fr_context_decode(c, &b, &e) == FR_OK) {
        out = malloc(sizeof(float) * NT * V);
        for (int t = 0; t < NT; t++)
            memcpy(out + (size_t)t * V, fr_context_logits(c, (uint32_t)t), sizeof(float) * V);
    }
    fr_context_free(c);
    return out;
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double md = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - (double)b[i]));
        mx = fmax(mx, fabs((double)b[i]));
    }
    return md / (mx > 0 ? mx : 1);
}

static fr_status do_merge(fr_model *m, fr_lora **ad, const float *sc, size_t n, fr_lora_out out,
                          fr_type ty, int threads, const char *name, char *p, size_t pn,
                          fr_lora_merge_stats *ms, fr_err *e)
{
    fr_lora_merge_params mp = {ad, sc, n, out, ty, threads, NULL, NULL};
    return fr_lora_merge(m, tpath(name, p, pn), NULL, 0, &mp, ms, e);
}

/* F32 output equals run-time application; untouched bytes and keys equal. */
static void test_f32(fr_model *m, const char *what)
{
    fr_lora *ad[2] = {make_adapter(m, "m1.gguf", 4, 8.0f, false),
                      make_adapter(m, "m2.gguf", 2, 0.0f, false)};
    float sc[2] = {0.75f, -0.5f};
    if (!ad[0] || !ad[1])
        goto out;
    char p[320];
    fr_err e;
    fr_lora_merge_stats ms;
    fr_status st = do_merge(m, ad, sc, 2, FR_LORA_OUT_TYPE, FR_TYPE_F32, 3, "f32.gguf", p,
                            sizeof p, &ms, &e);
    CHECK_MSG(st == FR_OK, "%s: merge: %s", what, e.msg);
    if (st)
        goto out;
    CHECK_EQ_INT(ms.n_merged, 5);
    CHECK_EQ_INT(ms.n_fallback, 0);
    CHECK_EQ_INT(ms.merged_by_type[FR_TYPE_F32], 5);
    CHECK_MSG(ms.update_rel_err < 1e-5, "%s: update error %g", what, ms.update_rel_err);
    fr_model *mm = NULL;
    CHECK(fr_model_load(p, &mm, &e) == FR_OK);
    float *run = logits(m, ad, sc, 2), *mer = mm ? logits(mm, NULL, NULL, 0) : NULL,
          *base = logits(m, NULL, NULL, 0);
    uint32_t V = fr_model_hparams(m)->n_vocab;
    if (run && mer && base) {
        double d = rel_diff(mer, run, (size_t)NT * V);
        double moved = rel_diff(base, run, (size_t)NT * V);
        CHECK_MSG(moved > 1e-2, "%s: the adapters change nothing", what);
        /* With a quantized base the run-time path multiplies the untouched
         * base weights with 8-bit activations while the merged F32 tensors
         * use float ones (the kernels' documented activation rounding),
         * so only agreement well within the adapters' effect is expected. */
        const fr_gguf_tensor *q = fr_gguf_find_tensor(fr_model_gguf(m), "blk.0.attn_q.weight");
        bool quant_base = q && fr_type_get((uint32_t)q->type)->quantized;
        if (quant_base)
            CHECK_MSG(d < 0.03 && d < 0.25 * moved,
                      "%s: merged vs runtime logits: rel diff %.3g (adapters move %.3g)", what, d,
                      moved);
        else
            CHECK_MSG(d < 1e-5, "%s: merged vs runtime logits: rel diff %.3g", what, d);
    }
    free(run);
    free(mer);
    free(base);
    /* untouched tensors: same type and bytes; every key the same value
     * bytes except general.file_type */
    const fr_gguf *g = fr_model_gguf(m), *o = mm ? fr_model_gguf(mm) : NULL;
    if (o) {
        CHECK_EQ_INT(fr_gguf_n_tensors(o), fr_gguf_n_tensors(g));
        int64_t same = 0;
        for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
            const fr_gguf_tensor *a = fr_gguf_tensor_at(g, i), *b = fr_gguf_tensor_at(o, i);
            CHECK_STR(a->name, b->name);
            bool merged = strstr(a->name, "attn_q") && strstr(a->name, "blk.0");
            merged = merged || (strstr(a->name, "attn_v") && strstr(a->name, "blk.1"));
            merged = merged || strstr(a->name, "ffn_down") || strcmp(a->name, "output.weight") == 0;
            if (!merged) {
                CHECK(a->type == b->type && a->nbytes == b->nbytes &&
                      memcmp(a->data, b->data, a->nbytes) == 0);
                same++;
            } else {
                CHECK_EQ_INT(b->type, FR_TYPE_F32);
            }
        }
        CHECK_EQ_INT(same, fr_gguf_n_tensors(g) - 5);
        int64_t extra = fr_gguf_find_key(g, "general.file_type") < 0 ? 1 : 0;
        CHECK_EQ_INT(fr_gguf_n_kv(o), fr_gguf_n_kv(g) + extra);
        fr_gguf_str s1, s2;
        CHECK(fr_gguf_get_str(g, "tokenizer.ggml.model", &s1, NULL) ==
              fr_gguf_get_str(o, "tokenizer.ggml.model", &s2, NULL));
        uint32_t ft = 99;
        CHECK(fr_gguf_get_u32(o, "general.file_type", &ft, NULL) == FR_OK);
        CHECK_EQ_INT(ft, ms.file_type);
    }
    fr_model_free(mm);
    /* the same bytes with one thread */
    char p1[320];
    st = do_merge(m, ad, sc, 2, FR_LORA_OUT_TYPE, FR_TYPE_F32, 1, "f32-1.gguf", p1, sizeof p1,
                  NULL, &e);
    CHECK(st == FR_OK);
    char *b1 = NULL, *b3 = NULL;
    size_t n1 = 0, n3 = 0;
    FILE *f1 = fopen(p1, "rb"), *f3 = fopen(p, "rb");
    if (f1 && f3) {
        b1 = malloc(1 << 20);
        b3 = malloc(1 << 20);
        n1 = fread(b1, 1, 1 << 20, f1);
        n3 = fread(b3, 1, 1 << 20, f3);
        CHECK(n1 == n3 && n1 > 0 && memcmp(b1, b3, n1) == 0);
    }
    if (f1)
        fclose(f1);
    if (f3)
        fclose(f3);
    free(b1);
    free(b3);
out:
    fr_lora_free(ad[0]);
    fr_lora_free(ad[1]);
}

/* F16 output: each merged value is fp16(W + s * B A), B A in double. */
static void test_f16_values(fr_model *m)
{
    fr_lora *ad = make_adapter(m, "h.gguf", 3, 6.0f, false);
    if (!ad)
        return;
    char p[320];
    fr_err e;
    fr_lora_merge_stats ms;
    float sc = 1.5f; /* s = 1.5 * 6 / 3 = 3 */
    CHECK(do_merge(m, &ad, &sc, 1, FR_LORA_OUT_TYPE, FR_TYPE_F16, 2, "h16.gguf", p, sizeof p,
                   &ms, &e) == FR_OK);
    fr_gguf *o = NULL;
    CHECK(fr_gguf_open(p, &o, &e) == FR_OK);
    fr_lora_pair_info pi;
    CHECK(fr_lora_pair(ad, 1, &pi, &e) == FR_OK); /* blk.1.attn_v.weight */
    const fr_gguf_tensor *bw = fr_gguf_find_tensor(fr_model_gguf(m), pi.name);
    const fr_gguf_tensor *ow = o ? fr_gguf_find_tensor(o, pi.name) : NULL;
    CHECK(ow && ow->type == FR_TYPE_F16);
    if (ow && bw) {
        const float *w = bw->data; /* the base is F32 here */
        const uint16_t *h = ow->data;
        int64_t off = 0;
        for (int64_t r = 0; r < pi.n_out; r++)
            for (int64_t c = 0; c < pi.n_in; c++) {
                double d = 0;
                for (uint32_t k = 0; k < pi.rank; k++)
                    d += (double)pi.b[r * pi.rank + k] * (double)pi.a[k * pi.n_in + c];
                double want = (double)w[r * pi.n_in + c] + 3.0 * d;
                double got = fr_fp16_to_fp32(h[r * pi.n_in + c]);
                /* within one f16 step of the exact value */
                if (fabs(got - want) > fabs(want) * 1.0 / 1024 + 1e-7)
                    off++;
            }
        CHECK_MSG(off == 0, "%lld F16 values are not the rounding of W + s*B*A", (long long)off);
    }
    /* majority of 2-D weight values is now F16 in a model whose merged
     * tensors dominate?  Count by hand: token_embd 40x32 f32 (1280), per
     * layer q/k/v/o 32x32, 32x16 x2, 32x32 (3072) + gate/up/down 3 x 32x64
     * (6144); merged: q0 1024, v1 512, down x2 4096, output 1280 = 6912 F16
     * of 2*9216 + 1280 + 1280 = 20992: F32 keeps the majority. */
    CHECK_EQ_INT(ms.file_type, FR_FTYPE_ALL_F32);
    fr_gguf_free(o);
    fr_lora_free(ad);
}

/* Quantized base: keep re-quantizes; a type that does not fit falls back. */
static void test_quantized(fr_model *q)
{
    fr_lora *ad = make_adapter(q, "q.gguf", 4, 4.0f, false);
    fr_lora *z = make_adapter(q, "qz.gguf", 4, 4.0f, true);
    if (!ad || !z)
        goto out;
    char p[320];
    fr_err e;
    fr_lora_merge_stats ms;
    CHECK(do_merge(q, &ad, NULL, 1, FR_LORA_OUT_KEEP, FR_TYPE_F32, 2, "keep.gguf", p, sizeof p,
                   &ms, &e) == FR_OK);
    CHECK_EQ_INT(ms.merged_by_type[FR_TYPE_Q8_0], 5);
    /* keep leaves general.file_type alone; this base has none, so it is
     * the llama_ftype of the majority type: MOSTLY_Q8_0 = 7 */
    uint32_t base_ft = FR_FTYPE_Q8_0;
    fr_gguf_get_u32(fr_model_gguf(q), "general.file_type", &base_ft, NULL);
    CHECK_EQ_INT(ms.file_type, base_ft);
    CHECK(ms.update_rel_err > 1e-4 && ms.update_rel_err < 1.0);
    /* B = 0 with keep on a Q8_0 base: re-quantizing the dequantized values
     * gives the same blocks back, so the whole file is the base's */
    CHECK(do_merge(q, &z, NULL, 1, FR_LORA_OUT_KEEP, FR_TYPE_F32, 2, "keepz.gguf", p, sizeof p,
                   &ms, &e) == FR_OK);
    fr_gguf *o = NULL;
    if (fr_gguf_open(p, &o, &e) == FR_OK) {
        const fr_gguf *g = fr_model_gguf(q);
        bool same = true;
        for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
            const fr_gguf_tensor *a = fr_gguf_tensor_at(g, i), *b = fr_gguf_tensor_at(o, i);
            same = same && a->type == b->type && memcmp(a->data, b->data, a->nbytes) == 0;
        }
        CHECK_MSG(same, "a zero update re-quantized to Q8_0 changed the weights");
        fr_gguf_free(o);
    }
    /* q4_k needs 256-value rows: 32- and 64-value rows fall back to Q5_0 */
    CHECK(do_merge(q, &ad, NULL, 1, FR_LORA_OUT_TYPE, FR_TYPE_Q4_K, 2, "q4k.gguf", p, sizeof p,
                   &ms, &e) == FR_OK);
    CHECK_EQ_INT(ms.n_fallback, 5);
    CHECK_EQ_INT(ms.merged_by_type[FR_TYPE_Q5_0], 5);
    /* auto on a quantized base: F16 */
    CHECK(do_merge(q, &ad, NULL, 1, FR_LORA_OUT_AUTO, FR_TYPE_F32, 2, "auto.gguf", p, sizeof p,
                   &ms, &e) == FR_OK);
    CHECK_EQ_INT(ms.merged_by_type[FR_TYPE_F16], 5);
out:
    fr_lora_free(ad);
    fr_lora_free(z);
}

static void test_refusals(fr_model *m, fr_model *other)
{
    fr_lora *ad = make_adapter(m, "r.gguf", 2, 0.0f, false);
    if (!ad)
        return;
    char p[320];
    fr_err e;
    /* over the base model or the adapter itself */
    fr_lora_merge_params mp = {&ad, NULL, 1, FR_LORA_OUT_AUTO, FR_TYPE_F32, 1, NULL, NULL};
    CHECK(fr_lora_merge(m, fr_gguf_path(fr_model_gguf(m)), NULL, 0, &mp, NULL, &e) ==
          FR_E_INVALID);
    CHECK(fr_lora_merge(m, fr_lora_path(ad), NULL, 0, &mp, NULL, &e) == FR_E_INVALID);
    /* an adapter loaded for another model */
    CHECK(fr_lora_merge(other, tpath("x.gguf", p, sizeof p), NULL, 0, &mp, NULL, &e) ==
          FR_E_INVALID);
    CHECK(access(p, F_OK) != 0);
    mp.n = 0;
    CHECK(fr_lora_merge(m, p, NULL, 0, &mp, NULL, &e) == FR_E_INVALID);
    mp.n = 1;
    float bad = INFINITY;
    mp.scales = &bad;
    CHECK(fr_lora_merge(m, p, NULL, 0, &mp, NULL, &e) == FR_E_INVALID);
    mp.scales = NULL;
    mp.out = FR_LORA_OUT_TYPE;
    mp.out_type = (fr_type)16; /* IQ2_XXS: frugal cannot write it */
    CHECK(fr_lora_merge(m, p, NULL, 0, &mp, NULL, &e) != FR_OK);
    CHECK(access(p, F_OK) != 0);
    fr_lora_free(ad);
}

int main(void)
{
    fr_test_tmpdir(tmp, sizeof tmp);
    fr_model *m = make_model("base.gguf", FR_TYPE_F32, 64, 3);
    fr_model *q = make_model("base-q8.gguf", FR_TYPE_Q8_0, 64, 4);
    if (m && q) {
        test_f32(m, "f32 base");
        test_f32(q, "q8_0 base");
        test_f16_values(m);
        test_quantized(q);
        test_refusals(m, q);
    }
    fr_model_free(m);
    fr_model_free(q);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}
