/* splits.c — train/test splits of a dataset: seeded random holdout, k-fold
 * (one seeded permutation cut into k nearly equal parts, so the folds of one
 * seed partition the ratings), seeded random per user, and per-user temporal. Both halves keep the
 * original rating order and a copy of the full id maps, so an index means the
 * same user or item in the dataset and in both halves. */
#include "data/dataset.h"

#include "core/error.h"
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>

static fl_status check_input(const fl_dataset *d, fl_error *err) {
    if (!d || d->n_ratings < 2)
        return fl_fail(err, FL_ERR_DATA, "%s: cannot split fewer than 2 ratings",
                       d && d->source[0] ? d->source : "dataset");
    if (d->n_ratings > UINT32_MAX)
        return fl_fail(err, FL_ERR_DATA, "%s: splits support at most %u ratings", d->source,
                       UINT32_MAX);
    return FL_OK;
}

static fl_status check_fraction(double f, fl_error *err) {
    if (!(f > 0.0 && f < 1.0))
        return fl_fail(err, FL_ERR_USAGE,
                       "test fraction must be between 0 and 1 (exclusive), got %g", f);
    return FL_OK;
}

static fl_dataset *half(const fl_dataset *d, size_t n) {
    fl_dataset *h = fl_dataset_new(n, d->times != NULL);
    if (!h) return NULL;
    fl_idmap_free(h->user_ids);
    fl_idmap_free(h->item_ids);
    h->user_ids = fl_idmap_clone(d->user_ids);
    h->item_ids = fl_idmap_clone(d->item_ids);
    if (!h->user_ids || !h->item_ids) {
        fl_dataset_free(h);
        return NULL;
    }
    memcpy(h->source, d->source, sizeof h->source);
    memcpy(h->sep, d->sep, sizeof h->sep);
    memcpy(h->header, d->header, sizeof h->header);
    return h;
}

/* Copies each rating, in order, into test when in_test[k], else into train. */
static fl_status build_halves(const fl_dataset *d, const unsigned char *in_test, fl_dataset **train,
                              fl_dataset **test, fl_error *err) {
    size_t n_test = 0;
    for (size_t k = 0; k < d->n_ratings; k++) n_test += in_test[k];
    fl_dataset *tr = half(d, d->n_ratings - n_test), *te = half(d, n_test);
    if (!tr || !te) {
        fl_dataset_free(tr);
        fl_dataset_free(te);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory splitting", d->source);
    }
    for (size_t k = 0; k < d->n_ratings; k++) {
        fl_dataset *h = in_test[k] ? te : tr;
        size_t w = h->n_ratings++;
        h->users[w] = d->users[k];
        h->items[w] = d->items[k];
        h->ratings[w] = d->ratings[k];
        if (d->times) h->times[w] = d->times[k];
    }
    *train = tr;
    *test = te;
    return FL_OK;
}

/* 0..n-1 in an order fixed by seed. */
static uint32_t *permutation(size_t n, uint64_t seed) {
    uint32_t *p = malloc(n * sizeof *p);
    if (!p) return NULL;
    for (size_t k = 0; k < n; k++) p[k] = (uint32_t)k;
    fl_rng r;
    fl_rng_seed(&r, seed);
    fl_rng_shuffle_u32(&r, p, n);
    return p;
}

fl_status fl_split_holdout(const fl_dataset *d, double test_fraction, uint64_t seed,
                           fl_dataset **train, fl_dataset **test, fl_error *err) {
    fl_status st = check_input(d, err);
    if (st || (st = check_fraction(test_fraction, err))) return st;
    size_t n = d->n_ratings;
    uint32_t n_users = fl_idmap_size(d->user_ids);
    uint32_t *perm = permutation(n, seed);
    unsigned char *in_test = calloc(n, 1);
    uint32_t *total = calloc((size_t)n_users + 1, sizeof *total);
    uint32_t *in_train = calloc((size_t)n_users + 1, sizeof *in_train);
    if (!perm || !in_test || !total || !in_train) {
        st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory splitting", d->source);
        goto done;
    }
    size_t n_test = (size_t)(test_fraction * (double)n + 0.5);
    if (n_test == 0) n_test = 1;
    if (n_test >= n) n_test = n - 1;
    for (size_t k = 0; k < n_test; k++) in_test[perm[k]] = 1;
    for (size_t k = 0; k < n; k++) {
        total[d->users[k]]++;
        in_train[d->users[k]] += !in_test[k];
    }
    /* A user with >= 2 ratings but none in train could not be learned; give
     * back their most recently drawn test rating (walking the draw backwards
     * keeps this deterministic). The test set shrinks by that many. */
    for (size_t k = n_test; k-- > 0;) {
        uint32_t u = d->users[perm[k]];
        if (total[u] >= 2 && in_train[u] == 0) {
            in_test[perm[k]] = 0;
            in_train[u] = 1;
        }
    }
    st = build_halves(d, in_test, train, test, err);
done:
    free(perm);
    free(in_test);
    free(total);
    free(in_train);
    return st;
}

