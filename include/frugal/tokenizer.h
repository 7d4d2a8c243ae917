/*
 * frugal/tokenizer.h - text <-> token ids, exactly as llama.cpp splits them.
 *
 * A tokenizer is built from a vocabulary: either the tokenizer.ggml.* keys of
 * a GGUF file (fr_tokenizer_from_gguf) or plain arrays (fr_tokenizer_create,
 * which the GGUF loader and the llama2.c importer both call). Supported
 * tokenizer.ggml.model values:
 *
 *   "llama"  SentencePiece-style: score-ordered merges of adjacent pieces,
 *            byte fallback to <0xNN> tokens, ' ' written as U+2581, a space
 *            prefix on the first piece (add_space_prefix).
 *   "gpt2"   byte-level BPE ranked by tokenizer.ggml.merges, after a
 *            pre-tokenizer named by tokenizer.ggml.pre (PCRE2 expressions).
 *
 * An unknown model or pre-tokenizer is an error that names it and lists the
 * supported ones; a gpt2 vocabulary without tokenizer.ggml.pre uses "default"
 * (as llama.cpp does) and fr_tokenizer_warning() says so.
 *
 * A tokenizer is immutable once built: every function here may be called from
 * several threads at once on the same handle (fr_decoder is per stream).
 * Input text is hostile: any bytes (invalid UTF-8, NULs) are accepted and the
 * cost of encoding is close to linear in the input length.
 */
#ifndef FRUGAL_TOKENIZER_H
#define FRUGAL_TOKENIZER_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_tokenizer fr_tokenizer;
typedef struct fr_gguf fr_gguf;

/* Token types, with the values GGUF stores in tokenizer.ggml.token_type. */
typedef enum fr_token_type {
    FR_TOKEN_UNDEFINED = 0,
    FR_TOKEN_NORMAL = 1,
    FR_TOKEN_UNKNOWN = 2,
    FR_TOKEN_CONTROL = 3,
    FR_TOKEN_USER_DEFINED = 4,
    FR_TOKEN_UNUSED = 5,
    FR_TOKEN_BYTE = 6
} fr_token_type;

#define FR_TOKEN_NONE (-1)    /* "no such token" (e.g. no EOT token) */
#define FR_TOKEN_DEFAULT (-2) /* in fr_tokenizer_desc: use the model's default id */

/* Everything a tokenizer is built from. Arrays are borrowed for the duration
 * of fr_tokenizer_create only (everything is copied). Start from
 * fr_tokenizer_desc_init() so that new fields keep their defaults. */
typedef struct fr_tokenizer_desc {
    const char *model; /* tokenizer.ggml.model: "llama" or "gpt2" */
    const char *pre;   /* tokenizer.ggml.pre; NULL = absent */
    const char *name;  /* general.name (a few per-model rules key on it); may be NULL */

    uint32_t n_tokens;
    const char *const *tokens;  /* n_tokens strings */
    const uint32_t *token_lens; /* byte lengths; NULL = NUL-terminated strings */
    const float *scores;        /* NULL = all 0 */
    const int32_t *token_types; /* fr_token_type values; NULL = all NORMAL */

    uint32_t n_merges; /* gpt2 only: "left right" strings, rank = index */
    const char *const *merges;
    const uint32_t *merge_lens; /* NULL = NUL-terminated */

    /* Special token ids: FR_TOKEN_DEFAULT = the model's default (llama: bos 1,
     * eos 2, unk 0; gpt2: bos = eos = 11), FR_TOKEN_NONE = absent. Ids out of
     * range are ignored, as llama.cpp does. */
    int32_t bos, eos, eot, eom, unk, sep, pad, mask;

    /* -1 = the model's default, 0 = false, 1 = true. remove_extra_whitespaces is
     * kept but, as in llama.cpp, changes nothing for these models. */
    int add_bos, add_eos, add_space_prefix, remove_extra_whitespaces;
} fr_tokenizer_desc;

FR_API void fr_tokenizer_desc_init(fr_tokenizer_desc *d);

/* Builds a tokenizer (hash maps for token->id and merge pair->rank, the
 * pre-tokenizer's compiled expressions, a piece cache). Owned by caller; free
 * with fr_tokenizer_free. Errors: unknown model or pre-tokenizer, duplicate
 * token text, a special id needed for add_bos/add_eos that is absent. */
FR_API fr_status fr_tokenizer_create(const fr_tokenizer_desc *d, fr_tokenizer **out, fr_err *err);

/* From the tokenizer.ggml.* keys of an open GGUF (borrowed; the tokenizer
 * copies what it needs and does not keep g). */
