/* Tokenizers built from GGUF files: the llama2.c importer against
 * stories260K.gguf (same arrays as llama.cpp's converter wrote, same ids,
 * and the arrays written back through the GGUF writer load to the same
 * tokenizer); special ids and end-of-generation tokens of real vocabularies;
 * load time; 1 MB hostile inputs on real vocabularies (time-bounded);
 * errors for bad tokenizer metadata (unknown pre-tokenizer, wrong types,
 * missing merges), each naming the key. */
#include "test.h"

#include "base/clock.h"

#include <frugal/gguf.h>
#include <frugal/tokenizer.h>

static fr_tokenizer *load(const char *rel)
{
    char path[512];
    fr_test_shared(rel, path, sizeof path);
    fr_tokenizer *t = NULL;
    fr_err err = {0};
    CHECK_MSG(fr_tokenizer_load(path, &t, &err) == FR_OK, "%s: %s", rel, err.msg);
    return t;
}

static bool same_ids(const fr_tokenizer *a, const fr_tokenizer *b, const char *s)
{
    int32_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    fr_encode_opts o = FR_ENCODE_DEFAULTS;
    bool ok = fr_tokenize(a, s, strlen(s), &o, &x, &nx, NULL) == FR_OK &&
              fr_tokenize(b, s, strlen(s), &o, &y, &ny, NULL) == FR_OK && nx == ny &&
              memcmp(x, y, nx * sizeof *x) == 0;
    free(x);
    free(y);
    return ok;
}

static void test_llama2c_vs_gguf(void)
{
    char tokp[512], tmp[256], out[600];
    fr_test_shared("models/tok512.bin", tokp, sizeof tokp);
    fr_tokenizer *g = load("models/stories260K.gguf");
    fr_llama2c_vocab *v = NULL;
    fr_err err = {0};
    CHECK(fr_llama2c_vocab_read(tokp, 0, &v, &err) == FR_OK);
    if (!g || !v)
        return;
    /* the importer writes what llama.cpp's converter wrote into stories260K.gguf */
    CHECK_EQ_INT(v->n_tokens, fr_tokenizer_n_tokens(g));
    int text_diff = 0, type_diff = 0, score_diff = 0;
    for (uint32_t i = 0; i < v->n_tokens; i++) {
        size_t len;
        const char *s = fr_tokenizer_token_text(g, (int32_t)i, &len);
        text_diff += len != v->token_lens[i] || memcmp(s, v->tokens[i], len) != 0;
        type_diff += (int)fr_tokenizer_token_type(g, (int32_t)i) != v->token_types[i];
        score_diff += fr_tokenizer_token_score(g, (int32_t)i) != v->scores[i];
    }
    CHECK_EQ_INT(text_diff, 0);
    CHECK_EQ_INT(type_diff, 0);
    CHECK_EQ_INT(score_diff, 0);

    fr_tokenizer *imp = NULL;
    CHECK(fr_tokenizer_from_llama2c(v, &imp, &err) == FR_OK);
    const char *texts[] = {"Once upon a time",
                           "Lily and Tom went to the park.",
                           "",
                           " leading  and  double  spaces ",
                           "\xe2\x82\xac 5 caf\xc3\xa9\n\ttab",
                           "\xff\xfe broken \xc3",
                           "<s>not special</s>"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        CHECK_MSG(same_ids(g, imp, texts[i]), "'%s'", texts[i]);

    /* the arrays go through the GGUF writer and load back to the same tokenizer */
    fr_test_tmpdir(tmp, sizeof tmp);
    snprintf(out, sizeof out, "%s/imported.gguf", tmp);
    fr_gguf_writer *w = NULL;
    CHECK(fr_gguf_writer_create(&w, &err) == FR_OK);
    fr_gguf_writer_set_str(w, "general.architecture", "llama");
    fr_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, NULL,
                               v->n_tokens);
    fr_gguf_writer_set_arr(w, "tokenizer.ggml.scores", FR_GGUF_FLOAT32, v->scores, v->n_tokens);
    fr_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FR_GGUF_INT32, v->token_types,
                           v->n_tokens);
    fr_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    fr_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    fr_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    CHECK(fr_gguf_writer_write(w, out, NULL, 0, NULL, NULL, &err) == FR_OK);
    fr_gguf_writer_free(w);
    fr_tokenizer *back = NULL;
    CHECK_MSG(fr_tokenizer_load(out, &back, &err) == FR_OK, "%s", err.msg);
    if (back)
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            CHECK_MSG(same_ids(g, back, texts[i]), "written: '%s'", texts[i]);
    remove(out);
    remove(tmp);
    fr_tokenizer_free(back);
    fr_tokenizer_free(imp);
    fr_tokenizer_free(g);
    fr_llama2c_vocab_free(v);
}

