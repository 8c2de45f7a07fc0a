/* test_ratings_reader.c — the ratings reader on every dialect it claims
 * (tab, "::", CSV with header and CRLF, ';', '|', blanks, gzip), its options
 * (columns, header, skip_bad, duplicates, scale), every rejected line's
 * "name:line:" message, and the real ml-100k / ml-latest-small files. */
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
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmp_dir[64];

static int make_tmp(void **state) {
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fl_test_ratings_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp(void **state) {
    (void)state;
    const char *names[] = {"r.gz", "bad.gz", "big.csv", "plain.csv", "empty.csv", "user.txt"};
    char p[128];
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        snprintf(p, sizeof p, "%s/%s", tmp_dir, names[k]);
        unlink(p);
    }
    rmdir(tmp_dir);
    return 0;
}

static const char *tmp_path(const char *name) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    return p;
}

/* The MovieLens files: $FACTORLENS_DATA, else shared/data beside the
 * project root, as scripts/data-dir finds it without a clone's origin. */
static const char *data_dir(void) {
    static char p[512];
    const char *d = getenv("FACTORLENS_DATA"), *tests = getenv("FL_TEST_DIR");
    if (d && *d) return d;
    if (!tests || !*tests) fail_msg("set FACTORLENS_DATA, or run the tests through ctest");
    snprintf(p, sizeof p, "%s/../../shared/data", tests);
    return p;
}

static fl_dataset *parse_opts(const char *text, const fl_read_opts *o) {
    fl_dataset *d = NULL;
    fl_error err = {0};
    fl_status st = fl_dataset_parse("mem.txt", text, strlen(text), o, &d, &err);
    if (st != FL_OK) fail_msg("parse failed: %s", err.msg);
    assert_non_null(d);
    return d;
}

static fl_dataset *parse(const char *text) { return parse_opts(text, NULL); }

/* Parsing must fail with code, and the message must contain each of the
 * NULL-terminated substrings. */
static void expect_fail(const char *text, const fl_read_opts *o, fl_status code, ...) {
    fl_dataset *d = NULL;
    fl_error err = {0};
    fl_status st = fl_dataset_parse("mem.txt", text, strlen(text), o, &d, &err);
    if (st == FL_OK) fail_msg("expected failure %d, parse succeeded for: %s", code, text);
    assert_null(d);
    assert_int_equal(st, code);
    assert_int_equal(err.code, code);
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(err.msg, s)) fail_msg("message '%s' lacks '%s'", err.msg, s);
    va_end(ap);
}

/* The rating of (user, item), or NAN when absent. */
static float rating_of(const fl_dataset *d, const char *user, const char *item) {
    uint32_t u, i;
    if (!fl_idmap_find(d->user_ids, user, strlen(user), &u) ||
        !fl_idmap_find(d->item_ids, item, strlen(item), &i))
        return NAN;
    for (size_t k = 0; k < d->n_ratings; k++)
        if (d->users[k] == u && d->items[k] == i) return d->ratings[k];
    return NAN;
}

static void check_two(const fl_dataset *d) {
    assert_int_equal(d->n_ratings, 2);
    assert_int_equal(fl_idmap_size(d->user_ids), 2);
    assert_int_equal(fl_idmap_size(d->item_ids), 2);
}

/* ------------------------------------------------------------ dialects */

static void test_tab_ml100k(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    fl_dataset *d = parse_opts("196\t242\t3\t881250949\n186\t302\t3.5\t891717742\n", &o);
    check_two(d);
    assert_float_equal(rating_of(d, "196", "242"), 3.0f, 0);
    assert_float_equal(rating_of(d, "186", "302"), 3.5f, 0);
    assert_non_null(d->times);
    assert_int_equal(d->times[0], 881250949u);
    assert_int_equal(d->times[1], 891717742u);
    assert_string_equal(d->source, "mem.txt");
    assert_float_equal(fl_dataset_mean(d), 3.25f, 1e-6);
    fl_dataset_free(d);
    /* without keep_times no timestamps are stored */
    d = parse("196\t242\t3\t881250949\n");
    assert_null(d->times);
    fl_dataset_free(d);
}

static void test_double_colon(void **state) {
    (void)state;
    fl_dataset *d = parse("1::1193::5::978300760\n1::661::3::978302109\n");
    assert_int_equal(d->n_ratings, 2);
    assert_float_equal(rating_of(d, "1", "1193"), 5.0f, 0);
    assert_float_equal(rating_of(d, "1", "661"), 3.0f, 0);
    fl_dataset_free(d);
}

