/* cmd_tune.c — `factorlens tune`: random search with successive halving over
 * a model's factors, regularisation, learning rate, epochs (and alpha for
 * ials), scored by cross-validation or a validation split; writes the best
 * settings as a config file that `train --config` reads.
 *
 * Trials: the first is the defaults, the others drawn from ranges around
 * them (log-uniform for scales). Successive halving with factor 3: every
 * trial is first scored on a third of the budget, the best third goes on
 * to three times as much, and so on until the last rung scores the
 * survivors on the whole budget; the best of the last rung wins. The budget
 * is the folds with --folds (rung r uses the first K/3^(R-r) of them, each
 * training for its full epochs: early epochs of SGD would favour large
 * steps), or the epochs with --valid (a third of each trial's epochs, then
 * all). The defaults are carried to the last rung whatever their early
 * score, so the result is never worse than them on the tuning score. A
 * rung's trainings (trial x fold) run in parallel, one thread each, on all
 * cores: each is the same whatever thread runs it, so the result depends
 * on the seed alone. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/epoch_log.h"
#include "cli/json_out.h"
#include "cli/loaders.h"
#include "cli/messages.h"
#include "cli/read_options.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { METRIC_RMSE, METRIC_NDCG };

typedef struct trial {
    fl_params p;     /* full settings; p.epochs is the trial's full budget */
    double score;    /* this rung's mean over the folds */
    atomic_int folds_left;
    atomic_int failed;
    char error[sizeof(((fl_error *)0)->msg)];
} trial;

typedef struct tune_run {
    trial *trials;
    int *alive, n_alive; /* trial indices in this rung */
    double fraction;     /* of each trial's epochs, this rung */
    int n_used;          /* folds scored this rung: the first n_used */
    int rung, rungs;
    fl_dataset **train, **test; /* [n_folds] */
    double *fold_score;  /* [n_trials * n_folds] this rung's */
    int n_folds, metric, quiet, json;
    atomic_int next;     /* the next job: alive index * n_folds + fold */
    pthread_mutex_t print;
} tune_run;

/* splitmix64: the CLI's own small generator (the library's is internal). */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) / 9007199254740992.0; }

/* Log-uniform in [lo, hi]. */
static double log_uniform(uint64_t *s, double lo, double hi) {
    return exp(log(lo) + uniform(s) * (log(hi) - log(lo)));
}

/* Trial k > 0: each setting drawn around the default d. */
static void draw(const fl_params *d, uint64_t *s, fl_params *p) {
    *p = *d;
    p->n_factors = (int)lround(log_uniform(s, d->n_factors / 4.0 > 4 ? d->n_factors / 4.0 : 4,
                                           d->n_factors * 2.0));
    p->reg_factors = (float)log_uniform(s, d->reg_factors / 4.0, d->reg_factors * 4.0);
    if (d->solver != FL_SOLVER_ALS)
        p->lr = (float)log_uniform(s, d->lr / 3.0, d->lr * 3.0);
    int lo = d->epochs / 2 > 2 ? d->epochs / 2 : 2, hi = d->epochs * 2;
    p->epochs = lo + (int)(uniform(s) * (hi - lo + 1));
    if (p->epochs > hi) p->epochs = hi;
    if (d->kind == FL_MODEL_IALS) p->alpha = (float)log_uniform(s, d->alpha / 4.0, d->alpha * 4.0);
}

static int stop_hook(void *ctx, int epoch, int epochs, size_t done, size_t total) {
    (void)ctx, (void)epoch, (void)epochs, (void)done, (void)total;
    return cli_interrupted();
}

static json_t *params_json(const fl_params *p) {
    json_t *o = json_object();
    json_object_set_new(o, "factors", json_integer(p->n_factors));
    json_object_set_new(o, "epochs", json_integer(p->epochs));
    json_object_set_new(o, "reg", cli_json_real(p->reg_factors));
    json_object_set_new(o, "lr", p->solver != FL_SOLVER_ALS ? cli_json_real(p->lr) : json_null());
    if (p->kind == FL_MODEL_IALS) json_object_set_new(o, "alpha", cli_json_real(p->alpha));
    return o;
}

