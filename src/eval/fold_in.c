/* fold_in.c — factors and bias for a user the model never saw, from a few of
 * their ratings, against the model's fixed item side.
 *
 * It is one ridge regression with the items held, solved exactly (one row of
 * ALS, train/als.c, in form):
 *   sum_i (r_i - offset - b_i - [q_i; 1] . [p; b_u])^2 + lambda_f |p|^2 + lambda_b b_u^2,
 * shrunk towards zero with strengths read off the trained model
 * (fold_in_prior.h: the spread of the trained users' factors and biases
 * against the noise the training left), so that a handful of ratings moves
 * the user only as far as they are evidence for. Dot models drop the bias
 * terms. The nn has no closed form (its embedding
 * enters through the dense layers), and a sigmoid-squashed model's loss is
 * not quadratic in the factors: both are refused rather than approximated. */
#include "core/error.h"
#include "core/linalg.h"
#include "eval/fold_in.h"
#include "eval/fold_in_prior.h"
#include "models/mf.h"
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

fl_status fl_fold_in(const fl_model *m, const char *const *item_ids, const float *ratings,
                     size_t n, fl_unknown_policy pol, float *factors, float *bias,
                     size_t *n_used, fl_error *err) {
    const int k = (int)m->n_factors, biased = fl_kind_mf_biased(m->kind);
    *n_used = 0;
    if (bias) *bias = 0.0f;
    if (fl_model_kind_implicit(m->kind))
        return fl_fail(err, FL_ERR_USAGE,
                       "fold-in fits ratings; an %s model scores preferences (no fold-in yet)",
                       fl_model_kind_name(m->kind));
    if (m->kind == FL_MODEL_NN)
        return fl_fail(err, FL_ERR_USAGE,
                       "fold-in needs a dot or biased model; an nn user embedding has no closed form");
    if (fl_model_squashes(&m->params))
        return fl_fail(err, FL_ERR_USAGE,
                       "fold-in needs a model trained without --y-range: a squashed model's "
                       "least-squares fit has no closed form");
    const int k1 = k + biased;
    float *A = calloc((size_t)k1 * k1 + k1, sizeof *A);
    if (!A) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the fold-in system");
    float *rhs = A + (size_t)k1 * k1;
    size_t used = 0;
    for (size_t r = 0; r < n; r++) {
        uint32_t i;
        if (!fl_idmap_find(m->item_ids, item_ids[r], strlen(item_ids[r]), &i)) {
            if (pol == FL_UNKNOWN_SKIP) continue;
            free(A);
            return fl_fail(err, FL_ERR_UNKNOWN_ID,
                           "item '%s' is not in the model, so it cannot inform a fold-in", item_ids[r]);
        }
        if (!isfinite(ratings[r])) {
            free(A);
            return fl_fail(err, FL_ERR_DATA, "rating %zu for item '%s' is not a finite number", r + 1,
                           item_ids[r]);
        }
        const float *q = m->Q + (size_t)i * m->stride;
        float t = ratings[r] - (biased ? m->offset + m->bi[i] : 0.0f);
        /* fm, svdpp: solve for the difference from the average user. */
        if (m->mean_user) t -= m->mean_bu + fl_mf_dot(m->mean_user, q, m->n_factors);
        /* Upper triangle, column-major: A[c][row] for row <= c. */
        for (int c = 0; c < k; c++) {
            for (int row = 0; row <= c; row++) A[(size_t)c * k1 + row] += q[row] * q[c];
            rhs[c] += q[c] * t;
        }
        if (biased) {
            for (int row = 0; row < k; row++) A[(size_t)k * k1 + row] += q[row];
            A[(size_t)k * k1 + k] += 1.0f;
            rhs[k] += t;
        }
        used++;
    }
    *n_used = used;
    if (used == 0) {
        /* Nothing to learn from: the zero vector and bias, which predict the
         * global offset plus each item's bias, as for an unknown user (for
         * fm and svdpp the average user, their unknown user). */
        memset(factors, 0, (size_t)k * sizeof *factors);
        if (m->mean_user) {
            memcpy(factors, m->mean_user, (size_t)k * sizeof *factors);
            if (bias) *bias = m->mean_bu;
        }
        free(A);
        return FL_OK;
    }
    fl_fold_in_prior prior;
    fl_fold_in_prior_get(m, used, &prior);
    for (int f = 0; f < k; f++) A[(size_t)f * k1 + f] += prior.lambda_factors;
    if (biased) A[(size_t)k * k1 + k] += prior.lambda_bias;
    if (fl_cholesky_solve(A, k1, rhs) != 0) {
        free(A);
        return fl_fail(err, FL_ERR_DATA,
                       "%zu rating%s cannot determine %d factors without regularisation "
                       "(the model's reg is 0)",
                       used, used == 1 ? "" : "s", k);
    }
    memcpy(factors, rhs, (size_t)k * sizeof *factors);
    if (bias && biased) *bias = rhs[k];
    if (m->mean_user) {
        for (int f = 0; f < k; f++) factors[f] += m->mean_user[f];
        if (bias) *bias += m->mean_bu;
    }
    free(A);
    return FL_OK;
}

float fl_folded_score(const fl_model *m, const float *factors, float bias, uint32_t i) {
    float z = fl_mf_dot(factors, m->Q + (size_t)i * m->stride, m->n_factors);
    if (fl_kind_mf_biased(m->kind)) z += m->offset + bias + m->bi[i];
    return z;
}

float fl_predict_folded(const fl_model *m, const float *factors, float bias, uint32_t i) {
    return fl_model_clip(m, fl_folded_score(m, factors, bias, i));
}
