/* libFuzzer target: training-data files (frugal tune -d) and checkpoint
 * state are hostile input. The training-data loader gets the bytes as a
 * .txt file, as JSONL in each format (chat rendered with ChatML), with a
 * small n_ctx so windows, truncation and masks are all exercised; every
 * produced sample is then checked against the dataset's invariants and
 * rendered for --dump-masks.
 *
 * Byte 0 chooses the format and n_ctx; the rest is the file. The
 * tokenizer is byte-level (each byte a token, ChatML markers special),
 * built once. */
#include <frugal/chat.h>
#include <frugal/tokenizer.h>
#include <frugal/tune.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fr_tokenizer *fz_tok;
static fr_chat_template *fz_tmpl;

static void fz_init(void)
{
    static char store[256][4];
    static const char *toks[259];
    static int32_t types[259];
    int n = 0;
    for (unsigned b = 0; b < 256; b++) {
        bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        unsigned cp = self ? b : 256 + (unsigned)n++;
        if (cp < 0x80) {
            store[b][0] = (char)cp;
            store[b][1] = 0;
        } else {
            store[b][0] = (char)(0xC0 | (cp >> 6));
            store[b][1] = (char)(0x80 | (cp & 0x3F));
            store[b][2] = 0;
        }
        toks[b] = store[b];
        types[b] = FR_TOKEN_NORMAL;
    }
    toks[256] = "<|im_start|>";
    toks[257] = "<|im_end|>";
    toks[258] = "<|endoftext|>";
    types[256] = types[257] = types[258] = FR_TOKEN_CONTROL;
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    d.model = "gpt2";
    d.pre = "default";
    d.n_tokens = 259;
    d.tokens = toks;
    d.token_types = types;
    d.bos = d.eos = 258;
    d.add_bos = 1;
    if (fr_tokenizer_create(&d, &fz_tok, NULL) != FR_OK ||
        fr_chat_template_from_name("chatml", &fz_tmpl, NULL) != FR_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_tok)
        fz_init();
    if (size < 1)
        return 0;
    static const char *const names[] = {"f.txt", "f.jsonl", "f.jsonl", "f.jsonl"};
    static const fr_data_format fmts[] = {FR_DATA_TEXT, FR_DATA_AUTO, FR_DATA_CHAT,
                                          FR_DATA_PROMPT_COMPLETION};
    int k = data[0] & 3;
    uint32_t ctx = 1u + (data[0] >> 2) * 3u;
    fr_dataset_opts o = {fmts[k], ctx, fz_tmpl, (data[0] & 0x80) != 0};
    fr_dataset *d = NULL;
    if (fr_dataset_load_memory((const char *)data + 1, size - 1, names[k], fz_tok, &o, &d,
                               NULL) == FR_OK) {
        for (size_t i = 0; i < fr_dataset_count(d); i++) {
            const int32_t *t;
            const uint8_t *m;
            uint32_t n;
            fr_dataset_sample(d, i, &t, &m, &n);
            uint32_t learned = 0;
            for (uint32_t j = 0; j < n; j++) {
                if (t[j] < 0 || t[j] >= 259)
                    abort();
                learned += m[j] != 0;
            }
            if (n < 2 || n > ctx + 1 || m[0] != 0 || learned == 0)
                abort();
            if (i < 2) {
                char *text = NULL;
                if (fr_dataset_render_mask(d, i, fz_tok, "[", "]", &text, NULL) == FR_OK)
                    free(text);
            }
        }
        fr_dataset *v = NULL;
        if (fr_dataset_split(d, 0.3, data[0], &v, NULL) == FR_OK)
            fr_dataset_free(v);
        (void)fr_dataset_fingerprint(d);
        fr_dataset_free(d);
    }
    return 0;
}
