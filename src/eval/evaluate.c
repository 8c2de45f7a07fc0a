/* evaluate.c — RMSE / MAE / MSE of a model on a ratings set whose ids are
 * matched to the model's by name (the two came from different files). */
#include "core/error.h"
#include "eval/predict.h"

#include <math.h>
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

fl_status fl_evaluate(const fl_model *m, const fl_dataset *d, fl_unknown_policy pol,
                      fl_metrics *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    int64_t *tu = translate(d->user_ids, m->user_ids);
    int64_t *ti = translate(d->item_ids, m->item_ids);
    if (!tu || !ti) {
        free(tu), free(ti);
        return fl_fail(err, FL_ERR_NOMEM, "out of memory matching ids to the model");
    }
    double se = 0.0, ae = 0.0;
    fl_status st = FL_OK;
    for (size_t r = 0; r < d->n_ratings; r++) {
        if (r + EVAL_AHEAD < d->n_ratings) {
            int64_t fu = tu[d->users[r + EVAL_AHEAD]], fi = ti[d->items[r + EVAL_AHEAD]];
            if (fu >= 0 && fi >= 0) fl_model_prefetch(m, (uint32_t)fu, (uint32_t)fi);
        }
        int64_t u = tu[d->users[r]], i = ti[d->items[r]];
        if (u < 0 || i < 0) {
            if (u < 0) out->n_unknown_users++;
            else out->n_unknown_items++;
            if (pol == FL_UNKNOWN_ERROR) {
                int user = u < 0;
                const char *name = user ? fl_idmap_name(d->user_ids, d->users[r])
                                        : fl_idmap_name(d->item_ids, d->items[r]);
                st = fl_fail(err, FL_ERR_UNKNOWN_ID,
                             "%s: %s '%s' is not in the model (it had no training ratings); "
                             "--unknown=mean predicts from the biases, --unknown=skip leaves it out",
                             d->source, user ? "user" : "item", name);
                break;
            }
            if (pol == FL_UNKNOWN_SKIP) {
                out->n_skipped++;
                continue;
            }
        }
        float y = (u >= 0 && i >= 0) ? fl_predict_index(m, (uint32_t)u, (uint32_t)i)
                                     : fl_predict_fallback(m, u, i);
        double e = (double)y - d->ratings[r];
        se += e * e;
        ae += fabs(e);
        out->n++;
    }
    free(tu), free(ti);
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
