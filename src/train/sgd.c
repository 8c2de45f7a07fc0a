/* sgd.c — per-rating SGD over the block grid (the Funk / LIBMF recipe).
 *
 * Step sizes follow the per-row adaptive schedule of Chin et al. (2015): each
 * factor row keeps the running sum G of its mean squared gradient, and steps
 * by lr / sqrt(G). Rows seen often take ever smaller steps while rare rows
 * keep learning, which removes the learning-rate decay one would otherwise
 * tune per dataset. Biases get the same treatment with their own sums. The
 * arithmetic is sgd_kernel.h's; the loop that runs it is sgd_simd.c's.
 *
 * Parallelism: an epoch runs the grid's nb strata in a random order; the nb
 * blocks of a stratum are row- and column-disjoint and run on the pool's
 * threads without locks. There is no barrier between strata: a block starts
 * as soon as the blocks before it on its row and its column range are done
 * (grid_sched.h, shared with BPR), so a thread that finishes early, or runs
 * on a faster core, moves on to the next stratum instead of waiting. Every
 * row and column range still sees its blocks in the same order, so the
 * result does not depend on which thread takes which block or when: a seed
 * fixes the model.
 *
 * Layout: during an epoch the model's factor rows stand in the grid's
 * numbering (each block's rows contiguous, see grid.h); after it they are
 * put back in the model's order, in place, for evaluation and saving. One
 * copy of the factors instead of two: at 500k users x 50k items and k=32
 * that is 70 MB less at the peak of a 24.7M-rating run. */
#include "core/error.h"
#include "core/memory.h"
#include "models/mf.h"
#include "models/regularizer.h"
#include "train/grid_sched.h"
#include "train/loss_simd.h"
#include "train/sgd_simd.h"
#include "train/trainer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sgd_state {
    float *P, *Q;            /* the model's factor rows, by grid position during an epoch */
    fl_sgd_row *urow, *irow; /* per-row bias, AdaGrad sums and penalty share, by position */
    uint32_t *user_pos, *item_pos; /* model index -> position (the grid's at[] inverted) */
    uint64_t *done;          /* scratch bits for the in-place reordering */
    float *spare;            /* one row, likewise */
    int by_position;         /* the rows are in the grid's order */
    double train_mse;        /* of the last epoch, measured before the rows went back */
    fl_grid_sched sched;
    fl_sgd_kernel kernel;
    fl_loss_block_fn loss_block;
} sgd_state;

/* How far ahead along a cycle gather_rows fetches the rows it will read. */
enum { GATHER_AHEAD = 16 };

static inline void prefetch_row(const float *r, size_t bytes) {
    for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch((const char *)r + b);
}

/* Rows [0, n) of rows rearranged in place so that row x afterwards holds
 * what row from[x] held (from is a permutation): each cycle of the
 * permutation is walked once with one row in hand. done has n bits.
 * Memory: each step reads a row at random (the write goes to the row read
 * the step before, in cache); the walk is a chain, so a second cursor runs
 * GATHER_AHEAD steps ahead on the same cycle and prefetches, which keeps
 * that many misses in flight instead of one. from[] (4 bytes a row) stays
 * in L2/L3. */
static void gather_rows(float *rows, size_t stride, const uint32_t *from, uint32_t n, uint64_t *done,
                        float *spare) {
    const size_t row = stride * sizeof(float);
    memset(done, 0, ((size_t)n + 63) / 64 * sizeof *done);
    for (uint32_t start = 0; start < n; start++) {
        if (done[start / 64] >> (start % 64) & 1) continue;
        memcpy(spare, rows + (size_t)start * stride, row);
        uint32_t x = start, ahead = start;
        for (int k = 0; k < GATHER_AHEAD && (ahead = from[ahead]) != start; k++)
            prefetch_row(rows + (size_t)ahead * stride, row);
        for (;;) {
            done[x / 64] |= (uint64_t)1 << (x % 64);
            uint32_t y = from[x];
            if (y == start) {
                memcpy(rows + (size_t)x * stride, spare, row);
                break;
            }
            memcpy(rows + (size_t)x * stride, rows + (size_t)y * stride, row);
            x = y;
            if (ahead != start && (ahead = from[ahead]) != start)
                prefetch_row(rows + (size_t)ahead * stride, row);
        }
    }
}

/* The factor rows into the grid's order (by_position) or back into the
 * model's. */
static void arrange(fl_trainer *t, int by_position) {
    sgd_state *s = t->state;
    const fl_model *m = t->m;
    if (s->by_position == by_position) return;
    const fl_grid *g = &t->grid;
    gather_rows(s->P, m->stride, by_position ? g->user_at : s->user_pos, m->n_users, s->done, s->spare);
    gather_rows(s->Q, m->stride, by_position ? g->item_at : s->item_pos, m->n_items, s->done, s->spare);
    s->by_position = by_position;
}

