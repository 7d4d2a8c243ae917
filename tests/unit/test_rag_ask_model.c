/*
 * Constrained decoding for grounded answers: whatever the model would
 * prefer, the generated text is always a valid prefix of the citation
 * grammar (checked with the validator's whole-string form), token spans
 * tile the text, log-probabilities are <= 0, and generation stops at the
 * byte limit.
 */
#include "test.h"

#include "rag/ask_model.h"
#include "text/chat_tokens.h"

int main(void)
{
    char path[512];
    fr_test_shared("models/stories260K.gguf", path, sizeof path);
    fr_err e;
    fr_model *m;
    fr_tokenizer *tok;
    fr_chat_template *tmpl;
    if (fr_model_load(path, &m, &e) || fr_tokenizer_load(path, &tok, &e) ||
        fr_chat_template_from_name("chatml", &tmpl, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = 1024;
    cp.n_threads = 1;
    fr_context *ctx;
    CHECK(fr_context_create(m, &cp, &ctx, &e) == FR_OK);
    fr_rag_model rm = {ctx, 0, tok, tmpl, NULL};
    for (int k = 1; k <= 3; k++) {
        fr_rag_gen_request req = {0};
        req.system = "Answer only from the passages. Cite [n] after every sentence, or say NOT_FOUND.";
        req.user = "Question: where did Lily go?\n[1] Lily went to the park.\n[2] Tom stayed home.";
        req.n_passages = k;
        fr_rag_cite_init(&req.constraint, k);
        req.max_bytes = 120;
        fr_rag_gen_result res;
        fr_status st = fr_rag_model_generate(&rm, &req, &res, &e);
        CHECK_MSG(st == FR_OK, "%s", e.msg);
        if (st)
            continue;
        size_t len = strlen(res.text);
        CHECK(len > 0);
        CHECK(len < 120 + 64); /* stops at the limit (one token may pass it) */
        CHECK_MSG(fr_rag_cite_check(res.text, len, k) >= 0, "invalid answer prefix: %s", res.text);
        uint32_t off = 0;
        for (size_t i = 0; i < res.n_lps; i++) {
            CHECK(res.lps[i].off == off);
            CHECK(res.lps[i].logprob <= 0.0f);
            off += res.lps[i].len;
        }
        CHECK_EQ_INT(off, len);
        CHECK_EQ_INT(res.n_tokens, (int)res.n_lps);
        free(res.text);
        free(res.lps);
    }
    fr_context_free(ctx);
    fr_chat_template_free(tmpl);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    TEST_END();
}
