/* test_fm.c — fm and svdpp models trained by Gibbs sampling (mcmc), through
 * the public API: planted factors and a planted side-feature effect are
 * recovered within the noise; relabelling ids (sparse, permuted labels)
 * changes no prediction; a saved and loaded model predicts bit for bit what
 * training reported; the same seed gives the same model for any thread
 * count; fold-in works for fm, and its objective's gradient checks
 * (analytic against numeric) for fm and svdpp; the side-feature reader's
 * forms and errors; --solver sgd's objective gradient-checked and its
 * training; --time-bins follows planted drift and round-trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "train/fm_sgd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NU = 240, NI = 160, RANK = 3, GROUPS = 4, PER_USER = 40 };

typedef struct planted {
    double bu[NU], bi[NI], p[NU][RANK], q[NI][RANK], g[GROUPS][RANK];
    int grp[NU];
} planted;

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}
static double unif(uint64_t *s) { return (double)lcg(s) / (double)(1ull << 31); }
static double gauss(uint64_t *s) {
    double a = unif(s) + 1e-12, b = unif(s);
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

static void plant(planted *t, uint64_t seed) {
    for (int u = 0; u < NU; u++) {
        t->bu[u] = 0.3 * gauss(&seed);
        t->grp[u] = (int)(lcg(&seed) % GROUPS);
        for (int f = 0; f < RANK; f++) t->p[u][f] = 0.3 * gauss(&seed);
    }
    for (int i = 0; i < NI; i++) {
        t->bi[i] = 0.3 * gauss(&seed);
        for (int f = 0; f < RANK; f++) t->q[i][f] = 0.8 * gauss(&seed);
    }
    for (int g = 0; g < GROUPS; g++)
        for (int f = 0; f < RANK; f++) t->g[g][f] = 0.8 * gauss(&seed);
}

/* The noiseless rating: the user's vector is its own plus its group's. */
static double truth(const planted *t, int u, int i) {
    double z = 3.5 + t->bu[u] + t->bi[i];
    for (int f = 0; f < RANK; f++) z += (t->p[u][f] + t->g[t->grp[u]][f]) * t->q[i][f];
    return z;
}

/* The label of user u / item i: plain ("u7") or relabelled (sparse numbers
 * in a permuted order). */
static void label(char *buf, size_t n, int item, int idx, int relabel) {
    if (!relabel)
        snprintf(buf, n, "%c%d", item ? 'i' : 'u', idx);
    else
        snprintf(buf, n, "%llu", (unsigned long long)((uint64_t)(idx * 7919 + 13) % 100003 * 100000 +
                                                       (item ? 99 : 7)));
}

/* PER_USER ratings per user (train) and 5 more (test), noise 0.3. */
static void make_data(const planted *t, int relabel, fl_dataset **train, fl_dataset **test) {
    *train = fl_dataset_new(NU * PER_USER, 0);
    *test = fl_dataset_new(NU * 5, 0);
    uint64_t s = 99;
    fl_error err;
    for (int u = 0; u < NU; u++) {
        int used[NI] = {0};
        for (int k = 0; k < PER_USER + 5; k++) {
            int i;
            do i = (int)(lcg(&s) % NI);
            while (used[i]);
            used[i] = 1;
            char a[64], b[64];
            label(a, sizeof a, 0, u, relabel), label(b, sizeof b, 1, i, relabel);
            float r = (float)(truth(t, u, i) + 0.3 * gauss(&s));
            assert_int_equal(fl_dataset_add(k < PER_USER ? *train : *test, a, b, r, 0, &err), FL_OK);
        }
    }
}

static char *write_features(const planted *t, int relabel) {
    char *path = strdup("/tmp/fl_test_fm_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int u = 0; u < NU; u++) {
        char a[64];
        label(a, sizeof a, 0, u, relabel);
        fprintf(f, "%s,%s=%d\n", a, relabel ? "cluster" : "group", relabel ? 7 * t->grp[u] + 1 : t->grp[u]);
    }
    fclose(f);
    return path;
}

static fl_model *train_fm_solver(const fl_dataset *train, const fl_dataset *test,
                                 const fl_features *uf, int threads, fl_solver solver,
                                 fl_train_result *res) {
    fl_params p;
    fl_params_init(&p, FL_MODEL_FM, solver);
    p.n_factors = 4, p.epochs = 60, p.burn_in = 10, p.ensemble_rank = 32, p.n_threads = threads;
    p.seed = 11, p.implicit = FL_IMPLICIT_USER_ITEMS;
    fl_model *m = NULL;
    fl_error err = {0};
    if (solver == FL_SOLVER_ALS) p.epochs = 15;
    fl_status st = fl_train_features(train, test, &p, uf, NULL, NULL, &m, res, &err);
    if (st != FL_OK) fail_msg("training failed: %s", err.msg);
    return m;
}