static void test_csv_header_crlf(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    fl_dataset *d = parse_opts("userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n"
                               "2,3,0.5,964981247\r\n",
                               &o);
    check_two(d);
    assert_float_equal(rating_of(d, "1", "1"), 4.0f, 0);
    assert_float_equal(rating_of(d, "2", "3"), 0.5f, 0);
    assert_int_equal(d->times[1], 964981247u);
    fl_dataset_free(d);
    /* header names decide the column order */
    d = parse("movieId,rating,userId\n10,4.5,7\n11,2,8\n");
    check_two(d);
    assert_float_equal(rating_of(d, "7", "10"), 4.5f, 0);
    assert_float_equal(rating_of(d, "8", "11"), 2.0f, 0);
    fl_dataset_free(d);
    /* a UTF-8 byte order mark does not hide the header */
    d = parse("\xEF\xBB\xBFuser_id;item_id;rating\n1;2;3\n");
    assert_int_equal(d->n_ratings, 1);
    assert_float_equal(rating_of(d, "1", "2"), 3.0f, 0);
    fl_dataset_free(d);
}

static void test_other_separators(void **state) {
    (void)state;
    fl_dataset *d = parse("1;10;4\n2;20;5\n");
    check_two(d);
    assert_float_equal(rating_of(d, "2", "20"), 5.0f, 0);
    fl_dataset_free(d);
    d = parse("1|10|4\n2|20|5\n");
    check_two(d);
    assert_float_equal(rating_of(d, "1", "10"), 4.0f, 0);
    fl_dataset_free(d);
    d = parse("  1   10  4.5\n2 20\t\t5   \n");
    check_two(d);
    assert_float_equal(rating_of(d, "1", "10"), 4.5f, 0);
    assert_float_equal(rating_of(d, "2", "20"), 5.0f, 0);
    fl_dataset_free(d);
    /* an explicit separator overrides detection: ',' inside ids stays */
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.sep = "tab";
    d = parse_opts("a,b\tc,d\t3\n", &o);
    assert_float_equal(rating_of(d, "a,b", "c,d"), 3.0f, 0);
    fl_dataset_free(d);
    o.sep = ";";
    d = parse_opts("a,b;c;3\n", &o);
    assert_float_equal(rating_of(d, "a,b", "c"), 3.0f, 0);
    fl_dataset_free(d);
}

static void test_columns(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.columns = "item,_,user,rating";
    fl_dataset *d = parse_opts("i1,junk,u1,4\ni2,more junk,u2,2\n", &o);
    check_two(d);
    assert_float_equal(rating_of(d, "u1", "i1"), 4.0f, 0);
    assert_float_equal(rating_of(d, "u2", "i2"), 2.0f, 0);
    assert_int_equal(fl_idmap_find(d->user_ids, "i1", 2, NULL), 0);
    fl_dataset_free(d);
    /* columns with a timestamp */
    o.columns = "timestamp,rating,user,item";
    o.keep_times = 1;
    d = parse_opts("100,4,u,i\n", &o);
    assert_int_equal(d->times[0], 100u);
    assert_float_equal(rating_of(d, "u", "i"), 4.0f, 0);
    fl_dataset_free(d);
    /* columns must name user, item and rating, each once */
    o.keep_times = 0;
    o.columns = "user,item";
    expect_fail("1,2,3\n", &o, FL_ERR_USAGE, "--columns", NULL);
    o.columns = "user,item,rating,user";
    expect_fail("1,2,3,4\n", &o, FL_ERR_USAGE, "twice", NULL);
    o.columns = "user,item,stars_given";
    expect_fail("1,2,3\n", &o, FL_ERR_USAGE, "stars_given", NULL);
    /* a line too short for the named columns */
    o.columns = "user,_,_,item,rating";
    expect_fail("1,x,x,2,3\n1,x,x,2\n", &o, FL_ERR_DATA, "mem.txt:2:", "at least 5 fields", NULL);
}

static void test_header_detection(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    /* unknown header names: default order, still skipped (rating not numeric) */
    fl_dataset *d = parse("who,what,how much\n1,2,3\n");
    assert_int_equal(d->n_ratings, 1);
    fl_dataset_free(d);
    /* header = 1 skips a numeric first line */
    o.header = 1;
    d = parse_opts("9,9,9\n1,2,3\n", &o);
    assert_int_equal(d->n_ratings, 1);
    assert_true(isnan(rating_of(d, "9", "9")));
    fl_dataset_free(d);
    /* header = 0 makes a textual first line a bad data line */
    o.header = 0;
    expect_fail("user,item,rating\n1,2,3\n", &o, FL_ERR_DATA, "mem.txt:1:", "not a number", NULL);
    /* a short first line is reported, not swallowed as a header */
    expect_fail("1,2\n1,2,3\n", NULL, FL_ERR_DATA, "mem.txt:1:", "fields", NULL);
}

