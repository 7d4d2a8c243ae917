/*
 * cmd_import.c - `frugal import llama2c MODEL.bin TOKENIZER.bin -o OUT.gguf`.
 */
#include "cli.h"

#include <frugal/import.h>
#include <stdio.h>
#include <string.h>

int cmd_import(int argc, char **argv)
{
    const char *out = NULL;
    const cli_opt opts[] = {
        {"--output", "-o", CLI_STR, &out, "OUT.gguf", "where to write the GGUF model", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal import llama2c MODEL.bin TOKENIZER.bin -o OUT.gguf",
        "Converts a checkpoint of another format to a GGUF model. Formats: llama2c\n"
        "(karpathy/llama2.c's run.c checkpoint and tokenizer.bin files).",
        opts, 1, 3};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (strcmp(pos[0], "llama2c") != 0) {
        cli_error("import: unknown format '%s' (supported: llama2c)", pos[0]);
        return FR_EXIT_USAGE;
    }
    if (npos != 3 || !out) {
        cli_error("import: usage: %s", spec.usage);
        return FR_EXIT_USAGE;
    }
    fr_err e;
    if (fr_import_llama2c(pos[1], pos[2], out, &e) != FR_OK)
        return cli_fail(&e);
    fprintf(stderr, "frugal: wrote %s\n", out);
    return FR_EXIT_OK;
}
