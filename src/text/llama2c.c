/*
 * llama2c.c - reading llama2.c tokenizer files (tokenizer.bin, tok512.bin)
 * into vocabulary arrays ready for GGUF, converted as llama.cpp's
 * convert-llama2c-to-ggml converts them (see frugal/tokenizer.h).
 *
 * Layout, little-endian: int32 max_token_length, then per token float32
 * score, int32 byte length, bytes. The file is hostile: every length is
 * checked against the bytes left before anything is allocated, and the
 * token count is bounded by the file size (8 bytes per entry at least).
 */
#include <frugal/tokenizer.h>

#include "base/file.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FILE ((size_t)1 << 30)

void fr_llama2c_vocab_free(fr_llama2c_vocab *v)
{
    if (!v)
        return;
    if (v->tokens)
        for (uint32_t i = 0; i < v->n_tokens; i++)
            free(v->tokens[i]);
    free(v->tokens);
    free(v->token_lens);
    free(v->scores);
    free(v->token_types);
    free(v);
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Converts one entry: fixed names for ids 0-2, types, ' ' -> U+2581. */
static char *convert(uint32_t id, const uint8_t *s, uint32_t len, uint32_t *out_len, int32_t *type)
{
    const char *fixed = id == 0 ? "<unk>" : id == 1 ? "<s>" : id == 2 ? "</s>" : NULL;
    if (fixed) {
        *type = id == 0 ? FR_TOKEN_UNKNOWN : FR_TOKEN_CONTROL;
        *out_len = (uint32_t)strlen(fixed);
        char *p = malloc(*out_len + 1);
        if (p)
            memcpy(p, fixed, *out_len + 1);
        return p;
    }
    if (len == 0)
        *type = FR_TOKEN_CONTROL;
    else if (len >= 4 && memcmp(s, "<0x", 3) == 0 && is_hex((char)s[3]))
        *type = FR_TOKEN_BYTE; /* llama.cpp: sscanf("<0x%02hhX>") matched */
    else
        *type = FR_TOKEN_NORMAL;
    size_t n = 0;
    for (uint32_t i = 0; i < len; i++)
        n += s[i] == ' ' ? 3 : 1;
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    size_t o = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(p + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            p[o++] = (char)s[i];
        }
    }
    p[o] = 0;
    *out_len = (uint32_t)o;
    return p;
}

fr_status fr_llama2c_vocab_parse(const void *data, size_t size, const char *name, uint32_t n_tokens,
                                 fr_llama2c_vocab **out, fr_err *err)
{
    *out = NULL;
    const uint8_t *b = data;
    if (!name)
        name = "tokenizer";
    if (size < 4)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: %zu bytes is too short for a llama2.c tokenizer "
                          "(4-byte header)",
                          name, size);
    uint32_t max_len = rd_u32(b);
    /* Count (and validate) the entries before allocating anything. */
    size_t off = 4;
    uint64_t count = 0;
    while (n_tokens ? count < n_tokens : off < size) {
        if (size - off < 8)
            return fr_err_set(err, FR_E_FORMAT,
                              "%s: entry %llu at byte offset %zu is cut short (file of %zu bytes); "
                              "the file is truncated or the vocabulary size is wrong",
                              name, (unsigned long long)count, off, size);
        uint32_t len = rd_u32(b + off + 4);
        if (len > size - off - 8)
            return fr_err_set(err, FR_E_FORMAT,
                              "%s: entry %llu at byte offset %zu says %u bytes, but only %zu "
                              "remain; the file is truncated or not a llama2.c tokenizer",
                              name, (unsigned long long)count, off, len, size - off - 8);
        off += 8 + (size_t)len;
        count++;
        if (count > (1u << 24))
            return fr_err_set(err, FR_E_FORMAT, "%s: more than %u entries", name, 1u << 24);
    }
    if (count == 0)
        return fr_err_set(err, FR_E_FORMAT, "%s: the tokenizer has no entries", name);
    fr_llama2c_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    v->max_token_len = max_len;
    v->tokens = calloc(count, sizeof *v->tokens);
    v->token_lens = malloc(count * sizeof *v->token_lens);
    v->scores = malloc(count * sizeof *v->scores);
    v->token_types = malloc(count * sizeof *v->token_types);
    if (!v->tokens || !v->token_lens || !v->scores || !v->token_types)
        goto nomem;
    v->n_tokens = (uint32_t)count;
    off = 4;
    for (uint32_t i = 0; i < v->n_tokens; i++) {
        uint32_t bits = rd_u32(b + off), len = rd_u32(b + off + 4);
        memcpy(&v->scores[i], &bits, 4);
        v->tokens[i] = convert(i, b + off + 8, len, &v->token_lens[i], &v->token_types[i]);
        if (!v->tokens[i])
            goto nomem;
        off += 8 + (size_t)len;
    }
    *out = v;
    return FR_OK;
nomem:
    fr_llama2c_vocab_free(v);
    return fr_err_set(err, FR_E_NOMEM, "%s: out of memory for %llu tokens", name,
                      (unsigned long long)count);
}

fr_status fr_llama2c_vocab_read(const char *path, uint32_t n_tokens, fr_llama2c_vocab **out,
                                fr_err *err)
{
    char *data = NULL;
    size_t size = 0;
    fr_status st = fr_read_file(path, MAX_FILE, &data, &size, err);
    if (st)
        return st;
    st = fr_llama2c_vocab_parse(data, size, path, n_tokens, out, err);
    free(data);
    return st;
}

fr_status fr_tokenizer_from_llama2c(const fr_llama2c_vocab *v, fr_tokenizer **out, fr_err *err)
{
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    d.model = "llama";
    d.name = "llama";
    d.n_tokens = v->n_tokens;
    d.tokens = (const char *const *)v->tokens;
    d.token_lens = v->token_lens;
    d.scores = v->scores;
    d.token_types = v->token_types;
    d.bos = 1;
    d.eos = 2;
    d.unk = 0;
    return fr_tokenizer_create(&d, out, err);
}
