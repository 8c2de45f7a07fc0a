/* blas_solo.h — OpenBLAS held to one thread while a solver trains.
 *
 * The nn's batch matrices and ALS's per-row solves are far too small for
 * OpenBLAS's own threads to pay off (an nn epoch ran 3x slower with them;
 * ALS calls BLAS from every pool thread at once, where OpenBLAS's threads
 * only queue behind its lock). OpenBLAS offers only a process-wide setting,
 * so this is the library's one global side effect: set when such a training
 * starts, restored when it ends (two of them at once in one process would
 * interleave their restores). */
#ifndef FL_TRAIN_BLAS_SOLO_H
#define FL_TRAIN_BLAS_SOLO_H

#include <cblas.h>

/* Returns the thread count to hand to fl_blas_solo_end. */
static inline int fl_blas_solo_begin(void) {
    int before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return before;
}

static inline void fl_blas_solo_end(int before) {
    if (before > 0) openblas_set_num_threads(before);
}

#endif
