/* test_items.c — side information: u.item (Latin-1 -> UTF-8, genre flags named
 * by a neighbouring u.genre or the standard list), movies.csv (quoting, CRLF,
 * years from titles), movies.dat, u.user, their error messages, and the real
 * ml-100k and ml-latest-small files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "factorlens.h"

#include "data/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[64];

static int make_tmp(void **state) {
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fl_test_items_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static const char *tmp_names[] = {"u.item", "movies.csv", "movies.dat", "u.user", "odd.txt"};

static int remove_tmp(void **state) {
    (void)state;
    char p[128];
    for (size_t k = 0; k < sizeof tmp_names / sizeof *tmp_names; k++) {
        snprintf(p, sizeof p, "%s/%s", tmp_dir, tmp_names[k]);
        unlink(p);
    }
    rmdir(tmp_dir);
    return 0;
}

static const char *tmp_file(const char *name, const char *text) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return p;
}

static const char *test_file(const char *rel) {
    static char p[512];
    const char *dir = getenv("FL_TEST_DIR");
    if (!dir || !*dir) fail_msg("FL_TEST_DIR is not set; run the tests through ctest");
    snprintf(p, sizeof p, "%s/data/%s", dir, rel);
    return p;
}

/* The MovieLens files: $FACTORLENS_DATA, else shared/data beside the
 * project root, as scripts/data-dir finds it without a clone's origin. */
static const char *real_file(const char *rel) {
    static char p[512];
    const char *dir = getenv("FACTORLENS_DATA"), *tests = getenv("FL_TEST_DIR");
    if (dir && *dir)
        snprintf(p, sizeof p, "%s/%s", dir, rel);
    else if (tests && *tests)
        snprintf(p, sizeof p, "%s/../../shared/data/%s", tests, rel);
    else
        fail_msg("set FACTORLENS_DATA, or run the tests through ctest");
    if (access(p, R_OK) != 0)
        fail_msg("%s is missing: set FACTORLENS_DATA to the directory holding ml-100k/ and "
                 "ml-latest-small/",
                 p);
    return p;
}

static fl_items *items_ok(const char *path) {
    fl_items *it = NULL;
    fl_error err = {0};
    if (fl_items_read(path, &it, &err) != FL_OK) fail_msg("%s", err.msg);
    assert_non_null(it);
    assert_int_equal(fl_idmap_size(it->ids), it->n);
    for (uint32_t k = 0; k < it->n; k++)
        if (!fl_is_utf8(it->titles[k], strlen(it->titles[k])))
            fail_msg("title %u ('%s') is not UTF-8", k, it->titles[k]);
    return it;
}

/* fl_items_read(path) must fail with code and a message containing want. */
static void items_fail(const char *path, fl_status code, const char *want) {
    fl_items *it = NULL;
    fl_error err = {0};
    fl_status st = fl_items_read(path, &it, &err);
    if (st == FL_OK) fail_msg("%s: expected an error containing '%s'", path, want);
    assert_null(it);
    assert_int_equal(st, code);
    if (!strstr(err.msg, want)) fail_msg("message '%s' lacks '%s'", err.msg, want);
}

/* assert_string_equal on a NULL title would crash instead of failing */
#define assert_title(it, id, want)                                                                 \
    do {                                                                                           \
        const char *t_ = fl_items_title((it), (id));                                               \
        if (!t_) fail_msg("item %s has no title", (id));                                           \
        assert_string_equal(t_, (want));                                                           \
    } while (0)

static uint32_t row_of(const fl_items *it, const char *id) {
    uint32_t r;
    if (!fl_idmap_find(it->ids, id, strlen(id), &r)) fail_msg("item %s not found", id);
    return r;
}

static int genre_index(const fl_items *it, const char *name) {
    for (int g = 0; g < it->n_genres; g++)
        if (strcmp(it->genre_names[g], name) == 0) return g;
    fail_msg("genre %s not found", name);
    return -1;
}

/* ------------------------------------------------------------ u.item */

