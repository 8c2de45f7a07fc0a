/* duplicates.h — the same (user, item) pair rated more than once. */
#ifndef FL_DATA_DUPLICATES_H
#define FL_DATA_DUPLICATES_H

#include "factorlens.h"

/* Applies policy to d in place: FL_DUP_ERROR names both lines (from lines[],
 * the source line of each rating) and fails; FL_DUP_LAST keeps the later
 * rating; FL_DUP_MEAN keeps one rating with the mean value and the later
 * timestamp; FL_DUP_KEEP does nothing. Needs 4 bytes per rating of scratch. */
fl_status fl_dedupe(fl_dataset *d, fl_dup_policy policy, const uint32_t *lines, const char *name,
                    fl_error *err);

#endif
