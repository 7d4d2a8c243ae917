/* Tests for src/model/json_schema*.c: JSON Schema -> GBNF.
 *
 * Each row is a schema, a JSON text, and whether the compiled grammar must
 * accept it (valid under the schema, written the way the grammar writes
 * JSON: properties in schema order) or must not (invalid under the schema,
 * as the JSON Schema validation specification defines each keyword).
 * Integer ranges are also checked against plain arithmetic for every
 * integer in a window. Unsupported keywords must be errors that name the
 * keyword and its JSON pointer. */
#include "test.h"

#include <frugal/grammar.h>

typedef struct row {
    const char *json;
    bool valid;
} row;

static fr_grammar *compile(const char *schema)
{
    fr_grammar *g = NULL;
    fr_err e;
    fr_status st = fr_grammar_from_json_schema(schema, strlen(schema), "t.json", &g, &e);
    CHECK_MSG(st == FR_OK, "compile failed: %s\n--- schema ---\n%s", e.msg, schema);
    return g;
}

static void table(const char *schema, const row *rows, size_t n)
{
    fr_grammar *g = compile(schema);
    if (!g)
        return;
    for (size_t i = 0; i < n; i++) {
        int got = fr_grammar_match(g, rows[i].json, strlen(rows[i].json));
        CHECK_MSG(rows[i].valid ? got == 1 : got != 1, "%s: got %d, want %s\n--- schema ---\n%s",
                  rows[i].json, got, rows[i].valid ? "accepted" : "refused", schema);
    }
    fr_grammar_free(g);
}

#define TABLE(s, ...)                                                                              \
    do {                                                                                           \
        static const row rows_[] = {__VA_ARGS__};                                                  \
        table(s, rows_, sizeof rows_ / sizeof rows_[0]);                                           \
    } while (0)

static void test_objects(void)
{
    const char *person = "{\"type\": \"object\", \"properties\": {"
                         "\"name\": {\"type\": \"string\"}, \"age\": {\"type\": \"integer\"}, "
                         "\"email\": {\"type\": \"string\"}}, "
                         "\"required\": [\"name\", \"age\"], \"additionalProperties\": false}";
    TABLE(person, {"{\"name\":\"Ann\",\"age\":31}", true},
          {"{\"name\": \"Ann\", \"age\": 31, \"email\": \"a@b.c\"}", true},
          {"\n{\n  \"name\": \"Ann\",\n  \"age\": -2\n}\n", true},
          {"{\"name\":\"Ann\"}", false},                          /* required missing */
          {"{\"name\":\"Ann\",\"age\":31,\"x\":1}", false},        /* additionalProperties */
          {"{\"name\":\"Ann\",\"age\":\"31\"}", false},             /* wrong type */
          {"{\"name\":\"Ann\",\"age\":3.5}", false},                /* not an integer */
          {"{\"name\":\"A\\\"n\\u00e9\",\"age\":0}", true},         /* escapes */
          {"{\"name\":\"A\nB\",\"age\":0}", false},                 /* raw control character */
          {"[]", false});
    /* all optional: the empty object and any subset in order */
    TABLE("{\"properties\": {\"a\": {\"type\": \"boolean\"}, \"b\": {\"type\": \"null\"}}, "
          "\"additionalProperties\": false}",
          {"{}", true}, {"{\"a\":true}", true}, {"{\"b\":null}", true},
          {"{\"a\":false,\"b\":null}", true}, {"{\"a\":null}", false}, {"{,\"b\":null}", false});
    /* a map: additionalProperties as a schema */
    TABLE("{\"type\": \"object\", \"additionalProperties\": {\"type\": \"integer\"}}",
          {"{}", true}, {"{\"x\":1,\"y\":2}", true}, {"{\"x\":\"1\"}", false});
    /* any object */
    TABLE("{\"type\": \"object\"}", {"{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", true},
          {"{\"a\":1.5e3,\"b\":true}", true}, {"[1]", false}, {"{\"a\":}", false});
}

static void test_arrays(void)
{
    TABLE("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"minItems\": 2, "
          "\"maxItems\": 3}",
          {"[1,2]", true}, {"[1, 2, 3]", true}, {"[1]", false}, {"[1,2,3,4]", false},
          {"[1,\"2\"]", false});
    TABLE("{\"type\": \"array\", \"items\": {\"type\": \"string\"}}", {"[]", true},
          {"[\"a\"]", true}, {"[\"a\",]", false});
    TABLE("{\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\"}, {\"type\": "
          "\"string\"}], \"items\": false}",
          {"[1,\"a\"]", true}, {"[1,\"a\",2]", false}, {"[\"a\",1]", false});
    TABLE("{\"type\": \"array\", \"maxItems\": 0}", {"[]", true}, {"[1]", false});
}

