/* linalg.h — the small dense kernels the models need: a matrix product for
 * the nn's mini-batches, a dot product, and a Cholesky solve for ALS rows and
 * fold-in.
 *
 * OpenBLAS's only thread control is process-wide: its sgemm and strsv would
 * start its threads (which at these sizes cost more than they give), and
 * holding them to one would change the host process's setting. So the
 * product and the triangular solves are written here, and of OpenBLAS only
 * the unblocked spotf2, which never threads, is called (docs/architecture.md).
 * The product's and the dot's sums run in one fixed order, so they give the
 * same bits on every CPU and instruction set. */
#ifndef FL_CORE_LINALG_H
#define FL_CORE_LINALG_H

#include <stddef.h>

/* C[M][N] (row stride ldc) = sum over p < K of A(i, p) * B[p][:], where
 * A(i, p) = A[i * a_row + p * a_col] (so a transposed A costs nothing) and B
 * is row-major with row stride ldb. C is overwritten. */
void fl_matmul(int M, int N, int K, const float *A, size_t a_row, size_t a_col,
               const float *B, size_t ldb, float *C, size_t ldc);

/* sum x[j] y[j]: sixteen running sums, added up in a fixed order. */
float fl_dot(const float *x, const float *y, int n);

/* Solves A x = b for symmetric positive definite A (n x n, column-major;
 * only the upper triangle is read, and it is overwritten by the Cholesky
 * factor U with A = U^T U). b is replaced by x. Returns 0, or -1 when A is
 * not positive definite (b is then unspecified). */
int fl_cholesky_solve(float *A, int n, float *b);

#endif
