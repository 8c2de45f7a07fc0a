/* test_serve_snapshot.c — the server's model slot (src/serve/snapshot.c):
 * readers on four threads acquire, use and release the current snapshot
 * while the main thread swaps in reloaded models; every reader sees a whole
 * model (its predictions match that model's checksum), and every snapshot
 * is freed exactly once (ASan and TSan runs of this test check both). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "serve/snapshot.c"

#include <stdatomic.h>
#include <unistd.h>

typedef struct fixture {
    char path[2][64];
    char sum[2][65];
    float pred[2];      /* prediction of (user 0, item 1) by each model */
    serve_slot slot;
    atomic_int stop;
    atomic_long reads;
    atomic_int bad;
} fixture;

static void make_model(fixture *f, int k) {
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 50, so.n_items = 30, so.n_ratings = 800, so.seed = 5;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_synth_generate(&so, &d, &err), FL_OK);
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_DEFAULT);
    p.n_factors = 3, p.epochs = 2, p.n_threads = 1, p.seed = 100 + (uint64_t)k;
    fl_model *m = NULL;
    fl_train_result res;
    assert_int_equal(fl_train(d, NULL, &p, NULL, &m, &res, &err), FL_OK);
    snprintf(f->path[k], sizeof f->path[k], "/tmp/fl-test-slot-%ld-%d.flm", (long)getpid(), k);
    assert_int_equal(fl_model_save(m, f->path[k], &err), FL_OK);
    fl_model_free(m);
    fl_dataset_free(d);
    serve_snapshot *s = NULL;
    assert_int_equal(serve_snapshot_load(f->path[k], NULL, &s, &err), FL_OK);
    snprintf(f->sum[k], sizeof f->sum[k], "%s", s->checksum);
    f->pred[k] = fl_predict_index(s->model, 0, 1);
    serve_slot slot;
    serve_slot_init(&slot, s);
    serve_slot_destroy(&slot);
}

static void *reader(void *arg) {
    fixture *f = arg;
    while (!atomic_load(&f->stop)) {
        serve_snapshot *s = serve_slot_acquire(&f->slot);
        int k = strcmp(s->checksum, f->sum[0]) == 0 ? 0 : 1;
        if (strcmp(s->checksum, f->sum[k]) != 0 || fl_predict_index(s->model, 0, 1) != f->pred[k])
            atomic_fetch_add(&f->bad, 1);
        serve_slot_release(&f->slot, s);
        atomic_fetch_add(&f->reads, 1);
    }
    return NULL;
}

static void test_swaps_under_readers(void **state) {
    fixture *f = calloc(1, sizeof *f);
    make_model(f, 0);
    make_model(f, 1);
    assert_string_not_equal(f->sum[0], f->sum[1]);
    assert_true(f->pred[0] != f->pred[1]);
    serve_snapshot *first = NULL;
    fl_error err = {0};
    assert_int_equal(serve_snapshot_load(f->path[0], NULL, &first, &err), FL_OK);
    serve_slot_init(&f->slot, first);
    pthread_t t[4];
    for (int k = 0; k < 4; k++) assert_int_equal(pthread_create(&t[k], NULL, reader, f), 0);
    for (int r = 1; r <= 40; r++) {
        serve_snapshot *next = NULL;
        assert_int_equal(serve_snapshot_load(f->path[r % 2], NULL, &next, &err), FL_OK);
        serve_slot_swap(&f->slot, next);
        /* A file that cannot load leaves the slot as it was. */
        assert_int_not_equal(serve_snapshot_load("/nonexistent/m.flm", NULL, &next, &err), FL_OK);
        assert_null(next);
        usleep(500);
    }
    atomic_store(&f->stop, 1);
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    assert_int_equal(atomic_load(&f->bad), 0);
    assert_true(atomic_load(&f->reads) > 40);
    serve_snapshot *now = serve_slot_acquire(&f->slot);
    assert_string_equal(now->checksum, f->sum[0]); /* 40 swaps: back on the first */
    assert_int_equal(now->refs, 2);                /* the slot's and ours */
    serve_slot_release(&f->slot, now);
    serve_slot_destroy(&f->slot);
    unlink(f->path[0]);
    unlink(f->path[1]);
    free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_swaps_under_readers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
