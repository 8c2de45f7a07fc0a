/* test_train.c — training behaviour: learning a planted model, determinism
 * (same seed and threads -> identical parameters; threads do not change the
 * result), divergence and cancellation, early stopping, the reported losses,
 * unknown ids, evaluation in ranges, recommend/similar, and every model x
 * solver pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"
#include "models/model.h"
#include "models/regularizer.h"
#include "core/memory.h"
#include "eval/evaluate.h"
#include "core/pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    fl_dataset *train, *test;
} fixture;

static int setup(void **state) {
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_users = 600, o.n_items = 400, o.n_ratings = 40000, o.rank = 4, o.seed = 7;
    fl_dataset *all = NULL;
    fl_error err;
    if (fl_synth_generate(&o, &all, &err) != FL_OK) return -1;
    fixture *f = calloc(1, sizeof *f);
    if (fl_split_holdout(all, 0.2, 3, &f->train, &f->test, &err) != FL_OK) return -1;
    fl_dataset_free(all);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_dataset_free(f->train);
    fl_dataset_free(f->test);
    free(f);
    return 0;
}

static fl_model *train_ok(const fixture *f, const fl_params *p, fl_train_result *res) {
    fl_model *m = NULL;
    fl_error err = {0};
    fl_train_result local;
    fl_status st = fl_train(f->train, f->test, p, NULL, &m, res ? res : &local, &err);
    if (st != FL_OK) fail_msg("fl_train: %s", err.msg);
    return m;
}

/* RMSE of predicting the training mean: the baseline every model must beat. */
static double mean_rmse(const fixture *f) {
    double mu = fl_dataset_mean(f->train), se = 0.0;
    for (size_t r = 0; r < f->test->n_ratings; r++)
        se += (f->test->ratings[r] - mu) * (f->test->ratings[r] - mu);
    return sqrt(se / (double)f->test->n_ratings);
}

static void test_learns_planted_model(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.n_threads = 2;
    fl_train_result res;
    fl_model *m = train_ok(f, &p, &res);
    double base = mean_rmse(f);
    /* The planted signal is strong: factors must explain most of the variance. */
    assert_true(res.last.test_rmse < 0.75 * base);
    assert_int_equal(res.epochs_run, p.epochs);
    /* Reported training MSE is the plain data loss on the training ratings. */
    fl_metrics mt;
    fl_error err;
    assert_int_equal(fl_evaluate(m, f->train, FL_UNKNOWN_ERROR, &mt, &err), FL_OK);
    assert_true(fabs(mt.mse - res.last.train_mse) <= 1e-9 * (1.0 + mt.mse));
    assert_true(fabs(fl_reg_penalty(m) - res.last.reg_penalty) <= 1e-12);
    assert_true(res.last.reg_penalty > 0.0);
    /* SGD lists the training items from its grid after training: the same
     * lists the direct way gives, from the training set in the model's
     * numbering (SGD numbers the ids in its grid's order). */
    fl_dataset *mine = fl_dataset_new(f->train->n_ratings, 0);
    assert_non_null(mine);
    fl_idmap_free(mine->user_ids), fl_idmap_free(mine->item_ids);
    mine->user_ids = fl_idmap_clone(m->user_ids), mine->item_ids = fl_idmap_clone(m->item_ids);
    for (size_t k = 0; k < f->train->n_ratings; k++)
        assert_int_equal(fl_dataset_add(mine, fl_idmap_name(f->train->user_ids, f->train->users[k]),
                                        fl_idmap_name(f->train->item_ids, f->train->items[k]),
                                        f->train->ratings[k], 0, &err), FL_OK);
    assert_int_equal(fl_idmap_size(mine->user_ids), m->n_users);
    assert_int_equal(fl_idmap_size(mine->item_ids), m->n_items);
    fl_model *ref = NULL;
    assert_int_equal(fl_model_alloc(&m->params, m->user_ids, m->item_ids, &ref, &err), FL_OK);
    assert_int_equal(fl_model_set_seen(ref, mine, &err), FL_OK);
    fl_dataset_free(mine);
    assert_memory_equal(ref->seen_start, m->seen_start, ((size_t)m->n_users + 1) * sizeof(uint64_t));
    assert_memory_equal(ref->seen_items, m->seen_items, m->n_train * sizeof(uint32_t));
    assert_memory_equal(ref->item_count, m->item_count, m->n_items * sizeof(uint32_t));
    fl_model_free(ref);
    fl_model_free(m);
}

