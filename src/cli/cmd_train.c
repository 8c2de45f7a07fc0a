/* cmd_train.c — `factorlens train`: read ratings, pick a test set (a file, a
 * holdout, a temporal split, or k-fold cross-validation), train with live
 * epoch lines, report test metrics and optionally save the model. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/epoch_log.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/read_options.h"
#include "cli/train_help.h"
#include "cli/train_scale.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct train_cfg {
    const char *ratings, *test, *out;
    const char *user_features, *item_features;
    int implicit_flag;
    fl_features *uf, *itf; /* read once, used by every fold */
    double holdout, holdout_user, temporal;
    int folds;
    int json, quiet, ranking;
    int kind, solver, solver_set;
    int n_dropout;
    float dropout[FL_MAX_LAYERS];
    fl_params p;
    fl_read_opts ro;
    cli_scale_opts scale; /* --distributed, --checkpoint, --resume, --out-of-core (train_scale.h) */
} train_cfg;

static const char *const kind_choices[] = {"dot",  "biased", "nn",    "ials",
                                           "bpr", "fm",     "svdpp", NULL};
static const char *const solver_choices[] = {"sgd", "adam", "als", "mcmc", NULL};

/* One pass over argv. Run twice: first to learn --model/--solver (whose
 * defaults the other options override), then for real onto those defaults. */
static void parse(cli_args *a, train_cfg *c) {
    fl_params *p = &c->p;
    int dummy = 0;
    while (cli_next(a)) {
        if (a->positional) {
            cli_unknown(a);
            continue;
        }
        (void)(cli_str(a, "--ratings", &c->ratings) || cli_str(a, "--test", &c->test) ||
               cli_fraction(a, "--holdout", &c->holdout) ||
               cli_fraction(a, "--holdout-per-user", &c->holdout_user) ||
               cli_fraction(a, "--temporal", &c->temporal) ||
               cli_int(a, "--folds", 2, 1000, &c->folds) ||
               cli_choice(a, "--model", kind_choices, &c->kind) ||
               (cli_choice(a, "--solver", solver_choices, &c->solver) && (c->solver_set = 1)) ||
               cli_int(a, "--factors", 1, 4096, &p->n_factors) ||
               cli_int(a, "--epochs", 1, 100000, &p->epochs) ||
               cli_int(a, "--samples", 1, 100000, &p->epochs) ||
               cli_int(a, "--burn-in", 0, 100000, &p->burn_in) ||
               cli_int(a, "--ensemble-rank", 1, 4096, &p->ensemble_rank) ||
               cli_str(a, "--user-features", &c->user_features) ||
               cli_str(a, "--item-features", &c->item_features) ||
               cli_flag(a, "--implicit", &c->implicit_flag) ||
               cli_int(a, "--time-bins", 0, 10000, &p->time_bins) ||
               cli_float(a, "--lr", 0, HUGE_VAL, &p->lr) ||
               cli_float(a, "--reg", 0, HUGE_VAL, &p->reg_factors) ||
               cli_float(a, "--reg-bias", 0, HUGE_VAL, &p->reg_bias) ||
               cli_float(a, "--alpha", 0, HUGE_VAL, &p->alpha) ||
               cli_float(a, "--positive-min", -HUGE_VAL, HUGE_VAL, &p->positive_min) ||
               cli_flag(a, "--ranking", &c->ranking) ||
               cli_range(a, "--y-range", 1, &p->y_lo, &p->y_hi) ||
               cli_float(a, "--init-std", 0, HUGE_VAL, &p->init_std) ||
               cli_int(a, "--batch-size", 1, 1 << 20, &p->batch_size) ||
               cli_int_list(a, "--layers", 1, 4096, p->layers, FL_MAX_LAYERS, &p->n_layers) ||
               cli_float_list(a, "--dropout", 0, 1, c->dropout, FL_MAX_LAYERS, &c->n_dropout) ||
               cli_float(a, "--emb-dropout", 0, 1, &p->dropout[0]) ||
               cli_fraction(a, "--valid", &p->valid_fraction) ||
               cli_int(a, "--patience", 1, 1000000, &p->patience) ||
               cli_int(a, "--threads", 0, 1024, &p->n_threads) || cli_u64(a, "--seed", &p->seed) ||
               cli_str(a, "--out", &c->out) || cli_flag(a, "--json", &c->json) ||
               cli_flag(a, "--quiet", &c->quiet) || cli_flag(a, "-h|--help", &dummy) ||
               cli_read_option(a, &c->ro) || cli_scale_option(a, &c->scale));
    }
}

