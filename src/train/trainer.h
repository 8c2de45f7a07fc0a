/* trainer.h — state shared by the training loop and the solvers.
 *
 * train.c owns the loop (epochs, evaluation, reports, early stopping); a
 * solver owns one pass over the training ratings. Solvers plug in through
 * fl_solver_ops and keep their private state behind `state`. */
#ifndef FL_TRAIN_TRAINER_H
#define FL_TRAIN_TRAINER_H

#include "core/rng.h"
#include "models/model.h"
#include "train/grid.h"
#include "core/pool.h"
#include "train/rows.h"

typedef struct fl_trainer {
    fl_model *m;
    const fl_params *p;
    const fl_dataset *train;    /* what the solver learns from (validation split removed) */
    fl_grid grid;               /* train's ratings in blocks (SGD) */
    fl_rows by_user, by_item;   /* train's ratings by user and by item (ALS) */
    fl_pool *pool;
    fl_rng rng;
    const fl_train_hooks *hooks;
    int epoch;                  /* 1-based, current */
    float lr;                   /* this epoch's base learning rate */
    int cancelled;
    void *state;                /* solver's own */
} fl_trainer;

typedef struct fl_solver_ops {
    fl_status (*init)(fl_trainer *t, fl_error *err);
    /* One pass over the training ratings. */
    fl_status (*epoch)(fl_trainer *t, fl_error *err);
    void (*release)(fl_trainer *t);
    /* The training MSE of the model as it stands, scored from the solver's
     * own copy of the ratings, or NULL: train.c scores t->train. */
    double (*train_mse)(fl_trainer *t);
} fl_solver_ops;

/* A training-loss pass: FL_LOSS_TASKS tasks, a fixed number, so the order
 * of the sum, and with it the reported MSE's bits, does not depend on the
 * thread count; rows are prefetched FL_LOSS_AHEAD ratings ahead. */
enum { FL_LOSS_TASKS = 64, FL_LOSS_AHEAD = 8 };

/* What a task of a training-loss pass gets as its context: the trainer, and
 * where to leave its sum of squared errors. */
typedef struct fl_loss_run {
    const fl_trainer *t;
    double se[FL_LOSS_TASKS];
} fl_loss_run;

/* Runs fn (its ctx an fl_loss_run) over the FL_LOSS_TASKS tasks on t's
 * pool; returns the tasks' sums, added in task order, over n. */
double fl_trainer_mse(fl_trainer *t, fl_task_fn fn, size_t n);

extern const fl_solver_ops fl_sgd_ops;
extern const fl_solver_ops fl_adam_ops;
extern const fl_solver_ops fl_als_ops;
extern const fl_solver_ops fl_ials_ops;
extern const fl_solver_ops fl_bpr_ops;

/* Reports progress (done of total ratings this epoch); sets t->cancelled
 * when the hook asks to stop. Call from the coordinating thread only. */
void fl_trainer_progress(fl_trainer *t, size_t done, size_t total);
/* Reports progress of the work around the epochs (fl_train_hooks.phase);
 * sets t->cancelled when the caller asks to stop. */
void fl_trainer_phase(fl_trainer *t, const char *phase, size_t done, size_t total);

/* Trains an existing model further, from its current parameters, for
 * p->epochs on learn (whose id maps must be the model's own, index for
 * index). The reference tests use it to run a solver from known parameters. */
fl_status fl_train_continue(fl_model *m, const fl_dataset *learn, const fl_dataset *test,
                            const fl_params *p, const fl_train_hooks *hooks,
                            fl_train_result *result, fl_error *err);

#endif
