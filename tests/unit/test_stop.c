/* Tests for src/text/stop.c: hand-written streaming cases, then a
 * randomised comparison with a naive reference (scan the whole text for the
 * earliest-ending stop string) under random cuts into pieces. */
#include "test.h"

#include <frugal/stop.h>

#include "base/buf.h"

static fr_stop *make(const char *const *strs, size_t n)
{
    fr_stop *s = NULL;
    fr_err err = {0};
    CHECK_MSG(fr_stop_create(strs, NULL, n, &s, &err) == FR_OK, "create: %s", err.msg);
    return s;
}

/* Feeds one piece and checks what comes out. */
static void step(fr_stop *s, const char *piece, const char *want, bool want_stop, int want_which)
{
    fr_stop_result r;
    fr_err err = {0};
    CHECK_MSG(fr_stop_feed(s, piece, strlen(piece), &r, &err) == FR_OK, "feed: %s", err.msg);
    CHECK_MSG(r.len == strlen(want) && memcmp(r.text, want, r.len) == 0,
              "piece \"%s\": emitted \"%.*s\", expected \"%s\"", piece, (int)r.len, r.text, want);
    CHECK_MSG(r.stopped == want_stop, "piece \"%s\": stopped = %d", piece, r.stopped);
    CHECK_EQ_INT(r.which, want_which);
}

static void flush(fr_stop *s, const char *want)
{
    fr_stop_result r;
    CHECK(fr_stop_flush(s, &r, NULL) == FR_OK);
    CHECK_MSG(r.len == strlen(want) && memcmp(r.text, want, r.len) == 0,
              "flush emitted \"%.*s\", expected \"%s\"", (int)r.len, r.text, want);
}

static void test_cases(void)
{
    static const char *const im_end[] = {"<|im_end|>"};
    fr_stop *s = make(im_end, 1);
    /* Whole stop string inside one piece: text before it only. */
    step(s, "Hello<|im_end|>junk", "Hello", true, 0);
    step(s, "more", "", true, 0); /* done */
    flush(s, "");
    fr_stop_reset(s);
    /* Split across pieces. */
    step(s, "Hel", "Hel", false, -1);
    step(s, "lo<|im", "lo", false, -1);
    step(s, "_e", "", false, -1);
    step(s, "nd|>", "", true, 0);
    fr_stop_reset(s);
    /* A false start is released when it stops matching. */
    step(s, "a <|i", "a ", false, -1);
    step(s, "x", "<|ix", false, -1);
    /* The end of generation releases held text. */
    step(s, " <|im_", " ", false, -1);
    flush(s, "<|im_");
    fr_stop_free(s);

    /* Overlapping prefixes: "aab" inside "aaab", "abab" inside "ababab". */
    static const char *const aab[] = {"aab"};
    s = make(aab, 1);
    step(s, "aa", "", false, -1);
    step(s, "ab", "a", true, 0);
    fr_stop_free(s);
    static const char *const abab[] = {"abab"};
    s = make(abab, 1);
    step(s, "xab", "x", false, -1);
    step(s, "a", "", false, -1);
    step(s, "c", "abac", false, -1);
    step(s, "aba", "", false, -1);
    step(s, "bab", "", true, 0);
    fr_stop_free(s);

    /* Several stop strings: the one that completes first wins, whatever
     * the order they were given in. */
    static const char *const two[] = {"abcd", "bc"};
    s = make(two, 2);
    step(s, "xabcd", "xa", true, 1);
    fr_stop_free(s);
    static const char *const two_rev[] = {"bc", "abcd"};
    s = make(two_rev, 2);
    step(s, "xa", "x", false, -1);
    step(s, "b", "", false, -1);
    step(s, "c", "a", true, 0);
    fr_stop_free(s);
    /* Same end: the earlier start (longer string) wins. */
    static const char *const tie[] = {"b", "ab"};
    s = make(tie, 2);
    step(s, "xab", "x", true, 1);
    fr_stop_free(s);
    static const char *const chat[] = {"\n\nUser:", "###"};
    s = make(chat, 2);
    step(s, "Sure.\n", "Sure.", false, -1);
    step(s, "\nUs", "", false, -1);
    step(s, "ed", "\n\nUsed", false, -1);
    step(s, " it #", " it ", false, -1);
    step(s, "##\n", "", true, 1);
    fr_stop_free(s);

    /* Multibyte UTF-8: half a character is never emitted; stops made of
     * multibyte characters match when cut inside a character. */
    s = make(NULL, 0);
    step(s, "caf\xc3", "caf", false, -1);
    step(s, "\xa9 ok", "\xc3\xa9 ok", false, -1);
    step(s, "\xe6\x97", "", false, -1);
    step(s, "\xa5", "\xe6\x97\xa5", false, -1);
    step(s, "\xf0\x9f\x98", "", false, -1);
    flush(s, "\xf0\x9f\x98"); /* the end releases even a broken tail */
    fr_stop_free(s);
    static const char *const jp[] = {"\xe6\x97\xa5\xe6\x9c\xac"}; /* 日本 */
    s = make(jp, 1);
    step(s, "\xe4\xbd\x8f\xe6", "\xe4\xbd\x8f", false, -1); /* 住 + 1/3 of 日 */
    step(s, "\x97\xa5", "", false, -1);
    step(s, "\xe6\x9c", "", false, -1);
    step(s, "\xac!", "", true, 0);
    fr_stop_free(s);
    static const char *const eacute[] = {"\xc3\xa9!"};
    s = make(eacute, 1);
    step(s, "caf\xc3\xa9", "caf", false, -1);
    step(s, "!", "", true, 0);
    fr_stop_free(s);

    /* Stop strings with NUL bytes (explicit lengths). */
    const char *const nul[] = {"a\0b"};
    size_t nul_len[] = {3};
    fr_err err;
    CHECK(fr_stop_create(nul, nul_len, 1, &s, &err) == FR_OK);
    fr_stop_result r;
    CHECK(fr_stop_feed(s, "xa\0b", 4, &r, &err) == FR_OK);
    CHECK(r.stopped && r.len == 1 && r.text[0] == 'x');
    fr_stop_free(s);
}

