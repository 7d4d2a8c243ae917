/* Tests for the groundedness checker (hand-computed scores on tiny cases,
 * supported-above-unsupported ordering and number-swap negatives on the
 * corpus), answer parsing and citations, the prompt, and the whole ask
 * pipeline with a scripted generator standing in for the model. */
#include "test.h"

#include "base/buf.h"
#include "base/file.h"
#include "rag/extract.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>

static double score1(const char *s, const char *p, const fr_rag_check_opts *o, fr_rag_sentence *out)
{
    size_t pl = strlen(p);
    fr_rag_sentence tmp;
    if (!out)
        out = &tmp;
    fr_rag_score_sentence(s, strlen(s), &p, &pl, 1, o, out);
    return out->score;
}

static void test_hand_computed(void)
{
    fr_rag_sentence r;
    /* content terms alpha, beta, gamma; two found verbatim: 2/3 */
    CHECK_NEAR(score1("Alpha beta gamma.", "alpha beta delta", NULL, &r), 2.0 / 3.0, 1e-12);
    CHECK_NEAR(r.support, 2.0 / 3.0, 1e-12);
    CHECK_STR(r.missing, "gamma");
    /* a word found only in another form earns half: (0.5 + 1) / 2 */
    CHECK_NEAR(score1("Alphas beta.", "alpha beta", NULL, NULL), 0.75, 1e-12);
    /* with IDF weights from a callback: gamma weighs 3, alpha and beta 1 each */
    fr_rag_check_opts o = {0};
    o.idf = NULL;
    /* numbers with units: 18 weeks is not 18 months (a hard fact miss) */
    score1("It lasts 18 weeks.", "It lasts 18 months.", NULL, &r);
    CHECK_EQ_INT(r.n_facts, 1);
    CHECK_EQ_INT(r.n_facts_missing, 1);
    CHECK_STR(r.missing, "18 weeks");
    CHECK_NEAR(r.score, 0.0, 1e-12); /* support 2/3 * 0.5 * (0 of 1 facts) */
    /* $149.00 is the same fact as "149 USD"; $159.00 is not */
    CHECK_NEAR(score1("It costs $149.00.", "It costs 149 USD.", NULL, &r), 1.0, 1e-12);
    CHECK_EQ_INT(r.n_facts, 1);
    score1("It costs $159.00.", "It costs 149 USD.", NULL, &r);
    CHECK_EQ_INT(r.n_facts_missing, 1);
    CHECK_STR(r.missing, "$159.00");
    /* names must appear; a citation mark is not the number 1 */
    score1("The report was written by Alice Smith [1].", "The report was written by Bob.", NULL, &r);
    CHECK_EQ_INT(r.n_facts, 2);
    CHECK_EQ_INT(r.n_facts_missing, 2);
    /* dates: "March 4, 2021" supports "2021-03-04" */
    score1("It launched on 2021-03-04.", "It was launched on March 4, 2021.", NULL, &r);
    CHECK_EQ_INT(r.n_facts_missing, 0);
    /* locality: both names exist, never together -> below the together case */
    const char *kn = "Stanford University is in California. It was founded in 1885. "
                     "Boston College is in Chestnut Hill.";
    double apart = score1("Stanford University is in Chestnut Hill.", kn, NULL, NULL);
    double together = score1("Boston College is in Chestnut Hill.", kn, NULL, NULL);
    CHECK_NEAR(together, 1.0, 1e-12);
    CHECK_MSG(apart < 0.9, "apart %.3f", apart);
    /* the model's probability of an uncopied token: p = 0.25 for "gamma" */
    fr_rag_token_lp lps[2] = {{0, 5, -0.01f}, {11, 6, (float)log(0.25)}};
    o.lps = lps;
    o.n_lps = 2;
    o.lp_weight = 1.0;
    score1("Alpha beta gamma.", "alpha beta delta", &o, &r);
    CHECK_NEAR(r.lp_term, 0.25, 1e-6);
    CHECK_NEAR(r.score, 2.0 / 3.0 * 0.25, 1e-6);
    /* the plain overlap baseline: distinct content words, surface forms */
    const char *p = "alpha beta delta";
    size_t pl = strlen(p);
    CHECK_NEAR(fr_rag_overlap_score("Alphas beta beta gamma.", 23, &p, &pl, 1), 1.0 / 3.0, 1e-12);
}

