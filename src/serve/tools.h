/*
 * tools.h - OpenAI's structured output and function calling in the server:
 * response_format (json_object, json_schema), tools, tool_choice,
 * parallel_tool_calls, assistant tool_calls and tool messages in the
 * history (parsing: tools.c), the grammar that constrains the answer, and
 * the answer's text turned back into content and tool_calls, whole or as
 * streamed deltas (tools_out.c).
 */
#ifndef FR_SERVE_TOOLS_H
#define FR_SERVE_TOOLS_H

#include "base/buf.h"
#include "serve/error.h"
#include "serve/request.h"

#include <frugal/chat.h>
#include <frugal/constraint.h>
#include <frugal/grammar.h>

#include <jansson.h>

/* The request's response_format, tools, tool_choice, parallel_tool_calls
 * (and a 400 for the legacy functions / function_call). Tool and schema
 * problems are 400s that name the field and, for a schema, the keyword. */
bool srv_parse_structured(json_t *root, srv_request *r, srv_error *e);
/* Message i's tool_calls (assistant) or tool_call_id (tool). */
bool srv_parse_message_tools(json_t *m, size_t i, srv_request *r, srv_error *e);
void srv_structured_free(srv_request *r);

/* Whether the answer is constrained (a response_format other than text, or
 * tools), and whether it is read back for tool calls. */
bool srv_structured_on(const srv_request *r);
bool srv_tools_on(const srv_request *r);

/* The constraint for the request's answer, over vocabulary v, in the call
 * format fmt; *out NULL when nothing constrains it. A schema or tool the
 * compiler cannot honour is a 400. */
bool srv_structured_constraint(const srv_request *r, fr_tool_format fmt,
                               const fr_grammar_vocab *v, fr_constraint **out, srv_error *e);

/* ---- reading the answer (tools_out.c) --------------------------------------------- */

#define SRV_MAX_TOOL_CALLS 64

typedef struct srv_tool_call {
    char id[40];        /* "call_" + 24 letters and digits */
    fr_buf name;
    fr_buf args;
    bool done;
} srv_tool_call;

/* The answer as content and calls, built from text pieces as they come. */
typedef struct srv_tool_reader {
    fr_tool_parser *p;
    bool harmony;       /* the content is always rewritten (the text has channel markers) */
    fr_buf content;
    bool content_seen;
    fr_buf reasoning;   /* harmony's analysis channel */
    srv_tool_call calls[SRV_MAX_TOOL_CALLS];
    int n_calls;
    json_t *deltas;     /* the last feed's OpenAI chunk "delta" objects (an array) */
    bool failed;
} srv_tool_reader;

bool srv_tool_reader_init(srv_tool_reader *t, fr_tool_format fmt);
void srv_tool_reader_free(srv_tool_reader *t);
/* Feeds a piece of the answer; t->deltas then holds the chunk deltas it
 * produced ({"content": ...}, {"reasoning_content": ...} or {"tool_calls":
 * [...]}), for streaming. */
bool srv_tool_reader_feed(srv_tool_reader *t, const char *text, size_t len);
/* End of the answer (t->deltas: what was held back). */
bool srv_tool_reader_finish(srv_tool_reader *t);
/* The answer made calls, all complete. */
bool srv_tool_reader_called(const srv_tool_reader *t);

/* Rewrites a chat.completion (srv_resp_full) for the answer read by t:
 * message.content is the content (null when there is none and there are
 * calls), message.reasoning_content the reasoning (harmony, when there is
 * some; as llama-server writes it), message.tool_calls the calls,
 * finish_reason "tool_calls" when the answer called. */
bool srv_tools_apply(const srv_tool_reader *t, json_t *resp);

#endif
