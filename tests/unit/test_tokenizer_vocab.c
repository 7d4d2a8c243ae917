/* The shared tokenizer vectors: for every ../shared/vocab/NAME.gguf with
 * NAME.gguf.inp/.out (llama.cpp's test-tokenizer-0 files), every test string
 * must tokenize to exactly the recorded ids (add_special off, parse_special
 * off), and decoding the ids must give the string back. Prints one line of
 * pass counts per vocabulary. Expected ids come from llama.cpp, not from
 * this code. */
#include "test.h"

#include "base/file.h"

#include <frugal/tokenizer.h>

#include <errno.h>

typedef struct vocab_case {
    const char *name;
    bool supported; /* false: loading must fail with a clear "unknown" error */
    bool lossless;  /* decode(encode(s)) == s (WordPiece lower-cases and drops accents) */
} vocab_case;

static const vocab_case k_vocabs[] = {
    {"llama-spm", true, true}, {"phi-3", true, true},        {"llama-bpe", true, true},
    {"qwen2", true, true},     {"gpt-2", true, true},        {"deepseek-llm", true, true},
    {"deepseek-coder", true, true}, {"falcon", true, true},  {"mpt", true, true},
    {"starcoder", true, true}, {"refact", true, true},       {"bert-bge", true, false},
};

/* Splits the .inp text on "\n__ggml_vocab_test__\n" (every string is
 * followed by one separator). Returns the number of strings. */
static size_t split_inputs(char *inp, size_t n, char **str, size_t *len, size_t max)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t sl = sizeof sep - 1, count = 0, start = 0;
    for (size_t i = 0; i + sl <= n && count < max;) {
        if (memcmp(inp + i, sep, sl) == 0) {
            str[count] = inp + start;
            len[count] = i - start;
            count++;
            i += sl;
            start = i;
        } else {
            i++;
        }
    }
    return count;
}

/* Parses one line of ids; returns the count or -1. */
static long parse_ids(const char *line, size_t n, int32_t *ids, size_t max)
{
    long count = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && line[i] == ' ')
            i++;
        if (i >= n)
            break;
        char *end;
        errno = 0;
        long v = strtol(line + i, &end, 10);
        if (errno || end == line + i || (size_t)count >= max)
            return -1;
        ids[count++] = (int32_t)v;
        i = (size_t)(end - line);
    }
    return count;
}

static void run_vocab(const vocab_case *vc, int *total_fail)
{
    char rel[256], path[512], inp_path[600], out_path[600];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vc->name);
    fr_test_shared(rel, path, sizeof path);
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    snprintf(out_path, sizeof out_path, "%s.out", path);

    fr_err err = {0};
    fr_tokenizer *t = NULL;
    fr_status st = fr_tokenizer_load(path, &t, &err);
    if (!vc->supported) {
        CHECK_MSG(st == FR_E_UNSUPPORTED, "%s: expected an unsupported-model error", vc->name);
        CHECK_MSG(strstr(err.msg, "unknown tokenizer model") && strstr(err.msg, "llama, gpt2"),
                  "%s: message '%s'", vc->name, err.msg);
        fprintf(stderr, "%-15s not supported: %s\n", vc->name, err.msg);
        return;
    }
    CHECK_MSG(st == FR_OK, "%s: %s", vc->name, err.msg);
    if (st)
        return;

    char *inp = NULL, *outs = NULL;
    size_t inp_n = 0, outs_n = 0;
    CHECK(fr_read_file(inp_path, 1 << 20, &inp, &inp_n, &err) == FR_OK);
    CHECK(fr_read_file(out_path, 1 << 20, &outs, &outs_n, &err) == FR_OK);
    char *str[256];
    size_t len[256];
    size_t n = split_inputs(inp, inp_n, str, len, 256);
    CHECK(n > 10);

    size_t pass = 0, rt_pass = 0;
    const char *line = outs;
    for (size_t k = 0; k < n; k++) {
        const char *nl = memchr(line, '\n', (size_t)(outs + outs_n - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(outs + outs_n - line);
        int32_t want[4096];
        long nw = parse_ids(line, ll, want, 4096);
        line = nl ? nl + 1 : outs + outs_n;

        fr_encode_opts o = {0, 0, false};
        int32_t *ids = NULL;
        size_t nid = 0;
        st = fr_tokenize(t, str[k], len[k], &o, &ids, &nid, &err);
        bool ok = st == FR_OK && nw >= 0 && (size_t)nw == nid &&
                  memcmp(ids, want, nid * sizeof *ids) == 0;
        if (ok) {
            pass++;
        } else {
            fprintf(stderr, "%s: string %zu (%zu bytes) differs\n  want:", vc->name, k, len[k]);
            for (long i = 0; i < nw; i++)
                fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n  got: ");
            for (size_t i = 0; i < nid; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        char *back = NULL;
        size_t bl = 0;
        bool decoded = st == FR_OK && fr_detokenize(t, ids, nid, 0, &back, &bl, &err) == FR_OK;
        if (!vc->lossless) { /* no round trip expected; decoding must still work */
            CHECK_MSG(st != FR_OK || decoded, "%s: string %zu does not decode", vc->name, k);
            rt_pass++;
        } else if (decoded && bl == len[k] && memcmp(back, str[k], bl) == 0) {
            rt_pass++;
        } else {
            fprintf(stderr, "%s: string %zu does not round-trip\n", vc->name, k);
        }
        free(back);
        free(ids);
    }
    if (vc->lossless)
        fprintf(stderr, "%-15s %-6s pre=%-15s ids %zu/%zu, round-trip %zu/%zu\n", vc->name,
                fr_tokenizer_model(t), fr_tokenizer_pre(t), pass, n, rt_pass, n);
    else
        fprintf(stderr, "%-15s %-6s pre=%-15s ids %zu/%zu, lossy (no round trip)\n", vc->name,
                fr_tokenizer_model(t), fr_tokenizer_pre(t), pass, n);
    CHECK_MSG(pass == n, "%s: %zu of %zu strings tokenize as llama.cpp does", vc->name, pass, n);
    CHECK_MSG(rt_pass == n, "%s: %zu of %zu strings round-trip", vc->name, rt_pass, n);
    if (pass != n)
        (*total_fail)++;
    free(inp);
    free(outs);
    fr_tokenizer_free(t);
}

int main(int argc, char **argv)
{
    int fails = 0;
    for (size_t i = 0; i < sizeof k_vocabs / sizeof *k_vocabs; i++) {
        if (argc > 1 && strcmp(argv[1], k_vocabs[i].name) != 0)
            continue;
        run_vocab(&k_vocabs[i], &fails);
    }
    TEST_END();
}
