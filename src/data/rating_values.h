/* rating_values.h — the distinct rating values of a file and how often each
 * occurs, gathered while it is read, to find the few ratings far outside
 * the range the rest of the file uses (fl_dataset.n_outside). */
#ifndef FL_DATA_RATING_VALUES_H
#define FL_DATA_RATING_VALUES_H

#include "factorlens.h"

#define FL_MAX_RATING_VALUES 256

typedef struct fl_rating_value {
    float v;
    uint64_t count;
    size_t first_line; /* 0: slot unused */
} fl_rating_value;

/* An open-addressing table, twice the values it may hold; more distinct
 * values than that means a continuous scale, and the tally stops. */
typedef struct fl_rating_values {
    fl_rating_value slot[2 * FL_MAX_RATING_VALUES];
    int n;
    int overflow;
} fl_rating_values;

void fl_rating_values_init(fl_rating_values *t);
/* Counts rating r, read on line `line` (>= 1). */
void fl_rating_values_add(fl_rating_values *t, float r, size_t line);
/* Adds the tally of a later part of the same file (read on other threads):
 * the result is the tally of both read in order. */
void fl_rating_values_merge(fl_rating_values *t, const fl_rating_values *later);
/* Sets d's n_outside, usual_lo/hi and first_outside (name: the file). */
void fl_rating_values_judge(const fl_rating_values *t, const char *name, fl_dataset *d);

#endif
