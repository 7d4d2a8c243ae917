/*
 * generate.c - prompt, then sample until done (see frugal/generate.h).
 *
 * Text path per token: token -> streaming UTF-8 decoder (whole characters
 * only) -> stop-string matcher (holds back what could start a stop string)
 * -> callback. At the end both are flushed so nothing held back is lost.
 *
 * Prefix reuse: the sequence's cache keeps the tokens it holds; the common
 * prefix with the new prompt is kept and only the rest is computed. At least
 * the last prompt token is always recomputed, because its logits are needed
 * and are not cached.
 */
#include <frugal/generate.h>
#include <frugal/stop.h>

#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

const char *fr_finish_name(fr_finish f)
{
    switch (f) {
    case FR_FINISH_STOP: return "stop";
    case FR_FINISH_LENGTH: return "length";
    case FR_FINISH_CONTEXT: return "context";
    case FR_FINISH_CANCELLED: return "cancelled";
    case FR_FINISH_NONE: break;
    }
    return "none";
}

void fr_gen_params_default(fr_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_tokens = -1;
    fr_sampler_params_default(&p->sampling);
}

typedef struct fr_gen_run {
    fr_gen_emit_fn emit;
    void *user;
    bool cancelled;
} fr_gen_run;

static void fr_gen_send(fr_gen_run *r, int32_t tok, const fr_sample *s, const char *text, size_t len)
{
    if (!r->emit || r->cancelled)
        return;
    fr_gen_event ev = {tok, s, text ? text : "", len};
    if (!r->emit(r->user, &ev))
        r->cancelled = true;
}

fr_status fr_generate(fr_context *c, uint32_t seq, const fr_tokenizer *tok,
                      const int32_t *prompt, size_t n_prompt, const fr_gen_params *params,
                      fr_gen_emit_fn emit, void *user, fr_gen_stats *stats, fr_err *err)
{
    fr_gen_stats st_local;
    fr_gen_stats *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    st->stop_index = -1;
    const fr_hparams *hp = fr_model_hparams(fr_context_model(c));
    uint32_t n_ctx = fr_context_n_ctx(c);
    if (seq >= fr_context_n_seq(c))
        return fr_err_set(err, FR_E_INVALID, "sequence %u: the context has %u", seq,
                          fr_context_n_seq(c));
    if (n_prompt == 0)
        return fr_err_set(err, FR_E_INVALID, "empty prompt (nothing to condition on; add a BOS "
                          "token or some text)");
    if (n_prompt >= n_ctx)
        return fr_err_set(err, FR_E_RANGE,
                          "the prompt has %zu tokens but the context holds %u (leave room for "
                          "the answer: shorten the prompt or raise --ctx)", n_prompt, n_ctx);
    fr_sampler *smp = NULL;
    fr_decoder *dec = NULL;
    fr_stop *stop = NULL;
    fr_status rc;
    if ((rc = fr_sampler_create(&params->sampling, (int32_t)hp->n_vocab, &smp, err)) ||
        (rc = fr_decoder_create(tok, params->decode_flags, &dec, err)) ||
        (rc = fr_stop_create(params->stop, NULL, params->n_stop, &stop, err)))
        goto done;

    /* prefix reuse */
    uint32_t have = fr_context_seq_len(c, seq);
    const int32_t *cached = fr_context_seq_tokens(c, seq);
    uint32_t common = 0;
    while (common < have && common < n_prompt && cached[common] == prompt[common])
        common++;
    if (common == n_prompt)
        common--;
    fr_context_seq_truncate(c, seq, common);
    st->n_prompt = (uint32_t)n_prompt;
    st->n_cached = common;
    for (size_t i = 0; i < n_prompt; i++)
        fr_sampler_accept(smp, prompt[i]);

    double t0 = fr_now_s();
    {
        uint32_t n = (uint32_t)(n_prompt - common);
        /* every token goes to `seq`; only the last needs logits */
        fr_batch b = {n, prompt + common, NULL, NULL};
        int32_t *seqs = NULL;
        if (seq != 0) {
            seqs = malloc(n * sizeof *seqs);
            if (!seqs) {
                rc = fr_err_set(err, FR_E_NOMEM, "out of memory");
                goto done;
            }
            for (uint32_t i = 0; i < n; i++)
                seqs[i] = (int32_t)seq;
            b.seq = seqs;
        }
        rc = fr_context_decode(c, &b, err);
        free(seqs);
        if (rc)
            goto done;
    }
    double t1 = fr_now_s();
    st->t_prefill_s = t1 - t0;

    fr_gen_run run = {emit, user, false};
    int32_t seq_id = (int32_t)seq;
    for (;;) {
        if (params->max_tokens >= 0 && st->n_generated >= (uint32_t)params->max_tokens) {
            st->finish = FR_FINISH_LENGTH;
            break;
        }
        fr_sample smpl;
        if ((rc = fr_sampler_sample(smp, fr_context_logits(c, 0), &smpl, err)))
            goto done;
        st->n_generated++;
        int32_t t = smpl.token;
        if (!params->ignore_eog && fr_tokenizer_is_eog(tok, t)) {
            fr_gen_send(&run, t, &smpl, "", 0);
            st->finish = FR_FINISH_STOP;
            break;
        }
        const char *txt;
        size_t len;
        if ((rc = fr_decoder_push(dec, t, &txt, &len, err)))
            goto done;
        fr_stop_result sr;
        if ((rc = fr_stop_feed(stop, txt, len, &sr, err)))
            goto done;
        fr_gen_send(&run, t, &smpl, sr.text, sr.len);
        if (sr.stopped) {
            st->finish = FR_FINISH_STOP;
            st->stop_index = sr.which;
            break;
        }
        if (run.cancelled) {
            st->finish = FR_FINISH_CANCELLED;
            break;
        }
        if (fr_context_seq_len(c, seq) >= n_ctx) {
            st->finish = FR_FINISH_CONTEXT;
            break;
        }
        fr_batch b = {1, &t, &seq_id, NULL};
        if ((rc = fr_context_decode(c, &b, err)))
            goto done;
    }
    /* release what the decoder and the stop matcher still hold */
    if (st->finish != FR_FINISH_STOP || st->stop_index < 0) {
        const char *txt;
        size_t len;
        fr_decoder_flush(dec, &txt, &len);
        fr_stop_result sr;
        if (len && fr_stop_feed(stop, txt, len, &sr, NULL) == FR_OK && sr.len)
            fr_gen_send(&run, -1, NULL, sr.text, sr.len);
        if (fr_stop_flush(stop, &sr, NULL) == FR_OK && sr.len)
            fr_gen_send(&run, -1, NULL, sr.text, sr.len);
        if (sr.stopped && st->stop_index < 0) {
            st->finish = FR_FINISH_STOP;
            st->stop_index = sr.which;
        }
    }
    st->t_decode_s = fr_now_s() - t1;
    rc = FR_OK;
done:
    fr_stop_free(stop);
    fr_decoder_free(dec);
    fr_sampler_free(smp);
    return rc;
}
