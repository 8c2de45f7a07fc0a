/* model_gather.h — the one model file of a partitioned training: process 0
 * receives every process's rows (users', then items', in block order, which
 * is global index order) and the training counts, and builds the model
 * fl_train would have built. */
#ifndef FL_DIST_MODEL_GATHER_H
#define FL_DIST_MODEL_GATHER_H

#include "dist/checkpoint.h"
#include "models/model.h"

/* s: the trained rows and, on process 0, the history (s->epoch reports).
 * Process 0 gets *out; the others NULL. */
fl_status fl_gather_model(fl_coll *d, const fl_part *pt, const fl_params *p, float offset,
                          const fl_ckpt_state *s, fl_model **out, fl_error *err);

#endif
