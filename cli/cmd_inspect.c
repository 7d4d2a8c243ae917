/*
 * cmd_inspect.c - `frugal inspect MODEL.gguf [--tensors] [--metadata]
 * [--json] [--ctx N]`: what is inside a GGUF file and the RAM it needs.
 *
 * Works on any GGUF the reader accepts: full models, vocab-only files (no
 * tensors), LoRA adapters (general.type = adapter: tensors come in
 * NAME.lora_a / NAME.lora_b pairs) and bare tensor containers such as the
 * quantization test files. Everything shown is derived from the metadata
 * and tensor infos; tensor data is never read.
 *
 * Text from the file (names, token texts, templates) is untrusted: human
 * output escapes control bytes so a hostile file cannot drive the terminal,
 * and JSON output replaces invalid UTF-8, which JSON cannot carry.
 */
#include "cli.h"

#include "gguf/summary.h"

#include <frugal/gguf.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSPECT_DEFAULT_CTX 4096

typedef struct type_stat {
    uint64_t count, bytes, params;
} type_stat;

typedef struct inspect {
    const fr_gguf *g;
    const char *path;
    fr_hparams hp;
    char gtype[32];    /* general.type, "" when absent */
    const char *kind;  /* "model", "adapter", "vocab", "tensors" */
    uint64_t n_params; /* sum of tensor elements */
    uint64_t t_bytes;  /* sum of tensor data bytes */
    type_stat per_type[FR_TYPE_COUNT_];
    bool has_ftype;
    uint32_t ftype;
    uint64_t n_ctx;
    bool ctx_given;
    fr_mem_estimate mem;
} inspect;

typedef struct special_tok {
    const char *label, *key;
    bool always; /* shown even when absent */
} special_tok;

static const special_tok specials[] = {
    {"bos", "tokenizer.ggml.bos_token_id", true},
    {"eos", "tokenizer.ggml.eos_token_id", true},
    {"unk", "tokenizer.ggml.unknown_token_id", true},
    {"pad", "tokenizer.ggml.padding_token_id", true},
    {"eot", "tokenizer.ggml.eot_token_id", true},
    {"eom", "tokenizer.ggml.eom_token_id", false},
    {"sep", "tokenizer.ggml.seperator_token_id", false}, /* sic: llama.cpp's spelling */
    {"cls", "tokenizer.ggml.cls_token_id", false},
    {"mask", "tokenizer.ggml.mask_token_id", false},
};

/* ---- small formatting helpers ------------------------------------------- */

/* Prints untrusted text: printable ASCII and UTF-8 as is, control bytes
 * escaped; at most max bytes (cut on a character boundary, "..." added). */
