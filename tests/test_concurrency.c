/* test_concurrency.c — the header's threading contract, exercised: eight
 * threads use one shared model at once (predict, recommend, similar,
 * evaluate, ranking metrics on threads of their own, fold-in) while the main
 * thread trains other models with every solver and kind (ials, bpr too), and every answer must be the bit-identical one computed alone
 * beforehand, as must the models trained meanwhile. Run under ThreadSanitizer
 * by scripts/test, which fails on any data race. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READERS 8
#define PAIRS 64
#define LISTS 8
#define TOP 10
#define FOLDS 4
#define FOLD_N 8
#define K 8

typedef struct expected {
    float pred[PAIRS];
    fl_scored rec[LISTS][TOP], sim[LISTS][TOP];
    size_t n_rec[LISTS], n_sim[LISTS];
    fl_metrics met;
    fl_rank_metrics rank;
    float fold[FOLDS][K], fold_bias[FOLDS];
    fl_scored fold_rec[FOLDS][TOP];
    size_t n_fold_rec[FOLDS];
} expected;

typedef struct shared {
    const fl_model *m;
    const fl_dataset *test;
    char users[PAIRS][16], items[PAIRS][16];
    const char *fold_ids[FOLDS][FOLD_N];
    float fold_r[FOLDS][FOLD_N];
    expected want;
    atomic_int stop;
    atomic_int mismatches;
    atomic_int rounds;
} shared;

static fl_dataset *synth(uint64_t seed, uint32_t users, uint32_t items, size_t n) {
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = users, so.n_items = items, so.n_ratings = n, so.seed = seed;
    fl_dataset *d = NULL;
    fl_error err;
    if (fl_synth_generate(&so, &d, &err) != FL_OK) fail_msg("synthetic data: %s", err.msg);
    return d;
}

static fl_model *train(const fl_dataset *d, fl_model_kind kind, fl_solver solver, int threads) {
    fl_params p;
    fl_params_init(&p, kind, solver);
    p.n_factors = K, p.epochs = 2, p.n_threads = threads, p.seed = 9;
    fl_model *m = NULL;
    fl_train_result res;
    fl_error err;
    if (fl_train(d, NULL, &p, NULL, &m, &res, &err) != FL_OK) fail_msg("training: %s", err.msg);
    return m;
}

/* Everything a reader asks, answered into e; 0 if every call succeeded. */
static int answer(const shared *s, expected *e) {
    fl_error err;
    int bad = 0;
    memset(e, 0, sizeof *e);
    for (int k = 0; k < PAIRS; k++)
        bad |= fl_predict(s->m, s->users[k], s->items[k], FL_UNKNOWN_MEAN, &e->pred[k], &err) != FL_OK;
    for (int l = 0; l < LISTS; l++) {
        bad |= fl_recommend(s->m, s->users[l], TOP, e->rec[l], &e->n_rec[l], &err) != FL_OK;
        bad |= fl_similar(s->m, s->items[l], TOP, e->sim[l], &e->n_sim[l], &err) != FL_OK;
    }
    bad |= fl_evaluate(s->m, s->test, FL_UNKNOWN_MEAN, &e->met, &err) != FL_OK;
    fl_rank_opts ro;
    fl_rank_opts_default(&ro);
    ro.n_threads = 2; /* threads of its own, inside a reader thread */
    bad |= fl_evaluate_ranking(s->m, s->test, &ro, &e->rank, &err) != FL_OK;
    for (int f = 0; f < FOLDS; f++) {
        size_t used;
        bad |= fl_fold_in(s->m, s->fold_ids[f], s->fold_r[f], FOLD_N, FL_UNKNOWN_SKIP, e->fold[f],
                          &e->fold_bias[f], &used, &err) != FL_OK;
        bad |= fl_recommend_folded(s->m, e->fold[f], e->fold_bias[f], s->fold_ids[f], FOLD_N, TOP,
                                   e->fold_rec[f], &e->n_fold_rec[f], &err) != FL_OK;
    }
    return bad;
}

static int same(const expected *a, const expected *b) {
    return memcmp(a->pred, b->pred, sizeof a->pred) == 0 &&
           memcmp(a->n_rec, b->n_rec, sizeof a->n_rec) == 0 &&
           memcmp(a->n_sim, b->n_sim, sizeof a->n_sim) == 0 &&
           memcmp(a->rec, b->rec, sizeof a->rec) == 0 && memcmp(a->sim, b->sim, sizeof a->sim) == 0 &&
           a->met.rmse == b->met.rmse && a->met.mae == b->met.mae && a->met.n == b->met.n &&
           memcmp(&a->rank, &b->rank, sizeof a->rank) == 0 &&
           memcmp(a->fold, b->fold, sizeof a->fold) == 0 &&
           memcmp(a->fold_bias, b->fold_bias, sizeof a->fold_bias) == 0 &&
           memcmp(a->n_fold_rec, b->n_fold_rec, sizeof a->n_fold_rec) == 0 &&
           memcmp(a->fold_rec, b->fold_rec, sizeof a->fold_rec) == 0;
}

