/*
 * Training data: formats, loss masks, windows, the validation split,
 * --dump-masks rendering and error messages; and masking as the model sees
 * it (masked positions contribute nothing to loss or gradient).
 *
 * Expected masks come from the strings themselves: with a byte-level
 * tokenizer (every byte one token, no merges, ChatML markers as special
 * tokens, built here) the learned tokens of a chat record must be exactly
 * the bytes of each assistant message followed by <|im_end|>, and nothing
 * else. The SentencePiece tokenizer of stories260K checks text windows and
 * a second template family (llama2).
 */
#include "test.h"

#include <frugal/chat.h>
#include <frugal/synth.h>
#include <frugal/tokenizer.h>
#include <frugal/tune.h>
#include <unistd.h>

#include "model/model_impl.h"
#include "tune/tmodel.h"
#include "tune/tuner_impl.h"

/* ---- a byte-level tokenizer: GPT-2's byte -> character table, no merges --- */

static int utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

enum { IM_START = 256, IM_END = 257, EOT = 258, NB = 259 };

static fr_tokenizer *byte_tokenizer(void)
{
    static char store[256][4];
    const char *toks[NB];
    int32_t types[NB];
    unsigned map[256];
    int n = 0;
    for (unsigned b = 0; b < 256; b++) {
        bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        map[b] = self ? b : 256 + (unsigned)n++;
    }
    for (unsigned b = 0; b < 256; b++) {
        int k = utf8_put(store[b], map[b]);
        store[b][k] = 0;
        toks[b] = store[b];
        types[b] = FR_TOKEN_NORMAL;
    }
    toks[IM_START] = "<|im_start|>";
    toks[IM_END] = "<|im_end|>";
    toks[EOT] = "<|endoftext|>";
    types[IM_START] = types[IM_END] = types[EOT] = FR_TOKEN_CONTROL;
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    d.model = "gpt2";
    d.pre = "default";
    d.n_tokens = NB;
    d.tokens = toks;
    d.token_types = types;
    d.bos = EOT;
    d.eos = EOT;
    d.eot = IM_END;
    d.add_bos = 0;
    fr_tokenizer *t = NULL;
    fr_err e;
    if (fr_tokenizer_create(&d, &t, &e) != FR_OK) {
        fprintf(stderr, "tokenizer: %s\n", e.msg);
        exit(1);
    }
    return t;
}

static fr_dataset *load(const char *text, const char *name, const fr_tokenizer *tok,
                        fr_data_format f, uint32_t ctx, const fr_chat_template *tmpl, fr_err *e)
{
    fr_dataset_opts o = {f, ctx, tmpl, true};
    fr_dataset *d = NULL;
    if (fr_dataset_load_memory(text, strlen(text), name, tok, &o, &d, e) != FR_OK)
        return NULL;
    return d;
}

/* Learned spans of sample i as byte strings ("<E>" for <|im_end|>, "<T>" for
 * <|endoftext|>), joined with '|'. */
static void learned_spans(const fr_dataset *d, size_t i, char *out, size_t cap)
{
    const int32_t *t;
    const uint8_t *m;
    uint32_t n;
    fr_dataset_sample(d, i, &t, &m, &n);
    size_t o = 0;
    bool in = false;
    for (uint32_t j = 0; j < n && o + 8 < cap; j++) {
        if (m[j]) {
            if (!in && o)
                out[o++] = '|';
            in = true;
            if (t[j] == IM_END)
                o += (size_t)snprintf(out + o, cap - o, "<E>");
            else if (t[j] == EOT)
                o += (size_t)snprintf(out + o, cap - o, "<T>");
            else if (t[j] < 256)
                out[o++] = (char)t[j];
            else
                out[o++] = '?';
        } else {
            in = false;
        }
    }
    out[o] = 0;
}

/* ---- chat masks ------------------------------------------------------------------ */