static void put_text(FILE *f, const char *p, uint64_t n, uint64_t max)
{
    uint64_t i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (i >= max && (c & 0xC0) != 0x80) {
            fputs("...", f);
            return;
        }
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\\' || c == '"')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

/* Shortest decimal that reads back as the same float32. */
static double float_shortest(float f, char *buf, size_t n)
{
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, n, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return strtod(buf, NULL);
}

static void human_count(uint64_t n, char *buf, size_t size)
{
    if (n < 1000)
        snprintf(buf, size, "%" PRIu64, n);
    else if (n < 1000000)
        snprintf(buf, size, "%.2f K", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(buf, size, "%.2f M", (double)n / 1e6);
    else
        snprintf(buf, size, "%.2f B", (double)n / 1e9);
}

static const char *hbytes(uint64_t n, char *buf, size_t size)
{
    cli_human_bytes(n, buf, size);
    return buf;
}

static void shape_text(const fr_gguf_tensor *t, char *buf, size_t size)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, size, "[");
    for (uint32_t d = 0; d < t->n_dims && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

/* ---- gathering ---------------------------------------------------------- */

static void gather(inspect *in)
{
    const fr_gguf *g = in->g;
    fr_hparams_read(g, &in->hp);
    fr_gguf_str s;
    if (fr_gguf_get_str(g, "general.type", &s, NULL) == FR_OK && s.len < sizeof in->gtype &&
        !memchr(s.ptr, 0, s.len)) {
        memcpy(in->gtype, s.ptr, s.len);
        in->gtype[s.len] = '\0';
    }
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        uint64_t nel = 1;
        for (int d = 0; d < FR_GGUF_MAX_DIMS; d++)
            nel *= (uint64_t)t->ne[d];
        in->n_params += nel;
        in->t_bytes += t->nbytes;
        type_stat *ts = &in->per_type[t->type];
        ts->count++;
        ts->bytes += t->nbytes;
        ts->params += nel;
    }
    in->has_ftype = fr_gguf_get_u32(g, "general.file_type", &in->ftype, NULL) == FR_OK;
    fr_gguf_arr toks;
    bool has_vocab = fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == FR_OK;
    if (strcmp(in->gtype, "adapter") == 0)
        in->kind = "adapter";
    else if (fr_gguf_n_tensors(g) == 0 && has_vocab)
        in->kind = "vocab";
    else if (in->hp.n_layer > 0)
        in->kind = "model";
    else
        in->kind = "tensors";
    if (!in->ctx_given)
        in->n_ctx = (in->hp.n_ctx_train > 0 && in->hp.n_ctx_train < INSPECT_DEFAULT_CTX)
                        ? (uint64_t)in->hp.n_ctx_train
                        : INSPECT_DEFAULT_CTX;
    fr_mem_estimate_compute(&in->hp, in->t_bytes, in->n_ctx, &in->mem);
}

/* Token id of a special-token key: false when absent; *id = -1 for "none"
 * (llama.cpp stores -1 as uint32 4294967295). */
static bool special_id(const fr_gguf *g, const char *key, int64_t *id)
{
    int64_t i = fr_gguf_find_key(g, key);
    if (i < 0)
        return false;
    uint64_t u;
    int64_t v;
    if (fr_gguf_kv_get_u64(g, i, &u, NULL) == FR_OK)
        *id = u >= UINT32_MAX || u > INT64_MAX ? -1 : (int64_t)u;
    else if (fr_gguf_kv_get_i64(g, i, &v, NULL) == FR_OK)
        *id = v < 0 ? -1 : v;
    else
        *id = -1;
    return true;
}

/* The LoRA partner of tensor a ("X.lora_a" -> "X.lora_b"), or NULL. */
static const fr_gguf_tensor *lora_partner(const fr_gguf *g, const fr_gguf_tensor *a)
{
    size_t n = strlen(a->name);
    if (n < 7 || strcmp(a->name + n - 7, ".lora_a") != 0)
        return NULL;
    char name[80];
    memcpy(name, a->name, n + 1);
    name[n - 1] = 'b';
    return fr_gguf_find_tensor(g, name);
}

/* ---- human output ------------------------------------------------------- */

static void print_value(FILE *f, const fr_gguf *g, int64_t i, uint64_t max_text)
{
    int64_t v;
    uint64_t u;
    double d;
    bool b;
    fr_gguf_str s;
    fr_gguf_arr a;
    char buf[64];
    fr_gguf_type t = fr_gguf_kv_type(g, i);
    if (fr_gguf_kv_get_i64(g, i, &v, NULL) == FR_OK)
        fprintf(f, "%" PRId64, v);
    else if (fr_gguf_kv_get_u64(g, i, &u, NULL) == FR_OK)
        fprintf(f, "%" PRIu64, u);
    else if (t == FR_GGUF_FLOAT32 && fr_gguf_kv_get_f64(g, i, &d, NULL) == FR_OK) {
        float_shortest((float)d, buf, sizeof buf);
        fputs(buf, f);
    } else if (fr_gguf_kv_get_f64(g, i, &d, NULL) == FR_OK)
        fprintf(f, "%.15g", d);
    else if (fr_gguf_kv_get_bool(g, i, &b, NULL) == FR_OK)
        fputs(b ? "true" : "false", f);
    else if (fr_gguf_kv_get_str(g, i, &s, NULL) == FR_OK) {
        fputc('"', f);
        put_text(f, s.ptr, s.len, max_text);
        fputc('"', f);
    } else if (fr_gguf_kv_get_arr(g, i, &a, NULL) == FR_OK)
        fprintf(f, "[%s x %" PRIu64 "]", fr_gguf_type_name(a.type), a.n);
}

static void print_tensor_types(const inspect *in)
{
    char b1[32], b2[32];
    printf("\ntensor types\n  %-8s %8s %12s %12s %7s\n", "type", "tensors", "parameters", "bytes",
           "share");
    for (uint32_t t = 0; t < FR_TYPE_COUNT_; t++) {
        const type_stat *ts = &in->per_type[t];
        if (!ts->count)
            continue;
        human_count(ts->params, b1, sizeof b1);
        printf("  %-8s %8" PRIu64 " %12s %12s %6.1f%%\n", fr_type_name(t), ts->count, b1,
               hbytes(ts->bytes, b2, sizeof b2),
               in->t_bytes ? 100.0 * (double)ts->bytes / (double)in->t_bytes : 0.0);
    }
    human_count(in->n_params, b1, sizeof b1);
    printf("  %-8s %8" PRId64 " %12s %12s\n", "total", fr_gguf_n_tensors(in->g), b1,
           hbytes(in->t_bytes, b2, sizeof b2));
}

static void print_hparams(const inspect *in)
{
    const fr_gguf *g = in->g;
    size_t alen = strlen(in->hp.arch), w = 0;
    if (!alen)
        return;
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++) {
        const char *k = fr_gguf_key(g, i);
        if (strncmp(k, in->hp.arch, alen) == 0 && k[alen] == '.' && strlen(k + alen + 1) > w)
            w = strlen(k + alen + 1);
    }
    if (!w)
        return;
    if (w > 44)
        w = 44;
    printf("\nhyper-parameters (%s.*)\n", in->hp.arch);
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++) {
        const char *k = fr_gguf_key(g, i);
        if (strncmp(k, in->hp.arch, alen) != 0 || k[alen] != '.')
            continue;
        printf("  %-*s  ", (int)w, k + alen + 1);
        print_value(stdout, g, i, 60);
        putchar('\n');
    }
    if (in->hp.n_vocab > 0 && fr_hparams_arch_int(g, in->hp.arch, "vocab_size") < 0)
        printf("  %-*s  %" PRId64 " (from the tokenizer)\n", (int)w, "vocab_size", in->hp.n_vocab);
}