static void test_strings(void)
{
    /* lengths count characters: an escape and a 2-byte character are one each */
    TABLE("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", {"\"ab\"", true},
          {"\"é\\n\"", true}, {"\"abc\"", true}, {"\"a\"", false}, {"\"abcd\"", false});
    TABLE("{\"type\": \"string\", \"pattern\": \"^[A-Z]{2}-\\\\d{3}$\"}", {"\"AB-123\"", true},
          {"\"ab-123\"", false}, {"\"AB-12\"", false}, {"\"xAB-123\"", false});
    /* not anchored: anything around a match */
    TABLE("{\"type\": \"string\", \"pattern\": \"cat|dog\"}", {"\"a cat!\"", true},
          {"\"dog\"", true});
    /* a class whose range spans the quote and the backslash: never written raw */
    TABLE("{\"type\": \"string\", \"pattern\": \"^[ -~]{1,6}$\"}", {"\"a b~!\"", true},
          {"\"a\"b\"", false}, {"\"a\\b\"", false});
    /* classes of non-ASCII characters, negated classes, escapes in classes */
    TABLE("{\"type\": \"string\", \"pattern\": \"^[\u00e0-\u00ff]+[^a-z\\\\d]$\"}",
          {"\"àéX\"", true}, {"\"àé5\"", false}, {"\"àéx\"", false}, {"\"aéX\"", false});
    /* bounded repetition of a part that can be empty is fine */
    TABLE("{\"type\": \"string\", \"pattern\": \"^(a*|b){0,3}c$\"}", {"\"aabc\"", true},
          {"\"c\"", true}, {"\"bbbbc\"", false});
    /* alternatives in a group, optional parts, literal quotes */
    TABLE("{\"type\": \"string\", \"pattern\": \"^(yes|no)\\\"?$\"}", {"\"yes\"", true},
          {"\"no\\\"\"", true}, {"\"maybe\"", false});
    TABLE("{\"type\": \"string\", \"format\": \"date\"}", {"\"2024-02-28\"", true},
          {"\"2024-12-31\"", true}, {"\"2024-02-30\"", false}, {"\"2024-04-31\"", false},
          {"\"2024-13-01\"", false}, {"\"24-01-01\"", false});
    TABLE("{\"type\": \"string\", \"format\": \"date-time\"}",
          {"\"2024-05-06T07:08:09Z\"", true}, {"\"2024-05-06T24:00:00Z\"", false},
          {"\"2024-05-06 07:08:09Z\"", false});
    TABLE("{\"type\": \"string\", \"format\": \"uuid\"}",
          {"\"123e4567-e89b-12d3-a456-426614174000\"", true}, {"\"123e4567\"", false});
    TABLE("{\"type\": \"string\", \"format\": \"time\"}", {"\"23:59:59Z\"", true},
          {"\"23:60:00Z\"", false});
}

static void test_values(void)
{
    TABLE("{\"enum\": [\"red\", 2, null, [1, 2], {\"a\": true}]}", {"\"red\"", true},
          {"2", true}, {"null", true}, {"[1,2]", true}, {"{\"a\":true}", true},
          {"\"blue\"", false}, {"3", false});
    TABLE("{\"type\": \"string\", \"enum\": [\"red\", 2]}", {"\"red\"", true}, {"2", false});
    TABLE("{\"const\": \"fixed\"}", {"\"fixed\"", true}, {"\"other\"", false});
    TABLE("{\"type\": [\"string\", \"null\"]}", {"\"s\"", true}, {"null", true}, {"1", false});
    TABLE("{\"anyOf\": [{\"type\": \"boolean\"}, {\"type\": \"number\"}]}", {"true", true},
          {"-1.5e-3", true}, {"0", true}, {"\"x\"", false}, {"01", false});
    TABLE("{\"type\": \"number\", \"exclusiveMinimum\": 0}", {"0.5", true}, {"3", true},
          {"0", false}, {"-1", false}, {"0.0", false});
    TABLE("{\"type\": \"number\", \"minimum\": 0}", {"0", true}, {"2.5", true}, {"-0.1", false});
    /* $ref, $defs and recursion: a tree */
    TABLE("{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"v\": {\"type\": "
          "\"integer\"}, \"kids\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/node\"}}},"
          " \"required\": [\"v\"], \"additionalProperties\": false}}, \"$ref\": \"#/$defs/node\"}",
          {"{\"v\":1}", true}, {"{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]},{\"v\":4}]}", true},
          {"{\"v\":1,\"kids\":[{\"w\":2}]}", false});
    TABLE("{\"allOf\": [{\"type\": \"boolean\"}], \"title\": \"flag\"}", {"false", true},
          {"1", false});
}

/* one integer against the arithmetic answer; 1 when the grammar disagrees */
static int range_one(fr_grammar *g, const char *bounds, long long x, long long lo, long long hi)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%lld", x);
    bool want = x >= lo && x <= hi;
    bool got = fr_grammar_match(g, t, (size_t)n) == 1;
    CHECK_MSG(got == want, "%s: %lld %s", bounds, x, want ? "refused" : "accepted");
    return got != want;
}

