/*
 * perplexity.c - llama.cpp's perplexity method, one chunk at a time, and
 * the sums its statistics need (see frugal/perplexity.h for the method).
 *
 * A chunk is one fr_context_decode call that asks for logits only at the
 * scored positions, so memory holds n_ctx/2 rows of logits, not n_ctx.
 * The per-token arithmetic copies llama.cpp's log_softmax exactly (float
 * maximum and differences, float exponentials, double sum and log), so that
 * the printed PPL agrees to the digits llama.cpp prints.
 *
 * Rejected: several chunks per decode in separate sequences (llama.cpp does
 * this when n_batch > n_ctx); on a CPU a chunk of n_ctx tokens already
 * fills the products, and one sequence keeps the KV cache at n_ctx.
 */
#include <frugal/perplexity.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint32_t fr_ppl_scored_per_chunk(uint32_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

/* llama.cpp's log_softmax(n_vocab, logits, tok), negated. */
static double token_nll(const float *logits, uint32_t n_vocab, int32_t tok)
{
    float mx = logits[0];
    for (uint32_t i = 1; i < n_vocab; i++)
        if (logits[i] > mx)
            mx = logits[i];
    double sum = 0.0;
    for (uint32_t i = 0; i < n_vocab; i++)
        sum += expf(logits[i] - mx);
    return -((double)(logits[tok] - mx) - log(sum));
}

fr_status fr_ppl_chunk(fr_context *c, const int32_t *tokens, uint32_t n, int32_t bos, double *nll,
                       fr_err *err)
{
    if (n < 4 || n > fr_context_n_ctx(c))
        return fr_err_set(err, FR_E_INVALID,
                          "a perplexity chunk of %u tokens needs 4 <= n <= the context's %u", n,
                          fr_context_n_ctx(c));
    uint32_t first = n / 2, n_vocab = fr_model_hparams(fr_context_model(c))->n_vocab;
    int32_t *toks = malloc((size_t)n * sizeof *toks);
    bool *want = malloc((size_t)n * sizeof *want);
    fr_status st = FR_OK;
    if (!toks || !want) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory for a chunk of %u tokens", n);
        goto out;
    }
    memcpy(toks, tokens, (size_t)n * sizeof *toks);
    if (bos >= 0)
        toks[0] = bos;
    /* logits at first .. n-2: the last position predicts nothing we score */
    for (uint32_t i = 0; i < n; i++)
        want[i] = i >= first && i + 1 < n;
    fr_context_seq_truncate(c, 0, 0);
    fr_batch b = {n, toks, NULL, want};
    st = fr_context_decode(c, &b, err);
    if (st)
        goto out;
    for (uint32_t j = 0; first + j + 1 < n; j++) {
        const float *lg = fr_context_logits(c, j);
        int32_t tok = tokens[first + j + 1];
        if (!lg || tok < 0 || (uint32_t)tok >= n_vocab) {
            st = fr_err_set(err, FR_E_INTERNAL, "no logits for scored position %u", first + j);
            goto out;
        }
        nll[j] = token_nll(lg, n_vocab, tok);
    }
out:
    free(toks);
    free(want);
    return st;
}

void fr_ppl_acc_add(fr_ppl_acc *a, const double *nll, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        a->nll += nll[i];
        a->nll2 += nll[i] * nll[i];
    }
    a->count += n;
}

double fr_ppl_acc_ppl(const fr_ppl_acc *a)
{
    return a->count ? exp(a->nll / (double)a->count) : NAN;
}

/* llama.cpp's final-estimate formula, step by step. */
double fr_ppl_acc_err(const fr_ppl_acc *a)
{
    if (a->count < 2)
        return NAN;
    double nll = a->nll / (double)a->count;
    double nll2 = a->nll2 / (double)a->count;
    double ppl = exp(nll);
    nll2 -= nll * nll;
    if (!(nll2 > 0))
        return NAN;
    return sqrt(nll2 / (double)(a->count - 1)) * ppl;
}

void fr_ppl_pair_add(fr_ppl_pair *p, const double *nll_base, const double *nll_tuned, size_t n)
{
    fr_ppl_acc_add(&p->base, nll_base, n);
    fr_ppl_acc_add(&p->tuned, nll_tuned, n);
    double cs = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = nll_tuned[i] - nll_base[i];
        p->d += d;
        p->d2 += d * d;
        cs += d;
    }
    p->count += n;
    if (n) {
        double cm = cs / (double)n;
        p->cd += cm;
        p->cd2 += cm * cm;
        p->n_chunks++;
    }
}

static double se_of(double sum, double sum2, uint64_t n)
{
    if (n < 2)
        return NAN;
    double m = sum / (double)n, v = sum2 / (double)n - m * m;
    return v > 0 ? sqrt(v / (double)(n - 1)) : 0.0;
}

void fr_ppl_pair_stats_get(const fr_ppl_pair *p, fr_ppl_pair_stats *o)
{
    o->ppl_base = fr_ppl_acc_ppl(&p->base);
    o->ppl_base_err = fr_ppl_acc_err(&p->base);
    o->ppl_tuned = fr_ppl_acc_ppl(&p->tuned);
    o->ppl_tuned_err = fr_ppl_acc_err(&p->tuned);
    o->ratio = o->ppl_tuned / o->ppl_base;
    o->delta = p->count ? p->d / (double)p->count : NAN;
    o->delta_se = se_of(p->d, p->d2, p->count);
    o->delta_se_chunks = se_of(p->cd, p->cd2, p->n_chunks);
}
