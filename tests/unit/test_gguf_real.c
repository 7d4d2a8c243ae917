/* The GGUF reader on real files in ../shared (written by llama.cpp and the
 * gguf Python package), checked against facts from their READMEs:
 *  - quant/<type>.gguf: tensor shapes, types, sizes and absolute data offsets
 *    (quant/README.md tables);
 *  - models/stories260K.gguf: llama tokenizer with 512 tokens, context 2048,
 *    the hyper-parameters of the llama2.c header, output.weight equal to
 *    token_embd.weight, and weights equal to those in stories260K.bin
 *    (an independent file in llama2.c's own format);
 *  - vocab/ggml-vocab-<name>.gguf: tokenizer model and pre-tokenizer per vocab/README.md,
 *    token and merge counts from README.txt, no tensors;
 * and every file walked completely (every string of every vocabulary).
 * Finally each file is re-written with our writer (copy every key, borrow
 * every tensor) and must come out byte for byte identical to llama.cpp's
 * file (vocab-only files may gain the trailing alignment padding). */
#include "test.h"

#include "gguf_walk.h"

#include <frugal/gguf.h>
#include <time.h>

#include "base/file.h"
#include "gguf/internal.h"

static char tmpdir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool str_is(fr_gguf_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static fr_gguf *open_shared(const char *rel)
{
    char path[1024];
    fr_test_shared(rel, path, sizeof path);
    fr_gguf *g = NULL;
    fr_err e;
    double t0 = now_s();
    fr_status st = fr_gguf_open(path, &g, &e);
    double dt = now_s() - t0;
    CHECK_MSG(st == FR_OK, "%s: %s", rel, e.msg);
    if (g)
        fprintf(stderr, "%-40s open %.2f ms, %lld keys, %lld tensors\n", rel, dt * 1e3,
                (long long)fr_gguf_n_kv(g), (long long)fr_gguf_n_tensors(g));
    return g;
}

/* Walks everything (every string of every vocabulary); all of it must lie
 * inside the mapping. */
static void walk_all(const fr_gguf *g, const char *rel)
{
    uint64_t sum = 0;
    double t0 = now_s();
    CHECK_MSG(gw_walk(g, g->base, g->size, &sum) == 0, "%s: walk found inconsistencies", rel);
    fprintf(stderr, "%-40s walk %.2f ms\n", rel, (now_s() - t0) * 1e3);
}

typedef struct quant_row {
    const char *file;
    uint32_t type;
    int64_t w_ne0, w_ne1, w2_ne0, w2_ne1;
    uint64_t w_bytes, w2_bytes, w_off, w2_off;
} quant_row;

/* quant/README.md: "Types" and "The <type>.gguf files" tables. */
static const quant_row quant_rows[] = {
    {"q4_0", 2, 896, 8, 4864, 4, 4032, 10944, 448, 4480},
    {"q4_1", 3, 896, 8, 4864, 4, 4480, 12160, 448, 4928},
    {"q5_0", 6, 896, 8, 4864, 4, 4928, 13376, 448, 5376},
    {"q5_1", 7, 896, 8, 4864, 4, 5376, 14592, 448, 5824},
    {"q8_0", 8, 896, 8, 4864, 4, 7616, 20672, 448, 8064},
    {"q2_k", 10, 2048, 8, 2048, 4, 5376, 2688, 448, 5824},
    {"q3_k", 11, 2048, 8, 8192, 4, 7040, 14080, 480, 7520},
    {"q4_k", 12, 2048, 8, 8192, 4, 9216, 18432, 480, 9696},
    {"q5_k", 13, 2048, 8, 8192, 4, 11264, 22528, 480, 11744},
    {"q6_k", 14, 2048, 8, 8192, 4, 13440, 26880, 448, 13888},
    {"f16", 1, 896, 8, 4864, 4, 14336, 38912, 384, 14720},
    {"bf16", 30, 896, 8, 4864, 4, 14336, 38912, 448, 14784},
};

static void test_quant_files(void)
{
    for (size_t i = 0; i < sizeof quant_rows / sizeof quant_rows[0]; i++) {
        const quant_row *r = &quant_rows[i];
        char rel[128];
        snprintf(rel, sizeof rel, "quant/%s.gguf", r->file);
        fr_gguf *g = open_shared(rel);
        if (!g)
            continue;
        fr_err e;
        fr_gguf_str s;
        CHECK(fr_gguf_version(g) == 3 && fr_gguf_alignment(g) == 32);
        CHECK(fr_gguf_find_key(g, "general.alignment") < 0);
        CHECK(fr_gguf_n_kv(g) == 2);
        CHECK(fr_gguf_get_str(g, "general.architecture", &s, &e) == FR_OK && str_is(s, "test"));
        CHECK(fr_gguf_get_str(g, "test.source", &s, &e) == FR_OK && s.len > 20);
        CHECK(fr_gguf_n_tensors(g) == 2);
        const fr_gguf_tensor *w = fr_gguf_tensor_at(g, 0), *w2 = fr_gguf_tensor_at(g, 1);
        CHECK(w && w2 && strcmp(w->name, "w") == 0 && strcmp(w2->name, "w2") == 0);
        CHECK(fr_gguf_find_tensor(g, "w2") == w2 && fr_gguf_find_tensor(g, "w3") == NULL);
        if (!w || !w2) {
            fr_gguf_free(g);
            continue;
        }
        CHECK_MSG(w->type == (fr_type)r->type && w2->type == (fr_type)r->type, "%s types", rel);
        CHECK(w->n_dims == 2 && w->ne[0] == r->w_ne0 && w->ne[1] == r->w_ne1 && w->ne[2] == 1);
        CHECK(w2->n_dims == 2 && w2->ne[0] == r->w2_ne0 && w2->ne[1] == r->w2_ne1);
        CHECK_EQ_INT(w->nbytes, r->w_bytes);
        CHECK_EQ_INT(w2->nbytes, r->w2_bytes);
        CHECK_EQ_INT(fr_gguf_data_offset(g) + w->offset, r->w_off);
        CHECK_EQ_INT(fr_gguf_data_offset(g) + w2->offset, r->w2_off);
        walk_all(g, rel);
        fr_gguf_free(g);
    }
}

static void test_stories(void)
{
    fr_gguf *g = open_shared("models/stories260K.gguf");
    if (!g)
        return;
    fr_err e;
    fr_gguf_str s;
    uint32_t u;
    float f;
    CHECK(fr_gguf_get_str(g, "tokenizer.ggml.model", &s, &e) == FR_OK && str_is(s, "llama"));
    CHECK(fr_gguf_get_str(g, "general.architecture", &s, &e) == FR_OK && str_is(s, "llama"));
    fr_gguf_arr toks, scores;
    CHECK(fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, &e) == FR_OK && toks.n == 512 &&
          toks.type == FR_GGUF_STRING);
    CHECK(fr_gguf_get_arr(g, "tokenizer.ggml.scores", &scores, &e) == FR_OK && scores.n == 512);
    CHECK(fr_gguf_get_u32(g, "llama.context_length", &u, &e) == FR_OK && u == 2048);
    /* llama2.c header: dim 64, hidden 172, layers 5, heads 8, kv heads 4 */
    CHECK(fr_gguf_get_u32(g, "llama.embedding_length", &u, &e) == FR_OK && u == 64);
    CHECK(fr_gguf_get_u32(g, "llama.feed_forward_length", &u, &e) == FR_OK && u == 172);
    CHECK(fr_gguf_get_u32(g, "llama.block_count", &u, &e) == FR_OK && u == 5);
    CHECK(fr_gguf_get_u32(g, "llama.attention.head_count", &u, &e) == FR_OK && u == 8);
    CHECK(fr_gguf_get_u32(g, "llama.attention.head_count_kv", &u, &e) == FR_OK && u == 4);
    CHECK(fr_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &e) == FR_OK &&
          f == 1e-5f);
    /* 2 + 9 per layer tensors + output */
    CHECK_EQ_INT(fr_gguf_n_tensors(g), 3 + 9 * 5);
    const fr_gguf_tensor *emb = fr_gguf_find_tensor(g, "token_embd.weight");
    const fr_gguf_tensor *out = fr_gguf_find_tensor(g, "output.weight");
    CHECK(emb && out && emb->type == FR_TYPE_F32 && emb->ne[0] == 64 && emb->ne[1] == 512);
    CHECK(emb && out && out->nbytes == emb->nbytes &&
          memcmp(out->data, emb->data, emb->nbytes) == 0);

    /* The same weights in llama2.c's format: token embeddings, then the
     * (layer, dim) attention norms, ..., ffn norms, w1 (layer, hidden, dim),
     * w2, w3, final norm. */
    char path[1024];
    fr_test_shared("models/stories260K.bin", path, sizeof path);
    char *bin;
    size_t bn;
    CHECK(fr_read_file(path, 4 << 20, &bin, &bn, &e) == FR_OK);
    const int dim = 64, hid = 172, nl = 5, voc = 512, kvd = 32;
    size_t off = 28;
    CHECK(emb && memcmp(bin + off, emb->data, (size_t)voc * dim * 4) == 0);
    off += (size_t)voc * dim * 4;
    for (int l = 0; l < nl; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        const fr_gguf_tensor *t = fr_gguf_find_tensor(g, name);
        CHECK(t && t->nbytes == (uint64_t)dim * 4 &&
              memcmp(bin + off + (size_t)l * dim * 4, t->data, t->nbytes) == 0);
    }
    off += (size_t)nl * dim * 4;                                            /* rms_att */
    off += (size_t)nl * dim * dim * 4 * 2 + (size_t)nl * dim * kvd * 4 * 2; /* wq wk wv wo */
    for (int l = 0; l < nl; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        const fr_gguf_tensor *t = fr_gguf_find_tensor(g, name);
        CHECK(t && memcmp(bin + off + (size_t)l * dim * 4, t->data, t->nbytes) == 0);
    }
    off += (size_t)nl * dim * 4;
    for (int l = 0; l < nl; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_gate.weight", l);
        const fr_gguf_tensor *t = fr_gguf_find_tensor(g, name);
        CHECK(t && t->ne[0] == dim && t->ne[1] == hid &&
              memcmp(bin + off + (size_t)l * dim * hid * 4, t->data, t->nbytes) == 0);
    }
    off += (size_t)nl * dim * hid * 4 * 3;
    const fr_gguf_tensor *on = fr_gguf_find_tensor(g, "output_norm.weight");
    CHECK(on && memcmp(bin + off, on->data, (size_t)dim * 4) == 0);
    free(bin);
    walk_all(g, "stories260K.gguf");
    fr_gguf_free(g);
}

