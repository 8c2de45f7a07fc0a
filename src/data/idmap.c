/* idmap.c — raw id strings <-> dense indices.
 *
 * Names live back to back in one growing pool, each NUL-terminated, found
 * through an offset per index.
 *
 * Most ids are small integers written in decimal (MovieLens's are): for
 * those a direct table by value (by_number) gives the index. While every id
 * is such a number, that table is the whole index: a name that is not the
 * canonical spelling of a number ("007", "x", a number too large for the
 * table) cannot be in the map. The first id that the table cannot hold
 * brings in the general index: open addressing (linear probing) over a
 * power-of-two slot array holding index+1 (0 = empty), each entry's hash
 * kept so growing never rehashes strings; load factor <= 1/2. A hash lookup
 * touches four scattered places (slot, hash, offset, name) where the table
 * touches one, and for a numbers-only map (500k users) the slots and hashes
 * would be 12 MB of a 21 MB map. Indices are the same either way: they
 * follow first appearance. "7" and "007" are different ids, and only the
 * canonical spelling (no sign, no leading zero) uses the table. */
#include "data/idmap.h"

#include <stdlib.h>
#include <string.h>

struct fl_idmap {
    uint32_t n, cap;   /* entries; capacity of offsets (and hashes) */
    uint32_t n_slots;  /* power of two; 0 while every id is in by_number */
    uint64_t *slots;   /* (hash >> 32) << 32 | index+1, or 0: the tag rejects
                          most mismatches without touching hashes or names */
    uint64_t *hashes;  /* [cap], with the slots */
    uint64_t *offsets; /* [cap] into pool */
    char *pool;
    size_t pool_len, pool_cap;
    uint32_t last;     /* index+1 of the last id interned, 0 if none */
    uint32_t *by_number; /* [n_numbers]: index+1 of the id spelled as the decimal k, or 0 */
    uint32_t n_numbers;
};

/* Values up to this are cached by number: at most 16 MiB of table. */
#define FL_IDMAP_MAX_NUMBER (1u << 22)

/* Whether id is a canonical decimal below FL_IDMAP_MAX_NUMBER, and its value. */
static int as_number(const char *id, size_t len, uint32_t *value) {
    if (len == 0 || len > 7 || (id[0] == '0' && len > 1)) return 0;
    uint32_t v = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned d = (unsigned char)id[k] - '0';
        if (d > 9) return 0;
        v = v * 10 + d;
    }
    *value = v;
    return v < FL_IDMAP_MAX_NUMBER;
}

/* Makes room in by_number for number: 0, or -1 when it will not hold it (a
 * failed allocation, or a number far above the count of ids: a few ids
 * with large numbers go to the hash instead, so the table costs at most
 * ~256 bytes an id). */
static int reserve_number(fl_idmap *m, uint32_t number) {
    if ((uint64_t)number >= 64 * ((uint64_t)m->n + 1024)) return -1;
    if (number >= m->n_numbers) {
        uint32_t n = m->n_numbers ? m->n_numbers : 1024;
        while (n <= number) n *= 2;
        uint32_t *t = realloc(m->by_number, (size_t)n * sizeof *t);
        if (!t) return -1;
        memset(t + m->n_numbers, 0, (size_t)(n - m->n_numbers) * sizeof *t);
        m->by_number = t;
        m->n_numbers = n;
    }
    return 0;
}

/* Records that number maps to index when the table holds it (with the
 * hash index present, the table is only a shortcut). */
static void remember_number(fl_idmap *m, uint32_t number, uint32_t index) {
    if (reserve_number(m, number) == 0) m->by_number[number] = index + 1;
}

