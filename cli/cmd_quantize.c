/*
 * cmd_quantize.c - `frugal quantize IN.gguf OUT.gguf TYPE [-t N]`.
 *
 * Thin: parses the arguments, draws the progress bar, prints a summary. The
 * work (type choice per tensor, threads, atomic write that never touches the
 * input) is fr_quantize_model in src/quant/.
 */
#include "cli.h"

#include "base/clock.h"

#include <frugal/quant.h>
#include <frugal/tensor.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

typedef struct progress_state {
    cli_progress *bar;
    bool quiet;
} progress_state;

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    progress_state *ps = user;
    if (ps->quiet)
        return;
    if (!ps->bar)
        ps->bar = cli_progress_start("quantizing", total, "B");
    cli_progress_update(ps->bar, done);
}

static const char *const TYPES_HELP =
    "f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q4_k_s q4_k_m q5_k q5_k_s q5_k_m q6_k mxfp4_moe f32";

static void print_summary(const char *out, fr_ftype ft, const fr_quant_stats *s, double secs)
{
    char in_h[32], out_h[32];
    cli_human_bytes(s->bytes_in, in_h, sizeof in_h);
    cli_human_bytes(s->bytes_out, out_h, sizeof out_h);
    printf("wrote %s (%s): %lld tensors, %lld converted", out, fr_ftype_short_name(ft),
           (long long)s->n_tensors, (long long)s->n_converted);
    if (s->n_fallback)
        printf(" (%lld with a fallback type: row length not a multiple of the block)",
               (long long)s->n_fallback);
    printf(", %s -> %s in %.1f s\n  tensors by type:", in_h, out_h, secs);
    for (int t = 0; t < FR_TYPE_COUNT_; t++)
        if (s->n_by_type[t])
            printf(" %s %lld", fr_type_name((uint32_t)t), (long long)s->n_by_type[t]);
    printf("\n");
}

static int print_json(const char *in, const char *out, fr_ftype ft, const fr_quant_stats *s,
                      double secs)
{
    json_t *by = json_object();
    for (int t = 0; t < FR_TYPE_COUNT_; t++)
        if (s->n_by_type[t])
            json_object_set_new(by, fr_type_name((uint32_t)t), json_integer(s->n_by_type[t]));
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:f}", "input", in, "output",
                  out, "file_type", fr_ftype_short_name(ft), "file_type_id", (int)ft, "tensors",
                  (json_int_t)s->n_tensors, "converted", (json_int_t)s->n_converted, "fallback",
                  (json_int_t)s->n_fallback, "bytes_in", (json_int_t)s->bytes_in, "bytes_out",
                  (json_int_t)s->bytes_out, "tensors_by_type", by, "seconds", secs);
    if (!o) {
        cli_error("could not build the JSON summary");
        return FR_EXIT_RUNTIME;
    }
    json_dumpf(o, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(o);
    return FR_EXIT_OK;
}

int cmd_quantize(int argc, char **argv)
{
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    bool allow_requant = false, json = false;
    const cli_opt opts[] = {
        {"--threads", "-t", CLI_INT, &threads, "N", "worker threads (default: all cores)", 1, 1024,
         NULL},
        {"--allow-requantize", NULL, CLI_FLAG, &allow_requant, NULL,
         "convert tensors that are already quantized (adds both errors)", 0, 0, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "print a JSON summary on stdout", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal quantize IN.gguf OUT.gguf TYPE [options]",
        "Converts a GGUF model to another tensor type, choosing each tensor's type as\n"
        "llama.cpp's llama-quantize does. TYPE is one of:\n"
        "  f16 bf16 f32          plain floats\n"
        "  q8_0 q4_0 q4_1 q5_0 q5_1\n"
        "                        32-value block types (byte-identical to llama.cpp's)\n"
        "  q4_k_m q5_k_m         K-quant mixes (attn_v/ffn_down of some layers Q6_K)\n"
        "  q4_k (= q4_k_s) q5_k (= q5_k_s) q6_k\n"
        "                        K-quant types (note: llama.cpp's alias Q4_K means Q4_K_M)\n"
        "  mxfp4_moe             experts (3-D tensors) MXFP4, everything else Q8_0\n"
        "1-D tensors and norms stay as they are; output.weight becomes Q6_K; a tensor\n"
        "whose rows do not fit a K-quant's 256-value blocks falls back (Q4_K -> Q5_0,\n"
        "Q5_K -> Q5_1, Q6_K -> Q8_0, then F16). The output is written atomically and\n"
        "never over the input.",
        opts, 3, 3};
    const char *pos[64];
    int npos = 0;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc == -1)
        return FR_EXIT_OK;
    if (rc)
        return rc;

    fr_ftype ft;
    if (!fr_ftype_from_name(pos[2], &ft)) {
        cli_error("unknown TYPE '%s'; choose one of: %s", pos[2], TYPES_HELP);
        return FR_EXIT_USAGE;
    }
    progress_state ps = {NULL, json};
    fr_quant_params p = {ft, (int)threads, allow_requant, on_progress, &ps};
    fr_quant_stats s;
    fr_err err;
    fr_err_clear(&err);
    double t0 = fr_now_s();
    fr_status st = fr_quantize_model(pos[0], pos[1], &p, &s, &err);
    cli_progress_finish(ps.bar, st == FR_OK);
    if (st)
        return cli_fail(&err);
    double secs = fr_now_s() - t0;
    if (json)
        return print_json(pos[0], pos[1], ft, &s, secs);
    print_summary(pos[1], ft, &s, secs);
    return FR_EXIT_OK;
}
