/* ials.c — the ials solver: weighted ALS for implicit feedback, each row
 * solved approximately by a few conjugate-gradient steps from its previous
 * value (ials.h has the objective). Per half-epoch: Y^T Y once (k^2 n
 * flops, core/linalg's product: OpenBLAS's sgemm would start threads of its
 * own), then every row of the other side on the pool. Rows are independent
 * and each is computed the same way on any thread, so the model depends on
 * the seed only, not on the thread count. The cost is bounded by the
 * ratings' gather (2 n_u k per CG step and row) and, for few ratings per
 * row, by the k^2 product with Y^T Y. */
#include "core/error.h"
#include "core/linalg.h"
#include "train/ials.h"
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IALS_TASKS 256
/* CG steps per row and half-epoch: warm starts make 3 enough (Takács et
 * al. 2011 found 2-4 steps match the exact solve's accuracy). */
#define IALS_CG_STEPS 3

/* out = (YtY + sum_j (conf_j - 1) y_j y_j^T + reg I) v */
static void apply(const float *YtY, int k, const float *Y, size_t stride, const uint32_t *idx,
                  const float *conf, size_t n, float reg, const float *v, float *out) {
    for (int f = 0; f < k; f++) out[f] = fl_dot(YtY + (size_t)f * k, v, k) + reg * v[f];
    for (size_t j = 0; j < n; j++) {
        const float *y = Y + (size_t)idx[j] * stride;
        float w = (conf[j] - 1.0f) * fl_dot(y, v, k);
        for (int f = 0; f < k; f++) out[f] += w * y[f];
    }
}

void fl_ials_cg_row(const float *YtY, int k, const float *Y, size_t stride, const uint32_t *idx,
                    const float *conf, size_t n, float reg, int n_steps, float *x, float *work) {
    float *r = work, *p = r + k, *Ap = p + k;
    /* r = b - A x, with b = sum_j conf_j y_j */
    apply(YtY, k, Y, stride, idx, conf, n, reg, x, Ap);
    for (int f = 0; f < k; f++) r[f] = -Ap[f];
    for (size_t j = 0; j < n; j++) {
        const float *y = Y + (size_t)idx[j] * stride;
        for (int f = 0; f < k; f++) r[f] += conf[j] * y[f];
    }
    memcpy(p, r, (size_t)k * sizeof *p);
    float rs = fl_dot(r, r, k);
    for (int step = 0; step < n_steps && rs > 1e-20f; step++) {
        apply(YtY, k, Y, stride, idx, conf, n, reg, p, Ap);
        float pAp = fl_dot(p, Ap, k);
        if (!(pAp > 0.0f)) break; /* only round-off can do this: A is positive definite */
        float a = rs / pAp;
        for (int f = 0; f < k; f++) x[f] += a * p[f], r[f] -= a * Ap[f];
        float rs_new = fl_dot(r, r, k);
        float beta = rs_new / rs;
        for (int f = 0; f < k; f++) p[f] = r[f] + beta * p[f];
        rs = rs_new;
    }
}

typedef struct ials_state {
    float *YtY;   /* k x k */
    float *work;  /* per thread: FL_IALS_WORK(k) + confidences of the longest row */
    size_t work_floats;
} ials_state;

static size_t longest_row(const fl_rows *r) {
    size_t most = 0;
    for (uint32_t x = 0; x < r->n_rows; x++)
        if (r->start[x + 1] - r->start[x] > most) most = r->start[x + 1] - r->start[x];
    return most;
}

static fl_status ials_init(fl_trainer *t, fl_error *err) {
    const fl_model *m = t->m;
    ials_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    size_t most = longest_row(&t->by_user);
    if (longest_row(&t->by_item) > most) most = longest_row(&t->by_item);
    s->work_floats = FL_IALS_WORK(m->n_factors) + most;
    s->YtY = malloc((size_t)m->n_factors * m->n_factors * sizeof *s->YtY);
    s->work = malloc(s->work_floats * (size_t)fl_pool_threads(t->pool) * sizeof *s->work);
    if (!s->YtY || !s->work) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the ials solves");
    return FL_OK;
}

