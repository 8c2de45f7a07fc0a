/* test_download.c — fl_fetch against a local HTTP server serving zips built
 * at test time from the real ml-100k files: a good archive is unpacked,
 * verified and then served from the cache offline; corrupt, truncated,
 * resized and path-escaping archives, HTTP errors and dead ports are refused
 * with the right status and leave nothing in the cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/digest.h"
#include "factorlens.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CAP 4096

typedef struct env {
    char data[CAP];   /* real datasets: $FACTORLENS_DATA or ../../shared/data */
    char helpers[CAP];/* tests/download */
    char work[64];    /* scratch: zips, www root, caches */
    pid_t server;
    char base[128];   /* http://127.0.0.1:<port> of the live server */
    int dead_sock;    /* bound, never listening: connections are refused */
    char dead[128];
} env;

/* ---------------------------------------------------------------- helpers */

/* snprintf that fails the test instead of truncating a path. */
__attribute__((format(printf, 3, 4))) static void pathf(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap) fail_msg("path too long for its buffer");
}

static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[CAP];
            pathf(p, sizeof p, "%s/%s", path, e->d_name);
            remove_tree(p);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Entries in dir other than . and ..; -1 if it cannot be opened. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void file_sha(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fl_sha256 *h = fl_sha256_begin();
    assert_non_null(h);
    char buf[1 << 15];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fl_sha256_update(h, buf, n);
    fclose(f);
    fl_sha256_end(h, hex);
}

static void new_cache(const env *e, const char *tag, char *out, size_t cap) {
    pathf(out, cap, "%s/cache-%s", e->work, tag);
    assert_int_equal(mkdir(out, 0755), 0);
}

static fl_status fetch(const char *name, const char *cache, const char *base, char *dir,
                       size_t dir_len, fl_error *err) {
    fl_download_opts o = {0};
    o.cache_dir = cache;
    o.base_url = base;
    o.timeout_seconds = 10;
    memset(err, 0, sizeof *err);
    return fl_fetch(name, &o, dir, dir_len, err);
}

#define EXPECT_STATUS(st, want, err)                                                        \
    do {                                                                                   \
        if ((st) != (want))                                                                \
            fail_msg("status %s, wanted %s: %s", fl_status_name(st), fl_status_name(want), \
                     (err).msg);                                                           \
    } while (0)

static int run(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts serve.py on a kernel-chosen port and waits until it reports it. */
static int start_server(env *e, const char *root) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    char script[CAP];
    pathf(script, sizeof script, "%s/serve.py", e->helpers);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", script, root, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) return -1;
    e->server = pid;
    char line[32] = "";
    size_t used = 0;
    struct pollfd p = {fds[0], POLLIN, 0};
    while (used + 1 < sizeof line && !memchr(line, '\n', used) && poll(&p, 1, 15000) > 0) {
        ssize_t r = read(fds[0], line + used, sizeof line - 1 - used);
        if (r <= 0) break;
        used += (size_t)r;
        line[used] = '\0';
    }
    close(fds[0]);
    int port = atoi(line);
    if (port <= 0) return -1;
    pathf(e->base, sizeof e->base, "http://127.0.0.1:%d", port);
    return 0;
}

static void stop_server(env *e) {
    if (e->server > 0) {
        kill(e->server, SIGTERM);
        waitpid(e->server, NULL, 0);
        e->server = 0;
    }
}

/* ---------------------------------------------------------------- fixture */

