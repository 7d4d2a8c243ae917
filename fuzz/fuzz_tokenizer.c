/*
 * fuzz_tokenizer - libFuzzer target for the tokenizers.
 *
 * The first byte picks what the rest of the input is:
 *   0-3   text for a small SentencePiece or byte-level BPE vocabulary (built
 *         once), with or without parse_special and BOS: encode, check every
 *         id is in range, decode all at once and through the streaming
 *         decoder (whose output must be valid UTF-8), and for BPE on valid
 *         UTF-8 input check decode(encode(s)) == s;
 *   4     a vocabulary: '\n'-separated tokens, the last quarter doubling as
 *         merges; build a gpt2, a llama and a bert tokenizer from it and
 *         encode a fixed text (bad vocabularies must fail cleanly);
 *   5     a llama2.c tokenizer file;
 *   6-7   text for a small WordPiece (bert) vocabulary, as 0-3 (lossy: no
 *         round trip).
 */
#include "text/utf8.h"

#include <frugal/tokenizer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SP "\xe2\x96\x81"

static fr_tokenizer *g_spm, *g_bpe, *g_wpm;

static void build_once(void)
{
    if (g_spm)
        return;
    static const char *spm_words[] = {SP,   "a",        "b",   "ab",    SP "a", SP "ab",
                                      "ba", "\xc3\xa9", SP SP, "<|x|>", "<u>"};
    static char bytes[256][8];
    const char *tok[3 + 256 + 11];
    float score[3 + 256 + 11];
    int32_t type[3 + 256 + 11];
    uint32_t n = 0;
    tok[n] = "<unk>", type[n] = FR_TOKEN_UNKNOWN, score[n++] = 0;
    tok[n] = "<s>", type[n] = FR_TOKEN_CONTROL, score[n++] = 0;
    tok[n] = "</s>", type[n] = FR_TOKEN_CONTROL, score[n++] = 0;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tok[n] = bytes[b], type[n] = FR_TOKEN_BYTE, score[n++] = 0;
    }
    for (int i = 0; i < 11; i++) {
        tok[n] = spm_words[i];
        type[n] = i == 9 ? FR_TOKEN_CONTROL : i == 10 ? FR_TOKEN_USER_DEFINED : FR_TOKEN_NORMAL;
        score[n++] = -(float)(i % 4);
    }
    fr_tokenizer_desc d;
    fr_tokenizer_desc_init(&d);
    d.model = "llama";
    d.n_tokens = n;
    d.tokens = tok;
    d.scores = score;
    d.token_types = type;
    if (fr_tokenizer_create(&d, &g_spm, NULL))
        abort();

    /* byte-level BPE: all 256 byte symbols plus a few merges */
    static char bl[256][5];
    const char *btok[256 + 8];
    int32_t btype[256 + 8];
    for (int b = 0; b < 256; b++) {
        size_t l = fr_utf8_encode(fr_bytelevel_cp((uint8_t)b), bl[b]);
        bl[b][l] = 0;
        btok[b] = bl[b], btype[b] = FR_TOKEN_NORMAL;
    }
    static const char *more[] = {"\304\240a", "ab",  "\304\240ab",
                                 "<|x|>",     "<u>", "\303\203\302\251"};
    for (int i = 0; i < 6; i++)
        btok[256 + i] = more[i], btype[256 + i] = i == 3   ? FR_TOKEN_CONTROL
                                                  : i == 4 ? FR_TOKEN_USER_DEFINED
                                                           : FR_TOKEN_NORMAL;
    static const char *merges[] = {"\304\240 a", "a b", "\304\240a b", "\303\203 \302\251"};
    fr_tokenizer_desc_init(&d);
    d.model = "gpt2";
    d.pre = "llama-bpe";
    d.n_tokens = 262;
    d.tokens = btok;
    d.token_types = btype;
    d.n_merges = 4;
    d.merges = merges;
    d.bos = 258, d.eos = 259;
    if (fr_tokenizer_create(&d, &g_bpe, NULL))
        abort();

    static const char *wtok[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", SP "a", "b",
                                 SP "ab", SP "\xc3\xa9", "\xc3\xa9", SP "!", SP "\xe4\xbd\xa0"};
    int32_t wtype[11];
    for (int i = 0; i < 11; i++)
        wtype[i] = i < 4 ? FR_TOKEN_CONTROL : FR_TOKEN_NORMAL;
    fr_tokenizer_desc_init(&d);
    d.model = "bert";
    d.n_tokens = 11;
    d.tokens = wtok;
    d.token_types = wtype;
    d.pad = 0, d.unk = 1, d.bos = 2, d.sep = 3;
    if (fr_tokenizer_create(&d, &g_wpm, NULL))
        abort();
}