static size_t block_bytes(const fl_model *m) {
    return fl_model_param_floats(&m->params, m->n_users, m->n_items, m->stride) * sizeof(float);
}

static void test_deterministic(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 4;
    p.n_threads = 2;
    fl_model *a = train_ok(f, &p, NULL), *b = train_ok(f, &p, NULL);
    assert_int_equal(block_bytes(a), block_bytes(b));
    assert_memory_equal(a->block, b->block, block_bytes(a));
    /* Up to 4 threads the grid is the same, so the thread count does not
     * change a single bit. */
    p.n_threads = 1;
    fl_model *c = train_ok(f, &p, NULL);
    assert_memory_equal(a->block, c->block, block_bytes(a));
    /* More threads than cores: blocks start in yet another order. */
    p.n_threads = 4;
    fl_model *e = train_ok(f, &p, NULL);
    assert_memory_equal(a->block, e->block, block_bytes(a));
    fl_model_free(e);
    p.n_threads = 2;
    p.seed = 43;
    fl_model *d = train_ok(f, &p, NULL);
    assert_true(memcmp(a->block, d->block, block_bytes(a)) != 0);
    fl_model_free(a), fl_model_free(b), fl_model_free(c), fl_model_free(d);
}

/* A model records the threads it was trained on, also when asked for "all
 * cores" (0): that is the count, with the seed, that reproduces it. */
static void test_threads_recorded(void **state) {
    fixture *f = *state;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (cores > 1024) cores = 1024;
    for (int asked = 0; asked <= 3; asked++) {
        fl_params p;
        fl_params_default(&p, FL_MODEL_BIASED);
        p.epochs = 1;
        p.n_threads = asked;
        fl_model *m = train_ok(f, &p, NULL);
        fl_model_info in;
        fl_model_get_info(m, &in);
        assert_int_equal(in.params.n_threads, asked ? asked : (int)cores);
        fl_model_free(m);
    }
}

static void test_divergence_detected(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_init(&p, FL_MODEL_DOT, FL_SOLVER_ADAM);
    p.lr = 1e6f;
    p.epochs = 3;
    fl_model *m = (fl_model *)1;
    fl_error err = {0};
    fl_status st = fl_train(f->train, NULL, &p, NULL, &m, NULL, &err);
    assert_int_equal(st, FL_ERR_DIVERGED);
    assert_null(m);
    assert_non_null(strstr(err.msg, "lower --lr"));
    fl_params_default(&p, FL_MODEL_BIASED);
    p.lr = 1e4f;
    p.epochs = 3;
    m = (fl_model *)1;
    assert_int_equal(fl_train(f->train, NULL, &p, NULL, &m, NULL, &err), FL_ERR_DIVERGED);
    assert_null(m);
}

static int cancel_at_half(void *ctx, int epoch, int epochs, size_t done, size_t total) {
    (void)ctx, (void)epochs;
    return epoch == 2 && done * 2 >= total;
}

static void test_cancel(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    fl_train_hooks h = {.progress = cancel_at_half};
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_train(f->train, NULL, &p, &h, &m, NULL, &err), FL_ERR_CANCELLED);
    assert_null(m);
}

/* The phases around the epochs: each starts at 0, never goes back, ends at
 * its total; "preparing" comes before any epoch, "finishing" after all. */
typedef struct phases {
    int preparing_ends, finishing_ends, epochs_seen, stop_preparing;
    size_t last;
} phases;