/* What --implicit turns on for fm: each user's rated items (SVD++) and
 * each item's raters ("flipped"); docs/defaults.md has the measurements. */
#define FM_IMPLICIT (FL_IMPLICIT_USER_ITEMS | FL_IMPLICIT_ITEM_USERS)

/* Parses and validates; 0 or a usage error already printed (2). */
static int configure(int argc, char **argv, train_cfg *c) {
    memset(c, 0, sizeof *c);
    c->kind = FL_MODEL_BIASED;
    fl_read_opts_default(&c->ro);
    fl_params_default(&c->p, FL_MODEL_BIASED);
    cli_args a;
    cli_args_init(&a, "train", argc, argv);
    parse(&a, c);
    if (a.failed) return cli_usage_fail(&a);

    fl_params_init(&c->p, (fl_model_kind)c->kind,
                   c->solver_set ? (fl_solver)c->solver : FL_SOLVER_DEFAULT);
    c->n_dropout = 0;
    cli_args_init(&a, "train", argc, argv);
    parse(&a, c);
    if (a.failed) return cli_usage_fail(&a); /* cannot happen: same argv as pass one */

    if (!c->ratings)
        return cli_error(2, "train needs --ratings FILE (see factorlens train --help)");
    if (c->test && strcmp(c->ratings, "-") == 0 && strcmp(c->test, "-") == 0)
        return cli_error(2, "--ratings and --test cannot both read standard input ('-'); "
                            "give one of them as a file");
    int splits = !!c->test + (c->holdout > 0) + (c->holdout_user > 0) + (c->temporal > 0) +
                 (c->folds > 0);
    if (splits > 1)
        return cli_error(
            2, "use only one of --test, --holdout, --holdout-per-user, --temporal and --folds");
    if (c->folds && c->out)
        return cli_error(2, "--out cannot be used with --folds: cross-validation trains one "
                            "model per fold, so train without --folds to save a model");
    if (c->n_dropout) {
        if (c->n_dropout != c->p.n_layers)
            return cli_error(2, "--dropout gives %d value%s but there %s %d hidden layer%s",
                             c->n_dropout, c->n_dropout == 1 ? "" : "s",
                             c->p.n_layers == 1 ? "is" : "are", c->p.n_layers,
                             c->p.n_layers == 1 ? "" : "s");
        for (int l = 0; l < c->n_dropout; l++) c->p.dropout[l + 1] = c->dropout[l];
    }
    if (c->implicit_flag) {
        if (c->p.kind != FL_MODEL_FM && c->p.kind != FL_MODEL_SVDPP)
            return cli_error(2, "--implicit needs --model fm (svdpp has it already)");
        c->p.implicit |= FM_IMPLICIT;
    }
    if ((c->user_features || c->item_features) && c->p.kind != FL_MODEL_FM)
        return cli_error(2, "--user-features and --item-features need --model fm");
    const char *bad = fl_params_check(&c->p);
    if (bad) return cli_error(2, "%s", bad);
    if (c->temporal > 0 || c->p.time_bins > 0) c->ro.keep_times = 1;
    c->ro.n_threads = c->p.n_threads; /* reading uses the training's threads */
    /* An implicit model's test score is its ranking: RMSE means nothing there. */
    if (fl_model_kind_implicit(c->p.kind)) c->ranking = 1;
    return 0;
}

/* What one trained model scored. */
typedef struct run_out {
    fl_train_result res;
    fl_metrics test; /* n == 0 without a test set */
    fl_rank_metrics rank; /* with --ranking (or an implicit model) and a test set; else k == 0 */
    size_t n_train, n_test;
    int threads; /* used, as the model records it (--threads 0 is resolved) */
} run_out;

static int interrupted_exit(void) {
    return cli_error(1, "interrupted; training stopped and no model was written");
}

/* Trains on train, scores test (may be NULL); *model is kept for saving.
 * train's ratings are handed to the library (fl_train_owned): one copy in
 * memory instead of two, and nothing here needs them afterwards. */
