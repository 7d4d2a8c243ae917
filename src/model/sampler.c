/*
 * sampler.c - next-token selection (contract and order of operations in
 * include/frugal/sampler.h).
 *
 * Invariants: every buffer is sized at create time from n_vocab and
 * penalty_last_n; a call never allocates. count[t] is the number of times
 * token t occurs in the history ring; the ring holds the last
 * min(accepted, penalty_last_n) tokens.
 *
 * Candidate selection works on an index array (idx) ordered by "better":
 * larger logit first, lower id first on equal logits - a strict total
 * order, so every selection and sort is deterministic. Top-k scans once
 * with a k-entry heap (quickselect for large k); top-p sorts only the
 * tokens above the point where a histogram of probability mass (1/8-logit
 * buckets below the maximum) reaches p, so a 256k vocabulary costs two
 * linear passes plus a sort of roughly the kept set.
 *
 * Rejected: a chain of pluggable sampler objects (llama.cpp's design). The
 * order is fixed and documented; one function per step keeps the hot path
 * readable and allocation-free. Also rejected: rand()/global RNG state -
 * results must depend only on the seed and the inputs.
 */
#include <frugal/sampler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Top-p histogram: bucket b holds tokens whose logit lies in
 * [max - (b+1)/8, max - b/8); the last bucket takes everything further down. */
#define SAMPLER_BUCKETS 512
#define SAMPLER_BUCKETS_PER_LOGIT 8.0f
/* Greedy under a constraint: candidates tried one by one before the mask. */
#define FR_SAMPLER_GREEDY_TRIES 64

static inline size_t bucket_of(float max, float logit)
{
    float d = (max - logit) * SAMPLER_BUCKETS_PER_LOGIT;
    return d < (float)(SAMPLER_BUCKETS - 1) ? (size_t)d : SAMPLER_BUCKETS - 1;
}

struct fr_sampler {
    fr_sampler_params p; /* copy; p.logit_bias points at bias below */
    int32_t n_vocab;
    fr_logit_bias *bias; /* (n_bias) owned copy of params.logit_bias */
    int32_t n_bias;
    float *work;         /* (n_vocab) logits after bias and penalties */
    int32_t *idx;        /* (n_vocab) candidate token ids */
    double *weight;      /* (n_vocab) exp((logit - max) / T) of idx[i] while drawing */
    int32_t *count;      /* (n_vocab) occurrences in the history ring */
    int32_t *ring;       /* (penalty_last_n) accepted tokens, oldest overwritten */
    int32_t ring_len;    /* tokens in ring (<= penalty_last_n) */
    int32_t ring_pos;    /* next slot to write */
    uint64_t *allowed;   /* (FR_MASK_WORDS(n_vocab)) a constraint's mask */
    int32_t n_kept;      /* candidates of the last draw (idx, weight), for a redraw */
    uint64_t rng[4];     /* xoshiro256** state */
    double mass[SAMPLER_BUCKETS]; /* top-p: probability mass by distance below the max logit */
};

/* ---- random numbers: splitmix64 seeds xoshiro256** ---------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

static void seed_rng(fr_sampler *s, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

/* ---- params ------------------------------------------------------------- */

void fr_sampler_params_default(fr_sampler_params *p)
{
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->penalty_last_n = 64;
}

