/*
 * test_serve_request.c - the server's request parser and response bodies,
 * without HTTP: accepted fields land in the right place, every rejected
 * input is a 400 naming the field, the error body has OpenAI's four keys,
 * and text that is not valid UTF-8 is repaired, never dropped.
 *
 * Expected values are written out by hand from OpenAI's API reference
 * (field names, defaults such as max_tokens 16 for /v1/completions).
 */
#include "test.h"

#include "serve/request.h"
#include "serve/response.h"

static bool parse(srv_kind k, const char *body, srv_request *r, srv_error *e)
{
    srv_limits lim = {8, 100, 512, NULL};
    memset(e, 0, sizeof *e);
    return srv_request_parse(k, body, strlen(body), &lim, r, e);
}

static void expect_400(srv_kind k, const char *body, const char *param, const char *words)
{
    srv_request r;
    srv_error e;
    bool ok = parse(k, body, &r, &e);
    CHECK_MSG(!ok, "accepted: %s", body);
    if (ok) {
        srv_request_free(&r);
        return;
    }
    CHECK_MSG(e.status == 400, "%s -> %d", body, e.status);
    if (param)
        CHECK_MSG(strcmp(e.param, param) == 0, "%s: param '%s', want '%s'", body, e.param, param);
    CHECK_MSG(strstr(e.message, words) != NULL, "%s: message '%s' lacks '%s'", body, e.message, words);
}

