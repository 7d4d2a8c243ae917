/*
 * frugal/quant.h - quantizing a whole GGUF model file (`frugal quantize`).
 *
 * The per-tensor type choices follow llama.cpp's llama-quantize (without an
 * importance matrix), so that a "q4_k_m" file from frugal has the same tensor
 * types as llama.cpp's Q4_K_M of the same model and loads in both:
 *  - only tensors whose name ends in "weight" with 2+ dimensions are
 *    converted; 1-D tensors (norms, biases) and norm weights are copied as
 *    they are;
 *  - with a quantized target, output.weight (token_embd.weight when the
 *    model ties them) becomes Q6_K (Q8_0 for a Q8_0 target); the _M mixes
 *    give attn_v and ffn_down of some layers Q6_K, and so on (quant/plan.c);
 *  - a tensor whose row length is not a multiple of the chosen type's block
 *    falls back: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 if even
 *    32 does not divide it (llama.cpp refuses such rows for the 32-value
 *    types; we store them as F16 instead).
 */
#ifndef FRUGAL_QUANT_H
#define FRUGAL_QUANT_H

#include <frugal/base.h>
#include <frugal/gguf.h>
#include <frugal/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* llama.cpp's llama_ftype values, stored as general.file_type. */
typedef enum fr_ftype {
    FR_FTYPE_ALL_F32 = 0,
    FR_FTYPE_F16 = 1,
    FR_FTYPE_Q4_0 = 2,
    FR_FTYPE_Q4_1 = 3,
    FR_FTYPE_Q8_0 = 7,
    FR_FTYPE_Q5_0 = 8,
    FR_FTYPE_Q5_1 = 9,
    FR_FTYPE_Q2_K = 10,
    FR_FTYPE_Q3_K_S = 11,
    FR_FTYPE_Q3_K_M = 12,
    FR_FTYPE_Q3_K_L = 13,
    FR_FTYPE_Q4_K_S = 14,
    FR_FTYPE_Q4_K_M = 15,
    FR_FTYPE_Q5_K_S = 16,
    FR_FTYPE_Q5_K_M = 17,
    FR_FTYPE_Q6_K = 18,
    FR_FTYPE_BF16 = 32,
    FR_FTYPE_MXFP4_MOE = 38 /* experts (3-D tensors) MXFP4, everything else Q8_0 */
} fr_ftype;

/* Parses a target name (case-insensitive): f32, f16, bf16, q8_0, q4_0,
 * q4_1, q5_0, q5_1, q4_k (= q4_k_s), q4_k_s, q4_k_m, q5_k (= q5_k_s),
 * q5_k_s, q5_k_m, q6_k. False for anything else, including llama.cpp
 * ftypes frugal cannot produce (Q2_K, Q3_K_*). */
FR_API bool fr_ftype_from_name(const char *s, fr_ftype *out);
/* "Q4_K_M" style name of a llama_ftype value (llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M
 * without the prefixes); "unknown" otherwise. */
FR_API const char *fr_ftype_short_name(uint32_t ftype);
/* The main tensor type of a target (Q4_K for Q4_K_M); F32 if unknown. */
FR_API fr_type fr_ftype_base_type(fr_ftype f);

/* The type each tensor of src gets under target f: types[i] for tensor i
 * (fr_gguf_n_tensors(src) entries, caller's array). A tensor that is not
 * converted keeps its own type. Reads general.architecture and
 * <arch>.block_count / .expert_count / .attention.head_count(_kv). */
FR_API fr_status fr_quant_plan(const fr_gguf *src, fr_ftype f, fr_type *types, fr_err *err);

typedef void (*fr_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct fr_quant_params {
    fr_ftype ftype;
    int n_threads;           /* worker threads; <= 0 means 1 */
    bool allow_requantize;   /* convert tensors that are already quantized */
    fr_progress_fn progress; /* optional; called on the caller's thread with
                              * the input bytes converted so far and in
                              * total (tensors copied unchanged not counted) */
    void *progress_user;
} fr_quant_params;

typedef struct fr_quant_stats {
    int64_t n_tensors;                 /* all tensors written */
    int64_t n_converted;               /* tensors whose type changed */
    int64_t n_fallback;                /* tensors that fell back to another type */
    uint64_t bytes_in;                 /* tensor data bytes read */
    uint64_t bytes_out;                /* tensor data bytes written */
    int64_t n_by_type[FR_TYPE_COUNT_]; /* output tensors per type */
} fr_quant_stats;

/* Quantizes src into a new GGUF at out_path (atomically: temp file, fsync,
 * rename; nothing is left under out_path on failure), refusing to write over
 * protect[0..n_protect). Copies every metadata key, then sets
 * general.file_type and general.quantization_version = 2. stats may be NULL.
 * Fails before writing anything when a tensor needs a conversion frugal
 * cannot do (unsupported source type; quantized source without
 * allow_requantize; NaN/Inf weights are found while writing). */
FR_API fr_status fr_quantize_gguf(const fr_gguf *src, const char *out_path,
                                  const char *const *protect, size_t n_protect,
                                  const fr_quant_params *p, fr_quant_stats *stats, fr_err *err);

/* Opens in_path and quantizes it to out_path (which must not be in_path). */
FR_API fr_status fr_quantize_model(const char *in_path, const char *out_path,
                                   const fr_quant_params *p, fr_quant_stats *stats, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
