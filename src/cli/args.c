/* args.c — the argv cursor, option matchers and strict number parsers.
 * Strict means: the whole string must be a plain decimal number ("abc", "",
 * "12x", " 5", "0x10", "inf", "1e999" are refused) so a typo never becomes a
 * silently different hyper-parameter. Depends on libc and suggest.c only
 * (unit-tested alone). */
#include "cli/args.h"

#include "cli/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ pure parsers */

int cli_parse_long(const char *s, long lo, long hi, long *out) {
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    if (!isdigit((unsigned char)*p)) return CLI_BAD_SYNTAX;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return CLI_BAD_SYNTAX;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE) return CLI_OUT_OF_RANGE;
    if (*end) return CLI_BAD_SYNTAX;
    if (v < lo || v > hi) return CLI_OUT_OF_RANGE;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out) {
    if (*s == '+') s++;
    if (*s == '-') return CLI_OUT_OF_RANGE; /* strtoull would wrap "-1" to 2^64-1 */
    if (!*s) return CLI_BAD_SYNTAX;
    for (const char *q = s; *q; q++)
        if (!isdigit((unsigned char)*q)) return CLI_BAD_SYNTAX;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || v > UINT64_MAX) return CLI_OUT_OF_RANGE;
    *out = (uint64_t)v;
    return 0;
}

/* [+-]? digits* ('.' digits*)? ([eE] [+-]? digits+)? with at least one
 * mantissa digit: what strtod would take, minus hex, inf and nan. */
static int is_decimal(const char *s) {
    const char *p = s;
    int digits = 0;
    if (*p == '+' || *p == '-') p++;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    return *p == '\0';
}

int cli_parse_double(const char *s, double lo, double hi, double *out) {
    if (!is_decimal(s)) return CLI_BAD_SYNTAX;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end) return CLI_BAD_SYNTAX;
    /* ERANGE covers overflow ("1e999") and underflow ("1e-999"): both mean
     * the number typed is not the number we would use. */
    if (errno == ERANGE || !isfinite(v)) return CLI_OUT_OF_RANGE;
    if (v < lo || v > hi) return CLI_OUT_OF_RANGE;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ the cursor */

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->next = 1;
    a->cmd = cmd;
}

int cli_errorf(cli_args *a, const char *fmt, ...) {
    if (a->failed) return 0;
    a->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    return 0;
}

int cli_wants_help(int argc, char **argv) {
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--") == 0) return 0;
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) return 1;
    }
    return 0;
}

/* The name among those the matchers tried that is nearest to the current
 * option, as "'--factors'"; "" when none is close. */
static void nearest_tried(const cli_args *a, char *out, size_t len) {
    const char *names[CLI_MAX_OPTIONS * 2];
    size_t lens[CLI_MAX_OPTIONS * 2];
    int n = 0;
    for (int k = 0; k < a->n_tried; k++)
        for (const char *p = a->tried[k]; *p && n < CLI_MAX_OPTIONS * 2;) {
            const char *bar = strchr(p, '|');
            names[n] = p;
            lens[n++] = bar ? (size_t)(bar - p) : strlen(p);
            if (!bar) break;
            p = bar + 1;
        }
    int best = cli_nearest_span(a->arg, a->name_len, names, lens, n);
    out[0] = '\0';
    if (best >= 0) snprintf(out, len, "; did you mean '%.*s'?", (int)lens[best], names[best]);
}

void cli_unknown(cli_args *a) {
    if (a->positional) {
        cli_errorf(a, "unexpected argument '%s' (see factorlens %s --help)", a->arg, a->cmd);
    } else {
        char guess[96];
        nearest_tried(a, guess, sizeof guess);
        cli_errorf(a, "unknown option '%.*s' for factorlens %s%s (see factorlens %s --help)",
                   (int)a->name_len, a->arg, a->cmd, guess, a->cmd);
    }
    a->matched = 1;
}

int cli_next(cli_args *a) {
    /* An option no matcher took is an error even if the caller forgot to say so. */
    if (!a->failed && a->arg && !a->positional && !a->matched) cli_unknown(a);
    if (a->failed || a->next >= a->argc) return 0;
    a->n_tried = 0;
    const char *s = a->argv[a->next++];
    a->arg = s;
    a->inline_value = NULL;
    a->matched = 0;
    a->positional = a->options_done || s[0] != '-' || s[1] == '\0';
    if (!a->positional && strcmp(s, "--") == 0) {
        a->options_done = 1;
        a->matched = 1;
        a->arg = NULL;
        return cli_next(a);
    }
    a->name_len = strlen(s);
    if (!a->positional && s[1] == '-') {
        const char *eq = strchr(s, '=');
        if (eq) {
            a->name_len = (size_t)(eq - s);
            a->inline_value = eq + 1;
        }
    }
    return 1;
}

