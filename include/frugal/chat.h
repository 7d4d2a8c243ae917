/*
 * frugal/chat.h - chat templates: a list of messages -> the prompt string
 * the model was trained on.
 *
 * A GGUF carries its chat format as a Jinja program (`tokenizer.chat_template`).
 * frugal does not run Jinja: it recognises the template family from
 * distinctive text in that program and renders the family with C code that
 * reproduces what the real template prints for plain conversations (roles
 * system/user/assistant, text content; no tools, no images). Detection also
 * reads a few per-model details out of the template text: a built-in default
 * system prompt (Qwen2.5, SmolLM2), whether the prompt starts with BOS, the
 * Llama 3.1 date block, DeepSeek-R1's <think> generation prompt.
 *
 * Families (fr_chat_template_name_at lists them; rendering of
 * [system S, user U1, assistant A1, user U2] + generation prompt):
 *
 *   chatml           <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n
 *                    <|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n
 *                    <|im_start|>assistant\n                   (Qwen2/2.5, SmolLM, Hermes, Yi)
 *   qwen3            chatml; earlier answers lose their <think>...</think> part, an
 *                    answer after the last user turn keeps it; see disable_thinking
 *   llama3           <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>
 *                    ...user...assistant...<|start_header_id|>assistant<|end_header_id|>\n\n
 *   llama3.1         as llama3, but the system block always exists and reads
 *                    "Cutting Knowledge Date: December 2023\nToday Date: D\n\nS" (Llama 3.1-3.3)
 *   llama2           <s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]
 *   mistral-v1       <s> [INST] S\n\nU1 [/INST] A1</s> [INST] U2 [/INST]   (Mistral 7B v0.1)
 *   mistral-legacy   <s>[INST] S\n\nU1 [/INST]A1</s>[INST] U2 [/INST]     (early v0.2, Mixtral 8x7B)
 *   mistral-v3       <s>[INST] U1[/INST] A1</s>[INST] S\n\nU2[/INST]      (v0.3: system on LAST user)
 *   mistral-v3-tekken <s>[INST]U1[/INST]A1</s>[INST]S\n\nU2[/INST]        (Nemo; Ministral's
 *                    template writes " " + A1 trimmed, and so do we when it says so)
 *   phi3             <|system|>\nS<|end|>\n<|user|>\nU1<|end|>\n<|assistant|>\nA1<|end|>\n...<|assistant|>\n
 *   gemma            <bos><start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n
 *                    ...<start_of_turn>model\n   (no system role: S joins the first user turn)
 *   zephyr           <|system|>\nS</s>\n<|user|>\nU1</s>\n<|assistant|>\nA1</s>\n...<|assistant|>\n
 *   deepseek         <｜begin▁of▁sentence｜>S\n\nUser: U1\n\nAssistant: A1<｜end▁of▁sentence｜>User: U2\n\nAssistant:
 *   deepseek3        <｜begin▁of▁sentence｜>S<｜User｜>U1<｜Assistant｜>A1<｜end▁of▁sentence｜><｜User｜>U2<｜Assistant｜>
 *   deepseek-r1      as deepseek3; generation prompt "<｜Assistant｜><think>\n"; reasoning
 *                    (text up to the last "</think>") is dropped from assistant turns
 *
 * Exact whitespace and trimming follow each family's real template; see the
 * comments in src/text/chat_template.c and the fixtures in
 * tests/unit/test_chat_template.c.
 *
 * BOS contract (the one rule callers need):
 *   The rendered text is complete. When the model's template starts with
 *   bos_token, the text starts with the BOS token's text (for example
 *   "<|begin_of_text|>", "<s>", "<bos>") and fr_chat_prompt.starts_with_bos
 *   is true; BOS/EOS texts inside the conversation (Llama 2's "</s><s>") are
 *   written as text too. So: tokenize the prompt with parse_special = true
 *   and WITHOUT adding a BOS (add_special = false), always. The template,
 *   not the vocab's add_bos_token flag, decides whether there is a BOS, as
 *   Hugging Face's apply_chat_template does. Pass the vocab's BOS text in
 *   fr_chat_opts.bos_text when it may differ from the family's usual one
 *   (ChatML has none: a ChatML template that starts with bos_token, like
 *   InternLM2's, gets its BOS only from bos_text). (A caller that wants
 *   llama.cpp's behaviour instead - BOS per add_bos_token - strips the
 *   leading BOS text when starts_with_bos and then adds BOS per the vocab.)
 *   Caveat of every text-based template: message content that contains
 *   marker text (say "<|im_end|>") becomes that special token when
 *   tokenized with parse_special; callers serving untrusted users may want
 *   to reject or escape such content.
 *
 * Stopping: fr_chat_template_eot gives the text of the end-of-turn marker
 * ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>", ...), so
 * generation can stop on that token even when the vocab does not mark it
 * end-of-generation.
 *
 * Tools (OpenAI's function calling): fr_chat_opts.tools carries the tools
 * (a JSON array of {"type": "function", "function": {name, description,
 * parameters}}), fr_chat_opts.msg_tools the calls an assistant message made
 * and the call a tool message answers. Families whose templates define
 * tools render them as those templates do: chatml with a Hermes/Qwen2.5
 * tools block, qwen3, llama3.1 (Llama 3.1-3.3: tools in the first user
 * message, results as "ipython"), llama4 (the same, with its own header
 * tokens and calls after <|python_start|>...<|python_end|>), mistral-v3 /
 * mistral-v3-tekken / mistral-v7 / mistral-v7-tekken ([AVAILABLE_TOOLS],
 * [TOOL_CALLS], [TOOL_RESULTS]), Phi-4-mini (a phi3 template with <|tool|>:
 * the tools' functions as one JSON list in the system turn, calls in
 * <|tool_call|>, results as "tool" turns) and gpt-oss (harmony: the tools
 * as a TypeScript namespace in the developer message, calls and results
 * on the commentary channel). Every other family gets the Hermes tools
 * block appended to its system prompt and tool results as user turns in
 * <tool_response> tags (fr_chat_template_tools_native says which).
 * fr_chat_template_tool_format says how the model writes a call.
 */
