/* test_recommend.c — top-n lists through the public API against a brute
 * force (every item scored by fl_predict, fully sorted): fl_recommend (rated
 * items left out), fl_recommend_including_seen, and fl_recommend_folded,
 * which for a trained user's own factors and bias must give fl_recommend's
 * list bit for bit, and for a folded-in user fl_predict_folded's scores.
 * The catalogue spans several of the scorer's blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    fl_dataset *d;
    fl_model *m;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 200, so.n_items = 700, so.n_ratings = 12000, so.seed = 3;
    fl_error err = {0};
    if (fl_synth_generate(&so, &f->d, &err) != FL_OK) return -1;
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_DEFAULT);
    p.n_factors = 12, p.epochs = 3, p.n_threads = 1;
    fl_train_result res;
    if (fl_train(f->d, NULL, &p, NULL, &f->m, &res, &err) != FL_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_model_free(f->m);
    fl_dataset_free(f->d);
    free(f);
    return 0;
}

typedef struct entry {
    uint32_t i;
    float raw;
    const char *id;
} entry;

static int best_first(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->raw != y->raw) return x->raw > y->raw ? -1 : 1;
    return fl_id_compare(x->id, y->id);
}

/* The list by brute force: every item scored (fl_predict, or
 * fl_predict_folded for a factor row x) and sorted. These are clipped
 * ratings, so items that clip to an end of the scale may come in another
 * order than the library's (by the unclipped score): lists are compared by
 * their scores position by position, which that cannot change. */
static size_t brute(const fl_model *m, uint32_t u, const float *x, float b, const int *skip,
                    entry *out) {
    fl_model_info info;
    fl_model_get_info(m, &info);
    const fl_idmap *ids = fl_model_item_ids(m);
    size_t n = 0;
    for (uint32_t i = 0; i < info.n_items; i++) {
        if (skip && skip[i]) continue;
        float y;
        fl_error err;
        if (x) y = fl_predict_folded(m, x, b, i);
        else
            assert_int_equal(fl_predict(m, fl_idmap_name(fl_model_user_ids(m), u),
                                        fl_idmap_name(ids, i), FL_UNKNOWN_ERROR, &y, &err), FL_OK);
        out[n].raw = y;
        out[n].i = i, out[n].id = fl_idmap_name(ids, i);
        n++;
    }
    qsort(out, n, sizeof *out, best_first);
    return n;
}

static void seen_of(const fl_dataset *d, const fl_model *m, uint32_t u, int *skip,
                    const char **list, size_t *n_list) {
    fl_model_info info;
    fl_model_get_info(m, &info);
    memset(skip, 0, info.n_items * sizeof *skip);
    /* By name: the model numbers its ids in its own order. */
    const char *user = fl_idmap_name(fl_model_user_ids(m), u);
    for (size_t k = 0; k < d->n_ratings; k++) {
        if (strcmp(fl_idmap_name(d->user_ids, d->users[k]), user) != 0) continue;
        const char *item = fl_idmap_name(d->item_ids, d->items[k]);
        uint32_t i;
        assert_true(fl_idmap_find(fl_model_item_ids(m), item, strlen(item), &i));
        skip[i] = 1;
    }
    *n_list = 0;
    for (uint32_t i = 0; i < info.n_items; i++)
        if (skip[i]) list[(*n_list)++] = fl_idmap_name(fl_model_item_ids(m), i);
}

/* Same length, the same score at every position, best first by raw score. */
static void assert_same_items(const fl_scored *got, size_t n_got, const entry *want, size_t n_want,
                              size_t n) {
    assert_int_equal(n_got, n < n_want ? n : n_want);
    for (size_t k = 0; k < n_got; k++) {
        assert_true(got[k].score == want[k].raw);
        if (k > 0) assert_true(got[k - 1].raw >= got[k].raw);
    }
}

