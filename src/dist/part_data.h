/* part_data.h — the ratings as one process of a partitioned training holds
 * them.
 *
 * Every process reads its byte range of the ratings file (data/ratings_part.h);
 * the global id maps are the union of the parts' ids in rank order, which is
 * their order of first appearance in the whole file, so indices are those a
 * single process reading the file gives. Users and items are cut into
 * contiguous blocks of global indices, one per process; every rating goes to
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

/* The block of n indices process r of size owns: [n*r/size, n*(r+1)/size). */
static inline uint32_t fl_block_lo(uint32_t n, int r, int size) {
    return (uint32_t)((uint64_t)n * (uint64_t)r / (uint64_t)size);
}
static inline int fl_block_owner(uint32_t x, uint32_t n, int size) {
    return (int)((((uint64_t)x + 1) * (uint64_t)size - 1) / n);
}

/* Reads this process's parts of ratings (and test, may be NULL) and
 * distributes them. Every process calls it; a failure anywhere fails all. */
fl_status fl_part_load(fl_coll *d, const char *ratings, const char *test, const fl_read_opts *o,
                       fl_part *out, fl_error *err);
void fl_part_free(fl_part *p);

#endif
