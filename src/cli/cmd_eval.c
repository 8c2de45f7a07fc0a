/* cmd_eval.c — `factorlens eval MODEL --ratings FILE`: RMSE, MAE and MSE of a
 * saved model on a ratings file, with a policy for ids the model never saw;
 * with --ranking, top-k ranking metrics against the file's items instead;
 * with --fold-in N, the cold-start protocol (fl_evaluate_fold_in). */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/read_options.h"

#include <math.h>
#include <stdio.h>

static void print_help(void) {
    printf("Usage: factorlens eval MODEL --ratings FILE [options]\n"
           "\n"
           "Scores a saved model on a ratings file (rating error, --ranking, or --fold-in).\n"
           "\n"
           "  --ratings FILE       ratings to score (required); - reads standard input\n"
           "  --unknown mean|error|skip\n"
           "                       a user or item the model never saw: predict from the\n"
           "                       biases (never from an untrained vector) and count it,\n"
           "                       fail naming it (exit 3), or leave the rating out\n"
           "                       (default mean; the counts are always reported)\n"
           "  --json               print {\"n\",\"rmse\",\"mae\",\"mse\",\"n_unknown_users\",\n"
           "                       \"n_unknown_items\",\"n_skipped\"} (default: text)\n"
           "  --ranking            rank every item each user of FILE did not rate in training\n"
           "                       and score the top k against the user's items in FILE:\n"
           "                       precision, recall, NDCG, MAP at k, hit rate, coverage\n"
           "                       (users the model never saw are left out)\n"
           "  -k K                 --ranking: list length (default 10)\n"
           "  --relevant-min R     --ranking: only ratings >= R in FILE are relevant\n"
           "                       (default: every rating)\n"
           "  --threads N          threads reading FILE (plain files of over a MiB) and, with\n"
           "                       --ranking, ranking; 0 = all cores (default 0)\n"
           "                       --json with --ranking prints {\"k\",\"n_users\",\n"
           "                       \"precision_at_k\",\"recall_at_k\",\"ndcg_at_k\",\"map_at_k\",\n"
           "                       \"hit_rate\",\"coverage\",\"n_relevant\",\"n_unknown_users\",\n"
           "                       \"n_unknown_items\",\"n_seen\"}\n"
           "  --fold-in N          the cold-start protocol: each user of FILE the model never\n"
           "                       saw is folded in from their first N ratings (file order;\n"
           "                       as recommend --new-user, nothing retrained) and scored on\n"
           "                       the rest, beside the bias-only fallback (global mean +\n"
           "                       item bias, as --unknown mean) on the same ratings; users\n"
           "                       the model knows, new users with N ratings or fewer and\n"
           "                       ratings of items it never saw are left out and counted.\n"
           "                       --json prints {\"n\",\"n_users\",\"rmse\",\"mae\",\n"
           "                       \"rmse_baseline\",\"mae_baseline\",\"fold_in\",\n"
           "                       \"n_known_users\",\"n_short_users\",\"n_unknown_items\"}\n"
           "  -h, --help           this help\n");
    cli_read_options_help(stdout);
    cli_print_exit_codes(stdout);
}

static int print_fold_in(const fl_fold_in_metrics *r, int json) {
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "n", json_integer((json_int_t)r->n));
        json_object_set_new(o, "n_users", json_integer((json_int_t)r->n_users));
        json_object_set_new(o, "rmse", cli_json_real(r->rmse));
        json_object_set_new(o, "mae", cli_json_real(r->mae));
        json_object_set_new(o, "rmse_baseline", cli_json_real(r->rmse_baseline));
        json_object_set_new(o, "mae_baseline", cli_json_real(r->mae_baseline));
        json_object_set_new(o, "fold_in", json_integer((json_int_t)r->n_fold));
        json_object_set_new(o, "n_known_users", json_integer((json_int_t)r->n_known_users));
        json_object_set_new(o, "n_short_users", json_integer((json_int_t)r->n_short_users));
        json_object_set_new(o, "n_unknown_items", json_integer((json_int_t)r->n_unknown_items));
        return cli_json_print(o) != 0 ? cli_error(1, "could not write to standard output") : 0;
    }
    printf("users     %zu new to the model, each folded in from %zu rating%s\n", r->n_users,
           r->n_fold, cli_s(r->n_fold));
    printf("n         %zu ratings scored\n", r->n);
    printf("%-10s%10s%10s\n", "", "RMSE", "MAE");
    printf("%-10s%10.6f%10.6f\n", "fold-in", r->rmse, r->mae);
    printf("%-10s%10.6f%10.6f\n", "bias-only", r->rmse_baseline, r->mae_baseline);
    printf("left out: known users %zu, new users with %zu rating%s or fewer %zu, ratings of "
           "unknown items %zu\n",
           r->n_known_users, r->n_fold, cli_s(r->n_fold), r->n_short_users, r->n_unknown_items);
    return 0;
}

