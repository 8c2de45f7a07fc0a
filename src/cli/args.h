/* args.h — command-line parsing for the subcommands: an argv cursor with
 * matchers that consume and strictly check one option's value, and the pure
 * number parsers beneath them. Every error is one sentence naming the option. */
#ifndef FL_CLI_ARGS_H
#define FL_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#define CLI_MSG_LEN 384
#define CLI_MAX_OPTIONS 64

/* The cursor. Matchers are tried in turn on the current argument; the first
 * that recognises it consumes its value. An error is remembered in msg and
 * ends the loop at the next cli_next, so option code stays one line each. */
typedef struct cli_args {
    int argc;
    char **argv;
    int next; /* argv index of the next argument */
    const char *cmd; /* subcommand name, for messages */
    const char *arg; /* current argument as typed */
    const char *inline_value; /* the "50" of "--factors=50", else NULL */
    size_t name_len; /* length of the option name within arg */
    int positional; /* current argument is not an option */
    int matched; /* some matcher consumed the current option */
    int options_done; /* "--" seen: the rest are positional */
    int failed;
    char msg[CLI_MSG_LEN];
    /* The names every matcher tried on the current option was given: when
     * none took it, the nearest is offered ("did you mean '--factors'?"). */
    const char *tried[CLI_MAX_OPTIONS];
    int n_tried;
    /* Options that took a value so far, with it: giving one twice is an error. */
    const char *given_names[CLI_MAX_OPTIONS], *given_values[CLI_MAX_OPTIONS];
    int n_given;
} cli_args;

/* argv[0] is the subcommand's own name; parsing starts at argv[1]. */
void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv);
/* Advances to the next argument; 0 at the end or after an error. */
int cli_next(cli_args *a);
/* Records a usage error (first one wins). Always returns 0. */
int cli_errorf(cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if -h or --help appears among the options: help wins over every other
 * argument, even malformed ones. */
int cli_wants_help(int argc, char **argv);
/* Call when no matcher took the current option: reports it as unknown,
 * with the nearest name the matchers know when one is close. */
void cli_unknown(cli_args *a);

/* Matchers. names is one name or several separated by '|' ("-n|--top").
 * Each returns 1 when the current argument is that option (even if its value
 * was bad: then a->failed is set), else 0. An option that takes a value may
 * be given once (by any of its names); a flag may repeat. */
int cli_flag(cli_args *a, const char *names, int *out);
int cli_str(cli_args *a, const char *names, const char **out);
/* An option that may repeat (--user-feature A --user-feature B): each value
 * is appended to out (at most max; more is an error). */
int cli_str_repeat(cli_args *a, const char *names, const char **out, int max, int *n);
int cli_int(cli_args *a, const char *names, long lo, long hi, int *out);
int cli_size(cli_args *a, const char *names, size_t lo, size_t hi, size_t *out);
int cli_u64(cli_args *a, const char *names, uint64_t *out);
int cli_double(cli_args *a, const char *names, double lo, double hi, double *out);
int cli_float(cli_args *a, const char *names, double lo, double hi, float *out);
/* A fraction strictly between 0 and 1. */
int cli_fraction(cli_args *a, const char *names, double *out);
/* One of the NULL-terminated choices; *out is its index. */
int cli_choice(cli_args *a, const char *names, const char *const *choices, int *out);
/* "LO,HI" with LO < HI; with allow_none, "none" gives lo = hi = 0. */
int cli_range(cli_args *a, const char *names, int allow_none, float *lo, float *hi);
/* Comma-separated lists of at most max values, each in [lo, hi]. */
int cli_int_list(cli_args *a, const char *names, long lo, long hi, int *out, int max, int *n);
int cli_float_list(cli_args *a, const char *names, double lo, double hi, float *out, int max,
                   int *n);

/* Pure parsers: 0 ok, CLI_BAD_SYNTAX for anything but a plain decimal number
 * filling the whole string, CLI_OUT_OF_RANGE when outside [lo, hi] or beyond
 * what the type holds (e.g. "1e999"). */
enum { CLI_BAD_SYNTAX = -1, CLI_OUT_OF_RANGE = -2 };
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);

#endif
