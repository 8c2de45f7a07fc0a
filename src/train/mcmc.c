/* mcmc.c — a factorization machine trained by Gibbs sampling (Bayesian FM,
 * Freudenthaler, Schmidt-Thieme & Rendle 2011; BPMF for the id groups), over
 * the relational structure of rating data (Rendle 2013).
 *
 * Every feature is on the user side (user id, user side features, the
 * user's rated items weighted 1/sqrt(count)) or the item side (item id,
 * item features, the item's raters). With S_u = sum of the user side's
 * x_j [v_j, w_j] (k factors and a linear weight, D = k + 1 numbers) and
 * S_i likewise, a rating is predicted as
 *     w0 + S_u[k] + S_i[k] + sum_{f<k} S_u[f] S_i[f].
 * Interactions inside one side (user id x gender) are left out: they add a
 * per-user constant that the user's linear terms already carry.
 *
 * Sampling is coordinate-wise as in libFM: for one side and one dimension
 * f, z_r is the other side's S[f] (1 for the linear dimension); per entity
 * A_e = sum z_r^2 and B_e = sum z_r e_r over its ratings (e the residual).
 * Feature j's conditional is Gaussian with
 *     precision lambda_g + alpha sum_{e has j} x^2 A_e
 *     mean      (lambda_g mu_g + alpha sum x (B_e + x v A_e)) / precision,
 * and after drawing it B_e moves by -x delta A_e: no rating is visited per
 * feature. A dimension costs O(ratings + nonzeros of the side's design),
 * so the implicit groups (hundreds of items per user) cost what their
 * lists hold, not that times the user's ratings. Ids are parallel (a user
 * id touches one user); the other features are drawn in order.
 * Priors (libFM's): per group and dimension mu ~ N(0, 1/lambda), lambda ~
 * Gamma(1/2, 1/2) conjugate updates; noise precision alpha ~ Gamma(1/2, 1/2)
 * a priori; w0 flat.
 *
 * The model is the average of the samples after burn-in: their linear
 * parts and w0 averaged exactly (biases and offset), their interactions
 * (1/c) sum_s <S_u^s, S_i^s> as one users x items matrix of rank <= k c,
 * reduced while sampling to rank ensemble_rank by a streaming sketch
 * (sketch.h) without keeping any sample. The model then predicts as a
 * biased MF model with those factor rows, and what training reports for
 * the last sample is that model's own error: the one a loaded file gives.
 * (Keeping c samples' vectors exactly costs k c floats a row; thinning to
 * 32 of 150 samples cost 0.003 RMSE on ml-100k u1.) */
#include "train/mcmc.h"
#include "train/fm_state.h"
#include "train/fm_sgd.h"

#include "core/error.h"
#include "core/rng.h"
#include "eval/evaluate.h"
#include "train/sketch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TASKS = 64 };
#define FM_SGD_DECAY 0.93


static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A stream of its own for each (sample, side, dimension, task), so draws
 * do not depend on which thread runs what. */
static void stream(fl_rng *r, const gibbs *g, uint64_t task) {
    uint64_t h = mix(g->seed);
    h = mix(h ^ (uint64_t)g->sample);
    h = mix(h ^ ((uint64_t)g->cur_side << 32 | (uint64_t)(uint32_t)g->cur_f));
    fl_rng_seed(r, mix(h ^ task));
}

