/*
 * plan.c - which type each tensor gets when a model is quantized: the
 * targets (llama.cpp's llama_ftype values and names) and llama.cpp's
 * per-tensor rules for them, restated for the targets frugal produces.
 *
 * The rules are facts about llama.cpp's llama-quantize (llama_tensor_get_type
 * in src/llama-quant.cpp, no importance matrix), so that our Q4_K_M has the
 * tensor types a llama.cpp user expects:
 *
 *  - converted at all: names ending in "weight", 2+ dims, not a norm, not an
 *    MoE router (ffn_gate_inp), not position/token-type embeddings or a few
 *    small state-space / RWKV tensors; everything else is copied;
 *  - quantized targets: output.weight (token_embd.weight when there is no
 *    output.weight) -> Q6_K, or Q8_0 if the row length is not a multiple of
 *    the target's block or the target is Q8_0 or the arch is falcon;
 *  - attn_v: Q4_K_M/Q5_K_M -> Q6_K in "more bits" layers, Q4_K_S -> Q5_K in
 *    the first 4; 70B llama/qwen2 -> Q5_K instead of Q4_K; 8 experts -> Q8_0
 *    (also attn_k);
 *  - ffn_down: Q4_K_M/Q5_K_M -> Q6_K in "more bits" layers (falcon:
 *    Q6_K / Q5_K / Q4_K), Q4_K_S -> Q5_K in the first n_layer/8;
 *  - attn_output: Q4_K_S/M -> Q5_K for 8-expert models;
 *    attn_qkv: Q4_K_M -> Q5_K, Q5_K_M -> Q6_K;
 *  - "more bits" layers: i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2;
 *  - row length not a multiple of the type's block: Q4_K -> Q5_0,
 *    Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 if that does not fit either.
 *
 * Layer counters follow llama.cpp's tensor order (by layer number, then by
 * name), which matters when counters and layer numbers differ.
 *
 * Deliberate differences: llama.cpp gives up on a tensor whose row length is
 * not a multiple of 32 under a 32-value target (Q4_0...Q8_0); we store it as
 * F16 so that small models (rows of 172 in stories260K) still quantize.
 * Rejected: Q2_K/Q3_K mixes (their fallback is IQ4_NL, which frugal does not
 * produce).
 */
#include "quant/plan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ftype_info {
    fr_ftype ftype;
    const char *name; /* llama.cpp's name, as stored in file names */
    fr_type base;
    bool produce; /* frugal can write this target */
} ftype_info;

static const ftype_info ftypes[] = {
    {FR_FTYPE_ALL_F32, "F32", FR_TYPE_F32, true},
    {FR_FTYPE_F16, "F16", FR_TYPE_F16, true},
    {FR_FTYPE_BF16, "BF16", FR_TYPE_BF16, true},
    {FR_FTYPE_Q4_0, "Q4_0", FR_TYPE_Q4_0, true},
    {FR_FTYPE_Q4_1, "Q4_1", FR_TYPE_Q4_1, true},
    {FR_FTYPE_Q5_0, "Q5_0", FR_TYPE_Q5_0, true},
    {FR_FTYPE_Q5_1, "Q5_1", FR_TYPE_Q5_1, true},
    {FR_FTYPE_Q8_0, "Q8_0", FR_TYPE_Q8_0, true},
    {FR_FTYPE_Q2_K, "Q2_K", FR_TYPE_Q2_K, false},
    {FR_FTYPE_Q3_K_S, "Q3_K_S", FR_TYPE_Q3_K, false},
    {FR_FTYPE_Q3_K_M, "Q3_K_M", FR_TYPE_Q3_K, false},
    {FR_FTYPE_Q3_K_L, "Q3_K_L", FR_TYPE_Q3_K, false},
    {FR_FTYPE_Q4_K_S, "Q4_K_S", FR_TYPE_Q4_K, true},
    {FR_FTYPE_Q4_K_M, "Q4_K_M", FR_TYPE_Q4_K, true},
    {FR_FTYPE_Q5_K_S, "Q5_K_S", FR_TYPE_Q5_K, true},
    {FR_FTYPE_Q5_K_M, "Q5_K_M", FR_TYPE_Q5_K, true},
    {FR_FTYPE_Q6_K, "Q6_K", FR_TYPE_Q6_K, true},
    {FR_FTYPE_MXFP4_MOE, "MXFP4_MOE", FR_TYPE_Q8_0, true},
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

static const ftype_info *ftype_find(uint32_t f)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if ((uint32_t)ftypes[i].ftype == f)
            return &ftypes[i];
    return NULL;
}