static void test_recommend_against_brute_force(void **state) {
    fixture *f = *state;
    fl_model_info info;
    fl_model_get_info(f->m, &info);
    entry *want = malloc(info.n_items * sizeof *want);
    fl_scored *got = malloc(info.n_items * sizeof *got);
    int *skip = malloc(info.n_items * sizeof *skip);
    const char **seen = malloc(info.n_items * sizeof *seen);
    const size_t ns[] = {1, 10, 300, info.n_items};
    for (uint32_t u = 0; u < 12; u++) {
        const char *uid = fl_idmap_name(fl_model_user_ids(f->m), u);
        size_t n_seen;
        seen_of(f->d, f->m, u, skip, seen, &n_seen);
        assert_true(n_seen > 0);
        size_t n_want = brute(f->m, u, NULL, 0, skip, want), n_all;
        entry *all = malloc(info.n_items * sizeof *all);
        n_all = brute(f->m, u, NULL, 0, NULL, all);
        assert_int_equal(n_all, info.n_items);
        for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
            size_t got_n;
            fl_error err;
            assert_int_equal(fl_recommend(f->m, uid, ns[t], got, &got_n, &err), FL_OK);
            assert_same_items(got, got_n, want, n_want, ns[t]);
            for (size_t k = 0; k < got_n; k++) assert_false(skip[got[k].index]);

            assert_int_equal(fl_recommend_including_seen(f->m, uid, ns[t], got, &got_n, &err), FL_OK);
            assert_same_items(got, got_n, all, n_all, ns[t]);

            /* The trained user's own row as a "folded" user: the same list, bit for bit. */
            fl_scored *again = malloc(info.n_items * sizeof *again);
            size_t again_n, ref_n;
            assert_int_equal(fl_recommend(f->m, uid, ns[t], got, &ref_n, &err), FL_OK);
            assert_int_equal(fl_recommend_folded(f->m, fl_model_user_factors(f->m, u),
                                                 fl_model_user_bias(f->m, u), seen, n_seen, ns[t],
                                                 again, &again_n, &err),
                             FL_OK);
            assert_int_equal(again_n, ref_n);
            assert_memory_equal(again, got, ref_n * sizeof *got);
            free(again);
        }
        free(all);
    }
    free(want), free(got), free(skip), free((void *)seen);
}

static void test_folded_user(void **state) {
    fixture *f = *state;
    fl_model_info info;
    fl_model_get_info(f->m, &info);
    const char *ids[] = {"i1", "i2", "i3", "i5", "i8"};
    const float r[] = {5, 4, 1, 2, 5};
    float x[12], b;
    size_t used;
    fl_error err;
    assert_int_equal(fl_fold_in(f->m, ids, r, 5, FL_UNKNOWN_ERROR, x, &b, &used, &err), FL_OK);
    uint32_t ex[5];
    for (int k = 0; k < 5; k++)
        assert_true(fl_idmap_find(fl_model_item_ids(f->m), ids[k], strlen(ids[k]), &ex[k]));
    fl_scored top[20];
    size_t n;
    assert_int_equal(fl_recommend_folded(f->m, x, b, ids, 5, 20, top, &n, &err), FL_OK);
    assert_int_equal(n, 20);
    int *skip = calloc(info.n_items, sizeof *skip);
    for (int k = 0; k < 5; k++) skip[ex[k]] = 1;
    entry *want = malloc(info.n_items * sizeof *want);
    brute(f->m, 0, x, b, skip, want);
    for (size_t k = 0; k < n; k++) {
        assert_false(skip[top[k].index]);
        assert_true(top[k].score == fl_predict_folded(f->m, x, b, top[k].index));
        assert_true(top[k].score == want[k].raw); /* the same order as scoring every item */
    }
    free(skip), free(want);

    /* Ids the model does not know are ignored, and a repeat changes nothing. */
    const char *more[] = {"i8", "no such item", "i1", "i2", "i3", "i5", "i8"};
    fl_scored again[20];
    size_t n_again;
    assert_int_equal(fl_recommend_folded(f->m, x, b, more, 7, 20, again, &n_again, &err), FL_OK);
    assert_int_equal(n_again, n);
    assert_memory_equal(again, top, n * sizeof *top);
    assert_int_equal(fl_recommend_folded(f->m, x, b, NULL, 0, 0, top, &n, &err), FL_OK);
    assert_int_equal(n, 0);
}

static void test_folded_refuses_nn(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_init(&p, FL_MODEL_NN, FL_SOLVER_DEFAULT);
    p.n_factors = 4, p.epochs = 1, p.n_threads = 1, p.n_layers = 1, p.layers[0] = 4;
    fl_model *nn = NULL;
    fl_train_result res;
    fl_error err;
    assert_int_equal(fl_train(f->d, NULL, &p, NULL, &nn, &res, &err), FL_OK);
    float x[4] = {0};
    fl_scored top[3];
    size_t n;
    assert_int_equal(fl_recommend_folded(nn, x, 0, NULL, 0, 3, top, &n, &err), FL_ERR_USAGE);
    /* The nn still ranks trained users, rated items included or not. */
    const char *uid = fl_idmap_name(fl_model_user_ids(nn), 0);
    assert_int_equal(fl_recommend_including_seen(nn, uid, 3, top, &n, &err), FL_OK);
    assert_int_equal(n, 3);
    fl_model_free(nn);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommend_against_brute_force),
        cmocka_unit_test(test_folded_user),
        cmocka_unit_test(test_folded_refuses_nn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