/* Gamma(shape, 1) for shape >= 1 (Marsaglia & Tsang 2000). */
static double gamma1(fl_rng *r, double shape) {
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = fl_rng_normal(r), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = fl_rng_uniform(r);
        if (u < 1e-300) continue;
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

static void side_free(fm_side *s) {
    free(s->f_start), free(s->f_ent), free(s->f_x), free(s->group_of);
    free(s->mu), free(s->lam), free(s->V), free(s->S);
    free(s->A), free(s->B), free(s->S_old);
    free(s->e_start), free(s->e_feat), free(s->e_x);
}

/* ------------------------------------------------------------ the design */

typedef struct entry {
    uint32_t e, j;
    float x;
} entry;


static int add_group(fl_model *m, int side_no, const char *name, uint32_t size) {
    if (m->n_groups >= FL_MAX_MODEL_GROUPS) return -1;
    int g = m->n_groups++;
    snprintf(m->group_name[g], sizeof m->group_name[g], "%s", name);
    m->group_side[g] = side_no;
    m->group_size[g] = size;
    return 0;
}

/* Side s's features and their entity lists: ids, then the feature file's
 * groups, then the implicit group (the other side's entities). */
static fl_status build_side(gibbs *g, int s, const fl_dataset *d, const fl_features *ft,
                            int implicit, fl_model *m, uint32_t *n_without, uint32_t *n_unused,
                            fl_error *err) {
    fm_side *sd = &g->sd[s];
    const fl_idmap *ids = s == 0 ? d->user_ids : d->item_ids;
    const uint32_t n_e = fl_idmap_size(ids), n_o = fl_idmap_size(s == 0 ? d->item_ids : d->user_ids);
    const uint32_t n_side = ft ? fl_features_n_features(ft) : 0;
    const uint64_t *start = s == 0 ? g->u_start : g->i_start;
    sd->n_e = n_e;
    sd->n_f = n_e + n_side + (implicit ? n_o : 0);
    sd->n_groups = 1 + (ft ? ft->n_groups : 0) + (implicit ? 1 : 0);
    size_t cap = n_e + (implicit ? g->n : 0), n = 0;
    if (ft) cap += ft->start[fl_features_n_ids(ft)];
    entry *en = malloc((cap ? cap : 1) * sizeof *en);
    sd->group_of = malloc(sd->n_f ? sd->n_f : 1);
    if (!en || !sd->group_of) {
        free(en);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory building the feature groups");
    }
    for (uint32_t j = 0; j < n_e; j++) sd->group_of[j] = 0;
    for (uint32_t j = 0; j < n_side; j++) sd->group_of[n_e + j] = (uint8_t)(1 + ft->group_of[j]);
    for (uint32_t j = n_e + n_side; j < sd->n_f; j++) sd->group_of[j] = (uint8_t)(sd->n_groups - 1);
    uint32_t matched = 0;
    *n_without = 0;
    for (uint32_t e = 0; e < n_e; e++) {
        en[n++] = (entry){e, e, 1.0f};
        uint32_t row;
        const char *name = fl_idmap_name(ids, e);
        if (ft) {
            if (fl_idmap_find(ft->ids, name, strlen(name), &row)) {
                matched++;
                for (uint64_t t = ft->start[row]; t < ft->start[row + 1]; t++)
                    en[n++] = (entry){e, n_e + ft->feat[t], ft->val[t]};
            } else {
                (*n_without)++;
            }
        }
        if (implicit) {
            uint64_t lo = start[e], hi = start[e + 1];
            float x = hi > lo ? 1.0f / sqrtf((float)(hi - lo)) : 0.0f;
            for (uint64_t t = lo; t < hi; t++) {
                uint32_t o = s == 0 ? g->r_item[t] : g->r_user[g->i_r[t]];
                en[n++] = (entry){e, n_e + n_side + o, x};
            }
        }
    }
    *n_unused = ft ? fl_features_n_ids(ft) - matched : 0;
    if (g->sgd) {
        /* en is by entity already, each one's id first: SGD's lists. */
        sd->e_start = calloc((size_t)n_e + 1, sizeof *sd->e_start);
        sd->e_feat = malloc((n ? n : 1) * sizeof *sd->e_feat);
        sd->e_x = malloc((n ? n : 1) * sizeof *sd->e_x);
        if (!sd->e_start || !sd->e_feat || !sd->e_x) {
            free(en);
            return fl_fail(err, FL_ERR_NOMEM, "out of memory building the feature groups");
        }
        for (size_t t = 0; t < n; t++) {
            sd->e_start[en[t].e + 1]++;
            sd->e_feat[t] = en[t].j, sd->e_x[t] = en[t].x;
        }
        for (uint32_t e = 0; e < n_e; e++) sd->e_start[e + 1] += sd->e_start[e];
    }
    /* Transposed: each feature's entities, ascending. */
    sd->f_start = calloc((size_t)sd->n_f + 1, sizeof *sd->f_start);
    sd->f_ent = malloc((n ? n : 1) * sizeof *sd->f_ent);
    sd->f_x = malloc((n ? n : 1) * sizeof *sd->f_x);
    if (!sd->f_start || !sd->f_ent || !sd->f_x) {
        free(en);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory building the feature groups");
    }
    for (size_t t = 0; t < n; t++) sd->f_start[en[t].j + 1]++;
    for (uint32_t j = 0; j < sd->n_f; j++) sd->f_start[j + 1] += sd->f_start[j];
    uint64_t *fill = malloc(((size_t)sd->n_f + 1) * sizeof *fill);
    if (!fill) {
        free(en);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory building the feature groups");
    }
    memcpy(fill, sd->f_start, ((size_t)sd->n_f + 1) * sizeof *fill);
    for (size_t t = 0; t < n; t++) {
        uint64_t at = fill[en[t].j]++;
        sd->f_ent[at] = en[t].e, sd->f_x[at] = en[t].x;
    }
    free(fill);
    free(en);
    /* The layout the model records (fl_model_group). */
    int bad = add_group(m, s, s == 0 ? "user" : "item", n_e);
    for (int k = 0; ft && k < ft->n_groups; k++)
        bad |= add_group(m, s, ft->group_names[k], ft->group_size[k]);
    if (implicit) bad |= add_group(m, s, s == 0 ? "rated-items" : "raters", n_o);
    if (bad) return fl_fail(err, FL_ERR_USAGE, "more than %d feature groups", FL_MAX_MODEL_GROUPS);
    const size_t D = (size_t)g->D;
    sd->mu = calloc((size_t)sd->n_groups * D, sizeof *sd->mu);
    sd->lam = malloc((size_t)sd->n_groups * D * sizeof *sd->lam);
    sd->V = calloc((size_t)sd->n_f * D, sizeof *sd->V);
    sd->S = calloc((size_t)n_e * D, sizeof *sd->S);
    sd->A = malloc((size_t)n_e * sizeof *sd->A);
    sd->B = malloc((size_t)n_e * sizeof *sd->B);
    sd->S_old = malloc((size_t)n_e * sizeof *sd->S_old);
    if (!sd->mu || !sd->lam || !sd->V || !sd->S || !sd->A || !sd->B || !sd->S_old)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the sampler's parameters");
    for (size_t t = 0; t < (size_t)sd->n_groups * D; t++) sd->lam[t] = 1.0;
    return FL_OK;
}

/* Ratings by user (in the dataset's order within a user) and by item. */
static fl_status build_ratings(gibbs *g, const fl_dataset *d, fl_error *err) {
    uint32_t nu = fl_idmap_size(d->user_ids), ni = fl_idmap_size(d->item_ids);
    g->n = d->n_ratings;
    g->u_start = calloc((size_t)nu + 1, sizeof *g->u_start);
    g->i_start = calloc((size_t)ni + 1, sizeof *g->i_start);
    g->r_user = malloc(g->n * sizeof *g->r_user);
    g->r_item = malloc(g->n * sizeof *g->r_item);
    g->i_r = malloc(g->n * sizeof *g->i_r);
    g->y = malloc(g->n * sizeof *g->y);
    g->e = malloc(g->n * sizeof *g->e);
    uint64_t *fill = malloc(((size_t)(nu > ni ? nu : ni) + 1) * sizeof *fill);
    if (g->nb) {
        g->bin = malloc(g->n * sizeof *g->bin);
        g->tb = calloc((size_t)ni * g->nb, sizeof *g->tb);
        g->last_bin = calloc((size_t)ni + 1, sizeof *g->last_bin);
        if (!g->bin || !g->tb || !g->last_bin) {
            free(fill);
            return fl_fail(err, FL_ERR_NOMEM, "out of memory for the time bins");
        }
    }
    if (!g->u_start || !g->i_start || !g->r_user || !g->r_item || !g->i_r || !g->y || !g->e ||
        !fill) {
        free(fill);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory ordering the ratings");
    }
    for (size_t t = 0; t < g->n; t++) g->u_start[d->users[t] + 1]++, g->i_start[d->items[t] + 1]++;
    for (uint32_t u = 0; u < nu; u++) g->u_start[u + 1] += g->u_start[u];
    for (uint32_t i = 0; i < ni; i++) g->i_start[i + 1] += g->i_start[i];
    memcpy(fill, g->u_start, ((size_t)nu + 1) * sizeof *fill);
    for (size_t t = 0; t < g->n; t++) {
        uint64_t at = fill[d->users[t]]++;
        g->r_user[at] = d->users[t], g->r_item[at] = d->items[t], g->y[at] = d->ratings[t];
        if (g->nb) g->bin[at] = (uint32_t)fl_time_bin(g->t_lo, g->t_hi, g->nb, d->times[t]);
    }
    memcpy(fill, g->i_start, ((size_t)ni + 1) * sizeof *fill);
    for (size_t r = 0; r < g->n; r++) g->i_r[fill[g->r_item[r]]++] = (uint32_t)r;
    free(fill);
    for (size_t r = 0; g->nb && r < g->n; r++)
        if (g->bin[r] > g->last_bin[g->r_item[r]]) g->last_bin[g->r_item[r]] = g->bin[r];
    return FL_OK;
}

/* ------------------------------------------------------------ sampling */

/* S from V (exactly, once per sample, so increments do not drift). */
static void recompute_sums(gibbs *g, int s) {
    fm_side *sd = &g->sd[s];
    const int D = g->D;
    memset(sd->S, 0, (size_t)sd->n_e * D * sizeof *sd->S);
    for (uint32_t j = 0; j < sd->n_f; j++)
        for (uint64_t t = sd->f_start[j]; t < sd->f_start[j + 1]; t++) {
            double *S = sd->S + (size_t)sd->f_ent[t] * D, x = sd->f_x[t];
            const double *v = sd->V + (size_t)j * D;
            for (int f = 0; f < D; f++) S[f] += x * v[f];
        }
}

static double predict_rating(const gibbs *g, uint32_t u, uint32_t i) {
    const double *su = g->sd[0].S + (size_t)u * g->D, *si = g->sd[1].S + (size_t)i * g->D;
    double z = g->w0 + su[g->k] + si[g->k];
    for (int f = 0; f < g->k; f++) z += su[f] * si[f];
    return z;
}

static void residual_task(void *ctx, int task, int thread) {
    (void)thread;
    gibbs *g = ctx;
    const uint32_t nu = g->sd[0].n_e;
    const uint32_t lo = (uint32_t)((uint64_t)nu * task / TASKS), hi = (uint32_t)((uint64_t)nu * (task + 1) / TASKS);
    for (uint32_t u = lo; u < hi; u++)
        for (uint64_t r = g->u_start[u]; r < g->u_start[u + 1]; r++)
            g->e[r] = g->y[r] - predict_rating(g, u, g->r_item[r]) -
                      (g->nb ? g->tb[(size_t)g->r_item[r] * g->nb + g->bin[r]] : 0.0);
}

/* A_e, B_e for the current side and dimension; S_old keeps S[e][f]. */
static void sums_task(void *ctx, int task, int thread) {
    (void)thread;
    gibbs *g = ctx;
    const int s = g->cur_side, f = g->cur_f, D = g->D, lin = f == g->k;
    fm_side *sd = &g->sd[s];
    const double *So = g->sd[1 - s].S;
    const uint32_t lo = (uint32_t)((uint64_t)sd->n_e * task / TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)sd->n_e * (task + 1) / TASKS);
    for (uint32_t e = lo; e < hi; e++) {
        double A = 0.0, B = 0.0;
        if (s == 0) {
            for (uint64_t r = g->u_start[e]; r < g->u_start[e + 1]; r++) {
                double z = lin ? 1.0 : So[(size_t)g->r_item[r] * D + f];
                A += z * z, B += z * g->e[r];
            }
        } else {
            for (uint64_t t = g->i_start[e]; t < g->i_start[e + 1]; t++) {
                uint32_t r = g->i_r[t];
                double z = lin ? 1.0 : So[(size_t)g->r_user[r] * D + f];
                A += z * z, B += z * g->e[r];
            }
        }
        sd->A[e] = A, sd->B[e] = B;
        sd->S_old[e] = sd->S[(size_t)e * D + f];
    }
}

