/*
 * The done-criterion, short version: tuning stories260K (trained on
 * children's stories) on PubMedQA abstracts (life-sciences text) lowers the
 * loss on held-out abstracts it never saw.
 *
 * Abstracts are ordered by PubMed id; every 10th is held out (never
 * trained on). Held-out loss is measured before and after training with
 * the same evaluation, so the comparison is paired. The full run is
 * bench/bench_tune.c; this one takes a few seconds (less under ASan).
 */
#include "test.h"

#include <frugal/model.h>
#include <frugal/tokenizer.h>
#include <frugal/tune.h>
#include <jansson.h>

#include "base/clock.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Abstracts (CONTEXTS joined by spaces) appended to train / held-out
 * buffers, one JSONL {"text"} record each. */
static void build(json_t *root, char **train, size_t *tl, char **held, size_t *hl, int max_train,
                  int max_held)
{
    size_t n = json_object_size(root), i = 0;
    const char **keys = malloc(n * sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(char *), cmp_str);
    json_t *tr = json_array(), *he = json_array();
    int nt = 0, nh = 0;
    for (i = 0; i < n; i++) {
        json_t *ctx = json_object_get(json_object_get(root, keys[i]), "CONTEXTS");
        size_t len = 0;
        for (size_t j = 0; j < json_array_size(ctx); j++)
            len += json_string_length(json_array_get(ctx, j)) + 1;
        char *text = malloc(len + 1), *p = text;
        for (size_t j = 0; j < json_array_size(ctx); j++) {
            size_t l = json_string_length(json_array_get(ctx, j));
            memcpy(p, json_string_value(json_array_get(ctx, j)), l);
            p += l;
            *p++ = ' ';
        }
        *(p > text ? p - 1 : p) = '\0';
        json_t *rec = json_pack("{s:s}", "text", text);
        free(text);
        if (i % 10 == 9 && nh < max_held) {
            json_array_append_new(he, rec);
            nh++;
        } else if (i % 10 != 9 && nt < max_train) {
            json_array_append_new(tr, rec);
            nt++;
        } else {
            json_decref(rec);
        }
    }
    json_t *arrs[2] = {tr, he};
    char **outs[2] = {train, held};
    size_t *lens[2] = {tl, hl};
    for (int a = 0; a < 2; a++) {
        size_t cap = 1 << 20, len = 0;
        char *buf = malloc(cap);
        for (size_t j = 0; j < json_array_size(arrs[a]); j++) {
            char *line = json_dumps(json_array_get(arrs[a], j), JSON_COMPACT);
            size_t l = strlen(line);
            while (len + l + 2 > cap)
                buf = realloc(buf, cap *= 2);
            memcpy(buf + len, line, l);
            len += l;
            buf[len++] = '\n';
            free(line);
        }
        *outs[a] = buf;
        *lens[a] = len;
        json_decref(arrs[a]);
    }
    free(keys);
}

int main(void)
{
    char mpath[512], dpath[512];
    fr_test_shared("models/stories260K.gguf", mpath, sizeof mpath);
    fr_test_shared("data/pubmedqa_ori_pqal.json", dpath, sizeof dpath);
    bool asan = getenv("FR_SANITIZED") != NULL;
    fr_err e;
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    CHECK(fr_model_load(mpath, &m, &e) == FR_OK);
    CHECK(fr_tokenizer_load(mpath, &tok, &e) == FR_OK);
    json_error_t je;
    json_t *root = json_load_file(dpath, 0, &je);
    CHECK_MSG(root && json_is_object(root), "%s: %s", dpath, je.text);
    if (!m || !tok || !root)
        return 1;
    char *train_txt, *held_txt;
    size_t tl, hl;
    build(root, &train_txt, &tl, &held_txt, &hl, asan ? 40 : 300, asan ? 4 : 30);
    json_decref(root);

    fr_tune_params p = fr_tune_default_params();
    p.rank = 8;
    p.alpha = 16;
    p.n_ctx = 64;
    p.batch = 4;
    p.lr = 3e-3;
    p.warmup = 5;
    p.total_steps = asan ? 15 : 60;
    p.n_threads = 1; /* a loaded 2-core CI machine runs a tiny model fastest on one */
    fr_dataset_opts o = {FR_DATA_AUTO, p.n_ctx, NULL, false};
    fr_dataset *train = NULL, *held = NULL;
    CHECK(fr_dataset_load_memory(train_txt, tl, "train.jsonl", tok, &o, &train, &e) == FR_OK);
    CHECK(fr_dataset_load_memory(held_txt, hl, "held.jsonl", tok, &o, &held, &e) == FR_OK);
    free(train_txt);
    free(held_txt);
    fr_tuner *t = NULL;
    CHECK(fr_tuner_create(m, &p, &t, &e) == FR_OK);
    if (!train || !held || !t)
        return 1;
    double before, after, t0 = fr_now_s();
    uint64_t n_held;
    CHECK(fr_tuner_eval(t, held, &before, &n_held, &e) == FR_OK);
    double first = 0, last = 0;
    uint64_t tokens = 0;
    for (uint64_t s = 0; s < p.total_steps; s++) {
        fr_tune_step_info info;
        fr_status st = fr_tuner_step(t, train, &info, &e);
        CHECK_MSG(st == FR_OK, "%s", e.msg);
        if (st)
            break;
        if (s == 0)
            first = info.loss;
        last = info.loss;
        tokens += info.n_tokens;
    }
    double secs = fr_now_s() - t0;
    CHECK(fr_tuner_eval(t, held, &after, NULL, &e) == FR_OK);
    fprintf(stderr,
            "pubmed: %zu train samples, %llu held-out tokens; held-out loss %.4f -> %.4f "
            "(perplexity %.2f -> %.2f); train loss %.3f -> %.3f; %llu tokens in %.1f s\n",
            fr_dataset_count(train), (unsigned long long)n_held, before, after, exp(before),
            exp(after), first, last, (unsigned long long)tokens, secs);
    CHECK_MSG(after < before - (asan ? 0.2 : 0.5),
              "held-out loss did not fall enough: %.4f -> %.4f", before, after);
    fr_tuner_free(t);
    fr_dataset_free(train);
    fr_dataset_free(held);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    TEST_END();
}