static int on_phase(void *ctx, const char *phase, size_t done, size_t total) {
    phases *ph = ctx;
    assert_true(done <= total);
    if (done == 0) ph->last = 0;
    assert_true(done >= ph->last);
    ph->last = done;
    if (strcmp(phase, "preparing") == 0) {
        assert_int_equal(ph->epochs_seen, 0);
        if (ph->stop_preparing && done > 0) return 1;
        ph->preparing_ends += done == total;
    } else {
        assert_string_equal(phase, "finishing");
        assert_int_equal(ph->epochs_seen, 2);
        ph->finishing_ends += done == total;
    }
    return 0;
}

static int phase_epochs(void *ctx, const fl_epoch_report *r) {
    (void)r;
    ((phases *)ctx)->epochs_seen++;
    return 0;
}

static void test_phases(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 2;
    phases ph = {0};
    fl_train_hooks h = {.epoch_end = phase_epochs, .ctx = &ph, .phase = on_phase};
    fl_model *m = NULL;
    fl_error err = {0};
    assert_int_equal(fl_train(f->train, NULL, &p, &h, &m, NULL, &err), FL_OK);
    fl_model_free(m);
    assert_int_equal(ph.preparing_ends, 1);
    assert_int_equal(ph.finishing_ends, 1);
    /* asked to stop while the ratings are laid out */
    ph = (phases){.stop_preparing = 1};
    m = (fl_model *)1;
    assert_int_equal(fl_train(f->train, NULL, &p, &h, &m, NULL, &err), FL_ERR_CANCELLED);
    assert_null(m);
    assert_int_equal(ph.epochs_seen, 0);
}

static int count_epochs(void *ctx, const fl_epoch_report *r) {
    int *n = ctx;
    (*n)++;
    assert_true(isfinite(r->train_mse) && isfinite(r->valid_rmse));
    assert_true(isnan(r->test_rmse));
    assert_true(r->solve_seconds <= r->seconds);
    return 0;
}

static void test_early_stopping(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.reg_factors = 0.0f; /* overfits, so validation error turns up */
    p.init_std = 0.1f;
    p.epochs = 60;
    p.valid_fraction = 0.2;
    p.patience = 2;
    int n = 0;
    fl_train_hooks h = {.epoch_end = count_epochs, .ctx = &n};
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err = {0};
    assert_int_equal(fl_train(f->train, NULL, &p, &h, &m, &res, &err), FL_OK);
    assert_true(res.epochs_run < 60);
    assert_int_equal(n, res.epochs_run);
    assert_int_equal(res.best_epoch, res.epochs_run - p.patience);
    fl_model_free(m);
}

static void test_unknown_ids(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 2;
    fl_model *m = train_ok(f, &p, NULL);
    float y = 0.0f;
    fl_error err = {0};
    assert_int_equal(fl_predict(m, "nobody", "i1", FL_UNKNOWN_ERROR, &y, &err), FL_ERR_UNKNOWN_ID);
    assert_non_null(strstr(err.msg, "nobody"));
    assert_int_equal(fl_predict(m, "u1", "nothing", FL_UNKNOWN_ERROR, &y, &err), FL_ERR_UNKNOWN_ID);
    /* Fallback: global offset + the known side's bias, never a factor row. */
    uint32_t u;
    assert_true(fl_idmap_find(fl_model_user_ids(m), "u1", 2, &u));
    assert_int_equal(fl_predict(m, "u1", "nothing", FL_UNKNOWN_MEAN, &y, &err), FL_OK);
    float expect = m->offset + fl_model_user_bias(m, u);
    if (expect < m->rating_lo) expect = m->rating_lo;
    if (expect > m->rating_hi) expect = m->rating_hi;
    assert_float_equal(y, expect, 1e-6);
    assert_int_equal(fl_predict(m, "nobody", "nothing", FL_UNKNOWN_MEAN, &y, &err), FL_OK);
    assert_float_equal(y, m->offset, 1e-6);
    fl_scored top[5];
    size_t n;
    assert_int_equal(fl_recommend(m, "nobody", 5, top, &n, &err), FL_ERR_UNKNOWN_ID);
    assert_int_equal(fl_similar(m, "nothing", 5, top, &n, &err), FL_ERR_UNKNOWN_ID);
    fl_model_free(m);
}