/* Draws feature j's value in the current dimension; updates S and B. */
static void draw_feature(gibbs *g, fm_side *sd, uint32_t j, fl_rng *rng) {
    const int f = g->cur_f, D = g->D;
    const int grp = sd->group_of[j];
    const double lam = sd->lam[(size_t)grp * D + f], mu = sd->mu[(size_t)grp * D + f];
    double *v = sd->V + (size_t)j * D + f;
    double prec = lam, num = lam * mu;
    for (uint64_t t = sd->f_start[j]; t < sd->f_start[j + 1]; t++) {
        uint32_t e = sd->f_ent[t];
        double x = sd->f_x[t];
        prec += g->alpha * x * x * sd->A[e];
        num += g->alpha * x * (sd->B[e] + x * *v * sd->A[e]);
    }
    double vn = num / prec + (g->sampling ? fl_rng_normal(rng) / sqrt(prec) : 0.0);
    double delta = vn - *v;
    *v = vn;
    for (uint64_t t = sd->f_start[j]; t < sd->f_start[j + 1]; t++) {
        uint32_t e = sd->f_ent[t];
        double xd = sd->f_x[t] * delta;
        sd->S[(size_t)e * D + f] += xd;
        sd->B[e] -= xd * sd->A[e];
    }
}

/* The id group: feature e touches entity e alone, so ranges run in parallel. */
static void ids_task(void *ctx, int task, int thread) {
    (void)thread;
    gibbs *g = ctx;
    fm_side *sd = &g->sd[g->cur_side];
    fl_rng rng;
    stream(&rng, g, 1 + (uint64_t)task);
    const uint32_t lo = (uint32_t)((uint64_t)sd->n_e * task / TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)sd->n_e * (task + 1) / TASKS);
    for (uint32_t j = lo; j < hi; j++) draw_feature(g, sd, j, &rng);
}

