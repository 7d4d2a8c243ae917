/*
 * ask.c - the grounded-answer pipeline: retrieve, gate, prompt, generate
 * (a callback: this layer does not know the inference engine), check,
 * decide; and its JSON form (shared by `frugal ask --json` and the server).
 *
 * The abstain decision is made here, not by the caller, so every front end
 * abstains the same way: the gate before generation (no tokens spent), the
 * model's own NOT_FOUND, then the groundedness score against the threshold.
 */
#include "base/buf.h"
#include "base/clock.h"
#include "rag/ground_json.h"
#include "rag/kb.h"
#include "rag/text.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *fr_rag_outcome_str(fr_rag_outcome o)
{
    switch (o) {
    case FR_RAG_ANSWERED: return "answered";
    case FR_RAG_ABSTAIN_GATE: return "abstain_retrieval";
    case FR_RAG_ABSTAIN_NOT_FOUND: return "abstain_not_found";
    case FR_RAG_ABSTAIN_SUPPORT: return "abstain_low_support";
    case FR_RAG_RETRIEVED_ONLY: return "retrieved_only";
    }
    return "unknown";
}

void fr_rag_result_free(fr_rag_result *r)
{
    if (!r)
        return;
    free(r->answer);
    free(r->shown);
    fr_kb_hits_free(r->hits);
    fr_rag_checked_free(r->check);
    free(r);
}

/* IDF from the knowledge base's own statistics (the FTS5 index applies the
 * same Porter stemming to the word as it did to the documents). */
static double kb_idf(void *user, const char *word, const char *term)
{
    (void)term;
    uint64_t df = 0, n = 0;
    if (fr_kb_df(user, word, &df, &n, NULL) != FR_OK)
        return 1.0;
    return fr_idf(df, n);
}

fr_status fr_rag_ask(fr_kb *kb, const char *question, const fr_rag_ask_opts *opts,
                     fr_rag_result **out, fr_err *err)
{
    *out = NULL;
    fr_rag_ask_opts o = {0};
    if (opts)
        o = *opts;
    fr_rag_result *r = calloc(1, sizeof *r);
    if (!r)
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    r->threshold = fr_rag_check_threshold(&o.check);
    r->gen_joules = -1;
    double t0 = fr_now_s();
    fr_status st = fr_kb_retrieve(kb, question, &o.retrieve, &r->hits, err);
    r->retrieve_seconds = fr_now_s() - t0;
    char *sys = NULL, *user = NULL;
    const char **ptext = NULL;
    size_t *plen = NULL;
    fr_rag_gen_result g = {0};
    if (st)
        goto fail;
    if (!r->hits->gate_pass) {
        r->outcome = FR_RAG_ABSTAIN_GATE;
        goto abstain;
    }
    if (!o.generate) {
        r->outcome = FR_RAG_RETRIEVED_ONLY;
        goto done;
    }
    size_t np = r->hits->n;
    if ((st = fr_rag_build_prompt(question, r->hits->v, np, o.max_passage_bytes, &sys, &user, err)))
        goto fail;
    fr_rag_gen_request req = {0};
    req.system = sys;
    req.user = user;
    req.n_passages = (int)np;
    fr_rag_cite_init(&req.constraint, (int)np);
    req.max_bytes = o.max_answer_bytes ? o.max_answer_bytes : 2048;
    g.joules = -1;
    if ((st = o.generate(o.gen_user, &req, &g, err)))
        goto fail;
    if (!g.text) {
        st = fr_err_set(err, FR_E_INTERNAL, "the generation callback returned no text");
        goto fail;
    }
    r->answer = g.text;
    g.text = NULL;
    r->n_tokens = g.n_tokens;
    r->gen_joules = g.joules;
    r->gen_seconds = g.seconds;
    ptext = malloc((np ? np : 1) * sizeof *ptext);
    plen = malloc((np ? np : 1) * sizeof *plen);
    if (!ptext || !plen) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        ptext[i] = r->hits->v[i].text;
        plen[i] = strlen(ptext[i]);
    }
    fr_rag_check_opts co = o.check;
    if (!co.idf) {
        co.idf = kb_idf;
        co.idf_user = kb;
    }
    co.lps = g.lps;
    co.n_lps = g.n_lps;
    if ((st = fr_rag_check_answer(r->answer, strlen(r->answer), ptext, plen, np, FR_RAG_CITES_REQUIRED, &co,
                                  &r->check, err)))
        goto fail;
    r->threshold = r->check->threshold;
    if (r->check->not_found) {
        r->outcome = FR_RAG_ABSTAIN_NOT_FOUND;
        goto abstain;
    }
    if (r->check->abstain) {
        r->outcome = FR_RAG_ABSTAIN_SUPPORT;
        goto abstain;
    }
    r->outcome = FR_RAG_ANSWERED;
    r->shown = strdup(r->answer);
    goto done;
