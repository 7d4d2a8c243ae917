/*
 * grounded.c - answers grounded in documents, over HTTP.
 *
 *   POST /v1/ask (with --db KB.sqlite): the `frugal ask` pipeline. The
 *       request's own thread opens the knowledge base read-only, retrieves
 *       and gates (fr_rag_ask); generation is a grounded job in the
 *       scheduler (constrained greedy decoding in an ordinary slot, batched
 *       with every other stream; see sched.h), which this thread waits for;
 *       then the checker scores the answer here. The body is the JSON of
 *       `frugal ask --json` (fr_rag_result_json) plus "id", "model" and
 *       "usage" (tokens, energy_joules, energy_source, as the other
 *       endpoints report them), less what a client should not see:
 *       document paths are relative to the directory that holds them all
 *       (fr_kb_common_dir; the server's file system layout is its own),
 *       and when it abstains, the draft it did not stand behind
 *       ("model_answer", the sentences' and sub-claims' "text") is left
 *       out.
 *
 *   POST /v1/chat/completions with "documents" (frugal's extension): the
 *       client supplies the passages. They are numbered [1]..[n] in the
 *       prompt exactly as `frugal ask` numbers retrieved passages
 *       (fr_rag_build_prompt; a document's title, when given, is its
 *       label); the system message is the grounding rules followed by the
 *       client's own system messages; earlier turns are kept; the last
 *       message (the user's question) becomes the question with the
 *       passages. The answer is decoded under the citation grammar, scored
 *       by fr_rag_check_answer against the passages each sentence cites
 *       (IDF over the supplied documents; the model's token probabilities
 *       count as in `frugal ask`), and shown only above the threshold
 *       ("min_support", default: the verifier's threshold); otherwise the content is "The
 *       documents do not answer this." The response is an ordinary
 *       chat.completion plus a top-level "grounding" object:
 *
 *         "grounding": {
 *           "outcome":   "answered" | "abstain_not_found" | "abstain_low_support",
 *           "abstained": bool,
 *           "score":     number, the minimum over sentences (0 for NOT_FOUND),
 *           "threshold": number,
 *           "model_answer": the model's constrained text (shown or not),
 *           "sentences": [{"text", "score", "support", "facts", "facts_missing",
 *                          "missing", "token_prob", "citations": [n, ...],
 *                          "subclaims": [...] (rag/ground_json.c)}],
 *           "citations": [{"n": 1-based passage number, "document": 0-based index
 *                          into "documents", "title": string | null}]
 *         }
 *
 *       "citations" lists the documents the shown answer cites, in order of
 *       first citation; it is empty when the answer abstained. Sampling
 *       fields (temperature, top_p, seed, ...) do not apply: a grounded
 *       answer is always greedy. stream, stop and logprobs are rejected
 *       with documents (request.c says why).
 *
 * The knowledge base is opened per request (SQLite handles are not shared
 * between threads, and a re-index while serving is seen at once); the
 * context is only ever touched by the scheduler thread.
 *
 * Rejected: running fr_rag_model_generate on a slot's sequence from the
 * scheduler thread between steps (every other stream would stall for the
 * whole answer), and a lock around a second context (a second copy of the
 * KV cache, and no batching).
 */
#include "serve/grounded.h"
#include "serve/server_impl.h"

#include "rag/ground_json.h"
#include "rag/text.h"
#include "text/chat_tokens.h"

#include <frugal/rag.h>

#include <stdlib.h>
#include <string.h>

#define SRV_GROUNDED_MAX_BYTES 2048 /* answer bytes for chat with documents (as frugal ask) */

/* ---- the grounded job ---------------------------------------------------------- */

/* Tokenizes msgs, runs a grounded job with k passages and waits for it;
 * c->job, c->sched and c->res hold it afterwards (the access log and
 * on_completed use them). False with e filled, or with *gone set when the
 * client hung up (the caller then drops the connection). */
