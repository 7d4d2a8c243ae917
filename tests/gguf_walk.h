/*
 * gguf_walk.h - visits everything an open fr_gguf exposes (every key with
 * every getter, every array element at every nesting level, every tensor
 * and the first and last byte of its data) and checks that the answers are
 * consistent with each other: lookups by name find the same entry as by
 * index, exactly the getters that fit a type succeed, out-of-range indices
 * are refused, tensor data lies inside the file and has the size its shape
 * and type imply. Shared by the corruption tests and the fuzz target, where
 * ASan turns any read outside the mapping into a crash.
 *
 * Returns the number of inconsistencies found (0 = consistent); *sum
 * accumulates bytes read so nothing is optimised away.
 */
#ifndef FR_TEST_GGUF_WALK_H
#define FR_TEST_GGUF_WALK_H

#include <frugal/gguf.h>
#include <stdio.h>
#include <string.h>

static inline int gw_is_int(fr_gguf_type t)
{
    return t == FR_GGUF_UINT8 || t == FR_GGUF_INT8 || t == FR_GGUF_UINT16 || t == FR_GGUF_INT16 ||
           t == FR_GGUF_UINT32 || t == FR_GGUF_INT32 || t == FR_GGUF_UINT64 || t == FR_GGUF_INT64;
}

#define GW_BAD(...)                                                                                \
    do {                                                                                           \
        if (bad < 5)                                                                               \
            fprintf(stderr, "walk: " __VA_ARGS__);                                                 \
        bad++;                                                                                     \
    } while (0)

static inline void gw_touch(const char *p, uint64_t n, const uint8_t *lo, uint64_t size,
                            uint64_t *sum, int *badp)
{
    int bad = *badp;
    if (n && ((const uint8_t *)p < lo || (const uint8_t *)p > lo + size ||
              n > (uint64_t)(lo + size - (const uint8_t *)p)))
        GW_BAD("string of %llu bytes outside the file\n", (unsigned long long)n);
    else
        for (uint64_t i = 0; i < n; i++)
            *sum += (uint8_t)p[i];
    *badp = bad;
}

static inline int gw_walk_arr(const fr_gguf_arr *a, int depth, const uint8_t *lo, uint64_t size,
                              uint64_t *sum)
{
    int bad = 0;
    int64_t i64;
    uint64_t u64;
    double f64;
    float f32;
    bool b;
    fr_gguf_str s;
    fr_gguf_arr sub;
    if (depth > 8)
        GW_BAD("array nested %d deep was accepted\n", depth);
    for (uint64_t i = 0; i < a->n; i++) {
        fr_gguf_type t = a->type;
        fr_status si = fr_gguf_arr_i64(a, i, &i64), su = fr_gguf_arr_u64(a, i, &u64);
        if (gw_is_int(t)) {
            if (si && su)
                GW_BAD("integer element fits neither int64 nor uint64\n");
            if (!si)
                *sum += (uint64_t)i64;
        } else if (si != FR_E_FORMAT || su != FR_E_FORMAT) {
            GW_BAD("integer accessor accepted a %s element\n", fr_gguf_type_name(t));
        }
        fr_status sf = fr_gguf_arr_f64(a, i, &f64), sf32 = fr_gguf_arr_f32(a, i, &f32);
        if ((t == FR_GGUF_FLOAT32 || t == FR_GGUF_FLOAT64) != (sf == FR_OK && sf32 == FR_OK))
            GW_BAD("float accessor disagrees with element type %s\n", fr_gguf_type_name(t));
        if ((fr_gguf_arr_bool(a, i, &b) == FR_OK) != (t == FR_GGUF_BOOL))
            GW_BAD("bool accessor disagrees with element type\n");
        if (fr_gguf_arr_str(a, i, &s) == FR_OK) {
            if (t != FR_GGUF_STRING)
                GW_BAD("string accessor accepted %s\n", fr_gguf_type_name(t));
            gw_touch(s.ptr, s.len, lo, size, sum, &bad);
        } else if (t == FR_GGUF_STRING) {
            GW_BAD("string element %llu unreadable\n", (unsigned long long)i);
        }
        if (fr_gguf_arr_arr(a, i, &sub) == FR_OK) {
            if (t != FR_GGUF_ARRAY)
                GW_BAD("array accessor accepted %s\n", fr_gguf_type_name(t));
            bad += gw_walk_arr(&sub, depth + 1, lo, size, sum);
        } else if (t == FR_GGUF_ARRAY) {
            GW_BAD("nested array %llu unreadable\n", (unsigned long long)i);
        }
    }
    if (fr_gguf_arr_i64(a, a->n, &i64) != FR_E_RANGE ||
        fr_gguf_arr_str(a, a->n, &s) != FR_E_RANGE || fr_gguf_arr_arr(a, a->n, &sub) != FR_E_RANGE)
        GW_BAD("index n was not refused with FR_E_RANGE\n");
    const void *raw = fr_gguf_arr_raw(a);
    if ((raw != NULL) != (a->type != FR_GGUF_STRING && a->type != FR_GGUF_ARRAY))
        GW_BAD("arr_raw disagrees with element type\n");
    return bad;
}

/* base/size: the bytes the file was opened from (tensor data must lie
 * inside). */
