/* sgd_simd.c — the vectorised SGD update (see sgd_simd.h and, for the
 * arithmetic, sgd_kernel.h, its scalar reference).
 *
 * Per rating: two factor rows (L2-resident while a block runs: a block's
 * rows are contiguous and sized to fit) and two 16-byte row records are read
 * and written; the ratings stream. Rows are prefetched a few ratings ahead
 * because, within a block, the next rating's rows are random. Ratings go
 * four at a time when their users and items differ (sgd_simd_body.inc): the
 * factor rows in full-width vectors, the per-rating scalars four to a
 * 4-lane vector. The four step sizes of a rating come from the sums
 * *before* the rating, so their square roots overlap the dot product
 * instead of following it. The same loop is compiled for SSE2 (any x86-64),
 * AVX2+FMA and AVX-512. */
#include "train/sgd_simd.h"

#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#define PREFETCH_AHEAD 8

/* Four ratings' scalars, one per lane. */
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

/* Square roots are exact IEEE operations, not the faster rsqrt estimate:
 * that estimate differs between CPU vendors, and a seed must give the same
 * model on any machine that runs the same kernel. */
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

/* Rows of a 4x4 matrix to its columns. */
static inline __attribute__((always_inline)) void transpose4(v4 *a, v4 *b, v4 *c, v4 *d) {
    v4 t0 = __builtin_shufflevector(*a, *b, 0, 4, 1, 5), t1 = __builtin_shufflevector(*a, *b, 2, 6, 3, 7);
    v4 t2 = __builtin_shufflevector(*c, *d, 0, 4, 1, 5), t3 = __builtin_shufflevector(*c, *d, 2, 6, 3, 7);
    *a = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    *b = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    *c = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    *d = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

/* Four 16-byte row records to one vector per field, and back. */
static inline __attribute__((always_inline)) void rows4_load(fl_sgd_row *const r[4], v4 *bias, v4 *g, v4 *gb, v4 *share) {
    memcpy(bias, r[0], 16), memcpy(g, r[1], 16), memcpy(gb, r[2], 16), memcpy(share, r[3], 16);
    transpose4(bias, g, gb, share);
}
static inline __attribute__((always_inline)) void rows4_store(fl_sgd_row *const r[4], v4 bias, v4 g, v4 gb, v4 share) {
    transpose4(&bias, &g, &gb, &share);
    memcpy(r[0], &bias, 16), memcpy(r[1], &g, 16), memcpy(r[2], &gb, 16), memcpy(r[3], &share, 16);
}

/* Whether four ratings have four different users and four different items. */
static inline __attribute__((always_inline)) int distinct4(const uint16_t *u, const uint16_t *i) {
    typedef uint16_t v4h __attribute__((vector_size(8)));
    v4h hu, hi;
    memcpy(&hu, u, 8), memcpy(&hi, i, 8);
    v4u a = __builtin_convertvector(hu, v4u), b = __builtin_convertvector(hi, v4u);
    v4u a1 = __builtin_shufflevector(a, a, 1, 2, 3, 0), a2 = __builtin_shufflevector(a, a, 2, 3, 0, 1);
    v4u b1 = __builtin_shufflevector(b, b, 1, 2, 3, 0), b2 = __builtin_shufflevector(b, b, 2, 3, 0, 1);
    v4i same = (v4i)((a == a1) | (a == a2) | (b == b1) | (b == b2));
    return !(same[0] | same[1] | same[2] | same[3]);
}

/* Each instruction set supplies the row vector VEC and the lane sums of a
 * rating's p.q, |p|^2 and |q|^2 (three VECs), for a lone rating in two steps:
 *   FOLD3(a, b, c)        -> PART, one rating's partial sums, folded as far
 *                            as can be done without the other ratings
 *   FINISH4(z0..z3, s[3]) -> s[0] = the four p.q, s[1] the |p|^2, s[2] the |q|^2
 * (the lone rating passes its PART four times and gets its sums in every
 * lane). Four ratings take FOLD3 each and one FINISH4, unless the set has a
 * faster way for them:
 *   REDUCE12(z[4][3], s[3]) -> the same s[3]   (optional)
 * Every set adds lanes in the same pairs whatever the grouping, so a rating
 * gets the same bits alone or in a group. */

/* ---- baseline: 8-float vectors (two SSE registers each) */
typedef float v8 __attribute__((vector_size(32), aligned(32)));
static inline __attribute__((always_inline)) float hsum8(v8 a) {
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}
static inline __attribute__((always_inline)) v4 fold3_8(v8 a, v8 b, v8 c) {
    return (v4){hsum8(a), hsum8(b), hsum8(c), 0.0f};
}
static inline __attribute__((always_inline)) void finish4_v4(v4 z0, v4 z1, v4 z2, v4 z3, v4 s[3]) {
    transpose4(&z0, &z1, &z2, &z3);
    s[0] = z0, s[1] = z1, s[2] = z2;
}
#define VEC v8
#define PART v4
#define FOLD3 fold3_8
#define FINISH4 finish4_v4
#define GROUP group_generic
#define RUN run_generic
#define ATTR static inline __attribute__((always_inline))
#include "train/sgd_simd_body.inc"
#undef VEC
#undef PART
#undef FOLD3
#undef FINISH4
#undef GROUP
#undef RUN
#undef ATTR

#if defined(__x86_64__)
/* ---- AVX2 + FMA: one register per 8 floats */
__attribute__((target("avx2,fma"))) static inline __m128 half_avx2(v8 a) {
    __m256 x = (__m256)a;
    return _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
}
/* [sum a, sum b, sum c, sum c] from three 4-lane partial sums, by pairs. */
__attribute__((target("avx2,fma"))) static inline v4 fold3_avx2(v8 a, v8 b, v8 c) {
    __m128 ab = _mm_hadd_ps(half_avx2(a), half_avx2(b)); /* a01 a23 b01 b23 */
    __m128 cc = _mm_hadd_ps(half_avx2(c), half_avx2(c)); /* c01 c23 c01 c23 */
    return (v4)_mm_hadd_ps(ab, cc);
}
/* Four ratings' twelve sums at once (REDUCE12), in the same pairs as FOLD3
 * and FINISH4 (lane i + lane i+4, then neighbours, then the two halves), so a
 * rating's sums have the same bits alone or grouped: each cross-lane step
 * works on two ratings' sums side by side in one 256-bit register, and the
 * final transpose disappears into the lane order. The dot products and
 * |p|^2 come out of one chain, |q|^2 out of another. */
__attribute__((target("avx2,fma"))) static inline __m256 halves2(v8 x, v8 y) {
    /* [x lo + x hi | y lo + y hi] */
    return _mm256_add_ps(_mm256_permute2f128_ps((__m256)x, (__m256)y, 0x20),
                         _mm256_permute2f128_ps((__m256)x, (__m256)y, 0x31));
}
__attribute__((target("avx2,fma"))) static inline void reduce12_avx2(v8 z[4][3], v4 s[3]) {
    /* Low halves carry p.q, high halves |p|^2: */
    __m256 k0 = _mm256_hadd_ps(halves2(z[0][0], z[0][1]), halves2(z[1][0], z[1][1]));
    __m256 k1 = _mm256_hadd_ps(halves2(z[2][0], z[2][1]), halves2(z[3][0], z[3][1]));
    __m256 f = _mm256_hadd_ps(k0, k1); /* [p.q of ratings 0..3 | |p|^2 of 0..3] */
    s[0] = (v4)_mm256_castps256_ps128(f);
    s[1] = (v4)_mm256_extractf128_ps(f, 1);
    /* |q|^2: ratings 0, 1 in the low halves, 2, 3 in the high ones. */
    __m256 k2 = _mm256_hadd_ps(halves2(z[0][2], z[2][2]), halves2(z[1][2], z[3][2]));
    __m256 g = _mm256_hadd_ps(k2, _mm256_permute2f128_ps(k2, k2, 0x01));
    s[2] = (v4)_mm256_castps256_ps128(g);
}
#define VEC v8
#define PART v4
#define FOLD3 fold3_avx2
#define FINISH4 finish4_v4
#define REDUCE12 reduce12_avx2
#define GROUP group_avx2
#define RUN run_avx2
#define ATTR static inline __attribute__((target("avx2,fma"), always_inline))
#include "train/sgd_simd_body.inc"
#undef GROUP
#undef RUN
#undef ATTR
/* The same loop again, where the CPU has PREFETCHW: the rows and records a
 * block is about to update are fetched for writing, in exclusive state. With
 * two threads a block's rows were last written by the other core, and a
 * plain prefetch leaves them shared, so each first store waits for the other
 * copy to be invalidated. On the Zen 3, k=32, 2 threads: median 1.08x over
 * 8 alternating fl-bench-speed runs against the plain build (1 thread: no
 * change). Same bits: a prefetch changes no result. */
#define GROUP group_avx2w
#define RUN run_avx2w
#define ATTR static inline __attribute__((target("avx2,fma,prfchw"), always_inline))
#include "train/sgd_simd_body.inc"
#undef VEC
#undef PART
#undef FOLD3
#undef FINISH4
#undef REDUCE12
#undef GROUP
#undef RUN
#undef ATTR

/* ---- AVX-512: one register per 16 floats (rows are padded to 16). Whole-
 * register shuffles: a rating's three 16-lane sums fold to three 4-lane
 * blocks of one register (FOLD3), then a pairwise reduction across the
 * four ratings' registers leaves one rating per lane (FINISH4), pairing
 * lanes exactly as the AVX2 path pairs them after its halving. */
typedef float v16 __attribute__((vector_size(64), aligned(64)));
__attribute__((target("avx512f"))) static inline __m512 fold_blocks(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
}
__attribute__((target("avx512f"))) static inline __m512 pair_lanes(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}
__attribute__((target("avx512f"))) static inline __m512 fold3_avx512(v16 a, v16 b, v16 c) {
    __m512 x = fold_blocks((__m512)a, (__m512)b); /* a0+a2 a1+a3 b0+b2 b1+b3 (blocks) */
    __m512 y = fold_blocks((__m512)c, (__m512)c);
    /* (a0+a2)+(a1+a3)  (b0+b2)+(b1+b3)  c..  c.. */
    return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
}
__attribute__((target("avx512f"))) static inline void finish4_avx512(__m512 z0, __m512 z1, __m512 z2, __m512 z3, v4 s[3]) {
    __m512 r = pair_lanes(pair_lanes(z0, z1), pair_lanes(z2, z3));
    s[0] = (v4)_mm512_castps512_ps128(r);
    s[1] = (v4)_mm512_extractf32x4_ps(r, 1);
    s[2] = (v4)_mm512_extractf32x4_ps(r, 2);
}
/* Four ratings' twelve sums at once (REDUCE12), in the same pairs as FOLD3
 * and FINISH4, so a rating's sums have the same bits alone or grouped, but
 * with about half the shuffles: each step adds a blend of two registers to
 * one permute of them (16 -> 8 lanes per sum, then 4, 2, 1). The four dot
 * products go through their own chain, since the update waits for them and
 * the squared norms are needed only at its end. 1.05x on the kernel alone
 * at k=16/32 (interleaved A/B in one process, same bits). */
__attribute__((target("avx512f"))) static inline __m512 halve_blocks(__m512 a, __m512 b) {
    /* blocks a0+a2 a1+a3 b0+b2 b1+b3 */
    return _mm512_add_ps(_mm512_mask_blend_ps(0xFF00, a, b), _mm512_shuffle_f32x4(a, b, 0x4E));
}
__attribute__((target("avx512f"))) static inline __m512 step(__m512 a, __m512 b, __mmask16 from_b, __m512i take) {
    return _mm512_add_ps(_mm512_mask_blend_ps(from_b, a, b), _mm512_permutex2var_ps(a, take, b));
}
__attribute__((target("avx512f"))) static inline void reduce12_avx512(v16 z[4][3], v4 s[3]) {
    const __m512i blocks = _mm512_setr_epi32(4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 24, 25, 26, 27);
    const __m512i pairs = _mm512_setr_epi32(1, 16, 3, 18, 5, 20, 7, 22, 9, 24, 11, 26, 13, 28, 15, 30);
    const __m512i halves = _mm512_setr_epi32(2, 3, 16, 17, 6, 7, 20, 21, 10, 11, 24, 25, 14, 15, 28, 29);
    const __m512i dots = _mm512_setr_epi32(0, 8, 4, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i norms = _mm512_setr_epi32(0, 4, 1, 5, 8, 12, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 g = step(halve_blocks((__m512)z[0][0], (__m512)z[1][0]), halve_blocks((__m512)z[2][0], (__m512)z[3][0]), 0xF0F0, blocks);
    g = step(g, g, 0xAAAA, pairs);
    g = _mm512_permutexvar_ps(dots, step(g, g, 0xCCCC, halves));
    s[0] = (v4)_mm512_castps512_ps128(g);
    __m512 n0 = step(halve_blocks((__m512)z[0][1], (__m512)z[0][2]), halve_blocks((__m512)z[1][1], (__m512)z[1][2]), 0xF0F0, blocks);
    __m512 n1 = step(halve_blocks((__m512)z[2][1], (__m512)z[2][2]), halve_blocks((__m512)z[3][1], (__m512)z[3][2]), 0xF0F0, blocks);
    __m512 n = step(n0, n1, 0xAAAA, pairs);
    n = _mm512_permutexvar_ps(norms, step(n, n, 0xCCCC, halves));
    s[1] = (v4)_mm512_castps512_ps128(n);
    s[2] = (v4)_mm512_extractf32x4_ps(n, 1);
}
#define VEC v16
#define PART __m512
#define REDUCE12 reduce12_avx512
#define FOLD3 fold3_avx512
#define FINISH4 finish4_avx512
#define GROUP group_avx512
#define RUN run_avx512
#define ATTR static inline __attribute__((target("avx512f,prfchw"), always_inline))
#include "train/sgd_simd_body.inc"
#undef VEC
#undef PART
#undef FOLD3
#undef FINISH4
#undef REDUCE12
#undef GROUP
#undef RUN
#undef ATTR
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
__attribute__((target("avx2,fma,prfchw"))) void fl_sgd_kernel_avx2w(const fl_sgd_job *job) {
    DISPATCH(run_avx2w, job, 8)
}
__attribute__((target("avx512f,prfchw"))) void fl_sgd_kernel_avx512(const fl_sgd_job *job) {
    DISPATCH(run_avx512, job, 16)
}
#endif

int fl_cpu_has_prefetchw(void) {
#if defined(__x86_64__)
    /* CPUID itself: clang's __builtin_cpu_supports does not know "prfchw". */
    unsigned a, b, c, d;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
#else
    return 0;
#endif
}

fl_sgd_kernel fl_sgd_pick(const char **name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int prefetchw = fl_cpu_has_prefetchw();
    if (__builtin_cpu_supports("avx512f") && prefetchw) {
        if (name) *name = "avx512";
        return fl_sgd_kernel_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && prefetchw) {
        if (name) *name = "avx2+fma+prefetchw";
        return fl_sgd_kernel_avx2w;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        if (name) *name = "avx2+fma";
        return fl_sgd_kernel_avx2;
    }
#endif
    if (name) *name = "generic";
    return fl_sgd_kernel_generic;
}
