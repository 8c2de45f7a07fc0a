/* test_als.c — ALS: every compiled Gram kernel (gram.h) against a scalar
 * double-precision reference for factor widths 16-128 and chunk lengths from
 * 1 up; each row ALS leaves behind is the exact minimiser of the objective
 * (regularizer.h) with the other side fixed, for the dot and biased models;
 * and the thread count does not change a bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "cpu_kernels.h"
#include "core/rng.h"
#include "models/model.h"
#include "train/gram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_gram(fl_gram_kernel kernel, const char *name) {
    static const int widths[] = {16, 32, 48, 64, 128};
    static const int lengths[] = {1, 3, 17, 256};
    fl_rng rng;
    fl_rng_seed(&rng, 11);
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
            const int kp = widths[w], nc = lengths[l];
            float *A = malloc(sizeof(float) * kp * kp), *G = malloc(sizeof(float) * kp * nc);
            double *ref = malloc(sizeof(double) * kp * kp);
            for (int x = 0; x < kp * kp; x++) A[x] = (float)fl_rng_normal(&rng), ref[x] = A[x];
            for (int x = 0; x < kp * nc; x++) G[x] = (float)fl_rng_normal(&rng);
            kernel(A, G, kp, nc);
            for (int j = 0; j < kp; j++) {
                for (int i = 0; i <= j; i++) {
                    double want = ref[i + j * kp], scale = fabs(want);
                    for (int c = 0; c < nc; c++) {
                        want += (double)G[i + c * kp] * G[j + c * kp];
                        scale += fabs((double)G[i + c * kp] * G[j + c * kp]);
                    }
                    if (fabs(A[i + j * kp] - want) > 1e-6 * (1.0 + scale))
                        fail_msg("%s kp=%d nc=%d: A[%d,%d] = %.7g, want %.7g", name, kp, nc, i, j,
                                 (double)A[i + j * kp], want);
                }
            }
            free(A), free(G), free(ref);
        }
    }
}

static void test_gram_generic(void **state) {
    (void)state;
    check_gram(fl_gram_add_generic, "generic");
}

/* Run only on a CPU with AVX2 and FMA (cpu_kernels.h). */
static void kernel_gram_avx2(void **state) {
    (void)state;
    check_gram(fl_gram_add_avx2, "avx2+fma");
}

static fl_dataset *make_data(void) {
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_users = 300, o.n_items = 200, o.n_ratings = 12000, o.rank = 4, o.seed = 5;
    fl_dataset *d = NULL;
    fl_error err;
    if (fl_synth_generate(&o, &d, &err) != FL_OK) fail_msg("synth: %s", err.msg);
    return d;
}

static fl_model *train_als(const fl_dataset *d, fl_model_kind kind, int k, int threads, int epochs) {
    fl_params p;
    fl_params_init(&p, kind, FL_SOLVER_ALS);
    p.n_factors = k, p.n_threads = threads, p.epochs = epochs;
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    if (fl_train(d, NULL, &p, NULL, &m, &res, &err) != FL_OK) fail_msg("fl_train: %s", err.msg);
    return m;
}

/* After an epoch the items were solved last: for every item, the gradient of
 * the objective in [Q[i]; bi[i]] with the users fixed must vanish,
 *   sum_u a_u (r_ui - offset - bu[u] - a_u . x_i) = D_i x_i,  a_u = [P[u]; 1],
 * D_i = diag(reg_f sqrt(n_i), ..., reg_b), up to float rounding (measured
 * against the magnitude of the terms summed). */
static void check_items_optimal(const fl_dataset *d, fl_model_kind kind, int k) {
    fl_model *m = train_als(d, kind, k, 2, 2);
    const int biased = m->bi != NULL, k1 = k + biased;
    const float rf = m->params.reg_factors, rb = m->params.reg_bias;
    double *g = calloc((size_t)m->n_items * k1, sizeof *g);
    double *scale = calloc((size_t)m->n_items * k1, sizeof *scale);
    uint32_t *n = calloc(m->n_items, sizeof *n);
    for (size_t r = 0; r < d->n_ratings; r++) {
        const uint32_t u = d->users[r], i = d->items[r];
        const float *pu = m->P + (size_t)u * m->stride, *qi = m->Q + (size_t)i * m->stride;
        double pred = m->offset;
        for (int f = 0; f < k; f++) pred += (double)pu[f] * qi[f];
        if (biased) pred += m->bu[u] + m->bi[i];
        const double e = d->ratings[r] - pred;
        /* What float rounding scales with: each term's magnitude. */
        const double mag = fabs(d->ratings[r]) + fabs(pred);
        for (int f = 0; f < k; f++) {
            g[(size_t)i * k1 + f] += pu[f] * e;
            scale[(size_t)i * k1 + f] += fabs(pu[f]) * mag;
        }
        if (biased) g[(size_t)i * k1 + k] += e, scale[(size_t)i * k1 + k] += mag;
        n[i]++;
    }
    double worst = 0.0;
    for (uint32_t i = 0; i < m->n_items; i++) {
        const float *qi = m->Q + (size_t)i * m->stride;
        for (int f = 0; f < k; f++) {
            const double dx = rf * sqrt((double)n[i]) * qi[f];
            double r = fabs(g[(size_t)i * k1 + f] - dx) / (1e-3 + scale[(size_t)i * k1 + f] + fabs(dx));
            worst = r > worst ? r : worst;
        }
        if (biased) {
            const double dx = rb * m->bi[i];
            double r = fabs(g[(size_t)i * k1 + k] - dx) / (1e-3 + scale[(size_t)i * k1 + k] + fabs(dx));
            worst = r > worst ? r : worst;
        }
    }
    /* Correct code stays under 5e-7 here; a count off by 0.01 in one entry
     * of the system gives 3e-5. */
    if (!(worst < 5e-6))
        fail_msg("%s k=%d: an item's gradient is %.3g of its terms' scale, not ~0",
                 fl_model_kind_name(kind), k, worst);
    free(g), free(scale), free(n);
    fl_model_free(m);
}

static void test_rows_are_minimisers(void **state) {
    (void)state;
    fl_dataset *d = make_data();
    check_items_optimal(d, FL_MODEL_BIASED, 8);
    check_items_optimal(d, FL_MODEL_BIASED, 32);
    check_items_optimal(d, FL_MODEL_BIASED, 40);
    check_items_optimal(d, FL_MODEL_DOT, 16);
    check_items_optimal(d, FL_MODEL_DOT, 33);
    fl_dataset_free(d);
}

static void test_threads_do_not_matter(void **state) {
    (void)state;
    fl_dataset *d = make_data();
    fl_model *a = train_als(d, FL_MODEL_BIASED, 24, 1, 3), *b = train_als(d, FL_MODEL_BIASED, 24, 3, 3);
    size_t bytes = fl_model_param_floats(&a->params, a->n_users, a->n_items, a->stride) * sizeof(float);
    assert_memory_equal(a->block, b->block, bytes);
    fl_model_free(a), fl_model_free(b);
    fl_dataset_free(d);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gram_generic),
        cmocka_unit_test(kernel_gram_avx2),
        cmocka_unit_test(test_rows_are_minimisers),
        cmocka_unit_test(test_threads_do_not_matter),
    };
    FL_TEST_MAIN(tests, argc, argv);
}
