/* test_rows.c — the ratings by user and by item that ALS trains from
 * (rows.h): both orientations hold exactly the dataset's ratings, duplicates
 * included, with the other side's indices ascending within each row, whether
 * the dataset is copied or consumed and whether its ratings are stored as
 * one-byte codes (at most 256 distinct values) or as floats; and an ALS
 * model's list of seen items, which is taken from them, equals the one the
 * model builds from the dataset itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "core/rng.h"
#include "models/model.h"
#include "train/rows.h"

#include <stdlib.h>
#include <string.h>

enum { NU = 40, NI = 30, NR = 3000 };

typedef struct triple {
    uint32_t row, col;
    float r;
} triple;

static int by_row_col_r(const void *a, const void *b) {
    const triple *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return (x->r > y->r) - (x->r < y->r);
}

/* Random ratings over NU x NI, with repeated (user, item) pairs, a user and
 * an item with none, and times (which a consuming build must free). */
static fl_dataset *make(int many_values) {
    fl_dataset *d = fl_dataset_new(NR, 1);
    assert_non_null(d);
    fl_rng rng;
    fl_rng_seed(&rng, 77);
    for (size_t k = 0; k < NR; k++) {
        d->users[k] = (uint32_t)fl_rng_below(&rng, NU - 1);     /* user NU - 1 rates nothing */
        d->items[k] = 1 + (uint32_t)fl_rng_below(&rng, NI - 1); /* nor is item 0 rated */
        d->ratings[k] =
            many_values ? (float)fl_rng_normal(&rng) : 0.5f * (float)(1 + fl_rng_below(&rng, 10));
        d->times[k] = (uint32_t)k;
    }
    d->n_ratings = NR;
    return d;
}

/* rows, read back as (row, col, r) triples, must be d's ratings seen from
 * that side (users when by_user), each row's columns ascending. */
static void check_side(const fl_rows *rows, const uint32_t *row_of, const uint32_t *col_of,
                       const float *r_of, uint32_t n_rows) {
    assert_int_equal(rows->n_rows, n_rows);
    assert_int_equal(rows->start[0], 0);
    assert_int_equal(rows->start[n_rows], NR);
    triple *got = malloc(NR * sizeof *got), *want = malloc(NR * sizeof *want);
    size_t at = 0;
    for (uint32_t x = 0; x < n_rows; x++) {
        assert_true(rows->start[x] <= rows->start[x + 1]);
        for (uint64_t k = rows->start[x]; k < rows->start[x + 1]; k++) {
            if (k > rows->start[x]) assert_true(rows->col[k - 1] <= rows->col[k]);
            got[at++] = (triple){x, rows->col[k], fl_rows_rating(rows, k)};
        }
    }
    for (size_t k = 0; k < NR; k++) want[k] = (triple){row_of[k], col_of[k], r_of[k]};
    qsort(got, NR, sizeof *got, by_row_col_r);
    qsort(want, NR, sizeof *want, by_row_col_r);
    assert_memory_equal(got, want, NR * sizeof *got);
    free(got), free(want);
}

static void both_sides(int many_values) {
    fl_dataset *d = make(many_values);
    fl_rows bu, bi;
    fl_error err = {0};
    assert_int_equal(fl_rows_build(d, 0, NU, NI, &bu, &bi, &err), FL_OK);
    assert_int_equal(d->n_ratings, NR); /* only read */
    check_side(&bu, d->users, d->items, d->ratings, NU);
    check_side(&bi, d->items, d->users, d->ratings, NI);
    if (many_values)
        assert_null(bu.code), assert_null(bi.code), assert_non_null(bu.r);
    else
        assert_null(bu.r), assert_null(bi.r), assert_non_null(bu.code);
    assert_int_equal(bu.start[NU] - bu.start[NU - 1], 0);
    assert_int_equal(bi.start[1] - bi.start[0], 0);

    /* Consumed: the same rows, and the dataset is left empty. */
    fl_dataset *e = make(many_values);
    fl_rows cu, ci;
    assert_int_equal(fl_rows_build(e, 1, NU, NI, &cu, &ci, &err), FL_OK);
    assert_int_equal(e->n_ratings, 0);
    assert_null(e->users), assert_null(e->items), assert_null(e->ratings), assert_null(e->times);
    check_side(&cu, d->users, d->items, d->ratings, NU);
    check_side(&ci, d->items, d->users, d->ratings, NI);
    fl_rows_free(&bu), fl_rows_free(&bi), fl_rows_free(&cu), fl_rows_free(&ci);
    assert_null(bu.start);
    fl_dataset_free(d), fl_dataset_free(e);
}

/* 256 distinct values still fit a byte; 257 do not. */
static void test_value_limit(void **state) {
    (void)state;
    for (int values = 256; values <= 257; values++) {
        fl_dataset *d = make(0);
        for (size_t k = 0; k < NR; k++) d->ratings[k] = (float)(k % (size_t)values) - 100.0f;
        fl_rows bu, bi;
        fl_error err = {0};
        assert_int_equal(fl_rows_build(d, 0, NU, NI, &bu, &bi, &err), FL_OK);
        assert_true((bu.code != NULL) == (values == 256));
        check_side(&bu, d->users, d->items, d->ratings, NU);
        check_side(&bi, d->items, d->users, d->ratings, NI);
        fl_rows_free(&bu), fl_rows_free(&bi);
        fl_dataset_free(d);
    }
}

static void test_coded_ratings(void **state) {
    (void)state;
    both_sides(0);
}

static void test_float_ratings(void **state) {
    (void)state;
    both_sides(1);
}

static fl_dataset *synth(void) {
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_users = 200, o.n_items = 120, o.n_ratings = 6000, o.seed = 9;
    fl_dataset *d = NULL;
    fl_error err;
    if (fl_synth_generate(&o, &d, &err) != FL_OK) fail_msg("synth: %s", err.msg);
    return d;
}

static void test_als_seen_items(void **state) {
    (void)state;
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_ALS);
    p.n_factors = 8, p.epochs = 1, p.n_threads = 2;
    fl_dataset *given = synth(), *kept = synth();
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    if (fl_train_owned(given, NULL, &p, NULL, &m, &res, &err) != FL_OK)
        fail_msg("train: %s", err.msg);
    assert_int_equal(m->n_users,
                     fl_idmap_size(kept->user_ids)); /* every user rated: no compaction */
    assert_int_equal(m->n_items, fl_idmap_size(kept->item_ids));
    assert_non_null(m->seen_items);
    size_t n = kept->n_ratings;
    uint32_t *from_rows = malloc(n * sizeof *from_rows);
    uint64_t *starts = malloc(((size_t)m->n_users + 1) * sizeof *starts);
    memcpy(from_rows, m->seen_items, n * sizeof *from_rows);
    memcpy(starts, m->seen_start, ((size_t)m->n_users + 1) * sizeof *starts);
    assert_int_equal(fl_model_set_seen(m, kept, &err), FL_OK);
    assert_memory_equal(starts, m->seen_start, ((size_t)m->n_users + 1) * sizeof *starts);
    assert_memory_equal(from_rows, m->seen_items, n * sizeof *from_rows);
    free(from_rows), free(starts);
    fl_model_free(m);
    fl_dataset_free(given), fl_dataset_free(kept);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coded_ratings),
        cmocka_unit_test(test_value_limit),
        cmocka_unit_test(test_float_ratings),
        cmocka_unit_test(test_als_seen_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
