/* Tests for src/model/grammar.c and grammar_match.c: GBNF as llama.cpp's
 * grammars/README.md describes it.
 *
 * The accept/reject tables were written from that description (and the
 * grammars it shows), not from the code: each row is a grammar, a string,
 * and whether the string is a whole sentence (1), a prefix that could
 * still become one (0) or neither (-1). Parse errors must name the line,
 * the column and the reason. */
#include "test.h"

#include <frugal/grammar.h>

typedef struct row {
    const char *text;
    int want;
} row;

static fr_grammar *parse_ok(const char *gbnf)
{
    fr_grammar *g = NULL;
    fr_err e;
    fr_status st = fr_grammar_parse(gbnf, strlen(gbnf), "t.gbnf", &g, &e);
    CHECK_MSG(st == FR_OK, "parse failed: %s\n--- grammar ---\n%s", e.msg, gbnf);
    return g;
}

static void table(const char *gbnf, const row *rows, size_t n)
{
    fr_grammar *g = parse_ok(gbnf);
    if (!g)
        return;
    for (size_t i = 0; i < n; i++) {
        int got = fr_grammar_match(g, rows[i].text, strlen(rows[i].text));
        CHECK_MSG(got == rows[i].want, "\"%s\": got %d, want %d\n--- grammar ---\n%s",
                  rows[i].text, got, rows[i].want, gbnf);
    }
    fr_grammar_free(g);
}

#define TABLE(g, ...)                                                                              \
    do {                                                                                           \
        static const row rows_[] = {__VA_ARGS__};                                                  \
        table(g, rows_, sizeof rows_ / sizeof rows_[0]);                                           \
    } while (0)

static void test_readme_examples(void)
{
    /* the chess notation grammar, built as the guide describes it */
    TABLE("# `root` specifies the pattern for the overall output\n"
          "root ::= (\n"
          "    # it must start with the characters \"1. \" followed by a sequence\n"
          "    \"1. \" move \" \" move \"\\n\"\n"
          "\n"
          "    # followed by moves numbered with one or two digits\n"
          "    ([1-9] [0-9]? \". \" move \" \" move \"\\n\")+\n"
          ")\n"
          "move ::= (pawn | nonpawn | castle) [+#]?\n"
          "pawn ::= [a-h] [1-8]\n"
          "nonpawn ::= [NBKQR] [a-h]? [1-8]? \"x\"? [a-h] [1-8]\n"
          "castle ::= \"O-O\" \"-O\"?\n",
          {"1. e4 e5\n2. Nf3 Nc6\n", 1}, {"1. e4 e5\n2. Nf3 Nc6\n12. O-O-O Qxd8#\n", 1},
          {"1. e4 e5\n", 0}, {"1. e4 e5\n2. ", 0}, {"1. e9", -1}, {"2. e4 e5\n", -1},
          {"1. e4 e5\n2. Nf3 Nc6\n123. ", -1}, {"1. Zx4", -1}, {"", 0});
    /* negated ranges */
    TABLE("root ::= single-line+\nsingle-line ::= [^\\n]+ \"\\n\"\n",
          {"hello\n", 1}, {"hello\nworld\n", 1}, {"hello", 0}, {"\n", -1}, {"a\n\n", -1});
    /* a grammar for lists */
    TABLE("# a grammar for lists\nroot ::= (\"- \" item)+\nitem ::= [^\\n]+ \"\\n\"\n",
          {"- milk\n- eggs\n", 1}, {"- milk\n-", 0}, {"* milk\n", -1}, {"- \n", -1});
    /* Unicode characters in classes */
    TABLE("root ::= hiragana+\nhiragana ::= [ぁ-ゟ]\n", {"ひらがな", 1}, {"ひ", 1}, {"カ", -1},
          {"ひa", -1}, {"", 0});
    /* the grammar the guide shows for a JSON Schema of 10..100 {name, age} items */
    TABLE("char ::= [^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4})\n"
          "item ::= \"{\" space item-name-kv \",\" space item-age-kv \"}\" space\n"
          "item-age ::= ([0-9] | ([1-8] [0-9] | [9] [0-9]) | \"1\" ([0-4] [0-9] | [5] \"0\")) space\n"
          "item-age-kv ::= \"\\\"age\\\"\" space \":\" space item-age\n"
          "item-name ::= \"\\\"\" char{1,100} \"\\\"\" space\n"
          "item-name-kv ::= \"\\\"name\\\"\" space \":\" space item-name\n"
          "root ::= \"[\" space item (\",\" space item){9,99} \"]\" space\n"
          "space ::= | \" \" | \"\\n\" [ \\t]{0,20}\n",
          {"[{\"name\":\"a\",\"age\":1},{\"name\":\"b\",\"age\":2},{\"name\":\"c\",\"age\":3},"
           "{\"name\":\"d\",\"age\":4},{\"name\":\"e\",\"age\":5},{\"name\":\"f\",\"age\":6},"
           "{\"name\":\"g\",\"age\":7},{\"name\":\"h\",\"age\":8},{\"name\":\"i\",\"age\":9},"
           "{\"name\":\"j\\u00e9\",\"age\":150}]", 1},
          {"[{\"name\":\"a\",\"age\":1}]", -1},                  /* fewer than 10 items */
          {"[{\"name\":\"a\",\"age\":151}", -1},                /* age above 150 */
          {"[{\"name\":\"\",\"age\":1}", -1},                   /* empty name */
          {"[ {\"name\": \"a\\\"b\", \"age\": 42},\n  {", 0});
}