static void test_chat_fields(void)
{
    srv_request r;
    srv_error e;
    const char *body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"S\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
        "{\"role\":\"assistant\",\"content\":\"A\",\"name\":\"bot\"}],"
        "\"max_completion_tokens\":7,\"temperature\":0.25,\"top_p\":0.5,\"seed\":-3,"
        "\"stop\":[\"x\",\"yz\"],\"presence_penalty\":1.5,\"frequency_penalty\":-1,"
        "\"logprobs\":true,\"top_logprobs\":4,\"top_k\":9,\"min_p\":0.1,\"repeat_penalty\":1.1,"
        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"logit_bias\":{\"5\":-100,\"7\":2},"
        "\"user\":\"u\",\"metadata\":{\"k\":\"v\"},\"store\":true,\"n\":1,\"tools\":[],\"tool_choice\":\"none\","
        "\"response_format\":{\"type\":\"text\"},\"frequency\":null}";
    CHECK_MSG(parse(SRV_CHAT, body, &r, &e), "%s", e.message);
    CHECK_STR(r.model, "m");
    CHECK_EQ_INT(r.n_msgs, 3);
    CHECK_EQ_INT(r.msgs[0].role, FR_CHAT_SYSTEM);
    CHECK_EQ_INT(r.msgs[1].role, FR_CHAT_USER);
    CHECK(r.msgs[1].len == 3 && memcmp(r.msgs[1].content, "a\nb", 3) == 0);
    CHECK_EQ_INT(r.msgs[2].role, FR_CHAT_ASSISTANT);
    CHECK_EQ_INT(r.max_tokens, 7);
    CHECK_NEAR(r.sampling.temperature, 0.25, 1e-7);
    CHECK_NEAR(r.sampling.top_p, 0.5, 1e-7);
    CHECK(r.seed_given && r.sampling.seed == (uint64_t)-3);
    CHECK_EQ_INT(r.n_stop, 2);
    CHECK_STR(r.stop[1], "yz");
    CHECK_NEAR(r.sampling.presence_penalty, 1.5, 1e-7);
    CHECK_NEAR(r.sampling.frequency_penalty, -1, 1e-7);
    CHECK(r.logprobs && r.top_logprobs == 4 && r.sampling.logprobs && r.sampling.top_logprobs == 4);
    CHECK_EQ_INT(r.sampling.top_k, 9);
    CHECK_NEAR(r.sampling.min_p, 0.1, 1e-7);
    CHECK_NEAR(r.sampling.repeat_penalty, 1.1, 1e-6);
    CHECK(r.stream && r.include_usage);
    CHECK_EQ_INT(r.sampling.n_logit_bias, 2);
    srv_request_free(&r);

    /* defaults: no max_tokens for chat, sampler defaults, no seed */
    CHECK(parse(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", &r, &e));
    CHECK_EQ_INT(r.max_tokens, -1);
    CHECK(!r.seed_given && !r.stream && !r.logprobs);
    CHECK_NEAR(r.sampling.temperature, 0.8, 1e-6);
    CHECK_EQ_INT(r.msgs[0].len, 0);
    srv_request_free(&r);
    /* both max_tokens fields: the smaller wins */
    CHECK(parse(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"max_tokens\":5,\"max_completion_tokens\":9}", &r, &e));
    CHECK_EQ_INT(r.max_tokens, 5);
    srv_request_free(&r);
    /* more than the context holds (the limit here is 100) is accepted, as
     * OpenAI and llama-server do: generation stops at the context; a value
     * past int32 is kept as the largest one */
    CHECK(parse(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"max_tokens\":4096}", &r, &e));
    CHECK_EQ_INT(r.max_tokens, 4096);
    srv_request_free(&r);
    CHECK(parse(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"max_completion_tokens\":1099511627776}", &r, &e));
    CHECK_EQ_INT(r.max_tokens, INT32_MAX);
    srv_request_free(&r);
    /* server defaults apply to what the request leaves out */
    fr_sampler_params d;
    fr_sampler_params_default(&d);
    d.temperature = 0.3f;
    d.top_k = 3;
    srv_limits lim = {0, 0, 0, &d};
    const char *b2 = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_k\":5}";
    CHECK(srv_request_parse(SRV_CHAT, b2, strlen(b2), &lim, &r, &e));
    CHECK_NEAR(r.sampling.temperature, 0.3, 1e-7);
    CHECK_EQ_INT(r.sampling.top_k, 5);
    srv_request_free(&r);
}

static void test_completion_fields(void)
{
    srv_request r;
    srv_error e;
    CHECK(parse(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":\"Once\"}", &r, &e));
    CHECK_EQ_INT(r.max_tokens, 16); /* OpenAI's default for completions */
    CHECK(r.prompt_len == 4 && memcmp(r.prompt, "Once", 4) == 0 && !r.prompt_ids);
    srv_request_free(&r);
    CHECK(parse(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"Hi\"],\"logprobs\":0,\"echo\":false,\"suffix\":null}",
                &r, &e));
    CHECK(r.prompt_len == 2 && r.logprobs && r.top_logprobs == 0);
    srv_request_free(&r);
    CHECK(parse(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":[1,2,511],\"max_tokens\":100}", &r, &e));
    CHECK(r.n_prompt_ids == 3 && r.prompt_ids[2] == 511 && r.max_tokens == 100);
    srv_request_free(&r);
    CHECK(parse(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":[[4,5]]}", &r, &e));
    CHECK(r.n_prompt_ids == 2 && r.prompt_ids[0] == 4);
    srv_request_free(&r);
}

static void test_rejections(void)
{
    const char *m = "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    char b[512];
#define BAD(field_json, param, words)                               \
    do {                                                            \
        snprintf(b, sizeof b, "{%s,%s}", m, field_json);            \
        expect_400(SRV_CHAT, b, param, words);                      \
    } while (0)
    BAD("\"max_tokens\":0", "max_tokens", ">= 1");
    BAD("\"max_tokens\":\"5\"", "max_tokens", "integer");
    BAD("\"temperature\":2.5", "temperature", "<= 2");
    BAD("\"top_p\":-1", "top_p", ">= 0");
    BAD("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop", "maximum length 4");
    BAD("\"stop\":\"\"", "stop", "empty");
    BAD("\"n\":3", "n", "not supported");
    BAD("\"tools\":[{\"type\":\"function\"}]", "tools", "not supported");
    BAD("\"tool_choice\":\"required\"", "tool_choice", "not supported");
    BAD("\"response_format\":{\"type\":\"json_object\"}", "response_format", "not supported");
    BAD("\"top_logprobs\":2", "top_logprobs", "logprobs");
    BAD("\"logprobs\":true,\"top_logprobs\":21", "top_logprobs", "<= 20");
    BAD("\"logit_bias\":{\"512\":1}", "logit_bias", "token id");
    BAD("\"logit_bias\":{\"5\":101}", "logit_bias", "[-100, 100]");
    BAD("\"stream_options\":{\"include_usage\":true}", "stream_options", "only allowed");
    BAD("\"modalities\":[\"audio\"]", "modalities", "Unrecognized");
    BAD("\"seed\":1.5", "seed", "integer");
#undef BAD
    expect_400(SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model", "model");
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"messages\":[]}", "messages", "empty");
    expect_400(SRV_CHAT,
               "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"1\"},{\"role\":\"user\",\"content\":\"2\"},"
               "{\"role\":\"user\",\"content\":\"3\"},{\"role\":\"user\",\"content\":\"4\"},{\"role\":\"user\",\"content\":\"5\"},"
               "{\"role\":\"user\",\"content\":\"6\"},{\"role\":\"user\",\"content\":\"7\"},{\"role\":\"user\",\"content\":\"8\"},"
               "{\"role\":\"user\",\"content\":\"9\"}]}",
               "messages", "maximum length 8");
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages[0]", "tool");
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}]}",
               "messages[0]", "tool_calls");
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
               "messages[0].content", "image_url");
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "messages[0]", "content");
    expect_400(SRV_CHAT, "{\"model\":\"m\",", NULL, "parse");
    expect_400(SRV_CHAT, "[]", NULL, "JSON object");
    expect_400(SRV_CHAT, "", NULL, "empty");
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"model\":\"n\",\"messages\":[]}", NULL, "parse");
    expect_400(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", "prompt", "2 prompts");
    expect_400(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":[512]}", "prompt", "vocabulary");
    expect_400(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":[]}", "prompt", "empty");
    expect_400(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"best_of\":2}", "best_of", "not supported");
    expect_400(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"suffix\":\"y\"}", "suffix", "not supported");
    expect_400(SRV_COMPLETION, "{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":true}", "logprobs", "integer");
    /* invalid UTF-8 inside JSON strings is a parse error */
    expect_400(SRV_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}", NULL, "parse");
}