static void ials_release(fl_trainer *t) {
    ials_state *s = t->state;
    if (!s) return;
    free(s->YtY);
    free(s->work);
    free(s);
    t->state = NULL;
}

typedef struct half_job {
    fl_trainer *t;
    const fl_rows *c;
    float *X;
    const float *Y;
    uint32_t rows;
} half_job;

static void solve_rows(void *ctx, int task, int thread) {
    half_job *j = ctx;
    fl_trainer *t = j->t;
    const fl_model *m = t->m;
    ials_state *s = t->state;
    const int k = (int)m->n_factors;
    float *work = s->work + (size_t)thread * s->work_floats, *conf = work + FL_IALS_WORK(k);
    const float alpha = t->p->alpha, reg = t->p->reg_factors;
    uint32_t lo = (uint32_t)((uint64_t)j->rows * task / IALS_TASKS);
    uint32_t hi = (uint32_t)((uint64_t)j->rows * (task + 1) / IALS_TASKS);
    for (uint32_t x = lo; x < hi; x++) {
        size_t b = j->c->start[x], e = j->c->start[x + 1];
        for (size_t c = b; c < e; c++) conf[c - b] = 1.0f + alpha * fl_rows_rating(j->c, c);
        fl_ials_cg_row(s->YtY, k, j->Y, m->stride, j->c->col + b, conf, e - b, reg, IALS_CG_STEPS,
                       j->X + (size_t)x * m->stride, work);
    }
}

/* YtY = Y^T Y over n rows of Y (stride floats apart), k x k row-major. */
static void gram(const float *Y, uint32_t n, int k, size_t stride, float *YtY) {
    fl_matmul(k, k, (int)n, Y, 1, stride, Y, stride, YtY, (size_t)k);
}

static fl_status ials_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    fl_model *m = t->m;
    ials_state *s = t->state;
    const int k = (int)m->n_factors;
    const size_t n = t->by_user.start[t->by_user.n_rows];
    gram(m->Q, m->n_items, k, m->stride, s->YtY);
    half_job users = {t, &t->by_user, m->P, m->Q, m->n_users};
    fl_pool_run(t->pool, IALS_TASKS, solve_rows, &users);
    fl_trainer_progress(t, n / 2, n);
    gram(m->P, m->n_users, k, m->stride, s->YtY);
    half_job items = {t, &t->by_item, m->Q, m->P, m->n_items};
    fl_pool_run(t->pool, IALS_TASKS, solve_rows, &items);
    fl_trainer_progress(t, n, n);
    return FL_OK;
}

/* What training reports as its data loss: the mean of (1 - score)^2 over
 * the rated pairs (the part of the objective that the ratings carry). */
static void loss_rows(void *ctx, int task, int thread) {
    (void)thread;
    fl_loss_run *pass = ctx;
    const fl_model *m = pass->t->m;
    const fl_rows *rows = &pass->t->by_user;
    const uint32_t lo = (uint32_t)((uint64_t)rows->n_rows * (uint64_t)task / FL_LOSS_TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)rows->n_rows * (uint64_t)(task + 1) / FL_LOSS_TASKS);
    double se = 0.0;
    for (uint32_t u = lo; u < hi; u++)
        for (uint64_t c = rows->start[u]; c < rows->start[u + 1]; c++) {
            double e = 1.0 - fl_dot(m->P + (size_t)u * m->stride,
                                    m->Q + (size_t)rows->col[c] * m->stride, (int)m->n_factors);
            se += e * e;
        }
    pass->se[task] = se;
}

static double ials_train_mse(fl_trainer *t) {
    return fl_trainer_mse(t, loss_rows, t->by_user.start[t->by_user.n_rows]);
}

const fl_solver_ops fl_ials_ops = {ials_init, ials_epoch, ials_release, ials_train_mse};