static int print_ranking(const fl_rank_metrics *r, int json) {
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "k", json_integer(r->k));
        json_object_set_new(o, "n_users", json_integer((json_int_t)r->n_users));
        json_object_set_new(o, "precision_at_k", cli_json_real(r->precision_at_k));
        json_object_set_new(o, "recall_at_k", cli_json_real(r->recall_at_k));
        json_object_set_new(o, "ndcg_at_k", cli_json_real(r->ndcg_at_k));
        json_object_set_new(o, "map_at_k", cli_json_real(r->map_at_k));
        json_object_set_new(o, "hit_rate", cli_json_real(r->hit_rate));
        json_object_set_new(o, "coverage", cli_json_real(r->coverage));
        json_object_set_new(o, "n_relevant", json_integer((json_int_t)r->n_relevant));
        json_object_set_new(o, "n_unknown_users", json_integer((json_int_t)r->n_unknown_users));
        json_object_set_new(o, "n_unknown_items", json_integer((json_int_t)r->n_unknown_items));
        json_object_set_new(o, "n_seen", json_integer((json_int_t)r->n_seen));
        return cli_json_print(o) != 0 ? cli_error(1, "could not write to standard output") : 0;
    }
    printf("users         %zu (with %zu relevant item%s)\n", r->n_users, r->n_relevant,
           cli_s(r->n_relevant));
    printf("precision@%-3d %.6f\nrecall@%-6d %.6f\nNDCG@%-8d %.6f\nMAP@%-9d %.6f\n", r->k,
           r->precision_at_k, r->k, r->recall_at_k, r->k, r->ndcg_at_k, r->k, r->map_at_k);
    printf("hit rate      %.6f\ncoverage      %.6f\n", r->hit_rate, r->coverage);
    printf("left out: unknown users %zu, ratings of unknown items %zu, of items rated in "
           "training %zu\n",
           r->n_unknown_users, r->n_unknown_items, r->n_seen);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    /* Test files routinely hold a few ids their training file lacks (u1.test
     * has 32 ratings of items u1.base never saw), so scoring them from the
     * biases and saying how many is the useful default here; predict and
     * recommend, which answer for one id, refuse unknown ids by default. */
    static const char *const unknown_choices[] = {"mean", "error", "skip", NULL};
    static const fl_unknown_policy unknown_values[] = {FL_UNKNOWN_MEAN, FL_UNKNOWN_ERROR,
                                                       FL_UNKNOWN_SKIP};
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *model_path = NULL, *ratings = NULL;
    int json = 0, unknown = -1, ranking = 0; /* unknown: -1 until given (then mean) */
    size_t fold_in = 0;
    fl_rank_opts rank;
    fl_rank_opts_default(&rank);
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    cli_args a;
    cli_args_init(&a, "eval", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (model_path) cli_unknown(&a);
            model_path = a.arg;
            continue;
        }
        (void)(cli_str(&a, "--ratings", &ratings) ||
               cli_choice(&a, "--unknown", unknown_choices, &unknown) ||
               cli_flag(&a, "--json", &json) || cli_flag(&a, "--ranking", &ranking) ||
               cli_int(&a, "-k", 1, 100000, &rank.k) ||
               cli_float(&a, "--relevant-min", -HUGE_VAL, HUGE_VAL, &rank.relevant_min) ||
               cli_int(&a, "--threads", 0, 1024, &rank.n_threads) ||
               cli_size(&a, "--fold-in", 1, 1000000, &fold_in) || cli_read_option(&a, &ro));
    }
    if (a.failed) return cli_usage_fail(&a);
    ro.n_threads = rank.n_threads; /* reading uses the ranking's threads */
    if (fold_in && ranking)
        return cli_error(2, "--fold-in and --ranking are separate protocols: give one");
    if (fold_in && unknown >= 0)
        return cli_error(2, "--fold-in scores the users the model never saw by folding them in, "
                            "and leaves out items it never saw: --unknown does not apply");
    if (unknown < 0) unknown = 0;
    if (!model_path) return cli_error(2, "eval needs a MODEL file (see factorlens eval --help)");
    if (!ratings) return cli_error(2, "eval needs --ratings FILE (see factorlens eval --help)");

    fl_model *m = NULL;
    fl_dataset *d = NULL;
    int rc = cli_load_model(model_path, &m);
    if (rc == 0) {
        /* A model with time bins scores each rating in its own bin. */
        fl_model_info in;
        fl_model_get_info(m, &in);
        if (in.params.time_bins > 0) ro.keep_times = 1;
        rc = cli_load_ratings(ratings, &ro, &d);
    }
    fl_metrics mt = {0};
    fl_error err = {0};
    if (fold_in) {
        fl_fold_in_metrics fm;
        if (rc == 0 && fl_evaluate_fold_in(m, d, fold_in, &fm, &err) != FL_OK) {
            fl_model_info info;
            fl_model_get_info(m, &info);
            rc = err.code == FL_ERR_USAGE
                     ? cli_error(2, "%s (kind %s) cannot fold in new users: %s", model_path,
                                 fl_model_kind_name(info.kind), err.msg)
                     : cli_fail(&err);
        }
        if (rc == 0) rc = print_fold_in(&fm, json);
        fl_dataset_free(d);
        fl_model_free(m);
        return rc;
    }
    if (ranking) {
        fl_rank_metrics rm;
        if (rc == 0 && fl_evaluate_ranking(m, d, &rank, &rm, &err) != FL_OK) rc = cli_fail(&err);
        if (rc == 0) rc = print_ranking(&rm, json);
        fl_dataset_free(d);
        fl_model_free(m);
        return rc;
    }
    if (rc == 0 && fl_evaluate(m, d, unknown_values[unknown], &mt, &err) != FL_OK)
        rc = cli_fail(&err);
    if (rc == 0) {
        size_t unknown_n = mt.n_unknown_users + mt.n_unknown_items;
        if (unknown_n && unknown_values[unknown] == FL_UNKNOWN_MEAN)
            fprintf(stderr,
                    "factorlens: note: %zu of %zu rating%s %s a user or item the model never "
                    "saw (unknown users: %zu, unknown items: %zu); %s predicted from the "
                    "biases\n",
                    unknown_n, mt.n, cli_s(mt.n), unknown_n == 1 ? "has" : "have",
                    mt.n_unknown_users, mt.n_unknown_items,
                    unknown_n == 1 ? "it was" : "they were");
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "n", json_integer((json_int_t)mt.n));
            json_object_set_new(o, "rmse", cli_json_real(mt.rmse));
            json_object_set_new(o, "mae", cli_json_real(mt.mae));
            json_object_set_new(o, "mse", cli_json_real(mt.mse));
            json_object_set_new(o, "n_unknown_users", json_integer((json_int_t)mt.n_unknown_users));
            json_object_set_new(o, "n_unknown_items", json_integer((json_int_t)mt.n_unknown_items));
            json_object_set_new(o, "n_skipped", json_integer((json_int_t)mt.n_skipped));
            if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
        } else {
            printf("n      %zu\nRMSE   %.6f\nMAE    %.6f\nMSE    %.6f\n", mt.n, mt.rmse, mt.mae,
                   mt.mse);
            printf("unknown users %zu, unknown items %zu, skipped %zu\n", mt.n_unknown_users,
                   mt.n_unknown_items, mt.n_skipped);
        }
    }
    fl_dataset_free(d);
    fl_model_free(m);
    return rc;
}
