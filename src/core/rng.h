/* rng.h — the only source of randomness: a small explicit-state generator
 * (SplitMix64 seeding xoshiro256**). Every user passes its own state, so the
 * same seed gives the same stream on every platform and thread count. */
#ifndef FL_CORE_RNG_H
#define FL_CORE_RNG_H

#include <stdint.h>

typedef struct fl_rng {
    uint64_t s[4];
} fl_rng;

void fl_rng_seed(fl_rng *r, uint64_t seed);
uint64_t fl_rng_next(fl_rng *r);
/* Uniform in [0, n) without modulo bias. */
uint64_t fl_rng_below(fl_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double fl_rng_uniform(fl_rng *r);
/* Standard normal (Box-Muller, one value per call). */
double fl_rng_normal(fl_rng *r);
/* Fisher-Yates shuffle of a uint32 array. */
void fl_rng_shuffle_u32(fl_rng *r, uint32_t *a, uint64_t n);

#endif
