/*
 * cmd_run.c - `frugal run`: one prompt in, generated text out.
 *
 * stdout carries only the generated text, streamed as it is produced, so it
 * can be piped; speeds go to stderr. --json prints one record at the end
 * instead. Ctrl-C stops generation and still reports what was produced.
 * --grammar / --json-schema constrain the output (frugal/grammar.h).
 * With --chat and gpt-oss's template (harmony) the answer is read back:
 * stdout carries the final channel, the reasoning (analysis channel) goes
 * to stderr unless --hide-reasoning, and --json has both.
 */
#include "chat_tools.h"
#include "llm.h"
#include "text/chat_tokens.h"

#include "base/file.h"

#include <frugal/grammar.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by the SIGINT handler; the only mutable global, as signals require. */
static volatile sig_atomic_t run_interrupted;

static void run_on_sigint(int sig)
{
    (void)sig;
    run_interrupted = 1;
}

typedef struct run_out {
    bool json;
    char *text; /* collected for --json */
    size_t len, cap;
    int32_t *ids; /* sampled token ids, for --json */
    size_t n_ids, cap_ids;
    chat_tools *reader; /* harmony: the answer read back by channel, or NULL */
} run_out;

static bool run_emit(void *user, const fr_gen_event *ev)
{
    run_out *o = user;
    if (o->json && ev->token >= 0) { /* token < 0: text flushed at the end, no new token */
        if (o->n_ids == o->cap_ids) {
            size_t nc = o->cap_ids ? o->cap_ids * 2 : 256;
            int32_t *ni = realloc(o->ids, nc * sizeof *ni);
            if (!ni)
                return false;
            o->ids = ni;
            o->cap_ids = nc;
        }
        o->ids[o->n_ids++] = ev->token;
    }
    if (ev->len && o->reader) {
        chat_tools_feed(o->reader, ev->text, ev->len, o->json ? NULL : stdout);
    } else if (ev->len) {
        if (o->json) {
            if (o->len + ev->len + 1 > o->cap) {
                size_t nc = (o->cap ? o->cap * 2 : 4096) + ev->len;
                char *nt = realloc(o->text, nc);
                if (!nt)
                    return false;
                o->text = nt;
                o->cap = nc;
            }
            memcpy(o->text + o->len, ev->text, ev->len);
            o->len += ev->len;
            o->text[o->len] = '\0';
        } else {
            fwrite(ev->text, 1, ev->len, stdout);
            fflush(stdout);
        }
    }
    return !run_interrupted;
}

