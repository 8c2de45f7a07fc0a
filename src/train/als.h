/* als.h — one ALS half-step on its own, for solvers that hold the ratings
 * and the factor rows in their own arrays (the partitioned training of
 * src/dist solves its block of users against the item rows it was sent). */
#ifndef FL_TRAIN_ALS_H
#define FL_TRAIN_ALS_H

#include "train/trainer.h"

/* Solves rows [0, n_rows) of X (k floats at t->m->stride apart; biases bx,
 * or NULL for dot) against the fixed rows Y (by) that c's columns index,
 * on t's pool. t->m gives the shape (kind, n_factors, stride, offset), t->p
 * the penalties, t->state must come from fl_als_ops.init. Each row's result
 * depends on its ratings and Y's rows alone, in c's column order. */
void fl_als_half(fl_trainer *t, const fl_rows *c, float *X, float *bx, const float *Y,
                 const float *by, uint32_t n_rows);

#endif
