/*
 * Attention over a KV cache (tensor/attn.h) on every path against a naive
 * double-precision softmax(q k / sqrt(hd)) v written here:
 *
 * - F32 and F16 caches, head sizes 16..128, grouped-query ratios 1..7
 *   (qwen2.5-0.5b's 14/2 included), positions from 0 to past two tiles,
 *   several sequences in one batch, batches that start mid-sequence;
 * - every path within float slack of the reference (the reference reads
 *   the same F16-rounded keys and values);
 * - within a path, a token's output is bit-identical alone or in any
 *   batch, and for 1, 2 and 3 threads;
 * - sliding windows (smaller than a tile, a tile, across tiles), sink
 *   logits (below and above the scores), and caches that are a ring of a
 *   window layer's last positions (position p at slot p % ring; rings that
 *   wrap inside a tile, head sizes the tiles do not take).
 */
#include "test.h"

#include <frugal/tensor.h>

#include "tensor/attn.h"
#include "tensor/kernels/kernels.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static float urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* A layer's window, ring and sinks (zeros: plain causal attention). */
typedef struct aopts {
    uint32_t window, ring;
    bool sinks;
} aopts;

typedef struct acase {
    uint32_t n_head, n_head_kv, hd, n_seq, n_ctx; /* n_ctx: slots per sequence */
    fr_type kv;
    aopts o;
    float *sinks;       /* [n_head] or NULL */
    void *k, *v;        /* [n_seq][n_ctx][n_head_kv * hd] */
    float *kf, *vf;     /* the same values as float */
} acase;

static void case_make(acase *c, uint32_t n_head, uint32_t n_head_kv, uint32_t hd, uint32_t n_seq,
                      uint32_t n_ctx, fr_type kv, aopts o)
{
    c->n_head = n_head, c->n_head_kv = n_head_kv, c->hd = hd, c->n_seq = n_seq;
    c->n_ctx = o.ring ? o.ring : n_ctx;
    c->kv = kv;
    c->o = o;
    c->sinks = NULL;
    if (o.sinks) {
        /* every third head's sink above any score (the sink takes most of
         * the softmax), the others among them */
        c->sinks = malloc(sizeof(float) * n_head);
        for (uint32_t h = 0; h < n_head; h++)
            c->sinks[h] = h % 3 == 0 ? 20.0f + (float)h : 2.0f * urand();
    }
    n_ctx = c->n_ctx;
    size_t n = (size_t)n_seq * n_ctx * n_head_kv * hd, es = kv == FR_TYPE_F16 ? 2 : 4;
    c->k = malloc(n * es), c->v = malloc(n * es);
    c->kf = malloc(n * sizeof(float)), c->vf = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        /* keys with some spread, so the softmax is not flat */
        float kx = 2.5f * urand(), vx = urand();
        if (kv == FR_TYPE_F16) {
            uint16_t hk = fr_fp32_to_fp16(kx), hv = fr_fp32_to_fp16(vx);
            ((uint16_t *)c->k)[i] = hk, ((uint16_t *)c->v)[i] = hv;
            c->kf[i] = fr_fp16_to_fp32(hk), c->vf[i] = fr_fp16_to_fp32(hv);
        } else {
            ((float *)c->k)[i] = kx, ((float *)c->v)[i] = vx;
            c->kf[i] = kx, c->vf[i] = vx;
        }
    }
}

static void case_free(acase *c) { free(c->k), free(c->v), free(c->kf), free(c->vf), free(c->sinks); }

/* out[t] for every head, in double: positions from the window's first
 * (pos - window + 1, or 0) to the token's own, read at slot p % ring; a
 * sink adds e^sink to the denominator. */
