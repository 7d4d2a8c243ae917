/* Tests for src/rag text utilities: UTF-8 checks and repair, binary
 * detection, tokens, terms, stopwords, sentence ends, SHA-256 (FIPS 180-4
 * test vectors), the FTS5 query rewriting, and the citation validator.
 * Expected values are written by hand from the specs in the headers. */
#include "test.h"

#include "rag/sha256.h"
#include "rag/text.h"

#include <frugal/rag.h>

static void test_utf8(void)
{
    size_t bad = 99;
    CHECK(fr_utf8_valid("caf\xC3\xA9", 5, NULL));
    CHECK(!fr_utf8_valid("ab\xC3", 3, &bad));
    CHECK_EQ_INT(bad, 2);
    CHECK(!fr_utf8_valid("\xC0\xAF", 2, NULL));         /* overlong '/' */
    CHECK(!fr_utf8_valid("\xED\xA0\x80", 3, NULL));     /* surrogate */
    CHECK(!fr_utf8_valid("\xF4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
    fr_buf b = FR_BUF_INIT;
    CHECK_EQ_INT(fr_utf8_repair("a\xFF" "b\xC3", 4, &b), 2);
    CHECK_STR(b.data, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
    fr_buf_free(&b);
    CHECK(fr_looks_binary("ab\0cd", 5));
    CHECK(!fr_looks_binary("plain text\n\twith tabs\f", 22));
    char ctrl[100];
    memset(ctrl, 'a', sizeof ctrl);
    for (int i = 0; i < 20; i++)
        ctrl[i * 5] = 0x01;
    CHECK(fr_looks_binary(ctrl, sizeof ctrl));
}

static int tokens(const char *s, char out[][FR_TERM_MAX], int max)
{
    size_t pos = 0, n = strlen(s);
    fr_token t;
    int k = 0;
    while (k < max && fr_next_token(s, n, &pos, &t)) {
        snprintf(out[k], FR_TERM_MAX, "%.*s", (int)t.len, s + t.off);
        k++;
    }
    return k;
}

static void test_tokens(void)
{
    char t[16][FR_TERM_MAX];
    int n = tokens("Arthur's price: $1,299.00 (SKU-4821X) \xE2\x80\x9Cquoted\xE2\x80\x9D 5%", t, 16);
    CHECK_EQ_INT(n, 10);
    CHECK_STR(t[0], "Arthur");
    CHECK_STR(t[1], "s");
    CHECK_STR(t[2], "price");
    CHECK_STR(t[3], "$");
    CHECK_STR(t[4], "1,299.00");
    CHECK_STR(t[5], "SKU");
    CHECK_STR(t[6], "4821X");
    CHECK_STR(t[7], "quoted");
    CHECK_STR(t[8], "5");
    CHECK_STR(t[9], "%");
    /* "century.First": the dot between letters splits */
    n = tokens("century.First caf\xC3\xA9", t, 16);
    CHECK_EQ_INT(n, 3);
    CHECK_STR(t[2], "caf\xC3\xA9");

    size_t pos = 0;
    fr_token c;
    const char *q = "Is SKU-4821X in stock, or A7 or 2024-03-15 or 3.5?";
    CHECK(fr_next_code(q, strlen(q), &pos, &c));
    CHECK_MSG(c.len == 9 && memcmp(q + c.off, "SKU-4821X", 9) == 0, "%.*s", (int)c.len, q + c.off);
    CHECK(fr_next_code(q, strlen(q), &pos, &c));
    CHECK_MSG(c.len == 10 && memcmp(q + c.off, "2024-03-15", 10) == 0, "%.*s", (int)c.len, q + c.off);
    CHECK(!fr_next_code(q, strlen(q), &pos, &c));
}

static void test_terms(void)
{
    char out[FR_TERM_MAX];
    static const char *const cases[][2] = {
        {"Policies", "policy"}, {"applied", "apply"}, {"boxes", "box"},  {"stopped", "stop"},
        {"running", "run"},     {"stated", "stat"},   {"state", "stat"}, {"1,299.00", "1299"},
        {"2.50", "2.5"},        {"4821X", "4821x"},   {"days", "day"},   {"class", "class"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = fr_term(cases[i][0], strlen(cases[i][0]), out);
        CHECK_MSG(n == strlen(out) && strcmp(out, cases[i][1]) == 0, "%s -> %s (want %s)",
                  cases[i][0], out, cases[i][1]);
    }
    CHECK(fr_is_stopword("the", 3));
    CHECK(fr_is_stopword("which", 5));
    CHECK(fr_is_stopword("yourselves", 10));
    CHECK(fr_is_stopword("a", 1));
    CHECK(!fr_is_stopword("aurora", 6));
    CHECK(fr_is_unit("day", 3));
    CHECK(fr_is_unit("$", 1));
    CHECK(fr_is_unit("%", 1));
    CHECK(!fr_is_unit("aurora", 6));
}

static void test_sentences(void)
{
    const char *s = "Dr. Smith paid $3.50 at 9 a.m. today. J. R. Tolkien wrote it! "
                    "It costs approx. five euros. Next one";
    size_t n = strlen(s);
    size_t e1 = fr_sentence_end(s, n, 0);
    CHECK_MSG(strncmp(s + e1 - 6, "today.", 6) == 0, "first ends at %zu", e1);
    size_t e2 = fr_sentence_end(s, n, e1 + 1);
    CHECK_MSG(s[e2 - 1] == '!', "second ends at %zu", e2);
    size_t e3 = fr_sentence_end(s, n, e2 + 1);
    CHECK_MSG(strncmp(s + e3 - 6, "euros.", 6) == 0, "third ends at %zu", e3);
    CHECK_EQ_INT(fr_sentence_end(s, n, e3 + 1), n);
    const char *p = "Para one\n\nPara two";
    CHECK_EQ_INT(fr_sentence_end(p, strlen(p), 0), 9);
}

static void test_sha256(void)
{
    char hex[65];
    fr_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fr_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    fr_sha256_hex(m, strlen(m), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in odd pieces */
    fr_sha256 s;
    fr_sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof a ? left : sizeof a;
        fr_sha256_update(&s, a, k);
        left -= k;
    }
    unsigned char d[32];
    fr_sha256_final(&s, d);
    CHECK(d[0] == 0xcd && d[1] == 0xc7 && d[2] == 0x6e && d[31] == 0xd0);
}

static void test_fts_query(void)
{
    char *q = fr_rag_fts_query("What is the price of the Aurora X2?");
    CHECK_STR(q, "\"price\" OR \"aurora\" OR \"x2\"");
    free(q);
    q = fr_rag_fts_query("the of and");
    CHECK_STR(q, "");
    free(q);
    /* FTS5 syntax in a question is never passed through */
    q = fr_rag_fts_query("\"price\" NEAR(aurora x2) AND text:foo* OR ^bar -baz (");
    CHECK(q && !strchr(q, '(') && !strchr(q, '*') && !strchr(q, '^') && !strchr(q, ':'));
    free(q);
    q = fr_rag_code_query("Where is SKU-4821X and \"ab\"cd-12?");
    CHECK_STR(q, "\"SKU-4821X\" OR \"cd-12\"");
    free(q);
}

static void test_validator(void)
{
    /* complete answers */
    CHECK_EQ_INT(fr_rag_cite_check("NOT_FOUND", 9, 3), 1);
    CHECK_EQ_INT(fr_rag_cite_check("  NOT_FOUND \n", 13, 3), 1);
    const char *ok1 = "The Aurora X2 costs $149.00 [1]. Returns take 30 days [2][3].";
    CHECK_EQ_INT(fr_rag_cite_check(ok1, strlen(ok1), 3), 1);
    const char *ok2 = "It costs 3.5 euros. [2] It ships from Bergen [1]";
    CHECK_EQ_INT(fr_rag_cite_check(ok2, strlen(ok2), 2), 1);
    const char *ok3 = "It costs approx. five euros [1].";
    CHECK_EQ_INT(fr_rag_cite_check(ok3, strlen(ok3), 1), 1);
    /* prefixes */
    CHECK_EQ_INT(fr_rag_cite_check("NOT_F", 5, 3), 0);
    CHECK_EQ_INT(fr_rag_cite_check("NOT", 3, 3), 0);
    CHECK_EQ_INT(fr_rag_cite_check("The price is", 12, 3), 0);
    CHECK_EQ_INT(fr_rag_cite_check("The price is $5.", 16, 3), 0);
    CHECK_EQ_INT(fr_rag_cite_check("The price is $5 [1", 18, 3), 0);
    CHECK_EQ_INT(fr_rag_cite_check("Price [1", 8, 12), 0);
    CHECK_EQ_INT(fr_rag_cite_check("Price [12", 9, 12), 0);
    /* invalid */
    CHECK_EQ_INT(fr_rag_cite_check("Price [4]", 9, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("Price [0]", 9, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("Price [13", 9, 12), -1);
    CHECK_EQ_INT(fr_rag_cite_check("Price [x]", 9, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("[1] Price", 9, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("One. Two [1].", 13, 3), -1); /* uncited sentence */
    CHECK_EQ_INT(fr_rag_cite_check("NOT_FOUND.", 10, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("NOT_FOUND x", 11, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("Price ]", 7, 3), -1);
    CHECK_EQ_INT(fr_rag_cite_check("Bad\x01", 4, 3), -1);
    /* no passages: only NOT_FOUND */
    CHECK_EQ_INT(fr_rag_cite_check("Price [1].", 10, 0), -1);
    CHECK_EQ_INT(fr_rag_cite_check("NOT_FOUND", 9, 0), 1);
    /* incremental use equals whole-string use, piece by piece */
    fr_rag_cite_state s;
    fr_rag_cite_init(&s, 3);
    const char *pieces[] = {"The", " Aurora", " X2 costs", " $149", ".00", " [", "1", "].", " Ret",
                            "urns take 30 days", " [2", "]"};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        fr_rag_cite_state t = s;
        CHECK(!fr_rag_cite_feed(&t, " [9]", 4) || i == 0); /* a bad candidate is refused */
        CHECK(fr_rag_cite_feed(&s, pieces[i], strlen(pieces[i])));
    }
    CHECK(fr_rag_cite_complete(&s));
}

int main(void)
{
    test_utf8();
    test_tokens();
    test_terms();
    test_sentences();
    test_sha256();
    test_fts_query();
    test_validator();
    TEST_END();
}
