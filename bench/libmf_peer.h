/* libmf_peer.h — LIBMF (github.com/cjlin1/libmf), the parallel SGD matrix-factorisation
 * library, loaded at run time from a shared object so the speed benchmark can time it
 * on the very split factorlens trains on. Nothing here links against LIBMF: without
 * the file the benchmark simply has no LIBMF row. */
#ifndef FL_BENCH_LIBMF_PEER_H
#define FL_BENCH_LIBMF_PEER_H

#include "factorlens.h"

typedef struct libmf_result {
    double updates_per_s; /* n_train * epochs / (T(1 + epochs) - T(1)) */
    double t1_s, tn_s;    /* T(1) and T(1 + epochs): wall seconds of the two mf_train calls */
    double test_rmse;     /* after 1 + epochs iterations, LIBMF's calc_rmse */
} libmf_result;

/* Trains LIBMF's default real-valued MF (squared loss, its default lambdas and eta,
 * no biases) twice in this process: 1 and 1 + epochs iterations, both from the same
 * data; the difference of the two wall times is the epochs' training time, free of
 * LIBMF's setup (copy, shuffle, scaling, grid). Returns 0, or -1 with err filled. */
int libmf_run(const char *so_path, const fl_dataset *train, const fl_dataset *test, int k,
              int threads, int epochs, libmf_result *out, char *err, size_t err_len);

#endif
