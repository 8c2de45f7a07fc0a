/* main.c — the factorlens command: global --help/--version and dispatch to
 * one subcommand per file (cmd_*.c). Results go to stdout, messages to stderr. */
#include "cli/commands.h"
#include "cli/messages.h"
#include "cli/suggest.h"
#include "factorlens.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a model on ratings and report its test error"},
    {"split", cmd_split, "write the train/test split train makes, as files"},
    {"shard", cmd_shard, "cut a ratings file into parts for train --distributed"},
    {"eval", cmd_eval, "score a saved model on a ratings file (RMSE, MAE, MSE)"},
    {"predict", cmd_predict, "predict one user's rating of one item"},
    {"recommend", cmd_recommend, "top-n unseen items for a user"},
    {"similar", cmd_similar, "items nearest to an item by factor cosine"},
    {"tune", cmd_tune, "search hyper-parameters; write the best as a train config"},
    {"info", cmd_info, "describe a saved model"},
    {"demo", cmd_demo, "a guided tour on MovieLens 100K"},
    {"download", cmd_download, "fetch a public dataset into the cache"},
    {"report", cmd_report, "an HTML page explaining what a model learned"},
    {"serve", cmd_serve, "serve a model over HTTP (JSON API and a web page)"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *f) {
    fprintf(f, "Usage: factorlens COMMAND [options]\n"
               "\n"
               "A recommender engine for explicit ratings (matrix factorisation and a small\n"
               "neural net).\n"
               "\n"
               "Commands:\n");
    for (size_t k = 0; k < N_COMMANDS; k++)
        fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fprintf(f, "\n"
               "  factorlens COMMAND --help   options of a command, with their defaults\n"
               "  factorlens --version        print the version\n"
               "\n"
               "Example:\n"
               "  factorlens train --ratings ml-100k/u1.base --test ml-100k/u1.test --out m.flm\n"
               "  factorlens recommend m.flm --user 196 -n 10 --items ml-100k/u.item\n");
    cli_print_exit_codes(f);
}

/* Exit code 2 and the sentence for a name that is no command, with the
 * nearest command when one is close ("trian": did you mean 'train'?). */
static int unknown_command(const char *name) {
    const char *names[N_COMMANDS + 1];
    for (size_t k = 0; k < N_COMMANDS; k++) names[k] = commands[k].name;
    names[N_COMMANDS] = NULL;
    const char *guess = cli_nearest(name, strlen(name), names);
    if (guess)
        return cli_error(2, "unknown command '%s'; did you mean '%s'? (see factorlens --help)",
                         name, guess);
    return cli_error(2, "unknown command '%s' (see factorlens --help)", name);
}

int main(int argc, char **argv) {
#ifdef __GLIBC__
    /* Arrays of a MiB or more straight from mmap, and back to the system
     * when freed. glibc otherwise raises this threshold as large blocks are
     * freed, then serves arrays of several MiB from its heap, where each
     * regrowth leaves a freed but resident copy behind: 14 MB of the peak of
     * a 24.7M-rating train, all of it while the test file was read. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    if (argc < 2) {
        print_help(stderr); /* no command is a usage error: help, but not on stdout */
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) return print_help(stdout), 0;
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("factorlens %s\n", FL_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) return print_help(stdout), 0;
        for (size_t k = 0; k < N_COMMANDS; k++)
            if (strcmp(argv[2], commands[k].name) == 0) {
                char *help_argv[] = {argv[2], "--help", NULL};
                return commands[k].run(2, help_argv);
            }
        return unknown_command(argv[2]);
    }
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (strcmp(cmd, commands[k].name) == 0) return commands[k].run(argc - 1, argv + 1);
    return unknown_command(cmd);
}
