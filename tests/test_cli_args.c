/* test_cli_args.c — unit tests of the CLI's option parsing (src/cli/args.c,
 * compiled in directly since the CLI is not a library): strict numbers, the
 * argv cursor, and usage-error sentences that name the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/args.c"
#include "cli/suggest.c"

/* ---------------------------------------------------------------- pure parsers */

static void test_parse_long(void **state) {
    (void)state;
    long v = 0;
    assert_int_equal(cli_parse_long("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_long("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(cli_parse_long("+3", 0, 10, &v), 0);
    assert_int_equal(v, 3);
    v = 99;
    assert_int_equal(cli_parse_long("abc", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("12x", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long(" 5", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("5 ", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("1e3", 0, 10000, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("0x10", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("-", 0, 100, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_long("-1", 0, 100, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_long("101", 0, 100, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_long("99999999999999999999999", 0, LONG_MAX, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(v, 99); /* failures leave the output alone */
}

static void test_parse_u64(void **state) {
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cli_parse_u64("0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(cli_parse_u64("18446744073709551616", &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_u64("-1", &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_u64("", &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_u64("7a", &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_u64("1.0", &v), CLI_BAD_SYNTAX);
}

static void test_parse_double(void **state) {
    (void)state;
    double v = 0;
    assert_int_equal(cli_parse_double("0.5", 0, 1, &v), 0);
    assert_true(v == 0.5);
    assert_int_equal(cli_parse_double("1e-3", 0, 1, &v), 0);
    assert_true(v == 1e-3);
    assert_int_equal(cli_parse_double(".25", 0, 1, &v), 0);
    assert_true(v == 0.25);
    assert_int_equal(cli_parse_double("5.", 0, 10, &v), 0);
    assert_true(v == 5.0);
    assert_int_equal(cli_parse_double("-2.5E+1", -HUGE_VAL, HUGE_VAL, &v), 0);
    assert_true(v == -25.0);
    v = 7;
    assert_int_equal(cli_parse_double("abc", 0, 1, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("", 0, 1, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double(".", 0, 1, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("1e", 0, 10, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("1.5x", 0, 10, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double(" 1", 0, 10, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("inf", 0, HUGE_VAL, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("nan", 0, HUGE_VAL, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("0x10", 0, HUGE_VAL, &v), CLI_BAD_SYNTAX);
    assert_int_equal(cli_parse_double("1e999", 0, HUGE_VAL, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_double("-1e999", -HUGE_VAL, HUGE_VAL, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_double("1e-999", 0, HUGE_VAL, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_double("-0.1", 0, HUGE_VAL, &v), CLI_OUT_OF_RANGE);
    assert_int_equal(cli_parse_double("1.5", 0, 1, &v), CLI_OUT_OF_RANGE);
    assert_true(v == 7);
}

/* ---------------------------------------------------------------- the cursor */

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

typedef struct parsed {
    int factors, json, n_layers, model;
    float lr, lo, hi;
    double holdout;
    size_t top;
    uint64_t seed;
    const char *out, *positional;
    int layers[8];
    float drop[8];
    int n_drop;
} parsed;

static const char *const models[] = {"dot", "biased", "nn", NULL};

/* A miniature subcommand: what the real ones do, on known options. */
static int parse(cli_args *a, int argc, char **argv, parsed *p) {
    memset(p, 0, sizeof *p);
    p->factors = -1;
    cli_args_init(a, "test", argc, argv);
    while (cli_next(a)) {
        if (a->positional) {
            if (p->positional) cli_unknown(a);
            p->positional = a->arg;
            continue;
        }
        (void)(cli_int(a, "--factors", 1, 4096, &p->factors) ||
               cli_float(a, "--lr", 0, HUGE_VAL, &p->lr) || cli_flag(a, "--json", &p->json) ||
               cli_str(a, "--out", &p->out) || cli_size(a, "-n|--top", 1, 1000, &p->top) ||
               cli_u64(a, "--seed", &p->seed) || cli_fraction(a, "--holdout", &p->holdout) ||
               cli_choice(a, "--model", models, &p->model) ||
               cli_range(a, "--y-range", 1, &p->lo, &p->hi) ||
               cli_int_list(a, "--layers", 1, 4096, p->layers, 8, &p->n_layers) ||
               cli_float_list(a, "--dropout", 0, 1, p->drop, 8, &p->n_drop));
    }
    return a->failed ? -1 : 0;
}

static void test_cursor_accepts(void **state) {
    (void)state;
    char *argv[] = {"test",
                    "model.flm",
                    "--factors",
                    "50",
                    "--lr=0.1",
                    "--json",
                    "--top=7",
                    "--seed",
                    "18446744073709551615",
                    "--holdout",
                    "0.2",
                    "--model",
                    "nn",
                    "--y-range",
                    "0.5,5.5",
                    "--layers",
                    "100,50",
                    "--dropout",
                    "0.3,0.5",
                    "--out",
                    "m.flm"};
    cli_args a;
    parsed p;
    assert_int_equal(parse(&a, ARGC(argv), argv, &p), 0);
    assert_string_equal(p.positional, "model.flm");
    assert_int_equal(p.factors, 50);
    assert_true(p.lr == 0.1f);
    assert_int_equal(p.json, 1);
    assert_int_equal((int)p.top, 7);
    assert_true(p.seed == UINT64_MAX);
    assert_true(p.holdout == 0.2);
    assert_int_equal(p.model, 2);
    assert_true(p.lo == 0.5f && p.hi == 5.5f);
    assert_int_equal(p.n_layers, 2);
    assert_int_equal(p.layers[0], 100);
    assert_int_equal(p.layers[1], 50);
    assert_int_equal(p.n_drop, 2);
    assert_true(p.drop[1] == 0.5f);
    assert_string_equal(p.out, "m.flm");
}

static void test_y_range_none(void **state) {
    (void)state;
    char *argv[] = {"test", "--y-range", "none"};
    cli_args a;
    parsed p;
    assert_int_equal(parse(&a, ARGC(argv), argv, &p), 0);
    assert_true(p.lo == 0.0f && p.hi == 0.0f);
}

static void test_double_dash_ends_options(void **state) {
    (void)state;
    char *argv[] = {"test", "--json", "--", "--weird-file-name"};
    cli_args a;
    parsed p;
    assert_int_equal(parse(&a, ARGC(argv), argv, &p), 0);
    assert_string_equal(p.positional, "--weird-file-name");
}

/* Runs parse on argv, expects a usage error, and checks the sentence holds
 * every one of the NULL-terminated fragments. */
static void expect_error(int argc, char **argv, ...) {
    cli_args a;
    parsed p;
    assert_int_equal(parse(&a, argc, argv, &p), -1);
    assert_true(a.failed);
    assert_null(strchr(a.msg, '\n'));
    va_list ap;
    va_start(ap, argv);
    for (const char *frag; (frag = va_arg(ap, const char *));) {
        if (!strstr(a.msg, frag)) {
            print_error("message \"%s\" lacks \"%s\"\n", a.msg, frag);
            fail();
        }
    }
    va_end(ap);
}

static void test_bad_numbers_name_the_option(void **state) {
    (void)state;
    char *a1[] = {"test", "--factors", "abc"};
    expect_error(ARGC(a1), a1, "--factors", "'abc'", "integer", NULL);
    char *a2[] = {"test", "--factors", "1e999"};
    expect_error(ARGC(a2), a2, "--factors", "1e999", NULL);
    char *a3[] = {"test", "--factors="};
    expect_error(ARGC(a3), a3, "--factors", "''", NULL);
    char *a4[] = {"test", "--factors", "50x"};
    expect_error(ARGC(a4), a4, "--factors", "50x", NULL);
    char *a5[] = {"test", "--factors", "-5"};
    expect_error(ARGC(a5), a5, "--factors", "from 1 to 4096", NULL);
    char *a6[] = {"test", "--lr", "1e999"};
    expect_error(ARGC(a6), a6, "--lr", "1e999", NULL);
    char *a7[] = {"test", "--lr", "-0.1"};
    expect_error(ARGC(a7), a7, "--lr", ">= 0", NULL);
    char *a8[] = {"test", "--lr", "1e39"}; /* fits a double, not a float */
    expect_error(ARGC(a8), a8, "--lr", NULL);
    char *a9[] = {"test", "--seed", "-1"};
    expect_error(ARGC(a9), a9, "--seed", "non-negative", NULL);
    char *a10[] = {"test", "-n", "0"};
    expect_error(ARGC(a10), a10, "-n", NULL);
    char *a11[] = {"test", "--holdout", "1"};
    expect_error(ARGC(a11), a11, "--holdout", "between 0 and 1", NULL);
    char *a12[] = {"test", "--y-range", "5,1"};
    expect_error(ARGC(a12), a12, "--y-range", "LO < HI", NULL);
    char *a13[] = {"test", "--y-range", "1"};
    expect_error(ARGC(a13), a13, "--y-range", NULL);
    char *a14[] = {"test", "--layers", "10,,5"};
    expect_error(ARGC(a14), a14, "--layers", NULL);
    char *a15[] = {"test", "--layers", "1,2,3,4,5,6,7,8,9"};
    expect_error(ARGC(a15), a15, "--layers", "at most 8", NULL);
    char *a16[] = {"test", "--dropout", "0.3,abc"};
    expect_error(ARGC(a16), a16, "--dropout", NULL);
}

static void test_usage_errors(void **state) {
    (void)state;
    char *a1[] = {"test", "--frobnicate"};
    expect_error(ARGC(a1), a1, "unknown option", "--frobnicate", "factorlens test --help", NULL);
    char *a2[] = {"test", "--frob=3"};
    expect_error(ARGC(a2), a2, "'--frob'", NULL);
    char *a3[] = {"test", "--factors"};
    expect_error(ARGC(a3), a3, "--factors", "needs a value", NULL);
    char *a4[] = {"test", "--out", "--json"};
    expect_error(ARGC(a4), a4, "--out", "needs a value", NULL);
    char *a5[] = {"test", "--json=yes"};
    expect_error(ARGC(a5), a5, "--json", "takes no value", NULL);
    char *a6[] = {"test", "--model", "svd"};
    expect_error(ARGC(a6), a6, "--model", "dot, biased or nn", "'svd'", NULL);
    char *a7[] = {"test", "one", "two"};
    expect_error(ARGC(a7), a7, "unexpected argument 'two'", NULL);
    char *a8[] = {"test", "-x"};
    expect_error(ARGC(a8), a8, "'-x'", NULL);
    char *a9[] = {"test", "--out", ""};
    expect_error(ARGC(a9), a9, "--out", "non-empty", NULL);
}

/* A typo gets the nearest known name, when one is close. */
static void test_suggests_nearest_name(void **state) {
    (void)state;
    char *a1[] = {"test", "--factor", "50"};
    expect_error(ARGC(a1), a1, "unknown option '--factor'", "did you mean '--factors'?",
                 "factorlens test --help", NULL);
    char *a2[] = {"test", "--jsno"};
    expect_error(ARGC(a2), a2, "did you mean '--json'?", NULL);
    char *a3[] = {"test", "--tpo=3"};
    expect_error(ARGC(a3), a3, "'--tpo'", "did you mean '--top'?", NULL);
    char *a4[] = {"test", "--modle", "nn"};
    expect_error(ARGC(a4), a4, "did you mean '--model'?", NULL);
    char *a5[] = {"test", "-top", "3"};
    expect_error(ARGC(a5), a5, "did you mean '--top'?", NULL);
    char *a6[] = {"test", "--model", "biasd"};
    expect_error(ARGC(a6), a6, "dot, biased or nn", "did you mean 'biased'?", NULL);
    /* Nothing close: no guess. */
    char *n1[] = {"test", "--frobnicate"};
    char *n2[] = {"test", "--ab"};
    char *n3[] = {"test", "--model", "svd"};
    char **none[] = {n1, n2, n3};
    int argc[] = {ARGC(n1), ARGC(n2), ARGC(n3)};
    for (int k = 0; k < 3; k++) {
        cli_args a;
        parsed p;
        assert_int_equal(parse(&a, argc[k], none[k], &p), -1);
        if (strstr(a.msg, "did you mean")) fail_msg("a guess for '%s': %s", none[k][1], a.msg);
    }
}

static void test_edit_distance(void **state) {
    (void)state;
    assert_int_equal(cli_edit_distance("tset", 4, "test", 4), 1); /* a transposition */
    assert_int_equal(cli_edit_distance("trian", 5, "train", 5), 1);
    assert_int_equal(cli_edit_distance("factor", 6, "factors", 7), 1);
    assert_int_equal(cli_edit_distance("kitten", 6, "sitting", 7), 3);
    assert_int_equal(cli_edit_distance("", 0, "abc", 3), 3);
    assert_int_equal(cli_edit_distance("same", 4, "same", 4), 0);
    static const char *const commands[] = {"train", "eval", "predict", "recommend", NULL};
    assert_string_equal(cli_nearest("trian", 5, commands), "train");
    assert_string_equal(cli_nearest("recomend", 8, commands), "recommend");
    assert_null(cli_nearest("deploy", 6, commands));
    assert_null(cli_nearest("ab", 2, commands)); /* "eval" is 3 edits away */
}

/* An option that takes one value may be given once: a repeat is refused
 * rather than silently replacing the first value. Flags may repeat. */
static void test_repeated_option_refused(void **state) {
    (void)state;
    char *a1[] = {"test", "--factors", "5", "--factors", "6"};
    expect_error(ARGC(a1), a1, "--factors", "more than once", "'5'", "'6'", NULL);
    char *a2[] = {"test", "-n", "5", "--top=7"};
    expect_error(ARGC(a2), a2, "--top", "more than once", NULL);
    char *a3[] = {"test", "one.flm", "--out", "a", "--json", "--out=b"};
    expect_error(ARGC(a3), a3, "--out", "more than once", NULL);
    char *ok[] = {"test", "--json", "--json", "--top", "3"};
    cli_args a;
    parsed p;
    assert_int_equal(parse(&a, ARGC(ok), ok, &p), 0);
    assert_int_equal(p.json, 1);
}

/* The first error wins, and parsing stops there. */
static void test_first_error_wins(void **state) {
    (void)state;
    char *argv[] = {"test", "--factors", "abc", "--lr", "xyz", "--json"};
    cli_args a;
    parsed p;
    assert_int_equal(parse(&a, ARGC(argv), argv, &p), -1);
    assert_non_null(strstr(a.msg, "--factors"));
    assert_null(strstr(a.msg, "--lr"));
    assert_int_equal(p.json, 0);
}

static void test_wants_help(void **state) {
    (void)state;
    char *a1[] = {"test", "--factors", "abc", "--help"};
    assert_true(cli_wants_help(ARGC(a1), a1));
    char *a2[] = {"test", "-h"};
    assert_true(cli_wants_help(ARGC(a2), a2));
    char *a3[] = {"test", "--", "--help"};
    assert_false(cli_wants_help(ARGC(a3), a3));
    char *a4[] = {"test", "--helpful"};
    assert_false(cli_wants_help(ARGC(a4), a4));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_cursor_accepts),
        cmocka_unit_test(test_y_range_none),
        cmocka_unit_test(test_double_dash_ends_options),
        cmocka_unit_test(test_bad_numbers_name_the_option),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_suggests_nearest_name),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_repeated_option_refused),
        cmocka_unit_test(test_wants_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
