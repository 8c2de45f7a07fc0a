/* test_fold_in.c — fl_fold_in through the public API: the factors and bias
 * it returns are the exact minimiser of the documented ridge for the new
 * user, with the model's empirical strengths or, for a model without a
 * history, the training regulariser (its gradient vanishes), they predict a
 * planted user's held-out ratings from many or from three (and
 * fl_evaluate_fold_in's protocol gives what the calls give by hand), and unknown items, empty input, nn and squashed models are
 * handled as the header says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    fl_dataset *train;
    fl_model *m;
} fixture;

static fl_model *train_model(fl_dataset *d, fl_model_kind kind, fl_solver solver, int epochs) {
    fl_params p;
    fl_params_init(&p, kind, solver);
    p.epochs = epochs, p.n_factors = 8, p.n_threads = 1, p.seed = 3;
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err;
    fl_status st = fl_train(d, NULL, &p, NULL, &m, &res, &err);
    if (st != FL_OK) fail_msg("training failed: %s", err.msg);
    return m;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 300, so.n_items = 200, so.n_ratings = 20000, so.rank = 4, so.seed = 5;
    fl_error err;
    if (fl_synth_generate(&so, &f->train, &err) != FL_OK) return -1;
    f->m = train_model(f->train, FL_MODEL_BIASED, FL_SOLVER_ALS, 8);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_model_free(f->m);
    fl_dataset_free(f->train);
    free(f);
    return 0;
}

/* The ratings of user index u in d, as ids and values. */
static size_t user_ratings(const fl_dataset *d, uint32_t u, const char **ids, float *r, size_t cap) {
    size_t n = 0;
    for (size_t k = 0; k < d->n_ratings && n < cap; k++)
        if (d->users[k] == u) ids[n] = fl_idmap_name(d->item_ids, d->items[k]), r[n++] = d->ratings[k];
    return n;
}

/* Folds user 7's first ratings in and checks the gradient of
 *   sum (pred - r)^2 + lambda_f |x|^2 + lambda_b b^2
 * vanishes at the answer, in double. */
