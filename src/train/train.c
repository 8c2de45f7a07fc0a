/* train.c — fl_train: the epoch loop shared by every solver.
 *
 * Per epoch: the solver makes one pass, then we measure the exact training
 * data loss (MSE) and the regularisation penalty separately, evaluate the
 * validation and test sets, report, and decide whether to stop. Losses are
 * summed in fixed chunks in a fixed order, so reports (like the model) are
 * identical for the same seed and thread count. */
#include "core/error.h"
#include "core/memory.h"
#include "eval/evaluate.h"
#include "models/mf.h"
#include "models/nn.h"
#include "models/regularizer.h"
#include "train/compact.h"
#include "train/init.h"
#include "train/mcmc.h"
#include "train/trainer.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fl_trainer_progress(fl_trainer *t, size_t done, size_t total) {
    const fl_train_hooks *h = t->hooks;
    if (h && h->progress && h->progress(h->ctx, t->epoch, t->p->epochs, done, total))
        t->cancelled = 1;
}

void fl_trainer_phase(fl_trainer *t, const char *phase, size_t done, size_t total) {
    const fl_train_hooks *h = t->hooks;
    if (h && h->phase && h->phase(h->ctx, phase, done, total)) t->cancelled = 1;
}

static const fl_solver_ops *solver_ops(fl_model_kind kind, fl_solver s) {
    /* The implicit kinds have a solver each (fl_params_check pairs them). */
    if (kind == FL_MODEL_IALS) return &fl_ials_ops;
    if (kind == FL_MODEL_BPR) return &fl_bpr_ops;
    switch (s) {
    case FL_SOLVER_SGD: return &fl_sgd_ops;
    case FL_SOLVER_ADAM: return &fl_adam_ops;
    case FL_SOLVER_ALS: return &fl_als_ops;
    case FL_SOLVER_MCMC: return NULL; /* fm, svdpp: mcmc.c runs its own loop */
    }
    return NULL;
}

typedef struct run {
    fl_trainer t;
    fl_params params; /* the caller's, with the data-dependent parts resolved */
    const fl_solver_ops *ops;
    fl_dataset *owned_learn, *owned_split_train, *valid;
    fl_dataset *owned_positive; /* implicit kinds: the ratings >= positive_min */
    fl_dataset *consumable; /* the learning set if its ratings may be taken (ours, or given) */
    float *best;            /* early stopping: parameters of the best epoch */
    size_t block_floats;
    size_t prepare_units;   /* of the "preparing" phase: the grid's passes and one more */
    int continued;          /* the model came trained (fl_train_continue) */
    /* fl_train_continue on the grid: the model's numbering before training,
     * given back when it is done (renumber_to_grid) */
    uint32_t *back_users, *back_items;
} run;

/* The training MSE from the training set (solvers that keep their own copy
 * of the ratings score that instead: fl_solver_ops.train_mse). */
static void loss_chunk(void *ctx, int task, int thread) {
    (void)thread;
    fl_loss_run *pass = ctx;
    const fl_model *m = pass->t->m;
    const fl_dataset *d = pass->t->train;
    const size_t lo = d->n_ratings * (size_t)task / FL_LOSS_TASKS;
    const size_t hi = d->n_ratings * (size_t)(task + 1) / FL_LOSS_TASKS;
    double se = 0.0;
    for (size_t k = lo; k < hi; k++) {
        if (k + FL_LOSS_AHEAD < hi)
            fl_model_prefetch(m, d->users[k + FL_LOSS_AHEAD], d->items[k + FL_LOSS_AHEAD]);
        double e = (double)fl_predict_index(m, d->users[k], d->items[k]) - d->ratings[k];
        se += e * e;
    }
    pass->se[task] = se;
}

double fl_trainer_mse(fl_trainer *t, fl_task_fn fn, size_t n) {
    fl_loss_run pass = {.t = t};
    fl_pool_run(t->pool, FL_LOSS_TASKS, fn, &pass);
    double sum = 0.0;
    for (int c = 0; c < FL_LOSS_TASKS; c++) sum += pass.se[c];
    return n ? sum / (double)n : 0.0;
}

