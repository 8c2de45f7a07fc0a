/* read_options.c — parsing the reader options onto an fl_read_opts. A tab is
 * hard to type in a shell, so --sep also takes "tab" and "\t". */
#include "cli/read_options.h"

#include <string.h>

int cli_read_option(cli_args *a, fl_read_opts *o) {
    static const char *const header_choices[] = {"no", "yes", "auto", NULL};
    static const char *const dup_choices[] = {"error", "last", "mean", "keep", NULL};
    static const fl_dup_policy dup_values[] = {FL_DUP_ERROR, FL_DUP_LAST, FL_DUP_MEAN, FL_DUP_KEEP};
    const char *s = NULL;
    int k = -1, flag = 0;
    if (cli_str(a, "--sep", &s)) {
        if (s) o->sep = (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0) ? "\t" : s;
        return 1;
    }
    if (cli_str(a, "--columns", &s)) {
        if (s) o->columns = s;
        return 1;
    }
    if (cli_choice(a, "--header", header_choices, &k)) {
        if (k >= 0) o->header = k == 2 ? -1 : k;
        return 1;
    }
    if (cli_flag(a, "--skip-bad", &flag)) {
        o->skip_bad = flag;
        return 1;
    }
    if (cli_range(a, "--scale", 0, &o->scale_lo, &o->scale_hi)) return 1;
    if (cli_choice(a, "--duplicates", dup_choices, &k)) {
        if (k >= 0) o->duplicates = dup_values[k];
        return 1;
    }
    return 0;
}

void cli_read_options_help(FILE *f) {
    fputs("Reading ratings files:\n"
          "  --sep S              field separator; \"tab\" for a tab\n"
          "                       (default: detect '::', tab, ',', ';', '|' or spaces)\n"
          "  --columns LIST       column order, e.g. user,item,rating,timestamp; '_' skips one\n"
          "                       (default: the header's names, else that order)\n"
          "  --header yes|no|auto whether the first line is a header (default auto: it is when\n"
          "                       its rating field is not a number)\n"
          "  --skip-bad           skip and count malformed lines instead of failing (default off)\n"
          "  --scale LO,HI        accepted rating range (default: any finite rating, with a\n"
          "                       warning for a few far outside the rest, e.g. -3 among 1-5)\n"
          "  --duplicates error|last|mean|keep\n"
          "                       what to do with a repeated (user, item) pair (default error)\n",
          f);
}