static fl_model *train_fm(const fl_dataset *train, const fl_dataset *test, const fl_features *uf,
                          int threads, fl_train_result *res) {
    return train_fm_solver(train, test, uf, threads, FL_SOLVER_DEFAULT, res);
}

static void recovers_planted(fl_solver solver, double within) {
    static planted t;
    plant(&t, 1);
    fl_dataset *train, *test;
    make_data(&t, 0, &train, &test);
    char *path = write_features(&t, 0);
    fl_features *uf;
    fl_error err;
    assert_int_equal(fl_features_read(path, &uf, &err), FL_OK);
    fl_train_result res;
    fl_model *m = train_fm_solver(train, test, uf, 2, solver, &res);
    /* Against the noiseless ratings of the test pairs: well within the
     * noise (0.3); the bias-only fallback is far off. */
    double se = 0.0, se_bias = 0.0;
    for (size_t k = 0; k < test->n_ratings; k++) {
        const char *a = fl_idmap_name(test->user_ids, test->users[k]);
        const char *b = fl_idmap_name(test->item_ids, test->items[k]);
        int u = atoi(a + 1), i = atoi(b + 1);
        float y;
        assert_int_equal(fl_predict(m, a, b, FL_UNKNOWN_ERROR, &y, &err), FL_OK);
        double d = y - truth(&t, u, i);
        se += d * d;
        double db = 3.5 + t.bu[u] + t.bi[i] - truth(&t, u, i);
        se_bias += db * db;
    }
    double rmse = sqrt(se / test->n_ratings), rmse_bias = sqrt(se_bias / test->n_ratings);
    if (!(rmse < within)) fail_msg("RMSE against the planted ratings %.4f (bias only %.4f)", rmse, rmse_bias);
    assert_true(rmse < 0.5 * rmse_bias);
    /* A new user from the group feature alone: closer to its group's
     * planted ratings (the user's own part unknown) than the biases. */
    if (solver == FL_SOLVER_MCMC) {
        size_t nf = fl_model_fold_in_floats(m), used;
        float *x = calloc(nf, sizeof *x), bias;
        double se_f = 0.0, se_b = 0.0;
        for (int g = 0; g < GROUPS; g++) {
            char name[32];
            snprintf(name, sizeof name, "group=%d", g);
            const char *names[1] = {name};
            assert_int_equal(fl_user_from_features(m, names, NULL, 1, FL_UNKNOWN_ERROR, x, &bias,
                                                   &used, &err),
                             FL_OK);
            assert_int_equal(used, 1);
            for (int i = 0; i < NI; i++) {
                char b[16];
                uint32_t idx;
                snprintf(b, sizeof b, "i%d", i);
                if (!fl_idmap_find(fl_model_item_ids(m), b, strlen(b), &idx)) continue;
                double want = 3.5 + t.bi[i];
                for (int f = 0; f < RANK; f++) want += t.g[g][f] * t.q[i][f];
                float y0;
                assert_int_equal(fl_predict(m, "new", b, FL_UNKNOWN_MEAN, &y0, &err), FL_OK);
                double d = fl_predict_folded(m, x, bias, idx) - want, d0 = y0 - want;
                se_f += d * d, se_b += d0 * d0;
            }
        }
        if (!(se_f < 0.5 * se_b)) fail_msg("features-only user: SE %.3f, biases %.3f", se_f, se_b);
        const char *bad[1] = {"group=99"};
        assert_int_equal(fl_user_from_features(m, bad, NULL, 1, FL_UNKNOWN_ERROR, x, &bias, &used, &err),
                         FL_ERR_UNKNOWN_ID);
        free(x);
    }
    /* The groups are data: user id, the file's group, the rated items. */
    assert_int_equal(fl_model_n_groups(m), 4);
    int side;
    uint32_t n;
    assert_string_equal(fl_model_group(m, 1, &side, &n), "group");
    assert_int_equal(side, 0);
    assert_int_equal(n, GROUPS);
    fl_model_free(m);
    fl_features_free(uf);
    unlink(path), free(path);
    fl_dataset_free(train), fl_dataset_free(test);
}

static void test_recovers_planted(void **state) {
    (void)state;
    recovers_planted(FL_SOLVER_MCMC, 0.25);
}

/* als (coordinate descent, libFM's): the same model, fixed L2 priors. */
static void test_als_recovers_planted(void **state) {
    (void)state;
    recovers_planted(FL_SOLVER_ALS, 0.45); /* MAP with a fixed penalty: far from the 1.3 of the biases */
}