/* integer ranges against arithmetic, for every integer in a window */
static void range_case(const char *bounds, long long lo, long long hi)
{
    char schema[256];
    snprintf(schema, sizeof schema, "{\"type\": \"integer\", %s}", bounds);
    fr_grammar *g = compile(schema);
    if (!g)
        return;
    int bad = 0;
    /* under the sanitizers every 7th integer of the window, then each bound and its neighbours */
    long long step = getenv("FR_SANITIZED") ? 7 : 1;
    long long edge[] = {lo - 1, lo, lo + 1, hi - 1, hi, hi + 1};
    for (long long x = -2100; x <= 2100 && bad < 5; x += step)
        bad += range_one(g, bounds, x, lo, hi);
    for (int i = 0; i < 6 && bad < 5; i++)
        if (edge[i] >= -2100 && edge[i] <= 2100)
            bad += range_one(g, bounds, edge[i], lo, hi);
    fr_grammar_free(g);
}

static void test_integer_ranges(void)
{
    const long long INF = 1LL << 60;
    range_case("\"minimum\": 0, \"maximum\": 150", 0, 150);
    range_case("\"minimum\": -15, \"maximum\": 7", -15, 7);
    range_case("\"minimum\": -1999, \"maximum\": -20", -1999, -20);
    range_case("\"minimum\": 17, \"maximum\": 1234", 17, 1234);
    range_case("\"exclusiveMinimum\": 0", 1, INF);
    range_case("\"minimum\": 1000", 1000, INF);
    range_case("\"maximum\": -5", -INF, -5);
    range_case("\"exclusiveMaximum\": 100, \"minimum\": 99", 99, 99);
    range_case("\"minimum\": 2.5, \"maximum\": 9.5", 3, 9);
}

static void expect_error(const char *schema, const char *what, const char *where)
{
    fr_grammar *g = NULL;
    fr_err e = {0};
    fr_status st = fr_grammar_from_json_schema(schema, strlen(schema), "t.json", &g, &e);
    CHECK_MSG(st != FR_OK, "no error for %s", schema);
    CHECK_MSG(strstr(e.msg, what) != NULL, "error \"%s\" does not name \"%s\"", e.msg, what);
    CHECK_MSG(strstr(e.msg, where) != NULL, "error \"%s\" does not point at %s", e.msg, where);
    fr_grammar_free(g);
}

static void test_errors(void)
{
    expect_error("{\"oneOf\": [{\"type\": \"string\"}]}", "\"oneOf\"", "top level");
    expect_error("{\"properties\": {\"a\": {\"not\": {\"type\": \"string\"}}}}", "\"not\"",
                 "#/properties/a");
    expect_error("{\"type\": \"array\", \"uniqueItems\": true}", "uniqueItems", "top level");
    expect_error("{\"type\": \"number\", \"minimum\": 1}", "sign", "top level");
    expect_error("{\"type\": \"string\", \"format\": \"email\"}", "\"email\"", "top level");
    expect_error("{\"$ref\": \"http://example.com/s.json\"}", "not inside this document",
                 "top level");
    expect_error("{\"$ref\": \"#/$defs/missing\"}", "points at nothing", "top level");
    expect_error("{\"items\": [{\"type\": \"string\"}], \"type\": \"array\"}", "prefixItems",
                 "top level");
    expect_error("{\"type\": \"object\", \"properties\": {\"a\": false}}", "matches no value",
                 "#/properties/a");
    expect_error("{\"if\": {}, \"then\": {}}", "\"if\"", "top level");
    expect_error("{\"type\": \"strin\"}", "unknown type", "top level");
    expect_error("{\"type\": \"string\", \"pattern\": \"(?=x)\"}", "lookaround", "top level");
    expect_error("{\"type\": \"string\", \"pattern\": \"^(a*|b)+$\"}", "repeating without bound",
                 "top level");
    expect_error("{\"type\": \"string\", \"pattern\": \"[z-a]\"}", "out of order", "top level");
    expect_error("{\"type\": \"string\", \"pattern\": \"[\\\\q]\"}", "escape \\q", "top level");
    expect_error("{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 4}", "no integer",
                 "top level");
    expect_error("{\"anyOf\": [{\"type\": \"string\"}, {\"dependentRequired\": {}}]}",
                 "dependentRequired", "#/anyOf/1");
    expect_error("not json", "not valid JSON", "t.json");
}

/* The grammar of any JSON object (response_format json_object). */
static void test_json_object(void)
{
    fr_grammar *g = NULL;
    fr_err e;
    CHECK(fr_grammar_json_object(&g, &e) == FR_OK);
    if (!g)
        return;
    static const char *const good[] = {"{}", "{\"a\": [1, 2.5, -3e2, true, false, null]}",
                                       "{\"nested\": {\"deep\": {\"x\": \"\\u263a\"}}}"};
    static const char *const bad[] = {"[]", "\"s\"", "{'a': 1}", "{\"a\": 01}", "{\"a\" 1}",
                                      "{\"a\": NaN}"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_MSG(fr_grammar_match(g, good[i], strlen(good[i])) == 1, "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(fr_grammar_match(g, bad[i], strlen(bad[i])) != 1, "%s", bad[i]);
    fr_grammar_free(g);
}

int main(void)
{
    test_objects();
    test_arrays();
    test_strings();
    test_values();
    test_integer_ranges();
    test_errors();
    test_json_object();
    TEST_END();
}