static int run_one(const train_cfg *c, fl_dataset *train, const fl_dataset *test,
                   cli_epoch_log *log, fl_model **model, run_out *ro) {
    memset(ro, 0, sizeof *ro);
    fl_error err = {0};
    fl_train_hooks hooks = cli_epoch_log_hooks(log);
    ro->n_train = train->n_ratings;
    fl_status st = c->uf || c->itf
                       ? fl_train_features(train, test, &c->p, c->uf, c->itf, &hooks, model,
                                           &ro->res, &err)
                       : fl_train_owned(train, test, &c->p, &hooks, model, &ro->res, &err);
    cli_progress_clear(&log->bar);
    if (cli_interrupted()) {
        fl_model_free(*model);
        *model = NULL;
        return interrupted_exit();
    }
    if (st != FL_OK) return cli_fail(&err);
    fl_model_info info;
    fl_model_get_info(*model, &info);
    ro->threads = info.params.n_threads;
    if (test && test->n_ratings && c->ranking) {
        fl_rank_opts o;
        fl_rank_opts_default(&o);
        o.n_threads = ro->threads;
        if (fl_evaluate_ranking(*model, test, &o, &ro->rank, &err) != FL_OK) return cli_fail(&err);
    }
    if (test && test->n_ratings && fl_model_kind_implicit(c->p.kind)) {
        ro->n_test = test->n_ratings;
        ro->test.rmse = ro->test.mae = ro->test.mse = NAN;
    } else if (test && test->n_ratings) {
        ro->n_test = test->n_ratings;
        /* Unknown test ids are scored from the biases and counted, as during training. */
        if (fl_evaluate(*model, test, FL_UNKNOWN_MEAN, &ro->test, &err) != FL_OK)
            return cli_fail(&err);
    } else {
        ro->test.rmse = ro->test.mae = ro->test.mse = NAN;
    }
    return 0;
}

static void set_common(json_t *o, const train_cfg *c, int threads) {
    json_object_set_new(o, "model", json_string(fl_model_kind_name(c->p.kind)));
    json_object_set_new(o, "solver", json_string(fl_solver_name(c->p.solver)));
    json_object_set_new(o, "factors", json_integer(c->p.n_factors));
    json_object_set_new(o, "threads", json_integer(threads));
    json_object_set_new(o, "seed", json_integer((json_int_t)c->p.seed));
}

/* The test set's ranking metrics, as eval --ranking names them, "test_" before each. */
static void add_ranking(json_t *o, const fl_rank_metrics *m) {
    json_object_set_new(o, "rank_k", json_integer(m->k));
    json_object_set_new(o, "rank_users", json_integer((json_int_t)m->n_users));
    json_object_set_new(o, "test_precision_at_k", cli_json_real(m->precision_at_k));
    json_object_set_new(o, "test_recall_at_k", cli_json_real(m->recall_at_k));
    json_object_set_new(o, "test_ndcg_at_k", cli_json_real(m->ndcg_at_k));
    json_object_set_new(o, "test_map_at_k", cli_json_real(m->map_at_k));
    json_object_set_new(o, "test_hit_rate", cli_json_real(m->hit_rate));
    json_object_set_new(o, "test_coverage", cli_json_real(m->coverage));
}

static json_t *summary_json(const train_cfg *c, const run_out *r) {
    json_t *o = json_object();
    json_object_set_new(o, "epochs", json_integer(r->res.epochs_run));
    json_object_set_new(o, "best_epoch", json_integer(r->res.best_epoch));
    json_object_set_new(o, "train_mse", cli_json_real(r->res.last.train_mse));
    json_object_set_new(o, "reg_penalty", cli_json_real(r->res.last.reg_penalty));
    json_object_set_new(o, "valid_rmse", cli_json_real(r->res.last.valid_rmse));
    json_object_set_new(o, "test_rmse", cli_json_real(r->test.rmse));
    json_object_set_new(o, "test_mae", cli_json_real(r->test.mae));
    json_object_set_new(o, "test_mse", cli_json_real(r->test.mse));
    json_object_set_new(o, "n_train", json_integer((json_int_t)r->n_train));
    json_object_set_new(o, "n_test", json_integer((json_int_t)r->n_test));
    json_object_set_new(
        o, "n_unknown_test",
        json_integer((json_int_t)(r->test.n_unknown_users + r->test.n_unknown_items)));
    json_object_set_new(o, "n_unknown_users", json_integer((json_int_t)r->test.n_unknown_users));
    json_object_set_new(o, "n_unknown_items", json_integer((json_int_t)r->test.n_unknown_items));
    json_object_set_new(o, "seconds", cli_json_real(r->res.seconds));
    if (r->rank.k) add_ranking(o, &r->rank);
    set_common(o, c, r->threads);
    return o;
}

