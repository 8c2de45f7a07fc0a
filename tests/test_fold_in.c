/* test_fold_in.c — fl_fold_in through the public API: the factors and bias
 * it returns are the exact minimiser of the training objective for the new
 * user (its gradient vanishes), they predict a planted user's held-out
 * ratings, and unknown items, empty input, nn and squashed models are
 * handled as the header says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"

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

static void test_gradient_vanishes(void **state) {
    fixture *f = *state;
    const fl_model *m = f->m;
    fl_model_info info;
    fl_model_get_info(m, &info);
    const char *ids[400];
    float r[400], x[8], b;
    size_t n = user_ratings(f->train, 7, ids, r, 12), used;
    assert_true(n >= 5);
    fl_error err;
    assert_int_equal(fl_fold_in(m, ids, r, n, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
    assert_int_equal(used, n);
    /* d/dx of sum (pred - r)^2 + reg_f sqrt(n) |x|^2 + reg_b b^2, in double. */
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
    for (int c = 0; c < 8; c++) g[c] += 2 * info.params.reg_factors * sqrt((double)n) * x[c];
    g[8] += 2 * info.params.reg_bias * b;
    for (int c = 0; c < 9; c++)
        if (fabs(g[c]) > 1e-3 * (1 + scale)) fail_msg("gradient[%d] = %g is not ~0", c, g[c]);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_vanishes),
        cmocka_unit_test(test_predicts_held_out),
        cmocka_unit_test(test_unknown_empty_and_refusals),
        cmocka_unit_test(test_recommend_folded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