abstain:
    r->abstained = true;
    r->shown = strdup(FR_RAG_ABSTAIN_TEXT);
done:
    if (r->outcome != FR_RAG_RETRIEVED_ONLY && !r->shown) {
        st = fr_err_set(err, FR_E_NOMEM, "out of memory");
        goto fail;
    }
    free(sys);
    free(user);
    free(ptext);
    free(plen);
    free(g.text);
    free(g.lps);
    *out = r;
    return FR_OK;
fail:
    free(sys);
    free(user);
    free(ptext);
    free(plen);
    free(g.text);
    free(g.lps);
    fr_rag_result_free(r);
    return st;
}

static json_t *jstrn(const char *t, size_t n) { return fr_rag_json_text(t, n); }
static json_t *jstr(const char *t) { return fr_rag_json_text(t, strlen(t)); }

/* A snippet: the first ~240 bytes of text, cut at a UTF-8 boundary. */
static json_t *snippet(const char *t)
{
    size_t n = strlen(t), max = 240;
    if (n <= max)
        return jstr(t);
    while (max > 0 && ((unsigned char)t[max] & 0xC0) == 0x80)
        max--;
    char buf[256];
    memcpy(buf, t, max);
    memcpy(buf + max, "...", 4);
    return jstr(buf);
}

