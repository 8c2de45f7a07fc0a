/* test_reference.c — the C models and solvers against PyTorch reference
 * outputs (the JSON files in tests/reference/, written by make_fixtures.py): predictions,
 * gradients of J, the nn forward/backward pass, one SGD pass and a few Adam
 * steps, each on a tiny problem with known float32 parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factorlens.h"
#include "models/mf.h"
#include "models/model.h"
#include "models/nn.h"
#include "models/regularizer.h"
#include "train/sgd_kernel.h"
#include "train/trainer.h"

/* float32 against float32 computed in another order (and BLAS vs torch). */
#ifndef TOL_ABS
#define TOL_ABS 1e-5
#endif
#ifndef TOL_REL
#define TOL_REL 1e-4
#endif

/* ---------------------------------------------------------------- fixtures */

static json_t *load_fixture(const char *name) {
    const char *dir = getenv("FL_TEST_DIR");
    if (!dir) fail_msg("FL_TEST_DIR is not set: run through ctest or set it to the tests/ dir");
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/%s", dir, name);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) fail_msg("%s: %s (line %d); regenerate with tests/reference/make_fixtures.py", path,
                     jerr.text, jerr.line);
    return j;
}

static json_t *member(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!v) fail_msg("fixture has no \"%s\"", key);
    return v;
}

static double num(const json_t *obj, const char *key) {
    json_t *v = member(obj, key);
    if (!json_is_number(v)) fail_msg("fixture field \"%s\" is not a number", key);
    return json_number_value(v);
}

/* A numeric array of exactly n entries, as floats. */
static void floats(const json_t *obj, const char *key, float *out, size_t n) {
    json_t *a = member(obj, key);
    if (!json_is_array(a) || json_array_size(a) != n)
        fail_msg("fixture array \"%s\" has %zu entries, expected %zu", key, json_array_size(a), n);
    for (size_t k = 0; k < n; k++) out[k] = (float)json_number_value(json_array_get(a, k));
}

static fl_model_kind kind_of(const json_t *c) {
    fl_model_kind k;
    assert_true(fl_model_kind_parse(json_string_value(member(c, "kind")), &k));
    return k;
}

/* Compares got[n] with the fixture array `key`; reports the first few misses. */
static void expect_close(const char *what, const json_t *obj, const char *key, const float *got,
                         size_t n) {
    json_t *a = member(obj, key);
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), n);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        double want = json_number_value(json_array_get(a, k));
        double diff = fabs((double)got[k] - want);
        if (!(diff <= TOL_ABS + TOL_REL * fabs(want))) {
            if (bad < 5)
                print_error("%s: %s[%zu] = %.9g, reference %.9g (diff %.3g)\n", what, key, k,
                            (double)got[k], want, diff);
            bad++;
        }
    }
    if (bad) fail_msg("%s: %d of %zu values of %s differ from the reference", what, bad, n, key);
}

static void expect_close1(const char *what, const json_t *obj, const char *key, float got) {
    double want = num(obj, key);
    if (!(fabs((double)got - want) <= TOL_ABS + TOL_REL * fabs(want)))
        fail_msg("%s: %s = %.9g, reference %.9g", what, key, (double)got, want);
}

/* The shared problem: ratings and initial parameters. */
typedef struct problem {
    json_t *root;
    uint32_t n_users, n_items;
    int k;
    int n_layers;
    int layers[FL_MAX_LAYERS];
    fl_dataset *ds;
} problem;

/* Ids "0".."n-1" interned in order, so every index is its own id and the
 * fixture's indices can be used directly. */
static fl_dataset *build_dataset(const json_t *root, uint32_t n_users, uint32_t n_items) {
    json_t *us = member(root, "users"), *is = member(root, "items");
    size_t n = json_array_size(us);
    assert_int_equal(json_array_size(is), n);
    fl_dataset *d = fl_dataset_new(n, 0);
    assert_non_null(d);
    char id[16];
    uint32_t idx;
    for (uint32_t u = 0; u < n_users; u++) {
        int len = snprintf(id, sizeof id, "%u", u);
        assert_int_equal(fl_idmap_intern(d->user_ids, id, (size_t)len, &idx), FL_OK);
        assert_int_equal(idx, u);
    }
    for (uint32_t i = 0; i < n_items; i++) {
        int len = snprintf(id, sizeof id, "%u", i);
        assert_int_equal(fl_idmap_intern(d->item_ids, id, (size_t)len, &idx), FL_OK);
        assert_int_equal(idx, i);
    }
    floats(root, "ratings", d->ratings, n);
    for (size_t k = 0; k < n; k++) {
        d->users[k] = (uint32_t)json_integer_value(json_array_get(us, k));
        d->items[k] = (uint32_t)json_integer_value(json_array_get(is, k));
        assert_true(d->users[k] < n_users && d->items[k] < n_items);
    }
    d->n_ratings = n;
    snprintf(d->source, sizeof d->source, "reference/problem.json");
    return d;
}