static void summary_human(const train_cfg *c, const run_out *r, const char *source) {
    printf("model    %s (%s), %d factors, %d epoch%s in %.2f s", fl_model_kind_name(c->p.kind),
           fl_solver_name(c->p.solver), c->p.n_factors, r->res.epochs_run,
           r->res.epochs_run == 1 ? "" : "s", r->res.seconds);
    if (c->p.valid_fraction > 0)
        printf(", kept epoch %d (best validation RMSE)", r->res.best_epoch);
    printf("\ntrain    %zu rating%s from %s: train_mse %.6f, reg %.6f\n", r->n_train,
           cli_s(r->n_train), source, r->res.last.train_mse, r->res.last.reg_penalty);
    if (r->rank.k)
        printf("ranking  %zu test user%s, top %d of every item unrated in training: "
               "NDCG %.4f  precision %.4f  recall %.4f  MAP %.4f  hit rate %.4f  coverage %.4f\n",
               r->rank.n_users, cli_s(r->rank.n_users), r->rank.k, r->rank.ndcg_at_k,
               r->rank.precision_at_k, r->rank.recall_at_k, r->rank.map_at_k, r->rank.hit_rate,
               r->rank.coverage);
    if (r->n_test && !fl_model_kind_implicit(c->p.kind)) {
        printf("test     %zu rating%s: RMSE %.6f  MAE %.6f  MSE %.6f\n", r->n_test,
               cli_s(r->n_test), r->test.rmse, r->test.mae, r->test.mse);
        size_t unk = r->test.n_unknown_users + r->test.n_unknown_items;
        if (unk)
            printf("         %zu test rating%s had a user or item unseen in training "
                   "(unknown users: %zu, unknown items: %zu): predicted from the biases\n",
                   unk, unk == 1 ? "" : "s", r->test.n_unknown_users, r->test.n_unknown_items);
    }
}

static int cross_validate(const train_cfg *c, const fl_dataset *d) {
    double sum_rmse = 0, sum_mae = 0, sum_mse = 0, sum_train = 0, sum_reg = 0, seconds = 0;
    size_t sum_n_train = 0, sum_n_test = 0, sum_unknown = 0;
    int max_epochs = 0, threads = c->p.n_threads;
    json_t *per_fold = json_array();
    int rc = 0;
    for (int k = 0; k < c->folds && rc == 0; k++) {
        fl_dataset *train = NULL, *test = NULL;
        fl_error err = {0};
        if (fl_split_fold(d, c->folds, k, c->p.seed, &train, &test, &err) != FL_OK) {
            rc = cli_fail(&err);
            break;
        }
        cli_epoch_log log;
        cli_epoch_log_init(&log, c->json, c->quiet, 1, c->p.valid_fraction > 0);
        log.fold = k + 1, log.folds = c->folds;
        log.legend_done = k > 0;
        fl_model *m = NULL;
        run_out r;
        rc = run_one(c, train, test, &log, &m, &r);
        fl_model_free(m);
        fl_dataset_free(train);
        fl_dataset_free(test);
        if (rc) break;
        sum_rmse += r.test.rmse, sum_mae += r.test.mae, sum_mse += r.test.mse;
        sum_train += r.res.last.train_mse, sum_reg += r.res.last.reg_penalty;
        sum_n_train += r.n_train, sum_n_test += r.n_test;
        sum_unknown += r.test.n_unknown_users + r.test.n_unknown_items;
        seconds += r.res.seconds;
        if (r.res.epochs_run > max_epochs) max_epochs = r.res.epochs_run;
        threads = r.threads;
        json_array_append_new(per_fold, cli_json_real(r.test.rmse));
        if (c->json) {
            json_t *o = summary_json(c, &r);
            json_object_set_new(o, "fold", json_integer(k + 1));
            json_object_set_new(o, "folds", json_integer(c->folds));
            cli_json_print(o);
        } else {
            printf(
                "fold %d/%d: test RMSE %.6f  MAE %.6f  MSE %.6f  (%zu train, %zu test rating%s)\n",
                k + 1, c->folds, r.test.rmse, r.test.mae, r.test.mse, r.n_train, r.n_test,
                cli_s(r.n_test));
            fflush(stdout);
        }
    }
    if (rc) {
        json_decref(per_fold);
        return rc;
    }
    double K = c->folds;
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "folds", json_integer(c->folds));
        json_object_set_new(o, "epochs", json_integer(max_epochs));
        json_object_set_new(o, "train_mse", cli_json_real(sum_train / K));
        json_object_set_new(o, "reg_penalty", cli_json_real(sum_reg / K));
        json_object_set_new(o, "test_rmse", cli_json_real(sum_rmse / K));
        json_object_set_new(o, "test_mae", cli_json_real(sum_mae / K));
        json_object_set_new(o, "test_mse", cli_json_real(sum_mse / K));
        json_object_set_new(o, "fold_test_rmse", per_fold);
        json_object_set_new(o, "n_train",
                            json_integer((json_int_t)(sum_n_train / (size_t)c->folds)));
        json_object_set_new(o, "n_test", json_integer((json_int_t)(sum_n_test / (size_t)c->folds)));
        json_object_set_new(o, "n_unknown_test", json_integer((json_int_t)sum_unknown));
        json_object_set_new(o, "best_epoch", json_null());
        json_object_set_new(o, "seconds", cli_json_real(seconds));
        set_common(o, c, threads);
        if (cli_json_print(o) != 0) return cli_error(1, "could not write to standard output");
    } else {
        json_decref(per_fold);
        printf("mean of %d folds: test RMSE %.6f  MAE %.6f  MSE %.6f  (%.1f s in all)\n", c->folds,
               sum_rmse / K, sum_mae / K, sum_mse / K, seconds);
    }
    return 0;
}