/* The residuals after the current dimension of the current side moved. */
static void update_task(void *ctx, int task, int thread) {
    (void)thread;
    gibbs *g = ctx;
    const int s = g->cur_side, f = g->cur_f, D = g->D, lin = f == g->k;
    const fm_side *me = &g->sd[s], *other = &g->sd[1 - s];
    const uint32_t nu = g->sd[0].n_e;
    const uint32_t lo = (uint32_t)((uint64_t)nu * task / TASKS), hi = (uint32_t)((uint64_t)nu * (task + 1) / TASKS);
    for (uint32_t u = lo; u < hi; u++)
        for (uint64_t r = g->u_start[u]; r < g->u_start[u + 1]; r++) {
            uint32_t e = s == 0 ? u : g->r_item[r], o = s == 0 ? g->r_item[r] : u;
            double delta = me->S[(size_t)e * D + f] - me->S_old[e];
            double z = lin ? 1.0 : other->S[(size_t)o * D + f];
            g->e[r] -= delta * z;
        }
}

static void draw_side_dim(gibbs *g, fl_pool *pool, int s, int f) {
    fm_side *sd = &g->sd[s];
    g->cur_side = s, g->cur_f = f;
    fl_pool_run(pool, TASKS, sums_task, g);
    fl_pool_run(pool, TASKS, ids_task, g);
    fl_rng rng;
    stream(&rng, g, 0);
    for (uint32_t j = sd->n_e; j < sd->n_f; j++) draw_feature(g, sd, j, &rng);
    fl_pool_run(pool, TASKS, update_task, g);
}

/* The time-bin biases of a range of items: b_i,b's conditional given the
 * residuals of item i's ratings in bin b (items' ratings are disjoint, so
 * ranges run in parallel); the residuals move with each draw. */
static void time_bins_task(void *ctx, int task, int thread) {
    (void)thread;
    gibbs *g = ctx;
    const int nb = g->nb;
    const uint32_t ni = g->sd[1].n_e;
    fl_rng rng;
    stream(&rng, g, 1 + (uint64_t)task);
    double *n = malloc((size_t)nb * 2 * sizeof *n), *sum = n + nb;
    if (!n) return; /* the biases stay as they are: still a valid chain */
    const uint32_t lo = (uint32_t)((uint64_t)ni * task / TASKS), hi = (uint32_t)((uint64_t)ni * (task + 1) / TASKS);
    for (uint32_t i = lo; i < hi; i++) {
        double *b = g->tb + (size_t)i * nb;
        memset(n, 0, (size_t)nb * 2 * sizeof *n);
        for (uint64_t t = g->i_start[i]; t < g->i_start[i + 1]; t++) {
            uint32_t r = g->i_r[t];
            n[g->bin[r]] += 1.0, sum[g->bin[r]] += g->e[r] + b[g->bin[r]];
        }
        for (int k = 0; k < nb; k++) {
            double prec = g->tb_lam + g->alpha * n[k];
            double v = (g->tb_lam * g->tb_mu + g->alpha * sum[k]) / prec +
                       (g->sampling ? fl_rng_normal(&rng) / sqrt(prec) : 0.0);
            sum[k] = v - b[k]; /* now the change */
            b[k] = v;
        }
        for (uint64_t t = g->i_start[i]; t < g->i_start[i + 1]; t++) {
            uint32_t r = g->i_r[t];
            g->e[r] -= sum[g->bin[r]];
        }
    }
    free(n);
}

/* The time-bin group's Normal-Gamma hyper-parameters, as draw_hyper's. */
static void draw_time_hyper(gibbs *g, fl_rng *rng) {
    const size_t m = (size_t)g->sd[1].n_e * g->nb;
    double sum = 0.0, sq = 0.0;
    for (size_t t = 0; t < m; t++) sum += g->tb[t], sq += (g->tb[t] - g->tb_mu) * (g->tb[t] - g->tb_mu);
    const double n = (double)m, mu = g->tb_mu;
    g->tb_lam = gamma1(rng, (1.0 + n + 1.0) / 2.0) / ((1.0 + sq + mu * mu) / 2.0);
    g->tb_mu = sum / (n + 1.0) + fl_rng_normal(rng) / sqrt((n + 1.0) * g->tb_lam);
}

