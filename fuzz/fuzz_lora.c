/* libFuzzer target for the LoRA adapter loader: the input is opened as a
 * GGUF file in memory and loaded against a small random llama model
 * (written once per process to a temporary file). Every failure must carry
 * a message naming the adapter; a loaded adapter's pairs must have the base
 * weight's shapes. Seeds: fuzz/seeds/fuzz_lora/, adapters for that model
 * (rank 1 and 3, F32 and F16, alpha 2 and 0) written by
 * fr_lora_write. */
#include "model/lora_impl.h"

#include <frugal/gguf.h>
#include <frugal/synth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The model the seeds were written for: keep in step with fuzz/seeds/fuzz_lora. */
static fr_model *fuzz_base(void)
{
    static fr_model *m; /* created once per fuzzing process */
    if (m)
        return m;
    fr_synth_spec s = {0};
    s.arch = "llama";
    s.n_vocab = 32;
    s.n_embd = 32;
    s.n_layer = 2;
    s.n_ff = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ctx = 64;
    s.wtype = FR_TYPE_F32;
    s.embd_type = FR_TYPE_COUNT_;
    s.seed = 1;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_lora_base_%d.gguf", (int)getpid());
    fr_err e;
    if (fr_synth_write(&s, path, NULL, NULL, &e) || fr_model_load(path, &m, &e)) {
        fprintf(stderr, "fuzz_lora: %s\n", e.msg);
        abort();
    }
    unlink(path); /* the mapping stays valid */
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_model *m = fuzz_base();
    fr_gguf *g = NULL;
    fr_err err;
    if (fr_gguf_open_memory(data, size, "fuzz.gguf", &g, &err) != FR_OK)
        return 0; /* the reader has its own target */
    fr_lora *a = NULL;
    fr_status st = fr_lora_load_gguf(g, "fuzz.gguf", m, &a, &err);
    if (st != FR_OK) {
        if (a || !strstr(err.msg, "fuzz.gguf"))
            abort();
    } else {
        for (size_t i = 0; i < fr_lora_n_pairs(a); i++) {
            fr_lora_pair_info pi;
            if (fr_lora_pair(a, i, &pi, &err) != FR_OK)
                abort();
            const fr_gguf_tensor *w = fr_gguf_find_tensor(fr_model_gguf(m), pi.name);
            if (!w || w->ne[0] != pi.n_in || w->ne[1] != pi.n_out || pi.rank < 1)
                abort();
        }
        fr_lora_free(a);
    }
    fr_gguf_free(g);
    return 0;
}