static fr_status check_params(const fr_sampler_params *p, int32_t n_vocab, fr_err *err)
{
    if (n_vocab <= 0 || n_vocab > FR_SAMPLER_MAX_VOCAB)
        return fr_err_set(err, FR_E_INVALID, "sampler: n_vocab %d is outside 1..%d", n_vocab,
                          FR_SAMPLER_MAX_VOCAB);
    if (!isfinite(p->temperature))
        return fr_err_set(err, FR_E_INVALID, "sampler: temperature must be a finite number");
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return fr_err_set(err, FR_E_INVALID, "sampler: top_p %g must be in [0, 1] (1 = off)",
                          (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return fr_err_set(err, FR_E_INVALID, "sampler: min_p %g must be in [0, 1] (0 = off)",
                          (double)p->min_p);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return fr_err_set(err, FR_E_INVALID,
                          "sampler: repeat_penalty %g must be a positive number (1 = off)",
                          (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return fr_err_set(err, FR_E_INVALID,
                          "sampler: frequency_penalty and presence_penalty must be finite");
    if (p->penalty_last_n < 0 || p->penalty_last_n > FR_SAMPLER_MAX_LAST_N)
        return fr_err_set(err, FR_E_INVALID, "sampler: penalty_last_n %d is outside 0..%d",
                          p->penalty_last_n, FR_SAMPLER_MAX_LAST_N);
    if (p->top_logprobs < 0 || p->top_logprobs > FR_SAMPLER_MAX_TOP_LOGPROBS)
        return fr_err_set(err, FR_E_INVALID, "sampler: top_logprobs %d is outside 0..%d",
                          p->top_logprobs, FR_SAMPLER_MAX_TOP_LOGPROBS);
    if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias))
        return fr_err_set(err, FR_E_INVALID, "sampler: logit_bias is NULL or its count negative");
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        const fr_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return fr_err_set(err, FR_E_INVALID,
                              "sampler: logit_bias[%d]: token %d is outside the vocabulary (0..%d)",
                              i, b->token, n_vocab - 1);
        if (isnan(b->bias) || b->bias == INFINITY)
            return fr_err_set(err, FR_E_INVALID,
                              "sampler: logit_bias[%d] for token %d must be a number or -inf", i,
                              b->token);
    }
    return FR_OK;
}

fr_status fr_sampler_create(const fr_sampler_params *p, int32_t n_vocab, fr_sampler **out,
                            fr_err *err)
{
    if (!out || !p)
        return fr_err_set(err, FR_E_INVALID, "fr_sampler_create: NULL argument");
    *out = NULL;
    fr_status st = check_params(p, n_vocab, err);
    if (st)
        return st;
    fr_sampler *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->p = *p;
    s->n_vocab = n_vocab;
    size_t nv = (size_t)n_vocab;
    s->work = malloc(nv * sizeof *s->work);
    s->idx = malloc(nv * sizeof *s->idx);
    s->weight = malloc(nv * sizeof *s->weight);
    s->count = calloc(nv, sizeof *s->count);
    s->ring = malloc((size_t)(p->penalty_last_n ? p->penalty_last_n : 1) * sizeof *s->ring);
    s->allowed = malloc(FR_MASK_WORDS(nv) * sizeof *s->allowed);
    if (!s->work || !s->idx || !s->weight || !s->count || !s->ring || !s->allowed)
        goto nomem;
    if (p->n_logit_bias) {
        s->bias = malloc((size_t)p->n_logit_bias * sizeof *s->bias);
        if (!s->bias)
            goto nomem;
        memcpy(s->bias, p->logit_bias, (size_t)p->n_logit_bias * sizeof *s->bias);
        s->n_bias = p->n_logit_bias;
    }
    s->p.logit_bias = s->bias;
    seed_rng(s, p->seed);
    *out = s;
    return FR_OK;
nomem:
    fr_sampler_free(s);
    return fr_err_set(err, FR_E_NOMEM, "sampler: out of memory for a vocabulary of %d tokens",
                      n_vocab);
}

void fr_sampler_free(fr_sampler *s)
{
    if (!s)
        return;
    free(s->work);
    free(s->idx);
    free(s->weight);
    free(s->count);
    free(s->ring);
    free(s->allowed);
    free(s->bias);
    free(s);
}

void fr_sampler_accept(fr_sampler *s, int32_t token)
{
    if (!s || token < 0 || token >= s->n_vocab || s->p.penalty_last_n == 0)
        return;
    if (s->ring_len == s->p.penalty_last_n)
        s->count[s->ring[s->ring_pos]]--;
    else
        s->ring_len++;
    s->ring[s->ring_pos] = token;
    s->count[token]++;
    s->ring_pos = (s->ring_pos + 1) % s->p.penalty_last_n;
}

void fr_sampler_reset(fr_sampler *s, uint64_t seed)
{
    if (!s)
        return;
    for (int32_t i = 0; i < s->ring_len; i++)
        s->count[s->ring[i]] = 0;
    s->ring_len = 0;
    s->ring_pos = 0;
    seed_rng(s, seed);
}

/* ---- steps 1-2: bias and penalties --------------------------------------- */

static fr_status load_logits(fr_sampler *s, const float *logits, fr_err *err)
{
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float x = logits[i];
        if (isnan(x) || x == INFINITY)
            return fr_err_set(err, FR_E_INVALID, "sampler: logit of token %d is %s", i,
                              isnan(x) ? "NaN" : "+inf");
        s->work[i] = x;
    }
    for (int32_t i = 0; i < s->n_bias; i++)
        s->work[s->bias[i].token] += s->bias[i].bias;
    return FR_OK;
}

