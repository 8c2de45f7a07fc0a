/* dist_run.h — what one process of a partitioned training holds, shared by
 * the driver (dist_train.c: reading, reports, checkpoints, the model) and
 * the solvers that make an epoch (dist_als.c, dist_sgd.c).
 *
 * A solver's epoch leaves the process's own rows (s.P, s.bu: its users';
 * s.Q, s.bi: its items') updated, and either scores the training and test
 * ratings itself (DSGD, while its item blocks pass round the ring) or
 * leaves Pn, bun holding the user rows its items' ratings and test ratings
 * use (need_users), from which the driver scores them (ALS, which has just
 * received those rows for its item half-step). */
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

/* The sums an epoch's report is made of, this process's share. */
enum { S_TRAIN_SE, S_REG_F, S_REG_B, S_TEST_SE, S_TEST_AE, S_UNK_U, S_UNK_I, S_INSANE, S_STOP, S_N };

typedef struct dist_solver {
    /* After the rows are allocated and drawn (and before a resume). */
    fl_status (*init)(dist_run *r, fl_error *err);
    /* One epoch. A solver that scores (below) adds its sums to sums[]. */
    fl_status (*epoch)(dist_run *r, double *sums, fl_error *err);
    void (*release)(dist_run *r);
    /* After a resume filled s (rows, biases, extra): take the state in. */
    void (*resumed)(dist_run *r);
    /* Floats of solver state per own user and per own item that a
     * checkpoint keeps beside the rows (s.extra). */
    int extra_per_row;
    /* 1: the epoch scores the training ratings and the test ratings of
     * known pairs itself (S_TRAIN_SE, S_TEST_SE, S_TEST_AE); 0: the
     * driver scores them from the item side, with Pn and bun. */
    int scores;
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
    float *Pn, *bun;       /* ALS: the user rows this process's items' ratings use (need_users) */
    float *Qn, *bin;       /* ALS: the item rows its users' ratings use (need_items) */
    fl_row_plan user_rows, item_rows;
    fl_epoch_report *history;
    const dist_solver *solver;
    void *state;           /* the solver's own */
    double stratum_imbalance; /* DSGD (fl_dist_stats); 0 for ALS */
};

extern const dist_solver fl_dist_als;
extern const dist_solver fl_dist_sgd;

/* 64-byte aligned rows, zeroed (padding stays zero). */
float *fl_dist_rows_alloc(uint32_t n, uint32_t stride);
#endif
