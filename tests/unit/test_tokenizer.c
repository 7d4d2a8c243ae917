/* Tokenizer tests on small in-memory vocabularies: hand-computed ids for
 * SentencePiece-style and byte-level BPE merging, special tokens, byte
 * fallback, decoding and the streaming decoder; random vocabularies checked
 * against deliberately naive reference implementations written here (scan
 * all pairs, merge the best, repeat); the llama2.c importer on tok512.bin
 * against the prompt ids llama2.c itself printed; errors for unknown models
 * and bad vocabularies; hostile input (invalid UTF-8, NULs, 1 MB inputs). */
#include "test.h"

#include "base/clock.h"
#include "text/tok_internal.h"
#include "text/utf8.h"

#include <frugal/tokenizer.h>

#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */

/* ---- helpers ------------------------------------------------------------- */

static int32_t *enc(const fr_tokenizer *t, const char *s, size_t len, int bos, bool special,
                    size_t *n)
{
    fr_encode_opts o = {bos, 0, special};
    int32_t *ids = NULL;
    fr_err err = {0};
    fr_status st = fr_tokenize(t, s, len, &o, &ids, n, &err);
    CHECK_MSG(st == FR_OK, "tokenize: %s", err.msg);
    return ids;
}

/* True when s tokenizes (no BOS/EOS) to exactly want[0..nw). */
static bool enc_is(const fr_tokenizer *t, const char *s, bool special, const int32_t *want,
                   size_t nw)
{
    size_t n = 0;
    int32_t *ids = enc(t, s, strlen(s), 0, special, &n);
    bool ok = ids && n == nw && memcmp(ids, want, n * sizeof *ids) == 0;
    if (!ok) {
        fprintf(stderr, "  '%s' ->", s);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return ok;
}

#define ENC_IS(t, s, special, ...)                                                                 \
    do {                                                                                           \
        const int32_t want_[] = {__VA_ARGS__};                                                     \
        CHECK_MSG(enc_is(t, s, special, want_, sizeof want_ / sizeof want_[0]), "%s", s);          \
    } while (0)

static bool dec_is(const fr_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                   const char *want)
{
    char *s = NULL;
    size_t len = 0;
    fr_err err = {0};
    bool ok = fr_detokenize(t, ids, n, flags, &s, &len, &err) == FR_OK && len == strlen(want) &&
              memcmp(s, want, len) == 0;
    if (!ok)
        fprintf(stderr, "  decoded '%s', want '%s' (%s)\n", s ? s : "(null)", want, err.msg);
    free(s);
    return ok;
}

/* A SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then pieces. */
typedef struct spm_vocab {
    const char *tok[400];
    float score[400];
    int32_t type[400];
    char bytes[256][8];
    uint32_t n;
} spm_vocab;

static void spm_base(spm_vocab *v)
{
    v->n = 0;
    v->tok[v->n] = "<unk>", v->type[v->n] = FR_TOKEN_UNKNOWN, v->score[v->n++] = 0;
    v->tok[v->n] = "<s>", v->type[v->n] = FR_TOKEN_CONTROL, v->score[v->n++] = 0;
    v->tok[v->n] = "</s>", v->type[v->n] = FR_TOKEN_CONTROL, v->score[v->n++] = 0;
    for (int b = 0; b < 256; b++) {
        snprintf(v->bytes[b], sizeof v->bytes[b], "<0x%02X>", b);
        v->tok[v->n] = v->bytes[b], v->type[v->n] = FR_TOKEN_BYTE, v->score[v->n++] = 0;
    }
}

static int32_t spm_add(spm_vocab *v, const char *s, float score, int32_t type)
{
    v->tok[v->n] = s;
    v->score[v->n] = score;
    v->type[v->n] = type;
    return (int32_t)v->n++;
}

static fr_tokenizer *spm_make(const spm_vocab *v, const char *name)
{
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    d.model = "llama";
    d.name = name;
    d.n_tokens = v->n;
    d.tokens = v->tok;
    d.scores = v->score;
    d.token_types = v->type;
    fr_tokenizer *t = NULL;
    fr_err err = {0};
    CHECK_MSG(fr_tokenizer_create(&d, &t, &err) == FR_OK, "%s", err.msg);
    return t;
}

/* ---- SentencePiece ------------------------------------------------------- */

static void test_spm_hand(void)
{
    spm_vocab v;
    spm_base(&v);
    int32_t sp = spm_add(&v, SP, -1.0f, FR_TOKEN_NORMAL); /* 259 */
    int32_t a = spm_add(&v, "a", -2.0f, FR_TOKEN_NORMAL);
    int32_t b = spm_add(&v, "b", -2.0f, FR_TOKEN_NORMAL);
    int32_t ab = spm_add(&v, "ab", -1.5f, FR_TOKEN_NORMAL);
    int32_t spab = spm_add(&v, SP "ab", -0.5f, FR_TOKEN_NORMAL);
    spm_add(&v, "c", -3.0f, FR_TOKEN_NORMAL);
    int32_t bc = spm_add(&v, "bc", -0.2f, FR_TOKEN_NORMAL);
    int32_t end = spm_add(&v, "<|end|>", 0, FR_TOKEN_CONTROL);
    int32_t user = spm_add(&v, "<u>", 0, FR_TOKEN_USER_DEFINED);
    fr_tokenizer *t = spm_make(&v, "tiny");
    if (!t)
        return;
    CHECK_STR(fr_tokenizer_model(t), "llama");
    CHECK_EQ_INT(fr_tokenizer_bos(t), 1);
    CHECK_EQ_INT(fr_tokenizer_eos(t), 2);
    CHECK_EQ_INT(fr_tokenizer_unk(t), 0);
    CHECK(fr_tokenizer_add_bos(t));
    CHECK_EQ_INT(fr_tokenizer_nl(t), 3 + '\n');
    CHECK_EQ_INT(fr_tokenizer_find(t, "ab", 2), ab);
    CHECK_EQ_INT(fr_tokenizer_find(t, "zz", 2), FR_TOKEN_NONE);

    /* "▁abc": bc (-0.2) beats ab (-1.5); "abc" is no token: ▁ a bc */
    ENC_IS(t, "abc", false, sp, a, bc);
    /* "▁ab": ab, then ▁ab */
    ENC_IS(t, "ab", false, spab);
    /* 'x' is not a piece: byte fallback <0x78> */
    ENC_IS(t, "x", false, sp, 3 + 'x');
    /* é = C3 A9 as two byte tokens; a lone continuation byte too */
    ENC_IS(t, "\xc3\xa9", false, sp, 3 + 0xc3, 3 + 0xa9);
    ENC_IS(t, "\x80", false, sp, 3 + 0x80);
    /* a NUL byte is text like any other */
    {
        size_t n;
        int32_t *ids = enc(t, "a\0b", 3, 0, false, &n);
        CHECK(n == 4 && ids[0] == sp && ids[1] == a && ids[2] == 3 + 0 && ids[3] == b);
        free(ids);
    }
    /* empty text: nothing, or only BOS */
    {
        size_t n;
        int32_t *ids = enc(t, "", 0, 1, false, &n);
        CHECK(n == 1 && ids[0] == 1);
        free(ids);
        ids = enc(t, "", 0, 0, false, &n);
        CHECK(n == 0 && ids != NULL);
        free(ids);
        ids = enc(t, "ab", 2, -1, false, &n); /* add_bos per the vocabulary (default true) */
        CHECK(n == 2 && ids[0] == 1 && ids[1] == spab);
        free(ids);
    }
    /* control text is plain text unless parse_special; user-defined always splits,
     * and the text after a special token gets the space prefix again */
    ENC_IS(t, "<u>ab", false, user, spab);
    ENC_IS(t, "ab<|end|>", true, spab, end);
    ENC_IS(t, "ab<|end|>ab", true, spab, end, spab);
    {
        size_t n;
        int32_t *ids = enc(t, "<|end|>", 7, 0, false, &n);
        CHECK(n > 1); /* split into characters */
        free(ids);
        ids = enc(t, "<s></s>", 7, 0, true, &n);
        CHECK(n == 2 && ids[0] == 1 && ids[1] == 2);
        free(ids);
    }

    /* decoding */
    {
        int32_t ids[] = {1, sp, a, bc, 3 + 'x', end};
        CHECK(dec_is(t, ids, 6, 0, " abcx"));    /* BOS first: no space removed */
        CHECK(dec_is(t, ids + 1, 5, 0, "abcx")); /* leading space removed */
        CHECK(dec_is(t, ids + 1, 5, FR_DECODE_KEEP_PREFIX_SPACE, " abcx"));
        CHECK(dec_is(t, ids + 1, 5, FR_DECODE_SPECIAL, "abcx<|end|>"));
        CHECK(dec_is(t, ids, 6, FR_DECODE_REMOVE_SPECIAL, " abcx"));
        int32_t bad[] = {sp, 100000};
        char *s = NULL;
        size_t len;
        fr_err err = {0};
        CHECK(fr_detokenize(t, bad, 2, 0, &s, &len, &err) == FR_E_RANGE);
        CHECK(strstr(err.msg, "100000") != NULL);
        size_t pl;
        const char *p = fr_token_piece(t, spab, 0, &pl);
        CHECK(pl == 3 && memcmp(p, " ab", 3) == 0);
        p = fr_token_piece(t, 3 + 0x41, 0, &pl);
        CHECK(pl == 1 && p[0] == 'A');
        fr_token_piece(t, end, 0, &pl);
        CHECK(pl == 0);
        p = fr_token_piece(t, end, FR_DECODE_SPECIAL, &pl);
        CHECK(pl == 7 && memcmp(p, "<|end|>", 7) == 0);
        CHECK(fr_token_piece(t, -1, 0, &pl) == NULL);
        CHECK(fr_tokenizer_is_control(t, end) && !fr_tokenizer_is_control(t, a));
        CHECK(fr_tokenizer_is_eog(t, 2) && !fr_tokenizer_is_eog(t, a));
    }
    fr_tokenizer_free(t);
}

/* Naive SentencePiece: scan every adjacent pair, merge the best-scoring
 * (leftmost on ties), repeat; then byte fallback. O(n^2) and obviously so. */
static int32_t naive_find(const spm_vocab *v, const char *s, size_t n)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (strlen(v->tok[i]) == n && memcmp(v->tok[i], s, n) == 0)
            return (int32_t)i;
    return -1;
}

