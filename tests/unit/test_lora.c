/*
 * LoRA adapters: the file format against values written here by hand from
 * llama.cpp's format, loading of files made with the raw GGUF writer (not
 * fr_lora_write), validation errors, and run-time application against an
 * independent merge done in this test (double precision W + s*B*A, written
 * as an F32 model and run through the plain forward pass).
 */
#include "test.h"

#include <frugal/gguf.h>
#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/synth.h>
#include <frugal/tensor.h>
#include <unistd.h>

static char tmp[256];

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) /* uniform in [-0.5, 0.5) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0 - 0.5;
}

static const char *path_in_tmp(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", tmp, name);
    return buf;
}

static fr_model *make_model(const char *name, const char *arch, fr_type wt, bool tied,
                            uint64_t seed)
{
    fr_synth_spec s = {0};
    s.arch = arch;
    s.n_vocab = 48;
    s.n_embd = 32;
    s.n_layer = 2;
    s.n_ff = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ctx = 64;
    s.wtype = wt;
    s.embd_type = FR_TYPE_COUNT_;
    s.tied = tied;
    s.qkv_bias = strcmp(arch, "qwen2") == 0;
    s.seed = seed;
    char p[320];
    fr_err e;
    fr_status st = fr_synth_write(&s, path_in_tmp(name, p, sizeof p), NULL, NULL, &e);
    CHECK_MSG(st == FR_OK, "synth: %s", e.msg);
    fr_model *m = NULL;
    st = fr_model_load(p, &m, &e);
    CHECK_MSG(st == FR_OK, "load: %s", e.msg);
    return m;
}

/* Logits of every position of a fixed prompt (malloc'd, N * V). */
enum { N_TOK = 6 };
static const int32_t k_prompt[N_TOK] = {1, 7, 30, 2, 2, 45};

static float *logits_of(fr_context *c, fr_err *e)
{
    uint32_t V = fr_model_hparams(fr_context_model(c))->n_vocab;
    bool all[N_TOK];
    for (int i = 0; i < N_TOK; i++)
        all[i] = true;
    fr_context_seq_truncate(c, 0, 0);
    fr_batch b = {N_TOK, k_prompt, NULL, all};
    if (fr_context_decode(c, &b, e) != FR_OK)
        return NULL;
    float *out = malloc(sizeof(float) * N_TOK * V);
    for (int t = 0; t < N_TOK; t++)
        memcpy(out + (size_t)t * V, fr_context_logits(c, (uint32_t)t), sizeof(float) * V);
    return out;
}

static float *model_logits(fr_model *m, fr_lora *const *ad, const float *sc, size_t n,
                           int threads)
{
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_batch = 16; /* the whole prompt in one pass: the two-pass product */
    cp.n_threads = (uint32_t)threads;
    fr_context *c = NULL;
    fr_err e;
    fr_status st = fr_context_create(m, &cp, &c, &e);
    CHECK_MSG(st == FR_OK, "context: %s", e.msg);
    if (st)
        return NULL;
    if (n) {
        st = fr_context_set_lora(c, ad, sc, n, &e);
        CHECK_MSG(st == FR_OK, "set_lora: %s", e.msg);
        CHECK_EQ_INT(fr_context_n_lora(c), n);
    }
    float *l = logits_of(c, &e);
    CHECK_MSG(l != NULL, "decode: %s", e.msg);
    fr_context_free(c);
    return l;
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double md = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > md)
            md = d;
        if (fabs((double)b[i]) > mx)
            mx = fabs((double)b[i]);
    }
    return md / (mx > 0 ? mx : 1);
}

/* A random adapter for every adaptable weight of m (output.weight only
 * when the model has one). a_scale/b_scale set magnitudes; b_zero gives
 * B = 0. Arrays are owned by the returned tensors (free with free_tensors). */
static const char *const k_suffix[7] = {"attn_q.weight",   "attn_k.weight", "attn_v.weight",
                                        "attn_output.weight", "ffn_gate.weight",
                                        "ffn_up.weight",   "ffn_down.weight"};