static double train_mse(run *r) {
    fl_trainer *t = &r->t;
    if (r->ops->train_mse) return r->ops->train_mse(t);
    return fl_trainer_mse(t, loss_chunk, t->train->n_ratings);
}

static void run_free(run *r) {
    if (r->ops && r->ops->release) r->ops->release(&r->t);
    fl_grid_free(&r->t.grid);
    fl_rows_free(&r->t.by_user);
    fl_rows_free(&r->t.by_item);
    fl_pool_free(r->t.pool);
    fl_dataset_free(r->owned_learn);
    fl_dataset_free(r->owned_split_train);
    fl_dataset_free(r->owned_positive);
    fl_dataset_free(r->valid);
    free(r->best);
    free(r->back_users), free(r->back_items);
}

/* The ratings of d >= min, in order, with d's id maps (copied). */
static fl_status positives(const fl_dataset *d, float min, fl_dataset **out, fl_error *err) {
    fl_dataset *c = fl_dataset_new(d->n_ratings, 0);
    if (c) {
        fl_idmap_free(c->user_ids), fl_idmap_free(c->item_ids);
        c->user_ids = fl_idmap_clone(d->user_ids);
        c->item_ids = fl_idmap_clone(d->item_ids);
    }
    if (!c || !c->user_ids || !c->item_ids) {
        fl_dataset_free(c);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory selecting the positive ratings");
    }
    for (size_t k = 0; k < d->n_ratings; k++) {
        if (!(d->ratings[k] >= min)) continue;
        size_t w = c->n_ratings++;
        c->users[w] = d->users[k], c->items[w] = d->items[k], c->ratings[w] = d->ratings[k];
    }
    memcpy(c->source, d->source, sizeof c->source);
    *out = c;
    return FL_OK;
}

/* The data the solver learns from: train minus the validation split (for
 * the implicit kinds: only its positives), with ids that have no ratings
 * left out. */
static fl_status prepare_data(run *r, const fl_dataset *train, const fl_params *p,
                              const fl_dataset **learn, fl_error *err) {
    *learn = train;
    if (p->valid_fraction > 0.0) {
        fl_status st = fl_split_holdout(train, p->valid_fraction, p->seed ^ 0x5bd1e995u,
                                        &r->owned_split_train, &r->valid, err);
        if (st != FL_OK) return st;
        *learn = r->owned_split_train;
    }
    if (fl_model_kind_implicit(p->kind) && p->positive_min > -FLT_MAX) {
        fl_status st = positives(*learn, p->positive_min, &r->owned_positive, err);
        if (st != FL_OK) return st;
        *learn = r->owned_positive;
        if ((*learn)->n_ratings == 0)
            return fl_fail(err, FL_ERR_DATA, "%s: no ratings of at least %g to train on",
                           train->source, (double)p->positive_min);
    }
    fl_status st = fl_compact(*learn, p->time_bins > 0, learn, &r->owned_learn, err);
    if (st != FL_OK) return st;
    if ((*learn)->n_ratings == 0)
        return fl_fail(err, FL_ERR_DATA, "%s: no ratings to train on", train->source);
    return FL_OK;
}

/* Bytes the model and the solver's state will take, beyond the ratings the
 * caller already holds (consumed: the solver may take those over). */
