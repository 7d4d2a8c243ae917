/*
 * data_load.c - training files to tokenized samples with loss masks.
 *
 * Formats (fr_data_format):
 *   text               a .txt file: the whole text tokenized once, cut into
 *                      windows of n_ctx predicted tokens, each window
 *                      starting with BOS when the vocabulary adds one; or
 *                      JSONL {"text": ...}: each record BOS + text + EOS,
 *                      cut into windows the same way. Every token is learned.
 *   prompt-completion  JSONL {"prompt", "completion"}: BOS + prompt +
 *                      completion + EOS; only the completion and EOS learned.
 *   chat               JSONL {"messages": [{"role", "content"}, ...]}:
 *                      rendered with the chat template; only the assistant
 *                      turns, each up to and including its end-of-turn
 *                      marker, are learned.
 *
 * Where the learned span starts and ends is found in the text, then mapped
 * to tokens by tokenizing the text up to that point and taking the length
 * of its common prefix with the tokens of the whole text. When a tokenizer
 * merges across the boundary, the common prefix stops before the merged
 * token, so the span can only lose a token at its start, never gain a
 * masked one. For chat, every prefix rendering (conversation up to an
 * assistant turn) must be a prefix of the whole rendering; templates that
 * rewrite earlier turns when later ones follow (qwen3 drops earlier
 * reasoning) are reported with the line, not silently mis-masked.
 *
 * Hostile input: lines are parsed one at a time with jansson, every value's
 * type is checked, and errors name the file, line and key.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "text/chat_tokens.h"
#include "tune/dataset.h"

#define FR_DATA_MAX_BYTES ((size_t)2 << 30)

static const char *const fr_format_names[] = {"auto", "text", "chat", "prompt-completion"};

bool fr_data_format_parse(const char *name, fr_data_format *out)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, fr_format_names[i]) == 0) {
            *out = (fr_data_format)i;
            return true;
        }
    return false;
}

const char *fr_data_format_name(fr_data_format f)
{
    return (unsigned)f < 4 ? fr_format_names[f] : "?";
}

typedef struct fr_loader_ctx {
    const char *name;
    const fr_tokenizer *tok;
    const fr_dataset_opts *o;
    fr_dataset *d;
    int32_t bos, eos; /* FR_TOKEN_NONE when not used */
    fr_err *err;
    /* scratch for one sample */
    uint8_t *mask;
    size_t mask_cap;
} fr_loader_ctx;

static bool fr_has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n >= e && strcmp(name + n - e, ext) == 0;
}

static fr_status fr_mask_room(fr_loader_ctx *c, size_t n)
{
    if (n <= c->mask_cap)
        return FR_OK;
    uint8_t *m = realloc(c->mask, n);
    if (!m)
        return fr_err_set(c->err, FR_E_NOMEM, "out of memory");
    c->mask = m;
    c->mask_cap = n;
    return FR_OK;
}

static fr_status fr_tok(fr_loader_ctx *c, const char *text, size_t len, bool special,
                        int32_t **ids, size_t *n)
{
    fr_encode_opts eo = {0, 0, special};
    return fr_tokenize(c->tok, text, len, &eo, ids, n, c->err);
}

static size_t fr_common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    return i;
}

/* Adds tokens ids[0..n) as windows: each window is [BOS] + up to
 * n_ctx (or n_ctx + 1 without BOS) tokens; consecutive windows without BOS
 * overlap by one token so every token but the first is predicted once.
 * eos_last appends EOS after the last token. */