static bool eq_nocase(const char *a, const char *b)
{
    while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
        a++;
        b++;
    }
    return !*a && !*b;
}

bool fr_ftype_from_name(const char *s, fr_ftype *out)
{
    if (!s)
        return false;
    /* Our short names for the K types are the "small" mixes. (llama.cpp's
     * own "Q4_K" alias means Q4_K_M; we say q4_k_m for that.) */
    if (eq_nocase(s, "q4_k")) {
        *out = FR_FTYPE_Q4_K_S;
        return true;
    }
    if (eq_nocase(s, "q5_k")) {
        *out = FR_FTYPE_Q5_K_S;
        return true;
    }
    for (size_t i = 0; i < N_FTYPES; i++) {
        if (ftypes[i].produce && eq_nocase(s, ftypes[i].name)) {
            *out = ftypes[i].ftype;
            return true;
        }
    }
    return false;
}

const char *fr_ftype_short_name(uint32_t f)
{
    const ftype_info *fi = ftype_find(f);
    return fi ? fi->name : "unknown";
}

fr_type fr_ftype_base_type(fr_ftype f)
{
    const ftype_info *fi = ftype_find((uint32_t)f);
    return fi ? fi->base : FR_TYPE_F32;
}

/* ---- model facts the rules need ----------------------------------------- */

typedef struct model_facts {
    char arch[64];
    int n_layer;  /* block_count, or 1 + the highest blk.N seen */
    int n_expert; /* expert_count, 0 if absent */
    bool is_70b;  /* llama.cpp's LLM_TYPE_70B, for llama and qwen2 */
    bool falcon;
    bool has_output;
    int n_attn_v; /* tensors named *attn_v.weight / attn_qkv / attn_kv_b */
} model_facts;

static bool contains(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Layer number of "blk.N...." names; -1 otherwise. */
static int layer_of(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0 || !isdigit((unsigned char)name[4]))
        return -1;
    char *end;
    long v = strtol(name + 4, &end, 10);
    if (*end != '.' || v < 0 || v > 1000000)
        return -1;
    return (int)v;
}

static uint32_t get_arch_u32(const fr_gguf *g, const char *arch, const char *key, uint32_t dflt)
{
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    uint32_t v;
    if (fr_gguf_get_u32(g, full, &v, NULL) != FR_OK)
        return dflt;
    return v;
}

static void read_facts(const fr_gguf *g, model_facts *m)
{
    memset(m, 0, sizeof *m);
    fr_gguf_str a;
    if (fr_gguf_get_str(g, "general.architecture", &a, NULL) == FR_OK) {
        size_t n = a.len < sizeof m->arch - 1 ? (size_t)a.len : sizeof m->arch - 1;
        memcpy(m->arch, a.ptr, n);
        m->arch[n] = '\0';
        if (memchr(m->arch, '\0', n)) /* embedded NUL: treat as unknown */
            m->arch[0] = '\0';
    }
    int max_layer = -1;
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const char *name = fr_gguf_tensor_at(g, i)->name;
        int l = layer_of(name);
        if (l > max_layer)
            max_layer = l;
        if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight") ||
            contains(name, "attn_kv_b.weight"))
            m->n_attn_v++;
        if (strcmp(name, "output.weight") == 0)
            m->has_output = true;
    }
    m->n_layer = (int)get_arch_u32(g, m->arch, "block_count", (uint32_t)(max_layer + 1));
    m->n_expert = (int)get_arch_u32(g, m->arch, "expert_count", 0);
    m->falcon = strcmp(m->arch, "falcon") == 0;
    if (m->n_layer == 80 && strcmp(m->arch, "qwen2") == 0)
        m->is_70b = true;
    if (m->n_layer == 80 && strcmp(m->arch, "llama") == 0) {
        /* 80 layers with grouped-query attention is Llama-2/3 70B (without
         * it, LLaMA-1 65B); head counts may be per-layer arrays, in which
         * case we do not guess. */
        uint32_t nh = get_arch_u32(g, m->arch, "attention.head_count", 0);
        uint32_t nkv = get_arch_u32(g, m->arch, "attention.head_count_kv", nh);
        m->is_70b = nh != 0 && nkv != nh;
    }
}