typedef struct vocab_row {
    const char *name, *model, *pre; /* pre NULL: not checked */
    uint64_t n_tokens;              /* 0: not checked here */
    uint64_t n_merges;
} vocab_row;

/* vocab/README.md table; token/merge counts of the two rebuilt vocabularies
 * from vocab/README.txt. */
static const vocab_row vocab_rows[] = {
    {"llama-spm", "llama", "default", 0, 0},
    {"phi-3", "llama", "default", 0, 0},
    {"llama-bpe", "gpt2", "llama-bpe", 128256, 280147},
    {"qwen2", "gpt2", "qwen2", 151936, 151387},
    {"gpt-2", "gpt2", "gpt-2", 0, 0},
    {"deepseek-llm", "gpt2", "deepseek-llm", 0, 0},
    {"deepseek-coder", "gpt2", "deepseek-coder", 0, 0},
    {"falcon", "gpt2", "falcon", 0, 0},
    {"mpt", "gpt2", "mpt", 0, 0},
    {"starcoder", "gpt2", "starcoder", 0, 0},
    {"refact", "gpt2", "refact", 0, 0},
    {"bert-bge", "bert", NULL, 0, 0},
    {"baichuan", NULL, NULL, 0, 0},
    {"gpt-neox", NULL, NULL, 0, 0},
};

