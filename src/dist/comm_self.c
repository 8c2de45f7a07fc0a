/* comm_self.c — the one-process transport (fl_comm_self): every collective
 * is a copy of the process's own share. */
#include "factorlens.h"

#include <string.h>

static fl_status self_allgatherv(void *ctx, const void *send, size_t n, void *recv,
                                 const size_t *counts, fl_error *err) {
    (void)ctx, (void)counts, (void)err;
    if (n) memmove(recv, send, n);
    return FL_OK;
}

static fl_status self_alltoallv(void *ctx, const void *send, const size_t *send_counts,
                                void *recv, const size_t *recv_counts, fl_error *err) {
    (void)ctx, (void)recv_counts, (void)err;
    if (send_counts[0]) memmove(recv, send, send_counts[0]);
    return FL_OK;
}

void fl_comm_self(fl_comm *c) {
    memset(c, 0, sizeof *c);
    c->rank = 0;
    c->size = 1;
    c->allgatherv = self_allgatherv;
    c->alltoallv = self_alltoallv;
}
