/*
 * chat_render.c - prints a conversation the way each family's Jinja
 * template does (detection and the family table: chat_template.c). One
 * render function per family; the comments above each say which template
 * text it follows.
 */
#include "text/chat_impl.h"

#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers ---------------------------------------------------- */

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
/* Today as ISO 8601 (gpt-oss's strftime_now("%Y-%m-%d")). */
static void today_iso(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !localtime_r(&now, &tm)) {
        snprintf(buf, n, "2024-07-26");
        return;
    }
    snprintf(buf, n, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* ---- rendering -------------------------------------------------------- */

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
 * the answer with an empty think block (its enable_thinking = false); the
 * Thinking-2507 template instead always opens "<think>\n". */
static void render_chatml(render_ctx *c)
{
    bool qwen3 = c->t->fam == F_QWEN3;
    size_t last_user = last_role(c, FR_CHAT_USER);
    size_t i = 0;
    bos(c);
    if (c->tools) {
        fr_render_hermes_system(c, qwen3); /* takes a leading system message along */
        if (c->n && c->m[0].role == FR_CHAT_SYSTEM)
            i = 1;
    } else if (c->default_system && (c->n == 0 || c->m[0].role != FR_CHAT_SYSTEM)) {
        puts_(c->b, "<|im_start|>system\n");
        puts_(c->b, c->default_system);
        puts_(c->b, "<|im_end|>\n");
    }
    for (; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_TOOL) {
            fr_render_hermes_result(c, i);
            continue;
        }
        bool calls = m->role == FR_CHAT_ASSISTANT && msg_n_calls(c, i);
        puts_(c->b, "<|im_start|>");
        puts_(c->b, fr_chat_role_name(m->role));
        if (calls && !qwen3) {
            /* Qwen2.5: the content (if any) on its own line, then the calls */
            if (m->len) {
                puts_(c->b, "\n");
                put_msg(c, i, false);
            }
        } else {
            puts_(c->b, "\n");
            if (qwen3 && m->role == FR_CHAT_ASSISTANT)
                qwen3_assistant(c, i, last_user);
            else
                put_msg(c, i, false);
        }
        if (calls)
            fr_render_hermes_calls(c, i, qwen3);
        puts_(c->b, "<|im_end|>\n");
    }
    if (c->gen) {
        puts_(c->b, "<|im_start|>assistant\n");
        if (qwen3 && c->t->qwen3_think_open)
            puts_(c->b, "<think>\n"); /* Thinking-2507: always reasons */
        else if (qwen3 && c->no_thinking)
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
        puts_(c->b, "<|start_header_id|>system<|end_header_id|>\n\n");
        if (c->tools)
            puts_(c->b, "Environment: ipython\n");
        puts_(c->b, "Cutting Knowledge Date: December 2023\nToday Date: ");
        puts_(c->b, c->date);
        puts_(c->b, "\n\n");
        if (c->n && c->m[0].role == FR_CHAT_SYSTEM) {
            put_msg(c, 0, true);
            i = 1;
        }
        puts_(c->b, "<|eot_id|>");
        if (c->tools && i < c->n) {
            /* the tools open the first remaining message, as a user turn */
            fr_render_llama_tools_user(c, c->m[i].content, c->m[i].len, false);
            i++;
        }
    }
    for (; i < c->n; i++) {
        if (c->m[i].role == FR_CHAT_TOOL)
            fr_render_llama_result(c, i, false);
        else if (c->m[i].role == FR_CHAT_ASSISTANT && msg_n_calls(c, i))
            fr_render_llama_call(c, i, false);
        else
            llama3_turn(c, c->m[i].role, c->m[i].content, c->m[i].len);
    }
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
    bool tekken = f == F_MISTRAL_V3_TEKKEN;
    size_t last_user = last_role(c, FR_CHAT_USER);
    bos(c);
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_USER) {
            if (c->tools && i == last_user)
                fr_render_mistral_tools(c, tekken, false);
            puts_(c->b, open);
            if (i == sys_at) {
                put(c->b, c->sys.data, c->sys.len);
                puts_(c->b, "\n\n");
            }
            put_msg(c, i, false);
            puts_(c->b, close);
        } else if (m->role == FR_CHAT_ASSISTANT && msg_n_calls(c, i)) {
            fr_render_mistral_calls(c, i, tekken);
            puts_(c->b, c->eos);
        } else if (m->role == FR_CHAT_ASSISTANT) {
            puts_(c->b, asst);
            put_msg(c, i, trimmed);
            puts_(c->b, c->eos);
        } else if (m->role == FR_CHAT_TOOL) {
            fr_render_mistral_result(c, i, tekken, false);
        }
    }
}

