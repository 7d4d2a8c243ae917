/*
 * frugal/arch.h - which model architectures this build runs (each is one
 * file under src/model/arch/). Separate from model.h so that code reading
 * only a file's metadata (frugal inspect) can ask without the model API.
 */
#ifndef FRUGAL_ARCH_H
#define FRUGAL_ARCH_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this build runs models of general.architecture arch. */
FR_API bool fr_model_arch_supported(const char *arch);
/* The architectures this build runs, as "llama, qwen2, qwen3, ..."
 * (static). */
FR_API const char *fr_model_supported_archs(void);

#ifdef __cplusplus
}
#endif
#endif
