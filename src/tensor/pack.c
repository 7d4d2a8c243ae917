/*
 * pack.c - the x8 layouts (see pack.h): 8 rows interleaved block by block.
 *
 * A group of 8 rows is a run of "8-blocks", one per block of the rows
 * (32 or 256 values), each exactly 8 times the block's size. In the
 * notation below r is the row in the group (0..7), "for k: for r:
 * x_r[4k..4k+3]" means 4 bytes of row 0, then 4 of row 1, ..., so that one
 * 32-byte load holds 4 consecutive bytes of every row, row r in 32-bit
 * lane r. Scales stay in their stored form (f16, 6-bit fields), only
 * moved next to the other rows' ones. Per type (bs = block bytes):
 *
 *   Q4_0 (18)  d[8] f16 | qs: for k 0..3: for r: qs_r[4k..4k+3]      (128)
 *              lane r of load k: low nibbles = values 4k..4k+3, high
 *              nibbles = values 16+4k..16+4k+3 of row r
 *   Q4_1 (20)  d[8] | m[8] | qs as Q4_0
 *   Q5_0 (22)  d[8] | qh | qs as Q4_0; qh (32 bytes): byte 4r+j, bit k =
 *              fifth bit of value 4k+j of row r (k 0..7: the 8 nibble
 *              vectors of the block in order low 0..3, high 0..3)
 *   Q5_1 (24)  d[8] | m[8] | qh | qs as Q5_0
 *   Q8_0 (34)  d[8] | qs: for k 0..7: for r: qs_r[4k..4k+3]          (256)
 *   Q2_K (84)  d[8] | dmin[8] | sc: for g 0..15: for r: scales_r[g]  (128)
 *              | qs: for h 0..1: for q 0..7: for r: qs_r[32h+4q..+3] (512)
 *   Q3_K (110) d[8] | sc: for w 0..2: for r: scales_r[4w..4w+3]      (96)
 *              | qs as Q2_K (512) | hm: for q 0..7: for r: hmask_r[4q..+3]
 *   Q4_K (144) d[8] | dmin[8] | sc: for w 0..2: for r: scales_r[4w..+3]
 *              | qs: for c 0..3: for k 0..7: for r: qs_r[32c+4k..+3] (1024)
 *   Q5_K (176) d[8] | dmin[8] | sc as Q4_K | qh: for k 0..7: for r:
 *              qh_r[4k..4k+3] (256) | qs as Q4_K
 *   Q6_K (210) d[8] | sc: for g 0..15: for r: scales_r[g]            (128)
 *              | ql: for h 0..1: for p 0..1: for q 0..7: for r:
 *                ql_r[64h+32p+4q..+3] (1024)
 *              | qh: for h 0..1: for q 0..7: for r: qh_r[32h+4q..+3] (512)
 *
 * (Field meanings as in layout.h and ggml's block_* structs.) Only Q5_0
 * and Q5_1 change bits, not just bytes: their 32 fifth bits are regrouped
 * so that one vector holds them for all 8 rows and all 8 nibble vectors of
 * the block, one shift away from each.
 */
#include "tensor/pack.h"

#include <frugal/tensor.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tensor/kernels/kernels.h"

/* Gathers the 4-byte words of a field: dst gets, for each word w in
 * [0, nw), word w of each of the 8 rows (row r's field at src[r] + off). */
static uint8_t *fr_pk_words(uint8_t *dst, const uint8_t *const src[8], size_t off, int nw)
{
    for (int w = 0; w < nw; w++)
        for (int r = 0; r < 8; r++) {
            memcpy(dst, src[r] + off + 4 * (size_t)w, 4);
            dst += 4;
        }
    return dst;
}

/* Gathers a field of n bytes per row, row after row. */
static uint8_t *fr_pk_rows(uint8_t *dst, const uint8_t *const src[8], size_t off, size_t n)
{
    for (int r = 0; r < 8; r++) {
        memcpy(dst, src[r] + off, n);
        dst += n;
    }
    return dst;
}

