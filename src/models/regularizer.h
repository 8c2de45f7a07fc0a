/* regularizer.h — the L2 penalty every solver minimises, and its per-rating
 * shares.
 *
 * Total objective over the n training ratings (every kind; dot has no bias
 * terms, and nn adds reg_factors * |W|^2 over its dense weights):
 *   sum_(u,i) (yhat - r)^2
 *     + reg_factors * (sum_u sqrt(n_u) |P[u]|^2 + sum_i sqrt(n_i) |Q[i]|^2)
 *     + reg_bias    * (sum_u bu[u]^2 + sum_i bi[i]^2)
 * where n_u, n_i count the training ratings of each row.
 *
 * Why these weights: a bias is one number per row, so a plain Gaussian prior
 * (a fixed penalty per row) shrinks rare users' and items' biases towards zero
 * as much as their few ratings warrant. For factor rows, the classic
 * per-rating penalty (weight n) under-regularises rare rows and a fixed one
 * (weight 1) over-regularises frequent ones; sqrt(n) sits between them
 * ("frequency-regularisation", as in MyMediaLite) and measured best on every
 * MovieLens split we tried (docs/defaults.md).
 *
 * SGD and Adam see the objective one rating at a time: each rating carries
 * 1/sqrt(n) of its rows' factor penalties and 1/n of their bias penalties. */
#ifndef FL_MODELS_REGULARIZER_H
#define FL_MODELS_REGULARIZER_H

#include "models/model.h"

typedef struct fl_reg_shares {
    float *fu, *fi;     /* [n_users], [n_items]: 1/sqrt(n) */
    float *bu, *bi;     /* 1/n */
} fl_reg_shares;

/* From the model's training counts (fl_model_set_seen must have run). */
fl_status fl_reg_shares_build(const fl_model *m, fl_reg_shares *s, fl_error *err);
void fl_reg_shares_free(fl_reg_shares *s);

/* The penalty term of the objective above, divided by n_train (so it is on
 * the same per-rating scale as the training MSE it is reported beside). */
double fl_reg_penalty(const fl_model *m);

/* Training ratings of user u / item i. */
uint32_t fl_model_user_count(const fl_model *m, uint32_t u);

#endif