static void test_chat_bytes(const fr_tokenizer *tok)
{
    fr_err e;
    fr_chat_template *tmpl;
    CHECK(fr_chat_template_from_name("chatml", &tmpl, &e) == FR_OK);
    const char *jsonl =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
        " {\"role\": \"user\", \"content\": \"Hi?\"},"
        " {\"role\": \"assistant\", \"content\": \"Hello there.\"},"
        " {\"role\": \"user\", \"content\": \"And now?\"},"
        " {\"role\": \"assistant\", \"content\": \"Bye!\"}]}\n"
        "\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", "
        "\"content\": \"y\\nz\"}]}\n";
    fr_dataset *d = load(jsonl, "chat.jsonl", tok, FR_DATA_AUTO, 512, tmpl, &e);
    CHECK_MSG(d != NULL, "%s", e.msg);
    if (!d)
        return;
    fr_dataset_stats st;
    fr_dataset_get_stats(d, &st);
    CHECK_EQ_INT(st.format, FR_DATA_CHAT);
    CHECK_EQ_INT(st.n_records, 3);
    CHECK_EQ_INT(st.n_samples, 2);
    CHECK_EQ_INT(st.n_skipped, 1);
    CHECK_EQ_INT(fr_dataset_sample_record(d, 1), 4);
    char spans[256];
    learned_spans(d, 0, spans, sizeof spans);
    CHECK_STR(spans, "Hello there.<E>|Bye!<E>");
    learned_spans(d, 1, spans, sizeof spans);
    CHECK_STR(spans, "y\nz<E>");
    CHECK_EQ_INT(st.n_loss_tokens, 13 + 5 + 4);
    /* the whole sample is the ChatML rendering, byte for byte */
    const int32_t *t;
    const uint8_t *m;
    uint32_t n;
    fr_dataset_sample(d, 1, &t, &m, &n);
    const int32_t want[] = {IM_START, 'u', 's', 'e', 'r', '\n', 'x', IM_END, '\n', IM_START,
                            'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', '\n', 'y', '\n', 'z',
                            IM_END, '\n'};
    CHECK_EQ_INT(n, sizeof want / sizeof want[0]);
    for (uint32_t j = 0; j < n && j < sizeof want / sizeof want[0]; j++)
        CHECK_EQ_INT(t[j], want[j]);

    /* --dump-masks rendering */
    char *txt = NULL;
    CHECK(fr_dataset_render_mask(d, 1, tok, "[[", "]]", &txt, &e) == FR_OK);
    CHECK_STR(txt, "[[<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n]]y\nz<|im_end|>[[\n]]");
    free(txt);
    CHECK(fr_dataset_render_mask(d, 5, tok, "[[", "]]", &txt, &e) == FR_E_RANGE);

    /* truncation at n_ctx + 1 tokens keeps the start */
    fr_dataset *dt = load(jsonl, "chat.jsonl", tok, FR_DATA_CHAT, 45, tmpl, &e);
    CHECK(dt != NULL);
    if (dt) {
        fr_dataset_get_stats(dt, &st);
        CHECK_EQ_INT(st.n_truncated, 1);
        fr_dataset_sample(dt, 0, &t, &m, &n);
        CHECK_EQ_INT(n, 46);
        learned_spans(dt, 0, spans, sizeof spans);
        CHECK_STR(spans, "Hello");
        fr_dataset_free(dt);
    }
    /* cut before the first answer: nothing to learn, skipped */
    dt = load(jsonl, "chat.jsonl", tok, FR_DATA_CHAT, 30, tmpl, &e);
    CHECK(dt != NULL);
    if (dt) {
        fr_dataset_get_stats(dt, &st);
        CHECK_EQ_INT(st.n_samples, 1);
        CHECK_EQ_INT(st.n_skipped, 2);
        fr_dataset_free(dt);
    }
    fr_dataset_free(d);

    /* prompt / completion: completion + EOS learned */
    d = load("{\"prompt\": \"Q: 2+2?\\nA:\", \"completion\": \" 4\"}\n", "pc.jsonl", tok,
             FR_DATA_AUTO, 64, NULL, &e);
    CHECK_MSG(d != NULL, "%s", e.msg);
    if (d) {
        learned_spans(d, 0, spans, sizeof spans);
        CHECK_STR(spans, " 4<T>");
        fr_dataset_get_stats(d, &st);
        CHECK_EQ_INT(st.format, FR_DATA_PROMPT_COMPLETION);
        fr_dataset_free(d);
    }
    fr_chat_template_free(tmpl);
}

