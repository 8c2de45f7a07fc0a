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
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PREFETCH_AHEAD 8

/* lr / sqrt(g) for four sums at once, with one vector sqrt and one divide.
 * Exact IEEE operations, not the faster rsqrt estimate: that estimate
 * differs between CPU vendors, and a seed must give the same model on any
 * machine that runs the same kernel. Off the critical path, it costs little. */
static inline __attribute__((always_inline)) void steps_rec(float lr, const fl_sgd_row *ru, const fl_sgd_row *ri, float out[4]) {
#if defined(__x86_64__)
    __m128 a = _mm_loadu_ps(&ru->bias), b = _mm_loadu_ps(&ri->bias);
    __m128 g = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 1, 2, 1)); /* Gu Gbu Gi Gbi */
    __m128 e = _mm_div_ps(_mm_set1_ps(lr), _mm_sqrt_ps(g));
    out[0] = _mm_cvtss_f32(e);
    out[1] = _mm_cvtss_f32(_mm_shuffle_ps(e, e, 2));
    out[2] = _mm_cvtss_f32(_mm_shuffle_ps(e, e, 1));
    out[3] = _mm_cvtss_f32(_mm_shuffle_ps(e, e, 3));
#else
    out[0] = lr / sqrtf(ru->G), out[1] = lr / sqrtf(ri->G), out[2] = lr / sqrtf(ru->Gb), out[3] = lr / sqrtf(ri->Gb);
#endif
}
static inline __attribute__((always_inline)) void steps4(float lr, const float g[4], float out[4]) {
#if defined(__x86_64__)
    __m128 x = _mm_loadu_ps(g);
    _mm_storeu_ps(out, _mm_div_ps(_mm_set1_ps(lr), _mm_sqrt_ps(x)));
#else
    for (int k = 0; k < 4; k++) out[k] = lr / sqrtf(g[k]);
#endif
}


/* Four ratings' scalars, one per lane. */
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) v4 sqrt4(v4 x) {
#if defined(__x86_64__)
    return (v4)_mm_sqrt_ps((__m128)x);
#else
    for (int l = 0; l < 4; l++) x[l] = sqrtf(x[l]);
    return x;
#endif
}

/* max(x, 0) lane by lane; NaN gives 0. */
static inline __attribute__((always_inline)) v4 positive4(v4 x) {
    return (v4)((v4i)x & (x > 0.0f));
}

/* Four 16-byte row records to one vector per field, and back. */
static inline __attribute__((always_inline)) void rows4_load(fl_sgd_row *const r[4], v4 *bias, v4 *g, v4 *gb, v4 *share) {
    v4 a, b, c, d;
    memcpy(&a, r[0], 16), memcpy(&b, r[1], 16), memcpy(&c, r[2], 16), memcpy(&d, r[3], 16);
    v4 t0 = __builtin_shuffle(a, b, (v4i){0, 4, 1, 5}), t1 = __builtin_shuffle(a, b, (v4i){2, 6, 3, 7});
    v4 t2 = __builtin_shuffle(c, d, (v4i){0, 4, 1, 5}), t3 = __builtin_shuffle(c, d, (v4i){2, 6, 3, 7});
    *bias = __builtin_shuffle(t0, t2, (v4i){0, 1, 4, 5});
    *g = __builtin_shuffle(t0, t2, (v4i){2, 3, 6, 7});
    *gb = __builtin_shuffle(t1, t3, (v4i){0, 1, 4, 5});
    *share = __builtin_shuffle(t1, t3, (v4i){2, 3, 6, 7});
}
static inline __attribute__((always_inline)) void rows4_store(fl_sgd_row *const r[4], v4 bias, v4 g, v4 gb, v4 share) {
    v4 t0 = __builtin_shuffle(bias, g, (v4i){0, 4, 1, 5}), t1 = __builtin_shuffle(bias, g, (v4i){2, 6, 3, 7});
    v4 t2 = __builtin_shuffle(gb, share, (v4i){0, 4, 1, 5}), t3 = __builtin_shuffle(gb, share, (v4i){2, 6, 3, 7});
    v4 a = __builtin_shuffle(t0, t2, (v4i){0, 1, 4, 5}), b = __builtin_shuffle(t0, t2, (v4i){2, 3, 6, 7});
    v4 c = __builtin_shuffle(t1, t3, (v4i){0, 1, 4, 5}), d = __builtin_shuffle(t1, t3, (v4i){2, 3, 6, 7});
    memcpy(r[0], &a, 16), memcpy(r[1], &b, 16), memcpy(r[2], &c, 16), memcpy(r[3], &d, 16);
}

