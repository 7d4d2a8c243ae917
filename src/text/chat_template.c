/*
 * chat_template.c - chat template families: detection from the GGUF's
 * Jinja text and rendering (see include/frugal/chat.h for the contract).
 *
 * Each family is a row of data (names, markers, defaults) plus one render
 * function that prints what that family's real Jinja template prints for a
 * plain conversation. The render functions were written from the template
 * texts (Qwen2.5, SmolLM2, Llama 3 / 3.1 / 3.2, Llama 2 chat, Mistral 7B
 * Instruct v0.1 / v0.3, Mixtral 8x7B, Mistral Nemo, Phi-3 / 3.5, Gemma 2 / 3,
 * Zephyr, DeepSeek LLM / V2, DeepSeek V3 / R1), which the unit tests carry as
 * fixtures.
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
#include <frugal/chat.h>

#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static const family_info FAMILIES[F_COUNT] = {
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
};

struct fr_chat_template {
    family fam;
    bool starts_with_bos;
    bool llama2_bos_inside;  /* llama2: bos_token before every [INST], not only the first */
    bool phi3_auto_assistant; /* phi3 (first Phi-3-mini template): "<|assistant|>\n" follows every user turn */
    bool phi3_eos_at_end;    /* phi3: without a generation prompt, end with eos_token */
    bool date_today;         /* llama3.1: template uses strftime_now */
    bool asst_space_trim;    /* mistral-v3/tekken: assistant turn is " " + content|trim */
    char *eos_text;          /* family EOS unless the template hard-codes another; owned */
    char *default_system;    /* owned; NULL = none */
    char *warning;           /* owned; NULL = recognised */
};

/* ---- small helpers ---------------------------------------------------- */

static bool has(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    return m <= n && memmem(s, n, needle, m) != NULL;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Jinja's |trim and Python's str.strip(), restricted to ASCII whitespace. */
static void trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && is_space((unsigned char)p[0])) {
        p++;
        len--;
    }
    while (len && is_space((unsigned char)p[len - 1]))
        len--;
    *s = p;
    *n = len;
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

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* strftime("%d %b %Y") in English whatever the process locale is. */
static void today(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !localtime_r(&now, &tm) || tm.tm_mon < 0 || tm.tm_mon > 11) {
        snprintf(buf, n, "26 Jul 2024");
        return;
    }
    snprintf(buf, n, "%02d %s %04d", tm.tm_mday, MONTHS[tm.tm_mon], tm.tm_year + 1900);
}

/* ---- detection -------------------------------------------------------- */

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
        size_t tlen = (size_t)(t - q);
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
        char *out = malloc(tlen + 1);
        if (!out)
            return NULL;
        size_t k = 0;
        for (const char *c = q; c < t; c++) {
            if (*c == '\\' && c + 1 < t) {
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
    return NULL;
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
        if (strlen(FAMILIES[f].name) == n && memcmp(FAMILIES[f].name, s, n) == 0)
            return (family)f;
    if (has(s, n, "<|im_start|>")) {
        /* Phi-4 (<|im_sep|>) and SmolVLM look like ChatML but are not. */
        if (has(s, n, "<|im_sep|>") || has(s, n, "<end_of_utterance>"))
            return F_COUNT;
        /* Qwen3: ChatML whose assistant turns carry <think> reasoning. */
        if (has(s, n, "</think>") && has(s, n, "last_query_index"))
            return F_QWEN3;
        return F_CHATML;
    }
    if (has(s, n, "<|start_header_id|>") && has(s, n, "<|end_header_id|>"))
        return has(s, n, "Cutting Knowledge Date") ? F_LLAMA31 : F_LLAMA3;
    if (has(s, n, "[INST]")) {
        if (has(s, n, "[SYSTEM_PROMPT]")) /* Mistral v7 (Small 3, Large 2411): not yet */
            return F_COUNT;
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
    t->starts_with_bos = FAMILIES[f].bos_default;
    t->llama2_bos_inside = true;
    t->phi3_eos_at_end = true;
    t->asst_space_trim = f == F_MISTRAL_V3;
    t->eos_text = dup_n(FAMILIES[f].eos, strlen(FAMILIES[f].eos));
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
        int w = snprintf(buf + k, n - k, "%s%s", f ? ", " : "", FAMILIES[f].name);
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
    bool is_name = strlen(FAMILIES[f].name) == len && memcmp(FAMILIES[f].name, jinja, len) == 0;
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
        if (strcmp(name, FAMILIES[f].name) == 0)
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

const char *fr_chat_template_name_at(size_t i) { return i < F_COUNT ? FAMILIES[i].name : NULL; }

const char *fr_chat_template_name(const fr_chat_template *t) { return FAMILIES[t->fam].name; }

const char *fr_chat_template_warning(const fr_chat_template *t) { return t->warning; }

const char *fr_chat_template_eot(const fr_chat_template *t)
{
    return FAMILIES[t->fam].eot ? FAMILIES[t->fam].eot : t->eos_text;
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
    }
    return "?";
}

/* ---- rendering -------------------------------------------------------- */

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
} render_ctx;

static void put(fr_buf *b, const char *s, size_t n) { fr_buf_append(b, s, n); }
static void puts_(fr_buf *b, const char *s) { fr_buf_puts(b, s); }

static void put_msg(render_ctx *c, size_t i, bool trimmed)
{
    const char *s = c->m[i].content;
    size_t n = c->m[i].len;
    if (trimmed)
        trim(&s, &n);
    put(c->b, s, n);
}

/* Joins every system message's text with "\n\n" (DeepSeek V3's rule; the
 * folding families use it too). */
static void collect_system(render_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->m[i].role != FR_CHAT_SYSTEM)
            continue;
        if (c->has_sys)
            fr_buf_puts(&c->sys, "\n\n");
        fr_buf_append(&c->sys, c->m[i].content, c->m[i].len);
        c->has_sys = true;
    }
}