char *fr_rag_result_json(const fr_rag_result *r, const char *question)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    json_object_set_new(root, "question", jstr(question ? question : ""));
    json_object_set_new(root, "outcome", json_string(fr_rag_outcome_str(r->outcome)));
    json_object_set_new(root, "abstained", json_boolean(r->abstained));
    json_object_set_new(root, "answer", r->shown ? jstr(r->shown) : json_null());
    json_object_set_new(root, "model_answer", r->answer ? jstr(r->answer) : json_null());
    json_object_set_new(root, "threshold", isfinite(r->threshold) ? json_real(r->threshold) : json_null());
    const fr_kb_hits *h = r->hits;
    size_t np = h ? h->n : 0;
    const char **ptext = calloc(np ? np : 1, sizeof *ptext);
    size_t *plen = calloc(np ? np : 1, sizeof *plen);
    if (!ptext || !plen) {
        free(ptext);
        free(plen);
        json_decref(root);
        return NULL;
    }
    for (size_t i = 0; i < np; i++) {
        ptext[i] = h->v[i].text;
        plen[i] = h->v[i].text ? strlen(h->v[i].text) : 0;
    }
    if (r->check) {
        json_object_set_new(root, "score", json_real(r->check->score));
        json_t *ss = json_array();
        for (size_t i = 0; i < r->check->n; i++) {
            const fr_rag_sentence *s = &r->check->sentences[i];
            json_t *js = json_object();
            json_object_set_new(js, "text", jstrn(r->answer + s->off, s->len));
            json_object_set_new(js, "score", json_real(s->score));
            json_object_set_new(js, "support", json_real(s->support));
            json_object_set_new(js, "facts", json_integer(s->n_facts));
            json_object_set_new(js, "facts_missing", json_integer(s->n_facts_missing));
            json_object_set_new(js, "missing", s->missing[0] ? jstr(s->missing) : json_null());
            json_object_set_new(js, "token_prob", json_real(s->lp_term));
            json_t *cs = json_array();
            for (int c = 0; c < s->n_cites; c++) {
                int n = s->cites[c];
                json_t *jc = json_object();
                json_object_set_new(jc, "n", json_integer(n));
                if (h && n >= 1 && (size_t)n <= h->n) {
                    const fr_kb_passage *p = &h->v[n - 1];
                    json_object_set_new(jc, "path", json_string(p->path));
                    json_object_set_new(jc, "page", json_integer(p->page));
                    json_object_set_new(jc, "byte_off", json_integer((json_int_t)p->byte_off));
                    json_object_set_new(jc, "byte_len", json_integer((json_int_t)p->byte_len));
                }
                /* the bytes of that passage's "text" that support the sentence */
                uint32_t so, sl;
                json_object_set_new(jc, "span",
                                    n >= 1 && fr_rag_sentence_span(r->check, i, (size_t)n - 1, &so, &sl)
                                        ? json_pack("{s:I, s:I}", "off", (json_int_t)so, "len", (json_int_t)sl)
                                        : json_null());
                json_array_append_new(cs, jc);
            }
            json_object_set_new(js, "citations", cs);
            json_object_set_new(js, "subclaims", fr_ground_subclaims_json(r->check, i, ptext, plen, np));
            json_array_append_new(ss, js);
        }
        json_object_set_new(root, "sentences", ss);
    } else {
        json_object_set_new(root, "score", json_null());
    }
    if (h) {
        json_t *g = json_object();
        json_object_set_new(g, "pass", json_boolean(h->gate_pass));
        json_object_set_new(g, "coverage", json_real(h->coverage));
        json_object_set_new(g, "missing", h->missing ? json_string(h->missing) : json_null());
        json_object_set_new(g, "reason", json_string(h->gate_reason ? h->gate_reason : ""));
        json_object_set_new(g, "fts_query", json_string(h->fts_query ? h->fts_query : ""));
        json_object_set_new(g, "trigram_query", json_string(h->tri_query ? h->tri_query : ""));
        json_object_set_new(root, "gate", g);
        json_t *ps = json_array();
        for (size_t i = 0; i < h->n; i++) {
            const fr_kb_passage *p = &h->v[i];
            json_t *jp = json_object();
            json_object_set_new(jp, "n", json_integer((json_int_t)i + 1));
            json_object_set_new(jp, "path", json_string(p->path));
            json_object_set_new(jp, "title", p->title ? json_string(p->title) : json_null());
            json_object_set_new(jp, "heading", p->heading ? json_string(p->heading) : json_null());
            json_object_set_new(jp, "page", json_integer(p->page));
            json_object_set_new(jp, "byte_off", json_integer((json_int_t)p->byte_off));
            json_object_set_new(jp, "byte_len", json_integer((json_int_t)p->byte_len));
            json_object_set_new(jp, "rrf", json_real(p->score));
            json_object_set_new(jp, "bm25_rank", json_integer(p->bm25_rank));
            json_object_set_new(jp, "trigram_rank", json_integer(p->tri_rank));
            json_object_set_new(jp, "coverage", json_real(p->coverage));
            json_object_set_new(jp, "snippet", snippet(p->text ? p->text : ""));
            json_object_set_new(jp, "text", jstr(p->text ? p->text : ""));
            json_array_append_new(ps, jp);
        }
        json_object_set_new(root, "passages", ps);
    }
    json_t *e = json_object();
    json_object_set_new(e, "tokens", json_integer(r->n_tokens));
    json_object_set_new(e, "generate_seconds", json_real(r->gen_seconds));
    json_object_set_new(e, "joules", r->gen_joules >= 0 ? json_real(r->gen_joules) : json_null());
    json_object_set_new(e, "retrieve_seconds", json_real(r->retrieve_seconds));
    json_object_set_new(root, "energy", e);
    char *s = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    free(ptext);
    free(plen);
    return s;
}