/* Is the current option one of names ("-n|--top")? */
static int is_option(cli_args *a, const char *names) {
    if (a->failed || a->positional || a->matched || !a->arg) return 0;
    if (a->n_tried < CLI_MAX_OPTIONS) a->tried[a->n_tried++] = names;
    const char *p = names;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == a->name_len && strncmp(p, a->arg, len) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static const char *value_after(cli_args *a) {
    if (a->inline_value) return a->inline_value;
    if (a->next >= a->argc) {
        cli_errorf(a, "option %.*s needs a value", (int)a->name_len, a->arg);
        return NULL;
    }
    const char *v = a->argv[a->next];
    if (v[0] == '-' && v[1] == '-') {
        cli_errorf(a, "option %.*s needs a value, but it is followed by '%s'", (int)a->name_len,
                   a->arg, v);
        return NULL;
    }
    a->next++;
    return v;
}

/* The current option's value, or NULL after an error. A second value for
 * the same option is an error: taking the last one silently would ignore
 * what was typed first. */
static const char *take_value(cli_args *a, const char *names) {
    a->matched = 1;
    const char *v = value_after(a);
    if (!v) return NULL;
    for (int k = 0; k < a->n_given; k++)
        if (strcmp(a->given_names[k], names) == 0) {
            cli_errorf(a, "option %.*s is given more than once ('%s', then '%s'); give it once",
                       (int)a->name_len, a->arg, a->given_values[k], v);
            return NULL;
        }
    if (a->n_given < CLI_MAX_OPTIONS) {
        a->given_names[a->n_given] = names;
        a->given_values[a->n_given++] = v;
    }
    return v;
}

static void describe_long(char *buf, size_t len, long lo, long hi) {
    if (hi == LONG_MAX)
        snprintf(buf, len, "an integer >= %ld", lo);
    else
        snprintf(buf, len, "an integer from %ld to %ld", lo, hi);
}

static void describe_double(char *buf, size_t len, double lo, double hi) {
    if (lo == -HUGE_VAL && hi == HUGE_VAL)
        snprintf(buf, len, "a number");
    else if (hi == HUGE_VAL)
        snprintf(buf, len, "a number >= %g", lo);
    else
        snprintf(buf, len, "a number from %g to %g", lo, hi);
}

static int bad_value(cli_args *a, const char *what, const char *v) {
    cli_errorf(a, "option %.*s expects %s, got '%s'", (int)a->name_len, a->arg, what, v);
    return 1;
}

/* ------------------------------------------------------------ matchers */

int cli_flag(cli_args *a, const char *names, int *out) {
    if (!is_option(a, names)) return 0;
    a->matched = 1;
    if (a->inline_value) {
        cli_errorf(a, "option %.*s takes no value", (int)a->name_len, a->arg);
        return 1;
    }
    *out = 1;
    return 1;
}

int cli_str(cli_args *a, const char *names, const char **out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    if (!*v) {
        cli_errorf(a, "option %.*s needs a non-empty value", (int)a->name_len, a->arg);
        return 1;
    }
    *out = v;
    return 1;
}

int cli_str_repeat(cli_args *a, const char *names, const char **out, int max, int *n) {
    if (!is_option(a, names)) return 0;
    a->matched = 1;
    const char *v = value_after(a);
    if (!v) return 1;
    if (!*v) {
        cli_errorf(a, "option %.*s needs a non-empty value", (int)a->name_len, a->arg);
        return 1;
    }
    if (*n >= max) {
        cli_errorf(a, "option %.*s is given more than %d times", (int)a->name_len, a->arg, max);
        return 1;
    }
    out[(*n)++] = v;
    return 1;
}

int cli_int(cli_args *a, const char *names, long lo, long hi, int *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    if (hi > INT_MAX) hi = INT_MAX;
    if (lo < INT_MIN) lo = INT_MIN;
    long x;
    if (cli_parse_long(v, lo, hi, &x) != 0) {
        char what[96];
        describe_long(what, sizeof what, lo, hi == INT_MAX ? LONG_MAX : hi);
        return bad_value(a, what, v);
    }
    *out = (int)x;
    return 1;
}

int cli_size(cli_args *a, const char *names, size_t lo, size_t hi, size_t *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    uint64_t x;
    if (cli_parse_u64(v, &x) != 0 || x < lo || x > hi) {
        char what[96];
        if (hi == SIZE_MAX)
            snprintf(what, sizeof what, "an integer >= %zu", lo);
        else
            snprintf(what, sizeof what, "an integer from %zu to %zu", lo, hi);
        return bad_value(a, what, v);
    }
    *out = (size_t)x;
    return 1;
}

int cli_u64(cli_args *a, const char *names, uint64_t *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    if (cli_parse_u64(v, out) != 0) return bad_value(a, "a non-negative integer", v);
    return 1;
}

int cli_double(cli_args *a, const char *names, double lo, double hi, double *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    if (cli_parse_double(v, lo, hi, out) != 0) {
        char what[96];
        describe_double(what, sizeof what, lo, hi);
        return bad_value(a, what, v);
    }
    return 1;
}

int cli_float(cli_args *a, const char *names, double lo, double hi, float *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    double x;
    /* Beyond FLT_MAX the float would be infinite: out of range like "1e999". */
    if (cli_parse_double(v, lo, hi, &x) != 0 || fabs(x) > FLT_MAX) {
        char what[96];
        describe_double(what, sizeof what, lo, hi);
        return bad_value(a, what, v);
    }
    *out = (float)x;
    return 1;
}

int cli_fraction(cli_args *a, const char *names, double *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    double x;
    if (cli_parse_double(v, 0.0, 1.0, &x) != 0 || x <= 0.0 || x >= 1.0)
        return bad_value(a, "a fraction between 0 and 1 (exclusive)", v);
    *out = x;
    return 1;
}

int cli_choice(cli_args *a, const char *names, const char *const *choices, int *out) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    for (int k = 0; choices[k]; k++)
        if (strcmp(v, choices[k]) == 0) return *out = k, 1;
    char list[200] = "one of ";
    for (int k = 0; choices[k]; k++) {
        if (k) strncat(list, choices[k + 1] ? ", " : " or ", sizeof list - strlen(list) - 1);
        strncat(list, choices[k], sizeof list - strlen(list) - 1);
    }
    const char *guess = cli_nearest(v, strlen(v), choices);
    if (guess) {
        cli_errorf(a, "option %.*s expects %s, got '%s'; did you mean '%s'?", (int)a->name_len,
                   a->arg, list, v, guess);
        return 1;
    }
    return bad_value(a, list, v);
}