/* Normal-Gamma hyper-parameters of every group and dimension of side s. */
static void draw_hyper(gibbs *g, int s, fl_rng *rng) {
    fm_side *sd = &g->sd[s];
    const int D = g->D;
    double *n = calloc((size_t)sd->n_groups, sizeof *n);
    double *sum = calloc((size_t)sd->n_groups * D, sizeof *sum);
    double *sq = calloc((size_t)sd->n_groups * D, sizeof *sq);
    if (!n || !sum || !sq) {
        free(n), free(sum), free(sq);
        return; /* keep the current ones: still a valid (if slower) chain */
    }
    for (uint32_t j = 0; j < sd->n_f; j++) {
        int grp = sd->group_of[j];
        n[grp] += 1.0;
        for (int f = 0; f < D; f++) {
            double v = sd->V[(size_t)j * D + f], mu = sd->mu[(size_t)grp * D + f];
            sum[(size_t)grp * D + f] += v;
            sq[(size_t)grp * D + f] += (v - mu) * (v - mu);
        }
    }
    for (int grp = 0; grp < sd->n_groups; grp++)
        for (int f = 0; f < D; f++) {
            size_t at = (size_t)grp * D + f;
            double mu = sd->mu[at];
            double shape = (1.0 + n[grp] + 1.0) / 2.0, rate = (1.0 + sq[at] + mu * mu) / 2.0;
            double lam = gamma1(rng, shape) / rate;
            sd->lam[at] = lam;
            double prec = (n[grp] + 1.0) * lam;
            sd->mu[at] = sum[at] / (n[grp] + 1.0) + fl_rng_normal(rng) / sqrt(prec);
        }
    free(n), free(sum), free(sq);
}

static void draw_global(gibbs *g, fl_rng *rng) {
    double se = 0.0, s = 0.0;
    for (size_t r = 0; r < g->n; r++) se += g->e[r] * g->e[r];
    if (g->sampling) g->alpha = gamma1(rng, (1.0 + (double)g->n) / 2.0) / ((1.0 + se) / 2.0);
    for (size_t r = 0; r < g->n; r++) s += g->e[r] + g->w0;
    double w0 = s / (double)g->n +
                (g->sampling ? fl_rng_normal(rng) / sqrt(g->alpha * (double)g->n) : 0.0);
    double delta = w0 - g->w0;
    g->w0 = w0;
    for (size_t r = 0; r < g->n; r++) g->e[r] -= delta;
}

static void gibbs_free(gibbs *g) {
    side_free(&g->sd[0]), side_free(&g->sd[1]);
    free(g->u_start), free(g->i_start), free(g->r_user), free(g->r_item), free(g->i_r);
    free(g->y), free(g->e), free(g->bin), free(g->tb), free(g->last_bin);
}

/* ------------------------------------------------------------ the ensemble */

typedef struct ensemble {
    fl_sketch sk;               /* the factors' average interaction */
    double *bu, *bi, w0;        /* summed linear parts */
    double *tb;                 /* [n_items][nb] summed time-bin biases, or NULL */
    int n;                      /* samples in it */
    /* New users from features: row 0 the user-id group's prior mean, row
     * 1 + j user side feature j; per row its interaction with every item
     * and its linear weight, summed over the samples. */
    int n_frows;
    double *frow, *flin;        /* [n_frows][n_items], [n_frows] */
    /* Item side feature j's linear weight, summed over the samples. */
    uint32_t n_ifeat;
    double *ilin;               /* [n_ifeat] */
} ensemble;

static void feature_rows_add(ensemble *en, const gibbs *g) {
    const fm_side *us = &g->sd[0], *is = &g->sd[1];
    const int k = g->k, D = g->D;
    for (int r = 0; r < en->n_frows; r++) {
        const double *v = r == 0 ? us->mu : us->V + (size_t)(us->n_e + (uint32_t)r - 1) * D;
        double *row = en->frow + (size_t)r * is->n_e;
        for (uint32_t i = 0; i < is->n_e; i++) {
            const double *S = is->S + (size_t)i * D;
            double z = 0.0;
            for (int f = 0; f < k; f++) z += v[f] * S[f];
            row[i] += z;
        }
        en->flin[r] += v[k];
    }
    for (uint32_t j = 0; j < en->n_ifeat; j++) en->ilin[j] += is->V[(size_t)(is->n_e + j) * D + k];
}

static void ensemble_add(ensemble *en, const gibbs *g, fl_pool *pool) {
    fl_sketch_add(&en->sk, g->sd[0].S, (size_t)g->D, g->sd[1].S, (size_t)g->D, g->k, pool);
    for (uint32_t e = 0; e < g->sd[0].n_e; e++) en->bu[e] += g->sd[0].S[(size_t)e * g->D + g->k];
    for (uint32_t e = 0; e < g->sd[1].n_e; e++) en->bi[e] += g->sd[1].S[(size_t)e * g->D + g->k];
    en->w0 += g->w0;
    if (g->nb)
        for (size_t t = 0; t < (size_t)g->sd[1].n_e * g->nb; t++) en->tb[t] += g->tb[t];
    feature_rows_add(en, g);
    en->n++;
}

/* The model of the samples averaged so far: the sketch's P Q^T for the
 * interactions, the linear parts and w0 averaged exactly. */