static void test_errors(void)
{
    fr_stop *s = NULL;
    fr_err err = {0};
    static const char *const empty[] = {"ok", ""};
    CHECK(fr_stop_create(empty, NULL, 2, &s, &err) == FR_E_INVALID && s == NULL);
    CHECK(strstr(err.msg, "stop string 1") && strstr(err.msg, "empty"));
    char *longs = malloc(FR_STOP_MAX_LEN + 2);
    memset(longs, 'x', FR_STOP_MAX_LEN + 1);
    longs[FR_STOP_MAX_LEN + 1] = 0;
    const char *const lst[] = {longs};
    CHECK(fr_stop_create(lst, NULL, 1, &s, &err) == FR_E_INVALID && strstr(err.msg, "bytes"));
    free(longs);
    static const char *many[FR_STOP_MAX_STRINGS + 1];
    for (int i = 0; i <= FR_STOP_MAX_STRINGS; i++)
        many[i] = "x";
    CHECK(fr_stop_create(many, NULL, FR_STOP_MAX_STRINGS + 1, &s, &err) == FR_E_INVALID);
    CHECK(fr_stop_create(many, NULL, FR_STOP_MAX_STRINGS, &s, &err) == FR_OK);
    fr_stop_free(s);
    const char *const nulls[] = {NULL};
    CHECK(fr_stop_create(nulls, NULL, 1, &s, &err) == FR_E_INVALID);
    CHECK(fr_stop_create(NULL, NULL, 1, &s, &err) == FR_E_INVALID);
    CHECK(fr_stop_create(NULL, NULL, 0, NULL, &err) == FR_E_INVALID);
    CHECK(fr_stop_create(NULL, NULL, 0, &s, &err) == FR_OK);
    fr_stop_result r;
    CHECK(fr_stop_feed(s, NULL, 3, &r, &err) == FR_E_INVALID);
    CHECK(fr_stop_feed(s, NULL, 0, &r, &err) == FR_OK && r.len == 0 && r.text);
    CHECK(fr_stop_flush(s, NULL, &err) == FR_E_INVALID);
    fr_stop_free(s);
    fr_stop_free(NULL);
    fr_stop_reset(NULL);
}