fl_status fl_split_fold(const fl_dataset *d, int n_folds, int fold, uint64_t seed,
                        fl_dataset **train, fl_dataset **test, fl_error *err) {
    fl_status st = check_input(d, err);
    if (st) return st;
    if (n_folds < 2 || (size_t)n_folds > d->n_ratings)
        return fl_fail(err, FL_ERR_USAGE, "number of folds must be between 2 and %zu, got %d",
                       d->n_ratings, n_folds);
    if (fold < 0 || fold >= n_folds)
        return fl_fail(err, FL_ERR_USAGE, "fold must be between 0 and %d, got %d", n_folds - 1,
                       fold);
    size_t n = d->n_ratings;
    uint32_t *perm = permutation(n, seed);
    unsigned char *in_test = calloc(n, 1);
    if (!perm || !in_test) {
        free(perm);
        free(in_test);
        return fl_fail(err, FL_ERR_NOMEM, "%s: out of memory splitting", d->source);
    }
    /* Part f is [f*n/k, (f+1)*n/k): sizes differ by at most one. */
    size_t lo = (size_t)((uint64_t)fold * n / (uint64_t)n_folds);
    size_t hi = (size_t)((uint64_t)(fold + 1) * n / (uint64_t)n_folds);
    for (size_t k = lo; k < hi; k++) in_test[perm[k]] = 1;
    st = build_halves(d, in_test, train, test, err);
    free(perm);
    free(in_test);
    return st;
}

fl_status fl_split_per_user(const fl_dataset *d, double test_fraction, uint64_t seed,
                            fl_dataset **train, fl_dataset **test, fl_error *err) {
    fl_status st = check_input(d, err);
    if (st || (st = check_fraction(test_fraction, err))) return st;
    size_t n = d->n_ratings;
    uint32_t n_users = fl_idmap_size(d->user_ids);
    uint32_t *perm = permutation(n, seed);
    unsigned char *in_test = calloc(n, 1);
    uint32_t *quota = calloc((size_t)n_users + 1, sizeof *quota);
    if (!perm || !in_test || !quota) {
        st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory splitting", d->source);
        goto done;
    }
    for (size_t k = 0; k < n; k++) quota[d->users[k]]++;
    /* Each user's quota is round(fraction * count), kept below the count so
     * every user keeps a training rating (a user with one rating keeps it). */
    for (uint32_t u = 0; u < n_users; u++) {
        uint32_t c = quota[u];
        uint32_t q = (uint32_t)(test_fraction * (double)c + 0.5);
        quota[u] = c == 0 ? 0 : (q > c - 1 ? c - 1 : q);
    }
    /* One seeded permutation of all ratings: a user's test ratings are the
     * first of theirs it meets, so each user's draw is uniform and the whole
     * split depends on the seed alone. */
    for (size_t j = 0; j < n; j++) {
        uint32_t k = perm[j], u = d->users[k];
        if (quota[u]) quota[u]--, in_test[k] = 1;
    }
    st = build_halves(d, in_test, train, test, err);
done:
    free(perm);
    free(in_test);
    free(quota);
    return st;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

fl_status fl_split_temporal(const fl_dataset *d, double test_fraction, fl_dataset **train,
                            fl_dataset **test, fl_error *err) {
    fl_status st = check_input(d, err);
    if (st || (st = check_fraction(test_fraction, err))) return st;
    if (!d->times)
        return fl_fail(err, FL_ERR_USAGE,
                       "%s: a temporal split needs timestamps (read the file with keep_times and a "
                       "timestamp column)",
                       d->source);
    size_t n = d->n_ratings;
    uint32_t n_users = fl_idmap_size(d->user_ids);
    /* Bucket ratings by user (counting sort), then order each user's run by
     * (time, position): one 64-bit key each, so ties keep file order. */
    size_t *start = calloc((size_t)n_users + 1, sizeof *start);
    uint32_t *by_user = malloc(n * sizeof *by_user);
    uint64_t *keys = malloc(n * sizeof *keys);
    unsigned char *in_test = calloc(n, 1);
    if (!start || !by_user || !keys || !in_test) {
        st = fl_fail(err, FL_ERR_NOMEM, "%s: out of memory splitting", d->source);
        goto done;
    }
    for (size_t k = 0; k < n; k++) start[d->users[k] + 1]++;
    for (uint32_t u = 0; u < n_users; u++) start[u + 1] += start[u];
    {
        size_t *fill = start; /* reused: advanced per user, then restored */
        for (size_t k = 0; k < n; k++) by_user[fill[d->users[k]]++] = (uint32_t)k;
        for (uint32_t u = n_users; u > 0; u--) start[u] = start[u - 1];
        start[0] = 0;
    }
    for (uint32_t u = 0; u < n_users; u++) {
        size_t c = start[u + 1] - start[u];
        if (c < 2) continue;
        uint64_t *run = keys + start[u];
        for (size_t j = 0; j < c; j++) {
            uint32_t k = by_user[start[u] + j];
            run[j] = ((uint64_t)d->times[k] << 32) | k;
        }
        qsort(run, c, sizeof *run, cmp_u64);
        size_t n_test = (size_t)(test_fraction * (double)c + 0.5);
        if (n_test > c - 1) n_test = c - 1;
        for (size_t j = c - n_test; j < c; j++) in_test[(uint32_t)run[j]] = 1;
    }
    st = build_halves(d, in_test, train, test, err);
done:
    free(start);
    free(by_user);
    free(keys);
    free(in_test);
    return st;
}
