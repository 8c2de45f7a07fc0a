/* test_reader_threads.c — reading a ratings file on one or several threads
 * gives the dataset the general line-by-line reader gives (fl_dataset_parse
 * of the same bytes), byte for byte (ids and their indices in
 * first-appearance order, arrays, times, messages, tallies), and the same
 * error naming the same line, on every shape of file: many users and items
 * in random order, ids that are not numbers, a header, CRLF, "::", a bad
 * line late in the file, an empty file, ranges cut inside lines, fewer
 * lines than threads. Where the file has the fast shape, the ranged reader
 * itself (not the general path it falls back to) must have read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "factorlens.h"
#include "data/ratings_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int thread_counts[] = {1, 2, 3, 4, 7, 16};
#define N_COUNTS (sizeof thread_counts / sizeof *thread_counts)

static char path[64];

static int make_file(void **state) {
    (void)state;
    snprintf(path, sizeof path, "/tmp/fl_test_reader_threads_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int remove_file(void **state) {
    (void)state;
    unlink(path);
    return 0;
}

static void write_text(const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* base, or the defaults without one. */
static fl_read_opts opts_from(const fl_read_opts *base) {
    fl_read_opts o;
    if (base)
        o = *base;
    else
        fl_read_opts_default(&o);
    return o;
}

static fl_status read_with(int threads, const fl_read_opts *base, fl_dataset **d, fl_error *err) {
    fl_read_opts o = opts_from(base);
    o.n_threads = threads;
    *d = NULL;
    memset(err, 0, sizeof *err);
    return fl_dataset_read(path, &o, d, err);
}

static void same_ids(const fl_idmap *a, const fl_idmap *b) {
    assert_int_equal(fl_idmap_size(a), fl_idmap_size(b));
    for (uint32_t k = 0; k < fl_idmap_size(a); k++)
        assert_string_equal(fl_idmap_name(a, k), fl_idmap_name(b, k));
}

static void same_dataset(const fl_dataset *a, const fl_dataset *b) {
    assert_int_equal(a->n_ratings, b->n_ratings);
    size_t n = a->n_ratings;
    assert_memory_equal(a->users, b->users, n * sizeof *a->users);
    assert_memory_equal(a->items, b->items, n * sizeof *a->items);
    assert_memory_equal(a->ratings, b->ratings, n * sizeof *a->ratings);
    assert_int_equal(a->times == NULL, b->times == NULL);
    if (a->times) assert_memory_equal(a->times, b->times, n * sizeof *a->times);
    same_ids(a->user_ids, b->user_ids);
    same_ids(a->item_ids, b->item_ids);
    assert_int_equal(a->n_skipped, b->n_skipped);
    assert_string_equal(a->first_skipped, b->first_skipped);
    assert_string_equal(a->source, b->source);
    assert_int_equal(a->n_outside, b->n_outside);
    assert_memory_equal(&a->usual_lo, &b->usual_lo, sizeof a->usual_lo);
    assert_memory_equal(&a->usual_hi, &b->usual_hi, sizeof a->usual_hi);
    assert_string_equal(a->first_outside, b->first_outside);
    assert_string_equal(a->sep, b->sep);
    for (int r = 0; r < 4; r++) assert_string_equal(a->header[r], b->header[r]);
}

/* The file through the general path: fl_dataset_parse of its bytes under
 * its own name, so messages and the source read the same. */
static fl_status read_general(const fl_read_opts *base, fl_dataset **d, fl_error *err) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        size_t got = fread(text + len, 1, cap - len, f);
        if (got == 0) break;
        len += got;
    }
    fclose(f);
    fl_read_opts o = opts_from(base);
    o.progress = NULL;
    *d = NULL;
    memset(err, 0, sizeof *err);
    fl_status st = fl_dataset_parse(path, text, len, &o, d, err);
    free(text);
    return st;
}

/* Reads the file the general way and with each count of thread_counts: the
 * same dataset, or the same error. Returns the status; *msg (if given)
 * gets its message. */
