/*
 * chat_tokens.h - a conversation to prompt token ids: render with the chat
 * template, then tokenize the way chat.h's BOS contract says (special token
 * text parsed, no BOS added by the tokenizer: the template decides).
 */
#ifndef FR_TEXT_CHAT_TOKENS_H
#define FR_TEXT_CHAT_TOKENS_H

#include <frugal/chat.h>
#include <frugal/gguf.h>
#include <frugal/tokenizer.h>

/* *ids malloc'd (caller frees). */
fr_status fr_chat_tokenize(const fr_chat_template *t, const fr_tokenizer *tok,
                           const fr_chat_msg *msgs, size_t n, bool add_generation_prompt,
                           int32_t **ids, size_t *n_ids, fr_err *err);

/* The same with tools (fr_chat_opts.tools, .msg_tools; either may be NULL). */
fr_status fr_chat_tokenize_tools(const fr_chat_template *t, const fr_tokenizer *tok,
                                 const fr_chat_msg *msgs, size_t n, const char *tools,
                                 const fr_chat_msg_tools *msg_tools, bool add_generation_prompt,
                                 int32_t **ids, size_t *n_ids, fr_err *err);

/* The model's template: name (if not NULL) overrides, else detection from
 * tokenizer.chat_template in g (ChatML with a warning when unknown or
 * absent, an error with strict). */
fr_status fr_chat_template_for_model(const fr_gguf *g, const char *name, bool strict,
                                     fr_chat_template **out, fr_err *err);

#endif
