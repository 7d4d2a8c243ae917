/*
 * pretok.c - the pre-tokenizer table and the splitter (see pretok.h).
 *
 * The expressions are llama.cpp's (llama-vocab.cpp, unicode.cpp), rewritten
 * where its engine and a literal PCRE2 reading of the same text differ, so
 * that the ids match the recorded vectors:
 *
 *  - \s is llama.cpp's whitespace set, Unicode White_Space (U+0009-000D,
 *    0020, 0085, 00A0, 1680, 2000-200A, 2028, 2029, 202F, 205F, 3000),
 *    spelled out as WS: PCRE2's own \s lacks U+0085.
 *  - llama.cpp runs the GPT-2 and Llama-3 expressions as hand-written code
 *    that also matches a trailing \s+, so those get "|\s+" appended.
 *  - Its std::wregex path rewrites non-ASCII whitespace to U+000B before
 *    matching, so a literal character range never matches those code
 *    points; the CJK and punctuation ranges of the DeepSeek expressions are
 *    split around them here.
 *  - \s+$ becomes (?<!\s)\s+$ (same matches; without the look-behind a long
 *    run of spaces not at the end costs quadratic time), and $ means only
 *    the end of the piece (PCRE2_DOLLAR_ENDONLY, as in ECMAScript).
 *
 * Rejected: porting llama.cpp's hand-written character-class code (the
 * task is to express each rule as a regular expression), and std::regex's
 * byte "collapsing" trick (PCRE2 knows Unicode properties directly).
 */
#include "text/pretok.h"

#include <stdlib.h>
#include <string.h>

#define WS                                                                                         \
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}" \
    "\\x{3000}"
#define S "[" WS "]"
#define NS "[^" WS "]"

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
#define RE_GPT2                                                                                    \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" S "+(?!" NS ")|" S "+"

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
#define RE_CONTRACTIONS "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"
#define RE_LLAMA3_TAIL "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|" S "*[\\r\\n]+|" S "+(?!" NS ")|" S "+"
#define RE_LLAMA3 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" RE_LLAMA3_TAIL
#define RE_QWEN2 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" RE_LLAMA3_TAIL

/* Mistral's tekken and GPT-4o / Llama 4: llama.cpp's adapted expressions,
 * where "an upper-case letter" is ((?=[\p{L}])([^a-z])) - a letter that is
 * not a-z - written here as the single class [^\P{L}a-z] (same set; a class
 * needs no backtracking frames, a repeated group would run out of JIT stack
 * on a long word). Not covered by the shared vectors. */
#define RE_UPPER "[^\\P{L}a-z]"
#define RE_LOWER "[^\\P{L}A-Z]"
#define RE_TEKKEN                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER             \
    "+" RE_LOWER "*|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|" S "*[\\r\\n]+|" S "+(?!" NS ")|" S \
    "+"
#define RE_GPT4O                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+(?:" RE_CONTRACTIONS                          \
    ")?|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER "*(?:" RE_CONTRACTIONS                       \
    ")?|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|" S "*[\\r\\n]+|" S "+(?!" NS ")|" S "+"

/* [一-龥ࠀ-一가-퟿]+ without the whitespace code points inside U+0800-U+4E00 */
#define RE_CJK                                                                                     \
    "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}"                \
    "\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{4E00}"                 \
    "\\x{AC00}-\\x{D7FF}]+"

#define RE_DEEPSEEK_LETTERS                                                                        \
    S "?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"             \
      "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"       \
      "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"                \
      "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"                     \
      "\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"               \
      "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"               \
      "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}"               \
      "\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}"       \
      "\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}"      \
      "\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"                \
      "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}"                 \
      "\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"      \
      "\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"       \
      "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"                \
      "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"               \
      "\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"             \
      "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"       \
      "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"

/* \s?[!-/:-~！-／：-～‘-‟　-。]+ (U+3000 is whitespace: only 3001-3002 match) */
#define RE_DEEPSEEK_PUNCT                                                                          \
    S "?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3001}-\\x{3002}]+"

/* " ?[^(\s|.,!?…。，、।۔،)]+" */
#define RE_BLOOM                                                                                   \
    " ?[^(" WS "|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+"

/* Flags not listed are false. clean_spaces: llama.cpp's default for BPE is
 * true and these pre-tokenizers turn it off: deepseek-*, qwen2, smollm,
 * command-r, tekken, gpt-4o, poro/bloom, viking. */
static const fr_pretok_def k_defs[] = {
    {.names = "default",
     .re = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     .clean_spaces = true},
    {.names = "llama-bpe|llama3|llama-v3|falcon3|falcon-h1|pixtral|midm-2.0|lfm2",
     .re = {RE_LLAMA3},
     .ignore_merges = true,
     .add_bos = true,
     .clean_spaces = true},
    {.names = "dbrx|smaug-bpe", .re = {RE_LLAMA3}, .clean_spaces = true},
    {.names = "chatglm-bpe|glm4", .re = {RE_LLAMA3}, .clean_spaces = true, .no_bos = true},
    {.names = "deepseek-llm",
     .re = {"[\\r\\n]", RE_DEEPSEEK_LETTERS, RE_DEEPSEEK_PUNCT, "(?<!" S ")" S "+$", RE_CJK,
            "\\p{N}+"}},
    {.names = "deepseek-coder", .re = {"[\\r\\n]", S "?\\p{L}+", S "?\\p{P}+", RE_CJK, "\\p{N}"}},
    {.names = "falcon",
     .re = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"},
     .clean_spaces = true},
    {.names = "gpt-2|mpt|olmo|jais|phi-2|jina-es|jina-de|jina-v2-es|jina-v2-de|gigachat|"
              "roberta-bpe|jina-v1-en|jina-v2-code|exaone4",
     .re = {RE_GPT2},
     .clean_spaces = true},
    {.names = "starcoder|refact|codeshell|exaone|minerva-7b",
     .re = {"\\p{N}", RE_GPT2},
     .clean_spaces = true},
    {.names = "smollm|command-r", .re = {"\\p{N}", RE_GPT2}},
    {.names = "qwen2|deepseek-r1-qwen|megrez|stablelm2", .re = {RE_QWEN2}},
    {.names = "tekken", .re = {RE_TEKKEN}, .ignore_merges = true, .add_bos = true},
    {.names = "gpt-4o|llama4", .re = {RE_GPT4O}},
    {.names = "poro-chat|bloom|gpt3-finnish", .re = {RE_BLOOM}},
    {.names = "viking", .re = {RE_BLOOM, "\\p{N}"}},
};