static size_t first_role(const render_ctx *c, fr_chat_role r)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->m[i].role == r)
            return i;
    return (size_t)-1;
}

static size_t last_role(const render_ctx *c, fr_chat_role r)
{
    for (size_t i = c->n; i-- > 0;)
        if (c->m[i].role == r)
            return i;
    return (size_t)-1;
}

static void bos(render_ctx *c)
{
    if (c->t->starts_with_bos && c->bos)
        puts_(c->b, c->bos);
}

static size_t lstrip_nl(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && s[k] == '\n')
        k++;
    return k;
}

static const char *find_last(const char *s, size_t n, const char *needle, size_t m)
{
    for (size_t k = n; k >= m; k--)
        if (memcmp(s + k - m, needle, m) == 0)
            return s + k - m;
    return NULL;
}

/* Qwen3's assistant turn (its template without tools):
 *   if '</think>' in content:
 *       reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
 *       content   = content.split('</think>')[-1].lstrip('\n')
 *   after the last user message, when last or with reasoning:
 *       '<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n')
 *   otherwise just content. */
static void qwen3_assistant(render_ctx *c, size_t i, size_t last_user)
{
    const char *s = c->m[i].content;
    size_t n = c->m[i].len;
    const char *rs = "";
    size_t rn = 0;
    const char *first_end = n ? memmem(s, n, "</think>", 8) : NULL;
    if (first_end) {
        size_t bn = (size_t)(first_end - s);
        while (bn && s[bn - 1] == '\n')
            bn--;
        const char *open = find_last(s, bn, "<think>", 7);
        rs = open ? open + 7 : s;
        rn = bn - (size_t)(rs - s);
        size_t k = lstrip_nl(rs, rn);
        rs += k;
        rn -= k;
        const char *last_end = find_last(s, n, "</think>", 8);
        size_t off = (size_t)(last_end - s) + 8;
        s += off;
        n -= off;
        k = lstrip_nl(s, n);
        s += k;
        n -= k;
    }
    bool after_query = last_user == (size_t)-1 || i > last_user;
    if (after_query && (i + 1 == c->n || rn > 0)) {
        while (rn && rs[rn - 1] == '\n')
            rn--;
        puts_(c->b, "<think>\n");
        put(c->b, rs, rn);
        puts_(c->b, "\n</think>\n\n");
        size_t k = lstrip_nl(s, n);
        s += k;
        n -= k;
    }
    put(c->b, s, n);
}

/* '<|im_start|>' + role + '\n' + content + '<|im_end|>\n' per message, the
 * template's default system prompt when the first message is not system.
 * Qwen3 also handles reasoning in assistant turns and, when asked, opens
 * the answer with an empty think block (its enable_thinking = false). */