/* 1000 of the test ratings as text, the user of rating bad_user and the item
 * of rating bad_item replaced by ids the model never saw. */
static fl_dataset *with_unknowns(const fixture *f, size_t bad_user, size_t bad_item) {
    const fl_dataset *t = f->test;
    char *text = malloc(1000 * 64);
    size_t len = 0;
    for (size_t r = 0; r < 1000; r++)
        len += (size_t)snprintf(text + len, 64, "%s,%s,%g\n",
                                r == bad_user ? "nobody" : fl_idmap_name(t->user_ids, t->users[r]),
                                r == bad_item ? "nothing" : fl_idmap_name(t->item_ids, t->items[r]),
                                (double)t->ratings[r]);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.duplicates = FL_DUP_KEEP;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_dataset_parse("mem.csv", text, len, &o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    free(text);
    return d;
}

/* fl_evaluate scores in fixed ranges (on the trainer's pool during
 * training): the first unknown id in rating order is the one reported,
 * whichever range it falls in; the policies count as they did in one pass;
 * and a pool gives the same bits as one thread. */
static void test_evaluate_ranges(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 2;
    fl_model *m = train_ok(f, &p, NULL);
    fl_metrics a, b;
    fl_error err = {0};
    fl_dataset *late_user = with_unknowns(f, 700, 900), *early_item = with_unknowns(f, 950, 15);
    assert_int_equal(fl_evaluate(m, late_user, FL_UNKNOWN_ERROR, &a, &err), FL_ERR_UNKNOWN_ID);
    assert_non_null(strstr(err.msg, "user 'nobody'"));
    assert_int_equal(fl_evaluate(m, early_item, FL_UNKNOWN_ERROR, &a, &err), FL_ERR_UNKNOWN_ID);
    assert_non_null(strstr(err.msg, "item 'nothing'"));
    assert_int_equal(fl_evaluate(m, late_user, FL_UNKNOWN_MEAN, &a, &err), FL_OK);
    assert_int_equal(a.n, 1000);
    assert_int_equal(a.n_unknown_users, 1);
    assert_int_equal(a.n_unknown_items, 1);
    assert_int_equal(fl_evaluate(m, late_user, FL_UNKNOWN_SKIP, &a, &err), FL_OK);
    assert_int_equal(a.n, 998);
    assert_int_equal(a.n_skipped, 2);
    fl_pool *pool = fl_pool_new(2);
    assert_non_null(pool);
    assert_int_equal(fl_evaluate(m, f->test, FL_UNKNOWN_MEAN, &a, &err), FL_OK);
    assert_int_equal(fl_evaluate_on(pool, m, f->test, FL_UNKNOWN_MEAN, &b, &err), FL_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(fl_evaluate_on(pool, m, early_item, FL_UNKNOWN_ERROR, &b, &err),
                     FL_ERR_UNKNOWN_ID);
    assert_non_null(strstr(err.msg, "item 'nothing'"));
    fl_pool_free(pool);
    fl_dataset_free(late_user), fl_dataset_free(early_item);
    fl_model_free(m);
}

static void test_recommend_and_similar(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 5;
    fl_model *m = train_ok(f, &p, NULL);
    fl_error err = {0};
    uint32_t u;
    assert_true(fl_idmap_find(fl_model_user_ids(m), "u3", 2, &u));
    size_t n_items = m->n_items, n_seen = (size_t)(m->seen_start[u + 1] - m->seen_start[u]);
    fl_scored *all = malloc(n_items * sizeof *all);
    size_t n = 0;
    assert_int_equal(fl_recommend(m, "u3", n_items, all, &n, &err), FL_OK);
    assert_int_equal(n, n_items - n_seen); /* everything the user has not rated */
    for (size_t k = 0; k < n; k++) {
        for (uint64_t s = m->seen_start[u]; s < m->seen_start[u + 1]; s++)
            assert_int_not_equal(all[k].index, m->seen_items[s]);
        assert_float_equal(all[k].score, fl_predict_index(m, u, all[k].index), 0.0);
        if (k) assert_true(all[k - 1].score >= all[k].score);
    }
    fl_scored top[10];
    assert_int_equal(fl_recommend(m, "u3", 10, top, &n, &err), FL_OK);
    assert_int_equal(n, 10);
    for (size_t k = 0; k < 10; k++) assert_int_equal(top[k].index, all[k].index);
    assert_int_equal(fl_similar(m, "i5", 10, top, &n, &err), FL_OK);
    uint32_t i5;
    assert_true(fl_idmap_find(fl_model_item_ids(m), "i5", 2, &i5));
    for (size_t k = 0; k < n; k++) {
        assert_int_not_equal(top[k].index, i5);
        assert_true(top[k].score <= 1.0f + 1e-5f && top[k].score >= -1.0f - 1e-5f);
        if (k) assert_true(top[k - 1].score >= top[k].score);
    }
    free(all);
    fl_model_free(m);
}

static void test_every_model_and_solver(void **state) {
    fixture *f = *state;
    struct {
        fl_model_kind kind;
        fl_solver solver;
    } cases[] = {{FL_MODEL_DOT, FL_SOLVER_SGD},    {FL_MODEL_BIASED, FL_SOLVER_SGD},
                 {FL_MODEL_DOT, FL_SOLVER_ADAM},   {FL_MODEL_BIASED, FL_SOLVER_ADAM},
                 {FL_MODEL_DOT, FL_SOLVER_ALS},    {FL_MODEL_BIASED, FL_SOLVER_ALS},
                 {FL_MODEL_NN, FL_SOLVER_ADAM}};
    double base = mean_rmse(f);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fl_params p;
        fl_params_init(&p, cases[c].kind, cases[c].solver);
        if (cases[c].kind == FL_MODEL_NN) p.reg_factors = 3.0f, p.epochs = 5;
        /* dot with Adam is far from done after its 10 default epochs here:
         * over seeds 1-12 half missed the bar (either way of drawing the
         * starting rows); with 20 the worst of them is 0.753 against 0.814. */
        if (cases[c].kind == FL_MODEL_DOT && cases[c].solver == FL_SOLVER_ADAM) p.epochs = 20;
        fl_train_result res;
        fl_model *m = train_ok(f, &p, &res);
        /* An MLP learns a planted dot product only roughly: a weaker bar. */
        double bar = cases[c].kind == FL_MODEL_NN ? 0.95 : 0.9;
        if (!(res.last.test_rmse < bar * base))
            fail_msg("%s/%s: test RMSE %.4f does not beat the mean's %.4f",
                     fl_model_kind_name(cases[c].kind), fl_solver_name(cases[c].solver),
                     res.last.test_rmse, base);
        fl_model_free(m);
    }
}

static void test_params_check(void **state) {
    (void)state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    assert_null(fl_params_check(&p));
    p.epochs = 0;
    assert_non_null(fl_params_check(&p));
    fl_params_default(&p, FL_MODEL_BIASED);
    p.lr = NAN;
    assert_non_null(fl_params_check(&p));
    fl_params_default(&p, FL_MODEL_NN);
    assert_null(fl_params_check(&p));
    p.solver = FL_SOLVER_SGD;
    assert_non_null(fl_params_check(&p));
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_ALS);
    assert_null(fl_params_check(&p));
    p.y_lo = 0.0f, p.y_hi = 5.5f;
    assert_non_null(fl_params_check(&p));
}

