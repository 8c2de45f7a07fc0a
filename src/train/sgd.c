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
 * Layout: the model is numbered in the grid's order (train.c renumbers it
 * before the starting values are drawn), so a block's user and item rows
 * are contiguous ranges of the model's own P and Q, and SGD updates them in
 * place: no second copy of the factors, nothing to copy back. Biases and
 * step-size sums live in 16-byte row records beside them (fl_sgd_row); the
 * biases are copied into the model after every epoch. */
#include "core/error.h"
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
    fl_sgd_row *urow, *irow; /* per-row bias, AdaGrad sums and penalty share */
    fl_grid_sched sched;
    fl_sgd_kernel kernel;
    fl_loss_block_fn loss_block;
} sgd_state;

static fl_status sgd_init(fl_trainer *t, fl_error *err) {
    fl_model *m = t->m;
    if (m->stride % 16 != 0 || ((uintptr_t)m->P % 64) != 0)
        return fl_fail(err, FL_ERR_USAGE, "SGD needs a model with padded rows (a trained, not a loaded one)");
    sgd_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    size_t nu = m->n_users ? m->n_users : 1, ni = m->n_items ? m->n_items : 1;
    s->urow = malloc(nu * sizeof *s->urow);
    s->irow = malloc(ni * sizeof *s->irow);
    if (!s->urow || !s->irow) return fl_fail(err, FL_ERR_NOMEM, "out of memory for the SGD row records");
    fl_status st = fl_grid_sched_init(&s->sched, t->grid.nb, err);
    if (st != FL_OK) return st;
    /* Sums start at 1 so the first steps are exactly lr. */
    for (uint32_t u = 0; u < m->n_users; u++) {
        uint32_t c = fl_model_user_count(m, u);
        s->urow[u] = (fl_sgd_row){m->bu ? m->bu[u] : 0.0f, 1.0f, 1.0f, 1.0f / sqrtf(c ? (float)c : 1.0f)};
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        uint32_t c = m->item_count[i];
        s->irow[i] = (fl_sgd_row){m->bi ? m->bi[i] : 0.0f, 1.0f, 1.0f, 1.0f / sqrtf(c ? (float)c : 1.0f)};
    }
    s->kernel = fl_sgd_pick(NULL);
    s->loss_block = fl_loss_pick().block;
    return FL_OK;
}

static void sgd_release(fl_trainer *t) {
    sgd_state *s = t->state;
    if (!s) return;
    free(s->urow), free(s->irow);
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
        .P = m->P + (size_t)u0 * m->stride, .Q = m->Q + (size_t)i0 * m->stride,
        .stride = (int)m->stride, .k = (int)m->n_factors,
        .urow = st->urow + u0, .irow = st->irow + i0,
        .u = g->u + lo, .i = g->i + lo, .r = g->r + lo, .n = g->start[b + 1] - lo,
        .offset = m->offset, .lr = t->lr, .reg_f = t->p->reg_factors, .reg_b = t->p->reg_bias,
        .biased = m->kind == FL_MODEL_BIASED, .y_lo = t->p->y_lo, .y_hi = t->p->y_hi,
    };
    st->kernel(&j);
}

static fl_status sgd_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    sgd_state *s = t->state;
    fl_grid_sched_epoch(&s->sched, t, sgd_block, NULL);
    /* The biases into the model, which evaluation and saving read. */
    fl_model *m = t->m;
    if (m->bu) {
        for (uint32_t u = 0; u < m->n_users; u++) m->bu[u] = s->urow[u].bias;
        for (uint32_t i = 0; i < m->n_items; i++) m->bi[i] = s->irow[i].bias;
    }
    return FL_OK;
}

/* The training MSE block by block: a block's ratings find their rows close
 * together (in L2, as in the epoch itself); each prediction is
 * fl_predict_index's, bit for bit. */
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
            .m = m, .P = m->P + (size_t)u0 * m->stride, .Q = m->Q + (size_t)i0 * m->stride,
            .urow = s->urow + u0, .irow = s->irow + i0,
            .u = g->u + lo, .i = g->i + lo, .r = g->r + lo, .n = g->start[b + 1] - lo,
        };
        se = s->loss_block(&blk, se);
    }
    pass->se[task] = se;
}

static double sgd_train_mse(fl_trainer *t) { return fl_trainer_mse(t, loss_blocks, t->grid.n); }

const fl_solver_ops fl_sgd_ops = {sgd_init, sgd_epoch, sgd_release, sgd_train_mse};
