/* test_implicit.c — the implicit-feedback models. iALS: the conjugate-
 * gradient row solve against a dense direct solve of the same normal
 * equations (in double, Cholesky), converging in k steps and improving on
 * its warm start in 3; a trained row is (nearly) the exact minimiser. BPR:
 * the gradient against central differences of the loss, and the SGD step
 * is the gradient step. Both: the same seed and thread count give the same
 * bits (and so do other thread counts: the rows and blocks are computed
 * alike on any thread), a saved model loads back the same, fl_evaluate
 * refuses them, fl_recommend ranks by their score. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "core/rng.h"
#include "models/bpr.h"
#include "models/model.h"
#include "train/ials.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Solves the n x n system A x = b (row-major, SPD) in double by Cholesky. */
static void dense_solve(double *A, int n, double *b) {
    for (int j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int p = 0; p < j; p++) d -= A[j * n + p] * A[j * n + p];
        assert_true(d > 0);
        A[j * n + j] = sqrt(d);
        for (int i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (int p = 0; p < j; p++) s -= A[i * n + p] * A[j * n + p];
            A[i * n + j] = s / A[j * n + j];
        }
    }
    for (int i = 0; i < n; i++) { /* L y = b */
        for (int p = 0; p < i; p++) b[i] -= A[i * n + p] * b[p];
        b[i] /= A[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L^T x = y */
        for (int p = i + 1; p < n; p++) b[i] -= A[p * n + i] * b[p];
        b[i] /= A[i * n + i];
    }
}

/* A random row problem: n_items rows of Y (stride 16 > k), a row that rated
 * n of them with ratings 1..5, and the exact solution in double. */
typedef struct row_case {
    int k, n_items;
    size_t n, stride;
    float *Y, *YtY, *conf, reg;
    uint32_t *idx;
    double *x_exact;
} row_case;

static row_case make_case(int k, size_t n, float alpha, float reg, uint64_t seed) {
    row_case c = {.k = k, .n_items = 200, .n = n, .stride = 16, .reg = reg};
    fl_rng rng;
    fl_rng_seed(&rng, seed);
    c.Y = calloc((size_t)c.n_items * c.stride, sizeof *c.Y);
    c.YtY = calloc((size_t)k * k, sizeof *c.YtY);
    c.conf = malloc(n * sizeof *c.conf);
    c.idx = malloc(n * sizeof *c.idx);
    c.x_exact = calloc((size_t)k, sizeof *c.x_exact);
    for (int i = 0; i < c.n_items; i++)
        for (int f = 0; f < k; f++) c.Y[(size_t)i * c.stride + f] = (float)(0.3 * fl_rng_normal(&rng));
    for (size_t j = 0; j < n; j++) {
        c.idx[j] = (uint32_t)(j * 7 % (size_t)c.n_items); /* distinct for n <= 200 */
        c.conf[j] = 1.0f + alpha * (float)(1 + fl_rng_below(&rng, 5));
    }
    double *A = calloc((size_t)k * k, sizeof *A);
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double s = 0;
            for (int i = 0; i < c.n_items; i++)
                s += (double)c.Y[(size_t)i * c.stride + a] * c.Y[(size_t)i * c.stride + b];
            c.YtY[a * k + b] = (float)s;
            A[a * k + b] = c.YtY[a * k + b] + (a == b ? reg : 0.0);
        }
    for (size_t j = 0; j < n; j++) {
        const float *y = c.Y + (size_t)c.idx[j] * c.stride;
        for (int a = 0; a < k; a++) {
            c.x_exact[a] += (double)c.conf[j] * y[a];
            for (int b = 0; b < k; b++) A[a * k + b] += (double)(c.conf[j] - 1.0f) * y[a] * y[b];
        }
    }
    dense_solve(A, k, c.x_exact);
    free(A);
    return c;
}

static void free_case(row_case *c) {
    free(c->Y), free(c->YtY), free(c->conf), free(c->idx), free(c->x_exact);
}

static double dist(const float *x, const double *y, int k) {
    double s = 0;
    for (int f = 0; f < k; f++) s += ((double)x[f] - y[f]) * ((double)x[f] - y[f]);
    return sqrt(s);
}

