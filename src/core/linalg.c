/* linalg.c — see linalg.h. The product is axpy-shaped (a scalar of A times a
 * row of B into a row of C) over tiles of 4 rows x 16 columns that stay in
 * registers across the whole K loop, built for AVX-512, AVX2 and baseline
 * SSE2 and picked by the CPU at run time. Without fused
 * multiply-adds (ISO C mode contracts none) each lane computes exactly what
 * the scalar loop would, so all three give the same bits. GCC's vector
 * extensions, not the auto-vectoriser, so the tile surely stays in registers. */
#include "core/linalg.h"

#include <math.h>
#include <string.h>

#define TILE_ROWS 4
#define TILE_COLS 16

/* Each kernel's body is written once, always inlined into a copy compiled
 * for AVX-512, one for AVX2 and one for the baseline; the public name picks
 * one by the CPU it runs on. */
#define INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__)
#define DISPATCH(ret, name, params, args)                                              \
    __attribute__((target("avx512f"))) static ret name##_avx512 params { RET name##_body args; } \
    __attribute__((target("avx2"))) static ret name##_avx2 params { RET name##_body args; }     \
    static ret name##_base params { RET name##_body args; }                                     \
    ret name params {                                                                           \
        if (__builtin_cpu_supports("avx512f")) { RET name##_avx512 args; }                     \
        else if (__builtin_cpu_supports("avx2")) { RET name##_avx2 args; }                     \
        else { RET name##_base args; }                                                          \
    }
#else
#define DISPATCH(ret, name, params, args) \
    ret name params { RET name##_body args; }
#endif

/* Sixteen floats: one AVX-512 register, two AVX2 or four SSE2 ones, as the
 * clone being compiled has. memcpy makes the loads and stores unaligned. */
typedef float vf16 __attribute__((vector_size(TILE_COLS * sizeof(float))));

INLINE vf16 load16(const float *p) {
    vf16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store16(float *p, vf16 v) { memcpy(p, &v, sizeof v); }

INLINE void fl_matmul_body(int M, int N, int K, const float *A, size_t a_row, size_t a_col,
                           const float *B, size_t ldb, float *C, size_t ldc) {
    int i = 0;
    for (; i + TILE_ROWS <= M; i += TILE_ROWS) {
        const float *a0 = A + (size_t)i * a_row, *a1 = a0 + a_row, *a2 = a1 + a_row,
                    *a3 = a2 + a_row;
        int j = 0;
        for (; j + TILE_COLS <= N; j += TILE_COLS) {
            vf16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
            for (int p = 0; p < K; p++) {
                const vf16 b = load16(B + (size_t)p * ldb + j);
                const size_t q = (size_t)p * a_col;
                c0 += a0[q] * b, c1 += a1[q] * b, c2 += a2[q] * b, c3 += a3[q] * b;
            }
            store16(C + (size_t)i * ldc + j, c0), store16(C + (size_t)(i + 1) * ldc + j, c1);
            store16(C + (size_t)(i + 2) * ldc + j, c2), store16(C + (size_t)(i + 3) * ldc + j, c3);
        }
        if (j < N) {
            /* The last columns: a short row of B is read into a zeroed
             * tile, so the tail runs vectorised too. */
            const size_t w = (size_t)(N - j);
            vf16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
            for (int p = 0; p < K; p++) {
                vf16 b = {0};
                memcpy(&b, B + (size_t)p * ldb + j, w * sizeof(float));
                const size_t q = (size_t)p * a_col;
                c0 += a0[q] * b, c1 += a1[q] * b, c2 += a2[q] * b, c3 += a3[q] * b;
            }
            memcpy(C + (size_t)i * ldc + j, &c0, w * sizeof(float));
            memcpy(C + (size_t)(i + 1) * ldc + j, &c1, w * sizeof(float));
            memcpy(C + (size_t)(i + 2) * ldc + j, &c2, w * sizeof(float));
            memcpy(C + (size_t)(i + 3) * ldc + j, &c3, w * sizeof(float));
        }
    }
    for (; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] = 0.0f;
        for (int p = 0; p < K; p++) {
            const float a = A[(size_t)i * a_row + (size_t)p * a_col];
            const float *b = B + (size_t)p * ldb;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

INLINE float fl_dot_body(const float *x, const float *y, int n) {
    vf16 acc = {0};
    int j = 0;
    for (; j + TILE_COLS <= n; j += TILE_COLS) acc += load16(x + j) * load16(y + j);
    float s = 0.0f;
    for (int l = 0; l < TILE_COLS; l++) s += acc[l];
    for (; j < n; j++) s += x[j] * y[j];
    return s;
}

/* LAPACK's Fortran entry point (OpenBLAS exports it; Debian ships no LAPACKE
 * header with it). The trailing length is gfortran's hidden argument for the
 * character parameter. */
extern void spotf2_(const char *uplo, const int *n, float *a, const int *lda, int *info,
                    size_t uplo_len);

INLINE int fl_cholesky_solve_body(float *A, int n, float *b) {
    /* OpenBLAS's spotf2 is its unblocked factorisation, which never consults
     * or starts its threads (unlike strsv and the blocked spotrf/sposv):
     * safe from any thread, and at these sizes faster than a blocked one. */
    int info = 0;
    spotf2_("U", &n, A, &n, &info, 1);
    if (info != 0) return -1;
    /* U^T y = b: forward, row i of U^T is column i of U. */
    for (int i = 0; i < n; i++) {
        const float *ci = A + (size_t)i * n;
        b[i] = (b[i] - fl_dot_body(ci, b, i)) / ci[i];
    }
    /* U x = y: backward, by columns (an axpy per column). */
    for (int j = n - 1; j >= 0; j--) {
        const float *cj = A + (size_t)j * n;
        const float x = b[j] /= cj[j];
        int i = 0;
        for (; i + TILE_COLS <= j; i += TILE_COLS) store16(b + i, load16(b + i) - load16(cj + i) * x);
        for (; i < j; i++) b[i] -= cj[i] * x;
    }
    return 0;
}

/* RET: "return" for the kernels with a value, nothing for the void one. */
#define RET
DISPATCH(void, fl_matmul,
         (int M, int N, int K, const float *A, size_t a_row, size_t a_col, const float *B,
          size_t ldb, float *C, size_t ldc),
         (M, N, K, A, a_row, a_col, B, ldb, C, ldc))
#undef RET
#define RET return
DISPATCH(float, fl_dot, (const float *x, const float *y, int n), (x, y, n))
DISPATCH(int, fl_cholesky_solve, (float *A, int n, float *b), (A, n, b))
