/* cmd_info.c — `factorlens info MODEL`: what a model file holds: its kind,
 * sizes, every hyper-parameter, and the data and run that produced it. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"

#include <stdio.h>
#include <sys/stat.h>

static void print_help(void) {
    printf("Usage: factorlens info MODEL [--json]\n"
           "\n"
           "Describes a saved model: kind, solver, numbers of users and items, factors, all\n"
           "hyper-parameters, ratings trained on, global mean, rating range, epochs run,\n"
           "training time, source file, creation time and file size; for fm and svdpp\n"
           "models also the samples, the feature groups (side, name, features) and the ids\n"
           "without a features row (JSON: groups, n_features, ensemble_rank, burn_in,\n"
           "time_bins (0: none), users_without_features, items_without_features,\n"
           "..._feature_rows_unused).\n"
           "\n"
           "  --json               print one JSON object (default: text)\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

static json_t *params_json(const fl_params *p) {
    json_t *o = json_object();
    json_object_set_new(o, "factors", json_integer(p->n_factors));
    json_object_set_new(o, "epochs", json_integer(p->epochs));
    json_object_set_new(o, "lr", cli_json_float(p->lr));
    json_object_set_new(o, "reg", cli_json_float(p->reg_factors));
    json_object_set_new(o, "reg_bias", cli_json_float(p->reg_bias));
    if (p->y_lo < p->y_hi) {
        json_t *r = json_array();
        json_array_append_new(r, cli_json_float(p->y_lo));
        json_array_append_new(r, cli_json_float(p->y_hi));
        json_object_set_new(o, "y_range", r);
    } else {
        json_object_set_new(o, "y_range", json_null());
    }
    json_object_set_new(o, "init_std", cli_json_float(p->init_std));
    json_object_set_new(o, "batch_size", json_integer(p->batch_size));
    json_t *layers = json_array(), *dropout = json_array();
    for (int l = 0; l < p->n_layers; l++) {
        json_array_append_new(layers, json_integer(p->layers[l]));
        json_array_append_new(dropout, cli_json_float(p->dropout[l + 1]));
    }
    json_object_set_new(o, "layers", layers);
    json_object_set_new(o, "dropout", dropout);
    json_object_set_new(o, "emb_dropout", cli_json_float(p->dropout[0]));
    json_object_set_new(o, "threads", json_integer(p->n_threads));
    json_object_set_new(o, "seed", json_integer((json_int_t)p->seed));
    json_object_set_new(o, "valid", cli_json_real(p->valid_fraction));
    json_object_set_new(o, "patience", json_integer(p->patience));
    return o;
}

static void print_human(const char *path, const fl_model_info *in, long long size) {
    const fl_params *p = &in->params;
    printf("file          %s (%lld bytes)\n", path, size);
    printf("kind          %s\n", fl_model_kind_name(in->kind));
    printf("solver        %s\n", fl_solver_name(p->solver));
    printf("users         %u\nitems         %u\nfactors       %d\n", in->n_users, in->n_items,
           p->n_factors);
    printf("trained on    %zu rating%s from %s\n", in->n_train, cli_s(in->n_train),
           in->source[0] ? in->source : "?");
    printf("global mean   %.4f\nrating range  %g to %g\n", (double)in->global_mean,
           (double)in->rating_lo, (double)in->rating_hi);
    printf("epochs run    %d of %d\n", in->epochs_run, p->epochs);
    printf("created       %s\n", in->created);
    printf("lr            %g\nreg           %g\nreg-bias      %g\n", (double)p->lr,
           (double)p->reg_factors, (double)p->reg_bias);
    if (p->y_lo < p->y_hi)
        printf("y-range       %g,%g\n", (double)p->y_lo, (double)p->y_hi);
    else
        printf("y-range       none\n");
    printf("init-std      %g\nbatch-size    %d\n", (double)p->init_std, p->batch_size);
    if (in->kind == FL_MODEL_NN) {
        printf("layers        ");
        for (int l = 0; l < p->n_layers; l++) printf("%s%d", l ? "," : "", p->layers[l]);
        printf("%s\ndropout       ", p->n_layers ? "" : "none");
        for (int l = 0; l < p->n_layers; l++)
            printf("%s%g", l ? "," : "", (double)p->dropout[l + 1]);
        printf("%s\nemb-dropout   %g\n", p->n_layers ? "" : "none", (double)p->dropout[0]);
    }
    /* Files written before models recorded their thread count hold 0. */
    printf("threads       %d%s\nseed          %llu\n", p->n_threads,
           p->n_threads ? "" : " (all cores; the count was not recorded)",
           (unsigned long long)p->seed);
    printf("valid         %g\npatience      %d\n", p->valid_fraction, p->patience);
}

