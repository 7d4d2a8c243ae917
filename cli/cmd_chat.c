/*
 * cmd_chat.c - `frugal chat`: an interactive multi-turn conversation.
 *
 * Each turn renders the whole conversation with the model's chat template;
 * the context keeps the previous turns' tokens, so only the new part is
 * computed (prefix reuse in fr_generate). When the conversation outgrows the
 * context, the oldest turns are dropped (the system message stays) and the
 * user is told. Line editing and history come from libedit when stdin is a
 * terminal; otherwise lines are read plainly, so scripts can pipe turns in.
 * Ctrl-C stops the current answer and returns to the prompt. With --tools
 * FILE the model may call tools (chat_tools.c): calls are shown as they
 * complete, and /tool NAME JSON pastes a result and lets the model go on.
 * gpt-oss's answers (harmony) are read the same way, with or without
 * tools: its reasoning is shown before the answer unless --hide-reasoning,
 * and only the final answer enters the history.
 *
 * A line that starts with '/' is a command (/help lists them); an unknown
 * one is answered "unknown command" rather than sent to the model, and
 * "//" at the start sends the rest of the line, with one '/', as a message.
 */
#include "chat_tools.h"
#include "llm.h"
#include "text/chat_tokens.h"

#include <editline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t chat_interrupted;

static void chat_on_sigint(int sig)
{
    (void)sig;
    chat_interrupted = 1;
}

typedef struct chat_state {
    fr_chat_msg *msgs; /* content strings owned (malloc'd) */
    fr_chat_msg_tools *mt; /* parallel to msgs: calls and call ids owned */
    size_t n, cap;
    char *answer;      /* text of the answer being generated */
    size_t alen, acap;
    bool json_lines;
    chat_tools *tools; /* --tools, or NULL */
} chat_state;

static bool chat_push(chat_state *s, fr_chat_role role, const char *text, size_t len)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        fr_chat_msg *nm = realloc(s->msgs, nc * sizeof *nm);
        if (!nm)
            return false;
        s->msgs = nm;
        fr_chat_msg_tools *nt = realloc(s->mt, nc * sizeof *nt);
        if (!nt)
            return false;
        s->mt = nt;
        s->cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c)
        return false;
    memcpy(c, text, len);
    c[len] = '\0';
    memset(&s->mt[s->n], 0, sizeof *s->mt);
    s->msgs[s->n++] = (fr_chat_msg){role, c, len};
    return true;
}

static void chat_drop(chat_state *s, size_t i)
{
    free((char *)s->msgs[i].content);
    chat_tools_calls_free((fr_chat_tool_call *)s->mt[i].calls, s->mt[i].n_calls);
    free((char *)s->mt[i].call_id);
    free((char *)s->mt[i].name);
    memmove(&s->msgs[i], &s->msgs[i + 1], (s->n - i - 1) * sizeof *s->msgs);
    memmove(&s->mt[i], &s->mt[i + 1], (s->n - i - 1) * sizeof *s->mt);
    s->n--;
}

/* /tool NAME JSON: the oldest call to NAME that has no result yet. */
static const char *chat_open_call(const chat_state *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->mt[i].n_calls; k++) {
            const fr_chat_tool_call *c = &s->mt[i].calls[k];
            if (strcmp(c->name, name) != 0)
                continue;
            bool answered = false;
            for (size_t j = i + 1; j < s->n && !answered; j++)
                answered = s->mt[j].call_id && strcmp(s->mt[j].call_id, c->id) == 0;
            if (!answered)
                return c->id;
        }
    return NULL;
}

static bool chat_emit(void *user, const fr_gen_event *ev)
{
    chat_state *s = user;
    if (ev->len && s->tools) {
        chat_tools_feed(s->tools, ev->text, ev->len, stdout);
    } else if (ev->len) {
        fwrite(ev->text, 1, ev->len, stdout);
        fflush(stdout);
        if (s->alen + ev->len + 1 > s->acap) {
            size_t nc = (s->acap ? s->acap * 2 : 1024) + ev->len;
            char *na = realloc(s->answer, nc);
            if (!na)
                return false;
            s->answer = na;
            s->acap = nc;
        }
        memcpy(s->answer + s->alen, ev->text, ev->len);
        s->alen += ev->len;
    }
    return !chat_interrupted;
}