/* Phi-3 / 3.5: '<|' + role + '|>\n' + content + '<|end|>\n'; generation
 * prompt '<|assistant|>\n', otherwise eos_token. The first Phi-3-mini
 * template instead opens '<|assistant|>\n' after every user turn and never
 * prints eos; it drops system messages, which we keep in the Phi-3.5 form.
 * Phi-4-mini: the same without the newlines (and empty system turns kept);
 * with tools, the system turn carries them and calls follow the content
 * (chat_render_tools.c). */
static void render_phi3(render_ctx *c)
{
    bool autoa = c->t->phi3_auto_assistant, tight = c->t->phi3_tight;
    const char *nl = tight ? "" : "\n";
    bos(c);
    size_t i = 0;
    if (c->tools) {
        fr_render_phi4_mini_tools(c); /* takes a leading system message along */
        if (c->n && c->m[0].role == FR_CHAT_SYSTEM)
            i = 1;
    }
    for (; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_SYSTEM && m->len == 0 && !tight)
            continue; /* Phi-3.5: "if message['role'] == 'system' and message['content']" */
        if (!(autoa && m->role == FR_CHAT_ASSISTANT)) {
            puts_(c->b, "<|");
            puts_(c->b, fr_chat_role_name(m->role));
            puts_(c->b, "|>");
            puts_(c->b, nl);
        }
        put_msg(c, i, false);
        if (m->role == FR_CHAT_ASSISTANT && msg_n_calls(c, i))
            fr_render_phi4_mini_calls(c, i);
        puts_(c->b, "<|end|>");
        puts_(c->b, nl);
        if (autoa && m->role == FR_CHAT_USER)
            puts_(c->b, "<|assistant|>\n");
    }
    if (autoa)
        return;
    if (c->gen) {
        puts_(c->b, "<|assistant|>");
        puts_(c->b, nl);
    }
    else if (c->t->phi3_eos_at_end)
        puts_(c->b, c->eos);
}

/* Phi-4: '<|im_start|>' + role + '<|im_sep|>' + content + '<|im_end|>',
 * no newlines; generation prompt '<|im_start|>assistant<|im_sep|>'. One
 * variant of the template instead ends every user turn with that prompt and
 * writes assistant turns as bare content + '<|im_end|>'. */
static void render_phi4(render_ctx *c)
{
    bool opens = c->t->phi4_user_opens;
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (!(opens && m->role == FR_CHAT_ASSISTANT)) {
            puts_(c->b, "<|im_start|>");
            puts_(c->b, fr_chat_role_name(m->role));
            puts_(c->b, "<|im_sep|>");
        }
        put_msg(c, i, false);
        puts_(c->b, "<|im_end|>");
        if (opens && m->role == FR_CHAT_USER)
            puts_(c->b, "<|im_start|>assistant<|im_sep|>");
    }
    if (c->gen && !(opens && c->n && c->m[c->n - 1].role == FR_CHAT_USER))
        puts_(c->b, "<|im_start|>assistant<|im_sep|>");
}

