/* dist_als.c — ALS's epoch over processes (dist_run.h).
 *
 * Receive the item rows this process's users' ratings use (row_exchange.h),
 * solve its users with train/als.h's half-step (the same solve, over the
 * same ratings in the same order, as a single process makes: the model
 * comes out the same); receive the user rows its items' ratings use, solve
 * its items.
 *
 * There is no global Gram matrix to reduce in explicit-feedback ALS: each
 * row's system sums over its own ratings only, which the owner of the row
 * holds whole. What crosses the network per epoch is the factor rows, k (+1)
 * floats for each (process, needed row) pair off the owner, and a few
 * dozen bytes of sums (docs/capacity.md). */
#include "core/error.h"
#include "dist/dist_run.h"
#include "train/als.h"

#include <stdlib.h>

static fl_status als_init(dist_run *r, fl_error *err) {
    fl_part *pt = &r->pt;
    const int biased = r->p.kind == FL_MODEL_BIASED;
    r->Qn = fl_dist_rows_alloc(pt->n_need_items, r->view.stride);
    if (biased) r->bin = calloc(pt->n_need_items + 1, sizeof(float));
    fl_status st = FL_OK;
    if (!r->Qn || (biased && !r->bin)) st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the factor rows");
    if (st == FL_OK) st = fl_als_ops.init(&r->t, err);
    st = fl_coll_agree(&r->d, st, err);
    if (st == FL_OK)
        st = fl_row_plan_build(&r->d, pt->need_items, pt->n_need_items, pt->item_cut, pt->i_lo,
                               r->p.n_factors + biased, &r->item_rows, err);
    return st;
}

static fl_status als_epoch(dist_run *r, fl_error *err) {
    fl_part *pt = &r->pt;
    fl_status st = fl_row_exchange(&r->d, &r->item_rows, r->s.Q, r->s.bi, r->view.stride,
                                   r->p.n_factors, r->Qn, r->bin, err);
    if (st != FL_OK) return st;
    fl_als_half(&r->t, &pt->by_user, r->s.P, r->s.bu, r->Qn, r->bin, pt->u_hi - pt->u_lo);
    fl_trainer_progress(&r->t, pt->n_ratings / 2, pt->n_ratings);
    if ((st = fl_dist_share_users(r, err)) != FL_OK) return st;
    fl_als_half(&r->t, &pt->by_item, r->s.Q, r->s.bi, r->Pn, r->bun, pt->i_hi - pt->i_lo);
    fl_trainer_progress(&r->t, pt->n_ratings, pt->n_ratings);
    return FL_OK;
}

static void als_release(dist_run *r) {
    if (r->t.state) fl_als_ops.release(&r->t);
    fl_row_plan_free(&r->item_rows);
    free(r->Qn), free(r->bin);
    r->Qn = r->bin = NULL;
}

/* Nothing beside the rows: users are solved afresh from the items. */
static void als_resumed(dist_run *r) { (void)r; }

static double als_bytes(const dist_run *r) { return fl_dist_rows_bytes(r, 1, 1); }

const dist_solver fl_dist_als = {als_init, als_epoch, als_release, als_resumed, 0, als_bytes};
