/* sgd_simd.c — the vectorised SGD update (see sgd_simd.h and, for the
 * arithmetic, sgd_kernel.h, its scalar reference).
 *
 * Per rating: two factor rows (L2-resident while a block runs: a block's
 * rows are contiguous and sized to fit) and two 16-byte row records are read
 * and written; the ratings stream. Rows are prefetched a few ratings ahead
 * because, within a block, the next rating's rows are random. The four step
 * sizes of a rating come from the sums *before* the rating, so their square
 * roots overlap the dot product instead of following it. The same loop
 * (sgd_simd_body.h) is compiled for SSE2 (any x86-64), AVX2+FMA and AVX-512. */
#include "train/sgd_simd.h"

#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PREFETCH_AHEAD 8

/* lr / sqrt(g) for four sums at once, with one vector sqrt and one divide.
 * Exact IEEE operations, not the faster rsqrt estimate: that estimate
 * differs between CPU vendors, and a seed must give the same model on any
 * machine that runs the same kernel. Off the critical path, it costs little. */
static inline __attribute__((always_inline)) void steps4(float lr, const float g[4], float out[4]) {
#if defined(__x86_64__)
    __m128 x = _mm_loadu_ps(g);
    _mm_storeu_ps(out, _mm_div_ps(_mm_set1_ps(lr), _mm_sqrt_ps(x)));
#else
    for (int k = 0; k < 4; k++) out[k] = lr / sqrtf(g[k]);
#endif
}

/* ---- baseline: 8-float vectors (two SSE registers each) */
typedef float v8 __attribute__((vector_size(32), aligned(32)));
static inline __attribute__((always_inline)) float hsum8(v8 a) {
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}
static inline __attribute__((always_inline)) void hsum3_8(v8 a, v8 b, v8 c, float out[3]) {
    out[0] = hsum8(a), out[1] = hsum8(b), out[2] = hsum8(c);
}
#define VEC v8
#define HSUM3 hsum3_8
#define ATTR static inline __attribute__((always_inline))
#define RUN run_generic
#include "train/sgd_simd_body.h"
#undef VEC
#undef HSUM3
#undef ATTR
#undef RUN

#if defined(__x86_64__)
/* Three 4-lane partial sums to [sum a, sum b, sum c] with two horizontal adds. */
static inline __attribute__((target("sse3"), always_inline)) void finish3(__m128 a, __m128 b, __m128 c, float out[3]) {
    __m128 ab = _mm_hadd_ps(a, b);     /* a01 a23 b01 b23 */
    __m128 cc = _mm_hadd_ps(c, c);     /* c01 c23 c01 c23 */
    __m128 r = _mm_hadd_ps(ab, cc);    /* a b c c */
    float t[4];
    _mm_storeu_ps(t, r);
    out[0] = t[0], out[1] = t[1], out[2] = t[2];
}

/* ---- AVX2 + FMA: one register per 8 floats */
__attribute__((target("avx2,fma"))) static inline __m128 half_avx2(v8 a) {
    __m256 x = (__m256)a;
    return _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
}
__attribute__((target("avx2,fma"))) static inline void hsum3_avx2(v8 a, v8 b, v8 c, float out[3]) {
    finish3(half_avx2(a), half_avx2(b), half_avx2(c), out);
}
#define VEC v8
#define HSUM3 hsum3_avx2
#define ATTR static inline __attribute__((target("avx2,fma"), always_inline))
#define RUN run_avx2
#include "train/sgd_simd_body.h"
#undef VEC
#undef HSUM3
#undef ATTR
#undef RUN

/* ---- AVX-512: one register per 16 floats (rows are padded to 16) */
typedef float v16 __attribute__((vector_size(64), aligned(64)));
__attribute__((target("avx512f"))) static inline __m128 quarter_avx512(v16 a) {
    __m512 x = (__m512)a;
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x), hi);
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
__attribute__((target("avx512f"))) static inline void hsum3_avx512(v16 a, v16 b, v16 c, float out[3]) {
    finish3(quarter_avx512(a), quarter_avx512(b), quarter_avx512(c), out);
}
#define VEC v16
#define HSUM3 hsum3_avx512
#define ATTR static inline __attribute__((target("avx512f"), always_inline))
#define RUN run_avx512
#include "train/sgd_simd_body.h"
#undef VEC
#undef HSUM3
#undef ATTR
#undef RUN
#endif

/* nv (vectors per row), biases and squashing are compile-time constants in
 * the common cases, so the row loops unroll, a row stays in registers from
 * load to store, and the per-rating branches disappear. */
#define ROWS(run, job, lanes, b, s)                                                                \
    switch ((job)->stride / (lanes)) {                                                             \
    case 1: run(job, 1, b, s); break;                                                              \
    case 2: run(job, 2, b, s); break;                                                              \
    case 4: run(job, 4, b, s); break;                                                              \
    case 8: run(job, 8, b, s); break;                                                              \
    default: run(job, (job)->stride / (lanes), b, s); break;                                       \
    }
#define DISPATCH(run, job, lanes)                                                                  \
    if ((job)->y_lo < (job)->y_hi) {                                                               \
        run(job, (job)->stride / (lanes), (job)->biased, 1);                                       \
    } else if ((job)->biased) {                                                                    \
        ROWS(run, job, lanes, 1, 0)                                                                \
    } else {                                                                                       \
        ROWS(run, job, lanes, 0, 0)                                                                \
    }

void fl_sgd_kernel_generic(const fl_sgd_job *job) { DISPATCH(run_generic, job, 8) }

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void fl_sgd_kernel_avx2(const fl_sgd_job *job) {
    DISPATCH(run_avx2, job, 8)
}
__attribute__((target("avx512f"))) void fl_sgd_kernel_avx512(const fl_sgd_job *job) {
    DISPATCH(run_avx512, job, 16)
}
#endif

fl_sgd_kernel fl_sgd_pick(const char **name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        if (name) *name = "avx512";
        return fl_sgd_kernel_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (name) *name = "avx2+fma";
        return fl_sgd_kernel_avx2;
    }
#endif
    if (name) *name = "generic";
    return fl_sgd_kernel_generic;
}