/* Byte g of each row for g in [0, n): for g: for r. */
static uint8_t *fr_pk_bytes(uint8_t *dst, const uint8_t *const src[8], size_t off, int n)
{
    for (int g = 0; g < n; g++)
        for (int r = 0; r < 8; r++)
            *dst++ = src[r][off + (size_t)g];
    return dst;
}

/* Q5_0 / Q5_1 fifth bits (qh32 of each row at src[r] + off) regrouped:
 * byte 4r+j bit k = bit 4k+j of row r's qh32. */
static uint8_t *fr_pk_qh5(uint8_t *dst, const uint8_t *const src[8], size_t off)
{
    for (int r = 0; r < 8; r++) {
        uint32_t qh;
        memcpy(&qh, src[r] + off, 4);
        for (int j = 0; j < 4; j++) {
            uint8_t b = 0;
            for (int k = 0; k < 8; k++)
                b |= (uint8_t)(((qh >> (4 * k + j)) & 1u) << k);
            dst[4 * r + j] = b;
        }
    }
    return dst + 32;
}

/* One 8-block of type t from the blocks at src[0..7]. */
static void fr_pk_block(fr_type t, const uint8_t *const s[8], uint8_t *d)
{
    switch (t) {
    case FR_TYPE_Q4_0:
        d = fr_pk_rows(d, s, 0, 2);
        fr_pk_words(d, s, 2, 4);
        break;
    case FR_TYPE_Q4_1:
        d = fr_pk_rows(d, s, 0, 2);
        d = fr_pk_rows(d, s, 2, 2);
        fr_pk_words(d, s, 4, 4);
        break;
    case FR_TYPE_Q5_0:
        d = fr_pk_rows(d, s, 0, 2);
        d = fr_pk_qh5(d, s, 2);
        fr_pk_words(d, s, 6, 4);
        break;
    case FR_TYPE_Q5_1:
        d = fr_pk_rows(d, s, 0, 2);
        d = fr_pk_rows(d, s, 2, 2);
        d = fr_pk_qh5(d, s, 4);
        fr_pk_words(d, s, 8, 4);
        break;
    case FR_TYPE_Q8_0:
        d = fr_pk_rows(d, s, 0, 2);
        fr_pk_words(d, s, 2, 8);
        break;
    case FR_TYPE_Q2_K: /* scales[16] qs[64] d dmin */
        d = fr_pk_rows(d, s, 80, 2);
        d = fr_pk_rows(d, s, 82, 2);
        d = fr_pk_bytes(d, s, 0, 16);
        fr_pk_words(d, s, 16, 16);
        break;
    case FR_TYPE_Q3_K: /* hmask[32] qs[64] scales[12] d */
        d = fr_pk_rows(d, s, 108, 2);
        d = fr_pk_words(d, s, 96, 3);
        d = fr_pk_words(d, s, 32, 16);
        fr_pk_words(d, s, 0, 8);
        break;
    case FR_TYPE_Q4_K: /* d dmin scales[12] qs[128] */
        d = fr_pk_rows(d, s, 0, 2);
        d = fr_pk_rows(d, s, 2, 2);
        d = fr_pk_words(d, s, 4, 3);
        fr_pk_words(d, s, 16, 32);
        break;
    case FR_TYPE_Q5_K: /* d dmin scales[12] qh[32] qs[128] */
        d = fr_pk_rows(d, s, 0, 2);
        d = fr_pk_rows(d, s, 2, 2);
        d = fr_pk_words(d, s, 4, 3);
        d = fr_pk_words(d, s, 16, 8);
        fr_pk_words(d, s, 48, 32);
        break;
    case FR_TYPE_Q6_K: /* ql[128] qh[64] scales[16] d */
        d = fr_pk_rows(d, s, 208, 2);
        d = fr_pk_bytes(d, s, 192, 16);
        d = fr_pk_words(d, s, 0, 32);
        fr_pk_words(d, s, 128, 16);
        break;
    default:
        break;
    }
}

