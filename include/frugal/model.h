/*
 * frugal/model.h - loading a model and running its forward pass.
 *
 * fr_model holds what is shared and read-only: the mapped GGUF file, the
 * hyper-parameters and the weights bound by name (pointers into the mapping,
 * in their stored type; nothing is copied or dequantized up front).
 *
 * fr_context holds what one user of the model mutates: a KV cache for up to
 * n_seq independent sequences (the server's slots), scratch buffers sized for
 * n_batch tokens, and a thread pool. Several contexts may share one model.
 *
 * fr_context_decode runs one forward pass over a batch of tokens that may
 * belong to different sequences (prefill of one prompt, or one decode step of
 * many sequences at once: continuous batching), appends their keys and values
 * to each sequence's cache, and computes logits for the tokens that ask.
 */
#ifndef FRUGAL_MODEL_H
#define FRUGAL_MODEL_H

#include <frugal/arch.h>
#include <frugal/base.h>
#include <frugal/gguf.h>
#include <frugal/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_rope_style {
    FR_ROPE_NORMAL = 0, /* rotate adjacent pairs (x[2i], x[2i+1]): llama GGUFs */
    FR_ROPE_NEOX = 2    /* rotate halves (x[i], x[i + n/2]): qwen2, qwen3 */
} fr_rope_style;

/* How rope's frequencies are stretched for long contexts (the factors of
 * Llama 3.1 and LongRoPE come as tensors and combine with any of these). */
typedef enum fr_rope_scaling {
    FR_ROPE_SCALING_NONE = 0,
    FR_ROPE_SCALING_LINEAR, /* positions divided by rope.scaling.factor */
    FR_ROPE_SCALING_YARN,   /* YaRN: interpolation ramped over the pairs, plus a
                               magnitude correction */
} fr_rope_scaling;

typedef struct fr_hparams {
    char arch[32];         /* general.architecture: one of fr_model_supported_archs() */
    uint32_t n_vocab;
    uint32_t n_ctx_train;  /* <arch>.context_length */
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_ff;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;     /* key/value length per head */
    uint32_t n_rot;        /* rotated dimensions per head (<= head_dim) */
    uint32_t n_expert;     /* mixture of experts: experts per layer (0: dense) */
    uint32_t n_expert_used; /* experts each token uses */
    uint32_t n_ff_exp;     /* hidden width of one expert */
    float norm_eps;
    float rope_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    fr_rope_style rope_style;
    fr_rope_scaling rope_scaling;
    uint32_t n_ctx_orig;   /* rope.scaling.original_context_length (YaRN, LongRoPE) */
    float rope_attn_factor; /* rope.scaling.attn_factor: rope's cos and sin are
                               multiplied by it (LongRoPE) */
    uint32_t n_swa;        /* sliding window: layers that use one attend to the
                              last n_swa positions (0: none) */
    float rope_base_swa;   /* rope base and scale of the sliding-window layers */
    float rope_freq_scale_swa;
    float embd_scale;      /* token embeddings are multiplied by this (gemma:
                              sqrt(n_embd)); 1 otherwise */
    float attn_scale;      /* q is multiplied by this before attention, which
                              then does not divide by sqrt(head_dim) (gemma3);
                              0: the usual 1 / sqrt(head_dim) */
    float logit_softcap;   /* logits = c tanh(logits / c) (0: none) */
    bool has_qkv_bias;     /* qwen2 */
    bool has_qk_norm;      /* qwen3 */
    bool tied_output;      /* output head reuses token_embd */
    bool has_rope_freqs;   /* llama 3.1+ rope_freqs tensor */
} fr_hparams;

typedef struct fr_model fr_model;
typedef struct fr_context fr_context;

/* Loads a GGUF model (architectures: fr_model_supported_archs()). Errors name the
 * missing or misshapen tensor or the unsupported architecture. Owned by the
 * caller; free with fr_model_free. */