static void test_vocab_files(void)
{
    for (size_t i = 0; i < sizeof vocab_rows / sizeof vocab_rows[0]; i++) {
        const vocab_row *r = &vocab_rows[i];
        char rel[128];
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", r->name);
        fr_gguf *g = open_shared(rel);
        if (!g)
            continue;
        fr_err e;
        fr_gguf_str s, arch;
        fr_gguf_arr toks, a;
        CHECK(fr_gguf_n_tensors(g) == 0);
        if (r->model)
            CHECK_MSG(fr_gguf_get_str(g, "tokenizer.ggml.model", &s, &e) == FR_OK &&
                          str_is(s, r->model),
                      "%s model", rel);
        if (r->pre)
            CHECK_MSG(fr_gguf_get_str(g, "tokenizer.ggml.pre", &s, &e) == FR_OK &&
                          str_is(s, r->pre),
                      "%s pre", rel);
        CHECK(fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, &e) == FR_OK &&
              toks.type == FR_GGUF_STRING && toks.n > 1000);
        if (r->n_tokens)
            CHECK_EQ_INT(toks.n, r->n_tokens);
        if (r->n_merges)
            CHECK(fr_gguf_get_arr(g, "tokenizer.ggml.merges", &a, &e) == FR_OK &&
                  a.n == r->n_merges);
        /* internal consistency: <arch>.vocab_size and the per-token arrays */
        CHECK(fr_gguf_get_str(g, "general.architecture", &arch, &e) == FR_OK);
        char key[128];
        snprintf(key, sizeof key, "%.*s.vocab_size", (int)arch.len, arch.ptr);
        uint32_t vs;
        if (fr_gguf_get_u32(g, key, &vs, &e) == FR_OK)
            CHECK_EQ_INT(vs, toks.n);
        if (fr_gguf_get_arr(g, "tokenizer.ggml.token_type", &a, &e) == FR_OK)
            CHECK_EQ_INT(a.n, toks.n);
        if (fr_gguf_get_arr(g, "tokenizer.ggml.scores", &a, &e) == FR_OK)
            CHECK_EQ_INT(a.n, toks.n);
        walk_all(g, rel);
        fr_gguf_free(g);
    }
    /* spot values every llama SentencePiece vocabulary has */
    fr_gguf *g = open_shared("vocab/ggml-vocab-llama-spm.gguf");
    fr_gguf_arr toks;
    fr_gguf_str s;
    fr_err e;
    CHECK(g && fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, &e) == FR_OK);
    CHECK(g && fr_gguf_arr_str(&toks, 1, &s) == FR_OK && str_is(s, "<s>"));
    CHECK(g && fr_gguf_arr_str(&toks, 2, &s) == FR_OK && str_is(s, "</s>"));
    CHECK(g && fr_gguf_arr_str(&toks, 3, &s) == FR_OK && str_is(s, "<0x00>"));
    fr_gguf_free(g);
}