static int setup(void **state) {
    problem *pb = calloc(1, sizeof *pb);
    assert_non_null(pb);
    *state = pb; /* before anything can fail, so teardown frees it */
    pb->root = load_fixture("problem.json");
    pb->n_users = (uint32_t)num(pb->root, "n_users");
    pb->n_items = (uint32_t)num(pb->root, "n_items");
    pb->k = (int)num(pb->root, "n_factors");
    json_t *layers = member(pb->root, "layers");
    pb->n_layers = (int)json_array_size(layers);
    assert_true(pb->n_layers <= FL_MAX_LAYERS);
    for (int l = 0; l < pb->n_layers; l++)
        pb->layers[l] = (int)json_integer_value(json_array_get(layers, (size_t)l));
    pb->ds = build_dataset(pb->root, pb->n_users, pb->n_items);
    return 0;
}

static int teardown(void **state) {
    problem *pb = *state;
    if (!pb) return 0;
    fl_dataset_free(pb->ds);
    json_decref(pb->root);
    free(pb);
    return 0;
}

/* Rows of `rows` x k floats, stride apart in the model, packed. */
static void pack(const float *src, uint32_t rows, int k, uint32_t stride, float *dst) {
    for (uint32_t r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * k, src + (size_t)r * stride, (size_t)k * sizeof *dst);
}

static void unpack(const float *src, uint32_t rows, int k, uint32_t stride, float *dst) {
    for (uint32_t r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * stride, src + (size_t)r * k, (size_t)k * sizeof *dst);
}

/* A model of the case's kind holding the problem's initial parameters, with
 * the case's offset, y-range and regularisation, and no clipping. */
static fl_model *make_model(const problem *pb, const json_t *c, fl_params *p) {
    fl_model_kind kind = kind_of(c);
    fl_params_default(p, kind);
    p->n_factors = pb->k;
    p->y_lo = (float)num(c, "y_lo");
    p->y_hi = (float)num(c, "y_hi");
    if (json_object_get(c, "reg_factors")) p->reg_factors = (float)num(c, "reg_factors");
    if (json_object_get(c, "reg_bias")) p->reg_bias = (float)num(c, "reg_bias");
    p->n_threads = 1;
    if (kind == FL_MODEL_NN) {
        p->n_layers = pb->n_layers;
        memcpy(p->layers, pb->layers, sizeof p->layers);
        for (int l = 0; l <= FL_MAX_LAYERS; l++) p->dropout[l] = 0.0f;
    }
    fl_model *m = NULL;
    fl_error err;
    if (fl_model_alloc(p, pb->ds->user_ids, pb->ds->item_ids, &m, &err) != FL_OK)
        fail_msg("fl_model_alloc: %s", err.msg);
    const size_t np = (size_t)pb->n_users * pb->k, nq = (size_t)pb->n_items * pb->k;
    float *buf = malloc((np > nq ? np : nq) * sizeof *buf);
    assert_non_null(buf);
    floats(pb->root, "P", buf, np);
    unpack(buf, pb->n_users, pb->k, m->stride, m->P);
    floats(pb->root, "Q", buf, nq);
    unpack(buf, pb->n_items, pb->k, m->stride, m->Q);
    free(buf);
    if (m->bu) { /* biased and nn */
        floats(pb->root, "bu", m->bu, pb->n_users);
        floats(pb->root, "bi", m->bi, pb->n_items);
    }
    if (kind == FL_MODEL_NN) {
        json_t *dense = member(pb->root, "dense");
        assert_int_equal(json_array_size(dense), (size_t)m->n_dense);
        for (int l = 0; l < m->n_dense; l++) {
            const json_t *d = json_array_get(dense, (size_t)l);
            floats(d, "W", m->dense[l].w, (size_t)m->dense[l].n_in * m->dense[l].n_out);
            floats(d, "b", m->dense[l].b, (size_t)m->dense[l].n_out);
        }
    }
    if (fl_model_set_seen(m, pb->ds, &err) != FL_OK) fail_msg("fl_model_set_seen: %s", err.msg);
    m->offset = (float)num(c, "offset");
    m->global_mean = fl_dataset_mean(pb->ds);
    m->rating_lo = m->rating_hi = 0.0f;
    return m;
}

static const char *name_of(const json_t *c) { return json_string_value(member(c, "name")); }

/* ---------------------------------------------------------------- tests */

