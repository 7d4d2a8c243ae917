/* Tests for sub-claim splitting: each sentence below with the sub-claims
 * (text, kind) written by hand from the rules in claims.h; sentences that
 * assert one thing stay whole; hostile input (no words, only punctuation,
 * very long sentences, citation marks) is bounded. */
#include "test.h"

#include "rag/claims.h"

typedef struct want {
    const char *text;
    fr_subclaim_kind kind;
} want;

static void split_is(const char *s, const want *w, size_t n)
{
    fr_subclaim sc[FR_SUBCLAIMS_MAX];
    size_t k = fr_split_claim(s, strlen(s), sc);
    CHECK_MSG(k == n, "%s: %zu sub-claims, want %zu", s, k, n);
    char t[1024];
    for (size_t i = 0; i < k && i < n; i++) {
        fr_subclaim_text(s, &sc[i], t, sizeof t);
        CHECK_MSG(strcmp(t, w[i].text) == 0, "%s: sub-claim %zu is \"%s\", want \"%s\"", s, i, t, w[i].text);
        CHECK_MSG(sc[i].kind == w[i].kind, "%s: sub-claim %zu is %s, want %s", s, i,
                  fr_subclaim_kind_str(sc[i].kind), fr_subclaim_kind_str(w[i].kind));
    }
}

#define SPLIT(s, ...)                                                    \
    do {                                                                 \
        const want w_[] = {__VA_ARGS__};                                 \
        split_is((s), w_, sizeof w_ / sizeof *w_);                       \
    } while (0)

int main(void)
{
    /* one assertion: whole */
    SPLIT("Gill has won 21 awards from 44 nominations.", {"Gill has won 21 awards from 44 nominations", FR_SUB_MAIN});
    /* noun coordination is one fact; a date's comma is not a cut */
    SPLIT("He lives in Leicestershire with his wife and two children.",
          {"He lives in Leicestershire with his wife and two children", FR_SUB_MAIN});
    /* a chunk with one content word is not a claim: it joins the one before */
    SPLIT("She was handed over to the RAN on 27 July 2018, in Sydney.",
          {"She was handed over to the RAN on 27 July 2018 in Sydney", FR_SUB_MAIN});
    /* a coordinated verb phrase leans on the subject */
    SPLIT("Marie Curie was born in Warsaw and won the Nobel Prize in 1903.",
          {"Marie Curie was born in Warsaw", FR_SUB_MAIN},
          {"Marie Curie and won the Nobel Prize in 1903", FR_SUB_VERB});
    /* a clause with its own subject */
    SPLIT("Late the following year, Harris left the band and Dennis Whitted took over on drums.",
          {"Late the following year Harris left the band", FR_SUB_MAIN},
          {"and Dennis Whitted took over on drums", FR_SUB_CLAUSE});
    SPLIT("Police were called, but the members left before they arrived.",
          {"Police were called", FR_SUB_MAIN}, {"but the members left before they arrived", FR_SUB_CLAUSE});
    /* a relative clause leans on the noun phrase before it */
    SPLIT("In 1890 he employed William Dixson as an engineer, who later made a donation to the State Library.",
          {"In 1890 he employed William Dixson as an engineer", FR_SUB_MAIN},
          {"engineer who later made a donation to the State Library", FR_SUB_RELATIVE});
    /* an apposition inside the main clause: the clause resumes after it */
    SPLIT("The band's third album, \"Emotive\", was released on November 2, 2004.",
          {"The band's third album Emotive was released on November 2, 2004", FR_SUB_MAIN});
    SPLIT("Arnold is the publisher of Media Play News, one of five Hollywood trades.",
          {"Arnold is the publisher of Media Play News", FR_SUB_MAIN},
          {"Media Play News one of five Hollywood trades", FR_SUB_APPOSITION});
    /* a list: each item with the words before the list */
    SPLIT("He played for Arsenal, Chelsea and Liverpool.",
          {"He played for Arsenal", FR_SUB_MAIN},
          {"He played for Chelsea", FR_SUB_LIST_ITEM},
          {"He played for and Liverpool", FR_SUB_LIST_ITEM});
    /* a participle phrase */
    SPLIT("The Blanda Station is an underground plant, located 230 metres below the surface.",
          {"The Blanda Station is an underground plant", FR_SUB_MAIN},
          {"The Blanda Station located 230 metres below the surface", FR_SUB_VERB});
    /* no verb we know in the main clause: the leading names are the subject */
    SPLIT("The Aurora X2 costs $149.00 and was designed by NASA for the Mars rover.",
          {"The Aurora X2 costs $149.00", FR_SUB_MAIN},
          {"The Aurora X2 and was designed by NASA for the Mars rover", FR_SUB_VERB});
    /* citation marks are not words and do not open a parenthesis */
    SPLIT("The warranty lasts two years [2] and covers batteries [1].",
          {"The warranty lasts two years [2] and covers batteries", FR_SUB_MAIN});

    /* hostile input: bounded, never more than FR_SUBCLAIMS_MAX */
    fr_subclaim sc[FR_SUBCLAIMS_MAX];
    CHECK_EQ_INT(fr_split_claim("", 0, sc), 0);
    CHECK_EQ_INT(fr_split_claim(" ,;:()[]-- \n", 12, sc), 0);
    static char big[20000];
    size_t n = 0;
    while (n + 40 < sizeof big)
        n += (size_t)snprintf(big + n, sizeof big - n, "word%zu, and was made in %zu; ", n, n);
    size_t k = fr_split_claim(big, n, sc);
    CHECK(k >= 1 && k <= FR_SUBCLAIMS_MAX);
    /* the last sub-claim reaches the end of the text (words past the cap) */
    const fr_subclaim *last = &sc[k - 1];
    CHECK_EQ_INT(last->off[last->n_parts - 1] + last->len[last->n_parts - 1], n - 1); /* up to ";" */
    for (size_t i = 0; i < k; i++)
        for (int p = 0; p < sc[i].n_parts; p++)
            CHECK(sc[i].off[p] + sc[i].len[p] <= n);
    char small[8];
    CHECK_EQ_INT(fr_subclaim_text(big, &sc[0], small, sizeof small), 7);
    CHECK_EQ_INT(strlen(small), 7);
    TEST_END();
}