static void test_relabelling_changes_nothing(void **state) {
    (void)state;
    static planted t;
    plant(&t, 2);
    fl_dataset *tr[2], *te[2];
    fl_features *uf[2];
    fl_model *m[2];
    fl_error err;
    for (int r = 0; r < 2; r++) {
        make_data(&t, r, &tr[r], &te[r]);
        char *path = write_features(&t, r);
        assert_int_equal(fl_features_read(path, &uf[r], &err), FL_OK);
        unlink(path), free(path);
        fl_train_result res;
        m[r] = train_fm(tr[r], te[r], uf[r], 1, &res);
    }
    for (int u = 0; u < NU; u++)
        for (int i = 0; i < NI; i += 7) {
            char a0[64], b0[64], a1[64], b1[64];
            label(a0, sizeof a0, 0, u, 0), label(b0, sizeof b0, 1, i, 0);
            label(a1, sizeof a1, 0, u, 1), label(b1, sizeof b1, 1, i, 1);
            float y0, y1;
            fl_status s0 = fl_predict(m[0], a0, b0, FL_UNKNOWN_MEAN, &y0, &err);
            fl_status s1 = fl_predict(m[1], a1, b1, FL_UNKNOWN_MEAN, &y1, &err);
            assert_int_equal(s0, FL_OK), assert_int_equal(s1, FL_OK);
            assert_memory_equal(&y0, &y1, sizeof y0);
        }
    for (int r = 0; r < 2; r++) {
        fl_model_free(m[r]);
        fl_features_free(uf[r]);
        fl_dataset_free(tr[r]), fl_dataset_free(te[r]);
    }
}

/* m written to a temporary file and loaded back. */
static fl_model *save_and_load(const fl_model *m) {
    char path[] = "/tmp/fl_test_fm_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fl_error err;
    assert_int_equal(fl_model_save(m, path, &err), FL_OK);
    fl_model *ld;
    assert_int_equal(fl_model_load(path, &ld, &err), FL_OK);
    unlink(path);
    return ld;
}

static void test_save_load_and_threads(void **state) {
    (void)state;
    static planted t;
    plant(&t, 3);
    fl_dataset *train, *test;
    make_data(&t, 0, &train, &test);
    fl_train_result r1, r2;
    fl_model *m1 = train_fm(train, test, NULL, 1, &r1);
    fl_model *m2 = train_fm(train, test, NULL, 2, &r2);
    fl_model *ld = save_and_load(m1);
    fl_error err;
    /* What training reported last is the loaded model's error, exactly. */
    fl_metrics mt;
    assert_int_equal(fl_evaluate(ld, test, FL_UNKNOWN_MEAN, &mt, &err), FL_OK);
    assert_memory_equal(&mt.rmse, &r1.last.test_rmse, sizeof mt.rmse);
    fl_model_info in;
    fl_model_get_info(ld, &in);
    assert_int_equal(in.kind, FL_MODEL_FM);
    assert_int_equal(fl_model_n_groups(ld), fl_model_n_groups(m1));
    for (uint32_t u = 0; u < NU; u++)
        for (uint32_t i = 0; i < NI; i += 3) {
            float a = fl_predict_index(m1, u, i), b = fl_predict_index(ld, u, i),
                  c = fl_predict_index(m2, u, i);
            assert_memory_equal(&a, &b, sizeof a);
            assert_memory_equal(&a, &c, sizeof a); /* 1 and 2 threads: the same draws */
        }
    fl_model_free(m1), fl_model_free(m2), fl_model_free(ld);
    fl_dataset_free(train), fl_dataset_free(test);
}