static int setup_env(env *e) {
    const char *tests = getenv("FL_TEST_DIR");
    char here[CAP];
    if (!tests) {
        pathf(here, sizeof here, "%s", __FILE__);
        tests = dirname(here);
    }
    pathf(e->helpers, sizeof e->helpers, "%s/download", tests);
    const char *data = getenv("FACTORLENS_DATA");
    if (data && data[0]) pathf(e->data, sizeof e->data, "%s", data);
    else pathf(e->data, sizeof e->data, "%s/../../shared/data", tests);
    char probe[CAP];
    pathf(probe, sizeof probe, "%s/ml-100k/u.data", e->data);
    if (!exists(probe)) {
        fprintf(stderr, "test_download: no ml-100k under '%s': set FACTORLENS_DATA\n", e->data);
        return -1;
    }
    /* fl_fetch consults these; the tests set them explicitly where needed. */
    unsetenv("FACTORLENS_DATA");
    unsetenv("XDG_CACHE_HOME");
    const char *proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                             "all_proxy", "ALL_PROXY"};
    for (size_t k = 0; k < sizeof proxies / sizeof *proxies; k++) unsetenv(proxies[k]);
    setenv("no_proxy", "127.0.0.1,localhost", 1);

    pathf(e->work, sizeof e->work, "/tmp/fl_download_XXXXXX");
    if (!mkdtemp(e->work)) return -1;
    char script[CAP], www[CAP];
    pathf(script, sizeof script, "%s/make_zips.py", e->helpers);
    pathf(www, sizeof www, "%s/www", e->work);
    char *argv[] = {"python3", script, e->data, www, NULL};
    if (run(argv) != 0) {
        fprintf(stderr, "test_download: %s failed\n", script);
        return -1;
    }
    if (start_server(e, www) != 0) {
        fprintf(stderr, "test_download: cannot start %s/serve.py\n", e->helpers);
        return -1;
    }

    e->dead_sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (e->dead_sock < 0 || bind(e->dead_sock, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(e->dead_sock, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    pathf(e->dead, sizeof e->dead, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return 0;
}

static int group_teardown(void **state) {
    env *e = *state;
    if (!e) return 0;
    stop_server(e);
    if (e->dead_sock >= 0) close(e->dead_sock);
    if (e->work[0]) remove_tree(e->work);
    free(e);
    return 0;
}

/* On failure nothing is left running or on disk: cmocka skips the teardown. */
static int group_setup(void **state) {
    env *e = calloc(1, sizeof *e);
    if (!e) return -1;
    e->dead_sock = -1;
    *state = e;
    if (setup_env(e) == 0) return 0;
    group_teardown(state);
    *state = NULL;
    return -1;
}

/* ---------------------------------------------------------------- arguments */

static void test_names(void **state) {
    const char *const *names = fl_dataset_names();
    int has_100k = 0, has_small = 0, n = 0;
    for (; names[n]; n++) {
        has_100k |= !strcmp(names[n], "ml-100k");
        has_small |= !strcmp(names[n], "ml-latest-small");
    }
    assert_true(has_100k && has_small);
    assert_int_equal(n, 2); /* only datasets whose checksums we know */
}

static void test_unknown_name(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP];
    fl_error err;
    new_cache(e, "unknown", cache, sizeof cache);
    fl_status st = fetch("ml-1b", cache, e->base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_ERR_USAGE, err);
    assert_non_null(strstr(err.msg, "ml-1b"));
    assert_non_null(strstr(err.msg, "ml-100k"));
    assert_non_null(strstr(err.msg, "ml-latest-small"));
    st = fetch(NULL, cache, e->base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_ERR_USAGE, err);
    assert_int_equal(count_entries(cache), 0);
}

static void test_dir_too_small(void **state) {
    env *e = *state;
    char cache[CAP], dir[8];
    fl_error err;
    new_cache(e, "small", cache, sizeof cache);
    fl_status st = fetch("ml-100k", cache, e->base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_ERR_USAGE, err);
    st = fetch("ml-100k", cache, e->base, NULL, 0, &err);
    EXPECT_STATUS(st, FL_ERR_USAGE, err);
    assert_int_equal(count_entries(cache), 0); /* refused before downloading */
}

static void test_factorlens_data(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP], want[CAP];
    fl_error err;
    new_cache(e, "envdata", cache, sizeof cache);
    setenv("FACTORLENS_DATA", e->data, 1);
    fl_status st = fetch("ml-100k", cache, e->dead, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);
    pathf(want, sizeof want, "%s/ml-100k", e->data);
    assert_string_equal(dir, want);
    st = fetch("ml-latest-small", cache, e->dead, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);

    /* A FACTORLENS_DATA without the dataset falls through to the network. */
    setenv("FACTORLENS_DATA", e->work, 1);
    st = fetch("ml-100k", cache, e->dead, dir, sizeof dir, &err);
    unsetenv("FACTORLENS_DATA");
    EXPECT_STATUS(st, FL_ERR_NETWORK, err);
    assert_int_equal(count_entries(cache), 0);
}

/* ---------------------------------------------------------------- refusals */

static void expect_refused(env *e, const char *variant, fl_status want, const char *needle,
                           const char *needle2) {
    char cache[CAP], dir[CAP], base[256];
    fl_error err;
    new_cache(e, variant, cache, sizeof cache);
    pathf(base, sizeof base, "%s/%s", e->base, variant);
    fl_status st = fetch("ml-100k", cache, base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, want, err);
    if (!strstr(err.msg, needle)) fail_msg("message lacks '%s': %s", needle, err.msg);
    if (needle2 && !strstr(err.msg, needle2)) fail_msg("message lacks '%s': %s", needle2, err.msg);
    if (count_entries(cache) != 0) fail_msg("%s left files in the cache", variant);
}

static void test_corrupt(void **state) {
    env *e = *state;
    expect_refused(e, "corrupt", FL_ERR_DATA, "ml-100k.zip: u.data has SHA-256 ",
                   " but 06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490 was "
                   "expected: the download is corrupt");
}

static void test_truncated(void **state) {
    expect_refused(*state, "truncated", FL_ERR_DATA, "ml-100k.zip", "truncated");
}

static void test_wrong_size(void **state) {
    expect_refused(*state, "wrongsize", FL_ERR_DATA, "u.data", "1979173");
}

static void test_escaping_entry(void **state) {
    env *e = *state;
    expect_refused(e, "evil", FL_ERR_DATA, "escaped.txt", NULL);
    char p[CAP];
    pathf(p, sizeof p, "%s/escaped.txt", e->work);
    assert_false(exists(p));
}

static void test_http_404(void **state) {
    expect_refused(*state, "nothing-here", FL_ERR_NETWORK, "HTTP 404", NULL);
}

static void test_unreachable(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP], url[256];
    fl_error err;
    new_cache(e, "dead", cache, sizeof cache);
    fl_status st = fetch("ml-100k", cache, e->dead, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_ERR_NETWORK, err);
    pathf(url, sizeof url, "cannot download %s/ml-100k.zip: ", e->dead);
    if (!strstr(err.msg, url) || !strstr(err.msg, "offline"))
        fail_msg("unclear message: %s", err.msg);
    assert_int_equal(count_entries(cache), 0);
}

