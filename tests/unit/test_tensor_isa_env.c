/*
 * FRUGAL_ISA is read once, when CPU features are first detected: a value
 * that names no path makes matmul scratch (and so context) creation fail
 * with a message that names the variable and the valid values, instead of
 * silently running another path. Set here before anything detects.
 */
#include "test.h"

#include "tensor/cpu.h"
#include "tensor/matmul.h"

int main(void)
{
    setenv("FRUGAL_ISA", "sse9", 1);
    fr_matmul_scratch s;
    fr_err e;
    fr_status st = fr_matmul_scratch_init(&s, 1, 64, 1, &e);
    CHECK(st == FR_E_INVALID);
    CHECK(strstr(e.msg, "FRUGAL_ISA=sse9") != NULL);
    CHECK(strstr(e.msg, "avx512") != NULL);
    fr_matmul_scratch_free(&s); /* safe after a failed init */
    fr_isa isa;
    CHECK(fr_isa_select(&isa, &e) == FR_E_INVALID);
    /* the value was captured once: changing it now has no effect */
    setenv("FRUGAL_ISA", "generic", 1);
    CHECK(fr_isa_select(&isa, &e) == FR_E_INVALID);
    /* the features themselves are still usable */
    CHECK(fr_isa_available(FR_ISA_GENERIC));
    CHECK(fr_isa_available(fr_isa_best()));
    TEST_END();
}
