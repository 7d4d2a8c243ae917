/*
 * llm.c - opening a model for a command (see llm.h).
 */
#include "llm.h"
#include "base/clock.h"
#include "text/chat_tokens.h"

#include <frugal/sampler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_sampling_defaults(cli_sampling *s)
{
    fr_sampler_params p;
    fr_sampler_params_default(&p);
    memset(s, 0, sizeof *s);
    s->temp = p.temperature;
    s->top_k = p.top_k;
    s->top_p = p.top_p;
    s->min_p = p.min_p;
    s->repeat_penalty = p.repeat_penalty;
    s->repeat_last_n = p.penalty_last_n;
    s->frequency_penalty = p.frequency_penalty;
    s->presence_penalty = p.presence_penalty;
    s->seed = -1;
}

void cli_sampling_apply(const cli_sampling *s, fr_sampler_params *p, uint64_t *seed_used)
{
    fr_sampler_params_default(p);
    p->temperature = (float)s->temp;
    p->top_k = (int32_t)s->top_k;
    p->top_p = (float)s->top_p;
    p->min_p = (float)s->min_p;
    p->repeat_penalty = (float)s->repeat_penalty;
    p->penalty_last_n = (int32_t)s->repeat_last_n;
    p->frequency_penalty = (float)s->frequency_penalty;
    p->presence_penalty = (float)s->presence_penalty;
    if (s->seed >= 0) {
        p->seed = (uint64_t)s->seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        p->seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec;
    }
    if (seed_used)
        *seed_used = p->seed;
}

int cli_llm_open(const cli_model_opts *o, uint32_t n_seq, bool with_template, cli_llm *out)
{
    memset(out, 0, sizeof *out);
    const char *path = o->model ? o->model : getenv("FRUGAL_MODEL");
    if (!path || !*path) {
        cli_error("no model: pass -m MODEL.gguf (or set FRUGAL_MODEL; `frugal pull` downloads one)");
        return FR_EXIT_USAGE;
    }
    fr_err e;
    double t0 = fr_now_s();
    if (fr_model_load(path, &out->model, &e) != FR_OK)
        return cli_fail(&e);
    if (fr_tokenizer_from_gguf(fr_model_gguf(out->model), &out->tok, &e) != FR_OK) {
        fr_err_prefix(&e, "%s: tokenizer", path);
        cli_llm_close(out);
        return cli_fail(&e);
    }
    if (fr_tokenizer_warning(out->tok))
        cli_warn("%s", fr_tokenizer_warning(out->tok));
    if (fr_tokenizer_n_tokens(out->tok) != fr_model_hparams(out->model)->n_vocab)
        cli_warn("%s: the vocabulary has %u tokens but the model's embedding has %u rows", path,
                 fr_tokenizer_n_tokens(out->tok), fr_model_hparams(out->model)->n_vocab);
    if (with_template) {
        if (fr_chat_template_for_model(fr_model_gguf(out->model), o->chat_template,
                                       o->strict_template, &out->tmpl, &e) != FR_OK) {
            cli_llm_close(out);
            return cli_fail(&e);
        }
        if (fr_chat_template_warning(out->tmpl))
            cli_warn("%s", fr_chat_template_warning(out->tmpl));
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = (uint32_t)o->ctx;
    cp.n_threads = (uint32_t)o->threads;
    cp.n_seq = n_seq;
    if (o->batch)
        cp.n_batch = (uint32_t)o->batch;
    if (o->kv_type && strcmp(o->kv_type, "f16") == 0)
        cp.kv_type = FR_TYPE_F16;
    if (fr_context_create(out->model, &cp, &out->ctx, &e) != FR_OK) {
        cli_llm_close(out);
        return cli_fail(&e);
    }
    out->load_s = fr_now_s() - t0;
    return FR_EXIT_OK;
}

void cli_llm_close(cli_llm *l)
{
    fr_context_free(l->ctx);
    fr_chat_template_free(l->tmpl);
    fr_tokenizer_free(l->tok);
    fr_model_free(l->model);
    memset(l, 0, sizeof *l);
}

void cli_llm_describe(const cli_llm *l, const char *path)
{
    const fr_hparams *hp = fr_model_hparams(l->model);
    char sz[32];
    cli_human_bytes(fr_model_weight_bytes(l->model), sz, sizeof sz);
    fr_gguf_str name = {NULL, 0};
    fr_gguf_get_str(fr_model_gguf(l->model), "general.name", &name, NULL);
    fprintf(stderr, "frugal: %.*s (%s, %.1fM params, %s) from %s; ctx %u, %u threads, loaded in %.2f s\n",
            (int)(name.len > 60 ? 60 : name.len), name.len ? name.ptr : "model", hp->arch,
            (double)fr_model_n_params(l->model) / 1e6, sz, path, fr_context_n_ctx(l->ctx),
            fr_context_n_threads(l->ctx), l->load_s);
}
