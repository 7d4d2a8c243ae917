/*
 * llm.c - opening a model for a command (see llm.h).
 */
#include "llm.h"
#include "base/clock.h"
#include "text/chat_tokens.h"

#include <frugal/sampler.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    /* bad --lora scales are usage errors: report them before any loading */
    for (int i = 0; i < o->lora.n; i++) {
        char p[4096];
        float sc;
        int rc = cli_lora_parse(o->lora.v[i], p, sizeof p, &sc);
        if (rc)
            return rc;
    }
    fr_err e;
    double t0 = fr_now_s();
    if (fr_model_load(path, &out->model, &e) != FR_OK)
        return cli_fail(&e);
    int lrc = cli_lora_load(&o->lora, out->model, out->lora, out->lora_scale, &out->n_lora);
    if (lrc) {
        cli_llm_close(out);
        return lrc;
    }
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
        if (fr_chat_template_warning(out->tmpl) && !o->quiet_template)
            cli_warn("%s", fr_chat_template_warning(out->tmpl));
    }
    fr_context_params cp = fr_context_default_params();
    cp.n_ctx = (uint32_t)o->ctx;
    cp.n_threads = (uint32_t)o->threads;
    cp.n_seq = n_seq;
    if (o->batch)
        cp.n_batch = (uint32_t)o->batch;
    if (o->kv_type && strcmp(o->kv_type, "f32") == 0)
        cp.kv_type = FR_TYPE_F32;
    if (fr_context_create(out->model, &cp, &out->ctx, &e) != FR_OK ||
        fr_context_set_lora(out->ctx, out->lora, out->lora_scale, (size_t)out->n_lora, &e) != FR_OK) {
        cli_llm_close(out);
        return cli_fail(&e);
    }
    out->load_s = fr_now_s() - t0;
    return FR_EXIT_OK;
}

void cli_llm_close(cli_llm *l)
{
    fr_context_free(l->ctx);
    for (int i = 0; i < l->n_lora; i++)
        fr_lora_free(l->lora[i]);
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
    uint32_t nt = fr_context_n_threads(l->ctx);
    char kv[32];
    cli_human_bytes(fr_context_kv_bytes(l->ctx), kv, sizeof kv);
    fprintf(stderr, "frugal: %.*s (%s, %.1fM params, %s) from %s; ctx %u, %u thread%s, KV cache %s, loaded in %.2f s\n",
            (int)(name.len > 60 ? 60 : name.len), name.len ? name.ptr : "model", hp->arch,
            (double)fr_model_n_params(l->model) / 1e6, sz, path, fr_context_n_ctx(l->ctx), nt,
            nt == 1 ? "" : "s", kv, l->load_s);
    for (int i = 0; i < l->n_lora; i++)
        cli_lora_describe(l->lora[i], l->lora_scale[i]);
}

int cli_lora_parse(const char *spec, char *path, size_t path_size, float *scale)
{
    *scale = 1.0f;
    const char *colon = strrchr(spec, ':');
    size_t plen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (colon) {
        const char *v = colon + 1;
        char *end = NULL;
        errno = 0;
        double d = *v ? strtod(v, &end) : 0.0;
        bool number = *v && end && *end == '\0' && errno == 0 && isfinite(d) &&
                      fabs(d) <= 1e6;
        if (number) {
            *scale = (float)d;
        } else if (access(spec, F_OK) == 0) {
            plen = strlen(spec); /* a path with a ':' in it */
        } else {
            cli_error("--lora %s: '%s' is not a scale; use --lora FILE or --lora FILE:SCALE "
                      "with SCALE a number such as 0.5", spec, v);
            return FR_EXIT_USAGE;
        }
    }
    if (plen == 0 || plen >= path_size) {
        cli_error("--lora %s: no adapter file named", spec);
        return FR_EXIT_USAGE;
    }
    memcpy(path, spec, plen);
    path[plen] = '\0';
    return FR_EXIT_OK;
}

int cli_lora_load(const cli_strs *specs, const fr_model *m, fr_lora **out, float *scales, int *n)
{
    *n = 0;
    for (int i = 0; i < specs->n && i < CLI_STRS_MAX; i++) {
        char path[4096];
        int rc = cli_lora_parse(specs->v[i], path, sizeof path, &scales[i]);
        fr_err e;
        if (!rc && fr_lora_load(path, m, &out[i], &e) != FR_OK)
            rc = cli_fail(&e);
        if (rc) {
            for (int k = 0; k < i; k++)
                fr_lora_free(out[k]);
            *n = 0;
            return rc;
        }
        *n = i + 1;
    }
    return FR_EXIT_OK;
}

void cli_lora_describe(const fr_lora *a, float scale)
{
    uint32_t r = fr_lora_rank(a);
    fprintf(stderr, "frugal: adapter %s (rank %u, alpha %g, scale %g -> %g effective, %zu "
            "tensors)\n", fr_lora_path(a), r, (double)fr_lora_alpha(a), (double)scale,
            (double)fr_lora_effective_scale(fr_lora_alpha(a), r, scale), fr_lora_n_pairs(a));
    if (fr_lora_n_ignored(a))
        cli_warn("%s: %zu norm tensors in the adapter are ignored (as llama.cpp does)",
                 fr_lora_path(a), fr_lora_n_ignored(a));
}