static void test_uitem_with_genre_file(void **state) {
    (void)state;
    fl_items *it = items_ok(test_file("uitem3/u.item"));
    assert_int_equal(it->n, 4);
    assert_int_equal(it->n_genres, 3); /* from u.genre beside it, not the standard 19 */
    assert_string_equal(it->genre_names[0], "Drama");
    assert_string_equal(it->genre_names[2], "Horror");
    assert_title(it, "1", "Toy Story (1995)");
    assert_title(it, "2", "Caf\xC3\xA9 au lait (1993)");
    assert_title(it, "4", "Les Mis\xC3\xA9rables (1995)");
    assert_null(fl_items_title(it, "5"));
    assert_int_equal(it->years[row_of(it, "1")], 1995);
    assert_int_equal(it->years[row_of(it, "2")], 1993);
    assert_int_equal(it->years[row_of(it, "3")], 0);    /* "unknown", no date */
    assert_int_equal(it->years[row_of(it, "4")], 1995); /* no date: from the title */
    assert_int_equal(it->genres[row_of(it, "1")], 2u);
    assert_int_equal(it->genres[row_of(it, "2")], 5u);
    assert_int_equal(it->genres[row_of(it, "3")], 0u);
    assert_int_equal(it->genres[row_of(it, "4")], 7u);
    fl_items_free(it);
}

static const char flags19[] = "|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|1";

static void test_uitem_standard_genres(void **state) {
    (void)state;
    char text[512];
    snprintf(text, sizeof text,
             "7|Caf\xE9 (1990)|01-Feb-1990||http://x%s\r\n"
             "8|Plain (1991)|02-Mar-1991||%s\r\n",
             flags19, flags19);
    fl_items *it = items_ok(tmp_file("u.item", text));
    assert_int_equal(it->n, 2);
    assert_int_equal(it->n_genres, 19);
    assert_string_equal(it->genre_names[0], "unknown");
    assert_string_equal(it->genre_names[4], "Children's");
    assert_string_equal(it->genre_names[18], "Western");
    assert_title(it, "7", "Caf\xC3\xA9 (1990)");
    assert_int_equal(it->genres[0], (1u << 8) | (1u << 18));
    assert_int_equal(it->genres[0],
                     1u << genre_index(it, "Drama") | 1u << genre_index(it, "Western"));
    fl_items_free(it);
    /* a u.item already in UTF-8 is not encoded twice */
    snprintf(text, sizeof text, "7|Caf\xC3\xA9 (1990)|01-Feb-1990||%s\n", flags19);
    it = items_ok(tmp_file("u.item", text));
    assert_title(it, "7", "Caf\xC3\xA9 (1990)");
    fl_items_free(it);
}

static void test_uitem_errors(void **state) {
    (void)state;
    char text[512], want[160];
    snprintf(text, sizeof text, "1|A (1990)|01-Jan-1990||%s\n2|B (1990)|01-Jan-1990|%s\n", flags19,
             flags19);
    const char *p = tmp_file("u.item", text);
    snprintf(want, sizeof want, "%s:2:", p);
    items_fail(p, FL_ERR_DATA, want);
    items_fail(p, FL_ERR_DATA, "expected 24");
    snprintf(text, sizeof text, "1|A (1990)|1990-01-01||%s\n", flags19);
    items_fail(tmp_file("u.item", text), FL_ERR_DATA, "release date '1990-01-01'");
    snprintf(text, sizeof text, "1|A (1990)|01-Jan-1990||%s\n",
             "|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|2");
    items_fail(tmp_file("u.item", text), FL_ERR_DATA, "Western");
    snprintf(text, sizeof text, "1|A (1990)|01-Jan-1990||%s\n\n1|B|||%s\n", flags19, flags19);
    items_fail(tmp_file("u.item", text), FL_ERR_DATA,
               ":3: item id '1' appears again (first at line 1)");
}

/* ------------------------------------------------------------ movies.csv */