static void render_chatml(render_ctx *c)
{
    bool qwen3 = c->t->fam == F_QWEN3;
    size_t last_user = last_role(c, FR_CHAT_USER);
    bos(c);
    if (c->default_system && (c->n == 0 || c->m[0].role != FR_CHAT_SYSTEM)) {
        puts_(c->b, "<|im_start|>system\n");
        puts_(c->b, c->default_system);
        puts_(c->b, "<|im_end|>\n");
    }
    for (size_t i = 0; i < c->n; i++) {
        puts_(c->b, "<|im_start|>");
        puts_(c->b, fr_chat_role_name(c->m[i].role));
        puts_(c->b, "\n");
        if (qwen3 && c->m[i].role == FR_CHAT_ASSISTANT)
            qwen3_assistant(c, i, last_user);
        else
            put_msg(c, i, false);
        puts_(c->b, "<|im_end|>\n");
    }
    if (c->gen) {
        puts_(c->b, "<|im_start|>assistant\n");
        if (qwen3 && c->no_thinking)
            puts_(c->b, "<think>\n\n</think>\n\n");
    }
}

static void llama3_turn(render_ctx *c, fr_chat_role role, const char *s, size_t n)
{
    puts_(c->b, "<|start_header_id|>");
    puts_(c->b, fr_chat_role_name(role));
    puts_(c->b, "<|end_header_id|>\n\n");
    trim(&s, &n);
    put(c->b, s, n);
    puts_(c->b, "<|eot_id|>");
}

/* Llama 3: header + content|trim + <|eot_id|>. Llama 3.1+: the system block
 * always exists and carries the knowledge-cutoff/date lines, then the
 * (trimmed) system message, if the first message is one. */
static void render_llama3(render_ctx *c)
{
    bos(c);
    size_t i = 0;
    if (c->t->fam == F_LLAMA31) {
        puts_(c->b, "<|start_header_id|>system<|end_header_id|>\n\n"
                    "Cutting Knowledge Date: December 2023\nToday Date: ");
        puts_(c->b, c->date);
        puts_(c->b, "\n\n");
        if (c->n && c->m[0].role == FR_CHAT_SYSTEM) {
            put_msg(c, 0, true);
            i = 1;
        }
        puts_(c->b, "<|eot_id|>");
    }
    for (; i < c->n; i++)
        llama3_turn(c, c->m[i].role, c->m[i].content, c->m[i].len);
    if (c->gen)
        puts_(c->b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 2 chat: user turns are bos + '[INST] ' + content.strip() +
 * ' [/INST]' where content of the first user turn is prefixed by
 * '<<SYS>>\n' + system + '\n<</SYS>>\n\n' before the strip; assistant turns
 * are ' ' + content.strip() + ' ' + eos. The leading BOS obeys
 * starts_with_bos; later ones are always written (they are in the
 * template's loop). */
static void render_llama2(render_ctx *c)
{
    size_t sys_at = c->has_sys ? first_role(c, FR_CHAT_USER) : (size_t)-1;
    bool first = true;
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_SYSTEM)
            continue;
        if (m->role == FR_CHAT_USER) {
            if (first ? c->t->starts_with_bos : c->t->llama2_bos_inside)
                puts_(c->b, c->bos);
            puts_(c->b, "[INST] ");
            if (i == sys_at) {
                /* strip() of the whole joined text: only the user text's
                 * end can lose whitespace (the head is "<<SYS>>"). */
                puts_(c->b, "<<SYS>>\n");
                put(c->b, c->sys.data, c->sys.len);
                puts_(c->b, "\n<</SYS>>\n\n");
                const char *s = m->content;
                size_t n = m->len;
                while (n && is_space((unsigned char)s[n - 1]))
                    n--;
                put(c->b, s, n);
            } else {
                put_msg(c, i, true);
            }
            puts_(c->b, " [/INST]");
        } else {
            puts_(c->b, " ");
            put_msg(c, i, true);
            puts_(c->b, " ");
            puts_(c->b, c->eos);
        }
        first = false;
    }
}

/* Mistral [INST] families without <<SYS>>.
 *   v1:      ' [INST] ' + (S + '\n\n' on the first user) + U + ' [/INST]',  ' ' + A + eos
 *   legacy:  '[INST] '  + (S + '\n\n' on the first user) + U + ' [/INST]',  A + eos
 *   v3:      '[INST] '  + (S + '\n\n' on the last user)  + U + '[/INST]',   ' ' + A|trim + eos
 *   tekken:  '[INST]'   + (S + '\n\n' on the last user)  + U + '[/INST]',   A + eos (Nemo)
 *            or ' ' + A|trim + eos (Ministral), as the template says */
static void render_mistral(render_ctx *c)
{
    family f = c->t->fam;
    const char *open = f == F_MISTRAL_V1 ? " [INST] " : f == F_MISTRAL_V3_TEKKEN ? "[INST]" : "[INST] ";
    const char *close = (f == F_MISTRAL_V1 || f == F_MISTRAL_LEGACY) ? " [/INST]" : "[/INST]";
    bool trimmed = (f == F_MISTRAL_V3 || f == F_MISTRAL_V3_TEKKEN) && c->t->asst_space_trim;
    const char *asst = (f == F_MISTRAL_V1 || trimmed) ? " " : "";
    size_t sys_at = !c->has_sys ? (size_t)-1
                    : (f == F_MISTRAL_V3 || f == F_MISTRAL_V3_TEKKEN) ? last_role(c, FR_CHAT_USER)
                                                                       : first_role(c, FR_CHAT_USER);
    bos(c);
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_USER) {
            puts_(c->b, open);
            if (i == sys_at) {
                put(c->b, c->sys.data, c->sys.len);
                puts_(c->b, "\n\n");
            }
            put_msg(c, i, false);
            puts_(c->b, close);
        } else if (m->role == FR_CHAT_ASSISTANT) {
            puts_(c->b, asst);
            put_msg(c, i, trimmed);
            puts_(c->b, c->eos);
        }
    }
}

