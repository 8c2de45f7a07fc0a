/* sketch.h — a low-rank summary of a sum of low-rank matrices, taken one
 * term at a time without keeping the terms (Tropp, Yurtsever, Udell &
 * Cevher 2017, "Practical sketching algorithms for low-rank matrix
 * approximation"): the MCMC ensemble's average interaction matrix
 * M = (1/c) sum_s U_s V_s^T (users x items) becomes P Q^T of rank <= r. */
#ifndef FL_TRAIN_SKETCH_H
#define FL_TRAIN_SKETCH_H

#include "core/pool.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fl_sketch {
    uint32_t n_u, n_i;
    int r, l;                   /* range sketch width, co-range sketch height (2r + 1) */
    float *omega;               /* [n_i][r] Gaussian test matrix */
    float *psi;                 /* [l][n_u] */
    double *Y;                  /* [n_u][r]  = M omega */
    double *W;                  /* [l][n_i]  = psi M, stored [n_i][l] */
    int terms;
} fl_sketch;

/* r is capped at min(n_u, n_i). Returns 0, or -1 when out of memory. */
int fl_sketch_init(fl_sketch *s, uint32_t n_u, uint32_t n_i, int r, uint64_t seed);
/* Adds U V^T: U is [n_u][k] (row stride ldu), V is [n_i][k] (ldv), doubles. */
void fl_sketch_add(fl_sketch *s, const double *U, size_t ldu, const double *V, size_t ldv, int k,
                   fl_pool *pool);
/* The rank-q approximation P Q^T of (1/terms) * the sum, q <= r (directions
 * the sum does not have are dropped), balanced so that P's and Q's rows have
 * the same mean norm. P is [n_u][q], Q is [n_i][q] (malloc'd, row stride q).
 * Returns 0, or -1 when out of memory. */
int fl_sketch_finish(fl_sketch *s, float **P, float **Q, int *q);
void fl_sketch_free(fl_sketch *s);

/* For each of n_rows rows m (n_i doubles each, times scale), the p of q
 * floats minimising sum_i (p . Q[i] - m[i])^2, Q being [n_i][q] floats with
 * row stride ldq: a new user's row of the average in the model's item basis.
 * out is [n_rows][q]. Returns 0, or -1 when out of memory or Q^T Q is
 * singular. */
int fl_sketch_fit_rows(const float *Q, size_t ldq, uint32_t n_i, int q, const double *rows,
                       int n_rows, double scale, float *out);

#endif
