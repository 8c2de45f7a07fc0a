/* test_gradients.c — analytic gradients against central differences: the
 * per-rating objective J of the dot, biased and squashed models (fl_mf_grad)
 * and the nn's forward/backward pair; and the regulariser's value against
 * the formula of regularizer.h and against the sum of the per-rating J. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "factorlens.h"
#include "models/mf.h"
#include "models/model.h"
#include "models/nn.h"
#include "models/regularizer.h"

#define N_USERS 9
#define N_ITEMS 8
#define N_RATINGS 34
#define K 5

/* Ratings where every user and item appears; ids "0".."n-1" in index order. */
static fl_dataset *random_ratings(uint64_t seed) {
    fl_rng rng;
    fl_rng_seed(&rng, seed);
    fl_dataset *d = fl_dataset_new(N_RATINGS, 0);
    assert_non_null(d);
    char id[16];
    uint32_t idx;
    for (uint32_t u = 0; u < N_USERS; u++) {
        int len = snprintf(id, sizeof id, "%u", u);
        assert_int_equal(fl_idmap_intern(d->user_ids, id, (size_t)len, &idx), FL_OK);
    }
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        int len = snprintf(id, sizeof id, "%u", i);
        assert_int_equal(fl_idmap_intern(d->item_ids, id, (size_t)len, &idx), FL_OK);
    }
    unsigned char used[N_USERS][N_ITEMS] = {{0}};
    for (size_t n = 0; n < N_RATINGS; n++) {
        uint32_t u, i;
        if (n < N_USERS) {
            u = (uint32_t)n, i = (uint32_t)n % N_ITEMS; /* covers every row */
        } else {
            do {
                u = (uint32_t)fl_rng_below(&rng, N_USERS);
                i = (uint32_t)fl_rng_below(&rng, N_ITEMS);
            } while (used[u][i]);
        }
        used[u][i] = 1;
        d->users[n] = u;
        d->items[n] = i;
        d->ratings[n] = (float)(1 + fl_rng_below(&rng, 5));
    }
    d->n_ratings = N_RATINGS;
    return d;
}

static float normal(fl_rng *rng, double std) { return (float)(std * fl_rng_normal(rng)); }

/* A model with random parameters of every kind it has, trained counts from d,
 * and no clipping. */
static fl_model *random_model(const fl_dataset *d, fl_model_kind kind, float y_lo, float y_hi,
                              uint64_t seed) {
    fl_params p;
    fl_params_default(&p, kind);
    p.n_factors = K;
    p.y_lo = y_lo, p.y_hi = y_hi;
    p.reg_factors = 0.7f;
    p.reg_bias = 0.4f;
    if (kind == FL_MODEL_NN) {
        p.n_layers = 2;
        p.layers[0] = 7;
        p.layers[1] = 3;
        for (int l = 0; l <= FL_MAX_LAYERS; l++) p.dropout[l] = 0.0f;
    }
    fl_model *m = NULL;
    fl_error err;
    if (fl_model_alloc(&p, d->user_ids, d->item_ids, &m, &err) != FL_OK)
        fail_msg("fl_model_alloc: %s", err.msg);
    if (fl_model_set_seen(m, d, &err) != FL_OK) fail_msg("fl_model_set_seen: %s", err.msg);
    fl_rng rng;
    fl_rng_seed(&rng, seed);
    for (uint32_t u = 0; u < m->n_users; u++)
        for (int f = 0; f < K; f++) m->P[(size_t)u * m->stride + f] = normal(&rng, 0.6);
    for (uint32_t i = 0; i < m->n_items; i++)
        for (int f = 0; f < K; f++) m->Q[(size_t)i * m->stride + f] = normal(&rng, 0.6);
    if (m->bu) {
        for (uint32_t u = 0; u < m->n_users; u++) m->bu[u] = normal(&rng, 0.4);
        for (uint32_t i = 0; i < m->n_items; i++) m->bi[i] = normal(&rng, 0.4);
    }
    for (int l = 0; l < m->n_dense; l++) {
        fl_dense *dl = &m->dense[l];
        for (int j = 0; j < dl->n_in * dl->n_out; j++) dl->w[j] = normal(&rng, 0.8);
        for (int o = 0; o < dl->n_out; o++) dl->b[o] = normal(&rng, 0.3);
    }
    m->offset = kind == FL_MODEL_DOT ? 0.0f : (fl_model_squashes(&p) ? 0.2f : 3.0f);
    m->rating_lo = m->rating_hi = 0.0f;
    return m;
}

