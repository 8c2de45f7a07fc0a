/* rows.h — the training ratings by user and by item (compressed rows), as
 * ALS reads them: a user's solve walks the user's ratings, an item's solve
 * the item's.
 *
 * A rating is stored as a one-byte index into a table of the distinct
 * rating values when there are at most 256 of them (every explicit rating
 * scale: stars, half stars, 1-10, 0-100), else as a float; both
 * orientations then take 10 bytes a rating (16 with floats) against the 12
 * of the rating triples. Built from a dataset the trainer may consume, the
 * user orientation is the dataset's own item array, sorted in place, so the
 * ratings are never held twice over. Within a row the other side's indices
 * are ascending (duplicates kept), which makes the user orientation's
 * indices exactly the model's list of seen items. */
#ifndef FL_TRAIN_ROWS_H
#define FL_TRAIN_ROWS_H

#include "factorlens.h"

typedef struct fl_rows {
    uint32_t n_rows;
    uint64_t *start; /* [n_rows + 1] offsets into col and the ratings */
    uint32_t *col;   /* the other side's index, ascending within a row */
    uint8_t *code;   /* ratings as indices into value[], or NULL and then */
    float *r;        /* the ratings themselves */
    float value[256];
} fl_rows;

static inline float fl_rows_rating(const fl_rows *rows, uint64_t k) {
    return rows->code ? rows->value[rows->code[k]] : rows->r[k];
}

/* by_user and by_item from d (n_users x n_items). With consume, d's arrays
 * are taken (d is left empty); otherwise d is only read. */
fl_status fl_rows_build(fl_dataset *d, int consume, uint32_t n_users, uint32_t n_items,
                        fl_rows *by_user, fl_rows *by_item, fl_error *err);
void fl_rows_free(fl_rows *rows);

#endif