/* Corpus text: all blocks of the six files. */
static char *corpus_text(void)
{
    static const char *const files[] = {"products.md", "returns-policy.html", "warranty.txt",
                                        "price-list.csv", "support.json", "tickets.jsonl"};
    fr_buf b = FR_BUF_INIT;
    const char *root = getenv("FR_SRC");
    for (size_t i = 0; i < 6; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tests/data/rag/%s", root ? root : ".", files[i]);
        fr_doc *d = NULL;
        if (fr_extract_file(p, NULL, &d, NULL) != FR_OK) {
            fprintf(stderr, "cannot extract %s\n", p);
            exit(1);
        }
        for (size_t k = 0; k < d->n_blocks; k++) {
            fr_buf_append(&b, d->blocks[k].text, d->blocks[k].len);
            fr_buf_puts(&b, "\n\n");
        }
        fr_doc_free(d);
    }
    return fr_buf_take(&b);
}

static void test_ordering(void)
{
    char *text = corpus_text();
    const char *p = text;
    size_t pl = strlen(text);
    /* supported, then its unsupported twin (number swap, wrong name, invention) */
    static const char *const pairs[][2] = {
        {"The Aurora X2 costs $149.00.", "The Aurora X2 costs $159.00."},
        {"Customers may return unused products within 30 days of delivery.",
         "Customers may return unused products within 60 days of delivery."},
        {"The Borealis battery lasts 18 months.", "The Borealis battery lasts 18 weeks."},
        {"Batteries have a warranty of 6 months.", "Batteries have a warranty of 6 years."},
        {"Return shipping costs \xE2\x82\xAC" "12.", "Return shipping costs \xE2\x82\xAC" "21."},
        {"The Fjord data logger was discontinued on June 30, 2024.",
         "The Fjord data logger was discontinued on July 30, 2024."},
        {"Orders ship from Bergen within 2 business days.",
         "Orders ship from Oslo within 2 business days."},
        {"Firmware 2.4.1 fixes error E7.", "Firmware 2.5.0 fixes error E7."},
        {"The Fjord data logger pairs with up to 8 sensors.",
         "The Fjord data logger pairs with up to 11 sensors."},
        {"The Borealis hygrometer is designed for greenhouses and archives.",
         "The Borealis hygrometer was designed by NASA for the Mars rover."},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        fr_rag_sentence a, b;
        fr_rag_score_sentence(pairs[i][0], strlen(pairs[i][0]), &p, &pl, 1, NULL, &a);
        fr_rag_score_sentence(pairs[i][1], strlen(pairs[i][1]), &p, &pl, 1, NULL, &b);
        CHECK_MSG(a.score > b.score, "%s (%.3f) vs %s (%.3f)", pairs[i][0], a.score, pairs[i][1],
                  b.score);
        CHECK_MSG(a.score >= FR_RAG_DEFAULT_THRESHOLD, "supported %s: %.3f (missing %s)",
                  pairs[i][0], a.score, a.missing);
        CHECK_MSG(b.score < FR_RAG_DEFAULT_THRESHOLD, "unsupported %s: %.3f", pairs[i][1], b.score);
    }
    free(text);
}

