/*
 * frugal/grammar.h - grammars for structured output: llama.cpp's GBNF
 * format, JSON Schema compiled to GBNF, and the constraint that keeps
 * generation inside a grammar (frugal/constraint.h).
 *
 * GBNF (the format of llama.cpp's grammars/README.md, parsed by our own
 * code): rules `name ::= alternatives`, where an alternative is a sequence
 * of "literals", [character classes] ([^...] negated, a-z ranges), `.` (any
 * character), rule names and ( groups ), each optionally followed by `*`,
 * `+`, `?`, `{m}`, `{m,}` or `{m,n}`; `|` separates alternatives; `#`
 * starts a comment; a rule ends at a newline unless inside parentheses or
 * after `|`. Escapes: \n \r \t \\ \" \' \[ \] \- \/ \xHH \uHHHH \UHHHHHHHH.
 * Rule names are letters, digits, '-' and '_'. The grammar starts at
 * `root`. Terminals are Unicode code points: a grammar matches UTF-8 text.
 *
 * Refused with an error naming the place and the reason: syntax errors, a
 * rule defined twice, a reference to a rule that is not defined, no root,
 * left recursion (a rule that can reach itself before reading a character,
 * including a repetition of something that may be empty), repetition
 * bounds above FR_GRAMMAR_MAX_REPEAT, and grammars that expand past
 * FR_GRAMMAR_MAX_ELEMS elements.
 */
#ifndef FRUGAL_GRAMMAR_H
#define FRUGAL_GRAMMAR_H

#include <frugal/base.h>
#include <frugal/chat.h>
#include <frugal/constraint.h>
#include <frugal/tokenizer.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_GRAMMAR_MAX_BYTES ((size_t)1 << 20)  /* grammar text */
#define FR_GRAMMAR_MAX_REPEAT 10000             /* m and n in {m,n} */
#define FR_GRAMMAR_MAX_ELEMS ((uint32_t)1 << 20) /* after expanding repetitions */

typedef struct fr_grammar fr_grammar;

/* Parses GBNF text[0..len). origin names the text in messages (a file
 * path, "--grammar", "response_format"); may be NULL. *out is owned by the
 * caller: fr_grammar_free (NULL is a no-op). Errors are FR_E_FORMAT with
 * "origin:line:column: what was expected, what was found". */
FR_API fr_status fr_grammar_parse(const char *text, size_t len, const char *origin,
                                  fr_grammar **out, fr_err *err);
FR_API void fr_grammar_free(fr_grammar *g);

/* Whole-string check: 1 when text is a sentence of the grammar, 0 when it
 * is a proper prefix of one (it could still become one), -1 when no
 * continuation can make it one (or it is not valid UTF-8). */
FR_API int fr_grammar_match(const fr_grammar *g, const char *text, size_t len);

/*
 * JSON Schema -> GBNF. Supported: type (one or a list), object with
 * properties / required / additionalProperties (false, true or a schema),
 * array with items / prefixItems / minItems / maxItems, string with
 * minLength / maxLength / pattern (a regular expression: literals, classes,
 * escapes \d \w \s and their negations, groups, |, quantifiers * + ? {m,n},
 * anchors at the ends; a part that can be empty may not be repeated without
 * bound) / format (date, time, date-time, uuid), number (bounds only as a
 * sign: minimum 0, exclusiveMinimum 0, maximum 0, exclusiveMaximum 0),
 * integer (minimum / maximum / exclusiveMinimum / exclusiveMaximum, at most
 * 16 digits), boolean, null, enum, const, $ref to "#", "#/$defs/..." or
 * "#/definitions/..." (recursion allowed), anyOf, allOf with one member,
 * and the annotations title, description, default, examples, $schema,
 * $id, $comment, deprecated, readOnly, writeOnly (ignored: they do not
 * change what is valid). Anything else (oneOf, not, if/then/else,
 * uniqueItems, bounds on "number", patternProperties, ...) is an error
 * naming the keyword and where it is (a JSON pointer), never silently
 * ignored.
 *
 * What the grammar produces is always valid against the schema; it may
 * leave out valid documents: properties come in the order of "properties"
 * (required ones always, optional ones maybe), an object with "properties"
 * never gets other keys, whitespace is at most a newline and 20 spaces or
 * tabs between tokens, numbers have at most 16 integer and 16 fraction
 * digits.
 *
 * *gbnf is malloc'd and NUL-terminated (caller frees).
 */
