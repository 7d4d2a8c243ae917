/* src/gguf/summary.c: llama.cpp file-type names (llama.h's llama_ftype
 * values), hyper-parameters read generically from "<arch>.*" keys (integer
 * widths, per-layer arrays, defaults), and the RAM estimate against numbers
 * computed by hand. */
#include "test.h"

#include "gguf/summary.h"

#include <frugal/gguf.h>

static char dir[256];

static void test_ftype(void)
{
    CHECK_STR(fr_gguf_ftype_name(0), "ALL_F32");
    CHECK_STR(fr_gguf_ftype_name(1), "MOSTLY_F16");
    CHECK_STR(fr_gguf_ftype_name(2), "MOSTLY_Q4_0");
    CHECK_STR(fr_gguf_ftype_name(7), "MOSTLY_Q8_0");
    CHECK_STR(fr_gguf_ftype_name(10), "MOSTLY_Q2_K");
    CHECK_STR(fr_gguf_ftype_name(15), "MOSTLY_Q4_K_M");
    CHECK_STR(fr_gguf_ftype_name(17), "MOSTLY_Q5_K_M");
    CHECK_STR(fr_gguf_ftype_name(18), "MOSTLY_Q6_K");
    CHECK_STR(fr_gguf_ftype_name(32), "MOSTLY_BF16");
    CHECK_STR(fr_gguf_ftype_name(1024 | 15), "MOSTLY_Q4_K_M"); /* GUESSED flag */
    CHECK(fr_gguf_ftype_name(5) == NULL);
    CHECK(fr_gguf_ftype_name(6) == NULL);
    CHECK(fr_gguf_ftype_name(38) == NULL);
    CHECK(fr_gguf_ftype_name(UINT32_MAX) == NULL);
}

static void test_estimate(void)
{
    /* Llama-3.2-1B shape at context 4096 */
    fr_hparams hp = {.arch = "llama",
                     .n_ctx_train = 131072,
                     .n_embd = 2048,
                     .n_layer = 16,
                     .n_ff = 8192,
                     .n_head = 32,
                     .n_head_kv = 8,
                     .head_dim_k = 64,
                     .head_dim_v = 64,
                     .n_vocab = 128256};
    fr_mem_estimate m;
    fr_mem_estimate_compute(&hp, 1000, 4096, &m);
    CHECK(m.has_kv && m.has_work);
    CHECK_EQ_INT(m.kv_cache, 134217728ll); /* 16 x 4096 x 8 x 128 x 2 (F16) */
    CHECK_EQ_INT(m.work, 4ll * (6144 + 16384 + 2048 + 1024 + 131072 + 128256));
    CHECK_EQ_INT(m.total, 1000 + 134217728ll + 4ll * 284928);
    /* different K and V head sizes */
    hp.head_dim_v = 32;
    fr_mem_estimate_compute(&hp, 0, 10, &m);
    CHECK_EQ_INT(m.kv_cache, 16ll * 10 * 8 * (64 + 32) * 2);
    /* missing hyper-parameters: weights only */
    fr_hparams none = {.n_ctx_train = -1,
                       .n_embd = -1,
                       .n_layer = -1,
                       .n_ff = -1,
                       .n_head = -1,
                       .n_head_kv = -1,
                       .head_dim_k = -1,
                       .head_dim_v = -1,
                       .n_vocab = -1};
    fr_mem_estimate_compute(&none, 777, 4096, &m);
    CHECK(!m.has_kv && !m.has_work && m.kv_cache == 0 && m.work == 0 && m.total == 777);
    /* absurd values saturate instead of wrapping */
    hp.n_layer = INT64_MAX;
    fr_mem_estimate_compute(&hp, 5, UINT64_MAX, &m);
    CHECK(m.kv_cache == UINT64_MAX && m.total == UINT64_MAX);
}

static fr_gguf *write_and_open(fr_gguf_writer *w, const char *name)
{
    char path[512];
    fr_err e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, &e) == FR_OK);
    fr_gguf_writer_free(w);
    fr_gguf *g = NULL;
    CHECK(fr_gguf_open(path, &g, &e) == FR_OK);
    return g;
}

