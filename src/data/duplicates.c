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

/* Insertion sort for short runs, heap sort otherwise: no recursion and no
 * qsort context pointer (qsort_r is not C11). Order: item, then position. */
static int less(const uint32_t *items, uint32_t a, uint32_t b) {
    return items[a] < items[b] || (items[a] == items[b] && a < b);
}

static void sift(const uint32_t *items, uint32_t *h, size_t n, size_t k) {
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n) return;
        if (c + 1 < n && less(items, h[c], h[c + 1])) c++;
        if (!less(items, h[k], h[c])) return;
        uint32_t t = h[k];
        h[k] = h[c];
        h[c] = t;
        k = c;
    }
}

static void sort_run(const uint32_t *items, uint32_t *a, size_t n) {
    if (n <= 32) {
        for (size_t k = 1; k < n; k++) {
            uint32_t v = a[k];
            size_t j = k;
            while (j > 0 && less(items, v, a[j - 1])) a[j] = a[j - 1], j--;
            a[j] = v;
        }
        return;
    }
    for (size_t k = n / 2; k-- > 0;) sift(items, a, n, k);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift(items, a, end, 0);
    }
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

    /* drop[k] marks ratings folded into a later duplicate of the same pair;
     * the merged value is written into the dataset's own arrays. */
    unsigned char *drop = NULL;
    fl_status st = FL_OK;
    for (uint32_t u = 0; u < n_users && st == FL_OK; u++) {
        uint32_t *run = perm + start[u];
        size_t len = start[u + 1] - start[u];
        sort_run(d->items, run, len);
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