static void test_specials(void)
{
    fr_tokenizer *t = load("vocab/ggml-vocab-llama-bpe.gguf");
    if (t) {
        CHECK_EQ_INT(fr_tokenizer_bos(t), 128000);
        CHECK_EQ_INT(fr_tokenizer_eos(t), 128009);
        CHECK(fr_tokenizer_add_bos(t));
        CHECK_EQ_INT(fr_tokenizer_eot(t), fr_tokenizer_find(t, "<|eot_id|>", 10));
        CHECK(fr_tokenizer_is_eog(t, fr_tokenizer_find(t, "<|eot_id|>", 10)));
        CHECK(fr_tokenizer_is_eog(t, fr_tokenizer_find(t, "<|end_of_text|>", 15)));
        CHECK(fr_tokenizer_is_eog(t, fr_tokenizer_find(t, "<|eom_id|>", 10)));
        CHECK(!fr_tokenizer_is_eog(t, 128000));
        CHECK_EQ_INT(fr_tokenizer_nl(t), 198); /* "\n" is Ċ, id 198 in the GPT-2 family */
        /* a chat prompt with parse_special: each special text is one id */
        const char *p = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        int32_t *ids = NULL;
        size_t n = 0;
        fr_encode_opts o = {0, 0, true};
        CHECK(fr_tokenize(t, p, strlen(p), &o, &ids, &n, NULL) == FR_OK);
        CHECK(n >= 5 && ids[0] == fr_tokenizer_find(t, "<|start_header_id|>", 19) &&
              ids[n - 1] == fr_tokenizer_eot(t));
        char *s = NULL;
        size_t len;
        CHECK(fr_detokenize(t, ids, n, FR_DECODE_SPECIAL, &s, &len, NULL) == FR_OK &&
              strcmp(s, p) == 0);
        free(s);
        CHECK(fr_detokenize(t, ids, n, 0, &s, &len, NULL) == FR_OK && strcmp(s, "user\n\nHi") == 0);
        free(s);
        free(ids);
        fr_tokenizer_free(t);
    }
    t = load("vocab/ggml-vocab-qwen2.gguf");
    if (t) {
        CHECK(!fr_tokenizer_add_bos(t));
        CHECK_EQ_INT(fr_tokenizer_eos(t), 151645);
        CHECK(fr_tokenizer_is_eog(t, fr_tokenizer_find(t, "<|im_end|>", 10)));
        CHECK(fr_tokenizer_is_eog(t, fr_tokenizer_find(t, "<|endoftext|>", 13)));
        fr_tokenizer_free(t);
    }
    t = load("vocab/ggml-vocab-llama-spm.gguf");
    if (t) {
        CHECK_EQ_INT(fr_tokenizer_nl(t), 13); /* <0x0A> */
        CHECK(fr_tokenizer_is_eog(t, 2));
        fr_tokenizer_free(t);
    }
    /* gpt-neox has no tokenizer.ggml.pre: 'default', and a warning says so */
    t = load("vocab/ggml-vocab-gpt-neox.gguf");
    if (t) {
        CHECK_STR(fr_tokenizer_pre(t), "default");
        CHECK(fr_tokenizer_warning(t) != NULL);
        fr_tokenizer_free(t);
    }
}

static void test_load_time(void)
{
    char path[512];
    fr_test_shared("vocab/ggml-vocab-llama-bpe.gguf", path, sizeof path);
    double t0 = fr_cpu_time_s(); /* CPU time: immune to machine load */
    fr_tokenizer *t = NULL;
    CHECK(fr_tokenizer_load(path, &t, NULL) == FR_OK);
    double dt = fr_cpu_time_s() - t0;
    fprintf(stderr, "llama-bpe (128256 tokens, 280147 merges) loads in %.3f s\n", dt);
    CHECK_MSG(dt < (getenv("FR_SANITIZED") ? 20.0 : 3.0), "load took %.2f s of CPU", dt);
    fr_tokenizer_free(t);
}