static size_t naive_spm(const spm_vocab *v, const char *text, size_t len, int32_t *out)
{
    size_t st[512], ln[512], n = 0;
    for (size_t i = 0; i < len;) {
        size_t l = fr_utf8_len((uint8_t)text[i]);
        if (l > len - i)
            l = len - i;
        st[n] = i, ln[n++] = l;
        i += l;
    }
    for (;;) {
        int best = -1;
        float bs = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t id = naive_find(v, text + st[i], ln[i] + ln[i + 1]);
            if (id >= 0 && (best < 0 || v->score[id] > bs)) {
                best = (int)i;
                bs = v->score[id];
            }
        }
        if (best < 0)
            break;
        ln[best] += ln[best + 1];
        memmove(st + best + 1, st + best + 2, (n - best - 2) * sizeof *st);
        memmove(ln + best + 1, ln + best + 2, (n - best - 2) * sizeof *ln);
        n--;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = naive_find(v, text + st[i], ln[i]);
        if (id >= 0) {
            out[o++] = id;
        } else {
            for (size_t j = 0; j < ln[i]; j++)
                out[o++] = 3 + (uint8_t)text[st[i] + j];
        }
    }
    return o;
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void test_spm_random(void)
{
    static const char *alpha[] = {"a", "b", "c", SP, "\xc3\xa9"};
    int rounds = getenv("FR_SANITIZED") ? 20 : 60, mismatches = 0;
    for (int round = 0; round < rounds; round++) {
        spm_vocab v;
        spm_base(&v);
        static char store[120][16];
        int ns = 0;
        /* pieces: random concatenations of 1-4 alphabet symbols, scores from a
         * small set so that ties happen */
        /* odd rounds: U+2581 only as a leading run, as in real SentencePiece
         * vocabularies (the word-by-word path); even rounds: anywhere */
        bool words = round % 2;
        for (int k = 0; k < 100; k++) {
            char buf[16] = "";
            int parts = 1 + (int)rnd(4);
            if (words) {
                int lead = (int)rnd(3);
                for (int p = 0; p < lead; p++)
                    strcat(buf, SP);
                static const char *letters[] = {"a", "b", "c", "\xc3\xa9"};
                for (int p = lead; p < parts; p++)
                    strcat(buf, letters[rnd(4)]);
            } else {
                for (int p = 0; p < parts; p++)
                    strcat(buf, alpha[rnd(5)]);
            }
            if (naive_find(&v, buf, strlen(buf)) >= 0)
                continue;
            memcpy(store[ns], buf, sizeof buf);
            spm_add(&v, store[ns++], -(float)rnd(6), FR_TOKEN_NORMAL);
        }
        fr_tokenizer_desc d;
        fr_tokenizer_desc_init(&d);
        d.model = "llama";
        d.n_tokens = v.n;
        d.tokens = v.tok;
        d.scores = v.score;
        d.token_types = v.type;
        d.add_space_prefix = 0;
        fr_tokenizer *t = NULL;
        fr_err err = {0};
        if (fr_tokenizer_create(&d, &t, &err) != FR_OK) {
            CHECK_MSG(0, "%s", err.msg);
            return;
        }
        if (words)
            CHECK(t->spm_by_word);
        for (int s = 0; s < 30; s++) {
            char text[200] = "";
            int len = (int)rnd(25);
            for (int i = 0; i < len; i++)
                strcat(text, alpha[rnd(5)]);
            int32_t want[600];
            size_t nw = naive_spm(&v, text, strlen(text), want);
            size_t n;
            int32_t *ids = enc(t, text, strlen(text), 0, false, &n);
            if (!(n == nw && memcmp(ids, want, n * sizeof *ids) == 0))
                mismatches++;
            free(ids);
        }
        fr_tokenizer_free(t);
    }
    CHECK_EQ_INT(mismatches, 0);
}