static size_t random_tensors(const fr_model *m, uint32_t rank, bool b_zero, fr_lora_tensor *t,
                             char names[][64])
{
    const fr_gguf *g = fr_model_gguf(m);
    const fr_hparams *hp = fr_model_hparams(m);
    size_t n = 0;
    for (uint32_t l = 0; l <= hp->n_layer; l++) {
        for (int k = 0; k < 7; k++) {
            if (l == hp->n_layer) {
                if (k > 0 || !fr_gguf_find_tensor(g, "output.weight"))
                    break;
                snprintf(names[n], 64, "output.weight");
            } else {
                snprintf(names[n], 64, "blk.%u.%s", l, k_suffix[k]);
            }
            const fr_gguf_tensor *w = fr_gguf_find_tensor(g, names[n]);
            t[n].name = names[n];
            t[n].n_in = w->ne[0];
            t[n].n_out = w->ne[1];
            t[n].rank = rank;
            float *a = malloc(sizeof(float) * rank * (size_t)w->ne[0]);
            float *b = malloc(sizeof(float) * rank * (size_t)w->ne[1]);
            for (int64_t i = 0; i < (int64_t)rank * w->ne[0]; i++)
                a[i] = (float)(urand() * 2.0 / sqrt((double)w->ne[0]));
            for (int64_t i = 0; i < (int64_t)rank * w->ne[1]; i++)
                b[i] = b_zero ? 0.0f : (float)(urand() * 0.5);
            t[n].a = a;
            t[n].b = b;
            n++;
        }
    }
    return n;
}

static void free_tensors(fr_lora_tensor *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)t[i].a);
        free((void *)t[i].b);
    }
}

/* The independent merge: every tensor of base dequantized to F32, adapted
 * ones replaced by W + sum_k s_k * B_k A_k computed in double. */
typedef struct ref_adapter {
    const fr_lora_tensor *t;
    size_t n;
    double s; /* effective scale, computed by hand by the caller */
} ref_adapter;

static fr_model *reference_merge(const fr_model *base, const ref_adapter *ad, size_t n_ad,
                                 const char *name)
{
    const fr_gguf *g = fr_model_gguf(base);
    fr_gguf_writer *w;
    fr_err e;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++)
        CHECK(fr_gguf_writer_copy_kv(w, g, i) == FR_OK);
    int64_t nt = fr_gguf_n_tensors(g);
    float **bufs = calloc((size_t)nt, sizeof *bufs);
    for (int64_t i = 0; i < nt; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        int64_t nv = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        bufs[i] = malloc(sizeof(float) * (size_t)nv);
        CHECK(fr_dequantize(t->type, t->data, bufs[i], nv, &e) == FR_OK);
        for (size_t k = 0; k < n_ad; k++) {
            for (size_t p = 0; p < ad[k].n; p++) {
                const fr_lora_tensor *lt = &ad[k].t[p];
                if (strcmp(lt->name, t->name) != 0)
                    continue;
                for (int64_t o = 0; o < lt->n_out; o++)
                    for (int64_t c = 0; c < lt->n_in; c++) {
                        double d = 0;
                        for (uint32_t r = 0; r < lt->rank; r++)
                            d += (double)lt->b[o * lt->rank + r] * (double)lt->a[r * lt->n_in + c];
                        double v = (double)bufs[i][o * lt->n_in + c] + ad[k].s * d;
                        bufs[i][o * lt->n_in + c] = (float)v;
                    }
            }
        }
        CHECK(fr_gguf_writer_add_tensor(w, t->name, FR_TYPE_F32, t->n_dims, t->ne, bufs[i], &e) ==
              FR_OK);
    }
    char p[320];
    fr_status st = fr_gguf_writer_write(w, path_in_tmp(name, p, sizeof p), NULL, 0, NULL, NULL, &e);
    CHECK_MSG(st == FR_OK, "reference merge write: %s", e.msg);
    fr_gguf_writer_free(w);
    for (int64_t i = 0; i < nt; i++)
        free(bufs[i]);
    free(bufs);
    fr_model *m = NULL;
    st = fr_model_load(p, &m, &e);
    CHECK_MSG(st == FR_OK, "reference merge load: %s", e.msg);
    return m;
}

static fr_lora *write_and_load(const fr_model *base, const char *name, float alpha, fr_type type,
                               const fr_lora_tensor *t, size_t n)
{
    char p[320];
    fr_err e;
    fr_lora_write_params wp = {base, NULL, alpha, type, NULL, 0};
    fr_status st = fr_lora_write(path_in_tmp(name, p, sizeof p), &wp, t, n, &e);
    CHECK_MSG(st == FR_OK, "write %s: %s", name, e.msg);
    fr_lora *a = NULL;
    st = fr_lora_load(p, base, &a, &e);
    CHECK_MSG(st == FR_OK, "load %s: %s", name, e.msg);
    return a;
}

/* ---- cases ---------------------------------------------------------------- */

static void test_scale_rule(void)
{
    /* llama.cpp: alpha ? scale * alpha / rank : scale */
    CHECK(fr_lora_effective_scale(0.0f, 16, 1.0f) == 1.0f);
    CHECK(fr_lora_effective_scale(0.0f, 16, 0.5f) == 0.5f);
    CHECK(fr_lora_effective_scale(32.0f, 16, 1.0f) == 2.0f);
    CHECK(fr_lora_effective_scale(16.0f, 8, 0.25f) == 0.5f);
    CHECK(fr_lora_effective_scale(8.0f, 8, -1.0f) == -1.0f);
}

