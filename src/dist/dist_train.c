/* dist_train.c — fl_train_distributed: a training over processes, each
 * holding a block of users, a block of items and their ratings
 * (part_data.h). The solver (dist_run.h: ALS in dist_als.c, DSGD in
 * dist_sgd.c) makes each epoch; this file does the rest, the same for both.
 *
 * After each epoch, the losses: each process scores what it holds (ALS:
 * training ratings from the item side, whose user rows the solver has just
 * received and whose item rows are its own, and the test ratings it was
 * given; DSGD scores its ratings in its epoch and leaves the rest here:
 * penalties, test ratings of unknown ids) and the sums are added in rank
 * order (collective.h), so the
 * reports are the same on every process and in every run with the same
 * process count. A checkpoint may follow (checkpoint.h). At the end process
 * 0 gathers the model (model_gather.h). */
#include "core/error.h"
#include "core/pool.h"
#include "core/rng.h"
#include "dist/checkpoint.h"
#include "dist/collective.h"
#include "dist/dist_run.h"
#include "dist/model_gather.h"
#include "dist/part_data.h"
#include "eval/predict.h"
#include "models/model.h"
#include "train/init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float *fl_dist_rows_alloc(uint32_t n, uint32_t stride) {
    size_t bytes = ((size_t)n * stride * sizeof(float) + 63) / 64 * 64;
    float *x = aligned_alloc(64, bytes ? bytes : 64);
    if (x) memset(x, 0, bytes ? bytes : 64);
    return x;
}

static fl_status check_params(const fl_params *p, fl_error *err) {
    const char *bad = fl_params_check(p);
    if (bad) return fl_fail(err, FL_ERR_USAGE, "%s", bad);
    if ((p->solver != FL_SOLVER_ALS && p->solver != FL_SOLVER_SGD) ||
        (p->kind != FL_MODEL_DOT && p->kind != FL_MODEL_BIASED))
        return fl_fail(err, FL_ERR_USAGE,
                       "distributed training runs ALS or SGD for the dot and biased models "
                       "(--solver als or sgd); %s with %s is trained in one process",
                       fl_model_kind_name(p->kind), fl_solver_name(p->solver));
    if (p->valid_fraction > 0)
        return fl_fail(err, FL_ERR_USAGE,
                       "distributed training takes no validation split (--valid): give a "
                       "--test file");
    return FL_OK;
}

/* The model's starting rows, as fl_train draws them (fl_init_row): each
 * process draws only its own. (ALS solves the users first, so only the
 * items' matter, but a row whose system fails keeps its start, as in one
 * process.) */
static void init_rows(dist_run *r) {
    fl_rng rng;
    fl_rng_seed(&rng, r->p.seed);
    const uint64_t base = fl_rng_next(&rng);
    const int k = r->p.n_factors;
    const uint32_t stride = r->view.stride;
    for (uint32_t u = r->pt.u_lo; u < r->pt.u_hi; u++)
        fl_init_row(r->s.P + (size_t)(u - r->pt.u_lo) * stride, k, r->p.init_std, base, u);
    for (uint32_t i = r->pt.i_lo; i < r->pt.i_hi; i++)
        fl_init_row(r->s.Q + (size_t)(i - r->pt.i_lo) * stride, k, r->p.init_std, base,
                    (uint64_t)r->pt.n_users + i);
}

static fl_status setup(dist_run *r, const fl_dist_opts *o, fl_error *err) {
    fl_status st = fl_part_load(&r->d, o->ratings, o->test, o->read, &r->pt, err);
    if (st != FL_OK) return st;
    fl_part *pt = &r->pt;
    int n_threads = r->p.n_threads ? r->p.n_threads : fl_cpu_count();
    if (n_threads > 1024) n_threads = 1024;
    r->pool = fl_pool_new(n_threads);
    if (!r->pool) st = fl_fail(err, FL_ERR_OTHER, "cannot start %d training threads", n_threads);
    if (st == FL_OK) r->p.n_threads = fl_pool_threads(r->pool);
    fl_model *v = &r->view;
    v->kind = r->p.kind;
    v->params = r->p;
    v->n_factors = (uint32_t)r->p.n_factors;
    v->stride = (v->n_factors + 15) / 16 * 16;
    v->global_mean = (float)(pt->rating_sum / (double)pt->n_ratings);
    v->offset = r->p.kind == FL_MODEL_BIASED ? v->global_mean : 0.0f;
    v->rating_lo = pt->rating_lo, v->rating_hi = pt->rating_hi;
    const int biased = r->p.kind == FL_MODEL_BIASED;
    const uint32_t nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    r->s.k = r->p.n_factors, r->s.stride = v->stride;
    r->s.P = fl_dist_rows_alloc(nu, v->stride), r->s.Q = fl_dist_rows_alloc(ni, v->stride);
    if (biased) {
        r->s.bu = calloc(nu + 1, sizeof(float)), r->s.bi = calloc(ni + 1, sizeof(float));
    }
    r->history = calloc((size_t)r->p.epochs + 1, sizeof *r->history);
    const size_t n_extra = ((size_t)nu + ni) * (size_t)r->solver->extra_per_row;
    r->s.n_extra = n_extra;
    if (n_extra) r->s.extra = calloc(n_extra, sizeof(float));
    if (st == FL_OK && (!r->s.P || !r->s.Q || !r->history || (n_extra && !r->s.extra) ||
                        (biased && (!r->s.bu || !r->s.bi))))
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the factor rows");
    if (st == FL_OK) {
        r->t.m = v;
        r->t.p = &r->p;
        r->t.pool = r->pool;
    }
    st = fl_coll_agree(&r->d, st, err);
    if (st == FL_OK) init_rows(r);
    if (st == FL_OK) st = r->solver->init(r, err);
    return fl_coll_agree(&r->d, st, err);
}

