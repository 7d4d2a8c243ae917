/* Tests for src/model/grammar_cons.c: a grammar as a constraint over a real
 * 151k-token vocabulary (Qwen2's, from ../shared/vocab).
 *
 * The oracle for a mask is the whole-string check: token t may come next
 * exactly when (text so far + t's bytes) is still a prefix of a sentence
 * (fr_grammar_match >= 0); an end-of-generation token exactly when the text
 * so far is a whole sentence; a control token never. The mask (trie walk +
 * cache) and allows() must agree with it for every token. Literals are
 * then fed split across tokens in several ways, and random walks through
 * a grammar of Japanese text (whose characters the byte-level vocabulary
 * splits across tokens) must end in valid UTF-8 that the grammar accepts. */
#include "test.h"

#include "base/clock.h"

#include <frugal/grammar.h>

static fr_tokenizer *tok;
static const fr_grammar_vocab *voc;
static uint32_t n_vocab;

static bool bit(const uint64_t *m, int32_t t) { return m[t >> 6] >> (t & 63) & 1; }

/* Compares the constraint's mask and allows() with the oracle, after the
 * text `so_far`, over every stride-th token. */
static void check_mask(fr_constraint *c, const fr_grammar *g, const char *so_far, int stride)
{
    size_t nw = FR_MASK_WORDS(n_vocab);
    uint64_t *m = calloc(nw, sizeof *m);
    fr_err e;
    CHECK(fr_constraint_mask(c, m, &e) == FR_OK);
    size_t sl = strlen(so_far);
    char *buf = malloc(sl + 1024);
    memcpy(buf, so_far, sl);
    int whole = fr_grammar_match(g, so_far, sl);
    int bad = 0, n_allowed = 0;
    for (uint32_t t = 0; t < n_vocab && bad < 5; t += (uint32_t)stride) {
        size_t len;
        const char *p = fr_token_piece(tok, (int32_t)t, 0, &len);
        bool want;
        if (fr_tokenizer_is_eog(tok, (int32_t)t))
            want = whole == 1;
        else if (!p || !len || len > 1000)
            want = false;
        else {
            memcpy(buf + sl, p, len);
            want = fr_grammar_match(g, buf, sl + len) >= 0;
        }
        n_allowed += want;
        if (bit(m, (int32_t)t) != want || fr_constraint_allows(c, (int32_t)t) != want) {
            bad++;
            CHECK_MSG(false, "after \"%s\": token %u \"%.*s\": oracle %d, mask %d, allows %d",
                      so_far, t, (int)len, p ? p : "", want, bit(m, (int32_t)t),
                      fr_constraint_allows(c, (int32_t)t));
        }
    }
    CHECK_MSG(n_allowed > 0 || stride > 1, "after \"%s\": nothing allowed", so_far);
    free(buf);
    free(m);
}

static int32_t token_of(const char *piece)
{
    size_t want = strlen(piece);
    for (uint32_t t = 0; t < n_vocab; t++) {
        size_t len;
        const char *p = fr_token_piece(tok, (int32_t)t, 0, &len);
        if (p && len == want && memcmp(p, piece, len) == 0)
            return (int32_t)t;
    }
    return -1;
}

static fr_constraint *make(const char *gbnf, fr_grammar **view)
{
    fr_grammar *g = NULL, *g2 = NULL;
    fr_err e;
    CHECK_MSG(fr_grammar_parse(gbnf, strlen(gbnf), "t", &g, &e) == FR_OK, "%s", e.msg);
    CHECK(fr_grammar_parse(gbnf, strlen(gbnf), "t", &g2, &e) == FR_OK);
    fr_constraint *c = NULL;
    CHECK_MSG(g && fr_grammar_constraint(g, voc, &c, &e) == FR_OK, "%s", e.msg);
    *view = g2;
    return c;
}

