/*
 * chat_template.c - chat template families: detection from the GGUF's
 * Jinja text and rendering (see include/frugal/chat.h for the contract).
 *
 * Each family is a row of data (names, markers, defaults) plus one render
 * function that prints what that family's real Jinja template prints for a
 * plain conversation. The render functions were written from the template
 * texts (Qwen2.5, SmolLM2, Llama 3 / 3.1 / 3.2 / 4, Llama 2 chat, Mistral 7B
 * Instruct v0.1 / v0.3, Mixtral 8x7B, Mistral Nemo, Mistral Large 2411 (v7),
 * Mistral Small 3 / 3.1 (v7 tekken), Phi-3 / 3.5, Phi-4, Gemma 2 / 3, Zephyr, DeepSeek LLM / V2,
 * DeepSeek V3 / R1, gpt-oss's harmony format), which the unit tests carry as
 * fixtures. Tools, tool calls and tool results: chat_render.c and chat_tools.c.
 *
 * Where a template raises an exception for a conversation that a chat
 * front-end sends anyway (a system message for Gemma 2 or Mistral v0.2,
 * roles that do not alternate), we render the way the model family's later
 * templates or its vendor's reference tokenizer do (Gemma 3: system text +
 * "\n\n" before the first turn; mistral-common: system text + "\n\n" before
 * the first (v1) or last (v3) user message) instead of failing.
 *
 * Rejected: embedding a Jinja interpreter. Real templates use a large part
 * of Jinja (namespaces, filters, tojson, macros, loop.*), an interpreter is
 * thousands of lines of attack surface for hostile GGUF text, and the
 * families in use are few and stable. Also rejected: reading BOS/EOS texts
 * out of the vocab here - the text layer's chat code must not depend on the
 * tokenizer; the caller passes them in fr_chat_opts when they differ from
 * the family's usual ones.
 */
#include "text/chat_impl.h"

#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const family_info fr_chat_families[F_COUNT] = {
    [F_CHATML] = {"chatml", NULL, "<|im_end|>", "<|im_end|>", false},
    [F_QWEN3] = {"qwen3", NULL, "<|im_end|>", "<|im_end|>", false},
    [F_LLAMA3] = {"llama3", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>", true},
    [F_LLAMA31] = {"llama3.1", "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>", true},
    [F_LLAMA2] = {"llama2", "<s>", "</s>", NULL, true},
    [F_MISTRAL_V1] = {"mistral-v1", "<s>", "</s>", NULL, true},
    [F_MISTRAL_LEGACY] = {"mistral-legacy", "<s>", "</s>", NULL, true},
    [F_MISTRAL_V3] = {"mistral-v3", "<s>", "</s>", NULL, true},
    [F_MISTRAL_V3_TEKKEN] = {"mistral-v3-tekken", "<s>", "</s>", NULL, true},
    [F_PHI3] = {"phi3", "<s>", "<|endoftext|>", "<|end|>", false},
    [F_GEMMA] = {"gemma", "<bos>", "<eos>", "<end_of_turn>", true},
    [F_ZEPHYR] = {"zephyr", "<s>", "</s>", NULL, false},
    [F_DEEPSEEK] = {"deepseek", DS_BOS, DS_EOS, NULL, true},
    [F_DEEPSEEK3] = {"deepseek3", DS_BOS, DS_EOS, NULL, true},
    [F_DEEPSEEK_R1] = {"deepseek-r1", DS_BOS, DS_EOS, NULL, true},
    [F_PHI4] = {"phi4", NULL, "<|im_end|>", "<|im_end|>", false},
    [F_MISTRAL_V7_TEKKEN] = {"mistral-v7-tekken", "<s>", "</s>", NULL, true},
    [F_MISTRAL_V7] = {"mistral-v7", "<s>", "</s>", NULL, true},
    [F_LLAMA4] = {"llama4", "<|begin_of_text|>", "<|eot|>", "<|eot|>", true},
    /* gpt-oss (harmony): a turn ends with <|end|>, but the answer's last
     * message with <|return|>, so that is where generation stops */
    [F_GPT_OSS] = {"gpt-oss", NULL, "<|return|>", "<|return|>", false},
};
/* ---- small helpers ---------------------------------------------------- */