static void test_answers(void)
{
    const char *ps[2] = {"The Aurora X2 costs $149.00 and ships with a certificate.",
                         "Customers may return any unused product within 30 days."};
    size_t pl[2] = {strlen(ps[0]), strlen(ps[1])};
    fr_rag_checked *c = NULL;
    fr_err err;
    const char *a = "The Aurora X2 costs $149.00 [1]. Unused products can be returned within 30 days. [2]";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK_EQ_INT(c->n, 2);
    if (c->n == 2) {
        CHECK_EQ_INT(c->sentences[0].n_cites, 1);
        CHECK_EQ_INT(c->sentences[0].cites[0], 1);
        CHECK_EQ_INT(c->sentences[1].cites[0], 2);
        CHECK_EQ_INT(c->sentences[1].off, 33);
        CHECK(!c->abstain);
    }
    fr_rag_checked_free(c);
    /* the right sentence, the wrong citation */
    a = "Unused products can be returned within 30 days [1].";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK(c->abstain && c->score < 0.3);
    fr_rag_checked_free(c);
    /* two sentences without terminators, split at the citation */
    a = "It costs $149.00 [1] Returns take 30 days [2]";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK_EQ_INT(c->n, 2);
    fr_rag_checked_free(c);
    /* uncited, out of range, NOT_FOUND */
    a = "The Aurora X2 costs $149.00.";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK(c->abstain && c->score == 0);
    fr_rag_checked_free(c);
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_OPTIONAL, NULL, &c, &err) == FR_OK);
    CHECK(!c->abstain);
    fr_rag_checked_free(c);
    a = "The Aurora X2 costs $149.00 [3].";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK(c->bad_citation && c->abstain);
    fr_rag_checked_free(c);
    a = "  NOT_FOUND\n";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK(c->not_found && c->abstain && c->n == 0);
    fr_rag_checked_free(c);
    a = "";
    CHECK(fr_rag_check_answer(a, 0, ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK(c->abstain && c->n == 0);
    fr_rag_checked_free(c);
}

/* ---- the pipeline with a scripted "model" -------------------------------- */

typedef struct script {
    const char *answer;    /* with "{n}" where the number of the passage holding `fact` goes */
    const char *fact;
    int calls;
    bool constraint_ok;    /* the answer is valid under the request's validator */
} script;

static fr_status fake_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                               fr_err *err)
{
    (void)err;
    script *s = user;
    s->calls++;
    int n = 1;
    for (int k = 1; s->fact && k <= req->n_passages; k++) {
        char mark[16];
        snprintf(mark, sizeof mark, "\n[%d] (", k);
        const char *at = strstr(req->user, mark);
        char next[16];
        snprintf(next, sizeof next, "\n[%d] (", k + 1);
        const char *end = strstr(req->user, next);
        const char *f = at ? strstr(at, s->fact) : NULL;
        if (f && (!end || f < end)) {
            n = k;
            break;
        }
    }
    fr_buf b = FR_BUF_INIT;
    for (const char *p = s->answer; *p; p++) {
        if (p[0] == '{' && p[1] == 'n' && p[2] == '}') {
            fr_buf_printf(&b, "%d", n);
            p += 2;
        } else {
            fr_buf_putc(&b, *p);
        }
    }
    fr_rag_cite_state st = req->constraint;
    s->constraint_ok = fr_rag_cite_feed(&st, b.data, b.len) && fr_rag_cite_complete(&st);
    res->text = fr_buf_take(&b);
    res->n_tokens = 7;
    res->joules = 1.5;
    return FR_OK;
}

