/*
 * commands.h - one entry point per subcommand, each in cli/cmd_<name>.c.
 *
 * They are declared weak so that the dispatcher links before every command
 * exists: a command whose file is not written yet reports itself as not
 * implemented instead of breaking the build. Each takes argv with argv[0]
 * set to the subcommand name and returns the process exit code.
 */
#ifndef FR_CLI_COMMANDS_H
#define FR_CLI_COMMANDS_H

#define FR_CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak))

FR_CMD(inspect);
FR_CMD(quantize);
FR_CMD(tokenize);
FR_CMD(import);
FR_CMD(run);
FR_CMD(chat);
FR_CMD(pull);
FR_CMD(bench);
FR_CMD(serve);
FR_CMD(plan);
FR_CMD(tune);
FR_CMD(perplexity);
FR_CMD(merge);
FR_CMD(index);
FR_CMD(ask);
FR_CMD(check);

#undef FR_CMD
#endif