/* Phi-3 / 3.5: '<|' + role + '|>\n' + content + '<|end|>\n'; generation
 * prompt '<|assistant|>\n', otherwise eos_token. The first Phi-3-mini
 * template instead opens '<|assistant|>\n' after every user turn and never
 * prints eos; it drops system messages, which we keep in the Phi-3.5 form. */
static void render_phi3(render_ctx *c)
{
    bool autoa = c->t->phi3_auto_assistant;
    bos(c);
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_SYSTEM && m->len == 0)
            continue; /* Phi-3.5: "if message['role'] == 'system' and message['content']" */
        if (!(autoa && m->role == FR_CHAT_ASSISTANT)) {
            puts_(c->b, "<|");
            puts_(c->b, fr_chat_role_name(m->role));
            puts_(c->b, "|>\n");
        }
        put_msg(c, i, false);
        puts_(c->b, "<|end|>\n");
        if (autoa && m->role == FR_CHAT_USER)
            puts_(c->b, "<|assistant|>\n");
    }
    if (autoa)
        return;
    if (c->gen)
        puts_(c->b, "<|assistant|>\n");
    else if (c->t->phi3_eos_at_end)
        puts_(c->b, c->eos);
}

/* Gemma: '<start_of_turn>' + (user|model) + '\n' + content|trim +
 * '<end_of_turn>\n'. No system role: as in Gemma 3's template the system
 * text + '\n\n' (untrimmed) starts the first turn. */
static void render_gemma(render_ctx *c)
{
    bool first = true;
    bos(c);
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_SYSTEM)
            continue;
        puts_(c->b, "<start_of_turn>");
        puts_(c->b, m->role == FR_CHAT_ASSISTANT ? "model" : "user");
        puts_(c->b, "\n");
        if (first && c->has_sys) {
            put(c->b, c->sys.data, c->sys.len);
            puts_(c->b, "\n\n");
        }
        first = false;
        put_msg(c, i, true);
        puts_(c->b, "<end_of_turn>\n");
    }
    if (c->gen)
        puts_(c->b, "<start_of_turn>model\n");
}

/* Zephyr: '<|' + role + '|>\n' + content + eos_token, then the newline that
 * follows the {{ }} in the template; generation prompt '<|assistant|>\n'. */
static void render_zephyr(render_ctx *c)
{
    bos(c);
    for (size_t i = 0; i < c->n; i++) {
        puts_(c->b, "<|");
        puts_(c->b, fr_chat_role_name(c->m[i].role));
        puts_(c->b, "|>\n");
        put_msg(c, i, false);
        puts_(c->b, c->eos);
        puts_(c->b, "\n");
    }
    if (c->gen)
        puts_(c->b, "<|assistant|>\n");
}

/* DeepSeek LLM / V2: system + '\n\n', 'User: ' + U + '\n\n',
 * 'Assistant: ' + A + eos; generation prompt 'Assistant:'. */
static void render_deepseek(render_ctx *c)
{
    bos(c);
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_USER)
            puts_(c->b, "User: ");
        else if (m->role == FR_CHAT_ASSISTANT)
            puts_(c->b, "Assistant: ");
        put_msg(c, i, false);
        puts_(c->b, m->role == FR_CHAT_ASSISTANT ? c->eos : "\n\n");
    }
    if (c->gen)
        puts_(c->b, "Assistant:");
}

/* DeepSeek V3 / R1: bos + all system texts joined by '\n\n', then
 * '<｜User｜>' + U and '<｜Assistant｜>' + A + '<｜end▁of▁sentence｜>'. R1
 * keeps only what follows the last '</think>' of earlier answers and opens
 * the generation with '<think>\n'. */