static void apply_penalties(fr_sampler *s)
{
    const fr_sampler_params *p = &s->p;
    if (p->penalty_last_n == 0 ||
        (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f))
        return;
    /* Each distinct token once: negate its count after use, restore after. */
    for (int32_t i = 0; i < s->ring_len; i++) {
        int32_t t = s->ring[i];
        int32_t c = s->count[t];
        if (c <= 0)
            continue;
        float *l = &s->work[t];
        if (*l <= 0.0f)
            *l *= p->repeat_penalty;
        else
            *l /= p->repeat_penalty;
        *l -= (float)c * p->frequency_penalty + p->presence_penalty;
        s->count[t] = -c;
    }
    for (int32_t i = 0; i < s->ring_len; i++) {
        int32_t t = s->ring[i];
        if (s->count[t] < 0)
            s->count[t] = -s->count[t];
    }
}

/* ---- ordering helpers ------------------------------------------------------ */

/* a ranks before b: larger logit, then lower id. */
static inline bool better(const float *w, int32_t a, int32_t b)
{
    return w[a] > w[b] || (w[a] == w[b] && a < b);
}

static void swap_i(int32_t *a, int32_t *b)
{
    int32_t t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(const float *w, int32_t *v, size_t root, size_t n)
{
    /* Min-heap by "better": the worst element at the root, so that popping
     * it to the end leaves the range sorted best-first. */
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && better(w, v[child], v[child + 1]))
            child++;
        if (!better(w, v[root], v[child]))
            return;
        swap_i(&v[root], &v[child]);
        root = child;
    }
}

/* Sorts v[0..n) best first (heapsort: deterministic, no recursion). */
static void sort_best_first(const float *w, int32_t *v, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(w, v, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        swap_i(&v[0], &v[end]);
        sift_down(w, v, 0, end);
    }
}

/* For small k: keeps the k best of v[0..n) as a heap in v[0..k) (worst at
 * the root) and scans the rest once; most entries are rejected by one float
 * compare with the root, so this costs about one sequential pass. */
static void heap_select(const float *w, int32_t *v, size_t n, size_t k)
{
    for (size_t i = k / 2; i-- > 0;)
        sift_down(w, v, i, k);
    for (size_t j = k; j < n; j++) {
        int32_t c = v[j];
        if (w[c] < w[v[0]] || !better(w, c, v[0]))
            continue;
        v[j] = v[0];
        v[0] = c;
        sift_down(w, v, 0, k);
    }
}

/* Rearranges v[0..n) so that v[0..k) holds the k best (in any order),
 * 0 < k < n. A heap scan for small k; otherwise quickselect with a
 * median-of-three pivot, falling back to a full sort if partitioning stops
 * shrinking the range fast enough. */
static void select_best(const float *w, int32_t *v, size_t n, size_t k)
{
    if (k <= 1024) {
        heap_select(w, v, n, k);
        return;
    }
    size_t lo = 0, hi = n; /* the k-th best lies in v[lo..hi) */
    int budget = 2 * 64;
    while (hi - lo > 16) {
        if (budget-- == 0) {
            sort_best_first(w, v + lo, hi - lo);
            return;
        }
        size_t mid = lo + (hi - lo) / 2;
        /* Median of three to v[hi-1]. */
        if (better(w, v[mid], v[lo]))
            swap_i(&v[mid], &v[lo]);
        if (better(w, v[hi - 1], v[lo]))
            swap_i(&v[hi - 1], &v[lo]);
        if (better(w, v[mid], v[hi - 1]))
            swap_i(&v[mid], &v[hi - 1]);
        int32_t pivot = v[hi - 1];
        size_t store = lo;
        for (size_t i = lo; i < hi - 1; i++)
            if (better(w, v[i], pivot))
                swap_i(&v[i], &v[store++]);
        swap_i(&v[store], &v[hi - 1]);
        /* v[lo..store) better than the pivot, v[store] the pivot. */
        if (store + 1 == k || store == k)
            return;
        if (store > k)
            hi = store;
        else
            lo = store + 1;
    }
    sort_best_first(w, v + lo, hi - lo);
}