static fr_status fr_add_windows(fr_loader_ctx *c, const int32_t *ids, size_t n, bool eos_last,
                                size_t record)
{
    uint32_t ctx = c->o->n_ctx;
    bool bos = c->bos != FR_TOKEN_NONE;
    size_t total = n + (eos_last && c->eos != FR_TOKEN_NONE ? 1 : 0);
    int32_t *win = malloc(((size_t)ctx + 1) * sizeof(int32_t));
    fr_status st = fr_mask_room(c, (size_t)ctx + 1);
    if (!win)
        st = fr_err_set(c->err, FR_E_NOMEM, "out of memory");
    size_t pos = 0;
    while (!st && pos < total) {
        uint32_t w = 0;
        if (bos)
            win[w++] = c->bos;
        size_t take = (size_t)ctx + 1 - w;
        if (take > total - pos)
            take = total - pos;
        for (size_t i = 0; i < take; i++) {
            size_t k = pos + i;
            win[w++] = k < n ? ids[k] : c->eos;
        }
        for (uint32_t j = 0; j < w; j++)
            c->mask[j] = j > 0;
        st = fr_dataset_add(c->d, win, c->mask, w, record, c->err);
        if (bos || pos + take >= total)
            pos += take;
        else
            pos += take - 1; /* overlap: the last token starts the next window */
    }
    free(win);
    return st;
}

/* ---- plain text ------------------------------------------------------------------------ */

static fr_status fr_load_text(fr_loader_ctx *c, const char *data, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0;
    fr_status st = fr_tok(c, data, len, false, &ids, &n);
    if (st) {
        fr_err_prefix(c->err, "%s", c->name);
        return st;
    }
    c->d->st.n_records = 1;
    st = fr_add_windows(c, ids, n, false, 1);
    free(ids);
    return st;
}

/* ---- JSONL records ------------------------------------------------------------------------ */

static fr_status fr_get_string(fr_loader_ctx *c, json_t *obj, const char *key, size_t line,
                               const char **s, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return fr_err_set(c->err, FR_E_FORMAT, "%s:%zu: missing key \"%s\"", c->name, line, key);
    if (!json_is_string(v))
        return fr_err_set(c->err, FR_E_FORMAT, "%s:%zu: \"%s\" must be a string", c->name, line,
                          key);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return FR_OK;
}

static fr_status fr_record_text(fr_loader_ctx *c, json_t *obj, size_t line)
{
    const char *s;
    size_t len;
    fr_status st = fr_get_string(c, obj, "text", line, &s, &len);
    if (st)
        return st;
    int32_t *ids = NULL;
    size_t n = 0;
    if ((st = fr_tok(c, s, len, false, &ids, &n)))
        return fr_err_prefix(c->err, "%s:%zu", c->name, line);
    st = fr_add_windows(c, ids, n, true, line);
    free(ids);
    return st;
}

/* Adds ids[0..n) with mask[start..end) learned, cut at n_ctx + 1 tokens. */
static fr_status fr_add_masked(fr_loader_ctx *c, const int32_t *ids, size_t n, size_t line)
{
    size_t cap = (size_t)c->o->n_ctx + 1;
    if (n > cap) {
        c->d->st.n_truncated++;
        n = cap;
    }
    return fr_dataset_add(c->d, ids, c->mask, (uint32_t)n, line, c->err);
}

