/*
 * info.c - read-only facts about a tokenizer (include/frugal/tokenizer.h):
 * sizes, names, special ids, token texts, scores and types.
 */
#include "text/tok_internal.h"

const char *fr_tokenizer_supported_models(void)
{
    return "llama|gpt2";
}

const char *fr_tokenizer_supported_pre(void)
{
    return fr_pretok_names();
}

uint32_t fr_tokenizer_n_tokens(const fr_tokenizer *t)
{
    return t->n_tokens;
}
const char *fr_tokenizer_model(const fr_tokenizer *t)
{
    return t->model;
}
const char *fr_tokenizer_pre(const fr_tokenizer *t)
{
    return t->pre;
}
const char *fr_tokenizer_warning(const fr_tokenizer *t)
{
    return t->warning[0] ? t->warning : NULL;
}
int32_t fr_tokenizer_bos(const fr_tokenizer *t)
{
    return t->bos;
}
int32_t fr_tokenizer_eos(const fr_tokenizer *t)
{
    return t->eos;
}
int32_t fr_tokenizer_eot(const fr_tokenizer *t)
{
    return t->eot;
}
int32_t fr_tokenizer_eom(const fr_tokenizer *t)
{
    return t->eom;
}
int32_t fr_tokenizer_unk(const fr_tokenizer *t)
{
    return t->unk;
}
int32_t fr_tokenizer_sep(const fr_tokenizer *t)
{
    return t->sep;
}
int32_t fr_tokenizer_pad(const fr_tokenizer *t)
{
    return t->pad;
}
int32_t fr_tokenizer_nl(const fr_tokenizer *t)
{
    return t->nl;
}
bool fr_tokenizer_add_bos(const fr_tokenizer *t)
{
    return t->add_bos;
}
bool fr_tokenizer_add_eos(const fr_tokenizer *t)
{
    return t->add_eos;
}

bool fr_tokenizer_is_eog(const fr_tokenizer *t, int32_t id)
{
    uint32_t lo = 0, hi = t->n_eog;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->eog[mid] == id)
            return true;
        if (t->eog[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool fr_tokenizer_is_control(const fr_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens &&
           (t->attr[id] & (FR_ATTR_CONTROL | FR_ATTR_UNKNOWN));
}

const char *fr_tokenizer_token_text(const fr_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->text_len[id];
    return t->texts + t->text_off[id];
}

float fr_tokenizer_token_score(const fr_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens ? t->scores[id] : 0.0f;
}

fr_token_type fr_tokenizer_token_type(const fr_tokenizer *t, int32_t id)
{
    return id >= 0 && (uint32_t)id < t->n_tokens ? (fr_token_type)t->type[id] : FR_TOKEN_UNDEFINED;
}

int32_t fr_tokenizer_find(const fr_tokenizer *t, const char *text, size_t len)
{
    int32_t id = fr_strmap_get(&t->text_map, text, len);
    return id >= 0 ? id : FR_TOKEN_NONE;
}
