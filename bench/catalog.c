/* catalog.c — writes a model with a large synthetic catalogue for the
 * server's latency benchmark (bench/serve_latency.sh): uniform item
 * popularity so nearly every one of --items items is rated, one epoch of
 * SGD on a biased model with --factors factors. The model's quality does not
 * matter here, only its shape.
 * Usage: fl-bench-catalog --items N --factors K --out FILE [--users U] [--per-item R] */
#include "factorlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    unsigned long items = 1000000, factors = 32, users = 20000, per_item = 10;
    const char *out = NULL;
    for (int k = 1; k + 1 < argc; k += 2) {
        if (!strcmp(argv[k], "--items")) items = strtoul(argv[k + 1], NULL, 10);
        else if (!strcmp(argv[k], "--factors")) factors = strtoul(argv[k + 1], NULL, 10);
        else if (!strcmp(argv[k], "--users")) users = strtoul(argv[k + 1], NULL, 10);
        else if (!strcmp(argv[k], "--per-item")) per_item = strtoul(argv[k + 1], NULL, 10);
        else if (!strcmp(argv[k], "--out")) out = argv[k + 1];
        else return fprintf(stderr, "fl-bench-catalog: unknown option %s\n", argv[k]), 2;
    }
    if (!out || !items || !factors || !users || !per_item)
        return fprintf(stderr, "usage: fl-bench-catalog --items N --factors K --out FILE "
                               "[--users U] [--per-item R]\n"), 2;
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    so.n_users = (uint32_t)users;
    so.n_items = (uint32_t)items;
    /* R ratings per item on average: an item goes unrated with chance
     * about e^-R, so the catalogue holds nearly all N. */
    so.n_ratings = (size_t)items * per_item;
    so.zipf = 0.0;
    so.seed = 17;
    fl_dataset *d = NULL;
    fl_error err = {0};
    if (fl_synth_generate(&so, &d, &err) != FL_OK)
        return fprintf(stderr, "fl-bench-catalog: %s\n", err.msg), 1;
    fl_params p;
    fl_params_init(&p, FL_MODEL_BIASED, FL_SOLVER_SGD);
    p.n_factors = (int)factors;
    p.epochs = 1;
    fl_model *m = NULL;
    fl_train_result res;
    if (fl_train_owned(d, NULL, &p, NULL, &m, &res, &err) != FL_OK ||
        fl_model_save(m, out, &err) != FL_OK)
        return fprintf(stderr, "fl-bench-catalog: %s\n", err.msg), 1;
    fl_model_info info;
    fl_model_get_info(m, &info);
    printf("%s: %u items, %u users, %d factors\n", out, info.n_items, info.n_users, p.n_factors);
    fl_model_free(m);
    fl_dataset_free(d);
    return 0;
}
