/*
 * frugal/lora.h - LoRA adapters in llama.cpp's GGUF format: loading one
 * (checked against its base model), writing one, attaching adapters to a
 * context, and merging adapters into a new base model file.
 *
 * The file format is llama.cpp's (convert_lora_to_gguf.py writes it,
 * llama-adapter.cpp reads it), so an adapter from `frugal tune` loads in
 * llama.cpp with --lora and one converted from PEFT loads here:
 *   keys     general.architecture  the base model's architecture ("llama")
 *            general.type          "adapter"
 *            adapter.type          "lora"
 *            adapter.lora.alpha    float32; absent or 0 means "no alpha"
 *   tensors  for each adapted base weight N (a matrix with ne = [n_in, n_out],
 *            i.e. n_out rows of n_in values, y = W x):
 *            N.lora_a  ne = [n_in, r]   A: r rows of n_in values
 *            N.lora_b  ne = [r, n_out]  B: n_out rows of r values
 *            and nothing else (llama.cpp skips "*_norm.weight" tensors; so do
 *            we, counting them; any other tensor is an error).
 * At run time an adapted layer computes
 *            y = W x + s * B (A x),   s = scale * alpha / r  if alpha != 0
 *                                     s = scale              if alpha == 0
 * where scale is the user's (--lora FILE:SCALE, default 1) and r is that
 * pair's rank (llama.cpp's llama_adapter_lora_weight::get_scale). Several
 * adapters add their terms in the order given.
 *
 * frugal applies adapters to the per-layer projections (attn_q, attn_k,
 * attn_v, attn_output, ffn_gate, ffn_up, ffn_down) and to output.weight;
 * an adapter for token_embd.weight (llama.cpp's transposed special case) is
 * refused as unsupported.
 */
#ifndef FRUGAL_LORA_H
#define FRUGAL_LORA_H

#include <frugal/base.h>
#include <frugal/model.h>
#include <frugal/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_lora fr_lora;

/* ---- loading ------------------------------------------------------------ */

/* Loads the adapter at path and checks it against base: general.type,
 * adapter.type, the architecture, every tensor's name (its base weight must
 * exist and be one frugal adapts), both halves of every pair, the shapes
 * (A [n_in, r], B [r, n_out] with the base's n_in, n_out) and the types
 * (any type frugal can dequantize: F32, F16, BF16, Q8_0, ...). A and B are
 * converted to float once, here. Errors name the file, the tensor and what
 * to do. Owned by the caller; free with fr_lora_free. base is borrowed and
 * must outlive the adapter; the adapter must outlive every context it is
 * attached to. */
FR_API fr_status fr_lora_load(const char *path, const fr_model *base, fr_lora **out, fr_err *err);
FR_API void fr_lora_free(fr_lora *a);

FR_API const char *fr_lora_path(const fr_lora *a);          /* borrowed */
FR_API const fr_model *fr_lora_base(const fr_lora *a);      /* borrowed */
FR_API float fr_lora_alpha(const fr_lora *a);               /* 0 when absent */
FR_API uint32_t fr_lora_rank(const fr_lora *a);             /* largest pair rank */
FR_API size_t fr_lora_n_pairs(const fr_lora *a);
FR_API size_t fr_lora_n_ignored(const fr_lora *a);          /* skipped *_norm.weight tensors */
FR_API uint64_t fr_lora_n_params(const fr_lora *a);         /* values in all A and B */

typedef struct fr_lora_pair_info {
    const char *name;      /* base weight, e.g. "blk.0.attn_q.weight"; borrowed */
    int64_t n_in, n_out;   /* the base weight's row length and row count */
    uint32_t rank;
    fr_type type_a, type_b; /* as stored in the file */
    const float *a;        /* [rank][n_in], borrowed */
    const float *b;        /* [n_out][rank], borrowed */
} fr_lora_pair_info;

/* Pair i (0 .. n_pairs-1, in file order of the .lora_a tensors); FR_E_RANGE
 * when out of range. */
FR_API fr_status fr_lora_pair(const fr_lora *a, size_t i, fr_lora_pair_info *out, fr_err *err);

/* llama.cpp's scaling rule: scale * alpha / rank when alpha != 0, else scale. */
FR_API float fr_lora_effective_scale(float alpha, uint32_t rank, float scale);

/* ---- writing ------------------------------------------------------------ */

/* One adapted weight, from float arrays (row-major, as the runtime uses them). */
typedef struct fr_lora_tensor {
    const char *name;     /* base weight name, e.g. "blk.3.ffn_up.weight" */
    int64_t n_in, n_out;  /* the base weight's ne[0], ne[1] */
    uint32_t rank;
    const float *a;       /* [rank][n_in]: rank rows of n_in values */
    const float *b;       /* [n_out][rank]: n_out rows of rank values */
} fr_lora_tensor;

