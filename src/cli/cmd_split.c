/* cmd_split.c — `factorlens split`: writes the train/test split (or the K
 * folds) that `train` makes internally with the same options, as files in
 * the input's own format, so other tools (or a later `train --test`) see
 * exactly the same ratings. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/read_options.h"

#include <stdio.h>
#include <string.h>

static void print_help(void) {
    printf("Usage: factorlens split --ratings FILE (--holdout F | --holdout-per-user F |\n"
           "                        --folds K | --temporal F) [--seed S] --out-prefix P\n"
           "\n"
           "Writes the split that train makes with the same options: P.train and P.test,\n"
           "or P.1.train, P.1.test ... P.K.train, P.K.test with --folds. The files keep the\n"
           "input's separator and header, with the columns user, item, rating (and\n"
           "timestamp when the input has one), the ratings in their original order.\n"
           "`train --ratings P.train --test P.test --seed S` then trains the very model\n"
           "`train --ratings FILE --holdout... F --seed S` does.\n"
           "\n"
           "  --ratings FILE          ratings to split (required); - reads standard input\n"
           "  --holdout F             a random fraction F of the ratings to test\n"
           "  --holdout-per-user F    a random fraction F of each user's ratings to test\n"
           "                          (rounded; a user keeps at least one in train)\n"
           "  --folds K               K-fold cross-validation's folds\n"
           "  --temporal F            each user's latest fraction F to test (needs timestamps)\n"
           "  --seed S                seed of the random splits (default 42, as train's)\n"
           "  --out-prefix P          where to write (required)\n"
           "  -h, --help              this help\n");
    cli_read_options_help(stdout);
    cli_print_exit_codes(stdout);
}

static int write_pair(const fl_dataset *train, const fl_dataset *test, const char *prefix,
                      int fold) {
    char path[4096];
    fl_error err = {0};
    const fl_dataset *part[2] = {train, test};
    const char *suffix[2] = {"train", "test"};
    for (int h = 0; h < 2; h++) {
        if (fold)
            snprintf(path, sizeof path, "%s.%d.%s", prefix, fold, suffix[h]);
        else
            snprintf(path, sizeof path, "%s.%s", prefix, suffix[h]);
        if (fl_dataset_write(part[h], path, &err) != FL_OK) return cli_fail(&err);
        printf("%-8s %zu rating%s -> %s\n", suffix[h], part[h]->n_ratings,
               cli_s(part[h]->n_ratings), path);
    }
    return 0;
}

int cmd_split(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *ratings = NULL, *prefix = NULL;
    double holdout = 0, holdout_user = 0, temporal = 0;
    int folds = 0;
    fl_params defaults;
    fl_params_default(&defaults, FL_MODEL_BIASED);
    uint64_t seed = defaults.seed; /* train's default, so both split alike unasked */
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    cli_args a;
    cli_args_init(&a, "split", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            cli_unknown(&a);
            continue;
        }
        (void)(cli_str(&a, "--ratings", &ratings) || cli_fraction(&a, "--holdout", &holdout) ||
               cli_fraction(&a, "--holdout-per-user", &holdout_user) ||
               cli_fraction(&a, "--temporal", &temporal) ||
               cli_int(&a, "--folds", 2, 1000, &folds) || cli_u64(&a, "--seed", &seed) ||
               cli_str(&a, "--out-prefix", &prefix) || cli_read_option(&a, &ro));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!ratings) return cli_error(2, "split needs --ratings FILE (see factorlens split --help)");
    if (!prefix) return cli_error(2, "split needs --out-prefix P (see factorlens split --help)");
    int kinds = (holdout > 0) + (holdout_user > 0) + (temporal > 0) + (folds > 0);
    if (kinds != 1)
        return cli_error(2, "split needs exactly one of --holdout, --holdout-per-user, "
                            "--folds and --temporal");
    /* Timestamps are written when the file has them, so a temporal split of
     * a written part still works. */
    ro.keep_times = 1;
    fl_dataset *d = NULL;
    int rc = cli_load_ratings(ratings, &ro, &d);
    if (rc) return rc;
    fl_error err = {0};
    for (int k = 0; k < (folds ? folds : 1) && rc == 0; k++) {
        fl_dataset *train = NULL, *test = NULL;
        fl_status st;
        if (folds)
            st = fl_split_fold(d, folds, k, seed, &train, &test, &err);
        else if (holdout > 0)
            st = fl_split_holdout(d, holdout, seed, &train, &test, &err);
        else if (holdout_user > 0)
            st = fl_split_per_user(d, holdout_user, seed, &train, &test, &err);
        else
            st = fl_split_temporal(d, temporal, &train, &test, &err);
        rc = st != FL_OK ? cli_fail(&err) : write_pair(train, test, prefix, folds ? k + 1 : 0);
        fl_dataset_free(train);
        fl_dataset_free(test);
    }
    fl_dataset_free(d);
    return rc;
}