static void print_token(const fr_gguf_arr *toks, int64_t id)
{
    fr_gguf_str s;
    if (toks && id >= 0 && fr_gguf_arr_str(toks, (uint64_t)id, &s) == FR_OK) {
        printf("  \"");
        put_text(stdout, s.ptr, s.len, 40);
        putchar('"');
    } else if (toks && id >= 0) {
        printf("  (out of range: the vocabulary has %" PRIu64 " tokens)", toks->n);
    }
}

static void print_tokenizer(const inspect *in)
{
    const fr_gguf *g = in->g;
    fr_gguf_str s;
    fr_gguf_arr toks, merges;
    bool has_toks = fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == FR_OK &&
                    toks.type == FR_GGUF_STRING;
    bool has_model = fr_gguf_get_str(g, "tokenizer.ggml.model", &s, NULL) == FR_OK;
    if (!has_toks && !has_model)
        return;
    printf("\ntokenizer\n");
    printf("  %-14s ", "model");
    if (has_model)
        put_text(stdout, s.ptr, s.len, 40);
    else
        fputs("(not set)", stdout);
    printf("\n  %-14s ", "pre-tokenizer");
    if (fr_gguf_get_str(g, "tokenizer.ggml.pre", &s, NULL) == FR_OK)
        put_text(stdout, s.ptr, s.len, 40);
    else
        fputs("(not set: default)", stdout);
    printf("\n  %-14s %" PRIu64 " tokens", "vocabulary", has_toks ? toks.n : 0);
    if (fr_gguf_get_arr(g, "tokenizer.ggml.merges", &merges, NULL) == FR_OK)
        printf(", %" PRIu64 " merges", merges.n);
    putchar('\n');
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        int64_t id;
        bool present = special_id(g, specials[k].key, &id);
        if (!present && !specials[k].always)
            continue;
        printf("  %-14s ", specials[k].label);
        if (!present)
            fputs("(not set)", stdout);
        else if (id < 0)
            fputs("none", stdout);
        else {
            printf("%" PRId64, id);
            print_token(has_toks ? &toks : NULL, id);
        }
        putchar('\n');
    }
    bool b;
    if (fr_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, NULL) == FR_OK)
        printf("  %-14s %s\n", "add bos", b ? "yes" : "no");
    if (fr_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b, NULL) == FR_OK)
        printf("  %-14s %s\n", "add eos", b ? "yes" : "no");
    printf("  %-14s ", "chat template");
    if (fr_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) == FR_OK) {
        uint64_t line = 0;
        while (line < s.len && s.ptr[line] != '\n')
            line++;
        printf("yes (%" PRIu64 " bytes), first line: ", s.len);
        put_text(stdout, s.ptr, line, 60);
        putchar('\n');
    } else {
        puts("no");
    }
}