static bool run_grounded(srv_conn *c, srv_sched *sched, const fr_chat_msg *msgs, size_t n_msgs,
                         int k, int32_t max_tokens, size_t max_bytes, bool *gone, srv_error *e)
{
    fr_server *s = c->srv;
    *gone = false;
    if (!s->m.tmpl)
        return srv_fail(e, 400, NULL, NULL, NULL,
                        "this server has no chat template, which grounded answers need (start "
                        "it with --chat-template NAME)");
    int32_t *ids = NULL;
    size_t n = 0;
    fr_err err;
    if (fr_chat_tokenize(s->m.tmpl, s->m.tok, msgs, n_msgs, true, &ids, &n, &err) != FR_OK)
        return srv_fail(e, 400, NULL, NULL, "messages", "cannot build the grounded prompt: %s",
                        err.msg);
    /* as frugal ask: leave room for an answer */
    if (n + 16 >= s->n_ctx) {
        free(ids);
        return srv_fail(e, 400, NULL, "context_length_exceeded", NULL,
                        "the grounded prompt (rules, passages and question) has %zu tokens but a "
                        "slot's context holds %u: send fewer or shorter passages, or start the "
                        "server with a larger --ctx", n, s->n_ctx);
    }
    fr_rag_cite_state cs;
    fr_rag_cite_init(&cs, k);
    c->job = srv_job_create();
    if (!c->job) {
        free(ids);
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    }
    uint32_t V = fr_model_hparams(fr_context_model(s->m.ctx))->n_vocab;
    bool ok = srv_job_setup_grounded(c->job, s->m.tok, V, ids, n, &cs, max_tokens, max_bytes, e);
    free(ids);
    if (!ok) {
        srv_job_free(c->job); /* never submitted: not a job the log should wait for */
        c->job = NULL;
        return false;
    }
    c->res.n_prompt = (uint32_t)n;
    if (!srv_sched_submit(sched, c->job, e)) {
        srv_job_free(c->job);
        c->job = NULL;
        return false;
    }
    c->sched = sched;
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    c->counted = true;
    pthread_mutex_unlock(&s->mu);
    while (!c->res.done) {
        srv_sched_collect(sched, c->job, &c->res, 0.1);
        if (!c->res.done && srv_client_gone(c)) {
            srv_sched_cancel(sched, c->job);
            srv_sched_collect(sched, c->job, &c->res, 0);
            *gone = true;
            return false;
        }
    }
    if (c->res.err.status) {
        *e = c->res.err;
        return false;
    }
    return true;
}

/* The job's text, and each token's bytes and log-probability, as the
 * checker takes them. */
static bool result_lps(const srv_result *r, fr_rag_token_lp **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    fr_rag_token_lp *v = malloc((r->n_pieces ? r->n_pieces : 1) * sizeof *v);
    if (!v)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < r->n_pieces; i++) {
        const srv_piece *p = &r->pieces[i];
        if (p->sample < 0 || (size_t)p->sample >= r->n_samples)
            continue;
        v[n++] = (fr_rag_token_lp){(uint32_t)p->text_off, (uint32_t)p->text_len,
                                   r->samples[p->sample].logprob};
    }
    *out = v;
    *n_out = n;
    return true;
}

static char *result_text(const srv_result *r)
{
    char *t = malloc(r->text.len + 1);
    if (t) {
        if (r->text.len)
            memcpy(t, r->text.data, r->text.len);
        t[r->text.len] = '\0';
    }
    return t;
}

/* ---- POST /v1/ask ------------------------------------------------------------------ */

typedef struct ask_bridge {
    srv_conn *c;
    srv_sched *sched;
    bool gone;
    srv_error e; /* status != 0: answer with this */
} ask_bridge;

/* fr_rag_generate_fn: the pipeline's generation step as a grounded job. */
static fr_status ask_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                              fr_err *err)
{
    ask_bridge *b = user;
    memset(res, 0, sizeof *res);
    res->joules = -1;
    fr_chat_msg msgs[2] = {{FR_CHAT_SYSTEM, req->system, strlen(req->system)},
                           {FR_CHAT_USER, req->user, strlen(req->user)}};
    if (!run_grounded(b->c, b->sched, msgs, 2, req->n_passages, -1, req->max_bytes, &b->gone,
                      &b->e))
        return fr_err_set(err, FR_E_IO, "%s", b->gone ? "the client went away" : b->e.message);
    const srv_result *r = &b->c->res;
    res->text = result_text(r);
    if (!res->text || !result_lps(r, &res->lps, &res->n_lps)) {
        free(res->text);
        res->text = NULL;
        srv_fail(&b->e, 500, NULL, NULL, NULL, "out of memory");
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    res->n_tokens = (int)r->n_generated;
    res->joules = r->has_energy ? r->energy_j : -1;
    res->seconds = r->total_s - r->queue_s;
    return FR_OK;
}

/* "path" of each object in arr (and of each citation of each sentence),
 * with the common directory cut off. */
static void strip_dir(json_t *arr, const char *dir, size_t n)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        json_t *p = json_object_get(o, "path");
        const char *v = json_string_value(p);
        if (v && strncmp(v, dir, n) == 0)
            json_object_set_new(o, "path", json_string(v + n));
        json_t *cites = json_object_get(o, "citations");
        if (json_is_array(cites))
            strip_dir(cites, dir, n);
    }
}