/* The written file, read back with the plain GGUF reader and compared with
 * values written here from llama.cpp's format. */
static void test_format(const fr_model *m)
{
    float a0[2 * 32], b0[16 * 2], a1[2 * 64], b1[32 * 2];
    for (int i = 0; i < 64; i++)
        a0[i] = (float)i * 0.25f;
    for (int i = 0; i < 32; i++)
        b0[i] = -(float)i;
    for (int i = 0; i < 128; i++)
        a1[i] = (float)i;
    for (int i = 0; i < 64; i++)
        b1[i] = 1.0f / (float)(i + 1);
    /* attn_k of this model: n_in 32, n_out 16 (2 kv heads x 8); ffn_down: 64 -> 32 */
    fr_lora_tensor t[2] = {{"blk.1.attn_k.weight", 32, 16, 2, a0, b0},
                           {"blk.0.ffn_down.weight", 64, 32, 2, a1, b1}};
    char p[320];
    fr_err e;
    fr_lora_write_params wp = {m, NULL, 4.0f, FR_TYPE_F32, NULL, 0};
    fr_status st = fr_lora_write(path_in_tmp("fmt.gguf", p, sizeof p), &wp, t, 2, &e);
    CHECK_MSG(st == FR_OK, "write: %s", e.msg);
    fr_gguf *g = NULL;
    st = fr_gguf_open(p, &g, &e);
    CHECK_MSG(st == FR_OK, "open: %s", e.msg);
    if (st)
        return;
    CHECK_EQ_INT(fr_gguf_n_kv(g), 4);
    fr_gguf_str s;
    CHECK(fr_gguf_get_str(g, "general.architecture", &s, NULL) == FR_OK && s.len == 5 &&
          memcmp(s.ptr, "llama", 5) == 0);
    CHECK(fr_gguf_get_str(g, "general.type", &s, NULL) == FR_OK && s.len == 7 &&
          memcmp(s.ptr, "adapter", 7) == 0);
    CHECK(fr_gguf_get_str(g, "adapter.type", &s, NULL) == FR_OK && s.len == 4 &&
          memcmp(s.ptr, "lora", 4) == 0);
    int64_t ki = fr_gguf_find_key(g, "adapter.lora.alpha");
    CHECK(ki >= 0 && fr_gguf_kv_type(g, ki) == FR_GGUF_FLOAT32);
    float alpha = 0;
    CHECK(fr_gguf_get_f32(g, "adapter.lora.alpha", &alpha, NULL) == FR_OK && alpha == 4.0f);
    CHECK_EQ_INT(fr_gguf_n_tensors(g), 4);
    const char *names[4] = {"blk.1.attn_k.weight.lora_a", "blk.1.attn_k.weight.lora_b",
                            "blk.0.ffn_down.weight.lora_a", "blk.0.ffn_down.weight.lora_b"};
    const int64_t ne[4][2] = {{32, 2}, {2, 16}, {64, 2}, {2, 32}};
    const float *data[4] = {a0, b0, a1, b1};
    for (int i = 0; i < 4; i++) {
        const fr_gguf_tensor *tt = fr_gguf_tensor_at(g, i);
        CHECK_STR(tt->name, names[i]);
        CHECK_EQ_INT(tt->n_dims, 2);
        CHECK_EQ_INT(tt->ne[0], ne[i][0]);
        CHECK_EQ_INT(tt->ne[1], ne[i][1]);
        CHECK_EQ_INT(tt->type, FR_TYPE_F32);
        CHECK(tt->nbytes == (uint64_t)(ne[i][0] * ne[i][1] * 4));
        CHECK(memcmp(tt->data, data[i], tt->nbytes) == 0);
    }
    /* element (r, i) of A is at r * n_in + i: A row 1 starts at a0[32] */
    const float *fa = fr_gguf_tensor_at(g, 0)->data;
    CHECK(fa[32] == 8.0f);
    fr_gguf_free(g);

    /* read back through the loader */
    fr_lora *a = NULL;
    st = fr_lora_load(p, m, &a, &e);
    CHECK_MSG(st == FR_OK, "load: %s", e.msg);
    if (!a)
        return;
    CHECK_EQ_INT(fr_lora_n_pairs(a), 2);
    CHECK_EQ_INT(fr_lora_rank(a), 2);
    CHECK(fr_lora_alpha(a) == 4.0f);
    CHECK_EQ_INT(fr_lora_n_params(a), 2 * (32 + 16) + 2 * (64 + 32));
    fr_lora_pair_info pi;
    CHECK(fr_lora_pair(a, 1, &pi, &e) == FR_OK);
    CHECK_STR(pi.name, "blk.0.ffn_down.weight");
    CHECK_EQ_INT(pi.n_in, 64);
    CHECK_EQ_INT(pi.n_out, 32);
    CHECK(memcmp(pi.a, a1, sizeof a1) == 0 && memcmp(pi.b, b1, sizeof b1) == 0);
    CHECK(fr_lora_pair(a, 2, &pi, &e) == FR_E_RANGE);
    fr_lora_free(a);

    /* F16 and BF16 storage: what the loader decodes is the rounded value */
    for (int k = 0; k < 2; k++) {
        fr_type ty = k ? FR_TYPE_BF16 : FR_TYPE_F16;
        wp.type = ty;
        st = fr_lora_write(path_in_tmp("fmt16.gguf", p, sizeof p), &wp, t, 2, &e);
        CHECK_MSG(st == FR_OK, "write %s: %s", fr_type_name(ty), e.msg);
        st = fr_lora_load(p, m, &a, &e);
        CHECK_MSG(st == FR_OK, "load %s: %s", fr_type_name(ty), e.msg);
        if (!a)
            continue;
        CHECK(fr_lora_pair(a, 0, &pi, &e) == FR_OK);
        CHECK_EQ_INT(pi.type_a, ty);
        bool same = true;
        for (int i = 0; i < 32; i++) {
            float want = k ? fr_bf16_to_fp32(fr_fp32_to_bf16(b0[i]))
                           : fr_fp16_to_fp32(fr_fp32_to_fp16(b0[i]));
            same = same && pi.b[i] == want;
        }
        CHECK(same);
        fr_lora_free(a);
    }
    /* Q8_0 needs rows that fill 32-value blocks: rank 2 does not */
    wp.type = FR_TYPE_Q8_0;
    st = fr_lora_write(path_in_tmp("fmtq.gguf", p, sizeof p), &wp, t, 2, &e);
    CHECK(st == FR_E_INVALID && strstr(e.msg, "blocks") != NULL);
    CHECK(access(p, F_OK) != 0);
}