/* ---- byte-level BPE ------------------------------------------------------ */

static fr_tokenizer *bpe_make(const char *const *tok, uint32_t n, const int32_t *types,
                              const char *const *merges, uint32_t nm, const char *pre, fr_err *err)
{
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    d.model = "gpt2";
    d.pre = pre;
    d.n_tokens = n;
    d.tokens = tok;
    d.token_types = types;
    d.n_merges = nm;
    d.merges = merges;
    fr_tokenizer *t = NULL;
    fr_tokenizer_create(&d, &t, err);
    return t;
}

static void test_bpe_hand(void)
{
    /* "\xc4\xa0" is Ġ, the byte-level stand-in for ' ' */
    static const char *tok[] = {"a",
                                "b",
                                "c",
                                "\xc4\xa0",
                                "ab",
                                "bc",
                                "abc",
                                "\304\240a", /* U+0120 then 'a' */
                                "<|end|>",
                                "cab",
                                "!"};
    static const int32_t types[] = {1, 1, 1, 1, 1, 1, 1, 1, FR_TOKEN_CONTROL, 1, 1};
    /* "c a" makes "ca", which is no token but a part of "ca b" */
    static const char *merges[] = {"c a", "a b", "b c", "ab c", "\xc4\xa0 a", "ca b"};
    fr_err err = {0};
    fr_tokenizer *t = bpe_make(tok, 11, types, merges, 6, "gpt-2", &err);
    CHECK_MSG(t != NULL, "%s", err.msg);
    if (!t)
        return;
    CHECK(fr_tokenizer_warning(t) == NULL);
    CHECK(!fr_tokenizer_add_bos(t));
    ENC_IS(t, "abc", false, 6);     /* a b -> ab, ab c -> abc */
    ENC_IS(t, "cab", false, 9);     /* c a (rank 0) first, then ca b */
    ENC_IS(t, "bc a", false, 5, 7); /* words "bc" and " a" */
    ENC_IS(t, "ca", false, 2, 0);   /* "ca" is no token: its bytes */
    ENC_IS(t, "d!", false, 10);     /* 'd' has no token at all: dropped, as llama.cpp */
    ENC_IS(t, "a<|end|>", true, 0, 8);
    {
        int32_t ids[] = {7, 8, 6};
        CHECK(dec_is(t, ids, 3, 0, " aabc"));
        CHECK(dec_is(t, ids, 3, FR_DECODE_SPECIAL, " a<|end|>abc"));
    }
    fr_tokenizer_free(t);

    /* A vocabulary without a pre-tokenizer name: 'default', with a warning. */
    t = bpe_make(tok, 11, types, merges, 6, NULL, &err);
    CHECK(t && fr_tokenizer_warning(t) && strstr(fr_tokenizer_warning(t), "default"));
    CHECK(t && strcmp(fr_tokenizer_pre(t), "default") == 0);
    fr_tokenizer_free(t);

    /* Unknown pre-tokenizer: an error that names it and the supported ones. */
    t = bpe_make(tok, 11, types, merges, 6, "klingon", &err);
    CHECK(t == NULL && err.code == FR_E_UNSUPPORTED);
    CHECK(strstr(err.msg, "'klingon'") && strstr(err.msg, "llama-bpe") && strstr(err.msg, "qwen2"));
}

