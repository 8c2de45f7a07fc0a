/* loss_simd.h — the training-loss passes of SGD (over its working rows,
 * one block at a time) and ALS (over the ratings by user): the squared error
 * of each rating's prediction, added to a running sum in rating order.
 * Predictions are fl_predict_index's, bit for bit (SGD scores its working
 * copy instead of the model only because its rows are in block order). The
 * dot product runs in AVX2 where the CPU has it, adding the same lanes in the
 * same order as fl_mf_dot. */
#ifndef FL_TRAIN_LOSS_SIMD_H
#define FL_TRAIN_LOSS_SIMD_H

#include "models/model.h"
#include "train/rows.h"
#include "train/sgd_simd.h"

typedef struct fl_loss_block {
    const fl_model *m;             /* kind, offset, squashing, clip range, k, stride */
    const float *P, *Q;            /* the block's first working rows */
    const fl_sgd_row *urow, *irow; /* their records (biases) */
    const uint16_t *u, *i;         /* the block's ratings, rows as in fl_sgd_job */
    const float *r;
    size_t n;
} fl_loss_block;

/* Returns se plus the block's squared errors. */
typedef double (*fl_loss_block_fn)(const fl_loss_block *b, double se);
/* Returns se plus the squared errors of users [lo, hi)'s ratings in rows
 * (by user) under model m (biased or dot). */
typedef double (*fl_loss_rows_fn)(const fl_model *m, const fl_rows *rows, uint32_t lo, uint32_t hi,
                                  double se);

double fl_loss_block_generic(const fl_loss_block *b, double se);
double fl_loss_rows_generic(const fl_model *m, const fl_rows *rows, uint32_t lo, uint32_t hi,
                            double se);
#if defined(__x86_64__)
double fl_loss_block_avx2(const fl_loss_block *b, double se);
double fl_loss_rows_avx2(const fl_model *m, const fl_rows *rows, uint32_t lo, uint32_t hi,
                         double se);
#endif

/* The fastest builds this CPU runs (every build gives the same bits). */
typedef struct fl_loss_kernels {
    fl_loss_block_fn block;
    fl_loss_rows_fn rows;
} fl_loss_kernels;
fl_loss_kernels fl_loss_pick(void);

#endif