static void print_row(tune_run *r, int k) {
    const trial *t = &r->trials[k];
    const fl_params *p = &t->p;
    int epochs = (int)lround(p->epochs * r->fraction);
    if (epochs < 1) epochs = 1;
    if (r->quiet) return;
    pthread_mutex_lock(&r->print);
    if (r->json) { /* one object per scored trial, as train --json prints its epochs */
        json_t *o = params_json(p);
        json_object_set_new(o, "rung", json_integer(r->rung + 1));
        json_object_set_new(o, "trial", json_integer(k));
        json_object_set_new(o, "folds_used", json_integer(r->n_used));
        json_object_set_new(o, "epochs_run", json_integer(epochs));
        json_object_set_new(o, "score", t->failed ? json_null() : cli_json_real(t->score));
        cli_json_print(o);
        fflush(stdout);
        pthread_mutex_unlock(&r->print);
        return;
    }
    char lr[32] = "-"; /* als has none */
    if (p->solver != FL_SOLVER_ALS) snprintf(lr, sizeof lr, "%.4g", (double)p->lr);
    printf("%4d/%-4d %5d %5d %7d %10.4g %10s %8d/%-4d", r->rung + 1, r->rungs, k, r->n_used,
           p->n_factors, (double)p->reg_factors, lr, epochs, p->epochs);
    if (p->kind == FL_MODEL_IALS) printf(" %8.4g", (double)p->alpha);
    if (t->failed) printf("  failed: %s\n", t->error);
    else printf("  %.6f\n", t->score);
    fflush(stdout);
    pthread_mutex_unlock(&r->print);
}

/* The rung's jobs, taken in turn by every thread. */
static void *worker(void *arg) {
    tune_run *r = arg;
    for (;;) {
        int job = atomic_fetch_add(&r->next, 1);
        if (job >= r->n_alive * r->n_used || cli_interrupted()) return NULL;
        int k = r->alive[job / r->n_used], f = job % r->n_used;
        trial *t = &r->trials[k];
        fl_params p = t->p;
        p.n_threads = 1;
        p.epochs = (int)lround(t->p.epochs * r->fraction);
        if (p.epochs < 1) p.epochs = 1;
        fl_model *m = NULL;
        fl_error err = {0};
        fl_train_hooks hooks = {.progress = stop_hook};
        double score = NAN;
        fl_status st = fl_train(r->train[f], NULL, &p, &hooks, &m, NULL, &err);
        if (st == FL_OK && r->metric == METRIC_RMSE) {
            fl_metrics mt;
            st = fl_evaluate(m, r->test[f], FL_UNKNOWN_MEAN, &mt, &err);
            score = mt.rmse;
        } else if (st == FL_OK) {
            fl_rank_opts o;
            fl_rank_opts_default(&o);
            o.n_threads = 1;
            fl_rank_metrics rm;
            st = fl_evaluate_ranking(m, r->test[f], &o, &rm, &err);
            score = rm.ndcg_at_k;
        }
        fl_model_free(m);
        /* A trial that diverges (too high a learning rate) loses; it is no error. */
        if ((st != FL_OK || !isfinite(score)) && !atomic_exchange(&t->failed, 1))
            snprintf(t->error, sizeof t->error, "%s", st != FL_OK ? err.msg : "score not finite");
        r->fold_score[(size_t)k * r->n_folds + f] = score;
        if (atomic_fetch_sub(&t->folds_left, 1) == 1) {
            /* The last fold in: the mean, summed in fold order whatever order they finished. */
            double sum = 0;
            for (int g = 0; g < r->n_used; g++) sum += r->fold_score[(size_t)k * r->n_folds + g];
            t->score = sum / r->n_used;
            print_row(r, k);
        }
    }
}

/* Is trial a better than trial b? A better score; failed trials last; ties
 * by trial number. */
static int better(const tune_run *r, int a, int b) {
    const trial *x = &r->trials[a], *y = &r->trials[b];
    if (x->failed != y->failed) return !x->failed;
    if (!x->failed && x->score != y->score)
        return r->metric == METRIC_RMSE ? x->score < y->score : x->score > y->score;
    return a < b;
}