static double training_bytes(const fl_params *p, double nu, double ni, double n, int consumed) {
    double stride = (p->n_factors + 15) / 16 * 16, rows = nu + ni;
    double model = rows * stride * 4 + rows * 4 * 2 + nu * 8 + n * 4; /* factors, biases, counts, seen */
    if (p->kind == FL_MODEL_NN) {
        double in = 2.0 * p->n_factors, w = 0;
        for (int l = 0; l <= p->n_layers; l++) {
            double out = l < p->n_layers ? p->layers[l] : 1;
            w += in * out + out;
            in = out;
        }
        model += w * 4;
    }
    double solver = 0;
    switch (fl_kind_fm(p->kind) ? FL_SOLVER_MCMC : p->solver) {
    case FL_SOLVER_SGD: solver = rows * stride * 4 + rows * 24 + (consumed ? 0 : n * 12); break;
    case FL_SOLVER_ADAM: solver = 3 * rows * stride * 4 + rows * 32 + n * 4; break;
    case FL_SOLVER_ALS:
        solver = n * (consumed ? 4 : 12) + rows * 16;
        break; /* rows.h; by user = the seen lists */
    case FL_SOLVER_MCMC: {
        /* Ratings by user and by item with residuals; parameters, sums and
         * hyper-parameters per side; the sketch (Y, W of 2r + 1, omega, psi);
         * the implicit groups' lists. The model: rows of ensemble_rank. */
        const double r = p->ensemble_rank, k1 = p->n_factors + 1;
        solver = n * 40 + rows * k1 * 8 * 4 + rows * r * (8 * 3 + 4 * 3);
        if (p->implicit) solver += n * 2 * 12 + rows * k1 * 8;
        model = rows * r * 4 + rows * 8 + nu * 8 + n * 4;
        break;
    }
    }
    return model + solver;
}

/* The model, its counts and its statistics, but not yet its starting
 * parameters (fl_init_params): those are written once the ratings are laid out,
 * so the factors take no memory while the ratings are at their largest. It
 * shares learn's id maps until own_ids. */
static fl_status new_model(const fl_dataset *learn, const fl_dataset *train, const fl_params *p,
                           fl_model **out, fl_error *err) {
    fl_status st = fl_model_alloc_sharing_ids(p, learn->user_ids, learn->item_ids, out, err);
    if (st != FL_OK) return st;
    fl_model *m = *out;
    float mean = fl_dataset_mean(learn);
    m->global_mean = mean;
    m->rating_lo = m->rating_hi = learn->ratings[0];
    for (size_t k = 0; k < learn->n_ratings; k++) {
        if (learn->ratings[k] < m->rating_lo) m->rating_lo = learn->ratings[k];
        if (learn->ratings[k] > m->rating_hi) m->rating_hi = learn->ratings[k];
    }
    memcpy(m->source, train->source, sizeof m->source);
    if (p->y_auto) {
        float span = m->rating_hi - m->rating_lo;
        if (span <= 0.0f) span = 1.0f;
        m->params.y_lo = m->rating_lo - 0.1f * span;
        m->params.y_hi = m->rating_hi + 0.1f * span;
        m->params.y_auto = 0;
    }
    /* SGD and ALS list the seen items from their copy of the ratings once
     * training is done. */
    if (p->solver == FL_SOLVER_SGD || p->solver == FL_SOLVER_ALS)
        return fl_model_set_counts(m, learn, err);
    return fl_model_set_seen(m, learn, err);
}

/* The model leaves training with id maps of its own: the learning set's
 * when that set is ours (it is freed with the run), else copies. Until then
 * it shares them (new_model). On failure it is left with none, so freeing
 * the model never frees the set's. */
static fl_status own_ids(run *r, fl_model *m, fl_error *err) {
    fl_dataset *d = (fl_dataset *)r->t.train;
    if (m->user_ids != d->user_ids) return FL_OK; /* copies already (renumber_to_grid) */
    if (d == r->owned_learn || d == r->owned_split_train || d == r->owned_positive) {
        d->user_ids = d->item_ids = NULL;
        return FL_OK;
    }
    fl_idmap *users = fl_idmap_clone(m->user_ids), *items = fl_idmap_clone(m->item_ids);
    m->user_ids = users, m->item_ids = items;
    if (users && items) return FL_OK;
    fl_idmap_free(users), fl_idmap_free(items);
    m->user_ids = m->item_ids = NULL;
    return fl_fail(err, FL_ERR_NOMEM, "out of memory copying the id maps into the model");
}

