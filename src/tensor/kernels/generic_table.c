/*
 * generic_table.c - which reference kernels exist for which type, and the
 * reference dot product / matrix-vector product built on the dequantizers.
 *
 * The dot product dequantizes one block at a time into a small stack buffer
 * and accumulates in double: it is the accuracy oracle that the quantized
 * SIMD kernels (which multiply integer quants directly) are checked against,
 * so it trades speed for being obviously right.
 */
#include "tensor/kernels/generic.h"

static const fr_kernels_ref fr_ref_table[FR_TYPE_COUNT_] = {
    [FR_TYPE_F32] = {fr_dequant_f32_ref, fr_quant_f32_ref},
    [FR_TYPE_F16] = {fr_dequant_f16_ref, fr_quant_f16_ref},
    [FR_TYPE_BF16] = {fr_dequant_bf16_ref, fr_quant_bf16_ref},
    [FR_TYPE_Q4_0] = {fr_dequant_q4_0_ref, fr_quant_q4_0_ref},
    [FR_TYPE_Q4_1] = {fr_dequant_q4_1_ref, fr_quant_q4_1_ref},
    [FR_TYPE_Q5_0] = {fr_dequant_q5_0_ref, fr_quant_q5_0_ref},
    [FR_TYPE_Q5_1] = {fr_dequant_q5_1_ref, fr_quant_q5_1_ref},
    [FR_TYPE_Q8_0] = {fr_dequant_q8_0_ref, fr_quant_q8_0_ref},
    [FR_TYPE_Q2_K] = {fr_dequant_q2_k_ref, fr_quant_q2_k_ref},
    [FR_TYPE_Q3_K] = {fr_dequant_q3_k_ref, fr_quant_q3_k_ref},
    [FR_TYPE_Q4_K] = {fr_dequant_q4_k_ref, fr_quant_q4_k_ref},
    [FR_TYPE_Q5_K] = {fr_dequant_q5_k_ref, fr_quant_q5_k_ref},
    [FR_TYPE_Q6_K] = {fr_dequant_q6_k_ref, fr_quant_q6_k_ref},
    [FR_TYPE_MXFP4] = {fr_dequant_mxfp4_ref, fr_quant_mxfp4_ref},
};

const fr_kernels_ref *fr_kernels_ref_get(uint32_t t)
{
    if (t >= FR_TYPE_COUNT_ || (!fr_ref_table[t].dequant && !fr_ref_table[t].quant))
        return NULL;
    return &fr_ref_table[t];
}

double fr_dot_ref(fr_type t, const void *row, const float *x, int64_t n)
{
    const fr_type_info *ti = fr_type_get((uint32_t)t);
    const fr_kernels_ref *k = fr_kernels_ref_get((uint32_t)t);
    /* One block of values at a time (plain types: a chunk of 256 values). */
    int64_t chunk = ti->block_size > 1 ? ti->block_size : FR_QK_K;
    uint64_t chunk_bytes = (uint64_t)chunk / ti->block_size * ti->type_size;
    float buf[FR_QK_K];
    const uint8_t *p = row;
    double sum = 0;
    for (int64_t i = 0; i < n; i += chunk) {
        int64_t len = n - i < chunk ? n - i : chunk; /* plain types may end short */
        k->dequant(p, buf, len);
        for (int64_t j = 0; j < len; j++)
            sum += (double)buf[j] * x[i + j];
        p += chunk_bytes;
    }
    return sum;
}

void fr_matvec_ref(fr_type t, const void *w, int64_t rows, int64_t cols, const float *x, float *y)
{
    uint64_t row_bytes = fr_type_row_bytes(t, cols);
    const uint8_t *p = w;
    for (int64_t r = 0; r < rows; r++)
        y[r] = (float)fr_dot_ref(t, p + (uint64_t)r * row_bytes, x, cols);
}