/* Mistral v7 tekken: bos, then '[SYSTEM_PROMPT]' + S + '[/SYSTEM_PROMPT]'
 * for each system message where it stands, '[INST]' + U + '[/INST]', and
 * A + eos; no generation prompt (the open [/INST] is one). Mistral Small
 * 3.1's template prints its default_system_message first when the
 * conversation does not start with a system message. The v7 of Large 2411
 * is the same with a space after '[SYSTEM_PROMPT]' and '[INST]', and
 * before an answer that follows a user turn or a tool result (mistral-
 * common's v7_spm template: its add_space / prev_tool). With tools, as
 * mistral-common's v7 templates: the tools before the last user turn, an
 * answer's calls after its content, results as [TOOL_RESULTS]
 * (chat_render_tools.c). */
static void render_mistral_v7(render_ctx *c)
{
    bool spm = c->t->fam == F_MISTRAL_V7;
    const char *sp = spm ? " " : "";
    size_t last_user = last_role(c, FR_CHAT_USER);
    bool add_space = false, prev_tool = false;
    bos(c);
    if (c->default_system && !(c->n && c->m[0].role == FR_CHAT_SYSTEM)) {
        puts_(c->b, "[SYSTEM_PROMPT]");
        puts_(c->b, sp);
        puts_(c->b, c->default_system);
        puts_(c->b, "[/SYSTEM_PROMPT]");
    }
    for (size_t i = 0; i < c->n; i++) {
        const fr_chat_msg *m = &c->m[i];
        if (m->role == FR_CHAT_SYSTEM) {
            puts_(c->b, "[SYSTEM_PROMPT]");
            puts_(c->b, sp);
            put_msg(c, i, false);
            puts_(c->b, "[/SYSTEM_PROMPT]");
        } else if (m->role == FR_CHAT_USER) {
            if (c->tools && i == last_user)
                fr_render_mistral_tools(c, !spm, true);
            puts_(c->b, "[INST]");
            puts_(c->b, sp);
            put_msg(c, i, false);
            puts_(c->b, "[/INST]");
            add_space = spm && i + 1 < c->n;
            prev_tool = false;
        } else if (m->role == FR_CHAT_ASSISTANT) {
            if (m->len) {
                if (add_space)
                    puts_(c->b, " ");
                add_space = false;
                put_msg(c, i, false);
            }
            if (msg_n_calls(c, i)) {
                add_space = false;
                fr_render_mistral_calls(c, i, !spm);
            }
            puts_(c->b, c->eos);
            prev_tool = false;
        } else {
            if (add_space && !prev_tool)
                puts_(c->b, " ");
            fr_render_mistral_result(c, i, !spm, true);
            prev_tool = true;
            add_space = spm;
        }
    }
}

/* Llama 4: bos; a leading system message as '<|header_start|>system
 * <|header_end|>\n\n' + content|trim + '<|eot|>'; every other message as
 * '<|header_start|>' + role + '<|header_end|>\n\n' + content (untrimmed)
 * + '<|eot|>'; generation prompt '<|header_start|>assistant<|header_end|>\n\n'.
 * With tools, "Environment: ipython\n" opens the system text and the tools
 * open the first message after it (chat_render_tools.c). */
