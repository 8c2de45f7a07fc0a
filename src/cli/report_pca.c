/* report_pca.c — two principal components by power iteration on the k x k
 * covariance matrix of the rows (k is the factor count, tens to hundreds, so
 * the k x k matrix is small), with deflation for the second. */
#include "cli/report_pca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The dominant eigenvector of the symmetric k x k matrix c into v; returns
 * its eigenvalue. 500 iterations from a fixed start: far more than the
 * factor covariances of real models need to settle. */
static double dominant(const double *c, int k, double *v, double *tmp) {
    for (int a = 0; a < k; a++) v[a] = 1.0 + 0.01 * a;
    double lambda = 0;
    for (int it = 0; it < 500; it++) {
        for (int a = 0; a < k; a++) {
            double s = 0;
            for (int b = 0; b < k; b++) s += c[(size_t)a * k + b] * v[b];
            tmp[a] = s;
        }
        double norm = 0;
        for (int a = 0; a < k; a++) norm += tmp[a] * tmp[a];
        norm = sqrt(norm);
        if (norm == 0) break;
        for (int a = 0; a < k; a++) v[a] = tmp[a] / norm;
        lambda = norm;
    }
    int big = 0;
    for (int a = 1; a < k; a++) big = fabs(v[a]) > fabs(v[big]) ? a : big;
    if (v[big] < 0)
        for (int a = 0; a < k; a++) v[a] = -v[a];
    return lambda;
}

int report_pca2(const float *const *rows, size_t n, int k, double *pc1, double *pc2,
                double explained[2]) {
    double *mean = calloc((size_t)k, sizeof *mean), *c = calloc((size_t)k * k, sizeof *c);
    double *v1 = malloc((size_t)k * sizeof *v1), *v2 = malloc((size_t)k * sizeof *v2);
    double *tmp = malloc((size_t)k * sizeof *tmp);
    if (!mean || !c || !v1 || !v2 || !tmp) {
        free(mean), free(c), free(v1), free(v2), free(tmp);
        return -1;
    }
    for (size_t r = 0; r < n; r++)
        for (int a = 0; a < k; a++) mean[a] += rows[r][a];
    for (int a = 0; a < k; a++) mean[a] /= n ? (double)n : 1.0;
    for (size_t r = 0; r < n; r++)
        for (int a = 0; a < k; a++) {
            double da = rows[r][a] - mean[a];
            for (int b = 0; b < k; b++) c[(size_t)a * k + b] += da * (rows[r][b] - mean[b]);
        }
    double trace = 0;
    for (int a = 0; a < k; a++) trace += c[(size_t)a * k + a];
    double l1 = dominant(c, k, v1, tmp);
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) c[(size_t)a * k + b] -= l1 * v1[a] * v1[b];
    double l2 = k > 1 ? dominant(c, k, v2, tmp) : 0;
    if (k == 1) v2[0] = 0;
    explained[0] = trace > 0 ? l1 / trace : 0;
    explained[1] = trace > 0 ? l2 / trace : 0;
    for (size_t r = 0; r < n; r++) {
        double s1 = 0, s2 = 0;
        for (int a = 0; a < k; a++) {
            double d = rows[r][a] - mean[a];
            s1 += d * v1[a], s2 += d * v2[a];
        }
        pc1[r] = s1, pc2[r] = s2;
    }
    free(mean), free(c), free(v1), free(v2), free(tmp);
    return 0;
}
