/* cmd_demo.c — `factorlens demo`: a guided tour on MovieLens 100K (or, offline,
 * on synthetic ratings): train the default model, compare it with two
 * baselines on the same test set, and show what it learned. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/data_hint.h"
#include "cli/epoch_log.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/ranking.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_help(void) {
    printf("Usage: factorlens demo [options]\n"
           "\n"
           "Trains the default biased model on MovieLens 100K (u1.base, tested on u1.test),\n"
           "compares its test RMSE with two baselines (predicting the global mean; biases\n"
           "only), and prints the movies with the highest learned bias, recommendations for\n"
           "user 196 and the movies most like Star Wars (1977). Without the data and without\n"
           "network it runs on synthetic ratings instead.\n"
           "\n"
           "  --data DIR           the ml-100k directory, or one containing it\n"
           "                       (default: fetched as by `factorlens download ml-100k`, which\n"
           "                       looks in $FACTORLENS_DATA first)\n"
           "  --offline            use synthetic ratings, never the network (default off)\n"
           "  --threads N          worker threads, 0 = all cores (default 0)\n"
           "  --seed S             seed for training and the synthetic split (default 42)\n"
           "  --json               JSON epoch lines, then one summary object (default: text)\n"
           "  --quiet              no epoch lines and no progress bar\n"
           "  -h, --help           this help\n");
    cli_print_exit_codes(stdout);
}

typedef struct demo_data {
    fl_dataset *train, *test;
    fl_items *items;
    const char *user, *item; /* examples: user 196 and Star Wars, or u0 / i0 */
    char name[PATH_MAX + 32];
} demo_data;