static fl_status ensemble_model(ensemble *en, const gibbs *g, const fl_params *p,
                                const fl_dataset *learn, const fl_features *uf,
                                const fl_features *itf, fl_model *layout, float lo, float hi,
                                fl_model **out, fl_error *err) {
    float *P, *Q;
    int q;
    if (fl_sketch_finish(&en->sk, &P, &Q, &q))
        return fl_fail(err, FL_ERR_NOMEM, "out of memory reducing the samples' average");
    fl_params sized = *p;
    sized.n_factors = q;
    fl_model *m;
    fl_status st = fl_model_alloc(&sized, learn->user_ids, learn->item_ids, &m, err);
    if (st) {
        free(P), free(Q);
        return st;
    }
    m->params = *p;
    m->params.ensemble_rank = q;
    for (uint32_t u = 0; u < m->n_users; u++) {
        memcpy(m->P + (size_t)u * m->stride, P + (size_t)u * q, (size_t)q * sizeof *P);
        m->bu[u] = (float)(en->bu[u] / en->n);
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        memcpy(m->Q + (size_t)i * m->stride, Q + (size_t)i * q, (size_t)q * sizeof *Q);
        m->bi[i] = (float)(en->bi[i] / en->n);
    }
    free(P), free(Q);
    if (g->nb) {
        /* bi takes the item's latest bin; the others are kept relative to it. */
        const int nb = g->nb;
        m->tb_delta = malloc((size_t)m->n_items * nb * sizeof *m->tb_delta + 1);
        if (!m->tb_delta) {
            fl_model_free(m);
            return fl_fail(err, FL_ERR_NOMEM, "out of memory for the time bins");
        }
        for (uint32_t i = 0; i < m->n_items; i++) {
            const double *b = en->tb + (size_t)i * nb, base = b[g->last_bin[i]] / en->n;
            m->bi[i] = (float)(en->bi[i] / en->n + base);
            for (int k = 0; k < nb; k++) m->tb_delta[(size_t)i * nb + k] = (float)(b[k] / en->n - base);
        }
        m->time_lo = g->t_lo, m->time_hi = g->t_hi;
    }
    m->offset = (float)(en->w0 / en->n);
    m->global_mean = fl_dataset_mean(learn);
    m->rating_lo = lo, m->rating_hi = hi;
    m->n_groups = layout->n_groups;
    memcpy(m->group_name, layout->group_name, sizeof m->group_name);
    memcpy(m->group_side, layout->group_side, sizeof m->group_side);
    memcpy(m->group_size, layout->group_size, sizeof m->group_size);
    m->n_without[0] = layout->n_without[0], m->n_without[1] = layout->n_without[1];
    m->n_unused[0] = layout->n_unused[0], m->n_unused[1] = layout->n_unused[1];
    if ((st = fl_model_set_means(m, err))) {
        fl_model_free(m);
        return st;
    }
    if (itf && en->n_ifeat) {
        m->if_names = fl_idmap_clone(itf->names);
        m->if_b = malloc((size_t)en->n_ifeat * sizeof *m->if_b);
        if (!m->if_names || !m->if_b) {
            fl_model_free(m);
            return fl_fail(err, FL_ERR_NOMEM, "out of memory for the item features' weights");
        }
        for (uint32_t j = 0; j < en->n_ifeat; j++) m->if_b[j] = (float)(en->ilin[j] / en->n);
    }
    m->uf_names = uf ? fl_idmap_clone(uf->names) : fl_idmap_new();
    m->uf_P = malloc(((size_t)en->n_frows * q + 1) * sizeof *m->uf_P);
    m->uf_b = malloc(((size_t)en->n_frows + 1) * sizeof *m->uf_b);
    if (!m->uf_names || !m->uf_P || !m->uf_b) {
        fl_model_free(m);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the user features' rows");
    }
    for (int r = 0; r < en->n_frows; r++) m->uf_b[r] = (float)(en->flin[r] / en->n);
    if (fl_sketch_fit_rows(m->Q, m->stride, m->n_items, q, en->frow, en->n_frows, 1.0 / en->n,
                           m->uf_P)) {
        /* Q^T Q singular (fewer items than the rank): no feature rows. */
        fl_idmap_free(m->uf_names), free(m->uf_P), free(m->uf_b);
        m->uf_names = NULL, m->uf_P = m->uf_b = NULL;
    }
    *out = m;
    return FL_OK;
}

/* ------------------------------------------------------------ the run */

typedef struct test_map {
    size_t n;
    int64_t *u, *i;
    int32_t *bin;               /* the rating's time bin, or -1: the item's latest */
    double *sum;                /* summed predictions of the kept samples */
} test_map;

static fl_status map_test(const fl_dataset *test, const fl_dataset *learn, const gibbs *g,
                          test_map *tm, fl_error *err) {
    memset(tm, 0, sizeof *tm);
    if (!test || !test->n_ratings) return FL_OK;
    tm->n = test->n_ratings;
    tm->u = malloc(tm->n * sizeof *tm->u);
    tm->i = malloc(tm->n * sizeof *tm->i);
    tm->sum = calloc(tm->n, sizeof *tm->sum);
    tm->bin = malloc(tm->n * sizeof *tm->bin);
    if (!tm->u || !tm->i || !tm->sum || !tm->bin) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the test set");
    for (size_t t = 0; t < tm->n; t++) {
        uint32_t x;
        const char *a = fl_idmap_name(test->user_ids, test->users[t]);
        const char *b = fl_idmap_name(test->item_ids, test->items[t]);
        tm->u[t] = fl_idmap_find(learn->user_ids, a, strlen(a), &x) ? (int64_t)x : -1;
        tm->i[t] = fl_idmap_find(learn->item_ids, b, strlen(b), &x) ? (int64_t)x : -1;
        tm->bin[t] = g->nb && test->times ? fl_time_bin(g->t_lo, g->t_hi, g->nb, test->times[t])
                     : g->nb && tm->i[t] >= 0 ? (int32_t)g->last_bin[tm->i[t]]
                                              : -1;
    }
    return FL_OK;
}

