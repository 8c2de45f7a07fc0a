/* fold_in_prior.h — how strongly fl_fold_in shrinks a new user's factors and
 * bias towards zero: ridge strengths read off the trained model itself
 * (empirical Bayes), so a user known from five ratings is not fitted as
 * freely as one known from five hundred. */
#ifndef FL_EVAL_FOLD_IN_PRIOR_H
#define FL_EVAL_FOLD_IN_PRIOR_H

#include "models/model.h"

#include <stddef.h>

typedef struct fl_fold_in_prior {
    float lambda_factors; /* added to each factor's diagonal of the normal equations */
    float lambda_bias;    /* added to the bias's */
} fl_fold_in_prior;

/* The strengths for a user folded in from n_used ratings of model m (a dot
 * or biased model). With the model's training history, the ridge is the
 * posterior mode of  r = offset + b_i + b_u + <p, q_i> + noise  under
 *   p ~ N(0, v_p I), b_u ~ N(0, v_b), noise ~ N(0, s2):
 *   lambda_factors = s2 / v_p, lambda_bias = s2 / v_b,
 * with v_p the mean square of the trained users' factors, v_b that of their
 * biases (from at most FL_FOLD_IN_PRIOR_USERS users, evenly spaced), and
 * s2 the training objective per rating (data MSE + penalty) of the epoch
 * the model kept. A model without a history (a file written before it was
 * kept) gets its own training regulariser for a user with n_used ratings,
 * reg_factors sqrt(n_used) and reg_bias, as fold-in had before; so do fm
 * and svdpp models, always (their parameters carry fold-in strengths). */
#define FL_FOLD_IN_PRIOR_USERS 4096
void fl_fold_in_prior_get(const fl_model *m, size_t n_used, fl_fold_in_prior *out);

#endif
