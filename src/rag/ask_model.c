/*
 * ask_model.c - constrained greedy decoding for grounded answers.
 *
 * Per step the candidates are visited in logit order, best first; the first
 * whose bytes the citation validator accepts is taken. Usually that is the
 * model's own top choice (a well-prompted model follows the format), so the
 * visit stops after one or two tokens; the full ordering is only computed
 * when the top 64 are all rejected. The chosen token's log-probability (under
 * the model's unconstrained distribution) goes to the checker, which
 * discounts sentences the model was unsure about.
 */
#include "rag/ask_model.h"
#include "text/chat_tokens.h"
#include "base/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FR_ASK_TOPN 64

typedef struct fr_cand {
    float logit;
    int32_t id;
} fr_cand;

static int fr_cand_cmp(const void *a, const void *b)
{
    const fr_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The n best of logits[0..V) into out (sorted), n <= cap. */
static size_t fr_top_n(const float *logits, uint32_t V, fr_cand *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < V; i++) {
        float l = logits[i];
        if (n == cap && !(l > out[n - 1].logit))
            continue;
        size_t j = n < cap ? n++ : n - 1;
        while (j > 0 && out[j - 1].logit < l) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = (fr_cand){l, (int32_t)i};
    }
    return n;
}

struct fr_rag_picker {
    const fr_tokenizer *tok;
    uint32_t n_vocab;
    fr_cand *all; /* (n_vocab) the full ordering, allocated on first need */
};

fr_rag_picker *fr_rag_picker_create(const fr_tokenizer *tok, uint32_t n_vocab)
{
    fr_rag_picker *p = calloc(1, sizeof *p);
    if (p) {
        p->tok = tok;
        p->n_vocab = n_vocab;
    }
    return p;
}

void fr_rag_picker_free(fr_rag_picker *p)
{
    if (!p)
        return;
    free(p->all);
    free(p);
}

/* Tries candidate id: returns 1 to take it (state advanced), 2 for a valid
 * end of generation, 0 to skip it. */
static int fr_try(const fr_tokenizer *tok, fr_rag_cite_state *s, int32_t id)
{
    if (fr_tokenizer_is_eog(tok, id))
        return fr_rag_cite_complete(s) ? 2 : 0;
    size_t len;
    const char *p = fr_token_piece(tok, id, 0, &len);
    if (!p || len == 0)
        return 0;
    fr_rag_cite_state t = *s;
    if (!fr_rag_cite_feed(&t, p, len))
        return 0;
    *s = t;
    return 1;
}

fr_rag_pick_result fr_rag_pick(fr_rag_picker *p, const float *lg, fr_rag_cite_state *s,
                               int32_t *id, float *logprob)
{
    uint32_t V = p->n_vocab;
    double mx = -INFINITY, z = 0;
    for (uint32_t i = 0; i < V; i++)
        if (lg[i] > mx)
            mx = lg[i];
    for (uint32_t i = 0; i < V; i++)
        z += exp((double)lg[i] - mx);
    double lse = mx + log(z);
    fr_cand top[FR_ASK_TOPN];
    size_t nt = fr_top_n(lg, V, top, FR_ASK_TOPN);
    int32_t chosen = -1;
    int how = 0;
    for (size_t i = 0; i < nt && !how; i++)
        if ((how = fr_try(p->tok, s, top[i].id)))
            chosen = top[i].id;
    if (!how && V > FR_ASK_TOPN) {
        if (!p->all && !(p->all = malloc((size_t)V * sizeof *p->all)))
            return FR_RAG_PICK_NOMEM;
        for (uint32_t i = 0; i < V; i++)
            p->all[i] = (fr_cand){lg[i], (int32_t)i};
        qsort(p->all, V, sizeof *p->all, fr_cand_cmp);
        for (uint32_t i = FR_ASK_TOPN; i < V && !how; i++)
            if ((how = fr_try(p->tok, s, p->all[i].id)))
                chosen = p->all[i].id;
    }
    if (!how)
        return FR_RAG_PICK_NONE;
    *id = chosen;
    *logprob = (float)((double)lg[chosen] - lse);
    return how == 2 ? FR_RAG_PICK_END : FR_RAG_PICK_TOKEN;
}