static fl_status check_all_counts(const fl_read_opts *o, char *msg, size_t msg_len) {
    fl_dataset *one, *many;
    fl_error e1, e2;
    fl_status s1 = read_general(o, &one, &e1);
    for (size_t c = 0; c < N_COUNTS; c++) {
        fl_status s2 = read_with(thread_counts[c], o, &many, &e2);
        assert_int_equal(s1, s2);
        if (s1 == FL_OK)
            same_dataset(one, many);
        else
            assert_string_equal(e1.msg, e2.msg);
        fl_dataset_free(many);
    }
    if (msg) {
        size_t n = strlen(e1.msg) < msg_len ? strlen(e1.msg) : msg_len - 1;
        memcpy(msg, s1 == FL_OK ? "" : e1.msg, s1 == FL_OK ? 1 : n);
        msg[s1 == FL_OK ? 0 : n] = 0;
    }
    fl_dataset_free(one);
    return s1;
}

/* Whether the ranged reader (not the general path) reads the file with
 * `threads` threads. */
static int ranged(int threads, const fl_read_opts *base) {
    fl_read_opts o;
    if (base)
        o = *base;
    else
        fl_read_opts_default(&o);
    o.n_threads = threads;
    fl_dataset *d = NULL;
    fl_error err = {0};
    fl_status st = FL_OK;
    uint64_t reported;
    int taken = fl_ratings_read_ranges(path, &o, &d, &st, &reported, &err);
    fl_dataset_free(d);
    return taken && st == FL_OK;
}