/* Splits v at commas into at most max pieces; 0 on an empty piece or too many. */
static int split_commas(const char *v, char pieces[][64], int max, int *n) {
    *n = 0;
    const char *p = v;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0 || len >= 64 || *n >= max) return 0;
        memcpy(pieces[*n], p, len);
        pieces[(*n)++][len] = '\0';
        if (!c) return 1;
        p = c + 1;
    }
}

int cli_range(cli_args *a, const char *names, int allow_none, float *lo, float *hi) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    if (allow_none && strcmp(v, "none") == 0) {
        *lo = *hi = 0.0f;
        return 1;
    }
    char pieces[2][64];
    int n;
    double x, y;
    if (!split_commas(v, pieces, 2, &n) || n != 2 ||
        cli_parse_double(pieces[0], -FLT_MAX, FLT_MAX, &x) != 0 ||
        cli_parse_double(pieces[1], -FLT_MAX, FLT_MAX, &y) != 0 || !(x < y))
        return bad_value(a, allow_none ? "LO,HI with LO < HI, or none" : "LO,HI with LO < HI", v);
    *lo = (float)x;
    *hi = (float)y;
    return 1;
}

int cli_int_list(cli_args *a, const char *names, long lo, long hi, int *out, int max, int *n) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    char pieces[16][64];
    int k;
    long x[16];
    char what[128];
    snprintf(what, sizeof what, "a comma-separated list of at most %d integers from %ld to %ld",
             max, lo, hi);
    if (max > 16 || !split_commas(v, pieces, max, &k)) return bad_value(a, what, v);
    for (int j = 0; j < k; j++)
        if (cli_parse_long(pieces[j], lo, hi, &x[j]) != 0) return bad_value(a, what, v);
    for (int j = 0; j < k; j++) out[j] = (int)x[j];
    *n = k;
    return 1;
}

int cli_float_list(cli_args *a, const char *names, double lo, double hi, float *out, int max,
                   int *n) {
    if (!is_option(a, names)) return 0;
    const char *v = take_value(a, names);
    if (!v) return 1;
    char pieces[16][64];
    int k;
    double x[16];
    char what[128];
    snprintf(what, sizeof what, "a comma-separated list of at most %d numbers from %g to %g", max,
             lo, hi);
    if (max > 16 || !split_commas(v, pieces, max, &k)) return bad_value(a, what, v);
    for (int j = 0; j < k; j++)
        if (cli_parse_double(pieces[j], lo, hi, &x[j]) != 0) return bad_value(a, what, v);
    for (int j = 0; j < k; j++) out[j] = (float)x[j];
    *n = k;
    return 1;
}