static void test_quoted_fields(void **state) {
    (void)state;
    fl_dataset *d = parse("\"u,1\",\"i\"\"x\",\"4.5\"\n\"u2\",i2,3\n");
    check_two(d);
    assert_float_equal(rating_of(d, "u,1", "i\"x"), 4.5f, 0);
    assert_float_equal(rating_of(d, "u2", "i2"), 3.0f, 0);
    fl_dataset_free(d);
    expect_fail("1,2,3\n\"open,2,3\n", NULL, FL_ERR_DATA, "mem.txt:2:", "quote", NULL);
}

static void test_empty_lines_and_cr(void **state) {
    (void)state;
    /* blank lines are skipped but still counted */
    fl_dataset *d = parse("\n1\t2\t3\n\n   \n\t\r\n2\t3\t4\n\n");
    check_two(d);
    fl_dataset_free(d);
    expect_fail("1\t2\t3\n\n   \n1\t3\tx\n", NULL, FL_ERR_DATA, "mem.txt:4:", "'x'", NULL);
    /* lone CR (old Mac) and mixed endings */
    d = parse("1,2,3\r1,3,4\r2,2,1\r\n2,3,2\n");
    assert_int_equal(d->n_ratings, 4);
    assert_float_equal(rating_of(d, "1", "3"), 4.0f, 0);
    assert_float_equal(rating_of(d, "2", "3"), 2.0f, 0);
    fl_dataset_free(d);
    expect_fail("1,2,3\r1,3,y\r", NULL, FL_ERR_DATA, "mem.txt:2:", NULL);
    /* no newline at the end */
    d = parse("1,2,3\n4,5,6");
    assert_int_equal(d->n_ratings, 2);
    fl_dataset_free(d);
}

/* ------------------------------------------------------------ bad lines */

static void test_bad_lines(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    expect_fail("1,1,4\n1,2,abc\n", &o, FL_ERR_DATA, "mem.txt:2:", "'abc'", "not a number", NULL);
    expect_fail("1,1,4\n1,2,NaN\n", &o, FL_ERR_DATA, "mem.txt:2:", "not a finite", NULL);
    expect_fail("1,1,4\n1,2,inf\n", &o, FL_ERR_DATA, "mem.txt:2:", "not a finite", NULL);
    expect_fail("1,1,4\n1,2,-Infinity\n", &o, FL_ERR_DATA, "mem.txt:2:", NULL);
    expect_fail("1,1,4\n1,2,1e39\n", &o, FL_ERR_DATA, "mem.txt:2:", "finite", NULL);
    expect_fail("1,1,4\n1,2,0x4\n", &o, FL_ERR_DATA, "mem.txt:2:", NULL);
    expect_fail("1,1,4\n1,2,4 stars\n", &o, FL_ERR_DATA, "mem.txt:2:", NULL);
    expect_fail("1,1,4\n1,2,\n", &o, FL_ERR_DATA, "mem.txt:2:", NULL);
    expect_fail("1,1,4\n1,2\n", &o, FL_ERR_DATA, "mem.txt:2:", "found 2", NULL);
    expect_fail("1,1,4\n,2,3\n", &o, FL_ERR_DATA, "mem.txt:2:", "user id is empty", NULL);
    expect_fail("1,1,4\n1, ,3\n", &o, FL_ERR_DATA, "mem.txt:2:", "item id is empty", NULL);
    expect_fail("1\t1\t4\t5\n1\t2\t3\t-5\n",
                &(fl_read_opts){.header = -1, .keep_times = 1, .scale_lo = 1, .scale_hi = 0},
                FL_ERR_DATA, "mem.txt:2:", "timestamp", NULL);
    {
        static const char nul[] = "1,1,4\n1,2\0,3\n";
        fl_dataset *d = NULL;
        fl_error err = {0};
        assert_int_equal(fl_dataset_parse("mem.txt", nul, sizeof nul - 1, &o, &d, &err),
                         FL_ERR_DATA);
        assert_null(d);
        assert_non_null(strstr(err.msg, "mem.txt:2:"));
        assert_non_null(strstr(err.msg, "NUL"));
    }
    /* negative and large ratings are fine without a scale ... */
    fl_dataset *d = parse_opts("1,1,-2\n1,2,100\n", &o);
    assert_float_equal(rating_of(d, "1", "1"), -2.0f, 0);
    fl_dataset_free(d);
    /* ... and rejected with one */
    o.scale_lo = 1.0f;
    o.scale_hi = 5.0f;
    expect_fail("1,1,4\n1,2,5.5\n", &o, FL_ERR_DATA, "mem.txt:2:", "outside the scale", NULL);
    expect_fail("1,1,4\n1,2,0.5\n", &o, FL_ERR_DATA, "mem.txt:2:", "outside the scale", NULL);
    d = parse_opts("1,1,1\n1,2,5\n", &o);
    assert_int_equal(d->n_ratings, 2);
    fl_dataset_free(d);
    /* ids over 255 bytes, user and item; exactly 255 is fine */
    char line[700];
    char id[300];
    memset(id, '7', 256);
    id[256] = '\0';
    snprintf(line, sizeof line, "1,1,4\n%s,2,3\n", id);
    expect_fail(line, NULL, FL_ERR_DATA, "mem.txt:2:", "user id is longer than 255", NULL);
    snprintf(line, sizeof line, "1,1,4\n2,%s,3\n", id);
    expect_fail(line, NULL, FL_ERR_DATA, "mem.txt:2:", "item id is longer than 255", NULL);
    snprintf(line, sizeof line, "1,1,4\n\"%s\",2,3\n", id);
    expect_fail(line, NULL, FL_ERR_DATA, "mem.txt:2:", "longer than 255", NULL);
    id[255] = '\0';
    snprintf(line, sizeof line, "%s,2,3\n", id);
    d = parse(line);
    assert_string_equal(fl_idmap_name(d->user_ids, 0), id);
    fl_dataset_free(d);
}

