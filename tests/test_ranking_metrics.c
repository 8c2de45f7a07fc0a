/* test_ranking_metrics.c — fl_evaluate_ranking on a case small enough to
 * compute by hand: two users with known scores, a list of k = 3, items rated
 * in training excluded from the lists, unknown users and items left out and
 * counted, --relevant-min's filter, coverage, and the same bits on 1 and 4
 * threads. (tests/e2e_ranking.sh checks ml-100k against a numpy reference.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "models/model.h"

#include <math.h>
#include <string.h>

static fl_dataset *parse(const char *text) {
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.header = 0;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_dataset_parse("mem", text, strlen(text), &o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    return d;
}

/* Items a..g (indices 0..6). u1 rated a, u2 rated b; u3 rated everything so
 * every item exists. Scores z = bi[i] + P[u] Q[i]:
 *   u1 (P = 0):  a 6 (rated)  b 5  c 4  d 3  e 2  f 1  g -5  -> top 3: b c d
 *   u2 (P = 1):  a 6  b 5 (rated)  c 4  d 3  e 7  f 11  g -5  -> top 3: f e a */
static fl_model *make_model(fl_dataset **train_out) {
    fl_dataset *train = parse("u1 a 5\nu2 b 5\nu3 a 3\nu3 b 3\nu3 c 3\nu3 d 3\nu3 e 3\n"
                              "u3 f 3\nu3 g 3\n");
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.n_factors = 1;
    p.y_lo = 1, p.y_hi = 0; /* no squashing: scores are z */
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_model_alloc(&p, train->user_ids, train->item_ids, &m, &err), FL_OK);
    static const float bi[7] = {6, 5, 4, 3, 2, 1, -5}, q[7] = {0, 0, 0, 0, 5, 10, 0};
    for (int i = 0; i < 7; i++) m->bi[i] = bi[i], m->Q[(size_t)i * m->stride] = q[i];
    for (int u = 0; u < 3; u++) m->bu[u] = 0, m->P[(size_t)u * m->stride] = u == 1 ? 1.0f : 0.0f;
    m->offset = 0;
    assert_int_equal(fl_model_set_seen(m, train, &err), FL_OK);
    *train_out = train;
    return m;
}

/* u1: d, f and an unknown item z; u2: e, a, c (rated 2) and b (rated in
 * training); u4: unknown to the model. */
static const char TEST[] = "u1 d 4\nu1 f 5\nu1 z 5\nu2 e 5\nu2 a 4\nu2 c 2\nu2 b 3\nu4 a 5\n";

static void check_counts(const fl_rank_metrics *r) {
    assert_int_equal(r->k, 3);
    assert_int_equal(r->n_users, 2);
    assert_int_equal(r->n_unknown_users, 1);
    assert_int_equal(r->n_unknown_items, 1);
    assert_int_equal(r->n_seen, 1);
    /* Lists: u1 b c d, u2 f e a: six of the seven items (never g). */
    assert_float_equal(r->coverage, 6.0 / 7.0, 1e-12);
    assert_float_equal(r->hit_rate, 1.0, 1e-12);
}

/* All test ratings relevant. u1: relevant {d, f}, hit d at place 3.
 *   precision 1/3, recall 1/2, DCG 1/log2(4) = 0.5, IDCG 1 + 1/log2(3),
 *   AP (1/3) / min(3, 2) = 1/6.
 * u2: relevant {a, c, e}, hits e at 2 and a at 3.
 *   precision 2/3, recall 2/3, DCG 1/log2(3) + 1/2, IDCG 1 + 1/log2(3) + 1/2,
 *   AP (1/2 + 2/3) / 3 = 7/18. */
