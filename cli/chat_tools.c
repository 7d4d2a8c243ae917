/*
 * chat_tools.c - tool calling in `frugal chat`, and the answers of
 * gpt-oss (harmony) in `chat` and `run --chat` (see chat_tools.h).
 *
 * Each answer is generated under fr_tool_grammar's grammar ("auto" unless
 * --tool-choice says "required" or "none") in the model's call format, and its text read back with fr_tool_parser: content
 * is printed as it streams, a call is printed once complete as
 *   [tool call call_3] get_weather {"city": "Paris"}
 * and kept in the history as the assistant's tool call, so that a result
 * pasted with /tool NAME JSON answers it (cmd_chat.c).
 *
 * Harmony's analysis channel (the model's reasoning) is shown as Ollama
 * shows a model's thinking: "Thinking...", the text (dim on a terminal),
 * "...done thinking.", then the answer; or not at all (--hide-reasoning).
 * It never enters the history (the template drops it too).
 */
#include "chat_tools.h"

#include "cli.h"

#include "base/buf.h"
#include "base/file.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CT_MAX_CALLS 32

struct chat_tools {
    char *json;           /* the tools array; NULL: a reader only (harmony without tools) */
    char *gbnf;           /* the auto grammar, parsed again for every answer */
    fr_grammar_vocab *voc;
    fr_tool_format fmt;
    fr_tool_parser *tp;   /* the answer being read */
    fr_buf content;
    fr_buf name[CT_MAX_CALLS], args[CT_MAX_CALLS];
    int n_calls;
    unsigned next_id;
    fr_buf reasoning;     /* harmony's analysis channel */
    FILE *rout;           /* where reasoning is shown; NULL: hidden */
    bool thinking;        /* "Thinking..." was printed and not yet closed */
};

chat_tools *chat_tools_reader(const fr_chat_template *tmpl)
{
    chat_tools *t = calloc(1, sizeof *t);
    if (!t) {
        cli_error("out of memory");
        return NULL;
    }
    t->fmt = fr_chat_template_tool_format(tmpl);
    return t;
}

void chat_tools_show_reasoning(chat_tools *t, FILE *out) { t->rout = out; }

chat_tools *chat_tools_open(const char *path, fr_tool_choice choice,
                            const fr_chat_template *tmpl, const fr_tokenizer *tok,
                            uint32_t n_vocab)
{
    chat_tools *t = calloc(1, sizeof *t);
    if (!t) {
        cli_error("out of memory");
        return NULL;
    }
    fr_err e;
    size_t len = 0;
    if (fr_read_file(path, (size_t)1 << 20, &t->json, &len, &e) != FR_OK) {
        cli_fail(&e);
        chat_tools_free(t);
        return NULL;
    }
    t->fmt = fr_chat_template_tool_format(tmpl);
    fr_tool_grammar_opts o = {t->fmt, choice, NULL, true, NULL};
    size_t n_specials = 0;
    const char *const *specials = fr_tool_special_markers(&n_specials);
    if (fr_tool_grammar(t->json, len, &o, &t->gbnf, &e) != FR_OK ||
        fr_grammar_vocab_create(tok, n_vocab, specials, n_specials, &t->voc, &e) != FR_OK) {
        fr_err_prefix(&e, "--tools %s", path);
        cli_fail(&e);
        chat_tools_free(t);
        return NULL;
    }
    return t;
}

void chat_tools_free(chat_tools *t)
{
    if (!t)
        return;
    fr_tool_parser_free(t->tp);
    fr_grammar_vocab_free(t->voc);
    fr_buf_free(&t->content);
    fr_buf_free(&t->reasoning);
    for (int i = 0; i < CT_MAX_CALLS; i++) {
        fr_buf_free(&t->name[i]);
        fr_buf_free(&t->args[i]);
    }
    free(t->gbnf);
    free(t->json);
    free(t);
}

const char *chat_tools_json(const chat_tools *t) { return t->json; }

fr_constraint *chat_tools_constraint(chat_tools *t)
{
    if (!t->gbnf)
        return NULL;
    fr_grammar *g = NULL;
    fr_constraint *c = NULL;
    fr_err e;
    if (fr_grammar_parse(t->gbnf, strlen(t->gbnf), "tools", &g, &e) != FR_OK ||
        fr_grammar_constraint(g, t->voc, &c, &e) != FR_OK) {
        cli_fail(&e);
        return NULL;
    }
    return c;
}

typedef struct ct_out {
    chat_tools *t;
    FILE *out;
} ct_out;

