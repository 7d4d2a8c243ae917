/*
 * response.h - OpenAI response bodies from a job's result.
 *
 *   chat, whole:      chat.completion         {id, object, created, model,
 *                     system_fingerprint, choices: [{index, message: {role,
 *                     content, refusal}, logprobs, finish_reason}], usage}
 *   chat, streamed:   chat.completion.chunk   the first delta carries the role,
 *                     then one chunk per token with text (delta.content) and/or
 *                     log-probabilities, then one with finish_reason, then (if
 *                     asked) one with choices [] and usage; other chunks carry
 *                     "usage": null when usage was asked for
 *   completions:      text_completion         choices: [{text, index, logprobs,
 *                     finish_reason}], whole or one object per token
 *
 * usage: prompt_tokens, completion_tokens, total_tokens,
 * prompt_tokens_details.cached_tokens, completion_tokens_details
 * .reasoning_tokens (0), and frugal's energy_joules (null when no meter)
 * and energy_source ("estimate" is an estimate from CPU time).
 *
 * Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [{token,
 * logprob, bytes}]}], "refusal": null}. Legacy completions logprobs:
 * {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}
 * (byte offsets into the generated text). Token strings are the token's
 * bytes as text (special tokens by name); bytes that are not valid UTF-8 on
 * their own become U+FFFD in "token" and stay exact in "bytes".
 */
#ifndef FR_SERVE_RESPONSE_H
#define FR_SERVE_RESPONSE_H

#include "serve/request.h"
#include "serve/sched.h"

#include <jansson.h>

typedef struct srv_resp_info {
    srv_kind kind;
    const char *id;           /* "chatcmpl-..." or "cmpl-..." */
    long long created;        /* Unix seconds */
    const char *model;
    const char *fingerprint;  /* system_fingerprint */
    bool logprobs;
    int32_t top_logprobs;
    bool include_usage;       /* streaming: usage null on chunks + a final usage chunk */
    const fr_tokenizer *tok;
} srv_resp_info;

/* OpenAI's finish_reason for a finish ("stop" or "length"). */
const char *srv_finish_reason(fr_finish f);

/* All return new references, NULL only when out of memory. */
json_t *srv_resp_usage(const srv_result *r);
json_t *srv_resp_full(const srv_resp_info *ri, const srv_result *r);
/* Chat only: the first chunk (delta {role: assistant, content: ""}). */
json_t *srv_chunk_role(const srv_resp_info *ri);
/* Pieces [p0, p1) of r as one chunk (text joined, their log-probabilities). */
json_t *srv_chunk_pieces(const srv_resp_info *ri, const srv_result *r, size_t p0, size_t p1);
/* The chunk with the finish reason (reason NULL: from r->finish). */
json_t *srv_chunk_finish(const srv_resp_info *ri, const srv_result *r);
json_t *srv_chunk_finish_as(const srv_resp_info *ri, const char *reason);
/* A chat chunk whose choice carries delta (stolen): tool-call deltas. */
json_t *srv_chunk_delta(const srv_resp_info *ri, json_t *delta);
/* choices [] + usage. */
json_t *srv_chunk_usage(const srv_resp_info *ri, const srv_result *r);

/* A JSON string from bytes that may not be valid UTF-8 (invalid sequences
 * become U+FFFD). NULL only when out of memory. */
json_t *srv_json_text(const char *s, size_t len);

#endif
