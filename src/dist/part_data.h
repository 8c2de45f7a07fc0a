/* part_data.h — the ratings as one process of a partitioned training holds
 * them.
 *
 * Every process reads its byte range of the ratings file (data/ratings_part.h);
 * the global id maps are the union of the parts' ids in rank order, which is
 * their order of first appearance in the whole file, so indices are those a
 * single process reading the file gives. Users and items are cut into
 * contiguous blocks of global indices, one per process, each block holding
 * about 1/N of the ratings (cut where the running count of ratings crosses
 * r/N of them: equal counts of ids left one of 2 processes with 65% of
 * ml-100k's ratings, since ids that appear early are rated more); every
 * rating goes to
 * the owner of its user (by_user) and to the owner of its item (by_item).
 * A row's columns index the process's list of the other side's rows it
 * needs (need_items, need_users: global indices, ascending), so a row's
 * ratings keep the ascending global order a single process sums them in. */
#ifndef FL_DIST_PART_DATA_H
#define FL_DIST_PART_DATA_H

#include "dist/collective.h"
#include "train/rows.h"

typedef struct fl_part {
    fl_idmap *user_ids, *item_ids;  /* global, the same on every process */
    uint32_t n_users, n_items;
    uint32_t u_lo, u_hi, i_lo, i_hi; /* this process's blocks [lo, hi) */
    uint32_t *user_cut, *item_cut;  /* [size + 1]: process r's blocks are [cut[r], cut[r + 1]) */
    size_t n_ratings;               /* global */
    double rating_sum;              /* global, summed in rank order */
    float rating_lo, rating_hi;     /* global */
    fl_rows by_user;                /* rows: own users; columns: need_items */
    fl_rows by_item;                /* rows: own items; columns: need_users */
    uint32_t *need_items, n_need_items;
    uint32_t *need_users, n_need_users;
    double *item_sum;               /* [own items] their ratings' sum (item means) */
    /* Test ratings this process scores: of its items (user a need_users
     * index, or UINT32_MAX when the model will not know the user), of its
     * users whose item is unknown, and those with both unknown. */
    size_t n_test_item, n_test_user, n_test_none;
    uint32_t *test_item, *test_item_user, *test_user;
    float *test_item_r, *test_user_r, *test_none_r;
    size_t n_test;                  /* global */
    uint64_t fingerprint[4];        /* of the ratings and test ratings: counts and sums of hashes */
    char source[256];
} fl_part;

/* The process whose block [cut[r], cut[r + 1]) holds x (blocks may be empty). */
static inline int fl_part_owner(const uint32_t *cut, int size, uint32_t x) {
    int lo = 0, hi = size - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cut[mid + 1] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Reads this process's parts of ratings (and test, may be NULL) and
 * distributes them. Every process calls it; a failure anywhere fails all. */
fl_status fl_part_load(fl_coll *d, const char *ratings, const char *test, const fl_read_opts *o,
                       fl_part *out, fl_error *err);
void fl_part_free(fl_part *p);

#endif