static void test_skip_bad(void **state) {
    (void)state;
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.skip_bad = 1;
    fl_dataset *d = parse_opts("1,1,4\n1,2,abc\n1,3\n2,2,nan\n2,3,5\n", &o);
    assert_int_equal(d->n_ratings, 2);
    assert_int_equal(d->n_skipped, 3);
    assert_non_null(strstr(d->first_skipped, "mem.txt:2:"));
    assert_non_null(strstr(d->first_skipped, "abc"));
    assert_float_equal(rating_of(d, "2", "3"), 5.0f, 0);
    fl_dataset_free(d);
    /* nothing but bad lines is still an error, and says so */
    expect_fail("1,1,4\n",
                &(fl_read_opts){.skip_bad = 1, .header = 0, .scale_lo = 5, .scale_hi = 5},
                FL_ERR_DATA, "no ratings", "malformed", "mem.txt:1:", NULL);
}

static void test_duplicates(void **state) {
    (void)state;
    const char *text = "1,1,4,10\n1,2,3,11\n2,1,2,12\n1,1,5,9\n1,1,3,13\n";
    fl_read_opts o;
    fl_read_opts_default(&o);
    expect_fail(text, &o, FL_ERR_DATA, "mem.txt:4:", "first at line 1", "'1'", NULL);
    o.duplicates = FL_DUP_LAST;
    o.keep_times = 1;
    fl_dataset *d = parse_opts(text, &o);
    assert_int_equal(d->n_ratings, 3);
    assert_float_equal(rating_of(d, "1", "1"), 3.0f, 0);
    assert_float_equal(rating_of(d, "1", "2"), 3.0f, 0);
    assert_float_equal(rating_of(d, "2", "1"), 2.0f, 0);
    fl_dataset_free(d);
    o.duplicates = FL_DUP_MEAN;
    d = parse_opts(text, &o);
    assert_int_equal(d->n_ratings, 3);
    assert_float_equal(rating_of(d, "1", "1"), 4.0f, 1e-6);
    for (size_t k = 0; k < d->n_ratings; k++)
        if (d->users[k] == 0 && d->items[k] == 0) assert_int_equal(d->times[k], 13u);
    fl_dataset_free(d);
    o.duplicates = FL_DUP_KEEP;
    d = parse_opts(text, &o);
    assert_int_equal(d->n_ratings, 5);
    fl_dataset_free(d);
    /* many users and long runs go through the heap-sort path */
    size_t cap = 1 << 20, len = 0;
    char *big = malloc(cap);
    for (int u = 0; u < 50; u++)
        for (int i = 0; i < 100; i++)
            len +=
                (size_t)snprintf(big + len, cap - len, "%d,%d,%d\n", u, (i * 37) % 100, 1 + i % 5);
    len += (size_t)snprintf(big + len, cap - len, "7,42,1\n");
    o.duplicates = FL_DUP_ERROR;
    expect_fail(big, &o, FL_ERR_DATA, "mem.txt:5001:", "user '7'", "item '42'", NULL);
    o.duplicates = FL_DUP_LAST;
    d = parse_opts(big, &o);
    assert_int_equal(d->n_ratings, 5000);
    assert_float_equal(rating_of(d, "7", "42"), 1.0f, 0);
    fl_dataset_free(d);
    free(big);
    /* each user's ratings together (no permutation needed): the lines are
     * still named right past a header, blank lines and a skipped line */
    const char *grouped = "user,item,rating\n1,1,4\n\n1,2,3\n2,5,1\n2,6,2\n\n2,5,3\n3,1,1\n";
    fl_read_opts_default(&o);
    expect_fail(grouped, &o, FL_ERR_DATA, "mem.txt:8:", "first at line 5", "user '2'", "item '5'",
                NULL);
    o.skip_bad = 1;
    expect_fail("1,1,4\n2,5,1\n2,oops\n2,6,2\n2,5,2\n", &o, FL_ERR_DATA, "mem.txt:5:",
                "first at line 2", NULL);
    o.skip_bad = 0;
    o.duplicates = FL_DUP_LAST;
    d = parse_opts(grouped, &o);
    assert_int_equal(d->n_ratings, 5);
    assert_float_equal(rating_of(d, "2", "5"), 3.0f, 0);
    fl_dataset_free(d);
}

