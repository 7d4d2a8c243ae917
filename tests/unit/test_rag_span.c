/* Tests for the supporting span the checker reports per cited passage
 * (fr_rag_sentence.span_off/span_len): the one or two passage sentences
 * that hold the claim's content words, as the web page highlights them.
 * Expected spans are written by hand from the passage text. */
#include "test.h"

#include <frugal/rag.h>

static const char *P1 = "The Aurora X2 thermometer costs $49. It ships in a blue box. "
                        "Returns are accepted within 30 days of delivery.";
static const char *P2 = "Our office is closed on Sundays. The warehouse ships orders daily.";

/* The span of passage q of sentence s, as a string (static buffer). */
static const char *span_text(const fr_rag_sentence *s, int q, const char *passage)
{
    static char buf[512];
    if (s->span_len[q] == 0)
        return "";
    snprintf(buf, sizeof buf, "%.*s", (int)s->span_len[q], passage + s->span_off[q]);
    return buf;
}

static void score(const char *sentence, const char *passage, fr_rag_sentence *out)
{
    size_t pl = strlen(passage);
    fr_rag_score_sentence(sentence, strlen(sentence), &passage, &pl, 1, NULL, out);
}

static void test_one_sentence(void)
{
    fr_rag_sentence r;
    score("The Aurora X2 costs $49.", P1, &r);
    CHECK_STR(span_text(&r, 0, P1), "The Aurora X2 thermometer costs $49.");
    score("Returns are accepted for 30 days.", P1, &r);
    CHECK_STR(span_text(&r, 0, P1), "Returns are accepted within 30 days of delivery.");
    /* the last sentence without a terminator */
    const char *p = "Lily went to the park. Tom stayed home with his dog";
    score("Tom has a dog.", p, &r);
    CHECK_STR(span_text(&r, 0, p), "Tom stayed home with his dog");
}

static void test_two_sentences(void)
{
    fr_rag_sentence r;
    /* "thermometer" is in the first sentence, "blue box" in the second:
     * the window of both holds all of it */
    score("The thermometer comes in a blue box.", P1, &r);
    CHECK_STR(span_text(&r, 0, P1), "The Aurora X2 thermometer costs $49. It ships in a blue box.");
}

static void test_no_support(void)
{
    fr_rag_sentence r;
    score("Penguins enjoy cold weather.", P1, &r);
    CHECK_EQ_INT(r.span_len[0], 0);
    CHECK_EQ_INT(r.span_off[0], 0);
}

static void test_hostile_offsets(void)
{
    /* every span lies inside its passage, whatever the text */
    const char *ps[] = {"...", "a. b. c.", "x", "Word!!! Word??? word...", "\n\n. .\n"};
    const char *claims[] = {"word", "a b c", "x x", ".", ""};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        for (size_t j = 0; j < sizeof claims / sizeof *claims; j++) {
            fr_rag_sentence r;
            score(claims[j], ps[i], &r);
            size_t n = strlen(ps[i]);
            CHECK_MSG(r.span_off[0] <= n && r.span_len[0] <= n - r.span_off[0],
                      "passage %zu claim %zu: span %u+%u of %zu", i, j, r.span_off[0],
                      r.span_len[0], n);
        }
}

static void test_per_citation(void)
{
    /* the answer cites [2] then [1]: span i belongs to cites[i] */
    const char *answer = "The Aurora X2 costs $49 and the warehouse works daily [2][1].";
    const char *ps[] = {P1, P2};
    size_t pl[] = {strlen(P1), strlen(P2)};
    fr_rag_checked *c = NULL;
    fr_err err;
    CHECK(fr_rag_check_answer(answer, strlen(answer), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c,
                              &err) == FR_OK);
    if (!c)
        return;
    CHECK_EQ_INT(c->n, 1);
    if (c->n == 1) {
        const fr_rag_sentence *s = &c->sentences[0];
        CHECK_EQ_INT(s->n_cites, 2);
        CHECK_EQ_INT(s->cites[0], 2);
        CHECK_EQ_INT(s->cites[1], 1);
        CHECK_STR(span_text(s, 0, P2), "The warehouse ships orders daily.");
        CHECK_STR(span_text(s, 1, P1), "The Aurora X2 thermometer costs $49.");
    }
    fr_rag_checked_free(c);
}

int main(void)
{
    test_one_sentence();
    test_two_sentences();
    test_no_support();
    test_hostile_offsets();
    test_per_citation();
    TEST_END();
}