static void *reader(void *arg) {
    shared *s = arg;
    expected *got = malloc(sizeof *got);
    int done = 0;
    /* At least two rounds each, and on until the trainings have finished. */
    while (done < 2 || !atomic_load(&s->stop)) {
        if (answer(s, got) || !same(got, &s->want)) atomic_fetch_add(&s->mismatches, 1);
        done++;
    }
    atomic_fetch_add(&s->rounds, done);
    free(got);
    return NULL;
}

/* Predictions of a model over a dataset, to compare two trainings bit for bit. */
static float *all_predictions(const fl_model *m, const fl_dataset *d) {
    float *out = malloc(d->n_ratings * sizeof *out);
    fl_error err;
    for (size_t k = 0; k < d->n_ratings; k++)
        if (fl_predict(m, fl_idmap_name(d->user_ids, d->users[k]), fl_idmap_name(d->item_ids, d->items[k]),
                       FL_UNKNOWN_MEAN, &out[k], &err) != FL_OK)
            fail_msg("predict: %s", err.msg);
    return out;
}

static void test_shared_model_while_training(void **state) {
    (void)state;
    fl_dataset *d = synth(1, 400, 300, 12000), *d2 = synth(2, 300, 200, 8000);
    fl_error err;
    fl_dataset *tr, *te;
    assert_int_equal(fl_split_holdout(d, 0.1, 4, &tr, &te, &err), FL_OK);
    shared *s = calloc(1, sizeof *s);
    s->m = train(tr, FL_MODEL_BIASED, FL_SOLVER_SGD, 2);
    s->test = te;
    for (int k = 0; k < PAIRS; k++) {
        snprintf(s->users[k], sizeof s->users[k], "u%d", (k * 37) % 400);
        snprintf(s->items[k], sizeof s->items[k], "i%d", (k * 53) % 300);
    }
    for (int f = 0; f < FOLDS; f++)
        for (int r = 0; r < FOLD_N; r++) {
            s->fold_ids[f][r] = fl_idmap_name(tr->item_ids, tr->items[(size_t)(f * 97 + r * 13)]);
            s->fold_r[f][r] = (float)(1 + (f + r) % 5);
        }
    assert_int_equal(answer(s, &s->want), 0);

    /* The trainings the main thread repeats under load, first done alone. */
    const fl_model_kind kinds[] = {FL_MODEL_BIASED, FL_MODEL_BIASED, FL_MODEL_NN, FL_MODEL_IALS,
                                   FL_MODEL_BPR};
    const fl_solver solvers[] = {FL_SOLVER_SGD, FL_SOLVER_ALS, FL_SOLVER_ADAM, FL_SOLVER_ALS,
                                 FL_SOLVER_SGD};
    enum { N_TRAININGS = sizeof kinds / sizeof *kinds };
    float *alone[N_TRAININGS];
    for (int t = 0; t < N_TRAININGS; t++) {
        fl_model *m = train(d2, kinds[t], solvers[t], 2);
        alone[t] = all_predictions(m, d2);
        fl_model_free(m);
    }

    pthread_t th[READERS];
    for (int r = 0; r < READERS; r++) assert_int_equal(pthread_create(&th[r], NULL, reader, s), 0);
    int differ = 0;
    for (int t = 0; t < N_TRAININGS; t++) {
        fl_model *m = train(d2, kinds[t], solvers[t], 2);
        float *p = all_predictions(m, d2);
        if (memcmp(p, alone[t], d2->n_ratings * sizeof *p) != 0) {
            fprintf(stderr, "%s/%s trained beside the readers differs from the same training alone\n",
                    fl_model_kind_name(kinds[t]), fl_solver_name(solvers[t]));
            differ++;
        }
        free(p);
        free(alone[t]);
        fl_model_free(m);
    }
    atomic_store(&s->stop, 1);
    for (int r = 0; r < READERS; r++) pthread_join(th[r], NULL);
    printf("%d reader rounds over %d threads beside %d trainings\n", atomic_load(&s->rounds),
           READERS, (int)N_TRAININGS);
    assert_int_equal(atomic_load(&s->mismatches), 0);
    assert_int_equal(differ, 0);

    fl_model_free((fl_model *)s->m);
    free(s);
    fl_dataset_free(tr), fl_dataset_free(te), fl_dataset_free(d), fl_dataset_free(d2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model_while_training),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
