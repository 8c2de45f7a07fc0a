/* mf.c — scoring and the reference gradient of the dot and biased models.
 * Solvers use their own fused loops; these are the plain definitions. */
#include "models/mf.h"

#include "models/regularizer.h"

#include <math.h>

float fl_mf_score(const fl_model *m, uint32_t u, uint32_t i) {
    float z = fl_mf_dot(m->P + (size_t)u * m->stride, m->Q + (size_t)i * m->stride, m->n_factors);
    if (fl_kind_mf_biased(m->kind)) z += m->offset + m->bu[u] + m->bi[i];
    return z;
}

float fl_squash_slope(const fl_params *p, float z) {
    if (!fl_model_squashes(p)) return 1.0f;
    float s = 1.0f / (1.0f + expf(-z));
    return (p->y_hi - p->y_lo) * s * (1.0f - s);
}

float fl_mf_grad(const fl_model *m, uint32_t u, uint32_t i, float r, float *gP, float *gQ,
                 float *gbu, float *gbi) {
    const fl_params *hp = &m->params;
    const float *p = m->P + (size_t)u * m->stride;
    const float *q = m->Q + (size_t)i * m->stride;
    float z = fl_mf_score(m, u, i);
    float yhat = fl_squash(hp, z);
    float dz = 2.0f * (yhat - r) * fl_squash_slope(hp, z);
    float J = (yhat - r) * (yhat - r);
    /* This rating's shares of its rows' penalties (regularizer.h). */
    float nu = (float)fl_model_user_count(m, u), ni = (float)m->item_count[i];
    float fu = 1.0f / sqrtf(nu), fi = 1.0f / sqrtf(ni);
    float lu = hp->reg_factors * fu, li = hp->reg_factors * fi;
    for (uint32_t f = 0; f < m->n_factors; f++) {
        gP[f] = dz * q[f] + 2.0f * lu * p[f];
        gQ[f] = dz * p[f] + 2.0f * li * q[f];
        J += lu * p[f] * p[f] + li * q[f] * q[f];
    }
    *gbu = *gbi = 0.0f;
    if (fl_kind_mf_biased(m->kind)) {
        float bu = hp->reg_bias / nu, bi = hp->reg_bias / ni;
        *gbu = dz + 2.0f * bu * m->bu[u];
        *gbi = dz + 2.0f * bi * m->bi[i];
        J += bu * m->bu[u] * m->bu[u] + bi * m->bi[i] * m->bi[i];
    }
    return J;
}
