/* grid_sched.h — the lock-free block scheduler of the grid solvers (SGD,
 * BPR): an epoch runs the grid's nb strata in a random order, and a block
 * starts as soon as the blocks before it on its row and column range are
 * done (grid.h, fl_grid_task_preds), with no barrier between strata. Every
 * row and column range sees its blocks in the same order whichever thread
 * runs them, so a seed fixes the model. */
#ifndef FL_TRAIN_GRID_SCHED_H
#define FL_TRAIN_GRID_SCHED_H

#include "train/trainer.h"

#include <stdatomic.h>

typedef struct fl_grid_sched {
    int *order;                   /* [nb] strata order of this epoch */
    atomic_uchar *claimed, *done; /* [nb * nb] per task of this epoch */
} fl_grid_sched;

/* Work on one block b of t->grid; ctx is the solver's. Blocks running at the
 * same time share no row and no column range. */
typedef void (*fl_grid_block_fn)(fl_trainer *t, int b, void *ctx);

fl_status fl_grid_sched_init(fl_grid_sched *s, int nb, fl_error *err);
void fl_grid_sched_free(fl_grid_sched *s);
/* One epoch over every block of t->grid on t->pool: draws the strata order
 * from t->rng, reports progress about once a stratum and stops claiming
 * blocks when the progress hook cancels (t->cancelled). */
void fl_grid_sched_epoch(fl_grid_sched *s, fl_trainer *t, fl_grid_block_fn block, void *ctx);

#endif
