/* test_splits.c — holdout, k-fold and temporal splits: sizes, disjoint halves
 * whose union is the dataset, determinism per seed, fold coverage, users kept
 * in train, temporal order, copied id maps, and argument errors. */
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
#include <unistd.h>

/* A dataset with uneven users (1 to 60 ratings), timestamps, no repeated pairs. */
static fl_dataset *sample(void) {
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int u = 0; u < 200; u++) {
        int n = 1 + (u * 37) % 60;
        for (int j = 0; j < n; j++)
            len += (size_t)snprintf(text + len, cap - len, "u%d\ti%d\t%d\t%d\n", u,
                                    (j * 7 + u) % 300, 1 + (u + j) % 5, 1000 + (j * 13 + u) % 97);
    }
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_dataset_parse("sample", text, len, &o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    free(text);
    return d;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* (user, item, rating*2, time) packed; the sample has no repeated pairs, so
 * equal keys mean the same rating. */
static uint64_t key(const fl_dataset *d, size_t k) {
    return ((uint64_t)d->users[k] << 40) | ((uint64_t)d->items[k] << 16) |
           ((uint64_t)(d->ratings[k] * 2) << 12) | (d->times ? d->times[k] % 4096 : 0);
}

static uint64_t *keys_of(const fl_dataset *d) {
    uint64_t *k = malloc((d->n_ratings + 1) * sizeof *k);
    for (size_t j = 0; j < d->n_ratings; j++) k[j] = key(d, j);
    qsort(k, d->n_ratings, sizeof *k, cmp_u64);
    return k;
}

/* train and test partition d, and both carry d's full id maps. */
static void check_partition(const fl_dataset *d, const fl_dataset *tr, const fl_dataset *te) {
    assert_int_equal(tr->n_ratings + te->n_ratings, d->n_ratings);
    assert_true(tr->user_ids != d->user_ids && te->user_ids != d->user_ids);
    assert_true(tr->users != d->users && te->users != d->users);
    assert_int_equal(fl_idmap_size(tr->user_ids), fl_idmap_size(d->user_ids));
    assert_int_equal(fl_idmap_size(te->item_ids), fl_idmap_size(d->item_ids));
    for (uint32_t u = 0; u < fl_idmap_size(d->user_ids); u++)
        assert_string_equal(fl_idmap_name(te->user_ids, u), fl_idmap_name(d->user_ids, u));
    assert_true((tr->times != NULL) == (d->times != NULL));
    size_t n = d->n_ratings;
    uint64_t *all = keys_of(d), *both = malloc(n * sizeof *both);
    for (size_t k = 0; k < tr->n_ratings; k++) both[k] = key(tr, k);
    for (size_t k = 0; k < te->n_ratings; k++) both[tr->n_ratings + k] = key(te, k);
    qsort(both, n, sizeof *both, cmp_u64);
    assert_memory_equal(all, both, n * sizeof *all); /* union = all, and nothing twice */
    free(all);
    free(both);
}

static void check_users_in_train(const fl_dataset *d, const fl_dataset *tr) {
    uint32_t n_users = fl_idmap_size(d->user_ids);
    uint32_t *total = calloc(n_users, sizeof *total), *train = calloc(n_users, sizeof *train);
    for (size_t k = 0; k < d->n_ratings; k++) total[d->users[k]]++;
    for (size_t k = 0; k < tr->n_ratings; k++) train[tr->users[k]]++;
    for (uint32_t u = 0; u < n_users; u++)
        if (total[u] >= 2 && train[u] == 0)
            fail_msg("user %u has %u ratings, none in train", u, total[u]);
    free(total);
    free(train);
}

static int same(const fl_dataset *a, const fl_dataset *b) {
    return a->n_ratings == b->n_ratings &&
           memcmp(a->users, b->users, a->n_ratings * sizeof *a->users) == 0 &&
           memcmp(a->items, b->items, a->n_ratings * sizeof *a->items) == 0 &&
           memcmp(a->ratings, b->ratings, a->n_ratings * sizeof *a->ratings) == 0;
}

static void test_holdout(void **state) {
    (void)state;
    fl_dataset *d = sample(), *tr, *te, *tr2, *te2, *tr3, *te3;
    fl_error err = {0};
    assert_int_equal(fl_split_holdout(d, 0.2, 7, &tr, &te, &err), FL_OK);
    check_partition(d, tr, te);
    check_users_in_train(d, tr);
    /* about 20% (a few go back to train for users who would have none) */
    double want = 0.2 * (double)d->n_ratings;
    assert_true(te->n_ratings <= (size_t)(want + 0.5));
    assert_true((double)te->n_ratings > 0.95 * want);
    assert_int_equal(fl_split_holdout(d, 0.2, 7, &tr2, &te2, &err), FL_OK);
    assert_true(same(tr, tr2) && same(te, te2));
    assert_int_equal(fl_split_holdout(d, 0.2, 8, &tr3, &te3, &err), FL_OK);
    assert_false(same(te, te3));
    fl_dataset_free(tr);
    fl_dataset_free(te);
    fl_dataset_free(tr2);
    fl_dataset_free(te2);
    fl_dataset_free(tr3);
    fl_dataset_free(te3);
    /* a large fraction still leaves every user something to learn from */
    assert_int_equal(fl_split_holdout(d, 0.9, 1, &tr, &te, &err), FL_OK);
    check_partition(d, tr, te);
    check_users_in_train(d, tr);
    fl_dataset_free(tr);
    fl_dataset_free(te);
    /* the halves outlive the dataset */
    assert_int_equal(fl_split_holdout(d, 0.5, 3, &tr, &te, &err), FL_OK);
    fl_dataset_free(d);
    assert_non_null(fl_idmap_name(tr->user_ids, 0));
    fl_dataset_free(tr);
    fl_dataset_free(te);
}

static void test_folds(void **state) {
    (void)state;
    fl_dataset *d = sample();
    enum { K = 5 };
    size_t n = d->n_ratings;
    uint64_t *all = keys_of(d);
    unsigned char *seen = calloc(n, 1);
    size_t min = n, max = 0;
    fl_error err = {0};
    for (int f = 0; f < K; f++) {
        fl_dataset *tr, *te, *tr2, *te2;
        assert_int_equal(fl_split_fold(d, K, f, 11, &tr, &te, &err), FL_OK);
        check_partition(d, tr, te);
        if (te->n_ratings < min) min = te->n_ratings;
        if (te->n_ratings > max) max = te->n_ratings;
        for (size_t k = 0; k < te->n_ratings; k++) {
            uint64_t x = key(te, k);
            uint64_t *hit = bsearch(&x, all, n, sizeof *all, cmp_u64);
            assert_non_null(hit);
            size_t at = (size_t)(hit - all);
            if (seen[at]) fail_msg("rating %zu is in two test folds", at);
            seen[at] = 1;
        }
        assert_int_equal(fl_split_fold(d, K, f, 11, &tr2, &te2, &err), FL_OK);
        assert_true(same(te, te2) && same(tr, tr2));
        fl_dataset_free(tr);
        fl_dataset_free(te);
        fl_dataset_free(tr2);
        fl_dataset_free(te2);
    }
    for (size_t k = 0; k < n; k++)
        if (!seen[k]) fail_msg("rating %zu is in no test fold", k);
    assert_true(max - min <= 1); /* nearly equal parts */
    free(seen);
    free(all);
    fl_dataset_free(d);
}

static void test_temporal(void **state) {
    (void)state;
    fl_dataset *d = sample(), *tr, *te;
    fl_error err = {0};
    assert_int_equal(fl_split_temporal(d, 0.25, &tr, &te, &err), FL_OK);
    check_partition(d, tr, te);
    check_users_in_train(d, tr);
    uint32_t n_users = fl_idmap_size(d->user_ids);
    uint32_t *last_train = calloc(n_users, sizeof *last_train);
    uint32_t *n_test = calloc(n_users, sizeof *n_test), *n_all = calloc(n_users, sizeof *n_all);
    for (size_t k = 0; k < tr->n_ratings; k++)
        if (tr->times[k] > last_train[tr->users[k]]) last_train[tr->users[k]] = tr->times[k];
    for (size_t k = 0; k < te->n_ratings; k++) {
        assert_true(te->times[k] >= last_train[te->users[k]]); /* test is each user's latest */
        n_test[te->users[k]]++;
    }
    for (size_t k = 0; k < d->n_ratings; k++) n_all[d->users[k]]++;
    for (uint32_t u = 0; u < n_users; u++) {
        uint32_t want = (uint32_t)floor(0.25 * n_all[u] + 0.5);
        if (want > n_all[u] - 1) want = n_all[u] - 1;
        assert_int_equal(n_test[u], want);
    }
    free(last_train);
    free(n_test);
    free(n_all);
    fl_dataset_free(tr);
    fl_dataset_free(te);
    fl_dataset_free(d);
    /* no timestamps: a usage error that says why */
    fl_read_opts o;
    fl_read_opts_default(&o);
    const char *text = "1,1,4,100\n1,2,3,200\n";
    assert_int_equal(fl_dataset_parse("nt.csv", text, strlen(text), &o, &d, &err), FL_OK);
    assert_int_equal(fl_split_temporal(d, 0.5, &tr, &te, &err), FL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "timestamp"));
    fl_dataset_free(d);
}