static void check_gradient(const fl_model *m, const fl_dataset *train, double lambda_f,
                           double lambda_b) {
    const char *ids[400];
    float r[400], x[8], b;
    size_t n = user_ratings(train, 7, ids, r, 12), used;
    assert_true(n >= 5);
    fl_error err;
    assert_int_equal(fl_fold_in(m, ids, r, n, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
    assert_int_equal(used, n);
    double g[9] = {0}, scale = 0;
    /* The offset of a biased model is not public; recover it from a
     * prediction of the folded user itself (unclipped ratings of 1..5 stay
     * inside the range for this data) and check it is consistent. */
    uint32_t i0;
    assert_true(fl_idmap_find(fl_model_item_ids(m), ids[0], strlen(ids[0]), &i0));
    double dot0 = 0;
    for (int c = 0; c < 8; c++) dot0 += (double)x[c] * fl_model_item_factors(m, i0)[c];
    double offset = fl_predict_folded(m, x, b, i0) - dot0 - b - fl_model_item_bias(m, i0);
    for (size_t k = 0; k < n; k++) {
        uint32_t i;
        fl_idmap_find(fl_model_item_ids(m), ids[k], strlen(ids[k]), &i);
        const float *q = fl_model_item_factors(m, i);
        double z = offset + b + fl_model_item_bias(m, i);
        for (int c = 0; c < 8; c++) z += (double)x[c] * q[c];
        double e = z - r[k];
        for (int c = 0; c < 8; c++) g[c] += 2 * e * q[c], scale += fabs(2 * e * q[c]);
        g[8] += 2 * e;
    }
    for (int c = 0; c < 8; c++) g[c] += 2 * lambda_f * x[c], scale += fabs(2 * lambda_f * x[c]);
    g[8] += 2 * lambda_b * b;
    for (int c = 0; c < 9; c++)
        if (fabs(g[c]) > 1e-3 * (1 + scale)) fail_msg("gradient[%d] = %g is not ~0", c, g[c]);
}

/* The strengths the header documents, from the public API: the training
 * loss per rating of the last epoch (no validation here) over the mean
 * square of the trained users' factors, and of their biases. */
static void test_gradient_vanishes(void **state) {
    fixture *f = *state;
    const fl_model *m = f->m;
    fl_model_info info;
    fl_model_get_info(m, &info);
    size_t n_h;
    const fl_epoch_report *h = fl_model_history(m, &n_h);
    assert_true(n_h > 0);
    double s2 = h[n_h - 1].train_mse + h[n_h - 1].reg_penalty, sp = 0, sb = 0;
    for (uint32_t u = 0; u < info.n_users; u++) {
        const float *p = fl_model_user_factors(m, u);
        for (int c = 0; c < 8; c++) sp += (double)p[c] * p[c];
        sb += (double)fl_model_user_bias(m, u) * fl_model_user_bias(m, u);
    }
    double lambda_f = s2 / (sp / (8.0 * info.n_users)), lambda_b = s2 / (sb / info.n_users);
    /* Far stronger than training's reg sqrt(n) for a user of 12 ratings:
     * the point of the empirical prior. */
    assert_true(lambda_f > info.params.reg_factors * sqrt(12.0));
    check_gradient(m, f->train, lambda_f, lambda_b);
}

/* A model file from before the history: the training regulariser of a
 * user with n ratings, as fold-in was before the prior. */
static void test_gradient_without_history(void **state) {
    fixture *f = *state;
    fl_model *m = f->m;
    fl_epoch_report *h = m->history;
    int n_h = m->n_history;
    m->history = NULL, m->n_history = 0;
    check_gradient(m, f->train, m->params.reg_factors * sqrt(12.0), m->params.reg_bias);
    m->history = h, m->n_history = n_h;
}

/* From three ratings each, the planted users' other ratings are predicted
 * better than by the biases alone (the training regulariser, too weak for
 * three ratings, did worse than the biases on ml-latest-small). */
static void test_few_ratings_beat_biases(void **state) {
    fixture *f = *state;
    double se_fold = 0, se_bias = 0;
    size_t cnt = 0;
    for (uint32_t u = 0; u < 200; u++) {
        const char *ids[400];
        float r[400], x[8], b, zero[8] = {0};
        size_t n = user_ratings(f->train, u, ids, r, 400), used;
        if (n < 10) continue;
        fl_error err;
        assert_int_equal(fl_fold_in(f->m, ids, r, 3, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
        for (size_t k = 3; k < n; k++) {
            uint32_t i;
            fl_idmap_find(fl_model_item_ids(f->m), ids[k], strlen(ids[k]), &i);
            double p = fl_predict_folded(f->m, x, b, i), q = fl_predict_folded(f->m, zero, 0, i);
            se_fold += (p - r[k]) * (p - r[k]), se_bias += (q - r[k]) * (q - r[k]);
            cnt++;
        }
    }
    assert_true(cnt > 1000);
    double rf = sqrt(se_fold / cnt), rb = sqrt(se_bias / cnt);
    if (!(rf < rb)) fail_msg("fold-in RMSE %.4f from 3 ratings is not below the bias-only %.4f", rf, rb);
}

static void test_predicts_held_out(void **state) {
    fixture *f = *state;
    /* For 20 users: fold in half of their ratings, predict the other half;
     * that must beat predicting from the biases alone (the unknown-user
     * fallback), as the planted factors carry real signal. */
    double se_fold = 0, se_bias = 0;
    size_t cnt = 0;
    for (uint32_t u = 0; u < 20; u++) {
        const char *ids[400];
        float r[400], x[8], b;
        size_t n = user_ratings(f->train, u, ids, r, 400), used;
        if (n < 10) continue;
        size_t h = n / 2;
        fl_error err;
        assert_int_equal(fl_fold_in(f->m, ids, r, h, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
        for (size_t k = h; k < n; k++) {
            uint32_t i;
            fl_idmap_find(fl_model_item_ids(f->m), ids[k], strlen(ids[k]), &i);
            float zero[8] = {0};
            double p = fl_predict_folded(f->m, x, b, i), q = fl_predict_folded(f->m, zero, 0, i);
            se_fold += (p - r[k]) * (p - r[k]), se_bias += (q - r[k]) * (q - r[k]);
            cnt++;
        }
    }
    assert_true(cnt > 100);
    double rf = sqrt(se_fold / cnt), rb = sqrt(se_bias / cnt);
    if (!(rf < 0.95 * rb)) fail_msg("fold-in RMSE %.4f is not below 0.95 x the bias-only %.4f", rf, rb);
}

static void test_unknown_empty_and_refusals(void **state) {
    fixture *f = *state;
    const char *ids[] = {"i1", "no-such-item", "i2"};
    float r[] = {4, 5, 3}, x[8], b;
    size_t used;
    fl_error err;
    assert_int_equal(fl_fold_in(f->m, ids, r, 3, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_ERR_UNKNOWN_ID);
    assert_non_null(strstr(err.msg, "no-such-item"));
    assert_int_equal(fl_fold_in(f->m, ids, r, 3, FL_UNKNOWN_SKIP, x, &b, &used, &err), FL_OK);
    assert_int_equal(used, 2);
    assert_int_equal(fl_fold_in(f->m, ids, r, 0, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
    assert_int_equal(used, 0);
    for (int c = 0; c < 8; c++) assert_true(x[c] == 0.0f);
    assert_true(b == 0.0f);
    float bad[] = {4, NAN, 3};
    const char *known[] = {"i1", "i2", "i3"};
    assert_int_equal(fl_fold_in(f->m, known, bad, 3, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_ERR_DATA);

    fl_model *nn = train_model(f->train, FL_MODEL_NN, FL_SOLVER_ADAM, 1);
    assert_int_equal(fl_fold_in(nn, known, r, 3, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_ERR_USAGE);
    fl_model_free(nn);
}

/* A trained user's own factors, bias and training items give fl_recommend's
 * list, bit for bit; a new user's list skips their rated items, is ordered
 * by the unclipped score and scored as fl_predict_folded; nn is refused. */
static void test_recommend_folded(void **state) {
    fixture *f = *state;
    const fl_model *m = f->m;
    const char *user = fl_idmap_name(fl_model_user_ids(m), 7);
    uint32_t u_data;
    assert_true(fl_idmap_find(f->train->user_ids, user, strlen(user), &u_data));
    const char *ids[256];
    float r[256];
    size_t n_r = user_ratings(f->train, u_data, ids, r, 256);
    assert_true(n_r > 5 && n_r < 256);
    fl_scored want[20], got[20];
    size_t n_want, n_got;
    fl_error err;
    assert_int_equal(fl_recommend(m, user, 20, want, &n_want, &err), FL_OK);
    assert_int_equal(fl_recommend_folded(m, fl_model_user_factors(m, 7), fl_model_user_bias(m, 7),
                                         ids, n_r, 20, got, &n_got, &err),
                     FL_OK);
    assert_int_equal(n_got, n_want);
    assert_memory_equal(got, want, n_got * sizeof *got);

    /* A new user from five ratings (one id unknown: ignored when skipping). */
    const char *mine[] = {"i1", "i2", "i3", "i4", "no-such-item"};
    float rm[] = {5, 1, 4, 2, 3}, x[8], b;
    size_t used;
    assert_int_equal(fl_fold_in(m, mine, rm, 5, FL_UNKNOWN_SKIP, x, &b, &used, &err), FL_OK);
    fl_model_info in;
    fl_model_get_info(m, &in);
    fl_scored *all = malloc(in.n_items * sizeof *all);
    assert_int_equal(fl_recommend_folded(m, x, b, mine, 5, in.n_items, all, &n_got, &err), FL_OK);
    assert_int_equal(n_got, in.n_items - 4);
    for (size_t k = 0; k < n_got; k++) {
        const char *id = fl_idmap_name(fl_model_item_ids(m), all[k].index);
        for (int j = 0; j < 4; j++) assert_string_not_equal(id, mine[j]);
        assert_true(all[k].score == fl_predict_folded(m, x, b, all[k].index));
        if (k) assert_true(all[k].raw <= all[k - 1].raw);
    }
    free(all);
    assert_int_equal(fl_recommend_folded(m, x, b, mine, 5, 0, got, &n_got, &err), FL_OK);
    assert_int_equal(n_got, 0);

    fl_model *nn = train_model(f->train, FL_MODEL_NN, FL_SOLVER_ADAM, 1);
    assert_int_equal(fl_recommend_folded(nn, x, b, mine, 5, 3, got, &n_got, &err), FL_ERR_USAGE);
    fl_model_free(nn);
}

/* fl_evaluate_fold_in against the same protocol done by hand with the
 * public calls (the same bits), its counts, and its refusals. */
static void test_evaluate_fold_in(void **state) {
    fixture *f = *state;
    const fl_dataset *all = f->train;
    /* Train on users whose index is not a multiple of 5; the rest are new. */
    fl_dataset *train = fl_dataset_new(all->n_ratings, 0), *cold = fl_dataset_new(1024, 0);
    fl_error err;
    for (size_t k = 0; k < all->n_ratings; k++) {
        const char *u = fl_idmap_name(all->user_ids, all->users[k]);
        const char *i = fl_idmap_name(all->item_ids, all->items[k]);
        fl_dataset *to = all->users[k] % 5 ? train : cold;
        assert_int_equal(fl_dataset_add(to, u, i, all->ratings[k], 0, &err), FL_OK);
    }
    /* A known user, a new user with 3 ratings, an item nobody trained on. */
    const char *known = fl_idmap_name(all->user_ids, 1);
    assert_int_equal(fl_dataset_add(cold, known, "i1", 4, 0, &err), FL_OK);
    for (int k = 0; k < 3; k++) {
        char item[16];
        snprintf(item, sizeof item, "i%d", k + 10);
        assert_int_equal(fl_dataset_add(cold, "short-user", item, 3, 0, &err), FL_OK);
    }
    const char *first_new = fl_idmap_name(all->user_ids, 0);
    assert_int_equal(fl_dataset_add(cold, first_new, "no-such-item", 5, 0, &err), FL_OK);
    fl_model *m = train_model(train, FL_MODEL_BIASED, FL_SOLVER_ALS, 8);

    const size_t n_fold = 3;
    fl_fold_in_metrics r;
    assert_int_equal(fl_evaluate_fold_in(m, cold, n_fold, &r, &err), FL_OK);
    assert_int_equal(r.n_fold, n_fold);
    assert_int_equal(r.n_known_users, 1);
    assert_int_equal(r.n_short_users, 1);
    assert_int_equal(r.n_unknown_items, 1);

    /* By hand: each new user's first 3 ratings folded in, the rest scored. */
    double se = 0, ae = 0, se_b = 0, ae_b = 0;
    size_t n = 0, users = 0;
    for (uint32_t u = 0; u < fl_idmap_size(cold->user_ids); u++) {
        const char *user = fl_idmap_name(cold->user_ids, u), *ids[400];
        uint32_t mu;
        if (fl_idmap_find(fl_model_user_ids(m), user, strlen(user), &mu)) continue;
        float rs[400], x[8], b;
        size_t c = user_ratings(cold, u, ids, rs, 400), used;
        if (c <= n_fold) continue;
        assert_int_equal(fl_fold_in(m, ids, rs, n_fold, FL_UNKNOWN_SKIP, x, &b, &used, &err), FL_OK);
        users++;
        for (size_t k = n_fold; k < c; k++) {
            uint32_t i;
            if (!fl_idmap_find(fl_model_item_ids(m), ids[k], strlen(ids[k]), &i)) continue;
            float base;
            assert_int_equal(fl_predict(m, user, ids[k], FL_UNKNOWN_MEAN, &base, &err), FL_OK);
            double e = (double)fl_predict_folded(m, x, b, i) - rs[k], eb = (double)base - rs[k];
            se += e * e, ae += fabs(e), se_b += eb * eb, ae_b += fabs(eb), n++;
        }
    }
    assert_int_equal(r.n, n);
    assert_int_equal(r.n_users, users);
    assert_true(users >= 50);
    assert_true(r.rmse == sqrt(se / n) && r.mae == ae / n);
    assert_true(r.rmse_baseline == sqrt(se_b / n) && r.mae_baseline == ae_b / n);
    if (!(r.rmse < r.rmse_baseline))
        fail_msg("fold-in RMSE %.4f is not below the bias-only %.4f", r.rmse, r.rmse_baseline);

    /* Nothing to score: the training users are all known. */
    assert_int_equal(fl_evaluate_fold_in(m, train, n_fold, &r, &err), FL_ERR_DATA);
    assert_non_null(strstr(err.msg, "no rating to score"));
    assert_true(isnan(r.rmse));
    assert_int_equal(fl_evaluate_fold_in(m, cold, 0, &r, &err), FL_ERR_USAGE);
    fl_model *nn = train_model(train, FL_MODEL_NN, FL_SOLVER_ADAM, 1);
    assert_int_equal(fl_evaluate_fold_in(nn, cold, n_fold, &r, &err), FL_ERR_USAGE);
    fl_model_free(nn);
    fl_model_free(m);
    fl_dataset_free(train);
    fl_dataset_free(cold);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_vanishes),
        cmocka_unit_test(test_gradient_without_history),
        cmocka_unit_test(test_few_ratings_beat_biases),
        cmocka_unit_test(test_predicts_held_out),
        cmocka_unit_test(test_unknown_empty_and_refusals),
        cmocka_unit_test(test_recommend_folded),
        cmocka_unit_test(test_evaluate_fold_in),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
