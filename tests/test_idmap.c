/* test_idmap.c — raw id <-> dense index maps: interning, lookup, names,
 * length limits, growth through many rehashes, deep copies, and decimal ids
 * (answered from a table by value) getting the same indices as any other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "factorlens.h"
#include "data/idmap.h"

#include <stdio.h>
#include <string.h>

static uint32_t intern(fl_idmap *m, const char *s) {
    uint32_t k = UINT32_MAX;
    assert_int_equal(fl_idmap_intern(m, s, strlen(s), &k), FL_OK);
    return k;
}

static void test_basic(void **state) {
    (void)state;
    fl_idmap *m = fl_idmap_new();
    assert_non_null(m);
    assert_int_equal(fl_idmap_size(m), 0);
    assert_int_equal(intern(m, "196"), 0);
    assert_int_equal(intern(m, "242"), 1);
    assert_int_equal(intern(m, "196"), 0); /* known id keeps its index */
    assert_int_equal(intern(m, ""), 2);    /* the empty string is an id like any other */
    assert_int_equal(fl_idmap_size(m), 3);
    assert_string_equal(fl_idmap_name(m, 0), "196");
    assert_string_equal(fl_idmap_name(m, 1), "242");
    assert_string_equal(fl_idmap_name(m, 2), "");
    assert_null(fl_idmap_name(m, 3));
    uint32_t k = 99;
    assert_int_equal(fl_idmap_find(m, "242", 3, &k), 1);
    assert_int_equal(k, 1);
    assert_int_equal(fl_idmap_find(m, "24", 2, &k), 0);
    assert_int_equal(fl_idmap_find(m, "2420", 4, &k), 0);
    /* length-delimited: a longer buffer whose prefix is a known id */
    assert_int_equal(fl_idmap_find(m, "196abc", 3, &k), 1);
    assert_int_equal(k, 0);
    fl_idmap_free(m);
}

static void test_limits(void **state) {
    (void)state;
    fl_idmap *m = fl_idmap_new();
    char id[300];
    memset(id, 'x', sizeof id);
    uint32_t k;
    assert_int_equal(fl_idmap_intern(m, id, FL_MAX_ID_LEN, &k), FL_OK);
    assert_int_equal(strlen(fl_idmap_name(m, k)), FL_MAX_ID_LEN);
    assert_int_equal(fl_idmap_intern(m, id, FL_MAX_ID_LEN + 1, &k), FL_ERR_DATA);
    assert_int_equal(fl_idmap_find(m, id, FL_MAX_ID_LEN + 1, &k), 0);
    /* an embedded NUL cannot be a C-string name */
    assert_int_equal(fl_idmap_intern(m, "a\0b", 3, &k), FL_ERR_DATA);
    assert_int_equal(fl_idmap_find(m, "a\0b", 3, &k), 0);
    assert_int_equal(fl_idmap_size(m), 1);
    fl_idmap_free(m);
}

static void test_many(void **state) {
    (void)state;
    enum { N = 200000 };
    fl_idmap *m = fl_idmap_new();
    char buf[32];
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(buf, sizeof buf, "id-%u", i * 7919u);
        uint32_t k;
        assert_int_equal(fl_idmap_intern(m, buf, (size_t)len, &k), FL_OK);
        assert_int_equal(k, i);
    }
    assert_int_equal(fl_idmap_size(m), N);
    for (uint32_t i = 0; i < N; i++) {
        int len = snprintf(buf, sizeof buf, "id-%u", i * 7919u);
        uint32_t k;
        assert_int_equal(fl_idmap_find(m, buf, (size_t)len, &k), 1);
        assert_int_equal(k, i);
        assert_string_equal(fl_idmap_name(m, i), buf);
        /* re-interning changes nothing */
        assert_int_equal(fl_idmap_intern(m, buf, (size_t)len, &k), FL_OK);
        assert_int_equal(k, i);
    }
    assert_int_equal(fl_idmap_size(m), N);
    assert_int_equal(fl_idmap_find(m, "id-1", 4, NULL), 0);
    fl_idmap_free(m);
}

