/* evaluate_fold_in.c — the cold-start protocol (fl_evaluate_fold_in): new
 * users folded in from their first ratings and scored on the rest, beside
 * the bias-only fallback on the same ratings.
 *
 * Only public calls of the fold-in are used (fl_fold_in, fl_predict_folded),
 * so every kind that can fold in is measured the way it serves a new user. */
#include "core/error.h"
#include "eval/predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sums {
    double se, ae, se_base, ae_base;
    size_t n;
} sums;

/* Folds in one user from ratings at[0..n_fold) and scores at[n_fold..n). */
static fl_status score_user(const fl_model *m, const fl_dataset *d, const size_t *at, size_t n,
                            size_t n_fold, const char **ids, float *r, float *factors,
                            fl_fold_in_metrics *out, sums *s, fl_error *err) {
    for (size_t k = 0; k < n_fold; k++) {
        ids[k] = fl_idmap_name(d->item_ids, d->items[at[k]]);
        r[k] = d->ratings[at[k]];
    }
    float bias = 0.0f;
    size_t used = 0;
    fl_status st = fl_fold_in(m, ids, r, n_fold, FL_UNKNOWN_SKIP, factors, &bias, &used, err);
    if (st != FL_OK) return st;
    out->n_unknown_items += n_fold - used;
    const fl_idmap *items = fl_model_item_ids(m);
    size_t scored = 0;
    for (size_t k = n_fold; k < n; k++) {
        const char *id = fl_idmap_name(d->item_ids, d->items[at[k]]);
        uint32_t i;
        if (!fl_idmap_find(items, id, strlen(id), &i)) {
            out->n_unknown_items++;
            continue;
        }
        const double y = d->ratings[at[k]];
        const double e = fl_predict_folded(m, factors, bias, i) - y;
        const double e_base = fl_predict_fallback(m, -1, i) - y;
        s->se += e * e, s->ae += fabs(e);
        s->se_base += e_base * e_base, s->ae_base += fabs(e_base);
        scored++;
    }
    s->n += scored;
    if (scored) out->n_users++;
    return FL_OK;
}

fl_status fl_evaluate_fold_in(const fl_model *m, const fl_dataset *d, size_t n_fold,
                              fl_fold_in_metrics *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    out->n_fold = n_fold;
    out->rmse = out->mae = out->rmse_baseline = out->mae_baseline = NAN;
    if (n_fold == 0)
        return fl_fail(err, FL_ERR_USAGE, "the fold-in protocol needs at least 1 rating per user");
    /* A kind that cannot fold in says so before any data is looked at. */
    const size_t n_floats = fl_model_fold_in_floats(m);
    float *factors = malloc((n_floats ? n_floats : 1) * sizeof *factors);
    if (!factors) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the fold-in");
    size_t used;
    float bias;
    fl_status st = fl_fold_in(m, NULL, NULL, 0, FL_UNKNOWN_SKIP, factors, &bias, &used, err);
    if (st != FL_OK) {
        free(factors);
        return st;
    }
    /* Each user's ratings in file order: a stable counting sort by user. */
    const uint32_t n_users = fl_idmap_size(d->user_ids);
    size_t *start = calloc((size_t)n_users + 1, sizeof *start);
    size_t *at = malloc((d->n_ratings ? d->n_ratings : 1) * sizeof *at);
    const char **ids = NULL;
    float *r = NULL;
    if (!start || !at) goto nomem;
    for (size_t k = 0; k < d->n_ratings; k++) start[d->users[k] + 1]++;
    size_t most = 1; /* no user folds in more ratings than they have */
    for (uint32_t u = 0; u < n_users; u++)
        if (start[u + 1] > most) most = start[u + 1];
    if (n_fold < most) most = n_fold;
    ids = malloc(most * sizeof *ids);
    r = malloc(most * sizeof *r);
    if (!ids || !r) goto nomem;
    for (uint32_t u = 0; u < n_users; u++) start[u + 1] += start[u];
    for (size_t k = 0; k < d->n_ratings; k++) at[start[d->users[k]]++] = k;
    for (uint32_t u = n_users; u > 0; u--) start[u] = start[u - 1];
    start[0] = 0;

    const fl_idmap *known = fl_model_user_ids(m);
    sums s = {0};
    for (uint32_t u = 0; u < n_users && st == FL_OK; u++) {
        const char *user = fl_idmap_name(d->user_ids, u);
        const size_t n = start[u + 1] - start[u];
        uint32_t mu;
        if (fl_idmap_find(known, user, strlen(user), &mu))
            out->n_known_users++;
        else if (n <= n_fold)
            out->n_short_users++;
        else
            st = score_user(m, d, at + start[u], n, n_fold, ids, r, factors, out, &s, err);
    }
    if (st == FL_OK && s.n == 0)
        st = fl_fail(err, FL_ERR_DATA,
                     "%s: no rating to score: of its %u user%s, %zu %s known to the model, "
                     "%zu new with %zu rating%s or fewer, and %zu rating%s of items the model "
                     "never saw",
                     d->source[0] ? d->source : "the ratings", n_users, n_users == 1 ? "" : "s",
                     out->n_known_users, out->n_known_users == 1 ? "is" : "are",
                     out->n_short_users, n_fold, n_fold == 1 ? "" : "s", out->n_unknown_items,
                     out->n_unknown_items == 1 ? "" : "s");
    if (st == FL_OK) {
        out->n = s.n;
        out->rmse = sqrt(s.se / s.n), out->mae = s.ae / s.n;
        out->rmse_baseline = sqrt(s.se_base / s.n), out->mae_baseline = s.ae_base / s.n;
    }
    goto done;
nomem:
    st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the fold-in protocol");
done:
    free(factors);
    free(start);
    free(at);
    free(ids);
    free(r);
    return st;
}