const fr_pretok_def *fr_pretok_find(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof k_defs / sizeof k_defs[0]; i++) {
        const char *p = k_defs[i].names;
        while (*p) {
            const char *e = strchr(p, '|');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len == n && memcmp(p, name, n) == 0)
                return &k_defs[i];
            if (!e)
                break;
            p = e + 1;
        }
    }
    return NULL;
}

const char *fr_pretok_names(void)
{
    return "default|llama-bpe|llama3|llama-v3|falcon3|falcon-h1|pixtral|midm-2.0|lfm2|dbrx|"
           "smaug-bpe|chatglm-bpe|glm4|deepseek-llm|deepseek-coder|falcon|gpt-2|mpt|olmo|jais|"
           "phi-2|jina-es|jina-de|jina-v2-es|jina-v2-de|gigachat|roberta-bpe|jina-v1-en|"
           "jina-v2-code|exaone4|starcoder|refact|codeshell|exaone|minerva-7b|smollm|command-r|"
           "qwen2|deepseek-r1-qwen|megrez|stablelm2|tekken|gpt-4o|llama4|poro-chat|bloom|"
           "gpt3-finnish|viking";
}

fr_status fr_pretok_compile(const fr_pretok_def *def, fr_pretok *out, fr_err *err)
{
    memset(out, 0, sizeof *out);
    out->def = def;
    for (int i = 0; i < FR_PRETOK_MAX_RE && def->re[i]; i++) {
        int code;
        PCRE2_SIZE off;
        pcre2_code *re =
            pcre2_compile((PCRE2_SPTR)def->re[i], PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &code, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            fr_pretok_release(out);
            return fr_err_set(
                err, FR_E_INTERNAL,
                "pre-tokenizer '%s': expression %d does not compile at offset %zu: %s", def->names,
                i + 1, (size_t)off, (const char *)msg);
        }
        out->re[i] = re;
        out->jit[i] = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
        out->n = i + 1;
    }
    return FR_OK;
}

void fr_pretok_release(fr_pretok *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        pcre2_code_free(p->re[i]);
    memset(p, 0, sizeof *p);
}

void fr_spans_free(fr_spans *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool spans_push(fr_spans *s, uint32_t off, uint32_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        fr_span *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].off = off;
    s->v[s->n].len = len;
    s->n++;
    return true;
}

/* Byte length of the UTF-8 character starting at s (valid input). */
static uint32_t char_len(uint8_t b)
{
    return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

static fr_status split_one(const fr_pretok *p, int r, const char *text, const fr_spans *in,
                           fr_spans *out, pcre2_match_data *md, fr_err *err)
{
    out->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        uint32_t base = in->v[k].off, len = in->v[k].len;
        PCRE2_SPTR subj = (PCRE2_SPTR)(text + base);
        uint32_t pos = 0, gap = 0; /* gap: start of text not yet emitted */
        while (pos < len) {
            int rc = p->jit[r]
                         ? pcre2_jit_match(p->re[r], subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL)
                         : pcre2_match(p->re[r], subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return fr_err_set(err, FR_E_INTERNAL, "pre-tokenizer '%s': matching failed: %s",
                                  p->def->names, (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            uint32_t s = (uint32_t)ov[0], e = (uint32_t)ov[1];
            if (e <= s) { /* empty match: emits nothing, move one character on */
                pos = s + char_len((uint8_t)subj[s]);
                continue;
            }
            if (s > gap && !spans_push(out, base + gap, s - gap))
                goto nomem;
            if (!spans_push(out, base + s, e - s))
                goto nomem;
            gap = pos = e;
        }
        if (gap < len && !spans_push(out, base + gap, len - gap))
            goto nomem;
    }
    return FR_OK;
nomem:
    return fr_err_set(err, FR_E_NOMEM, "pre-tokenizer: out of memory splitting %zu pieces", in->n);
}

fr_status fr_pretok_split(const fr_pretok *p, const char *text, size_t len, fr_spans *out,
                          fr_spans *tmp, fr_err *err)
{
    out->n = 0;
    if (len == 0)
        return FR_OK;
    if (len > UINT32_MAX)
        return fr_err_set(err, FR_E_RANGE, "pre-tokenizer: text of %zu bytes is too long", len);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md)
        return fr_err_set(err, FR_E_NOMEM, "pre-tokenizer: out of memory");
    fr_status st = FR_OK;
    if (!spans_push(out, 0, (uint32_t)len)) {
        st = fr_err_set(err, FR_E_NOMEM, "pre-tokenizer: out of memory");
        goto done;
    }
    for (int r = 0; r < p->n; r++) {
        st = split_one(p, r, text, out, tmp, md, err);
        if (st)
            goto done;
        fr_spans t = *out; /* swap: the new pieces become the input of the next expression */
        *out = *tmp;
        *tmp = t;
    }
done:
    pcre2_match_data_free(md);
    return st;
}