/* |a - n| within abs + rel * |n|, or the test fails naming the coordinate. */
static void expect_grad(const char *what, int index, double analytic, double numeric,
                        double abs_tol, double rel_tol) {
    if (!(fabs(analytic - numeric) <= abs_tol + rel_tol * fabs(numeric)))
        fail_msg("%s[%d]: analytic gradient %.7g, central difference %.7g", what, index, analytic,
                 numeric);
}

/* ---------------------------------------------------------------- J of dot / biased */

static float J_at(const fl_model *m, uint32_t u, uint32_t i, float r) {
    float gP[K], gQ[K], gbu, gbi;
    return fl_mf_grad(m, u, i, r, gP, gQ, &gbu, &gbi);
}

/* d J / d x at *x by central difference; x is restored. */
static double central(const fl_model *m, float *x, float h, uint32_t u, uint32_t i, float r) {
    const float x0 = *x;
    *x = x0 + h;
    double jp = J_at(m, u, i, r);
    *x = x0 - h;
    double jm = J_at(m, u, i, r);
    *x = x0;
    return (jp - jm) / (2.0 * (double)h);
}

static void check_mf_grad(fl_model_kind kind, float y_lo, float y_hi) {
    fl_dataset *d = random_ratings(11);
    fl_model *m = random_model(d, kind, y_lo, y_hi, 12 + (uint64_t)kind);
    /* J is a low-degree polynomial in each coordinate (smooth through the
     * sigmoid), so h = 1e-2 keeps truncation error small while float
     * rounding of J (~1e-6) costs ~1e-4 in the quotient. */
    const float h = 1e-2f;
    const double abs_tol = 2e-3, rel_tol = 2e-3;
    float gP[K], gQ[K], gbu, gbi;
    for (size_t n = 0; n < d->n_ratings; n += 3) {
        uint32_t u = d->users[n], i = d->items[n];
        float r = d->ratings[n];
        fl_mf_grad(m, u, i, r, gP, gQ, &gbu, &gbi);
        float *p = m->P + (size_t)u * m->stride, *q = m->Q + (size_t)i * m->stride;
        for (int f = 0; f < K; f++) {
            expect_grad("gP", f, gP[f], central(m, &p[f], h, u, i, r), abs_tol, rel_tol);
            expect_grad("gQ", f, gQ[f], central(m, &q[f], h, u, i, r), abs_tol, rel_tol);
        }
        if (kind == FL_MODEL_BIASED) {
            expect_grad("gbu", (int)u, gbu, central(m, &m->bu[u], h, u, i, r), abs_tol, rel_tol);
            expect_grad("gbi", (int)i, gbi, central(m, &m->bi[i], h, u, i, r), abs_tol, rel_tol);
        } else {
            assert_true(gbu == 0.0f && gbi == 0.0f);
        }
    }
    fl_model_free(m);
    fl_dataset_free(d);
}

static void test_grad_dot(void **state) { check_mf_grad(FL_MODEL_DOT, 0.0f, 0.0f); }
static void test_grad_biased(void **state) { check_mf_grad(FL_MODEL_BIASED, 0.0f, 0.0f); }
static void test_grad_biased_squashed(void **state) { check_mf_grad(FL_MODEL_BIASED, 0.5f, 5.5f); }

/* ---------------------------------------------------------------- nn */

typedef struct nn_case {
    fl_model *m;
    fl_nn_work w;
    int B;
    uint32_t u[N_RATINGS], i[N_RATINGS];
    float z[N_RATINGS], dz[N_RATINGS];
    unsigned char pattern[N_RATINGS * 16]; /* which hidden units were active */
    int n_pattern;
} nn_case;

/* L = sum_b dz_b z_b, recording the ReLU pattern of the pass. */
static double nn_loss(nn_case *c, unsigned char *pattern) {
    fl_nn_forward(c->m, &c->w, c->u, c->i, c->B, NULL, c->z);
    double L = 0.0;
    for (int b = 0; b < c->B; b++) L += (double)c->dz[b] * c->z[b];
    int at = 0;
    for (int l = 1; l < c->m->n_dense; l++) {
        size_t n = (size_t)c->B * c->m->dense[l - 1].n_out;
        for (size_t j = 0; j < n; j++) pattern[at++] = c->w.act[l][j] > 0.0f;
    }
    c->n_pattern = at;
    return L;
}