static int has_u1(const char *dir) {
    char path[PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/u1.base", dir) >= (int)sizeof path) return 0;
    return access(path, R_OK) == 0;
}

static int load_ml100k(const char *dir, demo_data *dd) {
    char base[PATH_MAX + 16], test[PATH_MAX + 16], item[PATH_MAX + 16];
    if (snprintf(base, sizeof base, "%s/u1.base", dir) >= (int)sizeof base ||
        snprintf(test, sizeof test, "%s/u1.test", dir) >= (int)sizeof test ||
        snprintf(item, sizeof item, "%s/u.item", dir) >= (int)sizeof item) {
        return cli_error(2, "the data directory path '%s' is too long", dir);
    }
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    int rc = cli_load_ratings(base, &ro, &dd->train);
    if (rc == 0) rc = cli_load_ratings(test, &ro, &dd->test);
    if (rc == 0) rc = cli_load_items(item, &dd->items);
    dd->user = "196";
    dd->item = "50";
    snprintf(dd->name, sizeof dd->name, "MovieLens 100K (%s, u1.base / u1.test)", dir);
    return rc;
}

static int load_synthetic(uint64_t seed, demo_data *dd) {
    fl_synth_opts so;
    fl_synth_opts_default(&so);
    fl_dataset *all = NULL;
    fl_error err = {0};
    if (fl_synth_generate(&so, &all, &err) != FL_OK) return cli_fail(&err);
    fl_status st = fl_split_holdout(all, 0.2, seed, &dd->train, &dd->test, &err);
    fl_dataset_free(all);
    if (st != FL_OK) return cli_fail(&err);
    dd->user = "u0";
    dd->item = "i0";
    snprintf(dd->name, sizeof dd->name,
             "synthetic ratings (%u users, %u items, %zu ratings, random 80/20 split)", so.n_users,
             so.n_items, so.n_ratings);
    return 0;
}

static int on_bytes(void *ctx, double done, double total) {
    cli_progress_update(ctx, done, total);
    return 0;
}

/* Fills dd from --data, from fl_fetch, or (offline) from the generator. */
static int get_data(const char *data_dir, int offline, uint64_t seed, int quiet, demo_data *dd) {
    char hint[2048];
    if (data_dir) {
        char sub[PATH_MAX + 16];
        snprintf(sub, sizeof sub, "%s/ml-100k", data_dir);
        if (has_u1(data_dir)) return load_ml100k(data_dir, dd);
        if (has_u1(sub)) return load_ml100k(sub, dd);
        return cli_error(1,
                         "%s holds no MovieLens 100K files (u1.base was not found in it or "
                         "in its ml-100k folder); give the ml-100k folder or the one holding "
                         "it, or leave --data out to use FACTORLENS_DATA, the cache or a download",
                         data_dir);
    }
    if (!offline) {
        char dir[PATH_MAX];
        fl_download_opts o;
        memset(&o, 0, sizeof o);
        cli_progress bar;
        cli_progress_init(&bar, !quiet && cli_stderr_is_tty());
        cli_progress_start(&bar, "ml-100k", "B");
        o.progress = on_bytes;
        o.ctx = &bar;
        fl_error err = {0};
        fl_status st = fl_fetch("ml-100k", &o, dir, sizeof dir, &err);
        cli_progress_clear(&bar);
        if (st == FL_OK) return load_ml100k(dir, dd);
        if (st != FL_ERR_NETWORK) return cli_fail(&err);
        cli_data_hint(hint, sizeof hint, "ml-100k", NULL, 1);
        cli_note("offline (%s); using synthetic ratings instead of MovieLens 100K. %s", err.msg,
                 hint);
    } else {
        cli_data_hint(hint, sizeof hint, "ml-100k", NULL, 1);
        cli_note("offline; using synthetic ratings instead of MovieLens 100K. %s", hint);
    }
    return load_synthetic(seed, dd);
}

/* RMSE of always predicting the training mean. */
static double global_mean_rmse(const fl_dataset *train, const fl_dataset *test) {
    double mu = fl_dataset_mean(train), s = 0;
    for (size_t k = 0; k < test->n_ratings; k++) {
        double e = (double)test->ratings[k] - mu;
        s += e * e;
    }
    return test->n_ratings ? sqrt(s / (double)test->n_ratings) : NAN;
}

/* Trains with p and returns the test RMSE via *rmse. */
static int train_and_score(const demo_data *dd, const fl_params *p, cli_epoch_log *log,
                           fl_model **m, double *rmse) {
    fl_error err = {0};
    fl_train_hooks hooks = cli_epoch_log_hooks(log);
    fl_train_result res;
    fl_status st = fl_train(dd->train, dd->test, p, &hooks, m, &res, &err);
    cli_progress_clear(&log->bar);
    if (cli_interrupted()) return cli_error(1, "interrupted");
    if (st != FL_OK) return cli_fail(&err);
    fl_metrics mt;
    if (fl_evaluate(*m, dd->test, FL_UNKNOWN_MEAN, &mt, &err) != FL_OK) return cli_fail(&err);
    *rmse = mt.rmse;
    return 0;
}

typedef struct bias_rank {
    uint32_t index;
    float bias;
    const char *id;
} bias_rank;

/* Exact ties by raw id, as in every top-n list (fl_scored). */
static int by_bias_desc(const void *a, const void *b) {
    const bias_rank *x = a, *y = b;
    if (x->bias != y->bias) return x->bias < y->bias ? 1 : -1;
    return fl_id_compare(x->id, y->id);
}

/* Items with at least min_count training ratings, highest learned bias first:
 * the bias is the item's quality once each user's generosity is accounted for,
 * and the count floor keeps rarely-rated items from topping it by chance. */
static size_t top_biases(const fl_model *m, uint32_t min_count, bias_rank *out, size_t n) {
    uint32_t n_items = fl_idmap_size(fl_model_item_ids(m));
    bias_rank *all = malloc((n_items ? n_items : 1) * sizeof *all);
    if (!all) return 0;
    size_t k = 0;
    for (uint32_t i = 0; i < n_items; i++)
        if (fl_model_item_count(m, i) >= min_count)
            all[k].index = i, all[k].bias = fl_model_item_bias(m, i),
            all[k].id = fl_idmap_name(fl_model_item_ids(m), i), k++;
    qsort(all, k, sizeof *all, by_bias_desc);
    if (k > n) k = n;
    memcpy(out, all, k * sizeof *out);
    free(all);
    return k;
}

int cmd_demo(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *data_dir = NULL;
    int offline = 0, json = 0, quiet = 0, threads = 0;
    uint64_t seed = 42;
    cli_args a;
    cli_args_init(&a, "demo", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            cli_unknown(&a);
            continue;
        }
        (void)(cli_str(&a, "--data", &data_dir) || cli_flag(&a, "--offline", &offline) ||
               cli_int(&a, "--threads", 0, 1024, &threads) || cli_u64(&a, "--seed", &seed) ||
               cli_flag(&a, "--json", &json) || cli_flag(&a, "--quiet", &quiet));
    }
    if (a.failed) return cli_usage_fail(&a);
    cli_interrupt_install();

    demo_data dd;
    memset(&dd, 0, sizeof dd);
    fl_model *model = NULL, *bias_model = NULL;
    int rc = get_data(data_dir, offline, seed, quiet, &dd);
    double rmse_model = NAN, rmse_bias = NAN, rmse_mean = NAN;
    fl_params p;
    fl_params_default(&p, FL_MODEL_BIASED);
    p.n_threads = threads;
    p.seed = seed;
    if (rc == 0) {
        /* The blank line sets off the epoch table; with --quiet there is
         * none, and the report starts with its own blank line. */
        if (!json)
            printf("data: %s\n%zu training and %zu test rating%s\n%s", dd.name, dd.train->n_ratings,
                   dd.test->n_ratings, cli_s(dd.test->n_ratings), quiet ? "" : "\n");
        cli_epoch_log log;
        cli_epoch_log_init(&log, json, quiet, 1, 0);
        rc = train_and_score(&dd, &p, &log, &model, &rmse_model);
    }
    if (rc == 0) {
        /* With init_std = 0 every factor starts at zero, and a zero factor's
         * gradient is zero, so they stay zero: this is exactly the bias-only
         * model, trained by the same code on the same data. */
        fl_params pb = p;
        pb.init_std = 0.0f;
        cli_epoch_log log;
        cli_epoch_log_init(&log, 0, 1, 1, 0);
        log.bar.enabled = !quiet && cli_stderr_is_tty();
        rc = train_and_score(&dd, &pb, &log, &bias_model, &rmse_bias);
        rmse_mean = global_mean_rmse(dd.train, dd.test);
    }
    bias_rank top[10];
    size_t n_top = 0, n_recs = 0, n_sim = 0;
    fl_scored recs[10], sim[5];
    int have_sim = 0;
    if (rc == 0) {
        fl_error err = {0};
        n_top = top_biases(model, 20, top, 10);
        if (fl_recommend(model, dd.user, 10, recs, &n_recs, &err) != FL_OK) rc = cli_fail(&err);
        /* Similar items are a bonus: the example item may be absent from a split. */
        have_sim = fl_similar(model, dd.item, 5, sim, &n_sim, NULL) == FL_OK;
    }
    if (rc == 0 && json) {
        json_t *o = json_object();
        json_object_set_new(o, "data", json_string(dd.name));
        json_object_set_new(o, "n_train", json_integer((json_int_t)dd.train->n_ratings));
        json_object_set_new(o, "n_test", json_integer((json_int_t)dd.test->n_ratings));
        json_object_set_new(o, "test_rmse", cli_json_real(rmse_model));
        json_object_set_new(o, "bias_only_rmse", cli_json_real(rmse_bias));
        json_object_set_new(o, "global_mean_rmse", cli_json_real(rmse_mean));
        json_t *tb = json_array();
        for (size_t k = 0; k < n_top; k++) {
            json_t *e = json_object();
            const char *title = cli_item_title(model, dd.items, top[k].index);
            json_object_set_new(e, "item",
                                json_string(fl_idmap_name(fl_model_item_ids(model), top[k].index)));
            json_object_set_new(e, "bias", cli_json_float(top[k].bias));
            json_object_set_new(e, "n_ratings",
                                json_integer(fl_model_item_count(model, top[k].index)));
            json_object_set_new(e, "title", title ? json_string(title) : json_null());
            json_array_append_new(tb, e);
        }
        json_object_set_new(o, "top_item_bias", tb);
        json_object_set_new(o, "user", json_string(dd.user));
        json_object_set_new(o, "recommendations",
                            cli_ranking_json(model, dd.items, recs, n_recs, "rating", "score"));
        json_object_set_new(o, "item", json_string(dd.item));
        json_object_set_new(o, "similar",
                            have_sim ? cli_ranking_json(model, dd.items, sim, n_sim, "cosine", NULL)
                                     : json_null());
        if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
    } else if (rc == 0) {
        printf("\nTest RMSE on the same %zu rating%s (lower is better):\n", dd.test->n_ratings,
               cli_s(dd.test->n_ratings));
        printf("  %-34s %.4f\n", "global mean (predict the average)", rmse_mean);
        printf("  %-34s %.4f\n", "bias only (average + user + item)", rmse_bias);
        char label[64];
        snprintf(label, sizeof label, "biased MF, %d factors", p.n_factors);
        printf("  %-34s %.4f\n", label, rmse_model);
        printf("\nHighest learned item bias (items with at least 20 training ratings):\n");
        for (size_t k = 0; k < n_top; k++) {
            const char *title = cli_item_title(model, dd.items, top[k].index);
            printf("%2zu. %-8s %+6.3f  %4u ratings%s%s\n", k + 1,
                   fl_idmap_name(fl_model_item_ids(model), top[k].index), (double)top[k].bias,
                   fl_model_item_count(model, top[k].index), title ? "  " : "", title ? title : "");
        }
        printf("\nTop 10 recommendations for user %s (items they rated are left out):\n", dd.user);
        cli_ranking_print(stdout, model, dd.items, recs, n_recs);
        if (have_sim) {
            const char *title = dd.items ? fl_items_title(dd.items, dd.item) : NULL;
            printf("\nMost similar to item %s%s%s, by cosine of factor vectors:\n", dd.item,
                   title ? ", " : "", title ? title : "");
            cli_ranking_print(stdout, model, dd.items, sim, n_sim);
        }
    }
    fl_model_free(model);
    fl_model_free(bias_model);
    fl_dataset_free(dd.train);
    fl_dataset_free(dd.test);
    fl_items_free(dd.items);
    return rc;
}
