/* model_gather.c — building the model on process 0 (see model_gather.h). */
#include "dist/model_gather.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows X (stride apart) packed k floats each. */
static float *packed_rows(const float *X, uint32_t n, int k, uint32_t stride) {
    float *out = malloc(((size_t)n * (size_t)k + 1) * sizeof *out);
    if (out)
        for (uint32_t x = 0; x < n; x++)
            memcpy(out + (size_t)x * k, X + (size_t)x * stride, (size_t)k * sizeof *out);
    return out;
}

typedef struct gathered {
    void *P, *bu, *Q, *bi, *user_n, *seen, *item_n, *item_mean;
} gathered;

static void gathered_free(gathered *g) {
    free(g->P), free(g->bu), free(g->Q), free(g->bi);
    free(g->user_n), free(g->seen), free(g->item_n), free(g->item_mean);
}

/* Everything process 0 needs, in global order. */
static fl_status gather_all(fl_coll *d, const fl_part *pt, const fl_ckpt_state *s, gathered *g,
                            fl_error *err) {
    memset(g, 0, sizeof *g);
    const uint32_t nu = pt->u_hi - pt->u_lo, ni = pt->i_hi - pt->i_lo;
    const fl_rows *bu = &pt->by_user, *bi = &pt->by_item;
    const size_t n_seen = bu->start[nu];
    float *P = packed_rows(s->P, nu, s->k, s->stride), *Q = packed_rows(s->Q, ni, s->k, s->stride);
    uint32_t *user_n = malloc(((size_t)nu + 1) * sizeof *user_n);
    uint32_t *item_n = malloc(((size_t)ni + 1) * sizeof *item_n);
    float *item_mean = malloc(((size_t)ni + 1) * sizeof *item_mean);
    uint32_t *seen = malloc((n_seen + 1) * sizeof *seen);
    fl_status st = FL_OK;
    if (!P || !Q || !user_n || !item_n || !item_mean || !seen)
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory gathering the model");
    for (uint32_t x = 0; st == FL_OK && x < nu; x++)
        user_n[x] = (uint32_t)(bu->start[x + 1] - bu->start[x]);
    for (size_t k = 0; st == FL_OK && k < n_seen; k++) seen[k] = pt->need_items[bu->col[k]];
    /* As fl_model_set_counts: the mean of each item's ratings, summed in double. */
    for (uint32_t x = 0; st == FL_OK && x < ni; x++) {
        item_n[x] = (uint32_t)(bi->start[x + 1] - bi->start[x]);
        item_mean[x] = item_n[x] ? (float)(pt->item_sum[x] / item_n[x]) : 0.0f;
    }
    st = fl_coll_agree(d, st, err);
    size_t got;
    const size_t fk = (size_t)s->k * sizeof(float);
    if (st == FL_OK) st = fl_coll_gather(d, P, nu * fk, &g->P, &got, err);
    if (st == FL_OK && s->bu) st = fl_coll_gather(d, s->bu, nu * sizeof(float), &g->bu, &got, err);
    if (st == FL_OK) st = fl_coll_gather(d, user_n, nu * sizeof *user_n, &g->user_n, &got, err);
    if (st == FL_OK) st = fl_coll_gather(d, seen, n_seen * sizeof *seen, &g->seen, &got, err);
    if (st == FL_OK) st = fl_coll_gather(d, Q, ni * fk, &g->Q, &got, err);
    if (st == FL_OK && s->bi) st = fl_coll_gather(d, s->bi, ni * sizeof(float), &g->bi, &got, err);
    if (st == FL_OK) st = fl_coll_gather(d, item_n, ni * sizeof *item_n, &g->item_n, &got, err);
    if (st == FL_OK)
        st = fl_coll_gather(d, item_mean, ni * sizeof *item_mean, &g->item_mean, &got, err);
    free(P), free(Q), free(user_n), free(item_n), free(item_mean), free(seen);
    if (st != FL_OK) gathered_free(g);
    return st;
}

fl_status fl_gather_model(fl_coll *d, const fl_part *pt, const fl_params *p, float offset,
                          const fl_ckpt_state *s, fl_model **out, fl_error *err) {
    *out = NULL;
    gathered g;
    fl_status st = gather_all(d, pt, s, &g, err);
    if (st != FL_OK || d->rank != 0) return st;
    fl_model *m = NULL;
    st = fl_model_alloc(p, pt->user_ids, pt->item_ids, &m, err);
    const uint32_t nu = pt->n_users, ni = pt->n_items;
    if (st == FL_OK) {
        m->seen_start = malloc(((size_t)nu + 1) * sizeof *m->seen_start);
        m->item_count = g.item_n, g.item_n = NULL;
        m->seen_items = g.seen, g.seen = NULL;
        m->item_mean = m->item_mean_heap = g.item_mean, g.item_mean = NULL;
        m->history = malloc(((size_t)s->epoch + 1) * sizeof *m->history);
        if (!m->seen_start || !m->history)
            st = fl_fail(err, FL_ERR_NOMEM, "out of memory building the model");
    }
    if (st == FL_OK) {
        const uint32_t *un = g.user_n;
        m->seen_start[0] = 0;
        for (uint32_t u = 0; u < nu; u++) m->seen_start[u + 1] = m->seen_start[u] + un[u];
        for (uint32_t u = 0; u < nu; u++)
            memcpy(m->P + (size_t)u * m->stride, (float *)g.P + (size_t)u * s->k,
                   (size_t)s->k * sizeof(float));
        for (uint32_t i = 0; i < ni; i++)
            memcpy(m->Q + (size_t)i * m->stride, (float *)g.Q + (size_t)i * s->k,
                   (size_t)s->k * sizeof(float));
        if (m->bu) memcpy(m->bu, g.bu, nu * sizeof(float)), memcpy(m->bi, g.bi, ni * sizeof(float));
        m->offset = offset;
        m->global_mean = (float)(pt->rating_sum / (double)pt->n_ratings);
        m->rating_lo = pt->rating_lo, m->rating_hi = pt->rating_hi;
        m->n_train = pt->n_ratings;
        snprintf(m->source, sizeof m->source, "%s", pt->source);
        memcpy(m->history, s->history, (size_t)s->epoch * sizeof *m->history);
        m->n_history = s->epoch;
        m->epochs_run = s->epoch;
    }
    gathered_free(&g);
    if (st != FL_OK) {
        fl_model_free(m);
        return st;
    }
    *out = m;
    return FL_OK;
}