static void test_hostile_real(void)
{
    static const char *vocabs[] = {"vocab/ggml-vocab-llama-bpe.gguf", "vocab/ggml-vocab-qwen2.gguf",
                                   "vocab/ggml-vocab-llama-spm.gguf",
                                   "vocab/ggml-vocab-deepseek-llm.gguf",
                                   "vocab/ggml-vocab-bert-bge.gguf"};
    bool san = getenv("FR_SANITIZED") != NULL;
    /* 1 MiB for Llama 3 (the stated bound: well under a second or two);
     * 256 KiB for the others to keep the test short */
    double limit = san ? 40.0 : 5.0; /* catches quadratic blow-ups, not speed */
    char *big = malloc(1u << 20);
    uint64_t x = 42;
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        fr_tokenizer *t = load(vocabs[v]);
        if (!t)
            continue;
        size_t mb = san ? (64u << 10) : v == 0 ? (1u << 20) : (256u << 10);
        /* a text made of every special token's text, repeated */
        size_t ns = 0;
        for (size_t o = 0; o < mb;) {
            for (uint32_t i = 0; i < fr_tokenizer_n_tokens(t) && o < mb; i++) {
                fr_token_type ty = fr_tokenizer_token_type(t, (int32_t)i);
                if (ty != FR_TOKEN_CONTROL && ty != FR_TOKEN_USER_DEFINED)
                    continue;
                size_t l;
                const char *s = fr_tokenizer_token_text(t, (int32_t)i, &l);
                if (o + l > mb)
                    l = mb - o;
                memcpy(big + o, s, l);
                o += l;
                ns++;
            }
            if (ns == 0)
                break;
        }
        for (int k = 0; k < 8; k++) {
            static const char *kinds[] = {"specials", "spaces",   "letters", "random bytes",
                                          "NULs",     "newlines", "digits",  "  x"};
            if (k == 0 && ns == 0)
                continue;
            for (size_t i = 0; k > 0 && i < mb; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                big[i] = k == 1   ? ' '
                         : k == 2 ? 'a'
                         : k == 3 ? (char)x
                         : k == 4 ? 0
                         : k == 5 ? '\n'
                         : k == 6 ? (char)('0' + i % 10)
                                  : "  x"[i % 3];
            }
            for (int special = k == 0 ? 0 : 1; special < 2; special++) {
                /* BOS and EOS; BERT has no EOS: [CLS] ... [SEP] come with BOS */
                bool wpm = strcmp(fr_tokenizer_model(t), "bert") == 0;
                fr_encode_opts o = {1, wpm ? 0 : 1, special != 0};
                int32_t *ids = NULL;
                size_t n = 0;
                double t0 = fr_cpu_time_s(); /* CPU time: immune to machine load */
                fr_status st = fr_tokenize(t, big, mb, &o, &ids, &n, NULL);
                double dt = fr_cpu_time_s() - t0;
                /* WordPiece drops NULs and splits nothing out of white space */
                bool empty_ok = wpm && (k == 1 || k == 4 || k == 5);
                CHECK_MSG(st == FR_OK && (n > 2 || (empty_ok && n == 2)), "%s / %s", vocabs[v],
                          kinds[k]);
                if (getenv("FR_VERBOSE"))
                    fprintf(stderr, "%s %s %d %.3f\n", vocabs[v], kinds[k], special, dt);
                CHECK_MSG(dt < limit, "%s / %s (parse_special %d): %.2f s for %zu bytes", vocabs[v],
                          kinds[k], special, dt, mb);
                bool in_range = true;
                for (size_t i = 0; i < n; i++)
                    in_range &= ids[i] >= 0 && (uint32_t)ids[i] < fr_tokenizer_n_tokens(t);
                CHECK(in_range);
                free(ids);
            }
        }
        fr_tokenizer_free(t);
    }
    free(big);
}

/* Writes a small gpt2 vocabulary GGUF with the given pre-tokenizer and
 * optionally broken keys, and returns the load status. */
static fr_status load_custom(const char *dir, const char *pre, int breakage, fr_err *err)
{
    char path[600];
    snprintf(path, sizeof path, "%s/custom.gguf", dir);
    static const char *toks[] = {"a", "b", "ab", "\xc4\xa0"};
    static const char *merges[] = {"a b"};
    static const int32_t types[] = {1, 1, 1, 1};
    fr_gguf_writer *w = NULL;
    fr_gguf_writer_create(&w, NULL);
    fr_gguf_writer_set_str(w, "tokenizer.ggml.model", breakage == 4 ? "rwkv" : "gpt2");
    if (breakage == 6) /* a NUL inside the name must not make it read as "gpt-2" */
        fr_gguf_writer_set_strn(w, "tokenizer.ggml.pre", "gpt-2\0x", 7);
    else if (pre)
        fr_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    if (breakage == 1) /* tokens as integers */
        fr_gguf_writer_set_arr(w, "tokenizer.ggml.tokens", FR_GGUF_INT32, types, 4);
    else
        fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 4);
    if (breakage != 2)
        fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 1);
    if (breakage == 3) /* fewer types than tokens */
        fr_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FR_GGUF_INT32, types, 2);
    if (breakage == 5)
        fr_gguf_writer_set_str(w, "tokenizer.ggml.bos_token_id", "one");
    fr_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 0xffffffffu); /* "none": default */
    fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, NULL);
    fr_gguf_writer_free(w);
    fr_tokenizer *t = NULL;
    fr_status st = fr_tokenizer_load(path, &t, err);
    if (st == FR_OK) {
        int32_t *ids = NULL;
        size_t n;
        fr_encode_opts o = {0, 0, false};
        CHECK(fr_tokenize(t, "ab ab", 5, &o, &ids, &n, NULL) == FR_OK);
        CHECK(n == 3 && ids[0] == 2 && ids[1] == 3 && ids[2] == 2); /* ab Ġ ab (no "Ġab") */
        free(ids);
    }
    fr_tokenizer_free(t);
    remove(path);
    return st;
}