static void test_predictions(void **state) {
    problem *pb = *state;
    json_t *fx = load_fixture("predict.json");
    json_t *cases = member(fx, "cases");
    assert_true(json_array_size(cases) >= 5);
    size_t n = (size_t)pb->n_users * pb->n_items;
    float *pred = malloc(n * sizeof *pred);
    assert_non_null(pred);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        fl_params p;
        fl_model *m = make_model(pb, cs, &p);
        m->rating_lo = (float)num(cs, "rating_lo");
        m->rating_hi = (float)num(cs, "rating_hi");
        for (uint32_t u = 0; u < pb->n_users; u++)
            for (uint32_t i = 0; i < pb->n_items; i++)
                pred[(size_t)u * pb->n_items + i] = fl_predict_index(m, u, i);
        expect_close(name_of(cs), cs, "pred", pred, n);
        fl_model_free(m);
    }
    free(pred);
    json_decref(fx);
}

static void test_mf_gradients(void **state) {
    problem *pb = *state;
    json_t *fx = load_fixture("mf_grad.json");
    json_t *cases = member(fx, "cases");
    assert_int_equal(json_array_size(cases), 3);
    float gP[64], gQ[64], gbu, gbi;
    assert_true(pb->k <= 64);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        fl_params p;
        fl_model *m = make_model(pb, cs, &p);
        json_t *grads = member(cs, "grads");
        assert_true(json_array_size(grads) > 0);
        for (size_t g = 0; g < json_array_size(grads); g++) {
            const json_t *e = json_array_get(grads, g);
            size_t r = (size_t)num(e, "rating");
            assert_true(r < pb->ds->n_ratings);
            char what[96];
            snprintf(what, sizeof what, "%s rating %zu", name_of(cs), r);
            float J = fl_mf_grad(m, pb->ds->users[r], pb->ds->items[r], pb->ds->ratings[r], gP,
                                 gQ, &gbu, &gbi);
            expect_close1(what, e, "J", J);
            expect_close(what, e, "gP", gP, (size_t)pb->k);
            expect_close(what, e, "gQ", gQ, (size_t)pb->k);
            expect_close1(what, e, "gbu", gbu);
            expect_close1(what, e, "gbi", gbi);
        }
        fl_model_free(m);
    }
    json_decref(fx);
}

static void test_nn_forward_backward(void **state) {
    problem *pb = *state;
    json_t *fx = load_fixture("nn_grad.json");
    json_t *cs = json_pack("{s:s, s:s, s:f, s:f, s:f}", "name", "nn", "kind", "nn", "y_lo", 0.0,
                           "y_hi", 0.0, "offset", num(fx, "offset"));
    assert_non_null(cs);
    fl_params p;
    fl_model *m = make_model(pb, cs, &p);
    json_t *us = member(fx, "users"), *is = member(fx, "items");
    const int B = (int)json_array_size(us);
    assert_true(B > 1 && (size_t)B == json_array_size(is));
    uint32_t *bu = malloc((size_t)B * sizeof *bu), *bi = malloc((size_t)B * sizeof *bi);
    float *z = malloc((size_t)B * sizeof *z), *dz = malloc((size_t)B * sizeof *dz);
    assert_true(bu && bi && z && dz);
    for (int b = 0; b < B; b++) {
        bu[b] = (uint32_t)json_integer_value(json_array_get(us, (size_t)b));
        bi[b] = (uint32_t)json_integer_value(json_array_get(is, (size_t)b));
    }
    floats(fx, "dz", dz, (size_t)B);
    fl_nn_work w;
    fl_error err;
    assert_int_equal(fl_nn_work_init(&w, m, B, &err), FL_OK);
    fl_nn_forward(m, &w, bu, bi, B, NULL, z);
    expect_close("nn forward", fx, "z", z, (size_t)B);
    /* The single-pair path must agree with the batched one. */
    for (int b = 0; b < B; b++) z[b] = fl_nn_score(m, bu[b], bi[b]);
    expect_close("nn score", fx, "z", z, (size_t)B);
    fl_nn_backward(m, &w, dz, B);
    size_t ng = 0;
    for (int l = 0; l < m->n_dense; l++)
        ng += (size_t)m->dense[l].n_in * m->dense[l].n_out + (size_t)m->dense[l].n_out;
    expect_close("nn backward", fx, "grad", w.grad, ng);
    expect_close("nn backward", fx, "gx0", w.gx0, (size_t)B * 2 * pb->k);
    fl_nn_work_free(&w);
    free(bu), free(bi), free(z), free(dz);
    fl_model_free(m);
    json_decref(cs);
    json_decref(fx);
}

/* At least one parameter must have moved well beyond the tolerance, or a
 * solver that does nothing would pass. */
static void expect_moved(const char *what, const json_t *root, const json_t *after,
                         const char *key, size_t n) {
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_true(a && b);
    floats(root, key, a, n);
    floats(after, key, b, n);
    double most = 0.0;
    for (size_t k = 0; k < n; k++) most = fmax(most, fabs((double)a[k] - b[k]));
    free(a), free(b);
    if (most < 100 * TOL_ABS) fail_msg("%s: reference %s barely moves (%g)", what, key, most);
}