FR_API fr_status fr_json_schema_to_gbnf(const char *schema, size_t len, const char *origin,
                                        char **gbnf, fr_err *err);
/* fr_json_schema_to_gbnf then fr_grammar_parse. */
FR_API fr_status fr_grammar_from_json_schema(const char *schema, size_t len, const char *origin,
                                             fr_grammar **out, fr_err *err);
/* The grammar of any JSON object (OpenAI's response_format json_object). */
FR_API fr_status fr_grammar_json_object(fr_grammar **out, fr_err *err);

/*
 * Tool calls (OpenAI's function calling) as a grammar: the answer in the
 * call format of the model's family (fr_chat_template_tool_format), with a
 * tool's name and arguments valid against its "parameters" schema.
 *   FR_TOOL_CHOICE_AUTO      text (or content_schema) or calls
 *   FR_TOOL_CHOICE_NONE      text (or content_schema), never a call
 *   FR_TOOL_CHOICE_REQUIRED  one call (several with parallel)
 *   FR_TOOL_CHOICE_NAMED     calls of the function `name` only
 * Free text never spells the family's call marker ("<tool_call>",
 * "[TOOL_CALLS]"; Llama 3: never starts with "{"; Llama 4: neither, nor
 * spells "<|python_start|>"). tools_json is OpenAI's
 * "tools" array. A schema the compiler cannot honour is an error naming the
 * tool and the keyword. *gbnf is malloc'd (caller frees).
 */
typedef enum fr_tool_choice {
    FR_TOOL_CHOICE_AUTO = 0,
    FR_TOOL_CHOICE_NONE,
    FR_TOOL_CHOICE_REQUIRED,
    FR_TOOL_CHOICE_NAMED
} fr_tool_choice;

typedef struct fr_tool_grammar_opts {
    fr_tool_format format;
    fr_tool_choice choice;
    const char *name;           /* FR_TOOL_CHOICE_NAMED */
    bool parallel;              /* more than one call (not in Llama 3's format) */
    const char *content_schema; /* JSON Schema for the text answer; NULL: free text */
} fr_tool_grammar_opts;

FR_API fr_status fr_tool_grammar(const char *tools_json, size_t len,
                                 const fr_tool_grammar_opts *o, char **gbnf, fr_err *err);

/*
 * The vocabulary as the grammar constraint reads it: every token's bytes
 * (fr_token_piece, flags 0) in a trie, so that the tokens sharing a prefix
 * are checked together, and which tokens end generation. Build it once per
 * model; it is read-only afterwards and may be shared between threads and
 * constraints. tok must outlive it. *out is owned by the caller:
 * fr_grammar_vocab_free.
 */
typedef struct fr_grammar_vocab fr_grammar_vocab;

/* specials[0..n_specials): texts of special (control) tokens to include by
 * their text, as a call marker like Mistral's "[TOOL_CALLS]" needs (other
 * control tokens are never allowed); may be NULL. */
FR_API fr_status fr_grammar_vocab_create(const fr_tokenizer *tok, uint32_t n_vocab,
                                         const char *const *specials, size_t n_specials,
                                         fr_grammar_vocab **out, fr_err *err);
FR_API void fr_grammar_vocab_free(fr_grammar_vocab *v);

/* A constraint that keeps the generated bytes a prefix of a sentence of g
 * and allows an end-of-generation token once they are a whole sentence.
 * g becomes owned by the constraint (freed with it, also when this call
 * fails); v is borrowed and must outlive it. */
FR_API fr_status fr_grammar_constraint(fr_grammar *g, const fr_grammar_vocab *v,
                                       fr_constraint **out, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
