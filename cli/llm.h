/*
 * llm.h - what run, chat, serve, bench and perplexity share: the model
 * options (-m, --ctx, -t, --kv-type, --chat-template, --lora), the sampling
 * options, and opening a model with its tokenizer, template, LoRA adapters
 * and context.
 *
 * The option tables are macros so each command lists them inside its own
 * cli_opt table (one --help, one parser).
 */
#ifndef FR_CLI_LLM_H
#define FR_CLI_LLM_H

#include "cli.h"

#include <frugal/chat.h>
#include <frugal/generate.h>
#include <frugal/lora.h>
#include <frugal/model.h>
#include <frugal/tokenizer.h>

typedef struct cli_model_opts {
    const char *model;
    long ctx;     /* 0: min(model maximum, 4096) */
    long threads; /* 0: all online CPUs */
    long batch;
    const char *kv_type;
    const char *chat_template;
    bool strict_template;
    cli_strs lora; /* --lora FILE[:SCALE], repeatable */
    bool quiet_template; /* not an option: the caller shows the template's warning
                            itself, when it first uses the template (ask) */
} cli_model_opts;

#define CLI_MODEL_OPTS(o)                                                                        \
    {"--model", "-m", CLI_STR, &(o)->model, "FILE", "GGUF model file (or set FRUGAL_MODEL)", 0, 0, NULL}, \
    {"--ctx", "-c", CLI_INT, &(o)->ctx, "N", "context length (default: min(model's, 4096))", 0, 1 << 22, NULL}, \
    {"--threads", "-t", CLI_INT, &(o)->threads, "N", "threads (default: all CPUs)", 0, 1024, NULL}, \
    {"--batch", "-b", CLI_INT, &(o)->batch, "N", "prompt tokens per forward pass (default 512)", 0, 65536, NULL}, \
    {"--kv-type", NULL, CLI_CHOICE, &(o)->kv_type, NULL, "KV cache type (default f16)", 0, 0, "f32|f16"}, \
    {"--chat-template", NULL, CLI_STR, &(o)->chat_template, "NAME", "override the model's chat template", 0, 0, NULL}, \
    {"--strict-template", NULL, CLI_FLAG, &(o)->strict_template, NULL, "error (not ChatML) on an unknown template", 0, 0, NULL}, \
    CLI_LORA_OPT(o)

/* --lora alone, for a command that lists its own model options (bench):
 * put CLI_LORA_OPT(&mo) in its table and cli_llm_open applies the adapters. */
#define CLI_LORA_OPT(o)                                                                          \
    {"--lora", NULL, CLI_STRS, &(o)->lora, "FILE[:S]", "apply a LoRA adapter, scaled by S (default 1; repeatable)", 0, 0, NULL}

typedef struct cli_sampling {
    double temp, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty;
    long top_k, repeat_last_n, seed;
    bool seed_set;
} cli_sampling;

#define CLI_SAMPLING_OPTS(s)                                                                     \
    {"--temp", NULL, CLI_DOUBLE, &(s)->temp, "T", "temperature, 0 = greedy (default 0.8)", 0, 100, NULL}, \
    {"--top-k", NULL, CLI_INT, &(s)->top_k, "K", "top-k, 0 = off (default 40)", 0, 1 << 24, NULL}, \
    {"--top-p", NULL, CLI_DOUBLE, &(s)->top_p, "P", "top-p, 1 = off (default 0.95)", 0, 1, NULL}, \
    {"--min-p", NULL, CLI_DOUBLE, &(s)->min_p, "P", "min-p, 0 = off (default 0.05)", 0, 1, NULL}, \
    {"--repeat-penalty", NULL, CLI_DOUBLE, &(s)->repeat_penalty, "R", "repetition penalty, 1 = off (default 1)", 0.01, 100, NULL}, \
    {"--repeat-last-n", NULL, CLI_INT, &(s)->repeat_last_n, "N", "tokens the penalties look at (default 64)", 0, 1 << 20, NULL}, \
    {"--frequency-penalty", NULL, CLI_DOUBLE, &(s)->frequency_penalty, "F", "OpenAI frequency penalty (default 0)", -2, 2, NULL}, \
    {"--presence-penalty", NULL, CLI_DOUBLE, &(s)->presence_penalty, "F", "OpenAI presence penalty (default 0)", -2, 2, NULL}, \
    {"--seed", "-s", CLI_INT, &(s)->seed, "S", "random seed (default: random; same seed, same output)", 0, 0, NULL}

void cli_sampling_defaults(cli_sampling *s);
/* Fills p from s; a seed not given on the command line is drawn from the
 * clock and returned in *seed_used. */
void cli_sampling_apply(const cli_sampling *s, fr_sampler_params *p, uint64_t *seed_used);

typedef struct cli_llm {
    fr_model *model;
    fr_tokenizer *tok;
    fr_context *ctx;
    fr_chat_template *tmpl; /* NULL unless asked for */
    fr_lora *lora[CLI_STRS_MAX]; /* the --lora adapters, attached to ctx */
    float lora_scale[CLI_STRS_MAX];
    int n_lora;
    double load_s;
} cli_llm;

/* Opens the model in o (or $FRUGAL_MODEL), its tokenizer, the --lora
 * adapters and a context with n_seq sequences that applies them;
 * with_template also resolves the chat template (printing its warning, if
 * any). A command that creates more contexts attaches the same adapters with
 * fr_context_set_lora(ctx, l->lora, l->lora_scale, (size_t)l->n_lora, &err).
 * Prints errors; returns an exit code (0 = ok). */
int cli_llm_open(const cli_model_opts *o, uint32_t n_seq, bool with_template, cli_llm *out);
void cli_llm_close(cli_llm *l);

/* One line on stderr: model name, arch, parameters, size, context, threads;
 * then one line per adapter. */
void cli_llm_describe(const cli_llm *l, const char *path);

/* Splits a --lora value "FILE" or "FILE:SCALE" (SCALE a finite number; a
 * path that itself contains ':' and exists is taken whole). Prints a usage
 * error and returns FR_EXIT_USAGE on a bad scale; 0 otherwise. */
int cli_lora_parse(const char *spec, char *path, size_t path_size, float *scale);
/* Parses and loads every spec for model m into out[]/scales[] (CLI_STRS_MAX
 * entries); *n is set to the number loaded. Prints errors; returns an exit
 * code. On failure nothing stays loaded. */
int cli_lora_load(const cli_strs *specs, const fr_model *m, fr_lora **out, float *scales, int *n);
/* "adapter.gguf (rank 16, alpha 32, scale 1 -> 2 effective, 14 tensors)" on stderr. */
void cli_lora_describe(const fr_lora *a, float scale);

#endif
