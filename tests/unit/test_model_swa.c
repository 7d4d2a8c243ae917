/*
 * The KV cache of sliding-window layers is a ring of their last
 * n_swa + n_batch - 1 positions (forward.c), not n_ctx. Checked on random
 * gemma3 (window on 2 layers of 3) and gpt-oss (window on even layers,
 * sinks) models with a window of 8, F16 and F32 caches:
 *
 * - a prompt in chunks, then a greedy generation of more than three
 *   windows (the ring wraps 3 times), gives bit-identical logits at every
 *   position to the same model with a full-length cache (a context whose
 *   n_batch makes the ring as long as the context);
 * - the ring's context allocates the KV bytes of its ring, fewer than the
 *   full one's;
 * - truncating a sequence by up to n_batch tokens keeps the prefix and
 *   decoding again repeats the logits bit for bit; one token more and the
 *   ring no longer holds the window of the next position, so nothing is
 *   kept (returns 0), while the full cache keeps it.
 */
#include "test.h"

#include <frugal/model.h>
#include <frugal/synth.h>
#include <unistd.h>

enum { V = 48, W = 8, NB = 4, NCTX = 64, NPROMPT = 10, NGEN = 30, L = NPROMPT + NGEN };

static char tmpdir[256];

static int32_t argmax(const float *v, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* decodes toks[0..n) into c with logits for every row, into out [n][V] */
static bool feed(fr_context *c, const int32_t *toks, uint32_t n, float *out)
{
    bool want[NB];
    for (uint32_t i = 0; i < n; i++)
        want[i] = true;
    fr_batch b = {n, toks, NULL, want};
    fr_err e;
    if (fr_context_decode(c, &b, &e) != FR_OK) {
        CHECK_MSG(false, "decode: %s", e.msg);
        return false;
    }
    for (uint32_t i = 0; i < n; i++)
        memcpy(out + (size_t)i * V, fr_context_logits(c, i), sizeof(float) * V);
    return true;
}

static void check_arch(const char *arch, fr_type kv)
{
    fr_synth_spec s = {0};
    s.arch = arch;
    s.n_vocab = V;
    s.n_embd = 32;
    s.n_layer = 3;
    s.n_ff = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 16;
    s.n_ctx = NCTX;
    s.wtype = FR_TYPE_F32;
    s.embd_type = FR_TYPE_COUNT_;
    s.rope_base = 10000.0f;
    s.seed = 11;
    s.n_swa = W;
    bool gemma = strcmp(arch, "gemma3") == 0;
    if (gemma) { /* layers 0, 1 windowed, 2 global */
        s.qk_norm = true;
        s.swa_pattern = 3;
        s.rope_base = 1e6f;
        s.rope_base_swa = 10000.0f;
        s.logit_softcap = 15.0f;
    } else { /* gpt-oss: layers 0, 2 windowed; sinks, biases, experts */
        s.qkv_bias = true;
        s.out_bias = true;
        s.attn_sinks = true;
        s.n_expert = 4;
        s.n_expert_used = 2;
        s.n_ff_exp = 32;
    }
    int n_win = 2, n_glob = 1; /* gemma3: layers 0, 1 windowed; gpt-oss: 0, 2 */
    char path[320];
    snprintf(path, sizeof path, "%s/%s.gguf", tmpdir, arch);
    fr_err e;
    fr_model *m = NULL;
    if (fr_synth_write(&s, path, NULL, NULL, &e) != FR_OK || fr_model_load(path, &m, &e) != FR_OK) {
        CHECK_MSG(false, "%s: %s", arch, e.msg);
        return;
    }
    /* ring: n_batch 4, so 8 + 4 - 1 = 11 positions; full: n_batch 64, so
     * the ring would be longer than the context */
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = NCTX;
    cp.n_threads = 2;
    cp.kv_type = kv;
    cp.n_batch = NB;
    fr_context *ring = NULL, *full = NULL;
    CHECK(fr_context_create(m, &cp, &ring, &e) == FR_OK);
    cp.n_batch = NCTX;
    CHECK(fr_context_create(m, &cp, &full, &e) == FR_OK);
    if (!ring || !full)
        goto out;
    uint64_t row = 2ull * s.n_head_kv * s.head_dim * (kv == FR_TYPE_F16 ? 2 : 4);
    CHECK_EQ_INT((long long)fr_context_kv_bytes(ring), (long long)(row * (n_win * (W + NB - 1) + n_glob * NCTX)));
    CHECK_EQ_INT((long long)fr_context_kv_bytes(full), (long long)(row * 3 * NCTX));

    int32_t toks[L];
    static float lr[L][V], lf[L][V], again[NB][V];
    for (int i = 0; i < NPROMPT; i++)
        toks[i] = (int32_t)((i * 7 + 3) % V);
    const char *kvn = kv == FR_TYPE_F16 ? "f16" : "f32";
    /* the prompt in chunks of up to n_batch, the same in both */
    for (int i = 0; i < NPROMPT; i += NB) {
        uint32_t n = NPROMPT - i < NB ? (uint32_t)(NPROMPT - i) : NB;
        if (!feed(ring, toks + i, n, lr[i]) || !feed(full, toks + i, n, lf[i]))
            goto out;
    }
    /* greedy, one token at a time */
    for (int i = NPROMPT; i < L; i++) {
        toks[i] = argmax(lr[i - 1], V);
        if (!feed(ring, toks + i, 1, lr[i]) || !feed(full, toks + i, 1, lf[i]))
            goto out;
    }
    for (int i = 0; i < L; i++)
        if (memcmp(lr[i], lf[i], sizeof lr[i]) != 0) {
            CHECK_MSG(false, "%s %s: position %d (window %d, ring %d) differs from the full cache",
                      arch, kvn, i, W, W + NB - 1);
            break;
        }

    /* truncate by n_batch: kept, and the same logits again */
    CHECK_EQ_INT(fr_context_seq_truncate(ring, 0, L - NB), L - NB);
    CHECK_EQ_INT(fr_context_seq_len(ring, 0), L - NB);
    for (int i = L - NB; i < L; i++) {
        if (!feed(ring, toks + i, 1, again[i - (L - NB)]))
            goto out;
        CHECK_MSG(memcmp(again[i - (L - NB)], lr[i], sizeof lr[i]) == 0,
                  "%s %s: position %d after truncation differs", arch, kvn, i);
    }
    /* one more: position L - 5's window starts at L - 12, overwritten by L - 1 */
    CHECK_EQ_INT(fr_context_seq_truncate(ring, 0, L - NB - 1), 0);
    CHECK_EQ_INT(fr_context_seq_len(ring, 0), 0);
    CHECK_EQ_INT(fr_context_seq_truncate(full, 0, L - NB - 1), L - NB - 1);
    CHECK_EQ_INT(fr_context_seq_truncate(full, 0, L), L - NB - 1); /* longer: no-op */
out:
    fr_context_free(ring);
    fr_context_free(full);
    fr_model_free(m);
    unlink(path);
}

int main(void)
{
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    check_arch("gemma3", FR_TYPE_F16);
    check_arch("gemma3", FR_TYPE_F32);
    check_arch("gpt-oss", FR_TYPE_F16);
    check_arch("gpt-oss", FR_TYPE_F32);
    rmdir(tmpdir);
    TEST_END();
}
