/* bpr.c — BPR-MF's per-triple objective, gradient and step (bpr.h). */
#include "models/bpr.h"

#include <math.h>

/* -ln sigmoid(x) without overflow for large |x|. */
static double neg_log_sigmoid(double x) { return x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x)); }

double fl_bpr_grad(const float *p, const float *qi, const float *qj, int k, float reg, float *gp,
                   float *gi, float *gj) {
    double x = 0, sq = 0;
    for (int f = 0; f < k; f++) {
        x += (double)p[f] * ((double)qi[f] - qj[f]);
        sq += (double)p[f] * p[f] + (double)qi[f] * qi[f] + (double)qj[f] * qj[f];
    }
    /* dL/dx = -sigmoid(-x) */
    double s = 1.0 / (1.0 + exp(x));
    for (int f = 0; f < k; f++) {
        gp[f] = (float)(-s * ((double)qi[f] - qj[f]) + reg * (double)p[f]);
        gi[f] = (float)(-s * p[f] + reg * (double)qi[f]);
        gj[f] = (float)(s * p[f] + reg * (double)qj[f]);
    }
    return neg_log_sigmoid(x) + 0.5 * reg * sq;
}

/* The hot loop of BPR training: three rows of k floats read and written
 * once each per triple (two passes: the score, then the update). */
float fl_bpr_step(float *p, float *qi, float *qj, int k, float reg, float lr) {
    float x = 0.0f;
    for (int f = 0; f < k; f++) x += p[f] * (qi[f] - qj[f]);
    const float s = 1.0f / (1.0f + expf(x));
    for (int f = 0; f < k; f++) {
        const float pf = p[f], a = qi[f], b = qj[f];
        p[f] = pf - lr * (-s * (a - b) + reg * pf);
        qi[f] = a - lr * (-s * pf + reg * a);
        qj[f] = b - lr * (s * pf + reg * b);
    }
    return (float)neg_log_sigmoid(x);
}