/* ---- SentencePiece: text windows and the llama2 template ---------------------------- */

static void test_spm(const fr_tokenizer *tok)
{
    fr_err e;
    const char *story = "Once upon a time, there was a little girl named Lily. She liked to play "
                        "in the park with her friends. One day she found a big red ball.";
    int32_t *ids;
    size_t nid;
    fr_encode_opts eo = {0, 0, false};
    CHECK(fr_tokenize(tok, story, strlen(story), &eo, &ids, &nid, &e) == FR_OK);
    CHECK(fr_tokenizer_add_bos(tok));
    int32_t bos = fr_tokenizer_bos(tok);
    uint32_t ctx = 8;
    fr_dataset *d = load(story, "story.txt", tok, FR_DATA_AUTO, ctx, NULL, &e);
    CHECK_MSG(d != NULL, "%s", e.msg);
    if (d) {
        size_t ns = fr_dataset_count(d), k = 0;
        CHECK_EQ_INT(ns, (nid + ctx - 1) / ctx);
        for (size_t i = 0; i < ns; i++) {
            const int32_t *t;
            const uint8_t *m;
            uint32_t n;
            fr_dataset_sample(d, i, &t, &m, &n);
            CHECK(n <= ctx + 1 && n >= 2);
            CHECK_EQ_INT(t[0], bos);
            CHECK_EQ_INT(m[0], 0);
            for (uint32_t j = 1; j < n; j++) {
                CHECK_EQ_INT(m[j], 1);
                CHECK(k < nid && t[j] == ids[k]);
                k++;
            }
        }
        CHECK_EQ_INT(k, nid);
        fr_dataset_free(d);
    }
    /* JSONL text: BOS + text + EOS in one sample */
    d = load("{\"text\": \"Lily liked the park.\"}\n", "t.jsonl", tok, FR_DATA_AUTO, 64, NULL, &e);
    CHECK(d != NULL);
    if (d) {
        const int32_t *t;
        const uint8_t *m;
        uint32_t n;
        fr_dataset_sample(d, 0, &t, &m, &n);
        CHECK_EQ_INT(t[0], bos);
        CHECK_EQ_INT(t[n - 1], fr_tokenizer_eos(tok));
        CHECK_EQ_INT(m[n - 1], 1);
        fr_dataset_free(d);
    }
    /* llama2 template: the learned span is the answer and </s> */
    fr_chat_template *tmpl;
    CHECK(fr_chat_template_from_name("llama2", &tmpl, &e) == FR_OK);
    d = load("{\"messages\": [{\"role\": \"user\", \"content\": \"Who is Lily?\"}, {\"role\": "
             "\"assistant\", \"content\": \"A little girl.\"}]}",
             "c.jsonl", tok, FR_DATA_AUTO, 128, tmpl, &e);
    CHECK_MSG(d != NULL, "%s", e.msg);
    if (d) {
        const int32_t *t;
        const uint8_t *m;
        uint32_t n;
        fr_dataset_sample(d, 0, &t, &m, &n);
        int32_t learned[64];
        size_t nl = 0;
        for (uint32_t j = 0; j < n; j++)
            if (m[j] && nl < 64)
                learned[nl++] = t[j];
        CHECK(nl >= 2);
        CHECK_EQ_INT(learned[nl - 1], fr_tokenizer_eos(tok));
        char *txt = NULL;
        size_t tl;
        CHECK(fr_detokenize(tok, learned, nl - 1, 0, &txt, &tl, &e) == FR_OK);
        /* the template writes " " + answer + " " + "</s>": the space before </s>
         * is part of the assistant's turn */
        CHECK_STR(txt, "A little girl. ");
        free(txt);
        /* and nothing after the answer's </s> is learned, nothing before "A" */
        fr_dataset_free(d);
    }
    fr_chat_template_free(tmpl);
    free(ids);
}

