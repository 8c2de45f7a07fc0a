/* collective.h — what the partitioned training needs from the transport
 * (fl_comm in the public header), built from its two collectives: sums that
 * come out the same on every process and for every run (each process's part
 * is gathered and added in rank order, never in whatever order a reduction
 * tree picks), agreement on failure, and a count of the bytes sent to other
 * processes. */
#ifndef FL_DIST_COLLECTIVE_H
#define FL_DIST_COLLECTIVE_H

#include "factorlens.h"

typedef struct fl_coll {
    const fl_comm *c;
    int rank, size;
    uint64_t sent; /* bytes handed to the transport for other processes, this process */
} fl_coll;

void fl_coll_init(fl_coll *d, const fl_comm *c);

/* The transport's two collectives, counting bytes. */
fl_status fl_coll_alltoallv(fl_coll *d, const void *send, const size_t *send_counts, void *recv,
                            const size_t *recv_counts, fl_error *err);
fl_status fl_coll_allgatherv(fl_coll *d, const void *send, size_t n, void *recv,
                             const size_t *counts, fl_error *err);

/* counts[r] = what process r passes as n (one size_t each). */
fl_status fl_coll_sizes(fl_coll *d, size_t n, size_t *counts, fl_error *err);
/* recv_counts[r] = what process r's send_counts[rank] is. */
fl_status fl_coll_counts(fl_coll *d, const size_t *send_counts, size_t *recv_counts, fl_error *err);
/* x[0..n) summed over processes in rank order, on every process. */
fl_status fl_coll_sum(fl_coll *d, double *x, int n, fl_error *err);
/* x[0..n) summed over processes, as exact integers (mod 2^64). */
fl_status fl_coll_sum_u64(fl_coll *d, uint64_t *x, int n, fl_error *err);
/* Smallest and largest of x over processes. */
fl_status fl_coll_minmax(fl_coll *d, double *lo, double *hi, fl_error *err);
/* Every process learns whether any failed: returns FL_OK when st was FL_OK
 * everywhere, else the status and sentence of the lowest failing process
 * (on every process, err filled). Call after every step that can fail on
 * one process alone, so that no process waits in a collective forever. */
fl_status fl_coll_agree(fl_coll *d, fl_status st, fl_error *err);
/* root's buf[0..n) to every process (n the same everywhere). */
fl_status fl_coll_bcast(fl_coll *d, void *buf, size_t n, int root, fl_error *err);
/* Process 0 receives every process's send, concatenated in rank order,
 * into *recv (malloc'd; its size in *n_recv); others get NULL. */
fl_status fl_coll_gather(fl_coll *d, const void *send, size_t n, void **recv, size_t *n_recv,
                         fl_error *err);

#endif