static int cancel_at_first_bytes(void *ctx, double done, double total) {
    int *calls = ctx;
    ++*calls;
    return done > 0;
}

static void test_cancelled(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP], base[256];
    fl_error err = {0};
    int calls = 0;
    new_cache(e, "cancel", cache, sizeof cache);
    pathf(base, sizeof base, "%s/good", e->base);
    fl_download_opts o = {.cache_dir = cache, .base_url = base, .progress = cancel_at_first_bytes,
                          .ctx = &calls};
    fl_status st = fl_fetch("ml-100k", &o, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_ERR_CANCELLED, err);
    assert_true(calls > 0);
    assert_int_equal(count_entries(cache), 0);
}

/* ---------------------------------------------------------------- successes */

static void expect_verified_copy(const env *e, const char *name, const char *dir) {
    char src_dir[CAP];
    pathf(src_dir, sizeof src_dir, "%s/%s", e->data, name);
    DIR *d = opendir(src_dir);
    assert_non_null(d);
    struct dirent *ent;
    int n = 0;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        char a[CAP], b[CAP], ha[65], hb[65];
        pathf(a, sizeof a, "%s/%s", src_dir, ent->d_name);
        pathf(b, sizeof b, "%s/%s", dir, ent->d_name);
        file_sha(a, ha);
        file_sha(b, hb);
        assert_string_equal(ha, hb);
        n++;
    }
    closedir(d);
    assert_true(n >= 5);
}

static void test_latest_small(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP], base[256], want[CAP];
    fl_error err;
    new_cache(e, "latest", cache, sizeof cache);
    pathf(base, sizeof base, "%s/good/", e->base); /* a trailing slash is fine */
    fl_status st = fetch("ml-latest-small", cache, base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);
    pathf(want, sizeof want, "%s/ml-latest-small", cache);
    assert_string_equal(dir, want);
    expect_verified_copy(e, "ml-latest-small", dir);
    assert_int_equal(count_entries(cache), 1);
}

static void test_xdg_default(void **state) {
    env *e = *state;
    char xdg[CAP], dir[CAP], base[256], want[CAP];
    fl_error err = {0};
    pathf(xdg, sizeof xdg, "%s/xdg", e->work);
    pathf(base, sizeof base, "%s/good", e->base);
    setenv("XDG_CACHE_HOME", xdg, 1);
    fl_download_opts o = {.base_url = base};
    fl_status st = fl_fetch("ml-100k", &o, dir, sizeof dir, &err);
    unsetenv("XDG_CACHE_HOME");
    EXPECT_STATUS(st, FL_OK, err);
    pathf(want, sizeof want, "%s/factorlens/ml-100k", xdg);
    assert_string_equal(dir, want);
}

