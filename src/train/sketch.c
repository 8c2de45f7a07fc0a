/* sketch.c — the streaming low-rank sketch of sketch.h.
 *
 * Per term: Y += U (V^T omega) and W += (psi U) V^T, O(k r (n_u + n_i)).
 * At the end: Q0 = orth(Y) (modified Gram-Schmidt in double), then
 * X = argmin |(psi Q0) X - W| by the normal equations (psi Q0 is a
 * Gaussian l x q matrix times an orthonormal one: well conditioned for
 * l = 2r + 1), so M ~ Q0 X. The error is that of M's best rank-r
 * approximation times a small factor: the MCMC average is dominated by
 * its first few hundred directions, so little is lost, and the model the
 * trainer reports on is this approximation, the one it saves. */
#include "train/sketch.h"

#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TASKS = 64 };

int fl_sketch_init(fl_sketch *s, uint32_t n_u, uint32_t n_i, int r, uint64_t seed) {
    memset(s, 0, sizeof *s);
    uint32_t cap = n_u < n_i ? n_u : n_i;
    if ((uint32_t)r > cap) r = (int)cap;
    if (r < 1) r = 1;
    s->n_u = n_u, s->n_i = n_i, s->r = r, s->l = 2 * r + 1;
    s->omega = malloc((size_t)n_i * r * sizeof *s->omega + 1);
    s->psi = malloc((size_t)s->l * n_u * sizeof *s->psi + 1);
    s->Y = calloc((size_t)n_u * r + 1, sizeof *s->Y);
    s->W = calloc((size_t)n_i * s->l + 1, sizeof *s->W);
    if (!s->omega || !s->psi || !s->Y || !s->W) return fl_sketch_free(s), -1;
    fl_rng rng;
    fl_rng_seed(&rng, seed);
    for (size_t t = 0; t < (size_t)n_i * r; t++) s->omega[t] = (float)fl_rng_normal(&rng);
    for (size_t t = 0; t < (size_t)s->l * n_u; t++) s->psi[t] = (float)fl_rng_normal(&rng);
    return 0;
}

void fl_sketch_free(fl_sketch *s) {
    free(s->omega), free(s->psi), free(s->Y), free(s->W);
    memset(s, 0, sizeof *s);
}

typedef struct add_run {
    fl_sketch *s;
    const double *U, *V;
    size_t ldu, ldv;
    int k;
    double *Vo;                 /* [k][r]  V^T omega */
    double *PU;                 /* [l][k]  psi U */
} add_run;

static void y_task(void *ctx, int task, int thread) {
    (void)thread;
    add_run *a = ctx;
    fl_sketch *s = a->s;
    const uint32_t lo = (uint32_t)((uint64_t)s->n_u * task / TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)s->n_u * (task + 1) / TASKS);
    for (uint32_t u = lo; u < hi; u++) {
        double *y = s->Y + (size_t)u * s->r;
        const double *x = a->U + (size_t)u * a->ldu;
        for (int f = 0; f < a->k; f++) {
            const double *vo = a->Vo + (size_t)f * s->r;
            for (int c = 0; c < s->r; c++) y[c] += x[f] * vo[c];
        }
    }
}

static void w_task(void *ctx, int task, int thread) {
    (void)thread;
    add_run *a = ctx;
    fl_sketch *s = a->s;
    const uint32_t lo = (uint32_t)((uint64_t)s->n_i * task / TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)s->n_i * (task + 1) / TASKS);
    for (uint32_t i = lo; i < hi; i++) {
        double *w = s->W + (size_t)i * s->l;
        const double *v = a->V + (size_t)i * a->ldv;
        for (int c = 0; c < s->l; c++) {
            const double *pu = a->PU + (size_t)c * a->k;
            double z = 0.0;
            for (int f = 0; f < a->k; f++) z += pu[f] * v[f];
            w[c] += z;
        }
    }
}