/* ---- steps 3-7 ------------------------------------------------------------- */

static int32_t argmax(const float *w, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (w[i] > w[best])
            best = i;
    return best;
}

/* Steps 4-6 on s->work. Leaves the kept ids in s->idx[0..*n_keep); sets
 * *sorted when they are in best-first order. FR_E_RANGE when nothing can be
 * sampled. */
static fr_status truncate_candidates(fr_sampler *s, int32_t *n_keep, bool *sorted, fr_err *err)
{
    const fr_sampler_params *p = &s->p;
    const float *w = s->work;
    int32_t *idx = s->idx;
    size_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (w[i] != -INFINITY)
            idx[n++] = i;
    if (n == 0)
        return fr_err_set(err, FR_E_RANGE,
                          "sampler: every token is banned (logit -inf after logit bias); "
                          "nothing can be sampled");
    *sorted = false;

    /* 4. top-k */
    if (p->top_k > 0 && (size_t)p->top_k < n) {
        select_best(w, idx, n, (size_t)p->top_k);
        n = (size_t)p->top_k;
    }

    float max = w[idx[0]];
    for (size_t i = 1; i < n; i++)
        if (w[idx[i]] > max)
            max = w[idx[i]];

    /* top-p normalises over the top-k set, before min-p removes anything.
     * The same pass builds a histogram of probability mass by distance
     * from the maximum logit, which tells top-p how far down it must sort. */
    double z = 0.0;
    bool top_p_on = p->top_p < 1.0f;
    if (top_p_on) {
        memset(s->mass, 0, sizeof s->mass);
        for (size_t i = 0; i < n; i++) {
            float e = expf(w[idx[i]] - max);
            z += (double)e;
            s->mass[bucket_of(max, w[idx[i]])] += (double)e;
        }
    }

    /* 6. min-p keeps a best-first prefix, as top-p does; the kept set is the
     * shorter of the two prefixes, so min-p can be applied first as a
     * partition and top-p then runs on what is left. */
    if (p->min_p > 0.0f) {
        float thr = max + logf(p->min_p);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (w[idx[i]] >= thr)
                swap_i(&idx[i], &idx[k++]);
        n = k; /* >= 1: the maximum always passes */
    }

    /* 5. top-p: the first bucket at which the mass reaches p bounds what
     * must be sorted; sort that much, then walk the exact cumulative sum.
     * Rounding may put the crossing one bucket later: take more buckets. */
    if (top_p_on) {
        double target = (double)p->top_p, bm = 0.0;
        size_t b_end = 0;
        for (; b_end < SAMPLER_BUCKETS - 1; b_end++) {
            bm += s->mass[b_end];
            if (bm / z >= target)
                break;
        }
        size_t done = 0, keep = n;
        double cum = 0.0;
        for (;;) {
            size_t upto = done;
            for (size_t i = done; i < n; i++)
                if (bucket_of(max, w[idx[i]]) <= b_end)
                    swap_i(&idx[i], &idx[upto++]);
            sort_best_first(w, idx + done, upto - done);
            bool hit = false;
            for (size_t i = done; i < upto; i++) {
                cum += (double)expf(w[idx[i]] - max) / z;
                if (cum >= target) {
                    keep = i + 1;
                    hit = true;
                    break;
                }
            }
            done = upto;
            if (hit || done == n)
                break;
            b_end = b_end + 1 < SAMPLER_BUCKETS ? b_end + 1 : b_end;
        }
        n = keep;
        *sorted = true;
    }
    *n_keep = (int32_t)n;
    return FR_OK;
}

/* ---- logprobs --------------------------------------------------------------- */

