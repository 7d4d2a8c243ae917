/*
 * stop.c - stop strings over streamed text (contract in
 * include/frugal/stop.h).
 *
 * Invariant between calls: `pend` holds only text that was not emitted and
 * that is either a proper prefix of some stop string (possibly preceded by
 * nothing) or an incomplete UTF-8 tail - so it is never longer than the
 * longest stop string plus 3 bytes. Any stop string that can still
 * complete starts inside `pend`, which is why searching `pend` alone after
 * each piece finds the earliest-ending match of the whole text.
 *
 * Rejected: Aho-Corasick. Stop lists are a handful of short strings and
 * `pend` is short, so the direct search costs less than building the
 * automaton, and it is obviously correct.
 */
#include <frugal/stop.h>

#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

struct fr_stop {
    char **str;     /* (n) owned copies */
    size_t *len;    /* (n) */
    size_t n;
    size_t max_len; /* longest stop string */
    fr_buf pend;    /* text not yet emitted */
    fr_buf emit;    /* what the last call released */
    bool stopped;
    int32_t which;
};

fr_status fr_stop_create(const char *const *strs, const size_t *lens, size_t n, fr_stop **out,
                         fr_err *err)
{
    if (!out || (n && !strs))
        return fr_err_set(err, FR_E_INVALID, "fr_stop_create: NULL argument");
    *out = NULL;
    if (n > FR_STOP_MAX_STRINGS)
        return fr_err_set(err, FR_E_INVALID, "%zu stop strings given; at most %d are allowed", n,
                          FR_STOP_MAX_STRINGS);
    for (size_t i = 0; i < n; i++) {
        if (!strs[i])
            return fr_err_set(err, FR_E_INVALID, "stop string %zu is NULL", i);
        size_t l = lens ? lens[i] : strlen(strs[i]);
        if (l == 0)
            return fr_err_set(err, FR_E_INVALID, "stop string %zu is empty", i);
        if (l > FR_STOP_MAX_LEN)
            return fr_err_set(err, FR_E_INVALID, "stop string %zu is %zu bytes; at most %d allowed",
                              i, l, FR_STOP_MAX_LEN);
    }
    fr_stop *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->which = -1;
    s->pend = (fr_buf)FR_BUF_INIT;
    s->emit = (fr_buf)FR_BUF_INIT;
    if (n) {
        s->str = calloc(n, sizeof *s->str);
        s->len = calloc(n, sizeof *s->len);
        if (!s->str || !s->len)
            goto nomem;
        s->n = n;
        for (size_t i = 0; i < n; i++) {
            size_t l = lens ? lens[i] : strlen(strs[i]);
            s->str[i] = malloc(l);
            if (!s->str[i])
                goto nomem;
            memcpy(s->str[i], strs[i], l);
            s->len[i] = l;
            if (l > s->max_len)
                s->max_len = l;
        }
    }
    *out = s;
    return FR_OK;
nomem:
    fr_stop_free(s);
    return fr_err_set(err, FR_E_NOMEM, "stop strings: out of memory");
}

void fr_stop_free(fr_stop *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->str && i < s->n; i++)
        free(s->str[i]);
    free(s->str);
    free(s->len);
    fr_buf_free(&s->pend);
    fr_buf_free(&s->emit);
    free(s);
}

void fr_stop_reset(fr_stop *s)
{
    if (!s)
        return;
    fr_buf_reset(&s->pend);
    fr_buf_reset(&s->emit);
    s->stopped = false;
    s->which = -1;
}

/* Bytes at the end of p[0..n) that start a UTF-8 sequence not yet
 * complete (0 when the text ends on a character boundary or the tail is
 * not valid UTF-8 anyway). */
static size_t incomplete_utf8_tail(const unsigned char *p, size_t n)
{
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = p[n - back];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation byte: keep looking for the lead */
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

static void set_out(fr_stop *s, fr_stop_result *out)
{
    out->text = s->emit.data ? s->emit.data : "";
    out->len = s->emit.len;
    out->stopped = s->stopped;
    out->which = s->which;
}

/* Moves pend[0..k) to emit and keeps pend[k..). */
static void release(fr_stop *s, size_t k)
{
    fr_buf_append(&s->emit, s->pend.data, k);
    size_t rest = s->pend.len - k;
    if (k && rest)
        memmove(s->pend.data, s->pend.data + k, rest);
    s->pend.len = rest;
    if (s->pend.data)
        s->pend.data[rest] = '\0';
}

fr_status fr_stop_feed(fr_stop *s, const char *piece, size_t len, fr_stop_result *out, fr_err *err)
{
    if (!s || !out || (len && !piece))
        return fr_err_set(err, FR_E_INVALID, "fr_stop_feed: NULL argument");
    fr_buf_reset(&s->emit);
    if (s->stopped) {
        set_out(s, out);
        return FR_OK;
    }
    fr_buf_append(&s->pend, piece, len);
    if (!fr_buf_ok(&s->pend)) {
        fr_buf_free(&s->pend);
        set_out(s, out);
        return fr_err_set(err, FR_E_NOMEM, "stop strings: out of memory for %zu bytes of text", len);
    }
    const char *p = s->pend.data;
    size_t n = s->pend.len;

    /* Earliest-ending match; among equal ends the earliest start. The first
     * occurrence of each string is its earliest end. */
    size_t best_end = (size_t)-1, best_start = 0;
    int32_t best = -1;
    for (size_t i = 0; i < s->n && n; i++) {
        const char *hit = memmem(p, n, s->str[i], s->len[i]);
        if (!hit)
            continue;
        size_t start = (size_t)(hit - p), end = start + s->len[i];
        if (end < best_end || (end == best_end && start < best_start)) {
            best_end = end;
            best_start = start;
            best = (int32_t)i;
        }
    }
    if (best >= 0) {
        release(s, best_start);
        fr_buf_reset(&s->pend);
        s->stopped = true;
        s->which = best;
    } else {
        /* Hold the longest tail that a stop string starts with. */
        size_t hold = 0;
        size_t lim = s->max_len ? s->max_len - 1 : 0;
        if (lim > n)
            lim = n;
        for (size_t l = lim; l > 0 && hold == 0; l--)
            for (size_t i = 0; i < s->n; i++)
                if (s->len[i] > l && memcmp(p + n - l, s->str[i], l) == 0) {
                    hold = l;
                    break;
                }
        size_t u = incomplete_utf8_tail((const unsigned char *)p, n);
        if (u > hold)
            hold = u;
        release(s, n - hold);
    }
    if (!fr_buf_ok(&s->emit)) {
        fr_buf_free(&s->emit);
        set_out(s, out);
        return fr_err_set(err, FR_E_NOMEM, "stop strings: out of memory");
    }
    set_out(s, out);
    return FR_OK;
}

fr_status fr_stop_flush(fr_stop *s, fr_stop_result *out, fr_err *err)
{
    if (!s || !out)
        return fr_err_set(err, FR_E_INVALID, "fr_stop_flush: NULL argument");
    fr_buf_reset(&s->emit);
    if (!s->stopped)
        release(s, s->pend.len);
    if (!fr_buf_ok(&s->emit)) {
        fr_buf_free(&s->emit);
        set_out(s, out);
        return fr_err_set(err, FR_E_NOMEM, "stop strings: out of memory");
    }
    set_out(s, out);
    return FR_OK;
}
