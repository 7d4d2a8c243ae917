/*
 * frugal/synth.h - random-weight models with the exact shapes of real ones.
 *
 * Speed does not depend on weight values, so a random model with the shapes
 * of Llama-3.2-1B answers "how fast would it be here?" without a download;
 * tests use small random models of every architecture to check the forward
 * pass against a naive reference. Weights are drawn from a seeded generator
 * (same spec, same file), scaled so activations stay O(1) through the layers.
 */
#ifndef FRUGAL_SYNTH_H
#define FRUGAL_SYNTH_H

#include <frugal/base.h>
#include <frugal/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_synth_spec {
    const char *arch;   /* "llama", "qwen2", "qwen3" */
    uint32_t n_vocab, n_embd, n_layer, n_ff, n_head, n_head_kv;
    uint32_t head_dim;  /* 0: n_embd / n_head */
    uint32_t n_ctx;     /* context_length key */
    fr_type wtype;      /* type of the 2-D weights */
    fr_type embd_type;  /* type of token_embd (FR_TYPE_COUNT_: same as wtype) */
    bool tied;          /* no output.weight */
    bool qkv_bias;      /* write q/k/v biases (qwen2 needs them) */
    bool qk_norm;       /* write per-head q/k norms (qwen3 needs them) */
    float rope_base;    /* 0: 10000 */
    uint64_t seed;
    bool byte_vocab;    /* add a SentencePiece-style vocab: <unk> <s> </s> and
                           256 byte tokens, then merges of printable pairs up to
                           n_vocab (n_vocab >= 259), so text can be run */
    const char *vocab_from; /* or NULL: a GGUF whose tokenizer.* keys are
                           copied (a real tokenizer, e.g. ../shared/vocab's
                           ggml-vocab-llama-bpe.gguf, so llama.cpp loads the
                           file); it must hold exactly n_vocab tokens */
} fr_synth_spec;

/* Writes the model to path atomically. progress (may be NULL) is called with
 * bytes written so far and the total. */
FR_API fr_status fr_synth_write(const fr_synth_spec *s, const char *path,
                                void (*progress)(void *user, uint64_t done, uint64_t total),
                                void *user, fr_err *err);

/* Named presets with the shapes of well-known models ("llama-3.2-1b",
 * "qwen2.5-0.5b", ...); wtype is left to the caller. NULL if unknown. */
typedef struct fr_synth_preset {
    const char *name;
    const char *model; /* the real model whose shapes these are */
    fr_synth_spec spec;
} fr_synth_preset;

FR_API const fr_synth_preset *fr_synth_presets(size_t *n);
FR_API const fr_synth_preset *fr_synth_preset_find(const char *name);
/* Parameter count the spec gives. */
FR_API uint64_t fr_synth_n_params(const fr_synth_spec *s);

/* A cached synthetic model for "PRESET[:TYPE]" (TYPE: any `frugal quantize`
 * target, default q8_0): the file dir/PRESET-TYPE.gguf, created on first use
 * (random F16 weights quantized with llama-quantize's per-tensor rules, so a
 * q4_k_m model has the tensor types a real Q4_K_M file has). dir NULL:
 * $XDG_CACHE_HOME/frugal/synthetic (default ~/.cache/frugal/synthetic).
 * *path is malloc'd. progress (may be NULL) reports the generation: stage 0
 * writing random weights, 1 quantizing. */
typedef void (*fr_synth_progress_fn)(void *user, int stage, uint64_t done, uint64_t total);
FR_API fr_status fr_synth_cached(const char *spec, const char *dir, int n_threads,
                                 fr_synth_progress_fn progress, void *user, char **path,
                                 fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
