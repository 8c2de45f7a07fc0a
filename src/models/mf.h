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
