/*
 * utf8.h - the UTF-8 rules the tokenizers share, and GPT-2's byte-level
 * alphabet.
 *
 * Decoding follows llama.cpp's lenient rule so that ids match on every input:
 * a lead byte announces 1..4 bytes (by its high nibble) and only the
 * continuation bytes are checked, so overlong forms decode to their value
 * (C0 80 -> U+0000); a byte that does not start a complete sequence becomes
 * U+FFFD and decoding resumes at the next byte. We differ only where
 * llama.cpp has no defined result: surrogates and values above U+10FFFF (it
 * keeps or throws on them) become one U+FFFD, so the text handed to PCRE2 is
 * always valid UTF-8.
 */
#ifndef FR_TEXT_UTF8_H
#define FR_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Sequence length announced by a lead byte (1 for continuation bytes and
 * ASCII, 2 for C0-DF, 3 for E0-EF, 4 for F0-FF), as llama.cpp's
 * unicode_len_utf8. */
static inline size_t fr_utf8_len(uint8_t b)
{
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[b >> 4];
}

/* The same, but no longer than the rem bytes left (rem > 0). */
static inline size_t fr_utf8_len_min(uint8_t b, size_t rem)
{
    size_t n = fr_utf8_len(b);
    return n < rem ? n : rem;
}

/* Decodes one code point at s[*i] (i < n) with the lenient rule above and
 * advances *i. Returns the code point (0xFFFD for invalid input). */
uint32_t fr_utf8_decode(const uint8_t *s, size_t n, size_t *i);

/* Writes cp (<= 0x10FFFF) as UTF-8 to out (4 bytes room); returns the length. */
size_t fr_utf8_encode(uint32_t cp, char *out);

/* Rewrites s[0..n) as valid UTF-8 by decoding and re-encoding every code
 * point (see above). out needs 3*n bytes of room; returns the output length. */
size_t fr_utf8_sanitize(const char *s, size_t n, char *out);

/* Length of the longest prefix of s[0..n) that is strictly valid UTF-8
 * (no overlongs, surrogates or values above U+10FFFF). */
size_t fr_utf8_valid_prefix(const char *s, size_t n);

/* Length of a strictly valid sequence starting at s (1..4), 0 if s[0..n)
 * starts with an invalid sequence, or -1 if it is a valid but incomplete
 * beginning of one (more bytes could still complete it). */
int fr_utf8_check_one(const uint8_t *s, size_t n);

/* ---- GPT-2 byte-level alphabet --------------------------------------------
 * Every byte has a printable stand-in code point: bytes ! .. ~, ¡ .. ¬ and
 * ® .. ÿ stand for themselves, the other 68 bytes map in order to U+0100.. */

/* Code point standing for byte b. */
uint32_t fr_bytelevel_cp(uint8_t b);
/* Byte that code point cp stands for, or -1 if cp is not in the alphabet. */
int fr_bytelevel_byte(uint32_t cp);

#endif
