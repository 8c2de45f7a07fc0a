/* row_exchange.c — the factor rows' all-to-all (see row_exchange.h). */
#include "dist/row_exchange.h"

#include "core/error.h"
#include "dist/part_data.h"

#include <stdlib.h>
#include <string.h>

fl_status fl_row_plan_build(fl_coll *d, const uint32_t *need, uint32_t n_need, const uint32_t *cut,
                            uint32_t own_lo, int width, fl_row_plan *pl, fl_error *err) {
    memset(pl, 0, sizeof *pl);
    pl->width = width;
    const int size = d->size;
    size_t *ask = calloc((size_t)size, sizeof *ask), *asked = calloc((size_t)size, sizeof *asked);
    pl->send_bytes = calloc((size_t)size, sizeof *pl->send_bytes);
    pl->recv_bytes = calloc((size_t)size, sizeof *pl->recv_bytes);
    fl_status st = FL_OK;
    if (!ask || !asked || !pl->send_bytes || !pl->recv_bytes)
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory planning the exchange of factor rows");
    for (uint32_t j = 0; st == FL_OK && j < n_need; j++)
        ask[fl_part_owner(cut, size, need[j])] += sizeof(uint32_t);
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_counts(d, ask, asked, err);
    for (int r = 0; st == FL_OK && r < size; r++) pl->n_send += asked[r] / sizeof(uint32_t);
    pl->n_recv = n_need;
    if (st == FL_OK) {
        pl->send_rows = malloc((pl->n_send ? pl->n_send : 1) * sizeof *pl->send_rows);
        pl->send_buf = malloc((pl->n_send ? pl->n_send : 1) * (size_t)width * sizeof(float));
        pl->recv_buf = malloc((pl->n_recv ? pl->n_recv : 1) * (size_t)width * sizeof(float));
        if (!pl->send_rows || !pl->send_buf || !pl->recv_buf)
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the exchange of factor rows");
    }
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_alltoallv(d, need, ask, pl->send_rows, asked, err);
    for (size_t k = 0; st == FL_OK && k < pl->n_send; k++) pl->send_rows[k] -= own_lo;
    for (int r = 0; st == FL_OK && r < size; r++) {
        pl->send_bytes[r] = asked[r] / sizeof(uint32_t) * (size_t)width * sizeof(float);
        pl->recv_bytes[r] = ask[r] / sizeof(uint32_t) * (size_t)width * sizeof(float);
    }
    free(ask), free(asked);
    if (st != FL_OK) fl_row_plan_free(pl);
    return st;
}

fl_status fl_row_exchange(fl_coll *d, fl_row_plan *pl, const float *X, const float *bx,
                          uint32_t stride, int k, float *Y, float *by, fl_error *err) {
    const size_t w = (size_t)pl->width;
    for (size_t j = 0; j < pl->n_send; j++) {
        float *to = pl->send_buf + j * w;
        memcpy(to, X + (size_t)pl->send_rows[j] * stride, (size_t)k * sizeof *to);
        if (bx) to[k] = bx[pl->send_rows[j]];
    }
    fl_status st = fl_coll_alltoallv(d, pl->send_buf, pl->send_bytes, pl->recv_buf, pl->recv_bytes, err);
    if (st != FL_OK) return st;
    for (size_t j = 0; j < pl->n_recv; j++) {
        const float *from = pl->recv_buf + j * w;
        memcpy(Y + j * stride, from, (size_t)k * sizeof *from);
        if (by) by[j] = from[k];
    }
    return FL_OK;
}

void fl_row_plan_free(fl_row_plan *pl) {
    free(pl->send_bytes), free(pl->recv_bytes), free(pl->send_rows);
    free(pl->send_buf), free(pl->recv_buf);
    memset(pl, 0, sizeof *pl);
}