/* ---- errors ------------------------------------------------------------------------- */

static void expect_error(const fr_tokenizer *tok, const char *text, const char *name,
                         fr_data_format f, const char *needle)
{
    fr_err e;
    memset(&e, 0, sizeof e);
    fr_chat_template *tmpl = NULL;
    fr_chat_template_from_name("chatml", &tmpl, NULL);
    fr_dataset *d = load(text, name, tok, f, 64, tmpl, &e);
    CHECK_MSG(d == NULL, "expected an error for %s", text);
    CHECK_MSG(strstr(e.msg, needle) != NULL, "error \"%s\" lacks \"%s\"", e.msg, needle);
    fr_dataset_free(d);
    fr_chat_template_free(tmpl);
}

static void test_errors(const fr_tokenizer *tok)
{
    expect_error(tok, "{\"text\": \"a\"}\n{\"text\": 3}\n", "x.jsonl", FR_DATA_AUTO,
                 "x.jsonl:2: \"text\" must be a string");
    expect_error(tok, "{\"text\": \"a\"}\n{oops\n", "x.jsonl", FR_DATA_AUTO, "x.jsonl:2: invalid JSON");
    expect_error(tok, "[1, 2]\n", "x.jsonl", FR_DATA_AUTO, "must be a JSON object");
    expect_error(tok, "{\"foo\": 1}\n", "x.jsonl", FR_DATA_AUTO, "cannot tell the format");
    expect_error(tok, "{\"prompt\": \"a\"}\n", "x.jsonl", FR_DATA_PROMPT_COMPLETION,
                 "missing key \"completion\"");
    expect_error(tok, "{\"messages\": [{\"role\": \"robot\", \"content\": \"a\"}]}\n", "x.jsonl",
                 FR_DATA_AUTO, "role \"robot\"");
    expect_error(tok, "{\"messages\": [{\"role\": \"user\"}]}\n", "x.jsonl", FR_DATA_AUTO,
                 "messages[0] needs");
    expect_error(tok, "{\"messages\": {}}\n", "x.jsonl", FR_DATA_AUTO, "must be an array");
    expect_error(tok, "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n", "x.jsonl",
                 FR_DATA_AUTO, "no training samples");
    expect_error(tok, "", "x.txt", FR_DATA_AUTO, "no training samples");
    fr_err e;
    fr_dataset *d = NULL;
    fr_dataset_opts o = {FR_DATA_CHAT, 64, NULL, false};
    CHECK(fr_dataset_load_memory("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}", 48,
                                 "x.jsonl", tok, &o, &d, &e) == FR_E_INVALID);
    CHECK(fr_dataset_load("/nonexistent/train.txt", tok, &o, &d, &e) != FR_OK);
    CHECK(strstr(e.msg, "/nonexistent/train.txt") != NULL);
    fr_data_format f;
    CHECK(fr_data_format_parse("prompt-completion", &f) && f == FR_DATA_PROMPT_COMPLETION);
    CHECK(!fr_data_format_parse("csv", &f));
}

/* ---- split ------------------------------------------------------------------------ */

