/* Tests for the groundedness verdict: features counted by hand on tiny
 * cases, a verifier with hand-set weights (exact probabilities), hostile
 * weights files, the built-in verdict's ordering and threshold on the
 * corpus (number swaps, wrong names, inventions), sub-claims and their
 * evidence spans, answer parsing and citations, the prompt, and the whole
 * ask pipeline with a scripted generator standing in for the model. */
#include "test.h"

#include "base/buf.h"
#include "base/file.h"
#include "rag/evidence.h"
#include "rag/extract.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>

/* Features of sentence s against one passage p (weights 1: no IDF). */
static fr_unit_score feats(const char *s, const char *p)
{
    size_t pl = strlen(p);
    fr_evidence *ev = fr_evidence_create(&p, &pl, 1);
    fr_unit_score u;
    memset(&u, 0, sizeof u);
    CHECK(ev != NULL);
    if (ev)
        fr_evidence_score(ev, s, strlen(s), NULL, NULL, 1, &u);
    fr_evidence_free(ev);
    return u;
}

/* Every value below is counted by hand from the definitions in evidence.h. */
static void test_features(void)
{
    /* content terms alpha, beta, gamma; two found verbatim */
    fr_unit_score u = feats("Alpha beta gamma.", "alpha beta delta");
    CHECK_NEAR(u.f[FR_F_SUPPORT], 2.0 / 3.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_SUPPORT_EXACT], 2.0 / 3.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_SUPPORT_PLAIN], 2.0 / 3.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_TERMS], log(4.0), 1e-12);
    CHECK_NEAR(u.f[FR_F_MISSING], log(2.0), 1e-12);
    CHECK_NEAR(u.f[FR_F_MISSING_TOP], 1.0 / 3.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_MISSING_RUN], 1.0 / 3.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_WINDOW1], 2.0 / 3.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_PAIRS], 0.5, 1e-12); /* alpha->beta found, beta->gamma not */
    CHECK_STR(u.missing, "gamma");
    /* a word found only in another form earns half; counted found unweighted */
    u = feats("Alphas beta.", "alpha beta");
    CHECK_NEAR(u.f[FR_F_SUPPORT], 0.75, 1e-12);
    CHECK_NEAR(u.f[FR_F_SUPPORT_EXACT], 0.5, 1e-12);
    CHECK_NEAR(u.f[FR_F_SUPPORT_PLAIN], 1.0, 1e-12);
    /* "nominated" is not "nomination", but shares its first five letters */
    u = feats("Smith was nominated.", "The nomination of Smith.");
    CHECK_NEAR(u.f[FR_F_SUPPORT_PLAIN], 0.5, 1e-12);
    CHECK_NEAR(u.f[FR_F_SUPPORT_PREFIX], 1.0, 1e-12);
    /* numbers with units: 18 weeks is not 18 months (a missing fact) */
    u = feats("It lasts 18 weeks.", "It lasts 18 months.");
    CHECK_EQ_INT(u.n_facts, 1);
    CHECK_EQ_INT(u.n_facts_missing, 1);
    CHECK_NEAR(u.f[FR_F_NUMBERS_MISSING], 1, 0);
    CHECK_NEAR(u.f[FR_F_FACTS], 0, 0);
    CHECK_STR(u.missing, "18 weeks");
    /* $149.00 is the same fact as "149 USD"; $159.00 is not */
    u = feats("It costs $149.00.", "It costs 149 USD.");
    CHECK_EQ_INT(u.n_facts_missing, 0);
    u = feats("It costs $159.00.", "It costs 149 USD.");
    CHECK_STR(u.missing, "$159.00");
    /* names must appear; a citation mark is not the number 1 */
    u = feats("The report was written by Alice Smith [1].", "The report was written by Bob.");
    CHECK_EQ_INT(u.n_facts, 2);
    CHECK_NEAR(u.f[FR_F_NAMES_MISSING], 2, 0);
    /* dates: "March 4, 2021" supports "2021-03-04" */
    u = feats("It launched on 2021-03-04.", "It was launched on March 4, 2021.");
    CHECK_EQ_INT(u.n_facts_missing, 0);
    /* negation: the claim denies what the evidence says */
    CHECK_NEAR(feats("The museum is not open on Mondays.", "The museum is open on Mondays.").f[FR_F_NEGATION], 1, 0);
    CHECK_NEAR(feats("The museum isn't open on Mondays.", "The museum is open on Mondays.").f[FR_F_NEGATION], 1, 0);
    CHECK_NEAR(feats("The museum is not open on Mondays.", "The museum is not open on Mondays.").f[FR_F_NEGATION], 0, 0);
    /* windows: both names exist, never together */
    const char *kn = "Stanford University is in California. It was founded in 1885. "
                     "Boston College is in Chestnut Hill.";
    u = feats("Stanford University is in Chestnut Hill.", kn);
    CHECK_NEAR(u.f[FR_F_SUPPORT], 1.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_WINDOW1], 0.5, 1e-12);
    CHECK_NEAR(u.f[FR_F_WINDOW], 0.5, 1e-12);
    CHECK_NEAR(u.f[FR_F_WINDOW3], 1.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_LOCALITY], 0.5, 1e-12);
    CHECK_EQ_INT(u.passage, 0);
    CHECK_EQ_INT(u.span_off, 0); /* the first sentence with half the weight */
    CHECK_EQ_INT(u.span_len, strlen("Stanford University is in California."));
    u = feats("Boston College is in Chestnut Hill.", kn);
    CHECK_NEAR(u.f[FR_F_WINDOW1], 1.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_PAIRS], 1.0, 1e-12);
    CHECK_NEAR(u.f[FR_F_SPAN_POS], 1.0, 1e-12); /* the last of three sentences */
    CHECK_EQ_INT(u.span_off, strlen("Stanford University is in California. It was founded in 1885. "));
}

