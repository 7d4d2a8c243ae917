/*
 * chat_tokens.c - conversation -> token ids (see chat_tokens.h).
 *
 * The BOS and EOS texts come from the vocabulary, so a template family
 * renders the special tokens this model actually has.
 */
#include "text/chat_tokens.h"

#include <stdlib.h>
#include <string.h>

static char *fr_token_text_dup(const fr_tokenizer *tok, int32_t id)
{
    if (id < 0)
        return NULL;
    size_t len;
    const char *s = fr_tokenizer_token_text(tok, id, &len);
    if (!s || memchr(s, 0, len))
        return NULL;
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

fr_status fr_chat_tokenize(const fr_chat_template *t, const fr_tokenizer *tok,
                           const fr_chat_msg *msgs, size_t n, bool add_generation_prompt,
                           int32_t **ids, size_t *n_ids, fr_err *err)
{
    return fr_chat_tokenize_tools(t, tok, msgs, n, NULL, NULL, add_generation_prompt, ids, n_ids,
                                  err);
}

fr_status fr_chat_tokenize_tools(const fr_chat_template *t, const fr_tokenizer *tok,
                                 const fr_chat_msg *msgs, size_t n, const char *tools,
                                 const fr_chat_msg_tools *msg_tools, bool add_generation_prompt,
                                 int32_t **ids, size_t *n_ids, fr_err *err)
{
    *ids = NULL;
    *n_ids = 0;
    char *bos = fr_token_text_dup(tok, fr_tokenizer_bos(tok));
    char *eos = fr_token_text_dup(tok, fr_tokenizer_eos(tok));
    fr_chat_opts o = {0};
    o.add_generation_prompt = add_generation_prompt;
    o.bos_text = bos;
    o.eos_text = eos;
    o.tools = tools;
    o.msg_tools = msg_tools;
    fr_chat_prompt p = {0};
    fr_status st = fr_chat_render(t, msgs, n, &o, &p, err);
    if (st == FR_OK) {
        fr_encode_opts eo = {0, 0, true};
        st = fr_tokenize(tok, p.text, p.len, &eo, ids, n_ids, err);
    }
    fr_chat_prompt_clear(&p);
    free(bos);
    free(eos);
    return st;
}

fr_status fr_chat_template_for_model(const fr_gguf *g, const char *name, bool strict,
                                     fr_chat_template **out, fr_err *err)
{
    if (name)
        return fr_chat_template_from_name(name, out, err);
    return fr_chat_template_from_gguf(g, strict ? FR_CHAT_STRICT : 0, out, err);
}