static void render_llama4(render_ctx *c)
{
    bos(c);
    size_t i = 0;
    if (c->n && c->m[0].role == FR_CHAT_SYSTEM) {
        puts_(c->b, "<|header_start|>system<|header_end|>\n\n");
        if (c->tools)
            puts_(c->b, "Environment: ipython\n");
        put_msg(c, 0, true);
        puts_(c->b, "<|eot|>");
        i = 1;
    }
    if (c->tools && i < c->n) {
        fr_render_llama_tools_user(c, c->m[i].content, c->m[i].len, true);
        i++;
    }
    for (; i < c->n; i++) {
        if (c->m[i].role == FR_CHAT_TOOL) {
            fr_render_llama_result(c, i, true);
        } else if (c->m[i].role == FR_CHAT_ASSISTANT && msg_n_calls(c, i)) {
            fr_render_llama_call(c, i, true);
        } else {
            puts_(c->b, "<|header_start|>");
            puts_(c->b, fr_chat_role_name(c->m[i].role));
            puts_(c->b, "<|header_end|>\n\n");
            put_msg(c, i, false);
            puts_(c->b, "<|eot|>");
        }
    }
    if (c->gen)
        puts_(c->b, "<|header_start|>assistant<|header_end|>\n\n");
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
            msgs[i].role != FR_CHAT_ASSISTANT && msgs[i].role != FR_CHAT_TOOL)
            return fr_err_set(err, FR_E_INVALID, "chat message %zu: invalid role %d", i,
                              (int)msgs[i].role);
        if (msgs[i].len && !msgs[i].content)
            return fr_err_set(err, FR_E_INVALID, "chat message %zu: content is NULL", i);
    }
    fr_chat_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    const family_info *fi = &fr_chat_families[t->fam];
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
    /* tools: parsed once; families without them get the conversation folded */
    json_t *tools = NULL;
    fr_chat_msg *folded = NULL;
    char **arena = NULL;
    size_t n_arena = 0;
    if (opts->tools) {
        json_error_t je;
        tools = json_loads(opts->tools, 0, &je);
        if (!json_is_array(tools)) {
            json_decref(tools);
            fr_buf_free(&b);
            return fr_err_set(err, FR_E_INVALID, "chat tools: not a JSON array (%s)",
                              je.text[0] ? je.text : "another JSON value");
        }
        for (size_t i = 0; i < json_array_size(tools); i++) {
            json_t *f = json_object_get(json_array_get(tools, i), "function");
            if (!json_is_object(f) || !json_is_string(json_object_get(f, "name"))) {
                json_decref(tools);
                fr_buf_free(&b);
                return fr_err_set(err, FR_E_INVALID, "chat tools[%zu]: expected {\"type\": "
                                  "\"function\", \"function\": {\"name\": ...}}", i);
            }
        }
        if (json_array_size(tools))
            c.tools = tools;
    }
    c.mt = opts->msg_tools;
    bool tool_msgs = false;
    for (size_t i = 0; i < n; i++)
        tool_msgs |= msgs[i].role == FR_CHAT_TOOL || msg_n_calls(&c, i) > 0;
    if (t->fam == F_LLAMA31)
        for (size_t i = 0; i < n; i++)
            if (msg_n_calls(&c, i) > 1) {
                json_decref(tools);
                fr_buf_free(&b);
                return fr_err_set(err, FR_E_INVALID, "chat message %zu: the llama3.1 template "
                                  "takes one tool call per message, not %zu", i,
                                  msg_n_calls(&c, i));
            }
    if ((c.tools || tool_msgs) && !fr_chat_template_tools_native(t)) {
        size_t nf = 0;
        if (fr_render_fold_tools(&c, &folded, &nf, &arena, &n_arena) != FR_OK) {
            fr_render_fold_free(folded, arena, n_arena);
            json_decref(tools);
            fr_buf_free(&b);
            return fr_err_set(err, FR_E_NOMEM, "rendering the %s chat prompt: out of memory",
                              fi->name);
        }
        c.m = folded;
        c.n = nf;
        c.tools = NULL;
        c.mt = NULL;
    }
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
    case F_PHI4: render_phi4(&c); break;
    case F_MISTRAL_V7_TEKKEN:
    case F_MISTRAL_V7: render_mistral_v7(&c); break;
    case F_LLAMA4: render_llama4(&c); break;
    case F_GPT_OSS: {
        char iso[32];
        today_iso(iso, sizeof iso);
        fr_render_gpt_oss(&c, opts->date_string ? opts->date_string : iso);
        break;
    }
    case F_COUNT: break;
    }

    bool ok = fr_buf_ok(&b) && fr_buf_ok(&c.sys);
    fr_buf_free(&c.sys);
    if (folded)
        fr_render_fold_free(folded, arena, n_arena);
    json_decref(tools);
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