static void test_error_body(void)
{
    srv_error e;
    memset(&e, 0, sizeof e);
    srv_fail(&e, 401, NULL, "invalid_api_key", NULL, "Incorrect API key provided.");
    json_t *j = srv_error_json(&e);
    json_t *in = json_object_get(j, "error");
    CHECK_STR(json_string_value(json_object_get(in, "message")), "Incorrect API key provided.");
    CHECK_STR(json_string_value(json_object_get(in, "type")), "invalid_request_error");
    CHECK(json_is_null(json_object_get(in, "param")));
    CHECK_STR(json_string_value(json_object_get(in, "code")), "invalid_api_key");
    json_decref(j);
    /* a message cut inside a multi-byte character stays valid UTF-8 */
    char big[2000];
    memset(big, 'a', sizeof big);
    for (size_t i = 760; i + 2 < sizeof big; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof big - 1] = '\0';
    for (int shift = 0; shift < 3; shift++) {
        srv_fail(&e, 400, NULL, NULL, "x", "%s", big + shift);
        j = srv_error_json(&e);
        CHECK(j && strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "aaa"));
        CHECK_STR(e.type, "invalid_request_error");
        json_decref(j);
    }
    srv_fail(&e, 503, NULL, "overloaded", NULL, "busy");
    CHECK_STR(e.type, "server_error");
}

static void test_json_text(void)
{
    json_t *j = srv_json_text("ok \xe2\x82\xac", 6);
    CHECK_STR(json_string_value(j), "ok \xe2\x82\xac");
    json_decref(j);
    j = srv_json_text("a\xff" "b\xe2\x82", 5);
    CHECK_STR(json_string_value(j), "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
    j = srv_json_text("\xed\xa0\x80", 3); /* a UTF-16 surrogate is not UTF-8 */
    CHECK_STR(json_string_value(j), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
    CHECK_STR(srv_finish_reason(FR_FINISH_STOP), "stop");
    CHECK_STR(srv_finish_reason(FR_FINISH_LENGTH), "length");
    CHECK_STR(srv_finish_reason(FR_FINISH_CONTEXT), "length");
}

static void test_usage(void)
{
    srv_result r;
    memset(&r, 0, sizeof r);
    r.n_prompt = 10;
    r.n_cached = 4;
    r.n_generated = 3;
    r.has_energy = true;
    r.energy_j = 1.5;
    r.energy_source = "estimate";
    json_t *u = srv_resp_usage(&r);
    CHECK_EQ_INT(json_integer_value(json_object_get(u, "prompt_tokens")), 10);
    CHECK_EQ_INT(json_integer_value(json_object_get(u, "completion_tokens")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(u, "total_tokens")), 13);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens")), 4);
    CHECK_NEAR(json_real_value(json_object_get(u, "energy_joules")), 1.5, 0);
    CHECK_STR(json_string_value(json_object_get(u, "energy_source")), "estimate");
    json_decref(u);
    r.has_energy = false;
    u = srv_resp_usage(&r);
    CHECK(json_is_null(json_object_get(u, "energy_joules")));
    CHECK_STR(json_string_value(json_object_get(u, "energy_source")), "none");
    json_decref(u);
}

static void test_tokenize_bodies(void)
{
    srv_error e;
    memset(&e, 0, sizeof e);
    srv_tokenize_req t;
    const char *b = "{\"content\":\"hi\",\"add_special\":true}";
    CHECK(srv_tokenize_parse(b, strlen(b), &t, &e));
    CHECK(t.len == 2 && t.add_special && t.parse_special && !t.with_pieces);
    json_decref(t.root);
    b = "{\"content\":1}";
    CHECK(!srv_tokenize_parse(b, strlen(b), &t, &e) && e.status == 400);
    srv_detokenize_req d;
    b = "{\"tokens\":[0,9]}";
    CHECK(srv_detokenize_parse(b, strlen(b), 10, &d, &e) && d.n == 2 && d.ids[1] == 9);
    free(d.ids);
    b = "{\"tokens\":[10]}";
    CHECK(!srv_detokenize_parse(b, strlen(b), 10, &d, &e) && e.status == 400);
    b = "{\"tokens\":[1.5]}";
    CHECK(!srv_detokenize_parse(b, strlen(b), 10, &d, &e) && e.status == 400);
}

int main(void)
{
    test_chat_fields();
    test_completion_fields();
    test_rejections();
    test_error_body();
    test_json_text();
    test_usage();
    test_tokenize_bodies();
    TEST_END();
}
