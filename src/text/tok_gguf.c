/*
 * tok_gguf.c - a tokenizer from the tokenizer.ggml.* keys of a GGUF file.
 *
 * Reads the keys llama.cpp reads (model, pre, tokens, scores, token_type,
 * merges, the special token ids, add_bos_token, add_eos_token,
 * add_space_prefix, remove_extra_whitespaces) into a fr_tokenizer_desc and
 * calls fr_tokenizer_create. Strings stay views into the mapped file until
 * create has copied them. A key with the wrong type is an error naming it;
 * an id that does not fit the vocabulary falls back to the default, as in
 * llama.cpp (files write 0xFFFFFFFF for "none").
 */
#include <frugal/gguf.h>
#include <frugal/tokenizer.h>

#include <stdlib.h>
#include <string.h>

static char *dup_str(fr_gguf_str s)
{
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = 0;
    }
    return p;
}

/* Optional string key: *out NULL when absent. */
static fr_status opt_str(const fr_gguf *g, const char *key, char **out, fr_err *err)
{
    fr_gguf_str s;
    *out = NULL;
    fr_status st = fr_gguf_get_str(g, key, &s, err);
    if (st == FR_E_NOTFOUND)
        return FR_OK;
    if (st)
        return st;
    if (s.len > 256 || memchr(s.ptr, 0, s.len)) {
        /* names are short words; keep enough of a long one for the error
         * text, and let a NUL byte show as '?' so it cannot hide the rest */
        if (s.len > 256)
            s.len = 256;
        *out = dup_str(s);
        if (!*out)
            return fr_err_set(err, FR_E_NOMEM, "out of memory");
        for (uint64_t i = 0; i < s.len; i++)
            if (!(*out)[i])
                (*out)[i] = '?';
        return FR_OK;
    }
    *out = dup_str(s);
    return *out ? FR_OK : fr_err_set(err, FR_E_NOMEM, "out of memory");
}

static fr_status opt_bool(const fr_gguf *g, const char *key, int *out, fr_err *err)
{
    bool b;
    fr_status st = fr_gguf_get_bool(g, key, &b, err);
    if (st == FR_E_NOTFOUND)
        return FR_OK;
    if (st)
        return st;
    *out = b;
    return FR_OK;
}

static fr_status opt_id(const fr_gguf *g, const char *key, int32_t *out, fr_err *err)
{
    int64_t v;
    fr_status st = fr_gguf_get_i64(g, key, &v, err);
    if (st == FR_E_NOTFOUND)
        return FR_OK;
    if (st)
        return st;
    /* Anything that is not a valid id (negative, 0xFFFFFFFF, too large)
     * means "keep the default", as llama.cpp does. */
    *out = v >= 0 && v < INT32_MAX ? (int32_t)v : INT32_MAX;
    return FR_OK;
}

static fr_status get_str_array(const fr_gguf *g, const char *key, uint64_t max, uint32_t *n,
                               const char ***strs, uint32_t **lens, fr_err *err)
{
    fr_gguf_arr a;
    fr_status st = fr_gguf_get_arr(g, key, &a, err);
    if (st)
        return st;
    if (a.type != FR_GGUF_STRING)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: expected an array of strings, found an array of %s", key,
                          fr_gguf_type_name(a.type));
    if (a.n > max)
        return fr_err_set(err, FR_E_FORMAT, "%s: %llu entries is more than the %llu supported", key,
                          (unsigned long long)a.n, (unsigned long long)max);
    *n = (uint32_t)a.n;
    *strs = malloc((a.n ? a.n : 1) * sizeof **strs);
    *lens = malloc((a.n ? a.n : 1) * sizeof **lens);
    if (!*strs || !*lens)
        return fr_err_set(err, FR_E_NOMEM, "%s: out of memory for %llu entries", key,
                          (unsigned long long)a.n);
    for (uint64_t i = 0; i < a.n; i++) {
        fr_gguf_str s;
        if (fr_gguf_arr_str(&a, i, &s) != FR_OK || s.len > UINT32_MAX / 2)
            return fr_err_set(err, FR_E_FORMAT, "%s[%llu]: unreadable string", key,
                              (unsigned long long)i);
        (*strs)[i] = s.ptr;
        (*lens)[i] = (uint32_t)s.len;
    }
    return FR_OK;
}