static void test_hparams(void)
{
    fr_gguf_writer *w;
    fr_err e;
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    fr_gguf_writer_set_str(w, "general.architecture", "qwen3");
    fr_gguf_writer_set_u64(w, "qwen3.context_length", 40960);
    fr_gguf_writer_set_i32(w, "qwen3.embedding_length", 1024);
    fr_gguf_writer_set_u32(w, "qwen3.block_count", 28);
    const int32_t ff[3] = {100, 3072, 200};
    fr_gguf_writer_set_arr(w, "qwen3.feed_forward_length", FR_GGUF_INT32, ff, 3);
    fr_gguf_writer_set_u16(w, "qwen3.attention.head_count", 16);
    fr_gguf_writer_set_u32(w, "qwen3.attention.key_length", 128);
    fr_gguf_writer_set_u32(w, "qwen3.vocab_size", 151936);
    fr_gguf *g = write_and_open(w, "h1.gguf");
    fr_hparams hp;
    fr_hparams_read(g, &hp);
    CHECK_STR(hp.arch, "qwen3");
    CHECK_EQ_INT(hp.n_ctx_train, 40960);
    CHECK_EQ_INT(hp.n_embd, 1024);
    CHECK_EQ_INT(hp.n_layer, 28);
    CHECK_EQ_INT(hp.n_ff, 3072); /* max of the per-layer array */
    CHECK_EQ_INT(hp.n_head, 16);
    CHECK_EQ_INT(hp.n_head_kv, 16);   /* defaults to head_count */
    CHECK_EQ_INT(hp.head_dim_k, 128); /* key_length wins over 1024 / 16 */
    CHECK_EQ_INT(hp.head_dim_v, 128);
    CHECK_EQ_INT(hp.n_vocab, 151936); /* vocab_size when there is no token list */
    CHECK_EQ_INT(fr_hparams_arch_int(g, "qwen3", "missing"), -1);
    CHECK_EQ_INT(fr_hparams_arch_int(g, "", "block_count"), -1);
    fr_gguf_free(g);

    /* head_dim from n_embd / n_head; vocab from token_embd.weight rows */
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    fr_gguf_writer_set_str(w, "general.architecture", "llama");
    fr_gguf_writer_set_u32(w, "llama.embedding_length", 64);
    fr_gguf_writer_set_u32(w, "llama.attention.head_count", 8);
    fr_gguf_writer_set_u32(w, "llama.attention.head_count_kv", 2);
    fr_gguf_writer_set_str(w, "llama.block_count", "five"); /* wrong type: ignored */
    int64_t ne[2] = {64, 300};
    static float emb[64 * 300];
    CHECK(fr_gguf_writer_add_tensor(w, "token_embd.weight", FR_TYPE_F32, 2, ne, emb, &e) == FR_OK);
    g = write_and_open(w, "h2.gguf");
    fr_hparams_read(g, &hp);
    CHECK_EQ_INT(hp.head_dim_k, 8);
    CHECK_EQ_INT(hp.n_head_kv, 2);
    CHECK_EQ_INT(hp.n_layer, -1);
    CHECK_EQ_INT(hp.n_vocab, 300);
    CHECK_EQ_INT(hp.n_ctx_train, -1);
    fr_gguf_free(g);

    /* the token list wins; no architecture at all */
    CHECK(fr_gguf_writer_create(&w, &e) == FR_OK);
    const char *toks[3] = {"a", "b", "c"};
    fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3);
    g = write_and_open(w, "h3.gguf");
    fr_hparams_read(g, &hp);
    CHECK_STR(hp.arch, "");
    CHECK_EQ_INT(hp.n_vocab, 3);
    CHECK_EQ_INT(hp.n_embd, -1);
    fr_gguf_free(g);
}

int main(void)
{
    fr_test_tmpdir(dir, sizeof dir);
    test_ftype();
    test_estimate();
    test_hparams();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    TEST_END();
}
