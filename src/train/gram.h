/* gram.h — the inner product matrix ALS builds for every row: A += G G^T over
 * a chunk of gathered factor rows (the columns of G), upper triangle only.
 * BLAS's ssyrk does the same, but at ALS's sizes (k of 16-128, tens to a few
 * hundred columns per call) OpenBLAS spent more time packing its operands and
 * dispatching than multiplying; this keeps 16 x 4 tiles of A in registers
 * while the chunk streams past.
 *
 * Compiled twice: baseline x86-64 (SSE2) and AVX2+FMA; fl_gram_pick chooses at
 * run time. The two differ in rounding (FMA), a given machine always takes
 * the same path. */
#ifndef FL_TRAIN_GRAM_H
#define FL_TRAIN_GRAM_H

/* A: kp x kp, column-major (A[i + j*kp]); G: kp x nc, column-major (column c
 * at G + c*kp). kp is a multiple of 16. Adds sum_c G[i,c] G[j,c] to A[i,j]
 * for every i <= j; entries below the diagonal are left undefined. */
typedef void (*fl_gram_kernel)(float *A, const float *G, int kp, int nc);

void fl_gram_add_generic(float *A, const float *G, int kp, int nc);
#if defined(__x86_64__)
void fl_gram_add_avx2(float *A, const float *G, int kp, int nc);
#endif
/* The best kernel this CPU runs, and its name ("avx2+fma", "generic"). */
fl_gram_kernel fl_gram_pick(const char **name);

#endif
