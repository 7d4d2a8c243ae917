/*
 * synth_cache.c - synthetic models by preset name, cached on disk.
 *
 * A benchmark of a 1B-parameter shape needs a 1 GB file; generating and
 * quantizing it takes a minute, so it is done once and kept. The file is
 * written atomically (temp + rename), so an interrupted generation never
 * leaves a truncated cache entry; an entry that no longer opens is rebuilt.
 * Mixed targets (q4_k_m) go through the real quantizer from an F16 file, so
 * the per-tensor types are exactly those `frugal quantize` (and llama.cpp)
 * would choose.
 */
#include <frugal/gguf.h>
#include <frugal/quant.h>
#include <frugal/synth.h>

#include "base/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fr_sc_progress {
    fr_synth_progress_fn fn;
    void *user;
    int stage;
} fr_sc_progress;

static void fr_sc_write_progress(void *u, uint64_t done, uint64_t total)
{
    fr_sc_progress *p = u;
    if (p->fn)
        p->fn(p->user, 0, done, total);
}

static void fr_sc_quant_progress(void *u, uint64_t done, uint64_t total)
{
    fr_sc_progress *p = u;
    if (p->fn)
        p->fn(p->user, 1, done, total);
}

fr_status fr_synth_cached(const char *spec, const char *dir, int n_threads,
                          fr_synth_progress_fn progress, void *user, char **path, fr_err *err)
{
    *path = NULL;
    char name[64], type[32] = "q8_0";
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nl == 0 || nl >= sizeof name || (colon && strlen(colon + 1) >= sizeof type))
        return fr_err_set(err, FR_E_INVALID, "synthetic model '%s': expected PRESET[:TYPE]", spec);
    memcpy(name, spec, nl);
    name[nl] = '\0';
    if (colon)
        snprintf(type, sizeof type, "%s", colon + 1);
    for (char *c = type; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    const fr_synth_preset *pr = fr_synth_preset_find(name);
    if (!pr)
        return fr_err_set(err, FR_E_INVALID,
                          "unknown synthetic preset '%s' (see `frugal bench --synthetic list`)",
                          name);
    fr_ftype ft;
    if (!fr_ftype_from_name(type, &ft))
        return fr_err_set(err, FR_E_INVALID,
                          "synthetic model '%s': unknown type '%s' (f32, f16, bf16, q8_0, q4_0, "
                          "q4_1, q5_0, q5_1, q4_k, q4_k_m, q5_k, q5_k_m, q6_k)", spec, type);
    char dbuf[4096];
    if (!dir) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(dbuf, sizeof dbuf, "%s/frugal/synthetic", xdg);
        else
            snprintf(dbuf, sizeof dbuf, "%s/.cache/frugal/synthetic", home && *home ? home : "/tmp");
        dir = dbuf;
    }
    fr_status st = fr_mkdir_p(dir, err);
    if (st)
        return st;
    size_t plen = strlen(dir) + strlen(name) + strlen(type) + 32;
    char *out = malloc(plen), *tmp = malloc(plen + 8);
    if (!out || !tmp) {
        free(out);
        free(tmp);
        return fr_err_set(err, FR_E_NOMEM, "out of memory");
    }
    snprintf(out, plen, "%s/%s-%s.gguf", dir, name, type);
    fr_gguf *g = NULL;
    if (fr_gguf_open(out, &g, NULL) == FR_OK) {
        fr_gguf_free(g);
        free(tmp);
        *path = out;
        return FR_OK;
    }
    fr_synth_spec s = pr->spec;
    fr_sc_progress pp = {progress, user, 0};
    bool direct = ft == FR_FTYPE_ALL_F32 || ft == FR_FTYPE_F16 || ft == FR_FTYPE_BF16;
    s.wtype = ft == FR_FTYPE_ALL_F32 ? FR_TYPE_F32 : ft == FR_FTYPE_BF16 ? FR_TYPE_BF16 : FR_TYPE_F16;
    s.embd_type = FR_TYPE_COUNT_;
    s.byte_vocab = true;
    snprintf(tmp, plen + 8, "%s/%s-f16-tmp.gguf", dir, name);
    st = fr_synth_write(&s, direct ? out : tmp, fr_sc_write_progress, &pp, err);
    if (st == FR_OK && !direct) {
        fr_quant_params qp = {ft, n_threads, false, fr_sc_quant_progress, &pp};
        st = fr_quantize_model(tmp, out, &qp, NULL, err);
    }
    if (!direct)
        unlink(tmp);
    free(tmp);
    if (st) {
        free(out);
        return fr_err_prefix(err, "creating synthetic model %s", spec);
    }
    *path = out;
    return FR_OK;
}
