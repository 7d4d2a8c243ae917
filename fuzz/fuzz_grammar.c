/* libFuzzer target: the GBNF parser and matcher, and the JSON Schema
 * compiler, over hostile text (a grammar file, a schema in a request body).
 *
 * Input layout: byte 0 chooses the mode (bit 0: 0 = GBNF, 1 = JSON Schema);
 * the rest is split at the first 0xFF byte into the grammar (or schema) and
 * a text that is matched against it, whole and prefix by prefix. A schema
 * that compiles must give GBNF that parses (anything else is our bug), and
 * a prefix of a matching text must never be refused. */
#include <frugal/grammar.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *sep = memchr(rest, 0xFF, n);
    size_t glen = sep ? (size_t)(sep - rest) : n;
    const char *text = sep ? sep + 1 : rest + n;
    size_t tlen = sep ? n - glen - 1 : 0;
    if (tlen > 48)
        tlen = 48; /* matching cost grows with the text; the parsers are the target */

    fr_grammar *g = NULL;
    if (mode & 1) {
        char *gbnf = NULL;
        if (fr_json_schema_to_gbnf(rest, glen, "fuzz", &gbnf, NULL) == FR_OK) {
            if (fr_grammar_parse(gbnf, strlen(gbnf), "fuzz", &g, NULL) != FR_OK)
                abort(); /* the compiler wrote GBNF its own parser refuses */
            free(gbnf);
        }
    } else {
        fr_grammar_parse(rest, glen, "fuzz", &g, NULL);
    }
    if (!g)
        return 0;
    int whole = fr_grammar_match(g, text, tlen);
    if (whole >= 0) {
        /* every prefix of a text that is (a prefix of) a sentence is one too */
        for (size_t k = 0; k < tlen; k += 1 + tlen / 6)
            if (fr_grammar_match(g, text, k) < 0)
                abort();
    }
    fr_grammar_free(g);
    return 0;
}