/* A verifier whose output is computable by hand: p = 1 / (1 + exp(-z)),
 * z = 2 * (support - 0.5) / 0.25. */
static const char hand_weights[] =
    "{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\","
    " \"features\": [\"support\"], \"mean\": [0.5], \"scale\": [0.25], \"weights\": [2.0],"
    " \"bias\": 0.0, \"threshold\": 0.6, \"fact_gate\": 0.1}";

static void test_verifier(void)
{
    fr_err err;
    fr_rag_verifier *v = NULL;
    CHECK(fr_rag_verifier_parse(hand_weights, strlen(hand_weights), "hand", &v, &err) == FR_OK);
    if (!v)
        return;
    CHECK_NEAR(fr_rag_verifier_threshold(v), 0.6, 0);
    fr_rag_check_opts o = {0};
    o.verifier = v;
    const char *p = "alpha beta delta";
    size_t pl = strlen(p);
    fr_rag_sentence r;
    /* support 0.75 (one sub-claim): z = 2 */
    CHECK(fr_rag_score_sentence("Alphas beta.", 12, &p, &pl, 1, &o, &r, &err) == FR_OK);
    CHECK_NEAR(r.prob, 1.0 / (1.0 + exp(-2.0)), 1e-12);
    CHECK_NEAR(r.score, r.prob, 0);
    /* with the model's probability of the uncopied token "gamma", p = 0.25 */
    fr_rag_token_lp lps[2] = {{0, 5, -0.01f}, {11, 6, (float)log(0.25)}};
    o.lps = lps;
    o.n_lps = 2;
    o.lp_weight = 1.0;
    CHECK(fr_rag_score_sentence("Alpha beta gamma.", 17, &p, &pl, 1, &o, &r, &err) == FR_OK);
    CHECK_NEAR(r.lp_term, 0.25, 1e-6);
    /* support 2/3: z = 2 * (1/6) / 0.25 = 4/3 */
    CHECK_NEAR(r.score, 0.25 / (1.0 + exp(-4.0 / 3.0)), 1e-6);
    /* the threshold of the file, unless the caller sets one */
    o.lps = NULL;
    o.n_lps = 0;
    fr_rag_checked *c = NULL;
    CHECK(fr_rag_check_answer("Alphas beta.", 12, &p, &pl, 1, FR_RAG_CITES_IGNORED, &o, &c, &err) == FR_OK);
    CHECK(c && !c->abstain && c->threshold == 0.6);
    fr_rag_checked_free(c);
    o.threshold = 0.9;
    CHECK_NEAR(fr_rag_check_threshold(&o), 0.9, 0);
    CHECK(fr_rag_check_answer("Alphas beta.", 12, &p, &pl, 1, FR_RAG_CITES_IGNORED, &o, &c, &err) == FR_OK);
    CHECK(c && c->abstain);
    fr_rag_checked_free(c);
    fr_rag_verifier_free(v);
    /* the built-in weights parse, and their threshold is a probability */
    CHECK(fr_rag_verifier_builtin(&v, &err) == FR_OK);
    CHECK(v && fr_rag_verifier_threshold(v) > 0.05 && fr_rag_verifier_threshold(v) < 0.95);
    fr_rag_verifier_free(v);
}

