/* libFuzzer target for the GGUF reader: open the input with
 * fr_gguf_open_memory, then visit every key with every getter, every array
 * element at every nesting level and every tensor (tests/gguf_walk.h). A
 * crash, a sanitizer report, or an inconsistency between accessors (which
 * aborts) is a bug. Seeds: fuzz/seeds/fuzz_gguf/, small files written by our
 * writer (see tests/unit/test_gguf_hostile.c). */
#include "../tests/gguf_walk.h"

#include <frugal/gguf.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fuzz_sink; /* keeps the walk's reads alive */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_gguf *g = NULL;
    fr_err err;
    if (fr_gguf_open_memory(data, size, "fuzz.gguf", &g, &err) != FR_OK) {
        /* every failure carries a message naming the file */
        if (strncmp(err.msg, "fuzz.gguf: ", 11) != 0)
            abort();
        return 0;
    }
    uint64_t sum = 0;
    if (gw_walk(g, data, size, &sum) != 0)
        abort();
    fr_gguf_free(g);
    fuzz_sink = sum;
    return 0;
}