/* The grid's passes as the first FL_GRID_PASSES of the "preparing" phase's
 * FL_GRID_PASSES + 1 parts; the last part starts the model and solver. */
static int grid_progress(void *ctx, size_t done, size_t total) {
    run *r = ctx;
    (void)total;
    fl_trainer_phase(&r->t, "preparing", done, r->prepare_units);
    return r->t.cancelled;
}

/* The inverse of the permutation at of n: pos[at[k]] = k. */
static uint32_t *inverse_of(const uint32_t *at, uint32_t n) {
    uint32_t *pos = malloc((n ? n : 1) * sizeof *pos);
    if (pos)
        for (uint32_t k = 0; k < n; k++) pos[at[k]] = k;
    return pos;
}

/* The grid's solvers (SGD, BPR) walk rows by grid position: the model takes
 * the grid's numbering, so they update its own rows, which a block finds
 * side by side, and no second copy of the factors is kept. The id maps it
 * shares are renumbered with it when they are ours or were given with the
 * ratings (fl_train_owned), else the model renumbers copies. A continued
 * model gets its numbering back at the end (finish_continued). */
static fl_status renumber_to_grid(run *r, fl_error *err) {
    fl_trainer *t = &r->t;
    fl_model *m = t->m;
    fl_grid *g = &t->grid;
    const fl_dataset *d = t->train;
    const int ours = d == r->owned_learn || d == r->owned_split_train || d == r->owned_positive ||
                     d == r->consumable;
    if (!r->continued && !ours && m->user_ids == d->user_ids) {
        fl_idmap *users = fl_idmap_clone(m->user_ids), *items = fl_idmap_clone(m->item_ids);
        if (!users || !items) {
            fl_idmap_free(users), fl_idmap_free(items);
            return fl_fail(err, FL_ERR_NOMEM, "out of memory copying the id maps into the model");
        }
        m->user_ids = users, m->item_ids = items;
    }
    if (r->continued) {
        r->back_users = inverse_of(g->user_at, g->n_users);
        r->back_items = inverse_of(g->item_at, g->n_items);
        if (!r->back_users || !r->back_items)
            return fl_fail(err, FL_ERR_NOMEM, "out of memory renumbering the model");
    }
    fl_status st = fl_model_renumber(m, g->user_at, g->item_at, r->continued, err);
    free(g->user_at), free(g->item_at);
    g->user_at = g->item_at = NULL;
    return st;
}

/* Threads and the layout the solver walks the ratings in (SGD's block grid,
 * ALS's rows), drawn from rng. */
static fl_status start_layout(run *r, fl_rng *rng, fl_error *err) {
    fl_trainer *t = &r->t;
    const fl_params *p = t->p;
    fl_model *m = t->m;
    /* "All cores" stops at the largest count fl_params_check accepts, so the
     * count recorded below always loads back. */
    int n_threads = p->n_threads ? p->n_threads : fl_cpu_count();
    if (n_threads > 1024) n_threads = 1024;
    t->pool = fl_pool_new(n_threads);
    if (!t->pool)
        return fl_fail(err, FL_ERR_OTHER, "cannot start %d training thread%s", n_threads,
                       n_threads == 1 ? "" : "s");
    /* The model records the threads it ran on (the pool may have started
     * fewer than asked): with the seed, that is what reproduces it. */
    m->params.n_threads = fl_pool_threads(t->pool);
    /* SGD's grid and ALS's rows take the training set's arrays when they
     * are ours to take: then they are the only copy of the ratings. */
    fl_dataset *mine = NULL;
    if (t->train == r->owned_learn)
        mine = r->owned_learn;
    else if (t->train == r->owned_positive)
        mine = r->owned_positive;
    else if (t->train == r->owned_split_train)
        mine = r->owned_split_train;
    else if (t->train == r->consumable)
        mine = r->consumable;
    fl_dataset *source = mine ? mine : (fl_dataset *)t->train;
    if (p->solver == FL_SOLVER_SGD) {
        int nb = fl_grid_size(m->n_users, m->n_items, (int)m->stride, n_threads);
        fl_grid_watch watch = {grid_progress, r, 0};
        fl_status st = fl_grid_build(source, mine != NULL, nb, (int)m->stride, t->pool, rng, &watch,
                                     &t->grid, err);
        if (st != FL_OK) return st;
        st = renumber_to_grid(r, err);
        if (st != FL_OK) return st;
    } else if (p->solver == FL_SOLVER_ALS) {
        fl_status st = fl_rows_build(source, mine != NULL, m->n_users, m->n_items, &t->by_user,
                                     &t->by_item, err);
        if (st != FL_OK) return st;
    }
    return FL_OK;
}