static double norm(const double *y, int k) {
    double s = 0;
    for (int f = 0; f < k; f++) s += y[f] * y[f];
    return sqrt(s);
}

/* k CG steps solve a k x k SPD system (up to round-off); from a warm start,
 * 3 steps (the solver's count) cut the error well below where they began. */
static void test_cg_matches_direct_solve(void **state) {
    (void)state;
    static const int ks[] = {1, 4, 8, 16};
    static const size_t ns[] = {0, 1, 5, 40};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
            const int k = ks[a];
            row_case c = make_case(k, ns[b], 1.0f, 2.0f, 100 + a * 10 + b);
            float x[16] = {0}, work[FL_IALS_WORK(16)];
            fl_ials_cg_row(c.YtY, k, c.Y, c.stride, c.idx, c.conf, c.n, c.reg, 2 * k, x, work);
            double err = dist(x, c.x_exact, k), scale = norm(c.x_exact, k) + 1e-3;
            if (err > 1e-4 * scale)
                fail_msg("k=%d n=%zu: CG is %.3g from the direct solve (|x| = %.3g)", k, ns[b],
                         err, scale);
            /* Warm start: the exact answer plus a perturbation, 3 steps. */
            if (k >= 8) {
                for (int f = 0; f < k; f++) x[f] = (float)(c.x_exact[f] + 0.5 * ((f % 3) - 1));
                double before = dist(x, c.x_exact, k);
                fl_ials_cg_row(c.YtY, k, c.Y, c.stride, c.idx, c.conf, c.n, c.reg, 3, x, work);
                assert_true(dist(x, c.x_exact, k) < 0.5 * before);
            }
            free_case(&c);
        }
}

static double bpr_loss(const float *p, const float *qi, const float *qj, int k, float reg) {
    float g[3][8];
    return fl_bpr_grad(p, qi, qj, k, reg, g[0], g[1], g[2]);
}

/* The analytic gradient against central differences of the loss (in
 * double, the loss itself being summed in double), for every component of
 * the three rows, at points with small and large scores. */
static void test_bpr_gradient_numerically(void **state) {
    (void)state;
    enum { K = 8 };
    fl_rng rng;
    fl_rng_seed(&rng, 5);
    for (int trial = 0; trial < 20; trial++) {
        float rows[3][K], g[3][K];
        double spread = trial < 10 ? 0.3 : 1.5; /* large: sigmoid saturates */
        for (int r = 0; r < 3; r++)
            for (int f = 0; f < K; f++) rows[r][f] = (float)(spread * fl_rng_normal(&rng));
        const float reg = 0.05f;
        fl_bpr_grad(rows[0], rows[1], rows[2], K, reg, g[0], g[1], g[2]);
        for (int r = 0; r < 3; r++)
            for (int f = 0; f < K; f++) {
                const float h = 1e-2f, keep = rows[r][f];
                rows[r][f] = keep + h;
                double up = bpr_loss(rows[0], rows[1], rows[2], K, reg);
                rows[r][f] = keep - h;
                double down = bpr_loss(rows[0], rows[1], rows[2], K, reg);
                rows[r][f] = keep;
                /* Central difference: exact for the quadratic penalty, O(h^2) for the rest. */
                double num = (up - down) / (2.0 * ((double)(keep + h) - keep));
                if (fabs(num - g[r][f]) > 2e-3 * (1.0 + fabs(num)))
                    fail_msg("trial %d row %d f %d: gradient %.6g, central difference %.6g", trial,
                             r, f, (double)g[r][f], num);
            }
        /* The step is p - lr * gradient, every component from the old values. */
        float p[K], qi[K], qj[K];
        memcpy(p, rows[0], sizeof p), memcpy(qi, rows[1], sizeof qi), memcpy(qj, rows[2], sizeof qj);
        const float lr = 0.1f;
        fl_bpr_step(p, qi, qj, K, reg, lr);
        for (int f = 0; f < K; f++) {
            assert_float_equal(p[f], rows[0][f] - lr * g[0][f], 1e-5);
            assert_float_equal(qi[f], rows[1][f] - lr * g[1][f], 1e-5);
            assert_float_equal(qj[f], rows[2][f] - lr * g[2][f], 1e-5);
        }
    }
}

