/* bpr.c — the bpr solver: BPR-MF by SGD over (user, rated item, unrated
 * item) triples (models/bpr.h), on the grid solvers' block scheduler
 * (grid_sched.h).
 *
 * Each epoch visits every training rating (u, i) once, block by block, and
 * pairs it with an item j drawn uniformly from the block's column range and
 * redrawn (up to BPR_TRIES times) while u rated it. Drawing j inside the
 * block keeps the lock-free guarantee: a block's triples touch only its own
 * user rows and item rows. The grid's permutation spreads items over the
 * column ranges at random, so j is uniform over a random part of the
 * catalogue. Every block draws from its own generator, seeded from the
 * epoch's seed and the block's number: the model depends on the seed only,
 * not on which thread ran which block. The cost is memory-bound: three
 * scattered rows read and written per triple. */
#include "core/error.h"
#include "models/bpr.h"
#include "train/grid_sched.h"
#include "train/trainer.h"

#include <stdlib.h>
#include <string.h>

#define BPR_TRIES 8

typedef struct bpr_state {
    fl_grid_sched sched;
    uint64_t *rated_start;  /* [n_users + 1], by grid user position */
    uint32_t *rated;        /* each user's item positions, ascending */
    double *loss;           /* [nb * nb]: the epoch's summed -ln sigmoid per block */
    uint64_t epoch_seed;
} bpr_state;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int rated(const bpr_state *s, uint32_t upos, uint32_t ipos) {
    const uint32_t *a = s->rated + s->rated_start[upos];
    size_t lo = 0, hi = (size_t)(s->rated_start[upos + 1] - s->rated_start[upos]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < ipos) lo = mid + 1;
        else hi = mid;
    }
    return lo < (size_t)(s->rated_start[upos + 1] - s->rated_start[upos]) && a[lo] == ipos;
}

static fl_status bpr_init(fl_trainer *t, fl_error *err) {
    const fl_grid *g = &t->grid;
    bpr_state *s = calloc(1, sizeof *s);
    if (!s) return fl_fail(err, FL_ERR_NOMEM, "out of memory");
    t->state = s;
    const int nblocks = g->nb * g->nb;
    s->rated_start = calloc((size_t)g->n_users + 2, sizeof *s->rated_start);
    s->rated = malloc((g->n ? g->n : 1) * sizeof *s->rated);
    s->loss = calloc((size_t)nblocks, sizeof *s->loss);
    if (!s->rated_start || !s->rated || !s->loss)
        return fl_fail(err, FL_ERR_NOMEM, "out of memory for the BPR item lists");
    /* Counting sort of the ratings by user position, then each list sorted:
     * the lists the negative draws are checked against. */
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < nblocks; b++) {
            const uint32_t u0 = fl_grid_first(g->n_users, g->nb, b / g->nb);
            const uint32_t i0 = fl_grid_first(g->n_items, g->nb, b % g->nb);
            for (size_t k = g->start[b]; k < g->start[b + 1]; k++) {
                const uint32_t upos = u0 + g->u[k];
                if (pass == 0) s->rated_start[upos + 2]++;
                else s->rated[s->rated_start[upos + 1]++] = i0 + g->i[k];
            }
        }
        if (pass == 0)
            for (uint32_t u = 0; u < g->n_users; u++) s->rated_start[u + 2] += s->rated_start[u + 1];
    }
    for (uint32_t u = 0; u < g->n_users; u++)
        qsort(s->rated + s->rated_start[u], (size_t)(s->rated_start[u + 1] - s->rated_start[u]),
              sizeof *s->rated, cmp_u32);
    return fl_grid_sched_init(&s->sched, g->nb, err);
}

static void bpr_release(fl_trainer *t) {
    bpr_state *s = t->state;
    if (!s) return;
    fl_grid_sched_free(&s->sched);
    free(s->rated_start), free(s->rated), free(s->loss);
    free(s);
    t->state = NULL;
}

static void bpr_block(fl_trainer *t, int b, void *ctx) {
    bpr_state *s = ctx;
    fl_model *m = t->m;
    const fl_grid *g = &t->grid;
    const int col = b % g->nb;
    const uint32_t u0 = fl_grid_first(g->n_users, g->nb, b / g->nb);
    const uint32_t i0 = fl_grid_first(g->n_items, g->nb, col);
    const uint32_t width = fl_grid_first(g->n_items, g->nb, col + 1) - i0;
    const int k = (int)m->n_factors;
    const float reg = t->p->reg_factors, lr = t->lr;
    fl_rng rng;
    fl_rng_seed(&rng, s->epoch_seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(b + 1)));
    double loss = 0.0;
    for (size_t r = g->start[b]; r < g->start[b + 1]; r++) {
        const uint32_t upos = u0 + g->u[r], ipos = i0 + g->i[r];
        uint32_t jpos = ipos;
        for (int tries = 0; tries < BPR_TRIES && (jpos == ipos || rated(s, upos, jpos)); tries++)
            jpos = i0 + (uint32_t)fl_rng_below(&rng, width);
        if (jpos == ipos || rated(s, upos, jpos)) continue; /* the user rated this whole range */
        /* The model is numbered by grid position (train.c renumber_to_grid). */
        loss += fl_bpr_step(m->P + (size_t)upos * m->stride, m->Q + (size_t)ipos * m->stride,
                            m->Q + (size_t)jpos * m->stride, k, reg, lr);
    }
    s->loss[b] = loss;
}

static fl_status bpr_epoch(fl_trainer *t, fl_error *err) {
    (void)err;
    bpr_state *s = t->state;
    s->epoch_seed = fl_rng_next(&t->rng);
    fl_grid_sched_epoch(&s->sched, t, bpr_block, s);
    return FL_OK;
}

/* What training reports as its data loss: the mean -ln sigmoid(x) of the
 * epoch's triples, summed per block and added in block order. */
static double bpr_train_mse(fl_trainer *t) {
    const bpr_state *s = t->state;
    double sum = 0.0;
    for (int b = 0; b < t->grid.nb * t->grid.nb; b++) sum += s->loss[b];
    return t->grid.n ? sum / (double)t->grid.n : 0.0;
}

const fl_solver_ops fl_bpr_ops = {bpr_init, bpr_epoch, bpr_release, bpr_train_mse};