static void test_bad_metadata(void)
{
    char dir[256];
    fr_test_tmpdir(dir, sizeof dir);
    fr_err err = {0};
    CHECK(load_custom(dir, "gpt-2", 0, &err) == FR_OK);
    CHECK(load_custom(dir, "klingon", 0, &err) == FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "unknown pre-tokenizer 'klingon'") && strstr(err.msg, "qwen2") &&
          strstr(err.msg, "custom.gguf"));
    CHECK(load_custom(dir, "gpt-2", 1, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "tokenizer.ggml.tokens"));
    CHECK(load_custom(dir, "gpt-2", 2, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "tokenizer.ggml.merges"));
    CHECK(load_custom(dir, "gpt-2", 3, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "tokenizer.ggml.token_type"));
    CHECK(load_custom(dir, "gpt-2", 4, &err) == FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "'rwkv'") && strstr(err.msg, "llama, gpt2"));
    CHECK(load_custom(dir, "gpt-2", 6, &err) == FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "'gpt-2?x'") != NULL);
    CHECK(load_custom(dir, "gpt-2", 5, &err) != FR_OK);
    CHECK(strstr(err.msg, "tokenizer.ggml.bos_token_id"));
    /* a model file without any tokenizer */
    char path[600];
    snprintf(path, sizeof path, "%s/none.gguf", dir);
    fr_gguf_writer *w = NULL;
    fr_gguf_writer_create(&w, NULL);
    fr_gguf_writer_set_str(w, "general.architecture", "llama");
    fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, NULL);
    fr_gguf_writer_free(w);
    fr_tokenizer *t = NULL;
    CHECK(fr_tokenizer_load(path, &t, &err) == FR_E_FORMAT && !t);
    CHECK(strstr(err.msg, "tokenizer.ggml.model"));
    remove(path);
    remove(dir);
}

/* gpt-oss's vocabulary ends the answer with <|return|> or <|call|>; its <|end|> ends only
 * a message (analysis, then final), so it must not end generation. A vocabulary with
 * <|end|> but without those (Phi-3) keeps it as end of generation. */
static int32_t harmony_eog(const char *dir, bool with_call, const char *tok)
{
    char path[600];
    snprintf(path, sizeof path, "%s/harmony.gguf", dir);
    const char *toks[] = {"a", "b", "<|start|>", "<|end|>", "<|return|>", "<|message|>",
                          "<|call|>"};
    const int32_t types[] = {1, 1, 3, 3, 3, 3, 3};
    uint32_t n = with_call ? 7 : 6;
    fr_gguf_writer *w = NULL;
    fr_gguf_writer_create(&w, NULL);
    fr_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    fr_gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, n);
    fr_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FR_GGUF_INT32, types, n);
    fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *[]){"a b"}, NULL, 1);
    fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, NULL);
    fr_gguf_writer_free(w);
    fr_tokenizer *t = NULL;
    int32_t r = -1;
    if (fr_tokenizer_load(path, &t, NULL) == FR_OK) {
        int32_t id = fr_tokenizer_find(t, tok, strlen(tok));
        r = id >= 0 && fr_tokenizer_is_eog(t, id);
    }
    fr_tokenizer_free(t);
    remove(path);
    return r;
}

static void test_harmony_eog(void)
{
    char dir[256];
    fr_test_tmpdir(dir, sizeof dir);
    CHECK_EQ_INT(harmony_eog(dir, true, "<|end|>"), 0);
    CHECK_EQ_INT(harmony_eog(dir, true, "<|return|>"), 1);
    CHECK_EQ_INT(harmony_eog(dir, true, "<|call|>"), 1);
    CHECK_EQ_INT(harmony_eog(dir, true, "<|message|>"), 0);
    CHECK_EQ_INT(harmony_eog(dir, false, "<|end|>"), 1);
}

int main(void)
{
    test_llama2c_vs_gguf();
    test_specials();
    test_load_time();
    test_bad_metadata();
    test_harmony_eog();
    test_hostile_real();
    TEST_END();
}