/* Adapter files built with the raw writer: a Q8_0 adapter (rank 32), an
 * F16 one without alpha, and broken ones. */
typedef struct raw_t {
    const char *name;
    fr_type type;
    int64_t ne0, ne1;
} raw_t;

static fr_status write_raw(const char *file, const char *gtype, const char *atype,
                           const char *arch, bool with_alpha, float alpha, const raw_t *ts,
                           size_t n, char *p, size_t pn, const float *fill_value)
{
    fr_gguf_writer *w;
    fr_err e;
    fr_gguf_writer_create(&w, &e);
    if (arch)
        fr_gguf_writer_set_str(w, "general.architecture", arch);
    if (gtype)
        fr_gguf_writer_set_str(w, "general.type", gtype);
    if (atype)
        fr_gguf_writer_set_str(w, "adapter.type", atype);
    if (with_alpha)
        fr_gguf_writer_set_f32(w, "adapter.lora.alpha", alpha);
    void *bufs[8] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t nv = ts[i].ne0 * ts[i].ne1;
        float *f = malloc(sizeof(float) * (size_t)nv);
        for (int64_t j = 0; j < nv; j++)
            f[j] = fill_value ? *fill_value : (float)(urand() * 0.2);
        uint64_t nb = fr_type_row_bytes(ts[i].type, ts[i].ne0) * (uint64_t)ts[i].ne1;
        bufs[i] = malloc(nb);
        fr_quantize(ts[i].type, f, bufs[i], nv, &e);
        free(f);
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        fr_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, 2, ne, bufs[i], &e);
    }
    fr_status st = fr_gguf_writer_write(w, path_in_tmp(file, p, pn), NULL, 0, NULL, NULL, &e);
    fr_gguf_writer_free(w);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    return st;
}