static void print_adapter(const inspect *in, bool all)
{
    const fr_gguf *g = in->g;
    fr_gguf_str s;
    float alpha;
    printf("\nadapter\n  %-14s ", "type");
    if (fr_gguf_get_str(g, "adapter.type", &s, NULL) == FR_OK)
        put_text(stdout, s.ptr, s.len, 40);
    else
        fputs("(not set)", stdout);
    printf("\n  %-14s ", "lora alpha");
    char buf[32];
    if (fr_gguf_get_f32(g, "adapter.lora.alpha", &alpha, NULL) == FR_OK) {
        float_shortest(alpha, buf, sizeof buf);
        fputs(buf, stdout);
    } else {
        fputs("(not set)", stdout);
    }
    int64_t pairs = 0, shown = 0, rmin = INT64_MAX, rmax = 0;
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *a = fr_gguf_tensor_at(g, i), *b = lora_partner(g, a);
        if (!b)
            continue;
        pairs++;
        int64_t r = a->n_dims >= 2 ? a->ne[1] : 1;
        rmin = r < rmin ? r : rmin;
        rmax = r > rmax ? r : rmax;
    }
    printf("\n  %-14s %" PRId64, "lora pairs", pairs);
    if (pairs)
        printf(rmin == rmax ? ", rank %" PRId64 : ", rank %" PRId64 "..%" PRId64, rmin, rmax);
    putchar('\n');
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *a = fr_gguf_tensor_at(g, i), *b = lora_partner(g, a);
        if (!b)
            continue;
        if (!all && shown == 8) {
            printf("    ... %" PRId64 " more (--tensors lists all)\n", pairs - shown);
            break;
        }
        char sa[64], sb[64];
        shape_text(a, sa, sizeof sa);
        shape_text(b, sb, sizeof sb);
        printf("    %.*s  A %s %s  B %s %s\n", (int)(strlen(a->name) - 7), a->name,
               fr_type_name(a->type), sa, fr_type_name(b->type), sb);
        shown++;
    }
}

static void print_memory(const inspect *in)
{
    const fr_hparams *hp = &in->hp;
    const fr_mem_estimate *m = &in->mem;
    char b[32];
    if (strcmp(in->kind, "vocab") == 0) {
        printf("\nmemory: not applicable (vocab-only file: no weights)\n");
        return;
    }
    if (strcmp(in->kind, "adapter") == 0) {
        printf("\nmemory\n  %-18s %10s  add this to the base model's estimate\n", "adapter tensors",
               hbytes(m->weights, b, sizeof b));
        return;
    }
    printf("\nmemory at context %" PRIu64 " (estimate)\n", m->n_ctx);
    printf("  %-18s %10s  tensor data, mapped from the file\n", "weights",
           hbytes(m->weights, b, sizeof b));
    if (m->has_kv && hp->head_dim_k == hp->head_dim_v)
        printf("  %-18s %10s  2 (K,V) x %" PRId64 " layers x %" PRIu64 " positions x %" PRId64
               " kv heads x %" PRId64 " dims x 2 B\n",
               "KV cache (f16)", hbytes(m->kv_cache, b, sizeof b), hp->n_layer, m->n_ctx,
               hp->n_head_kv, hp->head_dim_k);
    else if (m->has_kv)
        printf("  %-18s %10s  %" PRId64 " layers x %" PRIu64 " positions x %" PRId64
               " kv heads x (%" PRId64 " K + %" PRId64 " V dims) x 2 B\n",
               "KV cache (f16)", hbytes(m->kv_cache, b, sizeof b), hp->n_layer, m->n_ctx,
               hp->n_head_kv, hp->head_dim_k, hp->head_dim_v);
    else
        printf("  %-18s %10s  (the file lacks %s.block_count / attention.head_count)\n",
               "KV cache (f32)", "unknown", hp->arch[0] ? hp->arch : "<arch>");
    if (m->has_work)
        printf("  %-18s %10s  batch 1: activations, attention scores (%" PRId64 " heads x %" PRIu64
               "), logits (%" PRId64 ") x 4 B\n",
               "working buffers", hbytes(m->work, b, sizeof b), hp->n_head, m->n_ctx, hp->n_vocab);
    else
        printf("  %-18s %10s\n", "working buffers", "unknown");
    printf("  %-18s %10s%s\n", "total", hbytes(m->total, b, sizeof b),
           m->has_kv && m->has_work ? "" : "  (lower bound)");
    if (hp->n_ctx_train > 0 && m->n_ctx > (uint64_t)hp->n_ctx_train)
        printf("  note: context %" PRIu64 " is beyond the training context %" PRId64 "\n", m->n_ctx,
               hp->n_ctx_train);
}