/* The solver's own state, from the model's starting parameters. */
static fl_status start_state(run *r, fl_error *err) {
    fl_trainer *t = &r->t;
    const fl_params *p = t->p;
    fl_model *m = t->m;
    r->ops = solver_ops(p->kind, p->solver);
    r->block_floats = fl_model_param_floats(p, m->n_users, m->n_items, m->stride);
    if (r->valid) {
        r->best = malloc(r->block_floats * sizeof *r->best);
        if (!r->best) return fl_fail(err, FL_ERR_NOMEM, "out of memory keeping the best model");
    }
    return r->ops->init(t, err);
}

static fl_status start_solver(run *r, fl_error *err) {
    fl_status st = start_layout(r, &r->t.rng, err);
    return st == FL_OK ? start_state(r, err) : st;
}

/* Parameters that are not finite, or far beyond anything that can model
 * ratings of this scale: a thousand times the largest rating is never
 * reached by a converging run, while an exploding one passes it within an
 * epoch. (Predictions are clipped to the rating range, so the training MSE
 * alone cannot show an explosion.) */
static int sane_params(const fl_model *m, const float *x, size_t n) {
    float scale = fmaxf(1.0f, fmaxf(fabsf(m->rating_lo), fabsf(m->rating_hi)));
    float limit = 1000.0f * scale;
    for (size_t k = 0; k < n; k++)
        if (!(fabsf(x[k]) <= limit)) return 0; /* also catches NaN */
    return 1;
}

/* Appends an epoch's report to the model's history (the learning curves
 * the model file keeps; fl_model_history). */
static fl_status record_epoch(fl_model *m, const fl_epoch_report *rep, fl_error *err) {
    fl_epoch_report *h = realloc(m->history, ((size_t)m->n_history + 1) * sizeof *h);
    if (!h) return fl_fail(err, FL_ERR_NOMEM, "out of memory recording epoch %d", rep->epoch);
    m->history = h;
    h[m->n_history++] = *rep;
    return FL_OK;
}

static fl_status run_epochs(run *r, const fl_dataset *test, const fl_eval_ids *valid_ids,
                            const fl_eval_ids *test_ids, fl_train_result *res, fl_error *err);

/* The epochs: solver pass, losses, evaluation, report, stopping rules. The
 * sets scored after each epoch have their ids matched to the model once. */
static fl_status epochs(run *r, const fl_dataset *test, fl_train_result *res, fl_error *err) {
    fl_trainer *t = &r->t;
    /* An implicit model's scores are no ratings: no RMSE to watch. */
    const int rates = !fl_model_kind_implicit(t->m->kind);
    fl_eval_ids valid_ids = {0}, test_ids = {0};
    fl_status st = FL_OK;
    if (rates && r->valid) st = fl_eval_ids_match(t->m, r->valid, &valid_ids, err);
    if (st == FL_OK && rates && test && test->n_ratings)
        st = fl_eval_ids_match(t->m, test, &test_ids, err);
    if (st == FL_OK) st = run_epochs(r, test, &valid_ids, &test_ids, res, err);
    fl_eval_ids_free(&valid_ids);
    fl_eval_ids_free(&test_ids);
    return st;
}