/* Every pre-tokenizer name frugal advertises builds (its expressions
 * compile) and splits a mixed text without losing a byte. */
static void test_all_pre(void)
{
    char names[2048];
    snprintf(names, sizeof names, "%s", fr_tokenizer_supported_pre());
    int count = 0;
    for (char *p = names, *e; p && *p; p = e ? e + 1 : NULL) {
        e = strchr(p, '|');
        if (e)
            *e = 0;
        /* a byte-level vocabulary of all 256 byte symbols, so that decoding
         * gives back every byte */
        static char bl[256][5];
        const char *all[256];
        for (int b = 0; b < 256; b++) {
            bl[b][fr_utf8_encode(fr_bytelevel_cp((uint8_t)b), bl[b])] = 0;
            all[b] = bl[b];
        }
        fr_err err = {0};
        fr_tokenizer *t = bpe_make(all, 256, NULL, NULL, 0, p, &err);
        CHECK_MSG(t != NULL, "pre-tokenizer '%s': %s", p, err.msg);
        if (t) {
            static const char text[] =
                "Hello, World! 12345 'll  \t\n\n x \xe4\xbd\xa0\xe5\xa5\xbd "
                "\xd0\x9f\xd1\x80\xd0\xb8 \xf0\x9f\x98\x80 \xe3\x80\x80 end  ";
            size_t n;
            int32_t *ids = enc(t, text, sizeof text - 1, 0, false, &n);
            CHECK_MSG(n == sizeof text - 1, "'%s': %zu ids", p, n); /* one per byte: no merges */
            CHECK(dec_is(t, ids, n, 0, text));
            free(ids);
            fr_tokenizer_free(t);
        }
        count++;
    }
    CHECK(count >= 10);
}

/* Naive BPE on one word of letters: lowest-rank pair (leftmost on ties). */
static size_t naive_bpe(char pool_tok[][32], int ntok, char ml[][32], char mr[][32], int nm,
                        const char *text, int32_t *out)
{
    char sym[64][32];
    int n = 0;
    for (const char *p = text; *p; p++) {
        sym[n][0] = *p;
        sym[n++][1] = 0;
    }
    for (;;) {
        int best = -1, br = 0;
        for (int i = 0; i + 1 < n; i++)
            for (int r = 0; r < nm; r++)
                if (!strcmp(sym[i], ml[r]) && !strcmp(sym[i + 1], mr[r]) && (best < 0 || r < br)) {
                    best = i;
                    br = r;
                    break;
                }
        if (best < 0)
            break;
        size_t l0 = strlen(sym[best]), l1 = strlen(sym[best + 1]);
        if (l0 + l1 >= sizeof sym[0])
            break;
        memcpy(sym[best] + l0, sym[best + 1], l1 + 1);
        memmove(sym[best + 1], sym[best + 2], (size_t)(n - best - 2) * sizeof sym[0]);
        n--;
    }
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        int id = -1;
        for (int k = 0; k < ntok; k++)
            if (!strcmp(pool_tok[k], sym[i]))
                id = k;
        if (id >= 0) {
            out[o++] = id;
            continue;
        }
        for (const char *p = sym[i]; *p; p++)
            for (int k = 0; k < ntok; k++)
                if (pool_tok[k][0] == *p && !pool_tok[k][1])
                    out[o++] = k;
    }
    return o;
}

