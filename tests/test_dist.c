/* test_dist.c — fl_train_distributed through the public header, with no MPI:
 * the "processes" are threads of this test and the transport (fl_comm) a
 * few lines over shared memory and a barrier. So the library's part of a
 * distributed run (DSGD's ring, the balanced blocks, fl_shard's
 * directories) runs under ASan with leak checks and under ThreadSanitizer,
 * which the MPI end-to-end tests (e2e_distributed.sh, e2e_dsgd.sh) cannot.
 *   - DSGD on 2 and 3 threads-as-processes learns planted ratings as well as
 *     one process's SGD (test RMSE within 0.01 on a small set);
 *   - the same seed and process count give the same factors twice;
 *   - a shard directory trains the same factors as its source file (ALS and
 *     DSGD), and a part changed after sharding is refused on every process
 *     with FL_ERR_DATA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "factorlens.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_RANKS = 4 };

/* The shared state of the threads' transport: each collective posts its
 * buffers, waits for all, copies what it is owed, and waits again. */
typedef struct world {
    int size;
    pthread_barrier_t bar;
    const void *send[MAX_RANKS];
    const size_t *counts[MAX_RANKS]; /* alltoallv: send counts */
    size_t n[MAX_RANKS];             /* allgatherv: bytes sent */
} world;

typedef struct rank_ctx {
    world *w;
    int rank;
} rank_ctx;

static fl_status t_allgatherv(void *ctx, const void *send, size_t n, void *recv,
                              const size_t *counts, fl_error *err) {
    (void)counts, (void)err;
    rank_ctx *c = ctx;
    world *w = c->w;
    w->send[c->rank] = send, w->n[c->rank] = n;
    pthread_barrier_wait(&w->bar);
    size_t at = 0;
    for (int r = 0; r < w->size; r++) {
        if (w->n[r]) memcpy((char *)recv + at, w->send[r], w->n[r]);
        at += w->n[r];
    }
    pthread_barrier_wait(&w->bar);
    return FL_OK;
}

static fl_status t_alltoallv(void *ctx, const void *send, const size_t *send_counts, void *recv,
                             const size_t *recv_counts, fl_error *err) {
    (void)recv_counts, (void)err;
    rank_ctx *c = ctx;
    world *w = c->w;
    w->send[c->rank] = send, w->counts[c->rank] = send_counts;
    pthread_barrier_wait(&w->bar);
    size_t at = 0;
    for (int q = 0; q < w->size; q++) {
        size_t from = 0;
        for (int r = 0; r < c->rank; r++) from += w->counts[q][r];
        size_t len = w->counts[q][c->rank];
        if (len) memcpy((char *)recv + at, (const char *)w->send[q] + from, len);
        at += len;
    }
    pthread_barrier_wait(&w->bar);
    return FL_OK;
}

typedef struct job {
    rank_ctx ctx;
    fl_comm comm;
    fl_dist_opts o;
    fl_params p;
    fl_model *m;
    fl_train_result res;
    fl_status st;
    fl_error err;
} job;

static void *run_rank(void *arg) {
    job *j = arg;
    j->st = fl_train_distributed(&j->comm, &j->o, &j->p, NULL, &j->m, &j->res, &j->err);
    return NULL;
}

/* fl_train_distributed on `size` threads; rank 0's model (the caller frees
 * it) and status; every rank's status must agree. */
static fl_status train_on(int size, const char *ratings, const char *test, const fl_params *p,
                          fl_model **m, fl_train_result *res) {
    world w = {.size = size};
    pthread_barrier_init(&w.bar, NULL, (unsigned)size);
    job jobs[MAX_RANKS];
    pthread_t th[MAX_RANKS];
    memset(jobs, 0, sizeof jobs);
    for (int r = 0; r < size; r++) {
        job *j = &jobs[r];
        j->ctx = (rank_ctx){&w, r};
        j->comm = (fl_comm){.rank = r, .size = size, .ctx = &j->ctx,
                            .allgatherv = t_allgatherv, .alltoallv = t_alltoallv};
        j->o = (fl_dist_opts){.ratings = ratings, .test = test};
        j->p = *p;
        assert_int_equal(pthread_create(&th[r], NULL, run_rank, j), 0);
    }
    for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&w.bar);
    for (int r = 1; r < size; r++) {
        assert_int_equal(jobs[r].st, jobs[0].st);
        assert_null(jobs[r].m);
    }
    *m = jobs[0].m;
    if (res) *res = jobs[0].res;
    return jobs[0].st;
}

static char dir[256];