void fl_sketch_add(fl_sketch *s, const double *U, size_t ldu, const double *V, size_t ldv, int k,
                   fl_pool *pool) {
    add_run a = {s, U, V, ldu, ldv, k, calloc((size_t)k * s->r, sizeof(double)),
                 calloc((size_t)s->l * k, sizeof(double))};
    if (!a.Vo || !a.PU) {
        /* Leave this term out rather than corrupt the sums (the caller's
         * count of terms stays right: it counts what was added). */
        free(a.Vo), free(a.PU);
        return;
    }
    for (uint32_t i = 0; i < s->n_i; i++) {
        const double *v = V + (size_t)i * ldv;
        const float *om = s->omega + (size_t)i * s->r;
        for (int f = 0; f < k; f++)
            for (int c = 0; c < s->r; c++) a.Vo[(size_t)f * s->r + c] += v[f] * om[c];
    }
    for (int c = 0; c < s->l; c++) {
        const float *ps = s->psi + (size_t)c * s->n_u;
        for (uint32_t u = 0; u < s->n_u; u++) {
            const double *x = U + (size_t)u * ldu;
            for (int f = 0; f < k; f++) a.PU[(size_t)c * k + f] += ps[u] * x[f];
        }
    }
    fl_pool_run(pool, TASKS, y_task, &a);
    fl_pool_run(pool, TASKS, w_task, &a);
    free(a.Vo), free(a.PU);
    s->terms++;
}

/* Cholesky of the q x q symmetric positive definite G (row-major, lower
 * triangle L with G = L L^T written over it); 0, or -1 if not definite. */
static int cholesky(double *G, int q) {
    for (int j = 0; j < q; j++) {
        double d = G[(size_t)j * q + j];
        for (int t = 0; t < j; t++) d -= G[(size_t)j * q + t] * G[(size_t)j * q + t];
        if (!(d > 0.0)) return -1;
        d = sqrt(d);
        G[(size_t)j * q + j] = d;
        for (int i = j + 1; i < q; i++) {
            double z = G[(size_t)i * q + j];
            for (int t = 0; t < j; t++) z -= G[(size_t)i * q + t] * G[(size_t)j * q + t];
            G[(size_t)i * q + j] = z / d;
        }
    }
    return 0;
}

int fl_sketch_finish(fl_sketch *s, float **Pout, float **Qout, int *q_out) {
    const int r = s->r, l = s->l;
    const uint32_t n_u = s->n_u, n_i = s->n_i;
    const double scale = s->terms ? 1.0 / s->terms : 1.0;
    /* Q0 = orth(Y), column by column (Y is row-major [n_u][r]); columns
     * that add no new direction are dropped. */
    double *Q0 = malloc(((size_t)n_u * r + 1) * sizeof *Q0);
    double *col = malloc(((size_t)n_u + 1) * sizeof *col);
    double *PQ = calloc((size_t)l * r + 1, sizeof *PQ);
    double *G = calloc((size_t)r * r + 1, sizeof *G);
    double *X = calloc((size_t)r * n_i + 1, sizeof *X);
    float *P = NULL, *Q = NULL;
    int q = 0, rc = -1;
    if (!Q0 || !col || !PQ || !G || !X) goto done;
    double first = 0.0;
    for (int c = 0; c < r; c++) {
        for (uint32_t u = 0; u < n_u; u++) col[u] = s->Y[(size_t)u * r + c];
        double n0 = 0.0;
        for (uint32_t u = 0; u < n_u; u++) n0 += col[u] * col[u];
        for (int pass = 0; pass < 2; pass++) /* twice is enough (Giraud et al.) */
            for (int j = 0; j < q; j++) {
                double d = 0.0;
                for (uint32_t u = 0; u < n_u; u++) d += Q0[(size_t)u * r + j] * col[u];
                for (uint32_t u = 0; u < n_u; u++) col[u] -= d * Q0[(size_t)u * r + j];
            }
        double n1 = 0.0;
        for (uint32_t u = 0; u < n_u; u++) n1 += col[u] * col[u];
        if (c == 0) first = n0;
        if (!(n1 > 1e-20 * n0) || !(n1 > 1e-24 * first) || n1 == 0.0) continue;
        double inv = 1.0 / sqrt(n1);
        for (uint32_t u = 0; u < n_u; u++) Q0[(size_t)u * r + q] = col[u] * inv;
        q++;
    }
    if (q == 0) { /* a zero sum: one zero column */
        for (uint32_t u = 0; u < n_u; u++) Q0[(size_t)u * r] = 0.0;
        q = 1;
    } else {
        /* PQ = psi Q0 (l x q), G = PQ^T PQ, then X = G^-1 PQ^T W / terms. */
        for (int c = 0; c < l; c++)
            for (uint32_t u = 0; u < n_u; u++) {
                double p = s->psi[(size_t)c * n_u + u];
                for (int j = 0; j < q; j++) PQ[(size_t)c * q + j] += p * Q0[(size_t)u * r + j];
            }
        for (int a = 0; a < q; a++)
            for (int b = 0; b <= a; b++) {
                double z = 0.0;
                for (int c = 0; c < l; c++) z += PQ[(size_t)c * q + a] * PQ[(size_t)c * q + b];
                G[(size_t)a * q + b] = G[(size_t)b * q + a] = z;
            }
        if (cholesky(G, q)) goto done;
        for (uint32_t i = 0; i < n_i; i++) {
            double *x = X + (size_t)i * q;
            const double *w = s->W + (size_t)i * l;
            for (int a = 0; a < q; a++) {
                double z = 0.0;
                for (int c = 0; c < l; c++) z += PQ[(size_t)c * q + a] * w[c];
                x[a] = z * scale;
            }
            for (int a = 0; a < q; a++) { /* L y = x */
                double z = x[a];
                for (int t = 0; t < a; t++) z -= G[(size_t)a * q + t] * x[t];
                x[a] = z / G[(size_t)a * q + a];
            }
            for (int a = q - 1; a >= 0; a--) { /* L^T z = y */
                double z = x[a];
                for (int t = a + 1; t < q; t++) z -= G[(size_t)t * q + a] * x[t];
                x[a] = z / G[(size_t)a * q + a];
            }
        }
    }
    /* One scalar balances the two sides: Q0's rows are short (orthonormal
     * columns), X's long, and fold-in's ridge penalty wants them alike. */
    double nq = 0.0, nx = 0.0;
    for (uint32_t u = 0; u < n_u; u++)
        for (int j = 0; j < q; j++) nq += Q0[(size_t)u * r + j] * Q0[(size_t)u * r + j];
    for (size_t t = 0; t < (size_t)n_i * q; t++) nx += X[t] * X[t];
    double b = (nq > 0.0 && nx > 0.0) ? sqrt(sqrt((nx / n_i) / (nq / n_u))) : 1.0;
    P = malloc(((size_t)n_u * q + 1) * sizeof *P);
    Q = malloc(((size_t)n_i * q + 1) * sizeof *Q);
    if (!P || !Q) goto done;
    for (uint32_t u = 0; u < n_u; u++)
        for (int j = 0; j < q; j++) P[(size_t)u * q + j] = (float)(Q0[(size_t)u * r + j] * b);
    for (uint32_t i = 0; i < n_i; i++)
        for (int j = 0; j < q; j++) Q[(size_t)i * q + j] = (float)(X[(size_t)i * q + j] / b);
    rc = 0;
done:
    free(Q0), free(col), free(PQ), free(G), free(X);
    if (rc) {
        free(P), free(Q);
        return -1;
    }
    *Pout = P, *Qout = Q, *q_out = q;
    return 0;
}