/* Views of the rows as a model, for fl_predict_index and the fallback: by
 * item (the item rows in P's place: the score is symmetric) or by user. */
static fl_model view_of(const dist_run *r, int by_item) {
    fl_model v = r->view;
    if (by_item) {
        v.P = r->s.Q, v.bu = r->s.bi, v.Q = r->Pn, v.bi = r->bun;
        v.n_users = r->pt.i_hi - r->pt.i_lo, v.n_items = r->pt.n_need_users;
    } else {
        v.P = r->s.P, v.bu = r->s.bu, v.Q = r->Qn, v.bi = r->bin;
        v.n_users = r->pt.u_hi - r->pt.u_lo, v.n_items = r->pt.n_need_items;
    }
    return v;
}

static double sq_norm(const float *x, int k) {
    double s = 0.0;
    for (int f = 0; f < k; f++) s += (double)x[f] * x[f];
    return s;
}

/* As train.c's sane_params: a thousand times the largest rating is never
 * reached by a converging run. */
static int insane(const float *x, size_t n, int k, uint32_t stride, float limit) {
    for (size_t row = 0; row < n; row++)
        for (int f = 0; f < k; f++)
            if (!(fabsf(x[row * stride + (size_t)f]) <= limit)) return 1;
    return 0;
}

static void local_sums(const dist_run *r, double *s) {
    const fl_part *pt = &r->pt;
    const fl_model vi = view_of(r, 1), vu = view_of(r, 0);
    const int k = r->p.n_factors;
    const uint32_t nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    /* The training ratings and the test ratings of known pairs, unless the
     * solver scored them in its epoch (dist_run.h). */
    for (uint32_t x = 0; !r->solver->scores && x < ni; x++)
        for (uint64_t c = pt->by_item.start[x]; c < pt->by_item.start[x + 1]; c++) {
            double e = (double)fl_predict_index(&vi, x, pt->by_item.col[c]) -
                       fl_rows_rating(&pt->by_item, c);
            s[S_TRAIN_SE] += e * e;
        }
    /* The penalty of regularizer.h: sqrt(count) |row|^2, bias^2. */
    for (uint32_t x = 0; x < nu; x++) {
        s[S_REG_F] += sqrt((double)(pt->by_user.start[x + 1] - pt->by_user.start[x])) *
                      sq_norm(r->s.P + (size_t)x * r->view.stride, k);
        if (r->s.bu) s[S_REG_B] += (double)r->s.bu[x] * r->s.bu[x];
    }
    for (uint32_t x = 0; x < ni; x++) {
        s[S_REG_F] += sqrt((double)(pt->by_item.start[x + 1] - pt->by_item.start[x])) *
                      sq_norm(r->s.Q + (size_t)x * r->view.stride, k);
        if (r->s.bi) s[S_REG_B] += (double)r->s.bi[x] * r->s.bi[x];
    }
    /* Test ratings scored as fl_evaluate scores them (unknown ids from the biases). */
    for (size_t j = 0; j < pt->n_test_item; j++) {
        uint32_t u = pt->test_item_user[j], i = pt->test_item[j];
        if (r->solver->scores && u != UINT32_MAX) continue;
        float y = u != UINT32_MAX ? fl_predict_index(&vi, i, u) : fl_predict_fallback(&vi, i, -1);
        if (u == UINT32_MAX) s[S_UNK_U]++;
        double e = (double)y - pt->test_item_r[j];
        s[S_TEST_SE] += e * e, s[S_TEST_AE] += fabs(e);
    }
    for (size_t j = 0; j < pt->n_test_user; j++) {
        double e = (double)fl_predict_fallback(&vu, pt->test_user[j], -1) - pt->test_user_r[j];
        s[S_UNK_I]++;
        s[S_TEST_SE] += e * e, s[S_TEST_AE] += fabs(e);
    }
    for (size_t j = 0; j < pt->n_test_none; j++) {
        double e = (double)fl_predict_fallback(&vu, -1, -1) - pt->test_none_r[j];
        s[S_UNK_U]++;
        s[S_TEST_SE] += e * e, s[S_TEST_AE] += fabs(e);
    }
    float limit = 1000.0f * fmaxf(1.0f, fmaxf(fabsf(r->view.rating_lo), fabsf(r->view.rating_hi)));
    s[S_INSANE] = insane(r->s.P, nu, k, r->view.stride, limit) ||
                  insane(r->s.Q, ni, k, r->view.stride, limit) ||
                  (r->s.bu && (insane(r->s.bu, nu, 1, 1, limit) || insane(r->s.bi, ni, 1, 1, limit)));
}