static bool has(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    return m <= n && memmem(s, n, needle, m) != NULL;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- detection -------------------------------------------------------- */

/* The text of a Jinja string literal's body [p, q) with its escapes (\n,
 * \t, \r, \\, \', \") decoded; malloc'd, NULL when out of memory (which
 * only loses a default system message). */
static char *unescape_literal(const char *p, const char *q)
{
    char *out = malloc((size_t)(q - p) + 1);
    if (!out)
        return NULL;
    size_t k = 0;
    for (const char *c = p; c < q; c++) {
        if (*c == '\\' && c + 1 < q) {
            c++;
            switch (*c) {
            case 'n': out[k++] = '\n'; break;
            case 't': out[k++] = '\t'; break;
            case 'r': out[k++] = '\r'; break;
            default: out[k++] = *c; break; /* \\ \' \" */
            }
        } else {
            out[k++] = *c;
        }
    }
    out[k] = '\0';
    return out;
}

/* A ChatML template's built-in system prompt: a single Jinja string literal
 * '<|im_start|>system\n' TEXT '<|im_end|>' with non-empty TEXT (Qwen2,
 * Qwen2.5, SmolLM2 print one when the conversation has no system message).
 * The literal's escapes (\n, \t, \\, \', \") are decoded. Returns NULL when
 * there is none (or on allocation failure, which only loses the default). */
static char *find_default_system(const char *s, size_t n)
{
    static const char head[] = "<|im_start|>system";
    static const char tail[] = "<|im_end|>";
    const char *p = s, *end = s + n;
    while ((size_t)(end - p) >= sizeof head - 1) {
        const char *h = memmem(p, (size_t)(end - p), head, sizeof head - 1);
        if (!h)
            break;
        p = h + 1;
        if (h == s || (h[-1] != '\'' && h[-1] != '"'))
            continue;
        char quote = h[-1];
        const char *q = h + sizeof head - 1;
        if (end - q >= 2 && q[0] == '\\' && q[1] == 'n')
            q += 2;
        else if (q < end && q[0] == '\n')
            q += 1;
        else
            continue;
        const char *t = memmem(q, (size_t)(end - q), tail, sizeof tail - 1);
        if (!t || t <= q)
            continue;
        /* The text must lie inside the same literal: no unescaped quote. */
        bool inside = true;
        for (const char *c = q; c < t; c++) {
            if (*c == '\\') {
                c++;
                continue;
            }
            if (*c == quote || *c == '\'' || *c == '"' || *c == '{' || *c == '}') {
                inside = false;
                break;
            }
        }
        if (!inside)
            continue;
        return unescape_literal(q, t);
    }
    return NULL;
}

/* The string literal of `set NAME = '...'` (or "..."), escapes decoded:
 * Mistral Small 3.1's default_system_message. NULL when absent, not a
 * plain literal, or on allocation failure (which only loses the default). */
static char *find_set_literal(const char *s, size_t n, const char *name)
{
    char pat[64];
    int w = snprintf(pat, sizeof pat, "set %s", name);
    if (w < 0 || (size_t)w >= sizeof pat)
        return NULL;
    const char *end = s + n;
    const char *p = memmem(s, n, pat, (size_t)w);
    if (!p)
        return NULL;
    p += w;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != '=')
        return NULL;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || (*p != '\'' && *p != '"'))
        return NULL;
    char quote = *p++;
    const char *q = p;
    while (q < end && *q != quote)
        q += (*q == '\\' && q + 1 < end) ? 2 : 1;
    if (q >= end)
        return NULL;
    return unescape_literal(p, q);
}

/* The [INST] families, told apart by how the template handles a system
 * message and by the spaces around [INST]. */
static family detect_inst(const char *s, size_t n)
{
    if (has(s, n, "<<SYS>>"))
        return F_LLAMA2;
    /* Mistral v0.1's official template and Mixtral 8x22B's: " [INST] " with
     * a leading space (mistral-common's V1 tokenizer format). */
    if (has(s, n, "' [INST] '") || has(s, n, "\" [INST] \""))
        return F_MISTRAL_V1;
    bool sys = has(s, n, "system_message") || has(s, n, "[AVAILABLE_TOOLS]");
    if (sys) {
        if (has(s, n, "\"[INST]\"") || has(s, n, "'[INST]'"))
            return F_MISTRAL_V3_TEKKEN;
        return F_MISTRAL_V3;
    }
    return F_MISTRAL_LEGACY;
}

