/*
 * llama2c.c - llama2.c checkpoints to GGUF.
 *
 * Layout (run.c): int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size (negative: a separate classifier follows), seq_len; then F32
 *   token_embedding (vocab, dim), rms_att (L, dim), wq (L, dim, H*hs),
 *   wk (L, dim, KV*hs), wv (L, dim, KV*hs), wo (L, H*hs, dim), rms_ffn (L, dim),
 *   w1 (L, hidden, dim), w2 (L, dim, hidden), w3 (L, hidden, dim),
 *   rms_final (dim), freq_cis_real (seq_len, hs/2), freq_cis_imag (same),
 *   [wcls (vocab, dim)].
 * Matrices are row-major (out, in), which is GGUF's [in, out]: rows are
 * copied as they are. llama2.c's rope rotates adjacent pairs, which is what
 * the "llama" architecture does with GGUF weights, so Q and K need no
 * permutation. The legacy freq_cis tables are skipped (rope is recomputed).
 */
#include <frugal/gguf.h>
#include <frugal/import.h>
#include <frugal/tokenizer.h>

#include "base/checked.h"
#include "base/file.h"

#include <stdio.h>
#include <string.h>

typedef struct fr_l2c_cfg {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
} fr_l2c_cfg;

fr_status fr_import_llama2c(const char *model_path, const char *tokenizer_path,
                            const char *out_path, fr_err *err)
{
    fr_mapping *map = NULL;
    fr_llama2c_vocab *vocab = NULL;
    fr_gguf_writer *w = NULL;
    fr_status st = fr_mapping_open(model_path, &map, err);
    if (st)
        return st;
    const uint8_t *data = fr_mapping_data(map);
    size_t size = fr_mapping_size(map);
    fr_l2c_cfg c;
    if (size < sizeof c) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: %zu bytes is too short for a llama2.c checkpoint "
                        "header (28 bytes)", model_path, size);
        goto done;
    }
    memcpy(&c, data, sizeof c);
    bool shared = c.vocab > 0;
    int64_t V = shared ? c.vocab : -(int64_t)c.vocab;
    if (c.dim <= 0 || c.hidden <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
        V <= 0 || c.seq_len <= 0 || c.dim > 65536 || c.hidden > 1 << 20 || c.n_layers > 1024 ||
        c.n_heads > 1024 || V > 1 << 22 || c.seq_len > 1 << 22 || c.dim % c.n_heads ||
        c.n_heads % c.n_kv_heads || (c.dim / c.n_heads) % 2) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: implausible llama2.c header (dim %d, hidden %d, layers %d, heads %d, "
                        "kv heads %d, vocab %d, seq_len %d); is this a llama2.c checkpoint?",
                        model_path, c.dim, c.hidden, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab,
                        c.seq_len);
        goto done;
    }
    int64_t E = c.dim, F = c.hidden, L = c.n_layers, hs = c.dim / c.n_heads;
    int64_t KD = (int64_t)c.n_kv_heads * hs;
    /* floats of each section, in file order */
    int64_t counts[] = {V * E,  L * E,      L * E * E, L * E * KD, L * E * KD, L * E * E,
                        L * E,  L * F * E,  L * E * F, L * F * E,  E,          c.seq_len * hs / 2,
                        c.seq_len * hs / 2, shared ? 0 : V * E};
    uint64_t expect = sizeof c;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        expect += (uint64_t)counts[i] * 4;
    if (expect != size) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: the header describes %llu bytes of checkpoint but the file has %zu; "
                        "the file is truncated or not a llama2.c checkpoint", model_path,
                        (unsigned long long)expect, size);
        goto done;
    }
    if ((st = fr_llama2c_vocab_read(tokenizer_path, (uint32_t)V, &vocab, err)))
        goto done;
    if ((st = fr_gguf_writer_create(&w, err)))
        goto done;
    if (fr_gguf_writer_set_str(w, "general.architecture", "llama") ||
        fr_gguf_writer_set_str(w, "general.name", "llama2.c import") ||
        fr_gguf_writer_set_u32(w, "general.file_type", 0) ||
        fr_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)c.seq_len) ||
        fr_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)E) ||
        fr_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)L) ||
        fr_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)F) ||
        fr_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c.n_heads) ||
        fr_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c.n_kv_heads) ||
        fr_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)hs) ||
        fr_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) ||
        fr_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f) ||
        fr_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") ||
        fr_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)vocab->tokens,
                                   NULL, vocab->n_tokens) ||
        fr_gguf_writer_set_arr(w, "tokenizer.ggml.scores", FR_GGUF_FLOAT32, vocab->scores,
                               vocab->n_tokens) ||
        fr_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", FR_GGUF_INT32, vocab->token_types,
                               vocab->n_tokens) ||
        fr_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) ||
        fr_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) ||
        fr_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory building the GGUF metadata");
        goto done;
    }
    /* token lens matter when a piece contains NUL; llama2.c pieces do not
     * (they are C strings in run.c), so NULL lens is exact here. */
    const float *p = (const float *)(data + sizeof c);
    const float *sec[14];
    for (size_t i = 0; i < 14; i++) {
        sec[i] = p;
        p += counts[i];
    }
    char name[64];
    int64_t ne[2];
#define ADD(nm, base, n0, n1)                                                              \
    do {                                                                                   \
        ne[0] = (n0);                                                                      \
        ne[1] = (n1);                                                                      \
        if ((st = fr_gguf_writer_add_tensor(w, nm, FR_TYPE_F32, (n1) ? 2 : 1, ne, base, err))) \
            goto done;                                                                     \
    } while (0)
    ADD("token_embd.weight", sec[0], E, V);
    ADD("output_norm.weight", sec[10], E, 0);
    if (!shared)
        ADD("output.weight", sec[13], E, V);
    for (int64_t l = 0; l < L; l++) {
#define LNAME(s) (snprintf(name, sizeof name, "blk.%lld." s, (long long)l), name)
        ADD(LNAME("attn_norm.weight"), sec[1] + l * E, E, 0);
        ADD(LNAME("attn_q.weight"), sec[2] + l * E * E, E, E);
        ADD(LNAME("attn_k.weight"), sec[3] + l * E * KD, E, KD);
        ADD(LNAME("attn_v.weight"), sec[4] + l * E * KD, E, KD);
        ADD(LNAME("attn_output.weight"), sec[5] + l * E * E, E, E);
        ADD(LNAME("ffn_norm.weight"), sec[6] + l * E, E, 0);
        ADD(LNAME("ffn_gate.weight"), sec[7] + l * F * E, E, F);
        ADD(LNAME("ffn_down.weight"), sec[8] + l * E * F, F, E);
        ADD(LNAME("ffn_up.weight"), sec[9] + l * F * E, E, F);
#undef LNAME
    }
#undef ADD
    {
        const char *protect[] = {model_path, tokenizer_path};
        st = fr_gguf_writer_write(w, out_path, protect, 2, NULL, NULL, err);
    }
done:
    fr_gguf_writer_free(w);
    fr_llama2c_vocab_free(vocab);
    fr_mapping_free(map);
    return st;
}