/* Weights files are hostile input: every truncation and every one-byte
 * change of a valid file is refused or accepted without a crash, and the
 * errors name the file and the field. */
static void test_verifier_hostile(void)
{
    fr_err err;
    fr_rag_verifier *v = NULL;
    size_t n = strlen(hand_weights);
    char buf[sizeof hand_weights];
    for (size_t cut = 0; cut < n; cut++) {
        CHECK(fr_rag_verifier_parse(hand_weights, cut, "w.json", &v, &err) != FR_OK && v == NULL);
        CHECK(strstr(err.msg, "w.json") != NULL);
    }
    for (size_t i = 0; i < n; i++) {
        static const char subst[] = {'0', '"', '}', ',', '-', 'x', '\0', '9'};
        for (size_t k = 0; k < sizeof subst; k++) {
            memcpy(buf, hand_weights, n + 1);
            buf[i] = subst[k];
            if (fr_rag_verifier_parse(buf, n, "w.json", &v, &err) == FR_OK) {
                CHECK(v != NULL && fr_rag_verifier_threshold(v) > 0 && fr_rag_verifier_threshold(v) < 1);
                fr_rag_verifier_free(v);
                v = NULL;
            }
        }
    }
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"[]", "\"format\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 2}", "\"version\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"trees\"}", "\"model\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"colour\"]}",
         "colour"},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"support\", "
         "\"support\"]}", "twice"},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": "
         "[\"support\\u0000x\"]}", "u0000"},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"support\"], "
         "\"mean\": [0.5, 1], \"scale\": [1], \"weights\": [1], \"bias\": 0, \"threshold\": 0.5}", "\"mean\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"support\"], "
         "\"mean\": [0.5], \"scale\": [0], \"weights\": [1], \"bias\": 0, \"threshold\": 0.5}", "\"scale\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"support\"], "
         "\"mean\": [0.5], \"scale\": [1], \"weights\": [1e300], \"bias\": 0, \"threshold\": 0.5}", "\"weights\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"support\"], "
         "\"mean\": [0.5], \"scale\": [1], \"weights\": [1], \"bias\": \"0\", \"threshold\": 0.5}", "\"bias\""},
        {"{\"format\": \"frugal-verifier\", \"version\": 1, \"model\": \"logistic\", \"features\": [\"support\"], "
         "\"mean\": [0.5], \"scale\": [1], \"weights\": [1], \"bias\": 0, \"threshold\": 1.5}", "\"threshold\""},
        {"{\"format\": \"frugal-verifier\", \"format\": \"frugal-verifier\"}", "duplicate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(fr_rag_verifier_parse(bad[i].json, strlen(bad[i].json), "w.json", &v, &err) == FR_E_FORMAT);
        CHECK_MSG(strstr(err.msg, bad[i].why) != NULL, "%s: %s", bad[i].why, err.msg);
    }
    CHECK(fr_rag_verifier_load("/nonexistent/w.json", &v, &err) != FR_OK && v == NULL);
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

/* The built-in verdict on the test corpus: each supported sentence above
 * its unsupported twin (number swap, wrong name, invention), and on the
 * right side of the threshold. */
static void test_ordering(void)
{
    char *text = corpus_text();
    const char *p = text;
    size_t pl = strlen(text);
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
    fr_err err;
    double thr = fr_rag_check_threshold(NULL);
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        fr_rag_sentence a, b;
        CHECK(fr_rag_score_sentence(pairs[i][0], strlen(pairs[i][0]), &p, &pl, 1, NULL, &a, &err) == FR_OK);
        CHECK(fr_rag_score_sentence(pairs[i][1], strlen(pairs[i][1]), &p, &pl, 1, NULL, &b, &err) == FR_OK);
        CHECK_MSG(a.score > b.score, "%s (%.3f) vs %s (%.3f)", pairs[i][0], a.score, pairs[i][1],
                  b.score);
        CHECK_MSG(a.score >= thr, "supported %s: %.3f (missing %s)", pairs[i][0], a.score, a.missing);
        CHECK_MSG(b.score < thr, "unsupported %s: %.3f", pairs[i][1], b.score);
    }
    free(text);
}