/* What a model of this sample predicts for test rating t (unclipped). */
static double predict_test(const gibbs *g, const test_map *tm, size_t t) {
    int64_t u = tm->u[t], i = tm->i[t];
    const double tb = g->nb && i >= 0 ? g->tb[(size_t)i * g->nb + tm->bin[t]] : 0.0;
    if (u >= 0 && i >= 0) return predict_rating(g, (uint32_t)u, (uint32_t)i) + tb;
    double z = g->w0 + tb;
    if (u >= 0) z += g->sd[0].S[(size_t)u * g->D + g->k];
    if (i >= 0) z += g->sd[1].S[(size_t)i * g->D + g->k];
    return z;
}

static void score_test(const test_map *tm, const fl_dataset *test, const gibbs *g, int kept,
                       float lo, float hi, fl_epoch_report *rep) {
    double se = 0.0, ae = 0.0;
    for (size_t t = 0; t < tm->n; t++) {
        double y = kept ? tm->sum[t] / kept : predict_test(g, tm, t);
        if (y < lo) y = lo;
        if (y > hi) y = hi;
        double d = y - test->ratings[t];
        se += d * d, ae += fabs(d);
    }
    rep->test_mse = se / (double)tm->n;
    rep->test_rmse = sqrt(rep->test_mse);
    rep->test_mae = ae / (double)tm->n;
}

