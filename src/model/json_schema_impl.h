/*
 * json_schema_impl.h - what the JSON Schema compiler's two files share:
 * json_schema.c (documents, objects, arrays, $ref, anyOf, enum) and
 * json_schema_scalar.c (strings with patterns and formats, integers in a
 * range, numbers). Internal to src/model.
 */
#ifndef FR_MODEL_JSON_SCHEMA_IMPL_H
#define FR_MODEL_JSON_SCHEMA_IMPL_H

#include <frugal/grammar.h>

#include "base/buf.h"
#include "text/strmap.h"

#include <jansson.h>

#define JS_MAX_DEPTH 64        /* nested subschemas */
#define JS_MAX_RULES 20000
#define JS_MAX_ITEMS_BOUND 10000 /* minItems / maxItems / lengths we expand */
#define JS_INT_DIGITS 16        /* integers have at most 16 digits */

typedef struct js {
    json_t *root;
    const char *origin;
    fr_err *err;
    bool failed;
    fr_buf out;          /* the rules */
    fr_strmap names;     /* rule names used */
    fr_strmap refs;      /* "$ref" target -> index into ref_names */
    char **ref_names;
    size_t n_refs, cap_refs;
    uint32_t prims;      /* primitive rules emitted (bit set) */
    char path[512];      /* JSON pointer of the schema being compiled */
    size_t path_len;
    int depth;
    uint32_t n_rules;
} js;

enum { P_WS = 1, P_CHAR = 2, P_STRING = 4, P_INT = 8, P_NUMBER = 16, P_BOOL = 32, P_NULL = 64,
       P_VALUE = 128, P_SAFE = 256 };

/* A compilation session: shared rules (ws, string, ...) are written once
 * however many schemas are compiled into it; rule names stay unique. The
 * rules accumulate in j->out. js_release frees everything. */
bool js_init(js *j, const char *origin, fr_err *err);
void js_release(js *j);
/* Compiles schema (its $refs resolve inside it) into rules; the top rule's
 * name goes to name. false with the error recorded. */
bool js_compile(js *j, json_t *schema, const char *hint, char *name, size_t cap);

/* Records the first error (FR_E_UNSUPPORTED, with the JSON pointer of the
 * schema being compiled); always returns false. */
bool js_fail(js *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The name of a shared rule (ws, char, string, ...), emitted on first use. */
const char *js_prim(js *j, uint32_t which);
/* A GBNF literal for s[0..n) / for v's compact JSON text. */
void js_put_literal(fr_buf *b, const char *s, size_t n);
bool js_put_json_literal(js *j, fr_buf *b, const json_t *v);
/* "{m,n}", "{m,}", "*" (n < 0: no maximum). */
void js_put_repeat(fr_buf *b, long long m, long long n);
/* A non-negative count keyword (minItems, ...) into *out, when present. */
bool js_get_count(js *j, json_t *s, const char *key, long long *out);

/* Rule bodies for the scalar types, appended to b. */
bool js_gen_integer(js *j, json_t *s, fr_buf *b);
bool js_gen_number(js *j, json_t *s, fr_buf *b);
bool js_gen_string(js *j, json_t *s, fr_buf *b);

#endif