typedef struct read_progress {
    int calls, stop_at;
    uint64_t last, total;
} read_progress;

static int on_read(void *ctx, uint64_t done, uint64_t total) {
    read_progress *r = ctx;
    assert_true(done >= r->last);
    r->last = done, r->total = total;
    return ++r->calls == r->stop_at;
}

static void test_big_ids(void **state) {
    (void)state;
    fl_dataset *d = parse("18446744073709551615,9223372036854775807,4\n"
                          "18446744073709551614,00042,3\n");
    assert_string_equal(fl_idmap_name(d->user_ids, 0), "18446744073709551615");
    assert_string_equal(fl_idmap_name(d->user_ids, 1), "18446744073709551614");
    assert_string_equal(fl_idmap_name(d->item_ids, 0), "9223372036854775807");
    assert_string_equal(fl_idmap_name(d->item_ids, 1), "00042"); /* ids are strings */
    fl_dataset_free(d);
}

/* ------------------------------------------------------------ files */

static void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_empty_and_header_only(void **state) {
    (void)state;
    expect_fail("", NULL, FL_ERR_DATA, "mem.txt", "empty", NULL);
    expect_fail("\n\r\n  \n", NULL, FL_ERR_DATA, "mem.txt", "empty", NULL);
    expect_fail("userId,movieId,rating,timestamp\r\n", NULL, FL_ERR_DATA, "mem.txt", "header",
                "no ratings", NULL);
    write_file(tmp_path("empty.csv"), "", 0);
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_read(tmp_path("empty.csv"), NULL, &d, &err), FL_ERR_DATA);
    assert_null(d);
    assert_non_null(strstr(err.msg, "empty.csv"));
    assert_non_null(strstr(err.msg, "empty"));
}

static void test_missing_and_directory(void **state) {
    (void)state;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_read(tmp_path("no-such-file.csv"), NULL, &d, &err), FL_ERR_IO);
    assert_null(d);
    assert_non_null(strstr(err.msg, "no-such-file.csv"));
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(fl_dataset_read(tmp_dir, NULL, &d, &err), FL_ERR_IO);
    assert_null(d);
    assert_non_null(strstr(err.msg, tmp_dir));
    assert_non_null(strstr(err.msg, "directory"));
}

static void test_plain_file_and_name(void **state) {
    (void)state;
    const char *text = "1,1,4\n1,2,x\n";
    write_file(tmp_path("plain.csv"), text, strlen(text));
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_read(tmp_path("plain.csv"), NULL, &d, &err), FL_ERR_DATA);
    char want[160];
    snprintf(want, sizeof want, "%s:2:", tmp_path("plain.csv"));
    assert_non_null(strstr(err.msg, want));
}

static void test_gzip(void **state) {
    (void)state;
    const char *text = "userId,movieId,rating,timestamp\r\n1,10,4.0,100\r\n2,20,3.5,200\r\n";
    gzFile g = gzopen(tmp_path("r.gz"), "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
    assert_int_equal(gzclose(g), Z_OK);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    fl_dataset *d = NULL;
    fl_error err = {0};
    assert_int_equal(fl_dataset_read(tmp_path("r.gz"), &o, &d, &err), FL_OK);
    check_two(d);
    assert_float_equal(rating_of(d, "2", "20"), 3.5f, 0);
    assert_int_equal(d->times[1], 200u);
    fl_dataset_free(d);
    /* a truncated gzip stream is reported, not silently cut short */
    FILE *f = fopen(tmp_path("r.gz"), "rb");
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 20);
    write_file(tmp_path("bad.gz"), buf, n - 12);
    d = NULL;
    fl_status st = fl_dataset_read(tmp_path("bad.gz"), &o, &d, &err);
    assert_int_not_equal(st, FL_OK);
    assert_null(d);
    assert_non_null(strstr(err.msg, "bad.gz"));
}

