/*
 * strmap.c - open-addressing hash maps (see strmap.h).
 */
#include "text/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t fr_hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static uint32_t pow2_at_least(uint64_t x)
{
    uint32_t c = 16;
    while (c < x && c < (1u << 31))
        c <<= 1;
    return c;
}

bool fr_strmap_init(fr_strmap *m, uint32_t expect)
{
    memset(m, 0, sizeof *m);
    uint32_t slots = pow2_at_least((uint64_t)expect * 2 + 2);
    m->slots = calloc(slots, sizeof *m->slots);
    m->ent_cap = expect > 8 ? expect : 8;
    m->ent = malloc((size_t)m->ent_cap * sizeof *m->ent);
    m->arena_cap = (size_t)m->ent_cap * 8;
    m->arena = malloc(m->arena_cap);
    if (!m->slots || !m->ent || !m->arena) {
        fr_strmap_free(m);
        return false;
    }
    m->mask = slots - 1;
    return true;
}

void fr_strmap_free(fr_strmap *m)
{
    if (!m)
        return;
    free(m->arena);
    free(m->ent);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

int32_t fr_strmap_get(const fr_strmap *m, const char *s, size_t len)
{
    if (!m->slots)
        return -1;
    uint64_t h = fr_hash_bytes(s, len);
    uint64_t tag = h & 0xffffffff00000000ull;
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        uint64_t e = m->slots[i];
        if (!e)
            return -1;
        if ((e & 0xffffffff00000000ull) != tag)
            continue;
        const fr_strmap_ent *en = &m->ent[(uint32_t)e - 1];
        if (en->hash == h && en->len == len && memcmp(m->arena + en->off, s, len) == 0)
            return en->val;
    }
}

static bool strmap_grow_slots(fr_strmap *m)
{
    uint32_t nslots = (m->mask + 1) * 2;
    if (nslots == 0)
        return false;
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return false;
    uint32_t mask = nslots - 1;
    for (uint32_t e = 0; e < m->n; e++) {
        uint64_t h = m->ent[e].hash;
        uint32_t i = (uint32_t)h & mask;
        while (slots[i])
            i = (i + 1) & mask;
        slots[i] = (h & 0xffffffff00000000ull) | (e + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->mask = mask;
    return true;
}

int fr_strmap_put(fr_strmap *m, const char *s, size_t len, int32_t val, int32_t *old)
{
    if (len > UINT32_MAX || m->arena_len + len > UINT32_MAX || m->n >= (1u << 30))
        return -1;
    uint64_t h = fr_hash_bytes(s, len);
    uint64_t tag = h & 0xffffffff00000000ull;
    uint32_t i = (uint32_t)h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        uint64_t e = m->slots[i];
        if (!e)
            break;
        if ((e & 0xffffffff00000000ull) != tag)
            continue;
        const fr_strmap_ent *en = &m->ent[(uint32_t)e - 1];
        if (en->hash == h && en->len == len && memcmp(m->arena + en->off, s, len) == 0) {
            if (old)
                *old = en->val;
            return 0;
        }
    }
    if (m->n == m->ent_cap) {
        uint32_t cap = m->ent_cap * 2;
        fr_strmap_ent *ent = realloc(m->ent, (size_t)cap * sizeof *ent);
        if (!ent)
            return -1;
        m->ent = ent;
        m->ent_cap = cap;
    }
    if (m->arena_len + len > m->arena_cap) {
        size_t cap = m->arena_cap * 2;
        while (cap < m->arena_len + len)
            cap *= 2;
        char *a = realloc(m->arena, cap);
        if (!a)
            return -1;
        m->arena = a;
        m->arena_cap = cap;
    }
    memcpy(m->arena + m->arena_len, s, len);
    fr_strmap_ent *en = &m->ent[m->n];
    en->hash = h;
    en->off = (uint32_t)m->arena_len;
    en->len = (uint32_t)len;
    en->val = val;
    m->arena_len += len;
    m->slots[i] = tag | ++m->n;
    if ((uint64_t)m->n * 2 > m->mask && !strmap_grow_slots(m))
        return -1;
    return 1;
}

bool fr_pairmap_init(fr_pairmap *m, uint32_t expect)
{
    memset(m, 0, sizeof *m);
    uint32_t slots = pow2_at_least((uint64_t)expect * 2 + 2);
    m->keys = malloc((size_t)slots * sizeof *m->keys);
    m->rank = malloc((size_t)slots * sizeof *m->rank);
    m->result = malloc((size_t)slots * sizeof *m->result);
    if (!m->keys || !m->rank || !m->result) {
        fr_pairmap_free(m);
        return false;
    }
    memset(m->keys, 0xff, (size_t)slots * sizeof *m->keys);
    m->mask = slots - 1;
    return true;
}

void fr_pairmap_free(fr_pairmap *m)
{
    if (!m)
        return;
    free(m->keys);
    free(m->rank);
    free(m->result);
    memset(m, 0, sizeof *m);
}

static bool pairmap_grow(fr_pairmap *m)
{
    fr_pairmap g;
    if ((m->mask + 1) >= (1u << 31) || !fr_pairmap_init(&g, m->mask + 1))
        return false;
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (m->keys[i] == UINT64_MAX)
            continue;
        fr_pairmap_put(&g, (int32_t)(m->keys[i] >> 32), (int32_t)(uint32_t)m->keys[i], m->rank[i],
                       m->result[i]);
    }
    fr_pairmap_free(m);
    *m = g;
    return true;
}

int fr_pairmap_put(fr_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result)
{
    uint64_t k = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t h = k * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    uint32_t i = (uint32_t)h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->keys[i] == k)
            return 0;
        if (m->keys[i] == UINT64_MAX)
            break;
    }
    m->keys[i] = k;
    m->rank[i] = rank;
    m->result[i] = result;
    m->n++;
    if ((uint64_t)m->n * 2 > m->mask && !pairmap_grow(m))
        return -1;
    return 1;
}