fl_status fl_mcmc_train(const fl_dataset *learn, const char *source, const fl_dataset *test,
                        const fl_params *p, const fl_features *uf, const fl_features *itf,
                        const fl_train_hooks *hooks, fl_pool *pool, fl_model **out,
                        fl_train_result *res, fl_error *err) {
    *out = NULL;
    gibbs g;
    memset(&g, 0, sizeof g);
    g.k = p->n_factors, g.D = p->n_factors + 1, g.seed = p->seed;
    g.sampling = p->solver == FL_SOLVER_MCMC;
    g.sgd = p->solver == FL_SOLVER_SGD;
    const int n_samples = p->epochs;
    /* als: the model is the last sweep's parameters alone. */
    const int burn = !g.sampling ? n_samples - 1 : p->burn_in < n_samples ? p->burn_in : n_samples - 1;
    fl_model layout; /* only its group fields are used */
    memset(&layout, 0, sizeof layout);
    ensemble en;
    memset(&en, 0, sizeof en);
    test_map tm = {0};
    fl_model *m = NULL;
    float lo = learn->ratings[0], hi = lo;
    for (size_t t = 0; t < learn->n_ratings; t++) {
        if (learn->ratings[t] < lo) lo = learn->ratings[t];
        if (learn->ratings[t] > hi) hi = learn->ratings[t];
    }
    fl_status st = FL_OK;
    if (p->time_bins > 0) {
        if (!learn->times || !learn->n_ratings)
            return fl_fail(err, FL_ERR_USAGE,
                           "--time-bins needs the ratings' timestamps, and %s has none (read it "
                           "with a timestamp column)",
                           source && *source ? source : "the training set");
        g.nb = p->time_bins;
        g.t_lo = g.t_hi = learn->times[0];
        for (size_t t = 0; t < learn->n_ratings; t++) {
            if (learn->times[t] < g.t_lo) g.t_lo = learn->times[t];
            if (learn->times[t] > g.t_hi) g.t_hi = learn->times[t];
        }
        g.tb_lam = p->reg_bias > 0 ? p->reg_bias : 1.0;
    }
    if (!st) st = build_ratings(&g, learn, err);
    if (!st)
        st = build_side(&g, 0, learn, uf, (p->implicit & FL_IMPLICIT_USER_ITEMS) != 0, &layout,
                        &layout.n_without[0], &layout.n_unused[0], err);
    if (!st)
        st = build_side(&g, 1, learn, itf, (p->implicit & FL_IMPLICIT_ITEM_USERS) != 0, &layout,
                        &layout.n_without[1], &layout.n_unused[1], err);
    if (!st) st = map_test(test, learn, &g, &tm, err);
    if (!st) {
        en.bu = calloc(g.sd[0].n_e + 1, sizeof *en.bu);
        en.bi = calloc(g.sd[1].n_e + 1, sizeof *en.bi);
        en.tb = calloc((size_t)g.sd[1].n_e * g.nb + 1, sizeof *en.tb);
        en.n_frows = 1 + (uf ? (int)fl_features_n_features(uf) : 0);
        en.frow = calloc((size_t)en.n_frows * g.sd[1].n_e + 1, sizeof *en.frow);
        en.flin = calloc((size_t)en.n_frows + 1, sizeof *en.flin);
        en.n_ifeat = itf ? fl_features_n_features(itf) : 0;
        en.ilin = calloc((size_t)en.n_ifeat + 1, sizeof *en.ilin);
        if (!en.bu || !en.bi || !en.tb || !en.frow || !en.flin || !en.ilin ||
            fl_sketch_init(&en.sk, g.sd[0].n_e, g.sd[1].n_e, p->ensemble_rank, mix(p->seed ^ 0x5ce7)))
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the samples' average");
    }
    if (!st) {
        /* Start: small random factors, zero linear weights, w0 the mean. */
        fl_rng rng;
        fl_rng_seed(&rng, p->seed);
        for (int s = 0; s < 2; s++)
            for (uint32_t j = 0; j < g.sd[s].n_f; j++)
                for (int f = 0; f < g.k; f++)
                    g.sd[s].V[(size_t)j * g.D + f] = p->init_std * fl_rng_normal(&rng);
        g.w0 = fl_dataset_mean(learn);
        g.alpha = 1.0;
        if (!g.sampling) /* als: fixed Gaussian priors N(0, 1/reg), i.e. L2 penalties */
            for (int s = 0; s < 2; s++)
                for (int grp = 0; grp < g.sd[s].n_groups; grp++)
                    for (int f = 0; f < g.D; f++)
                        g.sd[s].lam[(size_t)grp * g.D + f] = f < g.k ? p->reg_factors : p->reg_bias;
        recompute_sums(&g, 0), recompute_sums(&g, 1);
        fl_pool_run(pool, TASKS, residual_task, &g);
    }
    for (int s = 1; !st && s <= n_samples; s++) {
        g.sample = s;
        g.cur_side = 2, g.cur_f = 0;
        fl_rng rng;
        stream(&rng, &g, 0);
        if (g.sgd) {
            /* The step decays 7% an epoch (as in Koren's SVD++ runs): a fixed
             * one left u1's test RMSE swinging by 0.003 between epochs. */
            const double lr = p->lr * pow(FM_SGD_DECAY, s - 1);
            if (fl_fm_sgd_epoch(&g, lr, p->reg_factors, p->reg_bias, &rng)) {
                st = fl_fail(err, FL_ERR_NOMEM, "out of memory in epoch %d", s);
                break;
            }
        } else {
            draw_global(&g, &rng);
            if (g.sampling) draw_hyper(&g, 0, &rng), draw_hyper(&g, 1, &rng);
            for (int side_no = 0; side_no < 2; side_no++)
                for (int f = 0; f < g.D; f++) draw_side_dim(&g, pool, side_no, f);
        }
        recompute_sums(&g, 0), recompute_sums(&g, 1);
        fl_pool_run(pool, TASKS, residual_task, &g);
        if (g.nb && !g.sgd) {
            g.cur_side = 3, g.cur_f = 0;
            if (g.sampling) {
                stream(&rng, &g, 0);
                draw_time_hyper(&g, &rng);
            }
            fl_pool_run(pool, TASKS, time_bins_task, &g);
        }
        fl_epoch_report rep = {.epoch = s, .epochs = n_samples};
        double se = 0.0;
        for (size_t r = 0; r < g.n; r++) se += g.e[r] * g.e[r];
        rep.train_mse = se / (double)g.n;
        rep.valid_rmse = rep.test_rmse = rep.test_mae = rep.test_mse = NAN;
        if (!isfinite(rep.train_mse)) {
            st = fl_fail(err, FL_ERR_DIVERGED, "sampling diverged at sample %d", s);
            break;
        }
        if (s > burn) {
            ensemble_add(&en, &g, pool);
            for (size_t t = 0; t < tm.n; t++) tm.sum[t] += predict_test(&g, &tm, t);
        }
        if (s == n_samples) {
            /* The last sample: the report is the saved model's own error. */
            st = ensemble_model(&en, &g, p, learn, uf, itf, &layout, lo, hi, &m, err);
            if (st) break;
            fl_metrics mt;
            if (test && test->n_ratings &&
                fl_evaluate_on(pool, m, test, FL_UNKNOWN_MEAN, &mt, NULL) == FL_OK)
                rep.test_rmse = mt.rmse, rep.test_mae = mt.mae, rep.test_mse = mt.mse;
        } else if (tm.n) {
            score_test(&tm, test, &g, en.n, lo, hi, &rep);
        }
        rep.seconds = rep.solve_seconds = 0.0;
        fl_epoch_report *h = realloc(layout.history, ((size_t)layout.n_history + 1) * sizeof *h);
        if (!h) {
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory recording sample %d", s);
            break;
        }
        layout.history = h;
        h[layout.n_history++] = rep;
        res->epochs_run = res->best_epoch = s;
        res->last = rep;
        if (hooks && hooks->progress && hooks->progress(hooks->ctx, s, n_samples, g.n, g.n)) {
            st = fl_fail(err, FL_ERR_CANCELLED, "training was cancelled at sample %d", s);
            break;
        }
        if (hooks && hooks->epoch_end && hooks->epoch_end(hooks->ctx, &rep) && !m) {
            /* Asked to stop: the model is what has been kept so far (or
             * this sample alone). */
            if (!en.n) ensemble_add(&en, &g, pool);
            st = ensemble_model(&en, &g, p, learn, uf, itf, &layout, lo, hi, &m, err);
            break;
        }
    }
    if (!st && m) {
        snprintf(m->source, sizeof m->source, "%s", source);
        m->history = layout.history, m->n_history = layout.n_history;
        layout.history = NULL;
        m->epochs_run = res->epochs_run;
        st = fl_model_set_seen(m, learn, err);
    }
    free(layout.history);
    fl_sketch_free(&en.sk);
    free(en.bu), free(en.bi), free(en.tb), free(en.frow), free(en.flin), free(en.ilin);
    free(tm.u), free(tm.i), free(tm.sum), free(tm.bin);
    gibbs_free(&g);
    if (st) {
        fl_model_free(m);
        return st;
    }
    *out = m;
    return FL_OK;
}
