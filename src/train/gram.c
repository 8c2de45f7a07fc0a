/* gram.c — see gram.h. A tile is 16 rows x 4 columns of A: eight 8-lane
 * accumulators, fed per column of G by two loads of its 16 rows and four
 * broadcasts of its entries in the tile's columns, so every load feeds two
 * or four multiply-adds. Tiles whose rows all lie below the diagonal are
 * skipped. */
#include "train/gram.h"

#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8 load8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) void gram_body(float *restrict A,
                                                            const float *restrict G, int kp,
                                                            int nc) {
    for (int j0 = 0; j0 < kp; j0 += 4) {
        for (int i0 = 0; i0 <= j0 + 3; i0 += 16) {
            float *a0 = A + i0 + (size_t)j0 * kp, *a1 = a0 + kp, *a2 = a1 + kp, *a3 = a2 + kp;
            /* Named, not an array: GCC kept an array of them in memory. */
            v8 c0l = load8(a0), c0h = load8(a0 + 8), c1l = load8(a1), c1h = load8(a1 + 8);
            v8 c2l = load8(a2), c2h = load8(a2 + 8), c3l = load8(a3), c3h = load8(a3 + 8);
            const float *g = G;
            for (int c = 0; c < nc; c++, g += kp) {
                const v8 lo = load8(g + i0), hi = load8(g + i0 + 8);
                const float b0 = g[j0], b1 = g[j0 + 1], b2 = g[j0 + 2], b3 = g[j0 + 3];
                c0l += lo * b0, c0h += hi * b0;
                c1l += lo * b1, c1h += hi * b1;
                c2l += lo * b2, c2h += hi * b2;
                c3l += lo * b3, c3h += hi * b3;
            }
            store8(a0, c0l), store8(a0 + 8, c0h), store8(a1, c1l), store8(a1 + 8, c1h);
            store8(a2, c2l), store8(a2 + 8, c2h), store8(a3, c3l), store8(a3 + 8, c3h);
        }
    }
}

void fl_gram_add_generic(float *A, const float *G, int kp, int nc) { gram_body(A, G, kp, nc); }

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void fl_gram_add_avx2(float *A, const float *G, int kp, int nc) {
    gram_body(A, G, kp, nc);
}
#endif

fl_gram_kernel fl_gram_pick(const char **name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (name) *name = "avx2+fma";
        return fl_gram_add_avx2;
    }
#endif
    if (name) *name = "generic";
    return fl_gram_add_generic;
}
