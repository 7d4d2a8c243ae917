/*
 * stories260K greedy decoding, by token id, against llama2.c's recorded
 * outputs (../shared/models/stories260K.reference.txt), with nothing but the
 * model and the kernels: no tokenizer, no sampler, no JSON. This is the
 * exactness test the core-only (cross, qemu) build runs on every ARM path;
 * test_model_stories covers the same cases through fr_generate and the
 * text on full builds.
 *
 * Per case: the prompt in one batch then one token at a time (one-token
 * products), and the whole recorded sequence in one batch with logits at
 * every position (batched products); the argmax at each position must be
 * the token run.c chose, with 1 and 2 threads (1 under FR_SANITIZED). The kernel path is whatever
 * FRUGAL_ISA (or the CPU) selects: `make test-aarch64` runs it per path.
 */
#include "test.h"

#include <frugal/model.h>

#include "stories_ref.h"

static int32_t argmax(const float *v, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static void check_case(fr_context *ctx, int32_t n_vocab, const ref_case *rc, int threads, int k)
{
    fr_err e;
    int off = rc->n_prompt - 1; /* gen[i] is the token at position i + 1 */
    fr_context_seq_truncate(ctx, 0, 0);

    /* prompt in one batch, then one token at a time */
    fr_batch b = {(uint32_t)rc->n_prompt, rc->prompt, NULL, NULL};
    int mismatch = -1;
    int32_t got = -1;
    for (int i = off; i < rc->n_gen && mismatch < 0; i++) {
        if (fr_context_decode(ctx, &b, &e) != FR_OK) {
            CHECK_MSG(false, "decode: %s", e.msg);
            return;
        }
        got = argmax(fr_context_logits(ctx, 0), n_vocab);
        if (got != rc->gen[i])
            mismatch = i;
        b = (fr_batch){1, &rc->gen[i], NULL, NULL};
    }
    CHECK_MSG(mismatch < 0, "case %d (%d threads, decode): position %d got %d, want %d", k, threads,
              mismatch + 1, got, mismatch >= 0 ? rc->gen[mismatch] : -1);

    /* the recorded sequence in one batch, logits everywhere */
    fr_context_seq_truncate(ctx, 0, 0);
    int32_t seq[320];
    bool want[320];
    int n = 0;
    for (int i = 0; i < rc->n_prompt; i++)
        seq[n++] = rc->prompt[i];
    for (int i = off; i < rc->n_gen - 1; i++)
        seq[n++] = rc->gen[i];
    for (int i = 0; i < n; i++)
        want[i] = i >= off;
    b = (fr_batch){(uint32_t)n, seq, NULL, want};
    if (fr_context_decode(ctx, &b, &e) != FR_OK) {
        CHECK_MSG(false, "batch decode: %s", e.msg);
        return;
    }
    mismatch = -1;
    for (int i = off; i < n && mismatch < 0; i++) {
        got = argmax(fr_context_logits(ctx, (uint32_t)(i - off)), n_vocab);
        if (got != rc->gen[i])
            mismatch = i;
    }
    CHECK_MSG(mismatch < 0, "case %d (%d threads, one batch): position %d got %d, want %d", k,
              threads, mismatch + 1, got, mismatch >= 0 ? rc->gen[mismatch] : -1);
}

int main(void)
{
    char ref[512], gguf[512];
    fr_test_shared("models/stories260K.reference.txt", ref, sizeof ref);
    fr_test_shared("models/stories260K.gguf", gguf, sizeof gguf);
    static ref_case cases[8];
    int n = ref_load_cases(ref, cases, 8);
    CHECK_MSG(n >= 3, "parsed %d reference cases", n);
    for (int k = 0; k < n; k++)
        CHECK(cases[k].n_prompt >= 1 && cases[k].n_gen > cases[k].n_prompt &&
              cases[k].n_gen - cases[k].n_prompt + 1 + cases[k].n_prompt <= 320);

    fr_err e;
    fr_model *m;
    if (fr_model_load(gguf, &m, &e) != FR_OK) {
        CHECK_MSG(false, "%s: %s", gguf, e.msg);
        ref_free_cases(cases, n);
        TEST_END();
    }
    int32_t n_vocab = (int32_t)fr_model_hparams(m)->n_vocab;
    /* slow runs (sanitizers, qemu): one thread only */
    int max_threads = getenv("FR_SANITIZED") ? 1 : 2;
    for (int threads = 1; threads <= max_threads; threads++) {
        fr_context_params cp = fr_context_default_params();
        cp.n_threads = (uint32_t)threads;
        cp.n_ctx = 512;
        fr_context *ctx;
        if (fr_context_create(m, &cp, &ctx, &e) != FR_OK) {
            CHECK_MSG(false, "context: %s", e.msg);
            break;
        }
        for (int k = 0; k < n; k++)
            check_case(ctx, n_vocab, &cases[k], threads, k + 1);
        fr_context_free(ctx);
    }
    fr_model_free(m);
    ref_free_cases(cases, n);
    TEST_END();
}
