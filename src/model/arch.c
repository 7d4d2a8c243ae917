/*
 * arch.c - the architecture table.
 *
 * Llama-family GGUFs are converted with Q/K rows permuted so that rotating
 * adjacent pairs reproduces the original model ("normal" rope); Qwen GGUFs
 * keep the original layout and rotate halves ("neox"). Everything else that
 * differs is a flag here, not a separate code path.
 */
#include "model/model_impl.h"

#include <string.h>

static const fr_arch_info fr_archs[] = {
    {"llama", FR_ROPE_NORMAL, false, false},
    {"qwen2", FR_ROPE_NEOX, true, false},
    {"qwen3", FR_ROPE_NEOX, false, true},
};

const fr_arch_info *fr_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof fr_archs / sizeof fr_archs[0]; i++)
        if (strcmp(fr_archs[i].name, name) == 0)
            return &fr_archs[i];
    return NULL;
}

const char *fr_model_supported_archs(void) { return "llama, qwen2, qwen3"; }
