/* evaluate.h — fl_evaluate on a thread pool (the trainer's, for the
 * per-epoch test and validation metrics). Same bits as fl_evaluate, which
 * is this with no pool. */
#ifndef FL_EVAL_EVALUATE_H
#define FL_EVAL_EVALUATE_H

#include "factorlens.h"
#include "core/pool.h"

fl_status fl_evaluate_on(fl_pool *pool, const fl_model *m, const fl_dataset *d,
                         fl_unknown_policy pol, fl_metrics *out, fl_error *err);

#endif
