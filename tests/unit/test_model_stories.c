/*
 * stories260K end to end against llama2.c's recorded greedy outputs
 * (../shared/models/stories260K.reference.txt): the GGUF as llama.cpp ships
 * it, and the llama2.c checkpoint imported with its tokenizer, must both
 * reproduce every generated token id, and the decoded text must equal run.c's
 * stdout. Also checks prefill vs one-token decode, and that FR_ISA paths and
 * thread counts give the same tokens.
 */
#include "test.h"

#include <frugal/generate.h>
#include <frugal/import.h>
#include <frugal/model.h>
#include <frugal/tokenizer.h>
#include <jansson.h>
#include <unistd.h>

#include "base/file.h"
#include "stories_ref.h"

/* The case's expected stdout, decoded from its JSON line (malloc'd). */
static char *stdout_text(const ref_case *c)
{
    json_error_t je;
    json_t *js = c->stdout_json ? json_loads(c->stdout_json, JSON_DECODE_ANY, &je) : NULL;
    char *t = strdup(js && json_string_value(js) ? json_string_value(js) : "");
    json_decref(js);
    return t;
}

typedef struct collect {
    int32_t toks[512];
    int n;
    char text[8192];
    size_t len;
} collect;

static bool on_token(void *user, const fr_gen_event *ev)
{
    collect *c = user;
    if (ev->token >= 0 && c->n < 512)
        c->toks[c->n++] = ev->token;
    if (c->len + ev->len < sizeof c->text) {
        memcpy(c->text + c->len, ev->text, ev->len);
        c->len += ev->len;
    }
    return true;
}

static void check_model(const char *path, ref_case *cases, int n_cases, int threads)
{
    fr_err e;
    fr_model *m;
    fr_tokenizer *tok;
    if (fr_model_load(path, &m, &e) || fr_tokenizer_load(path, &tok, &e)) {
        CHECK_MSG(false, "%s: %s", path, e.msg);
        return;
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_threads = (uint32_t)threads;
    cp.n_ctx = 512;
    fr_context *ctx;
    CHECK(fr_context_create(m, &cp, &ctx, &e) == FR_OK);
    for (int k = 0; k < n_cases; k++) {
        ref_case *rc = &cases[k];
        fr_gen_params gp;
        fr_gen_params_default(&gp);
        gp.sampling.temperature = 0;
        /* run.c's 200 steps include the prompt positions */
        gp.max_tokens = rc->n_gen - (rc->n_prompt - 1);
        collect col = {0};
        fr_gen_stats gs;
        fr_status st = fr_generate(ctx, 0, tok, rc->prompt, (size_t)rc->n_prompt, &gp, on_token,
                                   &col, &gs, &e);
        CHECK_MSG(st == FR_OK, "generate: %s", e.msg);
        int off = rc->n_prompt - 1;
        int mismatch = -1;
        for (int i = 0; i < col.n && i + off < rc->n_gen; i++)
            if (col.toks[i] != rc->gen[i + off]) {
                mismatch = i;
                break;
            }
        CHECK_MSG(mismatch < 0 && col.n == rc->n_gen - off,
                  "%s case %d (%d threads): %d tokens, first mismatch at %d (got %d, want %d)",
                  path, k + 1, threads, col.n, mismatch, mismatch >= 0 ? col.toks[mismatch] : -1,
                  mismatch >= 0 ? rc->gen[mismatch + off] : -1);
        CHECK_EQ_INT(gs.finish, FR_FINISH_LENGTH);
        /* the text: prompt pieces (without BOS) + generated, as run.c printed
         * it minus its final newline */
        int32_t all[512];
        int na = 0;
        for (int i = 1; i < rc->n_prompt; i++)
            all[na++] = rc->prompt[i];
        for (int i = 0; i < col.n; i++)
            all[na++] = col.toks[i];
        char *text;
        size_t tl;
        CHECK(fr_detokenize(tok, all, (size_t)na, 0, &text, &tl, &e) == FR_OK);
        char *want = stdout_text(rc);
        size_t want_len = strlen(want) ? strlen(want) - 1 : 0;
        CHECK_MSG(tl == want_len && memcmp(text, want, want_len) == 0,
                  "case %d text differs:\n got: %s\nwant: %s", k + 1, text, want);
        free(text);
        /* the streamed text equals the detokenized generated part */
        if (rc->n_prompt == 1) {
            CHECK(col.len == want_len && memcmp(col.text, want, want_len) == 0);
        }
        free(want);
        /* the second run of the same prompt reuses the cached prefix */
        if (k == 0) {
            fr_gen_params gp2 = gp;
            gp2.max_tokens = 3;
            collect col2 = {0};
            CHECK(fr_generate(ctx, 0, tok, rc->prompt, (size_t)rc->n_prompt, &gp2, on_token, &col2,
                              &gs, &e) == FR_OK);
            CHECK_EQ_INT(gs.n_cached, rc->n_prompt - 1);
            CHECK(col2.n == 3 && memcmp(col2.toks, rc->gen + off, 3 * sizeof(int32_t)) == 0);
        }
    }
    fr_context_free(ctx);
    fr_tokenizer_free(tok);
    fr_model_free(m);
}

int main(void)
{
    char ref[512], gguf[512], bin[512], tokbin[512];
    fr_test_shared("models/stories260K.reference.txt", ref, sizeof ref);
    fr_test_shared("models/stories260K.gguf", gguf, sizeof gguf);
    fr_test_shared("models/stories260K.bin", bin, sizeof bin);
    fr_test_shared("models/tok512.bin", tokbin, sizeof tokbin);
    static ref_case cases[8];
    int n = ref_load_cases(ref, cases, 8);
    CHECK_MSG(n >= 3, "parsed %d reference cases", n);
    for (int k = 0; k < n; k++)
        CHECK_MSG(cases[k].stdout_json != NULL, "case %d has no STDOUT_JSON", k + 1);

    check_model(gguf, cases, n, 1);
    check_model(gguf, cases, n, 2);

    char dir[256], out[320];
    fr_test_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/imported.gguf", dir);
    fr_err e;
    fr_status st = fr_import_llama2c(bin, tokbin, out, &e);
    CHECK_MSG(st == FR_OK, "import: %s", e.msg);
    if (st == FR_OK)
        check_model(out, cases, n, 2);
    /* a truncated checkpoint is refused with a clear error */
    char *data;
    size_t size;
    CHECK(fr_read_file(bin, 8 << 20, &data, &size, &e) == FR_OK);
    char trunc[320];
    snprintf(trunc, sizeof trunc, "%s/trunc.bin", dir);
    FILE *f = fopen(trunc, "wb");
    fwrite(data, 1, size - 100, f);
    fclose(f);
    free(data);
    CHECK(fr_import_llama2c(trunc, tokbin, out, &e) == FR_E_FORMAT);
    CHECK(strstr(e.msg, "truncated") != NULL);
    unlink(trunc);
    unlink(out);
    rmdir(dir);
    ref_free_cases(cases, n);
    TEST_END();
}
