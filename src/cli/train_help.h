/* train_help.h — the text of `factorlens train --help`, with every default
 * generated from the library's own defaults. */
#ifndef FL_CLI_TRAIN_HELP_H
#define FL_CLI_TRAIN_HELP_H

#include <stdio.h>

void cli_train_help(FILE *f);

#endif
