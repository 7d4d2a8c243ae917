/*
 * cmd_ask.c - `frugal ask --db KB.sqlite ... "question"`.
 *
 * The pipeline lives in the library (fr_rag_ask); this file parses flags,
 * opens the model (constrained greedy decoding in src/rag/ask_model.c) and
 * prints. --retrieve-only runs everything that does not need a model
 * (retrieval, fusion, the gate) and shows the passages a model would get.
 * When it abstains, the model's draft (the text it did not stand behind)
 * is shown only with --verbose; a warning about the chat template comes
 * only when the model is actually asked (not when the gate abstains).
 */
#include "cli.h"
#include "llm.h"
#include "rag/ask_model.h"

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

typedef struct ask_gen {
    fr_rag_model *rm;
    bool warned;
} ask_gen;

/* fr_rag_model_generate, after the template's warning (once): the model is
 * only asked when retrieval passed the gate. */
static fr_status ask_generate(void *user, const fr_rag_gen_request *req, fr_rag_gen_result *res,
                              fr_err *err)
{
    ask_gen *g = user;
    if (!g->warned && fr_chat_template_warning(g->rm->tmpl))
        cli_warn("%s", fr_chat_template_warning(g->rm->tmpl));
    g->warned = true;
    return fr_rag_model_generate(g->rm, req, res, err);
}

/* The answer with its citations resolved, per-sentence scores, energy. */
static void print_answer(const fr_rag_result *r, bool verbose)
{
    const fr_kb_hits *h = r->hits;
    printf("%s\n", r->shown);
    bool draft = r->answer && r->answer[0] && r->outcome == FR_RAG_ABSTAIN_SUPPORT;
    if (r->abstained) {
        const char *why = r->outcome == FR_RAG_ABSTAIN_GATE      ? h->gate_reason
                          : r->outcome == FR_RAG_ABSTAIN_NOT_FOUND ? "the model found no answer in the passages"
                                                                   : "the answer is not supported well enough by the passages it cites";
        printf("(abstained: %s%s)\n", why,
               draft && !verbose ? "; --verbose shows the model's draft and its scores" : "");
        if (draft && verbose)
            printf("model's draft, not shown as an answer: %s\n", r->answer);
    }
    if (r->check && !r->check->not_found && (!r->abstained || verbose)) {
        printf("\nsupport per sentence (threshold %.2f):\n", r->threshold);
        for (size_t i = 0; i < r->check->n; i++) {
            const fr_rag_sentence *se = &r->check->sentences[i];
            printf("  %.2f  %.*s", se->score, (int)se->len, r->answer + se->off);
            for (int c = 0; c < se->n_cites; c++)
                printf(" [%d]", se->cites[c]);
            if (se->missing[0])
                printf("   (not in the cited passages: %s)", se->missing);
            printf("\n");
        }
    }
    if (!r->abstained) {
        bool cited[64] = {false};
        for (size_t i = 0; r->check && i < r->check->n; i++)
            for (int c = 0; c < r->check->sentences[i].n_cites; c++)
                if (r->check->sentences[i].cites[c] >= 1 && r->check->sentences[i].cites[c] <= 64)
                    cited[r->check->sentences[i].cites[c] - 1] = true;
        printf("\nsources:\n");
        for (size_t i = 0; i < h->n && i < 64; i++) {
            if (!cited[i])
                continue;
            const fr_kb_passage *p = &h->v[i];
            printf("  [%zu] %s", i + 1, p->path);
            if (p->page > 0)
                printf(", page %d", p->page);
            printf(", bytes %llu-%llu", (unsigned long long)p->byte_off,
                   (unsigned long long)(p->byte_off + p->byte_len));
            if (p->heading)
                printf(" (%s)", p->heading);
            size_t n = strlen(p->text);
            int show = n > 160 ? 160 : (int)n;
            while (show > 0 && (size_t)show < n && ((unsigned char)p->text[show] & 0xC0) == 0x80)
                show--;
            printf("\n      \"%.*s%s\"\n", show, p->text, (size_t)show < n ? "..." : "");
        }
    }
    if (r->n_tokens > 0)
        printf("\n%d tokens in %.2f s%s", r->n_tokens, r->gen_seconds, r->gen_joules >= 0 ? "" : "\n");
    if (r->n_tokens > 0 && r->gen_joules >= 0)
        printf(", %.3g J (estimate from CPU time)\n", r->gen_joules);
}