#ifndef FRUGAL_CHAT_H
#define FRUGAL_CHAT_H

#include <frugal/base.h>
#include <frugal/gguf.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_chat_role {
    FR_CHAT_SYSTEM = 0,
    FR_CHAT_USER = 1,
    FR_CHAT_ASSISTANT = 2,
    FR_CHAT_TOOL = 3 /* a tool's result (see fr_chat_msg_tools) */
} fr_chat_role;

/* "system" (and OpenAI's newer alias "developer"), "user", "assistant",
 * "tool" -> role. Returns false for anything else (role left unchanged). */
FR_API bool fr_chat_role_parse(const char *name, fr_chat_role *role);
FR_API const char *fr_chat_role_name(fr_chat_role role); /* "system", ... */

/* One message. content is borrowed for the duration of the call, len bytes
 * (may contain any bytes; it is copied into the prompt verbatim, apart from
 * the trimming some families do). */
typedef struct fr_chat_msg {
    fr_chat_role role;
    const char *content;
    size_t len;
} fr_chat_msg;

typedef struct fr_chat_template fr_chat_template;

/* Flags for fr_chat_template_detect. */
#define FR_CHAT_STRICT 1u /* unknown or missing template is an error, not ChatML */

/* Recognises the family of the Jinja text `jinja` (len bytes, need not be
 * NUL-terminated; NULL or len 0 = the model has no template). When the
 * family is not recognised the result is ChatML and
 * fr_chat_template_warning() says so (what was seen, what was used, how to
 * choose with --chat-template NAME); with FR_CHAT_STRICT it is an error
 * instead (FR_E_UNSUPPORTED, or FR_E_NOTFOUND when there is no template).
 * *out is owned by the caller; free with fr_chat_template_free. */
FR_API fr_status fr_chat_template_detect(const char *jinja, size_t len, unsigned flags,
                                         fr_chat_template **out, fr_err *err);

/* The same for a model file: reads tokenizer.chat_template from g (a
 * missing key counts as "no template"; a key that is not a string is
 * FR_E_FORMAT naming it). g is borrowed; the result does not keep it. */
FR_API fr_status fr_chat_template_from_gguf(const fr_gguf *g, unsigned flags,
                                            fr_chat_template **out, fr_err *err);