/* dL/dx by central difference, or NAN when the step flips a ReLU (the
 * function has a kink there and the quotient means nothing). With the
 * pattern fixed, L is linear in any single parameter, so the quotient is
 * exact up to rounding. */
static double nn_central(nn_case *c, float *x, float h) {
    unsigned char pp[sizeof c->pattern], pm[sizeof c->pattern];
    const float x0 = *x;
    *x = x0 + h;
    double lp = nn_loss(c, pp);
    *x = x0 - h;
    double lm = nn_loss(c, pm);
    *x = x0;
    const size_t np = (size_t)c->n_pattern;
    if (memcmp(pp, c->pattern, np) || memcmp(pm, c->pattern, np)) return NAN;
    return (lp - lm) / (2.0 * (double)h);
}

static void test_grad_nn(void **state) {
    fl_dataset *d = random_ratings(21);
    nn_case *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->m = random_model(d, FL_MODEL_NN, 0.0f, 0.0f, 22);
    fl_model *m = c->m;
    c->B = 12; /* users and items repeat within the batch */
    fl_rng rng;
    fl_rng_seed(&rng, 23);
    for (int b = 0; b < c->B; b++) {
        c->u[b] = d->users[b * 2], c->i[b] = d->items[b * 2];
        c->dz[b] = normal(&rng, 1.0);
    }
    fl_error err;
    assert_int_equal(fl_nn_work_init(&c->w, m, c->B, &err), FL_OK);
    nn_loss(c, c->pattern);
    fl_nn_backward(m, &c->w, c->dz, c->B);
    const float h = 2e-2f;
    const double abs_tol = 2e-4, rel_tol = 2e-4;
    int checked = 0, skipped = 0;
    /* Dense parameters: w->grad holds W then b for each layer. */
    const float *g = c->w.grad;
    for (int l = 0; l < m->n_dense; l++) {
        fl_dense *dl = &m->dense[l];
        char what[32];
        snprintf(what, sizeof what, "W%d", l);
        for (int j = 0; j < dl->n_in * dl->n_out; j++) {
            double num = nn_central(c, &dl->w[j], h);
            if (isnan(num)) skipped++;
            else expect_grad(what, j, g[j], num, abs_tol, rel_tol), checked++;
        }
        g += dl->n_in * dl->n_out;
        snprintf(what, sizeof what, "b%d", l);
        for (int o = 0; o < dl->n_out; o++) {
            double num = nn_central(c, &dl->b[o], h);
            if (isnan(num)) skipped++;
            else expect_grad(what, o, g[o], num, abs_tol, rel_tol), checked++;
        }
        g += dl->n_out;
    }
    /* Embeddings: gx0 is per batch row; a row of P or Q gets the sum over
     * the batch rows that use it. Biases (when the nn has them) get sum dz. */
    for (uint32_t u = 0; u < m->n_users; u++) {
        for (int f = 0; f < K; f++) {
            double a = 0.0;
            for (int b = 0; b < c->B; b++)
                if (c->u[b] == u) a += c->w.gx0[(size_t)b * 2 * K + f];
            double num = nn_central(c, &m->P[(size_t)u * m->stride + f], h);
            if (isnan(num)) skipped++;
            else expect_grad("P", (int)u * K + f, a, num, abs_tol, rel_tol), checked++;
        }
        if (m->bu) {
            double a = 0.0;
            for (int b = 0; b < c->B; b++)
                if (c->u[b] == u) a += c->dz[b];
            double num = nn_central(c, &m->bu[u], h);
            if (isnan(num)) skipped++;
            else expect_grad("bu", (int)u, a, num, abs_tol, rel_tol), checked++;
        }
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        for (int f = 0; f < K; f++) {
            double a = 0.0;
            for (int b = 0; b < c->B; b++)
                if (c->i[b] == i) a += c->w.gx0[(size_t)b * 2 * K + K + f];
            double num = nn_central(c, &m->Q[(size_t)i * m->stride + f], h);
            if (isnan(num)) skipped++;
            else expect_grad("Q", (int)i * K + f, a, num, abs_tol, rel_tol), checked++;
        }
    }
    /* The check means little if most coordinates sat on kinks. */
    assert_true(checked > 150);
    assert_true(skipped * 10 < checked);
    /* Forward agrees with the single-pair scorer. */
    nn_loss(c, c->pattern);
    for (int b = 0; b < c->B; b++) {
        float s = fl_nn_score(m, c->u[b], c->i[b]);
        assert_true(fabsf(s - c->z[b]) <= 1e-5f + 1e-5f * fabsf(s));
    }
    fl_nn_work_free(&c->w);
    fl_model_free(m);
    free(c);
    fl_dataset_free(d);
}

