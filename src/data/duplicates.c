/* duplicates.c — finding repeated (user, item) pairs without a hash set.
 *
 * Each user's ratings are taken as one run: where the file keeps a user's
 * ratings together (the common case) the runs are the file's own stretches;
 * otherwise the ratings are bucketed by user (counting sort into a
 * permutation, 4 bytes per rating). A bit per item finds the runs with a
 * repeat, which alone are sorted by item and then by position, so equal
 * neighbours are duplicates in file order. Linear apart from those sorts. */
#include "data/duplicates.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* Each run is sorted as 64-bit keys (item << 32 | position) held side by
 * side: comparing plain integers in one small array, not positions through
 * the items array, is what keeps a 25M-rating load fast. Equal items come
 * out in file order. Quicksort with median-of-three, insertion sort for short
 * spans, recursion only into the smaller side (log depth). */
static void insertion(uint64_t *a, size_t n) {
    for (size_t k = 1; k < n; k++) {
        uint64_t v = a[k];
        size_t j = k;
        while (j > 0 && a[j - 1] > v) a[j] = a[j - 1], j--;
        a[j] = v;
    }
}

static void sort_keys(uint64_t *a, size_t n) {
    while (n > 24) {
        uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
        uint64_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            uint64_t t = a[i];
            a[i++] = a[j];
            a[j--] = t;
        }
        size_t left = j + 1; /* [0, j] <= pivot <= [j+1, n) */
        if (left < n - left) {
            sort_keys(a, left);
            a += left, n -= left;
        } else {
            sort_keys(a + left, n - left);
            n = left;
        }
    }
    insertion(a, n);
}

static void sort_run(const uint32_t *items, uint32_t *run, size_t n, uint64_t *keys) {
    for (size_t k = 0; k < n; k++) keys[k] = (uint64_t)items[run[k]] << 32 | run[k];
    sort_keys(keys, n);
    for (size_t k = 0; k < n; k++) run[k] = (uint32_t)keys[k];
}

int fl_rating_lines_note(fl_rating_lines *l, size_t rating, size_t line) {
    if (l->n && line == l->next) {
        l->next++;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct fl_line_break *at = realloc(l->at, cap * sizeof *at);
        if (!at) return -1;
        l->at = at, l->cap = cap;
    }
    l->at[l->n++] = (struct fl_line_break){rating, line};
    l->next = line + 1;
    return 0;
}

int fl_rating_lines_note_run(fl_rating_lines *l, size_t rating, size_t line, size_t count) {
    if (count == 0) return 0;
    if (fl_rating_lines_note(l, rating, line)) return -1;
    l->next = line + count; /* lines in step with ratings need no more breaks */
    return 0;
}

size_t fl_rating_lines_of(const fl_rating_lines *l, size_t rating) {
    if (!l || !l->n) return 0;
    size_t lo = 0, hi = l->n; /* the last break at or before rating */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->at[mid].rating <= rating) lo = mid;
        else hi = mid;
    }
    return l->at[lo].line + (rating - l->at[lo].rating);
}

void fl_rating_lines_free(fl_rating_lines *l) {
    free(l->at);
    memset(l, 0, sizeof *l);
}

/* Whether every user's ratings lie in one stretch: ids are numbered in order
 * of first appearance, so that holds when each change of user brings a user
 * never seen before, i.e. the next number. */
static int users_grouped(const fl_dataset *d) {
    uint32_t next = d->users[0] + 1;
    for (size_t k = 1; k < d->n_ratings; k++)
        if (d->users[k] != d->users[k - 1]) {
            if (d->users[k] != next) return 0;
            next++;
        }
    return 1;
}

typedef struct dedupe {
    fl_dataset *d;
    fl_dup_policy policy;
    const fl_rating_lines *lines;
    const char *name;
    fl_error *err;
    unsigned char *bits;  /* one bit per item, all clear between runs */
    uint64_t *keys;       /* [keys_cap] sort scratch */
    size_t keys_cap;
    unsigned char *drop;  /* [n] ratings folded into a later duplicate, or NULL */
} dedupe;

/* One user's ratings, positions run[0..len): nothing to do unless an item
 * repeats; then sorted, and each repeated item settled by the policy (the
 * merged value is written into the dataset's own arrays, the others marked
 * in drop). */