static fl_status run_epochs(run *r, const fl_dataset *test, const fl_eval_ids *valid_ids,
                            const fl_eval_ids *test_ids, fl_train_result *res, fl_error *err) {
    fl_trainer *t = &r->t;
    const fl_params *p = t->p;
    const fl_train_hooks *hooks = t->hooks;
    double best_valid = INFINITY;
    int since_best = 0;
    fl_status st = FL_OK;
    for (int e = 1; e <= p->epochs; e++) {
        double te = now_seconds();
        t->epoch = e;
        t->lr = p->lr;
        st = r->ops->epoch(t, err);
        if (st != FL_OK) return st;
        double solved = now_seconds() - te;
        if (t->cancelled) return fl_fail(err, FL_ERR_CANCELLED, "training was cancelled in epoch %d", e);
        fl_epoch_report rep = {.epoch = e, .epochs = p->epochs, .lr = t->lr};
        rep.train_mse = train_mse(r);
        rep.reg_penalty = fl_reg_penalty(t->m);
        char mse_text[32] = "not finite";
        if (isfinite(rep.train_mse)) snprintf(mse_text, sizeof mse_text, "%.4g", rep.train_mse);
        if (!isfinite(rep.train_mse) || !isfinite(rep.reg_penalty) ||
            !sane_params(t->m, t->m->block, r->block_floats))
            return fl_fail(err, FL_ERR_DIVERGED,
                           "training diverged in epoch %d (parameters or loss exploded; "
                           "training MSE %s): lower --lr (it is %g)",
                           e, mse_text, (double)p->lr);
        rep.valid_rmse = rep.test_rmse = rep.test_mae = rep.test_mse = NAN;
        fl_metrics mt;
        if (valid_ids->user &&
            fl_evaluate_matched(t->pool, t->m, r->valid, valid_ids, FL_UNKNOWN_MEAN, &mt, NULL) == FL_OK)
            rep.valid_rmse = mt.rmse;
        if (test_ids->user &&
            fl_evaluate_matched(t->pool, t->m, test, test_ids, FL_UNKNOWN_MEAN, &mt, NULL) == FL_OK)
            rep.test_rmse = mt.rmse, rep.test_mae = mt.mae, rep.test_mse = mt.mse;
        rep.seconds = now_seconds() - te;
        rep.solve_seconds = solved;
        if ((st = record_epoch(t->m, &rep, err)) != FL_OK) return st;
        res->epochs_run = e;
        res->last = rep;
        int stop = hooks && hooks->epoch_end && hooks->epoch_end(hooks->ctx, &rep);
        if (r->valid) {
            if (rep.valid_rmse < best_valid) {
                best_valid = rep.valid_rmse;
                res->best_epoch = e;
                since_best = 0;
                memcpy(r->best, t->m->block, r->block_floats * sizeof *r->best);
            } else if (++since_best >= p->patience) {
                stop = 1;
            }
        } else {
            res->best_epoch = e;
        }
        if (stop) break;
    }
    /* Early stopping keeps the parameters of the best validation epoch. */
    if (r->valid && res->best_epoch && res->best_epoch != res->epochs_run)
        memcpy(t->m->block, r->best, r->block_floats * sizeof *r->best);
    return FL_OK;
}

/* fm and svdpp: the sampler runs its own loop over samples (mcmc.c). */
static fl_status train_fm(run *r, const fl_dataset *train, const fl_dataset *test,
                          const fl_params *p, const fl_features *uf, const fl_features *itf,
                          fl_model **out, fl_train_result *res, fl_error *err) {
    int n_threads = p->n_threads ? p->n_threads : fl_cpu_count();
    if (n_threads > 1024) n_threads = 1024;
    fl_trainer *t = &r->t;
    t->pool = fl_pool_new(n_threads);
    if (!t->pool)
        return fl_fail(err, FL_ERR_OTHER, "cannot start %d training thread%s", n_threads,
                       n_threads == 1 ? "" : "s");
    fl_params q = *p;
    q.n_threads = fl_pool_threads(t->pool);
    return fl_mcmc_train(t->train, train->source, test, &q, uf, itf, t->hooks, t->pool, out, res,
                         err);
}

