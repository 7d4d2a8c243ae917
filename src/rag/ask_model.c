/*
 * ask_model.c - the language-model step of grounded answers: the citation
 * format as a constraint, and `frugal ask`'s generation through the shared
 * loop (fr_generate).
 *
 * Decoding is greedy under the constraint: the sampler takes the model's
 * best token when the citation validator accepts its bytes, otherwise the
 * next candidates in logit order, and only when the best 64 are all
 * refused does the constraint's mask run over the whole vocabulary. A
 * well-prompted model follows the format, so that is rare. The chosen
 * token's log-probability (under the model's unconstrained distribution)
 * goes to the checker, which discounts sentences the model was unsure about.
 */
#include "rag/ask_model.h"
#include "text/chat_tokens.h"
#include "base/buf.h"
#include "base/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the citation constraint ------------------------------------------------------ */

typedef struct cite_cons {
    const fr_tokenizer *tok;
    uint32_t n_vocab;
    fr_rag_cite_state s;
} cite_cons;

static bool cite_allows(void *self, int32_t id)
{
    cite_cons *c = self;
    if (fr_tokenizer_is_eog(c->tok, id))
        return fr_rag_cite_complete(&c->s);
    size_t len;
    const char *p = fr_token_piece(c->tok, id, 0, &len);
    if (!p || len == 0)
        return false;
    fr_rag_cite_state t = c->s;
    return fr_rag_cite_feed(&t, p, len);
}

static fr_status cite_mask(void *self, uint64_t *allowed, fr_err *err)
{
    (void)err;
    cite_cons *c = self;
    for (uint32_t i = 0; i < c->n_vocab; i++)
        if (cite_allows(c, (int32_t)i))
            allowed[i >> 6] |= (uint64_t)1 << (i & 63);
    return FR_OK;
}

static fr_status cite_accept(void *self, int32_t id, fr_err *err)
{
    cite_cons *c = self;
    if (fr_tokenizer_is_eog(c->tok, id))
        return FR_OK;
    size_t len;
    const char *p = fr_token_piece(c->tok, id, 0, &len);
    if (!p || len == 0 || !fr_rag_cite_feed(&c->s, p, len))
        return fr_err_set(err, FR_E_INTERNAL, "citation constraint: token %d does not continue "
                          "the answer", id);
    return FR_OK;
}

static bool cite_complete(void *self)
{
    cite_cons *c = self;
    return fr_rag_cite_complete(&c->s);
}

static const fr_constraint_ops cite_ops = {"citations", cite_allows, cite_mask, cite_accept,
                                           cite_complete, free};

fr_status fr_rag_cite_constraint(const fr_tokenizer *tok, uint32_t n_vocab,
                                 const fr_rag_cite_state *init, fr_constraint **out, fr_err *err)
{
    *out = NULL;
    cite_cons *c = malloc(sizeof *c);
    if (!c)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    c->tok = tok;
    c->n_vocab = n_vocab;
    c->s = *init;
    return fr_constraint_create(&cite_ops, c, out, err);
}

void fr_rag_gen_params(fr_gen_params *gp, fr_constraint *c, size_t max_bytes, int32_t max_tokens)
{
    fr_gen_params_default(gp);
    gp->sampling.temperature = 0.0f;
    gp->sampling.logprobs = true;
    gp->decode_flags = FR_DECODE_BYTES | FR_DECODE_KEEP_PREFIX_SPACE;
    gp->constraint = c;
    gp->max_bytes = max_bytes;
    gp->max_tokens = max_tokens;
}

/* ---- frugal ask's generation ----------------------------------------------------------- */

typedef struct ask_out {
    const fr_rag_model *m;
    fr_buf text;
    fr_rag_token_lp *lps;
    size_t n_lps, cap;
    int n_tokens;
    bool nomem;
} ask_out;

static bool ask_emit(void *user, const fr_gen_event *ev)
{
    ask_out *o = user;
    if (ev->token < 0 || fr_tokenizer_is_eog(o->m->tok, ev->token))
        return true;
    o->n_tokens++;
    if (o->n_lps == o->cap) {
        size_t nc = o->cap * 2 + 64;
        fr_rag_token_lp *nl = realloc(o->lps, nc * sizeof *nl);
        if (!nl) {
            o->nomem = true;
            return false;
        }
        o->lps = nl;
        o->cap = nc;
    }
    o->lps[o->n_lps++] = (fr_rag_token_lp){(uint32_t)o->text.len, (uint32_t)ev->len,
                                           ev->sample ? ev->sample->logprob : 0.0f};
    if (!fr_buf_append(&o->text, ev->text, ev->len)) {
        o->nomem = true;
        return false;
    }
    return true;
}

fr_status fr_rag_model_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                                fr_err *err)
{
    fr_rag_model *m = user;
    memset(res, 0, sizeof *res);
    res->joules = -1;
    const fr_hparams *hp = fr_model_hparams(fr_context_model(m->ctx));
    uint32_t n_ctx = fr_context_n_ctx(m->ctx);
    fr_chat_msg msgs[2] = {{FR_CHAT_SYSTEM, req->system, strlen(req->system)},
                           {FR_CHAT_USER, req->user, strlen(req->user)}};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    fr_constraint *cons = NULL;
    ask_out o = {m, FR_BUF_INIT, NULL, 0, 0, 0, false};
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
    if ((st = fr_rag_cite_constraint(m->tok, hp->n_vocab, &req->constraint, &cons, err)))
        goto done;
    fr_gen_params gp;
    fr_rag_gen_params(&gp, cons, req->max_bytes, -1);
    fr_context_seq_truncate(m->ctx, m->seq, 0); /* the answer never reuses a cache */
    if ((st = fr_generate(m->ctx, m->seq, m->tok, ids, n_ids, &gp, ask_emit, &o, NULL, err)))
        goto done;
    if (o.nomem || !(res->text = fr_buf_take(&o.text))) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    res->lps = o.lps;
    res->n_lps = o.n_lps;
    res->n_tokens = o.n_tokens;
    o.lps = NULL;
    res->seconds = fr_now_s() - t0;
    if (metered && fr_meter_read(m->meter, &mb, NULL) == FR_OK) {
        fr_energy_interval iv;
        fr_meter_interval(m->meter, &ma, &mb, &iv);
        res->joules = iv.gross_j.central;
    }
done:
    fr_buf_free(&o.text);
    free(o.lps);
    fr_constraint_free(cons);
    free(ids);
    return st;
}