static fl_status settle_run(dedupe *c, uint32_t u, uint32_t *run, size_t len) {
    fl_dataset *d = c->d;
    unsigned char *bits = c->bits;
    int repeated = 0;
    for (size_t j = 0; j < len; j++) {
        uint32_t it = d->items[run[j]];
        repeated |= bits[it >> 3] >> (it & 7) & 1;
        bits[it >> 3] |= (unsigned char)(1u << (it & 7));
    }
    for (size_t j = 0; j < len; j++) bits[d->items[run[j]] >> 3] = 0;
    if (!repeated) return FL_OK;
    if (len > c->keys_cap) {
        uint64_t *keys = realloc(c->keys, len * sizeof *keys);
        if (!keys) return fl_fail(c->err, FL_ERR_NOMEM, "%s: out of memory checking duplicates", c->name);
        c->keys = keys, c->keys_cap = len;
    }
    sort_run(d->items, run, len, c->keys);
    for (size_t a = 0; a < len;) {
        size_t b = a + 1;
        while (b < len && d->items[run[b]] == d->items[run[a]]) b++;
        if (b - a > 1) {
            if (c->policy == FL_DUP_ERROR)
                return fl_fail(c->err, FL_ERR_DATA,
                               "%s:%zu: user '%s' rated item '%s' again (first at line %zu); "
                               "choose --duplicates=last or --duplicates=mean",
                               c->name, fl_rating_lines_of(c->lines, run[a + 1]),
                               fl_idmap_name(d->user_ids, u),
                               fl_idmap_name(d->item_ids, d->items[run[a]]),
                               fl_rating_lines_of(c->lines, run[a]));
            if (!c->drop && !(c->drop = calloc(d->n_ratings, 1)))
                return fl_fail(c->err, FL_ERR_NOMEM, "%s: out of memory merging duplicates", c->name);
            uint32_t last = run[b - 1];
            if (c->policy == FL_DUP_MEAN) {
                double s = 0;
                for (size_t j = a; j < b; j++) s += d->ratings[run[j]];
                d->ratings[last] = (float)(s / (double)(b - a));
                if (d->times)
                    for (size_t j = a; j < b; j++)
                        if (d->times[run[j]] > d->times[last]) d->times[last] = d->times[run[j]];
            }
            for (size_t j = a; j + 1 < b; j++) c->drop[run[j]] = 1;
        }
        a = b;
    }
    return FL_OK;
}

/* Users in one stretch each: the runs are the file's, listed in a small
 * buffer one at a time. */
static fl_status grouped_runs(dedupe *c) {
    const fl_dataset *d = c->d;
    uint32_t *run = NULL;
    size_t cap = 0;
    fl_status st = FL_OK;
    for (size_t s = 0; s < d->n_ratings && st == FL_OK;) {
        size_t e = s + 1;
        while (e < d->n_ratings && d->users[e] == d->users[s]) e++;
        if (e - s > cap) {
            free(run);
            cap = 2 * (e - s);
            if (!(run = malloc(cap * sizeof *run)))
                return fl_fail(c->err, FL_ERR_NOMEM, "%s: out of memory checking duplicates", c->name);
        }
        for (size_t k = s; k < e; k++) run[k - s] = (uint32_t)k;
        st = settle_run(c, d->users[s], run, e - s);
        s = e;
    }
    free(run);
    return st;
}

/* Users scattered through the file: bucketed by user into a permutation. */
static fl_status bucketed_runs(dedupe *c) {
    const fl_dataset *d = c->d;
    uint32_t n_users = fl_idmap_size(d->user_ids);
    size_t n = d->n_ratings;
    size_t *start = calloc((size_t)n_users + 1, sizeof *start);
    uint32_t *perm = malloc(n * sizeof *perm);
    if (!start || !perm) {
        free(start), free(perm);
        return fl_fail(c->err, FL_ERR_NOMEM, "%s: out of memory checking duplicates", c->name);
    }
    for (size_t k = 0; k < n; k++) start[d->users[k] + 1]++;
    for (uint32_t u = 0; u < n_users; u++) start[u + 1] += start[u];
    for (size_t k = 0; k < n; k++) perm[start[d->users[k]]++] = (uint32_t)k;
    for (uint32_t u = n_users; u > 0; u--) start[u] = start[u - 1];
    start[0] = 0;
    fl_status st = FL_OK;
    for (uint32_t u = 0; u < n_users && st == FL_OK; u++)
        st = settle_run(c, u, perm + start[u], start[u + 1] - start[u]);
    free(start), free(perm);
    return st;
}

fl_status fl_dedupe(fl_dataset *d, fl_dup_policy policy, const fl_rating_lines *lines,
                    const char *name, fl_error *err) {
    if (policy == FL_DUP_KEEP || d->n_ratings < 2) return FL_OK;
    if (d->n_ratings > UINT32_MAX) return FL_OK; /* positions would not fit; keep all */
    dedupe c = {.d = d, .policy = policy, .lines = lines, .name = name, .err = err};
    c.bits = calloc((size_t)fl_idmap_size(d->item_ids) / 8 + 1, 1);
    if (!c.bits) return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory checking duplicates", name);
    fl_status st = users_grouped(d) ? grouped_runs(&c) : bucketed_runs(&c);
    free(c.bits);
    free(c.keys);
    if (st == FL_OK && c.drop) {
        size_t w = 0;
        for (size_t k = 0; k < d->n_ratings; k++) {
            if (c.drop[k]) continue;
            d->users[w] = d->users[k];
            d->items[w] = d->items[k];
            d->ratings[w] = d->ratings[k];
            if (d->times) d->times[w] = d->times[k];
            w++;
        }
        d->n_ratings = w;
    }
    free(c.drop);
    return st;
}