static fl_status train_run(const fl_dataset *train, fl_dataset *consumable, const fl_dataset *test,
                       const fl_params *p, const fl_features *uf, const fl_features *itf,
                       const fl_train_hooks *hooks, fl_model **out,
                       fl_train_result *result, fl_error *err) {
    *out = NULL;
    const char *bad = fl_params_check(p);
    if (bad) return fl_fail(err, FL_ERR_USAGE, "%s", bad);
    if ((uf || itf) && p->kind != FL_MODEL_FM)
        return fl_fail(err, FL_ERR_USAGE, "side features need an fm model (--model fm), not %s",
                       fl_model_kind_name(p->kind));
    if (!train || train->n_ratings == 0)
        return fl_fail(err, FL_ERR_DATA, "%s: no ratings to train on",
                       train ? train->source : "training set");
    double t0 = now_seconds();
    run r;
    memset(&r, 0, sizeof r);
    r.consumable = consumable;
    fl_trainer *t = &r.t;
    t->p = p;
    t->hooks = hooks;
    fl_rng_seed(&t->rng, p->seed);
    fl_train_result res;
    memset(&res, 0, sizeof res);
    fl_rng layout_rng, after_init;
    fl_status st = prepare_data(&r, train, p, &t->train, err);
    if (st == FL_OK) {
        int consumed = t->train == r.owned_learn || t->train == r.owned_split_train ||
                       t->train == r.owned_positive || t->train == consumable;
        st = fl_memory_check(training_bytes(p, fl_idmap_size(t->train->user_ids),
                                            fl_idmap_size(t->train->item_ids),
                                            (double)t->train->n_ratings, consumed),
                             "training", err);
    }
    if (st == FL_OK && fl_kind_fm(p->kind)) {
        fl_model *m = NULL;
        st = train_fm(&r, train, test, p, uf, itf, &m, &res, err);
        run_free(&r);
        if (st != FL_OK) return st;
        res.seconds = now_seconds() - t0;
        m->train_seconds = res.seconds;
        if (result) *result = res;
        *out = m;
        return FL_OK;
    }
    if (st == FL_OK) {
        /* Units of the preparing phase: with SGD the ratings each grid pass
         * goes over, and as many again for the rest; else one. */
        r.prepare_units = p->solver == FL_SOLVER_SGD ? (FL_GRID_PASSES + 1) * t->train->n_ratings : 1;
        fl_trainer_phase(t, "preparing", 0, r.prepare_units);
        st = new_model(t->train, train, p, &t->m, err);
    }
    if (st == FL_OK) {
        /* From here on everyone uses the resolved parameters the model holds. */
        r.params = t->m->params;
        t->p = &r.params;
        /* The layout is built before the starting factors are written, but
         * drawn after them in the seed's stream: from a copy of the
         * generator moved past fl_init_params's draws, so a seed gives the same
         * model. */
        layout_rng = t->rng;
        for (uint64_t k = fl_init_draws(t->m); k > 0; k--) fl_rng_next(&layout_rng);
        after_init = layout_rng;
        st = start_layout(&r, &layout_rng, err);
    }
    if (st == FL_OK) {
        fl_init_params(t->m, t->p, t->m->global_mean, &t->rng, t->pool);
        assert(memcmp(&t->rng, &after_init, sizeof after_init) == 0 && "fl_init_draws is fl_init_params's count");
        (void)after_init; /* (the check is gone under NDEBUG) */
        t->rng = layout_rng; /* on from where the layout left it */
        st = start_state(&r, err);
    }
    if (st == FL_OK) fl_trainer_phase(t, "preparing", r.prepare_units, r.prepare_units);
    if (st == FL_OK && t->cancelled)
        st = fl_fail(err, FL_ERR_CANCELLED, "training was cancelled while preparing");
    if (st == FL_OK) st = epochs(&r, test, &res, err);
    if (st == FL_OK && !t->m->seen_items) {
        fl_trainer_phase(t, "finishing", 0, 1);
        if (r.ops && r.ops->release) r.ops->release(t); /* its memory first */
        r.ops = NULL;
        if (t->by_user.start) { /* its rows are the lists, users' items ascending */
            t->m->seen_items = t->by_user.col;
            t->by_user.col = NULL;
        } else {
            st = fl_grid_to_seen(&t->grid, t->m->seen_start, t->pool, &t->m->seen_items, err);
        }
        fl_trainer_phase(t, "finishing", 1, 1); /* the last word: no cancelling here */
    }
    fl_model *m = t->m;
    if (m && st == FL_OK)
        st = own_ids(&r, m, err);
    else if (m && m->user_ids == t->train->user_ids)
        m->user_ids = m->item_ids = NULL; /* the learning set's, not the model's to free */
    t->m = NULL;
    run_free(&r);
    if (st != FL_OK) {
        fl_model_free(m);
        return st;
    }
    res.seconds = now_seconds() - t0;
    m->epochs_run = res.epochs_run;
    m->train_seconds = res.seconds;
    if (result) *result = res;
    *out = m;
    return FL_OK;
}

