/* loaders.h — opening the CLI's inputs (ratings, model, item titles) and
 * reporting failures, so each subcommand handles them in one line. */
#ifndef FL_CLI_LOADERS_H
#define FL_CLI_LOADERS_H

#include "factorlens.h"

/* Each returns 0, or the exit code after printing the error sentence. */
int cli_load_ratings(const char *path, const fl_read_opts *o, fl_dataset **out);
/* One user's "item,rating" lines (fl_dataset_read_user), e.g. a new user's. */
int cli_load_user_ratings(const char *path, const fl_read_opts *o, fl_dataset **out);
/* The same with a bar on stderr while the file is read ("reading FILE",
 * bytes, ETA) when show is set and stderr is a terminal; Ctrl-C stops it. */
int cli_load_ratings_shown(const char *path, const fl_read_opts *o, int show, fl_dataset **out);
/* Saves m to path; with show, and stderr a terminal, a bar while it is
 * hashed and written (Ctrl-C stops it, leaving no file). Returns the exit
 * code (0, or the failure's, its message printed). */
int cli_save_model_shown(const fl_model *m, const char *path, int show);
int cli_load_model(const char *path, fl_model **out);
/* path NULL: *out = NULL and 0 (titles are optional). */
int cli_load_items(const char *path, fl_items **out);

#endif
