/* mf.h — matrix factorisation models: `dot` and `biased`.
 *
 *   z(u,i) = offset + bu[u] + bi[i] + sum_f P[u][f] * Q[i][f]   (biased)
 *   z(u,i) = sum_f P[u][f] * Q[i][f]                            (dot)
 *   yhat   = z, or y_lo + (y_hi - y_lo) * sigmoid(z) when squashing.
 *
 * Objective per observed rating (the same for every solver), with n_u, n_i
 * the training counts of the rating's user and item (see regularizer.h):
 *   J(u,i) = (yhat - r)^2 + reg_factors * (|P[u]|^2 / sqrt(n_u) + |Q[i]|^2 / sqrt(n_i))
 *                         + reg_bias    * (bu[u]^2 / n_u + bi[i]^2 / n_i)
 * Summed over all ratings this is the objective of regularizer.h. */
#ifndef FL_MODELS_MF_H
#define FL_MODELS_MF_H

#include "models/model.h"

#include <string.h>

typedef float fl_v8f __attribute__((vector_size(32)));

/* p.q over the k factors, eight lanes at a time in two accumulators: a
 * scalar loop is one chain of k dependent additions, and every training
 * epoch scores all training and test ratings. The lanes and the tail are
 * added in a fixed order that depends on k only, so a model scores the same
 * bits whatever its row stride, trained (padded rows) or loaded, and
 * whichever copy of its rows (SGD scores its working copy). Loads are
 * unaligned: a loaded model's rows need not be. */
static inline float fl_mf_dot(const float *p, const float *q, uint32_t k) {
    fl_v8f a0 = {0}, a1 = {0}, x, y;
    uint32_t f = 0;
    for (; f + 16 <= k; f += 16) {
        memcpy(&x, p + f, sizeof x), memcpy(&y, q + f, sizeof y);
        a0 += x * y;
        memcpy(&x, p + f + 8, sizeof x), memcpy(&y, q + f + 8, sizeof y);
        a1 += x * y;
    }
    if (f + 8 <= k) {
        memcpy(&x, p + f, sizeof x), memcpy(&y, q + f, sizeof y);
        a0 += x * y;
        f += 8;
    }
    const fl_v8f a = a0 + a1;
    float z = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for (; f < k; f++) z += p[f] * q[f];
    return z;
}

float fl_mf_score(const fl_model *m, uint32_t u, uint32_t i);

/* d yhat / d z at score z (1 without squashing). */
float fl_squash_slope(const fl_params *p, float z);

/* Gradient of J(u,i) with respect to P[u] (gP, n_factors floats), Q[i] (gQ),
 * bu[u] and bi[i] (zero for dot). Returns J(u,i). The plain reference the
 * solvers' fused kernels are tested against; needs the model's training
 * counts (fl_model_set_seen). */
float fl_mf_grad(const fl_model *m, uint32_t u, uint32_t i, float r, float *gP, float *gQ,
                 float *gbu, float *gbi);

#endif
