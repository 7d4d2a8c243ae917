/*
 * bench_tokenize - tokenizer speed: vocabulary load time, then MB/s of
 * fr_tokenize on 1 MiB of English text (PubMedQA abstracts from
 * ../shared/data) and 1 MiB of mixed-script text (generated
 * deterministically: English, Chinese, Russian, Arabic, Hindi, Japanese,
 * Korean, emoji, code, numbers), with the Llama 3 (llama-bpe) and Qwen2
 * vocabularies, plus the SentencePiece llama-spm one. Decoding speed too.
 *
 * usage: bench_tokenize [SHARED_DIR]   (default: $FR_SHARED or ../shared)
 * Prints a Markdown table; never fails on a number (exit 0 unless the data
 * is missing: then it says so and exits 0 with no table).
 */
#include "base/clock.h"
#include "base/file.h"

#include <frugal/tokenizer.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "tensor/cpu.h"

#define TEXT_BYTES ((size_t)1 << 20)

/* English: the CONTEXTS paragraphs of PubMedQA, joined by newlines, cut at
 * 1 MiB on a character boundary. */
static char *english_text(const char *shared, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/pubmedqa_ori_pqal.json", shared);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return NULL;
    char *out = malloc(TEXT_BYTES + 1);
    size_t o = 0;
    const char *key;
    json_t *rec;
    json_object_foreach(root, key, rec)
    {
        json_t *ctx = json_object_get(rec, "CONTEXTS");
        size_t i;
        json_t *p;
        json_array_foreach(ctx, i, p)
        {
            const char *s = json_string_value(p);
            size_t l = s ? strlen(s) : 0;
            if (o + l + 1 > TEXT_BYTES)
                goto full;
            memcpy(out + o, s, l);
            o += l;
            out[o++] = '\n';
        }
    }
full:
    json_decref(root);
    *len = o;
    return out;
}

static char *mixed_text(size_t *len)
{
    static const char *const parts[] = {
        "The quick brown fox jumps over the lazy dog. ",
        "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe\x88\xe5\xa5\xbd\xef\xbc\x8c"
        "\xe6\x88\x91\xe4\xbb\xac\xe5\x8e\xbb\xe5\x85\xac\xe5\x9b\xad\xe6\x95\xa3\xe6\xad\xa5\xe3"
        "\x80\x82",
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xba\xd0\xb0\xd0\xba "
        "\xd0\xb4\xd0\xb5"
        "\xd0\xbb\xd0\xb0? ",
        "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xd8\xa8\xd8\xa7\xd9\x84\xd8\xb9\xd8\xa7\xd9\x84"
        "\xd9\x85 ",
        "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87 \xe0\xa4\xa6\xe0"
        "\xa5\x81\xe0\xa4\xa8\xe0\xa4\xbf\xe0\xa4\xaf\xe0\xa4\xbe ",
        "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\xe4\xb8\x96\xe7\x95\x8c\xe3"
        "\x80\x82\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a ",
        "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94 \xec\x84\xb8\xea\xb3\x84 ",
        "\xf0\x9f\x9a\x80\xf0\x9f\x98\x82\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd ",
        "for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }\n",
        "3.14159 2718 1000000 42 ",
        "\t  \n\n   ",
        "Gr\xc3\xbc\xc3\x9f"
        "e aus K\xc3\xb6ln, \xc3\xa7"
        "a va tr\xc3\xa8s bien. ",
    };
    size_t np = sizeof parts / sizeof parts[0];
    char *out = malloc(TEXT_BYTES + 64);
    size_t o = 0;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    while (o < TEXT_BYTES) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const char *p = parts[x % np];
        size_t l = strlen(p);
        if (o + l > TEXT_BYTES)
            break;
        memcpy(out + o, p, l);
        o += l;
    }
    *len = o;
    return out;
}

static void bench_one(const char *shared, const char *vocab, const char *const *names,
                      char *const *texts, const size_t *lens, int ntext)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", shared, vocab);
    fr_err err = {0};
    fr_tokenizer *t = NULL;
    double t0 = fr_now_s();
    if (fr_tokenizer_load(path, &t, &err)) {
        printf("| %s | - | - | - | - | - | %s |\n", vocab, err.msg);
        return;
    }
    double load = fr_now_s() - t0;
    for (int k = 0; k < ntext; k++) {
        /* best of 3 runs */
        double best = 1e30, dbest = 1e30;
        size_t n = 0;
        for (int rep = 0; rep < 3; rep++) {
            int32_t *ids = NULL;
            fr_encode_opts o = {0, 0, false};
            double s = fr_now_s();
            if (fr_tokenize(t, texts[k], lens[k], &o, &ids, &n, &err)) {
                printf("| %s | %s | error: %s |\n", vocab, names[k], err.msg);
                break;
            }
            double e = fr_now_s() - s;
            if (e < best)
                best = e;
            char *back = NULL;
            size_t bl;
            s = fr_now_s();
            fr_detokenize(t, ids, n, 0, &back, &bl, &err);
            e = fr_now_s() - s;
            if (e < dbest)
                dbest = e;
            free(back);
            free(ids);
        }
        printf("| %s | %s | %.3f | %zu | %.2f | %.1f | %.0f |\n", vocab, names[k], load, n,
               (double)lens[k] / (double)(n ? n : 1), (double)lens[k] / best / 1e6,
               (double)lens[k] / dbest / 1e6);
    }
    fr_tokenizer_free(t);
}

int main(int argc, char **argv)
{
    const char *shared = argc > 1 ? argv[1] : getenv("FR_SHARED");
    if (!shared)
        shared = "../shared";
    char cpu[256];
    fr_cpu_model_name(cpu, sizeof cpu);
    struct utsname u;
    uname(&u);
    printf("## Tokenizer speed\n\n");
    printf("machine: %s, %s %s; threads: 1; frugal %s (commit %s)\n\n", cpu, u.sysname, u.machine,
           fr_version(), fr_commit());
    size_t len[2];
    char *text[2];
    text[0] = english_text(shared, &len[0]);
    text[1] = mixed_text(&len[1]);
    if (!text[0]) {
        printf("(skipped: %s/data/pubmedqa_ori_pqal.json not found)\n", shared);
        free(text[1]);
        return 0;
    }
    const char *names[2] = {"English (PubMedQA, 1 MiB)", "mixed scripts (1 MiB)"};
    printf("input: %zu bytes of English, %zu bytes of mixed-script text; one call per text, "
           "best of 3\n\n",
           len[0], len[1]);
    printf("| vocabulary | text | load s | tokens | bytes/token | encode MB/s | decode MB/s |\n");
    printf("|---|---|---|---|---|---|---|\n");
    bench_one(shared, "llama-bpe", names, text, len, 2);
    bench_one(shared, "qwen2", names, text, len, 2);
    bench_one(shared, "llama-spm", names, text, len, 2);
    free(text[0]);
    free(text[1]);
    return 0;
}
