/* rows.h — the training ratings by user and by item (compressed rows), as
 * ALS reads them: a user's solve walks the user's ratings, an item's solve
 * the item's.
 *
 * Both orientations together take 16 bytes a rating (index + rating each).
 * Built from a dataset the trainer may consume, the user orientation is the
 * dataset's own item and rating arrays, sorted in place, so the ratings are
 * never held three times over. Within a row the other side's indices are
 * ascending (duplicates kept), which makes the user orientation's indices
 * exactly the model's list of seen items. */
#ifndef FL_TRAIN_ROWS_H
#define FL_TRAIN_ROWS_H

#include "factorlens.h"

typedef struct fl_rows {
    uint32_t n_rows;
    uint64_t *start;  /* [n_rows + 1] offsets into col and r */
    uint32_t *col;    /* the other side's index, ascending within a row */
    float *r;
} fl_rows;

/* by_user and by_item from d (n_users x n_items). With consume, d's arrays
 * are taken (d is left empty); otherwise d is only read. */
fl_status fl_rows_build(fl_dataset *d, int consume, uint32_t n_users, uint32_t n_items,
                        fl_rows *by_user, fl_rows *by_item, fl_error *err);
void fl_rows_free(fl_rows *rows);

#endif
