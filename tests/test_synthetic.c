/* test_synthetic.c — planted-model datasets: exact size, determinism per seed,
 * no repeated (user, item) pair, half stars in [lo, hi], id naming, popularity
 * skew, dense and extreme settings, and option checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "factorlens.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_dataset *generate(const fl_synth_opts *o) {
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_synth_generate(o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    assert_non_null(d);
    return d;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Every structural promise of fl_synth_generate, checked on one dataset. */
static void check_dataset(const fl_dataset *d, const fl_synth_opts *o) {
    assert_int_equal(d->n_ratings, o->n_ratings);
    uint32_t n_users = fl_idmap_size(d->user_ids), n_items = fl_idmap_size(d->item_ids);
    assert_true(n_users >= 1 && n_users <= o->n_users);
    assert_true(n_items >= 1 && n_items <= o->n_items);
    uint64_t *keys = malloc(d->n_ratings * sizeof *keys);
    unsigned char *user_used = calloc(n_users, 1), *item_used = calloc(n_items, 1);
    for (size_t k = 0; k < d->n_ratings; k++) {
        assert_true(d->users[k] < n_users && d->items[k] < n_items);
        user_used[d->users[k]] = item_used[d->items[k]] = 1;
        keys[k] = ((uint64_t)d->users[k] << 32) | d->items[k];
        float r = d->ratings[k];
        if (!(r >= o->lo && r <= o->hi)) fail_msg("rating %g outside %g..%g", r, o->lo, o->hi);
        if (r != o->lo && r != o->hi && r * 2 != floorf(r * 2))
            fail_msg("rating %g is not a half star", r);
    }
    qsort(keys, d->n_ratings, sizeof *keys, cmp_u64);
    for (size_t k = 1; k < d->n_ratings; k++)
        if (keys[k] == keys[k - 1])
            fail_msg("pair (%u, %u) repeats", (unsigned)(keys[k] >> 32), (unsigned)keys[k]);
    /* ids are "u<n>" / "i<n>" with n below the planted counts; every id is used */
    for (uint32_t u = 0; u < n_users; u++) {
        const char *name = fl_idmap_name(d->user_ids, u);
        char *end;
        assert_int_equal(name[0], 'u');
        unsigned long v = strtoul(name + 1, &end, 10);
        assert_true(*end == '\0' && v < o->n_users);
        assert_true(user_used[u]);
    }
    for (uint32_t i = 0; i < n_items; i++) {
        const char *name = fl_idmap_name(d->item_ids, i);
        char *end;
        assert_int_equal(name[0], 'i');
        unsigned long v = strtoul(name + 1, &end, 10);
        assert_true(*end == '\0' && v < o->n_items);
        assert_true(item_used[i]);
    }
    free(keys);
    free(user_used);
    free(item_used);
}

static int same(const fl_dataset *a, const fl_dataset *b) {
    if (a->n_ratings != b->n_ratings || fl_idmap_size(a->item_ids) != fl_idmap_size(b->item_ids))
        return 0;
    for (uint32_t i = 0; i < fl_idmap_size(a->item_ids); i++)
        if (strcmp(fl_idmap_name(a->item_ids, i), fl_idmap_name(b->item_ids, i))) return 0;
    return memcmp(a->users, b->users, a->n_ratings * sizeof *a->users) == 0 &&
           memcmp(a->items, b->items, a->n_ratings * sizeof *a->items) == 0 &&
           memcmp(a->ratings, b->ratings, a->n_ratings * sizeof *a->ratings) == 0;
}

static void test_defaults(void **state) {
    (void)state;
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    assert_int_equal(o.n_users, 1000);
    assert_int_equal(o.n_items, 1700);
    assert_int_equal(o.n_ratings, 100000);
    assert_int_equal(o.rank, 8);
    fl_dataset *d = generate(&o);
    check_dataset(d, &o);
    assert_null(d->times);
    /* MovieLens-like: mean near 3.4, a real spread, all five stars used */
    float mean = fl_dataset_mean(d);
    assert_true(mean > 3.0f && mean < 3.8f);
    double var = 0;
    size_t ones = 0, fives = 0;
    for (size_t k = 0; k < d->n_ratings; k++) {
        var += (d->ratings[k] - mean) * (d->ratings[k] - mean);
        ones += d->ratings[k] == 1.0f;
        fives += d->ratings[k] == 5.0f;
    }
    var /= (double)d->n_ratings;
    assert_true(var > 0.5 && var < 2.0);
    assert_true(ones > 0 && fives > 0);
    /* popularity is skewed: the most active user rates far more than the least */
    uint32_t n_users = fl_idmap_size(d->user_ids);
    uint32_t *cnt = calloc(n_users, sizeof *cnt), lo = UINT32_MAX, hi = 0;
    for (size_t k = 0; k < d->n_ratings; k++) cnt[d->users[k]]++;
    for (uint32_t u = 0; u < n_users; u++) {
        if (cnt[u] < lo) lo = cnt[u];
        if (cnt[u] > hi) hi = cnt[u];
    }
    assert_true(hi > 10 * lo);
    free(cnt);
    fl_dataset_free(d);
}

