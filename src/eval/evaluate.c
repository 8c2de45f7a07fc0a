/* evaluate.c — RMSE / MAE / MSE of a model on a ratings set whose ids are
 * matched to the model's by name (the two came from different files). */
#include "core/error.h"
#include "eval/evaluate.h"
#include "eval/predict.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* to[k] = model index of the dataset's id k, or -1 when the model lacks it. */
static int64_t *translate(const fl_idmap *from, const fl_idmap *to) {
    uint32_t n = fl_idmap_size(from);
    int64_t *map = malloc(((size_t)n + 1) * sizeof *map);
    if (!map) return NULL;
    for (uint32_t k = 0; k < n; k++) {
        const char *name = fl_idmap_name(from, k);
        uint32_t idx;
        map[k] = fl_idmap_find(to, name, strlen(name), &idx) ? (int64_t)idx : -1;
    }
    return map;
}

enum { EVAL_AHEAD = 8 }; /* ratings ahead the model's rows are prefetched */

/* The ratings are scored in EVAL_TASKS fixed ranges whose sums are added in
 * range order, on one thread or on a pool's: the metrics have the same bits
 * either way, whatever the thread count. */
enum { EVAL_TASKS = 64 };
#define NO_ERROR SIZE_MAX

typedef struct eval_part {
    double se, ae;
    size_t n, unknown_users, unknown_items, skipped;
    size_t error_at; /* the first unknown id under FL_UNKNOWN_ERROR, or NO_ERROR */
} eval_part;

typedef struct eval_run {
    const fl_model *m;
    const fl_dataset *d;
    const int64_t *tu, *ti;
    fl_unknown_policy pol;
    eval_part part[EVAL_TASKS];
} eval_run;

static void eval_range(void *ctx, int task, int thread) {
    (void)thread;
    eval_run *e = ctx;
    const fl_model *m = e->m;
    const fl_dataset *d = e->d;
    const int64_t *tu = e->tu, *ti = e->ti;
    const size_t end = d->n_ratings * (size_t)(task + 1) / EVAL_TASKS;
    eval_part p = {.error_at = NO_ERROR};
    for (size_t r = d->n_ratings * (size_t)task / EVAL_TASKS; r < end; r++) {
        if (r + EVAL_AHEAD < end) {
            int64_t fu = tu[d->users[r + EVAL_AHEAD]], fi = ti[d->items[r + EVAL_AHEAD]];
            if (fu >= 0 && fi >= 0) fl_model_prefetch(m, (uint32_t)fu, (uint32_t)fi);
        }
        int64_t u = tu[d->users[r]], i = ti[d->items[r]];
        if (u < 0 || i < 0) {
            if (u < 0)
                p.unknown_users++;
            else
                p.unknown_items++;
            if (e->pol == FL_UNKNOWN_ERROR) {
                p.error_at = r;
                break;
            }
            if (e->pol == FL_UNKNOWN_SKIP) {
                p.skipped++;
                continue;
            }
        }
        float y = (u >= 0 && i >= 0) ? fl_predict_index(m, (uint32_t)u, (uint32_t)i)
                                     : fl_predict_fallback(m, u, i);
        if (m->tb_delta && d->times && i >= 0) {
            /* The rating's own time bin rather than the item's latest. */
            const int nb = m->params.time_bins;
            const int b = fl_time_bin(m->time_lo, m->time_hi, nb, d->times[r]);
            y = fl_model_clip(m, (u >= 0 ? fl_predict_unclipped(m, (uint32_t)u, (uint32_t)i)
                                         : fl_predict_fallback(m, u, i)) +
                                     m->tb_delta[(size_t)i * nb + b]);
        }
        double err = (double)y - d->ratings[r];
        p.se += err * err;
        p.ae += fabs(err);
        p.n++;
    }
    e->part[task] = p;
}

fl_status fl_eval_ids_match(const fl_model *m, const fl_dataset *d, fl_eval_ids *out, fl_error *err) {
    out->user = translate(d->user_ids, m->user_ids);
    out->item = translate(d->item_ids, m->item_ids);
    if (out->user && out->item) return FL_OK;
    fl_eval_ids_free(out);
    return fl_fail(err, FL_ERR_NOMEM, "out of memory matching ids to the model");
}

void fl_eval_ids_free(fl_eval_ids *ids) {
    free(ids->user), free(ids->item);
    ids->user = ids->item = NULL;
}

fl_status fl_evaluate_on(fl_pool *pool, const fl_model *m, const fl_dataset *d,
                         fl_unknown_policy pol, fl_metrics *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    fl_eval_ids ids;
    fl_status st = fl_eval_ids_match(m, d, &ids, err);
    if (st != FL_OK) return st;
    st = fl_evaluate_matched(pool, m, d, &ids, pol, out, err);
    fl_eval_ids_free(&ids);
    return st;
}

fl_status fl_evaluate_matched(fl_pool *pool, const fl_model *m, const fl_dataset *d,
                              const fl_eval_ids *ids, fl_unknown_policy pol, fl_metrics *out,
                              fl_error *err) {
    memset(out, 0, sizeof *out);
    if (fl_model_kind_implicit(m->kind))
        return fl_fail(err, FL_ERR_USAGE,
                       "an %s model scores preferences for ranking, not ratings: it has no "
                       "rating error; rank with fl_evaluate_ranking (eval --ranking)",
                       fl_model_kind_name(m->kind));
    eval_run *e = malloc(sizeof *e);
    const int64_t *tu = ids->user, *ti = ids->item;
    if (!e) return fl_fail(err, FL_ERR_NOMEM, "out of memory scoring %s", d->source);
    *e = (eval_run){.m = m, .d = d, .tu = tu, .ti = ti, .pol = pol};
    if (pool)
        fl_pool_run(pool, EVAL_TASKS, eval_range, e);
    else
        for (int t = 0; t < EVAL_TASKS; t++) eval_range(e, t, 0);
    double se = 0.0, ae = 0.0;
    size_t error_at = NO_ERROR;
    for (int t = 0; t < EVAL_TASKS && error_at == NO_ERROR; t++) {
        const eval_part *p = &e->part[t];
        se += p->se, ae += p->ae;
        out->n += p->n;
        out->n_unknown_users += p->unknown_users, out->n_unknown_items += p->unknown_items;
        out->n_skipped += p->skipped;
        error_at = p->error_at;
    }
    free(e);
    fl_status st = FL_OK;
    if (error_at != NO_ERROR) {
        int user = tu[d->users[error_at]] < 0;
        const char *name = user ? fl_idmap_name(d->user_ids, d->users[error_at])
                                : fl_idmap_name(d->item_ids, d->items[error_at]);
        st = fl_fail(err, FL_ERR_UNKNOWN_ID,
                     "%s: %s '%s' is not in the model (it had no training ratings); "
                     "--unknown=mean predicts from the biases, --unknown=skip leaves it out",
                     d->source, user ? "user" : "item", name);
    }
    if (st != FL_OK) return st;
    if (out->n == 0) {
        out->rmse = out->mae = out->mse = NAN;
        return fl_fail(err, FL_ERR_DATA, "%s: no ratings to evaluate", d->source);
    }
    out->mse = se / (double)out->n;
    out->rmse = sqrt(out->mse);
    out->mae = ae / (double)out->n;
    return FL_OK;
}

fl_status fl_evaluate(const fl_model *m, const fl_dataset *d, fl_unknown_policy pol,
                      fl_metrics *out, fl_error *err) {
    return fl_evaluate_on(NULL, m, d, pol, out, err);
}