static void test_bad_arguments(void **state) {
    (void)state;
    fl_dataset *d = sample(), *tr = NULL, *te = NULL;
    fl_error err = {0};
    assert_int_equal(fl_split_holdout(d, 0.0, 1, &tr, &te, &err), FL_ERR_USAGE);
    assert_int_equal(fl_split_holdout(d, 1.0, 1, &tr, &te, &err), FL_ERR_USAGE);
    assert_int_equal(fl_split_holdout(d, NAN, 1, &tr, &te, &err), FL_ERR_USAGE);
    assert_int_equal(fl_split_temporal(d, -0.1, &tr, &te, &err), FL_ERR_USAGE);
    assert_int_equal(fl_split_fold(d, 1, 0, 1, &tr, &te, &err), FL_ERR_USAGE);
    assert_int_equal(fl_split_fold(d, 5, 5, 1, &tr, &te, &err), FL_ERR_USAGE);
    assert_int_equal(fl_split_fold(d, 5, -1, 1, &tr, &te, &err), FL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "fold"));
    assert_null(tr);
    assert_null(te);
    fl_dataset_free(d);
    /* one rating cannot be split */
    const char *one = "1,1,4\n";
    assert_int_equal(fl_dataset_parse("one.csv", one, strlen(one), NULL, &d, &err), FL_OK);
    assert_int_equal(fl_split_holdout(d, 0.5, 1, &tr, &te, &err), FL_ERR_DATA);
    assert_non_null(strstr(err.msg, "one.csv"));
    assert_int_equal(fl_split_fold(d, 2, 0, 1, &tr, &te, &err), FL_ERR_DATA);
    fl_dataset_free(d);
}