/* Returns F_COUNT when the family is not recognised. */
static family detect_family(const char *s, size_t n)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strlen(fr_chat_families[f].name) == n && memcmp(fr_chat_families[f].name, s, n) == 0)
            return (family)f;
    if (has(s, n, "<|start|>") && has(s, n, "<|channel|>") && has(s, n, "<|message|>"))
        return F_GPT_OSS;
    if (has(s, n, "<|im_start|>")) {
        /* Phi-4 (<|im_sep|>) and SmolVLM look like ChatML but are not. */
        if (has(s, n, "<|im_sep|>"))
            return F_PHI4;
        if (has(s, n, "<end_of_utterance>"))
            return F_COUNT;
        /* Qwen3: ChatML whose assistant turns carry <think> reasoning. */
        if (has(s, n, "</think>") && has(s, n, "last_query_index"))
            return F_QWEN3;
        return F_CHATML;
    }
    if (has(s, n, "<|header_start|>") && has(s, n, "<|header_end|>"))
        return F_LLAMA4;
    if (has(s, n, "<|start_header_id|>") && has(s, n, "<|end_header_id|>"))
        return has(s, n, "Cutting Knowledge Date") ? F_LLAMA31 : F_LLAMA3;
    if (has(s, n, "[INST]")) {
        if (has(s, n, "[SYSTEM_PROMPT]")) {
            /* v7 tekken (Small 3 / 3.1, Magistral, Devstral) writes the markers
             * with no spaces; the v7 of Large 2411 puts a space after each. */
            if (has(s, n, "'[SYSTEM_PROMPT] '") || has(s, n, "\"[SYSTEM_PROMPT] \"") ||
                has(s, n, "'[INST] '") || has(s, n, "\"[INST] \""))
                return F_MISTRAL_V7;
            return F_MISTRAL_V7_TEKKEN;
        }
        return detect_inst(s, n);
    }
    if (has(s, n, "<start_of_turn>"))
        return F_GEMMA;
    if (has(s, n, DS_USER) && has(s, n, DS_ASSISTANT))
        return has(s, n, DS_ASSISTANT "<think>") ? F_DEEPSEEK_R1 : F_DEEPSEEK3;
    /* Phi-3's generic template spells only the assistant role out. */
    if (has(s, n, "<|assistant|>") && has(s, n, "<|end|>"))
        return F_PHI3;
    if (has(s, n, "<|user|>") && has(s, n, "<|assistant|>")) {
        if (has(s, n, "eos_token") || has(s, n, "</s>") || has(s, n, "<|endoftext|>"))
            return F_ZEPHYR;
        return F_COUNT;
    }
    if (has(s, n, "'User: '") && has(s, n, "'Assistant: '") && has(s, n, "'Assistant:'"))
        return F_DEEPSEEK;
    return F_COUNT;
}

static fr_status new_template(family f, fr_chat_template **out, fr_err *err)
{
    fr_chat_template *t = calloc(1, sizeof *t);
    if (!t)
        return fr_err_set(err, FR_E_NOMEM, "chat template: out of memory");
    t->fam = f;
    t->starts_with_bos = fr_chat_families[f].bos_default;
    t->llama2_bos_inside = true;
    t->phi3_eos_at_end = true;
    t->asst_space_trim = f == F_MISTRAL_V3;
    t->eos_text = dup_n(fr_chat_families[f].eos, strlen(fr_chat_families[f].eos));
    if (!t->eos_text) {
        free(t);
        return fr_err_set(err, FR_E_NOMEM, "chat template: out of memory");
    }
    *out = t;
    return FR_OK;
}

