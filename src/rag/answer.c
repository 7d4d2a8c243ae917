/*
 * answer.c - the answer grammar as a byte-level prefix validator (for
 * constrained decoding) and the prompt.
 *
 * The validator is a finite automaton over bytes, run on two branches at
 * once: the literal "NOT_FOUND" and "sentences each followed by [n]". Its
 * state is a plain struct so that a sampler can copy it per candidate token
 * (O(token bytes) per check, no allocation); rejected: re-validating the
 * whole answer per candidate (O(answer) per token per candidate) and a
 * regex (PCRE2 partial matching cannot express "n <= k" without building a
 * pattern per k, and is slower per byte).
 *
 * Deliberate limits: a sentence terminator followed by whitespace must be
 * followed by a citation or a lowercase word ("approx. five"), so an
 * abbreviation before a capitalised word ("Dr. Smith") ends the sentence and
 * needs a citation first; bodies are capped at max_body bytes.
 */
#include "base/buf.h"

#include <frugal/rag.h>

#include <stdlib.h>
#include <string.h>

enum {
    V_START,
    V_BODY,
    V_PUNCT,
    V_PUNCT_WS,
    V_CITE_OPEN,
    V_CITE_NUM,
    V_AFTER_CITE,
    V_AFTER_CITE_WS,
    V_END,
    V_BETWEEN
};

#define FR_NF_LEN 9 /* strlen("NOT_FOUND") */

void fr_rag_cite_init(fr_rag_cite_state *s, int k)
{
    memset(s, 0, sizeof *s);
    s->k = k;
    s->st = V_START;
    s->max_body = 1000;
    s->dead = k < 1; /* no passages: only NOT_FOUND is possible */
}

static bool v_ws(unsigned c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static bool v_term(unsigned c) { return c == '.' || c == '!' || c == '?'; }
static bool v_ctrl(unsigned c) { return (c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7F; }

static void v_body(fr_rag_cite_state *s, bool fresh)
{
    if (fresh) {
        s->body = 0;
        s->cited = false;
        s->punct = false;
    }
    s->st = V_BODY;
    if (++s->body > s->max_body)
        s->dead = true;
}

static void v_step(fr_rag_cite_state *s, unsigned c)
{
    switch (s->st) {
    case V_START:
    case V_BETWEEN:
        if (v_ws(c))
            return;
        if (c == '[' || c == ']' || v_term(c) || v_ctrl(c))
            s->dead = true;
        else
            v_body(s, true);
        return;
    case V_BODY:
        if (c == '[') {
            s->st = V_CITE_OPEN;
            s->punct = false;
        } else if (c == ']' || v_ctrl(c)) {
            s->dead = true;
        } else if (v_term(c)) {
            s->st = V_PUNCT;
        } else {
            v_body(s, false);
        }
        return;
    case V_PUNCT:
        if (v_term(c) || c == '"' || c == ')' || c == '\'') {
            return;
        } else if (c == '[') {
            s->st = V_CITE_OPEN;
            s->punct = true;
        } else if (v_ws(c)) {
            s->st = V_PUNCT_WS;
        } else if (c == ']' || v_ctrl(c)) {
            s->dead = true;
        } else {
            v_body(s, false); /* 3.5, e.g, example.com */
        }
        return;
    case V_PUNCT_WS:
        if (v_ws(c))
            return;
        if (c == '[') {
            s->st = V_CITE_OPEN;
            s->punct = true;
        } else if (c >= 'a' && c <= 'z') {
            v_body(s, false);
        } else {
            s->dead = true; /* a new sentence before this one was cited */
        }
        return;
    case V_CITE_OPEN:
        if (c >= '1' && c <= '9' && (int)(c - '0') <= s->k) {
            s->num = (int)(c - '0');
            s->st = V_CITE_NUM;
        } else {
            s->dead = true;
        }
        return;
    case V_CITE_NUM:
        if (c >= '0' && c <= '9') {
            s->num = s->num * 10 + (int)(c - '0');
            if (s->num > s->k)
                s->dead = true;
        } else if (c == ']') {
            s->cited = true;
            s->st = V_AFTER_CITE;
        } else {
            s->dead = true;
        }
        return;
    case V_AFTER_CITE:
        if (c == '[') {
            s->st = V_CITE_OPEN;
        } else if (v_term(c) && !s->punct) {
            s->st = V_END;
            s->sents++;
        } else if (v_ws(c)) {
            s->st = V_AFTER_CITE_WS;
        } else {
            s->dead = true;
        }
        return;
    case V_AFTER_CITE_WS:
        if (v_ws(c))
            return;
        if (c == '[') {
            s->st = V_CITE_OPEN;
        } else if (c == ']' || v_term(c) || v_ctrl(c)) {
            s->dead = true;
        } else {
            s->sents++;
            v_body(s, true);
        }
        return;
    case V_END:
        if (v_ws(c))
            s->st = V_BETWEEN;
        else
            s->dead = true;
        return;
    default:
        s->dead = true;
    }
}

bool fr_rag_cite_feed(fr_rag_cite_state *s, const char *text, size_t len)
{
    static const char nf[] = FR_RAG_NOT_FOUND;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)text[i];
        if (s->nf >= 0) {
            if (s->nf < FR_NF_LEN && (unsigned char)nf[s->nf] == c) {
                if (++s->nf == FR_NF_LEN)
                    s->dead = true; /* no sentence may start with NOT_FOUND */
            }
            else if (!((s->nf == 0 || s->nf == FR_NF_LEN) && v_ws(c)))
                s->nf = -1;
        }
        if (!s->dead)
            v_step(s, c);

        if (s->dead && s->nf < 0)
            return false;
    }
    return true;
}