static fl_dataset *synth(void) {
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_users = 300, o.n_items = 400, o.n_ratings = 12000;
    o.seed = 9;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_synth_generate(&o, &d, &err) != FL_OK) fail_msg("synth: %s", err.msg);
    return d;
}

static fl_model *train_for(const fl_dataset *d, fl_model_kind kind, int threads, uint64_t seed,
                           int epochs) {
    fl_params p;
    fl_params_init(&p, kind, FL_SOLVER_DEFAULT);
    p.n_factors = 8;
    p.epochs = epochs;
    p.n_threads = threads;
    p.seed = seed;
    fl_model *m = NULL;
    fl_error err = {0};
    if (fl_train(d, NULL, &p, NULL, &m, NULL, &err) != FL_OK) fail_msg("train: %s", err.msg);
    return m;
}

static fl_model *train(const fl_dataset *d, fl_model_kind kind, int threads, uint64_t seed) {
    return train_for(d, kind, threads, seed, kind == FL_MODEL_BPR ? 10 : 4);
}

static void same_factors(const fl_model *a, const fl_model *b, int want_same) {
    assert_int_equal(a->n_users, b->n_users);
    int same = 1;
    for (uint32_t u = 0; u < a->n_users && same; u++)
        same = memcmp(a->P + (size_t)u * a->stride, b->P + (size_t)u * b->stride,
                      a->n_factors * sizeof(float)) == 0;
    for (uint32_t i = 0; i < a->n_items && same; i++)
        same = memcmp(a->Q + (size_t)i * a->stride, b->Q + (size_t)i * b->stride,
                      a->n_factors * sizeof(float)) == 0;
    assert_int_equal(same, want_same);
}

static void check_determinism(fl_model_kind kind) {
    fl_dataset *d = synth();
    fl_model *a = train(d, kind, 2, 1), *b = train(d, kind, 2, 1);
    fl_model *c = train(d, kind, 1, 1), *e = train(d, kind, 2, 2);
    same_factors(a, b, 1);
    same_factors(a, c, 1); /* rows (ials) and blocks (bpr) do not depend on the thread */
    same_factors(a, e, 0); /* another seed, another model */
    fl_model_free(a), fl_model_free(b), fl_model_free(c), fl_model_free(e);
    fl_dataset_free(d);
}

static void test_ials_deterministic(void **state) {
    (void)state;
    check_determinism(FL_MODEL_IALS);
}

static void test_bpr_deterministic(void **state) {
    (void)state;
    check_determinism(FL_MODEL_BPR);
}

/* Trained long enough that the items stop moving, an ials user row is the
 * exact row solve against the final items: CG's 3 warm-started steps a
 * half-epoch leave nothing behind that the next epochs do not remove. */
static void test_ials_rows_near_exact(void **state) {
    (void)state;
    fl_dataset *d = synth();
    fl_model *m = train_for(d, FL_MODEL_IALS, 2, 3, 40);
    const int k = (int)m->n_factors;
    float *YtY = calloc((size_t)k * k, sizeof *YtY), work[FL_IALS_WORK(8)];
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double s = 0;
            for (uint32_t i = 0; i < m->n_items; i++)
                s += (double)m->Q[(size_t)i * m->stride + a] * m->Q[(size_t)i * m->stride + b];
            YtY[a * k + b] = (float)s;
        }
    /* The user's items and confidences, from the data (ids map by name). */
    double worst = 0;
    for (uint32_t u = 0; u < 20; u++) {
        uint32_t idx[512];
        float conf[512];
        size_t n = 0;
        const char *uid = fl_idmap_name(m->user_ids, u);
        for (size_t r = 0; r < d->n_ratings && n < 512; r++) {
            if (strcmp(fl_idmap_name(d->user_ids, d->users[r]), uid) != 0) continue;
            const char *iid = fl_idmap_name(d->item_ids, d->items[r]);
            assert_true(fl_idmap_find(m->item_ids, iid, strlen(iid), &idx[n]));
            conf[n++] = 1.0f + m->params.alpha * d->ratings[r];
        }
        float x[8];
        memcpy(x, m->P + (size_t)u * m->stride, sizeof x);
        float exact[8] = {0};
        fl_ials_cg_row(YtY, k, m->Q, m->stride, idx, conf, n, m->params.reg_factors, 4 * k,
                       exact, work);
        double diff = 0, size = 0;
        for (int f = 0; f < k; f++) diff += (x[f] - exact[f]) * (x[f] - exact[f]), size += exact[f] * exact[f];
        if (sqrt(diff) / (sqrt(size) + 1e-6) > worst) worst = sqrt(diff) / (sqrt(size) + 1e-6);
    }
    if (worst > 0.05) fail_msg("a trained user row is %.3g (relative) from its exact solve", worst);
    free(YtY);
    fl_model_free(m);
    fl_dataset_free(d);
}