static void test_bpe_random(void)
{
    int rounds = getenv("FR_SANITIZED") ? 20 : 60, mismatches = 0;
    for (int round = 0; round < rounds; round++) {
        static char pool[200][32], toks[200][32], ml[150][32], mr[150][32], mtxt[150][64];
        int np = 0, nt = 0, nm = 0;
        /* a first token outside the byte-level alphabet (raw space): it has
         * no raw form, so the internal raw-string table and the ids differ */
        memcpy(toks[nt++], "x y", 4);
        for (char c = 'a'; c <= 'e'; c++) {
            pool[np][0] = c, pool[np++][1] = 0;
            if (c != 'e') /* 'e' has no token: its bytes are dropped */
                toks[nt][0] = c, toks[nt++][1] = 0;
        }
        for (int k = 0; k < 100 && nm < 150; k++) {
            int l = (int)rnd((uint32_t)np), r = (int)rnd((uint32_t)np);
            if (strlen(pool[l]) + strlen(pool[r]) >= 31)
                continue;
            snprintf(ml[nm], 32, "%s", pool[l]);
            snprintf(mr[nm], 32, "%s", pool[r]);
            snprintf(mtxt[nm], 64, "%s %s", pool[l], pool[r]);
            nm++;
            char cat[64];
            snprintf(cat, sizeof cat, "%s%s", pool[l], pool[r]);
            bool seen = false;
            for (int i = 0; i < np; i++)
                seen |= !strcmp(pool[i], cat);
            if (!seen && np < 200 && strlen(cat) < 32) {
                memcpy(pool[np++], cat, strlen(cat) + 1);
                if (rnd(5) && nt < 200) /* some merge results are not tokens */
                    memcpy(toks[nt++], cat, strlen(cat) + 1);
            }
        }
        const char *tp[200], *mp[150];
        for (int i = 0; i < nt; i++)
            tp[i] = toks[i];
        for (int i = 0; i < nm; i++)
            mp[i] = mtxt[i];
        fr_err err = {0};
        fr_tokenizer *t = bpe_make(tp, (uint32_t)nt, NULL, mp, (uint32_t)nm, "gpt-2", &err);
        if (!t) {
            CHECK_MSG(0, "%s", err.msg);
            return;
        }
        for (int s = 0; s < 30; s++) {
            char text[40];
            int len = 1 + (int)rnd(30);
            for (int i = 0; i < len; i++)
                text[i] = (char)('a' + rnd(5));
            text[len] = 0;
            int32_t want[64];
            size_t nw = naive_bpe(toks, nt, ml, mr, nm, text, want);
            size_t n;
            int32_t *ids = enc(t, text, (size_t)len, 0, false, &n);
            if (!(n == nw && memcmp(ids, want, n * sizeof *ids) == 0))
                mismatches++;
            free(ids);
        }
        fr_tokenizer_free(t);
    }
    CHECK_EQ_INT(mismatches, 0);
}

/* ---- special-token splitting against llama.cpp's fragment algorithm ------- */

/* The reference: llama.cpp's tokenizer_st_partition, literally - for each
 * special token (longest first, then lower id), rescan every text fragment
 * left to right and cut out each occurrence; RSTRIP eats following spaces.
 * Text fragments then become byte tokens (ids 0-255 are the bytes). */
static size_t naive_partition(const char *const *tok, const int32_t *type, uint32_t ntok,
                              bool rstrip, bool special, const char *text, size_t len, int32_t *out)
{
    typedef struct {
        int32_t id;
        size_t off, len;
    } fr_t;
    static fr_t a[4096], b[4096];
    size_t na = 0, nb;
    if (len)
        a[na++] = (fr_t){-1, 0, len};
    uint32_t order[256], no = 0;
    for (uint32_t i = 256; i < ntok; i++)
        if (type[i] == FR_TOKEN_USER_DEFINED || (special && type[i] == FR_TOKEN_CONTROL))
            order[no++] = i;
    for (uint32_t i = 1; i < no; i++) /* insertion sort: length desc, id asc */
        for (uint32_t j = i; j > 0 && strlen(tok[order[j]]) > strlen(tok[order[j - 1]]); j--) {
            uint32_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    for (uint32_t k = 0; k < no; k++) {
        const char *sp = tok[order[k]];
        size_t sl = strlen(sp);
        nb = 0;
        for (size_t f = 0; f < na; f++) {
            if (a[f].id >= 0) {
                b[nb++] = a[f];
                continue;
            }
            size_t base = a[f].off, blen = a[f].len;
            for (;;) {
                const char *m = memmem(text + base, blen, sp, sl);
                if (!m) {
                    if (blen)
                        b[nb++] = (fr_t){-1, base, blen};
                    break;
                }
                size_t at = (size_t)(m - text);
                if (at > base)
                    b[nb++] = (fr_t){-1, base, at - base};
                b[nb++] = (fr_t){(int32_t)order[k], 0, 0};
                size_t roff = at + sl, rlen = base + blen - roff;
                /* Phi-3's rule leaves <unk>, <s> and <|endoftext|> alone */
                bool strip = rstrip && strcmp(sp, "<|endoftext|>") != 0;
                while (strip && rlen &&
                       (text[roff] == ' ' || (text[roff] >= '\t' && text[roff] <= '\r')))
                    roff++, rlen--;
                base = roff;
                blen = rlen;
                if (!blen)
                    break;
            }
        }
        memcpy(a, b, nb * sizeof *a);
        na = nb;
    }
    size_t o = 0;
    for (size_t f = 0; f < na; f++) {
        if (a[f].id >= 0)
            out[o++] = a[f].id;
        else
            for (size_t i = 0; i < a[f].len; i++)
                out[o++] = (uint8_t)text[a[f].off + i];
    }
    return o;
}

static void test_partition_random(void)
{
    /* bytes 0-255 as byte-level tokens, then special tokens: overlapping
     * short ones, and 20 of one length (the grouped, rolling-hash path) */
    static char bl[256][5], names[40][16];
    const char *tok[320];
    int32_t type[320];
    uint32_t n = 0;
    for (int b = 0; b < 256; b++) {
        bl[b][fr_utf8_encode(fr_bytelevel_cp((uint8_t)b), bl[b])] = 0;
        tok[n] = bl[b], type[n++] = FR_TOKEN_NORMAL;
    }
    static const char *fixed[] = {"ab",   "ba",           "aba", "bab", "<x>",
                                  "<xx>", "\xe2\x82\xac", " ",   "  ",  "<|endoftext|>"};
    for (int i = 0; i < 10; i++)
        tok[n] = fixed[i], type[n++] = i % 2 ? FR_TOKEN_CONTROL : FR_TOKEN_USER_DEFINED;
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "[P%02d]", i);
        tok[n] = names[i], type[n++] = i % 3 ? FR_TOKEN_USER_DEFINED : FR_TOKEN_CONTROL;
    }
    for (int i = 0; i < 12; i++) { /* same length as [Pnn], overlapping them */
        snprintf(names[20 + i], sizeof names[20 + i], "%02d][P", i);
        tok[n] = names[20 + i], type[n++] = FR_TOKEN_USER_DEFINED;
    }
    static const char *pieces[] = {"a",   "b",  "x",  " ", "  ", "<", ">",
                                   "[P0", "1]", "[P", "]", "3",  "\n"};
    int mismatches = 0, rounds = getenv("FR_SANITIZED") ? 150 : 600;
    for (int phi = 0; phi < 2; phi++) {
        fr_tokenizer_desc d;
        fr_tokenizer_desc_init(&d);
        d.model = "gpt2";
        d.pre = "gpt-2";
        d.name = phi ? "Phi3" : "tiny"; /* Phi-3: special tokens RSTRIP */
        d.n_tokens = n;
        d.tokens = tok;
        d.token_types = type;
        fr_tokenizer *t = NULL;
        fr_err err = {0};
        CHECK_MSG(fr_tokenizer_create(&d, &t, &err) == FR_OK, "%s", err.msg);
        if (!t)
            return;
        for (int r = 0; r < rounds; r++) {
            char text[400];
            size_t len = 0;
            int parts = (int)rnd(40);
            for (int k = 0; k < parts; k++) {
                const char *pc = rnd(3) ? pieces[rnd(13)] : tok[256 + rnd(n - 256)];
                size_t l = strlen(pc);
                if (len + l >= sizeof text)
                    break;
                memcpy(text + len, pc, l);
                len += l;
            }
            bool special = r % 2;
            int32_t want[800];
            size_t nw = naive_partition(tok, type, n, phi, special, text, len, want);
            size_t got_n;
            int32_t *got = enc(t, text, len, 0, special, &got_n);
            if (!(got_n == nw && memcmp(got, want, nw * sizeof *got) == 0))
                mismatches++;
            free(got);
        }
        fr_tokenizer_free(t);
    }
    CHECK_EQ_INT(mismatches, 0);
}