static void path_of(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

/* Planted rank-4 ratings as train.tsv and test.tsv in a fresh directory. */
static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fl_test_dist_XXXXXX");
    assert_non_null(mkdtemp(dir));
    fl_synth_opts o;
    fl_synth_opts_default(&o);
    o.n_users = 300, o.n_items = 200, o.n_ratings = 12000, o.rank = 4, o.seed = 11;
    fl_dataset *d = NULL, *train = NULL, *test = NULL;
    fl_error err;
    assert_int_equal(fl_synth_generate(&o, &d, &err), FL_OK);
    assert_int_equal(fl_split_holdout(d, 0.2, 5, &train, &test, &err), FL_OK);
    char path[512];
    path_of(path, sizeof path, "train.tsv");
    assert_int_equal(fl_dataset_write(train, path, &err), FL_OK);
    path_of(path, sizeof path, "test.tsv");
    assert_int_equal(fl_dataset_write(test, path, &err), FL_OK);
    fl_dataset_free(d), fl_dataset_free(train), fl_dataset_free(test);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static fl_params sgd_params(void) {
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.solver = FL_SOLVER_SGD;
    p.n_factors = 8, p.epochs = 15, p.n_threads = 1, p.seed = 9;
    return p;
}

static int same_factors(const fl_model *a, const fl_model *b) {
    fl_model_info ia, ib;
    fl_model_get_info(a, &ia), fl_model_get_info(b, &ib);
    if (ia.n_users != ib.n_users || ia.n_items != ib.n_items) return 0;
    const size_t k = (size_t)ia.params.n_factors * sizeof(float);
    for (uint32_t u = 0; u < ia.n_users; u++)
        if (memcmp(fl_model_user_factors(a, u), fl_model_user_factors(b, u), k)) return 0;
    for (uint32_t i = 0; i < ia.n_items; i++)
        if (memcmp(fl_model_item_factors(a, i), fl_model_item_factors(b, i), k)) return 0;
    return 1;
}

static void test_dsgd_accuracy_and_determinism(void **state) {
    (void)state;
    char train[512], test[512];
    path_of(train, sizeof train, "train.tsv"), path_of(test, sizeof test, "test.tsv");
    fl_params p = sgd_params();
    fl_dataset *dtr = NULL, *dte = NULL;
    fl_error err;
    assert_int_equal(fl_dataset_read(train, NULL, &dtr, &err), FL_OK);
    assert_int_equal(fl_dataset_read(test, NULL, &dte, &err), FL_OK);
    fl_model *one = NULL;
    fl_train_result r1;
    assert_int_equal(fl_train(dtr, dte, &p, NULL, &one, &r1, &err), FL_OK);
    for (int size = 2; size <= 3; size++) {
        fl_model *m = NULL, *again = NULL;
        fl_train_result rd;
        assert_int_equal(train_on(size, train, test, &p, &m, &rd), FL_OK);
        assert_non_null(m);
        assert_true(fabs(rd.last.test_rmse - r1.last.test_rmse) < 0.01);
        /* The model scores what training reported. */
        fl_metrics mt;
        assert_int_equal(fl_evaluate(m, dte, FL_UNKNOWN_MEAN, &mt, &err), FL_OK);
        assert_true(fabs(mt.rmse - rd.last.test_rmse) < 1e-5);
        assert_int_equal(train_on(size, train, test, &p, &again, NULL), FL_OK);
        assert_true(same_factors(m, again));
        fl_model_free(m), fl_model_free(again);
    }
    fl_model_free(one);
    fl_dataset_free(dtr), fl_dataset_free(dte);
}

static void test_shards_train_the_file(void **state) {
    (void)state;
    char train[512], shards[512], test[512];
    path_of(train, sizeof train, "train.tsv"), path_of(test, sizeof test, "test.tsv");
    path_of(shards, sizeof shards, "shards");
    fl_shard_opts so = {.ratings = train, .parts = 4, .dir = shards, .gzip = 1};
    size_t n = 0;
    fl_error err;
    assert_int_equal(fl_shard(&so, &n, &err), FL_OK);
    assert_int_equal(n, 9600);
    for (int als = 0; als <= 1; als++) {
        fl_params p = sgd_params();
        if (als) p.solver = FL_SOLVER_ALS, p.epochs = 3;
        fl_model *from_file = NULL, *from_dir = NULL;
        assert_int_equal(train_on(2, train, test, &p, &from_file, NULL), FL_OK);
        assert_int_equal(train_on(2, shards, test, &p, &from_dir, NULL), FL_OK);
        assert_true(same_factors(from_file, from_dir));
        fl_model_free(from_file), fl_model_free(from_dir);
    }
    /* A part rewritten after sharding: refused on every process. */
    char part[600];
    snprintf(part, sizeof part, "%s/part-00002-of-00004.txt.gz", shards);
    FILE *f = fopen(part, "ab");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
    fl_params p = sgd_params();
    fl_model *m = NULL;
    assert_int_equal(train_on(3, shards, NULL, &p, &m, NULL), FL_ERR_DATA);
    assert_null(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsgd_accuracy_and_determinism),
        cmocka_unit_test(test_shards_train_the_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