/* Saved and loaded: same kind, alpha, scores and lists; no rating error. */
static void check_file_round_trip(fl_model_kind kind) {
    fl_dataset *d = synth();
    fl_model *m = train(d, kind, 2, 4), *back = NULL;
    char path[] = "/tmp/fl_test_implicit_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fl_error err = {0};
    assert_int_equal(fl_model_save(m, path, &err), FL_OK);
    assert_int_equal(fl_model_load(path, &back, &err), FL_OK);
    unlink(path);
    fl_model_info info;
    fl_model_get_info(back, &info);
    assert_int_equal(info.kind, kind);
    assert_true(info.params.alpha == m->params.alpha);
    assert_true(info.params.positive_min == m->params.positive_min);
    fl_scored a[10], b[10];
    size_t na, nb;
    const char *user = fl_idmap_name(m->user_ids, 0);
    assert_int_equal(fl_recommend(m, user, 10, a, &na, &err), FL_OK);
    assert_int_equal(fl_recommend(back, user, 10, b, &nb, &err), FL_OK);
    assert_int_equal(na, 10);
    assert_memory_equal(a, b, sizeof a);
    /* The listed score is the model's dot product, unclipped (no rating scale). */
    assert_true(a[0].score == a[0].raw);
    assert_true(a[0].raw == fl_predict_index(m, 0, a[0].index));
    fl_metrics mt;
    assert_int_equal(fl_evaluate(back, d, FL_UNKNOWN_MEAN, &mt, &err), FL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "ranking"));
    fl_model_free(m), fl_model_free(back);
    fl_dataset_free(d);
}

static void test_ials_file(void **state) {
    (void)state;
    check_file_round_trip(FL_MODEL_IALS);
}

static void test_bpr_file(void **state) {
    (void)state;
    check_file_round_trip(FL_MODEL_BPR);
}

/* --positive-min: only ratings >= R are trained on, and seen. */
static void test_positive_min(void **state) {
    (void)state;
    fl_dataset *d = synth();
    size_t n_pos = 0;
    for (size_t r = 0; r < d->n_ratings; r++) n_pos += d->ratings[r] >= 4.0f;
    fl_params p;
    fl_params_init(&p, FL_MODEL_IALS, FL_SOLVER_DEFAULT);
    p.n_factors = 4, p.epochs = 1, p.positive_min = 4.0f;
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_train(d, NULL, &p, NULL, &m, NULL, &err), FL_OK);
    fl_model_info info;
    fl_model_get_info(m, &info);
    assert_int_equal(info.n_train, n_pos);
    fl_model_free(m);
    p.valid_fraction = 0.1;
    assert_int_equal(fl_train(d, NULL, &p, NULL, &m, NULL, &err), FL_ERR_USAGE);
    fl_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cg_matches_direct_solve),
        cmocka_unit_test(test_bpr_gradient_numerically),
        cmocka_unit_test(test_ials_deterministic),
        cmocka_unit_test(test_bpr_deterministic),
        cmocka_unit_test(test_ials_rows_near_exact),
        cmocka_unit_test(test_ials_file),
        cmocka_unit_test(test_bpr_file),
        cmocka_unit_test(test_positive_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