/* A file larger than the reader's 8 MiB buffer with CRLF endings, so lines
 * (and CR/LF pairs) straddle buffer boundaries. */
static void test_big_file(void **state) {
    (void)state;
    enum { N = 800000 };
    FILE *f = fopen(tmp_path("big.csv"), "wb");
    assert_non_null(f);
    fprintf(f, "user,item,rating,timestamp\r\n");
    double sum = 0;
    for (int k = 0; k < N; k++) {
        int r = 1 + (k * 7) % 5;
        sum += r;
        fprintf(f, "user%d,item%d,%d,%d\r\n", k / 40, k % 40 + (k / 40) % 13, r, 1000000 + k);
    }
    assert_int_equal(fclose(f), 0);
    struct stat sb;
    assert_int_equal(stat(tmp_path("big.csv"), &sb), 0);
    assert_true(sb.st_size > (8 << 20));
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = 1;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_dataset_read(tmp_path("big.csv"), &o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    assert_int_equal(d->n_ratings, N);
    assert_int_equal(fl_idmap_size(d->user_ids), N / 40);
    assert_float_equal(fl_dataset_mean(d), sum / N, 1e-5);
    for (size_t k = 0; k < d->n_ratings; k++)
        if (d->times[k] != 1000000u + k) fail_msg("time of rating %zu is %u", k, d->times[k]);
    fl_dataset_free(d);
    /* the progress hook sees the bytes read grow to the file's size, and
     * stops the reading when it returns nonzero */
    read_progress rp = {0};
    o.progress = on_read, o.progress_ctx = &rp;
    assert_int_equal(fl_dataset_read(tmp_path("big.csv"), &o, &d, &err), FL_OK);
    fl_dataset_free(d);
    assert_true(rp.calls > 1);
    assert_int_equal(rp.total, (uint64_t)sb.st_size);
    assert_int_equal(rp.last, (uint64_t)sb.st_size);
    rp = (read_progress){.stop_at = 2};
    d = NULL;
    assert_int_equal(fl_dataset_read(tmp_path("big.csv"), &o, &d, &err), FL_ERR_CANCELLED);
    assert_null(d);
    o.progress = NULL;
    /* a line longer than the first buffer (1 MiB) but within the limit */
    f = fopen(tmp_path("big.csv"), "wb");
    assert_non_null(f);
    fprintf(f, "1,1,4\n1,2,3,");
    for (int k = 0; k < (3 << 20) / 64; k++)
        fputs("1111111111111111111111111111111111111111111111111111111111111111", f);
    fputs("\n2,1,5\n", f);
    assert_int_equal(fclose(f), 0);
    o.keep_times = 0;
    if (fl_dataset_read(tmp_path("big.csv"), &o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    assert_int_equal(d->n_ratings, 3);
    assert_float_equal(rating_of(d, "2", "1"), 5.0f, 0);
    fl_dataset_free(d);
    o.keep_times = 1;
    /* one line longer than the buffer is refused with its line number */
    f = fopen(tmp_path("big.csv"), "wb");
    assert_non_null(f);
    fprintf(f, "1,1,4\n1,2,");
    for (int k = 0; k < (9 << 20) / 64; k++)
        fputs("3333333333333333333333333333333333333333333333333333333333333333", f);
    fputs("\n", f);
    assert_int_equal(fclose(f), 0);
    d = NULL;
    assert_int_equal(fl_dataset_read(tmp_path("big.csv"), &o, &d, &err), FL_ERR_DATA);
    assert_null(d);
    assert_non_null(strstr(err.msg, "big.csv:2: line is longer than"));
    unlink(tmp_path("big.csv"));
}

/* ------------------------------------------------------------ ratings far from the rest */

/* n lines "u<k>\ti<k>\t<values[k % n_values]>", then extra. */
static char *ratings_text(size_t n, const char *const *values, size_t n_values,
                          const char *extra) {
    size_t cap = n * 32 + strlen(extra) + 1, used = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (size_t k = 0; k < n; k++)
        used += (size_t)snprintf(t + used, cap - used, "u%zu\ti%zu\t%s\n", k, k,
                                 values[k % n_values]);
    snprintf(t + used, cap - used, "%s", extra);
    return t;
}

static fl_dataset *parse_text(char *text, const fl_read_opts *o) {
    fl_dataset *d = parse_opts(text, o);
    free(text);
    return d;
}

/* Without --scale every finite rating is kept, but a few far from the range
 * the rest of the file uses (a -3 among 1-5 stars) are counted and the first
 * is named, for the CLI to warn about; common values at the ends of a scale
 * are never taken for such. */
static void test_outside_usual_range(void **state) {
    (void)state;
    static const char *const stars[] = {"1", "2", "3", "4", "5", "3", "4"};
    fl_dataset *d = parse_text(ratings_text(20, stars, 7, "x\ty\t-3\n"), NULL);
    assert_int_equal(d->n_ratings, 21);
    assert_int_equal(d->n_outside, 1);
    assert_true(d->usual_lo == 1.0f && d->usual_hi == 5.0f);
    if (!strstr(d->first_outside, "mem.txt:21: rating -3"))
        fail_msg("first_outside: '%s'", d->first_outside);
    fl_dataset_free(d);

    /* Zeros among 1-5 stars (a missing rating written as 0), a few 50s. */
    d = parse_text(ratings_text(1000, stars, 7, "x\ty\t0\nx\tz\t50\ny\ty\t0\n"), NULL);
    assert_int_equal(d->n_outside, 3);
    if (!strstr(d->first_outside, "mem.txt:1001: rating 0"))
        fail_msg("first_outside: '%s'", d->first_outside);
    fl_dataset_free(d);

    /* Not outside: a rare value one step beyond the rest (5 in a 1-4 file,
     * 0.5 in a half-star file), a tiny file, a centred scale used evenly, a
     * continuous one, and anything when --scale is given. */
    static const char *const four[] = {"1", "2", "3", "4"};
    d = parse_text(ratings_text(1000, four, 4, "x\ty\t5\n"), NULL);
    assert_int_equal(d->n_outside, 0);
    fl_dataset_free(d);
    static const char *const halves[] = {"1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"};
    d = parse_text(ratings_text(1000, halves, 9, "x\ty\t0.5\n"), NULL);
    assert_int_equal(d->n_outside, 0);
    fl_dataset_free(d);
    d = parse_text(ratings_text(4, four, 4, "x\ty\t-3\n"), NULL);
    assert_int_equal(d->n_outside, 0);
    fl_dataset_free(d);
    static const char *const centred[] = {"-2", "-1", "0", "1", "2"};
    d = parse_text(ratings_text(1000, centred, 5, ""), NULL);
    assert_int_equal(d->n_outside, 0);
    fl_dataset_free(d);
    char cont[4000][16];
    const char *cv[4000];
    for (int k = 0; k < 4000; k++) {
        snprintf(cont[k], sizeof cont[k], "%.3f", -10 + k * 0.005);
        cv[k] = cont[k];
    }
    d = parse_text(ratings_text(4000, cv, 4000, "x\ty\t-99\n"), NULL);
    assert_int_equal(d->n_outside, 0);
    fl_dataset_free(d);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.scale_lo = -5, o.scale_hi = 5;
    d = parse_text(ratings_text(20, stars, 7, "x\ty\t-3\n"), &o);
    assert_int_equal(d->n_outside, 0);
    fl_dataset_free(d);
}

/* ------------------------------------------------------------ real data */

static fl_dataset *read_real(const char *rel, int keep_times) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir(), rel);
    if (access(path, R_OK) != 0)
        fail_msg("%s is missing: set FACTORLENS_DATA to the directory holding ml-100k/ and "
                 "ml-latest-small/",
                 path);
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.keep_times = keep_times;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_dataset_read(path, &o, &d, &err) != FL_OK) fail_msg("%s", err.msg);
    return d;
}