/* The family named `name` (one of fr_chat_template_name_at; exact,
 * case-sensitive), with that family's defaults (no default system prompt,
 * the family's usual BOS). Unknown name: FR_E_INVALID, the message lists
 * the valid names. *out is owned by the caller. */
FR_API fr_status fr_chat_template_from_name(const char *name, fr_chat_template **out,
                                            fr_err *err);

FR_API void fr_chat_template_free(fr_chat_template *t);

/* Family names, i = 0 .. fr_chat_template_count()-1; NULL past the end. */
FR_API size_t fr_chat_template_count(void);
FR_API const char *fr_chat_template_name_at(size_t i);

/* Accessors (strings owned by t or static; never NULL unless stated). */
FR_API const char *fr_chat_template_name(const fr_chat_template *t);
/* NULL when the template was recognised (or chosen by name); otherwise a
 * one-line warning for the user. The library does not print it. */
FR_API const char *fr_chat_template_warning(const fr_chat_template *t);
/* End-of-turn marker text with the family's default special tokens (for
 * Mistral/Llama 2/Zephyr this is the EOS text "</s>"). */
FR_API const char *fr_chat_template_eot(const fr_chat_template *t);
/* The system prompt the template inserts when the conversation has none
 * ("You are Qwen, created by Alibaba Cloud. ..."), or NULL. */
FR_API const char *fr_chat_template_default_system(const fr_chat_template *t);
/* Whether the rendered prompt starts with the BOS text. */
FR_API bool fr_chat_template_starts_with_bos(const fr_chat_template *t);

typedef struct fr_chat_opts {
    bool add_generation_prompt; /* end with the header that starts the assistant's turn */
    /* Special-token texts from the vocab (tokenizer.ggml.bos_token_id's
     * text, ...). NULL = the family's usual text ("<|begin_of_text|>",
     * "<s>", "<bos>", "<｜begin▁of▁sentence｜>"; EOS "</s>",
     * "<|endoftext|>", "<｜end▁of▁sentence｜>"). */
    const char *bos_text;
    const char *eos_text;
    /* llama3.1's "Today Date: ..." text. NULL = what the template does:
     * "26 Jul 2024" (Llama 3.1), or today's date as "%d %b %Y" in English
     * when the template calls strftime_now (Llama 3.2). */
    const char *date_string;
    /* Do not insert the template's default system prompt. */
    bool no_default_system;
    /* qwen3: answer without reasoning (the template's enable_thinking =
     * false: the generation prompt ends with an empty think block). */
    bool disable_thinking;
    /* Tools the model may call: OpenAI's "tools" array as JSON text; NULL
     * or "[]": none. Malformed JSON is FR_E_INVALID. */
    const char *tools;
    /* NULL, or one entry per message (parallel to msgs): an assistant
     * message's tool calls, a tool message's call id and function name. */
    const struct fr_chat_msg_tools *msg_tools;
} fr_chat_opts;

/* One call an assistant message made. arguments is JSON text (an object,
 * as OpenAI's API carries it); rendered as the family's template prints a
 * call's arguments. All borrowed for the duration of the call. */
typedef struct fr_chat_tool_call {
    const char *id;        /* may be NULL */
    const char *name;
    const char *arguments;
} fr_chat_tool_call;

typedef struct fr_chat_msg_tools {
    const fr_chat_tool_call *calls; /* assistant: its calls (content may be empty) */
    size_t n_calls;
    const char *call_id;            /* tool: the call this result answers (may be NULL) */
    const char *name;               /* tool: the function's name (may be NULL) */
} fr_chat_msg_tools;

/* How the model writes tool calls. */
typedef enum fr_tool_format {
    FR_TOOLS_HERMES = 0, /* <tool_call>\n{"name": N, "arguments": A}\n</tool_call>, repeated */
    FR_TOOLS_LLAMA3,     /* {"name": N, "parameters": A} as the whole answer (one call;
                            Llama 3.1-3.3) */
    FR_TOOLS_MISTRAL,    /* [TOOL_CALLS] [{"name": N, "arguments": A}, ...] */
    FR_TOOLS_PHI4,       /* <|tool_call|>[{"name": N, "arguments": A}, ...]<|/tool_call|>
                            (Phi-4-mini) */
    FR_TOOLS_LLAMA4,     /* <|python_start|>TEXT<|python_end|>{"name": N, "parameters": A}...
                            as the whole answer, calls back to back (Llama 4; read also
                            without the wrapper) */
    FR_TOOLS_HARMONY     /* gpt-oss: messages on channels; analysis is reasoning, final the
                            content, a call <|channel|>commentary to=functions.N
                            <|constrain|>json<|message|>A (ended by <|call|>) */
} fr_tool_format;