static void fill_logprobs(const fr_sampler *s, const float *logits, fr_sample *out)
{
    const fr_sampler_params *p = &s->p;
    out->logprob = 0.0f;
    out->n_top = 0;
    if (!p->logprobs && p->top_logprobs == 0)
        return;
    int32_t nv = s->n_vocab;
    float max = logits[argmax(logits, nv)];
    double sum = 0.0;
    for (int32_t i = 0; i < nv; i++)
        sum += exp((double)logits[i] - (double)max);
    double lse = (double)max + log(sum);
    if (p->logprobs)
        out->logprob = (float)((double)logits[out->token] - lse);
    int32_t want = p->top_logprobs < nv ? p->top_logprobs : nv;
    if (want == 0)
        return;
    /* Insertion into a best-first list of at most `want` ids. */
    int32_t top[FR_SAMPLER_MAX_TOP_LOGPROBS];
    int32_t n = 0;
    for (int32_t i = 0; i < nv; i++) {
        if (n == want && !better(logits, i, top[n - 1]))
            continue;
        int32_t j = n < want ? n++ : n - 1;
        while (j > 0 && better(logits, i, top[j - 1])) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = i;
    }
    for (int32_t i = 0; i < n; i++) {
        out->top[i].token = top[i];
        out->top[i].logprob = (float)((double)logits[top[i]] - lse);
    }
    out->n_top = n;
}

/* ---- public calls -------------------------------------------------------------- */

static bool is_greedy(const fr_sampler_params *p) { return p->temperature <= 0.0f || p->top_k == 1; }

/* Steps 3-8 on s->work: the chosen token, or FR_E_RANGE when every token
 * is banned (-inf). */
static fr_status choose(fr_sampler *s, int32_t *out, fr_err *err)
{
    if (is_greedy(&s->p)) {
        int32_t tok = argmax(s->work, s->n_vocab);
        if (s->work[tok] == -INFINITY)
            return fr_err_set(err, FR_E_RANGE,
                              "sampler: every token is banned (logit -inf after logit bias); "
                              "nothing can be sampled");
        *out = tok;
        return FR_OK;
    }
    int32_t n;
    bool sorted;
    fr_status st = truncate_candidates(s, &n, &sorted, err);
    if (st)
        return st;
    /* 7-8. temperature, then one draw. The maximum is among the kept. */
    const float *w = s->work;
    float max = w[s->idx[0]];
    for (int32_t i = 1; i < n; i++)
        if (w[s->idx[i]] > max)
            max = w[s->idx[i]];
    float inv_t = 1.0f / s->p.temperature;
    double total = 0.0;
    for (int32_t i = 0; i < n; i++) {
        s->weight[i] = (double)expf((w[s->idx[i]] - max) * inv_t);
        total += s->weight[i];
    }
    s->n_kept = n;
    double u = next_unit(s->rng) * total;
    double cum = 0.0;
    int32_t tok = s->idx[n - 1];
    for (int32_t i = 0; i < n; i++) {
        cum += s->weight[i];
        if (u < cum) {
            tok = s->idx[i];
            break;
        }
    }
    *out = tok;
    return FR_OK;
}

fr_status fr_sampler_sample(fr_sampler *s, const float *logits, fr_sample *out, fr_err *err)
{
    return fr_sampler_sample_constrained(s, logits, NULL, out, err);
}

/* Greedy, the best token refused: the next FR_SAMPLER_GREEDY_TRIES
 * candidates in order (a well-prompted model's second or third choice
 * usually fits). -1 when none of them is allowed. */
static int32_t greedy_next_allowed(fr_sampler *s, fr_constraint *c)
{
    const float *w = s->work;
    size_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (w[i] != -INFINITY)
            s->idx[n++] = i;
    size_t k = n < FR_SAMPLER_GREEDY_TRIES ? n : FR_SAMPLER_GREEDY_TRIES;
    if (k < n)
        select_best(w, s->idx, n, k);
    sort_best_first(w, s->idx, k);
    for (size_t i = 1; i < k; i++) /* idx[0] is the argmax, already refused */
        if (fr_constraint_allows(c, s->idx[i]))
            return s->idx[i];
    return -1;
}

/* Sampling, the drawn token refused: the draw again among the candidates
 * that survived truncation and that c allows (when there are at most
 * FR_SAMPLER_GREEDY_TRIES of them, as with top-k). -1 when there are more,
 * or none is allowed: then the mask decides. s->idx and s->weight still
 * hold the first draw's candidates and weights. */