static void test_movies_csv(void **state) {
    (void)state;
    fl_items *it = items_ok(test_file("movies.csv"));
    assert_int_equal(it->n, 6);
    assert_title(it, "11", "American President, The (1995)");
    assert_title(it, "99", "The \"Quoted\" One, Part 2 (2001)");
    assert_title(it, "150", "Am\xC3\xA9lie (Fabuleux destin d'Am\xC3\xA9lie Poulain  Le) (2001)");
    assert_title(it, "140", "Babylon 5");
    assert_int_equal(it->years[row_of(it, "1")], 1995);
    assert_int_equal(it->years[row_of(it, "99")], 2001);
    assert_int_equal(it->years[row_of(it, "140")], 0);
    assert_int_equal(it->years[row_of(it, "150")], 2001);
    assert_int_equal(it->genres[row_of(it, "140")], 0u); /* (no genres listed) */
    assert_int_equal(it->genres[row_of(it, "12")],
                     1u << genre_index(it, "Comedy") | 1u << genre_index(it, "Horror"));
    assert_int_equal(it->n_genres, 8);
    assert_string_equal(it->genre_names[0], "Adventure");
    fl_items_free(it);
}

static void test_movies_csv_quoting_edge_cases(void **state) {
    (void)state;
    /* no header, a quoted empty field, a quoted line break, a final line without newline */
    fl_items *it = items_ok(
        tmp_file("movies.csv", "5,\"Two\nLines (1999)\",Drama\n6,\"\",\n7,Last (2000),Drama"));
    assert_int_equal(it->n, 3);
    assert_title(it, "5", "Two\nLines (1999)");
    assert_title(it, "6", "");
    assert_int_equal(it->years[row_of(it, "7")], 2000);
    fl_items_free(it);
    /* the header's order wins */
    it = items_ok(tmp_file("movies.csv", "title,genres,movieId\r\nX (1980),Drama,42\r\n"));
    assert_title(it, "42", "X (1980)");
    fl_items_free(it);
}

static void test_movies_csv_errors(void **state) {
    (void)state;
    char want[160];
    const char *p =
        tmp_file("movies.csv", "movieId,title,genres\n1,A (1990),Drama\n2,\"Open (1991),Drama\n");
    snprintf(want, sizeof want, "%s:3:", p);
    items_fail(p, FL_ERR_DATA, want);
    items_fail(p, FL_ERR_DATA, "unterminated");
    items_fail(tmp_file("movies.csv", "movieId,title,genres\n1,Comma, The (1990),Drama\n"),
               FL_ERR_DATA, ":2: expected 3 comma-separated fields, found 4");
    items_fail(tmp_file("movies.csv", "movieId,title,genres\n1,\"A\"x,Drama\n"), FL_ERR_DATA,
               ":2: text after a closing quote");
    items_fail(tmp_file("movies.csv", "movieId,title,genres\r\n"), FL_ERR_DATA, "no movies");
    items_fail(tmp_file("movies.csv", ""), FL_ERR_DATA, "empty");
    items_fail(tmp_file("movies.csv", "movieId,title,genres\n1,A,Drama\n1,B,Drama\n"), FL_ERR_DATA,
               ":3: item id '1' appears again (first at line 2)");
    items_fail(tmp_file("odd.txt", "just some words\n"), FL_ERR_DATA, "not a u.item");
    items_fail("/nonexistent/movies.csv", FL_ERR_IO, "/nonexistent/movies.csv");
}

