/* duplicates.h — the same (user, item) pair rated more than once, and the
 * source line of each rating, which duplicate messages name. */
#ifndef FL_DATA_DUPLICATES_H
#define FL_DATA_DUPLICATES_H

#include "factorlens.h"

/* The source line of every rating without 4 bytes a rating: only the places
 * where lines stop running in step with the ratings (the first rating, and
 * one after each header, blank or skipped line) are kept. A plain file has
 * one such break however long it is. */
typedef struct fl_rating_lines {
    struct fl_line_break {
        size_t rating, line; /* rating number `rating` is on line `line` */
    } *at;
    size_t n, cap;
    size_t next; /* the line the next rating is on if nothing intervenes */
} fl_rating_lines;

/* Records that rating number `rating` (0-based, in reading order) is on
 * `line`; -1 when out of memory. Ratings are noted in order. */
int fl_rating_lines_note(fl_rating_lines *l, size_t rating, size_t line);
/* Notes `count` ratings from number `rating` on, one a line from `line`. */
int fl_rating_lines_note_run(fl_rating_lines *l, size_t rating, size_t line, size_t count);
size_t fl_rating_lines_of(const fl_rating_lines *l, size_t rating);
void fl_rating_lines_free(fl_rating_lines *l);

/* Applies policy to d in place: FL_DUP_ERROR names both lines and fails;
 * FL_DUP_LAST keeps the later rating; FL_DUP_MEAN keeps one rating with the
 * mean value and the later timestamp; FL_DUP_KEEP does nothing. When each
 * user's ratings are contiguous (files sorted or grouped by user, as most
 * exports are) the check needs a bit per item and scratch for one user's
 * ratings; otherwise 4 bytes per rating of scratch as well. */
fl_status fl_dedupe(fl_dataset *d, fl_dup_policy policy, const fl_rating_lines *lines,
                    const char *name, fl_error *err);

#endif
