/* init.h — the starting parameters every solver begins from: small random
 * factors, zero biases, an offset at the training mean. */
#ifndef FL_TRAIN_INIT_H
#define FL_TRAIN_INIT_H

#include "core/pool.h"
#include "core/rng.h"
#include "models/model.h"

/* Row r's starting factors (rows 0..n_users-1 are the users, then come the
 * items): k normals of standard deviation std from the row's own generator,
 * seeded from base and r, so any thread or process draws any row alone and
 * gets the same values. base is the first number of the seed's generator. */
void fl_init_row(float *row, int k, float std, uint64_t base, uint64_t r);
/* Every row by fl_init_row (base drawn from rng), on the pool when there is
 * one; the offset that puts every first prediction at the training mean
 * (through the inverse sigmoid when squashing); dense layers He-uniform
 * from rng. */
void fl_init_params(fl_model *m, const fl_params *p, float mean, fl_rng *rng, fl_pool *pool);
/* How many numbers fl_init_params draws from rng. */
uint64_t fl_init_draws(const fl_model *m);

#endif
