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

typedef float fl_v4f __attribute__((vector_size(16)));

/* p.q over the k factors, eight lanes at a time in two accumulators (each
 * eight lanes held as two 4-lane halves, the baseline's native width: GCC
 * passes wider generic vectors through the stack): a scalar loop is one
 * chain of k dependent additions, and every training epoch scores all
 * training and test ratings. The lanes and the tail are added in a fixed
 * order that depends on k only, so a model scores the same bits whatever
 * its row stride, trained (padded rows) or loaded, and whichever copy of its
 * rows (SGD scores its working copy). Loads are unaligned: a loaded model's
 * rows need not be. */
static inline float fl_mf_dot(const float *p, const float *q, uint32_t k) {
    fl_v4f a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, x, y;
    uint32_t f = 0;
#define FL_MF_LANES(acc, at)                                                                       \
    (memcpy(&x, p + (at), sizeof x), memcpy(&y, q + (at), sizeof y), acc += x * y)
    for (; f + 16 <= k; f += 16) {
        FL_MF_LANES(a0, f), FL_MF_LANES(b0, f + 4);
        FL_MF_LANES(a1, f + 8), FL_MF_LANES(b1, f + 12);
    }
    if (f + 8 <= k) {
        FL_MF_LANES(a0, f), FL_MF_LANES(b0, f + 4);
        f += 8;
    }
#undef FL_MF_LANES
    const fl_v4f lo = a0 + a1, hi = b0 + b1;
    float z = ((lo[0] + hi[0]) + (lo[1] + hi[1])) + ((lo[2] + hi[2]) + (lo[3] + hi[3]));
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