static void test_real_ml100k(void **state) {
    (void)state;
    fl_dataset *d = read_real("ml-100k/u.data", 1);
    assert_int_equal(d->n_ratings, 100000);
    assert_int_equal(fl_idmap_size(d->user_ids), 943);
    assert_int_equal(fl_idmap_size(d->item_ids), 1682);
    assert_float_equal(fl_dataset_mean(d), 3.52986f, 1e-4);
    uint32_t lo = UINT32_MAX, hi = 0;
    size_t fives = 0;
    for (size_t k = 0; k < d->n_ratings; k++) {
        if (d->times[k] < lo) lo = d->times[k];
        if (d->times[k] > hi) hi = d->times[k];
        fives += d->ratings[k] == 5.0f;
    }
    assert_int_equal(lo, 874724710u);
    assert_int_equal(hi, 893286638u);
    assert_int_equal(fives, 21201);
    assert_int_equal(d->n_outside, 0);
    /* the first line of u.data is "196 242 3 881250949" */
    assert_string_equal(fl_idmap_name(d->user_ids, d->users[0]), "196");
    assert_string_equal(fl_idmap_name(d->item_ids, d->items[0]), "242");
    assert_int_equal(d->times[0], 881250949u);
    fl_dataset_free(d);
}

static void test_real_latest_small(void **state) {
    (void)state;
    fl_dataset *d = read_real("ml-latest-small/ratings.csv", 1);
    assert_int_equal(d->n_ratings, 100836);
    assert_int_equal(fl_idmap_size(d->user_ids), 610);
    assert_int_equal(fl_idmap_size(d->item_ids), 9724);
    size_t halves = 0;
    for (size_t k = 0; k < d->n_ratings; k++) halves += d->ratings[k] == 0.5f;
    assert_int_equal(halves, 1370);
    assert_int_equal(d->n_outside, 0);
    assert_int_equal(d->times[0], 964982703u);
    fl_dataset_free(d);
}