static void test_movies_dat(void **state) {
    (void)state;
    fl_items *it =
        items_ok(tmp_file("movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                        "73::Mis\xE9rables, Les (1995)::Drama|Musical\n"));
    assert_int_equal(it->n, 2);
    assert_title(it, "73", "Mis\xC3\xA9rables, Les (1995)");
    assert_int_equal(it->years[1], 1995);
    assert_int_equal(it->n_genres, 5);
    fl_items_free(it);
    items_fail(tmp_file("movies.dat", "1::A::Drama\n2::B\n"), FL_ERR_DATA, ":2: expected 3 '::'");
}

/* ------------------------------------------------------------ u.user */

static void test_users(void **state) {
    (void)state;
    fl_users *us = NULL;
    fl_error err = {0};
    if (fl_users_read(test_file("u.user"), &us, &err) != FL_OK) fail_msg("%s", err.msg);
    assert_int_equal(us->n, 3);
    assert_int_equal(us->ages[0], 24);
    assert_int_equal(us->genders[0], 'M');
    assert_int_equal(us->genders[1], 'F');
    assert_int_equal(us->genders[2], '?');
    assert_string_equal(us->occupations[2], "writer");
    assert_string_equal(us->zips[1], "94043");
    assert_string_equal(fl_idmap_name(us->ids, 2), "3");
    fl_users_free(us);
    /* ml-1m users.dat swaps gender and age */
    const char *p = tmp_file("u.user", "1::F::1::10::48067\r\n2::M::56::16::70072\r\n");
    assert_int_equal(fl_users_read(p, &us, &err), FL_OK);
    assert_int_equal(us->ages[1], 56);
    assert_int_equal(us->genders[0], 'F');
    assert_string_equal(us->occupations[1], "16");
    fl_users_free(us);

    p = tmp_file("u.user", "1|24|M|technician|85711\n2|old|F|other|94043\n");
    assert_int_equal(fl_users_read(p, &us, &err), FL_ERR_DATA);
    assert_null(us);
    assert_non_null(strstr(err.msg, "u.user:2: age 'old'"));
    p = tmp_file("u.user", "1|24|M|technician\n");
    assert_int_equal(fl_users_read(p, &us, &err), FL_ERR_DATA);
    assert_non_null(strstr(err.msg, "u.user:1: expected 5"));
    p = tmp_file("u.user", "1|24|M|a|1\n1|25|F|b|2\n");
    assert_int_equal(fl_users_read(p, &us, &err), FL_ERR_DATA);
    assert_non_null(strstr(err.msg, ":2: user id '1' appears again"));
    p = tmp_file("u.user", "\n\n");
    assert_int_equal(fl_users_read(p, &us, &err), FL_ERR_DATA);
    assert_non_null(strstr(err.msg, "no users"));
    assert_int_equal(fl_users_read(tmp_dir, &us, &err), FL_ERR_IO);
}

/* ------------------------------------------------------------ real data */

static void test_real_uitem(void **state) {
    (void)state;
    fl_items *it = items_ok(real_file("ml-100k/u.item"));
    assert_int_equal(it->n, 1682);
    assert_int_equal(it->n_genres, 19);
    assert_string_equal(it->genre_names[0], "unknown");
    assert_string_equal(it->genre_names[18], "Western");
    assert_title(it, "1", "Toy Story (1995)");
    assert_int_equal(it->years[row_of(it, "1")], 1995);
    /* Toy Story: Animation, Children's, Comedy */
    assert_int_equal(it->genres[row_of(it, "1")], (1u << 3) | (1u << 4) | (1u << 5));
    int accented = 0;
    for (uint32_t k = 0; k < it->n; k++)
        accented += strstr(it->titles[k], "Mis\xC3\xA9rables") != NULL;
    assert_true(accented >= 1);
    fl_items_free(it);
}

static void test_real_movies_csv(void **state) {
    (void)state;
    fl_items *it = items_ok(real_file("ml-latest-small/movies.csv"));
    assert_int_equal(it->n, 9742);
    assert_title(it, "1", "Toy Story (1995)");
    assert_title(it, "11", "American President, The (1995)");
    assert_int_equal(it->years[row_of(it, "1")], 1995);
    assert_true(it->n_genres >= 19 && it->n_genres <= 20);
    assert_non_null(fl_items_title(it, "193609"));
    fl_items_free(it);
}

static void test_real_uuser(void **state) {
    (void)state;
    fl_users *us = NULL;
    fl_error err = {0};
    if (fl_users_read(real_file("ml-100k/u.user"), &us, &err) != FL_OK) fail_msg("%s", err.msg);
    assert_int_equal(us->n, 943);
    assert_int_equal(us->ages[0], 24);
    assert_string_equal(us->occupations[0], "technician");
    for (uint32_t k = 0; k < us->n; k++)
        assert_true(us->genders[k] == 'M' || us->genders[k] == 'F');
    fl_users_free(us);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uitem_with_genre_file),
        cmocka_unit_test(test_uitem_standard_genres),
        cmocka_unit_test(test_uitem_errors),
        cmocka_unit_test(test_movies_csv),
        cmocka_unit_test(test_movies_csv_quoting_edge_cases),
        cmocka_unit_test(test_movies_csv_errors),
        cmocka_unit_test(test_movies_dat),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_real_uitem),
        cmocka_unit_test(test_real_movies_csv),
        cmocka_unit_test(test_real_uuser),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
