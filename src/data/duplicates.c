/* duplicates.c — finding repeated (user, item) pairs without a hash set.
 *
 * Ratings are bucketed by user (counting sort into a permutation, 4 bytes per
 * rating), each user's run is sorted by item and then by position, so equal
 * neighbours are duplicates in file order. Linear apart from the per-user
 * sorts, whose runs are short. */
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

fl_status fl_dedupe(fl_dataset *d, fl_dup_policy policy, const uint32_t *lines, const char *name,
                    fl_error *err) {
    if (policy == FL_DUP_KEEP || d->n_ratings < 2) return FL_OK;
    if (d->n_ratings > UINT32_MAX) return FL_OK; /* positions would not fit; keep all */
    uint32_t n_users = fl_idmap_size(d->user_ids);
    size_t n = d->n_ratings;
    size_t *start = calloc((size_t)n_users + 1, sizeof *start);
    uint32_t *perm = malloc(n * sizeof *perm);
    if (!start || !perm) {
        free(start);
        free(perm);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory checking duplicates", name);
    }
    for (size_t k = 0; k < n; k++) start[d->users[k] + 1]++;
    for (uint32_t u = 0; u < n_users; u++) start[u + 1] += start[u];
    for (size_t k = 0; k < n; k++) perm[start[d->users[k]]++] = (uint32_t)k;
    for (uint32_t u = n_users; u > 0; u--) start[u] = start[u - 1];
    start[0] = 0;
    size_t longest = 1;
    for (uint32_t u = 0; u < n_users; u++)
        if (start[u + 1] - start[u] > longest) longest = start[u + 1] - start[u];
    uint64_t *keys = malloc(longest * sizeof *keys);
    /* One bit per item: a user's run with no bit seen twice has no duplicate
     * and needs no sort, which is nearly every run of a real file. */
    uint32_t n_items = fl_idmap_size(d->item_ids);
    unsigned char *bits = calloc((size_t)n_items / 8 + 1, 1);
    if (!keys || !bits) {
        free(keys), free(bits), free(start), free(perm);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory checking duplicates", name);
    }

    /* drop[k] marks ratings folded into a later duplicate of the same pair;
     * the merged value is written into the dataset's own arrays. */
    unsigned char *drop = NULL;
    fl_status st = FL_OK;
    for (uint32_t u = 0; u < n_users && st == FL_OK; u++) {
        uint32_t *run = perm + start[u];
        size_t len = start[u + 1] - start[u];
        int repeated = 0;
        for (size_t j = 0; j < len; j++) {
            uint32_t it = d->items[run[j]];
            repeated |= bits[it >> 3] >> (it & 7) & 1;
            bits[it >> 3] |= (unsigned char)(1u << (it & 7));
        }
        for (size_t j = 0; j < len; j++) bits[d->items[run[j]] >> 3] = 0;
        if (!repeated) continue;
        sort_run(d->items, run, len, keys);
        for (size_t a = 0; a < len;) {
            size_t b = a + 1;
            while (b < len && d->items[run[b]] == d->items[run[a]]) b++;
            if (b - a > 1) {
                if (policy == FL_DUP_ERROR) {
                    st = fl_fail(err, FL_ERR_DATA,
                                 "%s:%u: user '%s' rated item '%s' again (first at line %u); "
                                 "choose --duplicates=last or --duplicates=mean",
                                 name, lines[run[a + 1]], fl_idmap_name(d->user_ids, u),
                                 fl_idmap_name(d->item_ids, d->items[run[a]]), lines[run[a]]);
                    break;
                }
                if (!drop && !(drop = calloc(n, 1))) {
                    st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory merging duplicates", name);
                    break;
                }
                uint32_t last = run[b - 1];
                if (policy == FL_DUP_MEAN) {
                    double s = 0;
                    for (size_t j = a; j < b; j++) s += d->ratings[run[j]];
                    d->ratings[last] = (float)(s / (double)(b - a));
                    if (d->times)
                        for (size_t j = a; j < b; j++)
                            if (d->times[run[j]] > d->times[last])
                                d->times[last] = d->times[run[j]];
                }
                for (size_t j = a; j + 1 < b; j++) drop[run[j]] = 1;
            }
            a = b;
        }
    }
    free(start);
    free(perm);
    free(keys);
    free(bits);
    if (st == FL_OK && drop) {
        size_t w = 0;
        for (size_t k = 0; k < n; k++) {
            if (drop[k]) continue;
            d->users[w] = d->users[k];
            d->items[w] = d->items[k];
            d->ratings[w] = d->ratings[k];
            if (d->times) d->times[w] = d->times[k];
            w++;
        }
        d->n_ratings = w;
    }
    free(drop);
    return st;
}
