/*
 * cmd_check.c - `frugal check --source FILE (--claim TEXT | --claims FILE.jsonl)`:
 * the groundedness score on its own, for answers produced elsewhere.
 *
 * The source is extracted and chunked like an indexed document; a claim is
 * scored against all of its chunks (citation marks "[n]" in a claim are
 * skipped) by the groundedness verdict (fr_rag_check_answer: sub-claims,
 * learned verifier). IDF comes from the source itself, one sentence per
 * document, so a word that the source never uses weighs the most.
 */
#include "cli.h"

#include "base/buf.h"
#include "base/file.h"
#include "rag/chunk.h"
#include "rag/extract.h"
#include "rag/ground_json.h"
#include "rag/text.h"

#include <frugal/rag.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double src_idf(void *user, const char *word, const char *term)
{
    (void)word;
    const fr_vocab *v = user;
    return fr_idf(fr_vocab_df(v, term, strlen(term)), fr_vocab_docs(v));
}

typedef struct check_ctx {
    const char **p;
    size_t *pl;
    size_t np;
    fr_rag_check_opts o;
} check_ctx;

static const char *verdict_of(bool ok) { return ok ? "supported" : "unsupported"; }

/* Scores one claim; adds a result object to arr (JSON) or prints lines. */
static int check_one(const check_ctx *c, const char *claim, json_t *extra, json_t *arr)
{
    fr_err err;
    fr_rag_checked *r = NULL;
    if (fr_rag_check_answer(claim, strlen(claim), c->p, c->pl, c->np, FR_RAG_CITES_IGNORED, &c->o, &r, &err))
        return cli_fail(&err);
    const char *verdict = r->not_found ? "not_found" : verdict_of(!r->abstain);
    if (arr) {
        json_t *j = extra ? json_deep_copy(extra) : json_object();
        json_object_set_new(j, "claim", json_string(claim));
        json_object_set_new(j, "score", json_real(r->score));
        json_object_set_new(j, "verdict", json_string(verdict));
        json_t *ss = json_array();
        for (size_t i = 0; i < r->n; i++) {
            const fr_rag_sentence *s = &r->sentences[i];
            json_t *js = json_object();
            json_object_set_new(js, "text", json_stringn(claim + s->off, s->len));
            json_object_set_new(js, "score", json_real(s->score));
            json_object_set_new(js, "verdict", json_string(verdict_of(s->score >= r->threshold)));
            json_object_set_new(js, "support", json_real(s->support));
            json_object_set_new(js, "facts", json_integer(s->n_facts));
            json_object_set_new(js, "facts_missing", json_integer(s->n_facts_missing));
            json_object_set_new(js, "missing", s->missing[0] ? json_string(s->missing) : json_null());
            json_t *subs = fr_ground_subclaims_json(r, i, c->p, c->pl, c->np);
            json_object_set_new(js, "subclaims", subs);
            json_array_append_new(ss, js);
        }
        json_object_set_new(j, "sentences", ss);
        json_array_append_new(arr, j);
    } else {
        printf("%.3f  %-11s %s\n", r->score, verdict, claim);
        for (size_t i = 0; i < r->n_subs && (r->n_subs > 1 || r->abstain); i++) {
            const fr_rag_subclaim *u = &r->subs[i];
            bool why = !u->supported && u->missing[0];
            printf("       %.3f %-11s %s%s%s%s\n", u->prob, verdict_of(u->supported), u->text,
                   why ? "  (missing: " : "", why ? u->missing : "", why ? ")" : "");
        }
    }
    fr_rag_checked_free(r);
    return FR_EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
    const char *source = NULL, *claim = NULL, *claims = NULL, *weights = NULL;
    double thr = 0;
    bool json = false;
    const cli_opt opts[] = {
        {"--source", "-s", CLI_STR, &source, "FILE", "the document the claims must be supported by", 0, 0, NULL},
        {"--claim", "-c", CLI_STR, &claim, "TEXT", "one claim (may be several sentences)", 0, 0, NULL},
        {"--claims", NULL, CLI_STR, &claims, "FILE.jsonl", "one JSON object per line with \"claim\" (other fields are echoed)", 0, 0, NULL},
        {"--threshold", "-t", CLI_DOUBLE, &thr, "T", "supported at or above this score (default: the one stored with the verifier's weights)", 0.001, 1, NULL},
        {"--verifier", NULL, CLI_STR, &weights, "FILE", "verifier weights to use instead of the built-in ones (as `make train-verifier` writes them)", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "one JSON document on stdout", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal check --source FILE (--claim TEXT | --claims FILE.jsonl) [--json]",
        "Score how well a source document supports claims. Each sentence is split into "
        "sub-claims (clauses, conjuncts, relative clauses, appositions, list items), each scored by "
        "a learned verifier (content words, numbers, units, names, negation, where the support "
        "lies); a claim is supported only when every sub-claim is. --json shows each sub-claim's "
        "verdict, score and best evidence span.",
        opts, 0, 0};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!source || (!claim == !claims)) {
        cli_error("check: give --source FILE and exactly one of --claim TEXT or --claims FILE.jsonl");
        return FR_EXIT_USAGE;
    }
    fr_err err;
    fr_err_clear(&err);
    fr_doc *doc = NULL;
    fr_chunk *ch = NULL;
    size_t nch = 0;
    if (fr_extract_file(source, NULL, &doc, &err))
        return cli_fail(&err);
    if (fr_chunk_doc(doc, NULL, &ch, &nch, &err)) {
        fr_doc_free(doc);
        return cli_fail(&err);
    }
    int code = FR_EXIT_OK;
    fr_vocab *idf = fr_vocab_create();
    fr_rag_verifier *ver = NULL;
    check_ctx c = {0};
    c.p = malloc(nch * sizeof *c.p);
    c.pl = malloc(nch * sizeof *c.pl);
    char *cl_data = NULL;
    json_t *arr = json ? json_array() : NULL;
    if (!idf || !c.p || !c.pl) {
        cli_error("check: out of memory");
        code = FR_EXIT_RUNTIME;
        goto done;
    }
    for (size_t i = 0; i < nch; i++) {
        c.p[i] = ch[i].text;
        c.pl[i] = ch[i].len;
        size_t off = 0;
        while (off < ch[i].len) {
            size_t e = fr_sentence_end(ch[i].text, ch[i].len, off);
            if (e <= off)
                break;
            fr_vocab_add_doc(idf, ch[i].text + off, e - off);
            off = e;
        }
    }
    c.np = nch;
    c.o.idf = src_idf;
    c.o.idf_user = idf;
    if ((weights ? fr_rag_verifier_load(weights, &ver, &err) : fr_rag_verifier_builtin(&ver, &err))) {
        code = cli_fail(&err);
        goto done;
    }
    c.o.verifier = ver;
    c.o.threshold = thr > 0 ? thr : fr_rag_verifier_threshold(ver);
    if (claim) {
        code = check_one(&c, claim, NULL, arr);
    } else {
        size_t n = 0;
        if (fr_read_file(claims, (size_t)256 << 20, &cl_data, &n, &err)) {
            code = cli_fail(&err);
            goto done;
        }
        size_t line = 0;
        for (char *l = cl_data; l && *l && code == FR_EXIT_OK;) {
            char *nl = strchr(l, '\n');
            size_t len = nl ? (size_t)(nl - l) : strlen(l);
            line++;
            size_t k = 0;
            while (k < len && (unsigned char)l[k] <= ' ')
                k++;
            if (k < len) {
                json_error_t je;
                json_t *j = json_loadb(l, len, 0, &je);
                const char *text = j ? json_string_value(json_object_get(j, "claim")) : NULL;
                if (!text && j)
                    text = json_string_value(json_object_get(j, "text"));
                if (!j || !text) {
                    cli_error("check: %s line %zu: %s", claims, line,
                              j ? "no \"claim\" string field" : je.text);
                    code = FR_EXIT_RUNTIME;
                } else {
                    char *own = strdup(text); /* j's copy goes when "claim" is replaced */
                    if (!own) {
                        cli_error("check: out of memory");
                        code = FR_EXIT_RUNTIME;
                    } else {
                        json_object_del(j, "claim");
                        code = check_one(&c, own, j, arr);
                        free(own);
                    }
                }
                json_decref(j);
            }
            l = nl ? nl + 1 : NULL;
        }
    }
    if (arr && code == FR_EXIT_OK) {
        json_t *root = json_object();
        json_object_set_new(root, "source", json_string(source));
        json_object_set_new(root, "chunks", json_integer((json_int_t)nch));
        json_object_set_new(root, "threshold", json_real(c.o.threshold));
        json_object_set_new(root, "verifier", json_string(weights ? weights : "built-in"));
        json_object_set_new(root, "results", arr);
        arr = NULL;
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(root);
    }
done:
    json_decref(arr);
    free(cl_data);
    free(c.p);
    free(c.pl);
    fr_vocab_free(idf);
    fr_rag_verifier_free(ver);
    fr_chunks_free(ch, nch);
    fr_doc_free(doc);
    return code;
}