static void expect_load_error(const fr_model *m, const char *what, const char *p, fr_status code,
                              const char *needle)
{
    fr_lora *a = NULL;
    fr_err e;
    fr_status st = fr_lora_load(p, m, &a, &e);
    CHECK_MSG(st == code, "%s: got status %d (%s), want %d", what, (int)st,
              st ? e.msg : "ok", (int)code);
    CHECK_MSG(st == FR_OK || strstr(e.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what,
              e.msg, needle);
    CHECK(a == NULL);
    fr_lora_free(a);
}

static void test_raw_files(const fr_model *m)
{
    char p[320];
    /* Q8_0 storage, rank 32: loads, decoded values are the Q8_0 ones */
    raw_t q8[2] = {{"blk.0.ffn_up.weight.lora_a", FR_TYPE_Q8_0, 32, 32},
                   {"blk.0.ffn_up.weight.lora_b", FR_TYPE_Q8_0, 32, 64}};
    CHECK(write_raw("q8.gguf", "adapter", "lora", "llama", true, 8.0f, q8, 2, p, sizeof p, NULL) ==
          FR_OK);
    fr_lora *a = NULL;
    fr_err e;
    fr_status st = fr_lora_load(p, m, &a, &e);
    CHECK_MSG(st == FR_OK, "q8 adapter: %s", e.msg);
    if (a) {
        CHECK_EQ_INT(fr_lora_rank(a), 32);
        fr_lora_pair_info pi;
        CHECK(fr_lora_pair(a, 0, &pi, &e) == FR_OK);
        CHECK_EQ_INT(pi.type_a, FR_TYPE_Q8_0);
        fr_gguf *g;
        fr_gguf_open(p, &g, &e);
        float *ref = malloc(sizeof(float) * 32 * 64);
        fr_dequantize(FR_TYPE_Q8_0, fr_gguf_find_tensor(g, q8[1].name)->data, ref, 32 * 64, &e);
        CHECK(memcmp(ref, pi.b, sizeof(float) * 32 * 64) == 0);
        free(ref);
        fr_gguf_free(g);
        fr_lora_free(a);
    }
    /* no alpha key: alpha 0 (scale used as is); norm tensors are skipped */
    raw_t f16[3] = {{"blk.1.attn_v.weight.lora_a", FR_TYPE_F16, 32, 4},
                    {"blk.1.attn_norm.weight", FR_TYPE_F32, 32, 1},
                    {"blk.1.attn_v.weight.lora_b", FR_TYPE_F16, 4, 16}};
    CHECK(write_raw("f16.gguf", "adapter", "lora", "llama", false, 0, f16, 3, p, sizeof p, NULL) ==
          FR_OK);
    st = fr_lora_load(p, m, &a, &e);
    CHECK_MSG(st == FR_OK, "f16 adapter: %s", e.msg);
    if (a) {
        CHECK(fr_lora_alpha(a) == 0.0f);
        CHECK_EQ_INT(fr_lora_n_ignored(a), 1);
        CHECK_EQ_INT(fr_lora_n_pairs(a), 1);
        fr_lora_free(a);
    }

    /* broken files */
    raw_t ok2[2] = {{"blk.0.attn_q.weight.lora_a", FR_TYPE_F32, 32, 4},
                    {"blk.0.attn_q.weight.lora_b", FR_TYPE_F32, 4, 32}};
    write_raw("b1.gguf", "model", "lora", "llama", true, 1, ok2, 2, p, sizeof p, NULL);
    expect_load_error(m, "general.type model", p, FR_E_FORMAT, "not a LoRA adapter");
    write_raw("b2.gguf", "adapter", "ia3", "llama", true, 1, ok2, 2, p, sizeof p, NULL);
    expect_load_error(m, "adapter.type ia3", p, FR_E_UNSUPPORTED, "'ia3'");
    write_raw("b3.gguf", "adapter", "lora", "qwen2", true, 1, ok2, 2, p, sizeof p, NULL);
    expect_load_error(m, "wrong arch", p, FR_E_INVALID, "wrong base model");
    write_raw("b4.gguf", "adapter", "lora", NULL, true, 1, ok2, 2, p, sizeof p, NULL);
    expect_load_error(m, "no arch", p, FR_E_INVALID, "(absent)");
    write_raw("b5.gguf", "adapter", "lora", "llama", true, 1, ok2, 1, p, sizeof p, NULL);
    expect_load_error(m, "lonely lora_a", p, FR_E_FORMAT, "missing one half");
    write_raw("b6.gguf", "adapter", "lora", "llama", true, 1, ok2 + 1, 1, p, sizeof p, NULL);
    expect_load_error(m, "lonely lora_b", p, FR_E_FORMAT, "missing one half");
    raw_t shape[2] = {{"blk.0.attn_q.weight.lora_a", FR_TYPE_F32, 32, 4},
                      {"blk.0.attn_q.weight.lora_b", FR_TYPE_F32, 4, 16}};
    write_raw("b7.gguf", "adapter", "lora", "llama", true, 1, shape, 2, p, sizeof p, NULL);
    expect_load_error(m, "wrong n_out", p, FR_E_INVALID, "[rank, 32]");
    raw_t transposed[2] = {{"blk.0.attn_q.weight.lora_a", FR_TYPE_F32, 32, 4},
                           {"blk.0.attn_q.weight.lora_b", FR_TYPE_F32, 8, 32}};
    write_raw("b8.gguf", "adapter", "lora", "llama", true, 1, transposed, 2, p, sizeof p, NULL);
    expect_load_error(m, "rank mismatch", p, FR_E_FORMAT, "rank 4 but lora_b has rank 8");
    raw_t absent[2] = {{"blk.7.attn_q.weight.lora_a", FR_TYPE_F32, 32, 4},
                       {"blk.7.attn_q.weight.lora_b", FR_TYPE_F32, 4, 32}};
    write_raw("b9.gguf", "adapter", "lora", "llama", true, 1, absent, 2, p, sizeof p, NULL);
    expect_load_error(m, "tensor not in base", p, FR_E_INVALID, "does not have");
    raw_t embd[2] = {{"token_embd.weight.lora_a", FR_TYPE_F32, 48, 4},
                     {"token_embd.weight.lora_b", FR_TYPE_F32, 4, 32}};
    write_raw("b10.gguf", "adapter", "lora", "llama", true, 1, embd, 2, p, sizeof p, NULL);
    expect_load_error(m, "token_embd", p, FR_E_UNSUPPORTED, "token_embd.weight");
    raw_t stray[1] = {{"blk.0.attn_q.weight", FR_TYPE_F32, 32, 32}};
    write_raw("b11.gguf", "adapter", "lora", "llama", true, 1, stray, 1, p, sizeof p, NULL);
    expect_load_error(m, "stray tensor", p, FR_E_FORMAT, "neither");
    float nan = NAN;
    write_raw("b12.gguf", "adapter", "lora", "llama", true, 1, ok2, 2, p, sizeof p, &nan);
    expect_load_error(m, "NaN values", p, FR_E_FORMAT, "non-finite");
    write_raw("b13.gguf", "adapter", "lora", "llama", true, 1, NULL, 0, p, sizeof p, NULL);
    expect_load_error(m, "no pairs", p, FR_E_FORMAT, "no .lora_a");
    expect_load_error(m, "missing file", path_in_tmp("nope.gguf", p, sizeof p), FR_E_NOTFOUND,
                      "nope.gguf");
    /* a model is not an adapter */
    expect_load_error(m, "a model file", fr_gguf_path(fr_model_gguf(m)), FR_E_FORMAT,
                      "not a LoRA adapter");
}

static void test_writer_errors(const fr_model *m)
{
    float a[4 * 32] = {0}, b[4 * 32] = {0};
    char p[320];
    fr_err e;
    fr_lora_write_params wp = {m, NULL, 8.0f, FR_TYPE_F32, NULL, 0};
    path_in_tmp("werr.gguf", p, sizeof p);
    fr_lora_tensor bad_shape = {"blk.0.attn_q.weight", 32, 16, 4, a, b};
    CHECK(fr_lora_write(p, &wp, &bad_shape, 1, &e) == FR_E_INVALID && strstr(e.msg, "[32, 32]"));
    fr_lora_tensor unknown = {"blk.0.attn_norm.weight", 32, 1, 4, a, b};
    CHECK(fr_lora_write(p, &wp, &unknown, 1, &e) == FR_E_INVALID);
    fr_lora_tensor suffixed = {"blk.0.attn_q.weight.lora_a", 32, 32, 4, a, b};
    CHECK(fr_lora_write(p, &wp, &suffixed, 1, &e) == FR_E_INVALID && strstr(e.msg, "lora_a"));
    fr_lora_tensor twice[2] = {{"blk.0.attn_q.weight", 32, 32, 4, a, b},
                               {"blk.0.attn_q.weight", 32, 32, 4, a, b}};
    CHECK(fr_lora_write(p, &wp, twice, 2, &e) == FR_E_INVALID && strstr(e.msg, "twice"));
    fr_lora_tensor zero_rank = {"blk.0.attn_q.weight", 32, 32, 0, a, b};
    CHECK(fr_lora_write(p, &wp, &zero_rank, 1, &e) == FR_E_INVALID);
    CHECK(fr_lora_write(p, &wp, twice, 0, &e) == FR_E_INVALID);
    fr_lora_write_params noarch = {NULL, NULL, 8.0f, FR_TYPE_F32, NULL, 0};
    CHECK(fr_lora_write(p, &noarch, twice, 1, &e) == FR_E_INVALID);
    CHECK(access(p, F_OK) != 0);
    /* never over a protected path (the base model) */
    const char *prot[1] = {fr_gguf_path(fr_model_gguf(m))};
    fr_lora_write_params pp = {m, NULL, 8.0f, FR_TYPE_F32, prot, 1};
    CHECK(fr_lora_write(prot[0], &pp, twice, 1, &e) == FR_E_INVALID);
    /* without a base, arch is taken as given and shapes are not checked */
    fr_lora_write_params free_arch = {NULL, "qwen2", 0.0f, FR_TYPE_F32, NULL, 0};
    CHECK(fr_lora_write(p, &free_arch, &bad_shape, 1, &e) == FR_OK);
}

/* B = 0: bit-identical logits, every thread count. */
static void test_b_zero(fr_model *m, const char *what)
{
    fr_lora_tensor t[16];
    char names[16][64];
    size_t n = random_tensors(m, 4, true, t, names);
    fr_lora *a = write_and_load(m, "zero.gguf", 8.0f, FR_TYPE_F32, t, n);
    free_tensors(t, n);
    if (!a)
        return;
    uint32_t V = fr_model_hparams(m)->n_vocab;
    for (int th = 1; th <= 3; th += 2) {
        float *base = model_logits(m, NULL, NULL, 0, th);
        float sc = 3.0f;
        float *with = model_logits(m, &a, &sc, 1, th);
        CHECK_MSG(base && with && memcmp(base, with, sizeof(float) * N_TOK * V) == 0,
                  "%s: B = 0 changed the logits (threads %d)", what, th);
        free(base);
        free(with);
    }
    /* one token at a time (the fused product for few tokens) */
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 16;
    cp.n_threads = 2;
    fr_context *c0 = NULL, *c1 = NULL;
    fr_err e;
    if (fr_context_create(m, &cp, &c0, &e) == FR_OK && fr_context_create(m, &cp, &c1, &e) == FR_OK &&
        fr_context_set_lora(c1, &a, NULL, 1, &e) == FR_OK) {
        bool same = true;
        for (int i = 0; i < N_TOK; i++) {
            fr_batch b = {1, &k_prompt[i], NULL, NULL};
            CHECK(fr_context_decode(c0, &b, &e) == FR_OK && fr_context_decode(c1, &b, &e) == FR_OK);
            same = same && memcmp(fr_context_logits(c0, 0), fr_context_logits(c1, 0),
                                  sizeof(float) * V) == 0;
        }
        CHECK_MSG(same, "%s: B = 0 changed decode-step logits", what);
    }
    fr_context_free(c0);
    fr_context_free(c1);
    fr_lora_free(a);
}

/* Random adapters at run time against the independent merge. */
static void test_vs_reference(fr_model *m, const char *what, double tol)
{
    uint32_t V = fr_model_hparams(m)->n_vocab;
    fr_lora_tensor t1[16], t2[16];
    char n1[16][64], n2[16][64];
    size_t c1 = random_tensors(m, 4, false, t1, n1);
    size_t c2_all = random_tensors(m, 3, false, t2, n2);
    size_t c2 = 5; /* the second adapter touches only some weights */
    fr_lora *a1 = write_and_load(m, "r1.gguf", 8.0f, FR_TYPE_F32, t1, c1); /* s = 0.5 * 8/4 */
    fr_lora *a2 = write_and_load(m, "r2.gguf", 0.0f, FR_TYPE_F32, t2, c2); /* s = -0.7 */
    if (a1 && a2) {
        float *base = model_logits(m, NULL, NULL, 0, 1);
        /* one adapter */
        float s1 = 0.5f;
        ref_adapter r1 = {t1, c1, 0.5 * 8.0 / 4.0};
        fr_model *mm = reference_merge(m, &r1, 1, "ref1.gguf");
        float *want = mm ? model_logits(mm, NULL, NULL, 0, 1) : NULL;
        float *got = model_logits(m, &a1, &s1, 1, 2);
        double moved = 0;
        if (base && want && got) {
            double d = rel_diff(got, want, (size_t)N_TOK * V);
            moved = rel_diff(base, want, (size_t)N_TOK * V);
            CHECK_MSG(d < tol && d < 0.25 * moved,
                      "%s: one adapter vs reference merge: rel diff %.3g (adapter moves %.3g)",
                      what, d, moved);
            CHECK_MSG(moved > 1e-2, "%s: the adapter barely changes the logits (%.3g)", what,
                      moved);
        }
        free(want);
        free(got);
        fr_model_free(mm);
        /* two adapters, the second with alpha 0 and a negative scale */
        fr_lora *both[2] = {a1, a2};
        float sc[2] = {0.5f, -0.7f};
        ref_adapter r2[2] = {{t1, c1, 1.0}, {t2, c2, -0.7}};
        mm = reference_merge(m, r2, 2, "ref2.gguf");
        want = mm ? model_logits(mm, NULL, NULL, 0, 1) : NULL;
        got = model_logits(m, both, sc, 2, 3);
        if (want && got) {
            double d = rel_diff(got, want, (size_t)N_TOK * V);
            CHECK_MSG(d < tol && d < 0.25 * moved,
                      "%s: two adapters vs reference merge: rel diff %.3g", what, d);
        }
        /* threads do not change the result */
        float *got1 = model_logits(m, both, sc, 2, 1);
        CHECK(got && got1 && memcmp(got, got1, sizeof(float) * N_TOK * V) == 0);
        free(got1);
        /* token by token equals the batch */
        fr_context_params cp = fr_context_default_params();
        cp.n_ctx = 16;
        cp.n_threads = 2;
        fr_context *c = NULL;
        fr_err e;
        if (got && fr_context_create(m, &cp, &c, &e) == FR_OK) {
            CHECK(fr_context_set_lora(c, both, sc, 2, &e) == FR_OK);
            double worst = 0;
            for (int i = 0; i < N_TOK; i++) {
                fr_batch b = {1, &k_prompt[i], NULL, NULL};
                CHECK(fr_context_decode(c, &b, &e) == FR_OK);
                double d = rel_diff(fr_context_logits(c, 0), got + (size_t)i * V, V);
                if (d > worst)
                    worst = d;
            }
            CHECK_MSG(worst < 1e-5, "%s: decode vs prefill with adapters: %.3g", what, worst);
            /* clearing restores the base model exactly */
            fr_context_clear_lora(c);
            CHECK_EQ_INT(fr_context_n_lora(c), 0);
            float *again = logits_of(c, &e);
            CHECK(again && base && memcmp(again, base, sizeof(float) * N_TOK * V) == 0);
            free(again);
            /* set replaces: an empty set is a clear too */
            CHECK(fr_context_set_lora(c, both, NULL, 1, &e) == FR_OK);
            CHECK_EQ_INT(fr_context_n_lora(c), 1);
            CHECK(fr_context_set_lora(c, NULL, NULL, 0, &e) == FR_OK);
            CHECK_EQ_INT(fr_context_n_lora(c), 0);
            float bad = NAN;
            CHECK(fr_context_set_lora(c, both, &bad, 1, &e) == FR_E_INVALID);
            fr_context_free(c);
        }
        free(want);
        free(got);
        free(base);
        fr_model_free(mm);
    }
    free_tensors(t1, c1);
    free_tensors(t2, c2_all);
    fr_lora_free(a1);
    fr_lora_free(a2);
}

/* An adapter belongs to the model it was loaded for; a tied model has no
 * output.weight to adapt. */
static void test_other_model(fr_model *m, fr_model *tied)
{
    fr_lora_tensor t[16];
    char names[16][64];
    size_t n = random_tensors(m, 2, false, t, names);
    fr_lora *a = write_and_load(m, "own.gguf", 0.0f, FR_TYPE_F32, t, n);
    fr_context *c = NULL;
    fr_err e;
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 8;
    cp.n_threads = 1;
    if (a && fr_context_create(tied, &cp, &c, &e) == FR_OK) {
        CHECK(fr_context_set_lora(c, &a, NULL, 1, &e) == FR_E_INVALID);
        CHECK(strstr(e.msg, "another model") != NULL);
        CHECK_EQ_INT(fr_context_n_lora(c), 0);
    }
    fr_context_free(c);
    char p[320];
    fr_lora *b = NULL;
    CHECK(fr_lora_load(fr_lora_path(a), tied, &b, &e) == FR_E_INVALID);
    CHECK_MSG(strstr(e.msg, "ties its output") != NULL, "%s", e.msg);
    CHECK(b == NULL);
    (void)p;
    fr_lora_free(a);
    free_tensors(t, n);
}

int main(void)
{
    fr_test_tmpdir(tmp, sizeof tmp);
    test_scale_rule();
    fr_model *m = make_model("base.gguf", "llama", FR_TYPE_F32, false, 11);
    fr_model *q = make_model("q8.gguf", "qwen2", FR_TYPE_Q8_0, false, 12);
    fr_model *tied = make_model("tied.gguf", "llama", FR_TYPE_F32, true, 13);
    if (m && q && tied) {
        test_format(m);
        test_raw_files(m);
        test_writer_errors(m);
        test_b_zero(m, "llama f32");
        test_b_zero(q, "qwen2 q8_0");
        test_b_zero(tied, "llama tied");
        test_vs_reference(m, "llama f32", 1e-4);
        /* the reference merge is F32 and so runs with float activations;
         * the Q8_0 base runs with 8-bit ones (documented kernel rounding) */
        test_vs_reference(q, "qwen2 q8_0", 0.03);
        test_other_model(m, tied);
    }
    fr_model_free(m);
    fr_model_free(q);
    fr_model_free(tied);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}