static void naive(const acase *c, const float *q, const int32_t *pos, const int32_t *seq,
                  uint32_t n_tok, double *out)
{
    uint32_t hd = c->hd, grp = c->n_head / c->n_head_kv;
    size_t kvd = (size_t)c->n_head_kv * hd, qd = (size_t)c->n_head * hd;
    int32_t max_pos = 0;
    for (uint32_t t = 0; t < n_tok; t++)
        max_pos = pos[t] > max_pos ? pos[t] : max_pos;
    double *s = malloc(sizeof(double) * (size_t)(max_pos + 1));
    for (uint32_t t = 0; t < n_tok; t++)
        for (uint32_t h = 0; h < c->n_head; h++) {
            size_t base = (size_t)seq[t] * c->n_ctx * kvd + (size_t)(h / grp) * hd;
            int32_t first = 0;
            if (c->o.window && pos[t] + 1 > (int32_t)c->o.window)
                first = pos[t] + 1 - (int32_t)c->o.window;
            double mx = c->sinks ? c->sinks[h] : -1e300, sum = 0;
            for (int32_t p = first; p <= pos[t]; p++) {
                size_t slot = c->o.ring ? (size_t)p % c->o.ring : (size_t)p;
                double d = 0;
                for (uint32_t i = 0; i < hd; i++)
                    d += (double)q[t * qd + h * hd + i] * c->kf[base + slot * kvd + i];
                s[p] = d / sqrt((double)hd);
                mx = s[p] > mx ? s[p] : mx;
            }
            for (int32_t p = first; p <= pos[t]; p++)
                sum += s[p] = exp(s[p] - mx);
            if (c->sinks)
                sum += exp(c->sinks[h] - mx);
            for (uint32_t i = 0; i < hd; i++) {
                double o = 0;
                for (int32_t p = first; p <= pos[t]; p++) {
                    size_t slot = c->o.ring ? (size_t)p % c->o.ring : (size_t)p;
                    o += s[p] / sum * c->vf[base + slot * kvd + i];
                }
                out[t * qd + h * hd + i] = o;
            }
        }
    free(s);
}

static fr_pool *pools[4];
static void *scr[3];

static void run(const acase *c, fr_isa isa, int nth, const float *q, const int32_t *pos,
                const int32_t *seq, uint32_t n_tok, float *out)
{
    uint32_t *blocks = malloc(sizeof(uint32_t) * (n_tok + 1));
    size_t kvd = (size_t)c->n_head_kv * c->hd;
    fr_attn_desc d = {q,      out,     n_tok,         pos,         seq,
                      c->k,   c->v,    (size_t)c->n_ctx * kvd, kvd, c->kv,
                      c->n_head, c->n_head_kv, c->hd, sqrtf((float)c->hd), blocks,
                      c->o.window, c->sinks, c->o.ring};
    fr_attention(pools[nth], fr_kernel_set_get(isa), &d, scr);
    free(blocks);
}

/* A batch: n_tok tokens; tokens alternate between runs of sequences, each
 * run continuing its sequence from start positions given by starts[]. */
static void check_o(uint32_t n_head, uint32_t n_head_kv, uint32_t hd, fr_type kv,
                    const uint32_t *run_len, const int32_t *run_start, int n_runs, aopts o)
{
    acase c;
    uint32_t n_tok = 0, n_ctx = 0;
    for (int r = 0; r < n_runs; r++) {
        n_tok += run_len[r];
        uint32_t end = (uint32_t)run_start[r] + run_len[r];
        n_ctx = end > n_ctx ? end : n_ctx;
    }
    case_make(&c, n_head, n_head_kv, hd, (uint32_t)n_runs, n_ctx, kv, o);
    size_t qd = (size_t)n_head * hd;
    float *q = malloc(sizeof(float) * n_tok * qd), *out = malloc(sizeof(float) * n_tok * qd);
    float *o2 = malloc(sizeof(float) * n_tok * qd);
    double *ref = malloc(sizeof(double) * n_tok * qd);
    int32_t *pos = malloc(sizeof(int32_t) * n_tok), *seq = malloc(sizeof(int32_t) * n_tok);
    for (size_t i = 0; i < n_tok * qd; i++)
        q[i] = urand();
    uint32_t t = 0;
    for (int r = 0; r < n_runs; r++)
        for (uint32_t i = 0; i < run_len[r]; i++, t++) {
            pos[t] = run_start[r] + (int32_t)i;
            seq[t] = r;
        }
    naive(&c, q, pos, seq, n_tok, ref);
    char what[128];
    snprintf(what, sizeof what, "heads %u/%u hd %u %s, %u tokens in %d runs, window %u ring %u%s",
             n_head, n_head_kv, hd, kv == FR_TYPE_F16 ? "f16" : "f32", n_tok, n_runs, o.window,
             o.ring, o.sinks ? " sinks" : "");
    for (int isa = 0; isa < FR_ISA_COUNT_; isa++) {
        if (!fr_kernel_set_get((fr_isa)isa))
            continue;
        const char *in = fr_isa_name((fr_isa)isa);
        run(&c, (fr_isa)isa, 1, q, pos, seq, n_tok, out);
        double worst = 0;
        for (size_t i = 0; i < n_tok * qd; i++) {
            double e = fabs(out[i] - ref[i]) / (1e-5 + 2e-5 * fabs(ref[i]));
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst <= 1.0, "%s %s: error %.3g x the float slack", what, in, worst);
        for (int nth = 2; nth <= 3; nth++) {
            run(&c, (fr_isa)isa, nth, q, pos, seq, n_tok, o2);
            CHECK_MSG(memcmp(out, o2, sizeof(float) * n_tok * qd) == 0, "%s %s: %d threads differ",
                      what, in, nth);
        }
        /* every token alone gives its bits in the batch */
        for (uint32_t k = 0; k < n_tok; k += 1 + n_tok / 5) {
            run(&c, (fr_isa)isa, 2, q + k * qd, pos + k, seq + k, 1, o2);
            CHECK_MSG(memcmp(out + k * qd, o2, sizeof(float) * qd) == 0,
                      "%s %s: token %u alone differs from the batch", what, in, k);
        }
    }
    free(q), free(out), free(o2), free(ref), free(pos), free(seq);
    case_free(&c);
}

