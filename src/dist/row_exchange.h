/* row_exchange.h — sending factor rows to the processes whose ratings use
 * them: an ALS half-step needs, on each process, the other side's rows for
 * the columns of its ratings, and nothing else. The plan (who sends which
 * of its rows to whom) is fixed by the ratings, so it is built once; each
 * half-step is then one all-to-all of k (+1 bias) floats per needed row.
 * Rows arrive in the order of need[], ascending global index: the owners'
 * blocks are ascending and each asks for its rows in ascending order. */
#ifndef FL_DIST_ROW_EXCHANGE_H
#define FL_DIST_ROW_EXCHANGE_H

#include "dist/collective.h"

typedef struct fl_row_plan {
    int width;           /* floats per row on the wire: k, +1 with a bias */
    size_t *send_bytes;  /* [size] */
    size_t *recv_bytes;  /* [size] */
    uint32_t *send_rows; /* own rows (local), grouped by destination in rank order */
    size_t n_send, n_recv;
    float *send_buf, *recv_buf;
} fl_row_plan;

/* need[0..n_need): the global rows this process uses, ascending; cut[]
 * the blocks of fl_part (user_cut or item_cut), own_lo the first of this
 * process's. */
fl_status fl_row_plan_build(fl_coll *d, const uint32_t *need, uint32_t n_need, const uint32_t *cut,
                            uint32_t own_lo, int width, fl_row_plan *pl, fl_error *err);
/* Own rows X (stride apart, k floats) and biases bx (NULL without) to the
 * processes that need them; Y, by get this process's needed rows. */
fl_status fl_row_exchange(fl_coll *d, fl_row_plan *pl, const float *X, const float *bx,
                          uint32_t stride, int k, float *Y, float *by, fl_error *err);
void fl_row_plan_free(fl_row_plan *pl);

#endif
