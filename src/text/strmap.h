/*
 * strmap.h - two small open-addressing hash maps for the tokenizers:
 *
 *   fr_strmap   byte string -> int32 (token text -> id). Keys are copied
 *               into one arena, so a 150k-token vocabulary is three
 *               allocations, not 150k.
 *   fr_pairmap  (int32, int32) -> (int32, int32) (a BPE merge: left id,
 *               right id -> rank, id of the merged string).
 *
 * Both grow by doubling and keep the load factor under 1/2, so a lookup
 * probes a couple of slots; a string slot carries half of the key's hash, so
 * a probe that misses rarely touches the entry or the key bytes (the maps
 * are large and lookups are bound by cache misses). Values are >= 0; lookups return -1 for
 * "absent". Rejected: a trie (more memory, slower for the exact-match lookups BPE and SentencePiece
 * need) and C++ unordered_map-style chaining (one allocation per key).
 */
#ifndef FR_TEXT_STRMAP_H
#define FR_TEXT_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fr_strmap_ent {
    uint64_t hash;
    uint32_t off, len; /* key in arena */
    int32_t val;
} fr_strmap_ent;

typedef struct fr_strmap {
    char *arena;
    size_t arena_len, arena_cap;
    fr_strmap_ent *ent;
    uint32_t n, ent_cap;
    uint64_t *slots; /* (high 32 bits of the hash) << 32 | (entry index + 1); 0 = empty */
    uint32_t mask;   /* slot count - 1 */
} fr_strmap;

uint64_t fr_hash_bytes(const void *p, size_t n);

/* expect: a size hint. false on allocation failure. */
bool fr_strmap_init(fr_strmap *m, uint32_t expect);
void fr_strmap_free(fr_strmap *m);
int32_t fr_strmap_get(const fr_strmap *m, const char *s, size_t len);
/* Inserts s -> val when s is absent (returns 1), or leaves the map unchanged
 * and stores the existing value in *old (returns 0). -1 on allocation
 * failure or when the arena would exceed 4 GiB. */
int fr_strmap_put(fr_strmap *m, const char *s, size_t len, int32_t val, int32_t *old);
/* Key of entry i (0 .. n-1, insertion order). */
static inline const char *fr_strmap_key(const fr_strmap *m, uint32_t i, uint32_t *len)
{
    *len = m->ent[i].len;
    return m->arena + m->ent[i].off;
}

typedef struct fr_pairmap {
    uint64_t *keys; /* (left << 32) | right; UINT64_MAX = empty */
    int32_t *rank;
    int32_t *result;
    uint32_t n, mask;
} fr_pairmap;

bool fr_pairmap_init(fr_pairmap *m, uint32_t expect);
void fr_pairmap_free(fr_pairmap *m);
/* Inserts when absent (keeps the first, i.e. lowest, rank). -1 on failure. */
int fr_pairmap_put(fr_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result);
/* Rank of the pair or -1; *result gets the merged id. */
static inline int32_t fr_pairmap_get(const fr_pairmap *m, int32_t left, int32_t right,
                                     int32_t *result)
{
    uint64_t k = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint64_t h = k * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == k) {
            *result = m->result[i];
            return m->rank[i];
        }
        if (m->keys[i] == UINT64_MAX)
            return -1;
    }
}

#endif
