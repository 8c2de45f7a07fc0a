/* comm_mpi.c — fl_comm over MPI (see comm_mpi.h).
 *
 * Byte counts are size_t in fl_comm and int in MPI's v-collectives: a part
 * over 2 GiB is sent as 64-byte units where it divides, else refused with a
 * sentence (more processes make the parts smaller). */
#include "mpi/comm_mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FL_HAVE_MPI
#include <mpi.h>

static fl_status mpi_fail(int rc, const char *what, fl_error *err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    if (err) {
        err->code = FL_ERR_IO;
        snprintf(err->msg, sizeof err->msg, "MPI %s failed: %s", what, msg);
    }
    return FL_ERR_IO;
}

/* counts and displacements in units of unit bytes, or 0 when they do not fit. */
static int to_ints(const size_t *bytes, int n, size_t unit, int *counts, int *displs) {
    size_t at = 0;
    for (int r = 0; r < n; r++) {
        if (bytes[r] % unit || at % unit || bytes[r] / unit > INT_MAX || at / unit > INT_MAX) return 0;
        counts[r] = (int)(bytes[r] / unit), displs[r] = (int)(at / unit);
        at += bytes[r];
    }
    return 1;
}

/* The largest of 64 and 1 bytes in which every count and offset is whole. */
static size_t unit_of(const size_t *a, const size_t *b, int n) {
    size_t at_a = 0, at_b = 0;
    for (int r = 0; r < n; r++) {
        if (a[r] % 64 || at_a % 64 || (b && (b[r] % 64 || at_b % 64))) return 1;
        at_a += a[r];
        if (b) at_b += b[r];
    }
    return 64;
}

static fl_status too_big(fl_error *err) {
    if (err) {
        err->code = FL_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg,
                 "a message between two processes is over 2 GiB, more than one MPI call "
                 "carries here: run on more processes");
    }
    return FL_ERR_NOMEM;
}

static fl_status mpi_allgatherv(void *ctx, const void *send, size_t n, void *recv,
                                const size_t *counts, fl_error *err) {
    (void)ctx;
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int *c = malloc(2 * (size_t)size * sizeof *c);
    if (!c) return too_big(err);
    size_t unit = unit_of(counts, NULL, size);
    MPI_Datatype t = MPI_BYTE;
    if (unit > 1) MPI_Type_contiguous((int)unit, MPI_BYTE, &t), MPI_Type_commit(&t);
    fl_status st = FL_OK;
    if (!to_ints(counts, size, unit, c, c + size) || n / unit > INT_MAX) {
        st = too_big(err);
    } else {
        int rc = MPI_Allgatherv(send, (int)(n / unit), t, recv, c, c + size, t, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) st = mpi_fail(rc, "Allgatherv", err);
    }
    if (unit > 1) MPI_Type_free(&t);
    free(c);
    return st;
}

static fl_status mpi_alltoallv(void *ctx, const void *send, const size_t *send_counts, void *recv,
                               const size_t *recv_counts, fl_error *err) {
    (void)ctx;
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int *c = malloc(4 * (size_t)size * sizeof *c);
    if (!c) return too_big(err);
    size_t unit = unit_of(send_counts, recv_counts, size);
    MPI_Datatype t = MPI_BYTE;
    if (unit > 1) MPI_Type_contiguous((int)unit, MPI_BYTE, &t), MPI_Type_commit(&t);
    fl_status st = FL_OK;
    if (!to_ints(send_counts, size, unit, c, c + size) ||
        !to_ints(recv_counts, size, unit, c + 2 * size, c + 3 * size)) {
        st = too_big(err);
    } else {
        int rc = MPI_Alltoallv(send, c, c + size, t, recv, c + 2 * size, c + 3 * size, t,
                               MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) st = mpi_fail(rc, "Alltoallv", err);
    }
    if (unit > 1) MPI_Type_free(&t);
    free(c);
    return st;
}

fl_status dist_mpi_open(int *argc, char ***argv, fl_comm *c, fl_error *err) {
    memset(c, 0, sizeof *c);
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int rc = MPI_Init(argc, argv);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "Init", err);
    }
    /* Errors come back to us as codes (the default handler aborts the job). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->allgatherv = mpi_allgatherv;
    c->alltoallv = mpi_alltoallv;
    return FL_OK;
}

void dist_mpi_close(fl_comm *c, int failed) {
    (void)c;
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin) return;
    /* Every process agreed on the failure (fl_train_distributed fails on all
     * alike), so a plain finalize ends the job; MPI_Abort is for a process
     * failing alone, which the library never does on purpose. */
    (void)failed;
    MPI_Finalize();
}

#else

fl_status dist_mpi_open(int *argc, char ***argv, fl_comm *c, fl_error *err) {
    (void)argc, (void)argv;
    memset(c, 0, sizeof *c);
    if (err) {
        err->code = FL_ERR_USAGE;
        snprintf(err->msg, sizeof err->msg,
                 "this factorlens was built without MPI, so --distributed is not available "
                 "(install libopenmpi-dev and rebuild)");
    }
    return FL_ERR_USAGE;
}

void dist_mpi_close(fl_comm *c, int failed) { (void)c, (void)failed; }

#endif
