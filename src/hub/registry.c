/*
 * registry.c - the short names `frugal pull` knows, as a read-only table.
 *
 * Every entry is a small instruct model in GGUF on Hugging Face. Sizes and
 * sha256 digests are copied from the repository's own Git LFS pointer (the
 * "SHA256" / "size" shown on the file page), read at the pinned revision, so
 * that a download is checked against what the publisher uploaded. Where a
 * digest could not be confirmed from the publisher's page it is left NULL
 * and the download is checked against the server's Content-Length and, on
 * Hugging Face, the X-Linked-Etag header (the LFS sha256) instead; a made-up
 * or second-hand digest would be worse than none.
 *
 * Pinned revisions (full commit ids) rather than "main" keep a digest valid
 * when the publisher later replaces the file; entries without a digest
 * follow "main".
 */
#include <frugal/hub.h>

#include <strings.h>

static const fr_hub_model fr_hub_table[] = {
    /* SmolLM2: llama architecture, Q8_0 - the simplest quantized layout. */
    {"smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "main",
     "smollm2-135m-instruct-q8_0.gguf", 0, NULL, "llama", "Q8_0", "135M", "Apache-2.0"},
    {"smollm2-360m", "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF", "main",
     "smollm2-360m-instruct-q8_0.gguf", 0, NULL, "llama", "Q8_0", "360M", "Apache-2.0"},
    /* Qwen2.5 (qwen2 architecture: q/k/v biases), the publisher's own GGUFs. */
    {"qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "12145bd1d629190a4d44254073650877954d02c9",
     "qwen2.5-0.5b-instruct-q4_k_m.gguf", 491400032ull,
     "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db", "qwen2", "Q4_K_M", "0.5B",
     "Apache-2.0"},
    {"qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "91cad51170dc346986eccefdc2dd33a9da36ead9",
     "qwen2.5-1.5b-instruct-q4_k_m.gguf", 1117320736ull,
     "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e", "qwen2", "Q4_K_M", "1.5B",
     "Apache-2.0"},
    /* Llama 3.2 (rope scaling, rope_freqs); Meta's own repo is gated, this
     * conversion is not. */
    {"llama-3.2-1b", "bartowski/Llama-3.2-1B-Instruct-GGUF",
     "d52af3776f99ddf220e5ffd3f93b2a4e4df105be", "Llama-3.2-1B-Instruct-Q4_K_M.gguf", 807694464ull,
     "6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83", "llama", "Q4_K_M", "1.2B",
     "Llama 3.2 Community"},
};

const fr_hub_model *fr_hub_registry(size_t *n)
{
    *n = sizeof fr_hub_table / sizeof fr_hub_table[0];
    return fr_hub_table;
}

const fr_hub_model *fr_hub_find(const char *name)
{
    if (!name)
        return NULL;
    size_t n;
    const fr_hub_model *t = fr_hub_registry(&n);
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* qwen2.5-0.5b: the smallest entry whose digest is published, and a model
 * that answers sensibly; smollm2-135m downloads faster but answers poorly. */
const char *fr_hub_default_model(void)
{
    return "qwen2.5-0.5b";
}
