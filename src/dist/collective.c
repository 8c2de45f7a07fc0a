/* collective.c — sums, agreement and byte counts over fl_comm (see
 * collective.h). */
#include "dist/collective.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

void fl_coll_init(fl_coll *d, const fl_comm *c) {
    memset(d, 0, sizeof *d);
    d->c = c;
    d->rank = c->rank;
    d->size = c->size;
}

fl_status fl_coll_alltoallv(fl_coll *d, const void *send, const size_t *send_counts, void *recv,
                            const size_t *recv_counts, fl_error *err) {
    for (int r = 0; r < d->size; r++)
        if (r != d->rank) d->sent += send_counts[r];
    return d->c->alltoallv(d->c->ctx, send, send_counts, recv, recv_counts, err);
}

fl_status fl_coll_allgatherv(fl_coll *d, const void *send, size_t n, void *recv,
                             const size_t *counts, fl_error *err) {
    d->sent += n * (size_t)(d->size - 1);
    return d->c->allgatherv(d->c->ctx, send, n, recv, counts, err);
}

/* The same n bytes from everyone into all[size][n]. */
static fl_status gather_all(fl_coll *d, const void *x, size_t n, void **all, fl_error *err) {
    size_t *counts = malloc((size_t)d->size * sizeof *counts);
    *all = malloc(n * (size_t)d->size + 1);
    if (!counts || !*all) {
        free(counts), free(*all);
        *all = NULL;
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for a collective");
    }
    for (int r = 0; r < d->size; r++) counts[r] = n;
    fl_status st = fl_coll_allgatherv(d, x, n, *all, counts, err);
    free(counts);
    if (st != FL_OK) free(*all), *all = NULL;
    return st;
}

fl_status fl_coll_sizes(fl_coll *d, size_t n, size_t *counts, fl_error *err) {
    void *all;
    uint64_t v = n;
    fl_status st = gather_all(d, &v, sizeof v, &all, err);
    if (st != FL_OK) return st;
    for (int r = 0; r < d->size; r++) {
        memcpy(&v, (char *)all + (size_t)r * sizeof v, sizeof v);
        counts[r] = (size_t)v;
    }
    free(all);
    return FL_OK;
}

fl_status fl_coll_counts(fl_coll *d, const size_t *send_counts, size_t *recv_counts, fl_error *err) {
    size_t *sc = malloc((size_t)d->size * sizeof *sc);
    uint64_t *out = malloc((size_t)d->size * sizeof *out), *in = malloc((size_t)d->size * sizeof *in);
    if (!sc || !out || !in) {
        free(sc), free(out), free(in);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for a collective");
    }
    for (int r = 0; r < d->size; r++) out[r] = send_counts[r], sc[r] = sizeof(uint64_t);
    fl_status st = fl_coll_alltoallv(d, out, sc, in, sc, err);
    for (int r = 0; st == FL_OK && r < d->size; r++) recv_counts[r] = (size_t)in[r];
    free(sc), free(out), free(in);
    return st;
}

fl_status fl_coll_sum(fl_coll *d, double *x, int n, fl_error *err) {
    void *all;
    fl_status st = gather_all(d, x, (size_t)n * sizeof *x, &all, err);
    if (st != FL_OK) return st;
    const double *a = all;
    for (int k = 0; k < n; k++) {
        double s = 0.0;
        for (int r = 0; r < d->size; r++) s += a[(size_t)r * n + k];
        x[k] = s;
    }
    free(all);
    return FL_OK;
}

fl_status fl_coll_sum_u64(fl_coll *d, uint64_t *x, int n, fl_error *err) {
    void *all;
    fl_status st = gather_all(d, x, (size_t)n * sizeof *x, &all, err);
    if (st != FL_OK) return st;
    const uint64_t *a = all;
    for (int k = 0; k < n; k++) {
        uint64_t s = 0;
        for (int r = 0; r < d->size; r++) s += a[(size_t)r * n + k];
        x[k] = s;
    }
    free(all);
    return FL_OK;
}

fl_status fl_coll_minmax(fl_coll *d, double *lo, double *hi, fl_error *err) {
    double v[2] = {*lo, *hi};
    void *all;
    fl_status st = gather_all(d, v, sizeof v, &all, err);
    if (st != FL_OK) return st;
    const double *a = all;
    for (int r = 0; r < d->size; r++) {
        if (a[2 * r] < *lo) *lo = a[2 * r];
        if (a[2 * r + 1] > *hi) *hi = a[2 * r + 1];
    }
    free(all);
    return FL_OK;
}

typedef struct verdict {
    int32_t code;
    char msg[sizeof(((fl_error *)0)->msg)];
} verdict;

fl_status fl_coll_agree(fl_coll *d, fl_status st, fl_error *err) {
    verdict mine;
    memset(&mine, 0, sizeof mine);
    mine.code = (int32_t)st;
    if (st != FL_OK && err) memcpy(mine.msg, err->msg, sizeof mine.msg);
    void *all;
    fl_error own = {0};
    /* A transport that fails here cannot agree on anything: say so locally. */
    fl_status cst = gather_all(d, &mine, sizeof mine, &all, &own);
    if (cst != FL_OK) {
        if (err) *err = own;
        return cst;
    }
    const verdict *v = all;
    fl_status out = FL_OK;
    for (int r = 0; r < d->size; r++)
        if (v[r].code != FL_OK) {
            out = (fl_status)v[r].code;
            if (err) {
                err->code = out;
                memcpy(err->msg, v[r].msg, sizeof err->msg);
                err->msg[sizeof err->msg - 1] = '\0';
            }
            break;
        }
    free(all);
    return out;
}

fl_status fl_coll_bcast(fl_coll *d, void *buf, size_t n, int root, fl_error *err) {
    size_t *counts = calloc((size_t)d->size, sizeof *counts);
    void *all = malloc(n ? n : 1);
    if (!counts || !all) {
        free(counts), free(all);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for a collective");
    }
    counts[root] = n;
    fl_status st = fl_coll_allgatherv(d, buf, d->rank == root ? n : 0, all, counts, err);
    if (st == FL_OK && d->rank != root) memcpy(buf, all, n);
    free(counts), free(all);
    return st;
}

fl_status fl_coll_gather(fl_coll *d, const void *send, size_t n, void **recv, size_t *n_recv,
                         fl_error *err) {
    *recv = NULL;
    *n_recv = 0;
    size_t *sc = calloc((size_t)d->size, sizeof *sc), *rc = calloc((size_t)d->size, sizeof *rc);
    if (!sc || !rc) {
        free(sc), free(rc);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for a collective");
    }
    sc[0] = n;
    fl_status st = fl_coll_counts(d, sc, rc, err);
    size_t total = 0;
    for (int r = 0; r < d->size; r++) total += rc[r];
    void *buf = NULL;
    if (st == FL_OK && !(buf = malloc(total ? total : 1)))
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory gathering the model (%zu bytes)", total);
    st = fl_coll_agree(d, st, err);
    if (st == FL_OK) st = fl_coll_alltoallv(d, send, sc, buf, rc, err);
    free(sc), free(rc);
    if (st != FL_OK) {
        free(buf);
        return st;
    }
    if (d->rank == 0) {
        *recv = buf;
        *n_recv = total;
    } else {
        free(buf);
    }
    return FL_OK;
}
