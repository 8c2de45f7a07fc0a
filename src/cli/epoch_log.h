/* epoch_log.h — what the CLI shows while a model trains: the progress bar
 * during an epoch, one line per epoch (aligned table or JSON), and Ctrl-C,
 * which cancels training cleanly through the progress hook. */
#ifndef FL_CLI_EPOCH_LOG_H
#define FL_CLI_EPOCH_LOG_H

#include "cli/progress.h"
#include "factorlens.h"

typedef struct cli_epoch_log {
    int json; /* epoch lines as JSON objects */
    int quiet; /* no epoch lines, no bar */
    int has_test; /* show the test columns */
    int has_valid; /* show the validation column */
    int fold, folds; /* cross-validation: 1-based fold of folds; folds 0 otherwise */
    int table_started; /* the column header of this run was printed */
    int legend_done; /* the train_mse/reg explanation was printed */
    cli_progress bar;
} cli_epoch_log;

void cli_epoch_log_init(cli_epoch_log *l, int json, int quiet, int has_test, int has_valid);
/* Hooks for fl_train whose ctx is l. */
fl_train_hooks cli_epoch_log_hooks(cli_epoch_log *l);

/* SIGINT sets a flag instead of killing us; a second Ctrl-C kills as usual. */
void cli_interrupt_install(void);
int cli_interrupted(void);

#endif