static void test_split(const fr_tokenizer *tok)
{
    fr_err e;
    char buf[4096];
    size_t o = 0;
    for (int i = 0; i < 20; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"text\": \"record %d %s\"}\n", i,
                              i % 3 ? "short" : "a somewhat longer one that needs two windows");
    fr_dataset *d = load(buf, "s.jsonl", tok, FR_DATA_AUTO, 16, NULL, &e);
    CHECK(d != NULL);
    if (!d)
        return;
    size_t total = fr_dataset_count(d);
    uint64_t fp = fr_dataset_fingerprint(d);
    fr_dataset *v = NULL;
    CHECK(fr_dataset_split(d, 0.25, 7, &v, &e) == FR_OK);
    CHECK(v != NULL);
    if (v) {
        CHECK_EQ_INT(fr_dataset_count(d) + fr_dataset_count(v), total);
        fr_dataset_stats sv;
        fr_dataset_get_stats(v, &sv);
        CHECK_EQ_INT(sv.n_records, 5);
        /* no record on both sides */
        for (size_t i = 0; i < fr_dataset_count(v); i++)
            for (size_t j = 0; j < fr_dataset_count(d); j++)
                CHECK(fr_dataset_sample_record(v, i) != fr_dataset_sample_record(d, j));
        CHECK(fr_dataset_fingerprint(d) != fp);
    }
    /* same seed, same split */
    fr_dataset *d2 = load(buf, "s.jsonl", tok, FR_DATA_AUTO, 16, NULL, &e), *v2 = NULL;
    CHECK(d2 && fr_dataset_split(d2, 0.25, 7, &v2, &e) == FR_OK);
    if (v && v2)
        CHECK(fr_dataset_fingerprint(v) == fr_dataset_fingerprint(v2));
    fr_dataset_free(v2);
    CHECK(fr_dataset_split(d2, 1.5, 7, &v2, &e) == FR_E_INVALID);
    CHECK(v2 == NULL);
    fr_dataset_free(d), fr_dataset_free(v), fr_dataset_free(d2);
    /* one sample cannot be split */
    d = load("{\"text\": \"x\"}\n", "one.jsonl", tok, FR_DATA_AUTO, 16, NULL, &e);
    CHECK(d && fr_dataset_split(d, 0.5, 1, &v, &e) == FR_E_INVALID);
    fr_dataset_free(d);
}

/* ---- masking as the model sees it ------------------------------------------------------ */

