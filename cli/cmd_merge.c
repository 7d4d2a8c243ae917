/*
 * cmd_merge.c - `frugal merge`: bake LoRA adapters into a copy of the base
 * model, so it runs without --lora (and in tools that do not read
 * adapters). The work is fr_lora_merge; this file parses, reports, and with
 * --verify scores a text twice (base + adapters at run time, then the merged
 * file) to show that the merge preserved what the adapters do.
 *
 * Verification passes when the two perplexities agree within a tolerance
 * set by the output type: 1e-4 relative for F32 (only float rounding
 * differs), 1e-2 for F16/BF16; quantized outputs are reported, not judged
 * (their rounding is the point of choosing them).
 */
#include "llm.h"
#include "ppl.h"

#include "base/clock.h"

#include "tensor/threadpool.h"

#include <frugal/quant.h>
#include <frugal/tensor.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct merge_bar {
    cli_progress *bar;
} merge_bar;

static void merge_progress(void *user, uint64_t done, uint64_t total)
{
    merge_bar *b = user;
    if (!b->bar)
        b->bar = cli_progress_start("merging", total, "B");
    cli_progress_update(b->bar, done);
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

typedef struct verify_result {
    fr_ppl_acc runtime, merged;
    uint32_t n_ctx, n_chunks;
    double rel_diff, tol;
    bool judged, ok;
} verify_result;

/* Scores the text with base + adapters at run time, then with the merged
 * file. */
static int verify(const cli_model_opts *mo, const char *out_path, const char *text, long chunks,
                  double tol, verify_result *vr)
{
    cli_llm L;
    int rc = cli_llm_open(mo, 1, false, &L);
    if (rc)
        return rc;
    cli_ppl_text t;
    rc = cli_ppl_text_load(L.tok, text, fr_context_n_ctx(L.ctx), chunks, &t);
    if (!rc)
        rc = cli_ppl_run(L.ctx, &t, "verify: runtime adapter", &vr->runtime, NULL);
    cli_llm_close(&L);
    if (!rc) {
        cli_model_opts m2 = *mo;
        m2.model = out_path;
        m2.lora.n = 0;
        rc = cli_llm_open(&m2, 1, false, &L);
        if (!rc) {
            rc = cli_ppl_run(L.ctx, &t, "verify: merged model", &vr->merged, NULL);
            cli_llm_close(&L);
        }
    }
    vr->n_ctx = t.n_ctx;
    vr->n_chunks = t.n_chunks;
    cli_ppl_text_free(&t);
    if (rc)
        return rc;
    double a = fr_ppl_acc_ppl(&vr->runtime), b = fr_ppl_acc_ppl(&vr->merged);
    vr->rel_diff = fabs(b - a) / a;
    vr->tol = tol;
    vr->judged = tol > 0;
    vr->ok = !vr->judged || vr->rel_diff <= tol;
    return FR_EXIT_OK;
}

int cmd_merge(int argc, char **argv)
{
    cli_model_opts mo = {0};
    const char *out_path = NULL, *out_type = "auto", *verify_text = NULL;
    long chunks = 0;
    bool json = false;
    const cli_opt opts[] = {
        {"--model", "-m", CLI_STR, &mo.model, "BASE", "the base model (GGUF)", 0, 0, NULL},
        {"--lora", NULL, CLI_STRS, &mo.lora, "FILE[:S]", "adapter to merge, scaled by S (default 1; repeatable)", 0, 0, NULL},
        {"--output", "-o", CLI_STR, &out_path, "OUT", "the merged model to write", 0, 0, NULL},
        {"--out-type", NULL, CLI_CHOICE, &out_type, NULL, "type of the merged tensors (default auto: f32 for f32 tensors, else f16)", 0, 0, "auto|f16|bf16|f32|keep|q8_0|q4_k|q6_k"},
        {"--verify", NULL, CLI_STR, &verify_text, "TEXT", "compare the perplexity of the merged model and the runtime adapter on TEXT", 0, 0, NULL},
        {"--ctx", "-c", CLI_INT, &mo.ctx, "N", "context for --verify (default 512)", 4, 1 << 22, NULL},
        {"--chunks", NULL, CLI_INT, &chunks, "N", "score at most N chunks with --verify (default: all)", 1, 1 << 30, NULL},
        {"--threads", "-t", CLI_INT, &mo.threads, "N", "threads (default: all CPUs)", 0, 1024, NULL},
        {"--json", NULL, CLI_FLAG, &json, NULL, "print one JSON record", 0, 0, NULL},
        {NULL, NULL, CLI_END, NULL, NULL, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        "frugal merge -m BASE.gguf --lora ADAPTER[:S] -o OUT.gguf [--out-type T] [--verify TEXT]",
        "Writes BASE with the adapters' updates baked in (W + s*B*A), tensor by tensor: tensors\n"
        "the adapters do not change are copied byte for byte. --out-type keep re-quantizes\n"
        "merged tensors to the base's types, which can round a small update away.",
        opts, 0, 0};
    const char *pos[64];
    int npos;
    int rc = cli_parse(argc, argv, &spec, pos, &npos);
    if (rc)
        return rc < 0 ? FR_EXIT_OK : rc;
    if (!mo.model || !out_path || mo.lora.n == 0) {
        cli_error("merge: give the base with -m, at least one --lora ADAPTER and -o OUT");
        return FR_EXIT_USAGE;
    }
    fr_lora_merge_params mp = {0};
    if (strcmp(out_type, "auto") == 0) {
        mp.out = FR_LORA_OUT_AUTO;
    } else if (strcmp(out_type, "keep") == 0) {
        mp.out = FR_LORA_OUT_KEEP;
    } else {
        mp.out = FR_LORA_OUT_TYPE;
        if (!fr_type_from_name(out_type, &mp.out_type)) {
            cli_error("merge: unknown --out-type %s", out_type);
            return FR_EXIT_USAGE;
        }
    }
    for (int i = 0; i < mo.lora.n; i++) {
        char p[4096];
        float sc;
        if ((rc = cli_lora_parse(mo.lora.v[i], p, sizeof p, &sc)))
            return rc;
    }
    if (mo.ctx == 0)
        mo.ctx = 512;
    mo.batch = mo.ctx;
    fr_err e;
    fr_model *base = NULL;
    fr_lora *ad[CLI_STRS_MAX];
    float sc[CLI_STRS_MAX];
    int n_ad = 0;
    if (fr_model_load(mo.model, &base, &e) != FR_OK)
        return cli_fail(&e);
    if ((rc = cli_lora_load(&mo.lora, base, ad, sc, &n_ad))) {
        fr_model_free(base);
        return rc;
    }
    for (int i = 0; i < n_ad; i++)
        cli_lora_describe(ad[i], sc[i]);
    mp.adapters = ad;
    mp.scales = sc;
    mp.n = (size_t)n_ad;
    mp.n_threads = mo.threads > 0 ? (int)mo.threads : fr_cpu_count();
    merge_bar mb = {NULL};
    mp.progress = merge_progress;
    mp.progress_user = &mb;
    double t0 = fr_now_s();
    fr_lora_merge_stats ms;
    fr_status st = fr_lora_merge(base, out_path, NULL, 0, &mp, &ms, &e);
    cli_progress_finish(mb.bar, st == FR_OK);
    double secs = fr_now_s() - t0;
    for (int i = 0; i < n_ad; i++)
        fr_lora_free(ad[i]);
    fr_model_free(base);
    if (st)
        return cli_fail(&e);
    char sz[32];
    cli_human_bytes(ms.bytes_out, sz, sizeof sz);
    fprintf(stderr,
            "merge: %lld of %lld tensors merged (%s), %s of tensor data written to %s in %.2f s; "
            "file type %s\n",
            (long long)ms.n_merged, (long long)ms.n_tensors, out_type, sz, out_path, secs,
            fr_ftype_short_name(ms.file_type));
    if (ms.n_fallback)
        cli_warn("%lld merged tensors have rows that do not fill %s blocks and were stored in a "
                 "wider type, as `frugal quantize` does", (long long)ms.n_fallback, out_type);
    /* the widest judgement the output types allow */
    bool any_quant = false, any_half = false;
    for (int t = 0; t < FR_TYPE_COUNT_; t++) {
        if (!ms.merged_by_type[t])
            continue;
        if (t == FR_TYPE_F16 || t == FR_TYPE_BF16)
            any_half = true;
        else if (t != FR_TYPE_F32)
            any_quant = true;
    }
    if (mp.out == FR_LORA_OUT_KEEP && any_quant)
        cli_warn("--out-type keep re-quantized the merged tensors to the base's quantized "
                 "types: an update smaller than a type's rounding step is lost (see the relative "
                 "error below; --out-type f16 keeps all of it)");
    fprintf(stderr, "merge: update kept to a relative error of %.2e (worst: %s, %.2e)\n",
            ms.update_rel_err, ms.worst_tensor, ms.update_rel_err_max);
    if (ms.update_rel_err > 0.1)
        cli_warn("the output type rounds away %.0f%% of the adapters' update; merge with "
                 "--out-type f16 or f32, or keep using the adapter with --lora",
                 100.0 * fmin(1.0, ms.update_rel_err));
    verify_result vr;
    memset(&vr, 0, sizeof vr);
    if (verify_text) {
        double tol = any_quant ? 0 : any_half ? 1e-2 : 1e-4;
        if ((rc = verify(&mo, out_path, verify_text, chunks, tol, &vr)))
            return rc;
        fprintf(stderr,
                "verify: runtime adapter PPL = %.4f +/- %.5f; merged model PPL = %.4f +/- %.5f; "
                "relative difference %.2e%s\n",
                fr_ppl_acc_ppl(&vr.runtime), fr_ppl_acc_err(&vr.runtime),
                fr_ppl_acc_ppl(&vr.merged), fr_ppl_acc_err(&vr.merged), vr.rel_diff,
                !vr.judged ? " (quantized output: not judged)"
                : vr.ok    ? " (ok)"
                           : " (TOO LARGE)");
    }
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:o, s:o, s:s, s:f}",
                              "base", mo.model, "out", out_path, "out_type", out_type,
                              "n_tensors", (json_int_t)ms.n_tensors, "n_merged",
                              (json_int_t)ms.n_merged, "n_fallback", (json_int_t)ms.n_fallback,
                              "bytes", (json_int_t)ms.bytes_out, "file_type", (int)ms.file_type,
                              "update_rel_err", num_or_null(ms.update_rel_err),
                              "update_rel_err_max", num_or_null(ms.update_rel_err_max),
                              "worst_tensor", ms.worst_tensor, "seconds", secs);
        if (j && verify_text)
            json_object_set_new(
                j, "verify",
                json_pack("{s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "text",
                          verify_text, "n_ctx", (int)vr.n_ctx, "n_chunks", (int)vr.n_chunks,
                          "runtime_ppl", num_or_null(fr_ppl_acc_ppl(&vr.runtime)),
                          "runtime_ppl_err", num_or_null(fr_ppl_acc_err(&vr.runtime)),
                          "merged_ppl", num_or_null(fr_ppl_acc_ppl(&vr.merged)),
                          "merged_ppl_err", num_or_null(fr_ppl_acc_err(&vr.merged)),
                          "rel_diff", num_or_null(vr.rel_diff), "tolerance",
                          vr.judged ? json_real(vr.tol) : json_null(), "ok", vr.ok));
        if (j) {
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
            fputc('\n', stdout);
            json_decref(j);
        }
    }
    if (verify_text && !vr.ok) {
        cli_error("verify: the merged model's perplexity differs from the runtime adapter's by "
                  "%.2e (tolerance %.0e); the merge is wrong", vr.rel_diff, vr.tol);
        return FR_EXIT_RUNTIME;
    }
    return FR_EXIT_OK;
}