fr_status fr_tokenizer_from_gguf(const fr_gguf *g, fr_tokenizer **out, fr_err *err)
{
    *out = NULL;
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    char *model = NULL, *pre = NULL, *name = NULL;
    const char **tokens = NULL, **merges = NULL;
    uint32_t *tlens = NULL, *mlens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    fr_status st;

    fr_gguf_str ms;
    st = fr_gguf_get_str(g, "tokenizer.ggml.model", &ms, err);
    if (st == FR_E_NOTFOUND) {
        st = fr_err_set(err, FR_E_FORMAT,
                        "the file has no tokenizer (tokenizer.ggml.model is "
                        "missing)");
        goto done;
    }
    if (st || (st = opt_str(g, "tokenizer.ggml.model", &model, err)) ||
        (st = opt_str(g, "tokenizer.ggml.pre", &pre, err)) ||
        (st = opt_str(g, "general.name", &name, err)))
        goto done;
    d.model = model;
    d.pre = pre;
    d.name = name;

    st = get_str_array(g, "tokenizer.ggml.tokens", 1u << 24, &d.n_tokens, &tokens, &tlens, err);
    if (st == FR_E_NOTFOUND)
        st = fr_err_set(err, FR_E_FORMAT, "tokenizer.ggml.tokens is missing");
    if (st)
        goto done;
    d.tokens = tokens;
    d.token_lens = tlens;

    fr_gguf_arr a;
    st = fr_gguf_get_arr(g, "tokenizer.ggml.scores", &a, err);
    if (st == FR_OK) {
        if (a.type != FR_GGUF_FLOAT32 && a.type != FR_GGUF_INT32) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "tokenizer.ggml.scores: expected float32 or int32 "
                            "elements, found %s",
                            fr_gguf_type_name(a.type));
            goto done;
        }
        if (a.n < d.n_tokens) {
            st =
                fr_err_set(err, FR_E_FORMAT, "tokenizer.ggml.scores has %llu entries for %u tokens",
                           (unsigned long long)a.n, d.n_tokens);
            goto done;
        }
        if (!(scores = malloc((size_t)d.n_tokens * sizeof *scores))) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
        for (uint32_t i = 0; i < d.n_tokens; i++) {
            int64_t v;
            if (a.type == FR_GGUF_FLOAT32 ? fr_gguf_arr_f32(&a, i, &scores[i]) != FR_OK
                                          : fr_gguf_arr_i64(&a, i, &v) != FR_OK) {
                st = fr_err_set(err, FR_E_FORMAT, "tokenizer.ggml.scores[%u]: unreadable", i);
                goto done;
            }
            if (a.type == FR_GGUF_INT32)
                scores[i] = (float)v;
        }
        d.scores = scores;
    } else if (st != FR_E_NOTFOUND) {
        goto done;
    }

    st = fr_gguf_get_arr(g, "tokenizer.ggml.token_type", &a, err);
    if (st == FR_OK) {
        if (a.type != FR_GGUF_INT32) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "tokenizer.ggml.token_type: expected int32 elements, "
                            "found %s",
                            fr_gguf_type_name(a.type));
            goto done;
        }
        if (a.n < d.n_tokens) {
            st = fr_err_set(err, FR_E_FORMAT,
                            "tokenizer.ggml.token_type has %llu entries for %u "
                            "tokens",
                            (unsigned long long)a.n, d.n_tokens);
            goto done;
        }
        if (!(types = malloc((size_t)d.n_tokens * sizeof *types))) {
            st = fr_err_set(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
        for (uint32_t i = 0; i < d.n_tokens; i++) {
            int64_t v;
            if (fr_gguf_arr_i64(&a, i, &v) != FR_OK) {
                st = fr_err_set(err, FR_E_FORMAT, "tokenizer.ggml.token_type[%u]: unreadable", i);
                goto done;
            }
            types[i] = (int32_t)v;
        }
        d.token_types = types;
    } else if (st != FR_E_NOTFOUND) {
        goto done;
    }

    if (strcmp(model, "gpt2") == 0) {
        st = get_str_array(g, "tokenizer.ggml.merges", 1u << 24, &d.n_merges, &merges, &mlens, err);
        if (st == FR_E_NOTFOUND)
            st = fr_err_set(err, FR_E_FORMAT,
                            "tokenizer.ggml.merges is missing (a gpt2 tokenizer "
                            "needs its BPE merges)");
        if (st)
            goto done;
        d.merges = merges;
        d.merge_lens = mlens;
    }

    if ((st = opt_id(g, "tokenizer.ggml.bos_token_id", &d.bos, err)) ||
        (st = opt_id(g, "tokenizer.ggml.eos_token_id", &d.eos, err)) ||
        (st = opt_id(g, "tokenizer.ggml.eot_token_id", &d.eot, err)) ||
        (st = opt_id(g, "tokenizer.ggml.eom_token_id", &d.eom, err)) ||
        (st = opt_id(g, "tokenizer.ggml.unknown_token_id", &d.unk, err)) ||
        (st = opt_id(g, "tokenizer.ggml.seperator_token_id", &d.sep, err)) ||
        (st = opt_id(g, "tokenizer.ggml.padding_token_id", &d.pad, err)) ||
        (st = opt_id(g, "tokenizer.ggml.mask_token_id", &d.mask, err)) ||
        (st = opt_bool(g, "tokenizer.ggml.add_bos_token", &d.add_bos, err)) ||
        (st = opt_bool(g, "tokenizer.ggml.add_eos_token", &d.add_eos, err)) ||
        (st = opt_bool(g, "tokenizer.ggml.add_space_prefix", &d.add_space_prefix, err)) ||
        (st = opt_bool(g, "tokenizer.ggml.remove_extra_whitespaces", &d.remove_extra_whitespaces,
                       err)))
        goto done;
    /* BERT vocabularies name their opening token [CLS], which plays BOS */
    if (d.bos == FR_TOKEN_DEFAULT && (st = opt_id(g, "tokenizer.ggml.cls_token_id", &d.bos, err)))
        goto done;

    st = fr_tokenizer_create(&d, out, err);
done:
    free(model);
    free(pre);
    free(name);
    free(tokens);
    free(tlens);
    free(merges);
    free(mlens);
    free(scores);
    free(types);
    return st;
}

fr_status fr_tokenizer_load(const char *path, fr_tokenizer **out, fr_err *err)
{
    *out = NULL;
    fr_gguf *g = NULL;
    fr_status st = fr_gguf_open(path, &g, err);
    if (st)
        return st;
    st = fr_tokenizer_from_gguf(g, out, err);
    if (st)
        fr_err_prefix(err, "%s", path);
    fr_gguf_free(g);
    return st;
}