FR_API fr_status fr_model_load(const char *path, fr_model **out, fr_err *err);
FR_API void fr_model_free(fr_model *m);
FR_API const fr_hparams *fr_model_hparams(const fr_model *m); /* borrowed */
FR_API const fr_gguf *fr_model_gguf(const fr_model *m);       /* borrowed */
/* Bytes of weights (tensor data) and parameter count. */
FR_API uint64_t fr_model_weight_bytes(const fr_model *m);
FR_API uint64_t fr_model_n_params(const fr_model *m);
/* Bytes of weights one decoded token reads: every tensor once, except
 * token_embd when it is not also the output head (one row), and the
 * experts of a mixture (the n_expert_used of n_expert a token uses). */
FR_API uint64_t fr_model_decode_bytes(const fr_model *m);


typedef struct fr_context_params {
    uint32_t n_ctx;     /* per sequence; 0 = min(n_ctx_train, 4096) */
    uint32_t n_seq;     /* independent sequences (slots); 0 = 1 */
    uint32_t n_batch;   /* max tokens per decode call; 0 = 512 */
    uint32_t n_threads; /* 0 = number of online CPUs */
    fr_type kv_type;    /* FR_TYPE_F16 (default, as llama.cpp) or FR_TYPE_F32 */
} fr_context_params;

FR_API fr_context_params fr_context_default_params(void);
FR_API fr_status fr_context_create(fr_model *m, const fr_context_params *p, fr_context **out,
                                   fr_err *err);
FR_API void fr_context_free(fr_context *c);
FR_API uint32_t fr_context_n_ctx(const fr_context *c);
FR_API uint32_t fr_context_n_seq(const fr_context *c);
FR_API uint32_t fr_context_n_threads(const fr_context *c);
FR_API const fr_model *fr_context_model(const fr_context *c);

/* One batch: n tokens; token i goes to sequence seq[i] (NULL: all 0) at the
 * position that sequence has reached (positions are implicit: each sequence's
 * tokens are appended to its cache in batch order). logits[i] asks for the
 * logits of token i (NULL: only the last token). */
typedef struct fr_batch {
    uint32_t n;
    const int32_t *tokens;
    const int32_t *seq;
    const bool *logits;
} fr_batch;

/* Runs the forward pass. Fails with FR_E_RANGE (and changes nothing) when a
 * sequence would pass n_ctx, FR_E_INVALID for a bad token id or sequence. A
 * batch larger than n_batch is processed in pieces. */
FR_API fr_status fr_context_decode(fr_context *c, const fr_batch *b, fr_err *err);
/* Logits (n_vocab floats) of the j-th token of the last batch that asked for
 * logits (0-based in batch order); NULL if out of range. Valid until the next
 * decode. */
FR_API const float *fr_context_logits(const fr_context *c, uint32_t j);
/* Tokens currently in sequence s's cache. */
FR_API uint32_t fr_context_seq_len(const fr_context *c, uint32_t s);
/* The token ids in sequence s's cache (fr_context_seq_len of them); borrowed,
 * valid until the next decode or truncate. */
FR_API const int32_t *fr_context_seq_tokens(const fr_context *c, uint32_t s);
/* Keeps the first n tokens of sequence s (prefix reuse) and returns how
 * many it kept: n (all of them if n >= len), or 0 when the model has
 * sliding-window layers and their cache, a ring of the last n_swa + n_batch
 * - 1 positions, no longer holds the window of position n (more than
 * n_batch tokens were dropped past it): the caller then decodes the whole
 * prompt again. */
FR_API uint32_t fr_context_seq_truncate(fr_context *c, uint32_t s, uint32_t n);
/* Bytes of the KV cache the context allocated (K and V, every layer and
 * sequence; sliding-window layers hold a ring, not n_ctx positions). */
FR_API uint64_t fr_context_kv_bytes(const fr_context *c);

#ifdef __cplusplus
}
#endif
#endif