static uint64_t hash_bytes(const char *s, size_t len) {
    /* 8 bytes per step with a multiply-xorshift mix: ids are short, so the
     * per-call cost matters more than avalanche quality. */
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    if (len) memcpy(&w, s, len);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

fl_idmap *fl_idmap_new(void) { return calloc(1, sizeof(fl_idmap)); }

/* The length of name e, with its NUL. */
static size_t name_size(const fl_idmap *m, uint32_t e) {
    return (e + 1 < m->n ? m->offsets[e + 1] : m->pool_len) - m->offsets[e];
}

void fl_idmap_free(fl_idmap *m) {
    if (!m) return;
    free(m->slots);
    free(m->hashes);
    free(m->offsets);
    free(m->pool);
    free(m->by_number);
    free(m);
}

static int grow_slots(fl_idmap *m) {
    uint32_t n_slots = m->n_slots * 2;
    uint64_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (uint32_t k = 0; k < m->n; k++) {
        uint32_t s = (uint32_t)m->hashes[k] & (n_slots - 1);
        while (slots[s]) s = (s + 1) & (n_slots - 1);
        slots[s] = (m->hashes[k] >> 32) << 32 | (k + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return 0;
}

/* Brings in the hash index over the ids so far: 0, or -1 (out of memory,
 * the map unchanged). */
static int ensure_table(fl_idmap *m) {
    if (m->slots) return 0;
    uint32_t n_slots = 64;
    while ((uint64_t)n_slots < 2 * ((uint64_t)m->n + 1)) n_slots *= 2;
    uint64_t *slots = calloc(n_slots, sizeof *slots);
    uint64_t *hashes = malloc((size_t)(m->cap ? m->cap : 1) * sizeof *hashes);
    if (!slots || !hashes) {
        free(slots), free(hashes);
        return -1;
    }
    for (uint32_t k = 0; k < m->n; k++) {
        const uint64_t h = hash_bytes(m->pool + m->offsets[k], name_size(m, k) - 1);
        uint32_t s = (uint32_t)h & (n_slots - 1);
        while (slots[s]) s = (s + 1) & (n_slots - 1);
        slots[s] = (h >> 32) << 32 | (k + 1);
        hashes[k] = h;
    }
    m->slots = slots, m->hashes = hashes, m->n_slots = n_slots;
    return 0;
}

static int lookup(const fl_idmap *m, const char *id, size_t len, uint64_t h, uint32_t *slot) {
    uint32_t s = (uint32_t)h & (m->n_slots - 1);
    for (;;) {
        uint64_t v = m->slots[s];
        uint32_t e = (uint32_t)v;
        if (!e) {
            *slot = s;
            return 0;
        }
        e--;
        if ((v >> 32) == (h >> 32) && m->hashes[e] == h) {
            /* Names lie back to back, so a name's length is the distance to
             * the next one: compare lengths, then bytes, never past either. */
            size_t end = e + 1 < m->n ? m->offsets[e + 1] : m->pool_len;
            const char *name = m->pool + m->offsets[e];
            if (end - m->offsets[e] == len + 1 && memcmp(name, id, len) == 0) {
                *slot = e;
                return 1;
            }
        }
        s = (s + 1) & (m->n_slots - 1);
    }
}

/* Ids never contain NUL: the names are C strings, and lookup's strncmp would
 * otherwise stop early and read past a shorter stored name. */
static int valid_id(const char *id, size_t len) {
    return len <= FL_MAX_ID_LEN && (len == 0 || memchr(id, '\0', len) == NULL);
}

int fl_idmap_find(const fl_idmap *m, const char *id, size_t len, uint32_t *index) {
    uint32_t r, number;
    if (!m) return 0;
    if (as_number(id, len, &number) && number < m->n_numbers && m->by_number[number]) {
        r = m->by_number[number] - 1;
    } else {
        /* Without the hash index every id is in by_number. */
        if (!m->slots || !valid_id(id, len) || !lookup(m, id, len, hash_bytes(id, len), &r)) return 0;
    }
    if (index) *index = r;
    return 1;
}

/* Appends a name as entry n (its hash too with the index present); the
 * caller has checked it is new and valid. */
static fl_status add_name(fl_idmap *m, const char *id, size_t len, uint32_t *k) {
    if (m->n >= UINT32_MAX - 1) return FL_ERR_NOMEM;
    if (m->n == m->cap) {
        uint32_t cap = m->cap == 0 ? 64 : m->cap > UINT32_MAX / 2 ? UINT32_MAX : m->cap * 2;
        if (m->slots) {
            uint64_t *hs = realloc(m->hashes, (size_t)cap * sizeof *hs);
            if (!hs) return FL_ERR_NOMEM;
            m->hashes = hs;
        }
        uint64_t *os = realloc(m->offsets, (size_t)cap * sizeof *os);
        if (!os) return FL_ERR_NOMEM;
        m->offsets = os;
        m->cap = cap;
    }
    if (m->pool_len + len + 1 > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 1024;
        while (cap < m->pool_len + len + 1) cap *= 2;
        char *p = realloc(m->pool, cap);
        if (!p) return FL_ERR_NOMEM;
        m->pool = p;
        m->pool_cap = cap;
    }
    *k = m->n++;
    m->offsets[*k] = m->pool_len;
    if (len) memcpy(m->pool + m->pool_len, id, len);
    m->pool[m->pool_len + len] = '\0';
    m->pool_len += len + 1;
    m->last = *k + 1;
    return FL_OK;
}

static fl_status intern_hashed(fl_idmap *m, const char *id, size_t len, uint32_t *index);

/* An id spelled as the canonical decimal `number` (< FL_IDMAP_MAX_NUMBER). */
static fl_status intern_decimal(fl_idmap *m, uint32_t number, const char *id, size_t len, uint32_t *index) {
    if (number < m->n_numbers && m->by_number[number]) {
        *index = m->by_number[number] - 1;
        m->last = *index + 1;
        return FL_OK;
    }
    if (!m->slots) {
        if (reserve_number(m, number) == 0) { /* new, and the table holds it */
            fl_status st = add_name(m, id, len, index);
            if (st == FL_OK) m->by_number[number] = *index + 1;
            return st;
        }
        if (ensure_table(m) != 0) return FL_ERR_NOMEM;
    }
    fl_status st = intern_hashed(m, id, len, index);
    if (st == FL_OK) remember_number(m, number, *index);
    return st;
}

fl_status fl_idmap_intern(fl_idmap *m, const char *id, size_t len, uint32_t *index) {
    uint32_t number;
    if (as_number(id, len, &number)) return intern_decimal(m, number, id, len, index);
    if (!m->slots && ensure_table(m) != 0) return FL_ERR_NOMEM;
    return intern_hashed(m, id, len, index);
}

fl_status fl_idmap_intern_number(fl_idmap *m, uint32_t number, const char *id, size_t len,
                                 uint32_t *index) {
    if (number < FL_IDMAP_MAX_NUMBER) return intern_decimal(m, number, id, len, index);
    return fl_idmap_intern(m, id, len, index);
}

static fl_status intern_hashed(fl_idmap *m, const char *id, size_t len, uint32_t *index) {
    /* Ratings files are usually grouped by user: the same id as last time is
     * answered without hashing or probing. */
    if (m->last) {
        uint32_t e = m->last - 1;
        size_t end = e + 1 < m->n ? m->offsets[e + 1] : m->pool_len;
        if (end - m->offsets[e] == len + 1 && memcmp(m->pool + m->offsets[e], id, len) == 0) {
            *index = e;
            return FL_OK;
        }
    }
    if (!valid_id(id, len)) return FL_ERR_DATA;
    uint64_t h = hash_bytes(id, len);
    uint32_t slot;
    if (lookup(m, id, len, h, &slot)) {
        *index = slot;
        m->last = slot + 1;
        return FL_OK;
    }
    /* Grow before inserting, so a failed allocation leaves the map unchanged. */
    if ((uint64_t)(m->n + 1) * 2 > m->n_slots) {
        if (m->n_slots >= (1u << 31) || grow_slots(m) != 0) return FL_ERR_NOMEM;
        lookup(m, id, len, h, &slot);
    }
    uint32_t k;
    fl_status st = add_name(m, id, len, &k);
    if (st != FL_OK) return st;
    m->hashes[k] = h;
    m->slots[slot] = (h >> 32) << 32 | (k + 1);
    *index = k;
    return FL_OK;
}

const char *fl_idmap_name(const fl_idmap *m, uint32_t index) {
    return m && index < m->n ? m->pool + m->offsets[index] : NULL;
}

uint32_t fl_idmap_size(const fl_idmap *m) { return m ? m->n : 0; }

fl_idmap *fl_idmap_clone(const fl_idmap *m) {
    if (!m) return NULL;
    fl_idmap *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    *c = *m;
    c->slots = c->hashes = NULL, c->by_number = NULL;
    c->slots = m->slots ? malloc((size_t)m->n_slots * sizeof *c->slots) : NULL;
    c->hashes = m->slots ? malloc((size_t)(m->cap ? m->cap : 1) * sizeof *c->hashes) : NULL;
    c->by_number = m->n_numbers ? malloc((size_t)m->n_numbers * sizeof *c->by_number) : NULL;
    c->offsets = malloc((size_t)(m->cap ? m->cap : 1) * sizeof *c->offsets);
    c->pool = malloc(m->pool_cap ? m->pool_cap : 1);
    if ((m->slots && (!c->slots || !c->hashes)) || (m->n_numbers && !c->by_number) || !c->offsets ||
        !c->pool) {
        fl_idmap_free(c);
        return NULL;
    }
    if (m->slots) {
        memcpy(c->slots, m->slots, (size_t)m->n_slots * sizeof *c->slots);
        if (m->n) memcpy(c->hashes, m->hashes, (size_t)m->n * sizeof *c->hashes);
    }
    if (m->n_numbers) memcpy(c->by_number, m->by_number, (size_t)m->n_numbers * sizeof *c->by_number);
    if (m->n) memcpy(c->offsets, m->offsets, (size_t)m->n * sizeof *c->offsets);
    if (m->pool_len) memcpy(c->pool, m->pool, m->pool_len);
    return c;
}

fl_status fl_idmap_renumber(fl_idmap *m, const uint32_t *at) {
    const uint32_t n = m->n;
    uint32_t *pos = malloc((n ? n : 1) * sizeof *pos);
    uint64_t *hashes = m->slots ? malloc((n ? n : 1) * sizeof *hashes) : NULL;
    uint64_t *offsets = malloc((n ? n : 1) * sizeof *offsets);
    char *pool = malloc(m->pool_len ? m->pool_len : 1);
    if (!pos || (m->slots && !hashes) || !offsets || !pool) {
        free(pos), free(hashes), free(offsets), free(pool);
        return FL_ERR_NOMEM;
    }
    size_t len = 0;
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t e = at[k];
        const size_t end = e + 1 < n ? m->offsets[e + 1] : m->pool_len;
        pos[e] = k;
        if (hashes) hashes[k] = m->hashes[e];
        offsets[k] = len;
        memcpy(pool + len, m->pool + m->offsets[e], end - m->offsets[e]);
        len += end - m->offsets[e];
    }
    for (uint32_t s = 0; s < m->n_slots; s++)
        if ((uint32_t)m->slots[s])
            m->slots[s] = (m->slots[s] >> 32) << 32 | (pos[(uint32_t)m->slots[s] - 1] + 1);
    for (uint32_t k = 0; k < m->n_numbers; k++)
        if (m->by_number[k]) m->by_number[k] = pos[m->by_number[k] - 1] + 1;
    if (m->last) m->last = pos[m->last - 1] + 1;
    free(m->hashes), free(m->offsets), free(m->pool), free(pos);
    m->hashes = hashes, m->offsets = offsets, m->pool = pool;
    m->cap = n, m->pool_cap = m->pool_len ? m->pool_len : 1;
    return FL_OK;
}