/* Several processes fetching into one empty cache all succeed, and exactly
 * one complete copy remains. */
static void test_concurrent(void **state) {
    env *e = *state;
    char cache[CAP], base[256], want[CAP];
    new_cache(e, "concurrent", cache, sizeof cache);
    pathf(base, sizeof base, "%s/good", e->base);
    pathf(want, sizeof want, "%s/ml-100k", cache);
    enum { N = 3 };
    pid_t kids[N];
    for (int k = 0; k < N; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            char dir[CAP];
            fl_error err;
            fl_status st = fetch("ml-100k", cache, base, dir, sizeof dir, &err);
            if (st != FL_OK) fprintf(stderr, "child %d: %s\n", k, err.msg);
            _exit(st == FL_OK && strcmp(dir, want) == 0 ? 0 : 1);
        }
    }
    for (int k = 0; k < N; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(count_entries(cache), 1);
    expect_verified_copy(e, "ml-100k", want);
}

/* A cache entry that is not complete (damaged by hand, or from an older
 * checksum table) is replaced, not trusted. */
static void test_damaged_cache_replaced(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP], base[256], p[CAP];
    fl_error err;
    new_cache(e, "damaged", cache, sizeof cache);
    pathf(base, sizeof base, "%s/good", e->base);
    fl_status st = fetch("ml-100k", cache, base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);
    pathf(p, sizeof p, "%s/u.item", dir);
    assert_int_equal(unlink(p), 0);
    st = fetch("ml-100k", cache, e->dead, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_ERR_NETWORK, err); /* not served from the broken copy */
    st = fetch("ml-100k", cache, base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);
    assert_true(exists(p));
    assert_int_equal(count_entries(cache), 1);

    pathf(p, sizeof p, "%s/.factorlens-verified", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("from another version\n", f);
    fclose(f);
    st = fetch("ml-100k", cache, base, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);
    assert_int_equal(count_entries(cache), 1);
    st = fetch("ml-100k", cache, e->dead, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err); /* the marker is right again */
}

static int count_progress(void *ctx, double done, double total) {
    double *last = ctx;
    if (done < *last) return 1; /* must not go backwards */
    *last = done;
    return 0;
}

/* Runs last: it stops the server to prove the second fetch is offline. */
static void test_good_then_cache(void **state) {
    env *e = *state;
    char cache[CAP], dir[CAP], base[256], want[CAP], p[CAP];
    fl_error err = {0};
    double last = 0;
    new_cache(e, "good", cache, sizeof cache);
    pathf(base, sizeof base, "%s/good", e->base);
    fl_download_opts o = {.cache_dir = cache, .base_url = base, .progress = count_progress,
                          .ctx = &last};
    fl_status st = fl_fetch("ml-100k", &o, dir, sizeof dir, &err);
    EXPECT_STATUS(st, FL_OK, err);
    assert_true(last > 1e6); /* progress saw the whole zip */
    pathf(want, sizeof want, "%s/ml-100k", cache);
    assert_string_equal(dir, want);
    expect_verified_copy(e, "ml-100k", dir);
    pathf(p, sizeof p, "%s/allbut.pl", dir);
    assert_false(exists(p)); /* only the files we know are kept */
    pathf(p, sizeof p, "%s/.factorlens-verified", dir);
    assert_true(exists(p));
    assert_int_equal(count_entries(cache), 1); /* no temp files left */

    stop_server(e);
    char exact[CAP];
    size_t need = strlen(want) + 1;
    st = fetch("ml-100k", cache, base, exact, need, &err);
    EXPECT_STATUS(st, FL_OK, err);
    assert_string_equal(exact, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_unknown_name),
        cmocka_unit_test(test_dir_too_small),
        cmocka_unit_test(test_factorlens_data),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_size),
        cmocka_unit_test(test_escaping_entry),
        cmocka_unit_test(test_http_404),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_latest_small),
        cmocka_unit_test(test_xdg_default),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_damaged_cache_replaced),
        cmocka_unit_test(test_good_then_cache),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