static int train_main(int argc, char **argv);
static int train_features_main(train_cfg *c);

/* --config FILE: its options first, each unless the command line gives it. */
int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return cli_train_help(stdout), 0;
    cli_config_argv merged;
    int rc = cli_config_merge(argc, argv, &merged);
    if (rc) return rc;
    rc = train_main(merged.argc, merged.argv);
    cli_config_free(&merged);
    return rc;
}

/* The side-feature files (bad lines: file:line, exit 4). */
static int load_features(train_cfg *c) {
    fl_error err = {0};
    if (c->user_features && fl_features_read(c->user_features, &c->uf, &err) != FL_OK)
        return cli_fail(&err);
    if (c->item_features && fl_features_read(c->item_features, &c->itf, &err) != FL_OK)
        return cli_fail(&err);
    return 0;
}

static int train_main(int argc, char **argv) {
    train_cfg c;
    int rc = configure(argc, argv, &c);
    if (rc) return rc;
    if (cli_scale_wanted(&c.scale)) {
        cli_scale_run run = {&c.p, &c.ro, c.ratings, c.test, c.out, c.json, c.quiet,
                             c.holdout > 0 || c.holdout_user > 0 || c.temporal > 0 || c.folds};
        return cli_train_scaled(&c.scale, &run);
    }
    if ((rc = load_features(&c))) {
        fl_features_free(c.uf);
        return rc;
    }
    rc = train_features_main(&c);
    fl_features_free(c.uf);
    fl_features_free(c.itf);
    return rc;
}

static int train_features_main(train_cfg *cp) {
    train_cfg c = *cp;
    int rc = 0;
    cli_interrupt_install();

    fl_dataset *all = NULL, *train = NULL, *test = NULL;
    fl_model *m = NULL;
    fl_error err = {0};
    if ((rc = cli_load_ratings_shown(c.ratings, &c.ro, !c.quiet, &all))) return rc;
    if (c.folds) {
        rc = cross_validate(&c, all);
        fl_dataset_free(all);
        return rc;
    }
    fl_status st = FL_OK;
    if (c.test) {
        rc = cli_load_ratings_shown(c.test, &c.ro, !c.quiet, &test);
        train = all, all = NULL;
    } else if (c.holdout > 0) {
        st = fl_split_holdout(all, c.holdout, c.p.seed, &train, &test, &err);
    } else if (c.holdout_user > 0) {
        st = fl_split_per_user(all, c.holdout_user, c.p.seed, &train, &test, &err);
    } else if (c.temporal > 0) {
        st = fl_split_temporal(all, c.temporal, &train, &test, &err);
    } else {
        train = all, all = NULL;
    }
    if (st != FL_OK) rc = cli_fail(&err);
    /* A split copied what it needs (ids included): the whole set would only
     * add its size to training's peak. */
    fl_dataset_free(all);
    all = NULL;
    run_out r;
    if (rc == 0) {
        cli_epoch_log log;
        cli_epoch_log_init(&log, c.json, c.quiet, test != NULL, c.p.valid_fraction > 0);
        rc = run_one(&c, train, test, &log, &m, &r);
    }
    if (rc == 0 && c.out) rc = cli_save_model_shown(m, c.out, !c.quiet);
    if (rc == 0) {
        if (c.json) {
            json_t *o = summary_json(&c, &r);
            if (c.out) json_object_set_new(o, "out", json_string(c.out));
            if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
        } else {
            summary_human(&c, &r, strcmp(c.ratings, "-") ? c.ratings : "standard input");
            if (c.out) printf("saved    %s\n", c.out);
        }
    }
    fl_model_free(m);
    fl_dataset_free(all);
    fl_dataset_free(train);
    fl_dataset_free(test);
    return rc;
}
