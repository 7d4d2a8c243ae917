/*
 * generate.c - the generation loop: one stream's per-token work
 * (fr_gen_stream) and the loop that prompts a sequence and runs a stream on
 * it (fr_generate); see frugal/generate.h.
 *
 * Text path per token: sampler (under the constraint, if any) -> end-of-
 * generation check -> constraint advanced -> streaming decoder (whole UTF-8
 * characters only) -> stop-string matcher (holds back what could start a
 * stop string) -> caller. When the stream ends other than by a stop string,
 * both are flushed so nothing held back is lost. Without stop strings the
 * matcher is skipped: the decoder already emits whole characters, and in
 * FR_DECODE_BYTES mode (frugal ask) every token's bytes must come out with
 * that token.
 *
 * Limits are checked right after a token, so the token that reaches
 * max_tokens or max_bytes is not fed to the model for nothing.
 *
 * Prefix reuse: the sequence's cache keeps the tokens it holds; the common
 * prefix with the new prompt is kept and only the rest is computed. At least
 * the last prompt token is always recomputed, because its logits are needed
 * and are not cached.
 */
#include <frugal/generate.h>
#include <frugal/stop.h>

#include "base/buf.h"
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

/* ---- the stream ------------------------------------------------------------------ */

struct fr_gen_stream {
    const fr_tokenizer *tok;
    fr_sampler *smp;
    fr_decoder *dec;
    fr_stop *stop;          /* NULL without stop strings */
    fr_constraint *cons;    /* borrowed, may be NULL */
    int32_t max_tokens;
    size_t max_bytes;
    bool ignore_eog;
    uint32_t n_gen;
    size_t n_bytes;
    bool ended;
    fr_buf text;            /* the last token's text, when the same call ends the stream */
    fr_buf tail;            /* what the end released */
};

fr_status fr_gen_stream_create(const fr_tokenizer *tok, uint32_t n_vocab, const fr_gen_params *p,
                               fr_gen_stream **out, fr_err *err)
{
    *out = NULL;
    fr_gen_stream *g = calloc(1, sizeof *g);
    if (!g)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    g->tok = tok;
    g->cons = p->constraint;
    g->max_tokens = p->max_tokens;
    g->max_bytes = p->max_bytes;
    g->ignore_eog = p->ignore_eog;
    fr_status rc;
    if ((rc = fr_sampler_create(&p->sampling, (int32_t)n_vocab, &g->smp, err)) ||
        (rc = fr_decoder_create(tok, p->decode_flags, &g->dec, err)) ||
        (p->n_stop && (rc = fr_stop_create(p->stop, NULL, p->n_stop, &g->stop, err)))) {
        fr_gen_stream_free(g);
        return rc;
    }
    *out = g;
    return FR_OK;
}

void fr_gen_stream_free(fr_gen_stream *g)
{
    if (!g)
        return;
    fr_sampler_free(g->smp);
    fr_decoder_free(g->dec);
    fr_stop_free(g->stop);
    fr_buf_free(&g->text);
    fr_buf_free(&g->tail);
    free(g);
}

void fr_gen_stream_prompt(fr_gen_stream *g, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fr_sampler_accept(g->smp, ids[i]);
}

uint32_t fr_gen_stream_n_generated(const fr_gen_stream *g) { return g->n_gen; }

static void step_clear(fr_gen_step *s)
{
    s->token = -1;
    s->text = "";
    s->len = 0;
    s->tail = "";
    s->tail_len = 0;
    s->finish = FR_FINISH_NONE;
    s->stop_index = -1;
}

/* Ends the stream: releases what the decoder and the stop matcher hold
 * (unless a stop string ended it) into out->tail. */
static void stream_end(fr_gen_stream *g, fr_finish why, fr_gen_step *out)
{
    out->finish = why;
    if (g->ended)
        return;
    g->ended = true;
    fr_buf_reset(&g->tail);
    const char *txt;
    size_t len;
    fr_decoder_flush(g->dec, &txt, &len);
    if (!g->stop) {
        fr_buf_append(&g->tail, txt, len);
    } else {
        fr_stop_result sr;
        bool stopped = false;
        if (len && fr_stop_feed(g->stop, txt, len, &sr, NULL) == FR_OK) {
            fr_buf_append(&g->tail, sr.text, sr.len);
            stopped = sr.stopped;
        }
        if (!stopped && fr_stop_flush(g->stop, &sr, NULL) == FR_OK) {
            fr_buf_append(&g->tail, sr.text, sr.len);
            stopped = sr.stopped;
        }
        if (stopped) {
            out->finish = FR_FINISH_STOP;
            out->stop_index = sr.which;
        }
    }
    if (fr_buf_ok(&g->tail) && g->tail.len) {
        out->tail = g->tail.data;
        out->tail_len = g->tail.len;
    }
}