FR_API fr_status fr_tokenizer_from_gguf(const fr_gguf *g, fr_tokenizer **out, fr_err *err);

/* Opens path as GGUF, builds its tokenizer, closes the file. */
FR_API fr_status fr_tokenizer_load(const char *path, fr_tokenizer **out, fr_err *err);

FR_API void fr_tokenizer_free(fr_tokenizer *t);

/* ---- facts about the vocabulary ------------------------------------------ */

FR_API uint32_t fr_tokenizer_n_tokens(const fr_tokenizer *t);
FR_API const char *fr_tokenizer_model(const fr_tokenizer *t); /* "llama", "gpt2" */
FR_API const char *fr_tokenizer_pre(const fr_tokenizer *t);   /* "default", "llama-bpe", ... */
/* A note the caller should show the user (e.g. missing pre-tokenizer); NULL if none. */
FR_API const char *fr_tokenizer_warning(const fr_tokenizer *t);
/* '|'-separated lists, for help and error text. */
FR_API const char *fr_tokenizer_supported_models(void);
FR_API const char *fr_tokenizer_supported_pre(void);

/* Special ids; FR_TOKEN_NONE when absent. */
FR_API int32_t fr_tokenizer_bos(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_eos(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_eot(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_eom(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_unk(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_sep(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_pad(const fr_tokenizer *t);
FR_API int32_t fr_tokenizer_nl(const fr_tokenizer *t); /* the token of "\n" */
FR_API bool fr_tokenizer_add_bos(const fr_tokenizer *t);
FR_API bool fr_tokenizer_add_eos(const fr_tokenizer *t);
/* End of generation: eos, eot, eom and the tokens llama.cpp recognises by
 * text (<|im_end|>, <|eot_id|>, <end_of_turn>, ...). */
FR_API bool fr_tokenizer_is_eog(const fr_tokenizer *t, int32_t id);
/* CONTROL or UNKNOWN: rendered as text only when asked (FR_DECODE_SPECIAL). */
FR_API bool fr_tokenizer_is_control(const fr_tokenizer *t, int32_t id);

/* The stored text of a token (e.g. "▁the", "Ġthe", "<0x0A>"), not
 * NUL-terminated; NULL for an id out of range. Borrowed. */
FR_API const char *fr_tokenizer_token_text(const fr_tokenizer *t, int32_t id, size_t *len);
FR_API float fr_tokenizer_token_score(const fr_tokenizer *t, int32_t id);
FR_API fr_token_type fr_tokenizer_token_type(const fr_tokenizer *t, int32_t id);
/* Id of the token whose stored text is exactly text[0..len); FR_TOKEN_NONE if none. */
FR_API int32_t fr_tokenizer_find(const fr_tokenizer *t, const char *text, size_t len);

/* ---- encoding ------------------------------------------------------------ */

typedef struct fr_encode_opts {
    int add_bos;        /* -1 = as the vocabulary says (add_bos_token), 0 = no, 1 = yes */
    int add_eos;        /* same for EOS */
    bool parse_special; /* match CONTROL/UNKNOWN token text in the input (llama.cpp's
                         * parse_special); USER_DEFINED tokens always match */
} fr_encode_opts;

#define FR_ENCODE_DEFAULTS                                                                         \
    {                                                                                              \
        -1, -1, false                                                                              \
    }

/* Splits text[0..len) into token ids. opts NULL = FR_ENCODE_DEFAULTS.
 * *ids is malloc'd (caller frees; non-NULL even when *n_ids is 0). Inputs
 * larger than FR_TOKENIZE_MAX_BYTES fail with FR_E_RANGE. */
#define FR_TOKENIZE_MAX_BYTES ((size_t)256 << 20)
FR_API fr_status fr_tokenize(const fr_tokenizer *t, const char *text, size_t len,
                             const fr_encode_opts *opts, int32_t **ids, size_t *n_ids, fr_err *err);

/* ---- decoding ------------------------------------------------------------ */

enum {
    FR_DECODE_SPECIAL = 1u << 0,          /* render CONTROL/UNKNOWN tokens' text */
    FR_DECODE_REMOVE_SPECIAL = 1u << 1,   /* drop a leading BOS / trailing EOS the
                                           * vocabulary adds (llama.cpp remove_special) */
    FR_DECODE_CLEAN_SPACES = 1u << 2,     /* apply the vocabulary's
                                           * clean_up_tokenization_spaces rule (" ." -> ".") */
    FR_DECODE_KEEP_PREFIX_SPACE = 1u << 3, /* keep the space SentencePiece vocabularies
                                            * put before the first word */
    FR_DECODE_BYTES = 1u << 4              /* fr_decoder: each token's bytes as they are,
                                            * no UTF-8 hold-back or repair (with
                                            * KEEP_PREFIX_SPACE the stream is exactly the
                                            * tokens' pieces, as `frugal ask` scores them) */
};

/* The bytes of one token as text (▁ -> ' ', <0xNN> -> that byte, byte-level
 * BPE characters -> their bytes). CONTROL/UNKNOWN/UNUSED tokens give "" unless
 * FR_DECODE_SPECIAL. Borrowed, valid while t lives; not NUL-terminated.
 * NULL for an id out of range. */
FR_API const char *fr_token_piece(const fr_tokenizer *t, int32_t id, unsigned flags, size_t *len);

/* Concatenated text of ids (may contain invalid UTF-8 if the ids do). Without
 * FR_DECODE_KEEP_PREFIX_SPACE, strips the leading space that the llama model
 * added, as llama.cpp's detokenize does. *text is malloc'd and NUL-terminated;
 * an id out of range is FR_E_RANGE. */
FR_API fr_status fr_detokenize(const fr_tokenizer *t, const int32_t *ids, size_t n_ids,
                               unsigned flags, char **text, size_t *len, fr_err *err);

/* Streaming decoder for printing tokens as they are generated: it emits only
 * whole UTF-8 characters, holding back the first bytes of a character whose
 * remaining bytes are still to come; bytes that can never form a valid
 * character are emitted as U+FFFD, so the output is always valid UTF-8. */
typedef struct fr_decoder fr_decoder;

/* t is borrowed and must outlive the decoder. flags as for fr_detokenize. */
FR_API fr_status fr_decoder_create(const fr_tokenizer *t, unsigned flags, fr_decoder **out,
                                   fr_err *err);
/* Adds one token; *text and *len receive the text that is now complete (possibly
 * empty), valid until the next call on d. */
FR_API fr_status fr_decoder_push(fr_decoder *d, int32_t id, const char **text, size_t *len,
                                 fr_err *err);
/* Ends the stream: held-back bytes come out as U+FFFD. Resets d for reuse. */
FR_API void fr_decoder_flush(fr_decoder *d, const char **text, size_t *len);
FR_API void fr_decoder_reset(fr_decoder *d);
FR_API void fr_decoder_free(fr_decoder *d);

/* ---- llama2.c tokenizer files (tokenizer.bin, tok512.bin) ------------------
 *
 * Layout: int32 max_token_length, then per token: float32 score, int32 byte
 * length, bytes. The importer converts entries the way llama.cpp's
 * convert-llama2c-to-ggml does: id 0 -> "<unk>" (UNKNOWN), 1 -> "<s>" and
 * 2 -> "</s>" (CONTROL), "<0xNN>" -> BYTE, an empty piece -> CONTROL, other
 * pieces NORMAL with ' ' written as U+2581; so the arrays can be written to
 * GGUF as tokenizer.ggml.tokens/.scores/.token_type with model "llama",
 * bos 1, eos 2, unk 0. */
typedef struct fr_llama2c_vocab {
    uint32_t n_tokens;
    char **tokens;          /* n_tokens strings, NUL-terminated for convenience (a
                             * piece may itself contain NUL: use token_lens) */
    uint32_t *token_lens;   /* n_tokens byte lengths */
    float *scores;          /* n_tokens */
    int32_t *token_types;   /* n_tokens fr_token_type values */
    uint32_t max_token_len; /* from the file header */
} fr_llama2c_vocab;

/* Reads a llama2.c tokenizer file. n_tokens = the checkpoint's vocab size, or
 * 0 to read entries until the end of the file. Owned by caller; free with
 * fr_llama2c_vocab_free. */
FR_API fr_status fr_llama2c_vocab_read(const char *path, uint32_t n_tokens, fr_llama2c_vocab **out,
                                       fr_err *err);
/* The same over memory (borrowed; name is used in messages). */
FR_API fr_status fr_llama2c_vocab_parse(const void *data, size_t size, const char *name,
                                        uint32_t n_tokens, fr_llama2c_vocab **out, fr_err *err);
FR_API void fr_llama2c_vocab_free(fr_llama2c_vocab *v);
/* A llama-model tokenizer over v (borrowed during the call only). */
FR_API fr_status fr_tokenizer_from_llama2c(const fr_llama2c_vocab *v, fr_tokenizer **out,
                                           fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
