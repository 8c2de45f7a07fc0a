/* messages.h — how the CLI talks on stderr: every failure is one line
 * "factorlens: <sentence>" and an exit code; plus the exit-code legend that
 * every --help ends with. */
#ifndef FL_CLI_MESSAGES_H
#define FL_CLI_MESSAGES_H

#include "cli/args.h"
#include "factorlens.h"

#include <stdio.h>

/* Prints the sentence and returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a library error and returns its exit code. */
int cli_fail(const fl_error *err);
/* Prints the parser's usage error and returns 2. */
int cli_usage_fail(const cli_args *a);
/* A non-fatal note on stderr ("factorlens: note: ..."). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for something that may well be a mistake ("factorlens: warning: ..."). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "s" unless n is 1: "%zu rating%s". */
const char *cli_s(size_t n);
/* The exit-code legend, for the end of every --help. */
void cli_print_exit_codes(FILE *f);

#endif
