/* ooc_rows.h — ratings on disk for out-of-core ALS: a file of rows (by user
 * or by item), each rating 8 bytes (the other side's index, the rating),
 * rows in index order and each row's columns ascending, as fl_rows holds
 * them in memory; the row offsets stay in memory. Rows are read in blocks
 * of whole rows of at most a given number of ratings. */
#ifndef FL_DIST_OOC_ROWS_H
#define FL_DIST_OOC_ROWS_H

#include "train/rows.h"

#include <stdio.h>

typedef struct fl_ooc_pair {
    uint32_t col;
    float r;
} fl_ooc_pair;

typedef struct fl_ooc_side {
    uint32_t n_rows;
    uint64_t *start;        /* [n_rows + 1] */
    char path[4096];
    int fd;
} fl_ooc_side;

/* The end of the block of rows starting at lo: as many rows as fit in
 * max_ratings (at least one). */
uint32_t fl_ooc_block_end(const fl_ooc_side *s, uint32_t lo, uint64_t max_ratings);

/* Writes side's row file from the triples file (12-byte (u, i, r) records
 * in file order), by_user or by item, one block of rows per pass over the
 * triples. sums (may be NULL): each row's ratings summed in file order. */
fl_status fl_ooc_side_write(fl_ooc_side *s, const char *triples, int by_user,
                            uint64_t max_ratings, double *sums, fl_error *err);

/* Rows [lo, hi) as fl_rows (rows 0..hi-lo; code NULL): into buffers that
 * grow as needed (owned by rows; free with fl_rows_free). */
fl_status fl_ooc_block_read(const fl_ooc_side *s, uint32_t lo, uint32_t hi, fl_rows *rows,
                            fl_ooc_pair **buf, size_t *cap, fl_error *err);

#endif
