/*
 * neon_i8mm_q.c - the batched quantized products of the i8mm set: SMMLA
 * multiplies 2 x 8 weight quants by 8 x 2 activation quants into a 2 x 2
 * block of int32 sums, so one instruction serves 2 rows and 2 tokens
 * (compiled for armv8.6-a+i8mm; chosen only when cpu.c has seen HWCAP2_I8MM
 * or FEAT_I8MM). One token alone goes to the SDOT products (neon_dot_q.c).
 *
 * Rows are unpacked two at a time into the canonical form (neon_q.h) and
 * tokens taken two at a time; an odd last row or token is paired with
 * itself and its copy not stored. The integer sums are exact and the float
 * steps per element those of fr_dot32_canon / fr_dotk_canon, done in the 4
 * lanes of the 2 x 2 tile (lane-wise IEEE multiply and add, no fusion):
 * results are the generic set's, bit for bit, whatever the tiling.
 */
#if defined(__aarch64__)
#include "tensor/kernels/neon_q.h"

/* The two 8-byte halves a (row or token 0) and b (row or token 1) of one
 * SMMLA operand. */
static inline int8x16_t fr_pair8(const int8_t *a, const int8_t *b)
{
    return vcombine_s8(vld1_s8(a), vld1_s8(b));
}

/* 2 x 2 sums of 16 products: lanes (row 0, tok 0), (0, 1), (1, 0), (1, 1). */
static inline int32x4_t fr_mm16(int32x4_t acc, const int8_t *w0, const int8_t *w1, const int8_t *a0,
                                const int8_t *a1)
{
    acc = vmmlaq_s32(acc, fr_pair8(w0, w1), fr_pair8(a0, a1));
    return vmmlaq_s32(acc, fr_pair8(w0 + 8, w1 + 8), fr_pair8(a0 + 8, a1 + 8));
}

/* [x0, x1, x0, x1] and [x0, x0, x1, x1] from two floats. */
static inline float32x4_t fr_tok2(float t0, float t1)
{
    float v[4] = {t0, t1, t0, t1};
    return vld1q_f32(v);
}

static inline float32x4_t fr_row2(float r0, float r1)
{
    float v[4] = {r0, r0, r1, r1};
    return vld1q_f32(v);
}

static inline void fr_store2x2(const fr_mm_args *a, float32x4_t acc, int64_t r, bool r1ok,
                               int64_t t, bool t1ok)
{
    float v[4];
    vst1q_f32(v, acc);
    a->y[t * a->ldy + r] = v[0];
    if (t1ok)
        a->y[(t + 1) * a->ldy + r] = v[1];
    if (r1ok) {
        a->y[t * a->ldy + r + 1] = v[2];
        if (t1ok)
            a->y[(t + 1) * a->ldy + r + 1] = v[3];
    }
}

void fr_gemm_q32_i8mm(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    if (a->n_tok < 2) {
        fr_gemm_q32_dotprod(a, r0, r1, scratch);
        return;
    }
    int64_t n = a->n_in, nb = n / 32;
    fr_nq_row32 w0 = fr_nq_row32_at(scratch, n, 0), w1 = fr_nq_row32_at(scratch, n, 1);
    for (int64_t r = r0; r < r1; r += 2) {
        bool r1ok = r + 1 < r1;
        fr_nq_unpack32(a->type, a->w + (size_t)r * a->row_bytes, n, w0);
        fr_nq_row32 w1u = r1ok ? w1 : w0;
        if (r1ok)
            fr_nq_unpack32(a->type, a->w + (size_t)(r + 1) * a->row_bytes, n, w1);
        for (int64_t t = 0; t < a->n_tok; t += 2) {
            bool t1ok = t + 1 < a->n_tok;
            int64_t tb = t1ok ? t + 1 : t;
            const int8_t *aq0 = a->qa.qs + t * a->qa.qs_ld, *aq1 = a->qa.qs + tb * a->qa.qs_ld;
            const float *ad0 = a->qa.d + t * a->qa.blk_ld, *ad1 = a->qa.d + tb * a->qa.blk_ld;
            const float *as0 = a->qa.s + t * a->qa.blk_ld, *as1 = a->qa.s + tb * a->qa.blk_ld;
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (int64_t b = 0; b < nb; b++) {
                const int8_t *q0 = w0.q + 32 * b, *q1 = w1u.q + 32 * b;
                int32x4_t s = fr_mm16(vdupq_n_s32(0), q0, q1, aq0 + 32 * b, aq1 + 32 * b);
                s = fr_mm16(s, q0 + 16, q1 + 16, aq0 + 32 * b + 16, aq1 + 32 * b + 16);
                float32x4_t dd = vmulq_f32(fr_row2(w0.d[b], w1u.d[b]), fr_tok2(ad0[b], ad1[b]));
                acc = vaddq_f32(acc, vmulq_f32(dd, vcvtq_f32_s32(s)));
                float32x4_t ms = vmulq_f32(fr_row2(w0.m[b], w1u.m[b]), fr_tok2(as0[b], as1[b]));
                acc = vaddq_f32(acc, ms);
            }
            fr_store2x2(a, acc, r, r1ok, t, t1ok);
        }
    }
}

