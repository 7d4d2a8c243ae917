/*
 * tlora.c - the trainable LoRA parameters (see tlora.h) and target
 * names.
 */
#include "tune/tlora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "model/model_impl.h"
#include "tune/rng.h"

static const char *const fr_target_names[FR_TARGET_COUNT] = {"q",    "k",  "v",   "o",
                                                             "gate", "up", "down"};
/* The tensor role of each target (names: model/arch/tensors.c). */
static const fr_tn fr_target_roles[FR_TARGET_COUNT] = {
    FR_T_ATTN_Q, FR_T_ATTN_K, FR_T_ATTN_V, FR_T_ATTN_OUT, FR_T_FFN_GATE, FR_T_FFN_UP, FR_T_FFN_DOWN};

const char *fr_tune_target_name(int t)
{
    return t >= 0 && t < FR_TARGET_COUNT ? fr_target_names[t] : NULL;
}

char *fr_tlora_name(int t, uint32_t l, char *buf, size_t size)
{
    return fr_tn_name(fr_target_roles[t], l, buf, size);
}

int fr_tlora_target_of(const char *name, uint32_t n_layer, uint32_t *l)
{
    fr_tn role;
    if (!fr_tn_parse(name, n_layer, &role, l))
        return -1;
    for (int t = 0; t < FR_TARGET_COUNT; t++)
        if (fr_target_roles[t] == role)
            return t;
    return -1;
}

void fr_tune_targets_str(unsigned targets, char *buf, size_t size)
{
    size_t o = 0;
    if (size)
        buf[0] = '\0';
    for (int t = 0; t < FR_TARGET_COUNT; t++)
        if (targets & (1u << t)) {
            int w = snprintf(buf + o, size > o ? size - o : 0, "%s%s", o ? "," : "",
                             fr_target_names[t]);
            if (w > 0)
                o += (size_t)w;
        }
}

fr_status fr_tune_parse_targets(const char *list, unsigned *out, fr_err *err)
{
    unsigned mask = 0;
    const char *p = list ? list : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        bool found = false;
        for (int t = 0; t < FR_TARGET_COUNT; t++)
            if (strlen(fr_target_names[t]) == n && memcmp(p, fr_target_names[t], n) == 0) {
                mask |= 1u << t;
                found = true;
            }
        if (n == 3 && memcmp(p, "all", 3) == 0) {
            mask |= FR_TARGETS_ALL;
            found = true;
        } else if (n == 4 && memcmp(p, "attn", 4) == 0) {
            mask |= (1u << FR_TARGET_Q) | (1u << FR_TARGET_K) | (1u << FR_TARGET_V) |
                    (1u << FR_TARGET_O);
            found = true;
        } else if (n == 3 && (memcmp(p, "mlp", 3) == 0 || memcmp(p, "ffn", 3) == 0)) {
            mask |= (1u << FR_TARGET_GATE) | (1u << FR_TARGET_UP) | (1u << FR_TARGET_DOWN);
            found = true;
        }
        if (!found)
            return fr_err_set(err, FR_E_INVALID,
                              "unknown LoRA target '%.*s' in \"%s\"; use a comma-separated list "
                              "of q,k,v,o,gate,up,down, or all, attn, mlp",
                              (int)(n > 40 ? 40 : n), p, list);
        p += n;
        if (*p == ',')
            p++;
    }
    if (!mask)
        return fr_err_set(err, FR_E_INVALID, "no LoRA targets given (e.g. --targets q,v)");
    *out = mask;
    return FR_OK;
}

const fr_weight *fr_tlora_weight(const void *layer, int t)
{
    if (t < 0 || t >= FR_TARGET_COUNT)
        return NULL;
    return fr_lw(layer, fr_target_roles[t]);
}