/* ---- UTF-8 and the byte-level alphabet ----------------------------------- */

static void test_utf8(void)
{
    /* the byte-level alphabet is a bijection onto 256 code points */
    int seen[0x200] = {0};
    for (int b = 0; b < 256; b++) {
        uint32_t cp = fr_bytelevel_cp((uint8_t)b);
        CHECK(cp < 0x200);
        if (cp < 0x200)
            seen[cp]++;
        CHECK_EQ_INT(fr_bytelevel_byte(cp), b);
    }
    int distinct = 0;
    for (int i = 0; i < 0x200; i++)
        distinct += seen[i] == 1;
    CHECK_EQ_INT(distinct, 256);
    CHECK_EQ_INT(fr_bytelevel_cp(' '), 0x120);  /* Ġ */
    CHECK_EQ_INT(fr_bytelevel_cp('\n'), 0x10a); /* Ċ */
    CHECK_EQ_INT(fr_bytelevel_cp(0xad), 0x143); /* soft hyphen -> Ń */
    CHECK_EQ_INT(fr_bytelevel_cp('A'), 'A');
    CHECK_EQ_INT(fr_bytelevel_byte(0x3000), -1);

    char out[64];
    /* lenient decoding as llama.cpp: overlong -> its value; bad bytes -> U+FFFD each */
    CHECK(fr_utf8_sanitize("\xc0\x80", 2, out) == 1 && out[0] == 0);
    CHECK(fr_utf8_sanitize("\x80", 1, out) == 3 && memcmp(out, "\xef\xbf\xbd", 3) == 0);
    CHECK(fr_utf8_sanitize("\xe2\x96", 2, out) == 6);
    CHECK(fr_utf8_sanitize("\xed\xa0\x80", 3, out) == 3 && memcmp(out, "\xef\xbf\xbd", 3) == 0);
    CHECK(fr_utf8_sanitize("a\xe2\x82\xac", 4, out) == 4 && memcmp(out, "a\xe2\x82\xac", 4) == 0);
    CHECK(fr_utf8_valid_prefix(out, fr_utf8_sanitize("\xff\xfe\xf4\x90\x80\x80z", 7, out)) > 0);
    CHECK_EQ_INT(fr_utf8_valid_prefix("ok\xe2\x82", 4), 2);
}

/* ---- the streaming decoder ----------------------------------------------- */

