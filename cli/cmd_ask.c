/*
 * cmd_ask.c - `frugal ask --db KB.sqlite ... "question"`.
 *
 * The pipeline lives in the library (fr_rag_ask); this file only parses
 * flags and prints. Generation needs the inference engine, which this build
 * does not have yet: -m MODEL says so plainly instead of pretending, and
 * --retrieve-only runs everything that does not need a model (retrieval,
 * fusion, the gate) and shows the passages a model would be given.
 */
#include "cli.h"

#include <frugal/rag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_passages(const fr_kb_hits *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const fr_kb_passage *p = &h->v[i];
        printf("\n[%zu] %s", i + 1, p->path);
        if (p->page > 0)
            printf(", page %d", p->page);
        printf(", bytes %llu-%llu", (unsigned long long)p->byte_off,
               (unsigned long long)(p->byte_off + p->byte_len));
        if (p->heading)
            printf("  (%s)", p->heading);
        printf("\n    rrf %.4f  bm25 rank %d  trigram rank %d  covers %.0f%% of the question\n",
               p->score, p->bm25_rank, p->tri_rank, 100 * p->coverage);
        size_t n = strlen(p->text);
        int show = n > 300 ? 300 : (int)n;
        while (show > 0 && ((unsigned char)p->text[show] & 0xC0) == 0x80 && (size_t)show < n)
            show--;
        printf("    %.*s%s\n", show, p->text, (size_t)show < n ? " ..." : "");
    }
}

int cmd_ask(int argc, char **argv)
{
    const char *db = NULL, *model = NULL;
    long k = 5;
    double min_support = FR_RAG_DEFAULT_THRESHOLD, gate = 0.5;
    bool json = false, retrieve_only = false, no_gate = false;
    const cli_opt opts[] = {
        {"--db", NULL, CLI_STR, &db, "KB.sqlite", "knowledge base (from frugal index)", 0, 0, NULL},
        {"--model", "-m", CLI_STR, &model, "MODEL.gguf", "model that writes the answer", 0, 0, NULL},
        {"--k", NULL, CLI_INT, &k, "N", "passages to retrieve (default 5)", 1, 50, NULL},
        {"--min-support", NULL, CLI_DOUBLE, &min_support, "T", "abstain below this groundedness score (default 0.60)", 0.001, 1, NULL},
        {"--gate", NULL, CLI_DOUBLE, &gate, "G", "abstain when the best passage covers less of the question (default 0.5)", 0.001, 1, NULL},
        {"--no-gate", NULL, CLI_FLAG, &no_gate, NULL, "never abstain at retrieval", 0, 0, NULL},
        {"--retrieve-only", NULL, CLI_FLAG, &retrieve_only, NULL, "retrieval and the gate only, no model", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "one JSON document on stdout", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal ask --db KB.sqlite (-m MODEL | --retrieve-only) [options] \"question\"",
        "Answer a question from the knowledge base with citations, or abstain when the "
        "documents do not support an answer.",
        opts, 1, 1};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!db) {
        cli_error("ask: --db KB.sqlite is required");
        return FR_EXIT_USAGE;
    }
    if (!model && !retrieve_only) {
        cli_error("ask: give -m MODEL.gguf, or --retrieve-only to see retrieval and the gate");
        return FR_EXIT_USAGE;
    }
    if (model && !retrieve_only) {
        cli_error("ask: answering with a model needs the inference engine, which is not built "
                  "yet in frugal %s; use --retrieve-only for now",
                  fr_version());
        return FR_EXIT_RUNTIME;
    }
    fr_err err;
    fr_err_clear(&err);
    fr_kb *kb = NULL;
    if (fr_kb_open(db, false, &kb, &err))
        return cli_fail(&err);
    fr_rag_ask_opts ao = {0};
    ao.retrieve.k = (int)k;
    ao.retrieve.gate_min = no_gate ? -1 : gate;
    ao.check.threshold = min_support;
    fr_rag_result *r = NULL;
    if (fr_rag_ask(kb, pos[0], &ao, &r, &err)) {
        fr_kb_free(kb);
        return cli_fail(&err);
    }
    int code = FR_EXIT_OK;
    if (json) {
        char *s = fr_rag_result_json(r, pos[0]);
        if (!s) {
            cli_error("ask: out of memory writing JSON");
            code = FR_EXIT_RUNTIME;
        } else {
            printf("%s\n", s);
            free(s);
        }
    } else {
        const fr_kb_hits *h = r->hits;
        printf("query: %s\n", h->fts_query[0] ? h->fts_query : "(no content terms)");
        if (h->tri_query[0])
            printf("codes: %s\n", h->tri_query);
        printf("gate: %s - %s\n", h->gate_pass ? "pass" : "ABSTAIN", h->gate_reason);
        if (r->abstained)
            printf("answer: %s\nclosest passages:\n", r->shown);
        print_passages(h);
    }
    fr_rag_result_free(r);
    fr_kb_free(kb);
    return code;
}