/* r->alive, best first (insertion sort: tens of trials). */
static void rank_alive(tune_run *r) {
    for (int j = 1; j < r->n_alive; j++) {
        int v = r->alive[j], k = j;
        for (; k > 0 && better(r, v, r->alive[k - 1]); k--) r->alive[k] = r->alive[k - 1];
        r->alive[k] = v;
    }
}

static void run_rung(tune_run *r, int n_threads) {
    atomic_store(&r->next, 0);
    for (int j = 0; j < r->n_alive; j++) {
        trial *t = &r->trials[r->alive[j]];
        atomic_store(&t->folds_left, r->n_used);
        atomic_store(&t->failed, 0);
        t->score = NAN;
    }
    int jobs = r->n_alive * r->n_used;
    if (n_threads > jobs) n_threads = jobs;
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    int started = 0;
    for (; th && started < n_threads - 1; started++)
        if (pthread_create(&th[started], NULL, worker, r) != 0) break;
    worker(r); /* the calling thread works too */
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    free(th);
}

static void print_help(void) {
    printf("Usage: factorlens tune --ratings FILE --out BEST.conf [options]\n"
           "\n"
           "Random search with successive halving over factors, regularisation, learning\n"
           "rate and epochs (and alpha for ials), from the model's defaults (the first\n"
           "trial) to ranges around them. Trials train one thread each, in parallel on all\n"
           "cores. Each rung keeps the best third and gives it three times the budget\n"
           "(folds with --folds, each training its full epochs; epochs with --valid); the\n"
           "last rung scores on the whole budget, and the defaults always reach it. A row\n"
           "prints as each trial is scored (with --json a JSON object, the summary last).\n"
           "BEST.conf holds the best settings as options that `train --config BEST.conf`\n"
           "reads (options on its command line win).\n"
           "\n"
           "  --ratings FILE       ratings to tune on (required)\n"
           "  --out FILE           where to write the best settings (required)\n"
           "  --model M            dot, biased, ials or bpr (default biased)\n"
           "  --solver S           the model's solver (default: its own)\n"
           "  --trials N           configurations tried (default 20)\n"
           "  --folds K            score by K-fold cross-validation (default 5)\n"
           "  --valid F            instead, by one split holding out F (per user for ndcg)\n"
           "  --metric rmse|ndcg   what to minimise / maximise (default rmse; ndcg@10 for\n"
           "                       ials and bpr, which rate nothing)\n"
           "  --seed S             seed of the draws, the splits and the trainings (default 42)\n"
           "  --threads N          parallel trainings (and threads reading FILE), 0 = all\n"
           "                       cores (default 0)\n"
           "  --json               a JSON object per scored trial, the summary last\n"
           "  --quiet              no table\n"
           "  -h, --help           this help\n");
    cli_read_options_help(stdout);
    cli_print_exit_codes(stdout);
}

/* The shortest decimal that reads back as x (0.9f as "0.9", not "0.899999976"). */
static const char *short_float(float x, char *buf, size_t len) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    return buf;
}

/* The settings as train options, one a line. */
static int write_config(const char *path, const fl_params *p, const char *what) {
    FILE *f = fopen(path, "w");
    if (!f) return cli_error(1, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "# factorlens tune: %s\n", what);
    char b[32];
    fprintf(f, "model %s\nsolver %s\nfactors %d\nepochs %d\nreg %s\n",
            fl_model_kind_name(p->kind), fl_solver_name(p->solver), p->n_factors, p->epochs,
            short_float(p->reg_factors, b, sizeof b));
    if (p->solver != FL_SOLVER_ALS) fprintf(f, "lr %s\n", short_float(p->lr, b, sizeof b));
    if (p->kind == FL_MODEL_IALS) fprintf(f, "alpha %s\n", short_float(p->alpha, b, sizeof b));
    if (p->seed != 42) fprintf(f, "seed %llu\n", (unsigned long long)p->seed);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return cli_error(1, "%s: write failed", path);
    return 0;
}