static fr_status fr_record_prompt(fr_loader_ctx *c, json_t *obj, size_t line)
{
    const char *p, *q;
    size_t pl, ql;
    fr_status st;
    if ((st = fr_get_string(c, obj, "prompt", line, &p, &pl)) ||
        (st = fr_get_string(c, obj, "completion", line, &q, &ql)))
        return st;
    char *both = malloc(pl + ql + 1);
    if (!both)
        return fr_err_set(c->err, FR_E_NOMEM, "out of memory");
    memcpy(both, p, pl);
    memcpy(both + pl, q, ql);
    int32_t *pi = NULL, *ai = NULL, *ids = NULL;
    size_t pn = 0, an = 0;
    if ((st = fr_tok(c, both, pl, false, &pi, &pn)) ||
        (st = fr_tok(c, both, pl + ql, false, &ai, &an))) {
        fr_err_prefix(c->err, "%s:%zu", c->name, line);
        goto done;
    }
    size_t start = fr_common_prefix(pi, pn, ai, an);
    size_t b = c->bos != FR_TOKEN_NONE, e = c->eos != FR_TOKEN_NONE;
    size_t n = b + an + e;
    ids = malloc(n * sizeof(int32_t));
    if (!ids || (st = fr_mask_room(c, n))) {
        st = fr_err_set(c->err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    if (b)
        ids[0] = c->bos;
    memcpy(ids + b, ai, an * sizeof(int32_t));
    if (e)
        ids[n - 1] = c->eos;
    for (size_t j = 0; j < n; j++)
        c->mask[j] = j >= b + start;
    st = fr_add_masked(c, ids, n, line);
done:
    free(both);
    free(pi);
    free(ai);
    free(ids);
    return st;
}

/* Renders msgs[0..k) (gen: with the assistant generation prompt). */
static fr_status fr_render(fr_loader_ctx *c, const fr_chat_msg *msgs, size_t k, bool gen,
                           fr_chat_prompt *out)
{
    fr_chat_opts co;
    memset(&co, 0, sizeof co);
    co.add_generation_prompt = gen;
    co.no_default_system = c->o->no_default_system;
    /* the vocabulary's BOS/EOS texts, so the template writes the right ones */
    char bos_buf[128], eos_buf[128];
    size_t len;
    int32_t bid = fr_tokenizer_bos(c->tok), eid = fr_tokenizer_eos(c->tok);
    const char *bt = bid != FR_TOKEN_NONE ? fr_tokenizer_token_text(c->tok, bid, &len) : NULL;
    if (bt) {
        snprintf(bos_buf, sizeof bos_buf, "%.*s", (int)(len < 127 ? len : 127), bt);
        co.bos_text = bos_buf;
    }
    const char *et = eid != FR_TOKEN_NONE ? fr_tokenizer_token_text(c->tok, eid, &len) : NULL;
    if (et) {
        snprintf(eos_buf, sizeof eos_buf, "%.*s", (int)(len < 127 ? len : 127), et);
        co.eos_text = eos_buf;
    }
    return fr_chat_render(c->o->tmpl, msgs, k, &co, out, c->err);
}

/* Renders msgs[0..k) into *part and checks it is a prefix of full. */
static fr_status fr_render_prefix(fr_loader_ctx *c, const fr_chat_msg *msgs, size_t k, bool gen,
                                  const fr_chat_prompt *full, size_t line, fr_chat_prompt *part)
{
    fr_chat_prompt_clear(part);
    fr_status st = fr_render(c, msgs, k, gen, part);
    if (st)
        return fr_err_prefix(c->err, "%s:%zu", c->name, line);
    if (part->len > full->len || memcmp(part->text, full->text, part->len) != 0)
        return fr_err_set(c->err, FR_E_UNSUPPORTED,
                          "%s:%zu: the chat template (%s) renders the conversation up to "
                          "message %zu differently from the start of the whole conversation, "
                          "so the assistant's tokens cannot be located; split the record into "
                          "one record per assistant turn",
                          c->name, line, fr_chat_template_name(c->o->tmpl), k);
    return FR_OK;
}

/* Tokens of text[0..cut) that agree with the whole text's tokens ids. */
static fr_status fr_prefix_tokens(fr_loader_ctx *c, const char *text, size_t cut,
                                  const int32_t *ids, size_t n, int32_t **scratch, size_t *out)
{
    free(*scratch);
    *scratch = NULL;
    size_t pn = 0;
    fr_status st = fr_tok(c, text, cut, true, scratch, &pn);
    if (st)
        return st;
    *out = fr_common_prefix(*scratch, pn, ids, n);
    return FR_OK;
}

static fr_status fr_record_chat(fr_loader_ctx *c, json_t *obj, size_t line)
{
    json_t *arr = json_object_get(obj, "messages");
    if (!arr || !json_is_array(arr))
        return fr_err_set(c->err, FR_E_FORMAT, "%s:%zu: \"messages\" must be an array", c->name,
                          line);
    size_t nm = json_array_size(arr);
    if (nm == 0 || nm > 100000)
        return fr_err_set(c->err, FR_E_FORMAT, "%s:%zu: \"messages\" has %zu entries", c->name,
                          line, nm);
    fr_chat_msg *msgs = calloc(nm, sizeof *msgs);
    if (!msgs)
        return fr_err_set(c->err, FR_E_NOMEM, "out of memory");
    fr_status st = FR_OK;
    bool any_assistant = false;
    for (size_t i = 0; i < nm && !st; i++) {
        json_t *m = json_array_get(arr, i);
        json_t *role = json_is_object(m) ? json_object_get(m, "role") : NULL;
        json_t *content = json_is_object(m) ? json_object_get(m, "content") : NULL;
        if (!role || !json_is_string(role) || !content || !json_is_string(content))
            st = fr_err_set(c->err, FR_E_FORMAT,
                            "%s:%zu: messages[%zu] needs string \"role\" and \"content\"",
                            c->name, line, i);
        else if (!fr_chat_role_parse(json_string_value(role), &msgs[i].role))
            st = fr_err_set(c->err, FR_E_FORMAT,
                            "%s:%zu: messages[%zu]: role \"%.40s\" is not system, user or "
                            "assistant", c->name, line, i, json_string_value(role));
        else {
            msgs[i].content = json_string_value(content);
            msgs[i].len = json_string_length(content);
            any_assistant |= msgs[i].role == FR_CHAT_ASSISTANT;
        }
    }
    fr_chat_prompt full = {0}, part = {0};
    int32_t *ids = NULL, *pids = NULL;
    size_t n = 0;
    const char *eot = fr_chat_template_eot(c->o->tmpl);
    size_t eot_len = strlen(eot);
    if (st)
        goto done;
    if (!any_assistant) {
        c->d->st.n_skipped++;
        goto done;
    }
    if ((st = fr_render(c, msgs, nm, false, &full)) ||
        (st = fr_tok(c, full.text, full.len, true, &ids, &n)) || (st = fr_mask_room(c, n + 1))) {
        fr_err_prefix(c->err, "%s:%zu", c->name, line);
        goto done;
    }
    memset(c->mask, 0, n);
    for (size_t k = 0; k < nm && !st; k++) {
        if (msgs[k].role != FR_CHAT_ASSISTANT)
            continue;
        /* start: the conversation before turn k plus the generation prompt */
        size_t start_chars = 0, start_tok = 0, end_tok = 0;
        if ((st = fr_render_prefix(c, msgs, k, true, &full, line, &part)))
            break;
        start_chars = part.len;
        if ((st = fr_prefix_tokens(c, full.text, part.len, ids, n, &pids, &start_tok)))
            break;
        /* end: right after turn k's last end-of-turn marker */
        if ((st = fr_render_prefix(c, msgs, k + 1, false, &full, line, &part)))
            break;
        size_t cut = part.len;
        for (size_t p = part.len; eot_len && p >= start_chars + eot_len; p--)
            if (memcmp(part.text + p - eot_len, eot, eot_len) == 0) {
                cut = p;
                break;
            }
        if ((st = fr_prefix_tokens(c, full.text, cut, ids, n, &pids, &end_tok)))
            break;
        for (size_t j = start_tok; j < end_tok; j++)
            c->mask[j] = 1;
    }
    if (st)
        goto done;
    st = fr_add_masked(c, ids, n, line);
done:
    fr_chat_prompt_clear(&full);
    fr_chat_prompt_clear(&part);
    free(ids);
    free(pids);
    free(msgs);
    return st;
}

static fr_status fr_load_jsonl(fr_loader_ctx *c, const char *data, size_t len)
{
    size_t line = 0, pos = 0;
    fr_data_format fmt = c->o->format;
    while (pos < len) {
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        size_t a = 0;
        while (a < n && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r'))
            a++;
        if (a == n)
            continue;
        json_error_t je;
        json_t *obj = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
        if (!obj)
            return fr_err_set(c->err, FR_E_FORMAT,
                              "%s:%zu: invalid JSON at column %d: %s (training data is JSONL: "
                              "one JSON object per line)", c->name, line, je.column, je.text);
        fr_status st = FR_OK;
        if (!json_is_object(obj)) {
            st = fr_err_set(c->err, FR_E_FORMAT, "%s:%zu: each line must be a JSON object",
                            c->name, line);
        } else {
            if (fmt == FR_DATA_AUTO) {
                if (json_object_get(obj, "messages"))
                    fmt = FR_DATA_CHAT;
                else if (json_object_get(obj, "prompt") && json_object_get(obj, "completion"))
                    fmt = FR_DATA_PROMPT_COMPLETION;
                else if (json_object_get(obj, "text"))
                    fmt = FR_DATA_TEXT;
                else
                    st = fr_err_set(c->err, FR_E_FORMAT,
                                    "%s:%zu: cannot tell the format: the first record has none "
                                    "of \"messages\", \"prompt\"+\"completion\", \"text\"; "
                                    "use --format", c->name, line);
                c->d->st.format = fmt;
            }
            if (!st && fmt == FR_DATA_CHAT && !c->o->tmpl)
                st = fr_err_set(c->err, FR_E_INVALID, "chat data needs a chat template");
            if (!st) {
                c->d->st.n_records++;
                if (fmt == FR_DATA_CHAT)
                    st = fr_record_chat(c, obj, line);
                else if (fmt == FR_DATA_PROMPT_COMPLETION)
                    st = fr_record_prompt(c, obj, line);
                else
                    st = fr_record_text(c, obj, line);
            }
        }
        json_decref(obj);
        if (st)
            return st;
    }
    return FR_OK;
}

fr_status fr_dataset_load_memory(const char *data, size_t len, const char *name,
                                 const fr_tokenizer *tok, const fr_dataset_opts *o,
                                 fr_dataset **out, fr_err *err)
{
    *out = NULL;
    if (!o || o->n_ctx < 1 || o->n_ctx > (1u << 20))
        return fr_err_set(err, FR_E_INVALID, "dataset: context length must be 1..1048576");
    if ((unsigned)o->format > FR_DATA_PROMPT_COMPLETION)
        return fr_err_set(err, FR_E_INVALID, "dataset: unknown format");
    fr_loader_ctx c;
    memset(&c, 0, sizeof c);
    c.name = name ? name : "(data)";
    c.tok = tok;
    c.o = o;
    c.err = err;
    c.bos = fr_tokenizer_add_bos(tok) ? fr_tokenizer_bos(tok) : FR_TOKEN_NONE;
    c.eos = fr_tokenizer_eos(tok);
    c.d = fr_dataset_new(o->n_ctx);
    if (!c.d)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    bool jsonl = fr_has_ext(c.name, ".jsonl") || fr_has_ext(c.name, ".json") ||
                 o->format == FR_DATA_CHAT || o->format == FR_DATA_PROMPT_COMPLETION;
    fr_status st;
    if (jsonl) {
        c.d->st.format = o->format;
        st = fr_load_jsonl(&c, data, len);
    } else {
        c.d->st.format = FR_DATA_TEXT;
        st = fr_load_text(&c, data, len);
    }
    free(c.mask);
    if (!st && c.d->n_s == 0)
        st = fr_err_set(err, FR_E_FORMAT,
                        "%s: no training samples (%zu records, %zu with nothing to learn)",
                        c.name, c.d->st.n_records, c.d->st.n_skipped);
    if (st) {
        fr_dataset_free(c.d);
        return st;
    }
    *out = c.d;
    return FR_OK;
}

fr_status fr_dataset_load(const char *path, const fr_tokenizer *tok, const fr_dataset_opts *o,
                          fr_dataset **out, fr_err *err)
{
    *out = NULL;
    char *data = NULL;
    size_t size = 0;
    fr_status st = fr_read_file(path, FR_DATA_MAX_BYTES, &data, &size, err);
    if (st)
        return st;
    st = fr_dataset_load_memory(data, size, path, tok, o, out, err);
    free(data);
    return st;
}
