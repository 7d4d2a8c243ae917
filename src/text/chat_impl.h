/*
 * chat_impl.h - what chat_template.c (detection) and chat_render.c
 * (rendering) share: the family table and the template struct. Internal to
 * src/text.
 */
#ifndef FR_TEXT_CHAT_IMPL_H
#define FR_TEXT_CHAT_IMPL_H

#include <frugal/chat.h>

#include "base/buf.h"

#include <jansson.h>
#include <stdbool.h>

typedef enum family {
    F_CHATML,
    F_QWEN3,
    F_LLAMA3,
    F_LLAMA31,
    F_LLAMA2,
    F_MISTRAL_V1,
    F_MISTRAL_LEGACY,
    F_MISTRAL_V3,
    F_MISTRAL_V3_TEKKEN,
    F_PHI3,
    F_GEMMA,
    F_ZEPHYR,
    F_DEEPSEEK,
    F_DEEPSEEK3,
    F_DEEPSEEK_R1,
    F_PHI4,
    F_MISTRAL_V7_TEKKEN,
    F_MISTRAL_V7,
    F_LLAMA4,
    F_GPT_OSS,
    F_COUNT
} family;

typedef struct family_info {
    const char *name;
    const char *bos;  /* usual BOS text; NULL = the family has none */
    const char *eos;  /* usual EOS text (used where the template says eos_token) */
    const char *eot;  /* end-of-turn marker; NULL = the EOS text */
    bool bos_default; /* template starts with bos_token (when chosen by name) */
} family_info;

#define DS_BOS "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define DS_ASSISTANT "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"

extern const family_info fr_chat_families[F_COUNT];

struct fr_chat_template {
    family fam;
    bool starts_with_bos;
    bool llama2_bos_inside;  /* llama2: bos_token before every [INST], not only the first */
    bool phi3_auto_assistant; /* phi3 (first Phi-3-mini template): "<|assistant|>\n" follows every user turn */
    bool phi3_eos_at_end;    /* phi3: without a generation prompt, end with eos_token */
    bool phi4_user_opens;    /* phi4 (some conversions): every user turn opens the assistant's */
    bool qwen3_think_open;   /* qwen3 (Thinking-2507): the generation prompt opens <think> */
    bool phi3_tight;         /* phi3 (Phi-4-mini): no newline after the role tag or <|end|> */
    bool phi4_mini_tools;    /* phi3 (Phi-4-mini): a system message's tools in <|tool|> */
    bool date_today;         /* llama3.1: template uses strftime_now */
    bool asst_space_trim;    /* mistral-v3/tekken: assistant turn is " " + content|trim */
    char *eos_text;          /* family EOS unless the template hard-codes another; owned */
    char *default_system;    /* owned; NULL = none */
    char *warning;           /* owned; NULL = recognised */
};

/* What rendering one conversation needs (chat_render.c, chat_render_tools.c). */
typedef struct render_ctx {
    const fr_chat_template *t;
    const fr_chat_msg *m;
    size_t n;
    bool gen;
    const char *bos;
    const char *eos;
    const char *date;
    const char *default_system; /* NULL when not to be used */
    bool no_thinking;
    fr_buf *b;
    fr_buf sys; /* all system texts joined with "\n\n", for the folding families */
    bool has_sys;
    const json_t *tools;             /* the tools array, or NULL (none) */
    const fr_chat_msg_tools *mt;     /* per message, or NULL */
} render_ctx;

/* Tool rendering (chat_render_tools.c). */
static inline const fr_chat_msg_tools *msg_tools(const render_ctx *c, size_t i)
{
    return c->mt ? &c->mt[i] : NULL;
}
static inline size_t msg_n_calls(const render_ctx *c, size_t i)
{
    return c->mt ? c->mt[i].n_calls : 0;
}
/* Qwen2.5 / Hermes / Qwen3: the system turn with the tools block; an
 * assistant turn's calls; a tool result inside a user turn. */
void fr_render_hermes_system(render_ctx *c, bool qwen3);
void fr_render_hermes_calls(render_ctx *c, size_t i, bool qwen3);
void fr_render_hermes_result(render_ctx *c, size_t i);
/* Llama 3.1+: the first user turn with the tools; a call; an ipython result. */
void fr_render_llama_tools_user(render_ctx *c, const char *s, size_t n, bool l4);
void fr_render_llama_call(render_ctx *c, size_t i, bool l4);
void fr_render_llama_result(render_ctx *c, size_t i, bool l4);
/* Mistral v3 / v7 (tekken: no space after the markers): [AVAILABLE_TOOLS],
 * [TOOL_CALLS] (the list, without the eos that follows), [TOOL_RESULTS]. */
void fr_render_mistral_tools(render_ctx *c, bool tekken, bool v7);
void fr_render_mistral_calls(render_ctx *c, size_t i, bool tekken);
void fr_render_mistral_result(render_ctx *c, size_t i, bool tekken, bool v7);
void fr_render_phi4_mini_tools(render_ctx *c);
void fr_render_phi4_mini_calls(render_ctx *c, size_t i);
/* Families without tools: a copy of the conversation with the Hermes block
 * in the system message, calls written into assistant turns and results as
 * user turns (owned strings in *arena; free both with fr_render_fold_free). */
fr_status fr_render_fold_tools(const render_ctx *c, fr_chat_msg **out, size_t *n_out,
                               char ***arena, size_t *n_arena);
void fr_render_fold_free(fr_chat_msg *m, char **arena, size_t n_arena);

/* v as Python's json.dumps writes it (transformers' tojson): ", " and ": "
 * separators, or with indent > 0 one item per line; non-ASCII kept. */
void fr_chat_py_json(fr_buf *b, const json_t *v, int indent);
/* `arguments | tojson` for a call's arguments given as JSON text (OpenAI's
 * API): parsed and printed so; text that is not JSON as a JSON string. */
void fr_chat_put_args(fr_buf *b, const char *args);
/* gpt-oss: the whole conversation in harmony (chat_render_harmony.c). */
void fr_render_gpt_oss(render_ctx *c, const char *date);
/* gpt-oss's answers read back (chat_harmony.c), for fr_tool_parser. */
typedef struct fr_harmony fr_harmony;
fr_harmony *fr_harmony_new(void); /* NULL: out of memory */
void fr_harmony_free(fr_harmony *h);
bool fr_harmony_feed(fr_harmony *h, const char *text, size_t len, fr_tool_event_fn fn, void *user);
bool fr_harmony_finish(fr_harmony *h, fr_tool_event_fn fn, void *user);
int fr_harmony_calls(const fr_harmony *h);

#endif