static char *chat_read_line(bool tty)
{
    if (tty) {
        char *l = readline("> ");
        if (l && *l)
            add_history(l);
        return l;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static void chat_help(void)
{
    fprintf(stderr,
            "commands:\n"
            "  /help         this list\n"
            "  /reset        forget the conversation (the system message stays)\n"
            "  /stats        speed of the last answer and how full the context is\n"
            "  /exit, /quit  leave (or Ctrl-D)\n"
            "  /tool NAME JSON  with --tools: the result of the model's call to NAME\n"
            "  //TEXT        send /TEXT as a message\n"
            "Ctrl-C stops the answer being written.\n");
}

int cmd_chat(int argc, char **argv)
{
    cli_model_opts mo = {0};
    cli_sampling so;
    cli_sampling_defaults(&so);
    const char *system = NULL, *tools_file = NULL, *tool_choice = NULL;
    long n_predict = -1;
    bool hide_reasoning = false;
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(&mo),
        {"--system", NULL, CLI_STR, &system, "TEXT", "system message", 0, 0, NULL},
        {"--tools", NULL, CLI_STR, &tools_file, "FILE", "tools the model may call (OpenAI's \"tools\" JSON array)", 0, 0, NULL},
        {"--tool-choice", NULL, CLI_CHOICE, &tool_choice, NULL, "with --tools: may call (auto, default), must call, or answer in text", 0, 0, "auto|required|none"},
        {"--n-predict", "-n", CLI_INT, &n_predict, "N", "max tokens per answer, -1 = until done", -1, 1 << 24, NULL},
        {"--hide-reasoning", NULL, CLI_FLAG, &hide_reasoning, NULL, "gpt-oss: do not show the reasoning (its analysis channel) before the answer", 0, 0, NULL},
        CLI_SAMPLING_OPTS(&so),
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal chat -m MODEL.gguf [--system TEXT] [options]",
        "Interactive chat with the model's chat template. Commands: /help, /reset (forget\n"
        "the conversation), /stats (speeds and context use), /exit (or Ctrl-D), and with\n"
        "--tools /tool NAME JSON (the result of the model's call to NAME); other lines\n"
        "starting with / are refused as unknown commands (// sends a line that starts\n"
        "with /). Ctrl-C stops the answer being written.",
        opts, 0, 0};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    cli_llm L;
    if ((rc = cli_llm_open(&mo, 1, true, &L)))
        return rc;
    const char *path = mo.model ? mo.model : getenv("FRUGAL_MODEL");
    cli_llm_describe(&L, path);
    bool tty = isatty(STDIN_FILENO);
    if (tty)
        fprintf(stderr, "chat template: %s. /help for commands, /exit (or Ctrl-D) to leave; Ctrl-C stops an answer.\n",
                fr_chat_template_name(L.tmpl));
    chat_state s = {0};
    if (tools_file &&
        !(s.tools = chat_tools_open(tools_file,
                                    !tool_choice || !strcmp(tool_choice, "auto") ? FR_TOOL_CHOICE_AUTO
                                    : !strcmp(tool_choice, "required")           ? FR_TOOL_CHOICE_REQUIRED
                                                                                 : FR_TOOL_CHOICE_NONE,
                                    L.tmpl, L.tok, fr_model_hparams(L.model)->n_vocab))) {
        cli_llm_close(&L);
        return FR_EXIT_RUNTIME;
    }
    /* gpt-oss (harmony): answers are always read back, reasoning apart from the answer */
    if (!s.tools && fr_chat_template_tool_format(L.tmpl) == FR_TOOLS_HARMONY &&
        !(s.tools = chat_tools_reader(L.tmpl))) {
        cli_llm_close(&L);
        return FR_EXIT_RUNTIME;
    }
    if (s.tools && !hide_reasoning)
        chat_tools_show_reasoning(s.tools, stdout);
    if (system && !chat_push(&s, FR_CHAT_SYSTEM, system, strlen(system))) {
        cli_llm_close(&L);
        cli_error("out of memory");
        return FR_EXIT_RUNTIME;
    }
    fr_gen_params gp;
    fr_gen_params_default(&gp);
    cli_sampling_apply(&so, &gp.sampling, NULL);
    gp.max_tokens = (int32_t)n_predict;
    if (s.tools && fr_tool_format_special_marker(fr_chat_template_tool_format(L.tmpl)))
        gp.decode_flags |= FR_DECODE_SPECIAL; /* the call marker is a special token */
    const char *eot = fr_chat_template_eot(L.tmpl);
    const char *stop_list[1] = {eot};
    gp.stop = stop_list;
    gp.n_stop = eot && eot[0] ? 1 : 0;
    uint32_t n_ctx = fr_context_n_ctx(L.ctx);
    fr_gen_stats last = {0};
    uint64_t total_gen = 0;
    double total_decode = 0;
    int exit_code = FR_EXIT_OK;
    struct sigaction sa = {0}, old;
    sa.sa_handler = chat_on_sigint;

    for (;;) {
        char *line = chat_read_line(tty);
        if (!line)
            break;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0) {
            free(line);
            break;
        }
        if (strcmp(line, "/reset") == 0) {
            while (s.n > (system ? 1u : 0u))
                chat_drop(&s, s.n - 1);
            fr_context_seq_truncate(L.ctx, 0, 0);
            fprintf(stderr, "(conversation reset)\n");
            free(line);
            continue;
        }
        if (strcmp(line, "/stats") == 0) {
            fprintf(stderr,
                    "last answer: %u tokens at %.1f tok/s, prompt %u tokens (%u cached) at %.1f "
                    "tok/s; context %u/%u tokens; total generated %llu tokens (%.1f tok/s)\n",
                    last.n_generated, last.t_decode_s > 0 ? last.n_generated / last.t_decode_s : 0,
                    last.n_prompt, last.n_cached,
                    last.t_prefill_s > 0 ? (last.n_prompt - last.n_cached) / last.t_prefill_s : 0,
                    fr_context_seq_len(L.ctx, 0), n_ctx, (unsigned long long)total_gen,
                    total_decode > 0 ? (double)total_gen / total_decode : 0);
            free(line);
            continue;
        }
        if (strcmp(line, "/help") == 0 || strcmp(line, "/?") == 0) {
            chat_help();
            free(line);
            continue;
        }
        bool tool_cmd = strncmp(line, "/tool", 5) == 0 && (line[5] == ' ' || !line[5]);
        if (line[0] == '/' && line[1] != '/' && !tool_cmd) {
            size_t w = strcspn(line, " \t");
            fprintf(stderr, "unknown command %.*s: not sent to the model (/help lists the "
                            "commands; start the line with // to send it)\n", (int)w, line);
            free(line);
            continue;
        }
        if (!line[0]) {
            free(line);
            continue;
        }
        bool pushed;
        if (tool_cmd) {
            /* /tool NAME JSON: a result for the model's call to NAME */
            char *name = line + 5;
            while (*name == ' ')
                name++;
            char *json = strchr(name, ' ');
            if (json)
                *json++ = '\0';
            bool have_tools = s.tools && chat_tools_json(s.tools);
            const char *id = have_tools && *name ? chat_open_call(&s, name) : NULL;
            if (!have_tools || !json || !id) {
                cli_error("%s", !have_tools ? "/tool needs --tools FILE"
                                : !json  ? "usage: /tool NAME JSON"
                                         : "no call to that tool is waiting for a result");
                free(line);
                continue;
            }
            pushed = chat_push(&s, FR_CHAT_TOOL, json, strlen(json));
            if (pushed) {
                s.mt[s.n - 1].call_id = strdup(id);
                s.mt[s.n - 1].name = strdup(name);
            }
        } else {
            const char *msg = line[0] == '/' ? line + 1 : line; /* "//x" sends "/x" */
            pushed = chat_push(&s, FR_CHAT_USER, msg, strlen(msg));
        }
        free(line);
        if (!pushed) {
            cli_error("out of memory");
            exit_code = FR_EXIT_RUNTIME;
            break;
        }
        /* render; drop the oldest turns while it does not fit with room for
         * an answer (a quarter of the context, at least 64 tokens) */
        int32_t *ids = NULL;
        size_t n_ids = 0;
        fr_err e;
        uint32_t room = n_ctx / 4 > 64 ? n_ctx / 4 : 64;
        size_t dropped = 0;
        for (;;) {
            free(ids);
            ids = NULL;
            if (fr_chat_tokenize_tools(L.tmpl, L.tok, s.msgs, s.n,
                                       s.tools ? chat_tools_json(s.tools) : NULL, s.mt, true, &ids,
                                       &n_ids, &e) != FR_OK)
                break;
            if (n_ids + room <= n_ctx)
                break;
            size_t first = (s.n && s.msgs[0].role == FR_CHAT_SYSTEM) ? 1 : 0;
            if (s.n - first <= 1)
                break; /* only the new message is left */
            chat_drop(&s, first);
            dropped++;
        }
        if (!ids) {
            cli_fail(&e);
            chat_drop(&s, s.n - 1);
            continue;
        }
        if (dropped)
            fprintf(stderr, "(the conversation outgrew the %u-token context: dropped the %zu "
                            "oldest message%s)\n", n_ctx, dropped, dropped == 1 ? "" : "s");
        if (n_ids >= n_ctx) {
            cli_error("this message alone (%zu tokens) does not fit the %u-token context; raise "
                      "--ctx", n_ids, n_ctx);
            free(ids);
            chat_drop(&s, s.n - 1);
            continue;
        }
        s.alen = 0;
        chat_interrupted = 0;
        fr_constraint *cons = NULL;
        if (s.tools) {
            if (chat_tools_json(s.tools) && !(cons = chat_tools_constraint(s.tools))) {
                free(ids);
                chat_drop(&s, s.n - 1);
                continue;
            }
            chat_tools_begin(s.tools);
        }
        gp.constraint = cons;
        sigaction(SIGINT, &sa, &old);
        fr_status st = fr_generate(L.ctx, 0, L.tok, ids, n_ids, &gp, chat_emit, &s, &last, &e);
        sigaction(SIGINT, &old, NULL);
        fr_constraint_free(cons);
        gp.constraint = NULL;
        free(ids);
        if (s.tools)
            chat_tools_end(s.tools, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        if (st != FR_OK) {
            cli_fail(&e);
            chat_drop(&s, s.n - 1);
            continue;
        }
        if (chat_interrupted)
            fprintf(stderr, "(stopped)\n");
        else if (last.finish == FR_FINISH_CONTEXT)
            fprintf(stderr, "(the answer was cut: the %u-token context is full; /reset, or "
                            "raise --ctx)\n", n_ctx);
        else if (last.finish == FR_FINISH_LENGTH)
            fprintf(stderr, "(the answer was cut at -n %ld tokens)\n", n_predict);
        total_gen += last.n_generated;
        total_decode += last.t_decode_s;
        bool ok;
        if (s.tools) {
            /* the answer's text without its calls (and reasoning); the calls as tool data */
            size_t clen;
            const char *content = chat_tools_content(s.tools, &clen);
            ok = chat_push(&s, FR_CHAT_ASSISTANT, content, clen);
            if (ok)
                s.mt[s.n - 1].calls = chat_tools_take_calls(s.tools, &s.mt[s.n - 1].n_calls);
        } else {
            ok = chat_push(&s, FR_CHAT_ASSISTANT, s.answer ? s.answer : "", s.alen);
        }
        if (!ok) {
            cli_error("out of memory");
            exit_code = FR_EXIT_RUNTIME;
            break;
        }
    }
    while (s.n)
        chat_drop(&s, s.n - 1);
    free(s.msgs);
    free(s.mt);
    free(s.answer);
    chat_tools_free(s.tools);
    cli_llm_close(&L);
    return exit_code;
}