/* A claim with one supported and one unsupported part: the claim fails,
 * the check says which part, and where the supported part's evidence is. */
static void test_subclaims(void)
{
    const char *ps[2] = {"The museum opened in 1902 in Bergen.",
                         "Marie Curie was born in Warsaw. She studied physics in Paris."};
    size_t pl[2] = {strlen(ps[0]), strlen(ps[1])};
    const char *a = "Marie Curie was born in Warsaw and won the Nobel Prize in Chemistry in 1925.";
    fr_rag_checked *c = NULL;
    fr_err err;
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_IGNORED, NULL, &c, &err) == FR_OK);
    if (!c)
        return;
    CHECK(c->abstain);
    CHECK_EQ_INT(c->n, 1);
    CHECK_EQ_INT(c->n_subs, 2);
    CHECK_EQ_INT(c->sentences[0].n_subs, 2);
    if (c->n_subs == 2) {
        CHECK_STR(c->subs[0].text, "Marie Curie was born in Warsaw");
        CHECK_STR(c->subs[1].text, "Marie Curie and won the Nobel Prize in Chemistry in 1925");
        CHECK(c->subs[0].supported && !c->subs[1].supported);
        CHECK_EQ_INT(c->subs[0].passage, 1);
        CHECK_EQ_INT(c->subs[0].span_off, 0);
        CHECK_EQ_INT(c->subs[0].span_len, strlen("Marie Curie was born in Warsaw."));
        CHECK(c->subs[1].prob < c->subs[0].prob);
        CHECK_NEAR(c->sentences[0].prob, c->subs[1].prob, 0);
    }
    fr_rag_checked_free(c);
    /* cited passages: the span names the passage among all of them */
    a = "Marie Curie was born in Warsaw [2].";
    CHECK(fr_rag_check_answer(a, strlen(a), ps, pl, 2, FR_RAG_CITES_REQUIRED, NULL, &c, &err) == FR_OK);
    CHECK(c && c->n_subs == 1 && c->subs[0].passage == 1 && !c->abstain);
    fr_rag_checked_free(c);
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
            /* the citation's span: bytes of the cited passage's "text", the
             * sub-claim's evidence window (fr_rag_sentence_span), which ends
             * with the sentence that holds the price (it may start earlier:
             * the sentence splitter reads "0.1 °C. The" as an initial) */
            json_t *sp = json_object_get(c0, "span");
            json_int_t n0 = json_integer_value(json_object_get(c0, "n"));
            const char *pt = json_string_value(json_object_get(
                json_array_get(json_object_get(j, "passages"), (size_t)(n0 - 1)), "text"));
            json_int_t so = json_integer_value(json_object_get(sp, "off"));
            json_int_t sl = json_integer_value(json_object_get(sp, "len"));
            CHECK(json_is_object(sp) && pt && so >= 0 && sl > 0 && (size_t)(so + sl) <= strlen(pt));
            if (json_is_object(sp) && pt && so >= 0 && sl > 0 && (size_t)(so + sl) <= strlen(pt)) {
                char got[256];
                snprintf(got, sizeof got, "%.*s", (int)sl, pt + so);
                const char *want = "The Aurora X2 costs $149.00 and ships with a calibration certificate.";
                size_t gl = strlen(got), wl = strlen(want);
                CHECK_MSG(gl >= wl && strcmp(got + gl - wl, want) == 0, "span \"%s\"", got);
                json_t *ev = json_object_get(json_array_get(json_object_get(s0, "subclaims"), 0), "evidence");
                CHECK_EQ_INT(json_integer_value(json_object_get(ev, "passage")), n0);
                CHECK_EQ_INT(json_integer_value(json_object_get(ev, "offset")), so);
                CHECK_EQ_INT(json_integer_value(json_object_get(ev, "length")), sl);
            }
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
    test_features();
    test_verifier();
    test_verifier_hostile();
    test_ordering();
    test_subclaims();
    test_answers();
    test_pipeline();
    TEST_END();
}