static fl_status sgd_init(fl_trainer *t, fl_error *err) {
    fl_model *m = t->m;
    if (m->stride % 16 != 0 || ((uintptr_t)m->P % 64) != 0)
        return fl_fail(err, FL_ERR_USAGE, "SGD needs a model with padded rows (a trained, not a loaded one)");
    sgd_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    size_t nu = m->n_users ? m->n_users : 1, ni = m->n_items ? m->n_items : 1;
    const fl_grid *g = &t->grid;
    size_t row = m->stride * sizeof(float);
    /* Factor rows are hit at random within a block: on 2 MiB pages a
     * block's rows need a handful of TLB entries instead of hundreds. */
    s->P = m->P, s->Q = m->Q;
    fl_memory_prefer_huge(m->P, (nu + ni) * row);
    s->done = malloc(((nu > ni ? nu : ni) + 63) / 64 * sizeof *s->done);
    s->spare = malloc(row);
    s->urow = malloc(nu * sizeof *s->urow);
    s->irow = malloc(ni * sizeof *s->irow);
    s->user_pos = malloc(nu * sizeof *s->user_pos);
    s->item_pos = malloc(ni * sizeof *s->item_pos);
    if (!s->done || !s->spare || !s->urow || !s->irow || !s->user_pos || !s->item_pos)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the SGD state");
    fl_status st = fl_grid_sched_init(&s->sched, g->nb, err);
    if (st != FL_OK) return st;
    /* Sums start at 1 so the first steps are exactly lr. */
    for (uint32_t pos = 0; pos < m->n_users; pos++) {
        uint32_t u = g->user_at[pos], c = fl_model_user_count(m, u);
        s->user_pos[u] = pos;
        s->urow[pos] = (fl_sgd_row){m->bu ? m->bu[u] : 0.0f, 1.0f, 1.0f, 1.0f / sqrtf(c ? (float)c : 1.0f)};
    }
    for (uint32_t pos = 0; pos < m->n_items; pos++) {
        uint32_t i = g->item_at[pos], c = m->item_count[i];
        s->item_pos[i] = pos;
        s->irow[pos] = (fl_sgd_row){m->bi ? m->bi[i] : 0.0f, 1.0f, 1.0f, 1.0f / sqrtf(c ? (float)c : 1.0f)};
    }
    s->kernel = fl_sgd_pick(NULL);
    s->loss_block = fl_loss_pick().block;
    return FL_OK;
}

static void sgd_release(fl_trainer *t) {
    sgd_state *s = t->state;
    if (!s) return;
    arrange(t, 0); /* the model's rows in the model's order, whatever happened */
    free(s->done), free(s->spare), free(s->urow), free(s->irow);
    free(s->user_pos), free(s->item_pos);
    fl_grid_sched_free(&s->sched);
    free(s);
    t->state = NULL;
}

static void sgd_block(fl_trainer *t, int b, void *ctx) {
    (void)ctx;
    sgd_state *st = t->state;
    const fl_model *m = t->m;
    const fl_grid *g = &t->grid;
    size_t lo = g->start[b];
    /* The block's ratings number their rows from its first row and column. */
    uint32_t u0 = fl_grid_first(g->n_users, g->nb, b / g->nb), i0 = fl_grid_first(g->n_items, g->nb, b % g->nb);
    fl_sgd_job j = {
        .P = st->P + (size_t)u0 * m->stride, .Q = st->Q + (size_t)i0 * m->stride,
        .stride = (int)m->stride, .k = (int)m->n_factors,
        .urow = st->urow + u0, .irow = st->irow + i0,
        .u = g->u + lo, .i = g->i + lo, .r = g->r + lo, .n = g->start[b + 1] - lo,
        .offset = m->offset, .lr = t->lr, .reg_f = t->p->reg_factors, .reg_b = t->p->reg_bias,
        .biased = m->kind == FL_MODEL_BIASED, .y_lo = t->p->y_lo, .y_hi = t->p->y_hi,
    };
    st->kernel(&j);
}

static void loss_blocks(void *ctx, int task, int thread);

static fl_status sgd_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    sgd_state *s = t->state;
    arrange(t, 1);
    fl_grid_sched_epoch(&s->sched, t, sgd_block, NULL);
    /* The training MSE while the rows are in the grid's order (see
     * loss_blocks), then the rows and biases back in the model's order:
     * evaluation and saving read the model. */
    s->train_mse = fl_trainer_mse(t, loss_blocks, t->grid.n);
    fl_model *m = t->m;
    if (m->bu)
        for (uint32_t u = 0; u < m->n_users; u++) m->bu[u] = s->urow[s->user_pos[u]].bias;
    if (m->bi)
        for (uint32_t i = 0; i < m->n_items; i++) m->bi[i] = s->irow[s->item_pos[i]].bias;
    arrange(t, 0);
    return FL_OK;
}

/* The training MSE while the rows are in the grid's order: a block's
 * ratings find their rows close together (in L2, as in the epoch itself),
 * where the model's own order scatters them; the values are the model's, so
 * each prediction is fl_predict_index's, bit for bit. */
static void loss_blocks(void *ctx, int task, int thread) {
    (void)thread;
    fl_loss_run *pass = ctx;
    const fl_trainer *t = pass->t;
    const sgd_state *s = t->state;
    const fl_model *m = t->m;
    const fl_grid *g = &t->grid;
    const size_t nblocks = (size_t)g->nb * g->nb;
    double se = 0.0;
    for (size_t b = nblocks * (size_t)task / FL_LOSS_TASKS;
         b < nblocks * (size_t)(task + 1) / FL_LOSS_TASKS; b++) {
        const uint32_t u0 = fl_grid_first(g->n_users, g->nb, (int)b / g->nb);
        const uint32_t i0 = fl_grid_first(g->n_items, g->nb, (int)b % g->nb);
        const size_t lo = g->start[b];
        const fl_loss_block blk = {
            .m = m, .P = s->P + (size_t)u0 * m->stride, .Q = s->Q + (size_t)i0 * m->stride,
            .urow = s->urow + u0, .irow = s->irow + i0,
            .u = g->u + lo, .i = g->i + lo, .r = g->r + lo, .n = g->start[b + 1] - lo,
        };
        se = s->loss_block(&blk, se);
    }
    pass->se[task] = se;
}

static double sgd_train_mse(fl_trainer *t) { return ((const sgd_state *)t->state)->train_mse; }

const fl_solver_ops fl_sgd_ops = {sgd_init, sgd_epoch, sgd_release, sgd_train_mse};
