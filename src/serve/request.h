/*
 * request.h - OpenAI request bodies -> validated C structs.
 *
 * The body is hostile: any bytes, any size up to the HTTP layer's cap. JSON
 * is parsed by jansson (which rejects invalid UTF-8, integers outside
 * int64, reals outside double, NUL inside strings, duplicate keys here, and
 * nesting deeper than 2048), then every field is checked for type and
 * range. A field we do not implement (tools, n > 1, a response_format other
 * than text, ...) is a 400 that names it; unknown fields are 400s too, as
 * OpenAI answers "Unrecognized request argument"; a field whose value is
 * null counts as absent (clients that serialise their defaults send them).
 * Bookkeeping fields (user, metadata, store, service_tier) are accepted and
 * ignored.
 *
 * Strings in the parsed request are borrowed from the JSON document the
 * request keeps (root), so they live until srv_request_free.
 */
#ifndef FR_SERVE_REQUEST_H
#define FR_SERVE_REQUEST_H

#include "serve/error.h"

#include <frugal/chat.h>
#include <frugal/sampler.h>

#include <jansson.h>

typedef enum srv_kind { SRV_CHAT = 0, SRV_COMPLETION = 1 } srv_kind;

#define SRV_MAX_STOP 4 /* OpenAI's limit on stop strings */

typedef struct srv_limits {
    uint32_t max_messages; /* 0: 4096 */
    uint32_t max_tokens;   /* the context: caps the /v1/completions default (16); a larger
                              max_tokens sent by the client is accepted (generation stops
                              at the context). 0: no cap */
    uint32_t n_vocab;      /* token ids (prompt lists, logit_bias) must be below it; 0: no check */
    const fr_sampler_params *defaults; /* sampling when the request does not say; NULL:
                                          fr_sampler_params_default */
} srv_limits;

#define SRV_MAX_DOCUMENTS 64 /* passages a chat request may ground its answer on */

/* One passage a client supplies in a chat request's "documents" (frugal's
 * extension): a string, or {"text": ..., "title": ...}. Borrowed from root. */
typedef struct srv_document {
    const char *text;
    size_t len;
    const char *title; /* NULL when none */
} srv_document;

typedef struct srv_request {
    srv_kind kind;
    json_t *root;       /* owns the strings below */
    const char *model;  /* as sent (NULL only if absent) */

    /* chat */
    fr_chat_msg *msgs;  /* n_msgs; content borrowed from root or joined */
    size_t n_msgs;
    char **joined;      /* text-part arrays joined with "\n" (owned) */
    size_t n_joined;

    /* completions: a text prompt, or a token list */
    const char *prompt;
    size_t prompt_len;
    int32_t *prompt_ids; /* owned; NULL for a text prompt */
    size_t n_prompt_ids;

    bool stream;
    bool include_usage;
    int32_t max_tokens;          /* -1: until end of generation or a full context */
    fr_sampler_params sampling;  /* logit_bias points into bias */
    bool seed_given;
    fr_logit_bias *bias;         /* owned */
    const char *stop[SRV_MAX_STOP];
    size_t stop_len[SRV_MAX_STOP];
    size_t n_stop;
    bool logprobs;               /* report log-probabilities of the chosen tokens */
    int32_t top_logprobs;        /* 0..20 alternatives per token */

    /* chat with "documents": the answer is grounded on them (greedy decoding
     * under the citation grammar, then the groundedness check). The last
     * message is then the user's question; stream, stop and logprobs are
     * rejected with documents. */
    srv_document *docs;          /* owned array (n_docs); strings borrowed from root */
    size_t n_docs;
    double min_support;          /* "min_support" (documents only); 0: the default */
} srv_request;

/* Parses body[0..len) as a chat or completions request. On failure returns
 * false with e filled (status 400) and r empty. On success r must be freed
 * with srv_request_free. */
bool srv_request_parse(srv_kind kind, const char *body, size_t len, const srv_limits *lim,
                       srv_request *r, srv_error *e);
void srv_request_free(srv_request *r);

/* POST /v1/ask: {"question": str, "k": 1..50, "min_support": (0, 1],
 * "gate": (0, 1] or false (off), "max_bytes": 16..1048576, "model": str}.
 * Defaults as `frugal ask`: k 5, min_support 0 (the verifier's threshold), gate 0.5,
 * max_bytes 2048.
 * Unknown fields are 400s; user and metadata are accepted and ignored. */
typedef struct srv_ask_req {
    json_t *root;
    const char *question; /* borrowed from root; not empty or blank */
    const char *model;    /* NULL when absent */
    int k;
    double min_support;
    double gate;          /* < 0: off */
    size_t max_bytes;
} srv_ask_req;

bool srv_ask_parse(const char *body, size_t len, srv_ask_req *r, srv_error *e);
void srv_ask_req_free(srv_ask_req *r);

/* POST /tokenize: {"content": str, "add_special": bool, "parse_special": bool,
 * "with_pieces": bool}. */
typedef struct srv_tokenize_req {
    json_t *root;
    const char *content;
    size_t len;
    bool add_special, parse_special, with_pieces;
} srv_tokenize_req;

bool srv_tokenize_parse(const char *body, size_t len, srv_tokenize_req *r, srv_error *e);

/* POST /detokenize: {"tokens": [int...]}; ids checked against n_vocab. */
typedef struct srv_detokenize_req {
    int32_t *ids; /* owned (free) */
    size_t n;
} srv_detokenize_req;

bool srv_detokenize_parse(const char *body, size_t len, uint32_t n_vocab, srv_detokenize_req *r,
                          srv_error *e);

/* Parses the JSON text of a request body (shared by the parsers above):
 * must be an object. Returns NULL with e filled. */
json_t *srv_json_parse_object(const char *body, size_t len, srv_error *e);

#endif