static void test_operators(void)
{
    TABLE("root ::= \"a\" \"b\"* \"c\"", {"ac", 1}, {"abbbc", 1}, {"abb", 0}, {"abcb", -1});
    TABLE("root ::= \"a\" \"b\"+ \"c\"", {"abc", 1}, {"ac", -1}, {"abbbbbc", 1});
    TABLE("root ::= \"a\" \"b\"? \"c\"", {"ac", 1}, {"abc", 1}, {"abbc", -1});
    TABLE("root ::= [xy]{3}", {"xyx", 1}, {"xy", 0}, {"xyxy", -1});
    TABLE("root ::= [xy]{2,}", {"x", 0}, {"xy", 1}, {"xyxyxyxyxyxyxy", 1}, {"xz", -1});
    TABLE("root ::= \"ab\"{0,2} \".\"", {".", 1}, {"ab.", 1}, {"abab.", 1}, {"ababab.", -1},
          {"aba", 0});
    TABLE("root ::= \"<\" [0-9]{1,3} \">\"", {"<1>", 1}, {"<123>", 1}, {"<1234>", -1},
          {"<>", -1});
    /* spaces before an operator, repetitions of groups and of literals */
    TABLE("root ::= (\"ab\" | \"c\") {2} \"!\"", {"abc!", 1}, {"cc!", 1}, {"c!", -1});
    TABLE("root ::= .", {"x", 1}, {"é", 1}, {"😀", 1}, {"xy", -1}, {"", 0});
    /* alternatives, an empty one, rules used before they are defined */
    TABLE("root ::= greeting \" \" name\ngreeting ::= \"hi\" | \"hello\" | \"\"\n"
          "name ::= [A-Z] [a-z]*\n",
          {"hi Ann", 1}, {" Bo", 1}, {"hello bo", -1}, {"hey Ann", -1});
    /* a newline after | continues the rule; newlines are free inside ( ) */
    TABLE("root ::= \"a\" |\n  \"b\"\n", {"a", 1}, {"b", 1});
    TABLE("root ::= (\n  \"a\"\n  \"b\"\n)\n", {"ab", 1}, {"a", 0});
    /* comments anywhere a space may be */
    TABLE("# leading comment\nroot ::= \"x\" # trailing\n# last\n", {"x", 1});
    /* class details: ranges, a literal '-', negation, escapes */
    TABLE("root ::= [a-c-]+", {"a-b", 1}, {"d", -1});
    TABLE("root ::= [^a-c]", {"d", 1}, {"b", -1}, {"é", 1});
    TABLE("root ::= [\\x41-\\x43] \"\\u00e9\" \"\\U0001F600\" [\\]\\[\\-]",
          {"Bé😀]", 1}, {"Bé😀-", 1}, {"Dé😀]", -1});
    TABLE("root ::= \"\\t\\r\\n\\\\\\\"\"", {"\t\r\n\\\"", 1});
    /* right recursion (balanced parentheses) */
    TABLE("root ::= x\nx ::= \"(\" x \")\" | \"\"\n", {"", 1}, {"(())", 1}, {"(()", 0},
          {"())", -1});
    /* names with dashes, digits and underscores */
    TABLE("root ::= check-mate_2\ncheck-mate_2 ::= \"#\"\n", {"#", 1});
    /* bytes that are not UTF-8 are never matched */
    TABLE("root ::= .*", {"ok", 1}, {"\xff", -1}, {"\xc3", 0}, {"\xc3\xa9", 1},
          {"\xed\xa0\x80", -1} /* a surrogate */, {"\xc0\x80", -1} /* overlong */);
}

static void expect_error(const char *gbnf, const char *where, const char *what)
{
    fr_grammar *g = NULL;
    fr_err e = {0};
    fr_status st = fr_grammar_parse(gbnf, strlen(gbnf), "t.gbnf", &g, &e);
    CHECK_MSG(st == FR_E_FORMAT, "no error for:\n%s", gbnf);
    CHECK_MSG(strstr(e.msg, where) != NULL, "error \"%s\" does not say %s", e.msg, where);
    CHECK_MSG(strstr(e.msg, what) != NULL, "error \"%s\" does not say \"%s\"", e.msg, what);
    fr_grammar_free(g);
}