static void print_tensors(const inspect *in)
{
    const fr_gguf *g = in->g;
    size_t w = 4;
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        size_t n = strlen(fr_gguf_tensor_at(g, i)->name);
        w = n > w ? n : w;
    }
    printf("\ntensors\n  %-*s  %-6s %-24s %12s %12s\n", (int)w, "name", "type", "shape", "bytes",
           "file offset");
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        char shape[96], b[32];
        shape_text(t, shape, sizeof shape);
        printf("  ");
        put_text(stdout, t->name, strlen(t->name), 64);
        printf("%*s  %-6s %-24s %12s %12" PRIu64 "\n", (int)(w - strlen(t->name)), "",
               fr_type_name(t->type), shape, hbytes(t->nbytes, b, sizeof b),
               fr_gguf_data_offset(g) + t->offset);
    }
}

static void print_metadata(const inspect *in)
{
    const fr_gguf *g = in->g;
    printf("\nmetadata (%" PRId64 " keys)\n", fr_gguf_n_kv(g));
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++) {
        const char *k = fr_gguf_key(g, i);
        printf("  ");
        put_text(stdout, k, strlen(k), 60);
        printf("  (%s)  ", fr_gguf_type_name(fr_gguf_kv_type(g, i)));
        print_value(stdout, g, i, 60);
        putchar('\n');
    }
}

static void print_human(const inspect *in, bool tensors, bool metadata)
{
    const fr_gguf *g = in->g;
    char b[32], c[32];
    fr_gguf_str s;
    printf("%s\n", in->path);
    printf("  %-14s GGUF v%" PRIu32 ", %s, alignment %" PRIu32 ", %" PRId64 " keys, %" PRId64
           " tensors\n",
           "format", fr_gguf_version(g), hbytes(fr_gguf_file_size(g), b, sizeof b),
           fr_gguf_alignment(g), fr_gguf_n_kv(g), fr_gguf_n_tensors(g));
    printf("  %-14s %s%s%s%s\n", "kind", in->kind, in->gtype[0] ? " (general.type = " : "",
           in->gtype, in->gtype[0] ? ")" : "");
    printf("  %-14s %s\n", "architecture", in->hp.arch[0] ? in->hp.arch : "(not set)");
    printf("  %-14s ", "name");
    if (fr_gguf_get_str(g, "general.name", &s, NULL) == FR_OK)
        put_text(stdout, s.ptr, s.len, 60);
    else
        fputs("(not set)", stdout);
    human_count(in->n_params, c, sizeof c);
    printf("\n  %-14s %s (%" PRIu64 ")\n", "parameters", c, in->n_params);
    printf("  %-14s ", "file type");
    if (in->has_ftype) {
        const char *fn = fr_gguf_ftype_name(in->ftype);
        printf("%s (%" PRIu32 ")%s\n", fn ? fn : "unknown", in->ftype,
               (in->ftype & 1024u) ? ", guessed" : "");
    } else {
        puts("(not set)");
    }
    if (fr_gguf_n_tensors(g))
        print_tensor_types(in);
    print_hparams(in);
    print_tokenizer(in);
    if (strcmp(in->kind, "adapter") == 0)
        print_adapter(in, tensors);
    print_memory(in);
    if (metadata)
        print_metadata(in);
    if (tensors && fr_gguf_n_tensors(g))
        print_tensors(in);
}

/* ---- JSON output -------------------------------------------------------- */