FR_API fr_tool_format fr_chat_template_tool_format(const fr_chat_template *t);
/* True when the format's call marker is a special (control) token, which
 * the output text shows only when decoded with FR_DECODE_SPECIAL (harmony:
 * all of its markers, calls or not). */
FR_API bool fr_tool_format_special_marker(fr_tool_format f);
/* The call markers that are special tokens in some vocabulary, for
 * fr_grammar_vocab_create (so that a tool grammar can spell them). */
FR_API const char *const *fr_tool_special_markers(size_t *n);
/* true when the family's own template defines tools (otherwise the Hermes
 * block is added to the system prompt). */
FR_API bool fr_chat_template_tools_native(const fr_chat_template *t);

/* Reading tool calls back out of generated text, streamed piece by piece
 * or whole. Events: CONTENT (text that is not a call), CALL (a call starts;
 * text is its name as written inside the quotes), ARGS (more of its
 * arguments' JSON text), END (the call is complete), REASONING (harmony:
 * text of the analysis channel); index counts calls from 0. Text that
 * starts like a call but is not one comes back as CONTENT. Harmony's text
 * must be decoded with its markers (FR_DECODE_SPECIAL); text without them
 * is content. The callback returns false to stop (feed then returns
 * false). */
typedef enum fr_tool_ev_kind {
    FR_TOOL_EV_CONTENT,
    FR_TOOL_EV_CALL,
    FR_TOOL_EV_ARGS,
    FR_TOOL_EV_END,
    FR_TOOL_EV_REASONING
} fr_tool_ev_kind;

typedef struct fr_tool_event {
    fr_tool_ev_kind kind;
    int index;
    const char *text; /* borrowed: valid during the callback */
    size_t len;
} fr_tool_event;

typedef bool (*fr_tool_event_fn)(void *user, const fr_tool_event *ev);

typedef struct fr_tool_parser fr_tool_parser;

FR_API fr_status fr_tool_parser_create(fr_tool_format f, fr_tool_parser **out, fr_err *err);
FR_API void fr_tool_parser_free(fr_tool_parser *p);
/* False when fn stopped it or memory ran out. */
FR_API bool fr_tool_parser_feed(fr_tool_parser *p, const char *text, size_t len,
                                fr_tool_event_fn fn, void *user);
/* End of the text: what was held back as a possible call comes out as
 * content (a call whose name was reported stays a call, unfinished). */
FR_API bool fr_tool_parser_finish(fr_tool_parser *p, fr_tool_event_fn fn, void *user);
/* Calls completed so far. */
FR_API int fr_tool_parser_calls(const fr_tool_parser *p);

/* Rendered prompt. text is NUL-terminated (len excludes the NUL) and owned
 * by the caller: release with fr_chat_prompt_clear. */
typedef struct fr_chat_prompt {
    char *text;
    size_t len;
    bool starts_with_bos; /* text begins with the BOS text: do not add another */
} fr_chat_prompt;

/* Renders msgs[0..n) (n may be 0). opts may be NULL (all defaults, which
 * means add_generation_prompt = false). System messages anywhere are
 * accepted: families with a system turn render them in place; families
 * without one (gemma, mistral*, llama2) join all system texts with "\n\n"
 * and place them where that family's template puts its system prompt.
 * Consecutive messages of the same role are rendered as they come (the
 * Jinja templates of some families would raise an exception instead).
 * Errors: FR_E_INVALID (NULL arguments, bad role), FR_E_NOMEM. On error
 * *out is left empty. */
FR_API fr_status fr_chat_render(const fr_chat_template *t, const fr_chat_msg *msgs, size_t n,
                                const fr_chat_opts *opts, fr_chat_prompt *out, fr_err *err);

FR_API void fr_chat_prompt_clear(fr_chat_prompt *p);

#ifdef __cplusplus
}
#endif
#endif
