/* test_crash_safe.c — a writer killed with SIGKILL at a random moment never
 * leaves a torn file: the destination is always the old complete model or
 * the new complete one (temp file + fsync + rename, src/io/atomic_file.c).
 * Trials: FL_CRASH_TRIALS (default 300) kills of a looping library save,
 * and 12 kills of `factorlens train --out`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/rng.h"
#include "factorlens.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct fixture {
    char dir[256];
    char dest[320];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    /* The temp dir is on the file system the user's TMPDIR names: a real
     * disk here, so fsync and rename behave as they do for model files. */
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/fl_crash_safe_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->dest, sizeof f->dest, "%s/model.flm", f->dir);
    *state = f;
    return 0;
}

/* Removes the files in dir whose name contains only_with (every file when
 * NULL); returns how many it removed. */
static int remove_files(const char *dir, const char *only_with) {
    DIR *d = opendir(dir);
    int removed = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (only_with && !strstr(e->d_name, only_with))) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) == 0) removed++;
    }
    closedir(d);
    return removed;
}

static int teardown(void **state) {
    fixture *f = *state;
    remove_files(f->dir, NULL);
    rmdir(f->dir);
    free(f);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b ? fread(b, 1, (size_t)len, fp) : 0;
    fclose(fp);
    return b;
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    unsigned char *b = slurp(from, &n);
    assert_non_null(b);
    FILE *fp = fopen(to, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(b);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A small trained model (tens of KB): one save then takes about as long as
 * its fsync, so kills 0..3 ms after the fork land before, inside and after
 * the write, the fsync and the rename of the first few saves. */
static fl_model *train_model(uint64_t seed) {
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 400;
    so.n_items = 300;
    so.n_ratings = 6000;
    so.seed = seed;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_synth_generate(&so, &d, &err), FL_OK);
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.n_factors = 16;
    p.epochs = 2;
    p.n_threads = 1;
    p.seed = seed;
    fl_model *m = NULL;
    fl_train_result res;
    assert_int_equal(fl_train(d, NULL, &p, NULL, &m, &res, &err), FL_OK);
    fl_dataset_free(d);
    return m;
}

typedef struct outcome {
    int old_file, new_file, finished, temps;
} outcome;

/* After a kill: dest must load and be byte-identical to old or new. */
static void classify(const char *dest, const unsigned char *old_b, size_t old_n,
                     const unsigned char *new_b, size_t new_n, outcome *o, int trial) {
    size_t n = 0;
    unsigned char *b = slurp(dest, &n);
    if (!b) fail_msg("trial %d: the destination disappeared", trial);
    int is_old = n == old_n && memcmp(b, old_b, n) == 0;
    int is_new = n == new_n && memcmp(b, new_b, n) == 0;
    free(b);
    if (!is_old && !is_new)
        fail_msg("trial %d: torn destination (%zu bytes, neither old nor new)", trial, n);
    fl_model *m = NULL;
    fl_error err = {0};
    if (fl_model_load(dest, &m, &err) != FL_OK) fail_msg("trial %d: %s", trial, err.msg);
    fl_model_free(m);
    if (is_old) o->old_file++;
    else o->new_file++;
}

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A child saving A, B, A, ... (or B, A, ...) to dest for ever is SIGKILLed
 * 0..3 ms after the fork (longer when one save takes longer); dest must
 * then be exactly A or exactly B and load. */
static void test_kill_library_save(void **state) {
    fixture *f = *state;
    const char *env = getenv("FL_CRASH_TRIALS");
    int trials = env ? atoi(env) : 300;
    if (trials < 1) trials = 300;
    fl_model *a = train_model(1), *b = train_model(2);
    fl_error err = {0};
    char path_a[400], path_b[400];
    snprintf(path_a, sizeof path_a, "%s/a.ref", f->dir);
    snprintf(path_b, sizeof path_b, "%s/b.ref", f->dir);
    assert_int_equal(fl_model_save(a, path_a, &err), FL_OK);
    assert_int_equal(fl_model_save(b, path_b, &err), FL_OK);
    size_t na, nb;
    unsigned char *ba = slurp(path_a, &na), *bb = slurp(path_b, &nb);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_false(na == nb && memcmp(ba, bb, na) == 0);
    assert_int_equal(fl_model_save(a, f->dest, &err), FL_OK);

    /* How long a forked child takes to fork and save once: sanitizers and
     * slow disks stretch it, and the kill window (at least 3 ms) stretches
     * with it so that kills still land on both sides of the rename. */
    double t0 = now_seconds();
    for (int k = 0; k < 4; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) _exit(fl_model_save(k % 2 ? a : b, f->dest, NULL) == FL_OK ? 0 : 3);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    double per_save = (now_seconds() - t0) / 4;
    double window = 2.5 * per_save > 3e-3 ? 2.5 * per_save : 3e-3;
    assert_int_equal(fl_model_save(a, f->dest, &err), FL_OK);

    fl_rng r;
    fl_rng_seed(&r, 31337);
    outcome o = {0, 0, 0, 0};
    int changed = 0;
    size_t prev_n = na;
    unsigned char *prev = slurp(f->dest, &prev_n);
    assert_non_null(prev);
    int hist[4] = {0, 0, 0, 0}; /* trials by saves completed before the kill: 0, 1, 2, 3+ */
    double t1 = now_seconds();
    for (int trial = 0; trial < trials; trial++) {
        /* Uniform over the window, with every tenth trial tight against
         * the fork, so early kills (before any byte is written) happen too. */
        double delay = window * fl_rng_uniform(&r);
        if (trial % 10 == 0) delay *= 0.05;
        /* The child starts with the model dest does not hold, so any
         * completed save changes dest. It reports each one down a pipe. */
        int first_is_a = prev_n == nb && memcmp(prev, bb, nb) == 0;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            for (unsigned k = 0;; k++) {
                if (fl_model_save((k % 2 == 0) == first_is_a ? a : b, f->dest, NULL) != FL_OK)
                    _exit(3);
                if (write(fds[1], "s", 1) != 1) _exit(4);
            }
        }
        close(fds[1]);
        sleep_seconds(delay);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("trial %d: the saving child ended by itself (status %d)", trial, status);
        int saves = 0;
        char buf[64];
        ssize_t got;
        while ((got = read(fds[0], buf, sizeof buf)) > 0) saves += (int)got;
        close(fds[0]);
        hist[saves < 3 ? saves : 3]++;
        classify(f->dest, ba, na, bb, nb, &o, trial);
        size_t n = 0;
        unsigned char *now = slurp(f->dest, &n);
        assert_non_null(now);
        int is_changed = n != prev_n || memcmp(now, prev, n) != 0;
        changed += is_changed;
        free(prev);
        prev = now, prev_n = n;
        /* A killed writer may leave its temp file (never a torn dest). */
        o.temps += remove_files(f->dir, ".tmp");
    }
    double elapsed = now_seconds() - t1;
    free(prev);
    print_message("crash-safe: %d SIGKILL trials on a child looping fl_model_save A,B,A,... "
                  "(%zu/%zu-byte models, %.2f ms per fork+save, kill 0..%.1f ms after fork): "
                  "A found %d, B found %d, torn 0; dest changed in %d trials; saves completed "
                  "before the kill: 0 in %d trials, 1 in %d, 2 in %d, 3+ in %d; %d temp files "
                  "left by killed writers (removed); %.1f s\n",
                  trials, na, nb, per_save * 1e3, window * 1e3, o.old_file, o.new_file, changed, hist[0],
                  hist[1], hist[2], hist[3], o.temps, elapsed);
    /* Kills must have landed on both sides of a rename and inside writes,
     * or the test proves little. */
    assert_true(o.old_file >= trials / 20);
    assert_true(o.new_file >= trials / 20);
    assert_true(changed >= trials / 20 && trials - changed >= trials / 20);
    assert_true(o.temps >= trials / 20);
    free(ba);
    free(bb);
    fl_model_free(a);
    fl_model_free(b);
}