/* fm and svdpp: samples kept, feature groups and the number of features. */
static void print_groups(const fl_model *m) {
    fl_model_info in;
    fl_model_get_info(m, &in);
    if (!fl_model_n_groups(m)) return;
    printf("samples       %d, burn-in %d: the model averages the rest, interactions at rank %d\n",
           in.params.epochs, in.params.burn_in, in.params.ensemble_rank);
    uint64_t total = 0;
    for (int g = 0; g < fl_model_n_groups(m); g++) {
        int side;
        uint32_t n;
        const char *name = fl_model_group(m, g, &side, &n);
        printf("group         %-5s %-16s %u feature%s\n", side ? "item" : "user", name, n,
               n == 1 ? "" : "s");
        total += n;
    }
    printf("features      %llu in %d groups\n", (unsigned long long)total, fl_model_n_groups(m));
    if (in.params.time_bins > 0)
        printf("time bins     %d: an item bias per bin of the training period\n", in.params.time_bins);
    for (int side = 0; side < 2; side++) {
        uint32_t without, unused;
        fl_model_feature_rows(m, side, &without, &unused);
        if (without || unused)
            printf("%s features %u %s without a row, %u row%s left out (no training rating)\n",
                   side ? "item " : "user ", without, side ? "items" : "users", unused,
                   unused == 1 ? "" : "s");
    }
}

int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL;
    int json = 0;
    cli_args a;
    cli_args_init(&a, "info", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)cli_flag(&a, "--json", &json);
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!model_path) return cli_error(2, "info needs a MODEL file (see factorlens info --help)");

    fl_model *m = NULL;
    int rc = cli_load_model(model_path, &m);
    if (rc) return rc;
    fl_model_info in;
    fl_model_get_info(m, &in);
    struct stat sb;
    long long size = stat(model_path, &sb) == 0 ? (long long)sb.st_size : -1;
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(model_path));
        json_object_set_new(o, "file_size", json_integer(size));
        json_object_set_new(o, "kind", json_string(fl_model_kind_name(in.kind)));
        json_object_set_new(o, "solver", json_string(fl_solver_name(in.params.solver)));
        json_object_set_new(o, "n_users", json_integer(in.n_users));
        json_object_set_new(o, "n_items", json_integer(in.n_items));
        json_object_set_new(o, "factors", json_integer(in.params.n_factors));
        json_object_set_new(o, "n_train", json_integer((json_int_t)in.n_train));
        json_object_set_new(o, "global_mean", cli_json_float(in.global_mean));
        json_t *r = json_array();
        json_array_append_new(r, cli_json_float(in.rating_lo));
        json_array_append_new(r, cli_json_float(in.rating_hi));
        json_object_set_new(o, "rating_range", r);
        json_object_set_new(o, "epochs_run", json_integer(in.epochs_run));
        json_object_set_new(o, "source", json_string(in.source));
        json_object_set_new(o, "created", json_string(in.created));
        json_object_set_new(o, "params", params_json(&in.params));
        if (fl_model_n_groups(m)) {
            /* fm and svdpp: the feature groups, and the model's feature count. */
            json_t *groups = json_array();
            json_int_t total = 0;
            for (int g = 0; g < fl_model_n_groups(m); g++) {
                int side;
                uint32_t n;
                const char *name = fl_model_group(m, g, &side, &n);
                json_array_append_new(groups, json_pack("{s:s, s:s, s:I}", "name", name, "side",
                                                        side ? "item" : "user", "features",
                                                        (json_int_t)n));
                total += n;
            }
            json_object_set_new(o, "groups", groups);
            json_object_set_new(o, "n_features", json_integer(total));
            for (int side = 0; side < 2; side++) {
                uint32_t without, unused;
                fl_model_feature_rows(m, side, &without, &unused);
                json_object_set_new(o, side ? "items_without_features" : "users_without_features",
                                    json_integer(without));
                json_object_set_new(o, side ? "item_feature_rows_unused" : "user_feature_rows_unused",
                                    json_integer(unused));
            }
            json_object_set_new(o, "burn_in", json_integer(in.params.burn_in));
            json_object_set_new(o, "ensemble_rank", json_integer(in.params.ensemble_rank));
            json_object_set_new(o, "time_bins", json_integer(in.params.time_bins));
        }
        if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
    } else {
        print_human(model_path, &in, size);
        print_groups(m);
    }
    fl_model_free(m);
    return rc;
}