/* What /v1/ask leaves out of `frugal ask --json` (see the top of the file). */
static void ask_public(json_t *o, const char *dir)
{
    size_t n = dir ? strlen(dir) : 0;
    if (n) {
        strip_dir(json_object_get(o, "passages"), dir, n);
        strip_dir(json_object_get(o, "sentences"), dir, n);
    }
    if (json_is_true(json_object_get(o, "abstained"))) {
        json_object_del(o, "model_answer");
        size_t i;
        json_t *se;
        json_array_foreach(json_object_get(o, "sentences"), i, se) {
            json_object_del(se, "text");
            size_t k;
            json_t *u;
            json_array_foreach(json_object_get(se, "subclaims"), k, u)
                json_object_del(u, "text");
        }
    }
}

enum MHD_Result srv_handle_ask(srv_conn *c, srv_sched *sched)
{
    fr_server *s = c->srv;
    srv_error e = {0};
    if (!s->kb_path) {
        srv_fail(&e, 404, NULL, "ask_not_enabled", NULL,
                 "POST /v1/ask needs a knowledge base: build one with `frugal index --db "
                 "KB.sqlite DOCS...` and start the server with `frugal serve --db KB.sqlite ...`");
        return srv_reply_error(c, &e);
    }
    srv_ask_req q;
    if (!srv_ask_parse(c->body.data, c->body.len, &q, &e))
        return srv_reply_error(c, &e);
    enum MHD_Result rc;
    fr_kb *kb = NULL;
    fr_rag_result *r = NULL;
    char *text = NULL;
    fr_err err;
    if (q.model && strcmp(q.model, s->model_id) != 0) {
        srv_fail(&e, 404, NULL, "model_not_found", "model",
                 "The model '%.200s' does not exist; this server serves '%s' (GET /v1/models).",
                 q.model, s->model_id);
        rc = srv_reply_error(c, &e);
        goto done;
    }
    if (fr_kb_open_readonly(s->kb_path, &kb, &err) != FR_OK) {
        srv_fail(&e, 500, NULL, NULL, NULL, "the knowledge base cannot be opened: %s", err.msg);
        rc = srv_reply_error(c, &e);
        goto done;
    }
    ask_bridge b = {c, sched, false, {0}};
    fr_rag_ask_opts ao = {0};
    ao.retrieve.k = q.k;
    ao.retrieve.gate_min = q.gate;
    ao.check.threshold = q.min_support;
    ao.check.lp_weight = 1.0;
    ao.generate = ask_generate;
    ao.gen_user = &b;
    ao.max_answer_bytes = q.max_bytes;
    if (fr_rag_ask(kb, q.question, &ao, &r, &err) != FR_OK) {
        if (b.gone) {
            rc = MHD_NO;
            goto done;
        }
        if (!b.e.status)
            srv_fail(&b.e, 500, NULL, NULL, NULL, "answering failed: %s", err.msg);
        rc = srv_reply_error(c, &b.e);
        goto done;
    }
    text = fr_rag_result_json(r, q.question);
    json_error_t je;
    json_t *o = text ? json_loads(text, 0, &je) : NULL;
    char *dir = NULL;
    if (!o || fr_kb_common_dir(kb, &dir, &err) != FR_OK) {
        json_decref(o);
        srv_fail(&e, 500, NULL, NULL, NULL, "out of memory writing the answer");
        rc = srv_reply_error(c, &e);
        goto done;
    }
    ask_public(o, dir);
    free(dir);
    srv_new_id(c, "ask");
    json_object_set_new(o, "id", json_string(c->id));
    json_object_set_new(o, "model", json_string(s->model_id));
    json_object_set_new(o, "usage", srv_resp_usage(&c->res));
    rc = srv_reply_json(c, 200, o);
done:
    free(text);
    fr_rag_result_free(r);
    fr_kb_free(kb);
    srv_ask_req_free(&q);
    return rc;
}

/* ---- chat completions with documents ------------------------------------------------ */

static double docs_idf(void *user, const char *word, const char *term)
{
    (void)word;
    const fr_vocab *v = user;
    return fr_idf(fr_vocab_df(v, term, strlen(term)), fr_vocab_docs(v));
}

static json_t *jtext(const char *t, size_t n)
{
    return srv_json_text(t, n);
}