/* ---- randomised: any cut into pieces gives the naive answer --------------- */

static uint32_t rng_state = 2463534242u;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state % n;
}

/* Earliest end, then earliest start; returns the stop index or -1 and the
 * length of the text before it in *cut. */
static int naive(const char *t, size_t n, char **stops, size_t *lens, int ns, size_t *cut)
{
    for (size_t end = 1; end <= n; end++) {
        int best = -1;
        for (int k = 0; k < ns; k++)
            if (lens[k] <= end && memcmp(t + end - lens[k], stops[k], lens[k]) == 0 &&
                (best < 0 || lens[k] > lens[best]))
                best = k;
        if (best >= 0) {
            *cut = end - lens[best];
            return best;
        }
    }
    *cut = n;
    return -1;
}

static void test_random(void)
{
    int rounds = getenv("FR_SANITIZED") ? 300 : 3000;
    /* A tiny alphabet (with a 2-byte character) makes overlaps common. */
    static const char *const alpha[] = {"a", "b", "c", "\xc3\xa9"};
    for (int round = 0; round < rounds; round++) {
        char *stops[4];
        size_t lens[4];
        int ns = 1 + (int)rnd(3);
        for (int k = 0; k < ns; k++) {
            fr_buf b = FR_BUF_INIT;
            int l = 1 + (int)rnd(4);
            for (int i = 0; i < l; i++)
                fr_buf_puts(&b, alpha[rnd(4)]);
            lens[k] = b.len;
            stops[k] = fr_buf_take(&b);
        }
        fr_buf text = FR_BUF_INIT;
        int tl = (int)rnd(30);
        for (int i = 0; i < tl; i++)
            fr_buf_puts(&text, alpha[rnd(4)]);
        size_t n = text.len;
        const char *t = text.data ? text.data : "";

        size_t want_cut;
        int want = naive(t, n, stops, lens, ns, &want_cut);

        fr_stop *s = NULL;
        CHECK(fr_stop_create((const char *const *)stops, lens, (size_t)ns, &s, NULL) == FR_OK);
        fr_buf got = FR_BUF_INIT;
        size_t pos = 0;
        bool stopped = false;
        int which = -1;
        bool split_char = false;
        while (pos < n) {
            size_t len = 1 + rnd(5);
            if (len > n - pos)
                len = n - pos;
            fr_stop_result r;
            CHECK(fr_stop_feed(s, t + pos, len, &r, NULL) == FR_OK);
            fr_buf_append(&got, r.text, r.len);
            /* Emitted text never ends inside the 2-byte character. */
            if (r.len && ((unsigned char)r.text[r.len - 1]) == 0xc3)
                split_char = true;
            stopped = r.stopped;
            which = r.which;
            pos += len;
        }
        fr_stop_result r;
        CHECK(fr_stop_flush(s, &r, NULL) == FR_OK);
        fr_buf_append(&got, r.text, r.len);
        if (!stopped) {
            stopped = r.stopped;
            which = r.which;
        }
        CHECK_MSG(!split_char, "round %d: emitted half a character", round);
        CHECK_MSG(stopped == (want >= 0) && which == want, "round %d: stop %d, naive says %d",
                  round, which, want);
        CHECK_MSG(got.len == want_cut && memcmp(got.data ? got.data : "", t, want_cut) == 0,
                  "round %d: emitted %zu bytes, naive says %zu", round, got.len, want_cut);
        fr_stop_free(s);
        fr_buf_free(&got);
        fr_buf_free(&text);
        for (int k = 0; k < ns; k++)
            free(stops[k]);
    }
}

int main(void)
{
    test_cases();
    test_errors();
    test_random();
    TEST_END();
}
