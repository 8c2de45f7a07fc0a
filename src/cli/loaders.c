/* loaders.c — reading ratings, models and item titles with their error
 * reporting. Skipped malformed lines are not an error but are never silent. */
#include "cli/loaders.h"

#include "cli/messages.h"

int cli_load_ratings(const char *path, const fl_read_opts *o, fl_dataset **out) {
    fl_error err = {0};
    *out = NULL;
    fl_status st = fl_dataset_read(path, o, out, &err);
    if (st != FL_OK) return cli_fail(&err);
    if ((*out)->n_skipped)
        cli_note("skipped %zu malformed line%s in %s (first: %s)", (*out)->n_skipped,
                 (*out)->n_skipped == 1 ? "" : "s", path, (*out)->first_skipped);
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
