/* als.c — alternating least squares (as in Zhou et al. 2008 and Spark's ALS,
 * with our count-weighted penalty), for the dot and biased models.
 *
 * With items fixed, each user's row is the exact minimiser of the objective
 * of regularizer.h, one small SPD system per user solved by Cholesky
 * (core/linalg.h):
 *   (sum_i a_i a_i^T + diag(sqrt(n_u) reg_f..., reg_b)) x_u = sum_i a_i (r_ui - offset - b_i)
 * where x_u = [P[u]; bu[u]] and a_i = [Q[i]; 1] (biased; dot drops the bias
 * entries). Then the same for items. Users (items) are independent, so the
 * pool solves them in parallel, and each solve is the same whichever thread
 * runs it: the model does not depend on the thread count. No learning rate.
 *
 * The sum of q_i q_i^T is formed ALS_CHUNK ratings at a time: their rows
 * are gathered as the columns of a matrix G and added by gram.h's kernel;
 * the bias entries (sum of q_i, the count) and the right-hand side are summed
 * during the gather. A rank-1 ssyr per rating streamed the whole triangle
 * through memory for every rating (~20x slower at k=32), and OpenBLAS's
 * ssyrk on the gathered chunk spent most of its time packing. The sums run
 * in a fixed order, so the model does not depend on the thread count
 * either. */
#include "core/error.h"
#include "core/linalg.h"
#include "train/als.h"
#include "train/gram.h"
#include "train/loss_simd.h"
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALS_TASKS 256
#define ALS_AHEAD 8   /* ratings ahead the gather prefetches */
#define ALS_CHUNK 256 /* ratings per Gram call: G stays in L1/L2 (kp KiB) */

/* Per thread, kp = the model's stride: the system (k1 x k1), its right-hand
 * side (k1), the Gram accumulator (kp x kp), the factor part of the
 * right-hand side and the sum of the rows (kp each), G (kp x ALS_CHUNK). */
#define WORK_FLOATS(k1, kp) \
    ((size_t)(k1) * (k1) + (k1) + (size_t)(kp) * (kp) + 2 * (size_t)(kp) + (size_t)(kp) * ALS_CHUNK)

typedef struct als_state {
    float *work;            /* per thread: see WORK_FLOATS */
    int k1;                 /* unknowns per row: k (+1 with a bias) */
    fl_gram_kernel gram;
    fl_loss_rows_fn loss_rows;
} als_state;

static fl_status als_init(fl_trainer *t, fl_error *err) {
    fl_model *m = t->m;
    als_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    s->k1 = (int)m->n_factors + (m->kind == FL_MODEL_BIASED);
    s->work = malloc(WORK_FLOATS(s->k1, m->stride) * (size_t)fl_pool_threads(t->pool) *
                     sizeof *s->work);
    s->gram = fl_gram_pick(NULL);
    s->loss_rows = fl_loss_pick().rows;
    if (!s->work) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the ALS solves");
    return FL_OK;
}

static void als_release(fl_trainer *t) {
    als_state *s = t->state;
    if (!s) return;
    free(s->work);
    free(s);
    t->state = NULL;
}

typedef struct half_job {
    fl_trainer *t;
    const fl_rows *c;       /* the rows' ratings */
    float *X;               /* rows being solved */
    float *bx;              /* their biases, or NULL */
    const float *Y;         /* fixed side */
    const float *by;        /* fixed side's biases, or NULL */
    uint32_t rows;
} half_job;

typedef float v4 __attribute__((vector_size(16)));

/* One rating's row into G, and its share of the right-hand side and of the
 * row sum (sq, when there is a bias). Written in 4-lane vectors: at -O2 GCC
 * leaves loops of unknown length scalar. kp is a multiple of 16. */
static inline void gather(float *restrict a, const float *restrict y, float tg, int kp,
                          float *restrict rq, float *restrict sq) {
    for (int f = 0; f < kp; f += 4) {
        v4 v, r;
        memcpy(&v, y + f, sizeof v);
        memcpy(a + f, &v, sizeof v);
        memcpy(&r, rq + f, sizeof r);
        r += tg * v;
        memcpy(rq + f, &r, sizeof r);
        if (sq) {
            memcpy(&r, sq + f, sizeof r);
            r += v;
            memcpy(sq + f, &r, sizeof r);
        }
    }
}

