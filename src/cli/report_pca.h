/* report_pca.h — the first two principal components of a set of factor
 * rows, for the report's 2-D map of the items. */
#ifndef FL_CLI_REPORT_PCA_H
#define FL_CLI_REPORT_PCA_H

#include <stddef.h>

/* rows[r] points at k floats, for n rows. Writes each row's coordinates on
 * the first two principal components into pc1[n] and pc2[n] and the share
 * of the variance each explains into explained[2]. Returns 0, or -1 when
 * out of memory. Deterministic: a fixed start and a sign convention (the
 * component's largest entry is positive). */
int report_pca2(const float *const *rows, size_t n, int k, double *pc1, double *pc2,
                double explained[2]);

#endif