/* ------------------------------------------------------------ one user's file */

/* Reads text as one user's ratings ("me"); NULL and the message on failure. */
static fl_dataset *read_user(const char *text, const fl_read_opts *o, fl_error *err) {
    write_file(tmp_path("user.txt"), text, strlen(text));
    fl_dataset *d = NULL;
    if (fl_dataset_read_user(tmp_path("user.txt"), "me", o, &d, err) != FL_OK) return NULL;
    return d;
}

static void test_one_user(void **state) {
    (void)state;
    fl_error err = {0};
    /* Comma, tab, blanks; a header naming the columns in either order;
     * blank lines, CRLF and quoted ids; file order kept. */
    const char *ok[] = {"50,5\n172,4.5\n", "50\t5\n172\t4.5\n", "  50   5\n\n172 4.5\r\n",
                        "item,rating\n50,5\n172,4.5\n", "rating,movieId\n5,50\n4.5,172\n",
                        "\"50\",5\n\"172\",\"4.5\"\n"};
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        fl_dataset *d = read_user(ok[k], NULL, &err);
        if (!d) fail_msg("'%s': %s", ok[k], err.msg);
        assert_int_equal(d->n_ratings, 2);
        assert_int_equal(fl_idmap_size(d->user_ids), 1);
        assert_string_equal(fl_idmap_name(d->user_ids, 0), "me");
        assert_string_equal(fl_idmap_name(d->item_ids, d->items[0]), "50");
        assert_true(d->ratings[0] == 5.0f && d->ratings[1] == 4.5f);
        assert_string_equal(fl_idmap_name(d->item_ids, d->items[1]), "172");
        fl_dataset_free(d);
    }
    /* Bad lines name file:line; an item twice names both lines. */
    char want[160];
    const char *bad[][2] = {{"50,5\n172\n", ":2: expected at least 2 fields"},
                            {"50,5\n172,x\n", ":2: rating 'x' is not a number"},
                            {"item,rating\n50,5\n,4\n", ":3: item id is empty"},
                            {"50,5\n50,4\n", ":2: item '50' again (first at line 1)"},
                            {"", "is empty"},
                            {"item,rating\n", "has a header line but no ratings"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_null(read_user(bad[k][0], NULL, &err));
        assert_int_equal(err.code, FL_ERR_DATA);
        snprintf(want, sizeof want, "%s%s", bad[k][1][0] == ':' ? tmp_path("user.txt") : "",
                 bad[k][1]);
        if (!strstr(err.msg, want)) fail_msg("'%s': message '%s' lacks '%s'", bad[k][0], err.msg, want);
    }
    /* A scale refuses ratings outside it, by line. */
    fl_read_opts o;
    fl_read_opts_default(&o);
    o.scale_lo = 1, o.scale_hi = 5;
    assert_null(read_user("50,5\n172,6\n", &o, &err));
    assert_non_null(strstr(err.msg, ":2: rating 6 is outside the scale 1..5"));
    /* Columns name item and rating, never a user. */
    o.columns = "rating,item";
    fl_dataset *d = read_user("4,50\n", &o, &err);
    assert_non_null(d);
    assert_string_equal(fl_idmap_name(d->item_ids, d->items[0]), "50");
    fl_dataset_free(d);
    o.columns = "user,item,rating";
    assert_null(read_user("1,50,4\n", &o, &err));
    assert_int_equal(err.code, FL_ERR_USAGE);
    assert_int_equal(fl_dataset_read_user(tmp_path("user.txt"), "", NULL, &d, &err), FL_ERR_USAGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tab_ml100k),
        cmocka_unit_test(test_double_colon),
        cmocka_unit_test(test_csv_header_crlf),
        cmocka_unit_test(test_other_separators),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_header_detection),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_empty_lines_and_cr),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_skip_bad),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_big_ids),
        cmocka_unit_test(test_empty_and_header_only),
        cmocka_unit_test(test_missing_and_directory),
        cmocka_unit_test(test_plain_file_and_name),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_big_file),
        cmocka_unit_test(test_outside_usual_range),
        cmocka_unit_test(test_real_ml100k),
        cmocka_unit_test(test_real_latest_small),
        cmocka_unit_test(test_one_user),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
