/* test_memory.c — memory estimates are checked before allocating: a model
 * too large for the address-space limit is refused with the figures, and
 * nothing is allocated for it (src/core/memory.c, fl_model_alloc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/memory.h"
#include "models/model.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_limits_and_message(void **state) {
    (void)state;
    fl_error err = {0};
    double have = fl_memory_available();
    assert_true(have > 64.0 * 1024 * 1024); /* any machine that runs the suite */
    assert_int_equal(fl_memory_check(have * 0.01, "a small job", &err), FL_OK);
    assert_int_equal(fl_memory_check(have * 4, "the job", &err), FL_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "the job needs "));
    assert_non_null(strstr(err.msg, " GiB of memory but "));
}

/* In a child with RLIMIT_AS at 256 MiB, a model of about 1 GiB (60000 users
 * x 4096 factors) must be refused up front with the figures. The id maps
 * are built before the limit is lowered: under ASan no new mapping can
 * succeed after it, so a refusal proves nothing was allocated first. */
static void test_model_alloc_refused_under_rlimit(void **state) {
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        fl_idmap *users = fl_idmap_new(), *items = fl_idmap_new();
        char id[32];
        uint32_t ix;
        for (int k = 0; k < 60000; k++) {
            int n = snprintf(id, sizeof id, "%d", k);
            if (fl_idmap_intern(users, id, (size_t)n, &ix) != FL_OK) _exit(10);
        }
        if (fl_idmap_intern(items, "i", 1, &ix) != FL_OK) _exit(10);
        fl_params p;
        fl_params_default(&p, FL_MODEL_BIASED);
        p.n_factors = 4096;
        struct rlimit rl = {256u << 20, 256u << 20};
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(11);
        fl_model *m = NULL;
        fl_error err = {0};
        fl_status st = fl_model_alloc(&p, users, items, &m, &err);
        ssize_t w = write(pipefd[1], err.msg, strlen(err.msg));
        (void)w;
        _exit(st == FL_ERR_NOMEM && m == NULL ? 0 : 12);
    }
    close(pipefd[1]);
    char msg[600] = {0};
    size_t got = 0;
    ssize_t r;
    while ((r = read(pipefd[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) fail_msg("child exit %d: '%s'", WEXITSTATUS(status), msg);
    assert_string_equal(msg, "the model needs 0.9 GiB of memory but this process may use only "
                             "0.2 GiB (ulimit -v)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_and_message),
        cmocka_unit_test(test_model_alloc_refused_under_rlimit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