static void names_list(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int f = 0; f < F_COUNT && k < n; f++) {
        int w = snprintf(buf + k, n - k, "%s%s", f ? ", " : "", fr_chat_families[f].name);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

/* First line of the template, shortened, for messages. */
static void excerpt(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 48; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[k++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    if (n > 48 && k + 4 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
}

fr_status fr_chat_template_detect(const char *jinja, size_t len, unsigned flags,
                                  fr_chat_template **out, fr_err *err)
{
    if (!out)
        return fr_err_set(err, FR_E_INVALID, "fr_chat_template_detect: out is NULL");
    *out = NULL;
    if (!jinja)
        len = 0;
    char names[512];
    names_list(names, sizeof names);

    family f = len ? detect_family(jinja, len) : F_COUNT;
    if (f == F_COUNT) {
        char ex[64];
        excerpt(jinja ? jinja : "", len, ex, sizeof ex);
        if (flags & FR_CHAT_STRICT) {
            if (!len)
                return fr_err_set(err, FR_E_NOTFOUND,
                                  "the model has no chat template (tokenizer.chat_template); "
                                  "choose one with --chat-template NAME (%s)", names);
            return fr_err_set(err, FR_E_UNSUPPORTED,
                              "chat template not recognised (%zu bytes, starting \"%s\"); "
                              "choose one with --chat-template NAME (%s)", len, ex, names);
        }
        fr_status st = new_template(F_CHATML, out, err);
        if (st)
            return st;
        char msg[1024];
        if (!len)
            snprintf(msg, sizeof msg,
                     "the model has no chat template; using chatml "
                     "(choose another with --chat-template NAME: %s)", names);
        else
            snprintf(msg, sizeof msg,
                     "chat template not recognised (%zu bytes, starting \"%s\"); using chatml "
                     "(choose another with --chat-template NAME: %s)", len, ex, names);
        (*out)->warning = dup_n(msg, strlen(msg));
        if (!(*out)->warning) {
            fr_chat_template_free(*out);
            *out = NULL;
            return fr_err_set(err, FR_E_NOMEM, "chat template: out of memory");
        }
        return FR_OK;
    }

    fr_chat_template *t;
    fr_status st = new_template(f, &t, err);
    if (st)
        return st;
    bool is_name = strlen(fr_chat_families[f].name) == len && memcmp(fr_chat_families[f].name, jinja, len) == 0;
    if (!is_name) {
        /* Every family here prints bos_token first when it prints it at all
         * (Llama 2 also before later turns). */
        t->starts_with_bos = has(jinja, len, "bos_token");
        t->llama2_bos_inside = has(jinja, len, "bos_token + '[INST]") ||
                               has(jinja, len, "bos_token + \"[INST]");
        t->date_today = has(jinja, len, "strftime_now");
        /* The first Phi-3-mini template has no generation-prompt switch: it
         * opens the assistant turn after every user turn. */
        t->phi3_auto_assistant = !has(jinja, len, "add_generation_prompt");
        t->phi3_eos_at_end = has(jinja, len, "eos_token");
        if (f == F_ZEPHYR && !has(jinja, len, "eos_token") && has(jinja, len, "<|endoftext|>")) {
            free(t->eos_text);
            t->eos_text = dup_n("<|endoftext|>", 13);
            if (!t->eos_text) {
                fr_chat_template_free(t);
                return fr_err_set(err, FR_E_NOMEM, "chat template: out of memory");
            }
        }
        /* v0.3 and Ministral: " " + message["content"]|trim; Nemo: no space, no trim. */
        if (f == F_MISTRAL_V3 || f == F_MISTRAL_V3_TEKKEN)
            t->asst_space_trim = has(jinja, len, "\" \" + message[\"content\"]|trim") ||
                                 has(jinja, len, "' ' + message['content']|trim") ||
                                 has(jinja, len, "\" \" + message[\"content\"] | trim");
        if (f == F_CHATML || f == F_QWEN3)
            t->default_system = find_default_system(jinja, len);
        if (f == F_MISTRAL_V7_TEKKEN || f == F_MISTRAL_V7) {
            /* mistral-common's templates write the BOS text itself, and set
             * an empty default_system_message that they never print */
            t->starts_with_bos |= has(jinja, len, "'<s>'");
            if (has(jinja, len, "default_system_message"))
                t->default_system = find_set_literal(jinja, len, "default_system_message");
            if (t->default_system && !t->default_system[0]) {
                free(t->default_system);
                t->default_system = NULL;
            }
        }
        t->phi4_user_opens = f == F_PHI4 && has(jinja, len, "<|im_end|><|im_start|>assistant<|im_sep|>'");
        t->phi3_tight = f == F_PHI3 && has(jinja, len, "'|>' + message['content'] + '<|end|>'");
        t->phi4_mini_tools = f == F_PHI3 && has(jinja, len, "'<|tool|>' + message['tools'] + '<|/tool|>'");
        t->qwen3_think_open = f == F_QWEN3 && has(jinja, len, "'<|im_start|>assistant\\n<think>\\n'");
    }
    *out = t;
    return FR_OK;
}

fr_status fr_chat_template_from_gguf(const fr_gguf *g, unsigned flags, fr_chat_template **out,
                                    fr_err *err)
{
    if (!out || !g)
        return fr_err_set(err, FR_E_INVALID, "fr_chat_template_from_gguf: NULL argument");
    *out = NULL;
    static const char key[] = "tokenizer.chat_template";
    fr_gguf_str tmpl = {NULL, 0};
    if (fr_gguf_find_key(g, key) >= 0) {
        fr_status st = fr_gguf_get_str(g, key, &tmpl, err); /* message names file and key */
        if (st)
            return st;
        if (tmpl.len > SIZE_MAX)
            return fr_err_set(err, FR_E_FORMAT, "%s: %s is too long", fr_gguf_path(g), key);
    }
    fr_status st = fr_chat_template_detect(tmpl.ptr, (size_t)tmpl.len, flags, out, err);
    if (st)
        return fr_err_prefix(err, "%s", fr_gguf_path(g));
    return FR_OK;
}

fr_status fr_chat_template_from_name(const char *name, fr_chat_template **out, fr_err *err)
{
    if (!out)
        return fr_err_set(err, FR_E_INVALID, "fr_chat_template_from_name: out is NULL");
    *out = NULL;
    for (int f = 0; name && f < F_COUNT; f++)
        if (strcmp(name, fr_chat_families[f].name) == 0)
            return new_template((family)f, out, err);
    char names[512];
    names_list(names, sizeof names);
    return fr_err_set(err, FR_E_INVALID, "unknown chat template \"%s\"; known: %s",
                      name ? name : "(null)", names);
}

void fr_chat_template_free(fr_chat_template *t)
{
    if (!t)
        return;
    free(t->eos_text);
    free(t->default_system);
    free(t->warning);
    free(t);
}

size_t fr_chat_template_count(void) { return F_COUNT; }

const char *fr_chat_template_name_at(size_t i) { return i < F_COUNT ? fr_chat_families[i].name : NULL; }

const char *fr_chat_template_name(const fr_chat_template *t) { return fr_chat_families[t->fam].name; }

const char *fr_chat_template_warning(const fr_chat_template *t) { return t->warning; }

const char *fr_chat_template_eot(const fr_chat_template *t)
{
    return fr_chat_families[t->fam].eot ? fr_chat_families[t->fam].eot : t->eos_text;
}

const char *fr_chat_template_default_system(const fr_chat_template *t)
{
    return t->default_system;
}

bool fr_chat_template_starts_with_bos(const fr_chat_template *t) { return t->starts_with_bos; }

bool fr_chat_role_parse(const char *name, fr_chat_role *role)
{
    if (!name || !role)
        return false;
    if (!strcmp(name, "system") || !strcmp(name, "developer"))
        *role = FR_CHAT_SYSTEM;
    else if (!strcmp(name, "user"))
        *role = FR_CHAT_USER;
    else if (!strcmp(name, "assistant"))
        *role = FR_CHAT_ASSISTANT;
    else if (!strcmp(name, "tool"))
        *role = FR_CHAT_TOOL;
    else
        return false;
    return true;
}

const char *fr_chat_role_name(fr_chat_role role)
{
    switch (role) {
    case FR_CHAT_SYSTEM: return "system";
    case FR_CHAT_USER: return "user";
    case FR_CHAT_ASSISTANT: return "assistant";
    case FR_CHAT_TOOL: return "tool";
    }
    return "?";
}