/* Whether four ratings have four different users and four different items. */
static inline __attribute__((always_inline)) int distinct4(const uint32_t *u, const uint32_t *i) {
    v4u a, b;
    memcpy(&a, u, 16), memcpy(&b, i, 16);
    v4u a1 = __builtin_shuffle(a, (v4u){1, 2, 3, 0}), a2 = __builtin_shuffle(a, (v4u){2, 3, 0, 1});
    v4u b1 = __builtin_shuffle(b, (v4u){1, 2, 3, 0}), b2 = __builtin_shuffle(b, (v4u){2, 3, 0, 1});
    v4i same = (v4i)((a == a1) | (a == a2) | (b == b1) | (b == b2));
    return !(same[0] | same[1] | same[2] | same[3]);
}

/* ---- baseline: 8-float vectors (two SSE registers each) */
typedef float v8 __attribute__((vector_size(32), aligned(32)));
static inline __attribute__((always_inline)) float hsum8(v8 a) {
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}
static inline __attribute__((always_inline)) void hsum3_8(v8 a, v8 b, v8 c, float out[3]) {
    out[0] = hsum8(a), out[1] = hsum8(b), out[2] = hsum8(c);
}
static inline __attribute__((always_inline)) void sums4_8(const v8 a[4], const v8 b[4], const v8 c[4], v4 out[3]) {
    float t[4][3];
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) hsum3_8(a[l], b[l], c[l], t[l]);
    for (int x = 0; x < 3; x++) out[x] = (v4){t[0][x], t[1][x], t[2][x], t[3][x]};
}
#define VEC v8
#define HSUM3 hsum3_8
#define SUMS4 sums4_8
#define ATTR static inline __attribute__((always_inline))
#define RUN run_generic
#define GROUP group_generic
#include "train/sgd_simd_body.h"
#undef VEC
#undef HSUM3
#undef ATTR
#undef RUN
#undef GROUP
#undef SUMS4

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
__attribute__((target("avx2,fma"))) static inline void sums4_avx2(const v8 a[4], const v8 b[4], const v8 c[4], v4 out[3]) {
    float t[4][3];
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) hsum3_avx2(a[l], b[l], c[l], t[l]);
    for (int x = 0; x < 3; x++) out[x] = (v4){t[0][x], t[1][x], t[2][x], t[3][x]};
}
#define VEC v8
#define HSUM3 hsum3_avx2
#define SUMS4 sums4_avx2
#define ATTR static inline __attribute__((target("avx2,fma"), always_inline))
#define RUN run_avx2
#define GROUP group_avx2
#include "train/sgd_simd_body.h"
#undef VEC
#undef HSUM3
#undef ATTR
#undef RUN
#undef GROUP
#undef SUMS4

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
/* The sums of four ratings with whole-register shuffles: per rating, its
 * three 16-lane sums fold to three 4-lane blocks of one register, then a
 * 4x4 pairwise reduction across the four ratings' registers leaves the
 * ratings in lanes. The additions pair lanes exactly as quarter_avx512 and
 * finish3 do, so the sums are bit for bit HSUM3's. */
__attribute__((target("avx512f"))) static inline __m512 fold_blocks(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
}
__attribute__((target("avx512f"))) static inline __m512 pair_lanes(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}
__attribute__((target("avx512f"))) static inline void sums4_avx512(const v16 a[4], const v16 b[4], const v16 c[4], v4 out[3]) {
    __m512 z[4];
#pragma GCC unroll 4
    for (int l = 0; l < 4; l++) {
        __m512 x = fold_blocks((__m512)a[l], (__m512)b[l]); /* a0+a2 a1+a3 b0+b2 b1+b3 */
        __m512 y = fold_blocks((__m512)c[l], (__m512)c[l]);
        /* (a0+a2)+(a1+a3)  (b0+b2)+(b1+b3)  c..  c.. */
        z[l] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
    }
    __m512 r = pair_lanes(pair_lanes(z[0], z[1]), pair_lanes(z[2], z[3]));
    out[0] = (v4)_mm512_castps512_ps128(r);
    out[1] = (v4)_mm512_extractf32x4_ps(r, 1);
    out[2] = (v4)_mm512_extractf32x4_ps(r, 2);
}
#define VEC v16
#define HSUM3 hsum3_avx512
#define SUMS4 sums4_avx512
#define ATTR static inline __attribute__((target("avx512f"), always_inline))
#define RUN run_avx512
#define GROUP group_avx512
#include "train/sgd_simd_body.h"
#undef VEC
#undef HSUM3
#undef ATTR
#undef RUN
#undef GROUP
#undef SUMS4
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
