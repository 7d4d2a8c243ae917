/*
 * cmd_tokenize.c - `frugal tokenize`: show how a model's tokenizer splits a
 * text, as ids, pieces, a table or JSON.
 *
 * The text is TEXT or the raw bytes of --file (any bytes: invalid UTF-8 and
 * NULs included, so tests can feed exact strings; "-" reads stdin). Pieces
 * are printed with special tokens rendered and with C-style escapes for
 * control characters and bytes that are not UTF-8, so every line of output
 * is one token; JSON pieces replace such bytes with U+FFFD and add "hex".
 */
#include "cli.h"

#include "base/file.h"
#include "text/utf8.h"

#include <frugal/tokenizer.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes s[0..n) to f with escapes: \n \t \r \\ \' and \xNN for other
 * control bytes and bytes that are not part of valid UTF-8. */
static void put_escaped(FILE *f, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint8_t c = u[i];
        if (c < 0x80) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\t': fputs("\\t", f); break;
            case '\r': fputs("\\r", f); break;
            case '\\': fputs("\\\\", f); break;
            case '\'': fputs("\\'", f); break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fprintf(f, "\\x%02x", c);
                else
                    fputc(c, f);
            }
            i++;
            continue;
        }
        int k = fr_utf8_check_one(u + i, n - i);
        if (k > 0) {
            fwrite(s + i, 1, (size_t)k, f);
            i += (size_t)k;
        } else {
            fprintf(f, "\\x%02x", c);
            i++;
        }
    }
}

