/*
 * chat_tools.h - tool calling in `frugal chat --tools FILE` (chat_tools.c):
 * the tools, the grammar each answer is generated under (the model may
 * answer in text or call; a call always parses and its arguments fit the
 * tool's schema), the calls shown as they complete, and the history's tool
 * data (calls of assistant turns, the call a pasted /tool result answers).
 * Without tools, a reader alone splits gpt-oss's (harmony) answers into
 * reasoning and content, in `chat` and `run --chat`.
 */
#ifndef FR_CLI_CHAT_TOOLS_H
#define FR_CLI_CHAT_TOOLS_H

#include <frugal/chat.h>
#include <frugal/grammar.h>

#include <stdio.h>

typedef struct chat_tools chat_tools;

/* Reads the tools file (OpenAI's "tools" array) and prepares the grammar
 * for the model's call format. Prints errors; NULL on failure. */
chat_tools *chat_tools_open(const char *path, fr_tool_choice choice,
                            const fr_chat_template *tmpl, const fr_tokenizer *tok,
                            uint32_t n_vocab);
/* A reader alone: the answers read back in the template's format, no tools
 * (chat_tools_json NULL, no constraint). NULL (printed) on failure. */
chat_tools *chat_tools_reader(const fr_chat_template *tmpl);
void chat_tools_free(chat_tools *t);
/* The tools array; NULL for a reader alone. */
const char *chat_tools_json(const chat_tools *t);
/* Shows harmony's reasoning on out ("Thinking...", dim on a terminal,
 * "...done thinking."); NULL (the default) hides it. */
void chat_tools_show_reasoning(chat_tools *t, FILE *out);

/* A fresh constraint for one answer (owned by the caller), or NULL with a
 * message printed (a reader alone: NULL, nothing printed). */
fr_constraint *chat_tools_constraint(chat_tools *t);

/* One answer's text, streamed: content goes to out as it comes, each call
 * is shown on its own line when complete (out NULL: nothing is printed). */
void chat_tools_begin(chat_tools *t);
void chat_tools_feed(chat_tools *t, const char *text, size_t len, FILE *out);
void chat_tools_end(chat_tools *t, FILE *out);
/* The answer's content (without the calls) and its calls. */
const char *chat_tools_content(const chat_tools *t, size_t *len);
const char *chat_tools_reasoning(const chat_tools *t, size_t *len);
size_t chat_tools_n_calls(const chat_tools *t);
/* Moves the answer's calls into an owned array (caller frees with
 * chat_tools_calls_free); ids are "call_1", "call_2", ... */
fr_chat_tool_call *chat_tools_take_calls(chat_tools *t, size_t *n);
void chat_tools_calls_free(fr_chat_tool_call *c, size_t n);

#endif