int cmd_ask(int argc, char **argv)
{
    const char *db = NULL;
    cli_model_opts mo = {0};
    long k = 5;
    double min_support = 0, gate = 0.5;
    bool json = false, retrieve_only = false, no_gate = false, verbose = false;
    long max_bytes = 2048;
    const cli_opt opts[] = {
        {"--db", NULL, CLI_STR, &db, "KB", "knowledge base from frugal index: a SQLite file or a postgresql:// URI", 0, 0, NULL},
        CLI_MODEL_OPTS(&mo),
        {"--k", NULL, CLI_INT, &k, "N", "passages to retrieve (default 5)", 1, 50, NULL},
        {"--min-support", NULL, CLI_DOUBLE, &min_support, "T", "abstain below this groundedness score (default: the threshold stored with the verifier's weights)", 0.001, 1, NULL},
        {"--gate", NULL, CLI_DOUBLE, &gate, "G", "abstain when the best passage covers less of the question (default 0.5)", 0.001, 1, NULL},
        {"--no-gate", NULL, CLI_FLAG, &no_gate, NULL, "never abstain at retrieval", 0, 0, NULL},
        {"--max-bytes", NULL, CLI_INT, &max_bytes, "N", "longest answer in bytes (default 2048)", 16, 1 << 20, NULL},
        {"--retrieve-only", NULL, CLI_FLAG, &retrieve_only, NULL, "retrieval and the gate only, no model", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "one JSON document on stdout", 0, 0, NULL},
        {"--verbose", "-v", CLI_FLAG, &verbose, NULL, "when it abstains, show the model's draft and its scores", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal ask --db KB.sqlite|postgresql://... (-m MODEL | --retrieve-only) [options] \"question\"",
        "Answer a question from the knowledge base with citations, or abstain when the "
        "documents do not support an answer.",
        opts, 1, 1};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!db) {
        cli_error("ask: --db KB.sqlite (or a postgresql:// URI) is required");
        return FR_EXIT_USAGE;
    }
    if (!mo.model && !getenv("FRUGAL_MODEL") && !retrieve_only) {
        cli_error("ask: give -m MODEL.gguf, or --retrieve-only to see retrieval and the gate");
        return FR_EXIT_USAGE;
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
    cli_llm L = {0};
    fr_meter *meter = NULL;
    fr_rag_model rm = {0};
    ask_gen gen = {&rm, false};
    if (!retrieve_only) {
        if (!mo.ctx)
            mo.ctx = 4096;
        mo.quiet_template = true;
        if ((rc = cli_llm_open(&mo, 1, true, &L))) {
            fr_kb_free(kb);
            return rc;
        }
        fr_meter_config mc;
        fr_meter_config_init(&mc);
        mc.sources = FR_METER_RAPL | FR_METER_BATTERY | FR_METER_ESTIMATE;
        mc.cpu_watts_per_core = (fr_range){5, 9, 15};
        mc.cpu_watts_origin = "generic x86 core";
        if (fr_meter_create(&mc, &meter, NULL) != FR_OK)
            meter = NULL;
        rm = (fr_rag_model){L.ctx, 0, L.tok, L.tmpl, meter};
        ao.generate = ask_generate;
        ao.gen_user = &gen;
        ao.check.lp_weight = 1.0;
        ao.max_answer_bytes = (size_t)max_bytes;
    }
    fr_rag_result *r = NULL;
    if (fr_rag_ask(kb, pos[0], &ao, &r, &err)) {
        cli_llm_close(&L);
        fr_meter_free(meter);
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
        if (!retrieve_only) {
            print_answer(r, verbose);
            if (!r->abstained || r->outcome == FR_RAG_ABSTAIN_GATE) {
                fr_rag_result_free(r);
                cli_llm_close(&L);
                fr_meter_free(meter);
                fr_kb_free(kb);
                return FR_EXIT_OK;
            }
            printf("\nclosest passages:\n");
            print_passages(h);
            fr_rag_result_free(r);
            cli_llm_close(&L);
            fr_meter_free(meter);
            fr_kb_free(kb);
            return FR_EXIT_OK;
        }
        printf("query: %s\n", h->fts_query[0] ? h->fts_query : "(no content terms)");
        if (h->tri_query[0])
            printf("codes: %s\n", h->tri_query);
        printf("gate: %s - %s\n", h->gate_pass ? "pass" : "ABSTAIN", h->gate_reason);
        if (r->abstained)
            printf("answer: %s\nclosest passages:\n", r->shown);
        print_passages(h);
    }
    fr_rag_result_free(r);
    cli_llm_close(&L);
    fr_meter_free(meter);
    fr_kb_free(kb);
    return code;
}
