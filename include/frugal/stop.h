/*
 * frugal/stop.h - stop strings over streamed text.
 *
 * Generated text arrives in pieces (one token's worth at a time). A stop
 * string may be split across pieces, so a piece cannot be shown as soon as
 * it arrives: its end may be the start of a stop string. fr_stop decides,
 * after each piece, which bytes are safe to show now and holds back the
 * shortest tail that could still become a stop string. When a stop string
 * completes, the text before it is released, the stop string itself and
 * anything after it are not, and the matcher is done.
 *
 * Rules:
 *  - The stop that wins is the one that completes first in the text
 *    (earliest end); among stops ending at the same byte, the one starting
 *    earliest (the longest). This does not depend on how the text was cut
 *    into pieces: feeding "ab" + "c" or "a" + "bc" emits the same bytes.
 *  - Held back: the longest tail of the pending text that is a proper
 *    prefix of some stop string, and an incomplete UTF-8 sequence at the
 *    very end (so emitted text never ends inside a character; stop strings
 *    should be valid UTF-8 for the same to hold at the hold-back cut).
 *  - fr_stop_flush at the end of generation releases whatever is held.
 *  - With no stop strings the matcher only does the UTF-8 hold-back.
 *
 * Limits: at most FR_STOP_MAX_STRINGS stop strings of 1..FR_STOP_MAX_LEN
 * bytes each (they may contain any bytes, NUL included).
 */
#ifndef FRUGAL_STOP_H
#define FRUGAL_STOP_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FR_STOP_MAX_STRINGS 256
#define FR_STOP_MAX_LEN 4096

typedef struct fr_stop fr_stop;

typedef struct fr_stop_result {
    const char *text; /* bytes safe to show now (never NULL); owned by the
                         matcher, valid until its next call */
    size_t len;
    bool stopped;     /* a stop string completed (now or earlier): text is
                         what preceded it; later calls emit nothing */
    int32_t which;    /* index of the stop string that completed, else -1 */
} fr_stop_result;

/* Copies strs[0..n) (lens[i] bytes each; lens NULL = NUL-terminated
 * strings). An empty or over-long string, or too many, is FR_E_INVALID
 * naming it. *out is owned by the caller: fr_stop_free. */
FR_API fr_status fr_stop_create(const char *const *strs, const size_t *lens, size_t n,
                                fr_stop **out, fr_err *err);
FR_API void fr_stop_free(fr_stop *s);

/* Adds piece[0..len) (borrowed; may be empty) and reports what can be shown.
 * FR_E_NOMEM when the pending text cannot grow. */
FR_API fr_status fr_stop_feed(fr_stop *s, const char *piece, size_t len, fr_stop_result *out,
                              fr_err *err);
/* End of generation (max tokens, end-of-generation token): releases the
 * held text. After a stop, emits nothing. */
FR_API fr_status fr_stop_flush(fr_stop *s, fr_stop_result *out, fr_err *err);
/* Forgets pending text and any stop, keeping the stop strings. */
FR_API void fr_stop_reset(fr_stop *s);

#ifdef __cplusplus
}
#endif
#endif
