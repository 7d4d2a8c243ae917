/*
 * test_serve_grounded.c - grounded answers in the server, without HTTP or a
 * model: the "documents" field of chat requests and the body of POST
 * /v1/ask are parsed or rejected with a 400 naming the field; and the
 * "grounding" object of a chat answer says answered / abstained as the
 * checker must for hand-written answers: a sentence copied from the passage
 * it cites is shown, a swapped number or a citation of a passage that does
 * not exist is not, NOT_FOUND abstains.
 *
 * Expected values are written by hand from the documents below.
 */
#include "test.h"

#include "serve/grounded.h"
#include "serve/request.h"

static bool parse_chat(const char *body, srv_request *r, srv_error *e)
{
    srv_limits lim = {8, 100, 512, NULL};
    memset(e, 0, sizeof *e);
    return srv_request_parse(SRV_CHAT, body, strlen(body), &lim, r, e);
}

#define MSGS "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"How long?\"}]"

static void chat_400(const char *extra, const char *param, const char *words)
{
    char body[4096];
    snprintf(body, sizeof body, "{" MSGS ",%s}", extra);
    srv_request r;
    srv_error e;
    bool ok = parse_chat(body, &r, &e);
    CHECK_MSG(!ok, "accepted: %s", body);
    if (ok) {
        srv_request_free(&r);
        return;
    }
    CHECK_MSG(e.status == 400, "%s -> %d", body, e.status);
    CHECK_MSG(strcmp(e.param, param) == 0, "%s: param '%s', want '%s'", body, e.param, param);
    CHECK_MSG(strstr(e.message, words) != NULL, "%s: message '%s' lacks '%s'", body, e.message, words);
}

static void test_documents_parse(void)
{
    srv_request r;
    srv_error e;
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
                       "{\"role\":\"user\",\"content\":\"How long?\"}],"
                       "\"documents\":[\"First passage.\",{\"text\":\"Second.\",\"title\":\"T2\"},"
                       "{\"text\":\"Third.\",\"title\":null}],\"min_support\":0.7,"
                       "\"temperature\":0.5,\"max_tokens\":9}";
    CHECK_MSG(parse_chat(body, &r, &e), "%s", e.message);
    CHECK_EQ_INT(r.n_docs, 3);
    if (r.n_docs == 3) {
        CHECK(r.docs[0].len == 14 && memcmp(r.docs[0].text, "First passage.", 14) == 0);
        CHECK(r.docs[0].title == NULL);
        CHECK_STR(r.docs[1].text, "Second.");
        CHECK_STR(r.docs[1].title, "T2");
        CHECK(r.docs[2].title == NULL);
    }
    CHECK_NEAR(r.min_support, 0.7, 1e-12);
    CHECK_EQ_INT(r.max_tokens, 9);
    srv_request_free(&r);
    /* without documents nothing changes */
    CHECK(parse_chat("{" MSGS "}", &r, &e));
    CHECK(r.n_docs == 0 && r.docs == NULL && r.min_support == 0);
    srv_request_free(&r);
    /* null counts as absent */
    CHECK(parse_chat("{" MSGS ",\"documents\":null}", &r, &e));
    CHECK_EQ_INT(r.n_docs, 0);
    srv_request_free(&r);

    chat_400("\"documents\":\"a passage\"", "documents", "expected an array");
    chat_400("\"documents\":{\"text\":\"a\"}", "documents", "expected an array");
    chat_400("\"documents\":[]", "documents", "empty array");
    chat_400("\"documents\":[3]", "documents[0]", "expected a string or a");
    chat_400("\"documents\":[\"ok\",[\"a\"]]", "documents[1]", "expected a string or a");
    chat_400("\"documents\":[\"\"]", "documents[0]", "empty");
    chat_400("\"documents\":[\" \\n\\t\"]", "documents[0]", "empty");
    chat_400("\"documents\":[{\"title\":\"t\"}]", "documents[0]", "'documents[0].text'");
    chat_400("\"documents\":[{\"text\":5}]", "documents[0]", "'documents[0].text'");
    chat_400("\"documents\":[{\"text\":\"a\",\"title\":7}]", "documents[0]", "title");
    chat_400("\"documents\":[{\"text\":\"a\",\"url\":\"http://x\"}]", "documents[0]", "url");
    chat_400("\"documents\":[\"a\"],\"stream\":true", "stream", "not supported with 'documents'");
    chat_400("\"documents\":[\"a\"],\"stop\":\"x\"", "stop", "not supported with 'documents'");
    chat_400("\"documents\":[\"a\"],\"logprobs\":true", "logprobs", "not supported with 'documents'");
    chat_400("\"documents\":[\"a\"],\"min_support\":0", "min_support", "minimum");
    chat_400("\"documents\":[\"a\"],\"min_support\":1.5", "min_support", "maximum");
    chat_400("\"documents\":[\"a\"],\"min_support\":\"high\"", "min_support", "expected a number");
    chat_400("\"min_support\":0.5", "min_support", "with 'documents'");
    /* too many */
    char many[1024] = "\"documents\":[";
    for (int i = 0; i <= SRV_MAX_DOCUMENTS; i++)
        strcat(many, i ? ",\"d\"" : "\"d\"");
    strcat(many, "]");
    chat_400(many, "documents", "at most 64");
    /* the question must come last */
    CHECK(!parse_chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},"
                      "{\"role\":\"assistant\",\"content\":\"A\"}],\"documents\":[\"d\"]}",
                      &r, &e));
    CHECK(e.status == 400 && strcmp(e.param, "messages") == 0 && strstr(e.message, "last message"));
}