static void test_stream(void)
{
    spm_vocab v;
    spm_base(&v);
    int32_t hello = spm_add(&v, SP "hi", -1, FR_TOKEN_NORMAL);
    fr_tokenizer *t = spm_make(&v, "tiny");
    if (!t)
        return;
    fr_decoder *d = NULL;
    fr_err err = {0};
    CHECK(fr_decoder_create(t, 0, &d, &err) == FR_OK);
    const char *s;
    size_t n;
    CHECK(fr_decoder_push(d, hello, &s, &n, &err) == FR_OK && n == 2 && !memcmp(s, "hi", 2));
    /* € = E2 82 AC arriving one byte token at a time */
    CHECK(fr_decoder_push(d, 3 + 0xe2, &s, &n, &err) == FR_OK && n == 0);
    CHECK(fr_decoder_push(d, 3 + 0x82, &s, &n, &err) == FR_OK && n == 0);
    CHECK(fr_decoder_push(d, 3 + 0xac, &s, &n, &err) == FR_OK && n == 3 &&
          !memcmp(s, "\xe2\x82\xac", 3));
    /* a later token keeps its space */
    CHECK(fr_decoder_push(d, hello, &s, &n, &err) == FR_OK && n == 3 && !memcmp(s, " hi", 3));
    /* a byte that cannot be UTF-8, and a start that is broken off */
    CHECK(fr_decoder_push(d, 3 + 0xff, &s, &n, &err) == FR_OK && n == 3 &&
          !memcmp(s, "\xef\xbf\xbd", 3));
    CHECK(fr_decoder_push(d, 3 + 0xe2, &s, &n, &err) == FR_OK && n == 0);
    CHECK(fr_decoder_push(d, 3 + 'a', &s, &n, &err) == FR_OK && n == 4 &&
          !memcmp(s,
                  "\xef\xbf\xbd"
                  "a",
                  4));
    CHECK(fr_decoder_push(d, 3 + 0xf0, &s, &n, &err) == FR_OK && n == 0);
    fr_decoder_flush(d, &s, &n);
    CHECK(n == 3 && !memcmp(s, "\xef\xbf\xbd", 3));
    fr_decoder_flush(d, &s, &n);
    CHECK(n == 0);
    /* after flush the stream starts over: the first space is dropped again */
    CHECK(fr_decoder_push(d, hello, &s, &n, &err) == FR_OK && n == 2);
    CHECK(fr_decoder_push(d, 99999, &s, &n, &err) == FR_E_RANGE);
    /* control tokens are silent unless asked for */
    CHECK(fr_decoder_push(d, 2, &s, &n, &err) == FR_OK && n == 0);
    fr_decoder_free(d);
    CHECK(fr_decoder_create(t, FR_DECODE_SPECIAL, &d, &err) == FR_OK);
    CHECK(fr_decoder_push(d, 2, &s, &n, &err) == FR_OK && n == 4 && !memcmp(s, "</s>", 4));
    fr_decoder_free(d);
    fr_decoder_free(NULL);
    fr_tokenizer_free(t);
}

/* ---- errors ---------------------------------------------------------------- */

static void test_errors(void)
{
    static const char *tok[] = {"a", "b", "a"};
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    fr_tokenizer *t = NULL;
    fr_err err = {0};
    d.model = "rwkv";
    d.n_tokens = 2;
    d.tokens = tok;
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_E_UNSUPPORTED && !t);
    CHECK(strstr(err.msg, "'rwkv'") && strstr(err.msg, "llama, gpt2, bert"));
    d.model = "llama";
    d.n_tokens = 3; /* "a" twice */
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "duplicate") && strstr(err.msg, "'a'"));
    d.n_tokens = 0;
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_E_FORMAT);
    d.n_tokens = 2; /* llama defaults to add_bos with BOS id 1 = "b": fine */
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_OK);
    fr_tokenizer_free(t);
    d.n_tokens = 1; /* BOS id 1 does not exist but add_bos is on */
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_E_FORMAT);
    CHECK(strstr(err.msg, "add_bos_token"));
    d.add_bos = 0;
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_OK);
    size_t n;
    int32_t *ids = NULL;
    fr_encode_opts o = {1, 0, false};
    CHECK(fr_tokenize(t, "a", 1, &o, &ids, &n, &err) == FR_E_INVALID);
    free(ids);
    fr_tokenizer_free(t);
    fr_tokenizer_free(NULL);
    d.model = NULL;
    CHECK(fr_tokenizer_create(&d, &t, &err) == FR_E_INVALID);
}

/* ---- llama2.c tokenizer files -------------------------------------------- */