static void test_memory_check(void **state) {
    (void)state;
    fl_error err = {0};
    assert_true(fl_memory_available() > 0.0);
    assert_int_equal(fl_memory_check(1 << 20, "a small job", &err), FL_OK);
    assert_int_equal(fl_memory_check(1e18, "training", &err), FL_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "training needs"));
    assert_non_null(strstr(err.msg, "GiB"));
}

/* Renumbering a trained model and numbering it back gives the same model,
 * and a renumbered model predicts every pair (by id) as before. */
static void test_renumber_model(void **state) {
    fixture *f = *state;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.epochs = 3;
    fl_train_result res;
    fl_model *m = train_ok(f, &p, &res);
    fl_model *c = train_ok(f, &p, &res); /* the same seed: the same model */
    const uint32_t nu = m->n_users, ni = m->n_items;
    uint32_t *ua = malloc(nu * sizeof *ua), *ia = malloc(ni * sizeof *ia);
    uint32_t *ub = malloc(nu * sizeof *ub), *ib = malloc(ni * sizeof *ib);
    assert_non_null(ua), assert_non_null(ia), assert_non_null(ub), assert_non_null(ib);
    for (uint32_t k = 0; k < nu; k++) ua[k] = nu - 1 - k;
    for (uint32_t k = 0; k < ni; k++) ia[k] = (uint32_t)(((uint64_t)k * 31 + 5) % ni);
    for (uint32_t k = 0; k < nu; k++) ub[ua[k]] = k;
    for (uint32_t k = 0; k < ni; k++) ib[ia[k]] = k;
    fl_error err;
    assert_int_equal(fl_model_renumber(c, ua, ia, 1, &err), FL_OK);
    for (size_t r = 0; r < f->test->n_ratings; r += 7) {
        const char *u = fl_idmap_name(f->test->user_ids, f->test->users[r]);
        const char *i = fl_idmap_name(f->test->item_ids, f->test->items[r]);
        float a, b;
        if (fl_predict(m, u, i, FL_UNKNOWN_ERROR, &a, &err) != FL_OK) continue;
        assert_int_equal(fl_predict(c, u, i, FL_UNKNOWN_ERROR, &b, &err), FL_OK);
        assert_true(a == b);
    }
    /* Each user's seen list: the same items by id, ascending in the new numbering. */
    for (uint32_t k = 0; k < nu; k++) {
        const uint64_t *cs = c->seen_start, *ms = m->seen_start;
        assert_int_equal(cs[k + 1] - cs[k], ms[ua[k] + 1] - ms[ua[k]]);
        for (uint64_t j = cs[k]; j < cs[k + 1]; j++) {
            if (j > cs[k]) assert_true(c->seen_items[j - 1] < c->seen_items[j]);
            const uint32_t old = ia[c->seen_items[j]];
            int found = 0;
            for (uint64_t q = ms[ua[k]]; q < ms[ua[k] + 1]; q++) found |= m->seen_items[q] == old;
            assert_true(found);
        }
        assert_int_equal(c->item_count[k % ni], m->item_count[ia[k % ni]]);
    }
    assert_int_equal(fl_model_renumber(c, ub, ib, 1, &err), FL_OK);
    assert_memory_equal(m->block, c->block, fl_model_param_floats(&m->params, nu, ni, m->stride) * sizeof(float));
    assert_memory_equal(m->seen_start, c->seen_start, ((size_t)nu + 1) * sizeof *m->seen_start);
    assert_memory_equal(m->seen_items, c->seen_items, m->n_train * sizeof *m->seen_items);
    assert_memory_equal(m->item_count, c->item_count, ni * sizeof *m->item_count);
    assert_memory_equal(m->item_mean, c->item_mean, ni * sizeof *m->item_mean);
    for (uint32_t k = 0; k < nu; k++)
        assert_string_equal(fl_idmap_name(m->user_ids, k), fl_idmap_name(c->user_ids, k));
    for (uint32_t k = 0; k < ni; k++)
        assert_string_equal(fl_idmap_name(m->item_ids, k), fl_idmap_name(c->item_ids, k));
    free(ua), free(ia), free(ub), free(ib);
    fl_model_free(m);
    fl_model_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_planted_model),   cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_divergence_detected),    cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_early_stopping),         cmocka_unit_test(test_unknown_ids),
        cmocka_unit_test(test_evaluate_ranges),        cmocka_unit_test(test_recommend_and_similar),
        cmocka_unit_test(test_every_model_and_solver), cmocka_unit_test(test_params_check),
        cmocka_unit_test(test_renumber_model),         cmocka_unit_test(test_memory_check),           cmocka_unit_test(test_threads_recorded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
