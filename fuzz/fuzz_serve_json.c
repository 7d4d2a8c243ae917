/* libFuzzer target: the server's request parsers (chat with or without
 * documents, completions, tokenize, detokenize, /v1/ask) over hostile bodies, and what the server builds
 * from a parsed request: the error body, and JSON text from raw bytes.
 *
 * Input layout: byte 0 chooses the parser (low 2 bits; bit 3 set: /v1/ask)
 * and the limits (bit 2: a small context and vocabulary, so range checks
 * trigger); the rest is the request body. */
#include "serve/request.h"
#include "serve/response.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    srv_limits lim = {(mode & 4) ? 8 : 0, (mode & 4) ? 64 : 4096, (mode & 4) ? 300 : 151936, NULL};
    srv_error e;
    memset(&e, 0, sizeof e);
    if (mode & 8) {
        srv_ask_req q;
        if (srv_ask_parse(body, n, &q, &e)) {
            if (!q.question || !q.question[0] || q.k < 1 || q.k > 50 || q.max_bytes < 16 ||
                !(q.min_support >= 0 && q.min_support <= 1)) /* 0: the verifier's threshold */
                abort();
            srv_ask_req_free(&q);
        } else if (e.status != 400 && e.status != 500) {
            abort();
        }
        mode = 0xff; /* skip the switch */
    }
    switch (mode == 0xff ? -1 : mode & 3) {
    case 0:
    case 1: {
        srv_request r;
        if (srv_request_parse((mode & 1) ? SRV_COMPLETION : SRV_CHAT, body, n, &lim, &r, &e)) {
            /* invariants a parsed request promises */
            if (r.n_stop > SRV_MAX_STOP || (r.kind == SRV_CHAT && r.n_msgs == 0) ||
                r.top_logprobs < 0 || r.top_logprobs > 20 ||
                /* any positive max_tokens is accepted (issue 18: as OpenAI and
                 * llama-server); only the default is capped by the context */
                (r.max_tokens != -1 && r.max_tokens < 1))
                abort();
            for (size_t i = 0; i < r.n_msgs; i++)
                if (!r.msgs[i].content && r.msgs[i].len)
                    abort();
            if (r.n_docs > SRV_MAX_DOCUMENTS || (r.n_docs && (r.stream || r.n_stop ||
                                                              r.msgs[r.n_msgs - 1].role != FR_CHAT_USER)))
                abort();
            for (size_t i = 0; i < r.n_docs; i++)
                if (!r.docs[i].text || r.docs[i].len == 0 || strlen(r.docs[i].text) != r.docs[i].len)
                    abort();
            for (size_t i = 0; i < r.n_prompt_ids; i++)
                if (r.prompt_ids[i] < 0 || (uint32_t)r.prompt_ids[i] >= lim.n_vocab)
                    abort();
            srv_request_free(&r);
        } else if (e.status != 400 && e.status != 500) {
            abort();
        }
        break;
    }
    case 2: {
        srv_tokenize_req r;
        if (srv_tokenize_parse(body, n, &r, &e))
            json_decref(r.root);
        break;
    }
    case 3: {
        srv_detokenize_req r;
        if (srv_detokenize_parse(body, n, lim.n_vocab, &r, &e)) {
            for (size_t i = 0; i < r.n; i++)
                if (r.ids[i] < 0 || (uint32_t)r.ids[i] >= lim.n_vocab)
                    abort();
            free(r.ids);
        }
        break;
    }
    }
    if (e.status) {
        json_t *j = srv_error_json(&e);
        if (!j)
            abort(); /* the message must always be encodable */
        json_decref(j);
    }
    json_t *t = srv_json_text(body, n);
    if (!t)
        abort();
    json_decref(t);
    return 0;
}
