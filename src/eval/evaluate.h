/* evaluate.h — fl_evaluate on a thread pool (the trainer's, for the
 * per-epoch test and validation metrics). Same bits as fl_evaluate, which
 * is this with no pool. */
#ifndef FL_EVAL_EVALUATE_H
#define FL_EVAL_EVALUATE_H

#include "factorlens.h"
#include "core/pool.h"

fl_status fl_evaluate_on(fl_pool *pool, const fl_model *m, const fl_dataset *d,
                         fl_unknown_policy pol, fl_metrics *out, fl_error *err);

/* A dataset's ids as the model's indices, -1 where the model lacks one:
 * what fl_evaluate_on looks up by name on every call. Training scores the
 * same sets after every epoch, with the same ids: it looks them up once
 * (at 550k ids the lookups cost about as much as the scoring). */
typedef struct fl_eval_ids {
    int64_t *user, *item;
} fl_eval_ids;
fl_status fl_eval_ids_match(const fl_model *m, const fl_dataset *d, fl_eval_ids *out, fl_error *err);
void fl_eval_ids_free(fl_eval_ids *ids);
/* fl_evaluate_on with d's ids matched beforehand (fl_eval_ids_match, for
 * this model's id maps as they are now). */
fl_status fl_evaluate_matched(fl_pool *pool, const fl_model *m, const fl_dataset *d,
                              const fl_eval_ids *ids, fl_unknown_policy pol, fl_metrics *out,
                              fl_error *err);

#endif