static void test_svdpp_and_fold_in(void **state) {
    (void)state;
    static planted t;
    plant(&t, 4);
    fl_dataset *train, *test;
    make_data(&t, 0, &train, &test);
    fl_params p;
    fl_params_init(&p, FL_MODEL_SVDPP, FL_SOLVER_DEFAULT);
    assert_int_equal(p.solver, FL_SOLVER_MCMC);
    assert_int_equal(p.implicit, FL_IMPLICIT_USER_ITEMS);
    p.n_factors = 4, p.epochs = 40, p.burn_in = 10, p.ensemble_rank = 24, p.n_threads = 2;
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err;
    assert_int_equal(fl_train(train, test, &p, NULL, &m, &res, &err), FL_OK);
    assert_true(res.last.test_rmse < 0.6);
    /* Fold-in: a user's train ratings as a new user's predict their test
     * ratings better than the biases alone. */
    size_t nf = fl_model_fold_in_floats(m);
    assert_true(nf >= 1 && nf <= 24);
    float *factors = calloc(nf, sizeof *factors);
    double se = 0, se_bias = 0;
    size_t n = 0;
    for (int u = 0; u < 30; u++) {
        const char *ids[PER_USER];
        float r[PER_USER];
        size_t k = 0;
        char a[64];
        label(a, sizeof a, 0, u, 0);
        for (size_t x = 0; x < train->n_ratings && k < PER_USER; x++)
            if (strcmp(fl_idmap_name(train->user_ids, train->users[x]), a) == 0)
                ids[k] = fl_idmap_name(train->item_ids, train->items[x]), r[k++] = train->ratings[x];
        float bias;
        size_t used;
        assert_int_equal(fl_fold_in(m, ids, r, k, FL_UNKNOWN_SKIP, factors, &bias, &used, &err), FL_OK);
        assert_int_equal(used, k);
        for (size_t x = 0; x < test->n_ratings; x++) {
            if (strcmp(fl_idmap_name(test->user_ids, test->users[x]), a) != 0) continue;
            uint32_t i;
            const char *b = fl_idmap_name(test->item_ids, test->items[x]);
            if (!fl_idmap_find(fl_model_item_ids(m), b, strlen(b), &i)) continue;
            double d = fl_predict_folded(m, factors, bias, i) - test->ratings[x];
            double db = fl_predict_folded(m, factors, bias, i) - test->ratings[x];
            (void)db;
            float y0;
            assert_int_equal(fl_predict(m, "nobody", b, FL_UNKNOWN_MEAN, &y0, &err), FL_OK);
            se += d * d, se_bias += (y0 - test->ratings[x]) * (y0 - test->ratings[x]), n++;
        }
    }
    assert_true(n > 100);
    if (!(se < 0.8 * se_bias)) fail_msg("fold-in MSE %.4f, bias only %.4f", se / n, se_bias / n);
    free(factors);
    fl_model_free(m);
    fl_dataset_free(train), fl_dataset_free(test);
}

/* Gradient check of fm's and svdpp's fold-in objective, analytic against
 * numeric:  J(p, b) = sum_i (r_i - s_i(p, b))^2 + reg sqrt(n) |p - p0|^2
 * + reg_bias (b - b0)^2, with s_i the model's unclipped score and (p0, b0)
 * the average user (fl_fold_in with no ratings). At fl_fold_in's answer the
 * gradient vanishes; at a point beside it central differences of J match
 * the analytic gradient. */
typedef struct fold_case {
    const fl_model *m;
    size_t n, k;
    uint32_t idx[PER_USER];
    float r[PER_USER];
    const float *p0;
    float b0, reg, reg_b;
} fold_case;

static double score(const fold_case *c, const float *p, float b, uint32_t i) {
    /* offset + b_i from the zero user (never clipped here: about 3.5). */
    static const float zeros[256] = {0};
    double base = fl_predict_folded(c->m, zeros, 0.0f, i);
    const float *q = fl_model_item_factors(c->m, i);
    double z = base + b;
    for (size_t f = 0; f < c->k; f++) z += (double)p[f] * q[f];
    return z;
}

static double objective(const fold_case *c, const float *p, float b) {
    double J = 0.0, pp = 0.0;
    for (size_t t = 0; t < c->n; t++) {
        double e = c->r[t] - score(c, p, b, c->idx[t]);
        J += e * e;
    }
    for (size_t f = 0; f < c->k; f++) pp += ((double)p[f] - c->p0[f]) * ((double)p[f] - c->p0[f]);
    return J + c->reg * sqrt((double)c->n) * pp + c->reg_b * ((double)b - c->b0) * ((double)b - c->b0);
}

static void gradient(const fold_case *c, const float *p, float b, double *g) {
    for (size_t f = 0; f <= c->k; f++) g[f] = 0.0;
    for (size_t t = 0; t < c->n; t++) {
        const float *q = fl_model_item_factors(c->m, c->idx[t]);
        double e = c->r[t] - score(c, p, b, c->idx[t]);
        for (size_t f = 0; f < c->k; f++) g[f] -= 2.0 * e * q[f];
        g[c->k] -= 2.0 * e;
    }
    for (size_t f = 0; f < c->k; f++) g[f] += 2.0 * c->reg * sqrt((double)c->n) * (p[f] - c->p0[f]);
    g[c->k] += 2.0 * c->reg_b * ((double)b - c->b0);
}