static void expect_factors(const char *what, const problem *pb, const fl_model *m,
                           const json_t *cs) {
    const size_t np = (size_t)pb->n_users * pb->k, nq = (size_t)pb->n_items * pb->k;
    float *buf = malloc((np > nq ? np : nq) * sizeof *buf);
    assert_non_null(buf);
    pack(m->P, pb->n_users, pb->k, m->stride, buf);
    expect_close(what, cs, "P", buf, np);
    pack(m->Q, pb->n_items, pb->k, m->stride, buf);
    expect_close(what, cs, "Q", buf, nq);
    free(buf);
    expect_moved(what, pb->root, cs, "P", np);
    expect_moved(what, pb->root, cs, "Q", nq);
    if (m->bu) {
        expect_close(what, cs, "bu", m->bu, pb->n_users);
        expect_close(what, cs, "bi", m->bi, pb->n_items);
        expect_moved(what, pb->root, cs, "bu", pb->n_users);
        expect_moved(what, pb->root, cs, "bi", pb->n_items);
    }
}

static void test_sgd_pass(void **state) {
    problem *pb = *state;
    json_t *fx = load_fixture("sgd.json");
    json_t *cases = member(fx, "cases");
    assert_int_equal(json_array_size(cases), 2);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        fl_params p;
        fl_model *m = make_model(pb, cs, &p);
        fl_reg_shares reg;
        fl_error err;
        assert_int_equal(fl_reg_shares_build(m, &reg, &err), FL_OK);
        float *gu = malloc(pb->n_users * sizeof *gu), *gbu = malloc(pb->n_users * sizeof *gbu);
        float *gi = malloc(pb->n_items * sizeof *gi), *gbi = malloc(pb->n_items * sizeof *gbi);
        assert_true(gu && gbu && gi && gbi);
        for (uint32_t u = 0; u < pb->n_users; u++) gu[u] = gbu[u] = 1.0f;
        for (uint32_t i = 0; i < pb->n_items; i++) gi[i] = gbi[i] = 1.0f;
        fl_sgd_rows rows = {gu, gi, gbu, gbi, &reg};
        const float lr = (float)num(cs, "lr");
        for (size_t r = 0; r < pb->ds->n_ratings; r++)
            fl_sgd_step(m, &m->params, &rows, pb->ds->users[r], pb->ds->items[r],
                        pb->ds->ratings[r], lr);
        char what[64];
        snprintf(what, sizeof what, "sgd %s", name_of(cs));
        expect_factors(what, pb, m, cs);
        free(gu), free(gbu), free(gi), free(gbi);
        fl_reg_shares_free(&reg);
        fl_model_free(m);
    }
    json_decref(fx);
}

static void test_adam_steps(void **state) {
    problem *pb = *state;
    json_t *fx = load_fixture("adam.json");
    json_t *cases = member(fx, "cases");
    assert_true(json_array_size(cases) >= 2);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        fl_params p;
        fl_model *m = make_model(pb, cs, &p);
        p.solver = FL_SOLVER_ADAM;
        p.lr = (float)num(cs, "lr");
        p.epochs = (int)num(cs, "epochs");
        p.batch_size = (int)num(cs, "batch_size");
        /* One full batch per epoch: the shuffle cannot change the result. */
        assert_true((size_t)p.batch_size >= pb->ds->n_ratings);
        m->params = p;
        fl_error err;
        fl_train_result res;
        if (fl_train_continue(m, pb->ds, NULL, &p, NULL, &res, &err) != FL_OK)
            fail_msg("fl_train_continue: %s", err.msg);
        assert_int_equal(res.epochs_run, p.epochs);
        char what[64];
        snprintf(what, sizeof what, "adam %s", name_of(cs));
        expect_factors(what, pb, m, cs);
        if (m->kind == FL_MODEL_NN) {
            json_t *dense = member(cs, "dense");
            assert_int_equal(json_array_size(dense), (size_t)m->n_dense);
            for (int l = 0; l < m->n_dense; l++) {
                const json_t *d = json_array_get(dense, (size_t)l);
                snprintf(what, sizeof what, "adam %s layer %d", name_of(cs), l);
                expect_close(what, d, "W", m->dense[l].w,
                             (size_t)m->dense[l].n_in * m->dense[l].n_out);
                expect_close(what, d, "b", m->dense[l].b, (size_t)m->dense[l].n_out);
            }
        }
        fl_model_free(m);
    }
    json_decref(fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictions),
        cmocka_unit_test(test_mf_gradients),
        cmocka_unit_test(test_nn_forward_backward),
        cmocka_unit_test(test_sgd_pass),
        cmocka_unit_test(test_adam_steps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