static void test_errors(void)
{
    expect_error("", "t.gbnf:1:1", "no 'root'");
    expect_error("start ::= \"a\"\n", "t.gbnf:1:1", "no 'root'");
    expect_error("root ::= foo\n", "t.gbnf:1:10", "'foo' is used but not defined");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n", "t.gbnf:2:1", "defined twice");
    expect_error("root ::= a\na ::= a \"x\" | \"y\"\n", "t.gbnf", "left-recursive");
    expect_error("root ::= (\"a\"?)*\n", "t.gbnf", "left-recursive");
    expect_error("root ::= b \"x\"\nb ::= c\nc ::= \"\" | b \"y\"\n", "t.gbnf", "left-recursive");
    expect_error("root = \"a\"\n", "t.gbnf:1:6", "expected '::='");
    expect_error("root ::= \"abc\n", "t.gbnf:1:14", "newline inside a literal");
    expect_error("root ::= \"abc", "t.gbnf:1:10", "not closed");
    expect_error("root ::= [abc", "t.gbnf:1:10", "not closed");
    expect_error("root ::= (\"a\"\n", "t.gbnf:2:1", "expected ')'");
    expect_error("root ::= \"a\")\n", "t.gbnf:1:13", "')' without");
    expect_error("root ::= \"\\q\"\n", "t.gbnf:1:11", "unknown escape");
    expect_error("root ::= \"\\x4\"\n", "t.gbnf:1:11", "2 hexadecimal digits");
    expect_error("root ::= [z-a]\n", "t.gbnf:1:13", "ends");
    expect_error("root ::= \"a\"{3,2}\n", "t.gbnf:1:13", "below the minimum");
    expect_error("root ::= \"a\"{100000}\n", "t.gbnf:1:14", "above");
    expect_error("root ::= \"a\"\n| \"b\"\n", "t.gbnf:2:1", "expected a rule name");
    expect_error("root ::= \"\xff\"\n", "t.gbnf:1:11", "invalid UTF-8");
    expect_error("root ::= @\n", "t.gbnf:1:10", "expected a literal");
}

/* Deep and wide grammars finish (no stack overflow, no hang). */
static void test_limits(void)
{
    /* a chain of 20000 rules, each referring to the next */
    size_t n = 20000;
    char *big = malloc(n * 40 + 64);
    size_t k = (size_t)sprintf(big, "root ::= r0\n");
    for (size_t i = 0; i + 1 < n; i++)
        k += (size_t)sprintf(big + k, "r%zu ::= r%zu\n", i, i + 1);
    k += (size_t)sprintf(big + k, "r%zu ::= \"z\"\n", n - 1);
    fr_grammar *g = NULL;
    fr_err e;
    CHECK_MSG(fr_grammar_parse(big, k, "chain", &g, &e) == FR_OK, "%s", e.msg);
    if (g) {
        CHECK_EQ_INT(fr_grammar_match(g, "z", 1), 1);
        fr_grammar_free(g);
    }
    free(big);
    /* 120 rules of 10000 repetitions each expand past the element cap */
    char *wide = malloc(120 * 48 + 64);
    k = (size_t)sprintf(wide, "root ::=");
    for (int i = 0; i < 120; i++)
        k += (size_t)sprintf(wide + k, " w%d", i);
    k += (size_t)sprintf(wide + k, "\n");
    for (int i = 0; i < 120; i++)
        k += (size_t)sprintf(wide + k, "w%d ::= [x]{10000}\n", i);
    CHECK(fr_grammar_parse(wide, k, "wide", &g, &e) == FR_E_FORMAT);
    CHECK_MSG(strstr(e.msg, "more than") != NULL, "%s", e.msg);
    free(wide);
    /* parentheses nested 300 deep are refused */
    char deep[1024];
    k = (size_t)sprintf(deep, "root ::= ");
    for (int i = 0; i < 300; i++)
        deep[k++] = '(';
    deep[k++] = '"';
    deep[k++] = 'a';
    deep[k++] = '"';
    for (int i = 0; i < 300; i++)
        deep[k++] = ')';
    deep[k] = '\0';
    CHECK(fr_grammar_parse(deep, k, "deep", &g, &e) == FR_E_FORMAT);
    CHECK(strstr(e.msg, "nested deeper") != NULL);
    /* an exponentially ambiguous grammar is stopped by the matcher's limits */
    const char *amb = "root ::= x*\nx ::= \"a\" | \"a\" \"\" | [a]\n";
    CHECK(fr_grammar_parse(amb, strlen(amb), "amb", &g, &e) == FR_OK);
    if (g) {
        char as[200];
        memset(as, 'a', sizeof as);
        int r = fr_grammar_match(g, as, sizeof as);
        CHECK(r == 1 || r == -1);
        fr_grammar_free(g);
    }
}

int main(void)
{
    test_readme_examples();
    test_operators();
    test_errors();
    test_limits();
    TEST_END();
}
