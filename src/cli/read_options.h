/* read_options.h — the ratings-reader options shared by train and eval
 * (--sep, --columns, --header, --skip-bad, --scale, --duplicates). */
#ifndef FL_CLI_READ_OPTIONS_H
#define FL_CLI_READ_OPTIONS_H

#include "cli/args.h"
#include "factorlens.h"

#include <stdio.h>

/* 1 if the current option is a reader option (consumed into o), else 0. */
int cli_read_option(cli_args *a, fl_read_opts *o);
void cli_read_options_help(FILE *f);

#endif