int cmd_tune(int argc, char **argv) {
    static const char *const kinds[] = {"dot", "biased", "ials", "bpr", NULL};
    static const fl_model_kind kind_values[] = {FL_MODEL_DOT, FL_MODEL_BIASED, FL_MODEL_IALS,
                                                FL_MODEL_BPR};
    static const char *const solvers[] = {"sgd", "adam", "als", NULL};
    static const char *const metrics[] = {"rmse", "ndcg", NULL};
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    const char *ratings = NULL, *out = NULL;
    int kind = 1, solver = -1, n_trials = 20, folds = 0, metric = -1, threads = 0, json = 0;
    int quiet = 0;
    double valid = 0;
    uint64_t seed = 42;
    fl_read_opts ro;
    fl_read_opts_default(&ro);
    cli_args a;
    cli_args_init(&a, "tune", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            cli_unknown(&a);
            continue;
        }
        (void)(cli_str(&a, "--ratings", &ratings) || cli_str(&a, "--out", &out) ||
               cli_choice(&a, "--model", kinds, &kind) ||
               cli_choice(&a, "--solver", solvers, &solver) ||
               cli_int(&a, "--trials", 1, 10000, &n_trials) ||
               cli_int(&a, "--folds", 2, 100, &folds) || cli_fraction(&a, "--valid", &valid) ||
               cli_choice(&a, "--metric", metrics, &metric) || cli_u64(&a, "--seed", &seed) ||
               cli_int(&a, "--threads", 0, 1024, &threads) || cli_flag(&a, "--json", &json) ||
               cli_flag(&a, "--quiet", &quiet) || cli_read_option(&a, &ro));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!ratings) return cli_error(2, "tune needs --ratings FILE (see factorlens tune --help)");
    if (!out) return cli_error(2, "tune needs --out BEST.conf (see factorlens tune --help)");
    if (folds && valid > 0) return cli_error(2, "use only one of --folds and --valid");
    if (!folds && !(valid > 0)) folds = 5;
    fl_model_kind mk = kind_values[kind];
    if (metric < 0) metric = fl_model_kind_implicit(mk) ? METRIC_NDCG : METRIC_RMSE;
    if (metric == METRIC_RMSE && fl_model_kind_implicit(mk))
        return cli_error(2, "an %s model rates nothing: tune it with --metric ndcg",
                         fl_model_kind_name(mk));
    fl_params defaults;
    fl_params_init(&defaults, mk, solver < 0 ? FL_SOLVER_DEFAULT : (fl_solver)solver);
    defaults.seed = seed;
    const char *bad = fl_params_check(&defaults);
    if (bad) return cli_error(2, "%s", bad);
    ro.n_threads = threads; /* before 0 becomes the core count: the reader's 0 skips small files */
    if (threads == 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    cli_interrupt_install();

    fl_dataset *all = NULL;
    int rc = cli_load_ratings(ratings, &ro, &all);
    if (rc) return rc;
    tune_run r = {0};
    r.n_folds = folds ? folds : 1;
    r.metric = metric, r.quiet = quiet, r.json = json;
    r.train = calloc((size_t)r.n_folds, sizeof *r.train);
    r.test = calloc((size_t)r.n_folds, sizeof *r.test);
    r.trials = calloc((size_t)n_trials, sizeof *r.trials);
    r.alive = calloc((size_t)n_trials, sizeof *r.alive);
    r.fold_score = calloc((size_t)n_trials * r.n_folds, sizeof *r.fold_score);
    pthread_mutex_init(&r.print, NULL);
    if (!r.train || !r.test || !r.trials || !r.alive || !r.fold_score)
        rc = cli_error(1, "out of memory");
    fl_error err = {0};
    for (int f = 0; f < r.n_folds && rc == 0; f++) {
        fl_status st = folds ? fl_split_fold(all, folds, f, seed, &r.train[f], &r.test[f], &err)
                       : metric == METRIC_NDCG
                           ? fl_split_per_user(all, valid, seed, &r.train[f], &r.test[f], &err)
                           : fl_split_holdout(all, valid, seed, &r.train[f], &r.test[f], &err);
        if (st != FL_OK) rc = cli_fail(&err);
    }
    /* Trial 0 is the defaults, so the search never ends worse than them on its own score. */
    uint64_t s = seed ^ 0x7475e65ull;
    for (int k = 0; k < n_trials && rc == 0; k++) {
        if (k == 0) r.trials[k].p = defaults;
        else draw(&defaults, &s, &r.trials[k].p);
        r.alive[k] = k;
    }
    r.n_alive = n_trials;
    /* Rungs: enough that the last one has at most three trials. */
    r.rungs = 1;
    for (int n = n_trials; n > 3; n = (n + 2) / 3) r.rungs++;
    if (rc == 0 && !json && !quiet) {
        printf("rung      trial folds factors        reg         lr   epochs/full%s  %s (%s)\n",
               mk == FL_MODEL_IALS ? "    alpha" : "", metric == METRIC_RMSE ? "RMSE" : "NDCG@10",
               folds ? "mean of folds" : "validation");
        fflush(stdout);
    }
    for (r.rung = 0; rc == 0 && r.rung < r.rungs; r.rung++) {
        double share = pow(3.0, (double)(r.rung - (r.rungs - 1)));
        r.fraction = folds ? 1.0 : share;
        r.n_used = folds ? (int)ceil(folds * share) : 1;
        if (r.n_used < 1) r.n_used = 1;
        run_rung(&r, threads);
        if (cli_interrupted()) rc = cli_error(1, "interrupted; no settings were written");
        rank_alive(&r);
        if (r.rung + 1 < r.rungs) {
            int keep = (r.n_alive + 2) / 3, has_default = 0;
            for (int j = 0; j < keep; j++) has_default |= r.alive[j] == 0;
            if (!has_default) r.alive[keep++] = 0; /* the defaults go on as the baseline */
            r.n_alive = keep;
        }
    }
    int best = rc == 0 ? r.alive[0] : -1;
    if (rc == 0 && r.trials[best].failed)
        rc = cli_error(1, "every trial failed; the first: %s", r.trials[best].error);
    /* The defaults' score at full epochs, for comparison, when they were cut before the last rung. */
    double default_score = NAN;
    for (int j = 0; j < r.n_alive && rc == 0; j++)
        if (r.alive[j] == 0) default_score = r.trials[0].score;
    if (rc == 0) {
        char what[512];
        snprintf(what, sizeof what, "best of %d trials on %s (%s %s %.6f)", n_trials,
                 all->source, folds ? "cross-validated" : "validation",
                 metric == METRIC_RMSE ? "RMSE" : "NDCG@10", r.trials[best].score);
        rc = write_config(out, &r.trials[best].p, what);
    }
    if (rc == 0) {
        const trial *t = &r.trials[best];
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(fl_model_kind_name(mk)));
            json_object_set_new(o, "solver", json_string(fl_solver_name(t->p.solver)));
            json_object_set_new(o, "metric", json_string(metrics[metric]));
            json_object_set_new(o, "trials", json_integer(n_trials));
            json_object_set_new(o, "rungs", json_integer(r.rungs));
            json_object_set_new(o, "folds", folds ? json_integer(folds) : json_null());
            json_object_set_new(o, "valid", folds ? json_null() : cli_json_real(valid));
            json_object_set_new(o, "best_trial", json_integer(best));
            json_object_set_new(o, "best_score", cli_json_real(t->score));
            json_object_set_new(o, "best", params_json(&t->p));
            json_object_set_new(o, "default_score", cli_json_real(default_score));
            json_object_set_new(o, "out", json_string(out));
            if (cli_json_print(o) != 0) rc = cli_error(1, "could not write to standard output");
        } else {
            printf("best     trial %d: %s %.6f; written to %s\n", best,
                   metric == METRIC_RMSE ? "RMSE" : "NDCG@10", t->score, out);
        }
    }
    for (int f = 0; f < r.n_folds; f++) {
        if (r.train) fl_dataset_free(r.train[f]);
        if (r.test) fl_dataset_free(r.test[f]);
    }
    pthread_mutex_destroy(&r.print);
    free(r.train), free(r.test), free(r.trials), free(r.alive), free(r.fold_score);
    fl_dataset_free(all);
    return rc;
}
