/* messages.c — error sentences on stderr and the exit-code legend. Library
 * messages come without a final full stop; we add one so every line the user
 * sees reads as a sentence. */
#include "cli/messages.h"

#include <stdarg.h>
#include <string.h>

static void print_sentence(const char *prefix, const char *s) {
    size_t n = strlen(s);
    int ends = n > 0 && strchr(".!?", s[n - 1]) != NULL;
    fflush(stdout); /* keep stdout and stderr in order when both are a terminal */
    fprintf(stderr, "factorlens: %s%s%s\n", prefix, s, ends ? "" : ".");
}

int cli_error(int code, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    print_sentence("", buf);
    return code;
}

int cli_fail(const fl_error *err) {
    print_sentence("", err->msg[0] ? err->msg : fl_status_name(err->code));
    return fl_status_exit_code(err->code);
}

int cli_usage_fail(const cli_args *a) {
    print_sentence("", a->msg);
    return fl_status_exit_code(FL_ERR_USAGE);
}

void cli_note(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    print_sentence("note: ", buf);
}

const char *cli_s(size_t n) { return n == 1 ? "" : "s"; }

void cli_warn(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    print_sentence("warning: ", buf);
}

void cli_print_exit_codes(FILE *f) {
    fputs("\nExit codes: 0 ok, 1 other error (i/o, network, interrupted, ...), 2 usage error,\n"
          "  3 unknown user or item id, 4 bad input data, 5 bad or corrupt model file.\n",
          f);
}