/* Closes the reasoning shown so far, before the answer (or at its end). */
static void done_thinking(chat_tools *t)
{
    if (!t->thinking)
        return;
    t->thinking = false;
    fputs(isatty(fileno(t->rout)) ? "\033[0m\n...done thinking.\n\n" : "\n...done thinking.\n\n",
          t->rout);
    fflush(t->rout);
}

static bool on_event(void *user, const fr_tool_event *ev)
{
    ct_out *o = user;
    chat_tools *t = o->t;
    if (ev->kind == FR_TOOL_EV_REASONING) {
        fr_buf_append(&t->reasoning, ev->text, ev->len);
        if (!t->rout)
            return true;
        if (!t->thinking)
            fputs(isatty(fileno(t->rout)) ? "Thinking...\n\033[2m" : "Thinking...\n", t->rout);
        t->thinking = true;
        fwrite(ev->text, 1, ev->len, t->rout);
        fflush(t->rout);
        return true;
    }
    done_thinking(t);
    if (ev->kind == FR_TOOL_EV_CONTENT) {
        if (o->out) {
            fwrite(ev->text, 1, ev->len, o->out);
            fflush(o->out);
        }
        fr_buf_append(&t->content, ev->text, ev->len);
        return true;
    }
    if (ev->index >= CT_MAX_CALLS)
        return true;
    if (ev->kind == FR_TOOL_EV_CALL) {
        t->n_calls = ev->index + 1;
        fr_buf_append(&t->name[ev->index], ev->text, ev->len);
    } else if (ev->kind == FR_TOOL_EV_ARGS) {
        fr_buf_append(&t->args[ev->index], ev->text, ev->len);
    } else if (o->out) {
        const fr_buf *n = &t->name[ev->index], *a = &t->args[ev->index];
        fprintf(o->out, "%s[tool call call_%u] %.*s %.*s\n", t->content.len ? "\n" : "",
                t->next_id + (unsigned)ev->index + 1, (int)n->len, n->data ? n->data : "",
                (int)a->len, a->data ? a->data : "");
        fflush(o->out);
    }
    return true;
}

void chat_tools_begin(chat_tools *t)
{
    fr_tool_parser_free(t->tp);
    t->tp = NULL;
    fr_tool_parser_create(t->fmt, &t->tp, NULL);
    fr_buf_reset(&t->content);
    fr_buf_reset(&t->reasoning);
    for (int i = 0; i < CT_MAX_CALLS; i++) {
        fr_buf_reset(&t->name[i]);
        fr_buf_reset(&t->args[i]);
    }
    t->n_calls = 0;
    t->thinking = false;
}

void chat_tools_feed(chat_tools *t, const char *text, size_t len, FILE *out)
{
    ct_out o = {t, out};
    if (t->tp)
        fr_tool_parser_feed(t->tp, text, len, on_event, &o);
}

void chat_tools_end(chat_tools *t, FILE *out)
{
    ct_out o = {t, out};
    if (t->tp)
        fr_tool_parser_finish(t->tp, on_event, &o);
    done_thinking(t);
    if (out && t->tp && fr_tool_parser_calls(t->tp))
        fprintf(out, "(paste each result with /tool NAME JSON)\n");
}

const char *chat_tools_content(const chat_tools *t, size_t *len)
{
    *len = t->content.len;
    return t->content.data ? t->content.data : "";
}

size_t chat_tools_n_calls(const chat_tools *t) { return (size_t)t->n_calls; }

const char *chat_tools_reasoning(const chat_tools *t, size_t *len)
{
    *len = t->reasoning.len;
    return t->reasoning.data ? t->reasoning.data : "";
}

static char *dup_buf(const fr_buf *b)
{
    char *s = malloc(b->len + 1);
    if (s) {
        if (b->len)
            memcpy(s, b->data, b->len);
        s[b->len] = '\0';
    }
    return s;
}

fr_chat_tool_call *chat_tools_take_calls(chat_tools *t, size_t *n)
{
    *n = 0;
    if (!t->n_calls)
        return NULL;
    fr_chat_tool_call *c = calloc((size_t)t->n_calls, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < t->n_calls; i++) {
        char id[32];
        snprintf(id, sizeof id, "call_%u", ++t->next_id);
        c[i].id = strdup(id);
        c[i].name = dup_buf(&t->name[i]);
        c[i].arguments = dup_buf(&t->args[i]);
    }
    *n = (size_t)t->n_calls;
    return c;
}

void chat_tools_calls_free(fr_chat_tool_call *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free((char *)c[i].id);
        free((char *)c[i].name);
        free((char *)c[i].arguments);
    }
    free(c);
}
