/*
 * frugal/import.h - converting other checkpoint formats to GGUF.
 */
#ifndef FRUGAL_IMPORT_H
#define FRUGAL_IMPORT_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Converts a llama2.c checkpoint (run.c's format: 7 int32 of config, then
 * F32 tensors) and its tokenizer file to a GGUF "llama" model with F32
 * weights, written atomically to out_path. The checkpoint is checked against
 * its own header before anything is read: every size must match the file
 * exactly. progress may be NULL. */
FR_API fr_status fr_import_llama2c(const char *model_path, const char *tokenizer_path,
                                   const char *out_path, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
