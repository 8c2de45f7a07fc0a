/* loaders.c — reading ratings, models and item titles with their error
 * reporting. Skipped malformed lines are not an error but are never silent;
 * nor are ratings far outside the range the rest of the file uses. */
#include "cli/loaders.h"

#include "cli/messages.h"

#include <string.h>
#include <unistd.h>

/* Skipped lines and far-out ratings, which are kept, are said on stderr. */
static void report_read(const fl_dataset *d) {
    if (d->n_skipped)
        cli_note("skipped %zu malformed line%s in %s (first: %s)", d->n_skipped,
                 cli_s(d->n_skipped), d->source, d->first_skipped);
    if (d->n_outside)
        cli_warn("%zu rating%s in %s %s far outside %g..%g, the range the rest of the file uses "
                 "(first: %s); %s kept: use --scale LO,HI to refuse ratings outside LO..HI",
                 d->n_outside, cli_s(d->n_outside), d->source, d->n_outside == 1 ? "lies" : "lie",
                 (double)d->usual_lo, (double)d->usual_hi, d->first_outside,
                 d->n_outside == 1 ? "it was" : "they were");
}

int cli_load_ratings(const char *path, const fl_read_opts *o, fl_dataset **out) {
    fl_error err = {0};
    *out = NULL;
    /* Typed at a terminal, '-' would otherwise wait without a word. */
    if (strcmp(path, "-") == 0 && isatty(STDIN_FILENO))
        cli_note("reading ratings from standard input (the terminal); end them with Ctrl-D");
    fl_status st = fl_dataset_read(path, o, out, &err);
    if (st != FL_OK) return cli_fail(&err);
    report_read(*out);
    return 0;
}

int cli_load_user_ratings(const char *path, const fl_read_opts *o, fl_dataset **out) {
    fl_error err = {0};
    *out = NULL;
    if (strcmp(path, "-") == 0 && isatty(STDIN_FILENO))
        cli_note("reading item,rating lines from standard input (the terminal); end them with "
                 "Ctrl-D");
    /* The user id is a placeholder: the file has none, and no model is asked for it. */
    fl_status st = fl_dataset_read_user(path, "new-user", o, out, &err);
    if (st != FL_OK) return cli_fail(&err);
    report_read(*out);
    return 0;
}

int cli_load_model(const char *path, fl_model **out) {
    fl_error err = {0};
    *out = NULL;
    fl_status st = fl_model_load(path, out, &err);
    return st == FL_OK ? 0 : cli_fail(&err);
}

int cli_load_items(const char *path, fl_items **out) {
    fl_error err = {0};
    *out = NULL;
    if (!path) return 0;
    fl_status st = fl_items_read(path, out, &err);
    return st == FL_OK ? 0 : cli_fail(&err);
}