fr_status fr_tlora_create(const fr_model *m, uint32_t rank, float alpha, unsigned targets,
                             fr_tlora **out, fr_err *err)
{
    *out = NULL;
    const fr_hparams *hp = &m->hp;
    if (rank == 0 || rank > 4096)
        return fr_err_set(err, FR_E_INVALID, "LoRA rank %u is out of range (1..4096)", rank);
    if (!(alpha > 0.0f) || !isfinite(alpha))
        return fr_err_set(err, FR_E_INVALID, "LoRA alpha must be a positive number");
    if (!(targets & FR_TARGETS_ALL) || (targets & ~FR_TARGETS_ALL))
        return fr_err_set(err, FR_E_INVALID, "invalid LoRA target mask 0x%x", targets);
    fr_tlora *s = calloc(1, sizeof *s);
    if (!s)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    s->rank = rank;
    s->alpha = alpha;
    s->targets = targets;
    s->n_layer = hp->n_layer;
    s->slot = calloc((size_t)hp->n_layer * FR_TARGET_COUNT, sizeof *s->slot);
    if (!s->slot) {
        fr_tlora_free(s);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    int64_t off = 0;
    for (uint32_t l = 0; l < hp->n_layer; l++)
        for (int t = 0; t < FR_TARGET_COUNT; t++) {
            if (!(targets & (1u << t)))
                continue;
            const fr_weight *w = fr_tlora_weight(&m->layers[l], t);
            fr_tlora_slot *sl = &s->slot[(size_t)l * FR_TARGET_COUNT + (size_t)t];
            sl->on = true;
            sl->n_in = w->n_in;
            sl->n_out = w->n_out;
            sl->a_off = off;
            off += (int64_t)rank * w->n_in;
            sl->b_off = off;
            off += w->n_out * (int64_t)rank;
        }
    s->n_params = off;
    size_t bytes;
    if (fr_mul_size((size_t)off, sizeof(float), &bytes)) {
        fr_tlora_free(s);
        return fr_err_set(err, FR_E_NOMEM, "LoRA parameter count overflows");
    }
    s->param = calloc((size_t)off, sizeof(float));
    s->grad = calloc((size_t)off, sizeof(float));
    if (!s->param || !s->grad) {
        fr_tlora_free(s);
        return fr_err_set(err, FR_E_NOMEM,
                          "out of memory for %lld LoRA parameters (rank %u); use a smaller "
                          "--rank or fewer --targets", (long long)off, rank);
    }
    *out = s;
    return FR_OK;
}

void fr_tlora_free(fr_tlora *s)
{
    if (!s)
        return;
    free(s->param);
    free(s->grad);
    free(s->slot);
    free(s);
}

void fr_tlora_init(fr_tlora *s, uint64_t *rng)
{
    memset(s->param, 0, (size_t)s->n_params * sizeof(float));
    memset(s->grad, 0, (size_t)s->n_params * sizeof(float));
    for (uint32_t l = 0; l < s->n_layer; l++)
        for (int t = 0; t < FR_TARGET_COUNT; t++) {
            const fr_tlora_slot *sl = fr_tlora_slot_at(s, l, t);
            if (!sl->on)
                continue;
            float bound = 1.0f / sqrtf((float)sl->n_in);
            float *A = s->param + sl->a_off;
            for (int64_t i = 0; i < (int64_t)s->rank * sl->n_in; i++)
                A[i] = (2.0f * fr_rng_unit(rng) - 1.0f) * bound;
        }
}

bool fr_tlora_pair(fr_tlora *s, uint32_t l, int t, fr_lora_ref *out)
{
    const fr_tlora_slot *sl = fr_tlora_slot_at(s, l, t);
    if (!sl->on)
        return false;
    out->A = s->param + sl->a_off;
    out->B = s->param + sl->b_off;
    out->dA = s->grad + sl->a_off;
    out->dB = s->grad + sl->b_off;
    out->n_in = sl->n_in;
    out->n_out = sl->n_out;
    out->r = s->rank;
    out->scale = s->alpha / (float)s->rank;
    return true;
}