int cmd_run(int argc, char **argv)
{
    cli_model_opts mo = {0};
    cli_sampling so;
    cli_sampling_defaults(&so);
    const char *prompt = NULL, *prompt_file = NULL, *system = NULL;
    long n_predict = -1;
    bool chat = false, json = false, no_bos = false, ignore_eos = false, verbose_prompt = false;
    bool hide_reasoning = false;
    cli_strs stops = {0};
    const char *grammar_file = NULL, *schema_file = NULL;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(&mo),
        {"--prompt", "-p", CLI_STR, &prompt, "TEXT", "the prompt", 0, 0, NULL},
        {"--file", "-f", CLI_STR, &prompt_file, "FILE", "read the prompt from FILE", 0, 0, NULL},
        {"--n-predict", "-n", CLI_INT, &n_predict, "N", "tokens to generate, -1 = until done (default)", -1, 1 << 24, NULL},
        CLI_SAMPLING_OPTS(&so),
        {"--stop", NULL, CLI_STRS, &stops, "TEXT", "stop at TEXT (repeatable)", 0, 0, NULL},
        {"--grammar", NULL, CLI_STR, &grammar_file, "FILE", "constrain the output to a GBNF grammar (llama.cpp's format)", 0, 0, NULL},
        {"--json-schema", NULL, CLI_STR, &schema_file, "FILE", "constrain the output to JSON valid against a JSON Schema", 0, 0, NULL},
        {"--chat", NULL, CLI_FLAG, &chat, NULL, "wrap the prompt in the model's chat template", 0, 0, NULL},
        {"--system", NULL, CLI_STR, &system, "TEXT", "system message (with --chat)", 0, 0, NULL},
        {"--hide-reasoning", NULL, CLI_FLAG, &hide_reasoning, NULL, "with --chat on gpt-oss: do not show its reasoning on stderr", 0, 0, NULL},
        {"--no-bos", NULL, CLI_FLAG, &no_bos, NULL, "do not add a BOS token", 0, 0, NULL},
        {"--ignore-eos", NULL, CLI_FLAG, &ignore_eos, NULL, "keep generating past end-of-generation tokens", 0, 0, NULL},
        {"--verbose-prompt", NULL, CLI_FLAG, &verbose_prompt, NULL, "print the prompt's token ids on stderr", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "print one JSON record (text, tokens, timings)", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal run -m MODEL.gguf -p PROMPT [options]",
        "Generates text from a prompt. stdout carries only the generated text; prompt and\n"
        "generation speed go to stderr.",
        opts, 0, 0};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!prompt == !prompt_file) {
        cli_error("run: give exactly one of -p PROMPT or -f FILE");
        return FR_EXIT_USAGE;
    }
    if (system && !chat) {
        cli_error("run: --system needs --chat");
        return FR_EXIT_USAGE;
    }
    if (grammar_file && schema_file) {
        cli_error("run: give at most one of --grammar and --json-schema");
        return FR_EXIT_USAGE;
    }
    char *file_text = NULL;
    size_t prompt_len = prompt ? strlen(prompt) : 0;
    fr_err e;
    /* the grammar first: a bad one is reported before the model loads */
    fr_grammar *grammar = NULL;
    if (grammar_file || schema_file) {
        const char *gf = grammar_file ? grammar_file : schema_file;
        char *gtext = NULL;
        size_t glen = 0;
        fr_status gst = fr_read_file(gf, FR_GRAMMAR_MAX_BYTES, &gtext, &glen, &e);
        if (gst == FR_OK)
            gst = grammar_file ? fr_grammar_parse(gtext, glen, gf, &grammar, &e)
                               : fr_grammar_from_json_schema(gtext, glen, gf, &grammar, &e);
        free(gtext);
        if (gst != FR_OK)
            return cli_fail(&e);
    }
    if (prompt_file) {
        if (fr_read_file(prompt_file, (size_t)64 << 20, &file_text, &prompt_len, &e) != FR_OK) {
            fr_grammar_free(grammar);
            return cli_fail(&e);
        }
        prompt = file_text;
    }
    cli_llm L;
    if ((rc = cli_llm_open(&mo, 1, chat, &L))) {
        fr_grammar_free(grammar);
        free(file_text);
        return rc;
    }
    fr_grammar_vocab *gv = NULL;
    fr_constraint *cons = NULL;
    if (grammar) {
        if (fr_grammar_vocab_create(L.tok, fr_model_hparams(L.model)->n_vocab, NULL, 0, &gv, &e) != FR_OK ||
            fr_grammar_constraint(grammar, gv, &cons, &e) != FR_OK) {
            if (!gv)
                fr_grammar_free(grammar);
            fr_grammar_vocab_free(gv);
            free(file_text);
            cli_llm_close(&L);
            return cli_fail(&e);
        }
    }
    cli_llm_describe(&L, mo.model ? mo.model : getenv("FRUGAL_MODEL"));
    int32_t *ids = NULL;
    size_t n_ids = 0;
    fr_status st;
    if (chat) {
        fr_chat_msg msgs[2];
        size_t nm = 0;
        if (system)
            msgs[nm++] = (fr_chat_msg){FR_CHAT_SYSTEM, system, strlen(system)};
        msgs[nm++] = (fr_chat_msg){FR_CHAT_USER, prompt, prompt_len};
        st = fr_chat_tokenize(L.tmpl, L.tok, msgs, nm, true, &ids, &n_ids, &e);
    } else {
        fr_encode_opts eo = {no_bos ? 0 : -1, 0, true};
        st = fr_tokenize(L.tok, prompt, prompt_len, &eo, &ids, &n_ids, &e);
    }
    if (st == FR_OK && n_ids == 0) {
        int32_t bos = fr_tokenizer_bos(L.tok);
        if (bos < 0) {
            st = fr_err_set(&e, FR_E_INVALID, "the prompt is empty and the model has no BOS token");
        } else {
            ids[0] = bos;
            n_ids = 1;
        }
    }
    if (st != FR_OK) {
        fr_constraint_free(cons);
        fr_grammar_vocab_free(gv);
        free(file_text);
        free(ids);
        cli_llm_close(&L);
        return cli_fail(&e);
    }
    if (verbose_prompt) {
        fprintf(stderr, "prompt tokens (%zu):", n_ids);
        for (size_t i = 0; i < n_ids; i++)
            fprintf(stderr, " %d", ids[i]);
        fputc('\n', stderr);
    }
    fr_gen_params gp;
    fr_gen_params_default(&gp);
    uint64_t seed;
    cli_sampling_apply(&so, &gp.sampling, &seed);
    gp.max_tokens = (int32_t)n_predict;
    gp.ignore_eog = ignore_eos;
    const char *stop_list[CLI_STRS_MAX + 1];
    size_t n_stop = 0;
    for (int i = 0; i < stops.n; i++)
        stop_list[n_stop++] = stops.v[i];
    if (chat && L.tmpl && fr_chat_template_eot(L.tmpl)[0])
        stop_list[n_stop++] = fr_chat_template_eot(L.tmpl);
    gp.stop = stop_list;
    gp.n_stop = n_stop;
    gp.constraint = cons;

    run_out out = {json, NULL, 0, 0, NULL, 0, 0, NULL};
    if (chat && L.tmpl && fr_chat_template_tool_format(L.tmpl) == FR_TOOLS_HARMONY) {
        /* gpt-oss: read by channel (its markers are special tokens) */
        if (!(out.reader = chat_tools_reader(L.tmpl))) {
            free(file_text);
            free(ids);
            fr_constraint_free(cons);
            fr_grammar_vocab_free(gv);
            cli_llm_close(&L);
            return FR_EXIT_RUNTIME;
        }
        if (!hide_reasoning && !json)
            chat_tools_show_reasoning(out.reader, stderr);
        chat_tools_begin(out.reader);
        gp.decode_flags |= FR_DECODE_SPECIAL;
    }
    struct sigaction sa = {0}, old;
    sa.sa_handler = run_on_sigint;
    sigaction(SIGINT, &sa, &old);
    fr_gen_stats gs;
    st = fr_generate(L.ctx, 0, L.tok, ids, n_ids, &gp, run_emit, &out, &gs, &e);
    sigaction(SIGINT, &old, NULL);
    size_t rlen = 0;
    const char *reasoning = NULL;
    if (out.reader) {
        chat_tools_end(out.reader, json ? NULL : stdout);
        size_t clen;
        const char *content = chat_tools_content(out.reader, &clen);
        reasoning = chat_tools_reasoning(out.reader, &rlen);
        free(out.text);
        out.text = malloc(clen + 1);
        if (out.text) {
            memcpy(out.text, content, clen);
            out.text[clen] = '\0';
        }
        out.len = out.text ? clen : 0;
    }
    if (st != FR_OK) {
        if (!json)
            fputc('\n', stdout);
        chat_tools_free(out.reader);
        free(out.text);
        free(out.ids);
        free(file_text);
        free(ids);
        fr_constraint_free(cons);
        fr_grammar_vocab_free(gv);
        cli_llm_close(&L);
        return cli_fail(&e);
    }
    double pp = gs.t_prefill_s > 0 ? (gs.n_prompt - gs.n_cached) / gs.t_prefill_s : 0;
    double tg = gs.t_decode_s > 0 ? gs.n_generated / gs.t_decode_s : 0;
    if (json) {
        json_t *j = json_pack("{s:s%, s:s, s:{s:i, s:i, s:i}, s:{s:f, s:f, s:f, s:f}, s:I}",
                              "text", out.text ? out.text : "", out.len,
                              "finish_reason", fr_finish_name(gs.finish),
                              "tokens", "prompt", (int)gs.n_prompt, "generated", (int)gs.n_generated,
                              "cached", (int)gs.n_cached,
                              "timings", "prefill_s", gs.t_prefill_s, "decode_s", gs.t_decode_s,
                              "prefill_tok_s", pp, "decode_tok_s", tg,
                              "seed", (json_int_t)seed);
        json_t *ja = json_array();
        for (size_t i = 0; ja && i < out.n_ids; i++)
            json_array_append_new(ja, json_integer(out.ids[i]));
        if (j && ja)
            json_object_set_new(j, "token_ids", ja);
        else
            json_decref(ja);
        if (j && reasoning)
            json_object_set_new(j, "reasoning", json_stringn(reasoning, rlen));
        if (j) {
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
            fputc('\n', stdout);
            json_decref(j);
        }
    } else {
        fputc('\n', stdout);
        fflush(stdout);
    }
    fprintf(stderr,
            "frugal: prompt %u tokens (%u cached) in %.2f s (%.1f tok/s); generated %u tokens in "
            "%.2f s (%.1f tok/s); finish: %s%s\n",
            gs.n_prompt, gs.n_cached, gs.t_prefill_s, pp, gs.n_generated, gs.t_decode_s, tg,
            fr_finish_name(gs.finish), run_interrupted ? " (interrupted)" : "");
    if (gs.finish == FR_FINISH_CONTEXT)
        cli_warn("stopped because the context (%u tokens) is full; raise --ctx for longer output",
                 fr_context_n_ctx(L.ctx));
    if (cons && gs.finish == FR_FINISH_STOP && !fr_constraint_complete(cons))
        cli_warn("the output stopped before the grammar was complete (no token could continue "
                 "it)");
    chat_tools_free(out.reader);
    free(out.text);
    free(out.ids);
    free(file_text);
    free(ids);
    fr_constraint_free(cons);
    fr_grammar_vocab_free(gv);
    cli_llm_close(&L);
    return FR_EXIT_OK;
}
