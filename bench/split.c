/* split.c — writes the random holdout split factorlens itself would use
 * (fl_split_holdout with the same fraction and seed) as two TSV files, so a
 * peer in another language trains and tests on exactly the same ratings.
 * Usage: fl-bench-split RATINGS TRAIN_OUT TEST_OUT [FRACTION [SEED]] */
#include "factorlens.h"

#include <stdio.h>
#include <stdlib.h>

/* Raw ids, not dense indices: the files must read like any ratings file. */
static int write_tsv(const char *path, const fl_dataset *d) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (size_t k = 0; k < d->n_ratings; k++)
        fprintf(f, "%s\t%s\t%.9g\n", fl_idmap_name(d->user_ids, d->users[k]),
                fl_idmap_name(d->item_ids, d->items[k]), (double)d->ratings[k]);
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s RATINGS TRAIN_OUT TEST_OUT [FRACTION (0.2) [SEED (42)]]\n",
                argv[0]);
        return 2;
    }
    double fraction = argc > 4 ? strtod(argv[4], NULL) : 0.2;
    uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 42;
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    fl_error err = {0};
    fl_dataset *all = NULL, *train = NULL, *test = NULL;
    if (fl_dataset_read(argv[1], &ro, &all, &err) != FL_OK ||
        fl_split_holdout(all, fraction, seed, &train, &test, &err) != FL_OK) {
        fprintf(stderr, "fl-bench-split: %s\n", err.msg);
        fl_dataset_free(all);
        return 1;
    }
    int rc = 0;
    if (write_tsv(argv[2], train) || write_tsv(argv[3], test)) {
        fprintf(stderr, "fl-bench-split: cannot write %s or %s\n", argv[2], argv[3]);
        rc = 1;
    }
    fl_dataset_free(all);
    fl_dataset_free(train);
    fl_dataset_free(test);
    return rc;
}