static json_t *grounding_json(const srv_document *docs, size_t n_docs, const char *const *ptext,
                              const size_t *plen, const fr_rag_checked *ck, const char *answer,
                              const char *outcome, bool abstained, double threshold)
{
    json_t *g = json_object();
    if (!g)
        return NULL;
    json_object_set_new(g, "outcome", json_string(outcome));
    json_object_set_new(g, "abstained", json_boolean(abstained));
    json_object_set_new(g, "score", json_real(ck->score));
    json_object_set_new(g, "threshold", json_real(threshold));
    json_object_set_new(g, "model_answer", jtext(answer, strlen(answer)));
    json_t *ss = json_array(), *cs = json_array();
    bool seen[SRV_MAX_DOCUMENTS] = {false};
    for (size_t i = 0; i < ck->n; i++) {
        const fr_rag_sentence *se = &ck->sentences[i];
        json_t *cites = json_array();
        for (int k = 0; k < se->n_cites; k++) {
            int n = se->cites[k];
            json_array_append_new(cites, json_integer(n));
            if (abstained || n < 1 || (size_t)n > n_docs || n > SRV_MAX_DOCUMENTS || seen[n - 1])
                continue;
            seen[n - 1] = true;
            const char *title = docs[n - 1].title;
            json_array_append_new(cs, json_pack("{s:i, s:i, s:o}", "n", n, "document", n - 1,
                                                "title", title ? json_string(title) : json_null()));
        }
        json_t *js = json_object();
        json_object_set_new(js, "text", jtext(answer + se->off, se->len));
        json_object_set_new(js, "score", json_real(se->score));
        json_object_set_new(js, "support", json_real(se->support));
        json_object_set_new(js, "facts", json_integer(se->n_facts));
        json_object_set_new(js, "facts_missing", json_integer(se->n_facts_missing));
        json_object_set_new(js, "missing", se->missing[0] ? jtext(se->missing, strlen(se->missing))
                                                          : json_null());
        json_object_set_new(js, "token_prob", json_real(se->lp_term));
        json_object_set_new(js, "citations", cites);
        json_object_set_new(js, "subclaims", fr_ground_subclaims_json(ck, i, ptext, plen, n_docs));
        json_array_append_new(ss, js);
    }
    json_object_set_new(g, "sentences", ss);
    json_object_set_new(g, "citations", cs);
    return g;
}

json_t *srv_grounding_check(const srv_document *docs, size_t n_docs, const char *answer,
                            const fr_rag_token_lp *lps, size_t n_lps, double min_support,
                            const char **shown, srv_error *e)
{
    *shown = NULL;
    const char **ptext = calloc(n_docs ? n_docs : 1, sizeof *ptext);
    size_t *plen = calloc(n_docs ? n_docs : 1, sizeof *plen);
    fr_vocab *voc = fr_vocab_create();
    fr_rag_checked *ck = NULL;
    json_t *g = NULL;
    fr_err err;
    if (!ptext || !plen || !voc) {
        srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_docs; i++) {
        ptext[i] = docs[i].text;
        plen[i] = docs[i].len;
        if (!fr_vocab_add_doc(voc, ptext[i], plen[i])) {
            srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
            goto done;
        }
    }
    fr_rag_check_opts co = {0};
    co.idf = docs_idf;
    co.idf_user = voc;
    co.lps = lps;
    co.n_lps = n_lps;
    co.lp_weight = 1.0;
    co.threshold = min_support;
    if (fr_rag_check_answer(answer, strlen(answer), ptext, plen, n_docs, FR_RAG_CITES_REQUIRED,
                            &co, &ck, &err) != FR_OK) {
        srv_fail(e, 500, NULL, NULL, NULL, "checking the answer failed: %s", err.msg);
        goto done;
    }
    fr_rag_outcome oc = ck->not_found ? FR_RAG_ABSTAIN_NOT_FOUND
                        : ck->abstain ? FR_RAG_ABSTAIN_SUPPORT
                                      : FR_RAG_ANSWERED;
    bool abstained = oc != FR_RAG_ANSWERED;
    g = grounding_json(docs, n_docs, ptext, plen, ck, answer, fr_rag_outcome_str(oc), abstained,
                       ck->threshold);
    if (!g)
        srv_fail(e, 500, NULL, NULL, NULL, "out of memory writing the answer");
    else
        *shown = abstained ? FR_RAG_ABSTAIN_TEXT : answer;
done:
    fr_rag_checked_free(ck);
    fr_vocab_free(voc);
    free(plen);
    free(ptext);
    return g;
}

/* The conversation the model sees: the rules (+ the client's system
 * messages), the earlier turns, the question with the numbered passages. */
