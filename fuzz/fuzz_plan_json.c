/*
 * fuzz_plan_json.c - libFuzzer target for the two JSON inputs of `frugal
 * plan`: hardware catalogs (fr_catalog_merge_json, merged over a catalog
 * that already holds an entry, so the replace path runs) and bench summaries
 * (fr_bench_summary_parse). Whatever a parser accepts must also be usable:
 * a parsed bench summary is written back and must parse again, and a merged
 * catalog's devices must have ordered, sourced values.
 */
#include <frugal/cost.h>
#include <frugal/hardware.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char base[] =
    "{\"schema\":\"frugal-hardware-1\",\"devices\":{\"gpu\":{\"name\":\"G\",\"kind\":\"gpu\","
    "\"tdp_w\":{\"value\":100,\"source\":\"seed\"}}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_err err;
    fr_catalog *cat = NULL;
    if (fr_catalog_create(&cat, &err) == FR_OK &&
        fr_catalog_merge_json(cat, base, sizeof base - 1, "base", &err) == FR_OK &&
        fr_catalog_merge_json(cat, (const char *)data, size, "fuzz", &err) == FR_OK) {
        for (size_t i = 0; i < fr_catalog_count(cat); i++) {
            const fr_hw *h = fr_catalog_at(cat, i);
            assert(h->id && h->name && h->kind);
            for (int f = 0; f < FR_HW_FIELD_COUNT; f++)
                if (h->f[f].present)
                    assert(h->f[f].source && h->f[f].low <= h->f[f].value &&
                           h->f[f].value <= h->f[f].high);
        }
    }
    fr_catalog_free(cat);

    fr_bench_summary b;
    if (fr_bench_summary_parse((const char *)data, size, "fuzz", &b, &err) == FR_OK) {
        char *js = fr_bench_summary_json(&b);
        assert(js);
        fr_bench_summary c;
        assert(fr_bench_summary_parse(js, strlen(js), "again", &c, &err) == FR_OK);
        assert(c.decode_tok_s == b.decode_tok_s && c.params == b.params);
        free(js);
    }
    return 0;
}
