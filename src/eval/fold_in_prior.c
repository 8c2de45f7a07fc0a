/* fold_in_prior.c — the ridge strengths of fl_fold_in, from the trained
 * model (see fold_in_prior.h for the model they come from).
 *
 * Why not the training objective's own regulariser: it was chosen for users
 * with tens to hundreds of ratings (reg_factors sqrt(n) on the factors, a
 * fixed reg_bias on the bias), and for a user with a handful it barely
 * shrinks: on ml-100k (trained on the users whose id is not a multiple of
 * 10, the others folded in from their first 5 ratings) it gave RMSE 0.925
 * against 0.954 for the bias-only fallback; with these strengths 0.905.
 * Why the objective per rating and not the training MSE alone for the
 * noise: the MSE of a fit that absorbed part of the noise understates it
 * (ml-latest-small's biased model: training MSE 0.31, held-out MSE 0.71),
 * and with it the fold-in on ml-latest-small gained half as much over the
 * fallback at 5 ratings and nothing at 3 (commit message: the figures). */
#include "eval/fold_in_prior.h"

#include <math.h>

/* The epoch whose parameters the model kept: with early stopping the one
 * with the lowest validation RMSE, else the last. NULL without a history. */
static const fl_epoch_report *kept_epoch(const fl_model *m) {
    if (m->n_history <= 0) return NULL;
    const fl_epoch_report *best = NULL;
    for (int e = 0; e < m->n_history; e++) {
        const fl_epoch_report *r = &m->history[e];
        if (!isnan(r->valid_rmse) && (!best || r->valid_rmse < best->valid_rmse)) best = r;
    }
    return best ? best : &m->history[m->n_history - 1];
}

void fl_fold_in_prior_get(const fl_model *m, size_t n_used, fl_fold_in_prior *out) {
    out->lambda_factors = m->params.reg_factors * sqrtf((float)n_used);
    out->lambda_bias = m->params.reg_bias;
    /* fm and svdpp fold in as the difference from the average user, with
     * the fixed strengths their parameters carry (docs/defaults.md): a
     * sampler's training MSE is that of a posterior mean, not a noise level,
     * and these models' rows are not centred on zero. On the cold-start
     * protocol (ml-100k, 5 ratings) svdpp gave RMSE 0.917 with the
     * empirical-Bayes strengths below and 0.905 with these. */
    if (fl_kind_fm(m->kind)) {
        if (m->params.solver == FL_SOLVER_SGD) {
            out->lambda_factors = FL_FM_FOLD_IN_REG * sqrtf((float)n_used);
            out->lambda_bias = FL_FM_FOLD_IN_REG_BIAS;
        }
        return;
    }
    const fl_epoch_report *r = kept_epoch(m);
    /* A solver without a penalty (a sampler's) may report none: its MSE alone. */
    const double s2 = r ? r->train_mse + (isfinite(r->reg_penalty) ? r->reg_penalty : 0) : NAN;
    if (!(s2 > 0 && isfinite(s2)) || m->n_users == 0 || m->n_factors == 0) return;
    /* Evenly spaced users, in index order: the same sums for the same model. */
    const uint32_t n_users = m->n_users;
    const uint32_t n_s = n_users < FL_FOLD_IN_PRIOR_USERS ? n_users : FL_FOLD_IN_PRIOR_USERS;
    double sp = 0, sb = 0;
    for (uint32_t j = 0; j < n_s; j++) {
        const uint32_t u = (uint32_t)((uint64_t)j * n_users / n_s);
        const float *p = m->P + (size_t)u * m->stride;
        for (uint32_t f = 0; f < m->n_factors; f++) sp += (double)p[f] * p[f];
        if (m->bu) sb += (double)m->bu[u] * m->bu[u];
    }
    /* A variance of zero (every trained row zero) pins the new user's row
     * to zero as well: a huge but finite strength keeps the solve defined. */
    const double v_p = fmax(sp / ((double)n_s * m->n_factors), 1e-20);
    const double v_b = fmax(sb / n_s, 1e-20);
    out->lambda_factors = (float)fmin(s2 / v_p, 1e30);
    out->lambda_bias = (float)fmin(s2 / v_b, 1e30);
}
