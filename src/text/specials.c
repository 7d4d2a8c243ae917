/*
 * specials.c - special tokens after loading, as llama.cpp's
 * llama_vocab::load decides them: the end-of-turn / end-of-message tokens
 * found by their text when the file does not name them, the
 * end-of-generation set (without gpt-oss's <|end|>), CONTROL forced on those, CONTROL tokens named
 * "unused" marked unused, the order in which special text is cut out of
 * input (longest first, then lower id), and Phi-3's RSTRIP rule.
 */
#include "text/tok_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Tokens llama.cpp recognises by text as end of turn / end of generation. */
static const char *const k_eot_names[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81"
    "of\xe2\x96\x81"
    "sentence\xef\xbd\x9c>",
    "<end_of_utterance>",
};
static const char *const k_eog_names[] = {
    "<|eot_id|>",    "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",        "<end_of_turn>",
    "<|endoftext|>", "<|eom_id|>", "<EOT>",   "_<EOT>",     "<|end_of_text|>", "<end_of_utterance>",
};

static int32_t find_cstr(const fr_tokenizer *t, const char *s)
{
    return fr_strmap_get(&t->text_map, s, strlen(s));
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

fr_status fr_tok_build_specials(fr_tokenizer *t, const char *name, fr_err *err)
{
    uint32_t n = t->n_tokens;
    if (t->eot == FR_TOKEN_NONE) {
        for (size_t i = 0; i < sizeof k_eot_names / sizeof *k_eot_names; i++) {
            int32_t id = find_cstr(t, k_eot_names[i]);
            if (id >= 0) {
                t->eot = id;
                break;
            }
        }
    }
    if (t->eom == FR_TOKEN_NONE)
        t->eom = find_cstr(t, "<|eom_id|>");
    if (t->eot >= 0)
        t->attr[t->eot] |= FR_ATTR_CONTROL;
    if (t->eom >= 0)
        t->attr[t->eom] |= FR_ATTR_CONTROL;

    /* CONTROL tokens whose text says "unused" are unused. */
    for (uint32_t i = 0; i < n; i++) {
        if (!(t->attr[i] & FR_ATTR_CONTROL))
            continue;
        uint32_t len;
        const char *s = fr_tok_text(t, (int32_t)i, &len);
        if (memmem(s, len, "unused", 6))
            t->attr[i] |= FR_ATTR_UNUSED;
    }

    size_t ne = sizeof k_eog_names / sizeof *k_eog_names + 3;
    t->eog = malloc(ne * sizeof *t->eog);
    if (!t->eog)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof k_eog_names / sizeof *k_eog_names; i++) {
        int32_t id = find_cstr(t, k_eog_names[i]);
        if (id >= 0) {
            t->eog[t->n_eog++] = id;
            t->attr[id] |= FR_ATTR_CONTROL;
        }
    }
    int32_t extra[3] = {t->eos, t->eot, t->eom};
    for (int i = 0; i < 3; i++)
        if (extra[i] >= 0)
            t->eog[t->n_eog++] = extra[i];
    qsort(t->eog, t->n_eog, sizeof *t->eog, cmp_i32);
    /* gpt-oss (harmony) ends a message with <|end|> and the answer with <|return|> or
     * <|call|>: there <|end|> does not end generation (llama.cpp does the same) */
    int32_t end_id = -1;
    if (find_cstr(t, "<|return|>") >= 0 && find_cstr(t, "<|call|>") >= 0)
        end_id = find_cstr(t, "<|end|>");
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->n_eog; i++)
        if ((k == 0 || t->eog[k - 1] != t->eog[i]) && t->eog[i] != end_id)
            t->eog[k++] = t->eog[i];
    t->n_eog = k;

    /* Special tokens, longest text first (ties: lower id first). */
    uint32_t ns = 0;
    for (uint32_t i = 0; i < n; i++)
        if (t->attr[i] & (FR_ATTR_CONTROL | FR_ATTR_USER_DEFINED | FR_ATTR_UNKNOWN))
            ns++;
    t->special = malloc((ns ? ns : 1) * sizeof *t->special);
    if (!t->special)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        if (t->attr[i] & (FR_ATTR_CONTROL | FR_ATTR_USER_DEFINED | FR_ATTR_UNKNOWN))
            t->special[t->n_special++] = (int32_t)i;
    /* insertion-stable order by length: a counting pass keeps it O(n + max_len) */
    {
        uint32_t maxl = 0;
        for (uint32_t i = 0; i < ns; i++)
            if (t->text_len[t->special[i]] > maxl)
                maxl = t->text_len[t->special[i]];
        uint32_t *cnt = calloc((size_t)maxl + 2, sizeof *cnt);
        int32_t *sorted = malloc((ns ? ns : 1) * sizeof *sorted);
        if (!cnt || !sorted) {
            free(cnt);
            free(sorted);
            return fr_err_set(err, FR_E_NOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < ns; i++)
            cnt[maxl - t->text_len[t->special[i]]]++;
        uint32_t acc = 0;
        for (uint32_t l = 0; l <= maxl; l++) {
            uint32_t c = cnt[l];
            cnt[l] = acc;
            acc += c;
        }
        for (uint32_t i = 0; i < ns; i++)
            sorted[cnt[maxl - t->text_len[t->special[i]]]++] = t->special[i];
        free(cnt);
        free(t->special);
        t->special = sorted;
    }

    /* Phi-3: special tokens strip the spaces that follow them (llama.cpp keys
     * this on general.name). */
    if (name) {
        char low[128];
        size_t l = strnlen(name, sizeof low - 1);
        for (size_t i = 0; i < l; i++)
            low[i] = (char)tolower((unsigned char)name[i]);
        low[l] = 0;
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (uint32_t i = 0; i < t->n_special; i++)
                t->attr[t->special[i]] |= FR_ATTR_RSTRIP;
            int32_t id = find_cstr(t, "</s>");
            if (id >= 0)
                t->attr[id] |= FR_ATTR_RSTRIP;
            const char *keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (int i = 0; i < 3; i++) {
                id = find_cstr(t, keep[i]);
                if (id >= 0)
                    t->attr[id] &= (uint16_t)~FR_ATTR_RSTRIP;
            }
        }
    }
    return FR_OK;
}
