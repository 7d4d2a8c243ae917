/*
 * summary.c - file-type names, hyper-parameters and the RAM estimate (see
 * summary.h for the formulas and what they leave out).
 *
 * Hyper-parameters are read generically as "<arch>.<name>" so that every
 * llama.cpp architecture gets the same treatment; nothing here knows about
 * a particular model family.
 */
#include "gguf/summary.h"

#include <stdio.h>
#include <string.h>

const char *fr_gguf_ftype_name(uint32_t ftype)
{
    /* llama.cpp's llama_ftype (llama.h); gaps are ids it removed. */
    static const char *const names[] = {
        [0] = "ALL_F32",          [1] = "MOSTLY_F16",           [2] = "MOSTLY_Q4_0",
        [3] = "MOSTLY_Q4_1",      [4] = "MOSTLY_Q4_1_SOME_F16", [7] = "MOSTLY_Q8_0",
        [8] = "MOSTLY_Q5_0",      [9] = "MOSTLY_Q5_1",          [10] = "MOSTLY_Q2_K",
        [11] = "MOSTLY_Q3_K_S",   [12] = "MOSTLY_Q3_K_M",       [13] = "MOSTLY_Q3_K_L",
        [14] = "MOSTLY_Q4_K_S",   [15] = "MOSTLY_Q4_K_M",       [16] = "MOSTLY_Q5_K_S",
        [17] = "MOSTLY_Q5_K_M",   [18] = "MOSTLY_Q6_K",         [19] = "MOSTLY_IQ2_XXS",
        [20] = "MOSTLY_IQ2_XS",   [21] = "MOSTLY_Q2_K_S",       [22] = "MOSTLY_IQ3_XS",
        [23] = "MOSTLY_IQ3_XXS",  [24] = "MOSTLY_IQ1_S",        [25] = "MOSTLY_IQ4_NL",
        [26] = "MOSTLY_IQ3_S",    [27] = "MOSTLY_IQ3_M",        [28] = "MOSTLY_IQ2_S",
        [29] = "MOSTLY_IQ2_M",    [30] = "MOSTLY_IQ4_XS",       [31] = "MOSTLY_IQ1_M",
        [32] = "MOSTLY_BF16",     [33] = "MOSTLY_Q4_0_4_4",     [34] = "MOSTLY_Q4_0_4_8",
        [35] = "MOSTLY_Q4_0_8_8", [36] = "MOSTLY_TQ1_0",        [37] = "MOSTLY_TQ2_0",
    };
    ftype &= ~1024u; /* LLAMA_FTYPE_GUESSED */
    if (ftype >= sizeof names / sizeof names[0])
        return NULL;
    return names[ftype];
}

int64_t fr_hparams_arch_int(const fr_gguf *g, const char *arch, const char *suffix)
{
    char key[160];
    if (!arch[0] || (size_t)snprintf(key, sizeof key, "%s.%s", arch, suffix) >= sizeof key)
        return -1;
    int64_t i = fr_gguf_find_key(g, key), v;
    if (i < 0)
        return -1;
    if (fr_gguf_kv_get_i64(g, i, &v, NULL) == FR_OK)
        return v;
    fr_gguf_arr a;
    if (fr_gguf_kv_get_arr(g, i, &a, NULL) != FR_OK)
        return -1;
    int64_t best = -1;
    for (uint64_t k = 0; k < a.n; k++)
        if (fr_gguf_arr_i64(&a, k, &v) == FR_OK && v > best)
            best = v;
    return best;
}

void fr_hparams_read(const fr_gguf *g, fr_hparams *hp)
{
    memset(hp, 0, sizeof *hp);
    fr_gguf_str s;
    if (fr_gguf_get_str(g, "general.architecture", &s, NULL) == FR_OK && s.len < sizeof hp->arch &&
        !memchr(s.ptr, 0, s.len)) {
        memcpy(hp->arch, s.ptr, s.len);
        hp->arch[s.len] = '\0';
    }
    const char *a = hp->arch;
    hp->n_ctx_train = fr_hparams_arch_int(g, a, "context_length");
    hp->n_embd = fr_hparams_arch_int(g, a, "embedding_length");
    hp->n_layer = fr_hparams_arch_int(g, a, "block_count");
    hp->n_ff = fr_hparams_arch_int(g, a, "feed_forward_length");
    hp->n_head = fr_hparams_arch_int(g, a, "attention.head_count");
    hp->n_head_kv = fr_hparams_arch_int(g, a, "attention.head_count_kv");
    if (hp->n_head_kv < 0)
        hp->n_head_kv = hp->n_head;
    hp->head_dim_k = fr_hparams_arch_int(g, a, "attention.key_length");
    if (hp->head_dim_k < 0 && hp->n_embd > 0 && hp->n_head > 0)
        hp->head_dim_k = hp->n_embd / hp->n_head;
    hp->head_dim_v = fr_hparams_arch_int(g, a, "attention.value_length");
    if (hp->head_dim_v < 0)
        hp->head_dim_v = hp->head_dim_k;
    fr_gguf_arr toks;
    const fr_gguf_tensor *emb;
    if (fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == FR_OK)
        hp->n_vocab = (int64_t)toks.n;
    else if ((hp->n_vocab = fr_hparams_arch_int(g, a, "vocab_size")) >= 0)
        ;
    else if ((emb = fr_gguf_find_tensor(g, "token_embd.weight")) && emb->n_dims >= 2)
        hp->n_vocab = emb->ne[1];
}

/* Saturating arithmetic: an estimate from a hostile file must not wrap. */
static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t nn(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

void fr_mem_estimate_compute(const fr_hparams *hp, uint64_t weights_bytes, uint64_t n_ctx,
                             fr_mem_estimate *est)
{
    memset(est, 0, sizeof *est);
    est->n_ctx = n_ctx;
    est->weights = weights_bytes;
    est->has_kv = hp->n_layer > 0 && hp->n_head_kv > 0 && hp->head_dim_k > 0 && hp->head_dim_v > 0;
    if (est->has_kv)
        est->kv_cache = sat_mul(sat_mul(sat_mul(nn(hp->n_layer), n_ctx), nn(hp->n_head_kv)),
                                sat_mul(sat_add(nn(hp->head_dim_k), nn(hp->head_dim_v)), 2));
    est->has_work = est->has_kv && hp->n_embd > 0 && hp->n_head > 0 && hp->n_vocab > 0;
    if (est->has_work) {
        uint64_t f = sat_mul(3, nn(hp->n_embd));
        f = sat_add(f, sat_mul(2, nn(hp->n_ff)));
        f = sat_add(f, sat_mul(nn(hp->n_head), nn(hp->head_dim_k)));
        f = sat_add(f, sat_mul(nn(hp->n_head_kv), nn(hp->head_dim_k) + nn(hp->head_dim_v)));
        f = sat_add(f, sat_mul(nn(hp->n_head), n_ctx));
        f = sat_add(f, nn(hp->n_vocab));
        est->work = sat_mul(f, 4);
    }
    est->total = sat_add(sat_add(est->weights, est->kv_cache), est->work);
}