/* A JSON string for piece p (invalid UTF-8 -> U+FFFD); NULL on failure. */
static json_t *json_piece(const char *p, size_t n)
{
    if (fr_utf8_valid_prefix(p, n) == n)
        return json_stringn(p, n);
    char *buf = malloc(3 * n + 1);
    if (!buf)
        return NULL;
    size_t o = 0;
    const uint8_t *u = (const uint8_t *)p;
    for (size_t i = 0; i < n;) {
        int k = fr_utf8_check_one(u + i, n - i);
        if (k > 0) {
            memcpy(buf + o, p + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *json_hex(const char *p, size_t n)
{
    char *buf = malloc(2 * n + 1);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", (unsigned)(uint8_t)p[i]);
    json_t *j = json_stringn(buf, 2 * n);
    free(buf);
    return j;
}

static int print_json(const fr_tokenizer *t, const char *model, const int32_t *ids, size_t n,
                      size_t text_len)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    json_t *idarr = json_array();
    if (!root || !arr || !idarr)
        goto nomem;
    json_object_set_new(root, "model", json_string(model));
    json_object_set_new(root, "tokenizer", json_string(fr_tokenizer_model(t)));
    json_object_set_new(root, "pre", json_string(fr_tokenizer_pre(t)));
    json_object_set_new(root, "n_vocab", json_integer(fr_tokenizer_n_tokens(t)));
    json_object_set_new(root, "text_bytes", json_integer((json_int_t)text_len));
    json_object_set_new(root, "n_tokens", json_integer((json_int_t)n));
    for (size_t i = 0; i < n; i++) {
        size_t pl, tl;
        const char *p = fr_token_piece(t, ids[i], FR_DECODE_SPECIAL, &pl);
        const char *txt = fr_tokenizer_token_text(t, ids[i], &tl);
        json_t *o = json_object();
        json_t *jp = json_piece(p, pl), *jt = json_piece(txt, tl);
        if (!o || !jp || !jt || json_array_append_new(idarr, json_integer(ids[i])))
            goto nomem;
        json_object_set_new(o, "id", json_integer(ids[i]));
        json_object_set_new(o, "piece", jp);
        json_object_set_new(o, "text", jt);
        if (fr_utf8_valid_prefix(p, pl) != pl)
            json_object_set_new(o, "hex", json_hex(p, pl));
        json_object_set_new(o, "special", json_boolean(fr_tokenizer_is_control(t, ids[i])));
        if (json_array_append_new(arr, o))
            goto nomem;
    }
    json_object_set_new(root, "ids", idarr);
    json_object_set_new(root, "tokens", arr);
    idarr = arr = NULL;
    if (json_dumpf(root, stdout, JSON_INDENT(1)) != 0)
        goto nomem;
    fputc('\n', stdout);
    json_decref(root);
    return FR_EXIT_OK;
nomem:
    json_decref(root);
    json_decref(arr);
    json_decref(idarr);
    cli_error("tokenize: could not build the JSON output (out of memory)");
    return FR_EXIT_RUNTIME;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *file = NULL;
    bool ids_only = false, pieces = false, json = false, no_bos = false, parse_special = false;
    const cli_opt opts[] = {
        {"--model", "-m", CLI_STR, &model, "MODEL.gguf", "the model (or vocabulary-only) GGUF file",
         0, 0, NULL},
        {"--file", "-f", CLI_STR, &file, "F", "tokenize the raw bytes of file F ('-' = stdin)", 0,
         0, NULL},
        {"--ids", NULL, CLI_FLAG, &ids_only, NULL,
         "print only the ids, space-separated, on one line", 0, 0, NULL},
        {"--pieces", NULL, CLI_FLAG, &pieces, NULL, "print only the pieces, one per line (escaped)",
         0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL,
         "print one JSON document (ids, pieces, token texts)", 0, 0, NULL},
        {"--no-bos", NULL, CLI_FLAG, &no_bos, NULL, "do not add the BOS token the model asks for",
         0, 0, NULL},
        {"--parse-special", NULL, CLI_FLAG, &parse_special, NULL,
         "read special-token text in the input (e.g. <|im_end|>) as those tokens", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal tokenize -m MODEL.gguf [--ids | --pieces | --json] [--no-bos] [--parse-special] "
        "(TEXT | --file F)",
        "Splits TEXT (or the bytes of file F) into the model's token ids, exactly as llama.cpp "
        "does. Without --ids/--pieces/--json, prints one token per line: id -> 'piece'.",
        opts, 0, 1};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!model) {
        cli_error("tokenize: --model MODEL.gguf is required (try 'frugal tokenize --help')");
        return FR_EXIT_USAGE;
    }
    if ((ids_only + pieces + json) > 1) {
        cli_error("tokenize: choose one of --ids, --pieces, --json");
        return FR_EXIT_USAGE;
    }
    if ((npos == 1) == (file != NULL)) {
        cli_error("tokenize: give either TEXT or --file F (not both, not neither)");
        return FR_EXIT_USAGE;
    }

    fr_err err = {0};
    char *data = NULL;
    size_t len = 0;
    const char *text;
    if (file) {
        if (fr_read_file(file, FR_TOKENIZE_MAX_BYTES, &data, &len, &err))
            return cli_fail(&err);
        text = data;
    } else {
        text = pos[0];
        len = strlen(text);
    }

    fr_tokenizer *t = NULL;
    if (fr_tokenizer_load(model, &t, &err)) {
        free(data);
        return cli_fail(&err);
    }
    if (fr_tokenizer_warning(t))
        cli_warn("%s: %s", model, fr_tokenizer_warning(t));

    fr_encode_opts eo = FR_ENCODE_DEFAULTS;
    if (no_bos)
        eo.add_bos = 0;
    eo.parse_special = parse_special;
    int32_t *ids = NULL;
    size_t n = 0;
    if (fr_tokenize(t, text, len, &eo, &ids, &n, &err)) {
        fr_tokenizer_free(t);
        free(data);
        return cli_fail(&err);
    }
    rc = FR_EXIT_OK;
    if (json) {
        rc = print_json(t, model, ids, n, len);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = fr_token_piece(t, ids[i], FR_DECODE_SPECIAL, &pl);
            if (ids_only) {
                printf(i ? " %d" : "%d", ids[i]);
            } else if (pieces) {
                put_escaped(stdout, p, pl);
                fputc('\n', stdout);
            } else {
                printf("%6d -> '", ids[i]);
                put_escaped(stdout, p, pl);
                fputs("'\n", stdout);
            }
        }
        if (ids_only)
            fputc('\n', stdout);
    }
    if (fflush(stdout) != 0) {
        cli_error("tokenize: writing the output failed");
        rc = FR_EXIT_RUNTIME;
    }
    free(ids);
    fr_tokenizer_free(t);
    free(data);
    return rc;
}