bool fr_rag_cite_complete(const fr_rag_cite_state *s)
{
    if (s->nf == FR_NF_LEN)
        return true;
    if (s->dead)
        return false;
    return s->st == V_AFTER_CITE || s->st == V_AFTER_CITE_WS || s->st == V_END ||
           (s->st == V_BETWEEN && s->sents > 0);
}

int fr_rag_cite_check(const char *text, size_t len, int k)
{
    fr_rag_cite_state s;
    fr_rag_cite_init(&s, k);
    if (!fr_rag_cite_feed(&s, text, len))
        return -1;
    return fr_rag_cite_complete(&s) ? 1 : 0;
}

/* ---- prompt --------------------------------------------------------------- */

static const char fr_rag_rules[] =
    "You answer questions using only the numbered passages the user gives you.\n"
    "Rules:\n"
    "1. Use only facts stated in the passages. Do not add anything from memory.\n"
    "2. After every sentence, cite the passage that supports it as [n], for example: "
    "\"The warranty lasts two years [2].\"\n"
    "3. Copy numbers, dates, prices, codes and names exactly as the passages write them.\n"
    "4. If the passages do not contain the answer, reply with exactly NOT_FOUND and nothing "
    "else.\n"
    "5. Be brief: one to three sentences.";

/* Appends at most max bytes of s, cut at a UTF-8 boundary, then "...". */
static void put_capped(fr_buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        fr_buf_append(b, s, n);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    fr_buf_append(b, s, max);
    fr_buf_puts(b, " ...");
}

fr_status fr_rag_build_prompt(const char *question, const fr_kb_passage *p, size_t n,
                              size_t max_passage_bytes, char **system, char **user, fr_err *err)
{
    *system = NULL;
    *user = NULL;
    if (max_passage_bytes == 0)
        max_passage_bytes = 2000;
    fr_buf u = FR_BUF_INIT;
    fr_buf_puts(&u, "Passages:\n");
    for (size_t i = 0; i < n; i++) {
        fr_buf_printf(&u, "\n[%zu] (", i + 1);
        put_capped(&u, p[i].title ? p[i].title : (p[i].path ? p[i].path : "document"), 200);
        if (p[i].heading) {
            fr_buf_puts(&u, " - ");
            put_capped(&u, p[i].heading, 200);
        }
        if (p[i].page > 0)
            fr_buf_printf(&u, ", page %d", p[i].page);
        fr_buf_puts(&u, ")\n");
        put_capped(&u, p[i].text ? p[i].text : "", max_passage_bytes);
        fr_buf_putc(&u, '\n');
    }
    fr_buf_puts(&u, "\nQuestion: ");
    put_capped(&u, question ? question : "", 4000);
    fr_buf_puts(&u, "\nAnswer with citations [n], or NOT_FOUND:");
    char *us = fr_buf_take(&u);
    char *ss = strdup(fr_rag_rules);
    if (!us || !ss) {
        free(us);
        free(ss);
        return fr_err_set(err, FR_E_NOMEM, "out of memory building the prompt");
    }
    *system = ss;
    *user = us;
    return FR_OK;
}
