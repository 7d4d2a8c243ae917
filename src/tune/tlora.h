/*
 * tlora.h - the trainable parameters: one LoRA pair (A, B) per targeted
 * weight of every layer, in one allocation.
 *
 * Layout (the order of the optimizer state and of checkpoints): for layer
 * 0..n_layer-1, for target q, k, v, o, gate, up, down (those enabled):
 * A [r][n_in] then B [n_out][r]. param, grad and the optimizer's moment
 * vectors all use this layout, so AdamW, clipping and checkpointing are
 * single loops over n_params floats.
 *
 * Initialisation (LoRA paper; PEFT's default): A ~ U(-1/sqrt(n_in),
 * 1/sqrt(n_in)) (Kaiming-uniform with a = sqrt(5)), B = 0, so the adapted
 * model starts exactly at the base.
 */
#ifndef FR_TUNE_TLORA_H
#define FR_TUNE_TLORA_H

#include <frugal/model.h>
#include <frugal/tune.h>

#include "tune/linear.h"

typedef struct fr_tlora_slot {
    bool on;
    int64_t a_off, b_off; /* offsets into param/grad */
    int64_t n_in, n_out;
} fr_tlora_slot;

typedef struct fr_tlora {
    uint32_t rank;
    float alpha;
    unsigned targets;   /* FR_TARGET_* bits */
    uint32_t n_layer;
    int64_t n_params;
    float *param;       /* [n_params] */
    float *grad;        /* [n_params] */
    fr_tlora_slot *slot; /* [n_layer][FR_TARGET_COUNT] */
} fr_tlora;

/* Sizes the set for model m (no values set: see fr_tlora_init). */
fr_status fr_tlora_create(const fr_model *m, uint32_t rank, float alpha, unsigned targets,
                             fr_tlora **out, fr_err *err);
void fr_tlora_free(fr_tlora *s);
/* A random (from *rng_state, advanced), B = 0, gradients 0. */
void fr_tlora_init(fr_tlora *s, uint64_t *rng_state);

static inline const fr_tlora_slot *fr_tlora_slot_at(const fr_tlora *s, uint32_t l, int t)
{
    return &s->slot[(size_t)l * FR_TARGET_COUNT + (size_t)t];
}

/* The pair of layer l, target t for the linear ops (NULL when not trained). */
bool fr_tlora_pair(fr_tlora *s, uint32_t l, int t, fr_lora_ref *out);

/* Weight of target t in layer ly. */
const fr_weight *fr_tlora_weight(const void *layer, int t);
/* The GGUF name of target t's weight in layer l ("blk.3.attn_q.weight")
 * into buf; returns buf. */
char *fr_tlora_name(int t, uint32_t l, char *buf, size_t size);
/* The target whose weight a GGUF name is (and its layer, < n_layer), or
 * -1. */
int fr_tlora_target_of(const char *name, uint32_t n_layer, uint32_t *l);

#endif