int fl_sketch_fit_rows(const float *Q, size_t ldq, uint32_t n_i, int q, const double *rows,
                       int n_rows, double scale, float *out) {
    double *G = calloc((size_t)q * q + 1, sizeof *G), *b = malloc(((size_t)q + 1) * sizeof *b);
    if (!G || !b) {
        free(G), free(b);
        return -1;
    }
    for (uint32_t i = 0; i < n_i; i++) {
        const float *x = Q + (size_t)i * ldq;
        for (int a = 0; a < q; a++)
            for (int c = 0; c <= a; c++) G[(size_t)a * q + c] += (double)x[a] * x[c];
    }
    for (int a = 0; a < q; a++)
        for (int c = 0; c < a; c++) G[(size_t)c * q + a] = G[(size_t)a * q + c];
    if (cholesky(G, q)) {
        free(G), free(b);
        return -1;
    }
    for (int r = 0; r < n_rows; r++) {
        const double *m = rows + (size_t)r * n_i;
        for (int a = 0; a < q; a++) b[a] = 0.0;
        for (uint32_t i = 0; i < n_i; i++) {
            const float *x = Q + (size_t)i * ldq;
            for (int a = 0; a < q; a++) b[a] += x[a] * m[i] * scale;
        }
        for (int a = 0; a < q; a++) {
            double z = b[a];
            for (int t = 0; t < a; t++) z -= G[(size_t)a * q + t] * b[t];
            b[a] = z / G[(size_t)a * q + a];
        }
        for (int a = q - 1; a >= 0; a--) {
            double z = b[a];
            for (int t = a + 1; t < q; t++) z -= G[(size_t)t * q + a] * b[t];
            b[a] = z / G[(size_t)a * q + a];
        }
        for (int a = 0; a < q; a++) out[(size_t)r * q + a] = (float)b[a];
    }
    free(G), free(b);
    return 0;
}