static void test_llama2c(void)
{
    /* a synthetic file: header, then 4 entries */
    uint8_t buf[128];
    size_t o = 0;
    int32_t maxlen = 5;
    memcpy(buf, &maxlen, 4), o = 4;
    const char *txt[] = {"<unk>", "\n<s>\n", "", "a b"};
    for (int i = 0; i < 4; i++) {
        float sc = (float)-i;
        int32_t l = (int32_t)strlen(txt[i]);
        memcpy(buf + o, &sc, 4);
        memcpy(buf + o + 4, &l, 4);
        memcpy(buf + o + 8, txt[i], (size_t)l);
        o += 8 + (size_t)l;
    }
    fr_llama2c_vocab *v = NULL;
    fr_err err = {0};
    CHECK(fr_llama2c_vocab_parse(buf, o, "synthetic", 0, &v, &err) == FR_OK);
    if (v) {
        CHECK_EQ_INT(v->n_tokens, 4);
        CHECK_EQ_INT(v->max_token_len, 5);
        CHECK_STR(v->tokens[1], "<s>");
        CHECK_EQ_INT(v->token_types[0], FR_TOKEN_UNKNOWN);
        CHECK_EQ_INT(v->token_types[1], FR_TOKEN_CONTROL);
        CHECK_EQ_INT(v->token_types[2], FR_TOKEN_CONTROL); /* "</s>" by position */
        CHECK_STR(v->tokens[3], "a" SP "b");
        CHECK_EQ_INT(v->token_lens[3], 5);
        CHECK_EQ_INT(v->token_types[3], FR_TOKEN_NORMAL);
        CHECK(v->scores[3] == -3.0f);
    }
    fr_llama2c_vocab_free(v);
    /* truncation anywhere is an error naming the entry and the offset */
    for (size_t cut = 0; cut < o; cut++) {
        v = NULL;
        fr_status st = fr_llama2c_vocab_parse(buf, cut, "cut", 0, &v, &err);
        if (cut == 4 + 13 || cut == 4 + 13 + 13 || cut == 4 + 13 + 13 + 8) /* entry boundaries */
            CHECK(st == FR_OK && v);
        else
            CHECK_MSG(st == FR_E_FORMAT && !v, "cut at %zu", cut);
        fr_llama2c_vocab_free(v);
    }
    CHECK(fr_llama2c_vocab_parse(buf, o, "n", 5, &v, &err) == FR_E_FORMAT); /* asks for 5 */
    CHECK(strstr(err.msg, "entry 4") != NULL);
    int32_t huge = 0x7fffffff;
    memcpy(buf + 8, &huge, 4);
    CHECK(fr_llama2c_vocab_parse(buf, o, "huge", 0, &v, &err) == FR_E_FORMAT);

    /* the real tok512.bin: ids as llama2.c printed them (stories260K.reference.txt) */
    char path[512];
    fr_test_shared("models/tok512.bin", path, sizeof path);
    CHECK(fr_llama2c_vocab_read(path, 512, &v, &err) == FR_OK);
    if (!v)
        return;
    CHECK_EQ_INT(v->n_tokens, 512);
    CHECK_STR(v->tokens[3], "<0x00>");
    CHECK_EQ_INT(v->token_types[3], FR_TOKEN_BYTE);
    CHECK_EQ_INT(v->token_types[258], FR_TOKEN_BYTE);
    CHECK_EQ_INT(v->token_types[259], FR_TOKEN_NORMAL);
    CHECK_STR(v->tokens[2], "</s>");
    fr_tokenizer *t = NULL;
    CHECK(fr_tokenizer_from_llama2c(v, &t, &err) == FR_OK);
    if (t) {
        const int32_t once[] = {1, 403, 407, 261, 378};
        const int32_t lily[] = {1, 317, 269, 274, 287, 263, 377, 267, 265, 282, 295, 433, 426};
        size_t n;
        int32_t *ids = enc(t, "Once upon a time", 16, -1, false, &n);
        CHECK(n == 5 && !memcmp(ids, once, sizeof once));
        free(ids);
        const char *s = "Lily and Tom went to the park.";
        ids = enc(t, s, strlen(s), -1, false, &n);
        CHECK(n == 13 && !memcmp(ids, lily, sizeof lily));
        CHECK(dec_is(t, ids, n, FR_DECODE_REMOVE_SPECIAL, " Lily and Tom went to the park."));
        CHECK(dec_is(t, ids + 1, n - 1, 0, s));
        free(ids);
        fr_tokenizer_free(t);
    }
    fr_llama2c_vocab_free(v);
    CHECK(fr_llama2c_vocab_read("/nonexistent/tok.bin", 0, &v, &err) != FR_OK);
}

/* ---- hostile input --------------------------------------------------------- */

static void test_hostile(void)
{
    spm_vocab v;
    spm_base(&v);
    spm_add(&v, SP, -1, FR_TOKEN_NORMAL);
    spm_add(&v, "a", -2, FR_TOKEN_NORMAL);
    spm_add(&v, "aa", -1, FR_TOKEN_NORMAL);
    spm_add(&v, SP SP, -0.5f, FR_TOKEN_NORMAL);
    spm_add(&v, "<|x|>", 0, FR_TOKEN_CONTROL);
    fr_tokenizer *t = spm_make(&v, "tiny");
    if (!t)
        return;
    size_t mb = getenv("FR_SANITIZED") ? (256u << 10) : (1u << 20);
    char *big = malloc(mb);
    const char *kinds[] = {"spaces", "letters", "random bytes", "NULs", "special text"};
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < mb; i++)
            big[i] = k == 0   ? ' '
                     : k == 1 ? 'a'
                     : k == 2 ? (char)rnd(256)
                     : k == 3 ? 0
                              : "<|x|>"[i % 5];
        double t0 = fr_cpu_time_s(); /* CPU time: immune to machine load */
        size_t n;
        int32_t *ids = enc(t, big, mb, 1, true, &n);
        double dt = fr_cpu_time_s() - t0;
        CHECK_MSG(ids && n > 0, "%s", kinds[k]);
        CHECK_MSG(dt < 5.0, "%s: %zu bytes took %.2f s of CPU", kinds[k], mb, dt);
        /* decoding gives valid text back (the space prefix is removed); not for
         * invalid UTF-8 next to a space (the escaped space's bytes join the
         * broken character) nor after special tokens (each is followed by a
         * space prefix) */
        if (k == 2 || k == 4) {
            free(ids);
            continue;
        }
        char *s = NULL;
        size_t len = 0;
        fr_err err = {0};
        CHECK(fr_detokenize(t, ids + 1, n - 1, FR_DECODE_SPECIAL, &s, &len, &err) == FR_OK);
        CHECK_MSG(len == mb && !memcmp(s, big, mb), "%s round trip", kinds[k]);
        free(s);
        free(ids);
    }
    free(big);
    fr_err err = {0};
    int32_t *ids = NULL;
    size_t n;
    CHECK(fr_tokenize(t, "x", FR_TOKENIZE_MAX_BYTES + 1, NULL, &ids, &n, &err) == FR_E_RANGE);
    fr_tokenizer_free(t);
}

int main(void)
{
    test_utf8();
    test_spm_hand();
    test_spm_random();
    test_bpe_hand();
    test_bpe_random();
    test_partition_random();
    test_all_pre();
    test_stream();
    test_errors();
    test_hostile();
    test_llama2c();
    TEST_END();
}