void fr_gemm_qk_i8mm(const fr_mm_args *a, int64_t r0, int64_t r1, void *scratch)
{
    if (a->n_tok < 2) {
        fr_gemm_qk_dotprod(a, r0, r1, scratch);
        return;
    }
    int64_t n = a->n_in, nb = n / 256;
    fr_nq_rowk w0 = fr_nq_rowk_at(scratch, n, 0), w1 = fr_nq_rowk_at(scratch, n, 1);
    for (int64_t r = r0; r < r1; r += 2) {
        bool r1ok = r + 1 < r1;
        const uint8_t *row0 = a->w + (size_t)r * a->row_bytes;
        fr_nq_unpackk(a->type, row0, n, w0);
        fr_nq_rowk w1u = r1ok ? w1 : w0;
        if (r1ok)
            fr_nq_unpackk(a->type, row0 + a->row_bytes, n, w1);
        for (int64_t t = 0; t < a->n_tok; t += 2) {
            bool t1ok = t + 1 < a->n_tok;
            int64_t tb = t1ok ? t + 1 : t;
            const int8_t *aq0 = a->qa.qs + t * a->qa.qs_ld, *aq1 = a->qa.qs + tb * a->qa.qs_ld;
            const float *ad0 = a->qa.d + t * a->qa.blk_ld, *ad1 = a->qa.d + tb * a->qa.blk_ld;
            const int16_t *bs0 = a->qa.bsums + t * a->qa.blk_ld * 16;
            const int16_t *bs1 = a->qa.bsums + tb * a->qa.blk_ld * 16;
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (int64_t b = 0; b < nb; b++) {
                int32x4_t isum = vdupq_n_s32(0), msum = vdupq_n_s32(0);
                for (int g = 0; g < 16; g++) {
                    int64_t o = 256 * b + 16 * g, k = 16 * b + g;
                    int32x4_t s = fr_mm16(vdupq_n_s32(0), w0.q + o, w1u.q + o, aq0 + o, aq1 + o);
                    int32_t scv[4] = {w0.sc[k], w0.sc[k], w1u.sc[k], w1u.sc[k]};
                    int32_t mnv[4] = {w0.mn[k] * bs0[k], w0.mn[k] * bs1[k], w1u.mn[k] * bs0[k],
                                      w1u.mn[k] * bs1[k]};
                    isum = vmlaq_s32(isum, s, vld1q_s32(scv));
                    msum = vaddq_s32(msum, vld1q_s32(mnv));
                }
                float32x4_t dd = vmulq_f32(fr_row2(w0.d[b], w1u.d[b]), fr_tok2(ad0[b], ad1[b]));
                acc = vaddq_f32(acc, vmulq_f32(dd, vcvtq_f32_s32(isum)));
                float32x4_t dm =
                    vmulq_f32(fr_row2(w0.dmin[b], w1u.dmin[b]), fr_tok2(ad0[b], ad1[b]));
                acc = vsubq_f32(acc, vmulq_f32(dm, vcvtq_f32_s32(msum)));
            }
            fr_store2x2(a, acc, r, r1ok, t, t1ok);
        }
    }
}
#endif
