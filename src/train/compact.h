/* compact.h — a training set whose id maps hold only ids that have ratings.
 *
 * Splits keep the full id maps in both halves, so a user whose ratings all
 * went to test would otherwise get a factor row that no rating ever trains.
 * The model must only know ids it learned, so training works on a compacted
 * view; when every id already has a rating (a file read as is) the dataset
 * is used without copying. */
#ifndef FL_TRAIN_COMPACT_H
#define FL_TRAIN_COMPACT_H

#include "factorlens.h"

/* *out is d itself (and *owned NULL) or a new compacted dataset (*owned =
 * *out), with d's timestamps when keep_times (only --time-bins reads them:
 * 4 bytes a rating otherwise unused). */
fl_status fl_compact(const fl_dataset *d, int keep_times, const fl_dataset **out,
                     fl_dataset **owned, fl_error *err);

#endif
