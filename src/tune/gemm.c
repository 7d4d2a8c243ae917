/*
 * gemm.c - float32 products for training (see gemm.h): the threaded
 * wrappers. The kernels are src/tensor's (the sgemm entries of the kernel
 * table, chosen like every other kernel: FRUGAL_ISA or the best path).
 */
#include "tune/gemm.h"

#include "tensor/kernels/kernels.h"

#include "tune/parallel.h"

#include <stdlib.h>
#include <string.h>

/* ---- path choice: the kernel table of src/tensor ----------------------------- */

/* The path fr_isa_select picks (FRUGAL_ISA or the best); a bad FRUGAL_ISA
 * was already reported when the run's matmul scratch was set up, so here it
 * falls back to the portable kernels. */
static const fr_kernel_set *fr_gemm_ks(void)
{
    fr_isa isa;
    const fr_kernel_set *ks = NULL;
    if (fr_isa_select(&isa, NULL) == FR_OK)
        ks = fr_kernel_set_get(isa);
    return ks ? ks : &fr_kernels_generic;
}

void fr_gemm_nn_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    fr_gemm_ks()->sgemm_nn(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_tn_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    fr_gemm_ks()->sgemm_tn(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_nt_block(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    fr_gemm_ks()->sgemm_nt(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

/* ---- threaded wrappers --------------------------------------------------- */

typedef enum { FR_NN, FR_NT, FR_TN } fr_gemm_kind;

typedef struct fr_gemm_job {
    fr_gemm_kind kind;
    int64_t M, N, K;
    float alpha;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    bool acc;
    float *C;
    int64_t ldc;
    bool split_rows;
    int64_t chunk; /* tiles per chunk */
} fr_gemm_job;

static void fr_gemm_run_block(const fr_gemm_job *j, int64_t i0, int64_t i1, int64_t j0, int64_t j1)
{
    int64_t m = i1 - i0, n = j1 - j0;
    if (m <= 0 || n <= 0)
        return;
    float *c = j->C + i0 * j->ldc + j0;
    switch (j->kind) {
    case FR_NN:
        fr_gemm_nn_block(m, n, j->K, j->alpha, j->A + i0 * j->lda, j->lda, j->B + j0, j->ldb,
                         j->acc, c, j->ldc);
        break;
    case FR_NT:
        fr_gemm_nt_block(m, n, j->K, j->alpha, j->A + i0 * j->lda, j->lda, j->B + j0 * j->ldb,
                         j->ldb, j->acc, c, j->ldc);
        break;
    case FR_TN:
        fr_gemm_tn_block(m, n, j->K, j->alpha, j->A + i0, j->lda, j->B + j0, j->ldb, j->acc, c,
                         j->ldc);
        break;
    }
}

/* Chunks are runs of whole register tiles (4 rows or 8 columns). */
static void fr_gemm_chunk(void *arg, int64_t c, int ith)
{
    const fr_gemm_job *j = arg;
    (void)ith;
    int64_t unit = j->split_rows ? 4 : 8, total = j->split_rows ? j->M : j->N;
    int64_t lo = c * j->chunk * unit, hi = lo + j->chunk * unit;
    if (hi > total)
        hi = total;
    if (j->split_rows)
        fr_gemm_run_block(j, lo, hi, 0, j->N);
    else
        fr_gemm_run_block(j, 0, j->M, lo, hi);
}

static void fr_gemm(fr_pool *pool, fr_gemm_kind kind, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, bool acc, float *C,
                    int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    int nth = pool ? fr_pool_size(pool) : 1;
    fr_gemm_job j = {kind, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc, true, 1};
    /* Small products are not worth waking the workers. */
    if (nth == 1 || (double)M * (double)N * (double)(K ? K : 1) < (double)(1 << 18)) {
        fr_gemm_run_block(&j, 0, M, 0, N);
        return;
    }
    /* Rows when there are enough of them for every thread, else columns;
     * about four chunks per thread. */
    j.split_rows = M >= 4 * (int64_t)nth || M >= N;
    int64_t unit = j.split_rows ? 4 : 8, total = j.split_rows ? M : N;
    int64_t units = (total + unit - 1) / unit;
    j.chunk = units / (4 * nth) > 0 ? units / (4 * nth) : 1;
    fr_parallel_chunks(pool, (units + j.chunk - 1) / j.chunk, fr_gemm_chunk, &j);
}

void fr_gemm_nt(fr_pool *pool, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    fr_gemm(pool, FR_NT, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_nn(fr_pool *pool, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    fr_gemm(pool, FR_NN, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

void fr_gemm_tn(fr_pool *pool, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, bool acc, float *C, int64_t ldc)
{
    fr_gemm(pool, FR_TN, M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}