/* The solver's rows, and the sums of the report (one all-gather). */
static double predicted_epoch_bytes(const dist_run *r) {
    const double N = r->d.size;
    if (N <= 1) return 0;
    return r->solver->predicted_epoch_bytes(r) + N * (N - 1) * (S_N + 1) * 8.0;
}

static fl_status one_epoch(dist_run *r, int e, const fl_train_hooks *hooks, fl_dist_stats *stats,
                           fl_epoch_report *rep, int *stop, fl_error *err) {
    fl_part *pt = &r->pt;
    fl_coll *d = &r->d;
    const double te = now_seconds();
    const uint64_t sent0 = d->sent;
    r->t.epoch = e;
    double s[S_N + 1] = {0};
    fl_status st = r->solver->epoch(r, s, err);
    if (st != FL_OK) return st;
    const double solved = now_seconds() - te;
    local_sums(r, s);
    s[S_STOP] = r->t.cancelled;
    s[S_N] = (double)(d->sent - sent0); /* this epoch's rows, counted before this sum */
    if ((st = fl_coll_sum(d, s, S_N + 1, err)) != FL_OK) return st;
    const double n = (double)pt->n_ratings;
    *rep = (fl_epoch_report){.epoch = e, .epochs = r->p.epochs, .lr = r->p.lr};
    rep->train_mse = s[S_TRAIN_SE] / n;
    rep->reg_penalty = (r->p.reg_factors * s[S_REG_F] + r->p.reg_bias * s[S_REG_B]) / n;
    rep->valid_rmse = rep->test_rmse = rep->test_mae = rep->test_mse = NAN;
    if (pt->n_test) {
        rep->test_mse = s[S_TEST_SE] / (double)pt->n_test;
        rep->test_rmse = sqrt(rep->test_mse);
        rep->test_mae = s[S_TEST_AE] / (double)pt->n_test;
    }
    rep->seconds = now_seconds() - te;
    rep->solve_seconds = solved;
    if (s[S_STOP] > 0) return fl_fail(err, FL_ERR_CANCELLED, "training was cancelled in epoch %d", e);
    if (!isfinite(rep->train_mse) || !isfinite(rep->reg_penalty) || s[S_INSANE] > 0)
        return fl_fail(err, FL_ERR_DIVERGED,
                       "training diverged in epoch %d (parameters or loss exploded): raise --reg",
                       e);
    if (stats) {
        stats->epoch_bytes = (uint64_t)s[S_N] + (uint64_t)d->size * (uint64_t)(d->size - 1) *
                                                    (S_N + 1) * sizeof(double);
        stats->n_unknown_users = (size_t)s[S_UNK_U];
        stats->n_unknown_items = (size_t)s[S_UNK_I];
    }
    /* Every process calls the hook with the same report; any asking to stop stops all. */
    double want_stop = hooks && hooks->epoch_end && hooks->epoch_end(hooks->ctx, rep);
    st = fl_coll_sum(d, &want_stop, 1, err);
    *stop = want_stop > 0;
    return st;
}

static void run_free(dist_run *r) {
    if (r->solver) r->solver->release(r);
    fl_pool_free(r->pool);
    free(r->s.P), free(r->s.Q), free(r->s.bu), free(r->s.bi), free(r->s.extra);
    free(r->history);
    fl_part_free(&r->pt);
}