static void test_clone(void **state) {
    (void)state;
    fl_idmap *m = fl_idmap_new();
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(buf, sizeof buf, "u%d", i);
        uint32_t k;
        assert_int_equal(fl_idmap_intern(m, buf, (size_t)len, &k), FL_OK);
    }
    fl_idmap *c = fl_idmap_clone(m);
    assert_non_null(c);
    assert_int_equal(fl_idmap_size(c), 1000);
    for (uint32_t i = 0; i < 1000; i++) {
        assert_string_equal(fl_idmap_name(c, i), fl_idmap_name(m, i));
        assert_ptr_not_equal(fl_idmap_name(c, i), fl_idmap_name(m, i));
    }
    /* the copy grows on its own */
    assert_int_equal(intern(c, "new"), 1000);
    assert_int_equal(fl_idmap_size(m), 1000);
    assert_int_equal(fl_idmap_find(m, "new", 3, NULL), 0);
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(buf, sizeof buf, "v%d", i);
        uint32_t k;
        assert_int_equal(fl_idmap_intern(c, buf, (size_t)len, &k), FL_OK);
    }
    fl_idmap_free(m); /* the clone outlives the original */
    uint32_t k;
    assert_int_equal(fl_idmap_find(c, "u999", 4, &k), 1);
    assert_int_equal(k, 999);
    assert_int_equal(fl_idmap_find(c, "v4999", 5, &k), 1);
    assert_int_equal(k, 6000);
    fl_idmap_free(c);

    fl_idmap *e = fl_idmap_new(), *ec = fl_idmap_clone(e);
    assert_non_null(ec);
    assert_int_equal(fl_idmap_size(ec), 0);
    assert_int_equal(intern(ec, "a"), 0);
    fl_idmap_free(e);
    fl_idmap_free(ec);
}

/* Decimal ids go through a table by value: spellings of one number are
 * still different ids, numbers too large for the table still work, and a
 * mixed stream gets first-appearance indices, as names and finds agree. */
static void test_decimal_ids(void **state) {
    (void)state;
    fl_idmap *m = fl_idmap_new();
    assert_int_equal(intern(m, "7"), 0);
    assert_int_equal(intern(m, "007"), 1);
    assert_int_equal(intern(m, "+7"), 2);
    assert_int_equal(intern(m, "7 "), 3);
    assert_int_equal(intern(m, "0"), 4);
    assert_int_equal(intern(m, "00"), 5);
    assert_int_equal(intern(m, "4194303"), 6);  /* the largest value in the table */
    assert_int_equal(intern(m, "4194304"), 7);  /* the first beyond it */
    assert_int_equal(intern(m, "99999999999"), 8);
    assert_int_equal(intern(m, "7"), 0);
    assert_int_equal(intern(m, "4194303"), 6);
    assert_int_equal(intern(m, "4194304"), 7);
    assert_string_equal(fl_idmap_name(m, 1), "007");
    fl_idmap_free(m);

    /* A pseudo-random stream of numbers, some spelled with a leading zero,
     * and words; expected index = order of first appearance. */
    m = fl_idmap_new();
    enum { N = 20000, RANGE = 3000 };
    static int first[3 * RANGE];
    for (int k = 0; k < 3 * RANGE; k++) first[k] = -1;
    uint32_t next = 0, x = 12345;
    for (int k = 0; k < N; k++) {
        x = x * 1103515245u + 12345u;
        int v = (int)((x >> 8) % RANGE), kind = (int)((x >> 20) % 3);
        char id[32];
        if (kind == 0) snprintf(id, sizeof id, "%d", v);
        else if (kind == 1) snprintf(id, sizeof id, "0%d", v);
        else snprintf(id, sizeof id, "w%d", v);
        const int key = kind * RANGE + v;
        uint32_t got = intern(m, id);
        if (first[key] < 0) first[key] = (int)next++;
        assert_int_equal(got, (uint32_t)first[key]);
        uint32_t found = UINT32_MAX;
        assert_int_equal(fl_idmap_find(m, id, strlen(id), &found), 1);
        assert_int_equal(found, got);
        assert_string_equal(fl_idmap_name(m, got), id);
    }
    assert_int_equal(fl_idmap_size(m), next);
    /* A clone answers the same, and learns new numbers on its own. */
    fl_idmap *c = fl_idmap_clone(m);
    assert_non_null(c);
    for (uint32_t k = 0; k < next; k += 97) assert_int_equal(intern(c, fl_idmap_name(m, k)), k);
    assert_int_equal(intern(c, "3000000"), next);
    assert_int_equal(fl_idmap_find(m, "3000000", 7, NULL), 0);
    fl_idmap_free(c);
    fl_idmap_free(m);
}

