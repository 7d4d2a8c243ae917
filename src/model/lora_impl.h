/*
 * lora_impl.h - the inside of fr_lora, shared by the file code
 * (lora_file.c), the run-time application (lora.c), the merge
 * (lora_merge.c) and the forward pass, which calls fr_lora_apply after each
 * projection it computes.
 *
 * A loaded adapter keeps A and B as float arrays in the runtime's row-major
 * layout (A: rank rows of n_in; B: n_out rows of rank), converted once at
 * load time whatever their stored type, so the per-token work is two small
 * float products and the stored types never matter again.
 */
#ifndef FR_MODEL_LORA_IMPL_H
#define FR_MODEL_LORA_IMPL_H

#include <frugal/lora.h>
#include "tensor/threadpool.h"

/* The base weights frugal adapts: the seven per-layer projections, then the
 * output head. */
typedef enum fr_lora_kind {
    FR_LORA_Q = 0,
    FR_LORA_K,
    FR_LORA_V,
    FR_LORA_O,
    FR_LORA_GATE,
    FR_LORA_UP,
    FR_LORA_DOWN,
    FR_LORA_QKV,  /* fused attn_qkv (phi3) */
    FR_LORA_N_LAYER_KINDS,
    FR_LORA_OUTPUT = FR_LORA_N_LAYER_KINDS /* layer argument ignored */
} fr_lora_kind;

typedef struct fr_lora_w {
    char *name;            /* base weight name */
    int64_t n_in, n_out;
    uint32_t rank;
    fr_type type_a, type_b; /* as stored */
    float *a;              /* [rank, n_in] */
    float *b;              /* [n_out, rank] */
} fr_lora_w;

struct fr_lora {
    char *path;
    const fr_model *base;
    float alpha;
    fr_lora_w *w;     /* [n_w] in file order */
    size_t n_w;
    size_t n_ignored;
    uint32_t max_rank;
    uint32_t n_layer;
    int32_t *slot;    /* [n_layer * FR_LORA_N_LAYER_KINDS + 1]: index into w, or -1 */
};

/* fr_lora_load on an already opened file (path is used in messages); g is
 * only read during the call. For the fuzz target. */
fr_status fr_lora_load_gguf(const fr_gguf *g, const char *path, const fr_model *base,
                           fr_lora **out, fr_err *err);

/* Which adapted weight a base tensor name is: "blk.<l>.attn_q.weight" ...
 * "output.weight". False for any other name or a layer >= n_layer. */
bool fr_lora_kind_of(const char *name, uint32_t n_layer, uint32_t *layer, fr_lora_kind *kind);

/* The pair for (layer, kind), or NULL. */
static inline const fr_lora_w *fr_lora_find(const fr_lora *a, uint32_t layer, fr_lora_kind kind)
{
    size_t i = kind == FR_LORA_OUTPUT ? (size_t)a->n_layer * FR_LORA_N_LAYER_KINDS
                                      : (size_t)layer * FR_LORA_N_LAYER_KINDS + kind;
    int32_t k = a->slot[i];
    return k < 0 ? NULL : &a->w[k];
}

/* ---- run time (lora.c) --------------------------------------------------- */

/* A context's active adapters and their scratch; owned by the context. */
typedef struct fr_lora_set fr_lora_set;

void fr_lora_set_free(fr_lora_set *s);

/* y[t * ldy + o] += s_k * (B_k (A_k x_t))[row0 + o] for o < n_rows (n_rows
 * < 0: every row of B from row0) for every active adapter k that adapts
 * (layer, kind), for t < n_tok (n_tok <= the context's n_batch); x rows are
 * n_in floats apart. A row range serves fused matrices (attn_qkv's Q, K
 * and V rows go to three buffers). Results do not depend on the thread
 * count. */
void fr_lora_apply_set(const fr_lora_set *s, fr_pool *pool, uint32_t layer, fr_lora_kind kind,
                       int64_t row0, int64_t n_rows, const float *x, int64_t n_tok, float *y,
                       int64_t ldy);

/* The call the forward pass makes after each projection (a no-op without
 * adapters or without rows). */
static inline void fr_lora_apply(const fr_lora_set *s, fr_pool *pool, uint32_t layer,
                                 fr_lora_kind kind, int64_t row0, int64_t n_rows, const float *x,
                                 int64_t n_tok, float *y, int64_t ldy)
{
    if (s && n_tok > 0)
        fr_lora_apply_set(s, pool, layer, kind, row0, n_rows, x, n_tok, y, ldy);
}

/* What lora.c needs from forward.c's fr_context. */
fr_lora_set **fr_context_lora_slot(fr_context *c);
fr_pool *fr_context_pool(fr_context *c);
uint32_t fr_context_n_batch(const fr_context *c);

#endif