fl_status fl_train_distributed(const fl_comm *comm, const fl_dist_opts *o, const fl_params *p,
                               const fl_train_hooks *hooks, fl_model **out,
                               fl_train_result *result, fl_error *err) {
    *out = NULL;
    if (!comm || !o || !o->ratings || !p)
        return fl_fail(err, FL_ERR_USAGE, "fl_train_distributed needs a transport, ratings and parameters");
    fl_status st = check_params(p, err);
    if (st != FL_OK) return st;
    if (o->resume && !o->checkpoint_dir)
        return fl_fail(err, FL_ERR_USAGE, "resuming needs the checkpoint directory (--checkpoint DIR)");
    const double t0 = now_seconds();
    dist_run *r = calloc(1, sizeof *r);
    if (!r) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    fl_coll_init(&r->d, comm);
    r->p = *p;
    r->t.hooks = hooks;
    r->solver = p->solver == FL_SOLVER_SGD ? &fl_dist_sgd : &fl_dist_als;
    fl_dist_stats *stats = o->stats;
    if (stats) memset(stats, 0, sizeof *stats);
    st = setup(r, o, err);
    st = fl_coll_agree(&r->d, st, err);
    if (stats && st == FL_OK) {
        uint64_t sent = r->d.sent, most = r->pt.by_user.start[r->pt.by_user.n_rows];
        if (r->pt.by_item.start[r->pt.by_item.n_rows] > most) most = r->pt.by_item.start[r->pt.by_item.n_rows];
        double m[2] = {(double)sent, (double)most};
        st = fl_coll_sum(&r->d, m, 1, err); /* the setup's bytes, summed */
        stats->setup_bytes = (uint64_t)m[0];
        stats->n_users = r->pt.n_users, stats->n_items = r->pt.n_items;
        stats->n_ratings = r->pt.n_ratings;
        stats->n_test = r->pt.n_test;
        stats->predicted_epoch_bytes = (uint64_t)predicted_epoch_bytes(r);
        double hi = (double)most, lo = hi;
        if (st == FL_OK) st = fl_coll_minmax(&r->d, &lo, &hi, err);
        stats->max_rank_ratings = (uint64_t)hi;
        stats->imbalance = hi / ((double)r->pt.n_ratings / r->d.size);
        stats->stratum_imbalance = r->stratum_imbalance;
    }
    int first = 1, prev_ckpt = 0;
    if (st == FL_OK && o->resume) {
        st = fl_ckpt_read(&r->d, o->checkpoint_dir, &r->p, &r->pt, &r->s, err);
        if (st == FL_OK) {
            first = r->s.epoch + 1, prev_ckpt = r->s.epoch;
            if (r->s.history) memcpy(r->history, r->s.history, (size_t)r->s.epoch * sizeof *r->history);
            free(r->s.history);
            r->s.history = NULL;
            r->solver->resumed(r);
        }
    }
    fl_train_result res;
    memset(&res, 0, sizeof res);
    res.epochs_run = first - 1, res.best_epoch = first - 1;
    if (first > 1) res.last = r->history[first - 2];
    const int every = o->checkpoint_every > 0 ? o->checkpoint_every : 1;
    for (int e = first; st == FL_OK && e <= r->p.epochs; e++) {
        fl_epoch_report rep;
        int stop = 0;
        const uint64_t sent0 = r->d.sent;
        st = one_epoch(r, e, hooks, stats, &rep, &stop, err);
        if (st != FL_OK) break;
        (void)sent0;
        r->history[e - 1] = rep;
        res.epochs_run = res.best_epoch = e, res.last = rep;
        if (o->checkpoint_dir && e % every == 0 && e < r->p.epochs && !stop) {
            r->s.epoch = e;
            r->s.history = r->d.rank == 0 ? r->history : NULL;
            st = fl_ckpt_write(&r->d, o->checkpoint_dir, &r->p, &r->pt, &r->s, prev_ckpt, err);
            r->s.history = NULL;
            prev_ckpt = e;
        }
        if (stop) break;
    }
    fl_model *m = NULL;
    if (st == FL_OK) {
        const uint64_t sent0 = r->d.sent;
        r->s.epoch = res.epochs_run;
        r->s.history = r->history;
        st = fl_gather_model(&r->d, &r->pt, &r->p, r->view.offset, &r->s, &m, err);
        r->s.history = NULL;
        double mb = (double)(r->d.sent - sent0);
        if (st == FL_OK) st = fl_coll_sum(&r->d, &mb, 1, err);
        if (stats) stats->model_bytes = (uint64_t)mb;
    }
    run_free(r);
    free(r);
    if (st != FL_OK) {
        fl_model_free(m);
        return st;
    }
    res.seconds = now_seconds() - t0;
    if (m) m->train_seconds = res.seconds;
    if (result) *result = res;
    *out = m;
    return FL_OK;
}
