/* dist_run.h — what one process of a partitioned training holds, shared by
 * the driver (dist_train.c: reading, reports, checkpoints, the model) and
 * the solvers that make an epoch (dist_als.c, dist_sgd.c).
 *
 * A solver's epoch leaves the process's own rows (s.P, s.bu: its users';
 * s.Q, s.bi: its items') updated and Pn, bun holding the user rows its
 * items' ratings and test ratings use (need_users), from which the driver
 * scores the epoch. */
#ifndef FL_DIST_DIST_RUN_H
#define FL_DIST_DIST_RUN_H

#include "core/pool.h"
#include "dist/checkpoint.h"
#include "dist/collective.h"
#include "dist/part_data.h"
#include "dist/row_exchange.h"
#include "models/model.h"
#include "train/trainer.h"

typedef struct dist_run dist_run;

typedef struct dist_solver {
    /* After the rows are allocated and drawn (and before a resume). */
    fl_status (*init)(dist_run *r, fl_error *err);
    fl_status (*epoch)(dist_run *r, fl_error *err);
    void (*release)(dist_run *r);
    /* After a resume filled s (rows, biases, extra): take the state in. */
    void (*resumed)(dist_run *r);
    /* Floats of solver state per own user and per own item that a
     * checkpoint keeps beside the rows (s.extra). */
    int extra_per_row;
    /* The communication model of docs/capacity.md: bytes on the wire per epoch. */
    double (*predicted_epoch_bytes)(const dist_run *r);
} dist_solver;

struct dist_run {
    fl_coll d;
    fl_part pt;
    fl_params p;
    fl_pool *pool;
    fl_trainer t;          /* the hooks, progress, and ALS's half-step (shape, penalties, work) */
    fl_model view;         /* not a model: the shape, offset and clip range the kernels read */
    fl_ckpt_state s;       /* own rows */
    float *Pn, *bun;       /* the user rows this process's items' ratings use (need_users) */
    float *Qn, *bin;       /* the item rows its users' ratings use (need_items; ALS) */
    fl_row_plan user_rows, item_rows;
    fl_epoch_report *history;
    const dist_solver *solver;
    void *state;           /* the solver's own */
};

extern const dist_solver fl_dist_als;
extern const dist_solver fl_dist_sgd;

/* 64-byte aligned rows, zeroed (padding stays zero). */
float *fl_dist_rows_alloc(uint32_t n, uint32_t stride);
/* Own users' factor rows and biases to the processes whose items' ratings
 * use them (into Pn, bun). */
fl_status fl_dist_share_users(dist_run *r, fl_error *err);
/* The model of docs/capacity.md for the user and item rows an ALS
 * half-step sends, for one side (users: by_users) or both. */
double fl_dist_rows_bytes(const dist_run *r, int users, int items);

#endif