/* Re-write a file with our writer; it must reproduce llama.cpp's bytes. */
static void rewrite_identical(const char *rel)
{
    char path[1024], out[600];
    fr_test_shared(rel, path, sizeof path);
    fr_gguf *g;
    fr_err e;
    if (fr_gguf_open(path, &g, &e) != FR_OK) {
        CHECK_MSG(0, "%s", e.msg);
        return;
    }
    fr_gguf_writer *w;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++)
        CHECK(fr_gguf_writer_copy_kv(w, g, i) == FR_OK);
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        CHECK(fr_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, &e) ==
              FR_OK);
    }
    snprintf(out, sizeof out, "%s/rewrite.gguf", tmpdir);
    const char *protect[1] = {path};
    CHECK(fr_gguf_writer_write(w, out, protect, 1, NULL, NULL, &e) == FR_OK);
    /* writing over the input is refused */
    CHECK(fr_gguf_writer_write(w, path, protect, 1, NULL, NULL, &e) == FR_E_INVALID);
    fr_gguf_writer_free(w);
    char *a, *b;
    size_t na, nb;
    CHECK(fr_read_file(path, 64 << 20, &a, &na, &e) == FR_OK);
    CHECK(fr_read_file(out, 64 << 20, &b, &nb, &e) == FR_OK);
    bool same = na == nb && memcmp(a, b, na) == 0;
    if (!same && fr_gguf_n_tensors(g) == 0 && nb > na && nb - na < fr_gguf_alignment(g) &&
        nb % fr_gguf_alignment(g) == 0 && memcmp(a, b, na) == 0) {
        same = true; /* the original omitted the final padding */
        for (size_t k = na; k < nb; k++)
            same = same && b[k] == 0;
    }
    CHECK_MSG(same, "%s: rewritten file differs (%zu vs %zu bytes)", rel, na, nb);
    free(a);
    free(b);
    fr_gguf_free(g);
}

int main(void)
{
    char probe[1024];
    fr_test_shared("models/stories260K.gguf", probe, sizeof probe);
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    test_quant_files();
    test_stories();
    test_vocab_files();
    rewrite_identical("models/stories260K.gguf");
    for (size_t i = 0; i < sizeof quant_rows / sizeof quant_rows[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "quant/%s.gguf", quant_rows[i].file);
        rewrite_identical(rel);
    }
    for (size_t i = 0; i < sizeof vocab_rows / sizeof vocab_rows[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vocab_rows[i].name);
        rewrite_identical(rel);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    TEST_END();
}