static void check(uint32_t n_head, uint32_t n_head_kv, uint32_t hd, fr_type kv,
                  const uint32_t *run_len, const int32_t *run_start, int n_runs)
{
    check_o(n_head, n_head_kv, hd, kv, run_len, run_start, n_runs, (aopts){0, 0, false});
}

int main(void)
{
    fr_err e;
    for (int n = 1; n <= 3; n++)
        if (fr_pool_create(n, &pools[n], &e) != FR_OK)
            return 1;
    for (int i = 0; i < 3; i++)
        if (posix_memalign(&scr[i], 64, fr_attn_scratch_bytes(1200, 256)) != 0)
            return 1;
    static const uint32_t one[] = {1}, prompt[] = {150}, mixed[] = {3, 70, 1};
    static const int32_t at0[] = {0}, at5[] = {5}, at130[] = {130}, mixed_at[] = {200, 0, 63};
    const fr_type kvs[2] = {FR_TYPE_F32, FR_TYPE_F16};
    for (int k = 0; k < 2; k++) {
        fr_type kv = kvs[k];
        check(4, 4, 16, kv, one, at0, 1);        /* the first position */
        check(14, 2, 64, kv, one, at130, 1);     /* decode deep in the cache (qwen2.5-0.5b) */
        check(16, 4, 64, kv, prompt, at0, 1);    /* a prompt over several tiles (llama-3.2-1b's grouping) */
        check(8, 8, 128, kv, prompt, at5, 1);    /* no grouping, long heads */
        check(6, 2, 24, kv, mixed, mixed_at, 3); /* sequences mixed in one batch */
        check(7, 1, 32, kv, prompt, at0, 1);     /* one kv head for 7 query heads */
        /* windows: inside a tile, a tile, across tiles; sinks; rings of a
         * window layer's cache (at least window + batch - 1 slots) */
        static const uint32_t n4[] = {4}, n64[] = {64}, mix_w[] = {5, 40, 1};
        static const int32_t at200[] = {200}, at1000[] = {1000}, mix_w_at[] = {300, 0, 77};
        static const int32_t at60[] = {60}, at22[] = {22};
        for (int sk = 0; sk < 2; sk++) {
            bool snk = sk == 1;
            check_o(4, 2, 16, kv, prompt, at0, 1, (aopts){5, 0, snk});
            check_o(8, 2, 64, kv, prompt, at5, 1, (aopts){100, 0, snk});
            check_o(14, 2, 64, kv, one, at130, 1, (aopts){64, 0, snk});
            check_o(6, 2, 24, kv, mix_w, mix_w_at, 3, (aopts){33, 0, snk});
            check_o(4, 1, 40, kv, n4, at200, 1, (aopts){7, 10, snk});       /* wraps in a tile */
            check_o(4, 1, 40, kv, n4, at60, 1, (aopts){7, 10, snk});        /* a tile holds 6 rings */
            check_o(4, 2, 16, kv, one, at22, 1, (aopts){8, 11, snk});
            check_o(6, 3, 32, kv, n64, at1000, 1, (aopts){70, 133, snk});   /* odd ring */
            check_o(4, 2, 64, kv, prompt, at0, 1, (aopts){128, 128 + 149, snk});
            check_o(3, 1, 20, kv, mix_w, mix_w_at, 3, (aopts){9, 48, snk}); /* hd the tiles skip */
        }
        check_o(8, 8, 128, kv, one, at1000, 1, (aopts){0, 0, true}); /* sinks, no window */
    }
    for (int i = 0; i < 3; i++)
        free(scr[i]);
    for (int n = 1; n <= 3; n++)
        fr_pool_free(pools[n]);
    TEST_END();
}
