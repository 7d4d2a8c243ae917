/* Tests for the supporting span of a cited passage (fr_rag_sentence_span),
 * what the web page highlights behind a citation: the best evidence window
 * (one or two passage sentences) of the sentence's sub-claims whose best
 * evidence lies in that passage, the surest sub-claim's when several do;
 * none when the passage is the best evidence for no part. Expected spans
 * are written by hand from the passage text. */
#include "test.h"

#include <frugal/rag.h>

static const char *P1 = "The Aurora X2 thermometer costs $49. It ships in a blue box. "
                        "Returns are accepted within 30 days of delivery.";
static const char *P2 = "Our office is closed on Sundays. The warehouse ships orders daily.";

/* Checks answer (one sentence) against passages ps[0..np) with citations
 * required; *c owned by caller (NULL on failure). */
static fr_rag_checked *check(const char *answer, const char *const *ps, size_t np)
{
    size_t pl[4];
    for (size_t i = 0; i < np; i++)
        pl[i] = strlen(ps[i]);
    fr_rag_checked *c = NULL;
    fr_err err;
    fr_status st = fr_rag_check_answer(answer, strlen(answer), ps, pl, np, FR_RAG_CITES_REQUIRED, NULL, &c, &err);
    CHECK_MSG(st == FR_OK, "%s: %s", answer, err.msg);
    if (st == FR_OK)
        CHECK_MSG(c->n == 1, "%s: %zu sentences", answer, c->n);
    return c;
}

/* The span of passage p for the first sentence of c, as a string ("" when
 * there is none; static buffer). */
static const char *span_text(const fr_rag_checked *c, size_t p, const char *passage)
{
    static char buf[512];
    uint32_t off, len;
    bool has = fr_rag_sentence_span(c, 0, p, &off, &len);
    CHECK(has == (len > 0));
    if (!has)
        return "";
    snprintf(buf, sizeof buf, "%.*s", (int)len, passage + off);
    return buf;
}

static void span_is(const char *answer, const char *passage, const char *want)
{
    fr_rag_checked *c = check(answer, &passage, 1);
    if (c && c->n == 1) {
        const char *got = span_text(c, 0, passage);
        CHECK_MSG(strcmp(got, want) == 0, "%s: span \"%s\", want \"%s\"", answer, got, want);
    }
    fr_rag_checked_free(c);
}

static void test_one_sentence(void)
{
    span_is("The Aurora X2 costs $49 [1].", P1, "The Aurora X2 thermometer costs $49.");
    span_is("Returns are accepted for 30 days [1].", P1, "Returns are accepted within 30 days of delivery.");
    /* the last sentence without a terminator */
    span_is("Tom has a dog [1].", "Lily went to the park. Tom stayed home with his dog",
            "Tom stayed home with his dog");
}

static void test_two_sentences(void)
{
    /* "thermometer" is in the first sentence, "blue box" in the second:
     * the window of both holds all of it */
    span_is("The thermometer comes in a blue box [1].", P1,
            "The Aurora X2 thermometer costs $49. It ships in a blue box.");
}

static void test_no_support(void)
{
    span_is("Penguins enjoy cold weather [1].", P1, "");
    /* out of range: no sentence, no passage */
    fr_rag_checked *c = check("The Aurora X2 costs $49 [1].", &P1, 1);
    uint32_t off = 7, len = 7;
    if (c) {
        CHECK(!fr_rag_sentence_span(c, 1, 0, &off, &len));
        CHECK(off == 0 && len == 0);
        CHECK(!fr_rag_sentence_span(c, 0, 1, &off, &len));
    }
    fr_rag_checked_free(c);
    CHECK(!fr_rag_sentence_span(NULL, 0, 0, &off, &len));
}

static void test_hostile_offsets(void)
{
    /* every span lies inside its passage, whatever the text */
    const char *ps[] = {"...", "a. b. c.", "x", "Word!!! Word??? word...", "\n\n. .\n"};
    const char *claims[] = {"word [1].", "a b c [1]", "x x [1].", ". [1]", "[1]"};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        for (size_t j = 0; j < sizeof claims / sizeof *claims; j++) {
            size_t pl = strlen(ps[i]);
            fr_rag_checked *c = NULL;
            fr_err err;
            CHECK(fr_rag_check_answer(claims[j], strlen(claims[j]), &ps[i], &pl, 1, FR_RAG_CITES_REQUIRED,
                                      NULL, &c, &err) == FR_OK);
            for (size_t s = 0; c && s < c->n; s++) {
                uint32_t off, len;
                fr_rag_sentence_span(c, s, 0, &off, &len);
                CHECK_MSG(off <= pl && len <= pl - off, "passage %zu claim %zu: span %u+%u of %zu", i, j,
                          off, len, pl);
            }
            fr_rag_checked_free(c);
        }
}

static void test_per_citation(void)
{
    /* the answer cites [2] then [1]: each sub-claim's evidence is in one */
    const char *ps[] = {P1, P2};
    fr_rag_checked *c = check("The Aurora X2 costs $49, and the warehouse works daily [2][1].", ps, 2);
    if (c && c->n == 1) {
        const fr_rag_sentence *s = &c->sentences[0];
        CHECK_EQ_INT(s->n_cites, 2);
        CHECK_EQ_INT(s->cites[0], 2);
        CHECK_EQ_INT(s->cites[1], 1);
        CHECK_STR(span_text(c, 1, P2), "The warehouse ships orders daily.");
        CHECK_STR(span_text(c, 0, P1), "The Aurora X2 thermometer costs $49.");
    }
    fr_rag_checked_free(c);
    /* a cited passage that is the best evidence for no part: no span */
    c = check("The Aurora X2 costs $49 [1][2].", ps, 2);
    if (c && c->n == 1) {
        CHECK_STR(span_text(c, 0, P1), "The Aurora X2 thermometer costs $49.");
        CHECK_STR(span_text(c, 1, P2), "");
    }
    fr_rag_checked_free(c);
}

static void test_surest_subclaim(void)
{
    /* two sub-claims with their evidence in the same passage, in different
     * sentences: the supported one's window is the span, not the one with
     * a wrong number */
    fr_rag_checked *c = check("The Aurora X2 costs $49 and returns are accepted within 90 weeks [1].", &P1, 1);
    if (c && c->n == 1) {
        const fr_rag_sentence *s = &c->sentences[0];
        CHECK_EQ_INT(s->n_subs, 2);
        if (s->n_subs == 2) {
            const fr_rag_subclaim *a = &c->subs[s->first_sub], *b = a + 1;
            CHECK_EQ_INT(a->passage, 0);
            CHECK_EQ_INT(b->passage, 0);
            CHECK_MSG(a->prob > b->prob, "price %.3f, returns %.3f", a->prob, b->prob);
        }
        CHECK_STR(span_text(c, 0, P1), "The Aurora X2 thermometer costs $49.");
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
    test_surest_subclaim();
    TEST_END();
}