/* The same through the CLI: `factorlens train --out` killed at random. */
static void test_kill_cli_train(void **state) {
    fixture *f = *state;
    const char *bin = getenv("FL_BIN");
    if (!bin) fail_msg("FL_BIN is not set (ctest sets it to the factorlens binary)");
    char ratings[400], ref[400], old_path[400];
    snprintf(ratings, sizeof ratings, "%s/ratings.tsv", f->dir);
    snprintf(ref, sizeof ref, "%s/ref.flm", f->dir);
    snprintf(old_path, sizeof old_path, "%s/old.flm", f->dir);
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = 3000;
    so.n_items = 2000;
    so.n_ratings = 20000;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_synth_generate(&so, &d, &err), FL_OK);
    FILE *fp = fopen(ratings, "w");
    assert_non_null(fp);
    for (size_t k = 0; k < d->n_ratings; k++)
        fprintf(fp, "%s\t%s\t%g\n", fl_idmap_name(d->user_ids, d->users[k]),
                fl_idmap_name(d->item_ids, d->items[k]), (double)d->ratings[k]);
    assert_int_equal(fclose(fp), 0);
    fl_dataset_free(d);

    /* Same seed and threads give the same bytes: the "new" file is known. */
    const char *seeds[2] = {"1", "2"};
    char *const argv_ref[] = {(char *)bin, "train", "--ratings", ratings, "--factors", "64",
                              "--epochs", "1", "--threads", "1", "--seed", (char *)seeds[1],
                              "--quiet", "--out", ref, NULL};
    char *const argv_old[] = {(char *)bin, "train", "--ratings", ratings, "--factors", "64",
                              "--epochs", "1", "--threads", "1", "--seed", (char *)seeds[0],
                              "--quiet", "--out", old_path, NULL};
    char *const argv_new[] = {(char *)bin, "train", "--ratings", ratings, "--factors", "64",
                              "--epochs", "1", "--threads", "1", "--seed", (char *)seeds[1],
                              "--quiet", "--out", f->dest, NULL};
    double t0 = 0, window = 0;
    for (int k = 0; k < 2; k++) {
        t0 = now_seconds();
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (!freopen("/dev/null", "w", stdout)) _exit(126);
            execv(bin, k ? argv_ref : argv_old);
            _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        window = now_seconds() - t0;
    }
    size_t n_old, n_new;
    unsigned char *b_old = slurp(old_path, &n_old), *b_new = slurp(ref, &n_new);
    assert_non_null(b_old);
    assert_non_null(b_new);

    fl_rng r;
    fl_rng_seed(&r, 77);
    outcome o = {0, 0, 0, 0};
    int trials = 12;
    for (int trial = 0; trial < trials; trial++) {
        copy_file(old_path, f->dest);
        /* The file is written at the end of the run: kill in its second half. */
        double delay = window * (0.5 + 0.6 * fl_rng_uniform(&r));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (!freopen("/dev/null", "w", stdout)) _exit(126);
            execv(bin, argv_new);
            _exit(127);
        }
        sleep_seconds(delay);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status)) {
            assert_int_equal(WEXITSTATUS(status), 0);
            o.finished++;
        }
        classify(f->dest, b_old, n_old, b_new, n_new, &o, trial);
    }
    print_message("crash-safe: %d SIGKILL trials on factorlens train --out: %d old file, %d new "
                  "file, 0 torn\n",
                  trials, o.old_file, o.new_file);
    free(b_old);
    free(b_new);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_library_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_cli_train, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