/* A JSON string from untrusted bytes: invalid UTF-8 becomes U+FFFD. */
static json_t *js_strn(const char *p, uint64_t n)
{
    json_t *j = json_stringn(p, (size_t)n);
    if (j)
        return j;
    char *buf = malloc((size_t)n * 3 + 1);
    if (!buf)
        return json_null();
    size_t k = 0;
    for (uint64_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + (uint64_t)len <= n;
        for (int t = 1; ok && t < len; t++)
            ok = ((unsigned char)p[i + (uint64_t)t] & 0xC0) == 0x80;
        if (ok && len > 1) {
            json_t *probe = json_stringn(p + i, (size_t)len); /* overlong/surrogates */
            ok = probe != NULL;
            json_decref(probe);
        }
        if (ok) {
            memcpy(buf + k, p + i, (size_t)len);
            k += (size_t)len;
            i += (uint64_t)len;
        } else {
            memcpy(buf + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    j = json_stringn(buf, k);
    free(buf);
    return j ? j : json_null();
}

static json_t *js_u64(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static json_t *js_value(const fr_gguf *g, int64_t i)
{
    int64_t v;
    uint64_t u;
    double d;
    bool b;
    fr_gguf_str s;
    fr_gguf_arr a;
    char buf[64];
    fr_gguf_type t = fr_gguf_kv_type(g, i);
    if (fr_gguf_kv_get_i64(g, i, &v, NULL) == FR_OK)
        return json_integer((json_int_t)v);
    if (fr_gguf_kv_get_u64(g, i, &u, NULL) == FR_OK)
        return js_u64(u);
    if (fr_gguf_kv_get_f64(g, i, &d, NULL) == FR_OK) {
        if (t == FR_GGUF_FLOAT32)
            d = float_shortest((float)d, buf, sizeof buf);
        return isfinite(d) ? json_real(d) : json_null();
    }
    if (fr_gguf_kv_get_bool(g, i, &b, NULL) == FR_OK)
        return json_boolean(b);
    if (fr_gguf_kv_get_str(g, i, &s, NULL) == FR_OK)
        return js_strn(s.ptr, s.len);
    if (fr_gguf_kv_get_arr(g, i, &a, NULL) == FR_OK)
        return json_pack("{s:s, s:o}", "array", fr_gguf_type_name(a.type), "length", js_u64(a.n));
    return json_null();
}

static json_t *js_tensor(const fr_gguf *g, const fr_gguf_tensor *t)
{
    json_t *shape = json_array();
    for (uint32_t d = 0; d < t->n_dims; d++)
        json_array_append_new(shape, json_integer(t->ne[d]));
    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o}", "name", js_strn(t->name, strlen(t->name)),
                     "type", fr_type_name(t->type), "shape", shape, "bytes", js_u64(t->nbytes),
                     "offset", js_u64(t->offset), "file_offset",
                     js_u64(fr_gguf_data_offset(g) + t->offset));
}

static json_t *js_opt_int(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *js_tokenizer(const inspect *in)
{
    const fr_gguf *g = in->g;
    fr_gguf_str s;
    fr_gguf_arr toks, merges;
    bool has_toks = fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == FR_OK &&
                    toks.type == FR_GGUF_STRING;
    bool has_model = fr_gguf_get_str(g, "tokenizer.ggml.model", &s, NULL) == FR_OK;
    if (!has_toks && !has_model)
        return json_null();
    json_t *j = json_object();
    json_object_set_new(j, "model", has_model ? js_strn(s.ptr, s.len) : json_null());
    json_object_set_new(j, "pre",
                        fr_gguf_get_str(g, "tokenizer.ggml.pre", &s, NULL) == FR_OK
                            ? js_strn(s.ptr, s.len)
                            : json_null());
    json_object_set_new(j, "vocab_size", has_toks ? js_u64(toks.n) : json_null());
    json_object_set_new(j, "merges",
                        fr_gguf_get_arr(g, "tokenizer.ggml.merges", &merges, NULL) == FR_OK
                            ? js_u64(merges.n)
                            : json_null());
    json_t *sp = json_object();
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        int64_t id;
        if (!special_id(g, specials[k].key, &id)) {
            if (specials[k].always)
                json_object_set_new(sp, specials[k].label, json_null());
            continue;
        }
        json_t *t = json_object();
        json_object_set_new(t, "id", id >= 0 ? json_integer(id) : json_null());
        fr_gguf_str ts;
        json_object_set_new(
            t, "text",
            (has_toks && id >= 0 && fr_gguf_arr_str(&toks, (uint64_t)id, &ts) == FR_OK)
                ? js_strn(ts.ptr, ts.len)
                : json_null());
        json_object_set_new(sp, specials[k].label, t);
    }
    json_object_set_new(j, "special", sp);
    json_t *ct = json_object();
    bool has_ct = fr_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) == FR_OK;
    json_object_set_new(ct, "present", json_boolean(has_ct));
    if (has_ct) {
        uint64_t line = 0;
        while (line < s.len && s.ptr[line] != '\n')
            line++;
        json_object_set_new(ct, "bytes", js_u64(s.len));
        json_object_set_new(ct, "first_line", js_strn(s.ptr, line));
    }
    json_object_set_new(j, "chat_template", ct);
    return j;
}

static json_t *js_adapter(const inspect *in)
{
    const fr_gguf *g = in->g;
    fr_gguf_str s;
    float alpha;
    json_t *j = json_object();
    json_object_set_new(j, "type",
                        fr_gguf_get_str(g, "adapter.type", &s, NULL) == FR_OK
                            ? js_strn(s.ptr, s.len)
                            : json_null());
    char buf[32];
    json_object_set_new(j, "lora_alpha",
                        fr_gguf_get_f32(g, "adapter.lora.alpha", &alpha, NULL) == FR_OK
                            ? json_real(float_shortest(alpha, buf, sizeof buf))
                            : json_null());
    json_t *pairs = json_array();
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *a = fr_gguf_tensor_at(g, i), *b = lora_partner(g, a);
        if (!b)
            continue;
        json_array_append_new(pairs, json_pack("{s:o, s:I, s:o, s:o}", "base",
                                               js_strn(a->name, strlen(a->name) - 7), "rank",
                                               (json_int_t)(a->n_dims >= 2 ? a->ne[1] : 1), "a",
                                               js_tensor(g, a), "b", js_tensor(g, b)));
    }
    json_object_set_new(j, "pairs", pairs);
    return j;
}