typedef struct fr_lora_write_params {
    const fr_model *base; /* if not NULL: architecture from it, and every name
                           * and shape checked against it as fr_lora_load does */
    const char *arch;     /* general.architecture when base is NULL */
    float alpha;          /* adapter.lora.alpha (0 = scale used as is) */
    fr_type type;         /* stored type of A and B: F32 (0, the default), F16,
                           * BF16, or Q8_0 when rows fill its blocks */
    const char *const *protect; /* paths the output must not overwrite */
    size_t n_protect;
} fr_lora_write_params;

/* Writes an adapter in llama.cpp's format to path, atomically (temporary
 * file, fsync, rename; on failure nothing is left at path). Tensors are
 * written as given: name.lora_a, then name.lora_b, for each entry. Refuses
 * empty or duplicate names, names that already end in .lora_a/.lora_b,
 * zero sizes, and NaN/Inf values for quantized types. */
FR_API fr_status fr_lora_write(const char *path, const fr_lora_write_params *p,
                               const fr_lora_tensor *t, size_t n, fr_err *err);

/* ---- run time ----------------------------------------------------------- */

/* Makes c apply adapters[0..n) with scales[0..n) (NULL: every scale 1) from
 * the next decode on, replacing any adapters set before; n = 0 clears. Each
 * adapter must have been loaded for c's model (FR_E_INVALID otherwise, and
 * nothing changes). Adapters are borrowed. The KV cache is kept: a caller
 * that switches adapters within a sequence should truncate it first. */
FR_API fr_status fr_context_set_lora(fr_context *c, fr_lora *const *adapters, const float *scales,
                                     size_t n, fr_err *err);
FR_API void fr_context_clear_lora(fr_context *c);
FR_API size_t fr_context_n_lora(const fr_context *c);

/* ---- merging ------------------------------------------------------------ */

typedef enum fr_lora_out {
    FR_LORA_OUT_AUTO = 0, /* F32 for an F32 base tensor, else F16 (llama.cpp's export-lora) */
    FR_LORA_OUT_KEEP,     /* each merged tensor re-quantized to its base type */
    FR_LORA_OUT_TYPE      /* every merged tensor in out_type */
} fr_lora_out;

typedef void (*fr_lora_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct fr_lora_merge_params {
    fr_lora *const *adapters; /* all loaded for the same base model */
    const float *scales;      /* NULL: every scale 1 */
    size_t n;
    fr_lora_out out;
    fr_type out_type;         /* with FR_LORA_OUT_TYPE: F32, F16, BF16, Q8_0, Q4_K, Q6_K,
                               * or any type fr_can_quantize makes */
    int n_threads;            /* <= 0: 1 */
    fr_lora_progress_fn progress; /* optional; base tensor bytes done / total */
    void *progress_user;
} fr_lora_merge_params;

typedef struct fr_lora_merge_stats {
    int64_t n_tensors;     /* tensors written */
    int64_t n_merged;      /* tensors that received an update */
    int64_t n_fallback;    /* merged tensors whose rows do not fill out_type's
                            * blocks, stored as Q5_0/Q8_0/F16 instead (as
                            * `frugal quantize` falls back) */
    int64_t merged_by_type[FR_TYPE_COUNT_]; /* merged tensors per output type */
    uint64_t bytes_out;    /* tensor data written */
    uint32_t file_type;    /* general.file_type written */
    /* How much of the intended update s*B*A the stored file keeps:
     * sqrt(sum |W'_stored - W_base - s*B*A|^2 / sum |s*B*A|^2) over all
     * merged values (0 = kept exactly; near 1 = lost in the rounding of a
     * coarse type). */
    double update_rel_err;
    double update_rel_err_max; /* the worst single tensor */
    char worst_tensor[64];
} fr_lora_merge_stats;

/* Writes base + the adapters' updates to out_path (atomically; never over
 * base's file, an adapter's file or protect[0..n_protect)). Every metadata
 * key is copied; general.file_type is set to llama.cpp's
 * value for the type holding most values of the output's 2-D weights (with
 * FR_LORA_OUT_KEEP, the base's own value when it has one). Tensors no
 * adapter touches are copied byte for byte; a merged tensor is computed in
 * float, W' = dequant(W) + sum_k s_k * B_k A_k, one tensor at a time, and
 * stored in the chosen type. stats may be NULL. */
FR_API fr_status fr_lora_merge(const fr_model *base, const char *out_path,
                               const char *const *protect, size_t n_protect,
                               const fr_lora_merge_params *p, fr_lora_merge_stats *stats,
                               fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