void fr_gen_stream_end(fr_gen_stream *g, fr_finish why, fr_gen_step *out)
{
    step_clear(out);
    stream_end(g, why, out);
}

fr_status fr_gen_stream_next(fr_gen_stream *g, const float *logits, fr_gen_step *out,
                             fr_err *err)
{
    step_clear(out);
    if (g->ended)
        return fr_err_set(err, FR_E_INVALID, "fr_gen_stream_next: the stream has ended");
    if (g->max_tokens >= 0 && g->n_gen >= (uint32_t)g->max_tokens) {
        stream_end(g, FR_FINISH_LENGTH, out);
        return FR_OK;
    }
    fr_status rc;
    if ((rc = fr_sampler_sample_constrained(g->smp, logits, g->cons, &out->sample, err)))
        return rc;
    int32_t t = out->sample.token;
    if (t < 0) { /* the constraint allows nothing: the output cannot go on */
        stream_end(g, FR_FINISH_STOP, out);
        return FR_OK;
    }
    g->n_gen++;
    out->token = t;
    if (!g->ignore_eog && fr_tokenizer_is_eog(g->tok, t)) {
        stream_end(g, FR_FINISH_STOP, out);
        return FR_OK;
    }
    if (g->cons && (rc = fr_constraint_accept(g->cons, t, err)))
        return rc;
    const char *txt;
    size_t len;
    if ((rc = fr_decoder_push(g->dec, t, &txt, &len, err)))
        return rc;
    if (g->stop) {
        fr_stop_result sr;
        if ((rc = fr_stop_feed(g->stop, txt, len, &sr, err)))
            return rc;
        txt = sr.text;
        len = sr.len;
        if (sr.stopped) {
            out->text = txt;
            out->len = len;
            out->finish = FR_FINISH_STOP;
            out->stop_index = sr.which;
            g->ended = true;
            return FR_OK;
        }
    }
    out->text = txt;
    out->len = len;
    g->n_bytes += len;
    if ((g->max_bytes && g->n_bytes >= g->max_bytes) ||
        (g->max_tokens >= 0 && g->n_gen >= (uint32_t)g->max_tokens)) {
        /* the flush reuses the decoder's and the matcher's buffers: keep a copy */
        fr_buf_reset(&g->text);
        if (!fr_buf_append(&g->text, txt, len))
            return fr_err_set(err, FR_E_NOMEM, "out of memory");
        out->text = g->text.data ? g->text.data : "";
        stream_end(g, FR_FINISH_LENGTH, out);
    }
    return FR_OK;
}

/* ---- fr_generate ------------------------------------------------------------------- */

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

/* Sends what one step produced: the token with its text, then the tail. */
static void send_step(fr_gen_run *r, const fr_gen_step *st)
{
    if (st->token >= 0)
        fr_gen_send(r, st->token, &st->sample, st->text, st->len);
    if (st->tail_len)
        fr_gen_send(r, -1, NULL, st->tail, st->tail_len);
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
    fr_gen_stream *g = NULL;
    fr_status rc;
    if ((rc = fr_gen_stream_create(tok, hp->n_vocab, params, &g, err)))
        return rc;

    /* prefix reuse */
    uint32_t have = fr_context_seq_len(c, seq);
    const int32_t *cached = fr_context_seq_tokens(c, seq);
    uint32_t common = 0;
    while (common < have && common < n_prompt && cached[common] == prompt[common])
        common++;
    if (common == n_prompt)
        common--;
    common = fr_context_seq_truncate(c, seq, common); /* 0 when a window's ring lost it */
    st->n_prompt = (uint32_t)n_prompt;
    st->n_cached = common;
    fr_gen_stream_prompt(g, prompt, n_prompt);

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
    fr_gen_step step;
    for (;;) {
        if ((rc = fr_gen_stream_next(g, fr_context_logits(c, 0), &step, err)))
            goto done;
        send_step(&run, &step);
        if (step.finish != FR_FINISH_NONE)
            break;
        if (run.cancelled) {
            fr_gen_stream_end(g, FR_FINISH_CANCELLED, &step);
            break;
        }
        if (fr_context_seq_len(c, seq) >= n_ctx) {
            fr_gen_stream_end(g, FR_FINISH_CONTEXT, &step);
            send_step(&run, &step);
            break;
        }
        fr_batch b = {1, &step.token, &seq_id, NULL};
        if ((rc = fr_context_decode(c, &b, err)))
            goto done;
    }
    st->finish = step.finish;
    st->stop_index = step.stop_index;
    st->n_generated = fr_gen_stream_n_generated(g);
    st->t_decode_s = fr_now_s() - t1;
    rc = FR_OK;
done:
    fr_gen_stream_free(g);
    return rc;
}