static json_t *js_memory(const inspect *in)
{
    const fr_mem_estimate *m = &in->mem;
    if (strcmp(in->kind, "vocab") == 0)
        return json_null();
    json_t *j = json_object();
    json_object_set_new(j, "context", js_u64(m->n_ctx));
    json_object_set_new(j, "weights_bytes", js_u64(m->weights));
    if (strcmp(in->kind, "adapter") == 0) {
        json_object_set_new(j, "note", json_string("adapter: add to the base model's estimate"));
        return j;
    }
    json_object_set_new(j, "kv_cache_bytes", m->has_kv ? js_u64(m->kv_cache) : json_null());
    json_object_set_new(j, "kv_cache_type", json_string("f32"));
    json_object_set_new(j, "work_bytes", m->has_work ? js_u64(m->work) : json_null());
    json_object_set_new(j, "total_bytes", js_u64(m->total));
    json_object_set_new(j, "complete", json_boolean(m->has_kv && m->has_work));
    json_object_set_new(j, "method",
                        json_string("weights = tensor bytes (mmapped); KV = n_layer * ctx * "
                                    "n_head_kv * (head_dim_k + head_dim_v) * 4; work (batch 1) = "
                                    "4 * (3 n_embd + 2 n_ff + n_head head_dim_k + n_head_kv "
                                    "(head_dim_k + head_dim_v) + n_head ctx + n_vocab)"));
    return j;
}