static uint64_t next(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* n lines of users and items in random order: user and item values drawn
 * from wide ranges so that many first appear in every range. */
static char *random_ratings(size_t n, const char *sep, int with_time, uint64_t seed, size_t *len) {
    size_t cap = n * 48 + 64, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (size_t l = 0; l < n; l++) {
        unsigned u = (unsigned)(next(&seed) % 5000), i = (unsigned)(next(&seed) % 3000);
        unsigned half = (unsigned)(next(&seed) % 10);
        k += (size_t)snprintf(t + k, cap - k, "%u%s%u%s%u.%u", u, sep, i, sep, half / 2 + 1,
                              half % 2 ? 5 : 0);
        if (with_time)
            k += (size_t)snprintf(t + k, cap - k, "%s%u", sep, 900000000u + (unsigned)next(&seed));
        t[k++] = '\n';
    }
    *len = k;
    return t;
}

static void test_random_order(void **state) {
    (void)state;
    size_t len;
    char *t = random_ratings(60000, "\t", 1, 42, &len);
    write_text(t, len);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.duplicates = FL_DUP_LAST; /* random pairs repeat */
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    o.keep_times = 1;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    assert_true(ranged(1, &o));
    assert_true(ranged(2, &o));
    assert_true(ranged(7, &o));
    /* Repeated pairs as an error: the same two lines named. */
    o.duplicates = FL_DUP_ERROR;
    char msg[256];
    assert_int_equal(check_all_counts(&o, msg, sizeof msg), FL_ERR_DATA);
    assert_non_null(strstr(msg, "again"));
    free(t);
}

/* Users kept together (the usual export): the repeated-pair check runs per
 * range; a run crossing ranges with its item repeated across the cuts is
 * found as one thread finds it, and merged alike. */
/* 400 users kept together, one of them with 12,000 ratings (a run crossing
 * ranges); with repeat, that user's first item again as its last. */
static void write_grouped(int repeat) {
    size_t cap = 40000 * 24, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (int u = 0; u < 400; u++) {
        int n = u == 150 ? 12000 : 60;
        for (int i = 0; i < n; i++) {
            int item = ((repeat && u == 150 && i == n - 1 ? 0 : i) * 7919 + u) % 20000;
            k += (size_t)snprintf(t + k, cap - k, "%d,%d,%d\n", 1000 + u * 3, item, i % 5 + 1);
        }
    }
    write_text(t, k);
    free(t);
}

static void test_grouped_repeats(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    write_grouped(0);
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    assert_true(ranged(2, &o));
    write_grouped(1);
    char msg[256];
    assert_int_equal(check_all_counts(&o, msg, sizeof msg), FL_ERR_DATA);
    assert_non_null(strstr(msg, "user '1450' rated item '150' again"));
    o.duplicates = FL_DUP_MEAN;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    o.duplicates = FL_DUP_LAST;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
}

static void test_ids_not_numbers(void **state) {
    (void)state;
    const char *t = "u1,i9,4\nu2,i9,3\nu1,i7,5\n007,8,1\n7,08,2\nu3,i1,2\n";
    write_text(t, strlen(t));
    assert_int_equal(check_all_counts(NULL, NULL, 0), FL_OK);
    assert_false(ranged(1, NULL)); /* the general path reads these */
    assert_false(ranged(2, NULL));
    /* "007" and "7" are different ids, in any thread count. */
    const char *n = "7,1,4\n007,1,3\n07,2,5\n7,2,1\n";
    write_text(n, strlen(n));
    assert_int_equal(check_all_counts(NULL, NULL, 0), FL_OK);
}

static void test_header_crlf(void **state) {
    (void)state;
    const char *t = "userId,movieId,rating,timestamp\r\n1,31,2.5,1260759144\r\n1,1029,3.0,"
                    "1260759179\r\n2,10,4.0,835355493\r\n3,31,0.5,1298861675\r\n1,1061,3.0,"
                    "1260759182\r\n";
    write_text(t, strlen(t));
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    assert_true(ranged(3, &o));
    fl_dataset *d;
    fl_error err;
    assert_int_equal(read_with(3, &o, &d, &err), FL_OK);
    assert_int_equal(d->n_ratings, 5);
    assert_string_equal(d->header[2], "rating");
    assert_int_equal(d->times[4], 1260759182u);
    assert_string_equal(fl_idmap_name(d->item_ids, 2), "10");
    fl_dataset_free(d);
}

static void test_double_colon(void **state) {
    (void)state;
    size_t len;
    char *t = random_ratings(5000, "::", 1, 7, &len);
    write_text(t, len);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.duplicates = FL_DUP_MEAN;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    assert_true(ranged(4, &o));
    free(t);
}

static void test_bad_line_late(void **state) {
    (void)state;
    size_t len;
    char *t = random_ratings(20000, " ", 0, 3, &len);
    /* Line 15001's rating becomes "4x": its message names that line. */
    size_t at = 0;
    for (int l = 0; l < 15000; l++) at = (size_t)(strchr(t + at, '\n') - t) + 1;
    char *nl = strchr(t + at, '\n');
    nl[-1] = 'x';
    write_text(t, len);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.duplicates = FL_DUP_KEEP;
    char msg[256];
    assert_int_equal(check_all_counts(&o, msg, sizeof msg), FL_ERR_DATA);
    assert_non_null(strstr(msg, ":15001: rating"));
    /* Skipped instead: the same count and message, the same ratings. */
    o.skip_bad = 1;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    /* A blank line late in the file: no message, the same dataset. */
    nl[-1] = '\n';
    write_text(t, len);
    o.skip_bad = 0;
    assert_int_equal(check_all_counts(&o, NULL, 0), FL_OK);
    free(t);
}

static void test_empty_and_header_only(void **state) {
    (void)state;
    char msg[256];
    write_text("", 0);
    assert_int_equal(check_all_counts(NULL, msg, sizeof msg), FL_ERR_DATA);
    assert_non_null(strstr(msg, "is empty"));
    write_text("user,item,rating\n", 17);
    assert_int_equal(check_all_counts(NULL, msg, sizeof msg), FL_ERR_DATA);
    assert_non_null(strstr(msg, "header line but no ratings"));
}

/* Byte ranges are cut at size * t / n and moved to the next line start:
 * lines of very different lengths put the cuts inside lines, and a file
 * without a last newline ends inside the last range. */
static void test_cuts_inside_lines(void **state) {
    (void)state;
    char t[4096];
    size_t k = 0;
    for (int l = 0; l < 60; l++)
        k +=
            (size_t)snprintf(t + k, sizeof t - k, "%d,%d,%d,%s\n", l % 2 ? 123456789 - l : l, l * 7,
                             l % 5 + 1, l % 3 ? "x" : "a-much-longer-column-that-is-skipped");
    t[--k] = '\0'; /* no newline after the last line */
    write_text(t, k);
    assert_int_equal(check_all_counts(NULL, NULL, 0), FL_OK);
    assert_true(ranged(7, NULL));
    assert_true(ranged(16, NULL));
}

static void test_fewer_lines_than_threads(void **state) {
    (void)state;
    write_text("5 6 3\n", 6);
    assert_int_equal(check_all_counts(NULL, NULL, 0), FL_OK);
    assert_true(ranged(16, NULL));
    write_text("5 6 3\n9 6 1", 11);
    assert_int_equal(check_all_counts(NULL, NULL, 0), FL_OK);
    assert_true(ranged(4, NULL));
}

/* Lines the fast path must leave to the general path, anywhere in a file:
 * each gives the same result as one thread. */
static void test_unusual_lines(void **state) {
    (void)state;
    static const char *lines[] = {
        "1,2,\"3\"",
        "1, 2,3",
        "1,2,3 ",
        "+1,2,3",
        "1,2,-3",
        "1,2,3e0",
        "1,2,0x3",
        "1,2,",
        "1,2",
        "1,2,3\r4,5,1",
        "1,2,nan",
        "1,2,3,\"x",
        "\xEF\xBB\xBF"
        "1,2,3",
        "1,2,12345678901234567890",
        "1234567890,2,3",
        "1,2,3,4,5,6,7,8,9",
    };
    for (size_t l = 0; l < sizeof lines / sizeof *lines; l++) {
        char t[512];
        int n = snprintf(t, sizeof t, "7,8,4\n9,8,2\n%s\n9,1,5\n7,3,1\n", lines[l]);
        write_text(t, (size_t)n);
        check_all_counts(NULL, NULL, 0);
        fl_read_opts o;
        fl_read_opts_default(&o);
        o.skip_bad = 1;
        check_all_counts(&o, NULL, 0);
        o.skip_bad = 0;
        o.scale_lo = 1, o.scale_hi = 4;
        check_all_counts(&o, NULL, 0);
    }
}

/* A few ratings far outside the rest, in later ranges: the same count and
 * the same first line as one thread finds. */
static void test_far_ratings(void **state) {
    (void)state;
    size_t cap = 3000 * 24, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (int l = 0; l < 3000; l++)
        k += (size_t)snprintf(t + k, cap - k, "%d,%d,%s\n", l / 7, l % 7 + 3 * (l / 7),
                              l == 1700 || l == 2900 ? "40"
                              : l % 3                ? "4"
                                                     : "2.5");
    write_text(t, k);
    free(t);
    assert_int_equal(check_all_counts(NULL, NULL, 0), FL_OK);
    assert_true(ranged(4, NULL));
    fl_dataset *d;
    fl_error err;
    assert_int_equal(read_with(4, NULL, &d, &err), FL_OK);
    assert_int_equal(d->n_outside, 2);
    assert_non_null(strstr(d->first_outside, ":1701: rating 40"));
    fl_dataset_free(d);
}

/* The progress hook sees growing byte counts up to the file's size, and
 * stopping it cancels the read. */
typedef struct seen {
    uint64_t last, total;
    int calls, stop_at;
} seen;

static int watch(void *ctx, uint64_t done, uint64_t total) {
    seen *s = ctx;
    assert_true(done >= s->last);
    assert_true(done <= total);
    s->last = done, s->total = total;
    return ++s->calls == s->stop_at;
}

static void test_progress(void **state) {
    (void)state;
    size_t len;
    char *t = random_ratings(400000, " ", 0, 5, &len);
    write_text(t, len);
    free(t);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.duplicates = FL_DUP_KEEP;
    seen s = {0};
    o.progress = watch, o.progress_ctx = &s;
    fl_dataset *d;
    fl_error err;
    assert_int_equal(read_with(2, &o, &d, &err), FL_OK);
    fl_dataset_free(d);
    assert_true(s.calls > 0);
    assert_int_equal(s.total, len);
    /* A blank line late: the ranged reader gives up part-way and the
     * general path reads the file again; the counts still only grow. */
    t = random_ratings(400000, " ", 0, 5, &len);
    for (char *c = strchr(t + len - 2000, '\n') + 1; *c != '\n'; c++) *c = ' ';
    write_text(t, len);
    free(t);
    seen again = {0};
    o.progress_ctx = &again;
    assert_int_equal(read_with(2, &o, &d, &err), FL_OK);
    fl_dataset_free(d);
    assert_true(again.calls > 0);
    fl_read_opts quiet = o;
    quiet.progress = NULL;
    assert_false(ranged(2, &quiet));
    seen stop = {.stop_at = 1};
    o.progress_ctx = &stop;
    assert_int_equal(read_with(2, &o, &d, &err), FL_ERR_CANCELLED);
    assert_null(d);
    assert_non_null(strstr(err.msg, "cancelled"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_order),
        cmocka_unit_test(test_grouped_repeats),
        cmocka_unit_test(test_ids_not_numbers),
        cmocka_unit_test(test_header_crlf),
        cmocka_unit_test(test_double_colon),
        cmocka_unit_test(test_bad_line_late),
        cmocka_unit_test(test_empty_and_header_only),
        cmocka_unit_test(test_cuts_inside_lines),
        cmocka_unit_test(test_fewer_lines_than_threads),
        cmocka_unit_test(test_unusual_lines),
        cmocka_unit_test(test_far_ratings),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, make_file, remove_file);
}