fl_status fl_train(const fl_dataset *train, const fl_dataset *test, const fl_params *p,
                   const fl_train_hooks *hooks, fl_model **out, fl_train_result *result,
                   fl_error *err) {
    return train_run(train, NULL, test, p, NULL, NULL, hooks, out, result, err);
}

fl_status fl_train_features(const fl_dataset *train, const fl_dataset *test, const fl_params *p,
                            const fl_features *user_features, const fl_features *item_features,
                            const fl_train_hooks *hooks, fl_model **out, fl_train_result *result,
                            fl_error *err) {
    return train_run(train, NULL, test, p, user_features, item_features, hooks, out, result, err);
}

fl_status fl_train_owned(fl_dataset *d, const fl_dataset *test, const fl_params *p,
                         const fl_train_hooks *hooks, fl_model **out, fl_train_result *result,
                         fl_error *err) {
    fl_status st = train_run(d, d, test, p, NULL, NULL, hooks, out, result, err);
    /* Whatever the solver did with them, the ratings are given up. */
    free(d->users), free(d->items), free(d->ratings), free(d->times);
    d->users = d->items = NULL, d->ratings = NULL, d->times = NULL, d->capacity = 0;
    d->n_ratings = 0;
    return st;
}

fl_status fl_train_continue(fl_model *m, const fl_dataset *learn, const fl_dataset *test,
                            const fl_params *p, const fl_train_hooks *hooks,
                            fl_train_result *result, fl_error *err) {
    const char *bad = fl_params_check(p);
    if (bad) return fl_fail(err, FL_ERR_USAGE, "%s", bad);
    if (p->valid_fraction > 0.0)
        return fl_fail(err, FL_ERR_USAGE, "continued training takes no validation split");
    if (fl_kind_fm(p->kind))
        return fl_fail(err, FL_ERR_USAGE, "fm and svdpp models cannot be trained further");
    if (fl_idmap_size(learn->user_ids) != m->n_users || fl_idmap_size(learn->item_ids) != m->n_items)
        return fl_fail(err, FL_ERR_USAGE, "the ratings' id maps do not match the model's");
    run r;
    memset(&r, 0, sizeof r);
    fl_trainer *t = &r.t;
    t->p = p;
    t->hooks = hooks;
    t->m = m;
    t->train = learn;
    r.continued = 1;
    fl_rng_seed(&t->rng, p->seed);
    fl_train_result res;
    memset(&res, 0, sizeof res);
    fl_status st = start_solver(&r, err);
    if (st == FL_OK) st = epochs(&r, test, &res, err);
    if (r.back_users) { /* the model's own numbering again (renumber_to_grid) */
        fl_status back = fl_model_renumber(m, r.back_users, r.back_items, 1, err);
        if (st == FL_OK) st = back;
    }
    t->m = NULL;
    run_free(&r);
    if (st == FL_OK && result) *result = res;
    return st;
}