static json_t *build_json(const inspect *in, bool tensors)
{
    const fr_gguf *g = in->g;
    const fr_hparams *hp = &in->hp;
    fr_gguf_str s;
    json_t *root = json_object();
    json_object_set_new(root, "file", js_strn(in->path, strlen(in->path)));
    json_object_set_new(root, "file_bytes", js_u64(fr_gguf_file_size(g)));
    json_object_set_new(root, "gguf_version", json_integer(fr_gguf_version(g)));
    json_object_set_new(root, "alignment", json_integer(fr_gguf_alignment(g)));
    json_object_set_new(root, "data_offset", js_u64(fr_gguf_data_offset(g)));
    json_object_set_new(root, "kind", json_string(in->kind));
    json_object_set_new(root, "general_type", in->gtype[0] ? json_string(in->gtype) : json_null());
    json_object_set_new(root, "architecture",
                        hp->arch[0] ? js_strn(hp->arch, strlen(hp->arch)) : json_null());
    json_object_set_new(root, "name",
                        fr_gguf_get_str(g, "general.name", &s, NULL) == FR_OK
                            ? js_strn(s.ptr, s.len)
                            : json_null());
    json_object_set_new(root, "parameters", js_u64(in->n_params));
    json_object_set_new(root, "tensor_count", json_integer(fr_gguf_n_tensors(g)));
    json_object_set_new(root, "tensor_bytes", js_u64(in->t_bytes));
    if (in->has_ftype) {
        const char *fn = fr_gguf_ftype_name(in->ftype);
        json_object_set_new(root, "file_type",
                            json_pack("{s:I, s:o}", "id", (json_int_t)in->ftype, "name",
                                      fn ? json_string(fn) : json_null()));
    } else {
        json_object_set_new(root, "file_type", json_null());
    }
    json_t *types = json_array();
    for (uint32_t t = 0; t < FR_TYPE_COUNT_; t++) {
        const type_stat *ts = &in->per_type[t];
        if (ts->count)
            json_array_append_new(types, json_pack("{s:s, s:o, s:o, s:o}", "type", fr_type_name(t),
                                                   "tensors", js_u64(ts->count), "parameters",
                                                   js_u64(ts->params), "bytes", js_u64(ts->bytes)));
    }
    json_object_set_new(root, "tensor_types", types);
    json_t *hj = json_object();
    json_object_set_new(hj, "context_length", js_opt_int(hp->n_ctx_train));
    json_object_set_new(hj, "embedding_length", js_opt_int(hp->n_embd));
    json_object_set_new(hj, "block_count", js_opt_int(hp->n_layer));
    json_object_set_new(hj, "feed_forward_length", js_opt_int(hp->n_ff));
    json_object_set_new(hj, "head_count", js_opt_int(hp->n_head));
    json_object_set_new(hj, "head_count_kv", js_opt_int(hp->n_head_kv));
    json_object_set_new(hj, "head_dim_k", js_opt_int(hp->head_dim_k));
    json_object_set_new(hj, "head_dim_v", js_opt_int(hp->head_dim_v));
    json_object_set_new(hj, "vocab_size", js_opt_int(hp->n_vocab));
    /* every <arch>.* key as stored */
    size_t alen = strlen(hp->arch);
    json_t *raw = json_object();
    for (int64_t i = 0; alen && i < fr_gguf_n_kv(g); i++) {
        const char *k = fr_gguf_key(g, i);
        if (strncmp(k, hp->arch, alen) == 0 && k[alen] == '.')
            json_object_set_new(raw, k + alen + 1, js_value(g, i));
    }
    json_object_set_new(hj, "keys", raw);
    json_object_set_new(root, "hparams", hj);
    json_object_set_new(root, "tokenizer", js_tokenizer(in));
    if (strcmp(in->kind, "adapter") == 0)
        json_object_set_new(root, "adapter", js_adapter(in));
    json_object_set_new(root, "memory", js_memory(in));
    json_t *md = json_object();
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++)
        json_object_set_new(md, fr_gguf_key(g, i), js_value(g, i));
    json_object_set_new(root, "metadata", md);
    if (tensors) {
        json_t *ts = json_array();
        for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++)
            json_array_append_new(ts, js_tensor(g, fr_gguf_tensor_at(g, i)));
        json_object_set_new(root, "tensors", ts);
    }
    return root;
}

/* ---- command ------------------------------------------------------------ */

int cmd_inspect(int argc, char **argv)
{
    bool tensors = false, json = false, metadata = false;
    long ctx = 0;
    const cli_opt opts[] = {
        {"--tensors", NULL, CLI_FLAG, &tensors, NULL,
         "list every tensor: name, type, shape, bytes, file offset", 0, 0, NULL},
        {"--metadata", NULL, CLI_FLAG, &metadata, NULL, "list every metadata key and value", 0, 0,
         NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "print one JSON document instead of text", 0, 0,
         NULL},
        {"--ctx", "-c", CLI_INT, &ctx, "N",
         "context length for the RAM estimate (default: min(training context, 4096))", 1, 1 << 30,
         NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal inspect MODEL.gguf [--tensors] [--metadata] [--json] [--ctx N]",
        "Shows what is inside a GGUF file (model, vocab-only file or LoRA adapter): "
        "architecture, parameters, tensor types, hyper-parameters, tokenizer, and an "
        "estimate of the RAM needed to run it at context N.",
        opts, 1, 1};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc < 0)
        return FR_EXIT_OK;
    if (rc)
        return rc;

    fr_gguf *g;
    fr_err err;
    if (fr_gguf_open(pos[0], &g, &err) != FR_OK)
        return cli_fail(&err);
    inspect in = {0};
    in.g = g;
    in.path = pos[0];
    in.ctx_given = ctx > 0;
    in.n_ctx = (uint64_t)ctx;
    gather(&in);
    int exit_code = FR_EXIT_OK;
    if (json) {
        json_t *root = build_json(&in, tensors);
        if (!root || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0) {
            cli_error("%s: cannot produce JSON output", pos[0]);
            exit_code = FR_EXIT_RUNTIME;
        } else {
            putchar('\n');
        }
        json_decref(root);
    } else {
        print_human(&in, tensors, metadata);
    }
    if (fflush(stdout) != 0) {
        cli_error("writing the output failed");
        exit_code = FR_EXIT_RUNTIME;
    }
    fr_gguf_free(g);
    return exit_code;
}
