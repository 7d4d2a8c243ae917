/* Whole-model quantization (src/quant): the type chosen for every tensor,
 * the metadata copied, the accuracy of the converted weights, thread-count
 * independence, refusal to overwrite the input, and atomic failure.
 *
 * Expected tensor types are written out by hand from llama.cpp's rules
 * (llama_tensor_get_type, as described in include/frugal/quant.h), for the
 * real stories260K model (rows of 64 and 172: every K-quant falls back) and
 * for small synthetic models built here (rows of 256) that exercise the mix
 * rules layer by layer. */
#include "test.h"

#include <dirent.h>
#include <frugal/gguf.h>
#include <frugal/quant.h>
#include <frugal/tensor.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static const char *T_F32 = "f32", *T_F16 = "f16", *T_BF16 = "bf16", *T_Q8 = "q8_0", *T_Q50 = "q5_0",
                  *T_Q51 = "q5_1", *T_Q4K = "q4_K", *T_Q5K = "q5_K", *T_Q6K = "q6_K";

static const char *tmp_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static int count_dir(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void *slurp(const char *p, long *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, f) != (size_t)*n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static bool same_file_bytes(const char *a, const char *b)
{
    long na, nb;
    void *pa = slurp(a, &na), *pb = slurp(b, &nb);
    bool same = pa && pb && na == nb && memcmp(pa, pb, (size_t)na) == 0;
    free(pa);
    free(pb);
    return same;
}

static int64_t n_values(const fr_gguf_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

static fr_status quantize(const char *in, const char *out, const char *type, int threads,
                          fr_quant_stats *s, fr_err *err)
{
    fr_ftype ft;
    if (!fr_ftype_from_name(type, &ft))
        return fr_err_set(err, FR_E_INVALID, "bad type %s", type);
    fr_quant_params p = {ft, threads, false, NULL, NULL};
    return fr_quantize_model(in, out, &p, s, err);
}

/* ---- synthetic models ---------------------------------------------------- */

typedef struct tspec {
    const char *name;
    int64_t ne0, ne1; /* ne1 0: 1-D */
} tspec;

/* Writes a llama-style F32 model with the given tensors (values: a smooth
 * deterministic pattern, or NaN at one place when nan_at >= 0). */
static void write_model(const char *path, const char *arch, uint32_t n_layer, uint32_t n_expert,
                        const tspec *ts, int n, int nan_at)
{
    fr_gguf_writer *w;
    fr_err err;
    CHECK(fr_gguf_writer_create(&w, &err) == FR_OK);
    fr_gguf_writer_set_str(w, "general.architecture", arch);
    fr_gguf_writer_set_str(w, "general.name", "synthetic");
    char key[96];
    snprintf(key, sizeof key, "%s.block_count", arch);
    fr_gguf_writer_set_u32(w, key, n_layer);
    if (n_expert) {
        snprintf(key, sizeof key, "%s.expert_count", arch);
        fr_gguf_writer_set_u32(w, key, n_expert);
    }
    float **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        int64_t ne1 = ts[i].ne1 ? ts[i].ne1 : 1;
        int64_t cnt = ts[i].ne0 * ne1;
        bufs[i] = malloc((size_t)cnt * sizeof(float));
        for (int64_t k = 0; k < cnt; k++)
            bufs[i][k] =
                0.05f * (float)sin(0.7 * (double)k + i) + 0.01f * (float)cos(0.013 * (double)k);
        if (i == nan_at)
            bufs[i][cnt / 2] = NAN;
        int64_t ne[2] = {ts[i].ne0, ne1};
        CHECK(fr_gguf_writer_add_tensor(w, ts[i].name, FR_TYPE_F32, ts[i].ne1 ? 2 : 1, ne, bufs[i],
                                        &err) == FR_OK);
    }
    fr_status st = fr_gguf_writer_write(w, path, NULL, 0, NULL, NULL, &err);
    CHECK_MSG(st == FR_OK, "writing %s: %s", path, err.msg);
    fr_gguf_writer_free(w);
    for (int i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
}

/* Plans src for type and compares with want[i] (type names) per tensor. */
static void expect_plan(const char *path, const char *type, const char *const *want, int n)
{
    fr_gguf *g;
    fr_err err;
    if (fr_gguf_open(path, &g, &err) != FR_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    CHECK_EQ_INT(fr_gguf_n_tensors(g), n);
    fr_ftype ft;
    CHECK(fr_ftype_from_name(type, &ft));
    fr_type types[256];
    CHECK_EQ_INT(fr_quant_plan(g, ft, types, &err), FR_OK);
    for (int i = 0; i < n && i < fr_gguf_n_tensors(g); i++)
        CHECK_MSG(strcmp(fr_type_name(types[i]), want[i]) == 0, "%s %s: %s, want %s", type,
                  fr_gguf_tensor_at(g, i)->name, fr_type_name(types[i]), want[i]);
    fr_gguf_free(g);
}

/* ---- stories260K --------------------------------------------------------- */

/* Expected types for the 48 tensors of stories260K (order as in the file):
 * token_embd, output_norm, output, then per layer attn_q, attn_k, attn_v,
 * attn_output, attn_norm, ffn_gate, ffn_down, ffn_up, ffn_norm. */
typedef struct stories_want {
    const char *type;
    const char *embd, *output, *main, *attn_v[5], *ffn_down;
    uint32_t ftype;
} stories_want;

static const stories_want stories[] = {
    /* 32-value types: rows of 64 fit, rows of 172 (ffn_down) fall to F16;
     * output -> Q6_K -> (64 % 256) -> Q8_0 */
    {"q8_0", "q8_0", "q8_0", "q8_0", {"q8_0", "q8_0", "q8_0", "q8_0", "q8_0"}, "f16", 7},
    {"q4_0", "q4_0", "q8_0", "q4_0", {"q4_0", "q4_0", "q4_0", "q4_0", "q4_0"}, "f16", 2},
    {"q4_1", "q4_1", "q8_0", "q4_1", {"q4_1", "q4_1", "q4_1", "q4_1", "q4_1"}, "f16", 3},
    {"q5_0", "q5_0", "q8_0", "q5_0", {"q5_0", "q5_0", "q5_0", "q5_0", "q5_0"}, "f16", 8},
    {"q5_1", "q5_1", "q8_0", "q5_1", {"q5_1", "q5_1", "q5_1", "q5_1", "q5_1"}, "f16", 9},
    /* K types: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; 172 -> F16.
     * Q4_K_S: attn_v of layers 0-3 Q5_K (-> Q5_1); n_layer/8 = 0 so no
     * ffn_down bump. _M: "more bits" layers of 5 are 2 and 4 -> Q6_K. */
    {"q4_k", "q5_0", "q8_0", "q5_0", {"q5_1", "q5_1", "q5_1", "q5_1", "q5_0"}, "f16", 14},
    {"q4_k_m", "q5_0", "q8_0", "q5_0", {"q5_0", "q5_0", "q8_0", "q5_0", "q8_0"}, "f16", 15},
    {"q5_k", "q5_1", "q8_0", "q5_1", {"q5_1", "q5_1", "q5_1", "q5_1", "q5_1"}, "f16", 16},
    {"q5_k_m", "q5_1", "q8_0", "q5_1", {"q5_1", "q5_1", "q8_0", "q5_1", "q8_0"}, "f16", 17},
    {"q6_k", "q8_0", "q8_0", "q8_0", {"q8_0", "q8_0", "q8_0", "q8_0", "q8_0"}, "f16", 18},
    /* float targets convert every 2-D weight */
    {"f16", "f16", "f16", "f16", {"f16", "f16", "f16", "f16", "f16"}, "f16", 1},
    {"bf16", "bf16", "bf16", "bf16", {"bf16", "bf16", "bf16", "bf16", "bf16"}, "bf16", 32},
};

/* Largest relative RMS error allowed for a tensor converted to each type:
 * 1.3x the README accuracy table of ../shared/quant (F16 and BF16: their
 * rounding bounds, 2^-11 and 2^-8 relative). */
static double type_bound(const char *t)
{
    static const struct {
        const char *t;
        double b;
    } b[] = {{"f16", 0.0005},        {"bf16", 0.004},        {"q8_0", 1.3 * 0.0054},
             {"q4_0", 1.3 * 0.0862}, {"q4_1", 1.3 * 0.0779}, {"q5_0", 1.3 * 0.0432},
             {"q5_1", 1.3 * 0.0378}, {"q4_K", 1.3 * 0.0716}, {"q5_K", 1.3 * 0.0363},
             {"q6_K", 1.3 * 0.0178}};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (!strcmp(b[i].t, t))
            return b[i].b;
    return 0;
}

/* Relative RMS error of tensor to (converted) against ti (original). */
static double tensor_rel_err(const fr_gguf_tensor *ti, const fr_gguf_tensor *to)
{
    int64_t nv = n_values(ti);
    float *a = malloc((size_t)nv * sizeof *a), *b = malloc((size_t)nv * sizeof *b);
    double e = 0, s2 = 0;
    if (fr_dequantize(ti->type, ti->data, a, nv, NULL) != FR_OK ||
        fr_dequantize(to->type, to->data, b, nv, NULL) != FR_OK) {
        e = INFINITY;
        s2 = 1;
    } else {
        for (int64_t k = 0; k < nv; k++) {
            e += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
            s2 += (double)a[k] * a[k];
        }
    }
    free(a);
    free(b);
    return s2 > 0 ? sqrt(e / s2) : sqrt(e);
}

/* Every converted tensor of out is within its type's bound of in's. */
static void expect_values_close(const char *in, const char *out, const char *label)
{
    fr_gguf *gi, *go;
    fr_err err;
    if (fr_gguf_open(in, &gi, &err) || fr_gguf_open(out, &go, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    for (int64_t i = 0; i < fr_gguf_n_tensors(gi) && i < fr_gguf_n_tensors(go); i++) {
        const fr_gguf_tensor *ti = fr_gguf_tensor_at(gi, i), *to = fr_gguf_tensor_at(go, i);
        double rel = tensor_rel_err(ti, to), bound = type_bound(fr_type_name(to->type));
        if (to->type == ti->type)
            CHECK_MSG(rel == 0, "%s %s copied but changed", label, ti->name);
        else
            CHECK_MSG(rel <= bound, "%s %s (%s): rel RMS %.4f > %.4f", label, ti->name,
                      fr_type_name(to->type), rel, bound);
    }
    fr_gguf_free(gi);
    fr_gguf_free(go);
}

/* Every key of a appears in b with the same type and value. */
static void expect_kv_copied(const fr_gguf *a, const fr_gguf *b)
{
    for (int64_t i = 0; i < fr_gguf_n_kv(a); i++) {
        const char *k = fr_gguf_key(a, i);
        int64_t j = fr_gguf_find_key(b, k);
        CHECK_MSG(j >= 0, "key %s missing", k);
        if (j < 0)
            continue;
        fr_gguf_type ta = fr_gguf_kv_type(a, i);
        CHECK_MSG(ta == fr_gguf_kv_type(b, j), "key %s type", k);
        if (ta == FR_GGUF_STRING) {
            fr_gguf_str sa, sb;
            fr_gguf_kv_get_str(a, i, &sa, NULL);
            fr_gguf_kv_get_str(b, j, &sb, NULL);
            CHECK_MSG(sa.len == sb.len && memcmp(sa.ptr, sb.ptr, sa.len) == 0, "key %s", k);
        } else if (ta == FR_GGUF_ARRAY) {
            fr_gguf_arr xa, xb;
            fr_gguf_kv_get_arr(a, i, &xa, NULL);
            fr_gguf_kv_get_arr(b, j, &xb, NULL);
            CHECK_MSG(xa.type == xb.type && xa.n == xb.n, "key %s array shape", k);
            int bad = 0;
            for (uint64_t e = 0; e < xa.n && xa.type == xb.type && xa.n == xb.n; e++) {
                if (xa.type == FR_GGUF_STRING) {
                    fr_gguf_str sa, sb;
                    fr_gguf_arr_str(&xa, e, &sa);
                    fr_gguf_arr_str(&xb, e, &sb);
                    bad += !(sa.len == sb.len && memcmp(sa.ptr, sb.ptr, sa.len) == 0);
                } else if (xa.type != FR_GGUF_ARRAY) {
                    double va, vb;
                    fr_gguf_arr_f64(&xa, e, &va);
                    fr_gguf_arr_f64(&xb, e, &vb);
                    bad += !(va == vb || (isnan(va) && isnan(vb)));
                }
            }
            CHECK_MSG(bad == 0, "key %s: %d elements differ", k, bad);
        } else if (strcmp(k, "general.file_type") != 0 &&
                   strcmp(k, "general.quantization_version") != 0) {
            /* scalars: compare through whichever getter takes the type */
            int64_t ia = 0, ib = 0;
            uint64_t ua = 0, ub = 0;
            double da = 0, db = 0;
            bool ba = false, bb = false;
            bool same;
            if (fr_gguf_kv_get_i64(a, i, &ia, NULL) == FR_OK)
                same = fr_gguf_kv_get_i64(b, j, &ib, NULL) == FR_OK && ia == ib;
            else if (fr_gguf_kv_get_u64(a, i, &ua, NULL) == FR_OK)
                same = fr_gguf_kv_get_u64(b, j, &ub, NULL) == FR_OK && ua == ub;
            else if (fr_gguf_kv_get_f64(a, i, &da, NULL) == FR_OK)
                same = fr_gguf_kv_get_f64(b, j, &db, NULL) == FR_OK &&
                       (da == db || (isnan(da) && isnan(db)));
            else
                same = fr_gguf_kv_get_bool(a, i, &ba, NULL) == FR_OK &&
                       fr_gguf_kv_get_bool(b, j, &bb, NULL) == FR_OK && ba == bb;
            CHECK_MSG(same, "key %s differs", k);
        }
    }
}

static void test_stories(void)
{
    char in[512], out[512];
    fr_test_shared("models/stories260K.gguf", in, sizeof in);
    fr_gguf *src;
    fr_err err;
    if (fr_gguf_open(in, &src, &err) != FR_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    CHECK_EQ_INT(fr_gguf_n_tensors(src), 48);
    for (size_t s = 0; s < sizeof stories / sizeof stories[0]; s++) {
        const stories_want *sw = &stories[s];
        char name[64];
        snprintf(name, sizeof name, "stories-%s.gguf", sw->type);
        tmp_path(name, out, sizeof out);
        fr_quant_stats st;
        fr_status rc = quantize(in, out, sw->type, 2, &st, &err);
        CHECK_MSG(rc == FR_OK, "%s: %s", sw->type, err.msg);
        if (rc)
            continue;
        fr_gguf *q;
        if (fr_gguf_open(out, &q, &err) != FR_OK) {
            CHECK_MSG(0, "reopen %s: %s", sw->type, err.msg);
            continue;
        }
        uint32_t ft = 99, qv = 0;
        CHECK_EQ_INT(fr_gguf_get_u32(q, "general.file_type", &ft, NULL), FR_OK);
        CHECK_EQ_INT(ft, sw->ftype);
        CHECK_EQ_INT(fr_gguf_get_u32(q, "general.quantization_version", &qv, NULL), FR_OK);
        CHECK_EQ_INT(qv, 2);
        CHECK_EQ_INT(fr_gguf_n_kv(q), fr_gguf_n_kv(src) + 2);
        expect_kv_copied(src, q);
        CHECK_EQ_INT(fr_gguf_n_tensors(q), 48);
        CHECK_EQ_INT(st.n_tensors, 48);
        int64_t converted = 0;
        double worst = 0;
        for (int64_t i = 0; i < fr_gguf_n_tensors(q) && i < 48; i++) {
            const fr_gguf_tensor *ti = fr_gguf_tensor_at(src, i), *to = fr_gguf_tensor_at(q, i);
            CHECK_STR(to->name, ti->name);
            CHECK(to->n_dims == ti->n_dims && to->ne[0] == ti->ne[0] && to->ne[1] == ti->ne[1]);
            const char *want;
            int layer = -1;
            if (ti->n_dims == 1)
                want = T_F32;
            else if (!strcmp(ti->name, "token_embd.weight"))
                want = sw->embd;
            else if (!strcmp(ti->name, "output.weight"))
                want = sw->output;
            else if (sscanf(ti->name, "blk.%d.", &layer) == 1 && strstr(ti->name, "attn_v"))
                want = sw->attn_v[layer];
            else if (strstr(ti->name, "ffn_down"))
                want = sw->ffn_down;
            else
                want = sw->main;
            CHECK_MSG(!strcmp(fr_type_name(to->type), want), "%s %s: %s, want %s", sw->type,
                      ti->name, fr_type_name(to->type), want);
            if (to->type != ti->type)
                converted++;
            /* values: copies exact, conversions within the type's bound */
            double rel = tensor_rel_err(ti, to);
            if (to->type != ti->type && rel > worst)
                worst = rel;
            if (to->type == ti->type)
                CHECK_MSG(rel == 0, "%s %s copied but changed", sw->type, ti->name);
            else
                CHECK_MSG(rel <= type_bound(fr_type_name(to->type)),
                          "%s %s (%s): rel RMS %.4f > %.4f", sw->type, ti->name,
                          fr_type_name(to->type), rel, type_bound(fr_type_name(to->type)));
        }
        CHECK_EQ_INT(st.n_converted, converted);
        fprintf(
            stderr,
            "stories260K %-6s: %lld tensors converted, worst rel RMS %.4f, %llu -> %llu bytes\n",
            sw->type, (long long)converted, worst, (unsigned long long)st.bytes_in,
            (unsigned long long)st.bytes_out);
        fr_gguf_free(q);
    }

    /* f32 target: nothing to convert; every tensor's bytes copied. */
    tmp_path("stories-f32.gguf", out, sizeof out);
    fr_quant_stats st;
    CHECK_EQ_INT(quantize(in, out, "f32", 1, &st, &err), FR_OK);
    CHECK_EQ_INT(st.n_converted, 0);
    fr_gguf_free(src);
}

/* ---- rules on synthetic models (rows of 256) ---------------------------- */

static void test_mix_rules(void)
{
    /* 8 layers, in llama.cpp's preferred order; "more bits" layers of 8 are
     * 0, 3, 6, 7. */
    tspec ts[3 + 8 * 4];
    char names[8 * 4][48];
    int n = 0;
    ts[n++] = (tspec){"token_embd.weight", 256, 4};
    ts[n++] = (tspec){"output_norm.weight", 256, 0};
    ts[n++] = (tspec){"output.weight", 256, 4};
    for (int l = 0; l < 8; l++) {
        const char *kinds[4] = {"attn_q.weight", "attn_v.weight", "ffn_down.weight",
                                "attn_norm.weight"};
        for (int k = 0; k < 4; k++) {
            snprintf(names[l * 4 + k], sizeof names[0], "blk.%d.%s", l, kinds[k]);
            ts[n++] = (tspec){names[l * 4 + k], 256, k == 3 ? 0 : 4};
        }
    }
    char path[512];
    tmp_path("mix8.gguf", path, sizeof path);
    write_model(path, "llama", 8, 0, ts, n, -1);

    const char *want[3 + 32];
    /* Q4_K_M */
    want[0] = T_Q4K, want[1] = T_F32, want[2] = T_Q6K;
    for (int l = 0; l < 8; l++) {
        bool more = l == 0 || l == 3 || l == 6 || l == 7;
        want[3 + 4 * l + 0] = T_Q4K;
        want[3 + 4 * l + 1] = more ? T_Q6K : T_Q4K;
        want[3 + 4 * l + 2] = more ? T_Q6K : T_Q4K;
        want[3 + 4 * l + 3] = T_F32;
    }
    expect_plan(path, "q4_k_m", want, n);
    /* Q5_K_M: same layers Q6_K, the rest Q5_K */
    want[0] = T_Q5K;
    for (int l = 0; l < 8; l++) {
        bool more = l == 0 || l == 3 || l == 6 || l == 7;
        want[3 + 4 * l + 0] = T_Q5K;
        want[3 + 4 * l + 1] = more ? T_Q6K : T_Q5K;
        want[3 + 4 * l + 2] = more ? T_Q6K : T_Q5K;
    }
    expect_plan(path, "q5_k_m", want, n);
    /* Q4_K_S: attn_v of the first 4 layers Q5_K, ffn_down of the first
     * n_layer/8 = 1 layer Q5_K */
    want[0] = T_Q4K;
    for (int l = 0; l < 8; l++) {
        want[3 + 4 * l + 0] = T_Q4K;
        want[3 + 4 * l + 1] = l < 4 ? T_Q5K : T_Q4K;
        want[3 + 4 * l + 2] = l < 1 ? T_Q5K : T_Q4K;
    }
    expect_plan(path, "q4_k", want, n);
    expect_plan(path, "q4_k_s", want, n);
    /* Q5_K_S, Q6_K, Q8_0, Q4_0: uniform, output Q6_K (Q8_0 for Q8_0) */
    const char *uni[4][2] = {
        {"q5_k", "q5_K"}, {"q6_k", "q6_K"}, {"q8_0", "q8_0"}, {"q4_0", "q4_0"}};
    for (int u = 0; u < 4; u++) {
        want[0] = uni[u][1];
        want[2] = u == 2 ? T_Q8 : T_Q6K;
        for (int l = 0; l < 8; l++)
            for (int k = 0; k < 3; k++)
                want[3 + 4 * l + k] = uni[u][1];
        expect_plan(path, uni[u][0], want, n);
    }
    /* F16: everything 2-D, output included */
    want[0] = want[2] = T_F16;
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 3; k++)
            want[3 + 4 * l + k] = T_F16;
    expect_plan(path, "f16", want, n);
}

/* Counters follow layer numbers, not file or name order: 12 layers stored in
 * name order (blk.10, blk.11 before blk.2). More-bits layers of 12: 0, 3, 6,
 * 9, 10, 11. */
static void test_layer_order(void)
{
    tspec ts[12];
    char names[12][48];
    const int order[12] = {0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[0], "blk.%d.attn_v.weight", order[i]);
        ts[i] = (tspec){names[i], 256, 2};
    }
    char path[512];
    tmp_path("order12.gguf", path, sizeof path);
    write_model(path, "llama", 12, 0, ts, 12, -1);
    const char *want[12];
    for (int i = 0; i < 12; i++) {
        int l = order[i];
        want[i] = (l == 0 || l == 3 || l == 6 || l >= 9) ? T_Q6K : T_Q4K;
    }
    expect_plan(path, "q4_k_m", want, 12);
}

static void test_special_tensors(void)
{
    /* Tied embeddings: token_embd takes the output rule. MoE with 8 experts:
     * attn_v, attn_k -> Q8_0, attn_output -> Q5_K (Q4_K_M). attn_qkv ->
     * Q5_K. Router, position embeddings and 1-D weights are copied. Rows of
     * 96 fall back (Q4_K -> Q5_0, Q6_K -> Q8_0), rows of 100 go to F16. */
    const tspec ts[] = {
        {"token_embd.weight", 256, 4},     {"blk.0.attn_v.weight", 256, 2},
        {"blk.0.attn_k.weight", 256, 2},   {"blk.0.attn_output.weight", 256, 2},
        {"blk.0.attn_qkv.weight", 256, 2}, {"blk.0.ffn_gate_inp.weight", 256, 8},
        {"position_embd.weight", 256, 4},  {"blk.0.ffn_up.weight", 96, 2},
        {"blk.0.ffn_gate.weight", 100, 2}, {"blk.0.ffn_down.bias", 256, 0},
        {"blk.0.attn_q.weight", 256, 2},
    };
    int n = (int)(sizeof ts / sizeof ts[0]);
    char path[512];
    tmp_path("moe.gguf", path, sizeof path);
    write_model(path, "llama", 1, 8, ts, n, -1);
    const char *want_m[] = {T_Q6K, T_Q8,  T_Q8,  T_Q5K, T_Q5K, T_F32,
                            T_F32, T_Q50, T_F16, T_F32, T_Q4K};
    expect_plan(path, "q4_k_m", want_m, n);
    const char *want_6[] = {T_Q6K, T_Q8, T_Q8,  T_Q6K, T_Q6K, T_F32,
                            T_F32, T_Q8, T_F16, T_F32, T_Q6K};
    expect_plan(path, "q6_k", want_6, n);
    const char *want_51[] = {T_Q6K, T_Q8,  T_Q8,  T_Q51, T_Q51, T_F32,
                             T_F32, T_Q51, T_F16, T_F32, T_Q51};
    expect_plan(path, "q5_1", want_51, n);
    const char *want_b[] = {T_BF16, T_BF16, T_BF16, T_BF16, T_BF16, T_F32,
                            T_F32,  T_BF16, T_BF16, T_F32,  T_BF16};
    expect_plan(path, "bf16", want_b, n);
}

static void test_names(void)
{
    fr_ftype f;
    CHECK(fr_ftype_from_name("Q4_K_M", &f) && f == FR_FTYPE_Q4_K_M);
    CHECK(fr_ftype_from_name("q4_k", &f) && f == FR_FTYPE_Q4_K_S);
    CHECK(fr_ftype_from_name("q5_k", &f) && f == FR_FTYPE_Q5_K_S);
    CHECK(fr_ftype_from_name("bf16", &f) && f == FR_FTYPE_BF16);
    CHECK(!fr_ftype_from_name("q2_k", &f));
    CHECK(!fr_ftype_from_name("q4_k_mm", &f));
    CHECK(!fr_ftype_from_name("", &f));
    CHECK_STR(fr_ftype_short_name(15), "Q4_K_M");
    CHECK_STR(fr_ftype_short_name(12), "Q3_K_M");
    CHECK_STR(fr_ftype_short_name(4), "unknown");
    CHECK(fr_ftype_base_type(FR_FTYPE_Q5_K_M) == FR_TYPE_Q5_K);
}

/* ---- threads, safety, failures ------------------------------------------ */

static void test_threads_identical(void)
{
    const tspec ts[] = {{"blk.0.ffn_up.weight", 256, 1024},
                        {"blk.0.attn_v.weight", 512, 300},
                        {"output.weight", 256, 33}};
    char in[512], o1[512], o4[512];
    tmp_path("big.gguf", in, sizeof in);
    write_model(in, "llama", 1, 0, ts, 3, -1);
    const char *types[] = {"q4_k_m", "q4_0", "q6_k", "q5_k_m", "q4_k", "q5_1", "q8_0", "bf16"};
    for (int t = 0; t < 8; t++) {
        tmp_path("big-1.gguf", o1, sizeof o1);
        tmp_path("big-4.gguf", o4, sizeof o4);
        fr_err err;
        CHECK_EQ_INT(quantize(in, o1, types[t], 1, NULL, &err), FR_OK);
        CHECK_EQ_INT(quantize(in, o4, types[t], 4, NULL, &err), FR_OK);
        CHECK_MSG(same_file_bytes(o1, o4), "%s: 1 and 4 threads differ", types[t]);
        expect_values_close(in, o4, types[t]);
    }
}

static void test_refuse_input(void)
{
    char in[512], link[512];
    tmp_path("victim.gguf", in, sizeof in);
    const tspec ts[] = {{"blk.0.attn_q.weight", 256, 4}};
    write_model(in, "llama", 1, 0, ts, 1, -1);
    long before = 0;
    void *orig = slurp(in, &before);
    fr_err err;
    fr_status st = quantize(in, in, "q8_0", 1, NULL, &err);
    CHECK(st != FR_OK);
    CHECK_MSG(strstr(err.msg, "victim.gguf") != NULL, "%s", err.msg);
    tmp_path("victim-link.gguf", link, sizeof link);
    CHECK(symlink(in, link) == 0);
    CHECK(quantize(in, link, "q8_0", 1, NULL, &err) != FR_OK);
    long after = 0;
    void *now = slurp(in, &after);
    CHECK(orig && now && before == after && memcmp(orig, now, (size_t)before) == 0);
    free(orig);
    free(now);
    unlink(link);
}

static void test_atomic_failure(void)
{
    /* A NaN in the second tensor: the write fails after the first tensor was
     * produced; no file may appear, and an existing output stays intact. */
    char dir[300], in[300], out[320];
    snprintf(dir, sizeof dir, "%s/atomic", tmpdir);
    mkdir(dir, 0755);
    snprintf(in, sizeof in, "%s/in.gguf", tmpdir);
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    const tspec ts[] = {{"blk.0.attn_q.weight", 256, 64}, {"blk.0.attn_k.weight", 256, 64}};
    write_model(in, "llama", 1, 0, ts, 2, 1);
    fr_err err;
    fr_status st = quantize(in, out, "q4_k_m", 2, NULL, &err);
    CHECK_EQ_INT(st, FR_E_INVALID);
    CHECK_MSG(strstr(err.msg, "blk.0.attn_k.weight") && strstr(err.msg, "NaN"), "%s", err.msg);
    CHECK_EQ_INT(count_dir(dir), 0);
    CHECK(file_size(out) < 0);
    FILE *f = fopen(out, "wb");
    fputs("previous", f);
    fclose(f);
    CHECK(quantize(in, out, "q8_0", 1, NULL, &err) != FR_OK);
    CHECK_EQ_INT(count_dir(dir), 1);
    CHECK_EQ_INT(file_size(out), 8);
    unlink(out);
    rmdir(dir);
}

static void test_requantize(void)
{
    char in[512], q8[512], q4[512];
    fr_test_shared("models/stories260K.gguf", in, sizeof in);
    tmp_path("rq-q8.gguf", q8, sizeof q8);
    tmp_path("rq-q4.gguf", q4, sizeof q4);
    fr_err err;
    CHECK_EQ_INT(quantize(in, q8, "q8_0", 1, NULL, &err), FR_OK);
    fr_status st = quantize(q8, q4, "q4_0", 1, NULL, &err);
    CHECK_EQ_INT(st, FR_E_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "already quantized") && strstr(err.msg, "--allow-requantize"), "%s",
              err.msg);
    CHECK(file_size(q4) < 0);
    /* same type everywhere: nothing to convert, allowed */
    CHECK_EQ_INT(quantize(q8, q4, "q8_0", 1, NULL, &err), FR_OK);
    fr_quant_params p = {FR_FTYPE_Q4_0, 2, true, NULL, NULL};
    fr_quant_stats s;
    CHECK_EQ_INT(fr_quantize_model(q8, q4, &p, &s, &err), FR_OK);
    CHECK(s.n_converted > 0);
    /* a target frugal does not produce */
    p.ftype = FR_FTYPE_Q2_K;
    CHECK_EQ_INT(fr_quantize_model(in, q4, &p, NULL, &err), FR_E_UNSUPPORTED);
    /* a missing input */
    p.ftype = FR_FTYPE_Q8_0;
    tmp_path("does-not-exist.gguf", q8, sizeof q8);
    CHECK(fr_quantize_model(q8, q4, &p, NULL, &err) != FR_OK);
}

typedef struct prog {
    uint64_t last, total;
    int calls;
    bool monotonic;
} prog;

static void on_prog(void *u, uint64_t done, uint64_t total)
{
    prog *p = u;
    if (done < p->last)
        p->monotonic = false;
    p->last = done;
    p->total = total;
    p->calls++;
}

static void test_progress(void)
{
    char in[512], out[512];
    tmp_path("big.gguf", in, sizeof in); /* from test_threads_identical */
    tmp_path("prog.gguf", out, sizeof out);
    prog pr = {0, 0, 0, true};
    fr_quant_params p = {FR_FTYPE_Q4_K_M, 3, false, on_prog, &pr};
    fr_err err;
    CHECK_EQ_INT(fr_quantize_model(in, out, &p, NULL, &err), FR_OK);
    CHECK(pr.calls >= 1 && pr.monotonic);
    CHECK_EQ_INT(pr.last, pr.total);
    CHECK_EQ_INT(pr.total, 4 * (256 * 1024 + 512 * 300 + 256 * 33));
}

int main(void)
{
    fr_test_tmpdir(tmpdir, sizeof tmpdir);
    test_names();
    test_mix_rules();
    test_layer_order();
    test_special_tensors();
    test_threads_identical();
    test_progress();
    test_refuse_input();
    test_atomic_failure();
    test_requantize();
    test_stories();
    /* leave nothing behind */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    TEST_END();
}