static void ask_400(const char *body, const char *param, const char *words)
{
    srv_ask_req q;
    srv_error e = {0};
    bool ok = srv_ask_parse(body, strlen(body), &q, &e);
    CHECK_MSG(!ok, "accepted: %s", body);
    if (ok) {
        srv_ask_req_free(&q);
        return;
    }
    CHECK_MSG(e.status == 400, "%s -> %d", body, e.status);
    if (param)
        CHECK_MSG(strcmp(e.param, param) == 0, "%s: param '%s', want '%s'", body, e.param, param);
    CHECK_MSG(strstr(e.message, words) != NULL, "%s: message '%s' lacks '%s'", body, e.message, words);
}

static void test_ask_parse(void)
{
    srv_ask_req q;
    srv_error e = {0};
    const char *b = "{\"question\":\"What does it cost?\"}";
    CHECK_MSG(srv_ask_parse(b, strlen(b), &q, &e), "%s", e.message);
    CHECK_STR(q.question, "What does it cost?");
    CHECK(q.model == NULL);
    CHECK_EQ_INT(q.k, 5);
    CHECK_NEAR(q.min_support, 0, 0); /* the verifier's threshold */
    CHECK_NEAR(q.gate, 0.5, 1e-12);
    CHECK_EQ_INT(q.max_bytes, 2048);
    srv_ask_req_free(&q);
    b = "{\"question\":\"Q?\",\"k\":12,\"min_support\":0.8,\"gate\":0.25,\"max_bytes\":100,"
        "\"model\":\"m\",\"user\":\"u\",\"metadata\":{\"a\":1},\"k2\":null}";
    CHECK_MSG(srv_ask_parse(b, strlen(b), &q, &e), "%s", e.message);
    CHECK(q.k == 12 && q.max_bytes == 100);
    CHECK_NEAR(q.min_support, 0.8, 1e-12);
    CHECK_NEAR(q.gate, 0.25, 1e-12);
    CHECK_STR(q.model, "m");
    srv_ask_req_free(&q);
    b = "{\"question\":\"Q?\",\"gate\":false}";
    CHECK(srv_ask_parse(b, strlen(b), &q, &e));
    CHECK(q.gate < 0);
    srv_ask_req_free(&q);

    ask_400("", NULL, "empty");
    ask_400("{\"question\":", NULL, "parse");
    ask_400("[\"question\"]", NULL, "JSON object");
    ask_400("{}", "question", "Missing required parameter: 'question'");
    ask_400("{\"question\":null}", "question", "Missing required parameter");
    ask_400("{\"question\":\"\"}", "question", "empty");
    ask_400("{\"question\":\" \\n \"}", "question", "empty");
    ask_400("{\"question\":42}", "question", "expected a string");
    ask_400("{\"question\":\"Q\",\"k\":0}", "k", "minimum");
    ask_400("{\"question\":\"Q\",\"k\":51}", "k", "maximum");
    ask_400("{\"question\":\"Q\",\"k\":2.5}", "k", "expected an integer");
    ask_400("{\"question\":\"Q\",\"min_support\":0}", "min_support", "minimum");
    ask_400("{\"question\":\"Q\",\"gate\":true}", "gate", "or false");
    ask_400("{\"question\":\"Q\",\"gate\":2}", "gate", "maximum");
    ask_400("{\"question\":\"Q\",\"max_bytes\":8}", "max_bytes", "minimum");
    ask_400("{\"question\":\"Q\",\"model\":1}", "model", "expected a string");
    ask_400("{\"question\":\"Q\",\"messages\":[]}", "messages", "Unrecognized");
    char big[4200];
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"question\":\"", 13);
    memcpy(big + sizeof big - 3, "\"}", 3);
    ask_400(big, "question", "at most 4000");
}

static const srv_document docs[] = {
    {"The Aurora X2 costs $149.00 and ships with a calibration certificate.", 69, NULL},
    {"The warranty lasts two years from the date of purchase.", 55, "Warranty"},
};

/* The grounding object for answer; returns it and the shown text. */
static json_t *ground(const char *answer, double min_support, const char **shown)
{
    srv_error e = {0};
    json_t *g = srv_grounding_check(docs, 2, answer, NULL, 0, min_support, shown, &e);
    CHECK_MSG(g != NULL, "%s", e.message);
    return g;
}

static const char *gstr(json_t *g, const char *k)
{
    return json_string_value(json_object_get(g, k));
}

