/* rng.c — xoshiro256** (Blackman & Vigna), seeded through SplitMix64. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fl_rng_seed(fl_rng *r, uint64_t seed) {
    for (int k = 0; k < 4; k++) r->s[k] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fl_rng_next(fl_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t fl_rng_below(fl_rng *r, uint64_t n) {
    /* Lemire's multiply-shift with rejection of the biased low zone. */
    __uint128_t m = (__uint128_t)fl_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (__uint128_t)fl_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double fl_rng_uniform(fl_rng *r) { return (double)(fl_rng_next(r) >> 11) * 0x1.0p-53; }

double fl_rng_normal(fl_rng *r) {
    double u1 = fl_rng_uniform(r), u2 = fl_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void fl_rng_shuffle_u32(fl_rng *r, uint32_t *a, uint64_t n) {
    for (uint64_t k = n; k > 1; k--) {
        uint64_t j = fl_rng_below(r, k);
        uint32_t t = a[k - 1];
        a[k - 1] = a[j];
        a[j] = t;
    }
}
