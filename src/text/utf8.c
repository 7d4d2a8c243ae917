/*
 * utf8.c - lenient UTF-8 decoding as llama.cpp does it, strict validation
 * for output, and GPT-2's byte-level alphabet (see utf8.h).
 */
#include "text/utf8.h"

uint32_t fr_utf8_decode(const uint8_t *s, size_t n, size_t *i)
{
    size_t k = *i;
    uint8_t b = s[k];
    uint32_t cp;
    size_t len;
    if (b < 0x80) {
        *i = k + 1;
        return b;
    }
    if (!(b & 0x40)) /* a continuation byte cannot start a character */
        goto bad;
    if (!(b & 0x20)) {
        len = 2;
        cp = b & 0x1f;
    } else if (!(b & 0x10)) {
        len = 3;
        cp = b & 0x0f;
    } else if (!(b & 0x08)) {
        len = 4;
        cp = b & 0x07;
    } else {
        goto bad;
    }
    if (len > n - k)
        goto bad;
    for (size_t j = 1; j < len; j++) {
        if ((s[k + j] & 0xc0) != 0x80)
            goto bad;
        cp = (cp << 6) | (s[k + j] & 0x3f);
    }
    *i = k + len;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0xfffd; /* a whole sequence with no valid value: one U+FFFD */
    return cp;
bad:
    *i = k + 1;
    return 0xfffd;
}

size_t fr_utf8_encode(uint32_t cp, char *out)
{
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

size_t fr_utf8_sanitize(const char *s, size_t n, char *out)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        /* Fast path: runs of ASCII copy through unchanged. */
        if (u[i] < 0x80) {
            out[o++] = (char)u[i++];
            continue;
        }
        size_t start = i;
        uint32_t cp = fr_utf8_decode(u, n, &i);
        int ok = fr_utf8_check_one(u + start, i - start);
        if (ok > 0 && (size_t)ok == i - start) {
            for (size_t j = start; j < i; j++) /* already canonical */
                out[o++] = (char)u[j];
        } else {
            o += fr_utf8_encode(cp, out + o);
        }
    }
    return o;
}

int fr_utf8_check_one(const uint8_t *s, size_t n)
{
    if (n == 0)
        return -1;
    uint8_t b = s[0];
    if (b < 0x80)
        return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        if (b == 0xe0)
            lo = 0xa0; /* no overlongs */
        if (b == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        if (b == 0xf0)
            lo = 0x90;
        if (b == 0xf4)
            hi = 0x8f; /* <= U+10FFFF */
    } else {
        return 0;
    }
    for (size_t j = 1; j < len; j++) {
        if (j >= n)
            return -1;
        uint8_t c = s[j];
        if (j == 1 ? (c < lo || c > hi) : (c & 0xc0) != 0x80)
            return 0;
    }
    return (int)len;
}

size_t fr_utf8_valid_prefix(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int k = fr_utf8_check_one(u + i, n - i);
        if (k <= 0)
            break;
        i += (size_t)k;
    }
    return i;
}

static bool bytelevel_self(unsigned b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

uint32_t fr_bytelevel_cp(uint8_t b)
{
    if (bytelevel_self(b))
        return b;
    /* The n-th byte (in byte order) outside the printable ranges maps to
     * U+0100 + n: bytes 0x00-0x20 are n = 0..32, 0x7F-0xA0 are 33..66, 0xAD is 67. */
    if (b <= 0x20)
        return 0x100u + b;
    if (b >= 0x7f && b <= 0xa0)
        return 0x100u + 33 + (b - 0x7fu);
    return 0x100u + 67; /* 0xAD */
}

int fr_bytelevel_byte(uint32_t cp)
{
    if (cp < 0x100)
        return bytelevel_self(cp) ? (int)cp : -1;
    if (cp <= 0x100 + 32)
        return (int)(cp - 0x100);
    if (cp <= 0x100 + 66)
        return (int)(cp - 0x100 - 33 + 0x7f);
    if (cp == 0x100 + 67)
        return 0xad;
    return -1;
}
