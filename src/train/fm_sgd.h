/* fm_sgd.h — fm and svdpp by plain SGD on the sampler's model (fm_sgd.c). */
#ifndef FL_TRAIN_FM_SGD_H
#define FL_TRAIN_FM_SGD_H

#include "core/rng.h"
#include "train/fm_state.h"

/* One rating's SGD objective
 *     J = 1/2 (y - w0 - S_u[k] - S_i[k] - <S_u, S_i>_k)^2
 *         + 1/2 sum over the rating's features j of (reg |v_j|^2 + reg_bias w_j^2),
 * with S_u = sum x_j [v_j, w_j] over the n_u user side features (vectors
 * uv[j], D = k + 1 numbers each, values ux[j]) and S_i over the item side's.
 * If gu and gi are not NULL they get dJ/d[v_j, w_j] for each feature
 * ([n_u][D] and [n_i][D]). What each SGD step of fl_fm_sgd_epoch follows. */
double fl_fm_sgd_objective(int k, double w0, double y, int n_u, const double *const *uv,
                           const float *ux, int n_i, const double *const *iv, const float *ix,
                           double reg, double reg_bias, double *gu, double *gi);

/* One epoch over g's ratings on one thread: users in an order drawn from
 * rng, each user's ratings in turn. Each rating steps the item side's
 * features and the user id's vector at once; the user's other features
 * (side features, rated items), which every rating of the user shares,
 * take the sum of their steps after the user's last rating, so the sum
 * S_u of its hundreds of rated items is built once per user, not once per
 * rating (scaled and shrunk as fm_sgd.c says). Time-bin biases step with
 * their rating. Returns 0, or -1 when
 * out of memory (nothing changed). S and e are stale afterwards. */
int fl_fm_sgd_epoch(gibbs *g, double lr, double reg, double reg_bias, fl_rng *rng);

#endif