/* Renumbering moves every id to its new index: names, lookups (hashed and
 * by number), and interning afterwards (known ids keep their new index, a
 * new one comes last). */
static void test_renumber(void **state) {
    (void)state;
    fl_idmap *m = fl_idmap_new();
    assert_non_null(m);
    char name[32];
    enum { N = 3000 };
    for (int k = 0; k < N; k++) {
        snprintf(name, sizeof name, k % 3 ? "%d" : "id-%d", k);
        assert_int_equal(intern(m, name), (uint32_t)k);
    }
    static uint32_t at[N];
    for (uint32_t k = 0; k < N; k++) at[k] = (k * 7919u + 13u) % N; /* 7919 is prime to N */
    assert_int_equal(fl_idmap_renumber(m, at), FL_OK);
    assert_int_equal(fl_idmap_size(m), N);
    for (uint32_t k = 0; k < N; k++) {
        snprintf(name, sizeof name, at[k] % 3 ? "%u" : "id-%u", at[k]);
        assert_string_equal(fl_idmap_name(m, k), name);
        uint32_t found = UINT32_MAX;
        assert_int_equal(fl_idmap_find(m, name, strlen(name), &found), 1);
        assert_int_equal(found, k);
        assert_int_equal(intern(m, name), k);
    }
    assert_int_equal(intern(m, "new"), N);
    assert_string_equal(fl_idmap_name(m, N), "new");
    fl_idmap *c = fl_idmap_clone(m);
    assert_non_null(c);
    assert_int_equal(intern(c, "2"), intern(m, "2"));
    fl_idmap_free(c);
    fl_idmap_free(m);
}

/* A map of decimal ids only has no hash index until an id the by-number
 * table cannot hold arrives (a name, a non-canonical spelling, a number far
 * above the count): before and after, every id keeps its index, lookups of
 * spellings never interned fail, and copies and renumbering work in both
 * states. */
static void test_numbers_then_names(void **state) {
    (void)state;
    fl_idmap *m = fl_idmap_new();
    assert_non_null(m);
    char name[32];
    for (int k = 0; k < 2000; k++) {
        snprintf(name, sizeof name, "%d", (k * 7) % 2000 + 1);
        assert_int_equal(intern(m, name), (uint32_t)k);
    }
    uint32_t at = 0;
    assert_int_equal(fl_idmap_find(m, "007", 3, &at), 0);
    assert_int_equal(fl_idmap_find(m, "x", 1, &at), 0);
    assert_int_equal(fl_idmap_find(m, "", 0, &at), 0);
    assert_int_equal(fl_idmap_find(m, "8", 1, &at), 1);
    assert_int_equal(at, 1);
    fl_idmap *c = fl_idmap_clone(m); /* numbers only */
    assert_non_null(c);
    assert_int_equal(fl_idmap_find(c, "15", 2, &at), 1);
    assert_int_equal(at, 2);
    assert_int_equal(intern(c, "4000000"), 2000); /* far above the count: the index comes in */
    assert_int_equal(intern(c, "15"), 2);
    assert_int_equal(fl_idmap_find(c, "4000000", 7, &at), 1);
    assert_int_equal(at, 2000);
    fl_idmap_free(c);
    uint32_t perm[2000];
    for (uint32_t k = 0; k < 2000; k++) perm[k] = 1999 - k;
    assert_int_equal(fl_idmap_renumber(m, perm), FL_OK); /* numbers only */
    assert_int_equal(fl_idmap_find(m, "8", 1, &at), 1);
    assert_int_equal(at, 1998);
    assert_int_equal(intern(m, "007"), 2000); /* a name: the index comes in */
    assert_int_equal(intern(m, "user-a"), 2001);
    assert_int_equal(intern(m, "7"), 1999 - 858); /* "7" was entry 858: 858 * 7 % 2000 + 1 */
    assert_int_equal(fl_idmap_find(m, "8", 1, &at), 1);
    assert_int_equal(at, 1998);
    assert_int_equal(fl_idmap_find(m, "007", 3, &at), 1);
    assert_int_equal(at, 2000);
    assert_string_equal(fl_idmap_name(m, 2001), "user-a");
    fl_idmap_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_decimal_ids),
        cmocka_unit_test(test_renumber),
        cmocka_unit_test(test_numbers_then_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