static void test_pipeline(void)
{
    char dir[256], db[300];
    fr_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/kb.sqlite", dir);
    fr_kb *kb = NULL;
    fr_err err;
    CHECK(fr_kb_open(db, true, &kb, &err) == FR_OK);
    char src[4096];
    const char *root = getenv("FR_SRC");
    snprintf(src, sizeof src, "%s/tests/data/rag", root ? root : ".");
    const char *paths[1] = {src};
    fr_kb_index_report rep;
    CHECK(fr_kb_index(kb, paths, 1, NULL, &rep, &err) == FR_OK);
    CHECK_EQ_INT(rep.added, 6);

    fr_rag_ask_opts o = {0};
    o.generate = fake_generate;
    struct {
        const char *q, *answer, *fact;
        fr_rag_outcome want;
        int calls;
    } cases[] = {
        {"How much does the Aurora X2 cost?", "The Aurora X2 costs $149.00 [{n}].", "$149.00",
         FR_RAG_ANSWERED, 1},
        {"How much does the Aurora X2 cost?", "The Aurora X2 costs $159.00 [{n}].", "$149.00",
         FR_RAG_ABSTAIN_SUPPORT, 1},
        {"How much does the Aurora X2 cost?", "NOT_FOUND", NULL, FR_RAG_ABSTAIN_NOT_FOUND, 1},
        {"What is the price of the Zephyr 9000 drone?", "It costs $10 [1].", NULL,
         FR_RAG_ABSTAIN_GATE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        script s = {cases[i].answer, cases[i].fact, 0, false};
        o.gen_user = &s;
        fr_rag_result *r = NULL;
        CHECK(fr_rag_ask(kb, cases[i].q, &o, &r, &err) == FR_OK);
        if (!r)
            continue;
        CHECK_MSG(r->outcome == cases[i].want, "%s / %s: %s", cases[i].q, cases[i].answer,
                  fr_rag_outcome_str(r->outcome));
        CHECK_EQ_INT(s.calls, cases[i].calls);
        if (s.calls)
            CHECK(s.constraint_ok);
        CHECK(r->abstained == (cases[i].want != FR_RAG_ANSWERED));
        CHECK_STR(r->shown, r->abstained ? FR_RAG_ABSTAIN_TEXT : r->answer);
        char *js = fr_rag_result_json(r, cases[i].q);
        json_t *j = js ? json_loads(js, 0, NULL) : NULL;
        CHECK(j != NULL);
        CHECK_STR(json_string_value(json_object_get(j, "outcome")), fr_rag_outcome_str(cases[i].want));
        CHECK(json_array_size(json_object_get(j, "passages")) > 0 || cases[i].want == FR_RAG_ABSTAIN_GATE);
        if (cases[i].want == FR_RAG_ANSWERED) {
            json_t *s0 = json_array_get(json_object_get(j, "sentences"), 0);
            json_t *c0 = json_array_get(json_object_get(s0, "citations"), 0);
            CHECK(strstr(json_string_value(json_object_get(c0, "path")), "products.md") != NULL);
            CHECK(json_real_value(json_object_get(json_object_get(j, "energy"), "joules")) == 1.5);
        }
        json_decref(j);
        free(js);
        fr_rag_result_free(r);
    }
    /* no generator: retrieval and the gate only */
    o.generate = NULL;
    fr_rag_result *r = NULL;
    CHECK(fr_rag_ask(kb, "How much does the Aurora X2 cost?", &o, &r, &err) == FR_OK);
    CHECK(r && r->outcome == FR_RAG_RETRIEVED_ONLY && !r->abstained && r->hits->n > 0);
    fr_rag_result_free(r);
    /* the prompt numbers the passages and states the rules */
    fr_kb_hits *h = NULL;
    CHECK(fr_kb_retrieve(kb, "Aurora X2 price", NULL, &h, &err) == FR_OK);
    char *sys = NULL, *user = NULL;
    CHECK(fr_rag_build_prompt("Aurora X2 price?", h->v, h->n, 0, &sys, &user, &err) == FR_OK);
    CHECK(strstr(sys, "NOT_FOUND") && strstr(sys, "[n]"));
    CHECK(strstr(user, "[1] (") && strstr(user, "Question: Aurora X2 price?"));
    char mark[16];
    snprintf(mark, sizeof mark, "[%zu] (", h->n);
    CHECK(strstr(user, mark) != NULL);
    free(sys);
    free(user);
    fr_kb_hits_free(h);
    fr_kb_free(kb);
    unlink(db);
    rmdir(dir);
}

int main(void)
{
    test_hand_computed();
    test_ordering();
    test_answers();
    test_pipeline();
    TEST_END();
}