static void test_hand_computed_all_relevant(void **state) {
    (void)state;
    fl_dataset *train, *test = parse(TEST);
    fl_model *m = make_model(&train);
    fl_rank_opts o;
    fl_rank_opts_default(&o);
    o.k = 3;
    fl_rank_metrics r;
    fl_error err = {0};
    assert_int_equal(fl_evaluate_ranking(m, test, &o, &r, &err), FL_OK);
    check_counts(&r);
    assert_int_equal(r.n_relevant, 5);
    const double l3 = 1.0 / log2(3.0);
    assert_float_equal(r.precision_at_k, (1.0 / 3 + 2.0 / 3) / 2, 1e-12);
    assert_float_equal(r.recall_at_k, (1.0 / 2 + 2.0 / 3) / 2, 1e-12);
    assert_float_equal(r.ndcg_at_k, (0.5 / (1 + l3) + (l3 + 0.5) / (1 + l3 + 0.5)) / 2, 1e-12);
    assert_float_equal(r.map_at_k, (1.0 / 6 + 7.0 / 18) / 2, 1e-12);
    fl_model_free(m), fl_dataset_free(train), fl_dataset_free(test);
}

/* Ratings >= 3 relevant: u2 loses c. u2: relevant {a, e}, hits at 2 and 3:
 *   precision 2/3, recall 1, NDCG (1/log2(3) + 1/2) / (1 + 1/log2(3)),
 *   AP (1/2 + 2/3) / 2 = 7/12. With u1 as above: mean NDCG exactly 1/2. */
static void test_hand_computed_relevant_min(void **state) {
    (void)state;
    fl_dataset *train, *test = parse(TEST);
    fl_model *m = make_model(&train);
    fl_rank_opts o;
    fl_rank_opts_default(&o);
    o.k = 3;
    o.relevant_min = 3;
    fl_rank_metrics r, r4;
    fl_error err = {0};
    o.n_threads = 1;
    assert_int_equal(fl_evaluate_ranking(m, test, &o, &r, &err), FL_OK);
    check_counts(&r);
    assert_int_equal(r.n_relevant, 4);
    assert_float_equal(r.precision_at_k, 0.5, 1e-12);
    assert_float_equal(r.recall_at_k, 0.75, 1e-12);
    assert_float_equal(r.ndcg_at_k, 0.5, 1e-12);
    assert_float_equal(r.map_at_k, (1.0 / 6 + 7.0 / 12) / 2, 1e-12);
    o.n_threads = 4;
    assert_int_equal(fl_evaluate_ranking(m, test, &o, &r4, &err), FL_OK);
    assert_memory_equal(&r, &r4, sizeof r);
    fl_model_free(m), fl_dataset_free(train), fl_dataset_free(test);
}

/* Exact ties go by raw id as in fl_recommend: with every score equal, u1's
 * list is b c d (a is rated), so relevant {b} is a hit at place 1. */
static void test_ties_by_id(void **state) {
    (void)state;
    fl_dataset *train, *test = parse("u1 b 5\n");
    fl_model *m = make_model(&train);
    for (int i = 0; i < 7; i++) m->bi[i] = 1;
    fl_rank_opts o;
    fl_rank_opts_default(&o);
    o.k = 1;
    fl_rank_metrics r;
    fl_error err = {0};
    assert_int_equal(fl_evaluate_ranking(m, test, &o, &r, &err), FL_OK);
    assert_int_equal(r.n_users, 1);
    assert_float_equal(r.ndcg_at_k, 1.0, 0);
    fl_scored top[1];
    size_t n;
    assert_int_equal(fl_recommend(m, "u1", 1, top, &n, &err), FL_OK);
    assert_string_equal(fl_idmap_name(fl_model_item_ids(m), top[0].index), "b");
    o.k = 0;
    assert_int_equal(fl_evaluate_ranking(m, test, &o, &r, &err), FL_ERR_USAGE);
    fl_model_free(m), fl_dataset_free(train), fl_dataset_free(test);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed_all_relevant),
        cmocka_unit_test(test_hand_computed_relevant_min),
        cmocka_unit_test(test_ties_by_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