/* Per user: the test share is round(0.25 * count) (all but one at most), a
 * one-rating user stays in train, same seed same split, another seed another. */
static void test_per_user(void **state) {
    (void)state;
    fl_dataset *d = sample(), *tr = NULL, *te = NULL, *tr2 = NULL, *te2 = NULL;
    fl_error err = {0};
    assert_int_equal(fl_split_per_user(d, 0.25, 9, &tr, &te, &err), FL_OK);
    check_partition(d, tr, te);
    uint32_t n_users = fl_idmap_size(d->user_ids);
    uint32_t *total = calloc(n_users, sizeof *total), *in_test = calloc(n_users, sizeof *in_test);
    for (size_t k = 0; k < d->n_ratings; k++) total[d->users[k]]++;
    for (size_t k = 0; k < te->n_ratings; k++) in_test[te->users[k]]++;
    int singles = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        uint32_t want = (uint32_t)(0.25 * total[u] + 0.5);
        if (want > total[u] - 1) want = total[u] - 1;
        assert_int_equal(in_test[u], want);
        singles += total[u] == 1;
    }
    assert_true(singles > 0); /* the sample has one-rating users: they stayed in train */
    assert_int_equal(fl_split_per_user(d, 0.25, 9, &tr2, &te2, &err), FL_OK);
    assert_int_equal(te2->n_ratings, te->n_ratings);
    assert_memory_equal(te2->items, te->items, te->n_ratings * sizeof *te->items);
    fl_dataset_free(tr2), fl_dataset_free(te2);
    assert_int_equal(fl_split_per_user(d, 0.25, 10, &tr2, &te2, &err), FL_OK);
    assert_int_equal(te2->n_ratings, te->n_ratings); /* same quotas ... */
    assert_true(memcmp(te2->items, te->items, te->n_ratings * sizeof *te->items) != 0); /* other draw */
    assert_int_equal(fl_split_per_user(d, 1.0, 9, &tr2, &te2, &err), FL_ERR_USAGE);
    fl_dataset_free(tr2), fl_dataset_free(te2);
    free(total), free(in_test);
    fl_dataset_free(tr), fl_dataset_free(te), fl_dataset_free(d);
}

/* A written dataset reads back as the same ratings in the same order, with
 * the file's separator and header: ids with the separator or quotes survive,
 * and ratings keep every bit. */
static void test_write_round_trip(void **state) {
    (void)state;
    const char text[] = "user,item,stars,time\n"
                        "a,\"x,1\",4.5,100\n"
                        "b,\"q\"\"t\",0.1,200\n"
                        "a,y,3.14159274,300\n";
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    fl_dataset *d = NULL, *back = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_parse("mem", text, sizeof text - 1, &o, &d, &err), FL_OK);
    assert_string_equal(d->sep, ",");
    assert_string_equal(d->header[2], "stars");
    char path[] = "/tmp/fl_test_write_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fl_dataset_write(d, path, &err), FL_OK);
    FILE *f = fopen(path, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "user,item,stars,time\n");
    fclose(f);
    assert_int_equal(fl_dataset_read(path, &o, &back, &err), FL_OK);
    unlink(path);
    assert_int_equal(back->n_ratings, d->n_ratings);
    for (size_t k = 0; k < d->n_ratings; k++) {
        assert_string_equal(fl_idmap_name(back->user_ids, back->users[k]),
                            fl_idmap_name(d->user_ids, d->users[k]));
        assert_string_equal(fl_idmap_name(back->item_ids, back->items[k]),
                            fl_idmap_name(d->item_ids, d->items[k]));
        assert_memory_equal(&back->ratings[k], &d->ratings[k], sizeof(float));
        assert_int_equal(back->times[k], d->times[k]);
    }
    fl_dataset_free(back), fl_dataset_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holdout),
        cmocka_unit_test(test_folds),
        cmocka_unit_test(test_temporal),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_per_user),
        cmocka_unit_test(test_write_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