static inline int gw_walk(const fr_gguf *g, const uint8_t *base, uint64_t size, uint64_t *sum)
{
    int bad = 0;
    fr_err e;
    for (int64_t i = 0; i < fr_gguf_n_kv(g); i++) {
        const char *k = fr_gguf_key(g, i);
        if (!k || !k[0]) {
            GW_BAD("key %lld missing or empty\n", (long long)i);
            continue;
        }
        if (fr_gguf_find_key(g, k) != i)
            GW_BAD("find_key('%s') != %lld\n", k, (long long)i);
        fr_gguf_type t = fr_gguf_kv_type(g, i);
        int64_t i64;
        uint64_t u64;
        double f64;
        bool b;
        fr_gguf_str s;
        fr_gguf_arr a;
        fr_status si = fr_gguf_kv_get_i64(g, i, &i64, &e), su = fr_gguf_kv_get_u64(g, i, &u64, &e);
        if (gw_is_int(t) ? (si && su) : (si != FR_E_FORMAT || su != FR_E_FORMAT))
            GW_BAD("integer getters disagree with type %s of '%s'\n", fr_gguf_type_name(t), k);
        if ((fr_gguf_kv_get_f64(g, i, &f64, &e) == FR_OK) !=
            (t == FR_GGUF_FLOAT32 || t == FR_GGUF_FLOAT64))
            GW_BAD("f64 getter disagrees with type of '%s'\n", k);
        if ((fr_gguf_kv_get_bool(g, i, &b, &e) == FR_OK) != (t == FR_GGUF_BOOL))
            GW_BAD("bool getter disagrees with type of '%s'\n", k);
        if (fr_gguf_kv_get_str(g, i, &s, &e) == FR_OK) {
            if (t != FR_GGUF_STRING)
                GW_BAD("str getter accepted '%s'\n", k);
            gw_touch(s.ptr, s.len, base, size, sum, &bad);
            fr_gguf_str s2;
            if (fr_gguf_get_str(g, k, &s2, &e) != FR_OK || s2.ptr != s.ptr || s2.len != s.len)
                GW_BAD("get_str by key differs for '%s'\n", k);
        } else if (t == FR_GGUF_STRING) {
            GW_BAD("string '%s' unreadable\n", k);
        }
        if (fr_gguf_kv_get_arr(g, i, &a, &e) == FR_OK) {
            if (t != FR_GGUF_ARRAY)
                GW_BAD("arr getter accepted '%s'\n", k);
            bad += gw_walk_arr(&a, 1, base, size, sum);
        } else if (t == FR_GGUF_ARRAY) {
            GW_BAD("array '%s' unreadable\n", k);
        }
        uint32_t u32;
        int32_t i32;
        float f32;
        (void)fr_gguf_get_u32(g, k, &u32, &e);
        (void)fr_gguf_get_i32(g, k, &i32, &e);
        (void)fr_gguf_get_f32(g, k, &f32, &e);
    }
    if (fr_gguf_key(g, fr_gguf_n_kv(g)) != NULL || fr_gguf_key(g, -1) != NULL)
        GW_BAD("key index out of range accepted\n");
    uint32_t al = fr_gguf_alignment(g);
    if (al == 0 || (al & (al - 1)))
        GW_BAD("alignment %u accepted\n", al);
    for (int64_t i = 0; i < fr_gguf_n_tensors(g); i++) {
        const fr_gguf_tensor *t = fr_gguf_tensor_at(g, i);
        if (!t || !t->name) {
            GW_BAD("tensor %lld missing\n", (long long)i);
            continue;
        }
        if (fr_gguf_find_tensor(g, t->name) != t)
            GW_BAD("find_tensor('%s') differs\n", t->name);
        if (strlen(t->name) >= 64 || t->n_dims < 1 || t->n_dims > 4)
            GW_BAD("tensor '%s' name/dims invalid\n", t->name);
        const fr_type_info *ti = fr_type_get((uint32_t)t->type);
        uint64_t nel = 1;
        for (int d = 0; d < 4; d++) {
            if (t->ne[d] < 1)
                GW_BAD("tensor '%s' dim %d < 1\n", t->name, d);
            nel *= (uint64_t)t->ne[d];
        }
        if (!ti || !ti->supported || t->ne[0] % ti->block_size ||
            nel / ti->block_size * ti->type_size != t->nbytes)
            GW_BAD("tensor '%s' size inconsistent\n", t->name);
        const uint8_t *d = t->data;
        if (!d || d < base || t->nbytes > size || d > base + size - t->nbytes)
            GW_BAD("tensor '%s' data outside the file\n", t->name);
        else if ((uint64_t)(d - base) != fr_gguf_data_offset(g) + t->offset)
            GW_BAD("tensor '%s' data pointer != data_offset + offset\n", t->name);
        else if (t->offset % al)
            GW_BAD("tensor '%s' offset unaligned\n", t->name);
        else
            *sum += d[0] + d[t->nbytes - 1];
    }
    if (fr_gguf_tensor_at(g, fr_gguf_n_tensors(g)) != NULL ||
        fr_gguf_find_tensor(g, "\x01no") != NULL)
        GW_BAD("tensor lookup out of range accepted\n");
    return bad;
}

#undef GW_BAD
#endif