static void render_deepseek3(render_ctx *c)
{
    bool r1 = c->t->fam == F_DEEPSEEK_R1;
    bos(c);
    if (c->has_sys)
        put(c->b, c->sys.data, c->sys.len);
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_USER) {
            puts_(c->b, DS_USER);
            put_msg(c, i, false);
        } else if (m->role == FR_CHAT_ASSISTANT) {
            const char *s = m->content;
            size_t n = m->len;
            if (r1) {
                for (size_t k = n; k >= 8; k--) {
                    if (memcmp(s + k - 8, "</think>", 8) == 0) {
                        s += k;
                        n -= k;
                        break;
                    }
                }
            }
            puts_(c->b, DS_ASSISTANT);
            put(c->b, s, n);
            puts_(c->b, DS_EOS);
        }
    }
    if (c->gen)
        puts_(c->b, r1 ? DS_ASSISTANT "<think>\n" : DS_ASSISTANT);
}

fr_status fr_chat_render(const fr_chat_template *t, const fr_chat_msg *msgs, size_t n,
                         const fr_chat_opts *opts, fr_chat_prompt *out, fr_err *err)
{
    if (!out)
        return fr_err_set(err, FR_E_INVALID, "fr_chat_render: out is NULL");
    memset(out, 0, sizeof *out);
    if (!t || (n && !msgs))
        return fr_err_set(err, FR_E_INVALID, "fr_chat_render: %s is NULL", t ? "msgs" : "template");
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].role != FR_CHAT_SYSTEM && msgs[i].role != FR_CHAT_USER &&
            msgs[i].role != FR_CHAT_ASSISTANT)
            return fr_err_set(err, FR_E_INVALID, "chat message %zu: invalid role %d", i,
                              (int)msgs[i].role);
        if (msgs[i].len && !msgs[i].content)
            return fr_err_set(err, FR_E_INVALID, "chat message %zu: content is NULL", i);
    }
    fr_chat_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    const family_info *fi = &FAMILIES[t->fam];
    char date[32];
    if (t->date_today)
        today(date, sizeof date);
    else
        snprintf(date, sizeof date, "26 Jul 2024");

    fr_buf b = FR_BUF_INIT;
    render_ctx c = {
        .t = t,
        .m = msgs,
        .n = n,
        .gen = opts->add_generation_prompt,
        .bos = opts->bos_text ? opts->bos_text : (fi->bos ? fi->bos : ""),
        .eos = opts->eos_text ? opts->eos_text : t->eos_text,
        .date = opts->date_string ? opts->date_string : date,
        .default_system = opts->no_default_system ? NULL : t->default_system,
        .no_thinking = opts->disable_thinking,
        .b = &b,
        .sys = FR_BUF_INIT,
    };
    if (!fi->bos && !opts->bos_text)
        c.bos = NULL;
    collect_system(&c);

    switch (t->fam) {
    case F_CHATML:
    case F_QWEN3: render_chatml(&c); break;
    case F_LLAMA3:
    case F_LLAMA31: render_llama3(&c); break;
    case F_LLAMA2: render_llama2(&c); break;
    case F_MISTRAL_V1:
    case F_MISTRAL_LEGACY:
    case F_MISTRAL_V3:
    case F_MISTRAL_V3_TEKKEN: render_mistral(&c); break;
    case F_PHI3: render_phi3(&c); break;
    case F_GEMMA: render_gemma(&c); break;
    case F_ZEPHYR: render_zephyr(&c); break;
    case F_DEEPSEEK: render_deepseek(&c); break;
    case F_DEEPSEEK3:
    case F_DEEPSEEK_R1: render_deepseek3(&c); break;
    case F_COUNT: break;
    }

    bool ok = fr_buf_ok(&b) && fr_buf_ok(&c.sys);
    fr_buf_free(&c.sys);
    if (!ok) {
        fr_buf_free(&b);
        return fr_err_set(err, FR_E_NOMEM, "rendering the %s chat prompt: out of memory", fi->name);
    }
    size_t len = b.len;
    out->text = fr_buf_take(&b);
    if (!out->text)
        return fr_err_set(err, FR_E_NOMEM, "rendering the %s chat prompt: out of memory", fi->name);
    out->len = len;
    out->starts_with_bos = t->starts_with_bos && c.bos && c.bos[0] &&
                           len >= strlen(c.bos) && memcmp(out->text, c.bos, strlen(c.bos)) == 0;
    return FR_OK;
}

void fr_chat_prompt_clear(fr_chat_prompt *p)
{
    if (!p)
        return;
    free(p->text);
    p->text = NULL;
    p->len = 0;
    p->starts_with_bos = false;
}