static void test_mask_gradient(const fr_tokenizer *tok)
{
    fr_err e;
    char dir[256], path[300];
    fr_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    fr_synth_spec s = {0};
    s.arch = "llama";
    s.n_vocab = NB, s.n_embd = 32, s.n_layer = 2, s.n_ff = 48, s.n_head = 4, s.n_head_kv = 2;
    s.n_ctx = 128;
    s.wtype = FR_TYPE_Q8_0;
    s.embd_type = FR_TYPE_COUNT_;
    s.seed = 3;
    fr_model *m = NULL;
    CHECK(fr_synth_write(&s, path, NULL, NULL, &e) == FR_OK);
    CHECK(fr_model_load(path, &m, &e) == FR_OK);
    fr_chat_template *tmpl;
    CHECK(fr_chat_template_from_name("chatml", &tmpl, &e) == FR_OK);
    const char *rec = "{\"messages\": [{\"role\": \"user\", \"content\": \"Name a colour.\"}, "
                      "{\"role\": \"assistant\", \"content\": \"Red.\"}, {\"role\": \"user\", "
                      "\"content\": \"Another?\"}]}";
    fr_dataset *d = load(rec, "m.jsonl", tok, FR_DATA_CHAT, 100, tmpl, &e);
    CHECK_MSG(d != NULL, "%s", e.msg);
    fr_tune_params p = fr_tune_default_params();
    p.rank = 2;
    p.n_ctx = 100;
    p.total_steps = 1;
    p.n_threads = 2;
    fr_tuner *t = NULL;
    CHECK(fr_tuner_create(m, &p, &t, &e) == FR_OK);
    if (!d || !t)
        return;
    /* B != 0 so every parameter has a gradient */
    for (int64_t i = 0; i < t->set->n_params; i++)
        t->set->param[i] = (float)((i * 37 % 101) - 50) * 0.002f;
    const int32_t *tk;
    const uint8_t *mk;
    uint32_t n;
    fr_dataset_sample(d, 0, &tk, &mk, &n);
    int32_t *tok2 = malloc(n * sizeof(int32_t)), *tgt = malloc(n * sizeof(int32_t));
    int32_t *tgt_all = malloc(n * sizeof(int32_t)), *pos = malloc(n * sizeof(int32_t));
    uint32_t last = 0;
    for (uint32_t j = 0; j + 1 < n; j++) {
        tgt[j] = mk[j + 1] ? tk[j + 1] : -1;
        tgt_all[j] = tk[j + 1];
        pos[j] = (int32_t)j;
        if (mk[j + 1])
            last = j;
    }
    CHECK(last + 3 < n); /* the last user turn follows the answer */
    int64_t off[2] = {0, n - 1};
    fr_tbatch b = {n - 1, 1, tk, tgt, pos, off};
    int64_t np = t->set->n_params;
    float *g1 = calloc((size_t)np, sizeof(float)), *g2 = calloc((size_t)np, sizeof(float));
    double l1, l2;
    int64_t c1, c2;
    memset(t->set->grad, 0, sizeof(float) * (size_t)np);
    CHECK(fr_tmodel_run(t->tm, &b, true, 1.0f, &l1, &c1, NULL, NULL, &e) == FR_OK);
    memcpy(g1, t->set->grad, sizeof(float) * (size_t)np);
    CHECK_EQ_INT(c1, 5); /* "Red." + <|im_end|> */
    /* Change every masked token after the answer: loss and gradient are unchanged. */
    memcpy(tok2, tk, n * sizeof(int32_t));
    for (uint32_t j = last + 2; j < n; j++)
        tok2[j] = (tok2[j] * 7 + 11) % NB;
    b.tok = tok2;
    memset(t->set->grad, 0, sizeof(float) * (size_t)np);
    CHECK(fr_tmodel_run(t->tm, &b, true, 1.0f, &l2, &c2, NULL, NULL, &e) == FR_OK);
    CHECK(l1 == l2);
    CHECK(memcmp(g1, t->set->grad, sizeof(float) * (size_t)np) == 0);
    /* Learning every position gives a different gradient (the test can fail). */
    b.tok = tk;
    b.tgt = tgt_all;
    memset(t->set->grad, 0, sizeof(float) * (size_t)np);
    CHECK(fr_tmodel_run(t->tm, &b, true, 1.0f, &l2, &c2, NULL, NULL, &e) == FR_OK);
    memcpy(g2, t->set->grad, sizeof(float) * (size_t)np);
    CHECK(memcmp(g1, g2, sizeof(float) * (size_t)np) != 0);
    CHECK_EQ_INT(c2, n - 1);
    /* The masked loss is the sum of -log p(target) over the learned positions only,
     * computed here from the full logits. */
    float *lg = malloc(sizeof(float) * (size_t)(n - 1) * NB);
    fr_tmodel_logits(t->tm, &b, lg);
    double want = 0;
    for (uint32_t j = 0; j + 1 < n; j++) {
        if (!mk[j + 1])
            continue;
        const float *r = lg + (size_t)j * NB;
        double mx = r[0], z = 0;
        for (int v = 1; v < NB; v++)
            mx = r[v] > mx ? r[v] : mx;
        for (int v = 0; v < NB; v++)
            z += exp(r[v] - mx);
        want += log(z) + mx - r[tk[j + 1]];
    }
    CHECK_NEAR(l1, want, 1e-4 * (1 + fabs(want)));
    free(lg), free(g1), free(g2), free(tok2), free(tgt), free(tgt_all), free(pos);
    fr_tuner_free(t);
    fr_dataset_free(d);
    fr_chat_template_free(tmpl);
    fr_model_free(m);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    fr_tokenizer *bt = byte_tokenizer();
    test_chat_bytes(bt);
    test_errors(bt);
    test_split(bt);
    test_mask_gradient(bt);
    fr_tokenizer_free(bt);

    char path[512];
    fr_tokenizer *spm = NULL;
    fr_err e;
    CHECK(fr_tokenizer_load(fr_test_shared("models/stories260K.gguf", path, sizeof path), &spm,
                            &e) == FR_OK);
    if (spm)
        test_spm(spm);
    fr_tokenizer_free(spm);
    TEST_END();
}