static void check_text(const fr_tokenizer *t, const uint8_t *s, size_t n, bool special, bool bpe)
{
    fr_encode_opts o = {special ? 1 : 0, 0, special};
    int32_t *ids = NULL;
    size_t nid = 0;
    if (fr_tokenize(t, (const char *)s, n, &o, &ids, &nid, NULL))
        abort();
    for (size_t i = 0; i < nid; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= fr_tokenizer_n_tokens(t))
            abort();
    char *back = NULL;
    size_t bl = 0;
    if (fr_detokenize(t, ids, nid, special ? FR_DECODE_SPECIAL : 0, &back, &bl, NULL))
        abort();
    /* byte-level BPE is lossless on valid UTF-8 without special tokens */
    if (bpe && !special && fr_utf8_valid_prefix((const char *)s, n) == n &&
        (bl != n || memcmp(back, s, n) != 0))
        abort();
    free(back);
    fr_decoder *d = NULL;
    if (fr_decoder_create(t, special ? FR_DECODE_SPECIAL : 0, &d, NULL))
        abort();
    for (size_t i = 0; i < nid; i++) {
        const char *p;
        size_t pl;
        if (fr_decoder_push(d, ids[i], &p, &pl, NULL) || fr_utf8_valid_prefix(p, pl) != pl)
            abort();
    }
    const char *p;
    size_t pl;
    fr_decoder_flush(d, &p, &pl);
    if (fr_utf8_valid_prefix(p, pl) != pl)
        abort();
    fr_decoder_free(d);
    free(ids);
}

static void check_vocab(const uint8_t *s, size_t n)
{
    const char *tok[256];
    uint32_t lens[256], nt = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && nt < 256; i++) {
        if (i == n || s[i] == '\n') {
            tok[nt] = (const char *)s + start;
            lens[nt++] = (uint32_t)(i - start);
            start = i + 1;
        }
    }
    static const char *models[] = {"gpt2", "llama", "bert"};
    for (int m = 0; m < 3; m++) {
        fr_tokenizer_desc d;
        fr_tokenizer_desc_init(&d);
        d.model = models[m];
        static const char *pres[] = {"qwen2",  "deepseek-llm", "default",        "tekken",
                                     "gpt-4o", "falcon",       "deepseek-coder", "bloom"};
        d.pre = pres[nt % 8];
        d.n_tokens = nt;
        d.tokens = tok;
        d.token_lens = lens;
        d.n_merges = nt / 4;
        d.merges = tok + nt - nt / 4;
        d.merge_lens = lens + nt - nt / 4;
        d.add_bos = 0;
        fr_tokenizer *t = NULL;
        if (fr_tokenizer_create(&d, &t, NULL) == FR_OK) {
            static const char txt[] = "Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd \xff\n";
            int32_t *ids = NULL;
            size_t nid;
            fr_encode_opts o = {0, 0, true};
            if (fr_tokenize(t, txt, sizeof txt - 1, &o, &ids, &nid, NULL))
                abort();
            free(ids);
            fr_tokenizer_free(t);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    build_once();
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 8;
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    switch (mode) {
    case 0:
    case 1: check_text(g_spm, s, n, mode == 1, false); break;
    case 2:
    case 3: check_text(g_bpe, s, n, mode == 3, true); break;
    case 4: check_vocab(s, n); break;
    case 6:
    case 7: check_text(g_wpm, s, n, mode == 7, false); break;
    case 5: {
        fr_llama2c_vocab *v = NULL;
        if (fr_llama2c_vocab_parse(s, n, "fuzz", 0, &v, NULL) == FR_OK) {
            fr_tokenizer *t = NULL;
            if (fr_tokenizer_from_llama2c(v, &t, NULL) == FR_OK) {
                int32_t *ids = NULL;
                size_t nid;
                if (fr_tokenize(t, "Once upon a time", 16, NULL, &ids, &nid, NULL))
                    abort();
                free(ids);
                fr_tokenizer_free(t);
            }
            fr_llama2c_vocab_free(v);
        }
        break;
    }
    }
    return 0;
}
