/*
 * main.c - `frugal CMD ...`: finds the subcommand and hands it argv.
 */
#include "cli.h"
#include "commands.h"
#include "tensor/cpu.h"
#include "tensor/threadpool.h"

#include <stdio.h>
#include <string.h>

typedef int (*cmd_fn)(int argc, char **argv);

typedef struct cmd_entry {
    const char *name;
    cmd_fn fn; /* NULL when this build does not have the command yet */
    const char *step;
    const char *summary;
} cmd_entry;

static int cmd_help(void);

static const cmd_entry *commands(size_t *n)
{
    static const cmd_entry table[] = {
        {"plan", cmd_plan, "1 plan", "cost of training, fine-tuning or serving (GPUs, $, GWh)"},
        {"tune", cmd_tune, "2 specialise", "LoRA/QLoRA fine-tuning on domain text"},
        {"perplexity", cmd_perplexity, "2 specialise", "perplexity of a model (with or without an adapter)"},
        {"merge", cmd_merge, "2 specialise", "bake a LoRA adapter into the base model"},
        {"quantize", cmd_quantize, "3 shrink", "convert a GGUF model to another tensor type"},
        {"inspect", cmd_inspect, "3 shrink", "show what is inside a GGUF file and the RAM it needs"},
        {"index", cmd_index, "4 ground", "index documents into a SQLite knowledge base"},
        {"ask", cmd_ask, "4 ground", "answer from the knowledge base, with citations, or abstain"},
        {"check", cmd_check, "4 ground", "score how well a source supports claims"},
        {"run", cmd_run, "5 serve", "generate text from a prompt"},
        {"chat", cmd_chat, "5 serve", "interactive chat with a model"},
        {"serve", cmd_serve, "5 serve", "OpenAI-compatible HTTP server"},
        {"bench", cmd_bench, "5 measure", "tokens/s, bandwidth, joules/token"},
        {"tokenize", cmd_tokenize, "tools", "split text into the model's token ids"},
        {"import", cmd_import, "tools", "convert a llama2.c checkpoint to GGUF"},
        {"pull", cmd_pull, "tools", "download a GGUF model over HTTPS"},
    };
    *n = sizeof table / sizeof table[0];
    return table;
}

static int cmd_help(void)
{
    size_t n;
    const cmd_entry *t = commands(&n);
    printf("frugal %s - deploy a domain-specialised LLM without a data centre\n\n", fr_version());
    printf("usage: frugal COMMAND [options]   (frugal COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-11s %-13s %s%s\n", t[i].name, t[i].step, t[i].summary,
               t[i].fn ? "" : " (not implemented yet)");
    printf("\n  --version   print version and commit\n  help CMD    the options of CMD (= frugal CMD --help)\n");
    return FR_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help();
        return FR_EXIT_USAGE;
    }
    const char *name = argv[1];
    char help_flag[] = "--help";
    char *help_argv[4];
    if (strcmp(name, "help") == 0 && argc >= 3) {
        /* `frugal help run` = `frugal run --help` */
        help_argv[0] = argv[0];
        help_argv[1] = argv[2];
        help_argv[2] = help_flag;
        help_argv[3] = NULL;
        argv = help_argv;
        argc = 3;
        name = argv[1];
    } else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        return cmd_help();
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        /* and the machine as `frugal bench` names it: the CPU (on ARM the
         * core from its MIDR), how many, the kernel path it would use */
        char cpu[256], feats[256];
        fr_cpu_model_name(cpu, sizeof cpu);
        fr_cpu_describe(feats, sizeof feats);
        fr_isa isa = FR_ISA_GENERIC;
        bool isa_ok = fr_isa_select(&isa, NULL) == FR_OK;
        printf("frugal %s (commit %s)\ncpu: %s; %d CPUs; features %s; kernels %s\n",
               fr_version(), fr_commit(), cpu, fr_cpu_count(), feats,
               isa_ok ? fr_isa_name(isa) : "none (FRUGAL_ISA names no path this CPU runs)");
        return FR_EXIT_OK;
    }
    size_t n;
    const cmd_entry *t = commands(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) != 0)
            continue;
        if (!t[i].fn) {
            cli_error("'%s' is not implemented yet in frugal %s (see the status table in README.md)",
                      name, fr_version());
            return FR_EXIT_RUNTIME;
        }
        return t[i].fn(argc - 1, argv + 1);
    }
    cli_error("unknown command '%s' (try 'frugal --help')", name);
    return FR_EXIT_USAGE;
}