static bool grounded_messages(const srv_request *q, const char *rules, const char *user,
                              fr_chat_msg **out, size_t *n_out, char **sys_out, srv_error *e)
{
    fr_buf sys = FR_BUF_INIT;
    fr_buf_puts(&sys, rules);
    for (size_t i = 0; i + 1 < q->n_msgs; i++)
        if (q->msgs[i].role == FR_CHAT_SYSTEM) {
            fr_buf_puts(&sys, "\n\n");
            fr_buf_append(&sys, q->msgs[i].content, q->msgs[i].len);
        }
    fr_chat_msg *m = calloc(q->n_msgs + 1, sizeof *m);
    if (!m || !fr_buf_ok(&sys)) {
        free(m);
        fr_buf_free(&sys);
        return srv_fail(e, 500, NULL, NULL, NULL, "out of memory");
    }
    size_t n = 0;
    *sys_out = fr_buf_take(&sys);
    m[n++] = (fr_chat_msg){FR_CHAT_SYSTEM, *sys_out, strlen(*sys_out)};
    for (size_t i = 0; i + 1 < q->n_msgs; i++)
        if (q->msgs[i].role != FR_CHAT_SYSTEM)
            m[n++] = q->msgs[i];
    m[n++] = (fr_chat_msg){FR_CHAT_USER, user, strlen(user)};
    *out = m;
    *n_out = n;
    return true;
}

enum MHD_Result srv_handle_grounded_chat(srv_conn *c, srv_sched *sched)
{
    fr_server *s = c->srv;
    const srv_request *q = &c->req;
    srv_error e = {0};
    enum MHD_Result rc;
    size_t nd = q->n_docs;
    fr_kb_passage *ps = calloc(nd, sizeof *ps);
    char *rules = NULL, *user = NULL, *sys = NULL, *answer = NULL, *question = NULL;
    fr_chat_msg *msgs = NULL;
    size_t n_msgs = 0;
    fr_rag_token_lp *lps = NULL;
    size_t n_lps = 0;
    fr_err err;
    const fr_chat_msg *last = &q->msgs[q->n_msgs - 1];
    if (!ps || !(question = malloc(last->len + 1))) {
        srv_fail(&e, 500, NULL, NULL, NULL, "out of memory");
        goto fail;
    }
    size_t longest = 0;
    for (size_t i = 0; i < nd; i++) {
        ps[i].text = (char *)q->docs[i].text; /* fr_rag_build_prompt only reads */
        ps[i].title = (char *)q->docs[i].title;
        if (q->docs[i].len > longest)
            longest = q->docs[i].len;
    }
    memcpy(question, last->content, last->len);
    question[last->len] = '\0';
    /* passages whole: the checker scores against what the model saw */
    if (fr_rag_build_prompt(question, ps, nd, longest + 1, &rules, &user, &err) != FR_OK) {
        srv_fail(&e, 500, NULL, NULL, NULL, "%s", err.msg);
        goto fail;
    }
    if (!grounded_messages(q, rules, user, &msgs, &n_msgs, &sys, &e))
        goto fail;
    bool gone = false;
    if (!run_grounded(c, sched, msgs, n_msgs, (int)nd, q->max_tokens, SRV_GROUNDED_MAX_BYTES,
                      &gone, &e)) {
        if (gone) {
            rc = MHD_NO;
            goto done;
        }
        goto fail;
    }
    if (!(answer = result_text(&c->res)) || !result_lps(&c->res, &lps, &n_lps)) {
        srv_fail(&e, 500, NULL, NULL, NULL, "out of memory");
        goto fail;
    }
    const char *shown = NULL;
    json_t *g = srv_grounding_check(q->docs, nd, answer, lps, n_lps, q->min_support, &shown, &e);
    if (!g)
        goto fail;
    srv_new_id(c, "chatcmpl");
    c->ri = (srv_resp_info){SRV_CHAT, c->id, (long long)time(NULL), s->model_id, s->fingerprint,
                            false, 0, false, s->m.tok};
    json_t *o = srv_resp_full(&c->ri, &c->res);
    json_t *msg = o ? json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message")
                    : NULL;
    if (!msg) {
        json_decref(o);
        json_decref(g);
        srv_fail(&e, 500, NULL, NULL, NULL, "out of memory writing the answer");
        goto fail;
    }
    json_object_set_new(msg, "content", jtext(shown, strlen(shown)));
    json_object_set_new(o, "grounding", g);
    rc = srv_reply_json(c, 200, o);
    goto done;
fail:
    rc = srv_reply_error(c, &e);
done:
    free(lps);
    free(answer);
    free(msgs);
    free(sys);
    free(rules);
    free(user);
    free(question);
    free(ps);
    return rc;
}
