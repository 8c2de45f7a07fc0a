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

#include <math.h>
#include <stdlib.h>

static fl_status als_init(dist_run *r, fl_error *err) {
    fl_part *pt = &r->pt;
    const int biased = r->p.kind == FL_MODEL_BIASED;
    r->Qn = fl_dist_rows_alloc(pt->n_need_items, r->view.stride);
    r->Pn = fl_dist_rows_alloc(pt->n_need_users, r->view.stride);
    if (biased) r->bin = calloc(pt->n_need_items + 1, sizeof(float));
    if (biased) r->bun = calloc(pt->n_need_users + 1, sizeof(float));
    fl_status st = FL_OK;
    if (!r->Qn || !r->Pn || (biased && (!r->bin || !r->bun)))
        st = fl_fail(err, FL_ERR_NOMEM, "out of memory for the factor rows");
    if (st == FL_OK) st = fl_als_ops.init(&r->t, err);
    st = fl_coll_agree(&r->d, st, err);
    if (st == FL_OK)
        st = fl_row_plan_build(&r->d, pt->need_items, pt->n_need_items, pt->item_cut, pt->i_lo,
                               r->p.n_factors + biased, &r->item_rows, err);
    if (st == FL_OK)
        st = fl_row_plan_build(&r->d, pt->need_users, pt->n_need_users, pt->user_cut, pt->u_lo,
                               r->p.n_factors + biased, &r->user_rows, err);
    return st;
}

static fl_status als_epoch(dist_run *r, double *sums, fl_error *err) {
    (void)sums; /* the driver scores from the item side */
    fl_part *pt = &r->pt;
    fl_status st = fl_row_exchange(&r->d, &r->item_rows, r->s.Q, r->s.bi, r->view.stride,
                                   r->p.n_factors, r->Qn, r->bin, err);
    if (st != FL_OK) return st;
    fl_als_half(&r->t, &pt->by_user, r->s.P, r->s.bu, r->Qn, r->bin, pt->u_hi - pt->u_lo);
    fl_trainer_progress(&r->t, pt->n_ratings / 2, pt->n_ratings);
    st = fl_row_exchange(&r->d, &r->user_rows, r->s.P, r->s.bu, r->view.stride, r->p.n_factors,
                         r->Pn, r->bun, err);
    if (st != FL_OK) return st;
    fl_als_half(&r->t, &pt->by_item, r->s.Q, r->s.bi, r->Pn, r->bun, pt->i_hi - pt->i_lo);
    fl_trainer_progress(&r->t, pt->n_ratings, pt->n_ratings);
    return FL_OK;
}

static void als_release(dist_run *r) {
    if (r->t.state) fl_als_ops.release(&r->t);
    fl_row_plan_free(&r->item_rows), fl_row_plan_free(&r->user_rows);
    free(r->Qn), free(r->bin), free(r->Pn), free(r->bun);
    r->Qn = r->bin = r->Pn = r->bun = NULL;
}

/* Nothing beside the rows: users are solved afresh from the items. */
static void als_resumed(dist_run *r) { (void)r; }

/* The communication model of docs/capacity.md: the factor rows the two
 * half-steps send. Each process receives, for each side, the distinct rows
 * its n/N ratings use, taken as uniformly drawn from that side's rows (an
 * upper bound for skewed data), all but its own share from other
 * processes. */
static double als_bytes(const dist_run *r) {
    const double N = r->d.size, n = (double)r->pt.n_ratings;
    const double U = r->pt.n_users, I = r->pt.n_items;
    const double w = 4.0 * (r->p.n_factors + (r->p.kind == FL_MODEL_BIASED));
    if (N <= 1) return 0;
    const double ni = I * (1.0 - exp(-n / (N * I))), nu = U * (1.0 - exp(-n / (N * U)));
    return N * (N - 1) / N * w * (ni + nu);
}

const dist_solver fl_dist_als = {als_init, als_epoch, als_release, als_resumed, 0, 0, als_bytes};
