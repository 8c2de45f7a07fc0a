/* test_ranking.c — the order of top-n lists (fl_recommend, fl_similar): by
 * the model's unclipped score, so items whose predictions all clip to the
 * top of the scale keep the model's preference among them, and exact ties
 * by raw item id, never by the order items were first seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "models/mf.h"
#include "models/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Items in a first-seen order unlike both their id order and their scores:
 * internal index k is the k-th id of this list. u1 rated "x" only. */
static const char *const ITEM_IDS[] = {"x", "30", "4", "200", "10", "abc", "9", "7", "55", "100"};
#define N_ITEMS (sizeof ITEM_IDS / sizeof *ITEM_IDS)
/* u1's score z of each item (x: rated, never listed). On a 1..5 scale six
 * of them clip to 5; "10" and "9" tie exactly, and so do "abc" and "100". */
static const float Z[N_ITEMS] = {9.0f, 5.25f, 7.5f, 4.25f, 6.0f, 5.5f, 6.0f, 5.125f, 3.0f, 5.5f};
/* The order the model prefers: by z, exact ties by id ("9" before "10":
 * numbers by value; "100" before "abc": numbers before other ids). */
static const char *const WANT[] = {"4", "9", "10", "100", "abc", "30", "7", "200", "55"};
#define N_WANT (sizeof WANT / sizeof *WANT)

static fl_dataset *make_dataset(void) {
    char text[512];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "u1\tx\t5\n");
    for (size_t k = 1; k < N_ITEMS; k++) /* u2 rates everything, so every item exists */
        n += (size_t)snprintf(text + n, sizeof text - n, "u2\t%s\t%d\n", ITEM_IDS[k],
                              1 + (int)k % 5);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.header = 0;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_parse("mem", text, n, &o, &d, &err), FL_OK);
    for (size_t k = 0; k < N_ITEMS; k++) {
        uint32_t i;
        assert_true(fl_idmap_find(d->item_ids, ITEM_IDS[k], strlen(ITEM_IDS[k]), &i));
        assert_int_equal(i, k);
    }
    return d;
}

/* A biased model with one factor whose scores for u1 are exactly Z: the
 * item bias carries the score, the factors are zero. With squash, the
 * sigmoid maps z into (0, 6), where the clip to 1..5 applies once more. */
static fl_model *make_model(const fl_dataset *d, int squash) {
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.n_factors = 1;
    if (squash) p.y_lo = 0.0f, p.y_hi = 6.0f;
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_model_alloc(&p, d->user_ids, d->item_ids, &m, &err), FL_OK);
    memset(m->P, 0, (size_t)m->n_users * m->stride * sizeof *m->P);
    memset(m->Q, 0, (size_t)m->n_items * m->stride * sizeof *m->Q);
    memset(m->bu, 0, m->n_users * sizeof *m->bu);
    for (size_t k = 0; k < N_ITEMS; k++) m->bi[k] = squash ? Z[k] - 3.0f : Z[k];
    m->offset = 0.0f;
    m->global_mean = 3.0f;
    m->rating_lo = 1.0f;
    m->rating_hi = 5.0f;
    assert_int_equal(fl_model_set_seen(m, d, &err), FL_OK);
    return m;
}

static const char *id_of(const fl_model *m, const fl_scored *s) {
    return fl_idmap_name(fl_model_item_ids(m), s->index);
}

static void check_recommend(int squash) {
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(d, squash);
    fl_error err = {0};
    uint32_t u1;
    assert_true(fl_idmap_find(fl_model_user_ids(m), "u1", 2, &u1));
    /* Every cut of the list is a prefix of the whole: the heap's tie-break
     * at its boundary is the same as the final order's. */
    for (size_t cap = 1; cap <= N_WANT + 1; cap++) {
        fl_scored top[N_ITEMS];
        size_t n = 0;
        assert_int_equal(fl_recommend(m, "u1", cap, top, &n, &err), FL_OK);
        assert_int_equal(n, cap < N_WANT ? cap : N_WANT);
        for (size_t k = 0; k < n; k++) {
            if (strcmp(id_of(m, &top[k]), WANT[k]) != 0)
                fail_msg("squash %d, top %zu: place %zu holds item '%s', expected '%s'", squash,
                         cap, k + 1, id_of(m, &top[k]), WANT[k]);
            /* Sorted by the unclipped score, best first... */
            float z = fl_mf_score(m, u1, top[k].index);
            if (k) assert_true(fl_mf_score(m, u1, top[k - 1].index) >= z);
            assert_true(top[k].raw == fl_squash(&m->params, z));
            if (k) assert_true(top[k - 1].raw >= top[k].raw);
            /* ...while the displayed score is the predicted rating, clipped. */
            assert_true(top[k].score == fl_predict_index(m, u1, top[k].index));
            assert_true(top[k].score <= 5.0f);
            if (top[k].raw > 5.0f) assert_true(top[k].score == 5.0f);
        }
    }
    fl_model_free(m);
    fl_dataset_free(d);
}

static void test_recommend_ranks_by_unclipped_score(void **state) {
    (void)state;
    check_recommend(0);
}

static void test_recommend_ranks_squashed_models_alike(void **state) {
    (void)state;
    check_recommend(1);
}

static void test_id_compare(void **state) {
    (void)state;
    /* Ascending; every pair is compared both ways. */
    static const char *const ids[] = {"0",
                                      "00",
                                      "007",
                                      "07",
                                      "7",
                                      "9",
                                      "0010",
                                      "10",
                                      "100",
                                      "18446744073709551616",
                                      "123456789012345678901234567890",
                                      "-1",
                                      "1.5",
                                      "10a",
                                      "9a",
                                      "A",
                                      "a",
                                      "abc",
                                      "b"};
    const size_t n = sizeof ids / sizeof *ids;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            int c = fl_id_compare(ids[a], ids[b]);
            if ((a < b && c >= 0) || (a == b && c != 0) || (a > b && c <= 0))
                fail_msg("fl_id_compare('%s', '%s') = %d", ids[a], ids[b], c);
        }
}

/* Items with the same direction have the same cosine: ties, by id. */
static void test_similar_ties_by_id(void **state) {
    (void)state;
    fl_dataset *d = make_dataset();
    fl_model *m = make_model(d, 0);
    for (size_t k = 0; k < N_ITEMS; k++) m->Q[k * m->stride] = 1.0f + (float)k; /* all parallel */
    fl_scored top[N_ITEMS];
    size_t n = 0;
    fl_error err = {0};
    assert_int_equal(fl_similar(m, "x", N_ITEMS, top, &n, &err), FL_OK);
    static const char *const by_id[] = {"4", "7", "9", "10", "30", "55", "100", "200", "abc"};
    assert_int_equal(n, N_ITEMS - 1);
    for (size_t k = 0; k < n; k++) {
        assert_true(top[k].score == 1.0f && top[k].raw == 1.0f);
        assert_string_equal(id_of(m, &top[k]), by_id[k]);
    }
    assert_int_equal(fl_similar(m, "x", 2, top, &n, &err), FL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(id_of(m, &top[0]), "4");
    assert_string_equal(id_of(m, &top[1]), "7");
    fl_model_free(m);
    fl_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommend_ranks_by_unclipped_score),
        cmocka_unit_test(test_recommend_ranks_squashed_models_alike),
        cmocka_unit_test(test_similar_ties_by_id),
        cmocka_unit_test(test_id_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