/* ---------------------------------------------------------------- the penalty */

/* regularizer.h's penalty / n, in double, from counts taken from d itself. */
static double sq_norm(const float *x, int n) {
    double s = 0.0;
    for (int j = 0; j < n; j++) s += (double)x[j] * x[j];
    return s;
}

static double penalty_by_formula(const fl_model *m, const fl_dataset *d) {
    double cu[N_USERS] = {0}, ci[N_ITEMS] = {0};
    for (size_t n = 0; n < d->n_ratings; n++) cu[d->users[n]] += 1.0, ci[d->items[n]] += 1.0;
    double factors = 0.0, biases = 0.0, dense = 0.0;
    for (uint32_t u = 0; u < N_USERS; u++) {
        factors += sqrt(cu[u]) * sq_norm(m->P + (size_t)u * m->stride, K);
        if (m->bu) biases += (double)m->bu[u] * m->bu[u];
    }
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        factors += sqrt(ci[i]) * sq_norm(m->Q + (size_t)i * m->stride, K);
        if (m->bi) biases += (double)m->bi[i] * m->bi[i];
    }
    for (int l = 0; l < m->n_dense; l++)
        dense += sq_norm(m->dense[l].w, m->dense[l].n_in * m->dense[l].n_out);
    const fl_params *p = &m->params;
    return (p->reg_factors * (factors + dense) + p->reg_bias * biases) / (double)d->n_ratings;
}

static void test_penalty_formula(void **state) {
    fl_dataset *d = random_ratings(31);
    const fl_model_kind kinds[] = {FL_MODEL_DOT, FL_MODEL_BIASED, FL_MODEL_NN};
    for (int k = 0; k < 3; k++) {
        fl_model *m = random_model(d, kinds[k], 0.0f, 0.0f, 32 + (uint64_t)k);
        double want = penalty_by_formula(m, d), got = fl_reg_penalty(m);
        assert_true(want > 0.0);
        if (!(fabs(got - want) <= 1e-9 + 1e-6 * want))
            fail_msg("%s: fl_reg_penalty %.9g, regularizer.h formula %.9g",
                     fl_model_kind_name(kinds[k]), got, want);
        fl_model_free(m);
    }
    fl_dataset_free(d);
}

/* Summed over the training ratings, the per-rating J of mf.h is the whole
 * objective: n * (training MSE) + n * fl_reg_penalty. */
static void check_objective_sum(fl_model_kind kind, float y_lo, float y_hi) {
    fl_dataset *d = random_ratings(41);
    fl_model *m = random_model(d, kind, y_lo, y_hi, 42 + (uint64_t)kind);
    double sum_j = 0.0, se = 0.0;
    for (size_t n = 0; n < d->n_ratings; n++) {
        sum_j += J_at(m, d->users[n], d->items[n], d->ratings[n]);
        double e = (double)fl_predict_index(m, d->users[n], d->items[n]) - d->ratings[n];
        se += e * e;
    }
    const double n = (double)d->n_ratings;
    double want = n * (se / n) + n * fl_reg_penalty(m);
    if (!(fabs(sum_j - want) <= 1e-4 * fabs(want)))
        fail_msg("%s: sum of J %.9g, n*MSE + n*penalty %.9g", fl_model_kind_name(kind), sum_j,
                 want);
    fl_model_free(m);
    fl_dataset_free(d);
}

static void test_objective_sum(void **state) {
    check_objective_sum(FL_MODEL_DOT, 0.0f, 0.0f);
    check_objective_sum(FL_MODEL_BIASED, 0.0f, 0.0f);
    check_objective_sum(FL_MODEL_BIASED, 0.5f, 5.5f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_dot),
        cmocka_unit_test(test_grad_biased),
        cmocka_unit_test(test_grad_biased_squashed),
        cmocka_unit_test(test_grad_nn),
        cmocka_unit_test(test_penalty_formula),
        cmocka_unit_test(test_objective_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