static void solve_rows(void *ctx, int task, int thread) {
    half_job *j = ctx;
    fl_trainer *t = j->t;
    const fl_model *m = t->m;
    als_state *s = t->state;
    const int k = (int)m->n_factors, k1 = s->k1, stride = (int)m->stride;
    const int biased = j->bx != NULL;
    const size_t row_bytes = (size_t)stride * sizeof(float);
    const int kp = stride;
    float *A = s->work + (size_t)thread * WORK_FLOATS(k1, kp);
    float *rhs = A + (size_t)k1 * k1, *acc = rhs + k1, *rq = acc + (size_t)kp * kp;
    float *sq = rq + kp, *G = sq + kp;
    uint32_t lo = (uint32_t)((uint64_t)j->rows * task / ALS_TASKS);
    uint32_t hi = (uint32_t)((uint64_t)j->rows * (task + 1) / ALS_TASKS);
    for (uint32_t x = lo; x < hi; x++) {
        size_t b = j->c->start[x], e = j->c->start[x + 1];
        float *row = j->X + (size_t)x * stride;
        if (b == e) continue; /* compacted training sets have none; kept for safety */
        memset(acc, 0, (size_t)kp * kp * sizeof *acc);
        memset(rq, 0, 2 * (size_t)kp * sizeof *rq);
        float st = 0.0f;
        for (size_t c0 = b; c0 < e; c0 += ALS_CHUNK) {
            const int nc = (int)(e - c0 < ALS_CHUNK ? e - c0 : ALS_CHUNK);
            for (int c = 0; c < nc; c++) {
                /* The fixed side's rows are scattered: ask for them ahead. */
                if (c0 + c + ALS_AHEAD < e) {
                    const uint32_t ya = j->c->col[c0 + c + ALS_AHEAD];
                    const char *ahead = (const char *)(j->Y + (size_t)ya * stride);
                    for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(ahead + off);
                    if (biased) __builtin_prefetch(j->by + ya);
                }
                const uint32_t y = j->c->col[c0 + c];
                float tg = fl_rows_rating(j->c, c0 + c);
                if (biased) tg -= m->offset + j->by[y];
                gather(G + (size_t)c * kp, j->Y + (size_t)y * stride, tg, kp, rq, biased ? sq : NULL);
                st += tg;
            }
            s->gram(acc, G, kp, nc);
        }
        /* The k1 x k1 system from the pieces: the factors' block, then the
         * bias's column (upper triangle only, as the Cholesky reads it). */
        for (int c = 0; c < k; c++) memcpy(A + (size_t)c * k1, acc + (size_t)c * kp, (size_t)(c + 1) * sizeof *A);
        memcpy(rhs, rq, (size_t)k * sizeof *rhs);
        if (biased) {
            memcpy(A + (size_t)k * k1, sq, (size_t)k * sizeof *A);
            A[(size_t)k * k1 + k] = (float)(e - b);
            rhs[k] = st;
        }
        float wf = sqrtf((float)(e - b));
        for (int f = 0; f < k; f++) A[(size_t)f * k1 + f] += t->p->reg_factors * wf;
        if (biased) A[(size_t)k * k1 + k] += t->p->reg_bias;
        if (fl_cholesky_solve(A, k1, rhs) != 0) continue; /* not positive definite: keep the old row */
        memcpy(row, rhs, (size_t)k * sizeof *row);
        if (biased) j->bx[x] = rhs[k];
    }
}

void fl_als_half(fl_trainer *t, const fl_rows *c, float *X, float *bx, const float *Y,
                 const float *by, uint32_t n_rows) {
    half_job j = {t, c, X, bx, Y, by, n_rows};
    fl_pool_run(t->pool, ALS_TASKS, solve_rows, &j);
}

static fl_status als_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    fl_model *m = t->m;
    const size_t n = t->by_user.start[t->by_user.n_rows];
    fl_als_half(t, &t->by_user, m->P, m->bu, m->Q, m->bi, m->n_users);
    fl_trainer_progress(t, n / 2, n);
    fl_als_half(t, &t->by_item, m->Q, m->bi, m->P, m->bu, m->n_items);
    fl_trainer_progress(t, n, n);
    return FL_OK;
}

/* The training MSE from the ratings by user (loss_simd.h). */
static void loss_rows(void *ctx, int task, int thread) {
    (void)thread;
    fl_loss_run *pass = ctx;
    const fl_rows *rows = &pass->t->by_user;
    const uint32_t lo = (uint32_t)((uint64_t)rows->n_rows * (uint64_t)task / FL_LOSS_TASKS);
    const uint32_t hi = (uint32_t)((uint64_t)rows->n_rows * (uint64_t)(task + 1) / FL_LOSS_TASKS);
    const als_state *s = pass->t->state;
    pass->se[task] = s->loss_rows(pass->t->m, rows, lo, hi, 0.0);
}

static double als_train_mse(fl_trainer *t) {
    return fl_trainer_mse(t, loss_rows, t->by_user.start[t->by_user.n_rows]);
}

const fl_solver_ops fl_als_ops = {als_init, als_epoch, als_release, als_train_mse};
