/*
 * pack.h - weights repacked at load into the "x8" layouts that a kernel
 * set's fastest products read (internal to the library).
 *
 * In a GGUF file each row of a quantized matrix is a run of blocks. A
 * product kernel that reads one row at a time must sum each row's lanes
 * horizontally at the end and widen every block's integer sums on its
 * own; on CPUs with one vector integer multiplier (AMD Zen 1-3 run
 * vpmaddubsw and vpmaddwd on one pipe) that is most of the work. The x8
 * layouts interleave 8 consecutive rows block by block: one 32-byte load
 * holds 4 bytes of each of the 8 rows, so one vpmaddubsw multiplies 8 rows
 * by the same 4 activations (one broadcast), each 32-bit lane stays one
 * row from the first block to the last (no horizontal sums, no shuffles),
 * and one vpmaddwd widens a whole block of 8 rows. The block scales of the
 * 8 rows lie side by side, so one load (and one F16C conversion) gives all
 * eight. (ik_llama.cpp's "_r8" types and llama.cpp's CPU "repack" buffers
 * are the same idea; the byte order here is frugal's own, set out in
 * pack.c.)
 *
 * Every layout has exactly the size of the rows it holds: a group of 8
 * rows takes 8 * row_bytes bytes, so row r still starts (proportionally)
 * at r * row_bytes and the prefetch and work-split arithmetic of the
 * products is unchanged. Rows past the end of the matrix (n_out not a
 * multiple of 8) are zero blocks in the last group; their results are
 * computed and never stored.
 *
 * Memory: fr_weight_pack copies one matrix into owned memory (2 MiB
 * aligned, transparent huge pages asked for); the caller then releases
 * the mapped file pages of the original (fr_gguf_release), so resident
 * memory holds one copy of the weights, not two. The original stays
 * readable (the kernel reads it from the file again on access): embedding
 * lookups and the reference paths use it.
 *
 * Which weights are packed: those whose type has an x8 product in the
 * kernel set of the path the process runs (cpu.h: FRUGAL_ISA or the best),
 * unless FRUGAL_REPACK=0. A context on another path (tests switch paths)
 * ignores the packed copy and reads the original. The avx512 set has no x8
 * products yet: its kernels were tuned and tested on AVX-512 machines and
 * stay on the original layout until they can be measured again there.
 */
#ifndef FR_TENSOR_PACK_H
#define FR_TENSOR_PACK_H

#include "tensor/matmul.h"

#define FR_PACK_ROWS 8 /* rows per interleaved group */

typedef struct fr_packed {
    fr_isa isa;     /* the path whose x8 products read it */
    fr_type type;   /* the weight's type */
    uint8_t *data;  /* ceil(n_out / 8) groups of 8 * row_bytes bytes */
    size_t bytes;
} fr_packed;

/* True when the kernel set of path isa has an x8 product for type t. */
bool fr_pack_has(fr_isa isa, fr_type t);

/* True unless FRUGAL_REPACK is set to 0 (read once per process). */
bool fr_pack_enabled(void);

/* Lays out rows [0, n_out) of a matrix (row_bytes each, n_in values) in
 * the x8 layout of type t into dst (ceil(n_out / 8) * 8 * row_bytes
 * bytes). False for a type with no x8 layout. */
bool fr_pack_x8(fr_type t, const uint8_t *src, size_t row_bytes, int64_t n_in, int64_t n_out,
                uint8_t *dst);

/* Packs w for path isa when that path has an x8 product for its type:
 * *out gets the packed copy (owned by the caller: fr_packed_free) and
 * w->packed points at it. *out NULL (and FR_OK) when there is nothing to
 * pack. FR_E_NOMEM when the copy cannot be allocated. */
fr_status fr_weight_pack(fr_weight *w, fr_isa isa, fr_packed **out, fr_err *err);

/* Frees a packed copy (NULL is a no-op). */
void fr_packed_free(fr_packed *p);

#endif