static void test_oracle_and_splits(int stride)
{
    static const char gbnf[] =
        "root ::= \"{\\\"name\\\": \\\"\" [a-z ]{1,30} \"\\\", \\\"n\\\": \" [0-9]+ \"}\"\n";
    /* the literal {"name": " split three ways */
    static const char *const splits[][8] = {
        {"{\"", "name", "\":", " \"", NULL},
        {"{", "\"", "n", "ame", "\"", ":", " ", "\""},
        {"{\"name", "\": \"", NULL},
    };
    for (size_t s = 0; s < sizeof splits / sizeof *splits; s++) {
        fr_grammar *g;
        fr_constraint *c = make(gbnf, &g);
        if (!c || !g)
            return;
        char so_far[256] = "";
        if (s == 0)
            check_mask(c, g, so_far, stride);
        fr_err e;
        for (int k = 0; k < 8 && splits[s][k]; k++) {
            int32_t t = token_of(splits[s][k]);
            if (t < 0) {
                fprintf(stderr, "(no token \"%s\" in this vocabulary: split %zu skipped)\n",
                        splits[s][k], s);
                break;
            }
            CHECK_MSG(fr_constraint_allows(c, t), "split %zu: \"%s\" refused after \"%s\"", s,
                      splits[s][k], so_far);
            CHECK(fr_constraint_accept(c, t, &e) == FR_OK);
            strcat(so_far, splits[s][k]);
            if (s == 0 && k == 1)
                check_mask(c, g, so_far, stride); /* inside the literal */
        }
        if (s == 0) {
            /* inside the string value: most of the vocabulary, twice (the cache) */
            int32_t t = token_of("bob");
            CHECK(t >= 0 && fr_constraint_allows(c, t));
            CHECK(fr_constraint_accept(c, t, &e) == FR_OK);
            strcat(so_far, "bob");
            uint64_t *m = calloc(FR_MASK_WORDS(n_vocab), sizeof *m);
            double t0 = fr_now_s();
            CHECK(fr_constraint_mask(c, m, &e) == FR_OK);
            double t1 = fr_now_s();
            memset(m, 0, FR_MASK_WORDS(n_vocab) * sizeof *m);
            CHECK(fr_constraint_mask(c, m, &e) == FR_OK);
            double t2 = fr_now_s();
            fprintf(stderr, "mask inside a string, %u tokens: %.2f ms, then %.3f ms (cached)\n",
                    n_vocab, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
            free(m);
            check_mask(c, g, so_far, stride);
            CHECK(!fr_constraint_complete(c));
        }
        fr_constraint_free(c);
        fr_grammar_free(g);
    }
}

/* Random walks: each step a random token among those the mask allows. */
static void test_unicode_walks(void)
{
    static const char gbnf[] = "root ::= \"名前:\" [ぁ-ゟ]{2,6} \"。\"\n";
    uint64_t rng = 88172645463325252ull;
    int partial_seen = 0, done = 0;
    for (int run = 0; run < 12; run++) {
        fr_grammar *g;
        fr_constraint *c = make(gbnf, &g);
        if (!c || !g)
            return;
        size_t nw = FR_MASK_WORDS(n_vocab);
        uint64_t *m = calloc(nw, sizeof *m);
        char text[512];
        size_t len = 0;
        fr_err e;
        bool ended = false;
        for (int step = 0; step < 64 && !ended; step++) {
            memset(m, 0, nw * sizeof *m);
            CHECK(fr_constraint_mask(c, m, &e) == FR_OK);
            uint32_t n = 0;
            for (size_t w = 0; w < nw; w++)
                n += (uint32_t)__builtin_popcountll(m[w]);
            if (!n) {
                CHECK_MSG(false, "run %d: nothing allowed after \"%.*s\"", run, (int)len, text);
                break;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            uint32_t pick = (uint32_t)(rng % n), t = 0;
            for (t = 0; t < n_vocab; t++)
                if (bit(m, (int32_t)t) && pick-- == 0)
                    break;
            if (fr_tokenizer_is_eog(tok, (int32_t)t)) {
                ended = true;
                break;
            }
            size_t pl;
            const char *p = fr_token_piece(tok, (int32_t)t, 0, &pl);
            CHECK(fr_constraint_accept(c, (int32_t)t, &e) == FR_OK);
            if (len + pl < sizeof text) {
                memcpy(text + len, p, pl);
                len += pl;
            }
            /* a token that ends inside a character leaves a partial one */
            size_t k = len;
            while (k > 0 && ((unsigned char)text[k - 1] & 0xC0) == 0x80)
                k--;
            if (k > 0 && (unsigned char)text[k - 1] >= 0xC0) {
                unsigned char lead = (unsigned char)text[k - 1];
                size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
                if (len - (k - 1) < need)
                    partial_seen++;
            }
        }
        if (ended) {
            done++;
            CHECK_MSG(fr_grammar_match(g, text, len) == 1, "run %d ended on \"%.*s\"", run,
                      (int)len, text);
        }
        free(m);
        fr_constraint_free(c);
        fr_grammar_free(g);
    }
    fprintf(stderr, "unicode walks: %d of 12 ended, %d steps stopped inside a character\n", done,
            partial_seen);
    CHECK(partial_seen > 0);
}

int main(void)
{
    char path[512];
    fr_test_shared("vocab/ggml-vocab-qwen2.gguf", path, sizeof path);
    fr_err e;
    if (fr_tokenizer_load(path, &tok, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    n_vocab = fr_tokenizer_n_tokens(tok);
    fr_grammar_vocab *v = NULL;
    double t0 = fr_now_s();
    CHECK_MSG(fr_grammar_vocab_create(tok, n_vocab, NULL, 0, &v, &e) == FR_OK, "%s", e.msg);
    fprintf(stderr, "vocabulary trie for %u tokens: %.1f ms\n", n_vocab, (fr_now_s() - t0) * 1e3);
    voc = v;
    if (v) {
        /* every token under the sanitizers takes too long: a stride then */
        test_oracle_and_splits(getenv("FR_SANITIZED") ? 13 : 1);
        test_unicode_walks();
    }
    fr_grammar_vocab_free(v);
    fr_tokenizer_free(tok);
    TEST_END();
}