/* ---- the rules ---------------------------------------------------------- */

/* Whether llama-quantize converts this tensor at all. */
static bool converts(const fr_gguf_tensor *t)
{
    static const char *const keep[] = {
        "_norm.weight",
        "ffn_gate_inp.weight",
        "altup",
        "laurel",
        "per_layer_model_proj",
        "ssm_conv1d.weight",
        "shortconv.conv.weight",
        "time_mix_first.weight",
        "time_mix_w0.weight",
        "time_mix_w1.weight",
        "time_mix_w2.weight",
        "time_mix_v0.weight",
        "time_mix_v1.weight",
        "time_mix_v2.weight",
        "time_mix_a0.weight",
        "time_mix_a1.weight",
        "time_mix_a2.weight",
        "time_mix_g1.weight",
        "time_mix_g2.weight",
        "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight",
        "attn_rel_b.weight",
    };
    if (!ends_with(t->name, "weight") || t->n_dims < 2)
        return false;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (contains(t->name, keep[i]))
            return false;
    return strcmp(t->name, "position_embd.weight") != 0 &&
           strcmp(t->name, "token_types.weight") != 0;
}

static bool more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

typedef struct counters {
    int i_attn_v, i_ffn_down;
} counters;

static fr_type mix_type(const model_facts *m, counters *c, fr_ftype f, const fr_gguf_tensor *t,
                        bool *fallback)
{
    const char *name = t->name;
    fr_type ty = fr_ftype_base_type(f);
    int64_t nx = t->ne[0];
    bool km = f == FR_FTYPE_Q4_K_M || f == FR_FTYPE_Q5_K_M;

    if (f == FR_FTYPE_MXFP4_MOE) {
        /* llama.cpp: MoE tensors (3-D) MXFP4, everything else Q8_0 */
        ty = t->n_dims >= 3 && t->ne[2] > 1 ? FR_TYPE_MXFP4 : FR_TYPE_Q8_0;
    } else if (strcmp(name, "output.weight") == 0 ||
        (!m->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (m->falcon || nx % fr_type_get(ty)->block_size != 0)
            ty = FR_TYPE_Q8_0;
        else if (ty != FR_TYPE_Q8_0)
            ty = FR_TYPE_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0 ||
               strcmp(name, "per_layer_token_embd.weight") == 0) {
        /* the targets we produce keep the base type */
    } else if (contains(name, "attn_v.weight")) {
        if (km && more_bits(c->i_attn_v, m->n_attn_v))
            ty = FR_TYPE_Q6_K;
        else if (f == FR_FTYPE_Q4_K_S && c->i_attn_v < 4)
            ty = FR_TYPE_Q5_K;
        if (m->is_70b && (ty == FR_TYPE_Q3_K || ty == FR_TYPE_Q4_K))
            ty = FR_TYPE_Q5_K;
        if (m->n_expert == 8)
            ty = FR_TYPE_Q8_0;
        c->i_attn_v++;
    } else if (contains(name, "attn_k.weight")) {
        if (m->n_expert == 8)
            ty = FR_TYPE_Q8_0;
    } else if (contains(name, "attn_q.weight")) {
        /* only IQ targets change it */
    } else if (contains(name, "ffn_down")) {
        int i = c->i_ffn_down, n = m->n_layer;
        if (m->n_expert > 1) { /* experts are not one tensor per layer */
            int l = layer_of(name);
            if (l >= 0)
                i = l;
        }
        if (f == FR_FTYPE_Q4_K_M) {
            if (m->falcon)
                ty = i < n / 16 ? FR_TYPE_Q6_K : more_bits(i, n) ? FR_TYPE_Q5_K : FR_TYPE_Q4_K;
            else if (more_bits(i, n))
                ty = FR_TYPE_Q6_K;
        } else if (f == FR_FTYPE_Q5_K_M && more_bits(i, n)) {
            ty = FR_TYPE_Q6_K;
        } else if (f == FR_FTYPE_Q4_K_S && !m->falcon && i < n / 8) {
            ty = FR_TYPE_Q5_K;
        }
        c->i_ffn_down++;
    } else if (contains(name, "attn_output.weight")) {
        if (!m->falcon && m->n_expert == 8 && (f == FR_FTYPE_Q4_K_S || f == FR_FTYPE_Q4_K_M))
            ty = FR_TYPE_Q5_K;
    } else if (contains(name, "attn_qkv.weight")) {
        if (f == FR_FTYPE_Q4_K_M)
            ty = FR_TYPE_Q5_K;
        else if (f == FR_FTYPE_Q5_K_M)
            ty = FR_TYPE_Q6_K;
    }

    if (nx % fr_type_get(ty)->block_size != 0) {
        *fallback = true;
        switch (ty) {
        case FR_TYPE_Q4_K: ty = FR_TYPE_Q5_0; break;
        case FR_TYPE_Q5_K: ty = FR_TYPE_Q5_1; break;
        case FR_TYPE_Q6_K: ty = FR_TYPE_Q8_0; break;
        default: ty = FR_TYPE_F16; break;
        }
        if (nx % fr_type_get(ty)->block_size != 0)
            ty = FR_TYPE_F16;
    }
    return ty;
}

/* llama.cpp's processing order: by layer number (non-layer tensors first),
 * then by name. */
typedef struct order_item {
    int layer;
    const char *name;
    int64_t index;
} order_item;

static int order_cmp(const void *pa, const void *pb)
{
    const order_item *a = pa, *b = pb;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    return strcmp(a->name, b->name);
}

fr_status fr_quant_plan_ex(const fr_gguf *src, fr_ftype f, fr_type *types, bool *fallback,
                           fr_err *err)
{
    const ftype_info *fi = ftype_find((uint32_t)f);
    if (!fi || !fi->produce)
        return fr_err_set(err, FR_E_UNSUPPORTED, "cannot quantize to %s (file type %u)",
                          fr_ftype_short_name((uint32_t)f), (unsigned)f);
    int64_t n = fr_gguf_n_tensors(src);
    model_facts m;
    read_facts(src, &m);
    order_item *ord = calloc(n > 0 ? (size_t)n : 1, sizeof *ord);
    if (!ord)
        return fr_err_set(err, FR_E_NOMEM, "out of memory planning %lld tensors", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(src, i);
        ord[i] = (order_item){layer_of(t->name), t->name, i};
    }
    qsort(ord, (size_t)n, sizeof *ord, order_cmp);
    counters c = {0, 0};
    bool quantized_target = fr_type_get(fi->base)->quantized;
    for (int64_t k = 0; k < n; k++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(src, ord[k].index);
        fr_type ty = t->type;
        bool fb = false;
        if (converts(t))
            ty = quantized_target ? mix_type(&m, &c, f, t, &fb) : fi->base;
        types[ord[k].index] = ty;
        if (fallback)
            fallback[ord[k].index] = fb;
    }
    free(ord);
    return FR_OK;
}

fr_status fr_quant_plan(const fr_gguf *src, fr_ftype f, fr_type *types, fr_err *err)
{
    return fr_quant_plan_ex(src, f, types, NULL, err);
}
