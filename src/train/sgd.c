/* sgd.c — per-rating SGD over the block grid (the Funk / LIBMF recipe).
 *
 * Step sizes follow the per-row adaptive schedule of Chin et al. (2015): each
 * factor row keeps the running sum G of its mean squared gradient, and steps
 * by lr / sqrt(G). Rows seen often take ever smaller steps while rare rows
 * keep learning, which removes the learning-rate decay one would otherwise
 * tune per dataset. Biases get the same treatment with their own sums.
 *
 * Parallelism: an epoch runs the grid's nb strata in a random order; the nb
 * blocks of a stratum are row- and column-disjoint and run on the pool's
 * threads without locks. The result does not depend on which thread takes
 * which block, so a seed fixes the model. */
#include "core/error.h"
#include "models/mf.h"
#include "models/regularizer.h"
#include "train/sgd_kernel.h"
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>

typedef struct sgd_state {
    float *gu, *gi;     /* [n_users], [n_items]: row gradient sums */
    float *gbu, *gbi;   /* bias gradient sums (biased model) */
    fl_reg_shares reg;  /* each rating's share of its rows' penalties */
    int *order;         /* [nb] strata order of this epoch */

} sgd_state;

static fl_status sgd_init(fl_trainer *t, fl_error *err) {
    fl_model *m = t->m;
    sgd_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    size_t nu = m->n_users ? m->n_users : 1, ni = m->n_items ? m->n_items : 1;
    s->gu = malloc(nu * sizeof *s->gu);
    s->gi = malloc(ni * sizeof *s->gi);
    s->gbu = malloc(nu * sizeof *s->gbu);
    s->gbi = malloc(ni * sizeof *s->gbi);
    s->order = malloc((size_t)t->grid.nb * sizeof *s->order);
    if (!s->gu || !s->gi || !s->gbu || !s->gbi || !s->order)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the SGD step sizes");
    /* Starting sums at 1 make the first steps exactly lr. */
    for (size_t k = 0; k < nu; k++) s->gu[k] = s->gbu[k] = 1.0f;
    for (size_t k = 0; k < ni; k++) s->gi[k] = s->gbi[k] = 1.0f;
    return fl_reg_shares_build(m, &s->reg, err);
}

static void sgd_release(fl_trainer *t) {
    sgd_state *s = t->state;
    if (!s) return;
    free(s->gu), free(s->gi), free(s->gbu), free(s->gbi), free(s->order);
    fl_reg_shares_free(&s->reg);
    free(s);
    t->state = NULL;
}

typedef struct stratum_job {
    fl_trainer *t;
    int s;
} stratum_job;

/* One block, in its stored (shuffled) order. Layout: rows of P and Q are
 * `stride` floats, 64-byte aligned; ratings stream from three arrays. The
 * loop is bound by the two row loads (L2 hits when a block's rows fit). */
static void sgd_block(void *ctx, int task, int thread) {
    (void)thread;
    stratum_job *job = ctx;
    fl_trainer *t = job->t;
    sgd_state *st = t->state;
    const fl_grid *g = &t->grid;
    int b = fl_grid_stratum_block(g, job->s, task);
    fl_sgd_rows rows = {st->gu, st->gi, st->gbu, st->gbi, &st->reg};
    for (size_t n = g->start[b]; n < g->start[b + 1]; n++)
        fl_sgd_step(t->m, t->p, &rows, g->u[n], g->i[n], g->r[n], t->lr);
}

static fl_status sgd_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    sgd_state *s = t->state;
    const fl_grid *g = &t->grid;
    for (int k = 0; k < g->nb; k++) s->order[k] = k;
    for (int k = g->nb; k > 1; k--) {
        int j = (int)fl_rng_below(&t->rng, (uint64_t)k);
        int tmp = s->order[k - 1];
        s->order[k - 1] = s->order[j];
        s->order[j] = tmp;
    }
    size_t done = 0;
    for (int k = 0; k < g->nb && !t->cancelled; k++) {
        stratum_job job = {t, s->order[k]};
        fl_pool_run(t->pool, g->nb, sgd_block, &job);
        for (int b = 0; b < g->nb; b++) {
            int blk = fl_grid_stratum_block(g, s->order[k], b);
            done += g->start[blk + 1] - g->start[blk];
        }
        fl_trainer_progress(t, done, g->n);
    }
    return FL_OK;
}

const fl_solver_ops fl_sgd_ops = {sgd_init, sgd_epoch, sgd_release};