fr_status fr_rag_model_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                                fr_err *err)
{
    fr_rag_model *m = user;
    memset(res, 0, sizeof *res);
    res->joules = -1;
    const fr_hparams *hp = fr_model_hparams(fr_context_model(m->ctx));
    uint32_t V = hp->n_vocab, n_ctx = fr_context_n_ctx(m->ctx);
    fr_chat_msg msgs[2] = {{FR_CHAT_SYSTEM, req->system, strlen(req->system)},
                           {FR_CHAT_USER, req->user, strlen(req->user)}};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    fr_rag_picker *picker = NULL;
    char *text = NULL;
    fr_rag_token_lp *lps = NULL;
    size_t tlen = 0, tcap = 0, n_lps = 0, lcap = 0;
    fr_meter_reading ma, mb;
    bool metered = m->meter && fr_meter_read(m->meter, &ma, NULL) == FR_OK;
    double t0 = fr_now_s();
    fr_status st = fr_chat_tokenize(m->tmpl, m->tok, msgs, 2, true, &ids, &n_ids, err);
    if (st)
        goto done;
    if (n_ids + 16 >= n_ctx) {
        st = fr_err_set(err, FR_E_RANGE,
                        "the grounded prompt has %zu tokens but the context holds %u: use fewer "
                        "or shorter passages (--k) or a larger --ctx", n_ids, n_ctx);
        goto done;
    }
    fr_context_seq_truncate(m->ctx, m->seq, 0);
    {
        int32_t *seqs = malloc(n_ids * sizeof *seqs);
        if (!seqs) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_ids; i++)
            seqs[i] = (int32_t)m->seq;
        fr_batch b = {(uint32_t)n_ids, ids, seqs, NULL};
        st = fr_context_decode(m->ctx, &b, err);
        free(seqs);
        if (st)
            goto done;
    }
    if (!(picker = fr_rag_picker_create(m->tok, V))) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    fr_rag_cite_state s = req->constraint;
    int32_t seq_id = (int32_t)m->seq;
    for (;;) {
        const float *lg = fr_context_logits(m->ctx, 0);
        int32_t chosen = -1;
        float lp = 0;
        fr_rag_pick_result how = fr_rag_pick(picker, lg, &s, &chosen, &lp);
        if (how == FR_RAG_PICK_NOMEM) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
        if (how != FR_RAG_PICK_TOKEN)
            break; /* nothing can continue the answer, or a complete answer ended */
        res->n_tokens++;
        size_t len;
        const char *p = fr_token_piece(m->tok, chosen, 0, &len);
        if (tlen + len + 1 > tcap) {
            size_t nc = tcap * 2 + len + 256;
            char *nt2 = realloc(text, nc);
            if (!nt2) {
                st = fr_err_set(err, FR_E_NOMEM, "out of memory");
                goto done;
            }
            text = nt2;
            tcap = nc;
        }
        if (n_lps == lcap) {
            size_t nc = lcap * 2 + 64;
            fr_rag_token_lp *nl = realloc(lps, nc * sizeof *nl);
            if (!nl) {
                st = fr_err_set(err, FR_E_NOMEM, "out of memory");
                goto done;
            }
            lps = nl;
            lcap = nc;
        }
        lps[n_lps++] = (fr_rag_token_lp){(uint32_t)tlen, (uint32_t)len, lp};
        memcpy(text + tlen, p, len);
        tlen += len;
        text[tlen] = '\0';
        if (tlen >= req->max_bytes || fr_context_seq_len(m->ctx, m->seq) + 1 >= n_ctx)
            break;
        fr_batch b = {1, &chosen, &seq_id, NULL};
        if ((st = fr_context_decode(m->ctx, &b, err)))
            goto done;
    }
    if (!text) {
        text = calloc(1, 1);
        if (!text) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
    }
    res->text = text;
    res->lps = lps;
    res->n_lps = n_lps;
    text = NULL;
    lps = NULL;
    res->seconds = fr_now_s() - t0;
    if (metered && fr_meter_read(m->meter, &mb, NULL) == FR_OK) {
        fr_energy_interval iv;
        fr_meter_interval(m->meter, &ma, &mb, &iv);
        res->joules = iv.gross_j.central;
    }
done:
    free(text);
    free(lps);
    fr_rag_picker_free(picker);
    free(ids);
    return st;
}
