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
 * runs it: the model does not depend on the thread count. No learning rate.
 *
 * The sum of a_i a_i^T is formed ALS_CHUNK ratings at a time: their a_i are
 * gathered as the columns of a k1 x chunk matrix G and added with one ssyrk
 * (A += G G^T), the right-hand side with one sgemv. A rank-1 ssyr per rating
 * streamed the whole triangle through memory for every rating, ~20x slower at
 * k=32. The chunk is a constant, so the order of the sums, and the model, do
 * not depend on the thread count either. */
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
#define ALS_AHEAD 8   /* ratings ahead the gather prefetches */
#define ALS_CHUNK 256 /* ratings per ssyrk: G stays in L2 (k1 * 1 KiB) */

typedef struct csr {
    size_t *start;          /* [rows + 1] */
    uint32_t *col;          /* [n] the other side's index */
    float *r;               /* [n] */
} csr;

/* Per thread: the k1 x k1 matrix, the right-hand side, G (k1 x ALS_CHUNK)
 * and the chunk's targets. */
#define WORK_FLOATS(k1) ((size_t)(k1) * (k1) + (k1) + (size_t)(k1) * ALS_CHUNK + ALS_CHUNK)

typedef struct als_state {
    csr by_user, by_item;
    float *work;            /* per thread: see WORK_FLOATS */
    int k1;                 /* unknowns per row: k (+1 with a bias) */
    int blas_threads;       /* OpenBLAS's thread count before training, restored after */
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
    s->work = malloc(WORK_FLOATS(s->k1) * (size_t)fl_pool_threads(t->pool) * sizeof *s->work);
    /* Each thread's ssyrk is small and already one of several running at
     * once: OpenBLAS's own threads would only queue behind its lock. The
     * setting is process-wide (see adam.c), restored in als_release. */
    s->blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
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
    if (s->blas_threads > 0) openblas_set_num_threads(s->blas_threads);
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
    const size_t row_bytes = (size_t)k * sizeof(float);
    float *A = s->work + (size_t)thread * WORK_FLOATS(k1);
    float *rhs = A + (size_t)k1 * k1, *G = rhs + k1, *tgt = G + (size_t)k1 * ALS_CHUNK;
    uint32_t lo = (uint32_t)((uint64_t)j->rows * task / ALS_TASKS);
    uint32_t hi = (uint32_t)((uint64_t)j->rows * (task + 1) / ALS_TASKS);
    for (uint32_t x = lo; x < hi; x++) {
        size_t b = j->c->start[x], e = j->c->start[x + 1];
        float *row = j->X + (size_t)x * stride;
        if (b == e) continue; /* compacted training sets have none; kept for safety */
        for (size_t c0 = b; c0 < e; c0 += ALS_CHUNK) {
            const int nc = (int)(e - c0 < ALS_CHUNK ? e - c0 : ALS_CHUNK);
            for (int c = 0; c < nc; c++) {
                /* The fixed side's rows are scattered: ask for them ahead. */
                if (c0 + c + ALS_AHEAD < e) {
                    const char *ahead = (const char *)(j->Y + (size_t)j->c->col[c0 + c + ALS_AHEAD] * stride);
                    for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(ahead + off);
                }
                uint32_t y = j->c->col[c0 + c];
                float *a = G + (size_t)c * k1;
                memcpy(a, j->Y + (size_t)y * stride, (size_t)k * sizeof *a);
                tgt[c] = j->c->r[c0 + c];
                if (biased) a[k] = 1.0f, tgt[c] -= m->offset + j->by[y];
            }
            const float beta = c0 == b ? 0.0f : 1.0f;
            cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, k1, nc, 1.0f, G, k1, beta, A, k1);
            cblas_sgemv(CblasColMajor, CblasNoTrans, k1, nc, 1.0f, G, k1, tgt, 1, beta, rhs, 1);
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
