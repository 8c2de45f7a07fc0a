/* als.c — alternating least squares (as in Zhou et al. 2008 and Spark's ALS,
 * with our count-weighted penalty), for the dot and biased models.
 *
 * With items fixed, each user's row is the exact minimiser of the objective
 * of regularizer.h, one small SPD system per user solved with LAPACK's sposv
 * (Cholesky, OpenBLAS):
 *   (sum_i a_i a_i^T + diag(sqrt(n_u) reg_f..., reg_b)) x_u = sum_i a_i (r_ui - offset - b_i)
 * where x_u = [P[u]; bu[u]] and a_i = [Q[i]; 1] (biased; dot drops the bias
 * entries). Then the same for items. Users (items) are independent, so the
 * pool solves them in parallel, and each solve is the same whichever thread
 * runs it: the model does not depend on the thread count. No learning rate. */
#include "core/error.h"
#include "train/trainer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's Fortran entry point (OpenBLAS exports it; Debian ships no
 * LAPACKE header with it). The trailing length is gfortran's hidden
 * argument for the character parameter. */
extern void sposv_(const char *uplo, const int *n, const int *nrhs, float *a, const int *lda,
                   float *b, const int *ldb, int *info, size_t uplo_len);

#define ALS_TASKS 256

typedef struct csr {
    size_t *start;          /* [rows + 1] */
    uint32_t *col;          /* [n] the other side's index */
    float *r;               /* [n] */
} csr;

typedef struct als_state {
    csr by_user, by_item;
    float *work;            /* per thread: k1*k1 matrix + k1 rhs + k1 gathered row */
    int k1;                 /* unknowns per row: k (+1 with a bias) */
} als_state;

static fl_status build_csr(const fl_dataset *d, uint32_t rows, int by_user, csr *c) {
    c->start = calloc((size_t)rows + 1, sizeof *c->start);
    c->col = malloc((d->n_ratings ? d->n_ratings : 1) * sizeof *c->col);
    c->r = malloc((d->n_ratings ? d->n_ratings : 1) * sizeof *c->r);
    if (!c->start || !c->col || !c->r) return FL_ERR_NOMEM;
    const uint32_t *row = by_user ? d->users : d->items, *col = by_user ? d->items : d->users;
    for (size_t k = 0; k < d->n_ratings; k++) c->start[row[k] + 1]++;
    for (uint32_t x = 0; x < rows; x++) c->start[x + 1] += c->start[x];
    size_t *fill = malloc(((size_t)rows + 1) * sizeof *fill);
    if (!fill) return FL_ERR_NOMEM;
    memcpy(fill, c->start, ((size_t)rows + 1) * sizeof *fill);
    for (size_t k = 0; k < d->n_ratings; k++) {
        size_t at = fill[row[k]]++;
        c->col[at] = col[k];
        c->r[at] = d->ratings[k];
    }
    free(fill);
    return FL_OK;
}

static void free_csr(csr *c) {
    free(c->start), free(c->col), free(c->r);
    memset(c, 0, sizeof *c);
}

static fl_status als_init(fl_trainer *t, fl_error *err) {
    fl_model *m = t->m;
    als_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    s->k1 = (int)m->n_factors + (m->kind == FL_MODEL_BIASED);
    size_t per = (size_t)s->k1 * s->k1 + 2 * (size_t)s->k1;
    s->work = malloc(per * (size_t)fl_pool_threads(t->pool) * sizeof *s->work);
    if (!s->work || build_csr(t->train, m->n_users, 1, &s->by_user) != FL_OK ||
        build_csr(t->train, m->n_items, 0, &s->by_item) != FL_OK)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the ALS rating index");
    return FL_OK;
}

static void als_release(fl_trainer *t) {
    als_state *s = t->state;
    if (!s) return;
    free_csr(&s->by_user), free_csr(&s->by_item);
    free(s->work);
    free(s);
    t->state = NULL;
}

typedef struct half_job {
    fl_trainer *t;
    const csr *c;
    float *X;               /* rows being solved */
    float *bx;              /* their biases, or NULL */
    const float *Y;         /* fixed side */
    const float *by;        /* fixed side's biases, or NULL */
    uint32_t rows;
} half_job;

static void solve_rows(void *ctx, int task, int thread) {
    half_job *j = ctx;
    fl_trainer *t = j->t;
    const fl_model *m = t->m;
    als_state *s = t->state;
    const int k = (int)m->n_factors, k1 = s->k1, stride = (int)m->stride;
    const int biased = j->bx != NULL;
    float *A = s->work + (size_t)thread * ((size_t)k1 * k1 + 2 * (size_t)k1);
    float *rhs = A + (size_t)k1 * k1, *a = rhs + k1;
    uint32_t lo = (uint32_t)((uint64_t)j->rows * task / ALS_TASKS);
    uint32_t hi = (uint32_t)((uint64_t)j->rows * (task + 1) / ALS_TASKS);
    for (uint32_t x = lo; x < hi; x++) {
        size_t b = j->c->start[x], e = j->c->start[x + 1];
        float *row = j->X + (size_t)x * stride;
        if (b == e) continue; /* compacted training sets have none; kept for safety */
        memset(A, 0, (size_t)k1 * k1 * sizeof *A);
        memset(rhs, 0, (size_t)k1 * sizeof *rhs);
        for (size_t n = b; n < e; n++) {
            uint32_t y = j->c->col[n];
            memcpy(a, j->Y + (size_t)y * stride, (size_t)k * sizeof *a);
            float target = j->c->r[n];
            if (biased) a[k] = 1.0f, target -= m->offset + j->by[y];
            /* Rank-1 update of the upper triangle; the rows' count is small
             * (tens to thousands), where ssyr beats forming a matrix first. */
            cblas_ssyr(CblasColMajor, CblasUpper, k1, 1.0f, a, 1, A, k1);
            cblas_saxpy(k1, target, a, 1, rhs, 1);
        }
        float wf = sqrtf((float)(e - b));
        for (int f = 0; f < k; f++) A[(size_t)f * k1 + f] += t->p->reg_factors * wf;
        if (biased) A[(size_t)k * k1 + k] += t->p->reg_bias;
        int n = k1, one = 1, info = 0;
        sposv_("U", &n, &one, A, &n, rhs, &n, &info, 1);
        if (info != 0) continue; /* not positive definite: keep the old row */
        memcpy(row, rhs, (size_t)k * sizeof *row);
        if (biased) j->bx[x] = rhs[k];
    }
}

static fl_status als_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    fl_model *m = t->m;
    als_state *s = t->state;
    half_job users = {t, &s->by_user, m->P, m->bu, m->Q, m->bi, m->n_users};
    fl_pool_run(t->pool, ALS_TASKS, solve_rows, &users);
    fl_trainer_progress(t, t->train->n_ratings / 2, t->train->n_ratings);
    half_job items = {t, &s->by_item, m->Q, m->bi, m->P, m->bu, m->n_items};
    fl_pool_run(t->pool, ALS_TASKS, solve_rows, &items);
    fl_trainer_progress(t, t->train->n_ratings, t->train->n_ratings);
    return FL_OK;
}

const fl_solver_ops fl_als_ops = {als_init, als_epoch, als_release};