static bool fr_pk_type(fr_type t)
{
    switch (t) {
    case FR_TYPE_Q4_0: case FR_TYPE_Q4_1: case FR_TYPE_Q5_0: case FR_TYPE_Q5_1:
    case FR_TYPE_Q8_0: case FR_TYPE_Q2_K: case FR_TYPE_Q3_K: case FR_TYPE_Q4_K:
    case FR_TYPE_Q5_K: case FR_TYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

bool fr_pack_x8(fr_type t, const uint8_t *src, size_t row_bytes, int64_t n_in, int64_t n_out,
                uint8_t *dst)
{
    if (!fr_pk_type(t))
        return false;
    const fr_type_info *ti = fr_type_get((uint32_t)t);
    size_t bs = ti->type_size;
    int64_t nb = n_in / (int64_t)ti->block_size;
    static const uint8_t zero[256]; /* a block of a row past the end */
    int64_t n_groups = (n_out + FR_PACK_ROWS - 1) / FR_PACK_ROWS;
    for (int64_t g = 0; g < n_groups; g++) {
        uint8_t *d = dst + (size_t)g * FR_PACK_ROWS * row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *s[8];
            for (int r = 0; r < 8; r++) {
                int64_t row = g * FR_PACK_ROWS + r;
                s[r] = row < n_out ? src + (size_t)row * row_bytes + (size_t)b * bs : zero;
            }
            fr_pk_block(t, s, d + (size_t)b * 8 * bs);
        }
    }
    return true;
}

bool fr_pack_has(fr_isa isa, fr_type t)
{
    const fr_kernel_set *ks = fr_kernel_set_get(isa);
    return ks && (unsigned)t < FR_TYPE_COUNT_ && ks->mm_x8[t].act != FR_ACT_NONE && fr_pk_type(t);
}

static bool fr_pack_on = true;
static pthread_once_t fr_pack_once = PTHREAD_ONCE_INIT;

static void fr_pack_init(void)
{
    const char *v = getenv("FRUGAL_REPACK");
    fr_pack_on = !(v && strcmp(v, "0") == 0);
}

bool fr_pack_enabled(void)
{
    pthread_once(&fr_pack_once, fr_pack_init);
    return fr_pack_on;
}

#define FR_HUGE ((size_t)2 << 20)

fr_status fr_weight_pack(fr_weight *w, fr_isa isa, fr_packed **out, fr_err *err)
{
    *out = NULL;
    if (!fr_pack_has(isa, w->type) || w->n_out < 1)
        return FR_OK;
    int64_t n_groups = (w->n_out + FR_PACK_ROWS - 1) / FR_PACK_ROWS;
    size_t bytes = (size_t)n_groups * FR_PACK_ROWS * w->row_bytes;
    fr_packed *p = calloc(1, sizeof *p);
    void *data = NULL;
    /* exactly the bytes (a huge page only where a whole one fits: rounding
     * every matrix up to 2 MiB cost 100+ MiB of resident memory on a
     * 0.5B model with THP on) */
    if (!p || posix_memalign(&data, bytes >= FR_HUGE ? FR_HUGE : 64, bytes) != 0) {
        free(p);
        return fr_err_set(err, FR_E_NOMEM, "out of memory repacking a %lld x %lld %s matrix "
                          "(%zu bytes; FRUGAL_REPACK=0 reads it from the file instead)",
                          (long long)w->n_out, (long long)w->n_in,
                          fr_type_name((uint32_t)w->type), bytes);
    }
#ifdef MADV_HUGEPAGE
    if (bytes >= FR_HUGE) /* a hint: fewer TLB misses in decode */
        (void)madvise(data, bytes & ~(FR_HUGE - 1), MADV_HUGEPAGE);
#endif
    p->isa = isa;
    p->type = w->type;
    p->data = data;
    p->bytes = bytes;
    fr_pack_x8(w->type, w->data, w->row_bytes, w->n_in, w->n_out, p->data);
    w->packed = p;
    *out = p;
    return FR_OK;
}

void fr_packed_free(fr_packed *p)
{
    if (!p)
        return;
    free(p->data);
    free(p);
}
