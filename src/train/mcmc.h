/* mcmc.h — training fm and svdpp models by Gibbs sampling (mcmc.c). */
#ifndef FL_TRAIN_MCMC_H
#define FL_TRAIN_MCMC_H

#include "core/pool.h"
#include "data/features.h"
#include "models/model.h"

/* Samples p->epochs sweeps over learn (compacted: every id has a rating)
 * and returns the model that averages the kept samples. test (may be NULL)
 * is scored after each sample; source names the training file. */
fl_status fl_mcmc_train(const fl_dataset *learn, const char *source, const fl_dataset *test,
                        const fl_params *p, const fl_features *user_features,
                        const fl_features *item_features, const fl_train_hooks *hooks,
                        fl_pool *pool, fl_model **out, fl_train_result *res, fl_error *err);

#endif