static void test_grounding(void)
{
    CHECK_EQ_INT(strlen(docs[0].text), docs[0].len);
    CHECK_EQ_INT(strlen(docs[1].text), docs[1].len);
    const char *shown = NULL;
    /* copied from the passage it cites: shown, with that document cited */
    const char *a = "The warranty lasts two years [2].";
    json_t *g = ground(a, 0, &shown);
    if (g) {
        CHECK_STR(gstr(g, "outcome"), "answered");
        CHECK(json_is_false(json_object_get(g, "abstained")));
        CHECK(shown == a);
        CHECK_STR(gstr(g, "model_answer"), a);
        CHECK(json_real_value(json_object_get(g, "score")) >= fr_rag_check_threshold(NULL));
        CHECK_NEAR(json_real_value(json_object_get(g, "threshold")), fr_rag_check_threshold(NULL), 1e-12);
        json_t *sub0 = json_array_get(json_object_get(json_array_get(json_object_get(g, "sentences"), 0), "subclaims"), 0);
        CHECK_STR(gstr(sub0, "verdict"), "supported");
        json_t *ev = json_object_get(sub0, "evidence");
        CHECK_EQ_INT(json_integer_value(json_object_get(ev, "passage")), 2);
        json_t *ss = json_object_get(g, "sentences");
        CHECK_EQ_INT(json_array_size(ss), 1);
        json_t *s0 = json_array_get(ss, 0);
        CHECK(gstr(s0, "text") && strncmp(gstr(s0, "text"), "The warranty lasts two years", 28) == 0);
        CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(s0, "citations"), 0)), 2);
        json_t *cs = json_object_get(g, "citations");
        CHECK_EQ_INT(json_array_size(cs), 1);
        json_t *c0 = json_array_get(cs, 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(c0, "n")), 2);
        CHECK_EQ_INT(json_integer_value(json_object_get(c0, "document")), 1);
        CHECK_STR(gstr(c0, "title"), "Warranty");
        json_decref(g);
    }
    /* two sentences citing both passages: both documents, first-cited first */
    a = "The Aurora X2 costs $149.00 [1]. The warranty lasts two years [2][1].";
    if ((g = ground(a, 0, &shown))) {
        CHECK_STR(gstr(g, "outcome"), "answered");
        json_t *cs = json_object_get(g, "citations");
        CHECK_EQ_INT(json_array_size(cs), 2);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(cs, 0), "document")), 0);
        CHECK(json_is_null(json_object_get(json_array_get(cs, 0), "title")));
        CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(cs, 1), "document")), 1);
        CHECK_EQ_INT(json_array_size(json_object_get(g, "sentences")), 2);
        json_decref(g);
    }
    /* a swapped price: not shown, no citations listed, the draft kept */
    a = "The Aurora X2 costs $199.00 [1].";
    if ((g = ground(a, 0, &shown))) {
        CHECK_STR(gstr(g, "outcome"), "abstain_low_support");
        CHECK(json_is_true(json_object_get(g, "abstained")));
        CHECK_STR(shown, FR_RAG_ABSTAIN_TEXT);
        CHECK_EQ_INT(json_array_size(json_object_get(g, "citations")), 0);
        CHECK_STR(gstr(g, "model_answer"), a);
        json_t *s0 = json_array_get(json_object_get(g, "sentences"), 0);
        CHECK(json_integer_value(json_object_get(s0, "facts_missing")) >= 1);
        CHECK(json_real_value(json_object_get(g, "score")) < fr_rag_check_threshold(NULL));
        json_decref(g);
    }
    /* the right fact under the wrong citation */
    if ((g = ground("The warranty lasts two years [1].", 0, &shown))) {
        CHECK_STR(gstr(g, "outcome"), "abstain_low_support");
        json_decref(g);
    }
    /* a passage that does not exist */
    if ((g = ground("The warranty lasts two years [3].", 0, &shown))) {
        CHECK(json_is_true(json_object_get(g, "abstained")));
        CHECK_EQ_INT(json_array_size(json_object_get(g, "citations")), 0);
        json_decref(g);
    }
    /* the model's own NOT_FOUND */
    if ((g = ground("NOT_FOUND", 0, &shown))) {
        CHECK_STR(gstr(g, "outcome"), "abstain_not_found");
        CHECK_STR(shown, FR_RAG_ABSTAIN_TEXT);
        CHECK_NEAR(json_real_value(json_object_get(g, "score")), 0, 0);
        json_decref(g);
    }
    /* min_support is the threshold */
    if ((g = ground("The warranty lasts two years [2].", 0.9, &shown))) {
        CHECK_NEAR(json_real_value(json_object_get(g, "threshold")), 0.9, 1e-12);
        double sc = json_real_value(json_object_get(g, "score"));
        CHECK(json_is_true(json_object_get(g, "abstained")) == (sc < 0.9));
        json_decref(g);
    }
    /* text that is not valid UTF-8 comes back repaired, never dropped */
    if ((g = ground("The warranty \xff lasts two years [2].", 0, &shown))) {
        CHECK(gstr(g, "model_answer") != NULL);
        json_decref(g);
    }
}

int main(void)
{
    test_documents_parse();
    test_ask_parse();
    test_grounding();
    TEST_END();
}
