/*
 * gguf/summary.h - what `frugal inspect` (and later `frugal plan`) derives
 * from a GGUF file's metadata: llama.cpp's file-type names, the common
 * hyper-parameters of the architecture, and an estimate of the RAM needed
 * to run the model at a given context length.
 *
 * The estimate is deliberately simple and stated in its output: weights are
 * the tensor bytes of the file (mapped, not copied); the KV cache holds F32
 * keys and values for every layer and position; working buffers are those
 * of a batch-1 decoder (llama2.c's RunState: residual and scratch vectors,
 * feed-forward hidden vectors, q/k/v of one position, attention scores over
 * the context, logits over the vocabulary). Prompt processing in larger
 * batches, thread scratch and allocator overhead come on top.
 */
#ifndef FR_GGUF_SUMMARY_H
#define FR_GGUF_SUMMARY_H

#include <frugal/gguf.h>

/* llama.cpp's llama_ftype name for general.file_type ("MOSTLY_Q4_K_M" for
 * 15), without the "LLAMA_FTYPE_" prefix; NULL when unknown. The GUESSED
 * flag (1024) is ignored. */
const char *fr_gguf_ftype_name(uint32_t ftype);

/* Hyper-parameters read from "<arch>.<name>" keys; -1 when absent. Values
 * stored as per-layer arrays are summarised by their maximum. */
typedef struct fr_hparams {
    char arch[64];       /* general.architecture, "" when absent */
    int64_t n_ctx_train; /* context_length */
    int64_t n_embd;      /* embedding_length */
    int64_t n_layer;     /* block_count */
    int64_t n_ff;        /* feed_forward_length */
    int64_t n_head;      /* attention.head_count */
    int64_t n_head_kv;   /* attention.head_count_kv (defaults to n_head) */
    int64_t head_dim_k;  /* attention.key_length, else n_embd / n_head */
    int64_t head_dim_v;  /* attention.value_length, else head_dim_k */
    int64_t n_vocab;     /* tokenizer.ggml.tokens length, else vocab_size,
                          * else token_embd.weight rows */
} fr_hparams;

void fr_hparams_read(const fr_gguf *g, fr_hparams *hp);

/* Integer "<arch>.<suffix>" (max over an array value); -1 when absent or not
 * an integer. */
int64_t fr_hparams_arch_int(const fr_gguf *g, const char *arch, const char *suffix);

typedef struct fr_mem_estimate {
    uint64_t n_ctx;
    uint64_t weights;  /* tensor bytes in the file */
    uint64_t kv_cache; /* n_layer * n_ctx * n_head_kv * (head_dim_k + head_dim_v) * 2 (F16, the default) */
    uint64_t work;     /* 4 * (3 n_embd + 2 n_ff + n_head head_dim_k
                        *      + n_head_kv (head_dim_k + head_dim_v)
                        *      + n_head n_ctx + n_vocab) */
    uint64_t total;
    bool has_kv;   /* the hyper-parameters needed for kv_cache were present */
    bool has_work; /* ... and those needed for work */
} fr_mem_estimate;

/* Fills est for weights_bytes of tensors at context n_ctx. Saturates
 * instead of overflowing on absurd inputs. */
void fr_mem_estimate_compute(const fr_hparams *hp, uint64_t weights_bytes, uint64_t n_ctx,
                             fr_mem_estimate *est);

#endif
