/*
 * stories_ref.h - reads ../shared/models/stories260K.reference.txt
 * (llama2.c run.c's recorded greedy outputs) for the tests that replay it:
 * per case the prompt ids (BOS included), the generated ids (each next token
 * in order, prompt-forced ones included) and the STDOUT_JSON line as written
 * (a JSON string; NULL when absent). Exits on an unreadable file.
 */
#ifndef FR_TESTS_STORIES_REF_H
#define FR_TESTS_STORIES_REF_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

typedef struct ref_case {
    int32_t prompt[64];
    int n_prompt;
    int32_t gen[256];
    int n_gen;
    char *stdout_json; /* malloc'd, or NULL */
} ref_case;

static int ref_parse_ids(const char *s, int32_t *out, int cap)
{
    int n = 0;
    while (*s && *s != '\n' && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

/* Fills up to cap cases; returns how many. */
static int ref_load_cases(const char *path, ref_case *cases, int cap)
{
    char *data;
    size_t size;
    fr_err e;
    if (fr_read_file(path, 1 << 20, &data, &size, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    int n = 0;
    char *p = data;
    while ((p = strstr(p, "PROMPT_TOKENS: ")) && n < cap) {
        ref_case *c = &cases[n];
        c->n_prompt = ref_parse_ids(p + 15, c->prompt, 64);
        char *g = strstr(p, "GENERATED_TOKENS: ");
        if (!g)
            break;
        c->n_gen = ref_parse_ids(g + 18, c->gen, 256);
        p = g + 18;
        c->stdout_json = NULL;
        char *j = strstr(p, "STDOUT_JSON: ");
        char *next = strstr(p, "PROMPT_TOKENS: ");
        if (j && (!next || j < next)) {
            size_t len = strcspn(j + 13, "\n");
            c->stdout_json = strndup(j + 13, len);
        }
        n++;
    }
    free(data);
    return n;
}

static void ref_free_cases(ref_case *cases, int n)
{
    for (int i = 0; i < n; i++)
        free(cases[i].stdout_json);
}

#endif
