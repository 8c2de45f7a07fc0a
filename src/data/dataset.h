/* dataset.h — growing an fl_dataset while it is being built. */
#ifndef FL_DATA_DATASET_H
#define FL_DATA_DATASET_H

#include "factorlens.h"

#include <stdio.h>

typedef struct fl_dataset_builder {
    fl_dataset *d;
    size_t cap;
} fl_dataset_builder;

/* Appends one rating by dense indices; returns FL_ERR_NOMEM on failure. */
fl_status fl_dataset_push(fl_dataset_builder *b, uint32_t u, uint32_t i, float r, uint32_t t);
/* Makes room for cap ratings in all (a hint: a failure leaves the arrays as
 * they were). */
void fl_dataset_reserve(fl_dataset_builder *b, size_t cap);
/* Gives back spare capacity. */
void fl_dataset_shrink(fl_dataset_builder *b);
/* d as text in the format it was read from (fl_dataset_write's body; the
 * caller checks f's errors). factorlens shard writes parts through it. */
void fl_dataset_write_stream(const fl_dataset *d, FILE *f);

#endif
