/* loaders.c — reading ratings, models and item titles with their error
 * reporting. Skipped malformed lines are not an error but are never silent;
 * nor are ratings far outside the range the rest of the file uses. */
#include "cli/loaders.h"

#include "cli/epoch_log.h"
#include "cli/messages.h"
#include "cli/progress.h"

#include <stdio.h>
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

/* fl_read_opts.progress drawing the bar ctx; Ctrl-C stops the reading. */
static int reading(void *ctx, uint64_t done, uint64_t total) {
    cli_progress_update(ctx, (double)done, (double)total);
    return cli_interrupted();
}

int cli_load_ratings(const char *path, const fl_read_opts *o, fl_dataset **out) {
    return cli_load_ratings_shown(path, o, 0, out);
}

int cli_load_ratings_shown(const char *path, const fl_read_opts *o, int show, fl_dataset **out) {
    fl_error err = {0};
    *out = NULL;
    /* Typed at a terminal, '-' would otherwise wait without a word. */
    if (strcmp(path, "-") == 0 && isatty(STDIN_FILENO))
        cli_note("reading ratings from standard input (the terminal); end them with Ctrl-D");
    cli_progress bar;
    cli_progress_init(&bar, show && cli_stderr_is_tty());
    fl_read_opts shown = *o;
    if (bar.enabled) {
        char label[64];
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        snprintf(label, sizeof label, "reading %s", strcmp(path, "-") ? name : "standard input");
        cli_progress_start(&bar, label, "B");
        cli_progress_show(&bar, label); /* at once: the bar itself waits for a rate */
        shown.progress = reading, shown.progress_ctx = &bar;
    }
    fl_status st = fl_dataset_read(path, &shown, out, &err);
    cli_progress_clear(&bar);
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

/* fl_model_save_progress drawing the bar ctx; Ctrl-C stops the save. */
static int saving(void *ctx, uint64_t done, uint64_t total) {
    cli_progress_update(ctx, (double)done, (double)total);
    return cli_interrupted();
}

int cli_save_model_shown(const fl_model *m, const char *path, int show) {
    fl_error err = {0};
    cli_progress bar;
    cli_progress_init(&bar, show && cli_stderr_is_tty());
    char label[300];
    snprintf(label, sizeof label, "saving %s", path);
    if (bar.enabled) {
        cli_progress_start(&bar, label, "B");
        cli_progress_show(&bar, label); /* at once: the bar itself waits for a rate */
    }
    fl_status st = fl_model_save_progress(m, path, bar.enabled ? saving : NULL, &bar, &err);
    cli_progress_clear(&bar);
    return st == FL_OK ? 0 : cli_fail(&err);
}