static void test_determinism(void **state) {
    (void)state;
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_ratings = 20000;
    fl_dataset *a = generate(&o), *b = generate(&o);
    assert_true(same(a, b));
    o.seed++;
    fl_dataset *c = generate(&o);
    assert_false(same(a, c));
    fl_dataset_free(a);
    fl_dataset_free(b);
    fl_dataset_free(c);
}

/* The planted model carries signal: ratings correlate with a user's own mean
 * on other items far better than chance. */
static void test_signal(void **state) {
    (void)state;
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.noise_std = 0.0f;
    fl_dataset *d = generate(&o);
    uint32_t n_users = fl_idmap_size(d->user_ids);
    double *sum = calloc(n_users, sizeof *sum);
    uint32_t *cnt = calloc(n_users, sizeof *cnt);
    for (size_t k = 0; k < d->n_ratings; k++) sum[d->users[k]] += d->ratings[k], cnt[d->users[k]]++;
    double mean = fl_dataset_mean(d), sse_user = 0, sse_global = 0;
    for (size_t k = 0; k < d->n_ratings; k++) {
        double um = sum[d->users[k]] / cnt[d->users[k]];
        sse_user += (d->ratings[k] - um) * (d->ratings[k] - um);
        sse_global += (d->ratings[k] - mean) * (d->ratings[k] - mean);
    }
    assert_true(sse_user < 0.95 * sse_global);
    free(sum);
    free(cnt);
    fl_dataset_free(d);
}

static void test_dense_and_extreme(void **state) {
    (void)state;
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    /* every pair */
    o.n_users = 30, o.n_items = 40, o.n_ratings = 1200;
    fl_dataset *d = generate(&o);
    check_dataset(d, &o);
    assert_int_equal(fl_idmap_size(d->user_ids), 30);
    assert_int_equal(fl_idmap_size(d->item_ids), 40);
    fl_dataset_free(d);
    /* nearly dense, strong skew: the top users hit the item cap */
    o.n_users = 200, o.n_items = 300, o.n_ratings = 50000, o.zipf = 1.5;
    d = generate(&o);
    check_dataset(d, &o);
    fl_dataset_free(d);
    /* extreme skew on a sparse set: the rejection budget must kick in */
    o.n_users = 5000, o.n_items = 5000, o.n_ratings = 200000, o.zipf = 4.0;
    d = generate(&o);
    check_dataset(d, &o);
    fl_dataset_free(d);
    /* uniform, other scale, rank 1 */
    o.zipf = 0.0, o.lo = 0.5f, o.hi = 10.0f, o.rank = 1, o.n_ratings = 30000;
    d = generate(&o);
    check_dataset(d, &o);
    fl_dataset_free(d);
    /* a single rating */
    o.n_users = 1, o.n_items = 1, o.n_ratings = 1;
    d = generate(&o);
    check_dataset(d, &o);
    fl_dataset_free(d);
}

static void test_bad_options(void **state) {
    (void)state;
    fl_synth_opts o;
    fl_dataset *d = NULL;
    fl_error err = {0};
    fl_synth_opts_default(&o);
    o.n_ratings = (size_t)o.n_users * o.n_items + 1;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "distinct"));
    fl_synth_opts_default(&o);
    o.rank = 0;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_ERR_USAGE);
    fl_synth_opts_default(&o);
    o.lo = 5, o.hi = 1;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_ERR_USAGE);
    fl_synth_opts_default(&o);
    o.noise_std = NAN;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_ERR_USAGE);
    fl_synth_opts_default(&o);
    o.zipf = -1;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_ERR_USAGE);
    fl_synth_opts_default(&o);
    o.n_users = 0;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_ERR_USAGE);
    assert_null(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_signal),      cmocka_unit_test(test_dense_and_extreme),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
