/* fm_sgd.c — plain SGD for fm and svdpp (fm_sgd.h), on the model mcmc.c
 * samples: every feature on the user or the item side, the implicit groups
 * weighted 1/sqrt(count), a rating predicted as
 *     w0 + S_u[k] + S_i[k] + <S_u, S_i>_k.
 * w0 stays the training mean. One thread: the implicit groups make every
 * rating of a user touch the same hundreds of vectors (and every rating of
 * an item its raters'), so parallel steps would race on them and the
 * result would depend on the scheduling; the other solvers' determinism
 * per seed and thread count holds because there is one order. */
#include "train/fm_sgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* e = y - prediction; gu, gi = -dJ/dS_u, -dJ/dS_i of 1/2 e^2. */
static double rating_step(int k, double w0, double y, const double *Su, const double *Si,
                          double *gu, double *gi) {
    double z = w0 + Su[k] + Si[k];
    for (int f = 0; f < k; f++) z += Su[f] * Si[f];
    const double e = y - z;
    for (int f = 0; f < k; f++) gu[f] = e * Si[f], gi[f] = e * Su[f];
    gu[k] = gi[k] = e;
    return e;
}

double fl_fm_sgd_objective(int k, double w0, double y, int n_u, const double *const *uv,
                           const float *ux, int n_i, const double *const *iv, const float *ix,
                           double reg, double reg_bias, double *gu, double *gi) {
    const int D = k + 1;
    double *buf = calloc((size_t)4 * D, sizeof *buf);
    if (!buf) return NAN;
    double *Su = buf, *Si = buf + D, *du = buf + 2 * D, *di = buf + 3 * D;
    double pen = 0.0;
    for (int j = 0; j < n_u; j++)
        for (int f = 0; f < D; f++) {
            Su[f] += ux[j] * uv[j][f];
            pen += (f < k ? reg : reg_bias) * uv[j][f] * uv[j][f];
        }
    for (int j = 0; j < n_i; j++)
        for (int f = 0; f < D; f++) {
            Si[f] += ix[j] * iv[j][f];
            pen += (f < k ? reg : reg_bias) * iv[j][f] * iv[j][f];
        }
    const double e = rating_step(k, w0, y, Su, Si, du, di);
    for (int j = 0; gu && j < n_u; j++)
        for (int f = 0; f < D; f++) gu[(size_t)j * D + f] = -ux[j] * du[f] + (f < k ? reg : reg_bias) * uv[j][f];
    for (int j = 0; gi && j < n_i; j++)
        for (int f = 0; f < D; f++) gi[(size_t)j * D + f] = -ix[j] * di[f] + (f < k ? reg : reg_bias) * iv[j][f];
    free(buf);
    return 0.5 * e * e + 0.5 * pen;
}

int fl_fm_sgd_epoch(gibbs *g, double lr, double reg, double reg_bias, fl_rng *rng) {
    const int k = g->k, D = g->D;
    fm_side *us = &g->sd[0], *is = &g->sd[1];
    uint32_t *order = malloc(((size_t)us->n_e + 1) * sizeof *order);
    double *buf = malloc((size_t)5 * D * sizeof *buf);
    if (!order || !buf) {
        free(order), free(buf);
        return -1;
    }
    double *Su = buf, *Si = buf + D, *gu = buf + 2 * D, *gi = buf + 3 * D, *acc = buf + 4 * D;
    for (uint32_t u = 0; u < us->n_e; u++) order[u] = u;
    for (uint32_t u = us->n_e; u > 1; u--) {
        uint32_t j = (uint32_t)(fl_rng_uniform(rng) * u);
        if (j >= u) j = u - 1;
        uint32_t t = order[u - 1];
        order[u - 1] = order[j], order[j] = t;
    }
    for (uint32_t o = 0; o < us->n_e; o++) {
        const uint32_t u = order[o];
        const uint64_t f0 = us->e_start[u], f1 = us->e_start[u + 1];
        memset(Su, 0, (size_t)D * sizeof *Su);
        memset(acc, 0, (size_t)D * sizeof *acc);
        for (uint64_t t = f0; t < f1; t++) {
            const double *v = us->V + (size_t)us->e_feat[t] * D, x = us->e_x[t];
            for (int f = 0; f < D; f++) Su[f] += x * v[f];
        }
        /* The user id is its first feature (x = 1): stepped per rating. */
        double *vid = us->V + (size_t)us->e_feat[f0] * D;
        double n_r = 0.0;
        for (uint64_t r = g->u_start[u]; r < g->u_start[u + 1]; r++) {
            const uint32_t i = g->r_item[r];
            memset(Si, 0, (size_t)D * sizeof *Si);
            for (uint64_t t = is->e_start[i]; t < is->e_start[i + 1]; t++) {
                const double *v = is->V + (size_t)is->e_feat[t] * D, x = is->e_x[t];
                for (int f = 0; f < D; f++) Si[f] += x * v[f];
            }
            double *tb = g->nb ? g->tb + (size_t)i * g->nb + g->bin[r] : NULL;
            const double e = rating_step(k, g->w0 + (tb ? *tb : 0.0), g->y[r], Su, Si, gu, gi);
            for (uint64_t t = is->e_start[i]; t < is->e_start[i + 1]; t++) {
                double *v = is->V + (size_t)is->e_feat[t] * D, x = is->e_x[t];
                for (int f = 0; f < D; f++) v[f] += lr * (x * gi[f] - (f < k ? reg : reg_bias) * v[f]);
            }
            for (int f = 0; f < D; f++) {
                double d = lr * (gu[f] - (f < k ? reg : reg_bias) * vid[f]);
                vid[f] += d, Su[f] += d;
                acc[f] += gu[f];
            }
            if (tb) *tb += lr * (e - reg_bias * *tb);
            n_r += 1.0;
        }
        /* The shared features: the n_r steps of the user's ratings taken at
         * once, as their sum, scaled by c = 1 / max(1, n_r x^2). A rated
         * item (x = 1/sqrt(n_r)) gets the plain sum (c = 1); a side feature
         * (x = 1) the mean: its n_r steps summed would overshoot for a user
         * with thousands of ratings (ml-latest-small diverged). The
         * penalty's n_r steps shrink v by (1 - lr reg)^(c n_r), which never
         * overshoots as n_r lr reg would. */
        for (uint64_t t = f0 + 1; t < f1; t++) {
            double *v = us->V + (size_t)us->e_feat[t] * D, x = us->e_x[t];
            const double c = n_r * x * x > 1.0 ? 1.0 / (n_r * x * x) : 1.0;
            const double keep_f = pow(1.0 - lr * reg, c * n_r), keep_b = pow(1.0 - lr * reg_bias, c * n_r);
            for (int f = 0; f < D; f++) v[f] = v[f] * (f < k ? keep_f : keep_b) + c * lr * x * acc[f];
        }
    }
    free(order), free(buf);
    return 0;
}
