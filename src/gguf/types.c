/*
 * types.c - the table of ggml tensor types: values per block and bytes per
 * block, as fixed by ggml's block layouts (docs/gguf.md, ggml-common.h).
 *
 * Unknown ids return NULL; the IQ* family is listed by name with
 * supported == false so errors can say "iq2_xxs is not supported" rather
 * than "unknown type 16".
 */
#include <frugal/types.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const fr_type_info fr_types[FR_TYPE_COUNT_] = {
    [FR_TYPE_F32] = {"f32", 1, 4, false, true},
    [FR_TYPE_F16] = {"f16", 1, 2, false, true},
    [FR_TYPE_Q4_0] = {"q4_0", 32, 18, true, true},
    [FR_TYPE_Q4_1] = {"q4_1", 32, 20, true, true},
    [FR_TYPE_Q5_0] = {"q5_0", 32, 22, true, true},
    [FR_TYPE_Q5_1] = {"q5_1", 32, 24, true, true},
    [FR_TYPE_Q8_0] = {"q8_0", 32, 34, true, true},
    [FR_TYPE_Q8_1] = {"q8_1", 32, 36, true, false},
    [FR_TYPE_Q2_K] = {"q2_K", 256, 84, true, true},
    [FR_TYPE_Q3_K] = {"q3_K", 256, 110, true, true},
    [FR_TYPE_Q4_K] = {"q4_K", 256, 144, true, true},
    [FR_TYPE_Q5_K] = {"q5_K", 256, 176, true, true},
    [FR_TYPE_Q6_K] = {"q6_K", 256, 210, true, true},
    [FR_TYPE_Q8_K] = {"q8_K", 256, 292, true, false},
    [16] = {"iq2_xxs", 256, 66, true, false},
    [17] = {"iq2_xs", 256, 74, true, false},
    [18] = {"iq3_xxs", 256, 98, true, false},
    [19] = {"iq1_s", 256, 50, true, false},
    [20] = {"iq4_nl", 32, 18, true, false},
    [21] = {"iq3_s", 256, 110, true, false},
    [22] = {"iq2_s", 256, 82, true, false},
    [23] = {"iq4_xs", 256, 136, true, false},
    [FR_TYPE_I8] = {"i8", 1, 1, false, false},
    [FR_TYPE_I16] = {"i16", 1, 2, false, false},
    [FR_TYPE_I32] = {"i32", 1, 4, false, false},
    [FR_TYPE_I64] = {"i64", 1, 8, false, false},
    [FR_TYPE_F64] = {"f64", 1, 8, false, false},
    [29] = {"iq1_m", 256, 56, true, false},
    [FR_TYPE_BF16] = {"bf16", 1, 2, false, true},
    [34] = {"tq1_0", 256, 54, true, false},
    [35] = {"tq2_0", 256, 66, true, false},
    [FR_TYPE_MXFP4] = {"mxfp4", 32, 17, true, true}, /* e8m0 scale + 16 bytes of 4-bit values */
};

const fr_type_info *fr_type_get(uint32_t id)
{
    if (id >= FR_TYPE_COUNT_ || !fr_types[id].name)
        return NULL;
    return &fr_types[id];
}

const char *fr_type_name(uint32_t id)
{
    const fr_type_info *t = fr_type_get(id);
    return t ? t->name : "unknown";
}

uint64_t fr_type_row_bytes(fr_type t, int64_t n)
{
    const fr_type_info *ti = fr_type_get((uint32_t)t);
    if (!ti || n < 0 || (uint64_t)n % ti->block_size)
        return 0;
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)n / ti->block_size, (uint64_t)ti->type_size, &bytes))
        return 0;
    return bytes;
}

bool fr_type_from_name(const char *s, fr_type *out)
{
    for (uint32_t i = 0; i < FR_TYPE_COUNT_; i++) {
        const char *n = fr_types[i].name;
        if (!n || strlen(n) != strlen(s))
            continue;
        size_t k = 0;
        while (n[k] && tolower((unsigned char)n[k]) == tolower((unsigned char)s[k]))
            k++;
        if (!n[k]) {
            *out = (fr_type)i;
            return true;
        }
    }
    return false;
}