static void fold_in_gradient_check(fl_model_kind kind) {
    static planted t;
    plant(&t, 6);
    fl_dataset *train, *test;
    make_data(&t, 0, &train, &test);
    fl_params p;
    fl_params_init(&p, kind, FL_SOLVER_DEFAULT);
    p.n_factors = 4, p.epochs = 30, p.burn_in = 10, p.ensemble_rank = 16, p.n_threads = 2;
    if (kind == FL_MODEL_FM) p.implicit = FL_IMPLICIT_USER_ITEMS | FL_IMPLICIT_ITEM_USERS;
    fl_model *m;
    fl_error err;
    assert_int_equal(fl_train(train, NULL, &p, NULL, &m, NULL, &err), FL_OK);
    fold_case c = {.m = m, .k = fl_model_fold_in_floats(m), .reg = p.reg_factors, .reg_b = p.reg_bias};
    assert_true(c.k <= 256);
    float *p0 = calloc(c.k, sizeof *p0), *x = calloc(c.k, sizeof *x), *y = calloc(c.k, sizeof *y);
    double *g = calloc(c.k + 1, sizeof *g);
    size_t used;
    assert_int_equal(fl_fold_in(m, NULL, NULL, 0, FL_UNKNOWN_ERROR, p0, &c.b0, &used, &err), FL_OK);
    c.p0 = p0;
    const char *ids[PER_USER];
    for (size_t k = 0; k < train->n_ratings && c.n < 12; k++)
        if (train->users[k] == 3) {
            ids[c.n] = fl_idmap_name(train->item_ids, train->items[k]);
            assert_true(fl_idmap_find(fl_model_item_ids(m), ids[c.n], strlen(ids[c.n]), &c.idx[c.n]));
            c.r[c.n++] = train->ratings[k];
        }
    float b;
    assert_int_equal(fl_fold_in(m, ids, c.r, c.n, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
    gradient(&c, x, b, g);
    double scale = 0.0;
    for (size_t t2 = 0; t2 < c.n; t2++) scale += fabs(c.r[t2]);
    for (size_t f = 0; f <= c.k; f++)
        if (!(fabs(g[f]) < 2e-3 * scale)) fail_msg("gradient %zu at the fold-in is %g", f, g[f]);
    /* Beside the minimum: central differences against the formula. */
    for (size_t f = 0; f < c.k; f++) y[f] = x[f] + 0.05f * (float)((int)(f % 3) - 1);
    float yb = b + 0.03f;
    gradient(&c, y, yb, g);
    for (size_t f = 0; f <= c.k; f += (c.k > 8 ? c.k / 4 : 1)) {
        const float h = 1e-2f;
        double up, down;
        if (f < c.k) {
            float keep = y[f];
            y[f] = keep + h, up = objective(&c, y, yb);
            y[f] = keep - h, down = objective(&c, y, yb);
            y[f] = keep;
        } else {
            up = objective(&c, y, yb + h), down = objective(&c, y, yb - h);
        }
        double numeric = (up - down) / (2.0 * h);
        if (!(fabs(numeric - g[f]) <= 1e-2 * (1.0 + fabs(g[f]))))
            fail_msg("d J / d x[%zu]: analytic %g, numeric %g", f, g[f], numeric);
    }
    free(p0), free(x), free(y), free(g);
    fl_model_free(m);
    fl_dataset_free(train), fl_dataset_free(test);
}

static void test_gradient_fm(void **state) {
    (void)state;
    fold_in_gradient_check(FL_MODEL_FM);
}

static void test_gradient_svdpp(void **state) {
    (void)state;
    fold_in_gradient_check(FL_MODEL_SVDPP);
}

static char *write_text(const char *text) {
    char *path = strdup("/tmp/fl_test_feat_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void expect_error(const char *text, const char *needle) {
    char *path = write_text(text);
    fl_features *f = NULL;
    fl_error err = {0};
    assert_int_equal(fl_features_read(path, &f, &err), FL_ERR_DATA);
    assert_null(f);
    char where[300];
    snprintf(where, sizeof where, "%s:%s", path, needle);
    if (!strstr(err.msg, where)) fail_msg("'%s' does not hold '%s'", err.msg, where);
    unlink(path), free(path);
}

static void test_feature_files(void **state) {
    (void)state;
    char *path = write_text("# comment\n10,genre=Drama\n10,genre=Comedy,0.5\n20,year,1.5\n30,genre=Drama\n");
    fl_features *f;
    fl_error err;
    assert_int_equal(fl_features_read(path, &f, &err), FL_OK);
    assert_int_equal(fl_features_n_ids(f), 3);
    assert_int_equal(fl_features_n_features(f), 3);
    assert_int_equal(fl_features_n_groups(f), 2);
    uint32_t n;
    assert_string_equal(fl_features_group(f, 0, &n), "genre");
    assert_int_equal(n, 2);
    assert_string_equal(fl_features_group(f, 1, &n), "year");
    fl_features_free(f);
    unlink(path), free(path);
    /* u.user's form: named features in four groups. */
    path = write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1A\n");
    assert_int_equal(fl_features_read(path, &f, &err), FL_OK);
    assert_int_equal(fl_features_n_ids(f), 3);
    assert_int_equal(fl_features_n_groups(f), 4);
    assert_string_equal(fl_features_group(f, 0, NULL), "age");
    fl_features_free(f);
    unlink(path), free(path);
    expect_error("1,a\n2,b\n1,a\n", "3:");               /* duplicate (id, feature) */
    expect_error("1,a\n2,b,x\n", "2:");                  /* bad value */
    expect_error("1,a\n2\n", "2:");                      /* too few fields */
    expect_error("1|24|M|technician|85711\n1|25|F|other|1\n", "2:"); /* duplicate user */
    /* Side features need an fm model. */
    fl_dataset *d = fl_dataset_new(4, 0);
    assert_int_equal(fl_dataset_add(d, "1", "a", 4, 0, &err), FL_OK);
    path = write_text("1,a\n");
    assert_int_equal(fl_features_read(path, &f, &err), FL_OK);
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_DEFAULT);
    fl_model *m = NULL;
    assert_int_equal(fl_train_features(d, NULL, &p, f, NULL, NULL, &m, NULL, &err), FL_ERR_USAGE);
    fl_features_free(f);
    unlink(path), free(path);
    fl_dataset_free(d);
}

/* --time-bins: items whose bias drifts across four periods. The binned
 * model follows the drift (the plain one cannot), a loaded file scores
 * what training reported, 1 and 2 threads agree, a rating without a
 * timestamp is predicted in the item's latest bin, and a set without
 * timestamps is refused. */
enum { T0 = 1000000000, SPAN = 4000000, BINS = 4 };

static double drift(int i, int b) { return 0.6 * sin(1.7 * i + 2.1 * b); }

static void make_timed(const planted *t, fl_dataset **train, fl_dataset **test) {
    *train = fl_dataset_new(NU * PER_USER, 1);
    *test = fl_dataset_new(NU * 5, 1);
    uint64_t s = 7;
    fl_error err;
    for (int u = 0; u < NU; u++)
        for (int k = 0; k < PER_USER + 5; k++) {
            int i = (int)(lcg(&s) % NI);
            uint32_t when = T0 + (uint32_t)(unif(&s) * (SPAN - 1));
            int b = (int)((uint64_t)(when - T0) * BINS / SPAN);
            char a[16], c[16];
            snprintf(a, sizeof a, "u%d", u), snprintf(c, sizeof c, "i%d", i);
            float r = (float)(truth(t, u, i) + drift(i, b) + 0.2 * gauss(&s));
            assert_int_equal(fl_dataset_add(k < PER_USER ? *train : *test, a, c, r, when, &err), FL_OK);
        }
}

static fl_model *train_bins(const fl_dataset *train, const fl_dataset *test, int bins, int threads,
                            fl_train_result *res) {
    fl_params p;
    fl_params_init(&p, FL_MODEL_SVDPP, FL_SOLVER_DEFAULT);
    p.n_factors = 4, p.epochs = 40, p.burn_in = 10, p.ensemble_rank = 16, p.n_threads = threads;
    p.seed = 5, p.time_bins = bins;
    fl_model *m = NULL;
    fl_error err = {0};
    if (fl_train_features(train, test, &p, NULL, NULL, NULL, &m, res, &err) != FL_OK)
        fail_msg("training failed: %s", err.msg);
    return m;
}

static void test_time_bins(void **state) {
    (void)state;
    static planted t;
    plant(&t, 4);
    fl_dataset *train, *test;
    make_timed(&t, &train, &test);
    fl_train_result r0, r1, r2;
    fl_model *m0 = train_bins(train, test, 0, 2, &r0);
    fl_model *m1 = train_bins(train, test, BINS, 1, &r1);
    fl_model *m2 = train_bins(train, test, BINS, 2, &r2);
    /* The drift's spread is 0.6 / sqrt(2) = 0.42, the noise 0.2. */
    if (!(r1.last.test_rmse < 0.75 * r0.last.test_rmse))
        fail_msg("time bins %.4f, without %.4f", r1.last.test_rmse, r0.last.test_rmse);
    assert_memory_equal(&r1.last.test_rmse, &r2.last.test_rmse, sizeof r1.last.test_rmse);
    fl_model *ld = save_and_load(m1);
    fl_error err;
    fl_metrics mt;
    assert_int_equal(fl_evaluate(ld, test, FL_UNKNOWN_MEAN, &mt, &err), FL_OK);
    assert_memory_equal(&mt.rmse, &r1.last.test_rmse, sizeof mt.rmse);
    fl_model_info in;
    fl_model_get_info(ld, &in);
    assert_int_equal(in.params.time_bins, BINS);
    /* Without a timestamp: the latest bin, i.e. a rating at the period's
     * end (every item here has ratings in the last bin). */
    for (int i = 0; i < NI; i += 7) {
        char c[16];
        snprintf(c, sizeof c, "i%d", i);
        fl_dataset *one = fl_dataset_new(1, 1);
        float y;
        assert_int_equal(fl_dataset_add(one, "u3", c, 0.0f, T0 + SPAN, &err), FL_OK);
        assert_int_equal(fl_evaluate(ld, one, FL_UNKNOWN_MEAN, &mt, &err), FL_OK);
        assert_int_equal(fl_predict(ld, "u3", c, FL_UNKNOWN_MEAN, &y, &err), FL_OK);
        assert_float_equal(y, mt.rmse, 1e-6);
        fl_dataset_free(one);
    }
    /* No timestamps: a usage error, not a model. */
    fl_dataset *plain, *plain_test;
    make_data(&t, 0, &plain, &plain_test);
    fl_params p;
    fl_params_init(&p, FL_MODEL_SVDPP, FL_SOLVER_DEFAULT);
    p.time_bins = BINS, p.epochs = 3, p.burn_in = 1;
    fl_model *none = NULL;
    fl_train_result rr;
    assert_int_equal(fl_train_features(plain, NULL, &p, NULL, NULL, NULL, &none, &rr, &err), FL_ERR_USAGE);
    assert_null(none);
    assert_non_null(strstr(err.msg, "timestamps"));
    fl_model_free(m0), fl_model_free(m1), fl_model_free(m2), fl_model_free(ld);
    fl_dataset_free(train), fl_dataset_free(test), fl_dataset_free(plain), fl_dataset_free(plain_test);
}

/* --solver sgd's per-rating objective (fl_fm_sgd_objective, the loss its
 * steps follow): the analytic gradient of every feature vector against
 * central differences, for an fm rating (user id, a side feature, three
 * rated items at 1/sqrt(3); item id, two genres, two raters at
 * 1/sqrt(2)) and an svdpp one (user id and rated items; item id). */
static void sgd_gradient_check(int n_u, const float *ux, int n_i, const float *ix) {
    enum { K = 5, D = K + 1, MAXF = 8 };
    double V[2][MAXF][D], gu[MAXF * D], gi[MAXF * D];
    const double *uv[MAXF], *iv[MAXF];
    uint64_t s = 17;
    for (int side = 0; side < 2; side++)
        for (int j = 0; j < MAXF; j++)
            for (int f = 0; f < D; f++) V[side][j][f] = 0.5 * gauss(&s);
    for (int j = 0; j < MAXF; j++) uv[j] = V[0][j], iv[j] = V[1][j];
    const double w0 = 3.4, y = 4.0, reg = 0.07, reg_bias = 0.02;
    fl_fm_sgd_objective(K, w0, y, n_u, uv, ux, n_i, iv, ix, reg, reg_bias, gu, gi);
    for (int side = 0; side < 2; side++)
        for (int j = 0; j < (side ? n_i : n_u); j++)
            for (int f = 0; f < D; f++) {
                const double h = 1e-5, keep = V[side][j][f];
                V[side][j][f] = keep + h;
                double up = fl_fm_sgd_objective(K, w0, y, n_u, uv, ux, n_i, iv, ix, reg, reg_bias, NULL, NULL);
                V[side][j][f] = keep - h;
                double down = fl_fm_sgd_objective(K, w0, y, n_u, uv, ux, n_i, iv, ix, reg, reg_bias, NULL, NULL);
                V[side][j][f] = keep;
                double numeric = (up - down) / (2.0 * h), analytic = (side ? gi : gu)[j * D + f];
                if (!(fabs(numeric - analytic) <= 1e-6 * (1.0 + fabs(analytic))))
                    fail_msg("side %d feature %d dim %d: analytic %g, numeric %g", side, j, f, analytic, numeric);
            }
}

static void test_sgd_gradient_fm(void **state) {
    (void)state;
    const float r3 = 1.0f / sqrtf(3.0f), r2 = 1.0f / sqrtf(2.0f);
    const float ux[5] = {1.0f, 1.0f, r3, r3, r3}, ix[5] = {1.0f, 1.0f, 1.0f, r2, r2};
    sgd_gradient_check(5, ux, 5, ix);
}

static void test_sgd_gradient_svdpp(void **state) {
    (void)state;
    const float r4 = 0.5f;
    const float ux[5] = {1.0f, r4, r4, r4, r4}, ix[1] = {1.0f};
    sgd_gradient_check(5, ux, 1, ix);
}

/* --solver sgd end to end: it learns the planted ratings well beyond the
 * biases, reports per epoch, and the same seed gives the same model for
 * 1 and 2 threads (SGD itself runs on one). */
static void test_sgd_trains(void **state) {
    (void)state;
    static planted t;
    plant(&t, 5);
    fl_dataset *train, *test;
    make_data(&t, 0, &train, &test);
    fl_model *m[2];
    fl_train_result res[2];
    for (int th = 0; th < 2; th++) {
        fl_params p;
        fl_params_init(&p, FL_MODEL_SVDPP, FL_SOLVER_SGD);
        p.n_factors = 4, p.n_threads = th + 1, p.seed = 3;
        fl_error err = {0};
        if (fl_train_features(train, test, &p, NULL, NULL, NULL, &m[th], &res[th], &err) != FL_OK)
            fail_msg("training failed: %s", err.msg);
    }
    assert_int_equal(res[0].epochs_run, res[0].last.epochs);
    double se = 0.0, se_bias = 0.0;
    fl_error err;
    for (size_t k = 0; k < test->n_ratings; k++) {
        const char *a = fl_idmap_name(test->user_ids, test->users[k]);
        const char *b = fl_idmap_name(test->item_ids, test->items[k]);
        int u = atoi(a + 1), i = atoi(b + 1);
        float y0, y1;
        assert_int_equal(fl_predict(m[0], a, b, FL_UNKNOWN_MEAN, &y0, &err), FL_OK);
        assert_int_equal(fl_predict(m[1], a, b, FL_UNKNOWN_MEAN, &y1, &err), FL_OK);
        assert_memory_equal(&y0, &y1, sizeof y0);
        double d = y0 - truth(&t, u, i), db = 3.5 + t.bu[u] + t.bi[i] - truth(&t, u, i);
        se += d * d, se_bias += db * db;
    }
    if (!(se < 0.6 * se_bias)) fail_msg("sgd: SE %.3f against the biases' %.3f", se, se_bias);
    fl_model_free(m[0]), fl_model_free(m[1]);
    fl_dataset_free(train), fl_dataset_free(test);
}

/* Item side features' weights (the report's bars): one per feature with its
 * name, kept by the model file. Items of the kind "good" are planted half a
 * point above the "plain" ones, which the weights must show. */
static void test_item_feature_weights(void **state) {
    (void)state;
    static planted t;
    plant(&t, 4);
    fl_dataset *train, *test;
    make_data(&t, 0, &train, &test);
    for (size_t k = 0; k < train->n_ratings; k++)
        if (train->items[k] % 2 == 0) train->ratings[k] += 0.5f;
    char path[] = "/tmp/fl_test_fm_items_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (uint32_t i = 0; i < fl_idmap_size(train->item_ids); i++)
        fprintf(f, "%s,kind=%s\n", fl_idmap_name(train->item_ids, i), i % 2 ? "plain" : "good");
    fclose(f);
    fl_error err = {0};
    fl_features *itf;
    assert_int_equal(fl_features_read(path, &itf, &err), FL_OK);
    unlink(path);
    fl_params p;
    fl_params_init(&p, FL_MODEL_FM, FL_SOLVER_DEFAULT);
    p.n_factors = 4, p.epochs = 40, p.burn_in = 10, p.ensemble_rank = 16, p.n_threads = 2;
    fl_model *m;
    assert_int_equal(fl_train_features(train, NULL, &p, NULL, itf, NULL, &m, NULL, &err), FL_OK);
    assert_int_equal(fl_model_n_side_features(m, 1), 2);
    assert_int_equal(fl_model_n_side_features(m, 0), 0);
    float w = 0, good = 0, plain = 0;
    for (uint32_t j = 0; j < 2; j++) {
        const char *name = fl_model_side_feature(m, 1, j, &w);
        assert_non_null(name);
        if (!strcmp(name, "kind=good")) good = w;
        else if (!strcmp(name, "kind=plain")) plain = w;
        else fail_msg("unexpected feature %s", name);
    }
    assert_null(fl_model_side_feature(m, 1, 2, &w));
    assert_true(good - plain > 0.2f);
    fl_model *ld = save_and_load(m);
    assert_int_equal(fl_model_n_side_features(ld, 1), 2);
    for (uint32_t j = 0; j < 2; j++) {
        float a, b;
        assert_string_equal(fl_model_side_feature(m, 1, j, &a), fl_model_side_feature(ld, 1, j, &b));
        assert_memory_equal(&a, &b, sizeof a);
    }
    fl_model_free(m), fl_model_free(ld);
    fl_features_free(itf);
    fl_dataset_free(train), fl_dataset_free(test);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovers_planted),
        cmocka_unit_test(test_als_recovers_planted),
        cmocka_unit_test(test_relabelling_changes_nothing),
        cmocka_unit_test(test_save_load_and_threads),
        cmocka_unit_test(test_svdpp_and_fold_in),
        cmocka_unit_test(test_feature_files),
        cmocka_unit_test(test_item_feature_weights),
        cmocka_unit_test(test_gradient_fm),
        cmocka_unit_test(test_gradient_svdpp),
        cmocka_unit_test(test_time_bins),
        cmocka_unit_test(test_sgd_gradient_fm),
        cmocka_unit_test(test_sgd_gradient_svdpp),
        cmocka_unit_test(test_sgd_trains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