static int32_t draw_allowed(fr_sampler *s, fr_constraint *c)
{
    int32_t n = s->n_kept;
    if (n <= 0 || n > FR_SAMPLER_GREEDY_TRIES)
        return -1;
    double total = 0.0;
    for (int32_t i = 0; i < n; i++) {
        if (!fr_constraint_allows(c, s->idx[i]))
            s->weight[i] = 0.0;
        total += s->weight[i];
    }
    if (!(total > 0.0))
        return -1;
    double u = next_unit(s->rng) * total, cum = 0.0;
    int32_t tok = -1;
    for (int32_t i = 0; i < n; i++) {
        if (s->weight[i] == 0.0)
            continue;
        tok = s->idx[i];
        cum += s->weight[i];
        if (u < cum)
            break;
    }
    return tok;
}

fr_status fr_sampler_sample_constrained(fr_sampler *s, const float *logits, fr_constraint *c,
                                        fr_sample *out, fr_err *err)
{
    if (!s || !logits || !out)
        return fr_err_set(err, FR_E_INVALID, "fr_sampler_sample: NULL argument");
    fr_status st = load_logits(s, logits, err);
    if (st)
        return st;
    apply_penalties(s);
    int32_t tok;
    s->n_kept = 0;
    if ((st = choose(s, &tok, err)))
        return st;
    if (c && !fr_constraint_allows(c, tok)) {
        tok = is_greedy(&s->p) ? greedy_next_allowed(s, c) : draw_allowed(s, c);
        if (tok < 0) {
            /* the whole vocabulary through the constraint, then choose again */
            size_t nw = FR_MASK_WORDS(s->n_vocab);
            memset(s->allowed, 0, nw * sizeof *s->allowed);
            if ((st = fr_constraint_mask(c, s->allowed, err)))
                return st;
            bool any = false;
            for (int32_t i = 0; i < s->n_vocab; i++) {
                if (!(s->allowed[i >> 6] >> (i & 63) & 1))
                    s->work[i] = -INFINITY;
                else if (s->work[i] != -INFINITY)
                    any = true;
            }
            if (!any) {
                memset(out, 0, sizeof *out);
                out->token = -1;
                return FR_OK;
            }
            if ((st = choose(s, &tok, err)))
                return st;
        }
    }
    out->token = tok;
    fill_logprobs(s, logits, out);
    fr_sampler_accept(s, tok);
    return FR_OK;
}

fr_status fr_sampler_dist(fr_sampler *s, const float *logits, fr_token_prob *out, int32_t cap,
                          int32_t *n_out, fr_err *err)
{
    if (!s || !logits || !n_out || cap < 0 || (cap > 0 && !out))
        return fr_err_set(err, FR_E_INVALID, "fr_sampler_dist: bad argument");
    *n_out = 0;
    fr_status st = load_logits(s, logits, err);
    if (st)
        return st;
    apply_penalties(s);
    const float *w = s->work;
    if (is_greedy(&s->p)) {
        int32_t tok = argmax(w, s->n_vocab);
        if (w[tok] == -INFINITY)
            return fr_err_set(err, FR_E_RANGE, "sampler: every token is banned");
        if (cap > 0)
            out[0] = (fr_token_prob){tok, w[tok], 1.0f};
        *n_out = 1;
        return FR_OK;
    }
    int32_t n;
    bool sorted;
    st = truncate_candidates(s, &n, &sorted, err);
    if (st)
        return st;
    if (!sorted)
        sort_best_first(w, s->idx, (size_t)n);
    float max = w[s->idx[0]];
    float inv_t = 1.0f / s->p.temperature;
    double total = 0.0;
    for (int32_t i = 0; i < n; i++)
        total += (double)expf((w[s->idx[i]] - max) * inv_t);
    for (int32_t i = 0; i < n && i < cap; i++) {
        int32_t t = s->idx[i];
        out[i].token = t;
        out[i].logit = w[t];
        out[i].p = (float)((double)expf((w[t] - max) * inv_t) / total);
    }
    *n_out = n;
    return FR_OK;
}
