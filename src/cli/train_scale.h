/* train_scale.h — `factorlens train` beyond one process's memory or life:
 * --distributed (the processes of mpirun, over MPI), --checkpoint and
 * --resume, --out-of-core. The options are parsed with train's own; a run that asks for
 * any of them goes through fl_train_distributed (or fl_train_out_of_core) instead of
 * fl_train. */
#ifndef FL_CLI_TRAIN_SCALE_H
#define FL_CLI_TRAIN_SCALE_H

#include "cli/args.h"
#include "factorlens.h"

#include <stdio.h>

typedef struct cli_scale_opts {
    int distributed, resume;
    const char *checkpoint;
    int checkpoint_every;
    int out_of_core;
    const char *memory;   /* --memory BYTES (K, M, G suffixes) */
    const char *work_dir;
} cli_scale_opts;

/* 1 if the current option is one of these (consumed into s), else 0. */
int cli_scale_option(cli_args *a, cli_scale_opts *s);
/* 1 when the run must go through cli_train_scaled. */
int cli_scale_wanted(const cli_scale_opts *s);
void cli_train_scale_help(FILE *f);

/* What train parsed, for the scaled run. */
typedef struct cli_scale_run {
    const fl_params *p;
    const fl_read_opts *ro;
    const char *ratings, *test, *out;
    int json, quiet;
    int other_split; /* --holdout, --folds, ... were given: refused here */
} cli_scale_run;

/* Trains, reports on process 0 (table, summary or JSON) and saves there;
 * returns the exit code (the same on every process). */
int cli_train_scaled(const cli_scale_opts *s, const cli_scale_run *r);

#endif
